//! Load generator for the bundled broker: starts `kafka broker start` as a process and drives it
//! with pre-encoded Produce and Fetch requests over several pipelined connections, so it measures
//! the broker rather than a client.
//!
//! ```text
//! cargo bench -p kafka-cli --bench broker_load            # defaults: 1 GiB, 8 partitions
//! LOAD_MB=256 LOAD_PARTITIONS=4 cargo bench -p kafka-cli --bench broker_load
//! ```
//!
//! Prints: start-up time (process spawn until a TCP connect succeeds), idle RSS, produce ingest
//! MB/s (1 KiB records, acks=1, page-cache mode), fetch MB/s reading everything back.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_proto::frame::{decode_response, encode_request, FrameDecoder};
use kafka_proto::messages::create_topics_request::CreatableTopic;
use kafka_proto::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_proto::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_proto::messages::{CreateTopicsRequest, FetchRequest, ProduceRequest};
use kafka_proto::record::{BatchMeta, BuilderOptions, RecordBatchBuilder};
use kafka_proto::{ApiKey, RequestBody, ResponseBody};

const RECORD: usize = 1024;
const RECORDS_PER_BATCH: usize = 64;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn frame(body: RequestBody, version: i16, id: i32) -> Bytes {
    let mut f = BytesMut::new();
    f.extend_from_slice(&[0, 0, 0, 0]);
    encode_request(&mut f, id, Some("loadgen"), &body, version).unwrap();
    let len = (f.len() - 4) as i32;
    f[..4].copy_from_slice(&len.to_be_bytes());
    f.freeze()
}

/// Reads one response frame straight into its own buffer (one copy out of the kernel, so the
/// load generator spends as little CPU as possible next to the broker).
fn read_response(
    s: &mut TcpStream,
    _buf: &mut BytesMut,
    _fd: &mut FrameDecoder,
    _chunk: &mut [u8],
) -> Bytes {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)
        .expect("broker closed the connection");
    let len = i32::from_be_bytes(len);
    assert!(len >= 0, "bad frame length {len}");
    let mut frame = vec![0u8; len as usize];
    s.read_exact(&mut frame)
        .expect("broker closed the connection");
    Bytes::from(frame)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let total_mb = env_num("LOAD_MB", 1024);
    let partitions = env_num("LOAD_PARTITIONS", 8);
    let port = env_num("LOAD_PORT", 39092);
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{port}");

    // Start-up: spawn to first successful connect.
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafka"))
        .args(["broker", "start", "--listen", &addr, "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let startup = loop {
        if TcpStream::connect(&addr).is_ok() {
            break t0.elapsed();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "broker did not start"
        );
        std::thread::sleep(Duration::from_micros(200));
    };
    std::thread::sleep(Duration::from_millis(500));
    let idle_rss = rss_kib(child.id());

    // Topic.
    let mut s = TcpStream::connect(&addr).unwrap();
    let create = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: "load".into(),
            num_partitions: partitions as i32,
            replication_factor: 1,
            ..Default::default()
        }],
        timeout_ms: 5000,
        ..Default::default()
    };
    s.write_all(&frame(create.into(), 7, 1)).unwrap();
    let (mut buf, mut fd, mut chunk) =
        (BytesMut::new(), FrameDecoder::default(), vec![0u8; 1 << 20]);
    read_response(&mut s, &mut buf, &mut fd, &mut chunk);

    // Produce: one connection per partition, requests written ahead of the responses.
    let value = vec![b'v'; RECORD - 16];
    let mut builder = RecordBatchBuilder::new(BuilderOptions::default().max_bytes(1 << 20));
    for i in 0..RECORDS_PER_BATCH {
        let key = format!("key-{i:012}");
        builder
            .try_append(1_700_000_000_000, Some(key.as_bytes()), Some(&value), &[])
            .unwrap();
    }
    let batch = builder.finish(&BatchMeta::default()).unwrap();
    let per_request = RECORDS_PER_BATCH * RECORD;
    let requests_per_partition = (total_mb << 20) / per_request / partitions;
    let t = Instant::now();
    let handles: Vec<_> = (0..partitions)
        .map(|p| {
            let addr = addr.clone();
            let batch = batch.clone();
            std::thread::spawn(move || {
                let req = ProduceRequest {
                    acks: 1,
                    timeout_ms: 30_000,
                    topic_data: vec![TopicProduceData {
                        name: "load".into(),
                        partition_data: vec![PartitionProduceData {
                            index: p as i32,
                            records: Some(batch),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                let f = frame(req.into(), 9, 7);
                let mut w = TcpStream::connect(&addr).unwrap();
                w.set_nodelay(true).unwrap();
                let mut r = w.try_clone().unwrap();
                let writer = std::thread::spawn(move || {
                    for _ in 0..requests_per_partition {
                        w.write_all(&f).unwrap();
                    }
                });
                let (mut buf, mut fd, mut chunk) =
                    (BytesMut::new(), FrameDecoder::default(), vec![0u8; 1 << 16]);
                for _ in 0..requests_per_partition {
                    let resp = read_response(&mut r, &mut buf, &mut fd, &mut chunk);
                    let (_, body, _) = decode_response(&resp, ApiKey::Produce, 9).unwrap();
                    let ResponseBody::Produce(body) = body else {
                        unreachable!()
                    };
                    assert_eq!(body.responses[0].partition_responses[0].error_code, 0);
                }
                writer.join().unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let produce_time = t.elapsed();
    let produced = (requests_per_partition * partitions * per_request) as f64;
    let loaded_rss = rss_kib(child.id());

    // Fetch everything back: one connection per partition, 8 MiB per request.
    let t = Instant::now();
    let handles: Vec<_> = (0..partitions)
        .map(|p| {
            let addr = addr.clone();
            let end = (requests_per_partition * RECORDS_PER_BATCH) as i64;
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).unwrap();
                let (mut buf, mut fd, mut chunk) =
                    (BytesMut::new(), FrameDecoder::default(), vec![0u8; 1 << 20]);
                let mut offset = 0i64;
                let mut bytes = 0usize;
                while offset < end {
                    let req = FetchRequest {
                        replica_id: -1,
                        max_wait_ms: 0,
                        min_bytes: 1,
                        max_bytes: 8 << 20,
                        session_epoch: -1,
                        topics: vec![FetchTopic {
                            topic: "load".into(),
                            partitions: vec![FetchPartition {
                                partition: p as i32,
                                fetch_offset: offset,
                                partition_max_bytes: 8 << 20,
                                current_leader_epoch: -1,
                                ..Default::default()
                            }],
                            ..Default::default()
                        }],
                        ..Default::default()
                    };
                    s.write_all(&frame(req.into(), 11, 9)).unwrap();
                    let resp = read_response(&mut s, &mut buf, &mut fd, &mut chunk);
                    let (_, body, _) = decode_response(&resp, ApiKey::Fetch, 11).unwrap();
                    let ResponseBody::Fetch(body) = body else {
                        unreachable!()
                    };
                    let part = &body.responses[0].partitions[0];
                    assert_eq!(part.error_code, 0);
                    let records = part.records.clone().unwrap_or_default();
                    bytes += records.len();
                    // Whole batches of 64 records: the next offset follows the last batch.
                    offset +=
                        (records.len() / (batch_len_hint())) as i64 * RECORDS_PER_BATCH as i64;
                    assert!(!records.is_empty(), "no progress at offset {offset}");
                }
                bytes
            })
        })
        .collect();
    let fetched: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let fetch_time = t.elapsed();

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();

    let mb = |b: f64, d: Duration| b / 1e6 / d.as_secs_f64();
    println!("broker load ({partitions} partitions, {RECORD}-byte records, {RECORDS_PER_BATCH} per batch, acks=1, page cache)");
    println!(
        "  start-up to accepting connections: {:.1} ms",
        startup.as_secs_f64() * 1000.0
    );
    println!(
        "  idle RSS:                          {:.1} MiB",
        idle_rss as f64 / 1024.0
    );
    println!(
        "  RSS after ingest:                  {:.1} MiB",
        loaded_rss as f64 / 1024.0
    );
    println!(
        "  produce ingest:                    {:.0} MB/s ({:.0} MB in {:.2} s)",
        mb(produced, produce_time),
        produced / 1e6,
        produce_time.as_secs_f64()
    );
    println!(
        "  fetch:                             {:.0} MB/s ({:.0} MB in {:.2} s)",
        mb(fetched as f64, fetch_time),
        fetched as f64 / 1e6,
        fetch_time.as_secs_f64()
    );
}

/// Size on the wire of one produced batch (all batches are identical).
fn batch_len_hint() -> usize {
    static LEN: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *LEN.get_or_init(|| {
        let value = vec![b'v'; RECORD - 16];
        let mut builder = RecordBatchBuilder::new(BuilderOptions::default().max_bytes(1 << 20));
        for i in 0..RECORDS_PER_BATCH {
            let key = format!("key-{i:012}");
            builder
                .try_append(1_700_000_000_000, Some(key.as_bytes()), Some(&value), &[])
                .unwrap();
        }
        builder.finish(&BatchMeta::default()).unwrap().len()
    })
}
