//! The sparse offset index of a segment (`.index`): entries of (offset relative to the
//! segment's base offset: u32, byte position of the batch in the `.log` file: u32), big-endian,
//! 8 bytes each, one every `index.interval.bytes` of batches, as in Apache Kafka.
//!
//! An entry points at the first byte of a batch whose base offset is the entry's offset, so a
//! lookup gives a position from which a forward scan of batch headers finds the batch holding
//! any later offset. Entries are kept in memory (a `Vec`), loaded from the file on first use;
//! the file is written when the segment rolls and when the log closes, and is rebuilt from the
//! `.log` file whenever it is missing or fails validation.

/// Size of one `.index` entry.
pub(crate) const ENTRY_SIZE: usize = 8;

/// One entry: relative offset and file position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    pub(crate) relative_offset: u32,
    pub(crate) position: u32,
}

/// The in-memory offset index of one segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OffsetIndex {
    entries: Vec<IndexEntry>,
}

impl OffsetIndex {
    /// Adds an entry; ignored unless both fields are larger than the last entry's.
    pub(crate) fn push(&mut self, relative_offset: u32, position: u32) {
        if let Some(last) = self.entries.last() {
            if relative_offset <= last.relative_offset || position <= last.position {
                return;
            }
        }
        self.entries.push(IndexEntry {
            relative_offset,
            position,
        });
    }

    /// Position of the last indexed batch whose base offset is `<= relative_offset` (0, the
    /// segment start, if there is none).
    pub(crate) fn lookup(&self, relative_offset: u32) -> u32 {
        let n = self
            .entries
            .partition_point(|e| e.relative_offset <= relative_offset);
        n.checked_sub(1)
            .and_then(|i| self.entries.get(i))
            .map_or(0, |e| e.position)
    }

    /// The last entry.
    pub(crate) fn last(&self) -> Option<IndexEntry> {
        self.entries.last().copied()
    }

    /// Number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Drops entries at or past `position` (after truncating the segment there).
    pub(crate) fn truncate_to_position(&mut self, position: u64) {
        let keep = self
            .entries
            .partition_point(|e| u64::from(e.position) < position);
        self.entries.truncate(keep);
    }

    /// The `.index` file contents.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * ENTRY_SIZE);
        for e in &self.entries {
            out.extend_from_slice(&e.relative_offset.to_be_bytes());
            out.extend_from_slice(&e.position.to_be_bytes());
        }
        out
    }

    /// Parses and validates `.index` file contents for a segment of `segment_size` bytes:
    /// whole entries, strictly increasing offsets and positions, positions inside the
    /// segment. `None` if the file must be rebuilt.
    pub(crate) fn from_bytes(bytes: &[u8], segment_size: u64) -> Option<Self> {
        if !bytes.len().is_multiple_of(ENTRY_SIZE) {
            return None;
        }
        let mut index = Self {
            entries: Vec::with_capacity(bytes.len() / ENTRY_SIZE),
        };
        for chunk in bytes.chunks_exact(ENTRY_SIZE) {
            let (off, pos) = chunk.split_first_chunk::<4>()?;
            let relative_offset = u32::from_be_bytes(*off);
            let position = u32::from_be_bytes(pos.try_into().ok()?);
            if let Some(last) = index.entries.last() {
                if relative_offset <= last.relative_offset || position <= last.position {
                    return None;
                }
            }
            if u64::from(position) >= segment_size {
                return None;
            }
            index.entries.push(IndexEntry {
                relative_offset,
                position,
            });
        }
        Some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_round_trip() {
        let mut index = OffsetIndex::default();
        assert_eq!(index.lookup(10), 0);
        index.push(5, 4100);
        index.push(9, 8300);
        index.push(9, 9000); // not increasing: ignored
        assert_eq!(index.len(), 2);
        assert_eq!(index.lookup(0), 0);
        assert_eq!(index.lookup(4), 0);
        assert_eq!(index.lookup(5), 4100);
        assert_eq!(index.lookup(8), 4100);
        assert_eq!(index.lookup(100), 8300);
        let bytes = index.to_bytes();
        assert_eq!(bytes.len(), 16);
        assert_eq!(OffsetIndex::from_bytes(&bytes, 9000), Some(index.clone()));
        assert_eq!(
            OffsetIndex::from_bytes(&bytes, 8300),
            None,
            "position past the end"
        );
        assert_eq!(
            OffsetIndex::from_bytes(&bytes[..15], 9000),
            None,
            "torn entry"
        );
        assert_eq!(OffsetIndex::from_bytes(&[0; 16], 9000), None, "zeroes");
        index.truncate_to_position(8300);
        assert_eq!(index.len(), 1);
    }
}
