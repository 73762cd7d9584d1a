//! The committed-offsets file: `<data_dir>/__consumer_offsets/offsets.log`.
//!
//! An append-only log, rewritten (compacted) at start-up, at shutdown and when it grows well
//! past its last compacted size:
//!
//! ```text
//! file   = magic entry*                      magic = "KBOFFS\0\x01" (8 bytes)
//! entry  = len:u32 crc:u32 body[len]         crc = CRC-32C of body; big-endian integers
//! body   = 1 group topic partition:i32 offset:i64 leader_epoch:i32 commit_ms:i64
//!            expire_ms:i64 (-1: none) metadata     a commit
//!        | 2 group topic partition:i32             one offset deleted
//!        | 3 group                                 a group deleted (DeleteGroups)
//!        | 4 topic                                 a topic deleted: its offsets in every group
//! group, topic, metadata = len:u32 utf8[len]
//! ```
//!
//! Loading replays entries in order and stops at the first entry that is incomplete (a torn
//! write at a crash) or fails its checksum; what follows is dropped with a warning, and the
//! rewrite that follows start-up removes it from the file. Appends go through the OS page
//! cache with one `write` per request (Kafka's default flush policy); the file is synced when
//! rewritten and at shutdown. A failed append is truncated away so later entries stay readable.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use kafka_proto::record::crc32c;
use kafka_proto::KStr;

use super::offsets::{CommittedOffset, OffsetTable};
use super::GroupError;

const MAGIC: &[u8; 8] = b"KBOFFS\0\x01";
/// Largest entry body accepted when loading; anything bigger is corruption.
const MAX_ENTRY: usize = 16 << 20;
/// The log is rewritten when it reaches this size and twice its last compacted size.
const COMPACT_MIN_BYTES: u64 = 8 << 20;

const COMMIT: u8 = 1;
const DELETE: u8 = 2;
const DELETE_GROUP: u8 = 3;
const DELETE_TOPIC: u8 = 4;

/// One change to the committed offsets.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum LogEntry {
    Commit {
        group: KStr,
        topic: KStr,
        partition: i32,
        offset: CommittedOffset,
    },
    Delete {
        group: KStr,
        topic: KStr,
        partition: i32,
    },
    DeleteGroup {
        group: KStr,
    },
    DeleteTopic {
        topic: KStr,
    },
}

impl LogEntry {
    fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            LogEntry::Commit {
                group,
                topic,
                partition,
                offset,
            } => {
                out.push(COMMIT);
                put_str(out, group);
                put_str(out, topic);
                out.extend_from_slice(&partition.to_be_bytes());
                out.extend_from_slice(&offset.offset.to_be_bytes());
                out.extend_from_slice(&offset.leader_epoch.to_be_bytes());
                out.extend_from_slice(&offset.commit_timestamp_ms.to_be_bytes());
                out.extend_from_slice(&offset.expire_timestamp_ms.unwrap_or(-1).to_be_bytes());
                put_str(out, &offset.metadata);
            }
            LogEntry::Delete {
                group,
                topic,
                partition,
            } => {
                out.push(DELETE);
                put_str(out, group);
                put_str(out, topic);
                out.extend_from_slice(&partition.to_be_bytes());
            }
            LogEntry::DeleteGroup { group } => {
                out.push(DELETE_GROUP);
                put_str(out, group);
            }
            LogEntry::DeleteTopic { topic } => {
                out.push(DELETE_TOPIC);
                put_str(out, topic);
            }
        }
    }

    /// Appends `len crc body` to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; 8]);
        self.encode_body(out);
        let body = out.get(start + 8..).unwrap_or_default();
        let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
        let crc = crc32c(body);
        if let Some(head) = out.get_mut(start..start + 8) {
            let (l, c) = head.split_at_mut(4);
            l.copy_from_slice(&len.to_be_bytes());
            c.copy_from_slice(&crc.to_be_bytes());
        }
    }

    fn decode_body(body: &[u8]) -> Option<LogEntry> {
        let mut r = Reader(body);
        let entry = match r.u8()? {
            COMMIT => LogEntry::Commit {
                group: r.str()?,
                topic: r.str()?,
                partition: r.i32()?,
                offset: CommittedOffset {
                    offset: r.i64()?,
                    leader_epoch: r.i32()?,
                    commit_timestamp_ms: r.i64()?,
                    expire_timestamp_ms: Some(r.i64()?).filter(|t| *t >= 0),
                    metadata: r.str()?,
                },
            },
            DELETE => LogEntry::Delete {
                group: r.str()?,
                topic: r.str()?,
                partition: r.i32()?,
            },
            DELETE_GROUP => LogEntry::DeleteGroup { group: r.str()? },
            DELETE_TOPIC => LogEntry::DeleteTopic { topic: r.str()? },
            _ => return None,
        };
        r.0.is_empty().then_some(entry)
    }

    /// Applies the entry to per-group tables.
    pub fn apply(self, groups: &mut HashMap<KStr, OffsetTable>) {
        match self {
            LogEntry::Commit {
                group,
                topic,
                partition,
                offset,
            } => {
                groups
                    .entry(group)
                    .or_default()
                    .put(topic, partition, offset);
            }
            LogEntry::Delete {
                group,
                topic,
                partition,
            } => {
                if let Some(t) = groups.get_mut(&group) {
                    t.remove(&topic, partition);
                }
            }
            LogEntry::DeleteGroup { group } => {
                groups.remove(&group);
            }
            LogEntry::DeleteTopic { topic } => {
                for t in groups.values_mut() {
                    t.remove_topic(&topic);
                }
            }
        }
        groups.retain(|_, t| !t.is_empty());
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|[b]| b)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take().map(i32::from_be_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_be_bytes)
    }
    fn str(&mut self) -> Option<KStr> {
        let len = usize::try_from(u32::from_be_bytes(self.take()?)).ok()?;
        if len > self.0.len() {
            return None;
        }
        let (s, rest) = self.0.split_at(len);
        self.0 = rest;
        std::str::from_utf8(s).ok().map(KStr::from)
    }
}

/// What loading found.
#[derive(Debug, Default)]
pub(crate) struct LoadReport {
    pub entries: usize,
    /// Bytes after the last good entry (a torn or corrupt tail), dropped.
    pub dropped_bytes: usize,
}

/// Parses a whole log file into per-group offset tables.
///
/// # Errors
/// [`GroupError::BadHeader`] when the file does not start with the magic (and is not a torn
/// prefix of it).
pub(crate) fn parse(
    path: &Path,
    bytes: &[u8],
) -> Result<(HashMap<KStr, OffsetTable>, LoadReport), GroupError> {
    let mut groups = HashMap::new();
    let mut report = LoadReport::default();
    let Some(mut rest) = bytes.strip_prefix(MAGIC.as_slice()) else {
        if MAGIC.starts_with(bytes) {
            // Empty, or torn while the header was being written.
            report.dropped_bytes = bytes.len();
            return Ok((groups, report));
        }
        return Err(GroupError::BadHeader {
            path: path.to_owned(),
        });
    };
    while !rest.is_empty() {
        let Some((len, crc, body, after)) = split_entry(rest) else {
            break;
        };
        let Some(entry) = (crc32c(body) == crc)
            .then(|| LogEntry::decode_body(body))
            .flatten()
        else {
            tracing::warn!(path = %path.display(), len, "offsets log entry fails its checksum");
            break;
        };
        entry.apply(&mut groups);
        report.entries += 1;
        rest = after;
    }
    report.dropped_bytes = rest.len();
    Ok((groups, report))
}

/// `(len, crc, body, rest)` of the entry at the start of `buf`, if complete and sane.
fn split_entry(buf: &[u8]) -> Option<(usize, u32, &[u8], &[u8])> {
    let (head, rest) = buf.split_first_chunk::<8>()?;
    let [l0, l1, l2, l3, c0, c1, c2, c3] = *head;
    let len = usize::try_from(u32::from_be_bytes([l0, l1, l2, l3])).ok()?;
    if len > MAX_ENTRY || len > rest.len() {
        return None;
    }
    let (body, after) = rest.split_at(len);
    Some((len, u32::from_be_bytes([c0, c1, c2, c3]), body, after))
}

/// The open offsets log.
#[derive(Debug)]
pub(crate) struct OffsetLog {
    dir: PathBuf,
    path: PathBuf,
    file: File,
    len: u64,
    compacted_len: u64,
}

impl OffsetLog {
    /// Opens (creating if needed) the log under `data_dir/__consumer_offsets/`, loads it, and
    /// rewrites it compacted.
    ///
    /// # Errors
    /// [`GroupError`] on I/O failure or a file that is not an offsets log.
    pub fn open(data_dir: &Path) -> Result<(OffsetLog, HashMap<KStr, OffsetTable>), GroupError> {
        let dir = data_dir.join("__consumer_offsets");
        fs::create_dir_all(&dir).map_err(|e| GroupError::io(&dir, e))?;
        let path = dir.join("offsets.log");
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(GroupError::io(&path, e)),
        };
        let (groups, report) = parse(&path, &bytes)?;
        if report.dropped_bytes > 0 && !bytes.is_empty() {
            tracing::warn!(
                path = %path.display(),
                dropped_bytes = report.dropped_bytes,
                good_entries = report.entries,
                "offsets log has a torn or corrupt tail; dropping it"
            );
        }
        let file = Self::write_compacted(&dir, &path, &groups)?;
        let len = file.metadata().map_err(|e| GroupError::io(&path, e))?.len();
        tracing::debug!(
            path = %path.display(),
            groups = groups.len(),
            entries = report.entries,
            "loaded committed offsets"
        );
        Ok((
            OffsetLog {
                dir,
                path,
                file,
                len,
                compacted_len: len,
            },
            groups,
        ))
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `entries` with one `write` call (to the page cache, not synced).
    ///
    /// # Errors
    /// The I/O error; the file is truncated back to its previous length when possible.
    pub fn append(&mut self, entries: &[LogEntry]) -> io::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity(64 * entries.len());
        for e in entries {
            e.encode(&mut buf);
        }
        match self.file.write_all(&buf) {
            Ok(()) => {
                self.len += buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Leave no partial entry behind: later appends must stay readable.
                if let Err(t) = self.file.set_len(self.len) {
                    tracing::error!(
                        path = %self.path.display(),
                        error = %t,
                        "cannot truncate offsets log after a failed write",
                    );
                }
                Err(e)
            }
        }
    }

    /// Whether the log has grown enough to be worth rewriting.
    pub fn wants_compaction(&self) -> bool {
        self.len >= COMPACT_MIN_BYTES && self.len >= 2 * self.compacted_len
    }

    /// Rewrites the log with exactly the live offsets (temporary file, fsync, rename, fsync of
    /// the directory).
    ///
    /// # Errors
    /// [`GroupError::Io`]; the old log stays in place.
    pub fn rewrite(&mut self, groups: &HashMap<KStr, OffsetTable>) -> Result<(), GroupError> {
        let file = Self::write_compacted(&self.dir, &self.path, groups)?;
        self.len = file
            .metadata()
            .map_err(|e| GroupError::io(&self.path, e))?
            .len();
        self.compacted_len = self.len;
        self.file = file;
        Ok(())
    }

    /// Syncs appended entries to disk.
    ///
    /// # Errors
    /// [`GroupError::Io`].
    pub fn sync(&mut self) -> Result<(), GroupError> {
        self.file
            .sync_data()
            .map_err(|e| GroupError::io(&self.path, e))
    }

    fn write_compacted(
        dir: &Path,
        path: &Path,
        groups: &HashMap<KStr, OffsetTable>,
    ) -> Result<File, GroupError> {
        let tmp = dir.join("offsets.log.tmp");
        let mut buf = MAGIC.to_vec();
        let mut ids: Vec<&KStr> = groups.keys().collect();
        ids.sort();
        for group in ids {
            let Some(table) = groups.get(group) else {
                continue;
            };
            for (topic, partition, offset) in table.iter() {
                LogEntry::Commit {
                    group: group.clone(),
                    topic: topic.clone(),
                    partition,
                    offset: offset.clone(),
                }
                .encode(&mut buf);
            }
        }
        let io = |p: &Path| {
            let p = p.to_owned();
            move |e| GroupError::Io { path: p, source: e }
        };
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&buf).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        fs::rename(&tmp, path).map_err(io(path))?;
        // Make the rename durable. Directories cannot be opened on every platform; best effort.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        OpenOptions::new().append(true).open(path).map_err(io(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(group: &str, topic: &str, partition: i32, offset: i64) -> LogEntry {
        LogEntry::Commit {
            group: group.into(),
            topic: topic.into(),
            partition,
            offset: CommittedOffset {
                offset,
                leader_epoch: 3,
                metadata: "meta".into(),
                commit_timestamp_ms: 1_700_000_000_000,
                expire_timestamp_ms: None,
            },
        }
    }

    fn file_of(entries: &[LogEntry]) -> Vec<u8> {
        let mut buf = MAGIC.to_vec();
        for e in entries {
            e.encode(&mut buf);
        }
        buf
    }

    #[test]
    fn entries_round_trip_and_replay_in_order() {
        let entries = vec![
            commit("g", "t", 0, 5),
            commit("g", "t", 1, 7),
            commit("h", "t", 0, 1),
            commit("h", "u", 0, 2),
            LogEntry::Delete {
                group: "g".into(),
                topic: "t".into(),
                partition: 1,
            },
            LogEntry::DeleteTopic { topic: "u".into() },
            commit("k", "t", 0, 9),
            LogEntry::DeleteGroup { group: "k".into() },
            commit("g", "t", 0, 6),
        ];
        let (groups, report) = parse(Path::new("x"), &file_of(&entries)).unwrap();
        assert_eq!(report.entries, entries.len());
        assert_eq!(report.dropped_bytes, 0);
        assert_eq!(groups.len(), 2);
        let g = &groups[&KStr::from("g")];
        assert_eq!(g.get("t", 0).unwrap().offset, 6);
        assert_eq!(g.get("t", 0).unwrap().metadata, "meta");
        assert_eq!(g.get("t", 0).unwrap().leader_epoch, 3);
        assert!(g.get("t", 1).is_none());
        assert_eq!(groups[&KStr::from("h")].len(), 1);
    }

    #[test]
    fn torn_or_corrupt_tails_are_dropped() {
        let good = file_of(&[commit("g", "t", 0, 5), commit("g", "t", 1, 7)]);
        // Every truncation point inside the second entry keeps the first.
        let first_end = file_of(&[commit("g", "t", 0, 5)]).len();
        for cut in first_end..good.len() {
            let (groups, report) = parse(Path::new("x"), &good[..cut]).unwrap();
            assert_eq!(report.entries, 1, "cut at {cut}");
            assert_eq!(report.dropped_bytes, cut - first_end);
            assert!(groups[&KStr::from("g")].get("t", 1).is_none());
        }
        // A flipped byte in the last body fails its checksum.
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x55;
        let (_, report) = parse(Path::new("x"), &flipped).unwrap();
        assert_eq!(report.entries, 1);
        // An absurd length is not trusted.
        let mut huge = file_of(&[commit("g", "t", 0, 5)]);
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        huge.extend_from_slice(&[0; 12]);
        assert_eq!(parse(Path::new("x"), &huge).unwrap().1.entries, 1);
        // Torn header: empty log; foreign file: error.
        assert_eq!(parse(Path::new("x"), &MAGIC[..3]).unwrap().0.len(), 0);
        assert!(matches!(
            parse(Path::new("x"), b"not an offsets log"),
            Err(GroupError::BadHeader { .. })
        ));
    }

    #[test]
    fn open_append_rewrite_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, groups) = OffsetLog::open(dir.path()).unwrap();
        assert!(groups.is_empty());
        log.append(&[commit("g", "t", 0, 1), commit("g", "t", 0, 2)])
            .unwrap();
        log.append(&[commit("h", "t", 3, 4)]).unwrap();
        drop(log);
        // Simulate a torn append after a crash.
        let path = dir.path().join("__consumer_offsets/offsets.log");
        let mut bytes = fs::read(&path).unwrap();
        let mut torn = Vec::new();
        commit("g", "t", 9, 9).encode(&mut torn);
        bytes.extend_from_slice(&torn[..torn.len() / 2]);
        fs::write(&path, &bytes).unwrap();

        let (mut log, groups) = OffsetLog::open(dir.path()).unwrap();
        assert_eq!(groups[&KStr::from("g")].get("t", 0).unwrap().offset, 2);
        assert!(groups[&KStr::from("g")].get("t", 9).is_none());
        assert_eq!(groups[&KStr::from("h")].get("t", 3).unwrap().offset, 4);
        // Compacted: one entry per live offset, no torn bytes left.
        let (_, report) = parse(&path, &fs::read(&path).unwrap()).unwrap();
        assert_eq!((report.entries, report.dropped_bytes), (2, 0));
        // Appends after the rewrite land after the compacted content.
        log.append(&[commit("g", "t", 0, 3)]).unwrap();
        log.sync().unwrap();
        drop(log);
        let (_, groups) = OffsetLog::open(dir.path()).unwrap();
        assert_eq!(groups[&KStr::from("g")].get("t", 0).unwrap().offset, 3);
    }

    #[test]
    fn a_foreign_file_is_an_error_not_silently_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("__consumer_offsets");
        fs::create_dir_all(&sub).unwrap();
        fs::write(sub.join("offsets.log"), b"something else entirely").unwrap();
        assert!(matches!(
            OffsetLog::open(dir.path()),
            Err(GroupError::BadHeader { .. })
        ));
        assert_eq!(
            fs::read(sub.join("offsets.log")).unwrap(),
            b"something else entirely"
        );
    }
}
