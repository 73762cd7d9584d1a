//! JoinGroup, SyncGroup, Heartbeat and LeaveGroup applied to one group (Kafka's
//! `GroupCoordinator.handle*` paths, minus group lookup, which is in `mod.rs`).
//!
//! A call either answers at once ([`Reply::Now`]) or parks a oneshot sender on the member and
//! returns the receiver ([`Reply::Wait`]); the sender is completed when the rebalance moves on.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use kafka_proto::{ErrorCode, KStr};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::config::GroupConfig;
use super::group::{Group, GroupState, NEW_MEMBER_JOIN_TIMEOUT};
use super::member::{new_member_id, JoinResult, Member, Protocol, SyncResult};

/// An answer now, or later through a channel.
#[derive(Debug)]
pub(crate) enum Reply<T> {
    Now(T),
    Wait(oneshot::Receiver<T>),
}

/// A JoinGroup request, validated and version-normalized.
#[derive(Debug)]
pub(crate) struct JoinParams {
    pub member_id: KStr,
    pub instance_id: Option<KStr>,
    pub client_id: KStr,
    pub client_host: KStr,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocol_type: KStr,
    pub protocols: Vec<Protocol>,
    /// v4+: a join without member id gets MEMBER_ID_REQUIRED first (KIP-394).
    pub require_known_member_id: bool,
    /// v9+: a static leader rejoining a stable group is told to skip the assignment (KIP-814).
    pub supports_skip_assignment: bool,
    pub reason: KStr,
}

/// A SyncGroup request.
#[derive(Debug)]
pub(crate) struct SyncParams {
    pub member_id: KStr,
    pub instance_id: Option<KStr>,
    pub generation: i32,
    pub protocol_type: Option<KStr>,
    pub protocol_name: Option<KStr>,
    pub assignments: HashMap<KStr, Bytes>,
}

impl Group {
    /// JoinGroup on an existing (possibly just created) group.
    pub fn join(&mut self, p: JoinParams, now: Instant, cfg: &GroupConfig) -> Reply<JoinResult> {
        if !self.accepts_joining(&p.member_id, cfg) {
            tracing::info!(
                group = %self.id,
                member = %p.member_id,
                max = cfg.max_group_size,
                "group is full",
            );
            if self.has_member(&p.member_id) {
                self.remove_member(&p.member_id);
            }
            self.maybe_complete_join(now, cfg);
            return Reply::Now(JoinResult::error(
                KStr::new(),
                ErrorCode::GroupMaxSizeReached,
            ));
        }
        let reply = if p.member_id.is_empty() {
            self.join_new_member(p, now, cfg)
        } else {
            self.join_current_member(p, now, cfg)
        };
        self.maybe_complete_join(now, cfg);
        reply
    }

    /// Kafka's `acceptJoiningMember`: room for new members up to `max_group_size`.
    fn accepts_joining(&self, member_id: &str, cfg: &GroupConfig) -> bool {
        match self.state {
            GroupState::Empty | GroupState::Dead => true,
            GroupState::PreparingRebalance => {
                self.member(member_id).is_some_and(Member::is_awaiting_join)
                    || self.awaiting_join_count() < cfg.max_group_size
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.has_member(member_id) || self.members.len() < cfg.max_group_size
            }
        }
    }

    fn join_new_member(
        &mut self,
        p: JoinParams,
        now: Instant,
        cfg: &GroupConfig,
    ) -> Reply<JoinResult> {
        if !self.supports_protocols(&p.protocol_type, &p.protocols) {
            return Reply::Now(JoinResult::error(
                KStr::new(),
                ErrorCode::InconsistentGroupProtocol,
            ));
        }
        let new_id = new_member_id(p.instance_id.as_deref().unwrap_or(&p.client_id));
        if let Some(instance) = p.instance_id.clone() {
            return match self.static_members.get(&instance).cloned() {
                Some(old_id) => self.replace_static_member(old_id, new_id, p, now, cfg),
                None => self.add_member_and_rebalance(new_id, p, now, cfg),
            };
        }
        if p.require_known_member_id {
            tracing::debug!(
                group = %self.id,
                member = %new_id,
                "new member must rejoin with its id",
            );
            self.pending_members
                .insert(new_id.clone(), now + p.session_timeout);
            return Reply::Now(JoinResult::error(new_id, ErrorCode::MemberIdRequired));
        }
        self.add_member_and_rebalance(new_id, p, now, cfg)
    }

    fn add_member_and_rebalance(
        &mut self,
        id: KStr,
        p: JoinParams,
        now: Instant,
        cfg: &GroupConfig,
    ) -> Reply<JoinResult> {
        let (tx, rx) = oneshot::channel();
        if self.state == GroupState::PreparingRebalance && self.generation == 0 {
            self.new_member_added = true;
        }
        tracing::info!(
            group = %self.id,
            member = %id,
            instance = ?p.instance_id,
            client = %p.client_id,
            reason = %p.reason,
            "member joins",
        );
        self.add_member(Member {
            id,
            instance_id: p.instance_id,
            client_id: p.client_id,
            client_host: p.client_host,
            rebalance_timeout: p.rebalance_timeout,
            session_timeout: p.session_timeout,
            protocol_type: p.protocol_type,
            protocols: p.protocols,
            assignment: Bytes::new(),
            join_waiter: Some(tx),
            sync_waiter: None,
            is_new: true,
            deadline: now + NEW_MEMBER_JOIN_TIMEOUT,
        });
        self.maybe_prepare_rebalance(now, cfg, "new member joined");
        Reply::Wait(rx)
    }

    /// A known `group.instance.id` joins with an unknown member id (a restarted static member):
    /// it takes over the old member (whose pending calls are fenced) and, in a Stable group
    /// whose protocol would not change, gets the current generation without a rebalance.
    fn replace_static_member(
        &mut self,
        old_id: KStr,
        new_id: KStr,
        p: JoinParams,
        now: Instant,
        cfg: &GroupConfig,
    ) -> Reply<JoinResult> {
        let old_leader = self.leader.clone();
        let Some(idx) = self.index_of(&old_id) else {
            // The instance map and the member list disagree; start the instance afresh.
            tracing::warn!(
                group = %self.id,
                member = %old_id,
                "static member mapping without member",
            );
            if let Some(instance) = &p.instance_id {
                self.static_members.remove(instance);
            }
            return self.add_member_and_rebalance(new_id, p, now, cfg);
        };
        let (tx, rx) = oneshot::channel();
        let generation = self.generation;
        if let Some(m) = self.members.get_mut(idx) {
            m.complete_join(JoinResult::error(
                old_id.clone(),
                ErrorCode::FencedInstanceId,
            ));
            m.complete_sync(SyncResult::error(ErrorCode::FencedInstanceId));
            m.id = new_id.clone();
            m.client_id = p.client_id;
            m.client_host = p.client_host;
            m.protocols = p.protocols;
            m.rebalance_timeout = p.rebalance_timeout;
            m.session_timeout = p.session_timeout;
            m.deadline = now + p.session_timeout;
            m.join_waiter = Some(tx);
        }
        if let Some(instance) = &p.instance_id {
            self.static_members.insert(instance.clone(), new_id.clone());
        }
        if self.leader.as_ref() == Some(&old_id) {
            self.leader = Some(new_id.clone());
        }
        if self.pending_sync.remove(&old_id) {
            self.pending_sync.insert(new_id.clone());
        }
        tracing::info!(
            group = %self.id,
            old = %old_id,
            new = %new_id,
            instance = ?p.instance_id,
            state = %self.state,
            generation,
            "static member rejoined with a new member id",
        );
        match self.state {
            GroupState::Stable => {
                if self.select_protocol() == self.protocol_name {
                    let result = if p.supports_skip_assignment {
                        // v9+: the leader learns it leads but keeps the current assignment.
                        let is_leader = self.is_leader(&new_id);
                        self.join_result(new_id.clone(), is_leader, None, is_leader)
                    } else {
                        // Older clients: name the old leader id so the member does not assign.
                        self.join_result(new_id.clone(), false, old_leader, false)
                    };
                    if let Some(m) = self.member_mut(&new_id) {
                        m.complete_join(result);
                    }
                } else {
                    self.maybe_prepare_rebalance(
                        now,
                        cfg,
                        "static member rejoined with a different protocol",
                    );
                }
            }
            GroupState::CompletingRebalance => {
                // The leader may already be assigning to the old member id.
                self.prepare_rebalance(
                    now,
                    cfg,
                    "static member rejoined during CompletingRebalance",
                );
            }
            GroupState::PreparingRebalance | GroupState::Empty | GroupState::Dead => {}
        }
        Reply::Wait(rx)
    }

    fn join_current_member(
        &mut self,
        p: JoinParams,
        now: Instant,
        cfg: &GroupConfig,
    ) -> Reply<JoinResult> {
        let member_id = p.member_id.clone();
        if !self.supports_protocols(&p.protocol_type, &p.protocols) {
            return Reply::Now(JoinResult::error(
                member_id,
                ErrorCode::InconsistentGroupProtocol,
            ));
        }
        if self.pending_members.contains_key(&member_id) {
            if p.instance_id.is_some() {
                // Pending ids are only handed to dynamic members.
                return Reply::Now(JoinResult::error(member_id, ErrorCode::UnknownMemberId));
            }
            self.pending_members.remove(&member_id);
            return self.add_member_and_rebalance(member_id, p, now, cfg);
        }
        if let Some(e) = self.validate_member(&member_id, p.instance_id.as_deref()) {
            return Reply::Now(JoinResult::error(member_id, e));
        }
        let matches = self
            .member(&member_id)
            .is_some_and(|m| m.matches(&p.protocols));
        match self.state {
            GroupState::PreparingRebalance => {
                self.update_member_and_rebalance(p, now, cfg, "member rejoined")
            }
            GroupState::CompletingRebalance if matches => {
                // Lost its JoinGroup response: same answer again.
                let leader = self.is_leader(&member_id);
                Reply::Now(self.join_result(member_id, leader, None, false))
            }
            GroupState::CompletingRebalance => self.update_member_and_rebalance(
                p,
                now,
                cfg,
                "member changed its metadata during CompletingRebalance",
            ),
            GroupState::Stable if self.is_leader(&member_id) => {
                // The leader rejoins to trigger a rebalance (e.g. topic metadata changed).
                self.update_member_and_rebalance(p, now, cfg, "leader rejoined")
            }
            GroupState::Stable if !matches => {
                self.update_member_and_rebalance(p, now, cfg, "member changed its metadata")
            }
            GroupState::Stable => Reply::Now(self.join_result(member_id, false, None, false)),
            GroupState::Empty | GroupState::Dead => {
                Reply::Now(JoinResult::error(member_id, ErrorCode::UnknownMemberId))
            }
        }
    }

    fn update_member_and_rebalance(
        &mut self,
        p: JoinParams,
        now: Instant,
        cfg: &GroupConfig,
        why: &str,
    ) -> Reply<JoinResult> {
        let (tx, rx) = oneshot::channel();
        if let Some(m) = self.member_mut(&p.member_id) {
            m.protocols = p.protocols;
            m.rebalance_timeout = p.rebalance_timeout;
            m.session_timeout = p.session_timeout;
            // A previous pending JoinGroup of this member (retried call) is superseded.
            m.join_waiter = Some(tx);
        }
        let reason = format!(
            "{why} (member {}, client reason: {})",
            p.member_id, p.reason
        );
        self.maybe_prepare_rebalance(now, cfg, &reason);
        Reply::Wait(rx)
    }

    /// SyncGroup: the leader's call carries the assignment and completes everyone's; followers
    /// wait for it; in a Stable group the current assignment is returned.
    pub fn sync(&mut self, p: SyncParams, now: Instant, cfg: &GroupConfig) -> Reply<SyncResult> {
        let _ = cfg;
        if let Some(e) = self.validate_member(&p.member_id, p.instance_id.as_deref()) {
            return Reply::Now(SyncResult::error(e));
        }
        if p.generation != self.generation {
            return Reply::Now(SyncResult::error(ErrorCode::IllegalGeneration));
        }
        if p.protocol_type
            .as_ref()
            .is_some_and(|t| self.protocol_type.as_ref() != Some(t))
            || p.protocol_name
                .as_ref()
                .is_some_and(|n| self.protocol_name.as_ref() != Some(n))
        {
            return Reply::Now(SyncResult::error(ErrorCode::InconsistentGroupProtocol));
        }
        match self.state {
            GroupState::Empty | GroupState::Dead => {
                Reply::Now(SyncResult::error(ErrorCode::UnknownMemberId))
            }
            GroupState::PreparingRebalance => {
                Reply::Now(SyncResult::error(ErrorCode::RebalanceInProgress))
            }
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(m) = self.member_mut(&p.member_id) {
                    m.sync_waiter = Some(tx);
                }
                self.synced(&p.member_id);
                if self.is_leader(&p.member_id) {
                    let missing = self
                        .members
                        .iter()
                        .filter(|m| !p.assignments.contains_key(&m.id))
                        .count();
                    if missing > 0 {
                        tracing::warn!(
                            group = %self.id,
                            missing,
                            generation = self.generation,
                            "leader left members without assignment; they get an empty one",
                        );
                    }
                    tracing::info!(
                        group = %self.id,
                        generation = self.generation,
                        members = self.members.len(),
                        "assignment received from the leader; group is stable",
                    );
                    self.propagate_assignment(now, ErrorCode::None, Some(&p.assignments));
                    self.transition(GroupState::Stable);
                }
                Reply::Wait(rx)
            }
            GroupState::Stable => {
                self.synced(&p.member_id);
                self.touch(&p.member_id, now);
                let assignment = self
                    .member(&p.member_id)
                    .map(|m| m.assignment.clone())
                    .unwrap_or_default();
                Reply::Now(SyncResult {
                    error: ErrorCode::None,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol_name.clone(),
                    assignment,
                })
            }
        }
    }

    fn synced(&mut self, member_id: &str) {
        self.pending_sync.remove(member_id);
        if self.pending_sync.is_empty() {
            self.sync_deadline = None;
        }
    }

    /// Heartbeat: keeps the session alive; REBALANCE_IN_PROGRESS tells the member to rejoin.
    pub fn heartbeat(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> ErrorCode {
        if let Some(e) = self.validate_member(member_id, instance_id) {
            return e;
        }
        if generation != self.generation {
            return ErrorCode::IllegalGeneration;
        }
        match self.state {
            GroupState::Empty | GroupState::Dead => ErrorCode::UnknownMemberId,
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.touch(member_id, now);
                ErrorCode::None
            }
            GroupState::PreparingRebalance => {
                self.touch(member_id, now);
                ErrorCode::RebalanceInProgress
            }
        }
    }

    /// LeaveGroup for one member identity; an empty member id with an instance id removes that
    /// static member (administrative removal, KIP-345).
    pub fn leave(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        reason: &str,
        now: Instant,
        cfg: &GroupConfig,
    ) -> ErrorCode {
        let why = format!("left the group (client reason: {reason})");
        if member_id.is_empty() {
            return match instance_id
                .and_then(|i| self.static_members.get(i))
                .cloned()
            {
                Some(current) => {
                    self.remove_member_and_update(&current, now, cfg, &why);
                    ErrorCode::None
                }
                None => ErrorCode::UnknownMemberId,
            };
        }
        if self.pending_members.contains_key(member_id) {
            self.remove_pending_member(member_id, now, cfg);
            return ErrorCode::None;
        }
        if let Some(e) = self.validate_member(member_id, instance_id) {
            return e;
        }
        self.remove_member_and_update(member_id, now, cfg, &why);
        ErrorCode::None
    }
}
