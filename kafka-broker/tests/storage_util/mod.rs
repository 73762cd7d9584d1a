//! Helpers shared by the `storage_*` tests: building batches and reading them back.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use kafka_broker::storage::{FileCache, LogConfig, PartitionLog, RecoveryReport, StorageError};
use kafka_proto::record::{BatchMeta, BuilderOptions, RecordBatchBuilder, RecordBatches};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A batch of `n` records with timestamps `ts, ts+1, ...` and `value_len`-byte values.
pub fn batch(n: usize, ts: i64, value_len: usize) -> Bytes {
    build(
        n,
        ts,
        value_len,
        BatchMeta::default(),
        BuilderOptions::default(),
    )
}

/// A batch from an idempotent producer.
pub fn idem_batch(producer_id: i64, epoch: i16, seq: i32, n: usize, ts: i64) -> Bytes {
    let meta = BatchMeta {
        producer_id,
        producer_epoch: epoch,
        base_sequence: seq,
        ..BatchMeta::default()
    };
    build(n, ts, 10, meta, BuilderOptions::default())
}

pub fn build(
    n: usize,
    ts: i64,
    value_len: usize,
    meta: BatchMeta,
    options: BuilderOptions,
) -> Bytes {
    let mut b = RecordBatchBuilder::new(options.max_bytes(usize::MAX));
    let value = vec![b'v'; value_len];
    for i in 0..n {
        let key = format!("k{i}");
        let ok = b
            .try_append(ts + i as i64, Some(key.as_bytes()), Some(&value), &[])
            .expect("append to builder");
        assert!(ok);
    }
    b.finish(&meta).expect("finish batch")
}

/// (base offset, last offset) of each batch in `bytes` (CRCs verified).
pub fn batch_ranges(bytes: &Bytes) -> Vec<(i64, i64)> {
    let mut batches = RecordBatches::new(bytes.clone());
    let out = batches
        .by_ref()
        .map(|b| {
            let b = b.expect("valid stored batch");
            (b.header().base_offset, b.header().last_offset())
        })
        .collect();
    assert!(
        batches.incomplete_tail().is_none(),
        "reads return whole batches"
    );
    out
}

/// Every record's (offset, timestamp, key) in `bytes`.
pub fn records(bytes: &Bytes) -> Vec<(i64, i64, Vec<u8>)> {
    let mut out = Vec::new();
    for b in RecordBatches::new(bytes.clone()) {
        let b = b.expect("valid batch");
        for r in b.records().expect("records") {
            let r = r.expect("record");
            out.push((
                r.offset(),
                r.timestamp(),
                r.key().unwrap_or_default().to_vec(),
            ));
        }
    }
    out
}

/// Opens a log in `dir`.
pub fn open(
    dir: &Path,
    config: LogConfig,
    clean: bool,
) -> Result<(PartitionLog, RecoveryReport), StorageError> {
    PartitionLog::open(dir, config, clean, FileCache::new(16))
}

pub fn open_with(
    dir: &Path,
    config: LogConfig,
    clean: bool,
    files: &Arc<FileCache>,
) -> Result<(PartitionLog, RecoveryReport), StorageError> {
    PartitionLog::open(dir, config, clean, Arc::clone(files))
}

/// Every record offset from `from` to the log end, reading batch by batch.
pub fn read_all(log: &PartitionLog, from: i64) -> Result<Vec<i64>, StorageError> {
    let mut offsets = Vec::new();
    let mut next = from;
    while next < log.log_end_offset() {
        let r = log.read(next, 1 << 20, true)?;
        let recs = records(&r.records);
        assert!(!recs.is_empty(), "read at {next} returned nothing");
        for (o, _, _) in recs {
            if o >= next {
                offsets.push(o);
            }
        }
        next = offsets.last().map_or(next, |o| o + 1);
    }
    Ok(offsets)
}

/// Names of the files in `dir`, sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A config with small segments for roll tests.
pub fn small_segments(segment_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        ..LogConfig::default()
    }
}
