//! CreateTopics (key 19): topics with partition counts (or the default, KIP-464), replication
//! factor 1 (the only one a single broker can give), and topic configs, validated; validate-only
//! requests check without creating. v5+ answers with the resulting configs.

use std::collections::{BTreeMap, HashSet};

use kafka_proto::messages::create_topics_response::{CreatableTopicConfigs, CreatableTopicResult};
use kafka_proto::messages::{CreateTopicsRequest, CreateTopicsResponse};
use kafka_proto::{ErrorCode, KStr, VersionRange};

use super::{Ctx, Req};
use crate::topic_config;

pub(crate) const VERSIONS: VersionRange = VersionRange::new(2, 7);

pub(crate) async fn handle(
    ctx: &Ctx,
    r: &Req<'_>,
    req: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let mut seen = HashSet::new();
    let dupes: HashSet<String> = req
        .topics
        .iter()
        .filter(|t| !seen.insert(t.name.to_string()))
        .map(|t| t.name.to_string())
        .collect();
    let mut results = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let mut res = CreatableTopicResult {
            name: t.name.clone(),
            num_partitions: -1,
            replication_factor: -1,
            configs: None,
            ..Default::default()
        };
        let outcome: Result<(), (ErrorCode, String)> = (|| {
            if let Some(i) = &r.injected {
                return Err((i.code, "injected fault".into()));
            }
            if dupes.contains(&*t.name) {
                return Err((
                    ErrorCode::InvalidRequest,
                    format!("Topic {} is listed more than once", t.name),
                ));
            }
            let partitions = if !t.assignments.is_empty() {
                if t.num_partitions != -1 || t.replication_factor != -1 {
                    return Err((
                        ErrorCode::InvalidRequest,
                        "Both numPartitions or replicationFactor and replicasAssignments were set"
                            .into(),
                    ));
                }
                for a in &t.assignments {
                    if a.broker_ids[..] != [ctx.node_id] {
                        return Err((
                            ErrorCode::InvalidReplicaAssignment,
                            format!("Only broker {} exists", ctx.node_id),
                        ));
                    }
                }
                t.assignments.len() as i32
            } else if t.num_partitions == -1 {
                ctx.cluster.config.default_partitions
            } else {
                t.num_partitions
            };
            if t.assignments.is_empty() && t.replication_factor != -1 && t.replication_factor != 1 {
                return Err((
                    ErrorCode::InvalidReplicationFactor,
                    format!(
                        "Replication factor: {} larger than available brokers: 1.",
                        t.replication_factor
                    ),
                ));
            }
            let mut configs = BTreeMap::new();
            for c in &t.configs {
                let Some(v) = &c.value else {
                    return Err((
                        ErrorCode::InvalidConfig,
                        format!("Null value not supported for topic config {}", c.name),
                    ));
                };
                configs.insert(c.name.to_string(), v.to_string());
            }
            let validate_only = req.validate_only;
            ctx.cluster
                .create_topic(&t.name, partitions, configs.clone(), validate_only)?;
            res.num_partitions = partitions;
            res.replication_factor = 1;
            if let Some(topic) = ctx.cluster.topic(&t.name).filter(|_| !validate_only) {
                res.topic_id = topic.id;
            }
            if r.version >= 5 {
                let log = topic_config::log_config(&ctx.cluster.config.log, &configs);
                res.configs = Some(
                    topic_config::TOPIC_CONFIGS
                        .iter()
                        .map(|d| {
                            let (value, source) = match configs.get(d.name) {
                                Some(v) => (v.clone(), 1),
                                None => (topic_config::default_value(d.name, &log), 5),
                            };
                            CreatableTopicConfigs {
                                name: KStr::from_static(d.name),
                                value: Some(KStr::from(value)),
                                read_only: false,
                                config_source: source,
                                is_sensitive: false,
                                ..Default::default()
                            }
                        })
                        .collect(),
                );
            }
            Ok(())
        })();
        if let Err((code, msg)) = outcome {
            res.error_code = code.code();
            if r.version >= 1 {
                res.error_message = Some(KStr::from(msg));
            }
            res.configs = None;
            res.num_partitions = -1;
            res.replication_factor = -1;
        }
        results.push(res);
    }
    CreateTopicsResponse {
        topics: results,
        ..Default::default()
    }
}
