//! [`StorageError`]: everything a log operation can fail with, and the Kafka error code each
//! failure is reported as.

use std::path::PathBuf;

use kafka_proto::record::RecordError;
use kafka_proto::ErrorCode;

/// A log operation failed. [`StorageError::error_code`] gives the code for the response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// Reading, writing or syncing a file failed (`KAFKA_STORAGE_ERROR`). The message names
    /// the file; the [`std::io::ErrorKind`] is the original one.
    #[error("I/O error: {0}")]
    Io(#[source] std::io::Error),
    /// A record batch failed validation: bad CRC, impossible length, unknown codec
    /// (`CORRUPT_MESSAGE`).
    #[error("corrupt record batch: {0}")]
    Corrupt(#[source] RecordError),
    /// The records ended in the middle of a batch (`CORRUPT_MESSAGE`).
    #[error(
        "truncated record batch at byte {position}: {available} bytes present, {needed:?} needed"
    )]
    Truncated {
        /// Byte position of the partial batch in the request's records.
        position: usize,
        /// Bytes of it present.
        available: usize,
        /// Its declared size, if the length field was present.
        needed: Option<usize>,
    },
    /// A batch is larger than `max.message.bytes` (`MESSAGE_TOO_LARGE`).
    #[error("record batch of {size} bytes exceeds max.message.bytes {max}")]
    MessageTooLarge {
        /// Size of the batch.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The records of one append are larger than `segment.bytes` (`RECORD_LIST_TOO_LARGE`).
    #[error("{size} bytes of records exceed segment.bytes {max}")]
    RecordListTooLarge {
        /// Size of the records.
        size: usize,
        /// The segment size.
        max: u64,
    },
    /// The offset is outside `[log start, log end]` (`OFFSET_OUT_OF_RANGE`).
    #[error("offset {offset} is out of range [{start}, {end}]")]
    OffsetOutOfRange {
        /// The requested offset.
        offset: i64,
        /// Log start offset.
        start: i64,
        /// Log end offset.
        end: i64,
    },
    /// The batch's first sequence does not follow the producer's last one
    /// (`OUT_OF_ORDER_SEQUENCE_NUMBER`).
    #[error("out of order sequence for producer {producer_id} epoch {epoch}: got {got}, expected {expected}")]
    OutOfOrderSequence {
        /// The producer id.
        producer_id: i64,
        /// The batch's producer epoch.
        epoch: i16,
        /// The batch's first sequence.
        got: i32,
        /// The sequence the log expected (0 for a new epoch).
        expected: i32,
    },
    /// The batch's producer epoch is older than the one the log knows
    /// (`INVALID_PRODUCER_EPOCH`).
    #[error("producer {producer_id} epoch {epoch} is older than the current epoch {current}")]
    InvalidProducerEpoch {
        /// The producer id.
        producer_id: i64,
        /// The batch's epoch.
        epoch: i16,
        /// The epoch the log knows.
        current: i16,
    },
    /// The producer id is not known to the log (`UNKNOWN_PRODUCER_ID`). Kafka 2.5+ (KIP-360)
    /// accepts any sequence from a producer it has no state for, so [`PartitionLog::append`]
    /// does not return this; it is kept for callers that want to reject such producers.
    ///
    /// [`PartitionLog::append`]: super::PartitionLog::append
    #[error("unknown producer id {producer_id}")]
    UnknownProducerId {
        /// The producer id.
        producer_id: i64,
    },
    /// The batch is well formed but not acceptable from a client: legacy magic 0/1, a
    /// non-zero base offset, a control batch, an inconsistent record count, a negative
    /// sequence (`INVALID_RECORD`).
    #[error("invalid record batch: {0}")]
    InvalidRecord(String),
    /// Data on disk contradicts the log's metadata (`KAFKA_STORAGE_ERROR`).
    #[error("log {} is inconsistent: {reason}", path.display())]
    Inconsistent {
        /// The segment file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl StorageError {
    /// The Kafka error code to answer with.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::Io(_) | Self::Inconsistent { .. } => ErrorCode::KafkaStorageError,
            Self::Corrupt(_) | Self::Truncated { .. } => ErrorCode::CorruptMessage,
            Self::MessageTooLarge { .. } => ErrorCode::MessageTooLarge,
            Self::RecordListTooLarge { .. } => ErrorCode::RecordListTooLarge,
            Self::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
            Self::OutOfOrderSequence { .. } => ErrorCode::OutOfOrderSequenceNumber,
            Self::InvalidProducerEpoch { .. } => ErrorCode::InvalidProducerEpoch,
            Self::UnknownProducerId { .. } => ErrorCode::UnknownProducerId,
            Self::InvalidRecord(_) => ErrorCode::InvalidRecord,
        }
    }

    /// An [`StorageError::Io`] for `path` (use as `.map_err(|e| StorageError::io(path, e))`).
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io(std::io::Error::new(
            source.kind(),
            format!("{}: {source}", path.display()),
        ))
    }
}
