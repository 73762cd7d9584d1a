//! Crash recovery on real files: torn tails, flipped CRC bytes, damaged indexes, the
//! recovery point, clean and unclean reopen.

mod storage_util;

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

use kafka_broker::storage::{LogConfig, PartitionLog};
use storage_util::*;

fn log_file(dir: &Path, base: i64) -> std::path::PathBuf {
    dir.join(format!("{base:020}.log"))
}

/// Appends `n` batches of 2 records, returning each batch's size.
fn fill(log: &mut PartitionLog, n: usize) -> Result<Vec<usize>, Box<dyn std::error::Error>> {
    let mut sizes = Vec::new();
    for i in 0..n {
        let b = batch(2, 1000 + i as i64, 100);
        sizes.push(b.len());
        log.append(b, 0, 0)?;
    }
    Ok(sizes)
}

#[test]
fn unclean_reopen_truncates_half_a_batch() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut log, _) = open(dir.path(), LogConfig::default(), false)?;
    fill(&mut log, 10)?;
    let size = log.size_bytes();
    drop(log); // crash: no close

    // Half a batch appended by hand, as a torn write would leave it.
    let half = batch(2, 5000, 100);
    let mut f = OpenOptions::new()
        .append(true)
        .open(log_file(dir.path(), 0))?;
    f.write_all(&half[..half.len() / 2])?;
    drop(f);

    let (mut log, report) = open(dir.path(), LogConfig::default(), false)?;
    assert!(!report.clean);
    assert_eq!(report.truncated_bytes, (half.len() / 2) as u64);
    assert_eq!(report.batches_checked, 10);
    assert_eq!(log.log_end_offset(), 20);
    assert_eq!(log.size_bytes(), size);
    assert_eq!(std::fs::metadata(log_file(dir.path(), 0))?.len(), size);
    assert_eq!(read_all(&log, 0)?, (0..20).collect::<Vec<_>>());
    assert_eq!(log.append(batch(1, 0, 1), 0, 0)?.base_offset, 20);
    Ok(())
}

#[test]
fn unclean_reopen_truncates_exactly_the_batch_with_a_bad_crc() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut log, _) = open(dir.path(), LogConfig::default(), false)?;
    let sizes = fill(&mut log, 10)?;
    let size = log.size_bytes();
    drop(log);

    // Flip a byte inside the last batch's records (covered by its CRC).
    let last = *sizes.last().ok_or("no batch")? as u64;
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(log_file(dir.path(), 0))?;
    let at = size - last / 2;
    let mut byte = [0u8; 1];
    f.read_exact_at(&mut byte, at)?;
    f.write_all_at(&[byte[0] ^ 0x5a], at)?;
    drop(f);

    let (log, report) = open(dir.path(), LogConfig::default(), false)?;
    assert_eq!(report.truncated_bytes, last);
    assert_eq!(report.batches_checked, 9);
    assert_eq!(log.log_end_offset(), 18);
    assert_eq!(read_all(&log, 0)?, (0..18).collect::<Vec<_>>());
    Ok(())
}

#[test]
fn a_bad_batch_in_an_older_segment_deletes_the_later_segments() -> TestResult {
    let dir = tempfile::tempdir()?;
    let one = batch(2, 0, 100).len() as u64;
    let config = small_segments(one * 4);
    let (mut log, _) = open(dir.path(), config.clone(), false)?;
    fill(&mut log, 10)?; // segments at 0, 8, 16
    assert_eq!(log.segment_count(), 3);
    drop(log);
    // No recovery checkpoint: an unclean open re-reads every segment.
    std::fs::remove_file(dir.path().join("recovery-point-offset-checkpoint"))?;
    // Corrupt the second batch of the segment at 8.
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(log_file(dir.path(), 8))?;
    f.write_all_at(&[0xff, 0xff], one + 70)?;
    drop(f);

    let (log, report) = open(dir.path(), config, false)?;
    assert_eq!(log.log_end_offset(), 10);
    assert_eq!(report.segments, 2);
    assert_eq!(report.batches_checked, 5);
    assert_eq!(report.truncated_bytes, 3 * one + 2 * one);
    assert!(!log_file(dir.path(), 16).exists());
    assert!(!dir.path().join(format!("{:020}.index", 16)).exists());
    assert_eq!(read_all(&log, 0)?, (0..10).collect::<Vec<_>>());
    Ok(())
}

#[test]
fn unclean_reopen_scans_from_the_recovery_point_only() -> TestResult {
    let dir = tempfile::tempdir()?;
    let one = batch(2, 0, 100).len() as u64;
    let config = small_segments(one * 4);
    let (mut log, _) = open(dir.path(), config.clone(), false)?;
    fill(&mut log, 10)?; // rolls at 8 and 16 sync the sealed segments
    drop(log);
    let (log, report) = open(dir.path(), config, false)?;
    assert_eq!(
        report.batches_checked, 2,
        "only the active segment: {report:?}"
    );
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(read_all(&log, 0)?, (0..20).collect::<Vec<_>>());
    Ok(())
}

#[test]
fn clean_flag_with_a_torn_tail_still_truncates() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut log, _) = open(dir.path(), LogConfig::default(), false)?;
    fill(&mut log, 50)?;
    log.close()?;
    let mut f = OpenOptions::new()
        .append(true)
        .open(log_file(dir.path(), 0))?;
    f.write_all(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 99, 1, 2])?;
    drop(f);
    let (log, report) = open(dir.path(), LogConfig::default(), true)?;
    assert!(!report.clean);
    assert_eq!(report.truncated_bytes, 14);
    assert_eq!(read_all(&log, 0)?, (0..100).collect::<Vec<_>>());
    Ok(())
}

#[test]
fn damaged_index_files_are_rebuilt() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = LogConfig {
        segment_bytes: 20_000,
        index_interval_bytes: 300,
        ..LogConfig::default()
    };
    let (mut log, _) = open(dir.path(), config.clone(), false)?;
    fill(&mut log, 300)?;
    let segments = log.segment_count();
    assert!(segments >= 3);
    log.close()?;
    // Zeroed offset index of the first segment, a missing time index of the second, a torn
    // index of the active one.
    std::fs::write(dir.path().join(format!("{:020}.index", 0)), [0u8; 64])?;
    let second = files_in(dir.path())
        .into_iter()
        .filter(|n| n.ends_with(".timeindex"))
        .nth(1)
        .ok_or("no second segment")?;
    std::fs::remove_file(dir.path().join(&second))?;
    let active = files_in(dir.path())
        .into_iter()
        .rfind(|n| n.ends_with(".index"))
        .ok_or("no index")?;
    let path = dir.path().join(&active);
    let len = std::fs::metadata(&path)?.len();
    OpenOptions::new()
        .write(true)
        .open(&path)?
        .set_len(len.saturating_sub(3))?;

    let (log, report) = open(dir.path(), config, true)?;
    assert_eq!(report.segments, segments);
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(read_all(&log, 0)?, (0..600).collect::<Vec<_>>());
    for o in [0, 77, 301, 599] {
        assert_eq!(
            batch_ranges(&log.read(o, 1, true)?.records),
            [(o / 2 * 2, o / 2 * 2 + 1)]
        );
    }
    // Batch i holds timestamps 1000+i and 1001+i: 1150 first appears at offset 299.
    assert_eq!(log.offset_for_timestamp(1150)?.map(|r| r.0), Some(299));
    Ok(())
}

#[test]
fn stray_temporary_files_are_removed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut log, _) = open(dir.path(), LogConfig::default(), false)?;
    fill(&mut log, 2)?;
    log.close()?;
    std::fs::write(dir.path().join("leader-epoch-checkpoint.tmp"), b"junk")?;
    std::fs::write(dir.path().join("00000000000000000000.log.deleted"), b"junk")?;
    std::fs::write(dir.path().join("00000000000000000099.index"), b"orphan")?;
    let (_log, _) = open(dir.path(), LogConfig::default(), true)?;
    let names = files_in(dir.path());
    assert!(
        names
            .iter()
            .all(|n| !n.ends_with(".tmp") && !n.ends_with(".deleted")),
        "{names:?}"
    );
    assert!(!names.contains(&"00000000000000000099.index".to_string()));
    Ok(())
}

#[test]
fn log_start_beyond_the_recovered_end_starts_empty_there() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut log, _) = open(dir.path(), LogConfig::default(), false)?;
    fill(&mut log, 5)?;
    log.delete_records_before(8)?;
    drop(log);
    // The whole segment is lost (e.g. never synced before a power cut).
    OpenOptions::new()
        .write(true)
        .open(log_file(dir.path(), 0))?
        .set_len(0)?;
    let (mut log, report) = open(dir.path(), LogConfig::default(), false)?;
    assert!(!report.clean);
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (8, 8));
    assert_eq!(log.append(batch(1, 0, 1), 0, 0)?.base_offset, 8);
    assert!(log_file(dir.path(), 8).exists());
    Ok(())
}

#[test]
fn empty_logs_reopen_clean() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (log, _) = open(dir.path(), LogConfig::default(), false)?;
    log.close()?;
    let (mut log, report) = open(dir.path(), LogConfig::default(), true)?;
    assert!(report.clean, "{report:?}");
    // An empty active segment right after a roll.
    fill(&mut log, 3)?;
    log.roll(0)?;
    assert_eq!(log.segment_count(), 2);
    log.close()?;
    let (log, report) = open(dir.path(), LogConfig::default(), true)?;
    assert!(report.clean, "{report:?}");
    assert_eq!((report.segments, log.log_end_offset()), (2, 6));
    assert_eq!(read_all(&log, 0)?, (0..6).collect::<Vec<_>>());
    Ok(())
}
