//! AlterConfigs (key 33): replaces a topic's whole set of config overrides (the legacy,
//! non-incremental semantics). Broker configs are read-only here.

use std::collections::BTreeMap;

use kafka_proto::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_proto::messages::{AlterConfigsRequest, AlterConfigsResponse};
use kafka_proto::{ErrorCode, KStr, VersionRange};

use super::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use super::{Ctx, Req};
use crate::topic_config;

pub(crate) const VERSIONS: VersionRange = VersionRange::new(0, 2);

/// Validates and applies a new override set for `topic`.
pub(crate) fn apply(
    ctx: &Ctx,
    topic: &str,
    configs: BTreeMap<String, String>,
    validate_only: bool,
) -> Result<(), (ErrorCode, String)> {
    let t = ctx.cluster.topic(topic).ok_or((
        ErrorCode::UnknownTopicOrPartition,
        format!("Topic '{topic}' does not exist."),
    ))?;
    for (k, v) in &configs {
        topic_config::validate(k, v).map_err(|m| (ErrorCode::InvalidConfig, m))?;
    }
    if validate_only {
        return Ok(());
    }
    ctx.cluster
        .set_topic_configs(&t, configs)
        .map_err(|e| (ErrorCode::KafkaStorageError, e.to_string()))
}

pub(crate) fn handle(ctx: &Ctx, r: &Req<'_>, req: AlterConfigsRequest) -> AlterConfigsResponse {
    let responses = req
        .resources
        .into_iter()
        .map(|res| {
            let outcome = match res.resource_type {
                _ if r.injected.is_some() => Err((
                    r.injected
                        .as_ref()
                        .map_or(ErrorCode::UnknownServerError, |i| i.code),
                    "injected fault".into(),
                )),
                RESOURCE_TOPIC => {
                    let mut configs = BTreeMap::new();
                    let mut bad = None;
                    for c in &res.configs {
                        match &c.value {
                            Some(v) => {
                                configs.insert(c.name.to_string(), v.to_string());
                            }
                            None => {
                                bad = Some(format!(
                                    "Null value not supported for topic config {}",
                                    c.name
                                ))
                            }
                        }
                    }
                    match bad {
                        Some(m) => Err((ErrorCode::InvalidConfig, m)),
                        None => apply(ctx, &res.resource_name, configs, req.validate_only),
                    }
                }
                RESOURCE_BROKER => Err((
                    ErrorCode::InvalidRequest,
                    "Broker configs cannot be changed on this broker".into(),
                )),
                other => Err((
                    ErrorCode::InvalidRequest,
                    format!("Unsupported resource type {other}"),
                )),
            };
            let (code, msg) = match outcome {
                Ok(()) => (0, None),
                Err((c, m)) => (c.code(), Some(KStr::from(m))),
            };
            AlterConfigsResourceResponse {
                error_code: code,
                error_message: msg,
                resource_type: res.resource_type,
                resource_name: res.resource_name,
                ..Default::default()
            }
        })
        .collect();
    AlterConfigsResponse {
        responses,
        ..Default::default()
    }
}
