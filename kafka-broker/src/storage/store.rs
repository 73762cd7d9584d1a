//! Where a segment's bytes live: a `.log` file reached through the shared [`FileCache`]
//! (positional reads and writes, no shared file cursor), or a `Vec` for in-memory logs.

use std::io::{Read, Seek};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{FileCache, StorageError};

/// The bytes of one segment.
#[derive(Debug)]
pub(crate) enum Store {
    /// A `.log` file, opened on demand through the cache.
    File {
        id: u64,
        path: PathBuf,
        cache: Arc<FileCache>,
    },
    /// In-memory (`PartitionLog::in_memory`).
    Memory(Vec<u8>),
}

impl Store {
    /// A store for the file at `path`, registered with `cache` (the file is not opened yet).
    pub(crate) fn file(path: PathBuf, cache: &Arc<FileCache>) -> Self {
        Store::File {
            id: cache.register(),
            path,
            cache: Arc::clone(cache),
        }
    }

    /// The `.log` path, if file-backed.
    pub(crate) fn path(&self) -> Option<&Path> {
        match self {
            Store::File { path, .. } => Some(path),
            Store::Memory(_) => None,
        }
    }

    /// Reads `len` bytes at `pos` (the caller keeps the range inside the data).
    pub(crate) fn read_at(&self, pos: u64, len: usize) -> Result<Vec<u8>, StorageError> {
        match self {
            Store::File { id, path, cache } => {
                let file = cache.get(*id, path, false)?;
                // `read_to_end` on a `File` reads into the vector's spare capacity without
                // zeroing it first (a large fetch would otherwise pay a memset as big as itself).
                // Seeking is safe: a log's files are used under its partition lock only.
                let mut buf = Vec::with_capacity(len);
                let mut f: &std::fs::File = &file;
                f.seek(std::io::SeekFrom::Start(pos))
                    .and_then(|_| f.take(len as u64).read_to_end(&mut buf))
                    .map_err(|e| StorageError::io(path, e))?;
                if buf.len() != len {
                    return Err(StorageError::io(
                        path,
                        std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            format!("read {} of {len} bytes at {pos}", buf.len()),
                        ),
                    ));
                }
                Ok(buf)
            }
            Store::Memory(data) => usize::try_from(pos)
                .ok()
                .and_then(|p| data.get(p..p.checked_add(len)?))
                .map(<[u8]>::to_vec)
                .ok_or_else(|| StorageError::Inconsistent {
                    path: PathBuf::from("<memory>"),
                    reason: format!("read of {len} bytes at {pos} past the end"),
                }),
        }
    }

    /// Writes `data` at `pos` (one `pwrite` for files).
    pub(crate) fn write_at(&mut self, pos: u64, data: &[u8]) -> Result<(), StorageError> {
        match self {
            Store::File { id, path, cache } => {
                let file = cache.get(*id, path, true)?;
                file.write_all_at(data, pos)
                    .map_err(|e| StorageError::io(path, e))
            }
            Store::Memory(buf) => {
                let pos = usize::try_from(pos).unwrap_or(usize::MAX);
                if pos > buf.len() {
                    return Err(StorageError::Inconsistent {
                        path: PathBuf::from("<memory>"),
                        reason: format!("write at {pos} past the end {}", buf.len()),
                    });
                }
                buf.truncate(pos);
                buf.extend_from_slice(data);
                Ok(())
            }
        }
    }

    /// Creates the file if it does not exist (a new segment).
    pub(crate) fn create(&self) -> Result<(), StorageError> {
        match self {
            Store::File { id, path, cache } => cache.get(*id, path, true).map(drop),
            Store::Memory(_) => Ok(()),
        }
    }

    /// `fdatasync` of the file (no-op in memory).
    pub(crate) fn sync(&self) -> Result<(), StorageError> {
        match self {
            Store::File { id, path, cache } => {
                let file = cache.get(*id, path, false)?;
                file.sync_data().map_err(|e| StorageError::io(path, e))
            }
            Store::Memory(_) => Ok(()),
        }
    }

    /// Cuts the data to `len` bytes.
    pub(crate) fn truncate(&mut self, len: u64) -> Result<(), StorageError> {
        match self {
            Store::File { id, path, cache } => {
                let file = cache.get(*id, path, false)?;
                // Not synced: if the cut is lost in a crash, recovery cuts the same bytes again.
                file.set_len(len).map_err(|e| StorageError::io(path, e))
            }
            Store::Memory(buf) => {
                buf.truncate(usize::try_from(len).unwrap_or(usize::MAX));
                Ok(())
            }
        }
    }

    /// Size of the data as stored (file length from `stat`).
    pub(crate) fn stored_len(&self) -> Result<u64, StorageError> {
        match self {
            Store::File { path, .. } => std::fs::metadata(path)
                .map(|m| m.len())
                .map_err(|e| StorageError::io(path, e)),
            Store::Memory(buf) => Ok(buf.len() as u64),
        }
    }

    /// Closes the file descriptor (it is reopened on the next access).
    pub(crate) fn close(&self) {
        if let Store::File { id, cache, .. } = self {
            cache.forget(*id);
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
}
