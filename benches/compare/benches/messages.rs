//! Message codec throughput, kafka-proto against the `kafka-protocol` crate (issue 2: at least
//! 2× its throughput on the same messages).
//!
//! The messages are those of `kafka-proto/benches/messages.rs`: a Metadata response of 1,000
//! topics × 10 partitions and OffsetCommit / ListOffsets requests over 10,000 partitions, at the
//! highest stable version of each API. Each is built with kafka-proto and converted field by field
//! into kafka-protocol's types. Before timing anything the setup checks that both crates encode
//! the same length (and reports whether the bytes are identical) and that each crate decodes the
//! other's bytes back to the value it started from.
//!
//! * decode: both crates decode the same bytes (kafka-proto's encoding), dropping the result.
//! * encode: each crate encodes its own value into a reused `BytesMut`.
//! * encode_sized: size, allocate exactly, encode (`Message::to_bytes` against
//!   `compute_size` + `BytesMut::with_capacity` + `encode`).
//!
//! `cargo bench --bench messages` (in `benches/compare`) runs the criterion groups, then prints a
//! summary table measured with the two crates interleaved round by round, so that load from
//! other processes hits both alike. Under `cargo test` each case runs once.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, Criterion, Throughput};

use kafka_proto::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_proto::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_proto::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_proto::messages::{ListOffsetsRequest, MetadataResponse, OffsetCommitRequest};
use kafka_proto::{ApiKey, KStr, Message, Uuid};

use kafka_protocol::messages::{
    list_offsets_request as t_lo, metadata_response as t_md, offset_commit_request as t_oc,
    BrokerId, GroupId, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

// ---------------------------------------------------------------------------------------------
// The messages (the same builders as kafka-proto/benches/messages.rs).

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

// ---------------------------------------------------------------------------------------------
// The same values in kafka-protocol's types.

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

fn topic(s: &str) -> TopicName {
    TopicName(sb(s))
}

/// kafka-protocol's `uuid::Uuid`, built through `FromStr` so this crate needs no `uuid` dependency.
fn their_uuid<U: std::str::FromStr>(u: &Uuid) -> U
where
    U::Err: std::fmt::Debug,
{
    u.to_string().parse().expect("uuid")
}

fn their_metadata(m: &MetadataResponse) -> t_md::MetadataResponse {
    let brokers = |ids: &[i32]| ids.iter().copied().map(BrokerId).collect::<Vec<_>>();
    t_md::MetadataResponse::default()
        .with_throttle_time_ms(m.throttle_time_ms)
        .with_brokers(
            m.brokers
                .iter()
                .map(|b| {
                    t_md::MetadataResponseBroker::default()
                        .with_node_id(BrokerId(b.node_id))
                        .with_host(sb(&b.host))
                        .with_port(b.port)
                        .with_rack(b.rack.as_deref().map(sb))
                })
                .collect(),
        )
        .with_cluster_id(m.cluster_id.as_deref().map(sb))
        .with_controller_id(BrokerId(m.controller_id))
        .with_topics(
            m.topics
                .iter()
                .map(|t| {
                    t_md::MetadataResponseTopic::default()
                        .with_error_code(t.error_code)
                        .with_name(t.name.as_deref().map(topic))
                        .with_topic_id(their_uuid(&t.topic_id))
                        .with_is_internal(t.is_internal)
                        .with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    t_md::MetadataResponsePartition::default()
                                        .with_error_code(p.error_code)
                                        .with_partition_index(p.partition_index)
                                        .with_leader_id(BrokerId(p.leader_id))
                                        .with_leader_epoch(p.leader_epoch)
                                        .with_replica_nodes(brokers(&p.replica_nodes))
                                        .with_isr_nodes(brokers(&p.isr_nodes))
                                        .with_offline_replicas(brokers(&p.offline_replicas))
                                })
                                .collect(),
                        )
                        .with_topic_authorized_operations(t.topic_authorized_operations)
                })
                .collect(),
        )
        .with_cluster_authorized_operations(m.cluster_authorized_operations)
}

fn their_offset_commit(m: &OffsetCommitRequest) -> t_oc::OffsetCommitRequest {
    t_oc::OffsetCommitRequest::default()
        .with_group_id(GroupId(sb(&m.group_id)))
        .with_generation_id_or_member_epoch(m.generation_id_or_member_epoch)
        .with_member_id(sb(&m.member_id))
        .with_group_instance_id(m.group_instance_id.as_deref().map(sb))
        .with_retention_time_ms(m.retention_time_ms)
        .with_topics(
            m.topics
                .iter()
                .map(|t| {
                    t_oc::OffsetCommitRequestTopic::default()
                        .with_name(topic(&t.name))
                        .with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    t_oc::OffsetCommitRequestPartition::default()
                                        .with_partition_index(p.partition_index)
                                        .with_committed_offset(p.committed_offset)
                                        .with_committed_leader_epoch(p.committed_leader_epoch)
                                        .with_committed_metadata(
                                            p.committed_metadata.as_deref().map(sb),
                                        )
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
}

fn their_list_offsets(m: &ListOffsetsRequest) -> t_lo::ListOffsetsRequest {
    t_lo::ListOffsetsRequest::default()
        .with_replica_id(BrokerId(m.replica_id))
        .with_isolation_level(m.isolation_level)
        .with_timeout_ms(m.timeout_ms)
        .with_topics(
            m.topics
                .iter()
                .map(|t| {
                    t_lo::ListOffsetsTopic::default()
                        .with_name(topic(&t.name))
                        .with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    t_lo::ListOffsetsPartition::default()
                                        .with_partition_index(p.partition_index)
                                        .with_current_leader_epoch(p.current_leader_epoch)
                                        .with_timestamp(p.timestamp)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
}

// ---------------------------------------------------------------------------------------------
// The cases.

/// One message in both crates, checked for equivalence.
struct Case<O, T> {
    name: String,
    version: i16,
    ours: O,
    theirs: T,
    /// kafka-proto's encoding, which both crates decode.
    wire: Bytes,
}

impl<O, T> Case<O, T>
where
    O: Message + PartialEq + std::fmt::Debug,
    T: Encodable + Decodable + PartialEq + std::fmt::Debug,
{
    fn new(name: &str, what: &str, version: i16, ours: O, theirs: T) -> Self {
        let wire = ours.to_bytes(version).expect("kafka-proto encode");
        let mut buf = BytesMut::new();
        theirs
            .encode(&mut buf, version)
            .expect("kafka-protocol encode");
        let theirs_wire = buf.freeze();
        assert_eq!(
            wire.len(),
            theirs_wire.len(),
            "{name}: the two encodings differ in length"
        );
        assert_eq!(
            theirs.compute_size(version).expect("compute_size"),
            wire.len()
        );
        // Each crate decodes the other's bytes back to the value it started from.
        let ours_back = O::decode_all(&theirs_wire, version).expect("kafka-proto decode");
        assert!(
            ours_back == ours,
            "{name}: kafka-proto decodes kafka-protocol's bytes differently"
        );
        let mut rest = wire.clone();
        let theirs_back = T::decode(&mut rest, version).expect("kafka-protocol decode");
        assert!(rest.is_empty(), "{name}: kafka-protocol left bytes");
        assert!(
            theirs_back == theirs,
            "{name}: kafka-protocol decodes kafka-proto's bytes differently"
        );
        eprintln!(
            "{name} v{version}: {what}, {} bytes; encodings {}; each crate decodes the other's bytes",
            wire.len(),
            if wire == theirs_wire {
                "identical"
            } else {
                "same length, different bytes"
            },
        );
        Case {
            name: format!("{name}_v{version}"),
            version,
            ours,
            theirs,
            wire,
        }
    }

    fn decode_ours(&self) -> O {
        O::decode_all(black_box(&self.wire), self.version).expect("decode")
    }

    fn decode_theirs(&self) -> T {
        T::decode(&mut black_box(&self.wire).clone(), self.version).expect("decode")
    }

    fn encode_ours(&self, buf: &mut BytesMut) -> usize {
        buf.clear();
        black_box(&self.ours)
            .encode(buf, self.version)
            .expect("encode");
        buf.len()
    }

    fn encode_theirs(&self, buf: &mut BytesMut) -> usize {
        buf.clear();
        black_box(&self.theirs)
            .encode(buf, self.version)
            .expect("encode");
        buf.len()
    }

    fn sized_ours(&self) -> Bytes {
        black_box(&self.ours)
            .to_bytes(self.version)
            .expect("encode")
    }

    fn sized_theirs(&self) -> Bytes {
        let t = black_box(&self.theirs);
        let mut buf = BytesMut::with_capacity(t.compute_size(self.version).expect("size"));
        t.encode(&mut buf, self.version).expect("encode");
        buf.freeze()
    }

    fn bench(&self, c: &mut Criterion) {
        let bytes = Throughput::Bytes(self.wire.len() as u64);
        let mut g = c.benchmark_group(format!("{}/decode", self.name));
        g.throughput(bytes.clone());
        g.bench_function("kafka-proto", |b| b.iter(|| self.decode_ours()));
        g.bench_function("kafka-protocol", |b| b.iter(|| self.decode_theirs()));
        g.finish();

        let mut buf = BytesMut::with_capacity(self.wire.len());
        let mut g = c.benchmark_group(format!("{}/encode", self.name));
        g.throughput(bytes.clone());
        g.bench_function("kafka-proto", |b| b.iter(|| self.encode_ours(&mut buf)));
        g.bench_function("kafka-protocol", |b| {
            b.iter(|| self.encode_theirs(&mut buf))
        });
        g.finish();

        let mut g = c.benchmark_group(format!("{}/encode_sized", self.name));
        g.throughput(bytes);
        g.bench_function("kafka-proto", |b| b.iter(|| self.sized_ours()));
        g.bench_function("kafka-protocol", |b| b.iter(|| self.sized_theirs()));
        g.finish();
    }

    /// Interleaved timing for the summary: `(operation, ours ns, theirs ns)` per operation.
    fn summary(&self) -> Vec<(&'static str, f64, f64)> {
        let mut buf = BytesMut::with_capacity(self.wire.len());
        let mut buf2 = BytesMut::with_capacity(self.wire.len());
        let (d1, d2) = paired_median_ns(
            || {
                black_box(self.decode_ours());
            },
            || {
                black_box(self.decode_theirs());
            },
        );
        let (e1, e2) = paired_median_ns(
            || {
                black_box(self.encode_ours(&mut buf));
            },
            || {
                black_box(self.encode_theirs(&mut buf2));
            },
        );
        let (s1, s2) = paired_median_ns(
            || {
                black_box(self.sized_ours());
            },
            || {
                black_box(self.sized_theirs());
            },
        );
        vec![
            ("decode", d1, d2),
            ("encode", e1, e2),
            ("encode_sized", s1, s2),
        ]
    }
}

/// Median time of one call of `a` and of `b`, over 15 alternating rounds of about 20 ms each.
fn paired_median_ns(mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    let calls_per_round = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        let once = start.elapsed().max(Duration::from_micros(1));
        (Duration::from_millis(20).as_nanos() / once.as_nanos()).max(1) as u32
    };
    let round = |f: &mut dyn FnMut(), n: u32| {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        t.elapsed().as_nanos() as f64 / f64::from(n)
    };
    let (na, nb) = (calls_per_round(&mut a), calls_per_round(&mut b));
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        ta.push(round(&mut a, na));
        tb.push(round(&mut b, nb));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(ta), median(tb))
}

fn metadata_case() -> Case<MetadataResponse, t_md::MetadataResponse> {
    let ours = metadata_response(1_000, 10);
    let theirs = their_metadata(&ours);
    let version = ApiKey::Metadata.stable_versions().max;
    let what = "1000 topics x 10 partitions";
    Case::new("metadata_response", what, version, ours, theirs)
}

fn offset_commit_case() -> Case<OffsetCommitRequest, t_oc::OffsetCommitRequest> {
    let ours = offset_commit_request(100, 100);
    let theirs = their_offset_commit(&ours);
    let version = ApiKey::OffsetCommit.stable_versions().max;
    let what = "100 topics x 100 partitions";
    Case::new("offset_commit_request", what, version, ours, theirs)
}

fn list_offsets_case() -> Case<ListOffsetsRequest, t_lo::ListOffsetsRequest> {
    let ours = list_offsets_request(100, 100);
    let theirs = their_list_offsets(&ours);
    let version = ApiKey::ListOffsets.stable_versions().max;
    let what = "100 topics x 100 partitions";
    Case::new("list_offsets_request", what, version, ours, theirs)
}

fn metadata(c: &mut Criterion) {
    metadata_case().bench(c);
}

fn offset_commit(c: &mut Criterion) {
    offset_commit_case().bench(c);
}

fn list_offsets(c: &mut Criterion) {
    list_offsets_case().bench(c);
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = metadata, offset_commit, list_offsets
}

fn print_summary() {
    let mut rows = Vec::new();
    let mut add = |name: String, size: usize, ops: Vec<(&'static str, f64, f64)>| {
        for (op, ours, theirs) in ops {
            rows.push((format!("{name} {op}"), size, ours, theirs));
        }
    };
    let c = metadata_case();
    add(c.name.clone(), c.wire.len(), c.summary());
    let c = offset_commit_case();
    add(c.name.clone(), c.wire.len(), c.summary());
    let c = list_offsets_case();
    add(c.name.clone(), c.wire.len(), c.summary());

    let mbps = |size: usize, ns: f64| size as f64 / ns * 1e9 / 1e6;
    eprintln!();
    eprintln!("Summary (interleaved, median of 15 rounds; MB = 10^6 bytes):");
    eprintln!(
        "{:<40} {:>10} {:>14} {:>16} {:>7}",
        "case", "bytes", "kafka-proto", "kafka-protocol", "ratio"
    );
    for (case, size, ours, theirs) in rows {
        eprintln!(
            "{case:<40} {size:>10} {:>9.0} MB/s {:>11.0} MB/s {:>6.2}x",
            mbps(size, ours),
            mbps(size, theirs),
            theirs / ours,
        );
    }
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // Only for a real run (`cargo bench`), not for `cargo test` or `--test`, and not when a
    // filter selects some benches.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bench = args.iter().any(|a| a == "--bench");
    let test = args.iter().any(|a| a == "--test");
    let filtered = args.iter().any(|a| !a.starts_with('-'));
    if bench && !test && !filtered {
        print_summary();
    }
}
