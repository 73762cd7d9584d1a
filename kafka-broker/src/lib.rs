//! A lightweight Kafka-compatible broker for local development and tests.
//!
//! Real clients (librdkafka/kcat, the Java client, kafka-python, franz-go) use it unchanged: it
//! speaks the Kafka protocol over TCP, stores partitions in Kafka's on-disk layout (or in
//! memory), runs classic consumer groups and idempotent producers, and starts in milliseconds.
//! Test suites embed it:
//!
//! ```no_run
//! # async fn demo() -> Result<(), kafka_broker::BrokerError> {
//! let broker = kafka_broker::Broker::builder()
//!     .listen("127.0.0.1:0".parse().unwrap())
//!     .in_memory()
//!     .start()
//!     .await?;
//! println!("bootstrap.servers={}", broker.bootstrap());
//! broker.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! One handler per API lives in `handlers/`, each declaring the versions it serves; ApiVersions
//! is built from that registry. See ARCHITECTURE.md for the locking and storage rules.

mod cluster;
pub mod config;
pub mod faults;
pub mod groups;
mod handlers;
mod server;
pub mod storage;
pub mod topic_config;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use cluster::StartupReport;
pub use config::{BrokerConfig, Storage};
pub use faults::Faults;
pub use groups::GroupConfig;
pub use storage::{FsyncPolicy, LogConfig};

/// Why the broker could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// Binding the listen address failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Stored state could not be read.
    #[error("corrupt state: {0}")]
    Corrupt(String),
    /// A log could not be opened or closed.
    #[error("storage: {0}")]
    Storage(String),
    /// The group coordinator failed.
    #[error("groups: {0}")]
    Groups(String),
    /// A fault-injection hook was asked for something it cannot do (an unknown partition,
    /// an offset inside a batch).
    #[error("fault injection: {0}")]
    Fault(String),
}

impl BrokerError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> BrokerError {
        BrokerError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Entry point: `Broker::builder()`.
#[derive(Debug)]
pub struct Broker;

impl Broker {
    /// A builder with the defaults of `kafka broker start`.
    pub fn builder() -> BrokerBuilder {
        BrokerBuilder {
            config: BrokerConfig::default(),
            faults: Faults::default(),
        }
    }
}

/// Configures and starts a broker.
#[derive(Debug)]
#[must_use]
pub struct BrokerBuilder {
    config: BrokerConfig,
    faults: Faults,
}

impl BrokerBuilder {
    /// Listen address (default `127.0.0.1:9092`; port 0 picks a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.config.listen = addr;
        self
    }

    /// The `host:port` clients are told to connect to (default: the bound address).
    pub fn advertise(mut self, host_port: impl Into<String>) -> Self {
        self.config.advertise = Some(host_port.into());
        self
    }

    /// Keep data in `dir` (default `./.kafka-data`).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.storage = Storage::Dir(dir.into());
        self
    }

    /// Keep everything in memory.
    pub fn in_memory(mut self) -> Self {
        self.config.storage = Storage::Memory;
        self
    }

    /// Partitions of auto-created topics (default 1).
    pub fn default_partitions(mut self, n: i32) -> Self {
        self.config.default_partitions = n.max(1);
        self
    }

    /// Whether unknown topics are created on first use (default on).
    pub fn auto_create_topics(mut self, on: bool) -> Self {
        self.config.auto_create_topics = on;
        self
    }

    /// When data is synced to disk (default: like Kafka, on segment roll and shutdown).
    pub fn fsync(mut self, policy: FsyncPolicy) -> Self {
        self.config.log.fsync = policy;
        self
    }

    /// Default log settings of new topics.
    pub fn log_config(mut self, log: LogConfig) -> Self {
        self.config.log = log;
        self
    }

    /// Group coordinator timings.
    pub fn group_config(mut self, groups: GroupConfig) -> Self {
        self.config.groups = groups;
        self
    }

    /// How often retention runs.
    pub fn retention_check_interval(mut self, every: Duration) -> Self {
        self.config.retention_check_interval = every;
        self
    }

    /// The whole configuration at once.
    pub fn config(mut self, config: BrokerConfig) -> Self {
        self.config = config;
        self
    }

    /// Fault injection shared with the caller (see [`Faults`]).
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Opens the data, binds the listener and starts serving.
    ///
    /// # Errors
    /// [`BrokerError`] if the address cannot be bound or stored state cannot be read.
    pub async fn start(self) -> Result<BrokerHandle, BrokerError> {
        let started = std::time::Instant::now();
        let listener = tokio::net::TcpListener::bind(self.config.listen)
            .await
            .map_err(|source| BrokerError::Bind {
                addr: self.config.listen,
                source,
            })?;
        let local = listener.local_addr().map_err(|source| BrokerError::Bind {
            addr: self.config.listen,
            source,
        })?;
        let mut config = self.config;
        if config.advertise.is_none() {
            config.advertise = Some(local.to_string());
        }
        let storage = config.storage.clone();
        let (cluster, report) = {
            let config = config.clone();
            tokio::task::spawn_blocking(move || cluster::Cluster::open(config))
                .await
                .map_err(|e| BrokerError::Storage(format!("start-up task failed: {e}")))??
        };
        let groups = groups::GroupCoordinator::new(
            config.groups.clone(),
            cluster.data_dir().map(Path::to_path_buf),
            Arc::new(handlers::Topics(cluster.clone())),
        )
        .map_err(|e| BrokerError::Groups(e.to_string()))?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let ctx = Arc::new(handlers::Ctx::new(
            cluster.clone(),
            groups.clone(),
            self.faults.clone(),
        ));
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            listen = %local,
            advertise = config.advertise.as_deref().unwrap_or(""),
            storage = ?storage,
            clean = report.clean,
            topics = report.topics,
            partitions = report.partitions,
            recovered_batches = report.batches_checked,
            truncated_bytes = report.truncated_bytes,
            startup_ms = started.elapsed().as_secs_f64() * 1000.0,
            "broker ready"
        );
        let server = tokio::spawn(server::serve(listener, ctx, shutdown_rx.clone()));
        let housekeeping = tokio::spawn(server::housekeeping(
            cluster.clone(),
            config.retention_check_interval,
            shutdown_rx,
        ));
        Ok(BrokerHandle {
            local,
            advertise: config.advertise.unwrap_or_else(|| local.to_string()),
            report,
            faults: self.faults,
            shutdown_tx,
            tasks: vec![server, housekeeping],
            cluster,
            groups,
        })
    }
}

/// A running broker. Dropping it without [`BrokerHandle::shutdown`] stops the listener at the
/// next accept but skips the clean-shutdown marker (the next start recovers the logs).
#[derive(Debug)]
pub struct BrokerHandle {
    local: SocketAddr,
    advertise: String,
    report: StartupReport,
    faults: Faults,
    shutdown_tx: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    cluster: Arc<cluster::Cluster>,
    groups: Arc<groups::GroupCoordinator>,
}

impl BrokerHandle {
    /// The `host:port` to give clients as `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.advertise.clone()
    }

    /// The bound socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The cluster id reported in Metadata.
    pub fn cluster_id(&self) -> &str {
        &self.cluster.cluster_id
    }

    /// What start-up found (clean shutdown or recovery).
    pub fn startup_report(&self) -> &StartupReport {
        &self.report
    }

    /// Fault injection for this broker.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Number of fsyncs done on a partition's data so far (tests of `FsyncPolicy::Always`).
    pub fn fsync_count(&self, topic: &str, partition: i32) -> Option<u64> {
        Some(
            self.cluster
                .partition(topic, partition)?
                .log()
                .fsync_count(),
        )
    }

    /// The log end offset of a partition.
    pub fn log_end_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        Some(
            self.cluster
                .partition(topic, partition)?
                .log()
                .log_end_offset(),
        )
    }

    /// Simulates an unclean leader election on one partition (for tests of KIP-320 truncation
    /// detection): the log loses every record at or after `offset` — segments, offset and time
    /// indexes, epoch cache entries, producer state and snapshots past it — so the log end
    /// offset and high watermark become `offset`, and the partition's leader epoch is bumped
    /// and recorded as starting at `offset`. From then on Metadata reports the new epoch,
    /// requests carrying the old one get FENCED_LEADER_EPOCH, OffsetForLeaderEpoch for the
    /// old epoch answers `offset`, long-polling fetches wake up, and the next append gets
    /// offset `offset` and the new epoch. Returns the new leader epoch.
    ///
    /// Works on in-memory and on-disk logs; on disk the cut is synced and survives restarts
    /// (the epoch too, from the epoch cache).
    ///
    /// # Errors
    /// [`BrokerError::Fault`] for an unknown partition or an `offset` inside a stored batch
    /// (pick a batch boundary: a produce request's base offset, or the log end);
    /// [`BrokerError::Storage`] for an `offset` outside `[log start, log end]` or I/O errors.
    pub async fn truncate_partition(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<i32, BrokerError> {
        let p = self
            .cluster
            .partition(topic, partition)
            .ok_or_else(|| BrokerError::Fault(format!("no partition {topic}-{partition}")))?;
        // Taken first, as a produce under `--fsync always` does: no group commit runs while the
        // log is cut, and the synced offset is lowered to the new end afterwards.
        let mut synced = p.synced_to.lock().await;
        let part = p.clone();
        let epoch = tokio::task::spawn_blocking(move || -> Result<i32, BrokerError> {
            let mut log = part.log();
            let start = log.batch_start(offset)?;
            if start != offset {
                return Err(BrokerError::Fault(format!(
                    "offset {offset} is inside the batch starting at {start}; truncate at a batch boundary"
                )));
            }
            log.truncate_to(offset)?;
            // Moved under the log lock, which fetches hold while checking the epoch.
            let epoch = part.leader_epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            log.begin_leader_epoch(epoch)?;
            Ok(epoch)
        })
        .await
        .map_err(|e| BrokerError::Storage(format!("truncation task failed: {e}")))??;
        *synced = (*synced).min(offset);
        drop(synced);
        self.cluster.appends.send_modify(|v| *v = v.wrapping_add(1));
        tracing::info!(
            topic,
            partition,
            offset,
            leader_epoch = epoch,
            "injected an unclean leader election"
        );
        Ok(epoch)
    }

    /// Stops accepting, closes connections, flushes logs and offsets, writes the clean-shutdown
    /// marker.
    ///
    /// # Errors
    /// [`BrokerError`] if logs or offsets cannot be flushed.
    pub async fn shutdown(mut self) -> Result<(), BrokerError> {
        let _ = self.shutdown_tx.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        self.groups
            .shutdown()
            .await
            .map_err(|e| BrokerError::Groups(e.to_string()))?;
        let cluster = self.cluster.clone();
        tokio::task::spawn_blocking(move || cluster.shutdown())
            .await
            .map_err(|e| BrokerError::Storage(format!("shutdown task failed: {e}")))??;
        tracing::info!("broker stopped cleanly");
        Ok(())
    }
}

impl Drop for BrokerHandle {
    fn drop(&mut self) {
        let _ = self.shutdown_tx.send(true);
    }
}
