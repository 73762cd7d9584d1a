//! The client core over real TCP: bootstrap, version negotiation against capped brokers,
//! metadata refresh, cancel safety, connection faults, broker restarts, shutdown, statistics.
//!
//! Runs against the bundled broker on 127.0.0.1:0. Tests that need fault injection or a
//! restart start their own broker; with `KAFKA_TEST_BOOTSTRAP` set, the tests that can run
//! against an external cluster use it instead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_broker::{Broker, BrokerHandle};
use kafka_client::kafka_proto::messages::api_versions_request::ApiVersionsRequest;
use kafka_client::kafka_proto::messages::create_topics_request::{
    CreatableTopic, CreatableTopicConfig, CreateTopicsRequest,
};
use kafka_client::kafka_proto::messages::create_topics_response::CreateTopicsResponse;
use kafka_client::kafka_proto::messages::delete_topics_request::{
    DeleteTopicState, DeleteTopicsRequest,
};
use kafka_client::kafka_proto::messages::fetch_request::FetchRequest;
use kafka_client::kafka_proto::messages::list_offsets_request::ListOffsetsRequest;
use kafka_client::kafka_proto::messages::metadata_request::MetadataRequest;
use kafka_client::kafka_proto::messages::produce_request::ProduceRequest;
use kafka_client::kafka_proto::{ApiKey, ErrorCode, VersionRange};
use kafka_client::{Client, ClientConfig, Error, Node, Purpose};
use kafka_testkit::fault_proxy::FaultProxy;

fn name(prefix: &str) -> String {
    format!("{prefix}-{:016x}", fastrand::u64(..))
}

async fn broker() -> BrokerHandle {
    Broker::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .in_memory()
        .start()
        .await
        .expect("broker starts")
}

/// A broker that advertises a fault proxy in front of it, so every connection goes through
/// the proxy.
async fn broker_behind_proxy() -> (BrokerHandle, FaultProxy) {
    let proxy = FaultProxy::bind().await.unwrap();
    let b = Broker::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .advertise(proxy.addr().to_string())
        .in_memory()
        .start()
        .await
        .unwrap();
    proxy.set_upstream(b.local_addr());
    (b, proxy)
}

fn config(bootstrap: impl AsRef<str>) -> ClientConfig {
    ClientConfig::new(bootstrap)
        .request_timeout(Duration::from_secs(5))
        .default_api_timeout(Duration::from_secs(10))
        .connection_setup_timeout(Duration::from_secs(3))
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(100))
        .retry_backoff(Duration::from_millis(10), Duration::from_millis(100))
}

/// The cluster for tests that work against any Kafka: `KAFKA_TEST_BOOTSTRAP`, else our broker.
async fn cluster() -> (String, Option<BrokerHandle>) {
    match std::env::var("KAFKA_TEST_BOOTSTRAP") {
        Ok(b) if !b.is_empty() => (b, None),
        _ => {
            let b = broker().await;
            (b.bootstrap(), Some(b))
        }
    }
}

async fn create_topic(c: &Client, topic: &str, partitions: i32) {
    let node = c.controller().await.unwrap();
    let (_, r) = c
        .send_to(
            node,
            Purpose::Admin,
            &CreateTopicsRequest {
                topics: vec![CreatableTopic {
                    name: topic.into(),
                    num_partitions: partitions,
                    replication_factor: -1,
                    ..Default::default()
                }],
                timeout_ms: 5000,
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.topics[0].error_code, 0, "{r:?}");
}

#[tokio::test]
async fn bootstrap_and_metadata_refresh_after_create_and_delete() {
    let (bootstrap, _b) = cluster().await;
    let c = Client::connect(config(&bootstrap)).await.unwrap();
    let md = c.metadata();
    assert!(
        !md.brokers.is_empty(),
        "brokers from the bootstrap metadata"
    );
    assert!(md.controller >= 0);

    let topic = name("md");
    let md = c
        .refresh_metadata(Some(std::slice::from_ref(&topic)))
        .await
        .unwrap();
    assert_eq!(
        md.topic_errors.get(&topic),
        Some(&ErrorCode::UnknownTopicOrPartition),
        "a missing topic is reported, not created"
    );
    assert!(md.topic(&topic).is_none());

    create_topic(&c, &topic, 3).await;
    // Creation is asynchronous on real clusters; metadata catches up within the deadline.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let md = c
            .refresh_metadata(Some(std::slice::from_ref(&topic)))
            .await
            .unwrap();
        if let Some(t) = md.topic(&topic) {
            if t.partitions.len() == 3 && t.partitions.iter().all(|p| p.leader >= 0) {
                assert!(md.leader(&topic, 2).is_some());
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "topic never appeared in metadata"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // metadata_for serves from the cache now.
    let refreshes = c.stats().metadata_refreshes;
    let md = c.metadata_for(std::slice::from_ref(&topic)).await.unwrap();
    assert_eq!(md.topic(&topic).unwrap().partitions.len(), 3);
    assert_eq!(c.stats().metadata_refreshes, refreshes, "served from cache");

    let node = c.controller().await.unwrap();
    let (_, r) = c
        .send_built(node, Purpose::Admin, None, |v| {
            let mut r = DeleteTopicsRequest {
                timeout_ms: 5000,
                ..Default::default()
            };
            if v >= 6 {
                r.topics = vec![DeleteTopicState {
                    name: Some(topic.as_str().into()),
                    ..Default::default()
                }];
            } else {
                r.topic_names = vec![topic.as_str().into()];
            }
            r
        })
        .await
        .unwrap();
    assert_eq!(r.responses[0].error_code, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let md = c
            .refresh_metadata(Some(std::slice::from_ref(&topic)))
            .await
            .unwrap();
        if md.topic(&topic).is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "deleted topic still in metadata");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.close().await;
    let e = c.refresh_metadata(None).await.unwrap_err();
    assert!(matches!(e, Error::Closed { .. }), "{e}");
}

#[tokio::test]
async fn concurrent_refreshes_are_coalesced() {
    let b = broker().await;
    let c = Client::connect(config(b.bootstrap())).await.unwrap();
    let before = c.stats().metadata_refreshes;
    let topics = vec![name("co")];
    let mut tasks = Vec::new();
    b.faults()
        .delay_next(ApiKey::Metadata, 1, Duration::from_millis(200));
    for _ in 0..8 {
        let c = c.clone();
        let t = topics.clone();
        tasks.push(tokio::spawn(async move {
            c.refresh_metadata(Some(&t)).await.map(|_| ())
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let done = c.stats().metadata_refreshes - before;
    assert!(done < 8, "8 concurrent refreshes made {done} requests");
}

/// Negotiated version of an API on a fresh client's admin connection.
async fn negotiated<R: kafka_client::kafka_proto::Request>(c: &Client) -> Result<i16, Error> {
    c.negotiated_version::<R>(Node::Id(c.metadata().controller))
        .await
}

#[tokio::test]
async fn versions_negotiate_down_to_older_brokers() {
    let b = broker().await;
    // Kafka 2.1: ApiVersions v2, Metadata v7, Produce v7, Fetch v10, ListOffsets v4.
    // Kafka 2.8: ApiVersions v3, Metadata v11, Produce v9, Fetch v12, ListOffsets v6.
    // Kafka 3.x (3.7): Metadata v12, Produce v10, Fetch v16, ListOffsets v8.
    let eras: [(&str, [(ApiKey, i16); 5]); 3] = [
        (
            "2.1",
            [
                (ApiKey::ApiVersions, 2),
                (ApiKey::Metadata, 7),
                (ApiKey::Produce, 7),
                (ApiKey::Fetch, 10),
                (ApiKey::ListOffsets, 4),
            ],
        ),
        (
            "2.8",
            [
                (ApiKey::ApiVersions, 3),
                (ApiKey::Metadata, 11),
                (ApiKey::Produce, 9),
                (ApiKey::Fetch, 12),
                (ApiKey::ListOffsets, 6),
            ],
        ),
        (
            "3.7",
            [
                (ApiKey::ApiVersions, 3),
                (ApiKey::Metadata, 12),
                (ApiKey::Produce, 10),
                (ApiKey::Fetch, 16),
                (ApiKey::ListOffsets, 8),
            ],
        ),
    ];
    for (era, caps) in eras {
        b.faults().clear();
        b.faults().cap_versions(&caps);
        let c = Client::connect(config(b.bootstrap())).await.unwrap();
        assert_eq!(
            negotiated::<MetadataRequest>(&c).await.unwrap(),
            caps[1].1,
            "{era}"
        );
        assert_eq!(
            negotiated::<ProduceRequest>(&c).await.unwrap(),
            caps[2].1,
            "{era}"
        );
        assert_eq!(
            negotiated::<FetchRequest>(&c).await.unwrap(),
            caps[3].1,
            "{era}"
        );
        assert_eq!(
            negotiated::<ListOffsetsRequest>(&c).await.unwrap(),
            caps[4].1,
            "{era}"
        );
        // And requests at those versions work.
        let topic = name("era");
        create_topic(&c, &topic, 1).await;
        let md = c
            .refresh_metadata(Some(std::slice::from_ref(&topic)))
            .await
            .unwrap();
        assert!(md.topic(&topic).is_some(), "{era}");
        c.close().await;
    }

    // A broker on ApiVersions v0 only: our v3+ request is refused (KIP-511) and retried at v0.
    b.faults().clear();
    b.faults().cap_version(ApiKey::ApiVersions, 0);
    let c = Client::connect(config(b.bootstrap())).await.unwrap();
    let (v, r) = c
        .send_to(
            Node::Id(c.metadata().controller),
            Purpose::Admin,
            &ApiVersionsRequest::default(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(v, 0);
    assert_eq!(r.error_code, 0);

    // An API the broker does not serve at all: a clear error naming it.
    b.faults().cap_version(ApiKey::DeleteTopics, -1);
    let c = Client::connect(config(b.bootstrap())).await.unwrap();
    let e = negotiated::<DeleteTopicsRequest>(&c).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::UnsupportedVersion {
                api: ApiKey::DeleteTopics,
                broker: None,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("DeleteTopics"), "{e}");
    // A range the client excludes: also an error, not a silent downgrade.
    b.faults().cap_version(ApiKey::Metadata, 3);
    let c = Client::connect(config(b.bootstrap())).await.unwrap();
    let e = c
        .send_to(
            Node::Id(c.metadata().controller),
            Purpose::Admin,
            &MetadataRequest::default(),
            Some(VersionRange::new(9, 12)),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Metadata"), "{e}");
}

#[tokio::test]
async fn unreachable_bootstrap_names_every_address() {
    // Two ports nobody listens on (bound then released).
    let a = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let started = Instant::now();
    let e = Client::connect(config(format!("{a},{b}")))
        .await
        .unwrap_err();
    let s = e.to_string();
    assert!(
        matches!(e, Error::Unreachable { ref tried } if tried.len() == 2),
        "{e:?}"
    );
    assert!(
        s.contains(&a.to_string()) && s.contains(&b.to_string()),
        "{s}"
    );
    assert!(s.to_lowercase().contains("refused"), "{s}");
    assert!(started.elapsed() < Duration::from_secs(10));

    let e = Client::connect(config("no-such-host.invalid:9092"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no-such-host.invalid:9092"), "{e}");
}

/// A CreateTopics request of about `size` bytes (a config value that large) that the broker
/// answers quickly (validate-only, unknown config).
fn big_request(size: usize) -> CreateTopicsRequest {
    CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: "big".into(),
            num_partitions: 1,
            replication_factor: 1,
            configs: vec![CreatableTopicConfig {
                name: "x.not.a.config".into(),
                value: Some("v".repeat(size).into()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        timeout_ms: 1000,
        validate_only: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn cancelling_a_partly_written_request_keeps_the_connection_in_step() {
    let (b, proxy) = broker_behind_proxy().await;
    let c = Client::connect(config(b.bootstrap())).await.unwrap();
    let node = Node::Id(c.metadata().controller);
    let conn = c.connection(node, Purpose::Admin).await.unwrap();

    // The proxy stops reading: a 16 MB request fills the socket buffers and stops part-way.
    proxy.pause_client_reads(true);
    let big = big_request(16 << 20);
    let r = tokio::time::timeout(
        Duration::from_millis(300),
        conn.send::<CreateTopicsRequest>(&big),
    )
    .await;
    assert!(
        r.is_err(),
        "the request cannot complete while the peer does not read"
    );
    // Another request queued behind it, also cancelled.
    let r = tokio::time::timeout(
        Duration::from_millis(50),
        conn.send(&ApiVersionsRequest::default()),
    )
    .await;
    assert!(r.is_err());
    proxy.pause_client_reads(false);

    // The same connection answers the next request with its own response.
    let (_, md): (i16, _) = conn.send(&MetadataRequest::default()).await.unwrap();
    assert!(
        !md.brokers.is_empty(),
        "a Metadata response, not another request's"
    );
    let (_, ct): (i16, CreateTopicsResponse) = conn.send(&big_request(10)).await.unwrap();
    assert_eq!(ct.topics.len(), 1);
    assert!(!conn.is_poisoned());
    assert_eq!(
        proxy.connections(),
        2,
        "bootstrap + node connection, no reconnect"
    );
}

#[tokio::test]
async fn broken_responses_poison_only_their_connection() {
    let (b, proxy) = broker_behind_proxy().await;
    let c = Client::connect(config(b.bootstrap()).max_response_size(1 << 20))
        .await
        .unwrap();
    let node = Node::Id(c.metadata().controller);

    type Arm = fn(&FaultProxy);
    let faults: [(&str, Arm, &str); 4] = [
        ("garbage", |p| p.garbage_next_response(), "protocol error"),
        (
            "mid-frame close",
            |p| p.close_mid_frame_next_response(),
            "middle of a response",
        ),
        (
            "oversize",
            |p| p.oversize_next_response(64 << 20),
            "protocol error",
        ),
        (
            "wrong correlation id",
            |p| p.wrong_correlation_next_response(),
            "correlation id",
        ),
    ];
    for (what, arm, expect) in faults {
        let conn = c.connection(node, Purpose::Admin).await.unwrap();
        arm(&proxy);
        let e = conn.send(&MetadataRequest::default()).await.unwrap_err();
        assert!(e.to_string().contains(expect), "{what}: {e}");
        assert!(e.is_retriable(), "{what}");
        assert!(conn.is_poisoned(), "{what}: the connection is dropped");
        // The client keeps working: a new connection on next use.
        let (_, md) = c
            .send_to(node, Purpose::Admin, &MetadataRequest::default(), None)
            .await
            .unwrap();
        assert!(!md.brokers.is_empty(), "{what}");
    }
    // Requests in flight on a killed connection fail with a typed error, and retries work.
    let conn = c.connection(node, Purpose::Admin).await.unwrap();
    b.faults()
        .delay_next(ApiKey::Metadata, 1, Duration::from_millis(500));
    let pending = tokio::spawn({
        let conn = conn.clone();
        async move { conn.send(&MetadataRequest::default()).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    proxy.kill_all();
    let e = pending.await.unwrap().unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    let md = c.refresh_metadata(None).await.unwrap();
    assert!(!md.brokers.is_empty());
    assert!(c.stats().reconnects >= 4);
}

#[tokio::test]
async fn request_timeout_poisons_and_retry_recovers() {
    let b = broker().await;
    let c = Client::connect(config(b.bootstrap()).request_timeout(Duration::from_millis(200)))
        .await
        .unwrap();
    let node = Node::Id(c.metadata().controller);
    b.faults()
        .delay_next(ApiKey::Metadata, 1, Duration::from_millis(600));
    let e = c
        .send_to(node, Purpose::Admin, &MetadataRequest::default(), None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("Metadata"), "{e}");
    // refresh_metadata retries within its deadline.
    b.faults()
        .delay_next(ApiKey::Metadata, 1, Duration::from_millis(600));
    let md = c.refresh_metadata(None).await.unwrap();
    assert!(!md.brokers.is_empty());
    // A retriable broker error is retried; a final one is returned at once.
    b.faults().fail_next(
        ApiKey::FindCoordinator,
        1,
        ErrorCode::CoordinatorNotAvailable,
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let n = c
        .retry_until(deadline, ApiKey::FindCoordinator, |c| async move {
            c.coordinator(0, "g").await
        })
        .await
        .unwrap();
    assert_eq!(n, node);
    b.faults().fail_next(
        ApiKey::FindCoordinator,
        1,
        ErrorCode::GroupAuthorizationFailed,
    );
    c.forget_coordinator(0, "g2");
    let e = c
        .retry_until(deadline, ApiKey::FindCoordinator, |c| async move {
            c.coordinator(0, "g2").await
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::GroupAuthorizationFailed));
}

#[tokio::test]
async fn broker_restart_mid_use() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    let addr = b.local_addr();
    let c = Client::connect(config(b.bootstrap())).await.unwrap();
    let topic = name("rs");
    create_topic(&c, &topic, 2).await;
    b.shutdown().await.unwrap();

    // While it is down, requests fail with retriable errors.
    let node = Node::Id(c.metadata().controller);
    let e = c
        .send_to(node, Purpose::Admin, &MetadataRequest::default(), None)
        .await
        .unwrap_err();
    assert!(e.is_retriable(), "{e}");

    // Back on the same port: the client reconnects by itself within the retry deadline.
    let restart = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Broker::builder()
            .listen(addr)
            .data_dir(dir.path())
            .start()
            .await
            .map(|b| (b, dir))
    });
    let md = c
        .refresh_metadata(Some(std::slice::from_ref(&topic)))
        .await
        .unwrap();
    assert_eq!(
        md.topic(&topic).unwrap().partitions.len(),
        2,
        "topic survived the restart"
    );
    let (b, _dir) = restart.await.unwrap().unwrap();
    assert!(c.stats().reconnects >= 1);
    b.shutdown().await.unwrap();
}

#[test]
fn dropping_the_client_stops_its_tasks() {
    // The broker runs on its own runtime so only the client's tasks count here.
    let broker_rt = tokio::runtime::Runtime::new().unwrap();
    let b = broker_rt.block_on(broker());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let metrics = tokio::runtime::Handle::current().metrics();
        let before = metrics.num_alive_tasks();
        let c = Client::connect(config(b.bootstrap())).await.unwrap();
        for p in [
            Purpose::Admin,
            Purpose::Produce,
            Purpose::Fetch,
            Purpose::Group,
        ] {
            c.connection(Node::Id(c.metadata().controller), p)
                .await
                .unwrap();
        }
        assert!(
            metrics.num_alive_tasks() >= before + 8,
            "tasks per connection"
        );
        drop(c);
        let deadline = Instant::now() + Duration::from_secs(5);
        while metrics.num_alive_tasks() > before {
            assert!(
                Instant::now() < deadline,
                "{} tasks still alive",
                metrics.num_alive_tasks() - before
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    broker_rt.block_on(b.shutdown()).unwrap();
}

#[tokio::test]
async fn idle_connections_close_and_reopen() {
    let b = broker().await;
    let c = Client::connect(config(b.bootstrap()).connections_max_idle(Duration::from_millis(200)))
        .await
        .unwrap();
    let node = Node::Id(c.metadata().controller);
    let conn = c.connection(node, Purpose::Admin).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(conn.is_poisoned(), "idle connection closed");
    c.send_to(node, Purpose::Admin, &MetadataRequest::default(), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn statistics_count_requests_bytes_and_latency() {
    let b = broker().await;
    let c = Client::connect(config(b.bootstrap())).await.unwrap();
    let node = Node::Id(c.metadata().controller);
    for _ in 0..20 {
        c.send_to(node, Purpose::Admin, &ApiVersionsRequest::default(), None)
            .await
            .unwrap();
    }
    let s = c.stats();
    let nodes: Vec<_> = s
        .brokers
        .iter()
        .filter(|b| b.broker.starts_with("node "))
        .collect();
    assert_eq!(nodes.len(), 1, "{s:?}");
    let n = nodes[0];
    assert!(n.requests >= 21, "{n:?}");
    assert!(n.bytes_out > 0 && n.bytes_in > n.bytes_out, "{n:?}");
    assert_eq!(n.in_flight, 0);
    assert_eq!(n.errors, 0);
    assert!(n.latency_p50.is_some() && n.latency_p99 >= n.latency_p50);
    assert!(s.metadata_age.unwrap() < Duration::from_secs(60));
    assert!(s.metadata_refreshes >= 1);
    let _ = Arc::new(s);
}

#[tokio::test]
async fn pipelined_requests_on_one_connection_all_match() {
    let b = broker().await;
    let c = Client::connect(config(b.bootstrap()).max_in_flight(8))
        .await
        .unwrap();
    let conn = c
        .connection(Node::Id(c.metadata().controller), Purpose::Admin)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let conn = conn.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                let (_, r) = conn.send(&ApiVersionsRequest::default()).await.unwrap();
                assert!(!r.api_keys.is_empty());
            } else {
                let (_, r) = conn.send(&MetadataRequest::default()).await.unwrap();
                assert!(!r.brokers.is_empty());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(!conn.is_poisoned());
}

#[tokio::test]
async fn metadata_refreshes_on_its_timer() {
    let b = broker().await;
    let c = Client::connect(config(b.bootstrap()).metadata_max_age(Duration::from_millis(200)))
        .await
        .unwrap();
    let topic = name("timer");
    create_topic(&c, &topic, 1).await;
    c.refresh_metadata(Some(std::slice::from_ref(&topic)))
        .await
        .unwrap();
    let before = c.stats().metadata_refreshes;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after = c.stats().metadata_refreshes;
    assert!(after >= before + 2, "timer refreshes: {before} -> {after}");
    assert!(c.stats().metadata_age.unwrap() < Duration::from_millis(1000));
}
