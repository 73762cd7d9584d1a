//! DeleteRecords (key 21): moves a partition's log start offset forward (-1 = the high
//! watermark); whole segments below it are deleted.

use kafka_proto::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_proto::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use kafka_proto::{ErrorCode, VersionRange};

use super::{injected_for, Ctx, Req};

pub(crate) const VERSIONS: VersionRange = VersionRange::new(0, 2);

pub(crate) async fn handle(
    ctx: &Ctx,
    r: &Req<'_>,
    req: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let mut topics = Vec::new();
    for t in req.topics {
        let mut partitions = Vec::new();
        for p in t.partitions {
            let mut out = DeleteRecordsPartitionResult {
                partition_index: p.partition_index,
                low_watermark: -1,
                ..Default::default()
            };
            let result = if let Some(code) = injected_for(r, &t.name, p.partition_index) {
                Err(code)
            } else if let Some(part) = ctx.cluster.partition(&t.name, p.partition_index) {
                let offset = p.offset;
                tokio::task::spawn_blocking(move || {
                    part.log()
                        .delete_records_before(offset)
                        .map_err(|e| e.error_code())
                })
                .await
                .unwrap_or(Err(ErrorCode::UnknownServerError))
            } else {
                Err(ErrorCode::UnknownTopicOrPartition)
            };
            match result {
                Ok(low) => out.low_watermark = low,
                Err(code) => out.error_code = code.code(),
            }
            partitions.push(out);
        }
        topics.push(DeleteRecordsTopicResult {
            name: t.name,
            partitions,
            ..Default::default()
        });
    }
    DeleteRecordsResponse {
        topics,
        ..Default::default()
    }
}
