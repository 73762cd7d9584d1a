//! Committed offsets: the per-group table, and the OffsetCommit, OffsetFetch and OffsetDelete
//! APIs.
//!
//! Kafka's rules (GroupCoordinator / OffsetMetadataManager):
//! * partitions of unknown topics get UNKNOWN_TOPIC_OR_PARTITION before the group is looked at;
//! * a commit with generation -1 and no member id ("simple" commit, e.g. kcat or consumers
//!   using `assign`) is accepted while the group is Empty, creating the group if needed;
//! * otherwise the member must be known (FENCED_INSTANCE_ID for a stale static member) and the
//!   generation current (ILLEGAL_GENERATION); a commit while the group waits for its
//!   assignment gets REBALANCE_IN_PROGRESS; a commit to an unknown group with a generation gets
//!   ILLEGAL_GENERATION (GROUP_ID_NOT_FOUND from v9);
//! * OffsetFetch answers offset -1 for partitions without a commit, and all committed offsets
//!   for null topics;
//! * retention (KIP-211): offsets of an Empty group expire `offsets_retention` after the group
//!   became Empty; offsets of a group without membership protocol expire that long after their
//!   commit; a Stable consumer group's offsets of topics nobody subscribes expire likewise; an
//!   explicit retention time (OffsetCommit v2-v4) overrides.

use std::collections::{BTreeMap, HashMap, HashSet};

use kafka_proto::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_proto::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_proto::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_proto::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest, OffsetDeleteResponse,
    OffsetFetchRequest, OffsetFetchResponse,
};
use kafka_proto::{ErrorCode, KStr};
use tokio::time::Instant;

use super::group::{Group, GroupState};
use super::offset_log::LogEntry;
use super::{now_ms, State};

/// A committed offset with what Kafka keeps beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CommittedOffset {
    pub offset: i64,
    /// -1 when the client did not send one.
    pub leader_epoch: i32,
    pub metadata: KStr,
    /// Wall-clock milliseconds.
    pub commit_timestamp_ms: i64,
    /// Explicit expiry (OffsetCommit v2-v4 retention time), wall-clock milliseconds.
    pub expire_timestamp_ms: Option<i64>,
}

/// Committed offsets of one group: topic → partition → offset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct OffsetTable {
    topics: HashMap<KStr, BTreeMap<i32, CommittedOffset>>,
}

impl OffsetTable {
    pub fn get(&self, topic: &str, partition: i32) -> Option<&CommittedOffset> {
        self.topics.get(topic)?.get(&partition)
    }

    pub fn put(&mut self, topic: KStr, partition: i32, offset: CommittedOffset) {
        self.topics
            .entry(topic)
            .or_default()
            .insert(partition, offset);
    }

    pub fn remove(&mut self, topic: &str, partition: i32) -> bool {
        let Some(parts) = self.topics.get_mut(topic) else {
            return false;
        };
        let removed = parts.remove(&partition).is_some();
        if parts.is_empty() {
            self.topics.remove(topic);
        }
        removed
    }

    /// Removes every partition of `topic`; returns how many there were.
    pub fn remove_topic(&mut self, topic: &str) -> usize {
        self.topics.remove(topic).map_or(0, |p| p.len())
    }

    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    pub fn has_topic(&self, topic: &str) -> bool {
        self.topics.contains_key(topic)
    }

    pub fn len(&self) -> usize {
        self.topics.values().map(BTreeMap::len).sum()
    }

    /// Every offset, sorted by topic then partition.
    pub fn iter(&self) -> impl Iterator<Item = (&KStr, i32, &CommittedOffset)> {
        let mut topics: Vec<_> = self.topics.iter().collect();
        topics.sort_by(|a, b| a.0.cmp(b.0));
        topics
            .into_iter()
            .flat_map(|(t, parts)| parts.iter().map(move |(p, o)| (t, *p, o)))
    }

    /// Removes and returns offsets that have expired at `now_ms`: those with an explicit expiry
    /// in the past, and the others whose `base` timestamp is at least `retention_ms` old, except
    /// offsets of `keep_topics`.
    pub fn expire(
        &mut self,
        now_ms: i64,
        retention_ms: i64,
        base: impl Fn(&CommittedOffset) -> i64,
        keep_topics: Option<&HashSet<KStr>>,
    ) -> Vec<(KStr, i32)> {
        let mut expired = Vec::new();
        for (topic, parts) in &mut self.topics {
            if keep_topics.is_some_and(|k| k.contains(topic)) {
                continue;
            }
            parts.retain(|p, o| {
                let gone = match o.expire_timestamp_ms {
                    Some(at) => now_ms >= at,
                    None => now_ms.saturating_sub(base(o)) >= retention_ms,
                };
                if gone {
                    expired.push((topic.clone(), *p));
                }
                !gone
            });
        }
        self.topics.retain(|_, p| !p.is_empty());
        expired
    }
}

/// The requested partitions of one topic in OffsetFetch.
type FetchTopics = Option<Vec<(KStr, Vec<i32>)>>;
/// `(partition, offset, leader epoch, metadata, error)`.
type FetchedPartition = (i32, i64, i32, KStr, ErrorCode);

impl State {
    /// OffsetCommit, all versions.
    pub(crate) fn offset_commit(
        &mut self,
        req: OffsetCommitRequest,
        version: i16,
    ) -> OffsetCommitResponse {
        let now = Instant::now();
        let now_ms = now_ms();
        // errors[t][p], parallel to the request.
        let mut errors: Vec<Vec<ErrorCode>> = req
            .topics
            .iter()
            .map(|t| vec![ErrorCode::None; t.partitions.len()])
            .collect();
        let mut valid = 0usize;
        for (t, errs) in req.topics.iter().zip(errors.iter_mut()) {
            for (p, e) in t.partitions.iter().zip(errs.iter_mut()) {
                if !self.topics.partition_exists(&t.name, p.partition_index) {
                    *e = ErrorCode::UnknownTopicOrPartition;
                } else {
                    valid += 1;
                }
            }
        }
        let group_error = if !self.running {
            Some(ErrorCode::CoordinatorNotAvailable)
        } else if valid == 0 {
            None
        } else {
            self.commit_checks(&req, version, now)
        };
        if valid > 0 && group_error.is_none() {
            let expire = (2..=4)
                .contains(&version)
                .then_some(req.retention_time_ms)
                .filter(|r| *r >= 0)
                .map(|r| now_ms.saturating_add(r));
            let mut entries = Vec::new();
            let mut slots = Vec::new();
            for (ti, t) in req.topics.iter().enumerate() {
                for (pi, p) in t.partitions.iter().enumerate() {
                    if errors.get(ti).and_then(|e| e.get(pi)) != Some(&ErrorCode::None) {
                        continue;
                    }
                    let metadata = p.committed_metadata.clone().unwrap_or_default();
                    if metadata.len() > self.config.offset_metadata_max_bytes {
                        set(&mut errors, ti, pi, ErrorCode::OffsetMetadataTooLarge);
                        continue;
                    }
                    let offset = CommittedOffset {
                        offset: p.committed_offset,
                        leader_epoch: if version >= 6 {
                            p.committed_leader_epoch
                        } else {
                            -1
                        },
                        metadata,
                        commit_timestamp_ms: if version == 1 && p.commit_timestamp >= 0 {
                            p.commit_timestamp
                        } else {
                            now_ms
                        },
                        expire_timestamp_ms: expire,
                    };
                    entries.push(LogEntry::Commit {
                        group: req.group_id.clone(),
                        topic: t.name.clone(),
                        partition: p.partition_index,
                        offset,
                    });
                    slots.push((ti, pi));
                }
            }
            if let Err(e) = self.persist(&entries) {
                tracing::error!(
                    group = %req.group_id,
                    error = %e,
                    "cannot write committed offsets",
                );
                for (ti, pi) in slots {
                    set(&mut errors, ti, pi, ErrorCode::CoordinatorNotAvailable);
                }
            } else if let Some(group) = self.groups.get_mut(&req.group_id) {
                let n = entries.len();
                for e in entries {
                    if let LogEntry::Commit {
                        topic,
                        partition,
                        offset,
                        ..
                    } = e
                    {
                        group.offsets.put(topic, partition, offset);
                    }
                }
                tracing::debug!(
                    group = %req.group_id,
                    member = %req.member_id,
                    offsets = n,
                    "offsets committed",
                );
                self.maybe_compact();
            }
        } else if let Some(err) = group_error {
            for errs in &mut errors {
                for e in errs.iter_mut().filter(|e| **e == ErrorCode::None) {
                    *e = err;
                }
            }
        }
        OffsetCommitResponse {
            topics: req
                .topics
                .into_iter()
                .zip(errors)
                .map(|(t, errs)| OffsetCommitResponseTopic {
                    name: t.name,
                    partitions: t
                        .partitions
                        .iter()
                        .zip(errs)
                        .map(|(p, e)| OffsetCommitResponsePartition {
                            partition_index: p.partition_index,
                            error_code: e.code(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    /// Group-level checks of a commit; creates the group for a simple commit.
    fn commit_checks(
        &mut self,
        req: &OffsetCommitRequest,
        version: i16,
        now: Instant,
    ) -> Option<ErrorCode> {
        let generation = req.generation_id_or_member_epoch;
        let group = match self.groups.get_mut(&req.group_id) {
            Some(g) => g,
            None if generation < 0 => {
                tracing::info!(group = %req.group_id, "creating simple group on offset commit");
                self.groups
                    .entry(req.group_id.clone())
                    .or_insert_with(|| Group::new(req.group_id.clone()))
            }
            None if version >= 9 => return Some(ErrorCode::GroupIdNotFound),
            None => return Some(ErrorCode::IllegalGeneration),
        };
        if let Some(e) = group.validate_offset_commit(
            generation,
            &req.member_id,
            req.group_instance_id.as_deref(),
        ) {
            return Some(e);
        }
        if matches!(
            group.state,
            GroupState::Stable | GroupState::PreparingRebalance
        ) {
            // A commit from a member keeps its session alive.
            group.touch(&req.member_id, now);
        }
        None
    }

    /// OffsetFetch, all versions (v8+ batched groups).
    pub(crate) fn offset_fetch(
        &self,
        req: OffsetFetchRequest,
        version: i16,
    ) -> OffsetFetchResponse {
        if version >= 8 {
            let groups = req
                .groups
                .into_iter()
                .map(|g| {
                    let topics = g.topics.map(|ts| {
                        ts.into_iter()
                            .map(|t| (t.name, t.partition_indexes.into_vec()))
                            .collect()
                    });
                    let (error, topics) = self.fetch_group(&g.group_id, topics);
                    OffsetFetchResponseGroup {
                        group_id: g.group_id,
                        error_code: error.code(),
                        topics: topics
                            .into_iter()
                            .map(|(name, parts)| OffsetFetchResponseTopics {
                                name,
                                partitions: parts
                                    .into_iter()
                                    .map(
                                        |(
                                            partition_index,
                                            committed_offset,
                                            committed_leader_epoch,
                                            metadata,
                                            e,
                                        )| {
                                            OffsetFetchResponsePartitions {
                                                partition_index,
                                                committed_offset,
                                                committed_leader_epoch,
                                                metadata: Some(metadata),
                                                error_code: e.code(),
                                                ..Default::default()
                                            }
                                        },
                                    )
                                    .collect(),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    }
                })
                .collect();
            return OffsetFetchResponse {
                groups,
                ..Default::default()
            };
        }
        let topics = req.topics.map(|ts| {
            ts.into_iter()
                .map(|t| (t.name, t.partition_indexes.into_vec()))
                .collect()
        });
        let (error, topics) = self.fetch_group(&req.group_id, topics);
        OffsetFetchResponse {
            // v0-v1 have no top-level error: the partitions carry it (set by fetch_group).
            error_code: if version >= 2 { error.code() } else { 0 },
            topics: topics
                .into_iter()
                .map(|(name, parts)| OffsetFetchResponseTopic {
                    name,
                    partitions: parts
                        .into_iter()
                        .map(
                            |(
                                partition_index,
                                committed_offset,
                                committed_leader_epoch,
                                metadata,
                                e,
                            )| {
                                OffsetFetchResponsePartition {
                                    partition_index,
                                    committed_offset,
                                    committed_leader_epoch,
                                    metadata: Some(metadata),
                                    error_code: e.code(),
                                    ..Default::default()
                                }
                            },
                        )
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    /// Offsets of one group: the requested partitions (-1 where nothing is committed), or all
    /// committed ones for `None`. A group-level error is also copied into each partition.
    fn fetch_group(
        &self,
        group_id: &KStr,
        topics: FetchTopics,
    ) -> (ErrorCode, Vec<(KStr, Vec<FetchedPartition>)>) {
        let error = if self.running {
            ErrorCode::None
        } else {
            ErrorCode::CoordinatorNotAvailable
        };
        let table = self
            .groups
            .get(group_id)
            .map(|g| &g.offsets)
            .filter(|_| error == ErrorCode::None);
        let fetched = |o: Option<&CommittedOffset>, p: i32| match o {
            Some(o) => (p, o.offset, o.leader_epoch, o.metadata.clone(), error),
            None => (p, -1, -1, KStr::new(), error),
        };
        let topics = match topics {
            Some(ts) => ts
                .into_iter()
                .map(|(name, parts)| {
                    let parts = parts
                        .into_iter()
                        .map(|p| fetched(table.and_then(|t| t.get(&name, p)), p))
                        .collect();
                    (name, parts)
                })
                .collect(),
            None => {
                let mut out: Vec<(KStr, Vec<FetchedPartition>)> = Vec::new();
                for (topic, p, o) in table.into_iter().flat_map(OffsetTable::iter) {
                    match out.last_mut() {
                        Some((t, parts)) if t == topic => parts.push(fetched(Some(o), p)),
                        _ => out.push((topic.clone(), vec![fetched(Some(o), p)])),
                    }
                }
                out
            }
        };
        (error, topics)
    }

    /// OffsetDelete (v0).
    pub(crate) fn offset_delete(&mut self, req: OffsetDeleteRequest) -> OffsetDeleteResponse {
        let top = |e: ErrorCode| OffsetDeleteResponse {
            error_code: e.code(),
            ..Default::default()
        };
        if req.group_id.is_empty() {
            return top(ErrorCode::InvalidGroupId);
        }
        if !self.running {
            return top(ErrorCode::CoordinatorNotAvailable);
        }
        let topics = &self.topics;
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            return top(ErrorCode::GroupIdNotFound);
        };
        let consumer = group.protocol_type.as_deref() == Some("consumer");
        if group.state != GroupState::Empty && !consumer {
            return top(ErrorCode::NonEmptyGroup);
        }
        let mut entries = Vec::new();
        let mut response_topics = Vec::new();
        for t in &req.topics {
            let subscribed = group.state != GroupState::Empty && group.is_subscribed_to(&t.name);
            let mut parts = Vec::new();
            for p in &t.partitions {
                let error = if !topics.partition_exists(&t.name, p.partition_index) {
                    ErrorCode::UnknownTopicOrPartition
                } else if subscribed {
                    ErrorCode::GroupSubscribedToTopic
                } else {
                    if group.offsets.get(&t.name, p.partition_index).is_some() {
                        entries.push(LogEntry::Delete {
                            group: req.group_id.clone(),
                            topic: t.name.clone(),
                            partition: p.partition_index,
                        });
                    }
                    ErrorCode::None
                };
                parts.push(OffsetDeleteResponsePartition {
                    partition_index: p.partition_index,
                    error_code: error.code(),
                });
            }
            response_topics.push(OffsetDeleteResponseTopic {
                name: t.name.clone(),
                partitions: parts,
            });
        }
        if let Err(e) = self.persist(&entries) {
            tracing::error!(group = %req.group_id, error = %e, "cannot record deleted offsets");
            return top(ErrorCode::CoordinatorNotAvailable);
        }
        if let Some(group) = self.groups.get_mut(&req.group_id) {
            for e in &entries {
                if let LogEntry::Delete {
                    topic, partition, ..
                } = e
                {
                    group.offsets.remove(topic, *partition);
                }
            }
            tracing::info!(group = %req.group_id, removed = entries.len(), "offsets deleted");
        }
        self.drop_if_dead(&req.group_id);
        OffsetDeleteResponse {
            topics: response_topics,
            ..Default::default()
        }
    }

    /// Drops committed offsets of a deleted topic in every group.
    pub(crate) fn topic_deleted(&mut self, topic: &str) {
        if !self.groups.values().any(|g| g.offsets.has_topic(topic)) {
            return;
        }
        if let Err(e) = self.persist(&[LogEntry::DeleteTopic {
            topic: topic.into(),
        }]) {
            tracing::error!(
                topic,
                error = %e,
                "cannot record offsets of a deleted topic as removed",
            );
        }
        let mut removed = 0;
        let mut emptied = Vec::new();
        for (id, g) in &mut self.groups {
            let n = g.offsets.remove_topic(topic);
            if n > 0 {
                removed += n;
                emptied.push(id.clone());
            }
        }
        for id in emptied {
            self.drop_if_dead(&id);
        }
        if removed > 0 {
            tracing::info!(
                topic,
                removed,
                "dropped committed offsets of a deleted topic"
            );
        }
    }

    /// Expires offsets by the retention rules, and forgets Empty groups left without offsets.
    pub(crate) fn expire_offsets(&mut self) {
        let now = now_ms();
        let retention =
            i64::try_from(self.config.offsets_retention.as_millis()).unwrap_or(i64::MAX);
        let mut entries = Vec::new();
        for (id, g) in &mut self.groups {
            let expired = match (&g.protocol_type, g.state) {
                (Some(_), GroupState::Empty) => {
                    let since = g.state_since_ms;
                    g.offsets.expire(now, retention, |_| since, None)
                }
                (Some(t), GroupState::Stable)
                    if t == "consumer" && g.subscribed_topics.is_some() =>
                {
                    let keep = g.subscribed_topics.clone();
                    g.offsets
                        .expire(now, retention, |o| o.commit_timestamp_ms, keep.as_ref())
                }
                (None, _) => g
                    .offsets
                    .expire(now, retention, |o| o.commit_timestamp_ms, None),
                _ => Vec::new(),
            };
            if !expired.is_empty() {
                tracing::info!(group = %id, expired = expired.len(), "committed offsets expired");
            }
            entries.extend(
                expired
                    .into_iter()
                    .map(|(topic, partition)| LogEntry::Delete {
                        group: id.clone(),
                        topic,
                        partition,
                    }),
            );
        }
        if let Err(e) = self.persist(&entries) {
            // They expire again at the next check after a restart.
            tracing::warn!(error = %e, "cannot record expired offsets");
        }
        let before = self.groups.len();
        self.groups.retain(|_, g| !g.is_disposable());
        if self.groups.len() != before {
            tracing::debug!(
                removed = before - self.groups.len(),
                "forgot empty groups without offsets"
            );
        }
        self.maybe_compact();
    }

    /// Removes `group_id` if nothing is left in it (Kafka moves it to Dead).
    pub(crate) fn drop_if_dead(&mut self, group_id: &str) {
        if self.groups.get(group_id).is_some_and(Group::is_disposable) {
            self.groups.remove(group_id);
            tracing::debug!(
                group = group_id,
                "group has no members and no offsets; removed"
            );
        }
    }
}

fn set(errors: &mut [Vec<ErrorCode>], ti: usize, pi: usize, e: ErrorCode) {
    if let Some(slot) = errors.get_mut(ti).and_then(|v| v.get_mut(pi)) {
        *slot = e;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn off(offset: i64, commit: i64, expire: Option<i64>) -> CommittedOffset {
        CommittedOffset {
            offset,
            leader_epoch: -1,
            metadata: KStr::new(),
            commit_timestamp_ms: commit,
            expire_timestamp_ms: expire,
        }
    }

    #[test]
    fn table_put_get_remove_and_sorted_iteration() {
        let mut t = OffsetTable::default();
        t.put("b".into(), 1, off(1, 0, None));
        t.put("a".into(), 2, off(2, 0, None));
        t.put("a".into(), 0, off(3, 0, None));
        let order: Vec<_> = t
            .iter()
            .map(|(t, p, o)| (t.to_string(), p, o.offset))
            .collect();
        assert_eq!(
            order,
            [("a".into(), 0, 3), ("a".into(), 2, 2), ("b".into(), 1, 1)]
        );
        assert_eq!(t.len(), 3);
        assert!(t.remove("b", 1));
        assert!(!t.remove("b", 1));
        assert_eq!(t.remove_topic("a"), 2);
        assert!(t.is_empty());
    }

    #[test]
    fn expiry_uses_base_time_explicit_expiry_and_kept_topics() {
        let mut t = OffsetTable::default();
        t.put("old".into(), 0, off(1, 100, None));
        t.put("new".into(), 0, off(1, 950, None));
        t.put("explicit".into(), 0, off(1, 990, Some(999)));
        t.put("kept".into(), 0, off(1, 0, None));
        let keep: HashSet<KStr> = ["kept".into()].into();
        let mut gone = t.expire(1000, 500, |o| o.commit_timestamp_ms, Some(&keep));
        gone.sort();
        assert_eq!(gone, [("explicit".into(), 0), ("old".into(), 0)]);
        assert_eq!(t.len(), 2);
    }
}
