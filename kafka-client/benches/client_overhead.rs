//! Client-core load generator against the bundled broker (in this process, on its own runtime
//! threads):
//!
//! 1. round trip of a small request (ApiVersions) on loopback, p50/p99: a raw-socket loop (write
//!    a pre-encoded frame, read the response frame) beside the client (`Connection::send`,
//!    which encodes, queues, matches and decodes): the difference is the client's per-request
//!    overhead (target: ≤ 20 µs);
//! 2. `Client::refresh_metadata(None)` with 1,000 topics;
//! 3. `Admin::list_offsets` (latest) for 10,000 partitions.
//!
//! `cargo bench -p kafka-client --bench client_overhead` (env: `ROUNDS`, default 20000).

use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use kafka_client::admin::{IsolationLevel, NewTopic, OffsetSpec};
use kafka_client::kafka_proto::messages::api_versions_request::ApiVersionsRequest;
use kafka_client::kafka_proto::messages::request_header::RequestHeader;
use kafka_client::kafka_proto::Message;
use kafka_client::{Admin, Client, ClientConfig, Node, Purpose};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

async fn raw_round_trips(addr: std::net::SocketAddr, rounds: usize) -> Vec<Duration> {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let header = RequestHeader {
        request_api_key: 18,
        request_api_version: 3,
        correlation_id: 1,
        client_id: Some("raw".into()),
        ..Default::default()
    };
    let body = ApiVersionsRequest {
        client_software_name: "raw".into(),
        client_software_version: "1".into(),
        ..Default::default()
    };
    let mut payload = BytesMut::new();
    header.encode(&mut payload, 2).unwrap();
    body.encode(&mut payload, 3).unwrap();
    let mut frame = BytesMut::new();
    frame.extend_from_slice(&(payload.len() as i32).to_be_bytes());
    frame.extend_from_slice(&payload);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut out = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        s.write_all(&frame).await.unwrap();
        loop {
            if buf.len() >= 4 {
                let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
                if buf.len() >= 4 + len {
                    buf.advance(4 + len);
                    break;
                }
            }
            if s.read_buf(&mut buf).await.unwrap() == 0 {
                panic!("broker closed");
            }
        }
        out.push(t.elapsed());
    }
    out
}

fn report(label: &str, mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort_unstable();
    let (p50, p99) = (percentile(&v, 0.5), percentile(&v, 0.99));
    println!(
        "{label:<36} n={:<7} p50={:>8.1} µs  p99={:>8.1} µs  max={:>8.1} µs",
        v.len(),
        us(p50),
        us(p99),
        us(*v.last().unwrap_or(&Duration::ZERO))
    );
    (p50, p99)
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let broker_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let broker = broker_rt.block_on(async {
        kafka_broker::Broker::builder()
            .listen("127.0.0.1:0".parse().unwrap())
            .in_memory()
            .start()
            .await
            .unwrap()
    });
    let addr = broker.local_addr();
    let bootstrap = broker.bootstrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        // Warm both paths, then measure alternately to share the machine's noise.
        let _ = raw_round_trips(addr, 1000).await;
        let client = Client::connect(ClientConfig::new(&bootstrap)).await.unwrap();
        let conn = client
            .connection(Node::Id(client.metadata().controller), Purpose::Admin)
            .await
            .unwrap();
        let req = ApiVersionsRequest::default();
        for _ in 0..1000 {
            conn.send(&req).await.unwrap();
        }
        let mut raw = Vec::with_capacity(rounds);
        let mut ours = Vec::with_capacity(rounds);
        for _ in 0..4 {
            raw.extend(raw_round_trips(addr, rounds / 4).await);
            for _ in 0..rounds / 4 {
                let t = Instant::now();
                conn.send(&req).await.unwrap();
                ours.push(t.elapsed());
            }
        }
        println!("== small request round trip (ApiVersions), loopback");
        let (raw50, raw99) = report("raw socket", raw);
        let (our50, our99) = report("kafka-client Connection::send", ours);
        let overhead50 = us(our50) - us(raw50);
        let overhead99 = us(our99) - us(raw99);
        println!("client overhead: p50 {overhead50:+.1} µs, p99 {overhead99:+.1} µs (target ≤ 20 µs)");

        let admin = Admin::new(client.clone());
        // 1,000 topics.
        let prefix = format!("bench-md-{:08x}", fastrand::u32(..));
        for chunk in (0..1000).collect::<Vec<_>>().chunks(100) {
            let topics: Vec<NewTopic> = chunk
                .iter()
                .map(|i| NewTopic::new(format!("{prefix}-{i:04}"), 1, -1))
                .collect();
            let r = admin.create_topics(&topics, false).await.unwrap();
            assert!(r.values().all(|x| x.is_ok()));
        }
        let mut md_times = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            let md = client.refresh_metadata(None).await.unwrap();
            md_times.push(t.elapsed());
            assert!(md.topics.len() >= 1000);
        }
        println!("== Metadata, 1,000 topics");
        let (md50, md99) = report("Client::refresh_metadata(None)", md_times);

        // 10,000 partitions.
        let lo_topic = format!("bench-lo-{:08x}", fastrand::u32(..));
        let topics: Vec<NewTopic> = (0..10)
            .map(|i| NewTopic::new(format!("{lo_topic}-{i}"), 1000, -1))
            .collect();
        let r = admin.create_topics(&topics, false).await.unwrap();
        assert!(r.values().all(|x| x.is_ok()));
        let names: Vec<String> = (0..10).map(|i| format!("{lo_topic}-{i}")).collect();
        let specs: Vec<(&str, i32, OffsetSpec)> = names
            .iter()
            .flat_map(|n| (0..1000).map(move |p| (n.as_str(), p, OffsetSpec::Latest)))
            .collect();
        let mut lo_times = Vec::new();
        for _ in 0..10 {
            let t = Instant::now();
            let r = admin.list_offsets(&specs, IsolationLevel::ReadUncommitted).await.unwrap();
            lo_times.push(t.elapsed());
            assert_eq!(r.len(), 10_000);
            assert!(r.values().all(|x| x.is_ok()));
        }
        println!("== ListOffsets, 10,000 partitions");
        let (lo50, lo99) = report("Admin::list_offsets(latest)", lo_times);
        println!(
            "{{\"raw_p50_us\":{:.1},\"raw_p99_us\":{:.1},\"client_p50_us\":{:.1},\"client_p99_us\":{:.1},\"overhead_p50_us\":{overhead50:.1},\"metadata_1000_topics_p50_ms\":{:.2},\"metadata_1000_topics_p99_ms\":{:.2},\"list_offsets_10000_p50_ms\":{:.2},\"list_offsets_10000_p99_ms\":{:.2}}}",
            us(raw50),
            us(raw99),
            us(our50),
            us(our99),
            md50.as_secs_f64() * 1e3,
            md99.as_secs_f64() * 1e3,
            lo50.as_secs_f64() * 1e3,
            lo99.as_secs_f64() * 1e3,
        );
        client.close().await;
    });
    broker_rt.block_on(broker.shutdown()).unwrap();
}
