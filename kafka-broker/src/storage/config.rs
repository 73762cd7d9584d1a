//! Per-log configuration: the topic configs that shape a partition's log (`segment.bytes`,
//! `segment.ms`, `retention.ms`, `retention.bytes`, `max.message.bytes`, `index.interval.bytes`,
//! `message.timestamp.type`) and the broker's flush policy.

/// When the log's data is synced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsyncPolicy {
    /// Apache Kafka's default: writes go to the page cache; a segment is synced when it rolls
    /// and every segment when the log is flushed or closed. A crash of the process loses
    /// nothing (the page cache survives); a crash of the machine may lose the unsynced tail,
    /// which recovery truncates to a CRC-valid prefix.
    #[default]
    Roll,
    /// Sync the data before [`append`](super::PartitionLog::append) returns, so an
    /// acknowledged produce survives a power loss.
    Always,
}

/// Configuration of one partition's log. [`Default`] gives Apache Kafka's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// `segment.bytes`: roll the active segment when an append would take it past this size
    /// (default 1 GiB; values above `i32::MAX` are treated as `i32::MAX`, as positions in the
    /// offset index are 32-bit).
    pub segment_bytes: u64,
    /// `segment.ms`: roll the active segment once it is this old (default 7 days).
    pub segment_ms: i64,
    /// `retention.ms`: delete a segment once its newest record is older than this
    /// (default 7 days; -1 keeps data forever).
    pub retention_ms: i64,
    /// `retention.bytes`: delete the oldest segments while the log is larger than this
    /// (default -1, unlimited).
    pub retention_bytes: i64,
    /// `max.message.bytes`: largest record batch accepted (default 1048588).
    pub max_message_bytes: usize,
    /// `index.interval.bytes`: bytes of batches between two offset-index entries
    /// (default 4096).
    pub index_interval_bytes: usize,
    /// `message.timestamp.type=LogAppendTime`: the broker stamps each batch with the append
    /// time (default `false`: CreateTime, the producer's timestamps are kept).
    pub message_timestamp_type_log_append: bool,
    /// When data is synced to disk (default [`FsyncPolicy::Roll`]).
    pub fsync: FsyncPolicy,
}

/// Kafka's default `segment.bytes`: 1 GiB.
pub const DEFAULT_SEGMENT_BYTES: u64 = 1 << 30;
/// Kafka's default `segment.ms` and `retention.ms`: 7 days.
pub const DEFAULT_SEVEN_DAYS_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Kafka's default `max.message.bytes`: 1 MiB plus the record-batch overhead.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_048_588;
/// Kafka's default `index.interval.bytes`.
pub const DEFAULT_INDEX_INTERVAL_BYTES: usize = 4096;

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            segment_ms: DEFAULT_SEVEN_DAYS_MS,
            retention_ms: DEFAULT_SEVEN_DAYS_MS,
            retention_bytes: -1,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            index_interval_bytes: DEFAULT_INDEX_INTERVAL_BYTES,
            message_timestamp_type_log_append: false,
            fsync: FsyncPolicy::Roll,
        }
    }
}

impl LogConfig {
    /// `segment.bytes` clamped to what 32-bit index positions can address.
    pub(crate) fn effective_segment_bytes(&self) -> u64 {
        self.segment_bytes.clamp(1, i32::MAX as u64)
    }
}
