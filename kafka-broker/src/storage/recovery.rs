//! Opening a partition directory: listing segments, loading checkpoints, and crash recovery.
//!
//! Recovery rule (Kafka's `LogLoader`):
//! * **Unclean** (`clean_shutdown == false`): every segment from the one holding the
//!   persisted recovery point (all segments if there is none) is re-read batch by batch; each
//!   batch's length, magic, CRC-32C and offset order are checked; at the first bad or partial
//!   batch the segment is truncated and every later segment deleted; the scanned segments'
//!   indexes and the leader epoch cache are rebuilt from what was read.
//! * **Clean**: indexes are trusted; only the active segment's tail after its last index
//!   entry is re-read (cheap) to find the log end — if that finds damage, the active segment
//!   is recovered as above.
//!
//! Then the log start offset is raised to the first segment (segments wholly below it are
//! deleted), and the producer state is loaded from the newest snapshot at or below the log
//! end and brought up to date by replaying the batch headers after it.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use super::epoch_cache::{self, LeaderEpochCache};
use super::log::PartitionLog;
use super::producer_state::ProducerStateManager;
use super::scan::Step;
use super::segment::{self, Segment};
use super::{checkpoint, FileCache, LogConfig, RecoveryReport, StorageError};
use super::{LOG_START_CHECKPOINT, RECOVERY_POINT_CHECKPOINT};

/// Offsets of the `<offset>.snapshot` files in `dir`.
pub(crate) fn list_snapshots(dir: &Path) -> Result<Vec<i64>, StorageError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| StorageError::io(dir, e))? {
        let entry = entry.map_err(|e| StorageError::io(dir, e))?;
        if let Some(offset) = entry
            .file_name()
            .to_str()
            .and_then(|n| segment::parse_file_name(n, "snapshot"))
        {
            out.push(offset);
        }
    }
    Ok(out)
}

/// Transient files left by an interrupted write, removed on open.
fn is_leftover(name: &str) -> bool {
    [".tmp", ".deleted", ".cleaned", ".swap"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

impl PartitionLog {
    /// Opens (creating if missing) the log in `dir`, recovering it if `clean_shutdown` is
    /// false (see the module docs of [`storage`](super) for the rule). Segment files are
    /// opened lazily through `files`.
    ///
    /// # Errors
    /// I/O failures; [`StorageError::Inconsistent`] if a trusted segment cannot be read.
    pub fn open(
        dir: &Path,
        config: LogConfig,
        clean_shutdown: bool,
        files: Arc<FileCache>,
    ) -> Result<(PartitionLog, RecoveryReport), StorageError> {
        fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        let now = super::wall_clock_ms();
        let interval = config.index_interval_bytes;

        // 1. The directory listing.
        let mut bases = Vec::new();
        let mut index_files = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| StorageError::io(dir, e))? {
            let entry = entry.map_err(|e| StorageError::io(dir, e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if is_leftover(&name) {
                segment::remove_if_exists(&entry.path())?;
            } else if let Some(base) = segment::parse_file_name(&name, "log") {
                bases.push(base);
            } else if let Some(base) = segment::parse_file_name(&name, "index")
                .or_else(|| segment::parse_file_name(&name, "timeindex"))
            {
                index_files.push((base, entry.path()));
            }
        }
        bases.sort_unstable();
        for (base, path) in index_files {
            if bases.binary_search(&base).is_err() {
                segment::remove_if_exists(&path)?;
            }
        }

        // 2. Checkpoints.
        let log_start_ckpt = checkpoint::read_offset(&dir.join(LOG_START_CHECKPOINT));
        let recovery_ckpt = checkpoint::read_offset(&dir.join(RECOVERY_POINT_CHECKPOINT));
        let mut epochs = LeaderEpochCache::load(Some(dir.join(epoch_cache::FILE_NAME)));
        let latest_epoch = epochs.latest_entry();

        // 3. Segments (sizes from stat; next offsets from the following segment's base).
        let mut segs: Vec<Segment> = Vec::with_capacity(bases.len());
        for (i, &base) in bases.iter().enumerate() {
            let path = dir.join(segment::file_name(base, "log"));
            let size = fs::metadata(&path)
                .map_err(|e| StorageError::io(&path, e))?
                .len();
            let mut seg = Segment::existing(dir, base, &files, size, now);
            seg.index_interval = interval;
            seg.next_offset = bases.get(i + 1).copied().unwrap_or(base);
            segs.push(seg);
        }

        let mut report = RecoveryReport {
            clean: clean_shutdown,
            ..RecoveryReport::default()
        };
        let last = segs.len().saturating_sub(1);
        // First segment to re-read with CRC checks.
        let mut recover_from = if clean_shutdown {
            segs.len() // none; the active tail is checked below
        } else {
            let point = recovery_ckpt.unwrap_or(i64::MIN);
            segs.iter()
                .rposition(|s| s.base_offset <= point)
                .unwrap_or(0)
        };
        if !clean_shutdown && recovery_ckpt.is_none() {
            recover_from = 0;
        }

        // 4. Trusted sealed segments: their largest timestamp from the time index (rebuild
        //    the indexes if the files are unusable; recover if even that fails).
        for i in 0..recover_from.min(last) {
            let Some(seg) = segs.get_mut(i) else { break };
            if !seg.load_max_timestamp() {
                tracing::info!(segment = ?seg.store.path(), "index files unusable; rebuilding");
                if seg.rebuild_indexes().is_err() {
                    recover_from = i;
                    report.clean = false;
                    break;
                }
            }
        }

        // 5. Clean shutdown: check the active segment's tail after its last index entry.
        if clean_shutdown && recover_from > last {
            if let Some(seg) = segs.get_mut(last) {
                let tail_ok = seg.load_active_indexes() && {
                    let (checked, truncated) = seg.recover(false, interval, |_| {})?;
                    report.batches_checked += checked;
                    report.truncated_bytes += truncated;
                    truncated == 0
                };
                if tail_ok {
                    seg.load_first_batch_timestamp()?;
                } else {
                    tracing::warn!(segment = ?seg.store.path(), "active segment damaged despite a clean shutdown; recovering it");
                    report.clean = false;
                    recover_from = last;
                }
            }
        }

        // 6. Recovery: CRC-check from `recover_from`, truncate at the first bad batch.
        if recover_from <= last && !segs.is_empty() {
            report.clean = false;
            if let Some(seg) = segs.get(recover_from) {
                epochs.truncate_from_end(seg.base_offset);
            }
            let mut cut_after = None;
            for i in recover_from..segs.len() {
                let Some(seg) = segs.get_mut(i) else { break };
                let (checked, truncated) = seg.recover(true, interval, |h| {
                    epochs.assign(h.partition_leader_epoch, h.base_offset);
                })?;
                report.batches_checked += checked;
                report.truncated_bytes += truncated;
                if i < last {
                    seg.write_index_files(false)?;
                }
                if truncated > 0 {
                    cut_after = Some(i);
                    break;
                }
            }
            if let Some(i) = cut_after {
                for seg in segs.drain(i + 1..) {
                    report.truncated_bytes += seg.size;
                    tracing::warn!(segment = ?seg.store.path(), "deleting segment after a truncated one");
                    seg.delete_files()?;
                }
            }
        }

        // 7. Assemble the log.
        if segs.is_empty() {
            let base = log_start_ckpt.unwrap_or(0).max(0);
            let mut seg = Segment::create(dir, base, &files, now)?;
            seg.index_interval = interval;
            segs.push(seg);
        }
        let mut segments: BTreeMap<i64, Segment> =
            segs.into_iter().map(|s| (s.base_offset, s)).collect();
        let first_base = segments.first_key_value().map_or(0, |(&b, _)| b);
        let log_end = segments
            .last_key_value()
            .map_or(first_base, |(_, s)| s.next_offset);
        let mut log_start = log_start_ckpt.unwrap_or(first_base).max(first_base);
        if log_start > log_end {
            // Everything the checkpoint says is still there was lost: start over at the log
            // start offset (Kafka's `truncateFullyAndStartAt`).
            tracing::warn!(dir = %dir.display(), log_start, log_end, "log ends before its start offset; starting empty");
            for (_, seg) in std::mem::take(&mut segments) {
                report.truncated_bytes += seg.size;
                seg.delete_files()?;
            }
            let mut seg = Segment::create(dir, log_start, &files, now)?;
            seg.index_interval = interval;
            segments.insert(log_start, seg);
        }
        let log_end = segments
            .last_key_value()
            .map_or(log_start, |(_, s)| s.next_offset);
        log_start = log_start.min(log_end);
        epochs.truncate_from_end(log_end);
        epochs.truncate_from_start(log_start);
        // An epoch that began at the log end with nothing written in it yet (a new leader's,
        // see `PartitionLog::begin_leader_epoch`) is still the partition's current epoch.
        if let Some((epoch, start)) = latest_epoch {
            if start == log_end && epochs.latest_epoch().is_none_or(|e| e < epoch) {
                epochs.assign(epoch, start);
            }
        }
        epochs.save()?;
        report.segments = segments.len();

        let recovery_point = if report.clean {
            log_end
        } else {
            recovery_ckpt.unwrap_or(0).min(log_end)
        };
        let mut log = PartitionLog {
            dir: Some(dir.to_path_buf()),
            files: Some(files),
            config,
            segments,
            log_start_offset: log_start,
            // An absent checkpoint already means "the first segment" and "re-read all".
            persisted_log_start: log_start_ckpt.or(Some(first_base)),
            recovery_point,
            persisted_recovery_point: recovery_ckpt.or(Some(0)),
            producers: ProducerStateManager::default(),
            last_snapshot: None,
            epochs,
            fsyncs: 0,
        };
        log.delete_segments_below_start()?;
        log.persist_log_start()?;
        log.persist_recovery_point()?;
        log.load_producer_state()?;
        tracing::debug!(dir = %dir.display(), ?report, log_start, log_end, "opened partition log");
        Ok((log, report))
    }

    /// Loads the newest usable producer snapshot at or below the log end (deleting those
    /// above it) and replays the batches after it. Used on open and after a truncation; an
    /// in-memory log has no snapshots and replays all its batches.
    pub(super) fn load_producer_state(&mut self) -> Result<(), StorageError> {
        let log_end = self.log_end_offset();
        let mut from = i64::MIN;
        if let Some(dir) = self.dir.clone() {
            let mut snapshots = list_snapshots(&dir)?;
            snapshots.sort_unstable();
            for &offset in snapshots.iter().rev() {
                let path = dir.join(segment::file_name(offset, "snapshot"));
                if offset > log_end {
                    segment::remove_if_exists(&path)?;
                    continue;
                }
                if let Some((state, at)) = ProducerStateManager::load(&path) {
                    self.producers = state;
                    self.last_snapshot = Some(offset);
                    from = at;
                    break;
                }
            }
        }
        if from < log_end {
            self.replay_producers(from)?;
        }
        Ok(())
    }

    /// Rebuilds producer state from the batch headers at or after `from`.
    fn replay_producers(&mut self, from: i64) -> Result<(), StorageError> {
        let mut replayed = 0u64;
        for seg in self.segments.values() {
            if seg.next_offset <= from || seg.is_empty() {
                continue;
            }
            let pos = if seg.base_offset < from {
                seg.lookup(from)?
            } else {
                0
            };
            let mut scanner = seg.scanner(pos);
            loop {
                match scanner.next()? {
                    Step::Batch(h, _) => {
                        if h.base_offset >= from {
                            self.producers.replay(&h);
                            replayed += 1;
                        }
                    }
                    Step::End => break,
                    Step::Partial(at) | Step::Bad(at, _) => {
                        return Err(StorageError::Inconsistent {
                            path: seg.store.path().map(Path::to_path_buf).unwrap_or_default(),
                            reason: format!(
                                "unreadable batch at {at} while replaying producer state"
                            ),
                        });
                    }
                }
            }
        }
        if replayed > 0 {
            tracing::debug!(dir = ?self.dir, from, replayed, producers = self.producers.len(), "replayed producer state");
        }
        Ok(())
    }
}
