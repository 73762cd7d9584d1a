//! Configs of topics, brokers and broker loggers: describe, incremental alter (with a fallback
//! to the legacy full-replace AlterConfigs for brokers older than Kafka 2.3), legacy alter.

use std::collections::HashMap;

use kafka_proto::messages::alter_configs_request::{
    AlterConfigsRequest, AlterConfigsResource as LegacyResource, AlterableConfig as LegacyConfig,
};
use kafka_proto::messages::describe_configs_request::{
    DescribeConfigsRequest, DescribeConfigsResource,
};
use kafka_proto::messages::describe_configs_response::DescribeConfigsResult;
use kafka_proto::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig, IncrementalAlterConfigsRequest,
};
use kafka_proto::ApiKey;

use super::{ctx, fan_out, Admin, Outcome, CONTROLLER_RETRY};
use crate::{Client, Error, Node, Purpose, Result};

/// The kind of a [`ConfigResource`] (Kafka's `ConfigResource.Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigResourceType {
    /// A topic (code 2).
    Topic,
    /// A broker, named by its node id; the empty name is the cluster-wide default (code 4).
    Broker,
    /// A broker's log4j loggers, named by the broker's node id (code 8).
    BrokerLogger,
    /// Client metrics subscriptions (KIP-714, code 16).
    ClientMetrics,
    /// A consumer group (KIP-848, code 32).
    Group,
    /// A code this client does not know.
    Other(i8),
}

impl ConfigResourceType {
    /// The wire code.
    pub fn code(self) -> i8 {
        match self {
            ConfigResourceType::Topic => 2,
            ConfigResourceType::Broker => 4,
            ConfigResourceType::BrokerLogger => 8,
            ConfigResourceType::ClientMetrics => 16,
            ConfigResourceType::Group => 32,
            ConfigResourceType::Other(c) => c,
        }
    }

    /// From the wire code.
    pub fn from_code(code: i8) -> ConfigResourceType {
        match code {
            2 => ConfigResourceType::Topic,
            4 => ConfigResourceType::Broker,
            8 => ConfigResourceType::BrokerLogger,
            16 => ConfigResourceType::ClientMetrics,
            32 => ConfigResourceType::Group,
            c => ConfigResourceType::Other(c),
        }
    }
}

/// Something that has configs: a topic, a broker, a broker's loggers...
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConfigResource {
    /// The kind.
    pub kind: ConfigResourceType,
    /// The name: a topic name, a broker's node id.
    pub name: String,
}

impl ConfigResource {
    /// A resource of any kind.
    pub fn new(kind: ConfigResourceType, name: impl Into<String>) -> ConfigResource {
        ConfigResource {
            kind,
            name: name.into(),
        }
    }

    /// A topic.
    pub fn topic(name: impl Into<String>) -> ConfigResource {
        ConfigResource::new(ConfigResourceType::Topic, name)
    }

    /// A broker by node id.
    pub fn broker(id: i32) -> ConfigResource {
        ConfigResource::new(ConfigResourceType::Broker, id.to_string())
    }

    /// The cluster-wide default broker config.
    pub fn broker_default() -> ConfigResource {
        ConfigResource::new(ConfigResourceType::Broker, "")
    }

    /// A broker's loggers by node id.
    pub fn broker_logger(id: i32) -> ConfigResource {
        ConfigResource::new(ConfigResourceType::BrokerLogger, id.to_string())
    }

    /// The broker that must answer for this resource, `None` if any broker (or the
    /// controller) can.
    fn node(&self) -> Result<Option<Node>> {
        match self.kind {
            ConfigResourceType::Broker | ConfigResourceType::BrokerLogger
                if !self.name.is_empty() =>
            {
                self.name.parse().map(|id| Some(Node::Id(id))).map_err(|_| {
                    Error::InvalidArgument(format!(
                        "broker resource name `{}` is not a node id",
                        self.name
                    ))
                })
            }
            _ => Ok(None),
        }
    }

    /// The source a dynamic config set on this very resource reports.
    fn dynamic_source(&self) -> Option<ConfigSource> {
        match self.kind {
            ConfigResourceType::Topic => Some(ConfigSource::DynamicTopic),
            ConfigResourceType::Broker if self.name.is_empty() => {
                Some(ConfigSource::DynamicDefaultBroker)
            }
            ConfigResourceType::Broker => Some(ConfigSource::DynamicBroker),
            ConfigResourceType::BrokerLogger => Some(ConfigSource::DynamicBrokerLogger),
            ConfigResourceType::ClientMetrics => Some(ConfigSource::ClientMetrics),
            ConfigResourceType::Group => Some(ConfigSource::Group),
            ConfigResourceType::Other(_) => None,
        }
    }

    fn context(&self, api: ApiKey, v: i16, node: Node) -> crate::Context {
        let c = ctx(api, v, node);
        match self.kind {
            ConfigResourceType::Topic => c.with_topic(&self.name, None),
            _ => c,
        }
    }
}

/// Where a config value comes from (Kafka's `ConfigEntry.ConfigSource`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigSource {
    /// Not reported.
    Unknown,
    /// Set on the topic.
    DynamicTopic,
    /// Set dynamically on this broker.
    DynamicBroker,
    /// Set dynamically as the cluster-wide broker default.
    DynamicDefaultBroker,
    /// From the broker's properties file.
    StaticBroker,
    /// Kafka's built-in default.
    Default,
    /// A broker logger level set dynamically.
    DynamicBrokerLogger,
    /// A client metrics config.
    ClientMetrics,
    /// Set on the group.
    Group,
    /// A code this client does not know.
    Other(i8),
}

impl ConfigSource {
    /// From the wire code.
    pub fn from_code(code: i8) -> ConfigSource {
        match code {
            0 => ConfigSource::Unknown,
            1 => ConfigSource::DynamicTopic,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicDefaultBroker,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            6 => ConfigSource::DynamicBrokerLogger,
            7 => ConfigSource::ClientMetrics,
            8 => ConfigSource::Group,
            c => ConfigSource::Other(c),
        }
    }
}

/// Another value a config has at a lower precedence (DescribeConfigs v1+ with synonyms).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigSynonym {
    /// The config name at that level (`log.retention.ms` for `retention.ms`).
    pub name: String,
    /// Its value (`None` for sensitive values).
    pub value: Option<String>,
    /// The level.
    pub source: ConfigSource,
}

/// One config of a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigEntry {
    /// The name.
    pub name: String,
    /// The value; `None` when sensitive (passwords) or unset.
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Whether it cannot be changed dynamically.
    pub read_only: bool,
    /// Whether the value is hidden because it is sensitive.
    pub sensitive: bool,
    /// Whether the value is Kafka's default.
    pub default: bool,
    /// Lower-precedence values, when asked for ([`DescribeConfigsOptions::synonyms`]).
    pub synonyms: Vec<ConfigSynonym>,
    /// The documentation, when asked for ([`DescribeConfigsOptions::documentation`]).
    pub documentation: Option<String>,
}

/// Options of [`Admin::describe_configs_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DescribeConfigsOptions {
    /// Ask for synonyms (DescribeConfigs v1+).
    pub include_synonyms: bool,
    /// Ask for documentation (DescribeConfigs v3+).
    pub include_documentation: bool,
}

impl DescribeConfigsOptions {
    /// Whether to include synonyms.
    pub fn synonyms(mut self, on: bool) -> Self {
        self.include_synonyms = on;
        self
    }

    /// Whether to include documentation.
    pub fn documentation(mut self, on: bool) -> Self {
        self.include_documentation = on;
        self
    }
}

/// What [`AlterConfigOp`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlterOpType {
    /// Sets the value.
    Set,
    /// Removes the value (back to the inherited one).
    Delete,
    /// Adds to a list value.
    Append,
    /// Removes from a list value.
    Subtract,
}

impl AlterOpType {
    fn code(self) -> i8 {
        match self {
            AlterOpType::Set => 0,
            AlterOpType::Delete => 1,
            AlterOpType::Append => 2,
            AlterOpType::Subtract => 3,
        }
    }
}

/// One change of [`Admin::incremental_alter_configs`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlterConfigOp {
    /// The config name.
    pub name: String,
    /// The operation.
    pub op: AlterOpType,
    /// The value (ignored by `Delete`).
    pub value: Option<String>,
}

impl AlterConfigOp {
    /// Sets `name` to `value`.
    pub fn set(name: impl Into<String>, value: impl Into<String>) -> AlterConfigOp {
        AlterConfigOp {
            name: name.into(),
            op: AlterOpType::Set,
            value: Some(value.into()),
        }
    }

    /// Removes `name`'s value.
    pub fn delete(name: impl Into<String>) -> AlterConfigOp {
        AlterConfigOp {
            name: name.into(),
            op: AlterOpType::Delete,
            value: None,
        }
    }

    /// Appends `value` to the list `name`.
    pub fn append(name: impl Into<String>, value: impl Into<String>) -> AlterConfigOp {
        AlterConfigOp {
            name: name.into(),
            op: AlterOpType::Append,
            value: Some(value.into()),
        }
    }

    /// Removes `value` from the list `name`.
    pub fn subtract(name: impl Into<String>, value: impl Into<String>) -> AlterConfigOp {
        AlterConfigOp {
            name: name.into(),
            op: AlterOpType::Subtract,
            value: Some(value.into()),
        }
    }
}

type Items<T> = Vec<(ConfigResource, Outcome<T>)>;

impl Admin {
    /// Describes configs (no synonyms, no documentation). As
    /// [`Admin::describe_configs_with`].
    ///
    /// # Errors
    /// As [`Admin::describe_configs_with`].
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn describe_configs(
        &self,
        resources: &[ConfigResource],
    ) -> Result<HashMap<ConfigResource, Result<Vec<ConfigEntry>>>> {
        self.describe_configs_with(resources, DescribeConfigsOptions::default())
            .await
    }

    /// Describes the configs of resources. Broker and broker-logger resources are asked of that
    /// broker; topics of any broker, in one request.
    ///
    /// # Errors
    /// Outer: only if nothing could be asked. Per resource: [`Error::InvalidArgument`] for a
    /// broker resource not named by a node id; the broker's error (UNKNOWN_TOPIC_OR_PARTITION,
    /// authorization, ...); connection errors of that resource's broker.
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn describe_configs_with(
        &self,
        resources: &[ConfigResource],
        options: DescribeConfigsOptions,
    ) -> Result<HashMap<ConfigResource, Result<Vec<ConfigEntry>>>> {
        let items = super::topics::dedup(resources.iter().cloned());
        if items.is_empty() {
            return Ok(HashMap::new());
        }
        self.run_items(
            ApiKey::DescribeConfigs,
            self.deadline(),
            items,
            |pending, refresh| async move {
                if refresh {
                    self.client.refresh_metadata(Some(&[])).await?;
                }
                let any = self.client.any_broker();
                let (groups, mut out) = route(pending, |_| Ok(any));
                let jobs = groups
                    .into_iter()
                    .map(|(node, rs)| {
                        let c = self.client.clone();
                        (rs.clone(), describe_at(c, node, rs, options))
                    })
                    .collect();
                out.extend(fan_out(jobs, &[]).await);
                Ok(out)
            },
        )
        .await
    }

    /// Changes configs with IncrementalAlterConfigs (Kafka 2.3+): set, delete, append to or
    /// subtract from single configs, leaving the others alone. Broker and broker-logger
    /// resources go to that broker, the rest to the controller.
    ///
    /// Against a broker without IncrementalAlterConfigs, `Set` and `Delete` fall back to the
    /// legacy AlterConfigs, which replaces a resource's whole dynamic config: the current
    /// dynamic values are described first and sent back with the changes. Sensitive values
    /// (passwords) cannot be read back and are lost by the fallback; concurrent changes by
    /// others between the describe and the alter are overwritten.
    ///
    /// # Errors
    /// Outer: only if nothing could be asked. Per resource: the broker's error
    /// (INVALID_CONFIG, UNKNOWN_TOPIC_OR_PARTITION, ...); [`Error::InvalidArgument`] for
    /// `Append`/`Subtract` when the fallback is needed, or a bad broker resource name.
    ///
    /// # Cancel safety
    /// Not idempotent for `Append`/`Subtract`: a dropped call may have applied some changes.
    pub async fn incremental_alter_configs(
        &self,
        changes: &[(ConfigResource, Vec<AlterConfigOp>)],
        validate_only: bool,
    ) -> Result<HashMap<ConfigResource, Result<()>>> {
        let ops: HashMap<ConfigResource, Vec<AlterConfigOp>> = changes.iter().cloned().collect();
        if ops.is_empty() {
            return Ok(HashMap::new());
        }
        let items: Vec<ConfigResource> = ops.keys().cloned().collect();
        let ops = &ops;
        self.run_items(
            ApiKey::IncrementalAlterConfigs,
            self.deadline(),
            items,
            |pending, refresh| async move {
                let controller = self.controller_node(refresh).await?;
                let (groups, mut out) = route(pending, |_| Ok(controller));
                let mut jobs = Vec::new();
                let mut legacy = Vec::new();
                for (node, rs) in groups {
                    let with_ops: Vec<(ConfigResource, Vec<AlterConfigOp>)> = rs
                        .iter()
                        .map(|r| (r.clone(), ops.get(r).cloned().unwrap_or_default()))
                        .collect();
                    match self
                        .client
                        .negotiated_version::<IncrementalAlterConfigsRequest>(node)
                        .await
                    {
                        Ok(_) => jobs.push((
                            rs,
                            incremental_at(self.client.clone(), node, with_ops, validate_only),
                        )),
                        Err(Error::UnsupportedVersion { .. }) => legacy.push((rs, node, with_ops)),
                        Err(e) => out.extend(
                            rs.into_iter()
                                .map(|r| (r, Outcome::from_error(e.clone(), &[]))),
                        ),
                    }
                }
                out.extend(fan_out(jobs, CONTROLLER_RETRY).await);
                let legacy_jobs = legacy
                    .into_iter()
                    .map(|(rs, node, with_ops)| {
                        (
                            rs,
                            legacy_incremental_at(
                                self.client.clone(),
                                node,
                                with_ops,
                                validate_only,
                            ),
                        )
                    })
                    .collect();
                out.extend(fan_out(legacy_jobs, CONTROLLER_RETRY).await);
                Ok(out)
            },
        )
        .await
    }

    /// Replaces the whole dynamic config of each resource with the given values (the legacy
    /// AlterConfigs: configs not listed go back to their defaults). Prefer
    /// [`Admin::incremental_alter_configs`].
    ///
    /// # Errors
    /// As [`Admin::incremental_alter_configs`].
    ///
    /// # Cancel safety
    /// Idempotent; a dropped call may have replaced some resources' configs.
    pub async fn alter_configs(
        &self,
        configs: &[(ConfigResource, Vec<(String, String)>)],
        validate_only: bool,
    ) -> Result<HashMap<ConfigResource, Result<()>>> {
        let sets: HashMap<ConfigResource, Vec<(String, String)>> =
            configs.iter().cloned().collect();
        if sets.is_empty() {
            return Ok(HashMap::new());
        }
        let items: Vec<ConfigResource> = sets.keys().cloned().collect();
        let sets = &sets;
        self.run_items(
            ApiKey::AlterConfigs,
            self.deadline(),
            items,
            |pending, refresh| async move {
                let controller = self.controller_node(refresh).await?;
                let (groups, mut out) = route(pending, |_| Ok(controller));
                let jobs = groups
                    .into_iter()
                    .map(|(node, rs)| {
                        let full = rs
                            .iter()
                            .map(|r| (r.clone(), sets.get(r).cloned().unwrap_or_default()))
                            .collect();
                        (
                            rs,
                            legacy_alter_at(self.client.clone(), node, full, validate_only),
                        )
                    })
                    .collect();
                out.extend(fan_out(jobs, CONTROLLER_RETRY).await);
                Ok(out)
            },
        )
        .await
    }
}

/// Groups resources by the broker that must answer them (`default` for the rest); resources
/// with a bad name are answered at once.
fn route<T>(
    resources: Vec<ConfigResource>,
    default: impl Fn(&ConfigResource) -> Result<Node>,
) -> (HashMap<Node, Vec<ConfigResource>>, Items<T>) {
    let mut groups: HashMap<Node, Vec<ConfigResource>> = HashMap::new();
    let mut out = Vec::new();
    for r in resources {
        match r.node().and_then(|n| n.map_or_else(|| default(&r), Ok)) {
            Ok(node) => groups.entry(node).or_default().push(r),
            Err(e) => out.push((r, Outcome::Done(Err(e)))),
        }
    }
    (groups, out)
}

async fn describe_at(
    client: Client,
    node: Node,
    resources: Vec<ConfigResource>,
    options: DescribeConfigsOptions,
) -> Result<Items<Vec<ConfigEntry>>> {
    let (v, resp) = client
        .send_built(node, Purpose::Admin, None, |v| DescribeConfigsRequest {
            resources: resources
                .iter()
                .map(|r| DescribeConfigsResource {
                    resource_type: r.kind.code(),
                    resource_name: r.name.as_str().into(),
                    configuration_keys: None,
                    ..Default::default()
                })
                .collect(),
            include_synonyms: v >= 1 && options.include_synonyms,
            include_documentation: v >= 3 && options.include_documentation,
            ..Default::default()
        })
        .await?;
    Ok(resp
        .results
        .iter()
        .map(|r| {
            let res = ConfigResource::new(
                ConfigResourceType::from_code(r.resource_type),
                r.resource_name.to_string(),
            );
            let err = Error::from_code(r.error_code, r.error_message.as_deref(), || {
                res.context(ApiKey::DescribeConfigs, v, node)
            });
            let o = match err {
                Some(e) => Outcome::from_error(e, &[]),
                None => Outcome::Done(Ok(entries(&res, r, v))),
            };
            (res, o)
        })
        .collect())
}

fn entries(res: &ConfigResource, r: &DescribeConfigsResult, v: i16) -> Vec<ConfigEntry> {
    r.configs
        .iter()
        .map(|c| {
            let source = if v >= 1 {
                ConfigSource::from_code(c.config_source)
            } else if c.is_default {
                ConfigSource::Default
            } else {
                match res.kind {
                    ConfigResourceType::Topic => ConfigSource::DynamicTopic,
                    ConfigResourceType::Broker => ConfigSource::StaticBroker,
                    _ => ConfigSource::Unknown,
                }
            };
            ConfigEntry {
                name: c.name.to_string(),
                value: c.value.as_ref().map(|s| s.to_string()),
                source,
                read_only: c.read_only,
                sensitive: c.is_sensitive,
                default: if v >= 1 {
                    source == ConfigSource::Default
                } else {
                    c.is_default
                },
                synonyms: c
                    .synonyms
                    .iter()
                    .map(|s| ConfigSynonym {
                        name: s.name.to_string(),
                        value: s.value.as_ref().map(|x| x.to_string()),
                        source: ConfigSource::from_code(s.source),
                    })
                    .collect(),
                documentation: c.documentation.as_ref().map(|d| d.to_string()),
            }
        })
        .collect()
}

async fn incremental_at(
    client: Client,
    node: Node,
    changes: Vec<(ConfigResource, Vec<AlterConfigOp>)>,
    validate_only: bool,
) -> Result<Items<()>> {
    let (v, resp) = client
        .send_built(node, Purpose::Admin, None, |_| {
            IncrementalAlterConfigsRequest {
                resources: changes
                    .iter()
                    .map(|(r, ops)| AlterConfigsResource {
                        resource_type: r.kind.code(),
                        resource_name: r.name.as_str().into(),
                        configs: ops
                            .iter()
                            .map(|o| AlterableConfig {
                                name: o.name.as_str().into(),
                                config_operation: o.op.code(),
                                value: match o.op {
                                    AlterOpType::Delete => None,
                                    _ => o.value.as_deref().map(Into::into),
                                },
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                validate_only,
                ..Default::default()
            }
        })
        .await?;
    Ok(resp
        .responses
        .iter()
        .map(|r| {
            altered(
                r.resource_type,
                &r.resource_name,
                r.error_code,
                r.error_message.as_deref(),
                (ApiKey::IncrementalAlterConfigs, v, node),
            )
        })
        .collect())
}

/// One resource's answer to AlterConfigs or IncrementalAlterConfigs (the same fields).
fn altered(
    resource_type: i8,
    name: &str,
    code: i16,
    message: Option<&str>,
    (api, v, node): (ApiKey, i16, Node),
) -> (ConfigResource, Outcome<()>) {
    let res = ConfigResource::new(
        ConfigResourceType::from_code(resource_type),
        name.to_owned(),
    );
    let err = Error::from_code(code, message, || res.context(api, v, node));
    (
        res,
        Outcome::from_result(err.map_or(Ok(()), Err), CONTROLLER_RETRY),
    )
}

async fn legacy_alter_at(
    client: Client,
    node: Node,
    configs: Vec<(ConfigResource, Vec<(String, String)>)>,
    validate_only: bool,
) -> Result<Items<()>> {
    let (v, resp) = client
        .send_built(node, Purpose::Admin, None, |_| AlterConfigsRequest {
            resources: configs
                .iter()
                .map(|(r, kvs)| LegacyResource {
                    resource_type: r.kind.code(),
                    resource_name: r.name.as_str().into(),
                    configs: kvs
                        .iter()
                        .map(|(k, val)| LegacyConfig {
                            name: k.as_str().into(),
                            value: Some(val.as_str().into()),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            validate_only,
            ..Default::default()
        })
        .await?;
    Ok(resp
        .responses
        .iter()
        .map(|r| {
            altered(
                r.resource_type,
                &r.resource_name,
                r.error_code,
                r.error_message.as_deref(),
                (ApiKey::AlterConfigs, v, node),
            )
        })
        .collect())
}

/// The IncrementalAlterConfigs fallback: describe, apply `Set`/`Delete`, replace.
async fn legacy_incremental_at(
    client: Client,
    node: Node,
    changes: Vec<(ConfigResource, Vec<AlterConfigOp>)>,
    validate_only: bool,
) -> Result<Items<()>> {
    let mut out = Vec::new();
    let mut ok = Vec::new();
    for (r, ops) in changes {
        match ops
            .iter()
            .find(|o| matches!(o.op, AlterOpType::Append | AlterOpType::Subtract))
        {
            Some(o) => out.push((
                r,
                Outcome::Done(Err(Error::InvalidArgument(format!(
                    "{:?} of `{}` needs IncrementalAlterConfigs, which the broker does not support",
                    o.op, o.name
                )))),
            )),
            None => ok.push((r, ops)),
        }
    }
    if ok.is_empty() {
        return Ok(out);
    }
    let described = describe_at(
        client.clone(),
        node,
        ok.iter().map(|(r, _)| r.clone()).collect(),
        DescribeConfigsOptions::default(),
    )
    .await?;
    let mut current: HashMap<ConfigResource, Outcome<Vec<ConfigEntry>>> =
        described.into_iter().collect();
    let mut full = Vec::new();
    for (r, ops) in ok {
        let entries = match current.remove(&r) {
            Some(Outcome::Done(Ok(e))) => e,
            Some(Outcome::Done(Err(e))) => {
                out.push((r, Outcome::Done(Err(e))));
                continue;
            }
            Some(Outcome::Retry(e)) => {
                out.push((r, Outcome::Retry(e)));
                continue;
            }
            None => {
                let e = Error::protocol(
                    ctx(ApiKey::DescribeConfigs, -1, node),
                    format!("no configs described for {:?} {}", r.kind, r.name),
                );
                out.push((r, Outcome::Done(Err(e))));
                continue;
            }
        };
        let dynamic = r.dynamic_source();
        let mut values: Vec<(String, String)> = entries
            .into_iter()
            .filter(|e| Some(e.source) == dynamic && !e.sensitive)
            .filter_map(|e| Some((e.name, e.value?)))
            .collect();
        for o in ops {
            values.retain(|(k, _)| *k != o.name);
            if let (AlterOpType::Set, Some(v)) = (o.op, o.value) {
                values.push((o.name, v));
            }
        }
        full.push((r, values));
    }
    if !full.is_empty() {
        out.extend(legacy_alter_at(client, node, full, validate_only).await?);
    }
    Ok(out)
}
