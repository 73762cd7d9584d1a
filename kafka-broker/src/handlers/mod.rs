//! One handler per API, each in its own file declaring the versions it serves (`VERSIONS`);
//! [`served`] is the registry ApiVersions is built from, and [`dispatch`] routes a decoded
//! request to its handler.
//!
//! Kafka's rules at the door: an unknown API key or an unserved version closes the connection
//! (after logging); an ApiVersions request at a newer version than served gets an
//! UNSUPPORTED_VERSION answer at v0 listing the served ranges (KIP-511); trailing bytes after a
//! known request are tolerated; acks=0 produce requests get no response.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use kafka_proto::frame::{decode_request, encode_response, peek_request_key};
use kafka_proto::messages::RequestHeader;
use kafka_proto::{ApiKey, ChunkedSink, ErrorCode, RequestBody, ResponseBody, VersionRange};

use crate::cluster::Cluster;
use crate::faults::{Faults, Injected};
use crate::groups::{GroupCoordinator, TopicLookup};

mod alter_configs;
mod api_versions;
mod create_partitions;
mod create_topics;
mod delete_records;
mod delete_topics;
mod describe_cluster;
mod describe_configs;
mod fetch;
mod fetch_session;
mod find_coordinator;
mod group_apis;
mod incremental_alter_configs;
mod init_producer_id;
mod list_offsets;
mod metadata;
mod offset_for_leader_epoch;
mod produce;

/// Shared by every handler.
pub(crate) struct Ctx {
    pub cluster: Arc<Cluster>,
    pub groups: Arc<GroupCoordinator>,
    pub faults: Faults,
    pub sessions: fetch_session::FetchSessions,
    pub node_id: i32,
    pub host: String,
    pub port: i32,
}

impl Ctx {
    pub fn new(cluster: Arc<Cluster>, groups: Arc<GroupCoordinator>, faults: Faults) -> Ctx {
        let advertise = cluster
            .config
            .advertise
            .clone()
            .unwrap_or_else(|| cluster.config.listen.to_string());
        let (host, port) = match advertise.rsplit_once(':') {
            Some((h, p)) => (
                h.trim_start_matches('[').trim_end_matches(']').to_owned(),
                p.parse().unwrap_or(9092),
            ),
            None => (advertise.clone(), 9092),
        };
        Ctx {
            sessions: fetch_session::FetchSessions::new(cluster.config.fetch_session_slots),
            node_id: cluster.config.node_id,
            cluster,
            groups,
            faults,
            host,
            port,
        }
    }

    /// The versions of `api` served now (after any fault-injection cap).
    pub fn served(&self, api: ApiKey) -> Option<VersionRange> {
        let range = served(api)?;
        match self.faults.version_cap(api) {
            Some(cap) if cap < range.min => None,
            Some(cap) => Some(VersionRange::new(range.min, range.max.min(cap))),
            None => Some(range),
        }
    }
}

/// One connection.
#[derive(Debug)]
pub(crate) struct ConnInfo {
    pub id: u64,
    pub peer: SocketAddr,
}

/// One request, as a handler sees it.
pub(crate) struct Req<'a> {
    pub conn: &'a ConnInfo,
    pub header: &'a RequestHeader,
    pub version: i16,
    /// An error fault injection wants in this response.
    pub injected: Option<Injected>,
}

impl Req<'_> {
    pub fn client_id(&self) -> &str {
        self.header.client_id.as_deref().unwrap_or("")
    }
}

/// What the connection does next.
pub(crate) enum Outcome {
    /// Write this response (length prefix added by the writer).
    Respond(Vec<Bytes>),
    /// Nothing to send (acks=0 produce).
    NoResponse,
    /// Close the connection, for this reason.
    Close(String),
}

/// The registry: every served API and version range.
pub(crate) fn served(api: ApiKey) -> Option<VersionRange> {
    Some(match api {
        ApiKey::ApiVersions => api_versions::VERSIONS,
        ApiKey::Metadata => metadata::VERSIONS,
        ApiKey::Produce => produce::VERSIONS,
        ApiKey::Fetch => fetch::VERSIONS,
        ApiKey::ListOffsets => list_offsets::VERSIONS,
        ApiKey::OffsetForLeaderEpoch => offset_for_leader_epoch::VERSIONS,
        ApiKey::CreateTopics => create_topics::VERSIONS,
        ApiKey::DeleteTopics => delete_topics::VERSIONS,
        ApiKey::CreatePartitions => create_partitions::VERSIONS,
        ApiKey::DeleteRecords => delete_records::VERSIONS,
        ApiKey::DescribeConfigs => describe_configs::VERSIONS,
        ApiKey::AlterConfigs => alter_configs::VERSIONS,
        ApiKey::IncrementalAlterConfigs => incremental_alter_configs::VERSIONS,
        ApiKey::DescribeCluster => describe_cluster::VERSIONS,
        ApiKey::FindCoordinator => find_coordinator::VERSIONS,
        ApiKey::InitProducerId => init_producer_id::VERSIONS,
        other => return group_apis::versions(other),
    })
}

/// Every served API in key order.
pub(crate) fn served_list(ctx: &Ctx) -> Vec<(ApiKey, VersionRange)> {
    ApiKey::ALL
        .iter()
        .filter_map(|k| ctx.served(*k).map(|r| (*k, r)))
        .collect()
}

/// Topic lookups for the group coordinator.
pub(crate) struct Topics(pub Arc<Cluster>);

impl TopicLookup for Topics {
    fn partition_exists(&self, topic: &str, partition: i32) -> bool {
        self.0.partition(topic, partition).is_some()
    }
}

fn partitions_of(body: &RequestBody) -> Vec<(&str, i32)> {
    match body {
        RequestBody::Produce(r) => r
            .topic_data
            .iter()
            .flat_map(|t| t.partition_data.iter().map(move |p| (&*t.name, p.index)))
            .collect(),
        RequestBody::Fetch(r) => r
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(move |p| (&*t.topic, p.partition)))
            .collect(),
        RequestBody::ListOffsets(r) => r
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(move |p| (&*t.name, p.partition_index))
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn encode(correlation_id: i32, body: &ResponseBody, version: i16) -> Outcome {
    let mut sink = ChunkedSink::new();
    match encode_response(&mut sink, correlation_id, body, version) {
        Ok(()) => Outcome::Respond(sink.finish()),
        Err(e) => {
            tracing::error!(api = %body.api_key(), version, error = %e, "cannot encode response");
            Outcome::Close(format!(
                "internal error encoding {} v{version}: {e}",
                body.api_key()
            ))
        }
    }
}

/// Decodes, routes and answers one request frame.
pub(crate) async fn dispatch(ctx: &Ctx, conn: &ConnInfo, frame: Bytes) -> Outcome {
    let started = Instant::now();
    let Ok((key, version)) = peek_request_key(&frame) else {
        return Outcome::Close("frame shorter than a request header".into());
    };
    let Some(api) = ApiKey::from_i16(key) else {
        tracing::warn!(conn = conn.id, key, "unknown API key; closing connection");
        return Outcome::Close(format!("unknown API key {key}"));
    };
    let served = ctx.served(api);
    if api == ApiKey::ApiVersions && served.is_some_and(|r| version > r.max) {
        // KIP-511: answer at v0 with the served ranges so the client can retry.
        let correlation_id = frame
            .get(4..8)
            .map_or(0, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let resp = api_versions::unsupported(ctx);
        return encode(correlation_id, &ResponseBody::ApiVersions(resp), 0);
    }
    let Some(_) = served.filter(|r| r.contains(version)) else {
        tracing::warn!(conn = conn.id, %api, version, "unsupported version; closing connection");
        return Outcome::Close(format!("{api} v{version} is not served"));
    };
    let req = match decode_request(&frame) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(conn = conn.id, %api, version, error = %e, "malformed request; closing connection");
            return Outcome::Close(format!("malformed {api} v{version}: {e}"));
        }
    };
    if req.trailing > 0 {
        tracing::debug!(conn = conn.id, %api, version, trailing = req.trailing, "ignoring trailing bytes");
    }
    let plan = ctx.faults.take(api, || partitions_of(&req.body));
    if plan.drop {
        return Outcome::Close("fault injection: dropped".into());
    }
    if let Some(d) = plan.delay {
        tokio::time::sleep(d).await;
    }
    let correlation_id = req.header.correlation_id;
    let r = Req {
        conn,
        header: &req.header,
        version,
        injected: plan.error,
    };
    let body: Option<ResponseBody> = match req.body {
        RequestBody::ApiVersions(b) => Some(api_versions::handle(ctx, &r, b).into()),
        RequestBody::Metadata(b) => Some(metadata::handle(ctx, &r, b).into()),
        RequestBody::Produce(b) => produce::handle(ctx, &r, b).await.map(Into::into),
        RequestBody::Fetch(b) => Some(fetch::handle(ctx, &r, b).await.into()),
        RequestBody::ListOffsets(b) => Some(list_offsets::handle(ctx, &r, b).await.into()),
        RequestBody::OffsetForLeaderEpoch(b) => {
            Some(offset_for_leader_epoch::handle(ctx, &r, b).into())
        }
        RequestBody::CreateTopics(b) => Some(create_topics::handle(ctx, &r, b).await.into()),
        RequestBody::DeleteTopics(b) => Some(delete_topics::handle(ctx, &r, b).await.into()),
        RequestBody::CreatePartitions(b) => {
            Some(create_partitions::handle(ctx, &r, b).await.into())
        }
        RequestBody::DeleteRecords(b) => Some(delete_records::handle(ctx, &r, b).await.into()),
        RequestBody::DescribeConfigs(b) => Some(describe_configs::handle(ctx, &r, b).into()),
        RequestBody::AlterConfigs(b) => Some(alter_configs::handle(ctx, &r, b).into()),
        RequestBody::IncrementalAlterConfigs(b) => {
            Some(incremental_alter_configs::handle(ctx, &r, b).into())
        }
        RequestBody::DescribeCluster(b) => Some(describe_cluster::handle(ctx, &r, b).into()),
        RequestBody::FindCoordinator(b) => Some(find_coordinator::handle(ctx, &r, b).into()),
        RequestBody::InitProducerId(b) => Some(init_producer_id::handle(ctx, &r, b).await.into()),
        other => group_apis::handle(ctx, &r, other).await,
    };
    let Some(body) = body else {
        return Outcome::NoResponse;
    };
    tracing::debug!(
        conn = conn.id,
        %api,
        version,
        correlation_id,
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    encode(correlation_id, &body, version)
}

/// The ApiVersions table of the served APIs.
pub(crate) fn api_version_list(
    ctx: &Ctx,
) -> Vec<kafka_proto::messages::api_versions_response::ApiVersion> {
    served_list(ctx)
        .into_iter()
        .map(
            |(k, r)| kafka_proto::messages::api_versions_response::ApiVersion {
                api_key: k.key(),
                // Like Apache Kafka 4 (KAFKA-18659): advertise Produce from v0 although v0-v2
                // are refused, because librdkafka before 2.10 only compresses with gzip, snappy
                // and lz4 when the broker lists Produce v0 (librdkafka#4956).
                min_version: if k == ApiKey::Produce { 0 } else { r.min },
                max_version: r.max,
                ..Default::default()
            },
        )
        .collect()
}

/// KIP-320's check of a request's current leader epoch against ours: -1 skips it; a newer one
/// than ours is UNKNOWN_LEADER_EPOCH, an older one FENCED_LEADER_EPOCH.
pub(crate) fn leader_epoch_error(current: i32, ours: i32) -> Option<ErrorCode> {
    if current < 0 || current == ours {
        None
    } else if current > ours {
        Some(ErrorCode::UnknownLeaderEpoch)
    } else {
        Some(ErrorCode::FencedLeaderEpoch)
    }
}

/// Error code or the injected one for a partition.
pub(crate) fn injected_for(r: &Req<'_>, topic: &str, partition: i32) -> Option<ErrorCode> {
    r.injected
        .as_ref()
        .filter(|i| i.hits(topic, partition))
        .map(|i| i.code)
}
