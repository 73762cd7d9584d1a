//! DescribeCluster (key 60): the one broker, which is also the controller.

use kafka_proto::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_proto::messages::{DescribeClusterRequest, DescribeClusterResponse};
use kafka_proto::{ErrorCode, KStr, VersionRange};

use super::{Ctx, Req};

pub(crate) const VERSIONS: VersionRange = VersionRange::new(0, 1);

pub(crate) fn handle(
    ctx: &Ctx,
    r: &Req<'_>,
    req: DescribeClusterRequest,
) -> DescribeClusterResponse {
    // Endpoint type 1 = brokers, 2 = controllers (v1); both are this node.
    if r.version >= 1 && !(1..=2).contains(&req.endpoint_type) {
        return DescribeClusterResponse {
            error_code: ErrorCode::UnsupportedEndpointType.code(),
            endpoint_type: req.endpoint_type,
            ..Default::default()
        };
    }
    DescribeClusterResponse {
        error_code: r.injected.as_ref().map_or(0, |i| i.code.code()),
        endpoint_type: if r.version >= 1 { req.endpoint_type } else { 1 },
        cluster_id: KStr::from(ctx.cluster.cluster_id.as_str()),
        controller_id: ctx.node_id,
        brokers: vec![DescribeClusterBroker {
            broker_id: ctx.node_id,
            host: KStr::from(ctx.host.as_str()),
            port: ctx.port,
            rack: None,
            ..Default::default()
        }],
        cluster_authorized_operations: if req.include_cluster_authorized_operations {
            0b111_1111_1111_1000
        } else {
            i32::MIN
        },
        ..Default::default()
    }
}
