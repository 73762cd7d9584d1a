//! Message codec throughput (issue 2, "Performance").
//!
//! * Metadata response (1,000 topics × 10 partitions), OffsetCommit and ListOffsets requests
//!   (100 topics × 100 partitions = 10,000 partitions each): decode, encode into a reused
//!   buffer, and `to_bytes` (size, exact allocation, encode). Throughput is the message size.
//! * Produce request and Fetch response carrying 1 MiB of record bytes: the setup checks by
//!   pointer, and prints, that encoding into a [`ChunkedSink`] hands the caller's records
//!   allocation on as its own chunk and that decoding slices the records out of the input frame;
//!   the timings put the chunked encode next to encoding into a `BytesMut` (which copies).
//!
//! Every message uses the highest stable version of its API (`ApiKey::stable_versions`).
//!
//! `cargo bench -p kafka-proto --bench messages`; under `cargo test --benches` each case runs
//! once as a smoke test. The same Metadata / OffsetCommit / ListOffsets messages are compared
//! against the `kafka-protocol` crate in `benches/compare` (`cargo bench --bench messages`).

use std::hint::black_box;
use std::ops::Range;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kafka_proto::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_proto::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_proto::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_proto::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_proto::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_proto::messages::{
    FetchResponse, ListOffsetsRequest, MetadataResponse, OffsetCommitRequest, ProduceRequest,
};
use kafka_proto::{ApiKey, ChunkedSink, KStr, Message, Uuid};

const RECORDS_LEN: usize = 1024 * 1024;

/// A fixed xorshift sequence, so every run benchmarks the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn uuid(&mut self) -> Uuid {
        Uuid::from_u64_pair(self.next(), self.next())
    }
}

/// `n` distinct topic names shaped like real ones: `prod.payments.order-created.v3`.
fn topic_names(n: usize) -> Vec<KStr> {
    const DOMAINS: [&str; 10] = [
        "orders",
        "payments",
        "inventory",
        "customers",
        "shipping",
        "billing",
        "analytics",
        "search",
        "notifications",
        "audit",
    ];
    const EVENTS: [&str; 10] = [
        "order-created",
        "order-updated",
        "item-reserved",
        "invoice-issued",
        "payment-captured",
        "refund-requested",
        "address-changed",
        "session-started",
        "page-viewed",
        "email-sent",
    ];
    (0..n)
        .map(|i| {
            let domain = DOMAINS[i % 10];
            let event = EVENTS[(i / 10) % 10];
            let env = ["prod", "staging"][(i / 1000) % 2];
            KStr::from(format!("{env}.{domain}.{event}.v{}", i / 100 + 1))
        })
        .collect()
}

fn metadata_response(topics: usize, partitions: i32) -> MetadataResponse {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let brokers = (0..3)
        .map(|id| MetadataResponseBroker {
            node_id: id,
            host: KStr::from(format!("kafka-{id}.kafka-headless.prod.svc.cluster.local")),
            port: 9092,
            rack: Some(KStr::from(format!(
                "eu-west-1{}",
                ['a', 'b', 'c'][id as usize]
            ))),
            ..Default::default()
        })
        .collect();
    let topics = topic_names(topics)
        .into_iter()
        .map(|name| MetadataResponseTopic {
            error_code: 0,
            name: Some(name),
            topic_id: rng.uuid(),
            is_internal: false,
            partitions: (0..partitions)
                .map(|p| {
                    let leader = p % 3;
                    let replicas = vec![leader, (leader + 1) % 3, (leader + 2) % 3];
                    MetadataResponsePartition {
                        error_code: 0,
                        partition_index: p,
                        leader_id: leader,
                        leader_epoch: 7 + (rng.next() % 20) as i32,
                        isr_nodes: replicas.clone().into(),
                        replica_nodes: replicas.into(),
                        offline_replicas: Default::default(),
                        ..Default::default()
                    }
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    MetadataResponse {
        throttle_time_ms: 0,
        brokers,
        cluster_id: Some(KStr::from_static("Xw8EwQ1sRkS3l4yBqYcT0g")),
        controller_id: 1,
        topics,
        ..Default::default()
    }
}

fn offset_commit_request(topics: usize, partitions: i32) -> OffsetCommitRequest {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    OffsetCommitRequest {
        group_id: KStr::from_static("payments-settlement-consumer"),
        generation_id_or_member_epoch: 42,
        member_id: KStr::from_static(
            "consumer-payments-settlement-consumer-1-5b8f3c9e-2f41-4d3a-9a57-0c6e1f2b7d44",
        ),
        group_instance_id: None,
        topics: topic_names(topics)
            .into_iter()
            .map(|name| OffsetCommitRequestTopic {
                name,
                partitions: (0..partitions)
                    .map(|p| OffsetCommitRequestPartition {
                        partition_index: p,
                        committed_offset: 1_000_000_000 + (rng.next() % 1_000_000_000) as i64,
                        committed_leader_epoch: 7 + (rng.next() % 20) as i32,
                        committed_metadata: Some(KStr::from_static("")),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn list_offsets_request(topics: usize, partitions: i32) -> ListOffsetsRequest {
    let mut rng = Rng(0xd1b5_4a32_d192_ed03);
    ListOffsetsRequest {
        replica_id: -1,
        isolation_level: 1,
        timeout_ms: 30_000,
        topics: topic_names(topics)
            .into_iter()
            .map(|name| ListOffsetsTopic {
                name,
                partitions: (0..partitions)
                    .map(|p| ListOffsetsPartition {
                        partition_index: p,
                        current_leader_epoch: 7 + (rng.next() % 20) as i32,
                        // -1: the latest offset, what a consumer asks for on reset.
                        timestamp: -1,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// 1 MiB standing in for a record batch (the codec treats `records` as opaque bytes).
fn records() -> Bytes {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    Bytes::from(
        (0..RECORDS_LEN)
            .map(|_| rng.next() as u8)
            .collect::<Vec<u8>>(),
    )
}

fn produce_request(records: Bytes) -> ProduceRequest {
    ProduceRequest {
        transactional_id: None,
        acks: -1,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: KStr::from_static("prod.orders.order-created.v1"),
            partition_data: vec![PartitionProduceData {
                index: 3,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn fetch_response(records: Bytes) -> FetchResponse {
    FetchResponse {
        session_id: 1_234_567,
        responses: vec![FetchableTopicResponse {
            topic_id: Rng(7).uuid(),
            partitions: vec![PartitionData {
                partition_index: 3,
                high_watermark: 1_000_512,
                last_stable_offset: 1_000_512,
                log_start_offset: 0,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

/// Decode, encode into a reused buffer, and `to_bytes`, for one message.
fn codec_cases<M: Message>(c: &mut Criterion, name: &str, what: &str, msg: &M, version: i16) {
    let wire = msg.to_bytes(version).expect("encode");
    assert_eq!(wire.len(), msg.encoded_size(version));
    let back = M::decode_all(&wire, version).expect("decode");
    assert_eq!(back.to_bytes(version).expect("re-encode"), wire);
    eprintln!("{name} v{version}: {what}, {} bytes", wire.len());

    let mut g = c.benchmark_group(format!("{name}_v{version}"));
    g.throughput(Throughput::Bytes(wire.len() as u64));
    g.bench_function("decode", |b| {
        b.iter(|| M::decode_all(black_box(&wire), version).expect("decode"))
    });
    let mut buf = BytesMut::with_capacity(wire.len());
    g.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            black_box(msg).encode(&mut buf, version).expect("encode");
            black_box(buf.len())
        })
    });
    g.bench_function("to_bytes", |b| {
        b.iter(|| black_box(msg).to_bytes(version).expect("encode"))
    });
    g.finish();
}

fn metadata(c: &mut Criterion) {
    let msg = metadata_response(1_000, 10);
    let version = ApiKey::Metadata.stable_versions().max;
    codec_cases(
        c,
        "metadata_response",
        "1000 topics x 10 partitions",
        &msg,
        version,
    );
}

fn offset_commit(c: &mut Criterion) {
    let msg = offset_commit_request(100, 100);
    let version = ApiKey::OffsetCommit.stable_versions().max;
    codec_cases(
        c,
        "offset_commit_request",
        "100 topics x 100 partitions",
        &msg,
        version,
    );
}

fn list_offsets(c: &mut Criterion) {
    let msg = list_offsets_request(100, 100);
    let version = ApiKey::ListOffsets.stable_versions().max;
    codec_cases(
        c,
        "list_offsets_request",
        "100 topics x 100 partitions",
        &msg,
        version,
    );
}

fn ptr_range(b: &[u8]) -> Range<usize> {
    let start = b.as_ptr() as usize;
    start..start + b.len()
}

/// Where `inner` lies in `outer`, if it is a slice of it (not a copy).
fn offset_in(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let (o, i) = (ptr_range(outer), ptr_range(inner));
    (i.start >= o.start && i.end <= o.end).then(|| i.start - o.start)
}

/// Encodes into a `ChunkedSink`, checks that the records chunk is the caller's allocation, and
/// that encoding into a `BytesMut` copies them; prints the evidence.
fn check_chunked_shares<M: Message>(label: &str, msg: &M, version: i16, records: &Bytes) {
    let mut sink = ChunkedSink::new();
    msg.encode(&mut sink, version).expect("encode");
    let chunks = sink.finish();
    let lens: Vec<usize> = chunks.iter().map(Bytes::len).collect();
    assert_eq!(lens.iter().sum::<usize>(), msg.encoded_size(version));
    let shared = chunks
        .iter()
        .position(|c| c.as_ptr() == records.as_ptr() && c.len() == records.len());
    let Some(shared) = shared else {
        panic!("{label}: records were copied into {lens:?}");
    };
    let at: usize = lens[..shared].iter().sum();
    eprintln!(
        "{label} v{version}: ChunkedSink chunks {lens:?}; chunk {shared} at {:p} is the caller's records at {:p}: shared, {} header bytes copied",
        chunks[shared].as_ptr(),
        records.as_ptr(),
        msg.encoded_size(version) - records.len(),
    );
    let flat = msg.to_bytes(version).expect("encode");
    assert_eq!(&flat[at..at + records.len()], &records[..]);
    assert!(offset_in(&flat, records).is_none());
    eprintln!(
        "{label} v{version}: BytesMut encode for comparison: one {} byte buffer at {:p}, records copied to its offset {at}",
        flat.len(),
        flat.as_ptr(),
    );
}

/// Decodes `wire` and checks that the records field is a slice of it; prints the evidence.
fn check_decode_slices(label: &str, wire: &Bytes, decoded: Option<&Bytes>, version: i16) {
    let recs = decoded.expect("records present");
    assert_eq!(recs.len(), RECORDS_LEN);
    let at = offset_in(wire, recs);
    assert!(
        at.is_some(),
        "{label}: decoded records are not a slice of the input"
    );
    let (w, r) = (ptr_range(wire), ptr_range(recs));
    eprintln!(
        "{label} v{version}: decoded records {:#x}..{:#x} lie inside the input frame {:#x}..{:#x} (offset {}): no copy",
        r.start,
        r.end,
        w.start,
        w.end,
        at.unwrap_or_default(),
    );
}

fn produce(c: &mut Criterion) {
    let version = ApiKey::Produce.stable_versions().max;
    let records = records();
    let msg = produce_request(records.clone());
    let size = msg.encoded_size(version);
    eprintln!("produce_request v{version}: 1 partition, {RECORDS_LEN} record bytes, {size} bytes");
    check_chunked_shares("produce_request", &msg, version, &records);
    let wire = msg.to_bytes(version).expect("encode");
    let back = ProduceRequest::decode_all(&wire, version).expect("decode");
    let decoded = back.topic_data[0].partition_data[0].records.as_ref();
    check_decode_slices("produce_request", &wire, decoded, version);

    let mut g = c.benchmark_group(format!("produce_request_1MiB_v{version}"));
    g.throughput(Throughput::Bytes(size as u64));
    g.bench_function("encode_chunked_sink", |b| {
        b.iter(|| {
            let mut sink = ChunkedSink::new();
            black_box(&msg).encode(&mut sink, version).expect("encode");
            sink.finish()
        })
    });
    let mut buf = BytesMut::with_capacity(size);
    g.bench_function("encode_bytesmut_reused", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&msg).encode(&mut buf, version).expect("encode");
            black_box(buf.len())
        })
    });
    g.bench_function("to_bytes", |b| {
        b.iter(|| black_box(&msg).to_bytes(version).expect("encode"))
    });
    g.bench_function("decode", |b| {
        b.iter(|| ProduceRequest::decode_all(black_box(&wire), version).expect("decode"))
    });
    g.finish();
}

fn fetch(c: &mut Criterion) {
    let version = ApiKey::Fetch.stable_versions().max;
    let records = records();
    let msg = fetch_response(records.clone());
    let wire = msg.to_bytes(version).expect("encode");
    eprintln!(
        "fetch_response v{version}: 1 partition, {RECORDS_LEN} record bytes, {} bytes",
        wire.len()
    );
    let back = FetchResponse::decode_all(&wire, version).expect("decode");
    let decoded = back.responses[0].partitions[0].records.as_ref();
    check_decode_slices("fetch_response", &wire, decoded, version);
    check_chunked_shares("fetch_response", &msg, version, &records);

    let mut g = c.benchmark_group(format!("fetch_response_1MiB_v{version}"));
    g.throughput(Throughput::Bytes(wire.len() as u64));
    g.bench_function("decode", |b| {
        b.iter(|| FetchResponse::decode_all(black_box(&wire), version).expect("decode"))
    });
    g.bench_function("encode_chunked_sink", |b| {
        b.iter(|| {
            let mut sink = ChunkedSink::new();
            black_box(&msg).encode(&mut sink, version).expect("encode");
            sink.finish()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = metadata, offset_commit, list_offsets, produce, fetch
}
criterion_main!(benches);
