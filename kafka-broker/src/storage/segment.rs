//! One segment of a partition's log: a `.log` file of record batches named by its base
//! offset, with its sparse [`OffsetIndex`] and [`TimeIndex`].
//!
//! The active (last) segment keeps its indexes in memory and writes them when it rolls or the
//! log closes; older segments load theirs from `.index` / `.timeindex` on first use (and
//! rebuild them from the `.log` file if a file is missing or fails validation).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use kafka_proto::record::BATCH_HEADER_SIZE;

use super::index::OffsetIndex;
use super::scan::{RawHeader, Scanner, Step};
use super::store::Store;
use super::time_index::{self, TimeIndex};
use super::{FileCache, StorageError};

/// Width of the zero-padded base offset in segment file names.
const NAME_DIGITS: usize = 20;

/// `<base offset, 20 digits>.<ext>`, e.g. `00000000000000000042.log`.
pub(crate) fn file_name(base_offset: i64, ext: &str) -> String {
    format!("{base_offset:0width$}.{ext}", width = NAME_DIGITS)
}

/// The base offset in a file name `<20 digits>.<ext>`, if it has that form.
pub(crate) fn parse_file_name(name: &str, ext: &str) -> Option<i64> {
    let stem = name.strip_suffix(ext)?.strip_suffix('.')?;
    if stem.len() != NAME_DIGITS || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Both indexes of a segment.
#[derive(Debug, Default)]
pub(crate) struct Indexes {
    pub(crate) offsets: OffsetIndex,
    pub(crate) times: TimeIndex,
}

/// One segment.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) base_offset: i64,
    pub(crate) store: Store,
    /// Bytes of valid batches.
    pub(crate) size: u64,
    /// The offset after the last batch (`base_offset` when empty).
    pub(crate) next_offset: i64,
    /// Largest batch max timestamp (-1 if none).
    pub(crate) max_timestamp: i64,
    /// Base offset of the batch carrying `max_timestamp`.
    pub(crate) offset_of_max_timestamp: i64,
    /// Max timestamp of the first batch (-1 if unknown), for `segment.ms` (as in Kafka).
    pub(crate) first_batch_timestamp: i64,
    /// Wall-clock time the segment was created or opened.
    pub(crate) created_ms: i64,
    /// Data written since the last sync.
    pub(crate) unsynced: bool,
    /// `index.interval.bytes` used when indexes are rebuilt.
    pub(crate) index_interval: usize,
    bytes_since_index: usize,
    indexes: OnceLock<Indexes>,
    /// The in-memory indexes are newer than the files.
    index_dirty: bool,
}

fn inconsistent(store: &Store, reason: String) -> StorageError {
    StorageError::Inconsistent {
        path: store
            .path()
            .map_or_else(|| PathBuf::from("<memory>"), Path::to_path_buf),
        reason,
    }
}

impl Segment {
    fn with_store(store: Store, base_offset: i64, size: u64, created_ms: i64) -> Self {
        Self {
            base_offset,
            store,
            size,
            next_offset: base_offset,
            max_timestamp: -1,
            offset_of_max_timestamp: base_offset,
            first_batch_timestamp: -1,
            created_ms,
            unsynced: false,
            index_interval: super::config::DEFAULT_INDEX_INTERVAL_BYTES,
            bytes_since_index: 0,
            indexes: OnceLock::new(),
            index_dirty: false,
        }
    }

    /// A new, empty segment file in `dir` (an existing file of that name is emptied).
    pub(crate) fn create(
        dir: &Path,
        base_offset: i64,
        cache: &Arc<FileCache>,
        now_ms: i64,
    ) -> Result<Self, StorageError> {
        let mut store = Store::file(dir.join(file_name(base_offset, "log")), cache);
        store.create()?;
        if store.stored_len()? > 0 {
            store.truncate(0)?;
        }
        let mut seg = Self::with_store(store, base_offset, 0, now_ms);
        let _ = seg.indexes.set(Indexes::default());
        // Written at close even if nothing is appended, so a clean open finds them.
        seg.index_dirty = true;
        for ext in ["index", "timeindex"] {
            remove_if_exists(&dir.join(file_name(base_offset, ext)))?;
        }
        Ok(seg)
    }

    /// A new, empty in-memory segment.
    pub(crate) fn memory(base_offset: i64, now_ms: i64) -> Self {
        let seg = Self::with_store(Store::Memory(Vec::new()), base_offset, 0, now_ms);
        let _ = seg.indexes.set(Indexes::default());
        seg
    }

    /// An existing segment file of `size` bytes; indexes not loaded, `next_offset` unknown
    /// (set by the caller).
    pub(crate) fn existing(
        dir: &Path,
        base_offset: i64,
        cache: &Arc<FileCache>,
        size: u64,
        now_ms: i64,
    ) -> Self {
        let store = Store::file(dir.join(file_name(base_offset, "log")), cache);
        Self::with_store(store, base_offset, size, now_ms)
    }

    fn sibling(&self, ext: &str) -> Option<PathBuf> {
        self.store.path().map(|p| p.with_extension(ext))
    }

    /// Offset relative to the base, as stored in the indexes.
    pub(crate) fn relative(&self, offset: i64) -> u32 {
        u32::try_from(offset.saturating_sub(self.base_offset).max(0)).unwrap_or(u32::MAX)
    }

    /// The newest record's timestamp, for `retention.ms`: the largest batch timestamp, or the
    /// file's modification time when the batches carry none (as Kafka does).
    pub(crate) fn largest_timestamp(&self) -> i64 {
        if self.max_timestamp >= 0 {
            return self.max_timestamp;
        }
        self.store
            .path()
            .and_then(|p| fs::metadata(p).ok())
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(self.created_ms, |d| {
                i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
            })
    }

    /// Whether the segment holds no batch.
    pub(crate) fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// The indexes, loaded from the files on first use (rebuilt from the data if invalid).
    pub(crate) fn indexes(&self) -> Result<&Indexes, StorageError> {
        if let Some(idx) = self.indexes.get() {
            return Ok(idx);
        }
        let loaded = match self.load_index_files() {
            Some(idx) => idx,
            None => {
                tracing::info!(segment = ?self.store.path(), "rebuilding segment indexes");
                self.scan_indexes(&mut 0)?
            }
        };
        let _ = self.indexes.set(loaded);
        self.indexes
            .get()
            .ok_or_else(|| inconsistent(&self.store, "index not loaded".into()))
    }

    fn indexes_mut(&mut self) -> Result<&mut Indexes, StorageError> {
        self.indexes()?;
        let store = &self.store;
        self.indexes
            .get_mut()
            .ok_or_else(|| inconsistent(store, "index not loaded".into()))
    }

    fn load_index_files(&self) -> Option<Indexes> {
        let offsets = fs::read(self.sibling("index")?).ok()?;
        let times = fs::read(self.sibling("timeindex")?).ok()?;
        let offsets = OffsetIndex::from_bytes(&offsets, self.size)?;
        // The active segment's end is not known yet when its indexes are loaded.
        let max_rel = if self.next_offset > self.base_offset {
            u64::from(self.relative(self.next_offset))
        } else {
            u64::from(u32::MAX)
        };
        let times = TimeIndex::from_bytes(&times, max_rel)?;
        Some(Indexes { offsets, times })
    }

    /// Rebuilds indexes from the batch headers (trusted data: no CRC check).
    fn scan_indexes(&self, bytes_since: &mut usize) -> Result<Indexes, StorageError> {
        let mut idx = Indexes::default();
        let mut max_ts = -1;
        let mut max_ts_offset = self.base_offset;
        let mut scanner = Scanner::new(&self.store, 0, self.size, false);
        loop {
            match scanner.next()? {
                Step::Batch(h, pos) => {
                    index_one_rel(
                        &mut idx,
                        RelBase(self.base_offset),
                        &h,
                        pos,
                        bytes_since,
                        &mut max_ts,
                        &mut max_ts_offset,
                        self.index_interval,
                    );
                }
                Step::End => break,
                Step::Partial(pos) | Step::Bad(pos, _) => {
                    return Err(inconsistent(
                        &self.store,
                        format!("unreadable batch at {pos} while rebuilding the index"),
                    ))
                }
            }
        }
        idx.times.maybe_push(max_ts, self.relative(max_ts_offset));
        Ok(idx)
    }

    /// Appends already validated batches (`batches`: each header with its position in
    /// `data`) with one write at the end of the segment, then indexes them.
    pub(crate) fn append(
        &mut self,
        data: &[u8],
        batches: &[(usize, RawHeader)],
        index_interval: usize,
    ) -> Result<(), StorageError> {
        let start = self.size;
        if let Err(e) = self.store.write_at(start, data) {
            // Drop whatever part of the write landed, so the file ends at the last good batch.
            let _ = self.store.truncate(start);
            return Err(e);
        }
        self.unsynced = true;
        let mut max_ts = self.max_timestamp;
        let mut max_ts_offset = self.offset_of_max_timestamp;
        let mut bytes_since = self.bytes_since_index;
        let base = self.base_offset;
        let idx = self.indexes_mut()?;
        let seg_view = RelBase(base);
        for (pos, h) in batches {
            index_one_rel(
                idx,
                seg_view,
                h,
                start + *pos as u64,
                &mut bytes_since,
                &mut max_ts,
                &mut max_ts_offset,
                index_interval,
            );
        }
        self.bytes_since_index = bytes_since;
        self.max_timestamp = max_ts;
        self.offset_of_max_timestamp = max_ts_offset;
        if self.first_batch_timestamp < 0 && start == 0 {
            self.first_batch_timestamp = batches.first().map_or(-1, |(_, h)| h.max_timestamp);
        }
        if let Some((_, last)) = batches.last() {
            self.next_offset = last.next_offset();
        }
        self.size = start + data.len() as u64;
        self.index_dirty = true;
        Ok(())
    }

    /// Position of a batch at or before the one holding `offset`.
    pub(crate) fn lookup(&self, offset: i64) -> Result<u64, StorageError> {
        let rel = self.relative(offset);
        Ok(u64::from(self.indexes()?.offsets.lookup(rel)))
    }

    /// Whole batches starting with the one that holds `offset`, up to `max_bytes` (at least
    /// one batch if `min_one_batch`). `None` if the segment has nothing at or after `offset`.
    pub(crate) fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
        index_interval: usize,
    ) -> Result<Option<Bytes>, StorageError> {
        if offset >= self.next_offset || self.size == 0 {
            return Ok(None);
        }
        let pos0 = self.lookup(offset)?;
        let want = max_bytes
            .saturating_add(index_interval)
            .saturating_add(BATCH_HEADER_SIZE)
            .max(BATCH_HEADER_SIZE);
        let mut win = Window::new(self, want);
        // Find the batch holding `offset`.
        let mut p = pos0;
        let start = loop {
            if p >= self.size {
                return Ok(None);
            }
            let h = win.header(p, p)?;
            if h.last_offset() >= offset {
                break p;
            }
            p += h.size as u64;
        };
        // Take whole batches while they fit.
        let mut end = start;
        while end < self.size {
            let h = win.header(start, end)?;
            let next = end + h.size as u64;
            if next > self.size {
                return Err(inconsistent(
                    &self.store,
                    format!("batch at {end} runs past the end of the segment"),
                ));
            }
            let first = end == start;
            if next - start > max_bytes as u64 && !(first && min_one_batch) {
                break;
            }
            end = next;
        }
        if end == start {
            return Ok(Some(Bytes::new()));
        }
        win.slice(start, end).map(Some)
    }

    /// The stored batch holding `offset` (the first whose last offset is `>= offset`), as
    /// (position, base offset). `None` if the segment has nothing at or after `offset`.
    pub(crate) fn batch_holding(&self, offset: i64) -> Result<Option<(u64, i64)>, StorageError> {
        if offset >= self.next_offset || self.size == 0 {
            return Ok(None);
        }
        let from = if offset <= self.base_offset {
            0
        } else {
            self.lookup(offset)?
        };
        let mut scanner = self.scanner(from);
        loop {
            match scanner.next()? {
                Step::Batch(h, pos) if h.last_offset() >= offset => {
                    return Ok(Some((pos, h.base_offset)))
                }
                Step::Batch(..) => {}
                Step::End => return Ok(None),
                Step::Partial(pos) | Step::Bad(pos, _) => {
                    return Err(inconsistent(
                        &self.store,
                        format!("unreadable batch at {pos} while looking for offset {offset}"),
                    ))
                }
            }
        }
    }

    /// Cuts the segment before the batch holding `offset` (Kafka's `LogSegment.truncateTo`:
    /// a batch that straddles `offset` goes whole) and syncs the cut. The indexes drop their
    /// entries past the cut; the largest timestamp and the bytes since the last index entry
    /// come from the surviving time-index entry and a scan of the batches after the last
    /// offset-index entry. Returns the bytes removed.
    pub(crate) fn truncate_to(&mut self, offset: i64) -> Result<u64, StorageError> {
        let Some((pos, base)) = self.batch_holding(offset)? else {
            return Ok(0);
        };
        let removed = self.size.saturating_sub(pos);
        self.store.truncate(pos)?;
        // Synced at once: records that reappeared after a crash would contradict the epoch
        // cache and the producer state, which already forgot them.
        self.store.sync()?;
        self.size = pos;
        self.next_offset = if pos == 0 { self.base_offset } else { base };
        if pos == 0 {
            self.first_batch_timestamp = -1;
        }
        let cut = self.relative(self.next_offset);
        let seg_base = self.base_offset;
        let (from, mut max_ts, mut max_ts_offset) = {
            let idx = self.indexes_mut()?;
            idx.offsets.truncate_to_position(pos);
            idx.times.truncate_to_offset(cut);
            let from = idx.offsets.last().map_or(0, |e| u64::from(e.position));
            // A surviving time entry's timestamp belongs to a surviving batch, and every batch
            // up to the last offset entry is no newer than it.
            let (ts, at) = idx.times.last().map_or((-1, seg_base), |e| {
                (e.timestamp, seg_base + i64::from(e.relative_offset))
            });
            (from, ts, at)
        };
        let mut bytes_since = 0usize;
        let mut scanner = self.scanner(from);
        loop {
            match scanner.next()? {
                Step::Batch(h, _) => {
                    if h.max_timestamp > max_ts {
                        max_ts = h.max_timestamp;
                        max_ts_offset = h.base_offset;
                    }
                    bytes_since = bytes_since.saturating_add(h.size);
                }
                Step::End => break,
                Step::Partial(at) | Step::Bad(at, _) => {
                    return Err(inconsistent(
                        &self.store,
                        format!("unreadable batch at {at} after truncating"),
                    ))
                }
            }
        }
        self.max_timestamp = max_ts;
        self.offset_of_max_timestamp = max_ts_offset;
        self.bytes_since_index = bytes_since;
        self.unsynced = false;
        self.index_dirty = true;
        self.write_index_files(false)?;
        Ok(removed)
    }

    /// Makes the last time-index entry carry the segment's largest timestamp.
    fn finish_time_index(&mut self) -> Result<(), StorageError> {
        let (ts, rel) = (
            self.max_timestamp,
            self.relative(self.offset_of_max_timestamp),
        );
        let idx = self.indexes_mut()?;
        let before = idx.times.len();
        idx.times.maybe_push(ts, rel);
        if idx.times.len() != before {
            self.index_dirty = true;
        }
        Ok(())
    }

    /// Writes `.index` and `.timeindex` if they are out of date (and syncs them if `sync`).
    pub(crate) fn write_index_files(&mut self, sync: bool) -> Result<(), StorageError> {
        if self.store.path().is_none() {
            return Ok(());
        }
        self.finish_time_index()?;
        if !self.index_dirty {
            return Ok(());
        }
        let (Some(index_path), Some(time_path)) =
            (self.sibling("index"), self.sibling("timeindex"))
        else {
            return Ok(());
        };
        let idx = self.indexes()?;
        write_file(&index_path, &idx.offsets.to_bytes(), sync)?;
        write_file(&time_path, &idx.times.to_bytes(), sync)?;
        self.index_dirty = false;
        Ok(())
    }

    /// Syncs the data if anything was written since the last sync; returns whether it synced.
    pub(crate) fn sync(&mut self) -> Result<bool, StorageError> {
        if !self.unsynced {
            return Ok(false);
        }
        self.store.sync()?;
        self.unsynced = false;
        Ok(matches!(self.store, Store::File { .. }))
    }

    /// Removes the segment's files.
    pub(crate) fn delete_files(self) -> Result<(), StorageError> {
        self.store.close();
        let paths: Vec<PathBuf> = [self.store.path().map(Path::to_path_buf)]
            .into_iter()
            .flatten()
            .chain(self.sibling("index"))
            .chain(self.sibling("timeindex"))
            .collect();
        drop(self);
        for path in paths {
            remove_if_exists(&path)?;
        }
        Ok(())
    }

    /// Reads the largest timestamp from the last `.timeindex` entry of a sealed segment.
    /// `false` if the file is missing or malformed (the caller rebuilds).
    pub(crate) fn load_max_timestamp(&mut self) -> bool {
        use std::os::unix::fs::FileExt;
        let Some(path) = self.sibling("timeindex") else {
            return false;
        };
        let Ok(file) = fs::File::open(&path) else {
            return false;
        };
        let Ok(len) = file.metadata().map(|m| m.len()) else {
            return false;
        };
        let entry = time_index::ENTRY_SIZE as u64;
        if !len.is_multiple_of(entry) || (len == 0 && self.size > 0) {
            return false;
        }
        if len > 0 {
            // Only the last entry: the segment's largest timestamp.
            let mut last = [0u8; time_index::ENTRY_SIZE];
            if file.read_exact_at(&mut last, len - entry).is_err() {
                return false;
            }
            let Some(last) = time_index::parse_entry(&last) else {
                return false;
            };
            self.max_timestamp = last.timestamp;
            self.offset_of_max_timestamp = self.base_offset + i64::from(last.relative_offset);
        }
        true
    }

    /// Rebuilds the indexes of a trusted segment from its headers and writes the files.
    pub(crate) fn rebuild_indexes(&mut self) -> Result<(), StorageError> {
        let mut bytes_since = 0;
        let idx = self.scan_indexes(&mut bytes_since)?;
        if let Some(last) = idx.times.last() {
            self.max_timestamp = last.timestamp;
            self.offset_of_max_timestamp = self.base_offset + i64::from(last.relative_offset);
        }
        self.indexes = OnceLock::new();
        let _ = self.indexes.set(idx);
        self.bytes_since_index = bytes_since;
        self.index_dirty = true;
        self.write_index_files(false)
    }

    /// Recovery: re-reads the segment from `from` (0, or the last index entry of a cleanly
    /// closed segment), verifying each batch's CRC and offset order, indexes what it reads,
    /// and cuts the file at the first bad or partial batch. Calls `on_batch` for each valid
    /// batch. Returns (batches checked, bytes truncated).
    pub(crate) fn recover(
        &mut self,
        from_scratch: bool,
        index_interval: usize,
        mut on_batch: impl FnMut(&RawHeader),
    ) -> Result<(u64, u64), StorageError> {
        let stored = self.store.stored_len()?;
        let (from, mut idx) = if from_scratch {
            (0, Indexes::default())
        } else {
            let idx = self.indexes.take().unwrap_or_default();
            let from = idx.offsets.last().map_or(0, |e| u64::from(e.position));
            (from, idx)
        };
        if from_scratch {
            self.max_timestamp = -1;
            self.offset_of_max_timestamp = self.base_offset;
            self.next_offset = self.base_offset;
        }
        let mut bytes_since = 0;
        let mut max_ts = self.max_timestamp;
        let mut max_ts_offset = self.offset_of_max_timestamp;
        let mut expected = if from_scratch {
            self.base_offset
        } else {
            i64::MIN
        };
        let mut checked = 0u64;
        let mut valid_end = from;
        let mut next_offset = self.next_offset;
        let mut first_ts = self.first_batch_timestamp;
        {
            let mut scanner = Scanner::new(&self.store, from, stored, true);
            loop {
                match scanner.next()? {
                    Step::Batch(h, pos) => {
                        let rel_ok = h.last_offset() - self.base_offset <= i64::from(u32::MAX);
                        if h.base_offset < expected
                            || h.base_offset < self.base_offset
                            || h.last_offset_delta < 0
                            || !rel_ok
                        {
                            tracing::warn!(segment = ?self.store.path(), pos, "batch offsets out of order; truncating");
                            break;
                        }
                        checked += 1;
                        index_one_rel(
                            &mut idx,
                            RelBase(self.base_offset),
                            &h,
                            pos,
                            &mut bytes_since,
                            &mut max_ts,
                            &mut max_ts_offset,
                            index_interval,
                        );
                        if pos == 0 {
                            first_ts = h.max_timestamp;
                        }
                        expected = h.next_offset();
                        next_offset = h.next_offset();
                        valid_end = pos + h.size as u64;
                        on_batch(&h);
                    }
                    Step::End => break,
                    Step::Partial(pos) => {
                        tracing::warn!(segment = ?self.store.path(), pos, "partial batch at the end; truncating");
                        break;
                    }
                    Step::Bad(pos, why) => {
                        tracing::warn!(segment = ?self.store.path(), pos, %why, "corrupt batch; truncating");
                        break;
                    }
                }
            }
        }
        let truncated = stored.saturating_sub(valid_end);
        if truncated > 0 {
            self.store.truncate(valid_end)?;
            idx.offsets.truncate_to_position(valid_end);
            idx.times.truncate_to_offset(self.relative(next_offset));
        }
        self.size = valid_end;
        self.next_offset = next_offset;
        self.max_timestamp = max_ts;
        self.offset_of_max_timestamp = max_ts_offset;
        self.first_batch_timestamp = first_ts;
        self.bytes_since_index = bytes_since;
        self.indexes = OnceLock::new();
        let _ = self.indexes.set(idx);
        self.index_dirty = true;
        Ok((checked, truncated))
    }

    /// Loads the index files of a cleanly closed active segment (validated against the data
    /// size); `false` if they are missing or invalid.
    pub(crate) fn load_active_indexes(&mut self) -> bool {
        match self.load_index_files() {
            Some(idx) => {
                if let Some(last) = idx.times.last() {
                    self.max_timestamp = last.timestamp;
                    self.offset_of_max_timestamp =
                        self.base_offset + i64::from(last.relative_offset);
                }
                self.indexes = OnceLock::new();
                let _ = self.indexes.set(idx);
                true
            }
            None => false,
        }
    }

    /// Reads the max timestamp of the first batch (for `segment.ms` after a restart).
    pub(crate) fn load_first_batch_timestamp(&mut self) -> Result<(), StorageError> {
        if self.size >= BATCH_HEADER_SIZE as u64 {
            let head = self.store.read_at(0, BATCH_HEADER_SIZE)?;
            self.first_batch_timestamp = RawHeader::parse(&head).map_or(-1, |h| h.max_timestamp);
        }
        Ok(())
    }

    /// A scanner over this segment's batches from `from` (no CRC check).
    pub(crate) fn scanner(&self, from: u64) -> Scanner<'_> {
        Scanner::new(&self.store, from, self.size, false)
    }
}

/// The base offset, to compute relative offsets while the indexes are borrowed mutably.
#[derive(Clone, Copy)]
struct RelBase(i64);

impl RelBase {
    fn relative(self, offset: i64) -> u32 {
        u32::try_from(offset.saturating_sub(self.0).max(0)).unwrap_or(u32::MAX)
    }
}

/// Kafka's indexing rule: after more than `interval` bytes since the last entry, the next
/// batch gets an offset-index entry and the time index records the largest timestamp so far.
#[allow(clippy::too_many_arguments)]
fn index_one_rel(
    idx: &mut Indexes,
    base: RelBase,
    h: &RawHeader,
    pos: u64,
    bytes_since: &mut usize,
    max_ts: &mut i64,
    max_ts_offset: &mut i64,
    interval: usize,
) {
    if h.max_timestamp > *max_ts {
        *max_ts = h.max_timestamp;
        *max_ts_offset = h.base_offset;
    }
    if *bytes_since > interval {
        idx.offsets.push(
            base.relative(h.base_offset),
            u32::try_from(pos).unwrap_or(u32::MAX),
        );
        idx.times.maybe_push(*max_ts, base.relative(*max_ts_offset));
        *bytes_since = 0;
    }
    *bytes_since = bytes_since.saturating_add(h.size);
}

/// A read buffer over a segment used by [`Segment::read`]: one `pread` in the common case,
/// re-read from an anchor when a header or the result falls outside it.
struct Window<'a> {
    seg: &'a Segment,
    want: usize,
    start: u64,
    buf: Vec<u8>,
}

impl<'a> Window<'a> {
    fn new(seg: &'a Segment, want: usize) -> Self {
        Self {
            seg,
            want,
            start: 0,
            buf: Vec::new(),
        }
    }

    fn covers(&self, from: u64, to: u64) -> bool {
        from >= self.start && to <= self.start + self.buf.len() as u64
    }

    /// Makes the buffer cover `[anchor, to)`, re-reading from `anchor` if needed.
    fn fill(&mut self, anchor: u64, to: u64) -> Result<(), StorageError> {
        if self.covers(anchor, to) {
            return Ok(());
        }
        let avail = self.seg.size.saturating_sub(anchor);
        let need = to.saturating_sub(anchor);
        let len = need.max(self.want as u64).min(avail);
        self.buf = self
            .seg
            .store
            .read_at(anchor, usize::try_from(len).unwrap_or(usize::MAX))?;
        self.start = anchor;
        Ok(())
    }

    /// The header at `pos`, keeping `[anchor, ..)` contiguous in the buffer.
    fn header(&mut self, anchor: u64, pos: u64) -> Result<RawHeader, StorageError> {
        let to = (pos + BATCH_HEADER_SIZE as u64).min(self.seg.size);
        self.fill(anchor, to)?;
        let at = usize::try_from(pos - self.start).unwrap_or(usize::MAX);
        self.buf
            .get(at..)
            .and_then(RawHeader::parse)
            .filter(|h| h.magic == 2)
            .ok_or_else(|| inconsistent(&self.seg.store, format!("no valid batch header at {pos}")))
    }

    fn slice(mut self, from: u64, to: u64) -> Result<Bytes, StorageError> {
        self.fill(from, to)?;
        let a = usize::try_from(from - self.start).unwrap_or(usize::MAX);
        let b = usize::try_from(to - self.start).unwrap_or(usize::MAX);
        if a > b || b > self.buf.len() {
            return Err(inconsistent(&self.seg.store, "read window".into()));
        }
        Ok(Bytes::from(self.buf).slice(a..b))
    }
}

/// Writes a whole file (optionally synced).
pub(crate) fn write_file(path: &Path, bytes: &[u8], sync: bool) -> Result<(), StorageError> {
    use std::io::Write;
    let mut f = fs::File::create(path).map_err(|e| StorageError::io(path, e))?;
    f.write_all(bytes).map_err(|e| StorageError::io(path, e))?;
    if sync {
        f.sync_all().map_err(|e| StorageError::io(path, e))?;
    }
    Ok(())
}

/// Removes a file, ignoring "not found".
pub(crate) fn remove_if_exists(path: &Path) -> Result<(), StorageError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StorageError::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(file_name(42, "log"), "00000000000000000042.log");
        assert_eq!(parse_file_name("00000000000000000042.log", "log"), Some(42));
        assert_eq!(parse_file_name("00000000000000000042.index", "log"), None);
        assert_eq!(parse_file_name("0042.log", "log"), None);
        assert_eq!(parse_file_name("0000000000000000004x.log", "log"), None);
    }
}
