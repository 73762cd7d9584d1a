//! The broker's view of a magic-2 batch: validate the header and CRC, then rewrite the base
//! offset and partition leader epoch in place. Neither field is covered by the CRC, so the batch
//! stays valid and the records are never decoded.

use super::batch::{
    BatchHeader, Be, ATTRIBUTES_OFFSET, BATCH_HEADER_SIZE, CRC_OFFSET, HEADER_SIZE_UP_TO_MAGIC,
    LOG_OVERHEAD, MAGIC_OFFSET, MAX_TIMESTAMP_OFFSET, PARTITION_LEADER_EPOCH_OFFSET,
};
use super::crc32c;
use super::error::{RecordError, RecordErrorKind};
use super::reader::IncompleteTail;

/// A validated magic-2 batch in a mutable buffer.
#[derive(Debug)]
pub struct BatchView<'a> {
    buf: &'a mut [u8],
    header: BatchHeader,
}

impl<'a> BatchView<'a> {
    /// Validates the batch at the start of `buf` (which may hold more after it): length, magic 2,
    /// record count, codec id and CRC-32C. The view covers exactly the batch
    /// ([`BatchView::len`] bytes).
    ///
    /// # Errors
    /// [`RecordErrorKind::InvalidLength`] if `buf` is shorter than the batch or the length field
    /// is impossible, [`RecordErrorKind::UnsupportedMagic`] for legacy or unknown formats,
    /// [`RecordErrorKind::CrcMismatch`], [`RecordErrorKind::InvalidHeader`] for a negative
    /// record count, [`RecordErrorKind::UnknownCompression`].
    pub fn parse(buf: &'a mut [u8]) -> Result<Self, RecordError> {
        Self::parse_at(buf, 0)
    }

    fn parse_at(buf: &'a mut [u8], position: usize) -> Result<Self, RecordError> {
        let mut be = Be(buf);
        let base_offset = be.i64().unwrap_or(-1);
        let length = be.i32().unwrap_or(-1);
        let err = |kind| RecordError::new(base_offset, position, kind);
        let total = usize::try_from(length)
            .ok()
            .filter(|&l| l >= BATCH_HEADER_SIZE - LOG_OVERHEAD)
            .map(|l| l + LOG_OVERHEAD)
            .ok_or(err(RecordErrorKind::InvalidLength(length.into())))?;
        if buf.len() < HEADER_SIZE_UP_TO_MAGIC {
            return Err(err(RecordErrorKind::InvalidLength(length.into())));
        }
        let magic = buf.get(MAGIC_OFFSET).map_or(-1, |&m| m as i8);
        if magic != 2 {
            return Err(err(RecordErrorKind::UnsupportedMagic(magic)));
        }
        let buf = buf
            .get_mut(..total)
            .ok_or(err(RecordErrorKind::InvalidLength(length.into())))?;
        let header =
            BatchHeader::parse_v2(buf).ok_or(err(RecordErrorKind::InvalidLength(length.into())))?;
        let computed = crc32c(buf.get(ATTRIBUTES_OFFSET..).unwrap_or_default());
        if computed != header.crc {
            return Err(err(RecordErrorKind::CrcMismatch {
                stored: header.crc,
                computed,
            }));
        }
        if header.records_count < 0 {
            return Err(err(RecordErrorKind::InvalidHeader("negative record count")));
        }
        if header.attributes.compression().is_none() {
            return Err(err(RecordErrorKind::UnknownCompression(
                header.attributes.compression_id(),
            )));
        }
        Ok(Self { buf, header })
    }

    /// The header (reflecting any rewrites made through this view).
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// Size of the batch in bytes.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Always `false`: a batch has at least its header.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The batch bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf
    }

    fn write(&mut self, at: usize, bytes: &[u8]) {
        if let Some(slot) = self.buf.get_mut(at..at + bytes.len()) {
            slot.copy_from_slice(bytes);
        }
    }

    /// Rewrites the base offset (the CRC stays valid).
    pub fn set_base_offset(&mut self, base_offset: i64) {
        self.write(0, &base_offset.to_be_bytes());
        self.header.base_offset = base_offset;
    }

    /// Rewrites the partition leader epoch (the CRC stays valid).
    pub fn set_partition_leader_epoch(&mut self, epoch: i32) {
        self.write(PARTITION_LEADER_EPOCH_OFFSET, &epoch.to_be_bytes());
        self.header.partition_leader_epoch = epoch;
    }

    /// Switches the batch to log-append time with the given timestamp (a topic with
    /// `message.timestamp.type=LogAppendTime`): sets the timestamp-type attribute and the max
    /// timestamp, then recomputes the CRC (one pass over the batch, records still not decoded).
    pub fn set_log_append_time(&mut self, timestamp: i64) {
        let attributes = self.header.attributes.0 | 0x08;
        self.write(ATTRIBUTES_OFFSET, &attributes.to_be_bytes());
        self.write(MAX_TIMESTAMP_OFFSET, &timestamp.to_be_bytes());
        let crc = crc32c(self.buf.get(ATTRIBUTES_OFFSET..).unwrap_or_default());
        self.write(CRC_OFFSET, &crc.to_be_bytes());
        self.header.attributes.0 = attributes;
        self.header.max_timestamp = timestamp;
        self.header.crc = crc;
    }
}

/// Iterator over the batches of a mutable buffer as [`BatchView`]s (a Produce request's
/// records). Stops after the first error; a partial last batch is reported by
/// [`BatchViewsMut::incomplete_tail`] (for a Produce request, the caller's error).
#[derive(Debug)]
pub struct BatchViewsMut<'a> {
    rest: &'a mut [u8],
    position: usize,
    tail: Option<IncompleteTail>,
    done: bool,
}

impl<'a> BatchViewsMut<'a> {
    /// Iterates the batches in `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self {
            rest: buf,
            position: 0,
            tail: None,
            done: false,
        }
    }

    /// The partial batch the buffer ended with, once iteration has reached it.
    pub fn incomplete_tail(&self) -> Option<IncompleteTail> {
        self.tail
    }
}

impl<'a> Iterator for BatchViewsMut<'a> {
    type Item = Result<BatchView<'a>, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        let rest = std::mem::take(&mut self.rest);
        let position = self.position;
        let needed = rest
            .first_chunk::<LOG_OVERHEAD>()
            .and_then(|p| Be(p.get(8..).unwrap_or_default()).i32())
            .and_then(|l| usize::try_from(l).ok())
            .map(|l| l.saturating_add(LOG_OVERHEAD));
        match needed {
            Some(total) if total <= rest.len() => {
                let (this, after) = rest.split_at_mut(total);
                self.rest = after;
                self.position += total;
                let item = BatchView::parse_at(this, position);
                if item.is_err() {
                    self.done = true;
                }
                Some(item)
            }
            Some(total) if total >= BATCH_HEADER_SIZE || rest.len() < HEADER_SIZE_UP_TO_MAGIC => {
                self.done = true;
                self.tail = Some(IncompleteTail {
                    position,
                    available: rest.len(),
                    needed: Some(total),
                });
                None
            }
            None if rest.len() < LOG_OVERHEAD => {
                self.done = true;
                self.tail = Some(IncompleteTail {
                    position,
                    available: rest.len(),
                    needed: None,
                });
                None
            }
            _ => {
                // Negative or impossibly small length: report it as the parse error it is.
                self.done = true;
                Some(BatchView::parse_at(rest, position))
            }
        }
    }
}
