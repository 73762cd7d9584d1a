//! InitProducerId (key 22): allocates a producer id and epoch for idempotent producers. With an
//! existing id and epoch (KIP-360, v3+) the epoch is bumped instead, so a producer can recover
//! from a fatal sequence error without losing its id; at the epoch limit a new id is given.
//! Transactional ids are not served (the transaction APIs are not advertised).

use kafka_proto::messages::{InitProducerIdRequest, InitProducerIdResponse};
use kafka_proto::{ErrorCode, VersionRange};

use super::{Ctx, Req};

pub(crate) const VERSIONS: VersionRange = VersionRange::new(0, 5);

pub(crate) async fn handle(
    ctx: &Ctx,
    r: &Req<'_>,
    req: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let fail = |code: ErrorCode| InitProducerIdResponse {
        error_code: code.code(),
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    if let Some(i) = &r.injected {
        return fail(i.code);
    }
    if req
        .transactional_id
        .as_deref()
        .is_some_and(|t| !t.is_empty())
    {
        return fail(ErrorCode::TransactionalIdAuthorizationFailed);
    }
    if req.producer_id >= 0 && req.producer_epoch >= 0 && req.producer_epoch < i16::MAX - 1 {
        return InitProducerIdResponse {
            producer_id: req.producer_id,
            producer_epoch: req.producer_epoch + 1,
            ..Default::default()
        };
    }
    if (req.producer_id >= 0) != (req.producer_epoch >= 0) {
        return fail(ErrorCode::InvalidRequest);
    }
    match ctx.cluster.allocate_producer_id() {
        Ok(id) => InitProducerIdResponse {
            producer_id: id,
            producer_epoch: 0,
            ..Default::default()
        },
        Err(e) => {
            tracing::error!(error = %e, "allocating a producer id");
            fail(ErrorCode::KafkaStorageError)
        }
    }
}
