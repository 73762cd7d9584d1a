//! PartitionLog on real files: append/read, offsets, rolling, retention, DeleteRecords,
//! timestamp lookups, the epoch cache, reopening, bad input, fsync policy.

mod storage_util;

use bytes::{Bytes, BytesMut};
use kafka_broker::storage::{FsyncPolicy, LogConfig, PartitionLog, StorageError};
use kafka_proto::record::{BatchMeta, BuilderOptions, Compression, TimestampType};
use kafka_proto::ErrorCode;
use storage_util::*;

fn concat(parts: &[Bytes]) -> Bytes {
    let mut b = BytesMut::new();
    for p in parts {
        b.extend_from_slice(p);
    }
    b.freeze()
}

#[test]
fn append_read_round_trip_with_contiguous_offsets() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut log, report) = open(dir.path(), LogConfig::default(), false)?;
    assert_eq!(report.segments, 1);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));

    let a = log.append(batch(3, 1000, 10), 0, 5000)?;
    assert_eq!((a.base_offset, a.last_offset, a.duplicate), (0, 2, false));
    assert_eq!(a.log_append_time, -1);
    // Two batches in one call get contiguous offsets.
    let b = log.append(concat(&[batch(2, 2000, 10), batch(4, 3000, 10)]), 0, 5000)?;
    assert_eq!((b.base_offset, b.last_offset), (3, 8));
    let c = log.append(batch(1, 4000, 10), 0, 5000)?;
    assert_eq!((c.base_offset, c.last_offset), (9, 9));
    assert_eq!(log.log_end_offset(), 10);

    let r = log.read(0, 1 << 20, false)?;
    assert_eq!(r.high_watermark, 10);
    assert_eq!(r.log_start_offset, 0);
    assert_eq!(batch_ranges(&r.records), [(0, 2), (3, 4), (5, 8), (9, 9)]);
    let recs = records(&r.records);
    assert_eq!(
        recs.iter().map(|r| r.0).collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(recs[3].1, 2000);
    assert_eq!(recs[3].2, b"k0");

    // The stored batches carry the leader epoch.
    let batch0 = kafka_proto::record::RecordBatches::new(r.records.clone())
        .next()
        .ok_or("no batch")??;
    assert_eq!(batch0.header().partition_leader_epoch, 0);

    // At the log end: empty; past it or below the start: out of range.
    assert!(log.read(10, 1 << 20, true)?.records.is_empty());
    let err = log.read(11, 100, true).err().ok_or("expected error")?;
    assert!(matches!(
        err,
        StorageError::OffsetOutOfRange {
            offset: 11,
            start: 0,
            end: 10
        }
    ));
    assert_eq!(err.error_code(), ErrorCode::OffsetOutOfRange);
    assert!(log.read(-1, 100, true).is_err());
    Ok(())
}

#[test]
fn read_from_the_middle_of_a_batch_returns_that_batch() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut log, _) = open(dir.path(), LogConfig::default(), false)?;
    for _ in 0..50 {
        log.append(batch(10, 1000, 200), 0, 0)?; // ~2.3 KB each: index entries every ~2 batches
    }
    for offset in [0, 5, 9, 10, 255, 499] {
        let r = log.read(offset, 1, true)?;
        let ranges = batch_ranges(&r.records);
        assert_eq!(ranges.len(), 1, "offset {offset}");
        let (base, last) = ranges[0];
        assert!(
            base <= offset && offset <= last,
            "offset {offset} in {base}..={last}"
        );
        assert_eq!(base, offset / 10 * 10);
    }
    Ok(())
}

#[test]
fn max_bytes_cuts_at_whole_batches_and_min_one_batch() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut log, _) = open(dir.path(), LogConfig::default(), false)?;
    let one = batch(5, 0, 100);
    let size = one.len();
    for _ in 0..10 {
        log.append(one.clone(), 0, 0)?;
    }
    // Exactly three batches fit.
    let r = log.read(0, size * 3, false)?;
    assert_eq!(r.records.len(), size * 3);
    assert_eq!(batch_ranges(&r.records).len(), 3);
    // One byte less: two.
    let r = log.read(0, size * 3 - 1, false)?;
    assert_eq!(batch_ranges(&r.records).len(), 2);
    // Smaller than a batch: nothing, unless min_one_batch (KIP-74).
    assert!(log.read(7, size - 1, false)?.records.is_empty());
    let r = log.read(7, 1, true)?;
    assert_eq!(batch_ranges(&r.records), [(5, 9)]);
    // Everything.
    let r = log.read(0, usize::MAX, false)?;
    assert_eq!(batch_ranges(&r.records).len(), 10);
    Ok(())
}

#[test]
fn roll_by_bytes_names_segments_by_base_offset() -> TestResult {
    let dir = tempfile::tempdir()?;
    let one = batch(4, 1000, 500);
    let config = small_segments(one.len() as u64 * 3);
    let (mut log, _) = open(dir.path(), config.clone(), false)?;
    for i in 0..10 {
        log.append(batch(4, 1000 + i, 500), 0, 0)?;
    }
    // 3 batches (12 records) per segment.
    assert_eq!(log.segment_count(), 4);
    let names = files_in(dir.path());
    for base in [0, 12, 24] {
        for ext in ["log", "index", "timeindex"] {
            let name = format!("{base:020}.{ext}");
            assert!(names.contains(&name), "{name} missing in {names:?}");
        }
    }
    assert!(names.contains(&"00000000000000000036.log".to_string()));
    assert!(names.contains(&"recovery-point-offset-checkpoint".to_string()));
    assert!(names.contains(&format!("{:020}.snapshot", 36)));
    assert_eq!(
        std::fs::metadata(dir.path().join("00000000000000000012.log"))?.len(),
        one.len() as u64 * 3
    );
    // Reads across segments see every offset once.
    assert_eq!(read_all(&log, 0)?, (0..40).collect::<Vec<_>>());
    // Reading at a segment boundary starts in the next segment.
    assert_eq!(batch_ranges(&log.read(12, 1, true)?.records), [(12, 15)]);
    // A small index interval makes the sealed segments' indexes non-trivial.
    let index = std::fs::read(dir.path().join("00000000000000000000.timeindex"))?;
    assert_eq!(index.len() % 12, 0);
    assert!(!index.is_empty());
    Ok(())
}

#[test]
fn sparse_index_entries_every_interval() -> TestResult {
    let dir = tempfile::tempdir()?;
    let one = batch(1, 1000, 1000); // ~1.1 KB
    let config = LogConfig {
        segment_bytes: one.len() as u64 * 100,
        ..LogConfig::default()
    };
    let (mut log, _) = open(dir.path(), config, false)?;
    for i in 0..101 {
        log.append(batch(1, 1000 + i, 1000), 0, 0)?;
    }
    assert_eq!(log.segment_count(), 2);
    let index = std::fs::read(dir.path().join("00000000000000000000.index"))?;
    // One entry per > 4096 bytes: 100 batches of ~1.1 KB → ~24 entries, not 100.
    let entries = index.len() / 8;
    assert!((15..=30).contains(&entries), "{entries} entries");
    // Every offset is still found.
    for o in 0..101 {
        assert_eq!(batch_ranges(&log.read(o, 1, true)?.records), [(o, o)]);
    }
    Ok(())
}

#[test]
fn retention_by_size_deletes_oldest_sealed_segments_only() -> TestResult {
    let dir = tempfile::tempdir()?;
    let one = batch(1, 1000, 1000);
    let seg_bytes = one.len() as u64 * 2;
    let config = LogConfig {
        segment_bytes: seg_bytes,
        retention_bytes: (seg_bytes * 2) as i64,
        retention_ms: -1,
        ..LogConfig::default()
    };
    let (mut log, _) = open(dir.path(), config, false)?;
    for i in 0..9 {
        log.append(batch(1, 1000 + i, 1000), 0, 0)?;
    }
    assert_eq!(log.segment_count(), 5); // 4 full + active with one batch
    let deleted = log.apply_retention(10_000)?;
    // 9 batches, 5 over the limit: Kafka deletes a segment only while the excess covers it,
    // so the two oldest go (4 batches) and the log stays a little above retention.bytes.
    assert_eq!(deleted, 2);
    assert_eq!(log.log_start_offset(), 4);
    assert_eq!(log.segment_count(), 3);
    assert!(!dir.path().join("00000000000000000000.log").exists());
    assert!(!dir.path().join("00000000000000000000.index").exists());
    assert!(!dir.path().join("00000000000000000002.log").exists());
    assert!(dir.path().join("00000000000000000004.log").exists());
    assert!(matches!(
        log.read(3, 100, true),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    assert_eq!(read_all(&log, 4)?, vec![4, 5, 6, 7, 8]);
    // Never the active segment, even with retention.bytes = 0.
    let mut config = log.config().clone();
    config.retention_bytes = 0;
    log.set_config(config);
    log.apply_retention(10_000)?;
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.log_start_offset(), 8);
    assert_eq!(read_all(&log, 8)?, vec![8]);
    Ok(())
}

#[test]
fn retention_by_time_uses_the_newest_record_of_each_segment() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = LogConfig {
        segment_bytes: batch(2, 0, 100).len() as u64,
        retention_ms: 1000,
        ..LogConfig::default()
    };
    let (mut log, _) = open(dir.path(), config, false)?;
    // Segments with newest timestamps 1001, 2001, 3001, then an active one at 9001.
    for ts in [1000, 2000, 3000, 9000] {
        log.append(batch(2, ts, 100), 0, 0)?;
    }
    assert_eq!(log.segment_count(), 4);
    // At now = 3500 the limit is 2500: the first two segments are expired.
    assert_eq!(log.apply_retention(3500)?, 2);
    assert_eq!(log.log_start_offset(), 4);
    // Far in the future everything but the active segment goes.
    assert_eq!(log.apply_retention(1_000_000)?, 1);
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.log_start_offset(), 6);
    // retention.ms = -1 keeps everything.
    let mut config = log.config().clone();
    config.retention_ms = -1;
    log.set_config(config);
    log.append(batch(2, 10, 100), 0, 0)?;
    assert_eq!(log.apply_retention(i64::MAX / 2)?, 0);
    Ok(())
}

#[test]
fn delete_records_before_moves_the_start_and_persists_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = small_segments(batch(5, 0, 100).len() as u64 * 2);
    let (mut log, _) = open(dir.path(), config.clone(), false)?;
    for _ in 0..6 {
        log.append(batch(5, 0, 100), 0, 0)?;
    }
    assert_eq!(log.segment_count(), 3); // [0,10) [10,20) [20,30)
    assert_eq!(log.delete_records_before(12)?, 12);
    assert_eq!(log.segment_count(), 2);
    assert!(!dir.path().join("00000000000000000000.log").exists());
    // The batch holding offset 12 is still returned whole, from offset 12.
    assert_eq!(batch_ranges(&log.read(12, 1, true)?.records), [(10, 14)]);
    assert!(matches!(
        log.read(11, 1, true),
        Err(StorageError::OffsetOutOfRange { start: 12, .. })
    ));
    // Lower offsets do not move it back.
    assert_eq!(log.delete_records_before(5)?, 12);
    // Past the end is an error; -1 is the high watermark.
    let err = log
        .delete_records_before(31)
        .err()
        .ok_or("expected error")?;
    assert_eq!(err.error_code(), ErrorCode::OffsetOutOfRange);
    log.close()?;

    let (mut log, report) = open(dir.path(), config.clone(), true)?;
    assert!(report.clean);
    assert_eq!(log.log_start_offset(), 12);
    assert_eq!(log.delete_records_before(-1)?, 30);
    assert_eq!(log.log_start_offset(), 30);
    assert!(log.read(30, 100, true)?.records.is_empty());
    drop(log); // crash: the start offset was persisted by DeleteRecords itself
    let (log, _) = open(dir.path(), config, false)?;
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (30, 30));
    Ok(())
}

#[test]
fn offset_for_timestamp_finds_the_first_record_at_or_after() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = LogConfig {
        segment_bytes: 5_000,
        index_interval_bytes: 500,
        ..LogConfig::default()
    };
    let (mut log, _) = open(dir.path(), config.clone(), false)?;
    // 100 batches of 10 records; record i has timestamp 10_000 + 10 * i.
    for b in 0..100 {
        log.append(batch_with_ts(10, 10_000 + 100 * b, 10), 7, 0)?;
    }
    assert!(log.segment_count() > 3);
    let check = |log: &PartitionLog| -> TestResult {
        assert_eq!(log.offset_for_timestamp(0)?, Some((0, 10_000, 7)));
        assert_eq!(log.offset_for_timestamp(10_000)?, Some((0, 10_000, 7)));
        assert_eq!(log.offset_for_timestamp(10_001)?, Some((1, 10_010, 7)));
        assert_eq!(log.offset_for_timestamp(15_555)?, Some((556, 15_560, 7)));
        assert_eq!(log.offset_for_timestamp(19_990)?, Some((999, 19_990, 7)));
        assert_eq!(log.offset_for_timestamp(19_991)?, None);
        assert_eq!(log.max_timestamp()?, Some((999, 19_990, 7)));
        Ok(())
    };
    check(&log)?;
    log.close()?;
    let (log, _) = open(dir.path(), config.clone(), true)?;
    check(&log)?;
    drop(log);
    let (mut log, _) = open(dir.path(), config, false)?;
    check(&log)?;
    // Below the log start, records are not found.
    log.delete_records_before(555)?;
    assert_eq!(log.offset_for_timestamp(0)?, Some((555, 15_550, 7)));
    Ok(())
}

/// A batch whose records have timestamps `ts, ts+10, ...`.
fn batch_with_ts(n: usize, ts: i64, value_len: usize) -> Bytes {
    let mut b = kafka_proto::record::RecordBatchBuilder::new(
        BuilderOptions::default().max_bytes(usize::MAX),
    );
    for i in 0..n {
        let ok = b
            .try_append(
                ts + 10 * i as i64,
                Some(b"k"),
                Some(&vec![b'v'; value_len]),
                &[],
            )
            .expect("append");
        assert!(ok);
    }
    b.finish(&BatchMeta::default()).expect("finish")
}

#[test]
fn max_timestamp_returns_the_first_record_with_the_largest_timestamp() -> TestResult {
    let mut log = PartitionLog::in_memory(LogConfig::default());
    assert_eq!(log.max_timestamp()?, None);
    assert_eq!(log.offset_for_timestamp(0)?, None);
    log.append(batch(3, 500, 10), 1, 0)?; // 500..502
    log.append(batch(3, 900, 10), 2, 0)?; // 900..902 (max at offset 5)
    log.append(batch(3, 100, 10), 2, 0)?;
    assert_eq!(log.max_timestamp()?, Some((5, 902, 2)));
    Ok(())
}

#[test]
fn log_append_time_stamps_batches() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = LogConfig {
        message_timestamp_type_log_append: true,
        ..LogConfig::default()
    };
    let (mut log, _) = open(dir.path(), config, false)?;
    let compressed = build(
        5,
        1,
        50,
        BatchMeta::default(),
        BuilderOptions::default().compression(Compression::Lz4),
    );
    let a = log.append(compressed, 0, 777_000)?;
    assert_eq!(a.log_append_time, 777_000);
    let r = log.read(0, 1 << 20, true)?;
    let b = kafka_proto::record::RecordBatches::new(r.records.clone())
        .next()
        .ok_or("no batch")??; // CRC verified
    assert_eq!(b.header().timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(b.header().max_timestamp, 777_000);
    assert!(records(&r.records).iter().all(|r| r.1 == 777_000));
    assert_eq!(log.offset_for_timestamp(777_000)?, Some((0, 777_000, 0)));
    Ok(())
}

#[test]
fn epoch_cache_answers_offset_for_leader_epoch_and_survives_reopen() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut log, _) = open(dir.path(), LogConfig::default(), false)?;
    assert_eq!(log.end_offset_for_epoch(0), None);
    log.append(batch(5, 0, 10), 0, 0)?; // epoch 0: 0..5
    log.append(batch(5, 0, 10), 0, 0)?;
    log.append(batch(5, 0, 10), 2, 0)?; // epoch 2 starts at 10
    log.append(batch(5, 0, 10), 4, 0)?; // epoch 4 starts at 15
    let check = |log: &PartitionLog| {
        assert_eq!(log.end_offset_for_epoch(-1), None);
        assert_eq!(log.end_offset_for_epoch(0), Some((0, 10)));
        assert_eq!(log.end_offset_for_epoch(1), Some((0, 10)));
        assert_eq!(log.end_offset_for_epoch(2), Some((2, 15)));
        assert_eq!(log.end_offset_for_epoch(3), Some((2, 15)));
        assert_eq!(log.end_offset_for_epoch(4), Some((4, 20)));
        assert_eq!(log.end_offset_for_epoch(5), None);
    };
    check(&log);
    assert!(dir.path().join("leader-epoch-checkpoint").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("leader-epoch-checkpoint"))?,
        "0\n3\n0 0\n2 10\n4 15\n"
    );
    log.close()?;
    let (log, _) = open(dir.path(), LogConfig::default(), true)?;
    check(&log);
    drop(log);
    // Unclean without any checkpoint of the recovery point: rebuilt from the batches.
    std::fs::remove_file(dir.path().join("leader-epoch-checkpoint"))?;
    std::fs::remove_file(dir.path().join("recovery-point-offset-checkpoint"))?;
    let (log, report) = open(dir.path(), LogConfig::default(), false)?;
    assert_eq!(report.batches_checked, 4);
    check(&log);
    Ok(())
}

#[test]
fn reopen_after_close_keeps_everything() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = small_segments(10_000);
    let (mut log, _) = open(dir.path(), config.clone(), false)?;
    for i in 0..40 {
        log.append(batch(3, 1000 + i, 300), 1, 0)?;
    }
    let before = log.read(0, usize::MAX, false)?.records;
    let segments = log.segment_count();
    let size = log.size_bytes();
    log.close()?;

    let (mut log, report) = open(dir.path(), config.clone(), true)?;
    assert!(report.clean, "{report:?}");
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(report.segments, segments);
    assert!(
        report.batches_checked <= 6,
        "clean open only checks the tail after the last index entry: {report:?}"
    );
    assert_eq!(log.log_end_offset(), 120);
    assert_eq!(log.size_bytes(), size);
    let mut after = BytesMut::new();
    let mut next = 0;
    while next < 120 {
        let r = log.read(next, usize::MAX, false)?;
        next = batch_ranges(&r.records).last().ok_or("empty")?.1 + 1;
        after.extend_from_slice(&r.records);
    }
    let first_segment = log.read(0, usize::MAX, false)?.records;
    assert_eq!(
        &before[..],
        &first_segment[..],
        "same bytes from the first segment"
    );
    assert_eq!(batch_ranges(&after.freeze()).len(), 40);
    // Appending continues where it stopped.
    assert_eq!(log.append(batch(1, 0, 1), 1, 0)?.base_offset, 120);
    Ok(())
}

#[test]
fn in_memory_log_has_the_same_semantics() -> TestResult {
    let one = batch(2, 1000, 100);
    let mut log = PartitionLog::in_memory(small_segments(one.len() as u64 * 2));
    for i in 0..7 {
        let a = log.append(batch(2, 1000 + i, 100), 0, 0)?;
        assert_eq!(a.base_offset, 2 * i);
    }
    assert_eq!(log.segment_count(), 4);
    assert_eq!(read_all(&log, 0)?, (0..14).collect::<Vec<_>>());
    assert_eq!(batch_ranges(&log.read(5, 1, true)?.records), [(4, 5)]);
    assert_eq!(log.delete_records_before(4)?, 4);
    assert_eq!(log.segment_count(), 3);
    log.flush()?;
    assert_eq!(log.fsync_count(), 0);
    log.close()?;
    Ok(())
}

#[test]
fn corrupt_input_is_rejected_and_nothing_is_appended() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut log, _) = open(dir.path(), LogConfig::default(), false)?;
    log.append(batch(2, 0, 10), 0, 0)?;
    let good = batch(3, 0, 10);

    // Flipped CRC byte (in the records, covered by the CRC).
    let mut bad = good.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    let err = log
        .append(Bytes::from(bad), 0, 0)
        .err()
        .ok_or("expected error")?;
    assert!(matches!(err, StorageError::Corrupt(_)), "{err:?}");
    assert_eq!(err.error_code(), ErrorCode::CorruptMessage);

    // A good batch followed by a bad one: all or nothing.
    let mut two = good.to_vec();
    let mut bad = good.to_vec();
    bad[30] ^= 1;
    two.extend_from_slice(&bad);
    assert_eq!(
        log.append(Bytes::from(two), 0, 0)
            .err()
            .map(|e| e.error_code()),
        Some(ErrorCode::CorruptMessage)
    );

    // Truncated batch (trailing partial batch).
    let mut trunc = good.to_vec();
    trunc.extend_from_slice(&good[..good.len() / 2]);
    let err = log
        .append(Bytes::from(trunc), 0, 0)
        .err()
        .ok_or("expected error")?;
    assert!(matches!(err, StorageError::Truncated { .. }), "{err:?}");
    assert_eq!(err.error_code(), ErrorCode::CorruptMessage);
    let err = log
        .append(good.slice(..good.len() - 1), 0, 0)
        .err()
        .ok_or("expected error")?;
    assert_eq!(err.error_code(), ErrorCode::CorruptMessage);
    let err = log
        .append(good.slice(..5), 0, 0)
        .err()
        .ok_or("expected error")?;
    assert_eq!(err.error_code(), ErrorCode::CorruptMessage);

    // Legacy magic 0 and 1 messages: INVALID_RECORD, as Kafka 4 (Produce v3+ needs magic 2).
    for magic in [0i8, 1] {
        let mut legacy = Vec::new();
        kafka_proto::record::encode_legacy_message(
            &mut legacy,
            0,
            magic,
            0,
            1000,
            Some(b"k"),
            Some(b"v"),
        );
        let err = log
            .append(Bytes::from(legacy), 0, 0)
            .err()
            .ok_or("expected error")?;
        assert_eq!(
            err.error_code(),
            ErrorCode::InvalidRecord,
            "magic {magic}: {err}"
        );
    }
    // Unknown magic.
    let mut m3 = good.to_vec();
    m3[16] = 3;
    assert_eq!(
        log.append(Bytes::from(m3), 0, 0)
            .err()
            .map(|e| e.error_code()),
        Some(ErrorCode::CorruptMessage)
    );
    // Empty records.
    assert_eq!(
        log.append(Bytes::new(), 0, 0).err().map(|e| e.error_code()),
        Some(ErrorCode::InvalidRecord)
    );
    // Non-zero base offset from a client.
    let shifted = build(
        1,
        0,
        1,
        BatchMeta {
            base_offset: 5,
            ..BatchMeta::default()
        },
        BuilderOptions::default(),
    );
    assert_eq!(
        log.append(shifted, 0, 0).err().map(|e| e.error_code()),
        Some(ErrorCode::InvalidRecord)
    );
    // Control batches from clients.
    let control = kafka_proto::record::RecordBatchBuilder::control_batch(
        kafka_proto::record::ControlRecord::marker(true, 0),
        0,
        &BatchMeta {
            producer_id: 1,
            producer_epoch: 0,
            ..BatchMeta::default()
        },
    )?;
    assert_eq!(
        log.append(control, 0, 0).err().map(|e| e.error_code()),
        Some(ErrorCode::InvalidRecord)
    );
    // Too large for max.message.bytes.
    let mut config = log.config().clone();
    config.max_message_bytes = good.len() - 1;
    log.set_config(config);
    let err = log
        .append(good.clone(), 0, 0)
        .err()
        .ok_or("expected error")?;
    assert!(matches!(err, StorageError::MessageTooLarge { .. }));
    assert_eq!(err.error_code(), ErrorCode::MessageTooLarge);

    // Nothing but the first batch is there.
    assert_eq!(log.log_end_offset(), 2);
    assert_eq!(log.size_bytes(), batch(2, 0, 10).len() as u64);
    assert_eq!(
        std::fs::metadata(dir.path().join("00000000000000000000.log"))?.len(),
        log.size_bytes()
    );
    Ok(())
}

#[test]
fn fsync_always_syncs_each_append_and_roll_does_not() -> TestResult {
    let dir = tempfile::tempdir()?;
    let always = LogConfig {
        fsync: FsyncPolicy::Always,
        ..LogConfig::default()
    };
    let (mut log, _) = open(&dir.path().join("always-0"), always, false)?;
    for i in 1..=5 {
        log.append(batch(1, 0, 10), 0, 0)?;
        assert_eq!(log.fsync_count(), i);
    }
    // A duplicate or a rejected append does not sync.
    assert!(log.append(Bytes::from_static(b"junk"), 0, 0).is_err());
    assert_eq!(log.fsync_count(), 5);

    let (mut log, _) = open(
        &dir.path().join("roll-0"),
        small_segments(batch(1, 0, 10).len() as u64 * 3),
        false,
    )?;
    for _ in 0..3 {
        log.append(batch(1, 0, 10), 0, 0)?;
    }
    assert_eq!(log.fsync_count(), 0, "page cache only");
    log.append(batch(1, 0, 10), 0, 0)?; // rolls: the full segment is synced
    assert_eq!(log.fsync_count(), 1);
    log.flush()?;
    assert_eq!(log.fsync_count(), 2);
    log.flush()?;
    assert_eq!(log.fsync_count(), 2, "nothing new to sync");
    Ok(())
}

#[test]
fn segment_ms_rolls_on_append_and_maybe_roll() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = LogConfig {
        segment_ms: 1000,
        ..LogConfig::default()
    };
    let (mut log, _) = open(dir.path(), config, false)?;
    log.maybe_roll(i64::MAX / 2)?; // empty: nothing to roll
    assert_eq!(log.segment_count(), 1);
    log.append(batch(1, 10_000, 10), 0, 0)?;
    log.append(batch(1, 10_500, 10), 0, 0)?;
    assert_eq!(log.segment_count(), 1);
    // Record timestamps 1001 ms after the segment's first batch: roll (Kafka's rule).
    log.append(batch(1, 11_001, 10), 0, 0)?;
    assert_eq!(log.segment_count(), 2);
    // An idle segment rolls when the broker asks after segment.ms.
    log.maybe_roll(11_500)?;
    assert_eq!(log.segment_count(), 2);
    log.maybe_roll(12_002)?;
    assert_eq!(log.segment_count(), 3);
    assert_eq!(read_all(&log, 0)?, vec![0, 1, 2]);
    Ok(())
}

#[test]
fn delete_removes_the_directory() -> TestResult {
    let dir = tempfile::tempdir()?;
    let pdir = kafka_broker::storage::partition_dir(dir.path(), "orders", 3);
    assert!(pdir.ends_with("orders-3"));
    let (mut log, _) = open(&pdir, LogConfig::default(), false)?;
    log.append(batch(1, 0, 10), 0, 0)?;
    assert!(pdir.exists());
    log.delete()?;
    assert!(!pdir.exists());
    Ok(())
}
