//! FindCoordinator (key 10): this broker coordinates every group and transactional id; v4+
//! answers a batch of keys.

use kafka_proto::messages::find_coordinator_response::Coordinator;
use kafka_proto::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_proto::{ErrorCode, KStr, VersionRange};

use super::{Ctx, Req};

pub(crate) const VERSIONS: VersionRange = VersionRange::new(0, 6);

pub(crate) fn handle(
    ctx: &Ctx,
    r: &Req<'_>,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let error = r.injected.as_ref().map_or(0, |i| i.code.code());
    // Key type 0 = group, 1 = transaction, 2 = share group (v6).
    let check = |key_type: i8, key: &str| -> i16 {
        if error != 0 {
            error
        } else if !(0..=2).contains(&key_type) {
            ErrorCode::InvalidRequest.code()
        } else if key.is_empty() && key_type == 0 {
            ErrorCode::InvalidGroupId.code()
        } else {
            0
        }
    };
    let host = KStr::from(ctx.host.as_str());
    if r.version >= 4 {
        return FindCoordinatorResponse {
            coordinators: req
                .coordinator_keys
                .into_iter()
                .map(|key| {
                    let code = check(req.key_type, &key);
                    Coordinator {
                        key,
                        node_id: if code == 0 { ctx.node_id } else { -1 },
                        host: if code == 0 {
                            host.clone()
                        } else {
                            KStr::from_static("")
                        },
                        port: if code == 0 { ctx.port } else { -1 },
                        error_code: code,
                        error_message: None,
                        ..Default::default()
                    }
                })
                .collect(),
            ..Default::default()
        };
    }
    let code = check(req.key_type, &req.key);
    FindCoordinatorResponse {
        error_code: code,
        error_message: None,
        node_id: if code == 0 { ctx.node_id } else { -1 },
        host: if code == 0 {
            host
        } else {
            KStr::from_static("")
        },
        port: if code == 0 { ctx.port } else { -1 },
        ..Default::default()
    }
}
