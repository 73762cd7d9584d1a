//! IncrementalAlterConfigs (key 44, KIP-339): SET, DELETE, APPEND and SUBTRACT on a topic's
//! config overrides; the rest of the overrides stay.

use kafka_proto::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_proto::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};
use kafka_proto::{ErrorCode, KStr, VersionRange};

use super::alter_configs::apply;
use super::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use super::{Ctx, Req};
use crate::topic_config::{self, ConfigType};

pub(crate) const VERSIONS: VersionRange = VersionRange::new(0, 1);

pub(crate) fn handle(
    ctx: &Ctx,
    r: &Req<'_>,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let responses = req
        .resources
        .into_iter()
        .map(|res| {
            let outcome: Result<(), (ErrorCode, String)> = match res.resource_type {
                _ if r.injected.is_some() => Err((
                    r.injected
                        .as_ref()
                        .map_or(ErrorCode::UnknownServerError, |i| i.code),
                    "injected fault".into(),
                )),
                RESOURCE_TOPIC => (|| {
                    let topic = ctx.cluster.topic(&res.resource_name).ok_or((
                        ErrorCode::UnknownTopicOrPartition,
                        format!("Topic '{}' does not exist.", res.resource_name),
                    ))?;
                    let mut configs = topic.configs();
                    let log = topic_config::log_config(&ctx.cluster.config.log, &configs);
                    for c in &res.configs {
                        let name = c.name.to_string();
                        let def = topic_config::find(&name).ok_or((
                            ErrorCode::InvalidConfig,
                            format!("Unknown topic config name: {name}"),
                        ))?;
                        let value = c.value.as_deref().unwrap_or("");
                        match c.config_operation {
                            0 => {
                                configs.insert(name, value.to_owned());
                            }
                            1 => {
                                configs.remove(&name);
                            }
                            2 | 3 if def.kind != ConfigType::List => {
                                return Err((
                                    ErrorCode::InvalidConfig,
                                    format!("Config {name} is not a list"),
                                ));
                            }
                            2 => {
                                let current = configs
                                    .get(&name)
                                    .cloned()
                                    .unwrap_or_else(|| topic_config::default_value(&name, &log));
                                let mut items: Vec<String> = current
                                    .split(',')
                                    .filter(|s| !s.is_empty())
                                    .map(str::to_owned)
                                    .collect();
                                for v in value.split(',').filter(|s| !s.is_empty()) {
                                    if !items.iter().any(|i| i == v) {
                                        items.push(v.to_owned());
                                    }
                                }
                                configs.insert(name, items.join(","));
                            }
                            3 => {
                                let current = configs
                                    .get(&name)
                                    .cloned()
                                    .unwrap_or_else(|| topic_config::default_value(&name, &log));
                                let drop: Vec<&str> = value.split(',').collect();
                                let items: Vec<&str> = current
                                    .split(',')
                                    .filter(|s| !s.is_empty() && !drop.contains(s))
                                    .collect();
                                configs.insert(name, items.join(","));
                            }
                            op => {
                                return Err((
                                    ErrorCode::InvalidRequest,
                                    format!("Unknown config operation {op}"),
                                ))
                            }
                        }
                    }
                    apply(ctx, &res.resource_name, configs, req.validate_only)
                })(),
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
    IncrementalAlterConfigsResponse {
        responses,
        ..Default::default()
    }
}
