//! DescribeConfigs (key 32): every topic config with its value and source (topic override =
//! DYNAMIC_TOPIC_CONFIG, else DEFAULT_CONFIG), types (v3+) and synonyms (v1+ on request); the
//! broker resource lists the broker settings that shape topics, read-only.

use std::collections::BTreeMap;

use kafka_proto::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_proto::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_proto::{ErrorCode, KStr, VersionRange};

use super::{Ctx, Req};
use crate::topic_config::{self, ConfigType};

pub(crate) const VERSIONS: VersionRange = VersionRange::new(1, 4);

pub(crate) const RESOURCE_TOPIC: i8 = 2;
pub(crate) const RESOURCE_BROKER: i8 = 4;
const SOURCE_DYNAMIC_TOPIC: i8 = 1;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;

/// The broker settings reported for the broker resource.
fn broker_configs(ctx: &Ctx) -> Vec<(&'static str, String, ConfigType)> {
    let c = &ctx.cluster.config;
    vec![
        (
            "auto.create.topics.enable",
            c.auto_create_topics.to_string(),
            ConfigType::Boolean,
        ),
        ("broker.id", c.node_id.to_string(), ConfigType::Int),
        (
            "log.retention.bytes",
            c.log.retention_bytes.to_string(),
            ConfigType::Long,
        ),
        (
            "log.retention.ms",
            c.log.retention_ms.to_string(),
            ConfigType::Long,
        ),
        (
            "log.roll.ms",
            c.log.segment_ms.to_string(),
            ConfigType::Long,
        ),
        (
            "log.segment.bytes",
            c.log.segment_bytes.to_string(),
            ConfigType::Int,
        ),
        (
            "message.max.bytes",
            c.log.max_message_bytes.to_string(),
            ConfigType::Int,
        ),
        (
            "num.partitions",
            c.default_partitions.to_string(),
            ConfigType::Int,
        ),
        (
            "socket.request.max.bytes",
            c.max_request_bytes.to_string(),
            ConfigType::Int,
        ),
    ]
}

fn entry(
    name: &str,
    value: String,
    source: i8,
    kind: ConfigType,
    r: &Req<'_>,
    synonyms: bool,
    read_only: bool,
) -> DescribeConfigsResourceResult {
    DescribeConfigsResourceResult {
        name: KStr::from(name),
        value: Some(KStr::from(value.clone())),
        read_only,
        is_default: r.version == 0 && source == SOURCE_DEFAULT,
        config_source: source,
        is_sensitive: false,
        synonyms: if synonyms && r.version >= 1 {
            vec![DescribeConfigsSynonym {
                name: KStr::from(name),
                value: Some(KStr::from(value)),
                source,
                ..Default::default()
            }]
        } else {
            Vec::new()
        },
        config_type: if r.version >= 3 { kind as i8 } else { 0 },
        documentation: None,
        ..Default::default()
    }
}

pub(crate) fn topic_entries(
    ctx: &Ctx,
    r: &Req<'_>,
    overrides: &BTreeMap<String, String>,
    keys: Option<&[KStr]>,
    synonyms: bool,
) -> Vec<DescribeConfigsResourceResult> {
    let log = topic_config::log_config(&ctx.cluster.config.log, overrides);
    topic_config::TOPIC_CONFIGS
        .iter()
        .filter(|d| keys.is_none_or(|k| k.iter().any(|k| &**k == d.name)))
        .map(|d| match overrides.get(d.name) {
            Some(v) => entry(
                d.name,
                v.clone(),
                SOURCE_DYNAMIC_TOPIC,
                d.kind,
                r,
                synonyms,
                false,
            ),
            None => entry(
                d.name,
                topic_config::default_value(d.name, &log),
                SOURCE_DEFAULT,
                d.kind,
                r,
                synonyms,
                false,
            ),
        })
        .collect()
}

pub(crate) fn handle(
    ctx: &Ctx,
    r: &Req<'_>,
    req: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let results = req
        .resources
        .into_iter()
        .map(|res| {
            let mut out = DescribeConfigsResult {
                resource_type: res.resource_type,
                resource_name: res.resource_name.clone(),
                ..Default::default()
            };
            let keys = res.configuration_keys.as_deref();
            match res.resource_type {
                _ if r.injected.is_some() => {
                    out.error_code = r.injected.as_ref().map_or(0, |i| i.code.code());
                }
                RESOURCE_TOPIC => match ctx.cluster.topic(&res.resource_name) {
                    Some(t) => {
                        out.configs =
                            topic_entries(ctx, r, &t.configs(), keys, req.include_synonyms)
                    }
                    None => {
                        out.error_code = ErrorCode::UnknownTopicOrPartition.code();
                        out.error_message = Some(KStr::from(format!(
                            "Topic '{}' does not exist.",
                            res.resource_name
                        )));
                    }
                },
                RESOURCE_BROKER
                    if res.resource_name.is_empty()
                        || *res.resource_name == *ctx.node_id.to_string() =>
                {
                    out.configs = broker_configs(ctx)
                        .into_iter()
                        .filter(|(n, _, _)| keys.is_none_or(|k| k.iter().any(|k| &**k == *n)))
                        .map(|(n, v, kind)| {
                            entry(
                                n,
                                v,
                                SOURCE_STATIC_BROKER,
                                kind,
                                r,
                                req.include_synonyms,
                                true,
                            )
                        })
                        .collect();
                }
                RESOURCE_BROKER => {
                    out.error_code = ErrorCode::InvalidRequest.code();
                    out.error_message = Some(KStr::from(format!(
                        "Unexpected broker id {}",
                        res.resource_name
                    )));
                }
                other => {
                    out.error_code = ErrorCode::InvalidRequest.code();
                    out.error_message =
                        Some(KStr::from(format!("Unsupported resource type {other}")));
                }
            }
            out
        })
        .collect();
    DescribeConfigsResponse {
        results,
        ..Default::default()
    }
}
