//! Restarts: clean stop and start keeps data, topics and committed offsets; an unclean stop with
//! a torn log tail is recovered by truncating the bad bytes; `FsyncPolicy::Always` syncs before
//! every acknowledgement.

mod common;

use std::path::Path;

use common::{batch, init_tracing, records_of, Conn};
use kafka_broker::{Broker, BrokerHandle, FsyncPolicy};
use kafka_proto::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_proto::messages::metadata_request::MetadataRequestTopic;
use kafka_proto::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_proto::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_proto::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_proto::messages::*;
use kafka_proto::ResponseBody;

async fn start(dir: &Path, fsync: FsyncPolicy) -> BrokerHandle {
    init_tracing();
    Broker::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .data_dir(dir)
        .fsync(fsync)
        .start()
        .await
        .unwrap()
}

async fn produce(c: &mut Conn, topic: &str, n: usize) -> i64 {
    let req = ProduceRequest {
        acks: -1,
        timeout_ms: 1000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(batch(n, 1_000)),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    match c.call(req, 9).await {
        ResponseBody::Produce(r) => {
            let p = &r.responses[0].partition_responses[0];
            assert_eq!(p.error_code, 0);
            p.base_offset
        }
        _ => unreachable!(),
    }
}

async fn fetch_all(c: &mut Conn, topic: &str) -> Vec<(i64, String, String)> {
    let req = FetchRequest {
        replica_id: -1,
        max_bytes: 1 << 24,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: 0,
                partition_max_bytes: 1 << 24,
                current_leader_epoch: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    match c.call(req, 11).await {
        ResponseBody::Fetch(r) => {
            assert_eq!(r.responses[0].partitions[0].error_code, 0);
            records_of(r.responses[0].partitions[0].records.as_ref().unwrap())
        }
        _ => unreachable!(),
    }
}

async fn create(c: &mut Conn, topic: &str) {
    let req = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(topic.into()),
            ..Default::default()
        }]),
        allow_auto_topic_creation: true,
        ..Default::default()
    };
    c.call(req, 12).await;
}

#[tokio::test]
async fn clean_restart_keeps_data_topics_and_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path(), FsyncPolicy::Roll).await;
    let mut c = Conn::connect(&b.bootstrap()).await;
    create(&mut c, "keep").await;
    for _ in 0..3 {
        produce(&mut c, "keep", 4).await;
    }
    let commit = OffsetCommitRequest {
        group_id: "g".into(),
        generation_id_or_member_epoch: -1,
        topics: vec![OffsetCommitRequestTopic {
            name: "keep".into(),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: 7,
                committed_metadata: Some("m".into()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    match c.call(commit, 8).await {
        ResponseBody::OffsetCommit(r) => assert_eq!(r.topics[0].partitions[0].error_code, 0),
        _ => unreachable!(),
    }
    let id = b.cluster_id().to_owned();
    b.shutdown().await.unwrap();
    assert!(dir.path().join(".clean-shutdown").exists());

    let b = start(dir.path(), FsyncPolicy::Roll).await;
    assert!(b.startup_report().clean);
    assert_eq!(b.cluster_id(), id, "cluster id persists");
    let mut c = Conn::connect(&b.bootstrap()).await;
    let recs = fetch_all(&mut c, "keep").await;
    assert_eq!(recs.len(), 12);
    assert_eq!(
        recs.iter().map(|r| r.0).collect::<Vec<_>>(),
        (0..12).collect::<Vec<_>>()
    );
    assert_eq!(produce(&mut c, "keep", 1).await, 12, "offsets continue");
    let fetch = OffsetFetchRequest {
        group_id: "g".into(),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: "keep".into(),
            partition_indexes: [0].into_iter().collect(),
            ..Default::default()
        }]),
        ..Default::default()
    };
    match c.call(fetch, 7).await {
        ResponseBody::OffsetFetch(r) => {
            let p = &r.topics[0].partitions[0];
            assert_eq!((p.committed_offset, p.metadata.as_deref()), (7, Some("m")));
        }
        _ => unreachable!(),
    }
    b.shutdown().await.unwrap();
}

fn log_file(dir: &Path, topic: &str) -> std::path::PathBuf {
    dir.join(format!("{topic}-0"))
        .join("00000000000000000000.log")
}

#[tokio::test]
async fn torn_tail_is_truncated_on_unclean_restart() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path(), FsyncPolicy::Roll).await;
    let mut c = Conn::connect(&b.bootstrap()).await;
    create(&mut c, "torn").await;
    produce(&mut c, "torn", 5).await;
    produce(&mut c, "torn", 5).await;
    // Crash: no clean shutdown (dropping the handle stops serving but writes no marker).
    drop(c);
    drop(b);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let log = log_file(dir.path(), "torn");
    let good_len = std::fs::metadata(&log).unwrap().len();
    // Half of a third batch.
    let third = batch(5, 2_000);
    let mut bytes = std::fs::read(&log).unwrap();
    bytes.extend_from_slice(&third[..third.len() / 2]);
    std::fs::write(&log, &bytes).unwrap();

    let b = start(dir.path(), FsyncPolicy::Roll).await;
    assert!(!b.startup_report().clean);
    assert_eq!(b.startup_report().truncated_bytes, (third.len() / 2) as u64);
    assert_eq!(std::fs::metadata(&log).unwrap().len(), good_len);
    let mut c = Conn::connect(&b.bootstrap()).await;
    assert_eq!(fetch_all(&mut c, "torn").await.len(), 10);
    assert_eq!(produce(&mut c, "torn", 1).await, 10);
    drop(c);
    drop(b);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    // A flipped CRC byte in the last batch: that batch goes, the earlier ones stay.
    let mut bytes = std::fs::read(&log).unwrap();
    let crc_at = good_len as usize + 17;
    bytes[crc_at] ^= 0x55;
    std::fs::write(&log, &bytes).unwrap();
    let b = start(dir.path(), FsyncPolicy::Roll).await;
    assert!(b.startup_report().truncated_bytes > 0);
    let mut c = Conn::connect(&b.bootstrap()).await;
    let recs = fetch_all(&mut c, "torn").await;
    assert_eq!(recs.len(), 10, "the corrupted batch was cut");
    b.shutdown().await.unwrap();
}

#[tokio::test]
async fn fsync_always_syncs_before_each_acknowledgement() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path(), FsyncPolicy::Always).await;
    let mut c = Conn::connect(&b.bootstrap()).await;
    create(&mut c, "sync").await;
    let before = b.fsync_count("sync", 0).unwrap();
    for i in 1..=5 {
        produce(&mut c, "sync", 2).await;
        // The count is read after the acknowledgement arrived: the sync came first.
        assert!(
            b.fsync_count("sync", 0).unwrap() >= before + i,
            "sync before ack {i}"
        );
    }
    b.shutdown().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path(), FsyncPolicy::Roll).await;
    let mut c = Conn::connect(&b.bootstrap()).await;
    create(&mut c, "roll").await;
    let before = b.fsync_count("roll", 0).unwrap();
    for _ in 0..5 {
        produce(&mut c, "roll", 2).await;
    }
    assert_eq!(
        b.fsync_count("roll", 0).unwrap(),
        before,
        "page-cache mode does not sync per produce"
    );
    b.shutdown().await.unwrap();
}
