//! ListOffsets (key 2): earliest (-2), latest (-1), max timestamp (-3, KIP-734), earliest local
//! (-4, the same as earliest here), latest tiered (-5, none here) and by timestamp (the first
//! record at or after it). Without transactions the last stable offset is the high watermark, so
//! read_committed and read_uncommitted agree.

use std::sync::atomic::Ordering;

use kafka_proto::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_proto::messages::{ListOffsetsRequest, ListOffsetsResponse};
use kafka_proto::{ErrorCode, VersionRange};

use super::{injected_for, leader_epoch_error, Ctx, Req};

/// v0 (old-style offset lists) was removed in Kafka 4.
pub(crate) const VERSIONS: VersionRange = VersionRange::new(1, 10);

pub(crate) async fn handle(ctx: &Ctx, r: &Req<'_>, req: ListOffsetsRequest) -> ListOffsetsResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let topic = ctx.cluster.topic(&t.name);
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                let mut out = ListOffsetsPartitionResponse {
                    partition_index: p.partition_index,
                    timestamp: -1,
                    offset: -1,
                    leader_epoch: -1,
                    ..Default::default()
                };
                let code = (|| {
                    if let Some(code) = injected_for(r, &t.name, p.partition_index) {
                        return Err(code);
                    }
                    if ctx.faults.leadership_paused(&t.name, p.partition_index) {
                        return Err(ErrorCode::NotLeaderOrFollower);
                    }
                    let part = topic
                        .as_ref()
                        .and_then(|t| t.partition(p.partition_index))
                        .ok_or(ErrorCode::UnknownTopicOrPartition)?;
                    let ours = part.leader_epoch.load(Ordering::Relaxed);
                    if r.version >= 4 {
                        if let Some(code) = leader_epoch_error(p.current_leader_epoch, ours) {
                            return Err(code);
                        }
                    }
                    let log = part.log();
                    match p.timestamp {
                        -1 => {
                            out.offset = log.log_end_offset();
                            out.leader_epoch = ours;
                        }
                        -2 | -4 => {
                            out.offset = log.log_start_offset();
                            out.leader_epoch = ours;
                        }
                        -3 => {
                            if let Some((offset, ts, epoch)) =
                                log.max_timestamp().map_err(|e| e.error_code())?
                            {
                                out.offset = offset;
                                out.timestamp = ts;
                                out.leader_epoch = epoch;
                            }
                        }
                        -5 => {}
                        ts if ts >= 0 => {
                            if let Some((offset, ts, epoch)) =
                                log.offset_for_timestamp(ts).map_err(|e| e.error_code())?
                            {
                                out.offset = offset;
                                out.timestamp = ts;
                                out.leader_epoch = epoch;
                            }
                        }
                        _ => return Err(ErrorCode::InvalidRequest),
                    }
                    Ok(())
                })();
                if let Err(code) = code {
                    out.error_code = code.code();
                }
                if r.version < 4 {
                    // The field arrived in v4.
                    out.leader_epoch = -1;
                }
                out
            })
            .collect();
        topics.push(ListOffsetsTopicResponse {
            name: t.name,
            partitions,
            ..Default::default()
        });
    }
    ListOffsetsResponse {
        topics,
        ..Default::default()
    }
}
