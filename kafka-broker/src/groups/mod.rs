//! The classic group coordinator: JoinGroup, SyncGroup, Heartbeat, LeaveGroup (KIP-62
//! rebalance timeouts, KIP-345 static membership and batched leave, KIP-394 member id
//! required, KIP-800 reasons, KIP-814 skip assignment), committed offsets (OffsetCommit,
//! OffsetFetch with KIP-709 batched groups, OffsetDelete from KIP-496, retention per KIP-211),
//! and ListGroups (KIP-518 state filter, KIP-848 type filter), DescribeGroups, DeleteGroups.
//! The behaviour follows Apache Kafka's `GroupCoordinator` / `GroupMetadata` (classic protocol);
//! the consumer protocol of KIP-848 is not served.
//!
//! # The state machine
//!
//! ```text
//! Empty                ─ a member joins ───────────────────────────▶ PreparingRebalance
//! PreparingRebalance   ─ all rejoined, or rebalance timeout ───────▶ CompletingRebalance
//!                      ─ the same with no member left ─────────────▶ Empty
//! CompletingRebalance  ─ the leader's SyncGroup ───────────────────▶ Stable
//! CompletingRebalance  ─ a new member, changed metadata, a leave, ─▶ PreparingRebalance
//!   or Stable            an expired session or a missing SyncGroup;
//!                        in Stable also the leader's JoinGroup
//! ```
//!
//! * **Join phase** (PreparingRebalance): JoinGroup calls park until every known member has
//!   rejoined and no member id handed out with MEMBER_ID_REQUIRED is outstanding, or until the
//!   rebalance timeout (the largest of the members') expires; dynamic members that did not
//!   rejoin are then removed. A group leaving Empty first waits `initial_rebalance_delay`
//!   (extended while new members keep arriving, as Kafka's `InitialDelayedJoin`).
//! * **Completion**: the generation increments, the protocol is chosen (the one most members
//!   prefer among those all support), and every parked JoinGroup is answered; only the leader
//!   (the first member to have joined, or the first remaining one) receives the members'
//!   metadata. The group waits in CompletingRebalance for the leader's SyncGroup; followers'
//!   SyncGroup calls park until it arrives; members that never send SyncGroup within the
//!   rebalance timeout are removed and a new rebalance starts.
//! * **Liveness**: each member has a session deadline, pushed back by heartbeats, commits and
//!   completed calls. Members parked in JoinGroup/SyncGroup do not expire (except new members,
//!   bounded by a 5-minute join timeout). An expired member is removed and the group rebalances.
//! * **Static members** (`group.instance.id`) that restart rejoin with an unknown member id: they
//!   replace their old member id (pending calls of the old id get FENCED_INSTANCE_ID) and, in a
//!   Stable group whose protocol would not change, get the current generation and their old
//!   assignment without a rebalance.
//!
//! # Locking and timers
//!
//! One `std::sync::Mutex` guards all groups and the offsets log ([`GroupCoordinator`] is shared
//! as `Arc`). It is never held across an `.await`: a call that must wait registers a oneshot
//! sender on its member and awaits the receiver after unlocking. Every operation is O(members of
//! the group) and the log append is one `write` into the page cache, so one lock is simpler than
//! per-group locks and fast enough for a development broker; it also keeps offset writes in the
//! same order in memory and on disk.
//!
//! Deadlines (sessions, join phase, sync phase, pending member ids, offsets retention) are
//! plain `Instant`s in the group; one background task sleeps until the earliest one, acts on
//! what expired, and is woken early when a call may have set an earlier deadline.
//!
//! # Cancel safety
//!
//! Every async method is cancel safe: dropping the future (the client disconnected) drops only
//! the receiver of a parked call; the group state is already updated and the rebalance
//! continues — a member whose call was dropped is treated as Kafka does (it still counts as
//! having joined, and it is removed if it never syncs or heartbeats), so no group is wedged.
//!
//! # Persistence
//!
//! With a data directory, committed offsets are kept in `<data_dir>/__consumer_offsets/offsets.log`
//! (format in `offset_log.rs`): appended on each commit (page cache), synced at shutdown,
//! rewritten compacted at start-up and shutdown; a torn tail after a crash is ignored. Group
//! membership is not persisted: after a restart, groups exist with their offsets in state
//! Empty and members rejoin (their old member ids get UNKNOWN_MEMBER_ID).

mod admin;
mod config;
mod group;
mod member;
mod membership;
mod offset_log;
mod offsets;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafka_proto::messages::leave_group_response::MemberResponse;
use kafka_proto::messages::{
    DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, ListGroupsRequest, ListGroupsResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetDeleteRequest, OffsetDeleteResponse, OffsetFetchRequest,
    OffsetFetchResponse, SyncGroupRequest, SyncGroupResponse,
};
use kafka_proto::{ApiKey, ErrorCode, KStr, VersionRange};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use config::GroupConfig;
pub use group::GroupState;

use group::Group;
use member::{JoinResult, Protocol, SyncResult};
use membership::{JoinParams, Reply, SyncParams};
use offset_log::{LogEntry, OffsetLog};

/// The versions served for each group API: each API's highest stable version, from v0
/// (librdkafka 2.x, the Java client 3.x/4.x, kafka-python and franz-go all fall in these).
pub const SERVED: &[(ApiKey, VersionRange)] = &[
    (ApiKey::OffsetCommit, VersionRange::new(0, 9)),
    (ApiKey::OffsetFetch, VersionRange::new(0, 9)),
    (ApiKey::JoinGroup, VersionRange::new(0, 9)),
    (ApiKey::Heartbeat, VersionRange::new(0, 4)),
    (ApiKey::LeaveGroup, VersionRange::new(0, 5)),
    (ApiKey::SyncGroup, VersionRange::new(0, 5)),
    (ApiKey::DescribeGroups, VersionRange::new(0, 5)),
    (ApiKey::ListGroups, VersionRange::new(0, 5)),
    (ApiKey::DeleteGroups, VersionRange::new(0, 2)),
    (ApiKey::OffsetDelete, VersionRange::new(0, 0)),
];

/// The served range of `api` if it is one of the group APIs ([`SERVED`]).
pub fn served_versions(api: ApiKey) -> Option<VersionRange> {
    SERVED.iter().find(|(k, _)| *k == api).map(|(_, r)| *r)
}

/// Why the coordinator could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// Reading or writing the offsets store failed.
    #[error("offsets store {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The offsets file exists but is not an offsets log (it is left untouched).
    #[error("{} is not a committed-offsets log (unknown header)", path.display())]
    BadHeader {
        /// The file.
        path: PathBuf,
    },
    /// [`GroupCoordinator::new`] was called outside a tokio runtime.
    #[error("the group coordinator must be created inside a tokio runtime")]
    NoRuntime,
}

impl GroupError {
    fn io(path: &Path, source: std::io::Error) -> GroupError {
        GroupError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// What the coordinator needs to know about topics (commits and offset deletions of unknown
/// partitions get UNKNOWN_TOPIC_OR_PARTITION).
pub trait TopicLookup: Send + Sync + 'static {
    /// Whether `topic` exists and has partition `partition`.
    fn partition_exists(&self, topic: &str, partition: i32) -> bool;
}

/// The group coordinator of the broker. Create with [`GroupCoordinator::new`]; share the
/// returned `Arc`; call [`GroupCoordinator::shutdown`] to stop its timer task and sync offsets.
///
/// Each API method takes the decoded request and its version and returns the response to encode
/// at that version; group-level problems are error codes inside the response, as Kafka answers.
pub struct GroupCoordinator {
    state: Mutex<State>,
    /// Wakes the timer task when a deadline may have moved earlier.
    wake: Arc<Notify>,
    /// `true` stops the timer task (dropping the sender stops it too).
    stop: watch::Sender<bool>,
    timer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for GroupCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        f.debug_struct("GroupCoordinator")
            .field("groups", &st.groups.len())
            .field("running", &st.running)
            .field("offsets_log", &st.log.as_ref().map(OffsetLog::path))
            .finish_non_exhaustive()
    }
}

/// Everything behind the lock.
pub(crate) struct State {
    pub(crate) config: GroupConfig,
    pub(crate) topics: Arc<dyn TopicLookup>,
    pub(crate) groups: HashMap<KStr, Group>,
    pub(crate) log: Option<OffsetLog>,
    /// False after shutdown: every call gets COORDINATOR_NOT_AVAILABLE.
    pub(crate) running: bool,
    next_retention_check: Instant,
}

/// Wall-clock milliseconds since the epoch (commit timestamps, retention).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl State {
    /// Writes log entries (no-op in memory).
    pub(crate) fn persist(&mut self, entries: &[LogEntry]) -> std::io::Result<()> {
        match &mut self.log {
            Some(log) => log.append(entries),
            None => Ok(()),
        }
    }

    /// All committed offsets, by group (for a log rewrite).
    fn offset_tables(&self) -> HashMap<KStr, offsets::OffsetTable> {
        self.groups
            .iter()
            .filter(|(_, g)| !g.offsets.is_empty())
            .map(|(id, g)| (id.clone(), g.offsets.clone()))
            .collect()
    }

    /// Rewrites the log if it has grown well past its live content.
    pub(crate) fn maybe_compact(&mut self) {
        if !self.log.as_ref().is_some_and(OffsetLog::wants_compaction) {
            return;
        }
        let tables = self.offset_tables();
        if let Some(log) = &mut self.log {
            match log.rewrite(&tables) {
                Ok(()) => tracing::debug!(path = %log.path().display(), "offsets log compacted"),
                Err(e) => tracing::warn!(error = %e, "cannot compact the offsets log"),
            }
        }
    }

    fn on_timer(&mut self, now: Instant) {
        let cfg = self.config.clone();
        for g in self.groups.values_mut() {
            if g.next_deadline().is_some_and(|d| d <= now) {
                g.on_timer(now, &cfg);
            }
        }
        if now >= self.next_retention_check {
            self.next_retention_check = now + cfg.retention_tick();
            self.expire_offsets();
        }
    }

    fn next_deadline(&self) -> Instant {
        self.groups
            .values()
            .filter_map(Group::next_deadline)
            .fold(self.next_retention_check, Instant::min)
    }
}

impl GroupCoordinator {
    /// Starts the coordinator: loads committed offsets from `data_dir` (`None`: in memory only)
    /// and spawns its timer task on the current tokio runtime.
    ///
    /// # Errors
    /// [`GroupError::Io`] / [`GroupError::BadHeader`] if the offsets store cannot be read or
    /// compacted; [`GroupError::NoRuntime`] outside a tokio runtime.
    pub fn new(
        config: GroupConfig,
        data_dir: Option<PathBuf>,
        topics: Arc<dyn TopicLookup>,
    ) -> Result<Arc<Self>, GroupError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| GroupError::NoRuntime)?;
        let mut groups = HashMap::new();
        let log = match data_dir {
            Some(dir) => {
                let (log, tables) = OffsetLog::open(&dir)?;
                let count: usize = tables.values().map(offsets::OffsetTable::len).sum();
                for (id, table) in tables {
                    let mut g = Group::new(id.clone());
                    g.offsets = table;
                    groups.insert(id, g);
                }
                tracing::info!(
                    path = %log.path().display(),
                    groups = groups.len(),
                    offsets = count,
                    "committed offsets loaded",
                );
                Some(log)
            }
            None => None,
        };
        let (stop, stop_rx) = watch::channel(false);
        let first_check = Instant::now() + config.retention_tick();
        let coordinator = Arc::new(GroupCoordinator {
            state: Mutex::new(State {
                config,
                topics,
                groups,
                log,
                running: true,
                next_retention_check: first_check,
            }),
            wake: Arc::new(Notify::new()),
            stop,
            timer: Mutex::new(None),
        });
        let task = runtime.spawn(run_timers(
            Arc::downgrade(&coordinator),
            coordinator.wake.clone(),
            stop_rx,
        ));
        *coordinator.timer.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        Ok(coordinator)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent-enough state for a dev broker.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// JoinGroup (v0-v9). Waits while the group rebalances.
    ///
    /// # Cancel safety
    /// Cancel safe (see the module docs).
    pub async fn join_group(
        &self,
        req: JoinGroupRequest,
        version: i16,
        client_id: &str,
        client_host: &str,
    ) -> JoinGroupResponse {
        let member_id = req.member_id.clone();
        let group_id = req.group_id.clone();
        let reply = self.join_reply(req, version, client_id, client_host);
        self.wake.notify_one();
        let result = match reply {
            Reply::Now(r) => r,
            Reply::Wait(rx) => rx.await.unwrap_or_else(|_| {
                JoinResult::error(member_id, ErrorCode::CoordinatorNotAvailable)
            }),
        };
        tracing::debug!(
            group = %group_id,
            member = %result.member_id,
            generation = result.generation,
            error = %result.error,
            version,
            "JoinGroup answered",
        );
        result.into_response(version)
    }

    fn join_reply(
        &self,
        req: JoinGroupRequest,
        version: i16,
        client_id: &str,
        client_host: &str,
    ) -> Reply<JoinResult> {
        let err = |e| Reply::Now(JoinResult::error(req.member_id.clone(), e));
        if req.group_id.is_empty() {
            return err(ErrorCode::InvalidGroupId);
        }
        let mut st = self.lock();
        if !st.running {
            return err(ErrorCode::CoordinatorNotAvailable);
        }
        let session_ms = u64::try_from(req.session_timeout_ms).ok();
        let session = session_ms.map(Duration::from_millis);
        let Some(session) = session
            .filter(|s| *s >= st.config.min_session_timeout && *s <= st.config.max_session_timeout)
        else {
            return err(ErrorCode::InvalidSessionTimeout);
        };
        // v0 has no rebalance timeout: the session timeout serves.
        let rebalance = match u64::try_from(req.rebalance_timeout_ms) {
            Ok(ms) if version >= 1 => Duration::from_millis(ms),
            _ => session,
        };
        let now = Instant::now();
        let cfg = st.config.clone();
        let group = match st.groups.get_mut(&req.group_id) {
            Some(g) => g,
            None if req.member_id.is_empty() => st
                .groups
                .entry(req.group_id.clone())
                .or_insert_with(|| Group::new(req.group_id.clone())),
            None => return err(ErrorCode::UnknownMemberId),
        };
        let params = JoinParams {
            member_id: req.member_id,
            instance_id: if version >= 5 {
                req.group_instance_id
            } else {
                None
            },
            client_id: client_id.into(),
            client_host: client_host.into(),
            session_timeout: session,
            rebalance_timeout: rebalance,
            protocol_type: req.protocol_type,
            protocols: req
                .protocols
                .into_iter()
                .map(|p| Protocol {
                    name: p.name,
                    metadata: p.metadata,
                })
                .collect(),
            require_known_member_id: version >= 4,
            supports_skip_assignment: version >= 9,
            reason: req
                .reason
                .unwrap_or_else(|| KStr::from_static("not provided")),
        };
        group.join(params, now, &cfg)
    }

    /// SyncGroup (v0-v5). A follower waits for the leader's assignment.
    ///
    /// # Cancel safety
    /// Cancel safe (see the module docs).
    pub async fn sync_group(&self, req: SyncGroupRequest, version: i16) -> SyncGroupResponse {
        let group_id = req.group_id.clone();
        let member_id = req.member_id.clone();
        let reply = self.sync_reply(req, version);
        self.wake.notify_one();
        let result = match reply {
            Reply::Now(r) => r,
            Reply::Wait(rx) => rx
                .await
                .unwrap_or_else(|_| SyncResult::error(ErrorCode::CoordinatorNotAvailable)),
        };
        tracing::debug!(
            group = %group_id,
            member = %member_id,
            error = %result.error,
            version,
            "SyncGroup answered",
        );
        result.into_response(version)
    }

    fn sync_reply(&self, req: SyncGroupRequest, version: i16) -> Reply<SyncResult> {
        let err = |e| Reply::Now(SyncResult::error(e));
        if req.group_id.is_empty() {
            return err(ErrorCode::InvalidGroupId);
        }
        // v5+ must name the protocol type and name (Kafka: INCONSISTENT_GROUP_PROTOCOL).
        if version >= 5 && (req.protocol_type.is_none() || req.protocol_name.is_none()) {
            return err(ErrorCode::InconsistentGroupProtocol);
        }
        let mut st = self.lock();
        if !st.running {
            return err(ErrorCode::CoordinatorNotAvailable);
        }
        let cfg = st.config.clone();
        let Some(group) = st.groups.get_mut(&req.group_id) else {
            return err(ErrorCode::UnknownMemberId);
        };
        let params = SyncParams {
            member_id: req.member_id,
            instance_id: if version >= 3 {
                req.group_instance_id
            } else {
                None
            },
            generation: req.generation_id,
            protocol_type: if version >= 5 {
                req.protocol_type
            } else {
                None
            },
            protocol_name: if version >= 5 {
                req.protocol_name
            } else {
                None
            },
            assignments: req
                .assignments
                .into_iter()
                .map(|a| (a.member_id, a.assignment))
                .collect(),
        };
        group.sync(params, Instant::now(), &cfg)
    }

    /// Heartbeat (v0-v4).
    ///
    /// # Cancel safety
    /// Cancel safe: it never waits.
    pub async fn heartbeat(&self, req: HeartbeatRequest, version: i16) -> HeartbeatResponse {
        let error = if req.group_id.is_empty() {
            ErrorCode::InvalidGroupId
        } else {
            let mut st = self.lock();
            let instance = if version >= 3 {
                req.group_instance_id.as_deref()
            } else {
                None
            };
            let running = st.running;
            match st.groups.get_mut(&req.group_id) {
                _ if !running => ErrorCode::CoordinatorNotAvailable,
                Some(g) => g.heartbeat(&req.member_id, instance, req.generation_id, Instant::now()),
                None => ErrorCode::UnknownMemberId,
            }
        };
        tracing::trace!(group = %req.group_id, member = %req.member_id, %error, "heartbeat");
        HeartbeatResponse {
            error_code: error.code(),
            ..Default::default()
        }
    }

    /// LeaveGroup (v0-v5; v3+ batched members with per-member errors).
    ///
    /// # Cancel safety
    /// Cancel safe: it never waits.
    pub async fn leave_group(&self, req: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
        let identities: Vec<(KStr, Option<KStr>, KStr)> = if version >= 3 {
            req.members
                .into_iter()
                .map(|m| {
                    (
                        m.member_id,
                        m.group_instance_id,
                        m.reason
                            .unwrap_or_else(|| KStr::from_static("not provided")),
                    )
                })
                .collect()
        } else {
            vec![(req.member_id, None, KStr::from_static("not provided"))]
        };
        let (top, errors) = {
            let mut st = self.lock();
            let cfg = st.config.clone();
            let now = Instant::now();
            if req.group_id.is_empty() {
                (ErrorCode::InvalidGroupId, Vec::new())
            } else if !st.running {
                (ErrorCode::CoordinatorNotAvailable, Vec::new())
            } else {
                let errors = match st.groups.get_mut(&req.group_id) {
                    Some(g) => identities
                        .iter()
                        .map(|(m, i, reason)| g.leave(m, i.as_deref(), reason, now, &cfg))
                        .collect(),
                    None => vec![ErrorCode::UnknownMemberId; identities.len()],
                };
                (ErrorCode::None, errors)
            }
        };
        self.wake.notify_one();
        if version < 3 {
            let error = if top != ErrorCode::None {
                top
            } else {
                errors.first().copied().unwrap_or(ErrorCode::None)
            };
            return LeaveGroupResponse {
                error_code: error.code(),
                ..Default::default()
            };
        }
        LeaveGroupResponse {
            error_code: top.code(),
            members: identities
                .into_iter()
                .zip(errors)
                .map(|((member_id, group_instance_id, _), e)| MemberResponse {
                    member_id,
                    group_instance_id,
                    error_code: e.code(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    /// OffsetCommit (v0-v9).
    ///
    /// # Cancel safety
    /// Cancel safe: it never waits.
    pub async fn offset_commit(
        &self,
        req: OffsetCommitRequest,
        version: i16,
    ) -> OffsetCommitResponse {
        self.lock().offset_commit(req, version)
    }

    /// OffsetFetch (v0-v9; v8+ batched groups).
    ///
    /// # Cancel safety
    /// Cancel safe: it never waits.
    pub async fn offset_fetch(&self, req: OffsetFetchRequest, version: i16) -> OffsetFetchResponse {
        self.lock().offset_fetch(req, version)
    }

    /// ListGroups (v0-v5).
    ///
    /// # Cancel safety
    /// Cancel safe: it never waits.
    pub async fn list_groups(&self, req: ListGroupsRequest, version: i16) -> ListGroupsResponse {
        self.lock().list_groups(&req, version)
    }

    /// DescribeGroups (v0-v5).
    ///
    /// # Cancel safety
    /// Cancel safe: it never waits.
    pub async fn describe_groups(
        &self,
        req: DescribeGroupsRequest,
        version: i16,
    ) -> DescribeGroupsResponse {
        self.lock().describe_groups(&req, version)
    }

    /// DeleteGroups (v0-v2).
    ///
    /// # Cancel safety
    /// Cancel safe: it never waits.
    pub async fn delete_groups(
        &self,
        req: DeleteGroupsRequest,
        version: i16,
    ) -> DeleteGroupsResponse {
        let _ = version;
        self.lock().delete_groups(&req)
    }

    /// OffsetDelete (v0).
    ///
    /// # Cancel safety
    /// Cancel safe: it never waits.
    pub async fn offset_delete(
        &self,
        req: OffsetDeleteRequest,
        version: i16,
    ) -> OffsetDeleteResponse {
        let _ = version;
        self.lock().offset_delete(req)
    }

    /// Drops the committed offsets of a deleted topic in every group (call after DeleteTopics).
    pub fn topic_deleted(&self, topic: &str) {
        self.lock().topic_deleted(topic);
    }

    /// The state of a group, if it exists (for tests and tools).
    pub fn group_state(&self, group_id: &str) -> Option<GroupState> {
        self.lock().groups.get(group_id).map(|g| g.state)
    }

    /// Stops the timer task, answers parked calls with COORDINATOR_NOT_AVAILABLE, and writes
    /// committed offsets to disk compacted and synced. Later calls get COORDINATOR_NOT_AVAILABLE.
    /// Calling it again does nothing.
    ///
    /// # Errors
    /// [`GroupError::Io`] if the offsets cannot be written.
    pub async fn shutdown(&self) -> Result<(), GroupError> {
        let _ = self.stop.send(true);
        let task = self.timer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
        let mut st = self.lock();
        if !st.running {
            return Ok(());
        }
        st.running = false;
        for g in st.groups.values_mut() {
            g.fail_waiters(ErrorCode::CoordinatorNotAvailable);
        }
        let tables = st.offset_tables();
        if let Some(log) = &mut st.log {
            log.rewrite(&tables)?;
            log.sync()?;
            tracing::info!(
                path = %log.path().display(),
                groups = tables.len(),
                "committed offsets written",
            );
        }
        Ok(())
    }
}

/// The timer task: sleeps until the earliest deadline, then acts on everything expired.
async fn run_timers(
    coordinator: Weak<GroupCoordinator>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let next = {
            let Some(c) = coordinator.upgrade() else {
                return;
            };
            let mut st = c.lock();
            if !st.running {
                return;
            }
            st.on_timer(Instant::now());
            st.next_deadline()
        };
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = wake.notified() => {}
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return;
                }
            }
        }
    }
}
