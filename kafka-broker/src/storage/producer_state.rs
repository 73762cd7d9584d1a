//! Idempotent-producer state (KIP-98, KIP-360): for each producer id seen in a partition, its
//! epoch and its last five batches (first/last sequence, first/last offset, timestamp), as in
//! Apache Kafka's `ProducerStateManager`.
//!
//! Rules applied to each client batch that carries a producer id (`producer_id >= 0`):
//! * a batch whose epoch equals the producer's and whose sequence range equals a cached
//!   batch's is a **duplicate**: the original offsets are returned and nothing is written;
//! * an epoch lower than the producer's → `INVALID_PRODUCER_EPOCH`;
//! * a new (higher) epoch must start at sequence 0 → else `OUT_OF_ORDER_SEQUENCE_NUMBER`;
//! * within an epoch the first sequence must be last sequence + 1 (`i32::MAX` wraps to 0) →
//!   else `OUT_OF_ORDER_SEQUENCE_NUMBER`;
//! * a producer with no state (new, or expired) is accepted at any sequence: Kafka 2.5+
//!   (KIP-360) no longer answers `UNKNOWN_PRODUCER_ID` here.
//!
//! The state is snapshotted to `<offset, 20 digits>.snapshot` (JSON) when a segment rolls and
//! when the log closes; on open the newest snapshot at or below the log end is loaded and
//! the batches after it are replayed from the log.

use std::collections::{HashMap, VecDeque};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::scan::RawHeader;
use super::StorageError;

/// Batches remembered per producer (Kafka's `NUM_BATCHES_TO_RETAIN`).
pub(crate) const BATCHES_TO_RETAIN: usize = 5;

/// Kafka's `producer.id.expiration.ms` default: 1 day.
pub(crate) const PRODUCER_ID_EXPIRATION_MS: i64 = 24 * 60 * 60 * 1000;

/// One appended batch of a producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BatchMetadata {
    pub(crate) first_seq: i32,
    pub(crate) last_seq: i32,
    pub(crate) first_offset: i64,
    pub(crate) last_offset: i64,
    pub(crate) timestamp: i64,
}

/// The state of one producer id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProducerEntry {
    pub(crate) producer_id: i64,
    pub(crate) epoch: i16,
    /// Largest of the last batch's timestamp and its append time (for expiration).
    pub(crate) last_timestamp: i64,
    pub(crate) batches: VecDeque<BatchMetadata>,
}

impl ProducerEntry {
    fn empty(producer_id: i64) -> Self {
        Self {
            producer_id,
            epoch: -1,
            last_timestamp: -1,
            batches: VecDeque::new(),
        }
    }

    fn last_seq(&self) -> Option<i32> {
        self.batches.back().map(|b| b.last_seq)
    }

    fn add_batch(&mut self, epoch: i16, batch: BatchMetadata, timestamp: i64) {
        if epoch != self.epoch {
            self.batches.clear();
            self.epoch = epoch;
        }
        if self.batches.len() == BATCHES_TO_RETAIN {
            self.batches.pop_front();
        }
        self.batches.push_back(batch);
        self.last_timestamp = timestamp;
    }

    fn find_duplicate(&self, epoch: i16, first_seq: i32, last_seq: i32) -> Option<BatchMetadata> {
        if epoch != self.epoch {
            return None;
        }
        self.batches
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
            .copied()
    }
}

/// What validating an append found.
#[derive(Debug)]
pub(crate) enum Validation {
    /// Append; apply these producer entries once the write succeeds.
    Append(Vec<ProducerEntry>),
    /// The request repeats an appended batch: answer with its offsets, write nothing.
    Duplicate(BatchMetadata),
}

/// The producer state of one partition.
#[derive(Debug, Default)]
pub(crate) struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
    dirty: bool,
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    offset: i64,
    producers: Vec<ProducerEntry>,
}

fn in_sequence(last_seq: i32, next_seq: i32) -> bool {
    i64::from(next_seq) == i64::from(last_seq) + 1 || (next_seq == 0 && last_seq == i32::MAX)
}

impl ProducerStateManager {
    /// Number of producers tracked.
    pub(crate) fn len(&self) -> usize {
        self.producers.len()
    }

    /// Validates the batches of one append (`first_offsets[i]` is the offset batch `i` will
    /// get) against the state, chaining batches of the same producer within the request.
    pub(crate) fn validate(
        &self,
        batches: &[(usize, RawHeader)],
        first_offsets: &[i64],
        now_ms: i64,
    ) -> Result<Validation, StorageError> {
        let mut staged: Vec<ProducerEntry> = Vec::new();
        for ((_, h), &first_offset) in batches.iter().zip(first_offsets) {
            if h.producer_id < 0 {
                continue;
            }
            let (pid, epoch, first_seq, last_seq) = (
                h.producer_id,
                h.producer_epoch,
                h.base_sequence,
                h.last_sequence(),
            );
            let current = self.producers.get(&pid);
            if let Some(dup) = current.and_then(|c| c.find_duplicate(epoch, first_seq, last_seq)) {
                return Ok(Validation::Duplicate(dup));
            }
            let slot = match staged.iter().position(|e| e.producer_id == pid) {
                Some(i) => i,
                None => {
                    staged.push(
                        current
                            .cloned()
                            .unwrap_or_else(|| ProducerEntry::empty(pid)),
                    );
                    staged.len() - 1
                }
            };
            let Some(entry) = staged.get_mut(slot) else {
                continue;
            };
            if epoch < entry.epoch {
                return Err(StorageError::InvalidProducerEpoch {
                    producer_id: pid,
                    epoch,
                    current: entry.epoch,
                });
            }
            if epoch != entry.epoch {
                if first_seq != 0 && entry.epoch != -1 {
                    return Err(StorageError::OutOfOrderSequence {
                        producer_id: pid,
                        epoch,
                        got: first_seq,
                        expected: 0,
                    });
                }
            } else if entry.epoch != -1 {
                let last = entry.last_seq().unwrap_or(-1);
                if !in_sequence(last, first_seq) {
                    return Err(StorageError::OutOfOrderSequence {
                        producer_id: pid,
                        epoch,
                        got: first_seq,
                        expected: super::scan::increment_sequence(last, 1),
                    });
                }
            }
            let meta = BatchMetadata {
                first_seq,
                last_seq,
                first_offset,
                last_offset: first_offset + i64::from(h.last_offset_delta),
                timestamp: h.max_timestamp,
            };
            entry.add_batch(epoch, meta, h.max_timestamp.max(now_ms));
        }
        Ok(Validation::Append(staged))
    }

    /// Applies entries from [`Validation::Append`] after a successful write.
    pub(crate) fn commit(&mut self, entries: Vec<ProducerEntry>) {
        if entries.is_empty() {
            return;
        }
        for entry in entries {
            self.producers.insert(entry.producer_id, entry);
        }
        self.dirty = true;
    }

    /// Replays a batch read back from the log (recovery): no validation.
    pub(crate) fn replay(&mut self, h: &RawHeader) {
        if h.producer_id < 0 {
            return;
        }
        let entry = self
            .producers
            .entry(h.producer_id)
            .or_insert_with(|| ProducerEntry::empty(h.producer_id));
        if h.is_control() {
            // A transaction marker only moves the epoch.
            if h.producer_epoch > entry.epoch {
                entry.epoch = h.producer_epoch;
                entry.batches.clear();
            }
        } else {
            let meta = BatchMetadata {
                first_seq: h.base_sequence,
                last_seq: h.last_sequence(),
                first_offset: h.base_offset,
                last_offset: h.last_offset(),
                timestamp: h.max_timestamp,
            };
            entry.add_batch(h.producer_epoch, meta, h.max_timestamp);
        }
        self.dirty = true;
    }

    /// Forgets producers idle for longer than `producer.id.expiration.ms`.
    pub(crate) fn expire(&mut self, now_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers
            .retain(|_, e| now_ms.saturating_sub(e.last_timestamp) < PRODUCER_ID_EXPIRATION_MS);
        let removed = before - self.producers.len();
        if removed > 0 {
            self.dirty = true;
        }
        removed
    }

    /// Whether the state changed since the last snapshot.
    pub(crate) fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Serializes the state as of `offset`.
    pub(crate) fn snapshot_bytes(&self, offset: i64) -> Result<Vec<u8>, StorageError> {
        let mut producers: Vec<ProducerEntry> = self.producers.values().cloned().collect();
        producers.sort_by_key(|e| e.producer_id);
        serde_json::to_vec(&Snapshot {
            version: 1,
            offset,
            producers,
        })
        .map_err(|e| StorageError::InvalidRecord(format!("producer snapshot: {e}")))
    }

    /// Marks the state as saved.
    pub(crate) fn mark_clean(&mut self) {
        self.dirty = false;
    }

    /// Loads a snapshot file; `None` if it is unreadable (the caller replays from the log).
    pub(crate) fn load(path: &Path) -> Option<(Self, i64)> {
        let bytes = std::fs::read(path).ok()?;
        let snap: Snapshot = match serde_json::from_slice(&bytes) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "unreadable producer snapshot");
                return None;
            }
        };
        if snap.version != 1 {
            return None;
        }
        let producers = snap
            .producers
            .into_iter()
            .map(|e| (e.producer_id, e))
            .collect();
        Some((
            Self {
                producers,
                dirty: false,
            },
            snap.offset,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, epoch: i16, seq: i32, count: i32) -> (usize, RawHeader) {
        (
            0,
            RawHeader {
                base_offset: 0,
                size: 100,
                partition_leader_epoch: 0,
                magic: 2,
                attributes: 0,
                last_offset_delta: count - 1,
                max_timestamp: 1000,
                producer_id: pid,
                producer_epoch: epoch,
                base_sequence: seq,
                records_count: count,
            },
        )
    }

    fn append(
        m: &mut ProducerStateManager,
        h: (usize, RawHeader),
        at: i64,
    ) -> Result<Option<BatchMetadata>, StorageError> {
        match m.validate(&[h], &[at], 0)? {
            Validation::Append(e) => {
                m.commit(e);
                Ok(None)
            }
            Validation::Duplicate(d) => Ok(Some(d)),
        }
    }

    #[test]
    fn kafka_sequence_rules() -> Result<(), StorageError> {
        let mut m = ProducerStateManager::default();
        // Unknown producer: any sequence is accepted (KIP-360).
        assert_eq!(append(&mut m, header(7, 0, 10, 2), 0)?, None);
        assert_eq!(append(&mut m, header(7, 0, 12, 3), 2)?, None);
        // Duplicates of either cached batch return the original offsets.
        let dup = append(&mut m, header(7, 0, 10, 2), 99)?;
        assert_eq!(dup.map(|d| (d.first_offset, d.last_offset)), Some((0, 1)));
        let dup = append(&mut m, header(7, 0, 12, 3), 99)?;
        assert_eq!(dup.map(|d| (d.first_offset, d.last_offset)), Some((2, 4)));
        // Gap.
        assert!(matches!(
            append(&mut m, header(7, 0, 16, 1), 5),
            Err(StorageError::OutOfOrderSequence {
                got: 16,
                expected: 15,
                ..
            })
        ));
        // Old epoch.
        assert!(matches!(
            append(&mut m, header(7, -1, 15, 1), 5),
            Err(StorageError::InvalidProducerEpoch { .. })
        ));
        // New epoch must start at 0.
        assert!(matches!(
            append(&mut m, header(7, 1, 15, 1), 5),
            Err(StorageError::OutOfOrderSequence { expected: 0, .. })
        ));
        assert_eq!(append(&mut m, header(7, 1, 0, 1), 5)?, None);
        // Only the last five batches are remembered.
        for i in 0..5 {
            append(&mut m, header(7, 1, 1 + i, 1), 6 + i64::from(i))?;
        }
        assert!(
            append(&mut m, header(7, 1, 0, 1), 20).is_err(),
            "evicted: out of order"
        );
        // Wrap-around.
        let mut w = ProducerStateManager::default();
        append(&mut w, header(9, 0, i32::MAX - 1, 2), 0)?;
        assert_eq!(append(&mut w, header(9, 0, 0, 1), 2)?, None);
        Ok(())
    }

    #[test]
    fn chained_batches_in_one_request() -> Result<(), StorageError> {
        let m = ProducerStateManager::default();
        let v = m.validate(&[header(1, 0, 0, 2), header(1, 0, 2, 2)], &[0, 2], 0)?;
        assert!(matches!(v, Validation::Append(ref e) if e.len() == 1 && e[0].batches.len() == 2));
        let v = m.validate(&[header(1, 0, 0, 2), header(1, 0, 3, 2)], &[0, 2], 0);
        assert!(matches!(v, Err(StorageError::OutOfOrderSequence { .. })));
        Ok(())
    }
}
