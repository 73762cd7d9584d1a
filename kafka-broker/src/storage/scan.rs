//! Reading batch headers straight from stored bytes, and [`Scanner`], which walks the batches
//! of a segment through a large read buffer (one `pread` per chunk, not per batch), optionally
//! verifying each batch's CRC (recovery) with [`BatchView::parse`].

use kafka_proto::record::{BatchView, BATCH_HEADER_SIZE, LOG_OVERHEAD};

use super::store::Store;
use super::StorageError;

/// Bytes read per chunk when scanning a segment.
pub(crate) const SCAN_CHUNK: usize = 1 << 20;

const CONTROL_BIT: u16 = 0x20;

/// The fixed header of a stored magic-2 batch (see the layout in `kafka_proto::record`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawHeader {
    pub(crate) base_offset: i64,
    /// Total size of the batch in bytes (length field + 12).
    pub(crate) size: usize,
    pub(crate) partition_leader_epoch: i32,
    pub(crate) magic: i8,
    pub(crate) attributes: u16,
    pub(crate) last_offset_delta: i32,
    pub(crate) max_timestamp: i64,
    pub(crate) producer_id: i64,
    pub(crate) producer_epoch: i16,
    pub(crate) base_sequence: i32,
    pub(crate) records_count: i32,
}

fn be<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at + N)?.try_into().ok()
}

impl RawHeader {
    /// Parses the 61-byte header at the start of `b`. `None` if `b` is shorter than a header
    /// or the length field is smaller than a header.
    pub(crate) fn parse(b: &[u8]) -> Option<Self> {
        let length = i32::from_be_bytes(be(b, 8)?);
        let size = usize::try_from(length).ok()?.checked_add(LOG_OVERHEAD)?;
        if size < BATCH_HEADER_SIZE {
            return None;
        }
        Some(Self {
            base_offset: i64::from_be_bytes(be(b, 0)?),
            size,
            partition_leader_epoch: i32::from_be_bytes(be(b, 12)?),
            magic: i8::from_be_bytes(be(b, 16)?),
            attributes: u16::from_be_bytes(be(b, 21)?),
            last_offset_delta: i32::from_be_bytes(be(b, 23)?),
            max_timestamp: i64::from_be_bytes(be(b, 35)?),
            producer_id: i64::from_be_bytes(be(b, 43)?),
            producer_epoch: i16::from_be_bytes(be(b, 51)?),
            base_sequence: i32::from_be_bytes(be(b, 53)?),
            records_count: i32::from_be_bytes(be(b, 57)?),
        })
    }

    /// Offset of the last record.
    pub(crate) fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }

    /// The offset after the batch.
    pub(crate) fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// Whether the batch holds control records.
    pub(crate) fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// Sequence of the last record, wrapping past `i32::MAX` to 0 as Kafka does.
    pub(crate) fn last_sequence(&self) -> i32 {
        increment_sequence(self.base_sequence, self.last_offset_delta)
    }
}

/// `sequence + increment`, wrapping past `i32::MAX` to 0 (Kafka's `incrementSequence`).
pub(crate) fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// What [`Scanner::next`] found.
#[derive(Debug)]
pub(crate) enum Step {
    /// A batch at this position.
    Batch(RawHeader, u64),
    /// The scan reached the end exactly.
    End,
    /// The data ends inside a batch starting at this position.
    Partial(u64),
    /// The batch at this position is invalid.
    Bad(u64, String),
}

/// Walks the batches of a segment from a position to an end, through a read buffer.
#[derive(Debug)]
pub(crate) struct Scanner<'a> {
    store: &'a Store,
    end: u64,
    pos: u64,
    buf: Vec<u8>,
    buf_start: u64,
    verify_crc: bool,
}

impl<'a> Scanner<'a> {
    /// Scans `store` from `from` to `end` (both at batch boundaries, `end` the data size).
    pub(crate) fn new(store: &'a Store, from: u64, end: u64, verify_crc: bool) -> Self {
        Self {
            store,
            end,
            pos: from,
            buf: Vec::new(),
            buf_start: from,
            verify_crc,
        }
    }

    /// Makes the buffer cover `[pos, pos + len)` (which lies inside the data).
    fn ensure(&mut self, pos: u64, len: usize) -> Result<(), StorageError> {
        let have_end = self.buf_start + self.buf.len() as u64;
        if pos >= self.buf_start && pos + len as u64 <= have_end {
            return Ok(());
        }
        let avail = usize::try_from(self.end - pos).unwrap_or(usize::MAX);
        let want = len.max(SCAN_CHUNK).min(avail);
        self.buf = self.store.read_at(pos, want)?;
        self.buf_start = pos;
        Ok(())
    }

    /// The bytes of the batch last returned (`pos` and `size` from its [`Step::Batch`]).
    pub(crate) fn batch_bytes(&mut self, pos: u64, size: usize) -> Result<&mut [u8], StorageError> {
        self.ensure(pos, size)?;
        let at = usize::try_from(pos - self.buf_start).unwrap_or(usize::MAX);
        let path = self
            .store
            .path()
            .map(|p| p.to_path_buf())
            .unwrap_or_default();
        self.buf
            .get_mut(at..at.saturating_add(size))
            .ok_or(StorageError::Inconsistent {
                path,
                reason: format!("batch at {pos} of {size} bytes is outside the read buffer"),
            })
    }

    /// The next batch.
    pub(crate) fn next(&mut self) -> Result<Step, StorageError> {
        let pos = self.pos;
        if pos >= self.end {
            return Ok(Step::End);
        }
        let remaining = self.end - pos;
        if remaining < BATCH_HEADER_SIZE as u64 {
            return Ok(Step::Partial(pos));
        }
        self.ensure(pos, BATCH_HEADER_SIZE)?;
        let at = usize::try_from(pos - self.buf_start).unwrap_or(usize::MAX);
        let Some(header) = self.buf.get(at..).and_then(RawHeader::parse) else {
            return Ok(Step::Bad(pos, "impossible batch length".into()));
        };
        if header.magic != 2 {
            return Ok(Step::Bad(pos, format!("magic {}", header.magic)));
        }
        if header.size as u64 > remaining {
            return Ok(Step::Partial(pos));
        }
        if self.verify_crc {
            let bytes = self.batch_bytes(pos, header.size)?;
            if let Err(e) = BatchView::parse(bytes) {
                return Ok(Step::Bad(pos, e.to_string()));
            }
        }
        self.pos = pos + header.size as u64;
        Ok(Step::Batch(header, pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_wraps_to_zero() {
        assert_eq!(increment_sequence(5, 3), 8);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
    }
}
