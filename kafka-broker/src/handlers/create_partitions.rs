//! CreatePartitions (key 37): grows a topic's partition count; validate-only checks.

use kafka_proto::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_proto::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_proto::{ErrorCode, KStr, VersionRange};

use super::{Ctx, Req};

pub(crate) const VERSIONS: VersionRange = VersionRange::new(0, 3);

pub(crate) async fn handle(
    ctx: &Ctx,
    r: &Req<'_>,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let results = req
        .topics
        .into_iter()
        .map(|t| {
            let outcome = (|| {
                if let Some(i) = &r.injected {
                    return Err((i.code, "injected fault".to_string()));
                }
                if let Some(assign) = &t.assignments {
                    if assign.iter().any(|a| a.broker_ids[..] != [ctx.node_id]) {
                        return Err((
                            ErrorCode::InvalidReplicaAssignment,
                            format!("Only broker {} exists", ctx.node_id),
                        ));
                    }
                }
                ctx.cluster
                    .add_partitions(&t.name, t.count, req.validate_only)
            })();
            let (code, msg) = match outcome {
                Ok(()) => (ErrorCode::None, None),
                Err((c, m)) => (c, Some(KStr::from(m))),
            };
            CreatePartitionsTopicResult {
                name: t.name,
                error_code: code.code(),
                error_message: msg,
                ..Default::default()
            }
        })
        .collect();
    CreatePartitionsResponse {
        results,
        ..Default::default()
    }
}
