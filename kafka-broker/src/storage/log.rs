//! [`PartitionLog`]: one partition's log — append, read, offset lookups, retention, rolling,
//! flushing. Opening and crash recovery are in `recovery.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_proto::record::{crc32c, RecordBatches};

use super::epoch_cache::LeaderEpochCache;
use super::producer_state::{ProducerStateManager, Validation};
use super::scan::{RawHeader, Step};
use super::segment::{self, Segment};
use super::validate::validate_batches;
use super::{checkpoint, FileCache, LogConfig, StorageError};
use super::{FsyncPolicy, LOG_START_CHECKPOINT, RECOVERY_POINT_CHECKPOINT};

/// The outcome of [`PartitionLog::append`].
#[derive(Debug, Clone)]
pub struct AppendResult {
    /// Offset of the first record appended (for a duplicate: of the original batch).
    pub base_offset: i64,
    /// Offset of the last record appended.
    pub last_offset: i64,
    /// The broker timestamp stamped on the batches (`LogAppendTime` topics), else -1.
    pub log_append_time: i64,
    /// The log start offset after the append.
    pub log_start_offset: i64,
    /// The request repeated an already appended batch of an idempotent producer; nothing
    /// was written and the offsets are the original ones.
    pub duplicate: bool,
}

/// The outcome of [`PartitionLog::read`].
#[derive(Debug, Clone)]
pub struct ReadResult {
    /// Whole stored batches, concatenated as on disk (may be empty).
    pub records: Bytes,
    /// The high watermark (the log end offset: a single replica).
    pub high_watermark: i64,
    /// The log start offset.
    pub log_start_offset: i64,
}

/// One partition's log: segments on disk (or in memory) with their indexes, the log start
/// offset, the leader epoch cache and the idempotent-producer state.
///
/// Not internally synchronized: the broker holds it under a per-partition lock. Every call is
/// short (one `pwrite` per append, one `pread` per read in the common case) except those that
/// sync data to disk.
#[derive(Debug)]
pub struct PartitionLog {
    pub(super) dir: Option<PathBuf>,
    pub(super) files: Option<Arc<FileCache>>,
    pub(super) config: LogConfig,
    /// Segments by base offset; the last is the active one. Never empty.
    pub(super) segments: BTreeMap<i64, Segment>,
    pub(super) log_start_offset: i64,
    pub(super) persisted_log_start: Option<i64>,
    /// Data below this offset is synced to disk.
    pub(super) recovery_point: i64,
    pub(super) persisted_recovery_point: Option<i64>,
    pub(super) producers: ProducerStateManager,
    pub(super) last_snapshot: Option<i64>,
    pub(super) epochs: LeaderEpochCache,
    pub(super) fsyncs: u64,
}

fn missing_active() -> StorageError {
    StorageError::Inconsistent {
        path: PathBuf::from("<log>"),
        reason: "the log has no active segment".into(),
    }
}

/// Attribute bit for `LogAppendTime`.
const LOG_APPEND_TIME_BIT: u16 = 0x08;

impl PartitionLog {
    /// An in-memory log with the same semantics as a file-backed one (for `--memory` and
    /// tests): nothing is written to disk, and everything is lost when it is dropped.
    pub fn in_memory(config: LogConfig) -> PartitionLog {
        let mut segments = BTreeMap::new();
        let mut seg = Segment::memory(0, super::wall_clock_ms());
        seg.index_interval = config.index_interval_bytes;
        segments.insert(0, seg);
        PartitionLog {
            dir: None,
            files: None,
            config,
            segments,
            log_start_offset: 0,
            persisted_log_start: None,
            recovery_point: 0,
            persisted_recovery_point: None,
            producers: ProducerStateManager::default(),
            last_snapshot: None,
            epochs: LeaderEpochCache::default(),
            fsyncs: 0,
        }
    }

    pub(super) fn active(&self) -> Result<&Segment, StorageError> {
        self.segments
            .last_key_value()
            .map(|(_, s)| s)
            .ok_or_else(missing_active)
    }

    fn active_mut(&mut self) -> Result<&mut Segment, StorageError> {
        self.segments
            .last_entry()
            .map(|e| e.into_mut())
            .ok_or_else(missing_active)
    }

    /// The first offset still in the log.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// The offset the next record will get (also the high watermark: one replica).
    pub fn log_end_offset(&self) -> i64 {
        self.segments
            .last_key_value()
            .map_or(self.log_start_offset, |(_, s)| s.next_offset)
    }

    /// The configuration in use.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Replaces the configuration (topic configs altered). Takes effect from the next call:
    /// a smaller `segment.bytes` rolls on the next append, retention on the next
    /// [`apply_retention`](Self::apply_retention).
    pub fn set_config(&mut self, config: LogConfig) {
        for seg in self.segments.values_mut() {
            seg.index_interval = config.index_interval_bytes;
        }
        self.config = config;
    }

    /// Total size of the segments in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.segments.values().map(|s| s.size).sum()
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Data syncs (`fdatasync` of segment files) done by this log since it was opened.
    pub fn fsync_count(&self) -> u64 {
        self.fsyncs
    }

    /// The partition directory (`None` for an in-memory log).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Appends the `records` of one partition of a Produce request: one or more magic-2
    /// batches, as the client sent them.
    ///
    /// Every batch is validated first (CRC-32C, magic 2, size against `max.message.bytes`,
    /// Kafka's client-batch rules, the idempotent producer's epoch and sequence); then offsets
    /// are assigned contiguously from the log end by rewriting each batch's base offset and
    /// partition leader epoch (and, for `LogAppendTime` topics, its timestamp type and max
    /// timestamp, with a new CRC), and all batches are written with one `pwrite`. Nothing is
    /// appended on any error. With [`FsyncPolicy::Always`] the data is synced before this
    /// returns.
    ///
    /// A request that repeats one of an idempotent producer's last five batches is a
    /// duplicate: it is answered with the original offsets and `duplicate: true`.
    ///
    /// # Errors
    /// `CORRUPT_MESSAGE` ([`StorageError::Corrupt`], [`StorageError::Truncated`]),
    /// `INVALID_RECORD` (legacy magic, bad client batch), `MESSAGE_TOO_LARGE`,
    /// `RECORD_LIST_TOO_LARGE`, `OUT_OF_ORDER_SEQUENCE_NUMBER`, `INVALID_PRODUCER_EPOCH`,
    /// `KAFKA_STORAGE_ERROR` for I/O failures.
    pub fn append(
        &mut self,
        records: Bytes,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendResult, StorageError> {
        let mut buf = match records.try_into_mut() {
            Ok(b) => b,
            Err(shared) => BytesMut::from(&shared[..]),
        };
        let mut batches = validate_batches(&mut buf, self.config.max_message_bytes)?;
        let total = buf.len();
        let segment_bytes = self.config.effective_segment_bytes();
        if total as u64 > segment_bytes {
            return Err(StorageError::RecordListTooLarge {
                size: total,
                max: segment_bytes,
            });
        }
        let log_append = self.config.message_timestamp_type_log_append;
        let log_end = self.log_end_offset();
        // The log's latest epoch can be newer than the caller's if the leader epoch moved
        // (a truncation, see `truncate_to`) between the caller reading it and this call;
        // stamping the older one would break the epoch cache's order.
        let leader_epoch = leader_epoch.max(self.epochs.latest_epoch().unwrap_or(-1));
        let mut first_offsets = Vec::with_capacity(batches.len());
        let mut next = log_end;
        let mut max_ts_in_request = -1;
        for (pos, h) in &mut batches {
            first_offsets.push(next);
            rewrite_batch(
                &mut buf,
                *pos,
                h,
                next,
                leader_epoch,
                log_append.then_some(now_ms),
            );
            max_ts_in_request = max_ts_in_request.max(h.max_timestamp);
            next = h.next_offset();
        }
        let staged = match self.producers.validate(&batches, &first_offsets, now_ms)? {
            Validation::Append(staged) => staged,
            Validation::Duplicate(d) => {
                tracing::debug!(
                    first_offset = d.first_offset,
                    "duplicate batch from idempotent producer"
                );
                return Ok(AppendResult {
                    base_offset: d.first_offset,
                    last_offset: d.last_offset,
                    log_append_time: if log_append { d.timestamp } else { -1 },
                    log_start_offset: self.log_start_offset,
                    duplicate: true,
                });
            }
        };
        if self.should_roll(total as u64, next - 1, max_ts_in_request, now_ms)? {
            self.roll(now_ms)?;
        }
        let interval = self.config.index_interval_bytes;
        let active = self.active_mut()?;
        active.append(&buf, &batches, interval)?;
        self.producers.commit(staged);
        if self.epochs.assign(leader_epoch, log_end) {
            if let Err(e) = self.epochs.save() {
                tracing::warn!(error = %e, "could not write the leader epoch checkpoint");
            }
        }
        if self.config.fsync == FsyncPolicy::Always {
            let active = self.active_mut()?;
            if active.sync()? {
                self.fsyncs += 1;
            }
            self.recovery_point = next;
        }
        Ok(AppendResult {
            base_offset: log_end,
            last_offset: next - 1,
            log_append_time: if log_append { now_ms } else { -1 },
            log_start_offset: self.log_start_offset,
            duplicate: false,
        })
    }

    /// Kafka's `shouldRoll`: the active segment is not empty and the append would take it
    /// past `segment.bytes`, or its records span more than `segment.ms`, or the last offset
    /// would not fit a 32-bit relative offset.
    fn should_roll(
        &self,
        incoming: u64,
        last_offset: i64,
        max_ts: i64,
        now_ms: i64,
    ) -> Result<bool, StorageError> {
        let active = self.active()?;
        if active.is_empty() {
            return Ok(false);
        }
        let by_size = active.size + incoming > self.config.effective_segment_bytes();
        let by_offset = last_offset - active.base_offset > i64::from(i32::MAX);
        let by_time = self.segment_age(active, max_ts, now_ms) > self.config.segment_ms;
        Ok(by_size || by_offset || by_time)
    }

    /// Kafka's `timeWaitedForRoll`: the incoming timestamp minus the first batch's, or the
    /// wall-clock age when the segment has no timestamps.
    fn segment_age(&self, seg: &Segment, incoming_ts: i64, now_ms: i64) -> i64 {
        if seg.first_batch_timestamp >= 0 && incoming_ts >= 0 {
            incoming_ts.saturating_sub(seg.first_batch_timestamp)
        } else {
            now_ms.saturating_sub(seg.created_ms)
        }
    }

    /// Rolls the active segment if it is older than `segment.ms` (measured from its first
    /// batch's timestamp, or its creation when it has none), so that idle partitions still
    /// roll and become eligible for retention.
    ///
    /// # Errors
    /// I/O failures.
    pub fn maybe_roll(&mut self, now_ms: i64) -> Result<(), StorageError> {
        let active = self.active()?;
        if active.is_empty() {
            return Ok(());
        }
        let since = if active.first_batch_timestamp >= 0 {
            active.first_batch_timestamp
        } else {
            active.created_ms
        };
        if now_ms.saturating_sub(since) > self.config.segment_ms {
            self.roll(now_ms)?;
        }
        Ok(())
    }

    /// Seals the active segment (indexes written, data synced) and starts a new one at the
    /// log end. No-op if the active segment is empty.
    pub fn roll(&mut self, now_ms: i64) -> Result<(), StorageError> {
        let log_end = self.log_end_offset();
        let active = self.active_mut()?;
        if active.is_empty() {
            return Ok(());
        }
        active.write_index_files(true)?;
        let synced = active.sync()?;
        if synced {
            self.fsyncs += 1;
        }
        let mut seg = match (&self.dir, &self.files) {
            (Some(dir), Some(files)) => Segment::create(dir, log_end, files, now_ms)?,
            _ => Segment::memory(log_end, now_ms),
        };
        seg.index_interval = self.config.index_interval_bytes;
        self.segments.insert(log_end, seg);
        tracing::debug!(dir = ?self.dir, base_offset = log_end, "rolled a new segment");
        self.recovery_point = log_end;
        self.persist_recovery_point()?;
        self.write_producer_snapshot(log_end)?;
        Ok(())
    }

    /// Reads whole batches starting with the one holding `offset` (whose base offset may be
    /// lower), as stored. Stops before `max_bytes` would be exceeded, except that with
    /// `min_one_batch` the first batch is returned whatever its size (KIP-74). Reads from one
    /// segment per call, like Kafka. `offset` equal to the log end gives empty records.
    ///
    /// # Errors
    /// [`StorageError::OffsetOutOfRange`] below the log start or past the log end; I/O.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<ReadResult, StorageError> {
        let end = self.log_end_offset();
        let result = |records| ReadResult {
            records,
            high_watermark: end,
            log_start_offset: self.log_start_offset,
        };
        if offset < self.log_start_offset || offset > end {
            return Err(StorageError::OffsetOutOfRange {
                offset,
                start: self.log_start_offset,
                end,
            });
        }
        if offset == end {
            return Ok(result(Bytes::new()));
        }
        let interval = self.config.index_interval_bytes;
        let holding = self.segments.range(..=offset).next_back();
        let later = self.segments.range(offset.saturating_add(1)..);
        for (_, seg) in holding.into_iter().chain(later) {
            if let Some(bytes) = seg.read(offset, max_bytes, min_one_batch, interval)? {
                return Ok(result(bytes));
            }
        }
        Ok(result(Bytes::new()))
    }

    /// ListOffsets by timestamp: the first record (at or after the log start) whose timestamp
    /// is `>= timestamp`, as (offset, timestamp, leader epoch of its batch). Segments are
    /// skipped by their largest timestamp, the time index gives where to start in the
    /// segment, and only the candidate batches are decoded.
    ///
    /// # Errors
    /// I/O; stored batches that cannot be decoded.
    pub fn offset_for_timestamp(
        &self,
        timestamp: i64,
    ) -> Result<Option<(i64, i64, i32)>, StorageError> {
        let start = self.log_start_offset;
        for seg in self.segments.values() {
            if seg.next_offset <= start || seg.max_timestamp < timestamp || seg.is_empty() {
                continue;
            }
            let idx = seg.indexes()?;
            let mut pos = match idx.times.lookup_before(timestamp) {
                Some(rel) => u64::from(idx.offsets.lookup(rel)),
                None => 0,
            };
            if start > seg.base_offset {
                pos = pos.max(seg.lookup(start)?);
            }
            let mut scanner = seg.scanner(pos);
            loop {
                match scanner.next()? {
                    Step::Batch(h, at) => {
                        if h.max_timestamp < timestamp || h.last_offset() < start {
                            continue;
                        }
                        let bytes = Bytes::copy_from_slice(scanner.batch_bytes(at, h.size)?);
                        if let Some((offset, ts)) =
                            first_record(seg, bytes, |off, ts| off >= start && ts >= timestamp)?
                        {
                            return Ok(Some((offset, ts, h.partition_leader_epoch)));
                        }
                    }
                    Step::End => break,
                    Step::Partial(at) | Step::Bad(at, _) => {
                        return Err(bad_stored_batch(seg, at));
                    }
                }
            }
        }
        Ok(None)
    }

    /// ListOffsets `MAX_TIMESTAMP` (-3, KIP-734): the record with the largest timestamp (the
    /// first such record) as (offset, timestamp, leader epoch). `None` for an empty log.
    ///
    /// # Errors
    /// I/O; stored batches that cannot be decoded.
    pub fn max_timestamp(&self) -> Result<Option<(i64, i64, i32)>, StorageError> {
        let start = self.log_start_offset;
        let mut best: Option<&Segment> = None;
        for seg in self.segments.values() {
            if seg.next_offset <= start || seg.is_empty() || seg.max_timestamp < 0 {
                continue;
            }
            if best.is_none_or(|b| seg.max_timestamp > b.max_timestamp) {
                best = Some(seg);
            }
        }
        let Some(seg) = best else {
            return Ok(None);
        };
        let target = seg.offset_of_max_timestamp;
        let max_ts = seg.max_timestamp;
        let mut scanner = seg.scanner(seg.lookup(target)?);
        loop {
            match scanner.next()? {
                Step::Batch(h, at) => {
                    if h.last_offset() < target {
                        continue;
                    }
                    let bytes = Bytes::copy_from_slice(scanner.batch_bytes(at, h.size)?);
                    let found = first_record(seg, bytes, |_, ts| ts == max_ts)?;
                    let (offset, ts) = found.unwrap_or((h.last_offset(), h.max_timestamp));
                    return Ok(Some((offset, ts, h.partition_leader_epoch)));
                }
                Step::End => return Ok(None),
                Step::Partial(at) | Step::Bad(at, _) => return Err(bad_stored_batch(seg, at)),
            }
        }
    }

    /// DeleteRecords: moves the log start offset up to `offset` (-1: the high watermark),
    /// persists it, and deletes the segments entirely below it (never the active one).
    /// Returns the new log start offset (unchanged if `offset` is not above it).
    ///
    /// # Errors
    /// [`StorageError::OffsetOutOfRange`] if `offset` is past the log end (or below -1); I/O.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, StorageError> {
        let end = self.log_end_offset();
        let target = if offset == -1 { end } else { offset };
        if target < 0 || target > end {
            return Err(StorageError::OffsetOutOfRange {
                offset,
                start: self.log_start_offset,
                end,
            });
        }
        if target > self.log_start_offset {
            self.log_start_offset = target;
            self.persist_log_start()?;
            self.delete_segments_below_start()?;
            self.epochs.truncate_from_start(target);
            self.epochs.save()?;
        }
        Ok(self.log_start_offset)
    }

    /// Deletes sealed segments whose records are all below the log start offset.
    pub(super) fn delete_segments_below_start(&mut self) -> Result<u64, StorageError> {
        let mut deleted = 0;
        while self.segments.len() > 1 {
            let Some(first) = self.segments.first_entry() else {
                break;
            };
            if first.get().next_offset > self.log_start_offset {
                break;
            }
            first.remove().delete_files()?;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Retention (run periodically by the broker): deletes, oldest first and never the active
    /// segment, segments below the log start offset, segments whose newest record is older
    /// than `retention.ms`, and segments while the log exceeds `retention.bytes`; advances the
    /// log start offset accordingly. Also forgets idle idempotent producers
    /// (`producer.id.expiration.ms`, 1 day). Returns the number of segments deleted.
    ///
    /// # Errors
    /// I/O.
    pub fn apply_retention(&mut self, now_ms: i64) -> Result<u64, StorageError> {
        let mut deleted = self.delete_segments_below_start()?;
        if self.config.retention_ms >= 0 {
            let limit = now_ms.saturating_sub(self.config.retention_ms);
            while self.segments.len() > 1 {
                let Some(first) = self.segments.first_entry() else {
                    break;
                };
                if first.get().largest_timestamp() >= limit {
                    break;
                }
                self.remove_first_segment()?;
                deleted += 1;
            }
        }
        if self.config.retention_bytes >= 0 {
            let mut excess = self
                .size_bytes()
                .saturating_sub(u64::try_from(self.config.retention_bytes).unwrap_or(0));
            while self.segments.len() > 1 {
                let Some(first) = self.segments.first_entry() else {
                    break;
                };
                let size = first.get().size;
                if size > excess {
                    break;
                }
                excess -= size;
                self.remove_first_segment()?;
                deleted += 1;
            }
        }
        if deleted > 0 {
            tracing::debug!(dir = ?self.dir, deleted, log_start = self.log_start_offset, "retention deleted segments");
        }
        self.producers.expire(now_ms);
        Ok(deleted)
    }

    /// Deletes the oldest segment and moves the log start offset past it.
    fn remove_first_segment(&mut self) -> Result<(), StorageError> {
        let Some((_, seg)) = self.segments.pop_first() else {
            return Ok(());
        };
        let new_start = self
            .segments
            .first_key_value()
            .map_or(seg.next_offset, |(&base, _)| base);
        if new_start > self.log_start_offset {
            self.log_start_offset = new_start;
            self.persist_log_start()?;
            self.epochs.truncate_from_start(new_start);
            self.epochs.save()?;
        }
        seg.delete_files()
    }

    /// The log end offset, if `offset` is within `[log start, log end]`.
    fn within_log(&self, offset: i64) -> Result<i64, StorageError> {
        let end = self.log_end_offset();
        if offset < self.log_start_offset || offset > end {
            return Err(StorageError::OffsetOutOfRange {
                offset,
                start: self.log_start_offset,
                end,
            });
        }
        Ok(end)
    }

    /// The base offset of the stored batch holding `offset`, or `offset` itself at the log
    /// end: truncating there with [`truncate_to`](Self::truncate_to) keeps every record
    /// below `offset` exactly when this returns `offset`.
    ///
    /// # Errors
    /// [`StorageError::OffsetOutOfRange`] outside `[log start, log end]`; I/O.
    pub fn batch_start(&self, offset: i64) -> Result<i64, StorageError> {
        self.within_log(offset)?;
        let holding = self.segments.range(..=offset).next_back();
        let later = self.segments.range(offset.saturating_add(1)..);
        for (_, seg) in holding.into_iter().chain(later) {
            if let Some((_, base)) = seg.batch_holding(offset)? {
                return Ok(base);
            }
        }
        Ok(offset)
    }

    /// Truncates the log at `offset` (Kafka's `truncateTo`, what a follower does after an
    /// unclean leader election): every batch holding an offset `>= offset` is dropped (a batch
    /// that straddles `offset` goes whole, so the log may end below it; see
    /// [`batch_start`](Self::batch_start)). Segments after the cut are deleted, the segment
    /// holding it is cut and becomes the active one, its indexes and largest timestamp are
    /// rebuilt, the epoch cache forgets epochs starting at or after the new end, the producer
    /// state is reloaded from the newest snapshot at or below it (snapshots past it are
    /// deleted) and the batches after that snapshot, and the recovery point is lowered.
    /// The next append gets the new log end offset. Returns the new log end offset.
    ///
    /// # Errors
    /// [`StorageError::OffsetOutOfRange`] outside `[log start, log end]`; I/O.
    pub fn truncate_to(&mut self, offset: i64) -> Result<i64, StorageError> {
        let end = self.within_log(offset)?;
        // The segment holding `offset` (the log start is in the first one) becomes the
        // active one; the later ones go.
        if self.segments.range(..=offset).next_back().is_none() {
            return Err(StorageError::Inconsistent {
                path: self.dir.clone().unwrap_or_default(),
                reason: format!("no segment holds offset {offset}"),
            });
        }
        let later: Vec<i64> = self
            .segments
            .range(offset.saturating_add(1)..)
            .map(|(&base, _)| base)
            .collect();
        let mut removed = 0u64;
        for base in later.into_iter().rev() {
            if let Some(seg) = self.segments.remove(&base) {
                removed += seg.size;
                seg.delete_files()?;
            }
        }
        if let Some(mut active) = self.segments.last_entry() {
            removed += active.get_mut().truncate_to(offset)?;
        }
        let new_end = self.log_end_offset();
        if self.log_start_offset > new_end {
            self.log_start_offset = new_end;
            self.persist_log_start()?;
        }
        self.epochs.truncate_from_end(new_end);
        self.epochs.save()?;
        self.producers = ProducerStateManager::default();
        self.last_snapshot = None;
        self.load_producer_state()?;
        self.recovery_point = self.recovery_point.min(new_end);
        self.persist_recovery_point()?;
        tracing::info!(dir = ?self.dir, offset, old_end = end, new_end, removed_bytes = removed, "truncated the log");
        Ok(new_end)
    }

    /// A new leader epoch starts at the log end (Kafka's leader records this on election,
    /// before any append), so OffsetForLeaderEpoch for older epochs answers with this offset
    /// even before the new leader has appended anything.
    ///
    /// # Errors
    /// Writing the epoch checkpoint.
    pub fn begin_leader_epoch(&mut self, epoch: i32) -> Result<(), StorageError> {
        let end = self.log_end_offset();
        if self.epochs.assign(epoch, end) {
            self.epochs.save()?;
        }
        Ok(())
    }

    /// OffsetForLeaderEpoch: the largest epoch `<= epoch` the log knows and the start offset
    /// of the next larger epoch (the log end for the latest epoch). `None` when the epoch is
    /// undefined (-1) or the log knows no epoch (answer `UNDEFINED_EPOCH`, offset -1).
    pub fn end_offset_for_epoch(&self, epoch: i32) -> Option<(i32, i64)> {
        self.epochs.end_offset_for(epoch, self.log_end_offset())
    }

    /// The latest leader epoch written to the log.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.epochs.latest_epoch()
    }

    /// Syncs all unsynced data and advances the persisted recovery point to the log end.
    ///
    /// # Errors
    /// I/O.
    pub fn flush(&mut self) -> Result<(), StorageError> {
        let mut synced = 0;
        for seg in self.segments.values_mut() {
            if seg.sync()? {
                synced += 1;
            }
        }
        self.fsyncs += synced;
        self.recovery_point = self.log_end_offset();
        self.persist_recovery_point()
    }

    /// Closes the log cleanly: syncs the data, writes the active segment's indexes, the
    /// producer-state snapshot, the epoch, recovery-point and log-start checkpoints, so the
    /// next [`open`](Self::open) with `clean_shutdown` skips recovery.
    ///
    /// # Errors
    /// I/O.
    pub fn close(mut self) -> Result<(), StorageError> {
        self.flush()?;
        if let Some(mut entry) = self.segments.last_entry() {
            entry.get_mut().write_index_files(false)?;
        }
        let end = self.log_end_offset();
        self.write_producer_snapshot(end)?;
        self.epochs.save()?;
        self.persist_log_start()?;
        Ok(())
    }

    /// Deletes the log and its directory (the topic was deleted).
    ///
    /// # Errors
    /// I/O.
    pub fn delete(mut self) -> Result<(), StorageError> {
        let segments = std::mem::take(&mut self.segments);
        drop(segments); // closes the files
        if let Some(dir) = &self.dir {
            match std::fs::remove_dir_all(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::io(dir, e)),
            }
        }
        Ok(())
    }

    pub(super) fn persist_recovery_point(&mut self) -> Result<(), StorageError> {
        if let Some(dir) = &self.dir {
            if self.persisted_recovery_point != Some(self.recovery_point) {
                checkpoint::write_offset(
                    &dir.join(RECOVERY_POINT_CHECKPOINT),
                    self.recovery_point,
                )?;
                self.persisted_recovery_point = Some(self.recovery_point);
            }
        }
        Ok(())
    }

    pub(super) fn persist_log_start(&mut self) -> Result<(), StorageError> {
        if let Some(dir) = &self.dir {
            if self.persisted_log_start != Some(self.log_start_offset) {
                checkpoint::write_offset(&dir.join(LOG_START_CHECKPOINT), self.log_start_offset)?;
                self.persisted_log_start = Some(self.log_start_offset);
            }
        }
        Ok(())
    }

    /// Writes `<offset>.snapshot` with the producer state (unless one exists for `offset` and
    /// nothing changed) and keeps only the two newest snapshots.
    pub(super) fn write_producer_snapshot(&mut self, offset: i64) -> Result<(), StorageError> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        if self.last_snapshot == Some(offset) && !self.producers.is_dirty() {
            return Ok(());
        }
        let bytes = self.producers.snapshot_bytes(offset)?;
        let path = dir.join(segment::file_name(offset, "snapshot"));
        let tmp = path.with_extension("snapshot.tmp");
        segment::write_file(&tmp, &bytes, false)?;
        std::fs::rename(&tmp, &path).map_err(|e| StorageError::io(&path, e))?;
        self.producers.mark_clean();
        self.last_snapshot = Some(offset);
        let mut snapshots = super::recovery::list_snapshots(dir)?;
        snapshots.sort_unstable();
        let keep_from = snapshots.len().saturating_sub(2);
        for old in snapshots.get(..keep_from).unwrap_or_default() {
            segment::remove_if_exists(&dir.join(segment::file_name(*old, "snapshot")))?;
        }
        Ok(())
    }
}

/// Rewrites a validated batch in place: base offset, partition leader epoch (neither is
/// covered by the CRC), and for `LogAppendTime` the timestamp type, max timestamp and CRC.
fn rewrite_batch(
    buf: &mut [u8],
    pos: usize,
    h: &mut RawHeader,
    base_offset: i64,
    leader_epoch: i32,
    log_append_time: Option<i64>,
) {
    put(buf, pos, &base_offset.to_be_bytes());
    put(buf, pos + 12, &leader_epoch.to_be_bytes());
    h.base_offset = base_offset;
    h.partition_leader_epoch = leader_epoch;
    if let Some(now) = log_append_time {
        let attributes = h.attributes | LOG_APPEND_TIME_BIT;
        put(buf, pos + 21, &attributes.to_be_bytes());
        put(buf, pos + 35, &now.to_be_bytes());
        let crc = buf.get(pos + 21..pos + h.size).map_or(0, crc32c);
        put(buf, pos + 17, &crc.to_be_bytes());
        h.attributes = attributes;
        h.max_timestamp = now;
    }
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(slot) = buf.get_mut(at..at + bytes.len()) {
        slot.copy_from_slice(bytes);
    }
}

/// The first record of the stored batch `bytes` matching `pred(offset, timestamp)`.
fn first_record(
    seg: &Segment,
    bytes: Bytes,
    pred: impl Fn(i64, i64) -> bool,
) -> Result<Option<(i64, i64)>, StorageError> {
    let decode_err = |e: kafka_proto::record::RecordError| StorageError::Inconsistent {
        path: seg.store.path().map(Path::to_path_buf).unwrap_or_default(),
        reason: format!("stored batch cannot be decoded: {e}"),
    };
    let Some(batch) = RecordBatches::new(bytes).next() else {
        return Ok(None);
    };
    let batch = batch.map_err(decode_err)?;
    for record in batch.records().map_err(decode_err)? {
        let record = record.map_err(decode_err)?;
        if pred(record.offset(), record.timestamp()) {
            return Ok(Some((record.offset(), record.timestamp())));
        }
    }
    Ok(None)
}

fn bad_stored_batch(seg: &Segment, at: u64) -> StorageError {
    StorageError::Inconsistent {
        path: seg.store.path().map(Path::to_path_buf).unwrap_or_default(),
        reason: format!("unreadable batch at position {at}"),
    }
}
