//! Reading: [`RecordBatches`] walks a buffer of batches (a Fetch partition's `records`, a log
//! segment, a Produce request's records) and yields each [`Batch`] with its header parsed and CRC
//! verified; [`Batch::records`] then iterates the records lazily.
//!
//! Nothing is copied for uncompressed batches: records borrow from the input [`Bytes`]. A
//! compressed batch is inflated once, into one buffer, the first time its records are read.

use std::sync::OnceLock;

use bytes::Bytes;

use super::batch::{
    BatchHeader, TimestampType, ATTRIBUTES_OFFSET, BATCH_HEADER_SIZE, HEADER_SIZE_UP_TO_MAGIC,
    LEGACY_MIN_LENGTH, LOG_OVERHEAD, MAGIC_OFFSET,
};
use super::compression::DEFAULT_DECOMPRESSION_LIMIT;
use super::error::{RecordError, RecordErrorKind};
use super::legacy::{self, LegacyEntry};
use super::records::Records;
use super::{crc32c, Compression};

/// Options for reading batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Verify each batch's CRC before yielding it (default `true`).
    pub verify_crc: bool,
    /// Largest decompressed size of one batch, in bytes (default
    /// [`DEFAULT_DECOMPRESSION_LIMIT`], 256 MiB).
    pub decompression_limit: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            verify_crc: true,
            decompression_limit: DEFAULT_DECOMPRESSION_LIMIT,
        }
    }
}

impl ReadOptions {
    /// Sets whether CRCs are verified.
    pub fn verify_crc(mut self, verify: bool) -> Self {
        self.verify_crc = verify;
        self
    }

    /// Sets the decompression limit in bytes.
    pub fn decompression_limit(mut self, limit: usize) -> Self {
        self.decompression_limit = limit;
        self
    }
}

/// A partial batch at the end of the input: brokers cut fetch responses at the byte limit, so
/// this is normal, not corruption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncompleteTail {
    /// Byte position where the partial batch starts.
    pub position: usize,
    /// Bytes of it present in the input.
    pub available: usize,
    /// Its full size, if the length field was present.
    pub needed: Option<usize>,
}

/// Iterator over the batches in a buffer (magic 2 batches and legacy magic 0/1 messages, mixed
/// freely as in a log). Stops after the first error, and at a partial last batch, which it
/// reports through [`RecordBatches::incomplete_tail`] instead of as an error.
///
/// ```
/// use kafka_proto::record::{BatchMeta, BuilderOptions, RecordBatchBuilder, RecordBatches};
///
/// let mut builder = RecordBatchBuilder::new(BuilderOptions::default());
/// builder.try_append(1_700_000_000_000, Some(b"k"), Some(b"v"), &[]).unwrap();
/// let bytes = builder.finish(&BatchMeta { base_offset: 10, ..Default::default() }).unwrap();
///
/// let mut batches = RecordBatches::new(bytes);
/// for batch in &mut batches {
///     let batch = batch.unwrap();
///     for record in batch.records().unwrap() {
///         let record = record.unwrap();
///         assert_eq!((record.offset(), record.key(), record.value()), (10, Some(&b"k"[..]), Some(&b"v"[..])));
///     }
/// }
/// assert!(batches.incomplete_tail().is_none());
/// ```
#[derive(Debug, Clone)]
pub struct RecordBatches {
    input: Bytes,
    pos: usize,
    options: ReadOptions,
    tail: Option<IncompleteTail>,
    done: bool,
}

impl RecordBatches {
    /// Iterates the batches in `input` with default options.
    pub fn new(input: Bytes) -> Self {
        Self::with_options(input, ReadOptions::default())
    }

    /// Iterates the batches in `input`.
    pub fn with_options(input: Bytes, options: ReadOptions) -> Self {
        Self {
            input,
            pos: 0,
            options,
            tail: None,
            done: false,
        }
    }

    /// The partial batch the input ended with, once iteration has reached it.
    pub fn incomplete_tail(&self) -> Option<IncompleteTail> {
        self.tail
    }

    /// Byte position of the next batch to read (the end of the last batch read).
    pub fn position(&self) -> usize {
        self.pos
    }

    fn next_batch(&mut self) -> Option<Result<Batch, RecordError>> {
        let rest = self.input.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        let position = self.pos;
        let Some(prefix) = rest.first_chunk::<HEADER_SIZE_UP_TO_MAGIC>() else {
            self.tail = Some(IncompleteTail {
                position,
                available: rest.len(),
                needed: None,
            });
            return None;
        };
        let mut be = super::batch::Be(prefix);
        let base_offset = be.i64().unwrap_or(-1);
        let length = be.i32().unwrap_or(-1);
        let err = |kind| Some(Err(RecordError::new(base_offset, position, kind)));
        let Ok(length) = usize::try_from(length) else {
            return err(RecordErrorKind::InvalidLength(length.into()));
        };
        if length < LEGACY_MIN_LENGTH {
            return err(RecordErrorKind::InvalidLength(length as i64));
        }
        let total = LOG_OVERHEAD.saturating_add(length);
        let Some(raw) = rest.get(..total) else {
            self.tail = Some(IncompleteTail {
                position,
                available: rest.len(),
                needed: Some(total),
            });
            return None;
        };
        let magic = prefix.get(MAGIC_OFFSET).map_or(-1, |&m| m as i8);
        let raw_bytes = self.input.slice_ref(raw);
        self.pos = position + total;
        match magic {
            2 => Some(Batch::v2(raw_bytes, position, &self.options)),
            0 | 1 => Some(
                legacy::decode(
                    raw_bytes,
                    position,
                    self.options.verify_crc,
                    self.options.decompression_limit,
                )
                .map(|l| Batch {
                    header: l.header,
                    position,
                    raw: l.data,
                    body: Body::Legacy(l.entries),
                }),
            ),
            m => err(RecordErrorKind::UnsupportedMagic(m)),
        }
    }
}

impl Iterator for RecordBatches {
    type Item = Result<Batch, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.next_batch();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

/// One batch: its header, and its records on demand.
#[derive(Debug)]
pub struct Batch {
    header: BatchHeader,
    position: usize,
    /// Magic 2: the whole batch. Legacy: the buffer the entries point into.
    raw: Bytes,
    body: Body,
}

#[derive(Debug)]
enum Body {
    V2 {
        /// Decompressed records of a compressed batch, filled on first use.
        inflated: OnceLock<Bytes>,
        limit: usize,
    },
    Legacy(Vec<LegacyEntry>),
}

impl Batch {
    /// Validates a magic-2 batch held exactly by `raw` (length already checked by the caller).
    fn v2(raw: Bytes, position: usize, options: &ReadOptions) -> Result<Self, RecordError> {
        let (base_offset, header) = match BatchHeader::parse_v2(&raw) {
            Some(h) => (h.base_offset, h),
            None => {
                let off = super::batch::Be(&raw).i64().unwrap_or(-1);
                let len = super::batch::Be(raw.get(8..).unwrap_or_default())
                    .i32()
                    .unwrap_or(-1);
                return Err(RecordError::new(
                    off,
                    position,
                    RecordErrorKind::InvalidLength(len.into()),
                ));
            }
        };
        let err = |kind| Err(RecordError::new(base_offset, position, kind));
        if options.verify_crc {
            let computed = crc32c(raw.get(ATTRIBUTES_OFFSET..).unwrap_or_default());
            if computed != header.crc {
                return err(RecordErrorKind::CrcMismatch {
                    stored: header.crc,
                    computed,
                });
            }
        }
        if header.records_count < 0 {
            return err(RecordErrorKind::InvalidHeader("negative record count"));
        }
        if header.attributes.compression().is_none() {
            return err(RecordErrorKind::UnknownCompression(
                header.attributes.compression_id(),
            ));
        }
        Ok(Self {
            header,
            position,
            raw,
            body: Body::V2 {
                inflated: OnceLock::new(),
                limit: options.decompression_limit,
            },
        })
    }

    /// The batch header (for legacy messages: derived, see [`BatchHeader`]).
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// Byte position of the batch in the input.
    pub fn position(&self) -> usize {
        self.position
    }

    /// Whether this is a control batch.
    pub fn is_control(&self) -> bool {
        self.header.is_control()
    }

    /// The batch exactly as it was in the input (magic 2 only; `None` for legacy messages, whose
    /// buffer may be the decompressed inner message set).
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self.body {
            Body::V2 { .. } => Some(&self.raw),
            Body::Legacy(_) => None,
        }
    }

    /// The records, read lazily. For a compressed magic-2 batch the first call inflates the
    /// records into one buffer (kept with the batch); uncompressed batches borrow the input.
    ///
    /// # Errors
    /// [`RecordErrorKind::Compression`] if the records cannot be decompressed or inflate past the
    /// decompression limit. Malformed records are reported by the iterator.
    ///
    /// Inlined so that the iterator is built in the caller's frame, where the compiler can keep
    /// its state in registers (see [`Records`]); the decompression is out of line.
    #[inline]
    pub fn records(&self) -> Result<Records<'_>, RecordError> {
        let h = &self.header;
        match &self.body {
            Body::Legacy(entries) => Ok(Records::legacy(
                &self.raw,
                entries,
                h.base_offset,
                self.position,
            )),
            Body::V2 { inflated, limit } => {
                let (source, start) = self.v2_records(inflated, *limit)?;
                let records = source.get(start..).unwrap_or_default();
                let log_append_time =
                    (h.timestamp_type() == TimestampType::LogAppendTime).then_some(h.max_timestamp);
                Ok(Records::v2(
                    source,
                    records,
                    h.records_count as u32,
                    h.base_offset,
                    h.base_timestamp,
                    log_append_time,
                    h.is_control(),
                    self.position,
                ))
            }
        }
    }

    /// The buffer holding a magic-2 batch's records and where they start in it: the input for
    /// an uncompressed batch, the inflated records (decompressed on first use) otherwise.
    #[inline(never)]
    fn v2_records<'a>(
        &'a self,
        inflated: &'a OnceLock<Bytes>,
        limit: usize,
    ) -> Result<(&'a Bytes, usize), RecordError> {
        let h = &self.header;
        let codec = h.compression().unwrap_or(Compression::None);
        if codec == Compression::None {
            return Ok((&self.raw, BATCH_HEADER_SIZE));
        }
        if let Some(buf) = inflated.get() {
            return Ok((buf, 0));
        }
        let compressed = self.raw.get(BATCH_HEADER_SIZE..).unwrap_or_default();
        let err =
            |e: super::CompressionError| RecordError::new(h.base_offset, self.position, e.into());
        if codec != Compression::Snappy || compressed.len() < spare::MIN_INPUT {
            // The other codecs build their own output, so a kept buffer would only be dropped;
            // for small snappy batches a fresh allocation is cheaper than the bookkeeping.
            let out = codec.decompress(compressed, limit).map_err(err)?;
            let _ = inflated.set(Bytes::from(out));
        } else {
            let mut out = spare::take();
            let n = codec
                .decompress_into(compressed, limit, &mut out)
                .map_err(err)?;
            let whole = Bytes::from(out);
            let _ = inflated.set(whole.slice(..n));
            spare::keep(whole);
        }
        let buf = inflated.get().ok_or_else(|| {
            RecordError::new(
                h.base_offset,
                self.position,
                RecordErrorKind::InvalidHeader("decompressed buffer lost"),
            )
        })?;
        Ok((buf, 0))
    }
}

/// One snappy decompression buffer per thread, reused once every batch and record that shared
/// it is gone.
///
/// Decoding a stream of snappy batches then costs no allocation and no zero-filling per batch
/// (the other codecs build their own output buffers): the buffer goes back into use only when its `Bytes` is the last
/// handle left ([`Bytes::try_into_mut`]), so data an application still holds (a record's
/// `key_bytes()`, a batch kept in a queue) is never touched; such a buffer is simply not
/// reused. At most [`spare::MAX`] bytes are held per thread between batches.
mod spare {
    use std::cell::Cell;

    use bytes::Bytes;

    /// Largest buffer kept for reuse (a 1 MiB batch inflates to a few MiB).
    pub(super) const MAX: usize = 8 << 20;
    /// Compressed batches smaller than this (a handful of records) are decompressed into a
    /// fresh buffer: sharing and reclaiming one costs more than allocating a small one.
    pub(super) const MIN_INPUT: usize = 1024;

    thread_local! {
        static SPARE: Cell<Option<Bytes>> = const { Cell::new(None) };
    }

    /// The kept buffer if nothing else holds it any more, with the bytes it holds; otherwise
    /// an empty one.
    pub(super) fn take() -> Vec<u8> {
        SPARE
            .try_with(Cell::take)
            .ok()
            .flatten()
            .and_then(|b| b.try_into_mut().ok())
            .map(Vec::from)
            .unwrap_or_default()
    }

    /// Keeps (a handle to) `buf` for a later [`take`].
    pub(super) fn keep(buf: Bytes) {
        if buf.len() <= MAX {
            let _ = SPARE.try_with(|s| s.set(Some(buf)));
        }
    }
}
