//! The broker's state: topics, partitions and their logs, persisted topic metadata.
//!
//! Ownership and locking (one place, a few well-scoped locks):
//! * `Cluster::topics` (an `RwLock` over name → `Arc<Topic>`) is held only to look up, insert or
//!   remove a topic, never across I/O or an `.await`.
//! * Each `Partition` owns its `PartitionLog` behind a `Mutex`; appends, reads and retention of
//!   one partition serialise there, different partitions run in parallel.
//! * Topic metadata (names, ids, partition counts, config overrides) and the producer-id counter
//!   are written to `<data>/meta.json` (temp file + rename) under `Cluster::meta_lock` whenever
//!   they change.
//! * `Cluster::appends` (a `watch` counter) is bumped after every append; long-polling fetches
//!   wait on it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use kafka_proto::{ErrorCode, Uuid};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::config::{BrokerConfig, Storage};
use crate::storage::{
    partition_dir, FileCache, FsyncPolicy, LogConfig, PartitionLog, RecoveryReport, StorageError,
};
use crate::topic_config;
use crate::BrokerError;

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// One partition: its log and leadership state.
pub(crate) struct Partition {
    pub index: i32,
    log: Mutex<PartitionLog>,
    pub leader_epoch: AtomicI32,
    /// Group commit under `--fsync always`: the log end offset known to be on disk. Produce
    /// requests wait here after appending; the first one in syncs everything appended so far,
    /// and the others find their data already covered.
    pub synced_to: tokio::sync::Mutex<i64>,
}

impl Partition {
    fn new(index: i32, log: PartitionLog) -> Arc<Partition> {
        // A single broker is always the leader; its epoch only moves when a truncation is
        // injected (`BrokerHandle::truncate_partition`), and the log's epoch cache keeps it
        // across restarts.
        let epoch = log.latest_epoch().unwrap_or(0).max(0);
        Arc::new(Partition {
            index,
            log: Mutex::new(log),
            leader_epoch: AtomicI32::new(epoch),
            synced_to: tokio::sync::Mutex::new(0),
        })
    }

    /// Locks the log. A poisoned lock (a panic while holding it) is recovered: the log's own
    /// invariants are kept by each call being all-or-nothing.
    pub fn log(&self) -> MutexGuard<'_, PartitionLog> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A topic.
pub(crate) struct Topic {
    pub name: String,
    pub id: Uuid,
    pub internal: bool,
    configs: Mutex<BTreeMap<String, String>>,
    partitions: RwLock<Vec<Arc<Partition>>>,
}

impl Topic {
    pub fn partitions(&self) -> Vec<Arc<Partition>> {
        self.partitions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn partition(&self, index: i32) -> Option<Arc<Partition>> {
        let parts = self.partitions.read().unwrap_or_else(|p| p.into_inner());
        usize::try_from(index)
            .ok()
            .and_then(|i| parts.get(i).cloned())
    }

    pub fn partition_count(&self) -> i32 {
        self.partitions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .len() as i32
    }

    /// The topic's config overrides.
    pub fn configs(&self) -> BTreeMap<String, String> {
        self.configs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[derive(Serialize, Deserialize, Default)]
struct Meta {
    cluster_id: String,
    next_producer_id: i64,
    topics: Vec<TopicMeta>,
}

#[derive(Serialize, Deserialize)]
struct TopicMeta {
    name: String,
    id: String,
    partitions: i32,
    #[serde(default)]
    configs: BTreeMap<String, String>,
}

/// What start-up found.
#[derive(Debug, Clone, Default)]
pub struct StartupReport {
    /// Whether the previous run shut down cleanly (or there was none).
    pub clean: bool,
    /// Topics loaded.
    pub topics: usize,
    /// Partitions opened.
    pub partitions: usize,
    /// Batches whose CRC was checked during recovery.
    pub batches_checked: u64,
    /// Bytes cut off torn log tails.
    pub truncated_bytes: u64,
}

pub(crate) struct Cluster {
    pub config: BrokerConfig,
    pub cluster_id: String,
    data_dir: Option<PathBuf>,
    files: Arc<FileCache>,
    topics: RwLock<HashMap<String, Arc<Topic>>>,
    next_producer_id: AtomicI64,
    meta_lock: Mutex<()>,
    pub appends: watch::Sender<u64>,
}

const CLEAN_MARKER: &str = ".clean-shutdown";
const META_FILE: &str = "meta.json";

fn random_uuid() -> Uuid {
    // Not cryptographic: ids only need to be unique within a development cluster.
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut out = [0u8; 16];
    for chunk in out.chunks_mut(8) {
        let mut h = RandomState::new().build_hasher();
        h.write_i64(now_ms());
        h.write_u128(std::time::Instant::now().elapsed().as_nanos());
        chunk.copy_from_slice(&h.finish().to_be_bytes());
    }
    Uuid(out)
}

fn uuid_hex(u: &Uuid) -> String {
    u.0.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_uuid_hex(s: &str) -> Option<Uuid> {
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(Uuid(out))
}

/// Kafka's topic name rule: 1-249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub(crate) fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl Cluster {
    /// Opens (or creates) the cluster state, recovering logs when the last run did not shut down
    /// cleanly.
    pub fn open(config: BrokerConfig) -> Result<(Arc<Cluster>, StartupReport), BrokerError> {
        let files = FileCache::new(config.max_open_files);
        let mut report = StartupReport {
            clean: true,
            ..Default::default()
        };
        let (data_dir, meta) = match &config.storage {
            Storage::Memory => (None, Meta::default()),
            Storage::Dir(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| BrokerError::io(dir, e))?;
                let meta_path = dir.join(META_FILE);
                let meta = match std::fs::read(&meta_path) {
                    Ok(b) => serde_json::from_slice::<Meta>(&b).map_err(|e| {
                        BrokerError::Corrupt(format!("{}: {e}", meta_path.display()))
                    })?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Meta::default(),
                    Err(e) => return Err(BrokerError::io(&meta_path, e)),
                };
                let marker = dir.join(CLEAN_MARKER);
                let had_data = !meta.topics.is_empty();
                report.clean = !had_data || marker.exists();
                // Remove the marker now, so a crash from here on is detected next time.
                match std::fs::remove_file(&marker) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(BrokerError::io(&marker, e)),
                }
                (Some(dir.clone()), meta)
            }
        };
        let cluster_id = if meta.cluster_id.is_empty() {
            let u = random_uuid();
            // Kafka cluster ids are 22 characters of URL-safe base64; hex of 16 bytes cut to 22
            // is as good an identifier and avoids a dependency.
            uuid_hex(&u).chars().take(22).collect()
        } else {
            meta.cluster_id.clone()
        };
        let (appends, _) = watch::channel(0);
        let cluster = Arc::new(Cluster {
            cluster_id,
            data_dir,
            files,
            topics: RwLock::new(HashMap::new()),
            next_producer_id: AtomicI64::new(meta.next_producer_id.max(1000)),
            meta_lock: Mutex::new(()),
            appends,
            config,
        });
        for t in &meta.topics {
            let id = parse_uuid_hex(&t.id).ok_or_else(|| {
                BrokerError::Corrupt(format!("topic {}: bad id {}", t.name, t.id))
            })?;
            let log_cfg = topic_config::log_config(&cluster.config.log, &t.configs);
            let mut parts = Vec::new();
            for p in 0..t.partitions {
                let (log, r) = cluster.open_log(&t.name, p, log_cfg.clone(), report.clean)?;
                report.batches_checked += r.batches_checked;
                report.truncated_bytes += r.truncated_bytes;
                report.partitions += 1;
                parts.push(Partition::new(p, log));
            }
            let topic = Arc::new(Topic {
                internal: t.name.starts_with("__"),
                name: t.name.clone(),
                id,
                configs: Mutex::new(t.configs.clone()),
                partitions: RwLock::new(parts),
            });
            cluster.topics_mut().insert(t.name.clone(), topic);
            report.topics += 1;
        }
        cluster.save_meta()?;
        Ok((cluster, report))
    }

    fn open_log(
        &self,
        topic: &str,
        partition: i32,
        cfg: LogConfig,
        clean: bool,
    ) -> Result<(PartitionLog, RecoveryReport), BrokerError> {
        // With `--fsync always` the broker syncs after appends itself (group commit, see
        // `Partition::synced_to`), so logs never sync inside `append`.
        let mut cfg = cfg;
        cfg.fsync = FsyncPolicy::Roll;
        match &self.data_dir {
            None => Ok((PartitionLog::in_memory(cfg), RecoveryReport::default())),
            Some(dir) => {
                let pdir = partition_dir(dir, topic, partition);
                PartitionLog::open(&pdir, cfg, clean, self.files.clone())
                    .map_err(|e| BrokerError::Storage(format!("{}: {e}", pdir.display())))
            }
        }
    }

    fn topics_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<Topic>>> {
        self.topics.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }

    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    pub fn topic_by_id(&self, id: &Uuid) -> Option<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .find(|t| t.id == *id)
            .cloned()
    }

    /// Every topic, sorted by name.
    pub fn topics(&self) -> Vec<Arc<Topic>> {
        let mut v: Vec<_> = self
            .topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    pub fn partition(&self, topic: &str, index: i32) -> Option<Arc<Partition>> {
        self.topic(topic)?.partition(index)
    }

    /// A new producer id (persisted, so ids are not reused after a restart).
    pub fn allocate_producer_id(&self) -> Result<i64, BrokerError> {
        let id = self.next_producer_id.fetch_add(1, Ordering::SeqCst);
        self.save_meta()?;
        Ok(id)
    }

    /// Creates a topic. `Err` carries the Kafka error and a message.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<Option<Arc<Topic>>, (ErrorCode, String)> {
        if !valid_topic_name(name) {
            return Err((
                ErrorCode::InvalidTopicException,
                format!("Topic name {name:?} is illegal: use 1-249 of [a-zA-Z0-9._-]"),
            ));
        }
        if partitions < 1 {
            return Err((
                ErrorCode::InvalidPartitions,
                "Number of partitions must be at least 1".into(),
            ));
        }
        if partitions > 100_000 {
            return Err((
                ErrorCode::InvalidPartitions,
                format!("{partitions} partitions is too many"),
            ));
        }
        for (k, v) in &configs {
            topic_config::validate(k, v).map_err(|m| (ErrorCode::InvalidConfig, m))?;
        }
        if self.topic(name).is_some() {
            return Err((
                ErrorCode::TopicAlreadyExists,
                format!("Topic '{name}' already exists."),
            ));
        }
        if validate_only {
            return Ok(None);
        }
        let log_cfg = topic_config::log_config(&self.config.log, &configs);
        let mut parts = Vec::new();
        for p in 0..partitions {
            let (log, _) = self
                .open_log(name, p, log_cfg.clone(), true)
                .map_err(|e| (ErrorCode::KafkaStorageError, e.to_string()))?;
            parts.push(Partition::new(p, log));
        }
        let topic = Arc::new(Topic {
            internal: name.starts_with("__"),
            name: name.to_owned(),
            id: random_uuid(),
            configs: Mutex::new(configs),
            partitions: RwLock::new(parts),
        });
        {
            let mut map = self.topics_mut();
            if map.contains_key(name) {
                return Err((
                    ErrorCode::TopicAlreadyExists,
                    format!("Topic '{name}' already exists."),
                ));
            }
            map.insert(name.to_owned(), topic.clone());
        }
        self.save_meta()
            .map_err(|e| (ErrorCode::KafkaStorageError, e.to_string()))?;
        tracing::info!(topic = name, partitions, "created topic");
        Ok(Some(topic))
    }

    /// Creates `name` with the default partition count if auto-creation is on and the name is
    /// valid. Returns the topic if it exists afterwards.
    pub fn auto_create(&self, name: &str) -> Option<Arc<Topic>> {
        if let Some(t) = self.topic(name) {
            return Some(t);
        }
        if !self.config.auto_create_topics || !valid_topic_name(name) {
            return None;
        }
        match self.create_topic(name, self.config.default_partitions, BTreeMap::new(), false) {
            Ok(t) => t,
            Err((ErrorCode::TopicAlreadyExists, _)) => self.topic(name),
            Err((code, msg)) => {
                tracing::warn!(topic = name, %code, msg, "auto-create failed");
                None
            }
        }
    }

    /// Deletes a topic and its data.
    pub fn delete_topic(&self, name: &str) -> Result<(), ErrorCode> {
        let topic = self
            .topics_mut()
            .remove(name)
            .ok_or(ErrorCode::UnknownTopicOrPartition)?;
        self.save_meta().map_err(|_| ErrorCode::KafkaStorageError)?;
        for p in topic.partitions() {
            let log =
                std::mem::replace(&mut *p.log(), PartitionLog::in_memory(LogConfig::default()));
            if let Err(e) = log.delete() {
                tracing::warn!(topic = name, partition = p.index, error = %e, "deleting partition data");
            }
        }
        self.appends.send_modify(|v| *v += 1);
        tracing::info!(topic = name, "deleted topic");
        Ok(())
    }

    /// Grows a topic to `total` partitions.
    pub fn add_partitions(
        &self,
        name: &str,
        total: i32,
        validate_only: bool,
    ) -> Result<(), (ErrorCode, String)> {
        let topic = self.topic(name).ok_or((
            ErrorCode::UnknownTopicOrPartition,
            format!("Topic '{name}' does not exist."),
        ))?;
        let current = topic.partition_count();
        if total <= current {
            return Err((
                ErrorCode::InvalidPartitions,
                format!("Topic currently has {current} partitions, which is higher than or equal to the requested {total}."),
            ));
        }
        if total > 100_000 {
            return Err((
                ErrorCode::InvalidPartitions,
                format!("{total} partitions is too many"),
            ));
        }
        if validate_only {
            return Ok(());
        }
        let log_cfg = topic_config::log_config(&self.config.log, &topic.configs());
        let mut new = Vec::new();
        for p in current..total {
            let (log, _) = self
                .open_log(name, p, log_cfg.clone(), true)
                .map_err(|e| (ErrorCode::KafkaStorageError, e.to_string()))?;
            new.push(Partition::new(p, log));
        }
        topic
            .partitions
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .extend(new);
        self.save_meta()
            .map_err(|e| (ErrorCode::KafkaStorageError, e.to_string()))?;
        Ok(())
    }

    /// Replaces a topic's config overrides (already validated) and applies them to its logs.
    /// Whether produce acknowledgements wait for an fsync.
    pub fn sync_before_ack(&self) -> bool {
        self.config.log.fsync == FsyncPolicy::Always && self.data_dir.is_some()
    }

    pub fn set_topic_configs(
        &self,
        topic: &Topic,
        configs: BTreeMap<String, String>,
    ) -> Result<(), BrokerError> {
        let mut log_cfg = topic_config::log_config(&self.config.log, &configs);
        log_cfg.fsync = FsyncPolicy::Roll;
        *topic.configs.lock().unwrap_or_else(|p| p.into_inner()) = configs;
        for p in topic.partitions() {
            p.log().set_config(log_cfg.clone());
        }
        self.save_meta()
    }

    fn save_meta(&self) -> Result<(), BrokerError> {
        let Some(dir) = &self.data_dir else {
            return Ok(());
        };
        let _guard = self.meta_lock.lock().unwrap_or_else(|p| p.into_inner());
        let meta = Meta {
            cluster_id: self.cluster_id.clone(),
            next_producer_id: self.next_producer_id.load(Ordering::SeqCst),
            topics: self
                .topics()
                .iter()
                .map(|t| TopicMeta {
                    name: t.name.clone(),
                    id: uuid_hex(&t.id),
                    partitions: t.partition_count(),
                    configs: t.configs(),
                })
                .collect(),
        };
        let bytes = serde_json::to_vec_pretty(&meta)
            .map_err(|e| BrokerError::Corrupt(format!("encoding metadata: {e}")))?;
        let tmp = dir.join(format!("{META_FILE}.tmp"));
        let path = dir.join(META_FILE);
        (|| -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        })()
        .map_err(|e| BrokerError::io(&path, e))
    }

    /// Retention and time-based rolling for every partition.
    pub fn housekeeping(&self) {
        let now = now_ms();
        for t in self.topics() {
            for p in t.partitions() {
                let mut log = p.log();
                if let Err(e) = log.maybe_roll(now) {
                    tracing::warn!(topic = %t.name, partition = p.index, error = %e, "segment roll");
                }
                match log.apply_retention(now) {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::debug!(topic = %t.name, partition = p.index, segments = n, "retention")
                    }
                    Err(e) => {
                        tracing::warn!(topic = %t.name, partition = p.index, error = %e, "retention")
                    }
                }
            }
        }
    }

    /// Closes every log (flushing and writing checkpoints) and writes the clean-shutdown marker.
    pub fn shutdown(&self) -> Result<(), BrokerError> {
        self.save_meta()?;
        let mut failed = false;
        for t in self.topics() {
            for p in t.partitions() {
                let log =
                    std::mem::replace(&mut *p.log(), PartitionLog::in_memory(LogConfig::default()));
                if let Err(e) = log.close() {
                    failed = true;
                    tracing::error!(topic = %t.name, partition = p.index, error = %e, "closing log");
                }
            }
        }
        if let (Some(dir), false) = (&self.data_dir, failed) {
            let marker = dir.join(CLEAN_MARKER);
            std::fs::write(&marker, b"").map_err(|e| BrokerError::io(&marker, e))?;
        }
        Ok(())
    }
}

impl From<StorageError> for BrokerError {
    fn from(e: StorageError) -> Self {
        BrokerError::Storage(e.to_string())
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("cluster_id", &self.cluster_id)
            .finish_non_exhaustive()
    }
}
