//! The cluster as the client last saw it: brokers, controller, topics, partitions, leaders and
//! leader epochs (KIP-320), built from Metadata responses.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use kafka_proto::messages::metadata_response::MetadataResponse;
use kafka_proto::{ErrorCode, Uuid};

/// One broker of the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerInfo {
    /// Its node id.
    pub id: i32,
    /// The host it advertises.
    pub host: String,
    /// The port it advertises.
    pub port: u16,
    /// Its rack, if configured.
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// `host:port`.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One partition of a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionInfo {
    /// The partition index.
    pub partition: i32,
    /// Its leader's node id, `-1` if it has none right now.
    pub leader: i32,
    /// The leader epoch (KIP-320), `-1` if the broker does not report one.
    pub leader_epoch: i32,
    /// Replica node ids.
    pub replicas: Vec<i32>,
    /// In-sync replica node ids.
    pub isr: Vec<i32>,
    /// Offline replica node ids.
    pub offline: Vec<i32>,
    /// A per-partition error (LEADER_NOT_AVAILABLE while an election runs, for example).
    pub error: ErrorCode,
}

/// One topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicInfo {
    /// The name.
    pub name: String,
    /// The topic id (KIP-516), zero if the broker does not report one.
    pub id: Uuid,
    /// Whether it is internal (`__consumer_offsets`, ...).
    pub internal: bool,
    /// Partitions in index order.
    pub partitions: Vec<PartitionInfo>,
}

impl TopicInfo {
    /// A partition by index.
    pub fn partition(&self, p: i32) -> Option<&PartitionInfo> {
        usize::try_from(p)
            .ok()
            .and_then(|i| self.partitions.get(i))
            .filter(|x| x.partition == p)
            .or_else(|| self.partitions.iter().find(|x| x.partition == p))
    }
}

/// A snapshot of cluster metadata. Cheap to share (`Arc`).
#[derive(Clone, Debug)]
pub struct Metadata {
    /// The cluster id (KIP-78), if reported.
    pub cluster_id: Option<String>,
    /// The controller's node id, `-1` if unknown.
    pub controller: i32,
    /// Brokers by node id.
    pub brokers: HashMap<i32, BrokerInfo>,
    /// Topics by name (the ones asked for; every topic after a full refresh).
    pub topics: HashMap<String, Arc<TopicInfo>>,
    /// Topic errors of the last refresh, by name (UNKNOWN_TOPIC_OR_PARTITION, authorization...).
    pub topic_errors: HashMap<String, ErrorCode>,
    /// When it was fetched.
    pub fetched_at: Instant,
}

impl Default for Metadata {
    fn default() -> Self {
        Metadata {
            cluster_id: None,
            controller: -1,
            brokers: HashMap::new(),
            topics: HashMap::new(),
            topic_errors: HashMap::new(),
            fetched_at: Instant::now(),
        }
    }
}

impl Metadata {
    /// Builds a snapshot from a response. With `merge_into`, topics not in the response are
    /// kept from the previous snapshot (a refresh of a few topics does not forget the others),
    /// except those the response reports as unknown.
    pub(crate) fn from_response(r: &MetadataResponse, merge_into: Option<&Metadata>) -> Metadata {
        let brokers = r
            .brokers
            .iter()
            .filter_map(|b| {
                Some((
                    b.node_id,
                    BrokerInfo {
                        id: b.node_id,
                        host: b.host.to_string(),
                        port: u16::try_from(b.port).ok()?,
                        rack: b.rack.as_ref().map(|s| s.to_string()),
                    },
                ))
            })
            .collect();
        let mut topics: HashMap<String, Arc<TopicInfo>> = match merge_into {
            Some(m) => m.topics.clone(),
            None => HashMap::new(),
        };
        let mut topic_errors = HashMap::new();
        for t in &r.topics {
            let Some(name) = t.name.as_ref().map(|n| n.to_string()) else {
                continue;
            };
            let code = ErrorCode::from_i16(t.error_code);
            if !code.is_ok() {
                topic_errors.insert(name.clone(), code);
                // A topic being created (LEADER_NOT_AVAILABLE) may still list partitions.
                if t.partitions.is_empty() {
                    topics.remove(&name);
                    continue;
                }
            }
            let mut partitions: Vec<PartitionInfo> = t
                .partitions
                .iter()
                .map(|p| PartitionInfo {
                    partition: p.partition_index,
                    leader: p.leader_id,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.to_vec(),
                    isr: p.isr_nodes.to_vec(),
                    offline: p.offline_replicas.to_vec(),
                    error: ErrorCode::from_i16(p.error_code),
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            topics.insert(
                name.clone(),
                Arc::new(TopicInfo {
                    name,
                    id: t.topic_id,
                    internal: t.is_internal,
                    partitions,
                }),
            );
        }
        Metadata {
            cluster_id: r.cluster_id.as_ref().map(|s| s.to_string()),
            controller: r.controller_id,
            brokers,
            topics,
            topic_errors,
            fetched_at: Instant::now(),
        }
    }

    /// A topic by name.
    pub fn topic(&self, name: &str) -> Option<&Arc<TopicInfo>> {
        self.topics.get(name)
    }

    /// The leader of a partition, with its epoch, if the partition has one.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<(i32, i32)> {
        let p = self.topic(topic)?.partition(partition)?;
        (p.leader >= 0).then_some((p.leader, p.leader_epoch))
    }
}
