//! Broker configuration, with development-friendly defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::groups::GroupConfig;
use crate::storage::{FsyncPolicy, LogConfig};

/// Where partition data lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Storage {
    /// Segments on disk under this directory (Kafka's layout), surviving restarts.
    Dir(PathBuf),
    /// Everything in memory, gone at shutdown.
    Memory,
}

/// Everything the broker needs to start. Built with [`crate::Broker::builder`].
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// `host:port` advertised to clients in Metadata; defaults to the bound address.
    pub advertise: Option<String>,
    /// Data directory or memory.
    pub storage: Storage,
    /// This broker's node id.
    pub node_id: i32,
    /// Create topics on Metadata/Produce for unknown names (`auto.create.topics.enable`).
    pub auto_create_topics: bool,
    /// Partitions of an auto-created topic (`num.partitions`).
    pub default_partitions: i32,
    /// Default log settings of new topics (topic configs override them).
    pub log: LogConfig,
    /// Group coordinator timings.
    pub groups: GroupConfig,
    /// Largest request frame accepted (`socket.request.max.bytes`, 100 MiB).
    pub max_request_bytes: usize,
    /// Most open segment files at once.
    pub max_open_files: usize,
    /// Fetch sessions kept (`max.incremental.fetch.session.cache.slots`, 1000).
    pub fetch_session_slots: usize,
    /// How often retention and segment.ms are checked (`log.retention.check.interval.ms`).
    pub retention_check_interval: Duration,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9092)),
            advertise: None,
            storage: Storage::Dir(PathBuf::from(".kafka-data")),
            node_id: 1,
            auto_create_topics: true,
            default_partitions: 1,
            log: LogConfig::default(),
            groups: GroupConfig::default(),
            max_request_bytes: kafka_proto::frame::DEFAULT_MAX_FRAME,
            max_open_files: 256,
            fetch_session_slots: 1000,
            retention_check_interval: Duration::from_secs(60),
        }
    }
}

impl BrokerConfig {
    /// The fsync policy of new logs.
    pub fn fsync(&self) -> FsyncPolicy {
        self.log.fsync
    }
}
