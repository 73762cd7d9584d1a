//! The leader epoch cache (KIP-101, KIP-279): for each leader epoch, the first offset written
//! in it, persisted as `leader-epoch-checkpoint`. Answers OffsetForLeaderEpoch.

use std::path::PathBuf;

use super::{checkpoint, StorageError};

/// File name of the epoch checkpoint in a partition directory.
pub(crate) const FILE_NAME: &str = "leader-epoch-checkpoint";

/// Epoch → start offset entries, increasing in both.
#[derive(Debug, Default)]
pub(crate) struct LeaderEpochCache {
    entries: Vec<(i32, i64)>,
    path: Option<PathBuf>,
    dirty: bool,
}

impl LeaderEpochCache {
    /// Loads the checkpoint at `path` (empty if absent), or an in-memory cache.
    pub(crate) fn load(path: Option<PathBuf>) -> Self {
        let entries = path
            .as_deref()
            .and_then(|p| checkpoint::read(p, 2))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| match e.as_slice() {
                [epoch, offset] => Some((i32::try_from(*epoch).ok()?, *offset)),
                _ => None,
            })
            .collect();
        let mut cache = Self {
            entries,
            path,
            dirty: false,
        };
        cache.make_monotonic();
        cache
    }

    fn make_monotonic(&mut self) {
        let mut out: Vec<(i32, i64)> = Vec::with_capacity(self.entries.len());
        for &(epoch, offset) in &self.entries {
            if out.last().is_none_or(|&(e, o)| epoch > e && offset >= o) {
                out.push((epoch, offset));
            }
        }
        if out.len() != self.entries.len() {
            self.dirty = true;
        }
        self.entries = out;
    }

    /// The latest epoch.
    pub(crate) fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|&(e, _)| e)
    }

    /// The latest entry: (epoch, start offset).
    pub(crate) fn latest_entry(&self) -> Option<(i32, i64)> {
        self.entries.last().copied()
    }

    /// Records that `epoch` starts at `start_offset` (Kafka's `assign`): ignored for a
    /// negative epoch or the current epoch; entries that would break monotonicity are
    /// dropped. Returns whether the cache changed.
    pub(crate) fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 || start_offset < 0 {
            return false;
        }
        if let Some(&(e, o)) = self.entries.last() {
            if e == epoch && start_offset >= o {
                return false;
            }
        }
        self.entries.retain(|&(e, o)| e < epoch && o < start_offset);
        self.entries.push((epoch, start_offset));
        self.dirty = true;
        true
    }

    /// Drops entries starting at or after `end_offset` (the log was truncated there).
    pub(crate) fn truncate_from_end(&mut self, end_offset: i64) {
        let before = self.entries.len();
        self.entries.retain(|&(_, o)| o < end_offset);
        self.dirty |= self.entries.len() != before;
    }

    /// The log start moved to `start_offset`: drops epochs that ended before it and moves the
    /// start of the epoch holding it up to it.
    pub(crate) fn truncate_from_start(&mut self, start_offset: i64) {
        let holding = self.entries.partition_point(|&(_, o)| o <= start_offset);
        if holding == 0 {
            return;
        }
        let keep_from = holding - 1;
        if keep_from > 0 {
            self.entries.drain(..keep_from);
            self.dirty = true;
        }
        if let Some(first) = self.entries.first_mut() {
            if first.1 < start_offset {
                first.1 = start_offset;
                self.dirty = true;
            }
        }
    }

    /// Kafka's `endOffsetFor`: the largest epoch `<= epoch` and the start offset of the next
    /// larger epoch (the log end for the latest epoch). `None` if the epoch is undefined or
    /// nothing is known.
    pub(crate) fn end_offset_for(&self, epoch: i32, log_end_offset: i64) -> Option<(i32, i64)> {
        if epoch < 0 {
            return None;
        }
        let latest = self.latest_epoch()?;
        if latest == epoch {
            return Some((epoch, log_end_offset));
        }
        let higher = self.entries.partition_point(|&(e, _)| e <= epoch);
        let &(_, higher_start) = self.entries.get(higher)?;
        match higher.checked_sub(1).and_then(|i| self.entries.get(i)) {
            Some(&(floor, _)) => Some((floor, higher_start)),
            // Older than every known epoch: the first known epoch's start.
            None => Some((epoch, higher_start)),
        }
    }

    /// Writes the checkpoint if it changed.
    pub(crate) fn save(&mut self) -> Result<(), StorageError> {
        if !self.dirty {
            return Ok(());
        }
        if let Some(path) = &self.path {
            let entries: Vec<Vec<i64>> = self
                .entries
                .iter()
                .map(|&(e, o)| vec![i64::from(e), o])
                .collect();
            checkpoint::write(path, &entries)?;
        }
        self.dirty = false;
        Ok(())
    }

    /// The entries (for tests).
    #[cfg(test)]
    pub(crate) fn entries(&self) -> &[(i32, i64)] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_end_offset_rules() {
        let mut c = LeaderEpochCache::default();
        assert_eq!(c.end_offset_for(0, 10), None);
        assert!(c.assign(1, 0));
        assert!(!c.assign(1, 5));
        assert!(c.assign(3, 10));
        assert!(c.assign(5, 20));
        assert_eq!(c.end_offset_for(-1, 30), None);
        assert_eq!(c.end_offset_for(5, 30), Some((5, 30)));
        assert_eq!(c.end_offset_for(4, 30), Some((3, 20)));
        assert_eq!(c.end_offset_for(3, 30), Some((3, 20)));
        assert_eq!(c.end_offset_for(2, 30), Some((1, 10)));
        assert_eq!(c.end_offset_for(0, 30), Some((0, 0)));
        assert_eq!(c.end_offset_for(9, 30), None);
        c.truncate_from_start(15);
        assert_eq!(c.entries(), &[(3, 15), (5, 20)]);
        c.truncate_from_end(20);
        assert_eq!(c.entries(), &[(3, 15)]);
        // A lower epoch at a later offset replaces the non-monotonic tail.
        assert!(c.assign(2, 30));
        assert_eq!(c.entries(), &[(2, 30)]);
    }
}
