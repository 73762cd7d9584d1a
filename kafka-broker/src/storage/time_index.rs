//! The sparse time index of a segment (`.timeindex`): entries of (largest timestamp so far:
//! i64, offset relative to the segment's base offset: u32), big-endian, 12 bytes each, as in
//! Apache Kafka. An entry is added next to each offset-index entry when the largest timestamp
//! has grown, and one more when the segment rolls or the log closes, so the last entry holds
//! the segment's largest timestamp and the batch that carries it.
//!
//! Entry `(t, o)` means every record in batches up to the one holding offset `o` has a
//! timestamp `<= t`; to find the first record with timestamp `>= target`, start scanning at
//! the last entry with `t < target`.

/// Size of one `.timeindex` entry.
pub(crate) const ENTRY_SIZE: usize = 12;

/// One entry: timestamp and relative offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    pub(crate) timestamp: i64,
    pub(crate) relative_offset: u32,
}

/// The in-memory time index of one segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TimeIndex {
    entries: Vec<TimeEntry>,
}

impl TimeIndex {
    /// Adds an entry if `timestamp` is larger than the last one (and the offset not smaller).
    pub(crate) fn maybe_push(&mut self, timestamp: i64, relative_offset: u32) {
        if timestamp < 0 {
            return;
        }
        if let Some(last) = self.entries.last() {
            if timestamp <= last.timestamp || relative_offset < last.relative_offset {
                return;
            }
        }
        self.entries.push(TimeEntry {
            timestamp,
            relative_offset,
        });
    }

    /// Relative offset of the last entry with a timestamp strictly below `timestamp`: records
    /// with a timestamp `>= timestamp` are in that entry's batch or later. `None`: scan from
    /// the segment start.
    pub(crate) fn lookup_before(&self, timestamp: i64) -> Option<u32> {
        let n = self.entries.partition_point(|e| e.timestamp < timestamp);
        n.checked_sub(1)
            .and_then(|i| self.entries.get(i))
            .map(|e| e.relative_offset)
    }

    /// The last entry.
    pub(crate) fn last(&self) -> Option<TimeEntry> {
        self.entries.last().copied()
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Drops entries for offsets at or past `relative_offset`.
    pub(crate) fn truncate_to_offset(&mut self, relative_offset: u32) {
        let keep = self
            .entries
            .partition_point(|e| e.relative_offset < relative_offset);
        self.entries.truncate(keep);
    }

    /// The `.timeindex` file contents.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * ENTRY_SIZE);
        for e in &self.entries {
            out.extend_from_slice(&e.timestamp.to_be_bytes());
            out.extend_from_slice(&e.relative_offset.to_be_bytes());
        }
        out
    }

    /// Parses and validates `.timeindex` contents: whole entries, increasing timestamps,
    /// non-decreasing offsets below `max_relative_offset`. `None` if it must be rebuilt.
    pub(crate) fn from_bytes(bytes: &[u8], max_relative_offset: u64) -> Option<Self> {
        if !bytes.len().is_multiple_of(ENTRY_SIZE) {
            return None;
        }
        let mut index = Self {
            entries: Vec::with_capacity(bytes.len() / ENTRY_SIZE),
        };
        for chunk in bytes.chunks_exact(ENTRY_SIZE) {
            let entry = parse_entry(chunk)?;
            if let Some(last) = index.entries.last() {
                if entry.timestamp <= last.timestamp || entry.relative_offset < last.relative_offset
                {
                    return None;
                }
            }
            if entry.timestamp < 0 || u64::from(entry.relative_offset) > max_relative_offset {
                return None;
            }
            index.entries.push(entry);
        }
        Some(index)
    }
}

/// Parses one 12-byte entry.
pub(crate) fn parse_entry(chunk: &[u8]) -> Option<TimeEntry> {
    let (ts, rest) = chunk.split_first_chunk::<8>()?;
    let (off, _) = rest.split_first_chunk::<4>()?;
    Some(TimeEntry {
        timestamp: i64::from_be_bytes(*ts),
        relative_offset: u32::from_be_bytes(*off),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_round_trip() {
        let mut index = TimeIndex::default();
        assert_eq!(index.lookup_before(5), None);
        index.maybe_push(100, 0);
        index.maybe_push(90, 3); // not larger: ignored
        index.maybe_push(200, 7);
        index.maybe_push(-1, 9); // no timestamp: ignored
        assert_eq!(index.len(), 2);
        assert_eq!(index.lookup_before(100), None);
        assert_eq!(index.lookup_before(101), Some(0));
        assert_eq!(index.lookup_before(200), Some(0));
        assert_eq!(index.lookup_before(201), Some(7));
        let bytes = index.to_bytes();
        assert_eq!(TimeIndex::from_bytes(&bytes, 7), Some(index.clone()));
        assert_eq!(TimeIndex::from_bytes(&bytes, 6), None);
        assert_eq!(TimeIndex::from_bytes(&bytes[..13], 7), None);
        index.truncate_to_offset(7);
        assert_eq!(index.last().map(|e| e.timestamp), Some(100));
    }
}
