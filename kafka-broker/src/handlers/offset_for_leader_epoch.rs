//! OffsetForLeaderEpoch (key 23): the end offset of a leader epoch, from the log's epoch cache,
//! so consumers can detect log truncation (KIP-320).

use std::sync::atomic::Ordering;

use kafka_proto::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_proto::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};
use kafka_proto::{ErrorCode, VersionRange};

use super::{injected_for, leader_epoch_error, Ctx, Req};

pub(crate) const VERSIONS: VersionRange = VersionRange::new(0, 4);

pub(crate) fn handle(
    ctx: &Ctx,
    r: &Req<'_>,
    req: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut out = EpochEndOffset {
                        partition: p.partition,
                        leader_epoch: -1,
                        end_offset: -1,
                        ..Default::default()
                    };
                    let result = (|| {
                        if let Some(code) = injected_for(r, &t.topic, p.partition) {
                            return Err(code);
                        }
                        if ctx.faults.leadership_paused(&t.topic, p.partition) {
                            return Err(ErrorCode::NotLeaderOrFollower);
                        }
                        let part = ctx
                            .cluster
                            .partition(&t.topic, p.partition)
                            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
                        let ours = part.leader_epoch.load(Ordering::Relaxed);
                        if r.version >= 2 {
                            if let Some(code) = leader_epoch_error(p.current_leader_epoch, ours) {
                                return Err(code);
                            }
                        }
                        if let Some((epoch, end)) = part.log().end_offset_for_epoch(p.leader_epoch)
                        {
                            out.leader_epoch = epoch;
                            out.end_offset = end;
                        }
                        Ok(())
                    })();
                    if let Err(code) = result {
                        out.error_code = code.code();
                    }
                    out
                })
                .collect();
            OffsetForLeaderTopicResult {
                topic: t.topic,
                partitions,
                ..Default::default()
            }
        })
        .collect();
    OffsetForLeaderEpochResponse {
        topics,
        ..Default::default()
    }
}
