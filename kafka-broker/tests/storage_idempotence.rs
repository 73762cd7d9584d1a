//! Idempotent producers (KIP-98/KIP-360): duplicates, gaps, fencing, and producer state
//! surviving clean and unclean restarts.

mod storage_util;

use std::fs::OpenOptions;

use kafka_broker::storage::{LogConfig, PartitionLog, StorageError};
use kafka_proto::ErrorCode;
use storage_util::*;

#[test]
fn duplicates_return_the_original_offsets_and_write_nothing() -> TestResult {
    let mut log = PartitionLog::in_memory(LogConfig::default());
    log.append(batch(3, 0, 10), 0, 0)?; // a non-idempotent batch first: offsets 0..2
    let a = log.append(idem_batch(42, 0, 0, 2, 0), 0, 0)?; // 3..4
    let b = log.append(idem_batch(42, 0, 2, 3, 0), 0, 0)?; // 5..7
    assert_eq!((a.base_offset, b.base_offset), (3, 5));
    let size = log.size_bytes();

    let dup = log.append(idem_batch(42, 0, 2, 3, 0), 0, 0)?;
    assert!(dup.duplicate);
    assert_eq!((dup.base_offset, dup.last_offset), (5, 7));
    let dup = log.append(idem_batch(42, 0, 0, 2, 0), 0, 0)?;
    assert!(dup.duplicate);
    assert_eq!((dup.base_offset, dup.last_offset), (3, 4));
    assert_eq!(log.log_end_offset(), 8);
    assert_eq!(log.size_bytes(), size);

    // The next sequence is accepted.
    let c = log.append(idem_batch(42, 0, 5, 1, 0), 0, 0)?;
    assert!(!c.duplicate);
    assert_eq!(c.base_offset, 8);
    Ok(())
}

#[test]
fn gaps_old_epochs_and_new_epochs() -> TestResult {
    let mut log = PartitionLog::in_memory(LogConfig::default());
    log.append(idem_batch(7, 3, 0, 5, 0), 0, 0)?;
    // Gap: expected 5.
    let err = log
        .append(idem_batch(7, 3, 6, 1, 0), 0, 0)
        .err()
        .ok_or("expected error")?;
    assert!(
        matches!(
            err,
            StorageError::OutOfOrderSequence {
                producer_id: 7,
                got: 6,
                expected: 5,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.error_code(), ErrorCode::OutOfOrderSequenceNumber);
    // Older epoch: fenced.
    let err = log
        .append(idem_batch(7, 2, 5, 1, 0), 0, 0)
        .err()
        .ok_or("expected error")?;
    assert_eq!(err.error_code(), ErrorCode::InvalidProducerEpoch);
    // A newer epoch must start at 0 (KIP-360 bump).
    let err = log
        .append(idem_batch(7, 4, 5, 1, 0), 0, 0)
        .err()
        .ok_or("expected error")?;
    assert_eq!(err.error_code(), ErrorCode::OutOfOrderSequenceNumber);
    assert_eq!(
        log.log_end_offset(),
        5,
        "nothing appended by rejected batches"
    );
    assert_eq!(log.append(idem_batch(7, 4, 0, 1, 0), 0, 0)?.base_offset, 5);
    // After the bump the old epoch is fenced.
    let err = log
        .append(idem_batch(7, 3, 5, 1, 0), 0, 0)
        .err()
        .ok_or("expected error")?;
    assert_eq!(err.error_code(), ErrorCode::InvalidProducerEpoch);
    // A producer the log has no state for is accepted at any sequence (Kafka 2.5+).
    assert_eq!(
        log.append(idem_batch(8, 0, 1234, 1, 0), 0, 0)?.base_offset,
        6
    );
    // A producer id with a negative sequence is an invalid record.
    let err = log
        .append(idem_batch(9, 0, -1, 1, 0), 0, 0)
        .err()
        .ok_or("expected error")?;
    assert_eq!(err.error_code(), ErrorCode::InvalidRecord);
    Ok(())
}

fn check_state(log: &mut PartitionLog, next_seq: i32, last_range: (i64, i64)) -> TestResult {
    let last_seq_start = next_seq - 2;
    let dup = log.append(idem_batch(5, 1, last_seq_start, 2, 0), 0, 0)?;
    assert!(dup.duplicate, "duplicate detected after reopen");
    assert_eq!((dup.base_offset, dup.last_offset), last_range);
    let err = log
        .append(idem_batch(5, 1, next_seq + 1, 1, 0), 0, 0)
        .err()
        .ok_or("expected gap")?;
    assert_eq!(err.error_code(), ErrorCode::OutOfOrderSequenceNumber);
    let err = log
        .append(idem_batch(5, 0, next_seq, 1, 0), 0, 0)
        .err()
        .ok_or("expected fencing")?;
    assert_eq!(err.error_code(), ErrorCode::InvalidProducerEpoch);
    Ok(())
}

#[test]
fn producer_state_survives_clean_and_unclean_restarts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = small_segments(idem_batch(5, 1, 0, 2, 0).len() as u64 * 3);
    let (mut log, _) = open(dir.path(), config.clone(), false)?;
    for i in 0..8 {
        log.append(idem_batch(5, 1, 2 * i, 2, 0), 0, 0)?; // rolls write snapshots too
    }
    assert!(log.segment_count() >= 3);
    log.close()?;

    // Clean: from the snapshot written at close.
    let (mut log, report) = open(dir.path(), config.clone(), true)?;
    assert!(report.clean);
    check_state(&mut log, 16, (14, 15))?;
    log.append(idem_batch(5, 1, 16, 2, 0), 0, 0)?; // offsets 16..17
    drop(log); // crash: no snapshot at 18

    // Unclean: from the snapshot of the last roll/close plus a replay of the batches after it.
    let (mut log, report) = open(dir.path(), config.clone(), false)?;
    assert!(!report.clean);
    check_state(&mut log, 18, (16, 17))?;
    drop(log);

    // Without any snapshot: rebuilt from the whole log.
    for name in files_in(dir.path()) {
        if name.ends_with(".snapshot") {
            std::fs::remove_file(dir.path().join(name))?;
        }
    }
    let (mut log, _) = open(dir.path(), config, false)?;
    check_state(&mut log, 18, (16, 17))?;
    Ok(())
}

#[test]
fn a_truncated_batch_is_forgotten_by_the_producer_state() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut log, _) = open(dir.path(), LogConfig::default(), false)?;
    log.append(idem_batch(5, 0, 0, 2, 0), 0, 0)?;
    let last = idem_batch(5, 0, 2, 2, 0);
    log.append(last.clone(), 0, 0)?;
    log.close()?; // snapshot at offset 4 includes the second batch

    // The second batch is lost (torn).
    let path = dir.path().join(format!("{:020}.log", 0));
    let len = std::fs::metadata(&path)?.len();
    OpenOptions::new()
        .write(true)
        .open(&path)?
        .set_len(len - 10)?;

    let (mut log, report) = open(dir.path(), LogConfig::default(), false)?;
    assert_eq!(report.truncated_bytes, last.len() as u64 - 10);
    assert_eq!(log.log_end_offset(), 2);
    // The producer's retry is appended, not mistaken for a duplicate.
    let again = log.append(last, 0, 0)?;
    assert!(!again.duplicate);
    assert_eq!(again.base_offset, 2);
    Ok(())
}
