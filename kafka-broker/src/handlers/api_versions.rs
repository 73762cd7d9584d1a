//! ApiVersions (key 18): the served API ranges, built from the handler registry (KIP-511 client
//! software name/version accepted and logged).

use kafka_proto::messages::{ApiVersionsRequest, ApiVersionsResponse};
use kafka_proto::{ErrorCode, VersionRange};

use super::{api_version_list, Ctx, Req};

pub(crate) const VERSIONS: VersionRange = VersionRange::new(0, 4);

pub(crate) fn handle(ctx: &Ctx, r: &Req<'_>, req: ApiVersionsRequest) -> ApiVersionsResponse {
    if r.version >= 3 {
        tracing::debug!(
            conn = r.conn.id,
            software = %req.client_software_name,
            software_version = %req.client_software_version,
            "client"
        );
        let valid = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
                && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        };
        if !valid(&req.client_software_name) || !valid(&req.client_software_version) {
            return ApiVersionsResponse {
                error_code: ErrorCode::InvalidRequest.code(),
                api_keys: api_version_list(ctx),
                ..Default::default()
            };
        }
    }
    ApiVersionsResponse {
        error_code: r.injected.as_ref().map_or(0, |i| i.code.code()),
        api_keys: api_version_list(ctx),
        ..Default::default()
    }
}

/// The v0 answer to an ApiVersions request at a version newer than served (KIP-511).
pub(crate) fn unsupported(ctx: &Ctx) -> ApiVersionsResponse {
    ApiVersionsResponse {
        error_code: ErrorCode::UnsupportedVersion.code(),
        api_keys: api_version_list(ctx),
        ..Default::default()
    }
}
