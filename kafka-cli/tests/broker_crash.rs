//! `kafka broker start` as a real process: it prints its address when ready, SIGTERM stops it
//! cleanly (exit 0, clean-shutdown marker), and after `kill -9` during a produce stream the
//! restarted broker holds every acknowledged batch, as a CRC-valid prefix of what was sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_proto::frame::{decode_response, encode_request, FrameDecoder};
use kafka_proto::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_proto::messages::metadata_request::MetadataRequestTopic;
use kafka_proto::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_proto::messages::{FetchRequest, MetadataRequest, ProduceRequest};
use kafka_proto::record::{BatchMeta, BuilderOptions, RecordBatchBuilder, RecordBatches};
use kafka_proto::{RequestBody, ResponseBody};

struct Broker {
    child: Child,
    addr: String,
}

fn start(dir: &Path, extra: &[&str]) -> Broker {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafka"))
        .args(["broker", "start", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kafka");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .strip_prefix("kafka broker ready on ")
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Broker { child, addr }
}

struct Client {
    s: TcpStream,
    buf: BytesMut,
    id: i32,
}

impl Client {
    fn new(addr: &str) -> Client {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Client {
            s,
            buf: BytesMut::new(),
            id: 0,
        }
    }

    fn call(&mut self, body: RequestBody, version: i16) -> std::io::Result<ResponseBody> {
        self.id += 1;
        let key = body.api_key();
        let mut frame = BytesMut::new();
        encode_request(&mut frame, self.id, Some("crash-test"), &body, version).unwrap();
        let mut out = (frame.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(&frame);
        self.s.write_all(&out)?;
        let mut fd = FrameDecoder::default();
        loop {
            if let Some(f) = fd.decode(&mut self.buf).unwrap() {
                return Ok(decode_response(&f, key, version).unwrap().1);
            }
            let mut chunk = [0u8; 65536];
            let n = self.s.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn batch(seq: u32) -> Bytes {
    let mut b = RecordBatchBuilder::new(BuilderOptions::default());
    for i in 0..10u32 {
        let v = format!("{seq}:{i}:{}", "x".repeat(200));
        b.try_append(1_000, Some(&seq.to_be_bytes()), Some(v.as_bytes()), &[])
            .unwrap();
    }
    b.finish(&BatchMeta::default()).unwrap()
}

fn produce(c: &mut Client, seq: u32) -> std::io::Result<i64> {
    let req = ProduceRequest {
        acks: -1,
        timeout_ms: 5000,
        topic_data: vec![TopicProduceData {
            name: "crash".into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(batch(seq)),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    match c.call(req.into(), 9)? {
        ResponseBody::Produce(r) => {
            let p = &r.responses[0].partition_responses[0];
            assert_eq!(p.error_code, 0);
            Ok(p.base_offset)
        }
        _ => unreachable!(),
    }
}

fn create_topic(c: &mut Client) {
    let req = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some("crash".into()),
            ..Default::default()
        }]),
        allow_auto_topic_creation: true,
        ..Default::default()
    };
    c.call(req.into(), 12).unwrap();
}

/// Every batch's sequence number, in log order, read back through Fetch (CRC checked per batch).
fn read_back(c: &mut Client) -> Vec<u32> {
    let mut seqs = Vec::new();
    let mut offset = 0;
    loop {
        let req = FetchRequest {
            replica_id: -1,
            max_bytes: 1 << 22,
            session_epoch: -1,
            topics: vec![FetchTopic {
                topic: "crash".into(),
                partitions: vec![FetchPartition {
                    partition: 0,
                    fetch_offset: offset,
                    partition_max_bytes: 1 << 22,
                    current_leader_epoch: -1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let ResponseBody::Fetch(r) = c.call(req.into(), 11).unwrap() else {
            unreachable!()
        };
        let p = &r.responses[0].partitions[0];
        assert_eq!(p.error_code, 0);
        let records = p.records.clone().unwrap_or_default();
        if records.is_empty() {
            return seqs;
        }
        for b in RecordBatches::new(records) {
            let b = b.expect("CRC-valid batch");
            let first = b.records().unwrap().next().unwrap().unwrap();
            seqs.push(u32::from_be_bytes(first.key().unwrap().try_into().unwrap()));
            offset = b.header().last_offset() + 1;
        }
    }
}

#[test]
fn sigterm_stops_cleanly_and_kill_9_keeps_every_acknowledged_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = start(dir.path(), &[]);
    let mut c = Client::new(&b.addr);
    create_topic(&mut c);
    for seq in 0..5 {
        produce(&mut c, seq).unwrap();
    }
    // SIGTERM: clean stop, exit 0, marker written.
    let status = Command::new("kill")
        .args(["-TERM", &b.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = b.child.wait().unwrap();
    assert!(exit.success(), "SIGTERM exits 0: {exit:?}");
    assert!(dir.path().join(".clean-shutdown").exists());

    // kill -9 in the middle of a produce stream.
    let mut b = start(dir.path(), &[]);
    let addr = b.addr.clone();
    let producer = std::thread::spawn(move || {
        let mut c = Client::new(&addr);
        let mut acked = Vec::new();
        let started = Instant::now();
        for seq in 5.. {
            match produce(&mut c, seq) {
                Ok(_) => acked.push(seq),
                Err(_) => break,
            }
            if started.elapsed() > Duration::from_secs(20) {
                break;
            }
        }
        acked
    });
    std::thread::sleep(Duration::from_millis(300));
    b.child.kill().unwrap(); // SIGKILL
    b.child.wait().unwrap();
    let acked = producer.join().unwrap();
    assert!(
        acked.len() > 5,
        "the stream was running: {} acks",
        acked.len()
    );

    let b2 = start(dir.path(), &[]);
    let mut c = Client::new(&b2.addr);
    let stored = read_back(&mut c);
    // A prefix of what was sent, in order, containing every acknowledged batch.
    assert_eq!(
        stored,
        (0..stored.len() as u32).collect::<Vec<_>>(),
        "in order, no gaps"
    );
    let last_acked = *acked.last().unwrap();
    assert!(
        stored.len() as u32 > last_acked,
        "acknowledged batch {last_acked} lost; stored {}",
        stored.len()
    );
    let mut b2 = b2;
    b2.child.kill().unwrap();
    b2.child.wait().unwrap();
}
