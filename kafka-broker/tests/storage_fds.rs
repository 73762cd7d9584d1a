//! Thousands of partitions share a bounded FileCache: the number of open descriptors stays
//! within its bound. (Alone in its test binary, so no other test opens files meanwhile.)

mod storage_util;

use kafka_broker::storage::{partition_dir, FileCache, LogConfig};
use storage_util::*;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[test]
fn three_thousand_partitions_stay_within_the_fd_budget() -> TestResult {
    // tmpfs when there is one: the test is about descriptors, and creating and removing
    // 3000 directories on a busy disk only adds journal latency.
    let dir = match tempfile::tempdir_in("/dev/shm") {
        Ok(dir) => dir,
        Err(_) => tempfile::tempdir()?,
    };
    let files = FileCache::new(64);
    let before = open_fds();
    let mut logs = Vec::new();
    for p in 0..3000 {
        let (mut log, _) = open_with(
            &partition_dir(dir.path(), "many", p),
            LogConfig::default(),
            false,
            &files,
        )?;
        log.append(batch(1, i64::from(p), 10), 0, 0)?;
        logs.push(log);
        assert!(
            open_fds() <= before + 64 + 2,
            "fds grew past the cache bound at partition {p}"
        );
    }
    assert!(files.open_files() <= 64);
    // Reading every partition again reopens files on demand, still within the bound.
    for (p, log) in logs.iter().enumerate() {
        let r = log.read(0, 1 << 20, true)?;
        assert_eq!(records(&r.records).len(), 1, "partition {p}");
    }
    let during = open_fds();
    assert!(
        during <= before + 64 + 2,
        "{during} fds open, {before} before"
    );
    // Dropping the logs (a crash, as far as the files know) releases the descriptors. (A clean
    // close would sync each log's data: one disk flush per partition.)
    drop(logs);
    assert!(files.open_files() == 0);
    assert!(
        open_fds() <= before + 2,
        "dropping the logs releases the descriptors"
    );
    // Reopen them all, recovering each tail, through the same cache.
    let started = std::time::Instant::now();
    let mut logs = Vec::new();
    for p in 0..3000 {
        let (log, report) = open_with(
            &partition_dir(dir.path(), "many", p),
            LogConfig::default(),
            false,
            &files,
        )?;
        assert_eq!(report.batches_checked, 1);
        assert_eq!(log.log_end_offset(), 1);
        logs.push(log);
    }
    eprintln!("reopened 3000 logs (unclean) in {:?}", started.elapsed());
    assert!(open_fds() <= before + 64 + 2);
    Ok(())
}
