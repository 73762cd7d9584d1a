//! A quick throughput check of the storage layer (not a benchmark suite, and no timing is
//! asserted): append and read back 1 GiB. Run it in release mode:
//!
//! ```text
//! cargo test --release -p kafka-broker --test storage_perf -- --ignored --nocapture
//! ```

mod storage_util;

use std::time::Instant;

use bytes::Bytes;
use kafka_broker::storage::{LogConfig, PartitionLog};
use storage_util::*;

const GIB: usize = 1 << 30;

fn run(label: &str, log: &mut PartitionLog, batches: &[Bytes], total: usize) -> TestResult {
    let batch_len = batches.first().map_or(1, Bytes::len);
    let n = total / batch_len;
    let started = Instant::now();
    for i in 0..n {
        // A clone shares the buffer, so append copies it once, as with a network frame.
        let b = batches.get(i % batches.len()).ok_or("no batch")?.clone();
        log.append(b, 0, 0)?;
    }
    let append = started.elapsed();
    let bytes = log.size_bytes() as f64;
    let started = Instant::now();
    let mut offset = log.log_start_offset();
    let mut read = 0usize;
    let max = batch_len.max(1 << 20);
    while offset < log.log_end_offset() {
        let r = log.read(offset, max, true)?;
        read += r.records.len();
        // Next offset from the last batch header in the result (no decoding).
        let tail = r.records.len().checked_sub(batch_len).ok_or("short read")?;
        let last = r.records.get(tail..).ok_or("short read")?;
        let base = i64::from_be_bytes(last.get(..8).ok_or("short")?.try_into()?);
        let delta = i32::from_be_bytes(last.get(23..27).ok_or("short")?.try_into()?);
        offset = base + i64::from(delta) + 1;
    }
    let fetch = started.elapsed();
    assert_eq!(read as f64, bytes);
    eprintln!(
        "{label}: append {:.0} MB/s ({n} x {batch_len} B in {append:.2?}, {} fsyncs, {} segments), read {:.0} MB/s ({fetch:.2?})",
        bytes / append.as_secs_f64() / 1e6,
        log.fsync_count(),
        log.segment_count(),
        bytes / fetch.as_secs_f64() / 1e6,
    );
    Ok(())
}

#[test]
#[ignore = "throughput check; run with --release -- --ignored --nocapture"]
fn append_and_read_one_gib() -> TestResult {
    // 1 MiB batches of 1 KiB records.
    let big: Vec<Bytes> = (0..4).map(|i| batch(1000, i, 1024)).collect();
    let dir = tempfile::tempdir()?;
    let config = LogConfig {
        max_message_bytes: 2 << 20,
        ..LogConfig::default()
    };
    let (mut log, _) = open(dir.path(), config.clone(), false)?;
    run("1 MiB batches, file", &mut log, &big, GIB)?;
    drop(log);

    // 16 KiB batches (the producer's default batch.size) of 1 KiB records.
    let small: Vec<Bytes> = (0..4).map(|i| batch(15, i, 1024)).collect();
    let dir = tempfile::tempdir()?;
    let (mut log, _) = open(dir.path(), config.clone(), false)?;
    run("16 KiB batches, file", &mut log, &small, GIB)?;
    drop(log);

    let mut log = PartitionLog::in_memory(config);
    run("1 MiB batches, memory", &mut log, &big, GIB / 4)?;
    Ok(())
}
