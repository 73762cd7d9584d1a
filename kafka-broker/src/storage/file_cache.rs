//! [`FileCache`]: a bounded, shared cache of open segment files, so thousands of partitions
//! never hold more than a fixed number of file descriptors.
//!
//! Segments register a path under a unique id and ask for the open [`File`] when they read or
//! write; the cache opens it on demand and closes the least recently used file when the bound
//! is reached. A caller holds an `Arc<File>` only for the duration of one operation, so the
//! number of descriptors is the bound plus the operations in flight.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::StorageError;

/// Default bound on open segment files.
pub const DEFAULT_MAX_OPEN_FILES: usize = 256;

/// A shared LRU cache of open segment files (`.log`), bounded to `max_open` descriptors.
#[derive(Debug)]
pub struct FileCache {
    max_open: usize,
    next_id: AtomicU64,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    tick: u64,
    /// id → (file, last use tick)
    files: HashMap<u64, (Arc<File>, u64)>,
    /// last use tick → id (oldest first)
    lru: BTreeMap<u64, u64>,
    opens: u64,
}

impl FileCache {
    /// A cache keeping at most `max_open` files open (at least 1).
    pub fn new(max_open: usize) -> Arc<FileCache> {
        Arc::new(FileCache {
            max_open: max_open.max(1),
            next_id: AtomicU64::new(1),
            inner: Mutex::new(Inner::default()),
        })
    }

    /// Files currently open through the cache.
    pub fn open_files(&self) -> usize {
        self.lock().files.len()
    }

    /// How many times a file was opened (cache misses), for tests and metrics.
    pub fn opens(&self) -> u64 {
        self.lock().opens
    }

    /// The configured bound.
    pub fn max_open(&self) -> usize {
        self.max_open
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The map stays consistent even if a holder panicked: every update is a single step.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh id for a file that will be accessed through [`FileCache::get`].
    pub(crate) fn register(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The open file for `id`, opening `path` read-write if it is not cached (creating it if
    /// `create`).
    pub(crate) fn get(
        &self,
        id: u64,
        path: &Path,
        create: bool,
    ) -> Result<Arc<File>, StorageError> {
        {
            let mut inner = self.lock();
            inner.tick += 1;
            let tick = inner.tick;
            if let Some((file, last)) = inner.files.get_mut(&id) {
                let file = Arc::clone(file);
                let old = std::mem::replace(last, tick);
                inner.lru.remove(&old);
                inner.lru.insert(tick, id);
                return Ok(file);
            }
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(path)
            .map_err(|e| StorageError::io(path, e))?;
        let file = Arc::new(file);
        let mut evicted = Vec::new();
        {
            let mut inner = self.lock();
            inner.opens += 1;
            inner.tick += 1;
            let tick = inner.tick;
            if let Some((_, old)) = inner.files.insert(id, (Arc::clone(&file), tick)) {
                inner.lru.remove(&old);
            }
            inner.lru.insert(tick, id);
            while inner.files.len() > self.max_open {
                let Some((_, victim)) = inner.lru.pop_first() else {
                    break;
                };
                if let Some((f, _)) = inner.files.remove(&victim) {
                    evicted.push(f);
                }
            }
        }
        // Close evicted files outside the lock.
        drop(evicted);
        Ok(file)
    }

    /// Closes the file for `id` if it is open (segment deleted or log closed).
    pub(crate) fn forget(&self, id: u64) {
        let removed = {
            let mut inner = self.lock();
            let removed = inner.files.remove(&id);
            if let Some((_, tick)) = &removed {
                let tick = *tick;
                inner.lru.remove(&tick);
            }
            removed
        };
        drop(removed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_lru() -> Result<(), StorageError> {
        let dir = tempfile::tempdir().map_err(|e| StorageError::io(Path::new("tmp"), e))?;
        let cache = FileCache::new(2);
        let ids: Vec<u64> = (0..3).map(|_| cache.register()).collect();
        let paths: Vec<_> = (0..3).map(|i| dir.path().join(format!("{i}"))).collect();
        cache.get(ids[0], &paths[0], true)?;
        cache.get(ids[1], &paths[1], true)?;
        cache.get(ids[0], &paths[0], true)?; // 0 is now most recent
        cache.get(ids[2], &paths[2], true)?; // evicts 1
        assert_eq!(cache.open_files(), 2);
        assert_eq!(cache.opens(), 3);
        cache.get(ids[0], &paths[0], false)?; // hit
        assert_eq!(cache.opens(), 3);
        cache.get(ids[1], &paths[1], false)?; // miss, evicts 2
        assert_eq!(cache.opens(), 4);
        cache.forget(ids[1]);
        assert_eq!(cache.open_files(), 1);
        Ok(())
    }
}
