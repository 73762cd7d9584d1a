//! The producer against the bundled broker over TCP: every setting changes behaviour
//! observably, partitioning matches Java, retries and idempotence keep every acknowledged record
//! exactly once and in order under injected failures, dropped connections and restarts.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_broker::{Broker, BrokerHandle};
use kafka_client::kafka_proto::messages::fetch_request::{
    FetchPartition, FetchRequest, FetchTopic,
};
use kafka_client::kafka_proto::record::{Compression, RecordBatches};
use kafka_client::kafka_proto::{ApiKey, ErrorCode, VersionRange};
use kafka_client::producer::partitioner::murmur2_partition;
use kafka_client::producer::{Acks, PartitionerChoice};
use kafka_client::{
    Client, ClientConfig, Error, Node, Producer, ProducerConfig, ProducerRecord, Purpose,
};
use kafka_testkit::fault_proxy::FaultProxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

fn name(prefix: &str) -> String {
    format!("{prefix}-{:016x}", fastrand::u64(..))
}

async fn broker_with(partitions: i32) -> BrokerHandle {
    Broker::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .in_memory()
        .default_partitions(partitions)
        .start()
        .await
        .unwrap()
}

fn client_config(bootstrap: impl AsRef<str>) -> ClientConfig {
    ClientConfig::new(bootstrap)
        .request_timeout(Duration::from_secs(5))
        .default_api_timeout(Duration::from_secs(10))
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(200))
        .retry_backoff(Duration::from_millis(10), Duration::from_millis(200))
}

fn config(bootstrap: impl AsRef<str>) -> ProducerConfig {
    ProducerConfig::new("unused")
        .client(client_config(bootstrap))
        .max_block(Duration::from_secs(10))
        .delivery_timeout(Duration::from_secs(30))
}

#[derive(Debug, Clone, PartialEq)]
struct Stored {
    offset: i64,
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
    headers: Vec<(String, Option<Bytes>)>,
}

/// One Fetch of `topic`/`partition` from `offset` at `leader`, without waiting for data.
async fn fetch_at(
    c: &Client,
    leader: i32,
    topic: &str,
    partition: i32,
    offset: i64,
) -> (i16, kafka_proto::messages::FetchResponse) {
    c.send_to(
        Node::Id(leader),
        Purpose::Fetch,
        &FetchRequest {
            replica_id: -1,
            max_wait_ms: 0,
            min_bytes: 1,
            max_bytes: 64 << 20,
            topics: vec![FetchTopic {
                topic: topic.into(),
                partitions: vec![FetchPartition {
                    partition,
                    fetch_offset: offset,
                    current_leader_epoch: -1,
                    last_fetched_epoch: -1,
                    log_start_offset: -1,
                    partition_max_bytes: 32 << 20,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        },
        Some(VersionRange::new(4, 12)),
    )
    .await
    .unwrap()
}

/// Every record of a partition, read with raw Fetch requests.
async fn read_all(c: &Client, topic: &str, partition: i32) -> Vec<Stored> {
    let mut out = Vec::new();
    let mut offset = 0i64;
    loop {
        let md = c.refresh_metadata(Some(&[topic.to_owned()])).await.unwrap();
        let (leader, _) = md.leader(topic, partition).expect("leader");
        let (_, r) = fetch_at(c, leader, topic, partition, offset).await;
        let p = &r.responses[0].partitions[0];
        assert_eq!(p.error_code, 0);
        let before = out.len();
        if let Some(bytes) = &p.records {
            for b in RecordBatches::new(bytes.clone()) {
                let b = b.unwrap();
                for rec in b.records().unwrap() {
                    let rec = rec.unwrap();
                    if rec.offset() < offset {
                        continue;
                    }
                    out.push(Stored {
                        offset: rec.offset(),
                        timestamp: rec.timestamp(),
                        key: rec.key_bytes(),
                        value: rec.value_bytes(),
                        headers: rec
                            .headers()
                            .map(|h| {
                                (
                                    h.key_str().unwrap_or_default().to_owned(),
                                    h.value.map(Bytes::copy_from_slice),
                                )
                            })
                            .collect(),
                    });
                }
            }
        }
        if out.len() == before || out.last().map(|s| s.offset + 1) >= Some(p.high_watermark) {
            break;
        }
        offset = out.last().map_or(offset, |s| s.offset + 1);
    }
    out
}

#[tokio::test]
async fn keyed_unkeyed_headers_tombstones_and_timestamps_round_trip() {
    let b = broker_with(4).await;
    let p = Producer::connect(config(b.bootstrap())).await.unwrap();
    let topic = name("rt");
    let keyed = p
        .send(
            ProducerRecord::new(&topic)
                .key("user-21")
                .value("v1")
                .header("h", Some("a"))
                .header("h", None::<Bytes>)
                .header("empty", Some(""))
                .timestamp(1_700_000_000_123),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(
        keyed.partition,
        murmur2_partition(b"user-21", 4),
        "Java's partition"
    );
    assert_eq!(keyed.timestamp, 1_700_000_000_123);
    assert_eq!(&*keyed.topic, topic);
    let tomb = p
        .send(ProducerRecord::new(&topic).key("user-21"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(tomb.partition, keyed.partition);
    assert_eq!(tomb.offset, keyed.offset + 1);
    let unkeyed = p
        .send(ProducerRecord::new(&topic).value("no key"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert!((0..4).contains(&unkeyed.partition));

    let c = p.client().clone();
    let stored = read_all(&c, &topic, keyed.partition).await;
    let first = stored.iter().find(|s| s.offset == keyed.offset).unwrap();
    assert_eq!(first.key.as_deref(), Some(&b"user-21"[..]));
    assert_eq!(first.value.as_deref(), Some(&b"v1"[..]));
    assert_eq!(first.timestamp, 1_700_000_000_123);
    assert_eq!(
        first.headers,
        vec![
            ("h".to_owned(), Some(Bytes::from("a"))),
            ("h".to_owned(), None),
            ("empty".to_owned(), Some(Bytes::new())),
        ]
    );
    let t = stored.iter().find(|s| s.offset == tomb.offset).unwrap();
    assert_eq!(t.value, None, "tombstone keeps a null value");
    p.close().await.unwrap();
    let e = p
        .send(ProducerRecord::new(&topic).value("late"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Closed { .. }), "{e:?}");
}

#[tokio::test]
async fn partitioners_place_records_like_their_namesakes() {
    let b = broker_with(6).await;
    let topic = name("part");
    // consistent_random: CRC-32 of the key.
    let p =
        Producer::connect(config(b.bootstrap()).partitioner(PartitionerChoice::ConsistentRandom))
            .await
            .unwrap();
    for key in ["a", "b", "user-1", "21"] {
        let m = p
            .send(ProducerRecord::new(&topic).key(key).value("x"))
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(
            m.partition as u32,
            crc32fast::hash(key.as_bytes()) % 6,
            "{key}"
        );
    }
    // round_robin cycles.
    let p = Producer::connect(config(b.bootstrap()).partitioner(PartitionerChoice::RoundRobin))
        .await
        .unwrap();
    let mut parts = Vec::new();
    for _ in 0..6 {
        parts.push(
            p.send(ProducerRecord::new(&topic).key("same").value("x"))
                .await
                .unwrap()
                .await
                .unwrap()
                .partition,
        );
    }
    parts.sort_unstable();
    assert_eq!(parts, vec![0, 1, 2, 3, 4, 5]);
    // Explicit partitions bypass the partitioner; an unknown one fails that record at once.
    let m = p
        .send(ProducerRecord::new(&topic).partition(4).value("x"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(m.partition, 4);
    let e = p
        .send(ProducerRecord::new(&topic).partition(6).value("x"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("partition 6"), "{e}");
}

#[tokio::test]
async fn linger_holds_records_and_flush_sends_them() {
    let b = broker_with(1).await;
    let topic = name("linger");
    let p = Producer::connect(config(b.bootstrap()).linger(Duration::from_secs(30)))
        .await
        .unwrap();
    let d = p
        .send(ProducerRecord::new(&topic).value("held"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(b.log_end_offset(&topic, 0), Some(0), "still lingering");
    p.flush().await.unwrap();
    assert_eq!(b.log_end_offset(&topic, 0), Some(1));
    assert_eq!(d.await.unwrap().offset, 0);
}

#[tokio::test]
async fn batch_size_closes_batches_without_waiting_for_linger() {
    let b = broker_with(1).await;
    let topic = name("bs");
    let p = Producer::connect(
        config(b.bootstrap())
            .linger(Duration::from_secs(30))
            .batch_size(1000),
    )
    .await
    .unwrap();
    let mut ds = Vec::new();
    for i in 0..50 {
        ds.push(
            p.send(
                ProducerRecord::new(&topic)
                    .value(vec![b'x'; 100])
                    .key(format!("{i}")),
            )
            .await
            .unwrap(),
        );
    }
    // Full batches go out on their own; only the last, open one lingers.
    let first = tokio::time::timeout(Duration::from_secs(10), ds.remove(0))
        .await
        .expect("full batch sent before linger.ms")
        .unwrap();
    assert_eq!(first.offset, 0);
    let s = p.stats();
    assert!(s.batches_sent >= 1, "{s:?}");
    p.flush().await.unwrap();
    let s = p.stats();
    assert!(
        s.batches_sent >= 5,
        "50 records of ~110 bytes in 1000-byte batches: {s:?}"
    );
    assert_eq!(s.records_sent, 50);
}

#[tokio::test]
async fn acks_zero_gets_no_offsets_and_compression_round_trips() {
    let b = broker_with(1).await;
    let topic = name("acks0");
    let p = Producer::connect(config(b.bootstrap()).acks(Acks::None))
        .await
        .unwrap();
    assert!(
        p.producer_id().is_none(),
        "acks=0 turns default idempotence off"
    );
    let m = p
        .send(ProducerRecord::new(&topic).value("fire"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(m.offset, -1);
    p.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.log_end_offset(&topic, 0) != Some(1) {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let t = name("codec");
        let p = Producer::connect(config(b.bootstrap()).compression(codec, None))
            .await
            .unwrap();
        let n = 200;
        let batch = p
            .send_many((0..n).map(|i| ProducerRecord::new(&t).value(format!("value-{i}"))))
            .await
            .unwrap()
            .await;
        assert_eq!(batch.len(), n);
        assert!(batch.iter().all(Result::is_ok), "{codec:?}");
        let stored = read_all(p.client(), &t, 0).await;
        assert_eq!(stored.len(), n, "{codec:?}");
        assert_eq!(
            stored[n - 1].value.as_deref(),
            Some(format!("value-{}", n - 1).as_bytes())
        );
    }
}

#[tokio::test]
async fn order_per_partition_under_concurrent_senders() {
    let b = broker_with(3).await;
    let topic = name("order");
    let p = Producer::connect(config(b.bootstrap()).batch_size(2000))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for t in 0..4 {
        let p = p.clone();
        let topic = topic.clone();
        tasks.push(tokio::spawn(async move {
            let mut ds = Vec::new();
            for i in 0..500 {
                ds.push(
                    p.send(
                        ProducerRecord::new(&topic)
                            .key(format!("task-{t}"))
                            .value(format!("{i}")),
                    )
                    .await
                    .unwrap(),
                );
            }
            let mut last = -1;
            for d in ds {
                let m = d.await.unwrap();
                assert!(m.offset > last, "offsets follow send order");
                last = m.offset;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for part in 0..3 {
        let stored = read_all(p.client(), &topic, part).await;
        let mut next: HashMap<Bytes, u32> = HashMap::new();
        for s in stored {
            let k = s.key.unwrap();
            let v: u32 = std::str::from_utf8(&s.value.unwrap())
                .unwrap()
                .parse()
                .unwrap();
            let e = next.entry(k).or_insert(0);
            assert_eq!(v, *e, "per-key order kept");
            *e += 1;
        }
    }
}

/// Checks a partition holds exactly `expected` values in this order.
async fn assert_exactly_once(c: &Client, topic: &str, partition: i32, expected: &[String]) {
    let stored = read_all(c, topic, partition).await;
    let got: Vec<String> = stored
        .iter()
        .map(|s| String::from_utf8(s.value.clone().unwrap().to_vec()).unwrap())
        .collect();
    assert_eq!(got.len(), expected.len(), "no duplicates, nothing lost");
    assert_eq!(got, expected, "in order");
}

#[tokio::test]
async fn retriable_errors_are_retried_without_duplicates() {
    let b = broker_with(1).await;
    let topic = name("retry");
    let p = Producer::connect(config(b.bootstrap()).batch_size(500))
        .await
        .unwrap();
    // Warm up so the topic exists, then inject.
    p.send(ProducerRecord::new(&topic).value("v-0"))
        .await
        .unwrap()
        .await
        .unwrap();
    b.faults()
        .fail_next(ApiKey::Produce, 3, ErrorCode::NotLeaderOrFollower);
    b.faults()
        .pause_leadership(&topic, 0, Duration::from_millis(300));
    let mut expected = vec!["v-0".to_owned()];
    let mut ds = Vec::new();
    for i in 1..200 {
        let v = format!("v-{i}");
        expected.push(v.clone());
        ds.push(p.send(ProducerRecord::new(&topic).value(v)).await.unwrap());
    }
    for d in ds {
        d.await.unwrap();
    }
    assert!(p.stats().retries >= 1);
    assert_exactly_once(p.client(), &topic, 0, &expected).await;
}

#[tokio::test]
async fn idempotence_survives_dropped_connections() {
    let proxy = FaultProxy::bind().await.unwrap();
    let b = Broker::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .advertise(proxy.addr().to_string())
        .in_memory()
        .default_partitions(2)
        .start()
        .await
        .unwrap();
    proxy.set_upstream(b.local_addr());
    let topic = name("idem");
    let p = Producer::connect(
        config(b.bootstrap())
            .batch_size(300)
            .linger(Duration::from_millis(1)),
    )
    .await
    .unwrap();
    let acked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let errors = Arc::new(AtomicUsize::new(0));
    for i in 0..3000 {
        if i % 500 == 250 {
            proxy.kill_all();
        }
        let v = format!("{i}");
        let acked = acked.clone();
        let errors = errors.clone();
        p.send_with(
            ProducerRecord::new(&topic)
                .partition(i % 2)
                .value(v.clone()),
            move |r| match r {
                Ok(m) => acked.lock().unwrap().push((m.partition, v)),
                Err(_) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            },
        )
        .await
        .unwrap();
    }
    p.flush().await.unwrap();
    assert_eq!(
        errors.load(Ordering::Relaxed),
        0,
        "retries recover every record"
    );
    assert!(
        proxy.connections() > 2,
        "connections were dropped and reopened"
    );
    let acked = acked.lock().unwrap().clone();
    for part in 0..2 {
        let expected: Vec<String> = (0..3000)
            .filter(|i| i % 2 == part)
            .map(|i| i.to_string())
            .collect();
        assert_eq!(
            acked.iter().filter(|(p, _)| *p == part).count(),
            expected.len()
        );
        assert_exactly_once(p.client(), &topic, part, &expected).await;
    }
}

#[tokio::test]
async fn idempotence_survives_a_broker_restart() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    let addr = b.local_addr();
    let topic = name("restart");
    let p = Producer::connect(config(b.bootstrap()).batch_size(300))
        .await
        .unwrap();
    let mut ds = Vec::new();
    let mut expected = Vec::new();
    for i in 0..300 {
        expected.push(i.to_string());
        ds.push(
            p.send(ProducerRecord::new(&topic).value(i.to_string()))
                .await
                .unwrap(),
        );
    }
    for d in ds.drain(..) {
        d.await.unwrap();
    }
    b.shutdown().await.unwrap();
    // Records sent while the broker is down wait and are delivered once it is back.
    for i in 300..600 {
        expected.push(i.to_string());
        ds.push(
            p.send(ProducerRecord::new(&topic).value(i.to_string()))
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b = Broker::builder()
        .listen(addr)
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    for d in ds {
        d.await.unwrap();
    }
    assert_exactly_once(p.client(), &topic, 0, &expected).await;
    b.shutdown().await.unwrap();
}

#[tokio::test]
async fn sequence_errors_bump_the_epoch_and_too_large_batches_split() {
    let b = broker_with(1).await;
    let topic = name("bump");
    let p = Producer::connect(config(b.bootstrap())).await.unwrap();
    p.send(ProducerRecord::new(&topic).value("0"))
        .await
        .unwrap()
        .await
        .unwrap();
    let (_, epoch) = p.producer_id().unwrap();
    b.faults()
        .fail_next(ApiKey::Produce, 1, ErrorCode::UnknownProducerId);
    let mut expected = vec!["0".to_owned()];
    expected.push("1".to_owned());
    p.send(ProducerRecord::new(&topic).value("1"))
        .await
        .unwrap()
        .await
        .unwrap();
    let (_, new_epoch) = p.producer_id().unwrap();
    assert!(new_epoch > epoch, "KIP-360 bump: {epoch} -> {new_epoch}");
    assert_eq!(p.stats().epoch_bumps, 1);

    b.faults()
        .fail_next(ApiKey::Produce, 1, ErrorCode::MessageTooLarge);
    let values: Vec<String> = (2..102).map(|i| i.to_string()).collect();
    expected.extend(values.iter().cloned());
    let results = p
        .send_many(
            values
                .iter()
                .map(|v| ProducerRecord::new(&topic).value(v.clone())),
        )
        .await
        .unwrap()
        .await;
    assert!(results.iter().all(Result::is_ok));
    assert!(p.stats().splits >= 1);
    assert_exactly_once(p.client(), &topic, 0, &expected).await;

    // A lone record the broker finds too large fails alone.
    b.faults()
        .fail_next(ApiKey::Produce, 1, ErrorCode::MessageTooLarge);
    let e = p
        .send(ProducerRecord::new(&topic).value("big"))
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::MessageTooLarge));
    let ok = p
        .send(ProducerRecord::new(&topic).value("after"))
        .await
        .unwrap()
        .await;
    assert!(
        ok.is_ok(),
        "the producer goes on after a failed record: {ok:?}"
    );
}

#[tokio::test]
async fn buffer_memory_makes_send_wait_not_fail() {
    let b = broker_with(1).await;
    let topic = name("bp");
    let p = Producer::connect(
        config(b.bootstrap())
            .buffer_memory(4000)
            .batch_size(1000)
            .linger(Duration::from_millis(0)),
    )
    .await
    .unwrap();
    p.send(ProducerRecord::new(&topic).value("warm"))
        .await
        .unwrap()
        .await
        .unwrap();
    b.faults()
        .delay_next(ApiKey::Produce, 5, Duration::from_millis(300));
    let started = Instant::now();
    let mut ds = Vec::new();
    let mut saw_busy = false;
    for _ in 0..100 {
        let r = ProducerRecord::new(&topic).value(vec![b'v'; 200]);
        if !saw_busy {
            if let Err(e) = p.try_send(r.clone()) {
                assert!(e.to_string().contains("busy"), "{e}");
                saw_busy = true;
            } else {
                continue;
            }
        }
        ds.push(p.send(r).await.unwrap());
    }
    assert!(saw_busy, "try_send refuses when buffer.memory is full");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "send waited for memory"
    );
    for d in ds {
        d.await.unwrap();
    }
    assert_eq!(p.stats().buffer_used, 0);
}

#[tokio::test]
async fn bad_records_fail_at_once_and_unknown_topics_time_out() {
    let b = Broker::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .in_memory()
        .auto_create_topics(false)
        .start()
        .await
        .unwrap();
    let p = Producer::connect(
        config(b.bootstrap())
            .max_request_size(1000)
            .max_block(Duration::from_millis(500)),
    )
    .await
    .unwrap();
    let e = p
        .send(ProducerRecord::new("t").value(vec![0u8; 2000]))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("max.request.size"), "{e}");
    let started = Instant::now();
    let e = p
        .send(ProducerRecord::new(name("missing")).value("x"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("not present in metadata"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // With auto-creation, the topic appears and the record goes through.
    let b2 = broker_with(1).await;
    let p2 = Producer::connect(config(b2.bootstrap())).await.unwrap();
    let t = name("auto");
    let m = p2
        .send(ProducerRecord::new(&t).value("x"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(m.offset, 0);
    drop(p2);
}

#[tokio::test]
async fn delivery_timeout_fails_records_that_cannot_be_sent() {
    let b = broker_with(1).await;
    let topic = name("dt");
    let p = Producer::connect(
        config(b.bootstrap())
            .delivery_timeout(Duration::from_millis(800))
            .linger(Duration::from_millis(0)),
    )
    .await
    .unwrap();
    p.send(ProducerRecord::new(&topic).value("warm"))
        .await
        .unwrap()
        .await
        .unwrap();
    b.faults()
        .pause_leadership(&topic, 0, Duration::from_secs(5));
    let e = p
        .send(ProducerRecord::new(&topic).value("late"))
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(
        e.to_string().contains("NOT_LEADER_OR_FOLLOWER") || e.to_string().contains("expired"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pipelined_requests_keep_sequence_order() {
    // Many small batches of one partition, five requests in flight: they must reach the broker
    // in sequence order (no OUT_OF_ORDER_SEQUENCE_NUMBER, so no retries or epoch bumps).
    let b = broker_with(1).await;
    let topic = name("seq");
    let p = Producer::connect(
        config(b.bootstrap())
            .batch_size(600)
            .linger(Duration::from_millis(0)),
    )
    .await
    .unwrap();
    let values: Vec<String> = (0..20000).map(|i| format!("{i:06}")).collect();
    for v in &values {
        p.send_with(ProducerRecord::new(&topic).value(v.clone()), |r| {
            r.unwrap();
        })
        .await
        .unwrap();
    }
    p.flush().await.unwrap();
    let s = p.stats();
    assert!(s.requests > 20, "{s:?}");
    assert_eq!(s.retries, 0, "{s:?}");
    assert_eq!(s.epoch_bumps, 0, "{s:?}");
    assert_exactly_once(p.client(), &topic, 0, &values).await;
}

#[tokio::test]
async fn retries_request_timeout_and_compression_level_change_behaviour() {
    let b = broker_with(1).await;
    // retries=0: the first retriable error fails the record.
    let topic = name("r0");
    let p = Producer::connect(config(b.bootstrap()).retries(0).idempotence(false))
        .await
        .unwrap();
    p.send(ProducerRecord::new(&topic).value("warm"))
        .await
        .unwrap()
        .await
        .unwrap();
    b.faults()
        .fail_next(ApiKey::Produce, 1, ErrorCode::NotLeaderOrFollower);
    let e = p
        .send(ProducerRecord::new(&topic).value("x"))
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::NotLeaderOrFollower));
    assert_eq!(p.stats().retries, 0);

    // request.timeout.ms: a slow answer is abandoned and the batch resent; idempotence keeps
    // it once.
    let topic = name("rt");
    let p = Producer::connect(
        config(b.bootstrap())
            .client(client_config(b.bootstrap()).request_timeout(Duration::from_millis(300))),
    )
    .await
    .unwrap();
    p.send(ProducerRecord::new(&topic).value("a"))
        .await
        .unwrap()
        .await
        .unwrap();
    b.faults()
        .delay_next(ApiKey::Produce, 1, Duration::from_millis(1500));
    p.send(ProducerRecord::new(&topic).value("b"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(p.stats().retries >= 1);
    assert_exactly_once(p.client(), &topic, 0, &["a".to_owned(), "b".to_owned()]).await;

    // compression.level: gzip 1 and 9 store different sizes for the same records.
    let mut sizes = Vec::new();
    for level in [1, 9] {
        let topic = name("lvl");
        let p =
            Producer::connect(config(b.bootstrap()).compression(Compression::Gzip, Some(level)))
                .await
                .unwrap();
        let values = (0..2000).map(|i| {
            ProducerRecord::new(&topic).value(format!(
                "value {} {}",
                i % 97,
                "abcdefgh".repeat(i % 7)
            ))
        });
        let r = p.send_many(values).await.unwrap().await;
        assert!(r.iter().all(Result::is_ok));
        sizes.push(stored_bytes(p.client(), &topic).await);
    }
    assert!(
        sizes[0] > sizes[1],
        "level 1 {} bytes vs level 9 {} bytes",
        sizes[0],
        sizes[1]
    );
}

/// Bytes of record batches stored for partition 0 (one fetch).
async fn stored_bytes(c: &Client, topic: &str) -> usize {
    let md = c.refresh_metadata(Some(&[topic.to_owned()])).await.unwrap();
    let (leader, _) = md.leader(topic, 0).unwrap();
    let (_, r) = fetch_at(c, leader, topic, 0, 0).await;
    r.responses[0].partitions[0]
        .records
        .as_ref()
        .map_or(0, |b| b.len())
}

/// What a counting proxy saw of the Produce requests that went through it.
#[derive(Debug, Default)]
struct ProduceLog {
    /// Produce requests read from a client whose response has not yet been read from the broker.
    in_flight: usize,
    /// The largest `in_flight` since the last `reset`.
    peak: usize,
    /// When each Produce request reached the proxy, since the last `reset`.
    arrivals: Vec<Instant>,
}

impl ProduceLog {
    fn reset(&mut self) {
        self.peak = self.in_flight;
        self.arrivals.clear();
    }
}

/// A broker whose advertised address is a plain TCP proxy that cuts Kafka frames and keeps a
/// [`ProduceLog`]. A request counts from when the proxy has read it until the proxy has read its
/// response (before passing it on), so the proxy never sees more requests outstanding than the
/// client has.
async fn broker_behind_counting_proxy(partitions: i32) -> (BrokerHandle, Arc<Mutex<ProduceLog>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = Broker::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .advertise(listener.local_addr().unwrap().to_string())
        .in_memory()
        .default_partitions(partitions)
        .start()
        .await
        .unwrap();
    let log = Arc::new(Mutex::new(ProduceLog::default()));
    tokio::spawn(accept_and_count(listener, b.local_addr(), log.clone()));
    (b, log)
}

async fn accept_and_count(
    listener: TcpListener,
    upstream: SocketAddr,
    log: Arc<Mutex<ProduceLog>>,
) {
    while let Ok((client, _)) = listener.accept().await {
        let Ok(broker) = TcpStream::connect(upstream).await else {
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = broker.set_nodelay(true);
        let (client_read, client_write) = client.into_split();
        let (broker_read, broker_write) = broker.into_split();
        // Correlation ids of this connection's Produce requests awaiting their response.
        let pending = Arc::new(Mutex::new(HashSet::new()));
        let (requests_log, requests_pending) = (log.clone(), pending.clone());
        tokio::spawn(forward_frames(client_read, broker_write, move |frame| {
            let key = i16::from_be_bytes([frame[0], frame[1]]);
            if key != ApiKey::Produce.key() {
                return;
            }
            let correlation = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
            requests_pending.lock().unwrap().insert(correlation);
            let mut l = requests_log.lock().unwrap();
            l.in_flight += 1;
            l.peak = l.peak.max(l.in_flight);
            l.arrivals.push(Instant::now());
        }));
        let log = log.clone();
        tokio::spawn(async move {
            forward_frames(broker_read, client_write, |frame| {
                let correlation = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
                if pending.lock().unwrap().remove(&correlation) {
                    log.lock().unwrap().in_flight -= 1;
                }
            })
            .await;
            // The connection is gone: its unanswered requests are no longer in flight.
            let lost = pending.lock().unwrap().drain().count();
            log.lock().unwrap().in_flight -= lost;
        });
    }
}

/// Copies length-prefixed frames from `from` to `to`, showing each (without its length) to
/// `seen` before passing it on, until either side closes.
async fn forward_frames(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut seen: impl FnMut(&[u8]),
) {
    let mut frame = Vec::new();
    loop {
        let mut len = [0u8; 4];
        if from.read_exact(&mut len).await.is_err() {
            return;
        }
        let n = usize::try_from(i32::from_be_bytes(len)).unwrap();
        // One write per frame (with TCP_NODELAY set): a length written apart from its body
        // would meet Nagle's algorithm and delayed ACKs, adding ~40 ms per frame.
        frame.clear();
        frame.extend_from_slice(&len);
        frame.resize(4 + n, 0);
        if from.read_exact(&mut frame[4..]).await.is_err() {
            return;
        }
        if n >= 8 {
            seen(&frame[4..]);
        }
        if to.write_all(&frame).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn max_in_flight_bounds_outstanding_produce_requests() {
    // Slow Produce answers and many small batches for three partitions: the proxy between the
    // producer and the broker sees no more requests outstanding than
    // max.in.flight.requests.per.connection allows, and with 5 it sees them pipelined.
    let mut peaks = Vec::new();
    for max_in_flight in [1, 5] {
        let (b, log) = broker_behind_counting_proxy(3).await;
        let topic = name("inflight");
        let p = Producer::connect(
            config(b.bootstrap())
                .client(client_config(b.bootstrap()).max_in_flight(max_in_flight))
                .batch_size(200)
                .linger(Duration::from_millis(0)),
        )
        .await
        .unwrap();
        // Warm up so the topic, the producer id and the connection exist before the slow part.
        let mut expected: Vec<Vec<String>> = vec![Vec::new(); 3];
        for (part, values) in (0..3).zip(&mut expected) {
            let v = format!("warm-{part}");
            p.send(ProducerRecord::new(&topic).partition(part).value(v.clone()))
                .await
                .unwrap()
                .await
                .unwrap();
            values.push(v);
        }
        log.lock().unwrap().reset();
        b.faults()
            .delay_next(ApiKey::Produce, 4, Duration::from_millis(300));
        let mut ds = Vec::new();
        for i in 0..600 {
            let part = i % 3;
            let v = format!("{part}-{i:04}");
            expected[part as usize].push(v.clone());
            ds.push(
                p.send(ProducerRecord::new(&topic).partition(part).value(v))
                    .await
                    .unwrap(),
            );
        }
        for d in ds {
            d.await.unwrap();
        }
        let (peak, requests) = {
            let l = log.lock().unwrap();
            (l.peak, l.arrivals.len())
        };
        assert!(
            requests > 10,
            "max.in.flight={max_in_flight}: only {requests} Produce requests"
        );
        for (part, values) in (0..3).zip(&expected) {
            assert_exactly_once(p.client(), &topic, part, values).await;
        }
        peaks.push(peak);
    }
    assert_eq!(
        peaks[0], 1,
        "max.in.flight=1: one Produce request outstanding at a time"
    );
    assert!(
        peaks[1] > 1 && peaks[1] <= 5,
        "max.in.flight=5: up to five Produce requests outstanding, saw {}",
        peaks[1]
    );
}

#[tokio::test]
async fn retry_backoff_spaces_out_retries() {
    // Two retriable failures: each resend waits retry.backoff.ms (±20 % jitter; capped by
    // retry.backoff.max.ms, set equal here, so the second wait does not double). Only lower
    // bounds on time are asserted, so a slow machine cannot fail the test.
    let (b, log) = broker_behind_counting_proxy(1).await;
    for backoff in [Duration::from_millis(400), Duration::from_millis(10)] {
        let topic = name("backoff");
        let p = Producer::connect(
            config(b.bootstrap())
                .client(client_config(b.bootstrap()).retry_backoff(backoff, backoff)),
        )
        .await
        .unwrap();
        p.send(ProducerRecord::new(&topic).value("warm"))
            .await
            .unwrap()
            .await
            .unwrap();
        log.lock().unwrap().reset();
        b.faults()
            .fail_next(ApiKey::Produce, 2, ErrorCode::NotLeaderOrFollower);
        let started = Instant::now();
        p.send(ProducerRecord::new(&topic).value("x"))
            .await
            .unwrap()
            .await
            .unwrap();
        let elapsed = started.elapsed();
        assert_eq!(p.stats().retries, 2, "{:?}", p.stats());
        let arrivals = log.lock().unwrap().arrivals.clone();
        assert_eq!(
            arrivals.len(),
            3,
            "two failed attempts, then the one that succeeds"
        );
        // The shortest jittered backoff, less a millisecond for float rounding.
        let least = backoff.mul_f64(0.8) - Duration::from_millis(1);
        for w in arrivals.windows(2) {
            let gap = w[1] - w[0];
            assert!(
                gap >= least,
                "retry.backoff.ms={}: resent after {gap:?}",
                backoff.as_millis()
            );
        }
        if backoff >= Duration::from_millis(400) {
            assert!(
                elapsed >= least * 2,
                "two backoffs of ~{backoff:?}, yet delivered in {elapsed:?}"
            );
        }
        assert_exactly_once(p.client(), &topic, 0, &["warm".to_owned(), "x".to_owned()]).await;
    }
}

#[tokio::test]
async fn idempotence_is_what_keeps_a_timed_out_resend_from_duplicating() {
    // The same fault with and without enable.idempotence: a Produce answered after
    // request.timeout.ms is resent. The broker wrote the first attempt too, so only the
    // producer id and sequence numbers let it drop the second copy.
    let b = broker_with(1).await;
    let mut stored = Vec::new();
    for idempotent in [false, true] {
        let topic = name("idem");
        let p = Producer::connect(
            config(b.bootstrap())
                .idempotence(idempotent)
                .client(client_config(b.bootstrap()).request_timeout(Duration::from_millis(300))),
        )
        .await
        .unwrap();
        p.send(ProducerRecord::new(&topic).value("a"))
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(p.producer_id().is_some(), idempotent);
        b.faults()
            .delay_next(ApiKey::Produce, 1, Duration::from_millis(2000));
        p.send(ProducerRecord::new(&topic).value("b"))
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(
            p.stats().retries >= 1,
            "idempotent={idempotent}: {:?}",
            p.stats()
        );
        // The delayed first attempt (the client gives up on it after request.timeout.ms plus
        // a second's grace) lands after the resend was answered.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let values: Vec<Bytes> = read_all(p.client(), &topic, 0)
            .await
            .into_iter()
            .filter_map(|s| s.value)
            .collect();
        stored.push(values);
    }
    assert_eq!(
        stored[0],
        ["a", "b", "b"],
        "without idempotence: a duplicate"
    );
    assert_eq!(stored[1], ["a", "b"], "with idempotence: once");
}

#[tokio::test]
async fn dropping_a_delivery_future_does_not_cancel_the_send() {
    let b = broker_with(1).await;
    let topic = name("dropped");
    let p = Producer::connect(config(b.bootstrap()).linger(Duration::from_millis(50)))
        .await
        .unwrap();
    for i in 0..10 {
        let delivery = p
            .send(ProducerRecord::new(&topic).value(format!("v{i}")))
            .await
            .unwrap();
        drop(delivery);
    }
    p.flush().await.unwrap();
    let expected: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
    assert_exactly_once(p.client(), &topic, 0, &expected).await;
}
