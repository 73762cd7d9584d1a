//! Metadata (key 3): this broker as the only broker and controller, every partition led by it;
//! unknown topics are auto-created when the request allows it (v4+) and the broker is configured
//! to. Topics can be asked for by id from v12 (by name before).

use kafka_proto::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_proto::messages::{MetadataRequest, MetadataResponse};
use kafka_proto::{ErrorCode, KStr, Uuid, VersionRange};

use super::{Ctx, Req};
use crate::cluster::{valid_topic_name, Topic};

pub(crate) const VERSIONS: VersionRange = VersionRange::new(0, 12);

/// Every operation bit Kafka defines for a topic (KIP-430), for `include_*_authorized_operations`.
const ALL_TOPIC_OPERATIONS: i32 = 0b1111_1111_1000;
const ALL_CLUSTER_OPERATIONS: i32 = 0b111_1111_1111_1000;

fn topic_entry(ctx: &Ctx, t: &Topic, with_ops: bool) -> MetadataResponseTopic {
    let epoch =
        |p: &crate::cluster::Partition| p.leader_epoch.load(std::sync::atomic::Ordering::Relaxed);
    MetadataResponseTopic {
        error_code: 0,
        name: Some(KStr::from(t.name.as_str())),
        topic_id: t.id,
        is_internal: t.internal,
        partitions: t
            .partitions()
            .iter()
            .map(|p| MetadataResponsePartition {
                error_code: if ctx.faults.leadership_paused(&t.name, p.index) {
                    ErrorCode::LeaderNotAvailable.code()
                } else {
                    0
                },
                partition_index: p.index,
                leader_id: ctx.node_id,
                leader_epoch: epoch(p),
                replica_nodes: [ctx.node_id].into_iter().collect(),
                isr_nodes: [ctx.node_id].into_iter().collect(),
                offline_replicas: Default::default(),
                ..Default::default()
            })
            .collect(),
        topic_authorized_operations: if with_ops {
            ALL_TOPIC_OPERATIONS
        } else {
            i32::MIN
        },
        ..Default::default()
    }
}

fn error_entry(name: Option<KStr>, id: Uuid, code: ErrorCode) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: code.code(),
        name,
        topic_id: id,
        ..Default::default()
    }
}

pub(crate) fn handle(ctx: &Ctx, r: &Req<'_>, req: MetadataRequest) -> MetadataResponse {
    let with_ops = r.version >= 8 && req.include_topic_authorized_operations;
    // v0: an empty list means every topic; v1+: null means every topic.
    let requested = match req.topics {
        None => None,
        Some(t) if t.is_empty() && r.version == 0 => None,
        Some(t) => Some(t),
    };
    let allow_create = r.version < 4 || req.allow_auto_topic_creation;
    let topics = match requested {
        None => ctx
            .cluster
            .topics()
            .iter()
            .map(|t| topic_entry(ctx, t, with_ops))
            .collect(),
        Some(list) => list
            .into_iter()
            .map(|want| match want.name {
                Some(name) if !name.is_empty() => {
                    if !valid_topic_name(&name) {
                        return error_entry(
                            Some(name),
                            Uuid::ZERO,
                            ErrorCode::InvalidTopicException,
                        );
                    }
                    let found = if allow_create {
                        ctx.cluster.auto_create(&name)
                    } else {
                        ctx.cluster.topic(&name)
                    };
                    match found {
                        Some(t) => topic_entry(ctx, &t, with_ops),
                        None => {
                            error_entry(Some(name), Uuid::ZERO, ErrorCode::UnknownTopicOrPartition)
                        }
                    }
                }
                _ => match ctx.cluster.topic_by_id(&want.topic_id) {
                    Some(t) if !want.topic_id.is_zero() => topic_entry(ctx, &t, with_ops),
                    _ => error_entry(None, want.topic_id, ErrorCode::UnknownTopicId),
                },
            })
            .collect(),
    };
    let mut resp = MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: ctx.node_id,
            host: KStr::from(ctx.host.as_str()),
            port: ctx.port,
            rack: None,
            ..Default::default()
        }],
        cluster_id: Some(KStr::from(ctx.cluster.cluster_id.as_str())),
        controller_id: ctx.node_id,
        topics,
        ..Default::default()
    };
    if (8..=10).contains(&r.version) && req.include_cluster_authorized_operations {
        resp.cluster_authorized_operations = ALL_CLUSTER_OPERATIONS;
    }
    resp
}
