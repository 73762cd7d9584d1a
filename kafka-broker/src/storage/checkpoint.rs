//! Small checkpoint files in Kafka's text format (`leader-epoch-checkpoint`,
//! `recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`):
//!
//! ```text
//! 0            version
//! 2            number of entries
//! 0 0          one entry per line, fields separated by a space
//! 3 1500
//! ```
//!
//! Written to `<name>.tmp`, then renamed over the old file, so a crash of the process leaves
//! either the old or the new checkpoint. The file is not synced (thousands of partitions
//! would pay one disk flush each): after a power loss a checkpoint may read as the previous
//! value or as missing, and both are safe — the recovery point is only written after the data
//! below it was synced, a lower or missing recovery point only makes recovery re-read more,
//! and a missing epoch checkpoint is rebuilt from the batches that recovery re-reads.
//! A missing or malformed file reads as "no checkpoint".

use std::fs;
use std::io::Write;
use std::path::Path;

use super::StorageError;

const VERSION: &str = "0";

/// Writes `entries` (each a line of space-separated numbers) atomically.
pub(crate) fn write(path: &Path, entries: &[Vec<i64>]) -> Result<(), StorageError> {
    let mut text = format!("{VERSION}\n{}\n", entries.len());
    for entry in entries {
        let fields: Vec<String> = entry.iter().map(i64::to_string).collect();
        text.push_str(&fields.join(" "));
        text.push('\n');
    }
    let tmp = path.with_extension("tmp");
    {
        let mut f = fs::File::create(&tmp).map_err(|e| StorageError::io(&tmp, e))?;
        f.write_all(text.as_bytes())
            .map_err(|e| StorageError::io(&tmp, e))?;
    }
    fs::rename(&tmp, path).map_err(|e| StorageError::io(path, e))
}

/// Reads the entries, each with `fields` numbers. `None` if missing or malformed.
pub(crate) fn read(path: &Path, fields: usize) -> Option<Vec<Vec<i64>>> {
    let text = fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    if lines.next()?.trim() != VERSION {
        tracing::warn!(path = %path.display(), "unknown checkpoint version; ignoring");
        return None;
    }
    let count: usize = lines.next()?.trim().parse().ok()?;
    let mut entries = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let entry: Vec<i64> = lines
            .next()?
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        if entry.len() != fields {
            return None;
        }
        entries.push(entry);
    }
    Some(entries)
}

/// Writes a single-offset checkpoint.
pub(crate) fn write_offset(path: &Path, offset: i64) -> Result<(), StorageError> {
    write(path, &[vec![offset]])
}

/// Reads a single-offset checkpoint.
pub(crate) fn read_offset(path: &Path) -> Option<i64> {
    read(path, 1)?.first()?.first().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() -> Result<(), StorageError> {
        let dir = tempfile::tempdir().map_err(|e| StorageError::io(Path::new("tmp"), e))?;
        let path = dir.path().join("leader-epoch-checkpoint");
        assert_eq!(read(&path, 2), None);
        write(&path, &[vec![0, 0], vec![3, 1500]])?;
        assert_eq!(
            fs::read_to_string(&path).ok().as_deref(),
            Some("0\n2\n0 0\n3 1500\n")
        );
        assert_eq!(read(&path, 2), Some(vec![vec![0, 0], vec![3, 1500]]));
        assert_eq!(read(&path, 1), None);
        write_offset(&path, 42)?;
        assert_eq!(read_offset(&path), Some(42));
        fs::write(&path, "0\n2\n1 2\n").map_err(|e| StorageError::io(&path, e))?;
        assert_eq!(read(&path, 2), None, "truncated file");
        Ok(())
    }
}
