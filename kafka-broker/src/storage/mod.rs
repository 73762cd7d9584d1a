//! The broker's storage: one [`PartitionLog`] per partition, laid out on disk like Apache
//! Kafka's log (KIP-98 idempotence, KIP-101/279 leader epochs, KIP-74 fetch sizes, KIP-734
//! max timestamp, KIP-107 DeleteRecords).
//!
//! # On-disk layout
//!
//! ```text
//! <data>/<topic>-<partition>/                 partition_dir()
//!     00000000000000000000.log                batches exactly as produced: base offset and
//!                                             partition leader epoch rewritten, CRC verified
//!     00000000000000000000.index              sparse offset index: (relative offset u32,
//!                                             position u32) per index.interval.bytes (4096)
//!     00000000000000000000.timeindex          sparse time index: (max timestamp i64,
//!                                             relative offset u32)
//!     00000000000000001234.log/.index/...     next segment, named by its 20-digit base offset
//!     00000000000000001234.snapshot           idempotent-producer state at that offset (JSON)
//!     leader-epoch-checkpoint                 "0\n<n>\n<epoch> <start offset>\n..."
//!     recovery-point-offset-checkpoint        "0\n1\n<offset>\n": data below it is synced
//!     log-start-offset-checkpoint             "0\n1\n<offset>\n": after DeleteRecords/retention
//! ```
//!
//! A segment rolls when an append would take it past `segment.bytes`, when its records span
//! more than `segment.ms` (or [`PartitionLog::maybe_roll`] finds it older than that), or when
//! offsets would overflow the 32-bit relative offsets. Retention deletes whole segments,
//! oldest first and never the active one, by age of the newest record (`retention.ms`), by
//! total size (`retention.bytes`) and below the log start offset.
//!
//! Segment files are opened lazily through a shared [`FileCache`] (LRU, a bounded number of
//! descriptors), so thousands of partitions fit any `ulimit -n`. Appends are one `pwrite`;
//! reads find the position through the sparse index and usually take one `pread`.
//!
//! # Durability and recovery
//!
//! [`FsyncPolicy::Roll`] (default, Kafka's) leaves data in the page cache and syncs a segment
//! when it rolls and everything on [`PartitionLog::flush`] / [`PartitionLog::close`];
//! [`FsyncPolicy::Always`] syncs before each append returns. The recovery point (persisted
//! on roll, flush and close) is the offset below which data is known to be synced.
//!
//! On [`PartitionLog::open`] without a clean shutdown, every segment from the one holding
//! the recovery point (all segments if there is no checkpoint) is re-read: each batch's
//! length, magic, CRC-32C and offset order are verified, the segment is truncated at the
//! first bad or partial batch and every later segment deleted, and the indexes and leader
//! epoch cache are rebuilt from what was read. After a clean shutdown the indexes are trusted
//! and only the active segment's tail after its last index entry is checked. Either way the
//! producer state comes from the newest snapshot at or below the log end plus a replay of the
//! batch headers after it.

mod checkpoint;
mod config;
mod epoch_cache;
mod error;
mod file_cache;
mod index;
mod log;
mod producer_state;
mod recovery;
mod scan;
mod segment;
mod store;
mod time_index;
mod validate;

use std::path::{Path, PathBuf};

pub use config::{
    FsyncPolicy, LogConfig, DEFAULT_INDEX_INTERVAL_BYTES, DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_SEGMENT_BYTES, DEFAULT_SEVEN_DAYS_MS,
};
pub use error::StorageError;
pub use file_cache::{FileCache, DEFAULT_MAX_OPEN_FILES};
pub use log::{AppendResult, PartitionLog, ReadResult};

/// Name of the per-partition recovery point checkpoint.
pub(crate) const RECOVERY_POINT_CHECKPOINT: &str = "recovery-point-offset-checkpoint";
/// Name of the per-partition log start offset checkpoint.
pub(crate) const LOG_START_CHECKPOINT: &str = "log-start-offset-checkpoint";

/// What [`PartitionLog::open`] found and did.
#[derive(Debug, Clone, Default)]
pub struct RecoveryReport {
    /// Segments in the log after opening.
    pub segments: usize,
    /// Batches re-read and CRC-verified.
    pub batches_checked: u64,
    /// Bytes cut off (torn or corrupt tails, and segments after them).
    pub truncated_bytes: u64,
    /// The log was opened without recovery (clean shutdown, and the tail check passed).
    pub clean: bool,
}

/// The directory of a partition's log: `<data>/<topic>-<partition>`.
pub fn partition_dir(data: &Path, topic: &str, partition: i32) -> PathBuf {
    data.join(format!("{topic}-{partition}"))
}

/// Splits a partition directory name `<topic>-<partition>` (topic names may contain `-`).
pub fn parse_partition_dir(name: &str) -> Option<(&str, i32)> {
    let (topic, partition) = name.rsplit_once('-')?;
    if topic.is_empty() || !partition.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((topic, partition.parse().ok()?))
}

/// Milliseconds since the Unix epoch.
pub(crate) fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_can_move_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<PartitionLog>();
        send_sync::<FileCache>();
        send_sync::<StorageError>();
    }

    #[test]
    fn dir_names() {
        let dir = partition_dir(Path::new("/data"), "my-topic", 3);
        assert_eq!(dir, Path::new("/data/my-topic-3"));
        assert_eq!(parse_partition_dir("my-topic-3"), Some(("my-topic", 3)));
        assert_eq!(parse_partition_dir("topic"), None);
        assert_eq!(parse_partition_dir("-3"), None);
        assert_eq!(parse_partition_dir("t-x"), None);
    }
}
