//! Writing: [`RecordBatchBuilder`] appends records into a magic-2 batch under a byte budget and
//! closes it (compression, counts, deltas, timestamps, CRC).
//!
//! Uncompressed records are encoded straight into the output buffer behind a reserved header,
//! so each payload is copied exactly once; compressed batches encode into a staging buffer that
//! the codec reads once.

use bytes::Bytes;

use super::batch::{
    Attributes, BatchHeader, TimestampType, ATTRIBUTES_OFFSET, BATCH_HEADER_SIZE, CRC_OFFSET,
    LOG_OVERHEAD,
};
use super::control::ControlRecord;
use super::error::BuildError;
use super::records::Header;
use super::varint::{varint_size, varlong_size, write_varint, write_varlong};
use super::{crc32c, Compression};

/// Options for a [`RecordBatchBuilder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BuilderOptions {
    /// Codec for the batch (default none).
    pub compression: Compression,
    /// Codec level (`None`: Kafka's default for the codec), see [`Compression::compress`].
    pub level: Option<i32>,
    /// Byte budget: a record that would take the batch's uncompressed size past this is refused
    /// (unless the batch is empty: a single oversized record always gets a batch of its own).
    /// Default 16 KiB, Kafka's `batch.size`.
    pub max_bytes: usize,
    /// Timestamp type attribute (default create time).
    pub timestamp_type: TimestampType,
    /// Mark the batch transactional (KIP-98).
    pub transactional: bool,
    /// Mark the batch as a control batch.
    pub control: bool,
}

impl Default for BuilderOptions {
    fn default() -> Self {
        Self {
            compression: Compression::None,
            level: None,
            max_bytes: 16 * 1024,
            timestamp_type: TimestampType::CreateTime,
            transactional: false,
            control: false,
        }
    }
}

impl BuilderOptions {
    /// Sets the codec.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Sets the codec level.
    pub fn level(mut self, level: Option<i32>) -> Self {
        self.level = level;
        self
    }

    /// Sets the byte budget.
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Sets the timestamp type.
    pub fn timestamp_type(mut self, timestamp_type: TimestampType) -> Self {
        self.timestamp_type = timestamp_type;
        self
    }

    /// Sets the transactional flag.
    pub fn transactional(mut self, transactional: bool) -> Self {
        self.transactional = transactional;
        self
    }

    /// Sets the control flag.
    pub fn control(mut self, control: bool) -> Self {
        self.control = control;
        self
    }
}

/// Fields fixed when a batch is closed: where it goes and who produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMeta {
    /// Offset of the first record (0 from producers; the broker rewrites it).
    pub base_offset: i64,
    /// Partition leader epoch (-1 from producers).
    pub partition_leader_epoch: i32,
    /// Producer id (-1 when not idempotent).
    pub producer_id: i64,
    /// Producer epoch (-1 when not idempotent).
    pub producer_epoch: i16,
    /// Sequence of the first record (-1 when not idempotent).
    pub base_sequence: i32,
}

impl Default for BatchMeta {
    fn default() -> Self {
        Self {
            base_offset: 0,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
        }
    }
}

/// Builds one magic-2 record batch.
///
/// ```
/// use kafka_proto::record::{BatchMeta, BuilderOptions, Compression, Header, RecordBatchBuilder};
///
/// let mut b = RecordBatchBuilder::new(BuilderOptions::default().compression(Compression::Lz4));
/// let headers = [Header::new("trace", Some(b"abc"))];
/// assert!(b.try_append(1_700_000_000_000, Some(b"key"), Some(b"value"), &headers)?);
/// assert!(b.try_append(1_700_000_000_001, None, None, &[])?);
/// let batch = b.finish(&BatchMeta::default())?;
/// assert_eq!(batch.len() > 61, true);
/// # Ok::<(), kafka_proto::record::BuildError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RecordBatchBuilder {
    options: BuilderOptions,
    /// Uncompressed: header space followed by records. Compressed: records only.
    buf: Vec<u8>,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
}

impl RecordBatchBuilder {
    /// An empty builder.
    pub fn new(options: BuilderOptions) -> Self {
        let mut buf = Vec::with_capacity(options.max_bytes.clamp(BATCH_HEADER_SIZE, 1 << 20));
        if options.compression == Compression::None {
            buf.resize(BATCH_HEADER_SIZE, 0);
        }
        Self {
            options,
            buf,
            count: 0,
            base_timestamp: -1,
            max_timestamp: -1,
        }
    }

    /// Number of records appended.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether no record has been appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size of the batch so far, header included, before compression.
    pub fn estimated_size(&self) -> usize {
        if self.options.compression == Compression::None {
            self.buf.len()
        } else {
            BATCH_HEADER_SIZE + self.buf.len()
        }
    }

    /// Encoded size of a record with these fields at this position in the batch.
    fn record_body_size(
        &self,
        timestamp_delta: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header<'_>],
    ) -> Result<usize, BuildError> {
        fn field(f: Option<&[u8]>, what: &'static str) -> Result<usize, BuildError> {
            match f {
                None => Ok(1),
                Some(b) => {
                    let len = i32::try_from(b.len()).map_err(|_| BuildError::TooLong(what))?;
                    Ok(varint_size(len) + b.len())
                }
            }
        }
        let header_count =
            i32::try_from(headers.len()).map_err(|_| BuildError::TooLong("headers"))?;
        let mut size = 1
            + varlong_size(timestamp_delta)
            + varint_size(self.count)
            + field(key, "key")?
            + field(value, "value")?
            + varint_size(header_count);
        for h in headers {
            size += field(Some(h.key), "header key")? + field(h.value, "header value")?;
        }
        Ok(size)
    }

    /// Appends a record if it fits the byte budget.
    ///
    /// Returns `Ok(false)` (and appends nothing) when the batch is not empty and the record would
    /// take it past [`BuilderOptions::max_bytes`]; the first record is always accepted.
    ///
    /// # Errors
    /// [`BuildError::TooLong`] if a field is longer than `i32::MAX` bytes,
    /// [`BuildError::TooManyRecords`] if the batch already holds `i32::MAX` records.
    pub fn try_append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header<'_>],
    ) -> Result<bool, BuildError> {
        if self.count == i32::MAX {
            return Err(BuildError::TooManyRecords);
        }
        let base = if self.count == 0 {
            timestamp
        } else {
            self.base_timestamp
        };
        let timestamp_delta = timestamp.wrapping_sub(base);
        let body = self.record_body_size(timestamp_delta, key, value, headers)?;
        let body_len = i32::try_from(body).map_err(|_| BuildError::TooLong("record"))?;
        let total = varint_size(body_len) + body;
        if self.count > 0 && self.estimated_size().saturating_add(total) > self.options.max_bytes {
            return Ok(false);
        }
        let out = &mut self.buf;
        out.reserve(total);
        write_varint(out, body_len);
        out.push(0); // record attributes
        write_varlong(out, timestamp_delta);
        write_varint(out, self.count);
        write_nullable(out, key);
        write_nullable(out, value);
        write_varint(out, headers.len() as i32);
        for h in headers {
            write_nullable(out, Some(h.key));
            write_nullable(out, h.value);
        }
        if self.count == 0 {
            self.base_timestamp = timestamp;
            self.max_timestamp = timestamp;
        } else if timestamp > self.max_timestamp {
            self.max_timestamp = timestamp;
        }
        self.count += 1;
        Ok(true)
    }

    /// Closes the batch: compresses the records, fills in the header and the CRC.
    ///
    /// # Errors
    /// [`BuildError::Compression`] if the codec fails; [`BuildError::Overflow`] if the batch
    /// would be longer than `i32::MAX` bytes.
    pub fn finish(self, meta: &BatchMeta) -> Result<Bytes, BuildError> {
        let Self {
            options,
            buf,
            count,
            base_timestamp,
            max_timestamp,
        } = self;
        let mut out = if options.compression == Compression::None {
            buf
        } else {
            let mut out = Vec::with_capacity(BATCH_HEADER_SIZE + buf.len() / 2 + 64);
            out.resize(BATCH_HEADER_SIZE, 0);
            options
                .compression
                .compress(&buf, options.level, &mut out)?;
            out
        };
        let batch_length = i32::try_from(out.len() - LOG_OVERHEAD)
            .map_err(|_| BuildError::Overflow("batch longer than i32::MAX bytes"))?;
        let header = BatchHeader {
            base_offset: meta.base_offset,
            batch_length,
            partition_leader_epoch: meta.partition_leader_epoch,
            magic: 2,
            crc: 0,
            attributes: Attributes::new(
                options.compression,
                options.timestamp_type,
                options.transactional,
                options.control,
            ),
            last_offset_delta: count.saturating_sub(1).max(0),
            base_timestamp,
            max_timestamp,
            producer_id: meta.producer_id,
            producer_epoch: meta.producer_epoch,
            base_sequence: meta.base_sequence,
            records_count: count,
        };
        let (head, _) = out
            .split_first_chunk_mut::<BATCH_HEADER_SIZE>()
            .ok_or(BuildError::Overflow("batch shorter than its header"))?;
        header.write_v2(head);
        let crc = crc32c(out.get(ATTRIBUTES_OFFSET..).unwrap_or_default());
        if let Some(slot) = out.get_mut(CRC_OFFSET..CRC_OFFSET + 4) {
            slot.copy_from_slice(&crc.to_be_bytes());
        }
        Ok(Bytes::from(out))
    }

    /// Builds a transactional control batch holding one transaction marker.
    ///
    /// # Errors
    /// As [`RecordBatchBuilder::finish`].
    pub fn control_batch(
        marker: ControlRecord,
        timestamp: i64,
        meta: &BatchMeta,
    ) -> Result<Bytes, BuildError> {
        let mut b = Self::new(
            BuilderOptions::default()
                .transactional(true)
                .control(true)
                .max_bytes(BATCH_HEADER_SIZE + 64),
        );
        let key = marker.encode_key();
        let value = marker.encode_value();
        b.try_append(timestamp, Some(&key), value.as_ref().map(|v| &v[..]), &[])?;
        b.finish(meta)
    }
}

#[inline(always)]
fn write_nullable(out: &mut Vec<u8>, f: Option<&[u8]>) {
    match f {
        None => write_varint(out, -1),
        Some(b) => {
            // Lengths were checked to fit i32 in `record_body_size`.
            write_varint(out, b.len() as i32);
            out.extend_from_slice(b);
        }
    }
}
