//! Partition offsets and records: ListOffsets and DeleteRecords, one request per leader.

use std::collections::HashMap;
use std::time::Instant;

use kafka_proto::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsRequest, DeleteRecordsTopic,
};
use kafka_proto::messages::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use kafka_proto::{ApiKey, VersionRange};

use super::{ctx, fan_out, timeout_ms, Admin, Outcome, TopicPartition};
use crate::{Client, Error, Node, Purpose, Result};

/// Which offset [`Admin::list_offsets`] looks up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The log end offset (the high watermark, or the last stable offset with
    /// [`IsolationLevel::ReadCommitted`]).
    Latest,
    /// The offset of the record with the highest timestamp (KIP-734, ListOffsets v7+).
    MaxTimestamp,
    /// The first offset whose timestamp is at or after this many milliseconds since the epoch.
    Timestamp(i64),
}

impl OffsetSpec {
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::MaxTimestamp => -3,
            OffsetSpec::Timestamp(t) => t,
        }
    }

    fn min_version(self) -> i16 {
        match self {
            OffsetSpec::MaxTimestamp => 7,
            _ => 0,
        }
    }
}

/// Which records count for [`OffsetSpec::Latest`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum IsolationLevel {
    /// Every record: the high watermark.
    #[default]
    ReadUncommitted,
    /// Only committed transactional records: the last stable offset (ListOffsets v2+).
    ReadCommitted,
}

impl IsolationLevel {
    /// The wire value (0 read_uncommitted, 1 read_committed).
    pub fn as_i8(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }
}

/// One answer of [`Admin::list_offsets`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListedOffset {
    /// The offset; `-1` when a timestamp lookup found no record at or after the timestamp.
    pub offset: i64,
    /// The record's timestamp for timestamp lookups, `-1` otherwise.
    pub timestamp: i64,
    /// The leader epoch of the record (ListOffsets v4+), if known.
    pub leader_epoch: Option<i32>,
}

impl Admin {
    /// Looks up offsets of many partitions at once: one ListOffsets request per partition
    /// leader, sent concurrently. Partitions whose leader moved are retried (after a metadata
    /// refresh) until the deadline.
    ///
    /// # Errors
    /// Outer: only when metadata cannot be fetched at all. Per partition:
    /// UNKNOWN_TOPIC_OR_PARTITION for a topic or partition that does not exist; the leader's
    /// error; [`Error::UnsupportedVersion`] when a spec needs a newer ListOffsets than the
    /// leader speaks (`MaxTimestamp` v7, `ReadCommitted` v2); or [`Error::Timeout`] carrying
    /// the last retriable error.
    ///
    /// # Cancel safety
    /// Cancel-safe (read-only; requests in flight are abandoned).
    pub async fn list_offsets(
        &self,
        specs: &[(&str, i32, OffsetSpec)],
        isolation: IsolationLevel,
    ) -> Result<HashMap<TopicPartition, Result<ListedOffset>>> {
        let (want, order) = first_per_partition(specs);
        if order.is_empty() {
            return Ok(HashMap::new());
        }
        let deadline = self.deadline();
        let want = &want;
        self.run_items(
            ApiKey::ListOffsets,
            deadline,
            order,
            |pending, refresh| async move {
                let (groups, mut out) = self
                    .by_leader(ApiKey::ListOffsets, pending, refresh)
                    .await?;
                let jobs = groups
                    .into_iter()
                    .map(|(leader, tps)| {
                        let asks: Vec<(TopicPartition, OffsetSpec)> = tps
                            .iter()
                            .filter_map(|tp| Some((tp.clone(), *want.get(tp)?)))
                            .collect();
                        (
                            tps,
                            list_offsets_at(
                                self.client.clone(),
                                Node::Id(leader),
                                asks,
                                isolation,
                                deadline,
                            ),
                        )
                    })
                    .collect();
                out.extend(fan_out(jobs, &[]).await);
                Ok(out)
            },
        )
        .await
    }

    /// Deletes records before the given offsets (moves each partition's log start offset up;
    /// `-1` means the high watermark), one DeleteRecords request per leader. Returns each
    /// partition's new low watermark.
    ///
    /// # Errors
    /// Outer: only for metadata that cannot be fetched at all. Per partition:
    /// OFFSET_OUT_OF_RANGE (beyond the high watermark), UNKNOWN_TOPIC_OR_PARTITION,
    /// POLICY_VIOLATION, the leader's other errors, or [`Error::Timeout`].
    ///
    /// # Cancel safety
    /// Idempotent; a dropped call may have deleted records in some partitions.
    pub async fn delete_records(
        &self,
        before: &[(&str, i32, i64)],
    ) -> Result<HashMap<TopicPartition, Result<i64>>> {
        let (want, order) = first_per_partition(before);
        if order.is_empty() {
            return Ok(HashMap::new());
        }
        let deadline = self.deadline();
        let want = &want;
        self.run_items(
            ApiKey::DeleteRecords,
            deadline,
            order,
            |pending, refresh| async move {
                let (groups, mut out) = self
                    .by_leader(ApiKey::DeleteRecords, pending, refresh)
                    .await?;
                let jobs = groups
                    .into_iter()
                    .map(|(leader, tps)| {
                        let asks: Vec<(TopicPartition, i64)> = tps
                            .iter()
                            .filter_map(|tp| Some((tp.clone(), *want.get(tp)?)))
                            .collect();
                        (
                            tps,
                            delete_records_at(
                                self.client.clone(),
                                Node::Id(leader),
                                asks,
                                deadline,
                            ),
                        )
                    })
                    .collect();
                out.extend(fan_out(jobs, &[]).await);
                Ok(out)
            },
        )
        .await
    }
}

/// The value asked for each partition (a repeated partition keeps its first value) and the
/// partitions in the order first asked.
fn first_per_partition<V: Copy>(
    items: &[(&str, i32, V)],
) -> (HashMap<TopicPartition, V>, Vec<TopicPartition>) {
    let mut want = HashMap::with_capacity(items.len());
    let mut order = Vec::with_capacity(items.len());
    for (t, p, v) in items {
        let tp = (t.to_string(), *p);
        if !want.contains_key(&tp) {
            want.insert(tp.clone(), *v);
            order.push(tp);
        }
    }
    (want, order)
}

/// `(topic, [(partition, value)])` in first-seen topic order.
fn by_topic<V: Copy>(items: &[(TopicPartition, V)]) -> Vec<(&str, Vec<(i32, V)>)> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut out: Vec<(&str, Vec<(i32, V)>)> = Vec::new();
    for ((t, p), v) in items {
        let i = *index.entry(t.as_str()).or_insert_with(|| {
            out.push((t.as_str(), Vec::new()));
            out.len() - 1
        });
        if let Some((_, ps)) = out.get_mut(i) {
            ps.push((*p, *v));
        }
    }
    out
}

async fn list_offsets_at(
    client: Client,
    node: Node,
    asks: Vec<(TopicPartition, OffsetSpec)>,
    isolation: IsolationLevel,
    deadline: Instant,
) -> Result<Vec<(TopicPartition, Outcome<ListedOffset>)>> {
    let mut min = asks.iter().map(|(_, s)| s.min_version()).max().unwrap_or(0);
    if isolation == IsolationLevel::ReadCommitted {
        min = min.max(2);
    }
    let limit = (min > 0).then_some(VersionRange::new(min, i16::MAX));
    let (v, resp) = client
        .send_built(node, Purpose::Admin, limit, |_| ListOffsetsRequest {
            replica_id: -1,
            isolation_level: isolation.as_i8(),
            topics: by_topic(&asks)
                .into_iter()
                .map(|(t, ps)| ListOffsetsTopic {
                    name: t.into(),
                    partitions: ps
                        .into_iter()
                        .map(|(p, s)| ListOffsetsPartition {
                            partition_index: p,
                            current_leader_epoch: -1,
                            timestamp: s.wire(),
                            max_num_offsets: 1,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            timeout_ms: timeout_ms(deadline),
            ..Default::default()
        })
        .await?;
    let mut out = Vec::with_capacity(asks.len());
    for t in &resp.topics {
        for p in &t.partitions {
            let tp = (t.name.to_string(), p.partition_index);
            let err = Error::from_code(p.error_code, None, || {
                ctx(ApiKey::ListOffsets, v, node).with_topic(&tp.0, Some(tp.1))
            });
            let o = match err {
                Some(e) => Outcome::from_leader_error(e),
                None if v == 0 => Outcome::Done(Ok(ListedOffset {
                    offset: p.old_style_offsets.first().copied().unwrap_or(-1),
                    timestamp: -1,
                    leader_epoch: None,
                })),
                None => Outcome::Done(Ok(ListedOffset {
                    offset: p.offset,
                    timestamp: p.timestamp,
                    leader_epoch: (v >= 4 && p.leader_epoch >= 0).then_some(p.leader_epoch),
                })),
            };
            out.push((tp, o));
        }
    }
    Ok(out)
}

async fn delete_records_at(
    client: Client,
    node: Node,
    asks: Vec<(TopicPartition, i64)>,
    deadline: Instant,
) -> Result<Vec<(TopicPartition, Outcome<i64>)>> {
    let (v, resp) = client
        .send_built(node, Purpose::Admin, None, |_| DeleteRecordsRequest {
            topics: by_topic(&asks)
                .into_iter()
                .map(|(t, ps)| DeleteRecordsTopic {
                    name: t.into(),
                    partitions: ps
                        .into_iter()
                        .map(|(p, o)| DeleteRecordsPartition {
                            partition_index: p,
                            offset: o,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            timeout_ms: timeout_ms(deadline),
            ..Default::default()
        })
        .await?;
    let mut out = Vec::with_capacity(asks.len());
    for t in &resp.topics {
        for p in &t.partitions {
            let tp = (t.name.to_string(), p.partition_index);
            let err = Error::from_code(p.error_code, None, || {
                ctx(ApiKey::DeleteRecords, v, node).with_topic(&tp.0, Some(tp.1))
            });
            let o = match err {
                Some(e) => Outcome::from_leader_error(e),
                None => Outcome::Done(Ok(p.low_watermark)),
            };
            out.push((tp, o));
        }
    }
    Ok(out)
}
