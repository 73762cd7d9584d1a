//! Typed errors for record batches, legacy message sets, compression and the builder.

use super::Compression;

/// A record batch (or legacy message) could not be decoded or validated.
///
/// Every decoding error names the base offset of the batch it was found in (for legacy message
/// sets: the offset of the top-level message), and the position of that batch in the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record batch at offset {batch_offset} (byte {position} of input): {kind}")]
#[non_exhaustive]
pub struct RecordError {
    /// Base offset of the batch (legacy: offset of the top-level message), as written in it.
    pub batch_offset: i64,
    /// Byte position of the batch in the input it was read from.
    pub position: usize,
    /// What went wrong.
    pub kind: RecordErrorKind,
}

impl RecordError {
    pub(crate) fn new(batch_offset: i64, position: usize, kind: RecordErrorKind) -> Self {
        Self {
            batch_offset,
            position,
            kind,
        }
    }
}

/// The kind of a [`RecordError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordErrorKind {
    /// The stored CRC does not match the bytes (CRC-32C for magic 2, CRC-32 for magic 0/1).
    #[error("CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch {
        /// CRC written in the batch.
        stored: u32,
        /// CRC computed over the bytes.
        computed: u32,
    },
    /// The magic byte is not 0, 1 or 2 (or not the one this operation supports).
    #[error("unsupported magic {0}")]
    UnsupportedMagic(i8),
    /// The batch (or message) length field is impossible: smaller than the fixed header.
    #[error("invalid batch length {0}")]
    InvalidLength(i64),
    /// A record inside the batch is malformed.
    #[error("record {index}: {reason}")]
    InvalidRecord {
        /// Index of the record within the batch (0-based).
        index: u32,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The batch header holds an impossible value.
    #[error("invalid batch header: {0}")]
    InvalidHeader(&'static str),
    /// The batch holds fewer records than its header declares.
    #[error("batch declares {declared} records but holds {found}")]
    RecordCountMismatch {
        /// Record count from the batch header.
        declared: i32,
        /// Records actually found.
        found: u32,
    },
    /// Bytes remain after the declared number of records.
    #[error("{0} bytes remain after the last record")]
    TrailingBytes(usize),
    /// The compression codec bits name no known codec.
    #[error("unknown compression codec {0}")]
    UnknownCompression(u8),
    /// Decompression failed.
    #[error(transparent)]
    Compression(#[from] CompressionError),
    /// A legacy compressed wrapper message contains another compressed message.
    #[error("nested compression in a legacy message set")]
    NestedCompression,
    /// A control record has a key or value that cannot be parsed.
    #[error("invalid control record: {0}")]
    InvalidControlRecord(&'static str),
}

/// A compression codec failed to compress or decompress.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompressionError {
    /// Decompressed output would exceed the configured limit.
    #[error("{codec:?} data inflates past the limit of {limit} bytes")]
    LimitExceeded {
        /// Codec in use.
        codec: Compression,
        /// The limit in bytes.
        limit: usize,
    },
    /// The compressed input is malformed.
    #[error("{codec:?} data is corrupt: {message}")]
    Corrupt {
        /// Codec in use.
        codec: Compression,
        /// The codec library's description.
        message: String,
    },
    /// The codec failed while compressing.
    #[error("{codec:?} compression failed: {message}")]
    Compress {
        /// Codec in use.
        codec: Compression,
        /// The codec library's description.
        message: String,
    },
}

/// A record batch could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A key, value, header key or header value is longer than `i32::MAX` bytes.
    #[error("{0} is longer than i32::MAX bytes")]
    TooLong(&'static str),
    /// The batch already holds `i32::MAX` records.
    #[error("too many records in one batch")]
    TooManyRecords,
    /// A timestamp delta, or the whole batch, does not fit the format.
    #[error("batch does not fit the format: {0}")]
    Overflow(&'static str),
    /// Compressing the records failed.
    #[error(transparent)]
    Compression(#[from] CompressionError),
}
