//! Consumed records and the lazy reader over one fetched partition's bytes.
//!
//! A fetched partition's record bytes stay one `Bytes`; batches are parsed one at a time as the
//! application reads, and every key, value and header value of a record is a slice of that
//! buffer (or of the batch's one decompressed buffer): no copy per record.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use kafka_proto::record::{ControlType, ReadOptions, RecordBatches, TimestampType};

use crate::error::{Context, Error};

/// A topic and partition.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
}

impl TopicPartition {
    /// A topic partition.
    pub fn new(topic: impl Into<String>, partition: i32) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// One record header: a string key and a nullable value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// The key (headers keys are strings in Kafka; invalid UTF-8 is replaced).
    pub key: String,
    /// The value, `None` for a null value.
    pub value: Option<Bytes>,
}

/// A consumed record. Key, value and header values share the fetched buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// The timestamp in ms since the epoch.
    pub timestamp: i64,
    /// CreateTime or LogAppendTime.
    pub timestamp_type: TimestampType,
    /// The key; `None` is a null key.
    pub key: Option<Bytes>,
    /// The value; `None` is a null value (tombstone).
    pub value: Option<Bytes>,
    /// Headers in order (duplicates and null values kept).
    pub headers: Vec<RecordHeader>,
    /// The leader epoch of the batch (KIP-320), if the broker stored one.
    pub leader_epoch: Option<i32>,
}

/// The fetched data of one partition, read lazily.
pub(crate) struct FetchedPartition {
    pub(crate) tp: TopicPartition,
    pub(crate) topic: Arc<str>,
    /// The partition's fetch generation when the data was requested; stale data (after a seek
    /// or a revocation) is dropped.
    pub(crate) generation: u64,
    batches: RecordBatches,
    records: VecDeque<ConsumerRecord>,
    /// Position: the offset after the last record handed out or skipped.
    pub(crate) next_offset: i64,
    pub(crate) bytes: usize,
    /// read_committed: aborted transactions of this fetch, by first offset.
    aborted: BTreeMap<i64, Vec<i64>>,
    aborted_producers: HashSet<i64>,
    read_committed: bool,
    pub(crate) last_epoch: Option<i32>,
}

/// What reading the next record gave.
pub(crate) enum Next {
    Record(ConsumerRecord),
    /// This partition's data is used up.
    Done,
    /// A batch is corrupt: the position stays before it.
    Corrupt(Error),
}

impl FetchedPartition {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        tp: TopicPartition,
        topic: Arc<str>,
        generation: u64,
        data: Bytes,
        fetch_offset: i64,
        aborted: Option<Vec<(i64, i64)>>,
        read_committed: bool,
        check_crcs: bool,
    ) -> FetchedPartition {
        let bytes = data.len();
        let mut map: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for (pid, first) in aborted.unwrap_or_default() {
            map.entry(first).or_default().push(pid);
        }
        FetchedPartition {
            tp,
            topic,
            generation,
            batches: RecordBatches::with_options(
                data,
                ReadOptions::default().verify_crc(check_crcs),
            ),
            records: VecDeque::new(),
            next_offset: fetch_offset,
            bytes,
            aborted: map,
            aborted_producers: HashSet::new(),
            read_committed,
            last_epoch: None,
        }
    }

    /// The next record at or after the position.
    pub(crate) fn next(&mut self) -> Next {
        loop {
            if let Some(r) = self.records.pop_front() {
                self.next_offset = r.offset + 1;
                self.last_epoch = r.leader_epoch;
                return Next::Record(r);
            }
            let batch = match self.batches.next() {
                None => return Next::Done,
                Some(Ok(b)) => b,
                Some(Err(e)) => {
                    return Next::Corrupt(Error::Corrupt {
                        context: Context::default()
                            .with_topic(self.tp.topic.clone(), Some(self.tp.partition)),
                        offset: self.next_offset,
                        detail: e.to_string(),
                    })
                }
            };
            let h = *batch.header();
            if h.last_offset() < self.next_offset {
                continue; // a batch before the position (fetches start at batch boundaries)
            }
            if self.read_committed {
                // Producers whose aborted transaction starts at or before this batch.
                let upto: Vec<i64> = self
                    .aborted
                    .range(..=h.last_offset())
                    .map(|(k, _)| *k)
                    .collect();
                for k in upto {
                    if let Some(pids) = self.aborted.remove(&k) {
                        self.aborted_producers.extend(pids);
                    }
                }
            }
            if batch.is_control() {
                if self.read_committed {
                    if let Ok(mut recs) = batch.records() {
                        if let Some(Ok(r)) = recs.next() {
                            if let Ok(Some(c)) = r.control() {
                                if c.kind == ControlType::Abort {
                                    self.aborted_producers.remove(&h.producer_id);
                                }
                            }
                        }
                    }
                }
                self.next_offset = h.next_offset();
                continue;
            }
            if self.read_committed
                && h.attributes.is_transactional()
                && self.aborted_producers.contains(&h.producer_id)
            {
                self.next_offset = h.next_offset();
                continue;
            }
            let epoch = (h.partition_leader_epoch >= 0).then_some(h.partition_leader_epoch);
            let ts_type = h.attributes.timestamp_type();
            let records = match batch.records() {
                Ok(r) => r,
                Err(e) => {
                    return Next::Corrupt(Error::Corrupt {
                        context: Context::default()
                            .with_topic(self.tp.topic.clone(), Some(self.tp.partition)),
                        offset: h.base_offset,
                        detail: e.to_string(),
                    })
                }
            };
            let mut got = 0;
            for r in records {
                let r = match r {
                    Ok(r) => r,
                    Err(e) => {
                        // Keep what decoded before the bad record; fail at its offset.
                        self.records.clear();
                        return Next::Corrupt(Error::Corrupt {
                            context: Context::default()
                                .with_topic(self.tp.topic.clone(), Some(self.tp.partition)),
                            offset: h.base_offset,
                            detail: e.to_string(),
                        });
                    }
                };
                if r.offset() < self.next_offset {
                    continue;
                }
                let timestamp = if ts_type == TimestampType::LogAppendTime {
                    h.max_timestamp
                } else {
                    r.timestamp()
                };
                self.records.push_back(ConsumerRecord {
                    topic: self.topic.clone(),
                    partition: self.tp.partition,
                    offset: r.offset(),
                    timestamp,
                    timestamp_type: ts_type,
                    key: r.key_bytes(),
                    value: r.value_bytes(),
                    headers: r
                        .headers()
                        .map(|hd| RecordHeader {
                            key: String::from_utf8_lossy(hd.key).into_owned(),
                            value: hd
                                .value
                                .map(|v| r.share(v).unwrap_or_else(|| Bytes::copy_from_slice(v))),
                        })
                        .collect(),
                    leader_epoch: epoch,
                });
                got += 1;
            }
            if got == 0 {
                // Every record was before the position (or the batch was empty after
                // compaction): move past it.
                self.next_offset = self.next_offset.max(h.next_offset());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_proto::record::{
        BatchMeta, BuilderOptions, ControlRecord, ControlType, RecordBatchBuilder,
    };

    fn batch(base: i64, pid: i64, txn: bool, values: &[&str]) -> Bytes {
        let mut b = RecordBatchBuilder::new(BuilderOptions::default().transactional(txn));
        for (i, v) in values.iter().enumerate() {
            b.try_append(1000 + i as i64, None, Some(v.as_bytes()), &[])
                .unwrap();
        }
        b.finish(&BatchMeta {
            base_offset: base,
            producer_id: pid,
            producer_epoch: 0,
            base_sequence: 0,
            ..BatchMeta::default()
        })
        .unwrap()
    }

    fn marker(offset: i64, pid: i64, kind: ControlType) -> Bytes {
        RecordBatchBuilder::control_batch(
            ControlRecord {
                version: 0,
                kind,
                coordinator_epoch: Some(0),
            },
            2000,
            &BatchMeta {
                base_offset: offset,
                producer_id: pid,
                producer_epoch: 0,
                ..BatchMeta::default()
            },
        )
        .unwrap()
    }

    fn concat(parts: &[Bytes]) -> Bytes {
        let mut b = BytesMut::new();
        for p in parts {
            b.extend_from_slice(p);
        }
        b.freeze()
    }

    fn read_all(f: &mut FetchedPartition) -> (Vec<String>, Option<Error>) {
        let mut out = Vec::new();
        loop {
            match f.next() {
                Next::Record(r) => out.push(String::from_utf8(r.value.unwrap().to_vec()).unwrap()),
                Next::Done => return (out, None),
                Next::Corrupt(e) => return (out, Some(e)),
            }
        }
    }

    /// Producer 7 commits its transaction, producer 9 aborts; plain records around them.
    fn log() -> Bytes {
        concat(&[
            batch(0, -1, false, &["a", "b"]),
            batch(2, 7, true, &["t7-1", "t7-2"]),
            batch(4, 9, true, &["t9-1"]),
            batch(5, 7, true, &["t7-3"]),
            marker(6, 7, ControlType::Commit),
            batch(7, 9, true, &["t9-2"]),
            marker(8, 9, ControlType::Abort),
            batch(9, -1, false, &["c"]),
        ])
    }

    fn fetched(
        data: Bytes,
        from: i64,
        aborted: Option<Vec<(i64, i64)>>,
        committed: bool,
    ) -> FetchedPartition {
        FetchedPartition::new(
            TopicPartition::new("t", 0),
            Arc::from("t"),
            1,
            data,
            from,
            aborted,
            committed,
            true,
        )
    }

    #[test]
    fn read_committed_skips_aborted_data_and_markers() {
        let mut f = fetched(log(), 0, Some(vec![(9, 4)]), true);
        let (got, err) = read_all(&mut f);
        assert!(err.is_none());
        assert_eq!(got, vec!["a", "b", "t7-1", "t7-2", "t7-3", "c"]);
        assert_eq!(
            f.next_offset, 10,
            "position moves past skipped batches and markers"
        );
    }

    #[test]
    fn read_uncommitted_sees_everything_but_markers() {
        let mut f = fetched(log(), 0, None, false);
        let (got, _) = read_all(&mut f);
        assert_eq!(
            got,
            vec!["a", "b", "t7-1", "t7-2", "t9-1", "t7-3", "t9-2", "c"]
        );
    }

    #[test]
    fn records_before_the_position_are_skipped() {
        let mut f = fetched(log(), 3, None, false);
        let (got, _) = read_all(&mut f);
        assert_eq!(got.first().map(String::as_str), Some("t7-2"));
    }

    #[test]
    fn a_corrupt_batch_is_a_typed_error_at_its_offset() {
        let good = batch(0, -1, false, &["x"]);
        let mut bad = BytesMut::from(&batch(1, -1, false, &["y", "z"])[..]);
        let last = bad.len() - 1;
        bad[last] ^= 0xff; // inside the CRC-covered records
        let mut f = fetched(concat(&[good, bad.freeze()]), 0, None, false);
        let (got, err) = read_all(&mut f);
        assert_eq!(got, vec!["x"]);
        let err = err.expect("corruption reported");
        assert!(matches!(err, Error::Corrupt { offset: 1, .. }), "{err:?}");
        assert!(err.to_string().contains("t partition 0"), "{err}");
        assert_eq!(f.next_offset, 1, "position stays before the bad batch");
    }

    #[test]
    fn keys_values_and_headers_share_the_fetched_buffer() {
        let mut b = RecordBatchBuilder::new(BuilderOptions::default());
        let headers = [kafka_proto::record::Header::new("h", Some(b"hv"))];
        b.try_append(5, Some(b"k"), Some(b"v"), &headers).unwrap();
        let data = b.finish(&BatchMeta::default()).unwrap();
        let range = data.as_ptr() as usize..data.as_ptr() as usize + data.len();
        let mut f = fetched(data, 0, None, false);
        let Next::Record(r) = f.next() else {
            panic!("a record")
        };
        for part in [
            r.key.unwrap(),
            r.value.unwrap(),
            r.headers[0].value.clone().unwrap(),
        ] {
            assert!(range.contains(&(part.as_ptr() as usize)), "no copy");
        }
        assert_eq!(r.headers[0].key, "h");
    }
}
