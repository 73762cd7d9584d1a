//! Produce (key 0): appends each partition's record batches to its log. acks 0 gets no answer,
//! acks 1 and -1 are the same here (one replica). Batches are validated (CRC, magic 2, size) and
//! stored as received with offsets assigned; idempotent producers' duplicates are acknowledged
//! with the original offsets (see `storage`). Produce to an unknown topic does not create it.

use kafka_proto::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_proto::messages::{ProduceRequest, ProduceResponse};
use kafka_proto::{ErrorCode, KStr, VersionRange};

use super::{injected_for, Ctx, Req};
use crate::cluster::now_ms;
use crate::cluster::Partition;
use crate::storage::StorageError;

/// `--fsync always`: returns once everything up to `end` is on disk. Requests that arrive while
/// a sync runs queue on the partition's gate; the next sync covers all of them (group commit).
async fn group_commit(partition: &std::sync::Arc<Partition>, end: i64) -> Result<(), StorageError> {
    let mut synced = partition.synced_to.lock().await;
    if *synced >= end {
        return Ok(());
    }
    let p = partition.clone();
    let upto = tokio::task::spawn_blocking(move || {
        let mut log = p.log();
        let upto = log.log_end_offset();
        log.flush().map(|()| upto)
    })
    .await
    .unwrap_or_else(|e| Err(StorageError::Io(std::io::Error::other(e.to_string()))))?;
    *synced = upto;
    Ok(())
}

/// v0-v2 carried the legacy message formats, which Kafka 4 no longer accepts.
pub(crate) const VERSIONS: VersionRange = VersionRange::new(3, 11);

fn failed(index: i32, code: ErrorCode, message: Option<String>) -> PartitionProduceResponse {
    PartitionProduceResponse {
        index,
        error_code: code.code(),
        base_offset: -1,
        log_append_time_ms: -1,
        log_start_offset: -1,
        error_message: message.map(KStr::from),
        ..Default::default()
    }
}

pub(crate) async fn handle(ctx: &Ctx, r: &Req<'_>, req: ProduceRequest) -> Option<ProduceResponse> {
    let acks = req.acks;
    let bad_acks = !matches!(acks, -1..=1);
    let mut responses = Vec::with_capacity(req.topic_data.len());
    let mut appended = false;
    for topic in req.topic_data {
        let t = ctx.cluster.topic(&topic.name);
        let mut parts = Vec::with_capacity(topic.partition_data.len());
        for p in topic.partition_data {
            if bad_acks {
                parts.push(failed(p.index, ErrorCode::InvalidRequiredAcks, None));
                continue;
            }
            if let Some(code) = injected_for(r, &topic.name, p.index) {
                parts.push(failed(p.index, code, Some("injected fault".into())));
                continue;
            }
            if ctx.faults.leadership_paused(&topic.name, p.index) {
                parts.push(failed(p.index, ErrorCode::NotLeaderOrFollower, None));
                continue;
            }
            let Some(partition) = t.as_ref().and_then(|t| t.partition(p.index)) else {
                parts.push(failed(p.index, ErrorCode::UnknownTopicOrPartition, None));
                continue;
            };
            let Some(records) = p.records else {
                parts.push(failed(
                    p.index,
                    ErrorCode::InvalidRecord,
                    Some("null records".into()),
                ));
                continue;
            };
            let epoch = partition
                .leader_epoch
                .load(std::sync::atomic::Ordering::Relaxed);
            let mut result = partition.log().append(records, epoch, now_ms());
            if let (Ok(a), true, false) = (&result, ctx.cluster.sync_before_ack(), acks == 0) {
                if let Err(e) = group_commit(&partition, a.last_offset + 1).await {
                    result = Err(e);
                }
            }
            match result {
                Ok(a) => {
                    appended |= !a.duplicate;
                    parts.push(PartitionProduceResponse {
                        index: p.index,
                        error_code: 0,
                        base_offset: a.base_offset,
                        log_append_time_ms: a.log_append_time,
                        log_start_offset: a.log_start_offset,
                        ..Default::default()
                    });
                }
                Err(e) => {
                    tracing::debug!(topic = %topic.name, partition = p.index, error = %e, "produce rejected");
                    parts.push(failed(p.index, e.error_code(), Some(e.to_string())));
                }
            }
        }
        responses.push(TopicProduceResponse {
            name: topic.name,
            partition_responses: parts,
            ..Default::default()
        });
    }
    if appended {
        ctx.cluster.appends.send_modify(|v| *v = v.wrapping_add(1));
    }
    if acks == 0 {
        return None;
    }
    Some(ProduceResponse {
        responses,
        ..Default::default()
    })
}
