//! Log truncation and the unclean-leader-election hook (`BrokerHandle::truncate_partition`):
//! `PartitionLog::truncate_to` on files and in memory (segments, indexes, timestamps, epoch
//! cache, producer state, reopening), then the hook over TCP (Metadata epoch, fenced and
//! unknown epochs, fetches, appends, OffsetForLeaderEpoch, long polls, restarts).

mod common;
mod storage_util;

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{init_tracing, memory_broker, records_of, Conn};
use kafka_broker::storage::{LogConfig, PartitionLog, StorageError};
use kafka_broker::{Broker, BrokerError, BrokerHandle};
use kafka_proto::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_proto::messages::metadata_request::MetadataRequestTopic;
use kafka_proto::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_proto::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_proto::messages::*;
use kafka_proto::record::RecordBatches;
use kafka_proto::{ErrorCode, ResponseBody};
use storage_util::{files_in, idem_batch, open, read_all, TestResult};

const PID: i64 = 42;

/// Small segments (two batches each) with index entries every batch or so.
fn small() -> LogConfig {
    LogConfig {
        segment_bytes: 250,
        index_interval_bytes: 100,
        ..LogConfig::default()
    }
}

/// Ten batches of three records from one idempotent producer: batch `i` holds offsets and
/// sequences `3i..3i+2`, timestamps from `1_000 * (i + 1)` except batch 5 (offsets 15..17),
/// which carries the newest timestamps; batches 7-9 are written in leader epoch 1.
fn fill(log: &mut PartitionLog) -> TestResult {
    for i in 0..10i64 {
        let ts = if i == 5 { 90_000 } else { 1_000 * (i + 1) };
        let epoch = if i < 7 { 0 } else { 1 };
        let a = log.append(idem_batch(PID, 0, 3 * i as i32, 3, ts), epoch, 0)?;
        assert_eq!((a.base_offset, a.duplicate), (3 * i, false));
    }
    Ok(())
}

/// (base offset, partition leader epoch) of each stored batch from `offset` on.
fn batch_epochs(log: &PartitionLog, offset: i64) -> Result<Vec<(i64, i32)>, StorageError> {
    let mut out: Vec<(i64, i32)> = Vec::new();
    let mut next = offset;
    while next < log.log_end_offset() {
        // One segment per read.
        for b in RecordBatches::new(log.read(next, 1 << 20, true)?.records) {
            let h = *b.expect("valid batch").header();
            out.push((h.base_offset, h.partition_leader_epoch));
            next = h.last_offset() + 1;
        }
    }
    Ok(out)
}

/// Truncation at 15 (inside a segment, dropping the newest timestamps and epoch 1), a new
/// epoch, appends after it, then truncation at a segment's base offset.
fn truncate_and_continue(log: &mut PartitionLog) -> TestResult {
    fill(log)?;
    let segments_before = log.segment_count();
    assert_eq!(log.end_offset_for_epoch(0), Some((0, 21)));
    assert_eq!(log.max_timestamp()?, Some((17, 90_002, 0)));

    // Batch boundaries.
    assert_eq!(log.batch_start(15)?, 15);
    assert_eq!(log.batch_start(16)?, 15);
    assert_eq!(log.batch_start(17)?, 15);
    assert_eq!(log.batch_start(30)?, 30);
    assert!(matches!(
        log.batch_start(31),
        Err(StorageError::OffsetOutOfRange { offset: 31, .. })
    ));

    assert_eq!(log.truncate_to(15)?, 15);
    assert_eq!(log.log_end_offset(), 15);
    assert!(log.segment_count() < segments_before || log.dir().is_none());
    assert_eq!(read_all(log, 0)?, (0..15).collect::<Vec<_>>());
    assert!(log.read(15, 1 << 20, true)?.records.is_empty());
    assert!(matches!(
        log.read(16, 1 << 20, true),
        Err(StorageError::OffsetOutOfRange { end: 15, .. })
    ));
    // Timestamps: the newest surviving record is 14 (batch 4: 5_000..5_002).
    assert_eq!(log.max_timestamp()?, Some((14, 5_002, 0)));
    assert_eq!(log.offset_for_timestamp(5_001)?, Some((13, 5_001, 0)));
    assert_eq!(log.offset_for_timestamp(5_003)?, None);
    // Epoch 1 started at 21: forgotten.
    assert_eq!(log.latest_epoch(), Some(0));
    assert_eq!(log.end_offset_for_epoch(0), Some((0, 15)));

    // The new leader's epoch starts at the cut.
    log.begin_leader_epoch(2)?;
    assert_eq!(log.latest_epoch(), Some(2));
    assert_eq!(log.end_offset_for_epoch(0), Some((0, 15)));
    assert_eq!(log.end_offset_for_epoch(1), Some((0, 15)));
    assert_eq!(log.end_offset_for_epoch(2), Some((2, 15)));

    // Producer state: the batch before the cut is still a duplicate, the one after it is not.
    let dup = log.append(idem_batch(PID, 0, 12, 3, 5_000), 2, 0)?;
    assert_eq!(
        (dup.base_offset, dup.last_offset, dup.duplicate),
        (12, 14, true)
    );
    let again = log.append(idem_batch(PID, 0, 15, 3, 6_000), 2, 0)?;
    assert_eq!(
        (again.base_offset, again.last_offset, again.duplicate),
        (15, 17, false)
    );
    // A caller holding the old epoch still stamps the log's newest one.
    let stale = log.append(idem_batch(PID, 0, 18, 3, 7_000), 0, 0)?;
    assert_eq!(stale.base_offset, 18);
    assert_eq!(batch_epochs(log, 12)?, [(12, 0), (15, 2), (18, 2)]);
    assert_eq!(log.end_offset_for_epoch(0), Some((0, 15)));
    assert_eq!(log.end_offset_for_epoch(2), Some((2, 21)));
    assert_eq!(log.max_timestamp()?, Some((20, 7_002, 2)));
    assert_eq!(read_all(log, 0)?, (0..21).collect::<Vec<_>>());

    // At the base offset of a segment (on disk: 6 starts the second one), and at the end.
    assert_eq!(log.truncate_to(21)?, 21);
    assert_eq!(log.truncate_to(6)?, 6);
    assert_eq!(read_all(log, 0)?, (0..6).collect::<Vec<_>>());
    assert_eq!(log.end_offset_for_epoch(0), Some((0, 6)));
    assert_eq!(log.latest_epoch(), Some(0));
    let next = log.append(idem_batch(PID, 0, 6, 3, 8_000), 3, 0)?;
    assert_eq!((next.base_offset, next.duplicate), (6, false));
    assert_eq!(read_all(log, 0)?, (0..9).collect::<Vec<_>>());
    assert_eq!(log.end_offset_for_epoch(0), Some((0, 6)));

    // Outside [log start, log end].
    assert!(matches!(
        log.truncate_to(10),
        Err(StorageError::OffsetOutOfRange { offset: 10, .. })
    ));
    log.delete_records_before(3)?;
    assert!(matches!(
        log.truncate_to(2),
        Err(StorageError::OffsetOutOfRange { offset: 2, .. })
    ));
    Ok(())
}

#[test]
fn in_memory_logs_truncate() -> TestResult {
    let mut log = PartitionLog::in_memory(small());
    truncate_and_continue(&mut log)
}

#[test]
fn on_disk_logs_truncate_and_reopen_truncated() -> TestResult {
    for clean in [true, false] {
        let dir = tempfile::tempdir()?;
        let (mut log, _) = open(dir.path(), small(), false)?;
        fill(&mut log)?;
        assert!(log.segment_count() >= 5, "{:?}", files_in(dir.path()));
        assert_eq!(log.truncate_to(15)?, 15);
        log.begin_leader_epoch(2)?;
        // Segments and producer snapshots past the cut are gone.
        let names = files_in(dir.path());
        for name in &names {
            if let Some(base) = name.split('.').next().and_then(|n| n.parse::<i64>().ok()) {
                assert!(base <= 15, "{name} survived the truncation: {names:?}");
            }
        }
        if clean {
            log.close()?;
        } else {
            drop(log);
        }
        let (mut log, report) = open(dir.path(), small(), clean)?;
        assert_eq!(report.truncated_bytes, 0, "the cut was already on disk");
        assert_eq!(log.log_end_offset(), 15);
        assert_eq!(read_all(&log, 0)?, (0..15).collect::<Vec<_>>());
        assert_eq!(log.max_timestamp()?, Some((14, 5_002, 0)));
        assert_eq!(log.end_offset_for_epoch(0), Some((0, 15)));
        assert_eq!(log.latest_epoch(), Some(2));
        let dup = log.append(idem_batch(PID, 0, 12, 3, 5_000), 2, 0)?;
        assert!(dup.duplicate, "clean={clean}");
        let a = log.append(idem_batch(PID, 0, 15, 3, 6_000), 2, 0)?;
        assert_eq!((a.base_offset, a.duplicate), (15, false), "clean={clean}");
        assert_eq!(batch_epochs(&log, 15)?, [(15, 2)]);
    }
    // The whole scenario on files.
    let dir = tempfile::tempdir()?;
    let (mut log, _) = open(dir.path(), small(), false)?;
    truncate_and_continue(&mut log)
}

// ---- the hook over TCP -----------------------------------------------------------------------

macro_rules! expect {
    ($resp:expr, $variant:ident) => {
        match $resp {
            ResponseBody::$variant(r) => r,
            other => panic!(
                "expected {}, got {:?}",
                stringify!($variant),
                other.api_key()
            ),
        }
    };
}

async fn disk_broker(dir: &Path) -> BrokerHandle {
    init_tracing();
    Broker::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .data_dir(dir)
        .start()
        .await
        .unwrap()
}

/// Creates `topic` if needed and returns partition 0's leader epoch from Metadata v12.
async fn metadata_epoch(c: &mut Conn, topic: &str) -> i32 {
    let req = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(topic.into()),
            ..Default::default()
        }]),
        allow_auto_topic_creation: true,
        ..Default::default()
    };
    let r = expect!(c.call(req, 12).await, Metadata);
    assert_eq!(r.topics[0].error_code, 0);
    r.topics[0].partitions[0].leader_epoch
}

/// Produces one batch of `n` records; returns its base offset.
async fn produce(c: &mut Conn, topic: &str, n: usize, ts: i64) -> i64 {
    let req = ProduceRequest {
        acks: -1,
        timeout_ms: 1000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(common::batch(n, ts)),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = expect!(c.call(req, 9).await, Produce);
    let p = &r.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 0);
    p.base_offset
}

fn fetch_req(topic: &str, offset: i64, epoch: i32, wait_ms: i32) -> FetchRequest {
    FetchRequest {
        replica_id: -1,
        max_wait_ms: wait_ms,
        min_bytes: 1,
        max_bytes: 1 << 20,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                current_leader_epoch: epoch,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// (error, high watermark, records) of a fetch at v12.
async fn fetch(
    c: &mut Conn,
    topic: &str,
    offset: i64,
    epoch: i32,
) -> (ErrorCode, i64, Option<Bytes>) {
    let r = expect!(c.call(fetch_req(topic, offset, epoch, 0), 12).await, Fetch);
    let p = &r.responses[0].partitions[0];
    (
        ErrorCode::from_i16(p.error_code),
        p.high_watermark,
        p.records.clone(),
    )
}

/// OffsetForLeaderEpoch v4: (error, epoch, end offset).
async fn epoch_end(c: &mut Conn, topic: &str, current: i32, epoch: i32) -> (ErrorCode, i32, i64) {
    let req = OffsetForLeaderEpochRequest {
        replica_id: -1,
        topics: vec![OffsetForLeaderTopic {
            topic: topic.into(),
            partitions: vec![OffsetForLeaderPartition {
                partition: 0,
                current_leader_epoch: current,
                leader_epoch: epoch,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = expect!(c.call(req, 4).await, OffsetForLeaderEpoch);
    let p = &r.topics[0].partitions[0];
    (
        ErrorCode::from_i16(p.error_code),
        p.leader_epoch,
        p.end_offset,
    )
}

fn epochs_of(records: &Bytes) -> Vec<(i64, i32)> {
    RecordBatches::new(records.clone())
        .map(|b| {
            let h = *b.expect("valid batch").header();
            (h.base_offset, h.partition_leader_epoch)
        })
        .collect()
}

#[tokio::test]
async fn an_unclean_election_truncates_and_bumps_the_epoch() {
    let b = memory_broker().await;
    let mut c = Conn::connect(&b.bootstrap()).await;
    assert_eq!(metadata_epoch(&mut c, "t").await, 0);
    for i in 0..4 {
        assert_eq!(produce(&mut c, "t", 5, 1_000 * i).await, 5 * i);
    }
    assert_eq!(b.log_end_offset("t", 0), Some(20));

    // Refused: unknown partition, inside a batch, past the end. Nothing changes.
    assert!(matches!(
        b.truncate_partition("t", 1, 10).await,
        Err(BrokerError::Fault(_))
    ));
    assert!(matches!(
        b.truncate_partition("nope", 0, 10).await,
        Err(BrokerError::Fault(_))
    ));
    assert!(matches!(
        b.truncate_partition("t", 0, 12).await,
        Err(BrokerError::Fault(_))
    ));
    assert!(matches!(
        b.truncate_partition("t", 0, 21).await,
        Err(BrokerError::Storage(_))
    ));
    assert_eq!(b.log_end_offset("t", 0), Some(20));
    assert_eq!(metadata_epoch(&mut c, "t").await, 0);

    assert_eq!(b.truncate_partition("t", 0, 10).await.unwrap(), 1);
    assert_eq!(b.log_end_offset("t", 0), Some(10));
    assert_eq!(metadata_epoch(&mut c, "t").await, 1);

    // Fetch: the old epoch is fenced, a newer one unknown; the new one reads what is left.
    assert_eq!(
        fetch(&mut c, "t", 0, 0).await.0,
        ErrorCode::FencedLeaderEpoch
    );
    assert_eq!(
        fetch(&mut c, "t", 0, 2).await.0,
        ErrorCode::UnknownLeaderEpoch
    );
    for epoch in [1, -1] {
        let (err, hw, records) = fetch(&mut c, "t", 0, epoch).await;
        assert_eq!((err, hw), (ErrorCode::None, 10));
        let offsets: Vec<i64> = records_of(&records.unwrap()).iter().map(|r| r.0).collect();
        assert_eq!(offsets, (0..10).collect::<Vec<_>>());
    }
    assert_eq!(
        fetch(&mut c, "t", 15, 1).await.0,
        ErrorCode::OffsetOutOfRange
    );

    // OffsetForLeaderEpoch: epoch 0 ends at the cut; the old current epoch is fenced.
    assert_eq!(epoch_end(&mut c, "t", 1, 0).await, (ErrorCode::None, 0, 10));
    assert_eq!(epoch_end(&mut c, "t", 1, 1).await, (ErrorCode::None, 1, 10));
    assert_eq!(
        epoch_end(&mut c, "t", 0, 0).await.0,
        ErrorCode::FencedLeaderEpoch
    );

    // The next append gets the cut offset and the new epoch.
    assert_eq!(produce(&mut c, "t", 3, 9_000).await, 10);
    let (err, hw, records) = fetch(&mut c, "t", 5, 1).await;
    assert_eq!((err, hw), (ErrorCode::None, 13));
    let records = records.unwrap();
    assert_eq!(epochs_of(&records), [(5, 0), (10, 1)]);
    let new: Vec<(i64, String)> = records_of(&records)
        .into_iter()
        .filter(|r| r.0 >= 10)
        .map(|r| (r.0, r.2))
        .collect();
    assert_eq!(
        new,
        [
            (10, "value-0".to_owned()),
            (11, "value-1".to_owned()),
            (12, "value-2".to_owned())
        ]
    );
    assert_eq!(epoch_end(&mut c, "t", 1, 0).await, (ErrorCode::None, 0, 10));
    assert_eq!(epoch_end(&mut c, "t", 1, 1).await, (ErrorCode::None, 1, 13));

    // A second election: at the log end nothing is cut, but the epoch moves again.
    assert_eq!(b.truncate_partition("t", 0, 13).await.unwrap(), 2);
    assert_eq!(b.log_end_offset("t", 0), Some(13));
    assert_eq!(epoch_end(&mut c, "t", 2, 1).await, (ErrorCode::None, 1, 13));
    assert_eq!(
        fetch(&mut c, "t", 0, 1).await.0,
        ErrorCode::FencedLeaderEpoch
    );
    b.shutdown().await.unwrap();
}

/// A fetch long-polling with the old epoch is answered FENCED_LEADER_EPOCH at once.
#[tokio::test]
async fn a_long_poll_on_the_old_epoch_is_fenced_promptly() {
    let b = memory_broker().await;
    let mut c = Conn::connect(&b.bootstrap()).await;
    metadata_epoch(&mut c, "t").await;
    produce(&mut c, "t", 5, 0).await;
    produce(&mut c, "t", 5, 0).await;
    let addr = b.bootstrap();
    let poll = tokio::spawn(async move {
        let mut c = Conn::connect(&addr).await;
        let started = Instant::now();
        let r = expect!(c.call(fetch_req("t", 10, 0, 10_000), 12).await, Fetch);
        (r.responses[0].partitions[0].error_code, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    b.truncate_partition("t", 0, 5).await.unwrap();
    let (code, took) = poll.await.unwrap();
    assert_eq!(code, ErrorCode::FencedLeaderEpoch.code());
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// On disk the cut and the new epoch survive a restart.
#[tokio::test]
async fn truncation_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let b = disk_broker(dir.path()).await;
    let mut c = Conn::connect(&b.bootstrap()).await;
    metadata_epoch(&mut c, "t").await;
    for i in 0..3 {
        produce(&mut c, "t", 5, 1_000 * i).await;
    }
    assert_eq!(b.truncate_partition("t", 0, 5).await.unwrap(), 1);
    assert_eq!(produce(&mut c, "t", 2, 5_000).await, 5);
    drop(c);
    b.shutdown().await.unwrap();

    let b = disk_broker(dir.path()).await;
    let mut c = Conn::connect(&b.bootstrap()).await;
    assert_eq!(metadata_epoch(&mut c, "t").await, 1);
    assert_eq!(b.log_end_offset("t", 0), Some(7));
    let (err, hw, records) = fetch(&mut c, "t", 0, 1).await;
    assert_eq!((err, hw), (ErrorCode::None, 7));
    assert_eq!(epochs_of(&records.unwrap()), [(0, 0), (5, 1)]);
    assert_eq!(epoch_end(&mut c, "t", 1, 0).await, (ErrorCode::None, 0, 5));
    assert_eq!(produce(&mut c, "t", 1, 6_000).await, 7);
    b.shutdown().await.unwrap();
}
