//! The broker over real TCP on 127.0.0.1:0, driven with the codec: one test per handler area.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{batch, memory_broker, records_of, Conn};
use kafka_proto::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_proto::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_proto::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_proto::messages::metadata_request::MetadataRequestTopic;
use kafka_proto::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_proto::messages::*;
use kafka_proto::{ApiKey, ErrorCode, KStr, ResponseBody};

fn produce(topic: &str, partition: i32, records: Bytes, acks: i16) -> ProduceRequest {
    ProduceRequest {
        acks,
        timeout_ms: 1000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn fetch(topic: &str, partition: i32, offset: i64, wait_ms: i32) -> FetchRequest {
    FetchRequest {
        replica_id: -1,
        max_wait_ms: wait_ms,
        min_bytes: 1,
        max_bytes: 1 << 20,
        session_epoch: -1,
        topics: vec![FetchTopic {
            topic: topic.into(),
            partitions: vec![FetchPartition {
                partition,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                current_leader_epoch: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn metadata(topics: &[&str]) -> MetadataRequest {
    MetadataRequest {
        topics: Some(
            topics
                .iter()
                .map(|t| MetadataRequestTopic {
                    name: Some((*t).into()),
                    ..Default::default()
                })
                .collect(),
        ),
        allow_auto_topic_creation: true,
        ..Default::default()
    }
}

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

#[tokio::test]
async fn api_versions_lists_the_registry_and_answers_newer_versions_at_v0() {
    let b = memory_broker().await;
    let mut c = Conn::connect(&b.bootstrap()).await;
    let r = expect!(
        c.call(
            ApiVersionsRequest {
                client_software_name: "t".into(),
                client_software_version: "1".into(),
                ..Default::default()
            },
            3
        )
        .await,
        ApiVersions
    );
    assert_eq!(r.error_code, 0);
    let find = |k: ApiKey| {
        r.api_keys
            .iter()
            .find(|a| a.api_key == k.key())
            .map(|a| (a.min_version, a.max_version))
    };
    // Produce is advertised from v0 (as Kafka 4 does, for librdkafka's compression check) but
    // v0-v2 requests are refused.
    assert_eq!(find(ApiKey::Produce), Some((0, 11)));
    assert_eq!(find(ApiKey::Fetch), Some((4, 17)));
    assert_eq!(find(ApiKey::Metadata), Some((0, 12)));
    assert!(find(ApiKey::JoinGroup).is_some());
    assert_eq!(
        find(ApiKey::AddPartitionsToTxn),
        None,
        "unserved APIs are not advertised"
    );
    for a in &r.api_keys {
        let k = ApiKey::from_i16(a.api_key).unwrap();
        assert!(
            a.max_version <= k.stable_versions().max,
            "{k} advertises an unstable version"
        );
    }
    // KIP-511: a newer ApiVersions version than served gets UNSUPPORTED_VERSION at v0.
    let mut raw = bytes::BytesMut::new();
    use bytes::BufMut;
    raw.put_i16(18);
    raw.put_i16(9);
    raw.put_i32(77);
    raw.put_i16(-1);
    raw.put_u8(0);
    c.send_raw(&raw).await;
    let frame = c.read_frame().await.unwrap();
    let (h, body, _) = kafka_proto::frame::decode_response(&frame, ApiKey::ApiVersions, 0).unwrap();
    assert_eq!(h.correlation_id, 77);
    let body = expect!(body, ApiVersions);
    assert_eq!(body.error_code, ErrorCode::UnsupportedVersion.code());
    assert!(!body.api_keys.is_empty());
    b.shutdown().await.unwrap();
}

#[tokio::test]
async fn metadata_auto_creates_and_rejects_bad_names() {
    let b = memory_broker().await;
    let mut c = Conn::connect(&b.bootstrap()).await;
    let r = expect!(
        c.call(metadata(&["orders", "bad/name"]), 12).await,
        Metadata
    );
    assert_eq!(r.brokers.len(), 1);
    assert_eq!(r.brokers[0].port as u16, b.local_addr().port());
    assert_eq!(r.cluster_id.as_deref(), Some(b.cluster_id()));
    assert_eq!(r.topics[0].error_code, 0);
    assert_eq!(r.topics[0].partitions.len(), 1);
    assert!(!r.topics[0].topic_id.is_zero());
    assert_eq!(
        r.topics[1].error_code,
        ErrorCode::InvalidTopicException.code()
    );
    // No auto-creation when the request says so.
    let mut req = metadata(&["other"]);
    req.allow_auto_topic_creation = false;
    let r = expect!(c.call(req, 9).await, Metadata);
    assert_eq!(
        r.topics[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    // All topics (null list).
    let r = expect!(
        c.call(
            MetadataRequest {
                topics: None,
                ..Default::default()
            },
            4
        )
        .await,
        Metadata
    );
    assert_eq!(
        r.topics
            .iter()
            .map(|t| t.name.as_deref().unwrap())
            .collect::<Vec<_>>(),
        vec!["orders"]
    );
}

#[tokio::test]
async fn produce_then_fetch_returns_the_same_records_with_offsets() {
    let b = memory_broker().await;
    let mut c = Conn::connect(&b.bootstrap()).await;
    c.call(metadata(&["t"]), 12).await;
    for (i, v) in [3i16, 7, 9, 11].into_iter().enumerate() {
        let r = expect!(
            c.call(produce("t", 0, batch(5, 1_000), -1), v).await,
            Produce
        );
        let p = &r.responses[0].partition_responses[0];
        assert_eq!(p.error_code, 0, "v{v}");
        assert_eq!(p.base_offset, i as i64 * 5, "v{v}");
    }
    let r = expect!(c.call(fetch("t", 0, 7, 0), 11).await, Fetch);
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    assert_eq!(p.high_watermark, 20);
    let recs = records_of(p.records.as_ref().unwrap());
    // Whole batches come back: the one holding offset 7 starts at 5.
    assert_eq!(recs.first().unwrap().0, 5);
    assert_eq!(recs.len(), 15);
    assert_eq!(recs[2], (7, "key-2".into(), "value-2".into()));
    // Fetch by topic id (v13+).
    let id = expect!(c.call(metadata(&["t"]), 12).await, Metadata).topics[0].topic_id;
    let mut req = fetch("", 0, 0, 0);
    req.topics[0].topic_id = id;
    let r = expect!(c.call(req, 16).await, Fetch);
    assert_eq!(r.responses[0].topic_id, id);
    assert_eq!(
        records_of(r.responses[0].partitions[0].records.as_ref().unwrap()).len(),
        20
    );
    // Out of range and unknown partitions.
    let r = expect!(c.call(fetch("t", 0, 99, 0), 11).await, Fetch);
    assert_eq!(
        r.responses[0].partitions[0].error_code,
        ErrorCode::OffsetOutOfRange.code()
    );
    let r = expect!(c.call(fetch("t", 5, 0, 0), 11).await, Fetch);
    assert_eq!(
        r.responses[0].partitions[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
}

#[tokio::test]
async fn produce_errors_are_per_partition_and_acks_zero_is_silent() {
    let b = memory_broker().await;
    let mut c = Conn::connect(&b.bootstrap()).await;
    c.call(metadata(&["t"]), 12).await;
    // Unknown topic: produce does not create it.
    let r = expect!(c.call(produce("nope", 0, batch(1, 0), 1), 9).await, Produce);
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    // A corrupted batch (CRC) is refused, nothing stored.
    let mut bad = batch(2, 0).to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    let r = expect!(
        c.call(produce("t", 0, Bytes::from(bad), 1), 9).await,
        Produce
    );
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ErrorCode::CorruptMessage.code()
    );
    assert_eq!(b.log_end_offset("t", 0), Some(0));
    // acks=0: no response; the next request's answer comes next on the wire.
    let mut raw = bytes::BytesMut::new();
    kafka_proto::frame::encode_request(
        &mut raw,
        500,
        None,
        &produce("t", 0, batch(3, 0), 0).into(),
        9,
    )
    .unwrap();
    c.send_raw(&raw).await;
    let r = expect!(c.call(fetch("t", 0, 0, 0), 11).await, Fetch);
    assert_eq!(
        records_of(r.responses[0].partitions[0].records.as_ref().unwrap()).len(),
        3
    );
}

#[tokio::test]
async fn long_poll_fetch_wakes_on_produce() {
    let b = memory_broker().await;
    let addr = b.bootstrap();
    let mut c = Conn::connect(&addr).await;
    c.call(metadata(&["t"]), 12).await;
    let waiter = tokio::spawn(async move {
        let started = Instant::now();
        let r = expect!(c.call(fetch("t", 0, 0, 10_000), 11).await, Fetch);
        (
            started.elapsed(),
            records_of(r.responses[0].partitions[0].records.as_ref().unwrap()).len(),
        )
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut p = Conn::connect(&addr).await;
    p.call(produce("t", 0, batch(4, 0), 1), 9).await;
    let (elapsed, n) = waiter.await.unwrap();
    assert_eq!(n, 4);
    assert!(
        elapsed < Duration::from_secs(9),
        "woken by the produce, not the timeout: {elapsed:?}"
    );
    // An empty partition with max_wait returns empty after the wait.
    let mut c = Conn::connect(&addr).await;
    let r = expect!(c.call(fetch("t", 0, 4, 100), 11).await, Fetch);
    assert!(r.responses[0].partitions[0]
        .records
        .as_ref()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn list_offsets_earliest_latest_and_by_time() {
    let b = memory_broker().await;
    let mut c = Conn::connect(&b.bootstrap()).await;
    c.call(metadata(&["t"]), 12).await;
    c.call(produce("t", 0, batch(10, 1_000), 1), 9).await;
    c.call(produce("t", 0, batch(10, 5_000), 1), 9).await;
    let req = |ts: i64| ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsTopic {
            name: "t".into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: 0,
                timestamp: ts,
                current_leader_epoch: -1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let off = |r: ResponseBody| {
        let r = expect!(r, ListOffsets);
        let p = &r.topics[0].partitions[0];
        assert_eq!(p.error_code, 0);
        (p.offset, p.timestamp)
    };
    assert_eq!(off(c.call(req(-2), 7).await).0, 0);
    assert_eq!(off(c.call(req(-1), 7).await).0, 20);
    assert_eq!(off(c.call(req(1_004), 7).await), (4, 1_004));
    assert_eq!(off(c.call(req(3_000), 7).await), (10, 5_000));
    assert_eq!(off(c.call(req(9_999), 7).await).0, -1);
    assert_eq!(off(c.call(req(-3), 7).await), (19, 5_009));
}

#[tokio::test]
async fn topic_admin_create_configure_grow_delete() {
    let b = memory_broker().await;
    let mut c = Conn::connect(&b.bootstrap()).await;
    let create = |name: &str, parts: i32, rf: i16, configs: &[(&str, &str)]| CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: name.into(),
            num_partitions: parts,
            replication_factor: rf,
            configs: configs
                .iter()
                .map(|(k, v)| CreatableTopicConfig {
                    name: (*k).into(),
                    value: Some((*v).into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        timeout_ms: 1000,
        ..Default::default()
    };
    let r = expect!(
        c.call(create("a", 3, 1, &[("retention.ms", "60000")]), 7)
            .await,
        CreateTopics
    );
    assert_eq!(r.topics[0].error_code, 0);
    assert_eq!(r.topics[0].num_partitions, 3);
    let cfg = r.topics[0].configs.as_ref().unwrap();
    assert!(cfg.iter().any(|c| &*c.name == "retention.ms"
        && c.value.as_deref() == Some("60000")
        && c.config_source == 1));
    let r = expect!(c.call(create("a", 3, 1, &[]), 7).await, CreateTopics);
    assert_eq!(r.topics[0].error_code, ErrorCode::TopicAlreadyExists.code());
    let r = expect!(c.call(create("b", 1, 3, &[]), 7).await, CreateTopics);
    assert_eq!(
        r.topics[0].error_code,
        ErrorCode::InvalidReplicationFactor.code()
    );
    let r = expect!(
        c.call(create("c", 1, 1, &[("no.such", "1")]), 7).await,
        CreateTopics
    );
    assert_eq!(r.topics[0].error_code, ErrorCode::InvalidConfig.code());
    let mut vo = create("d", -1, -1, &[]);
    vo.validate_only = true;
    let r = expect!(c.call(vo, 7).await, CreateTopics);
    assert_eq!((r.topics[0].error_code, r.topics[0].num_partitions), (0, 1));
    assert!(
        b.log_end_offset("d", 0).is_none(),
        "validate-only creates nothing"
    );

    use kafka_proto::messages::incremental_alter_configs_request::{
        AlterConfigsResource, AlterableConfig,
    };
    let r = expect!(
        c.call(
            IncrementalAlterConfigsRequest {
                resources: vec![AlterConfigsResource {
                    resource_type: 2,
                    resource_name: "a".into(),
                    configs: vec![
                        AlterableConfig {
                            name: "segment.bytes".into(),
                            config_operation: 0,
                            value: Some("1048576".into()),
                            ..Default::default()
                        },
                        AlterableConfig {
                            name: "retention.ms".into(),
                            config_operation: 1,
                            value: None,
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            },
            1
        )
        .await,
        IncrementalAlterConfigs
    );
    assert_eq!(r.responses[0].error_code, 0);
    use kafka_proto::messages::describe_configs_request::DescribeConfigsResource;
    let r = expect!(
        c.call(
            DescribeConfigsRequest {
                resources: vec![DescribeConfigsResource {
                    resource_type: 2,
                    resource_name: "a".into(),
                    configuration_keys: None,
                    ..Default::default()
                }],
                ..Default::default()
            },
            4
        )
        .await,
        DescribeConfigs
    );
    let get = |n: &str| {
        r.results[0]
            .configs
            .iter()
            .find(|c| &*c.name == n)
            .map(|c| (c.value.clone().unwrap(), c.config_source))
    };
    assert_eq!(get("segment.bytes"), Some((KStr::from("1048576"), 1)));
    assert_eq!(get("retention.ms"), Some((KStr::from("604800000"), 5)));

    use kafka_proto::messages::create_partitions_request::CreatePartitionsTopic;
    let r = expect!(
        c.call(
            CreatePartitionsRequest {
                topics: vec![CreatePartitionsTopic {
                    name: "a".into(),
                    count: 5,
                    assignments: None,
                    ..Default::default()
                }],
                timeout_ms: 1000,
                ..Default::default()
            },
            3
        )
        .await,
        CreatePartitions
    );
    assert_eq!(r.results[0].error_code, 0);
    assert!(b.log_end_offset("a", 4).is_some());

    let r = expect!(
        c.call(
            DeleteTopicsRequest {
                topic_names: vec!["a".into(), "zz".into()],
                timeout_ms: 1000,
                ..Default::default()
            },
            5
        )
        .await,
        DeleteTopics
    );
    assert_eq!(r.responses[0].error_code, 0);
    assert_eq!(
        r.responses[1].error_code,
        ErrorCode::UnknownTopicOrPartition.code()
    );
    assert!(b.log_end_offset("a", 0).is_none());
}

#[tokio::test]
async fn incremental_fetch_sessions_send_only_changes() {
    let b = memory_broker().await;
    let mut c = Conn::connect(&b.bootstrap()).await;
    let mut req = metadata(&["s"]);
    req.topics = Some(vec![MetadataRequestTopic {
        name: Some("s".into()),
        ..Default::default()
    }]);
    c.call(req, 12).await;
    c.call(
        CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: "s2".into(),
                num_partitions: 2,
                replication_factor: 1,
                ..Default::default()
            }],
            ..Default::default()
        },
        7,
    )
    .await;
    c.call(produce("s2", 0, batch(2, 0), 1), 9).await;
    // Full fetch creating a session over s2/0 and s2/1.
    let mut full = fetch("s2", 0, 0, 0);
    full.session_epoch = 0;
    full.min_bytes = 0;
    full.topics[0].partitions.push(FetchPartition {
        partition: 1,
        fetch_offset: 0,
        partition_max_bytes: 1 << 20,
        current_leader_epoch: -1,
        ..Default::default()
    });
    let r = expect!(c.call(full, 12).await, Fetch);
    assert!(r.session_id > 0);
    assert_eq!(r.responses[0].partitions.len(), 2);
    let session = r.session_id;
    // Incremental, nothing changed: only partitions with news (none).
    let inc = |epoch: i32, parts: Vec<FetchPartition>, forgotten: Vec<i32>| FetchRequest {
        replica_id: -1,
        max_wait_ms: 0,
        min_bytes: 0,
        max_bytes: 1 << 20,
        session_id: session,
        session_epoch: epoch,
        topics: if parts.is_empty() {
            vec![]
        } else {
            vec![FetchTopic {
                topic: "s2".into(),
                partitions: parts,
                ..Default::default()
            }]
        },
        forgotten_topics_data: if forgotten.is_empty() {
            vec![]
        } else {
            vec![ForgottenTopic {
                topic: "s2".into(),
                partitions: forgotten.into(),
                ..Default::default()
            }]
        },
        ..Default::default()
    };
    let r = expect!(
        c.call(
            inc(
                1,
                vec![FetchPartition {
                    partition: 0,
                    fetch_offset: 2,
                    partition_max_bytes: 1 << 20,
                    current_leader_epoch: -1,
                    ..Default::default()
                }],
                vec![]
            ),
            12
        )
        .await,
        Fetch
    );
    assert_eq!(r.error_code, 0);
    assert!(r.responses.is_empty(), "no news: {:?}", r.responses);
    // New data on partition 1 shows up without naming it again.
    c.call(produce("s2", 1, batch(3, 0), 1), 9).await;
    let r = expect!(c.call(inc(2, vec![], vec![]), 12).await, Fetch);
    assert_eq!(r.responses[0].partitions.len(), 1);
    assert_eq!(r.responses[0].partitions[0].partition_index, 1);
    // Wrong epoch; forgotten partitions leave the session.
    let r = expect!(c.call(inc(9, vec![], vec![]), 12).await, Fetch);
    assert_eq!(r.error_code, ErrorCode::InvalidFetchSessionEpoch.code());
    let r = expect!(c.call(inc(3, vec![], vec![1]), 12).await, Fetch);
    assert_eq!(r.error_code, 0);
    c.call(produce("s2", 1, batch(1, 0), 1), 9).await;
    let r = expect!(c.call(inc(4, vec![], vec![]), 12).await, Fetch);
    assert!(
        r.responses.is_empty(),
        "forgotten partition is not served: {:?}",
        r.responses
    );
}

#[tokio::test]
async fn bad_clients_lose_only_their_own_connection() {
    let b = memory_broker().await;
    let addr = b.bootstrap();
    let mut good = Conn::connect(&addr).await;
    good.call(metadata(&["t"]), 12).await;
    // Unknown API key.
    let mut c = Conn::connect(&addr).await;
    c.send_raw(&[0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0xff, 0xff])
        .await;
    assert!(c.read_frame().await.is_none(), "closed");
    // Unserved version of a known API.
    let mut c = Conn::connect(&addr).await;
    c.send_raw(&[0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff]).await;
    assert!(c.read_frame().await.is_none(), "Produce v1 is not served");
    // A malformed body.
    let mut c = Conn::connect(&addr).await;
    c.send_raw(&[0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0, 0x7f, 0x7f])
        .await;
    assert!(c.read_frame().await.is_none());
    // A frame longer than socket.request.max.bytes.
    let mut c = Conn::connect(&addr).await;
    use tokio::io::AsyncWriteExt;
    c.stream
        .write_all(&0x7fff_fff0i32.to_be_bytes())
        .await
        .unwrap();
    assert!(c.read_frame().await.is_none());
    // Half a frame, then silence: the broker keeps serving everyone else.
    let mut half = Conn::connect(&addr).await;
    half.stream.write_all(&[0, 0, 0, 100, 0, 3]).await.unwrap();
    let r = expect!(good.call(metadata(&["t"]), 12).await, Metadata);
    assert_eq!(r.topics[0].error_code, 0);
    b.shutdown().await.unwrap();
}

#[tokio::test]
async fn faults_fail_delay_cap_and_pause() {
    let b = memory_broker().await;
    let mut c = Conn::connect(&b.bootstrap()).await;
    c.call(metadata(&["t"]), 12).await;
    b.faults()
        .fail_next(ApiKey::Produce, 1, ErrorCode::NotLeaderOrFollower);
    let r = expect!(c.call(produce("t", 0, batch(1, 0), 1), 9).await, Produce);
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        ErrorCode::NotLeaderOrFollower.code()
    );
    assert_eq!(
        b.log_end_offset("t", 0),
        Some(0),
        "a failed produce stores nothing"
    );
    let r = expect!(c.call(produce("t", 0, batch(1, 0), 1), 9).await, Produce);
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);

    b.faults()
        .pause_leadership("t", 0, Duration::from_millis(300));
    let r = expect!(c.call(fetch("t", 0, 0, 0), 11).await, Fetch);
    assert_eq!(
        r.responses[0].partitions[0].error_code,
        ErrorCode::NotLeaderOrFollower.code()
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let r = expect!(c.call(fetch("t", 0, 0, 0), 11).await, Fetch);
    assert_eq!(r.responses[0].partitions[0].error_code, 0);

    b.faults().cap_version(ApiKey::Fetch, 11);
    let r = expect!(c.call(ApiVersionsRequest::default(), 0).await, ApiVersions);
    let f = r.api_keys.iter().find(|a| a.api_key == 1).unwrap();
    assert_eq!(f.max_version, 11);
    assert!(
        c.try_call(fetch("t", 0, 0, 0), 12).await.is_none(),
        "capped version closes the connection"
    );

    let mut c = Conn::connect(&b.bootstrap()).await;
    b.faults()
        .delay_next(ApiKey::Metadata, 1, Duration::from_millis(300));
    let t = Instant::now();
    c.call(metadata(&["t"]), 12).await;
    assert!(t.elapsed() >= Duration::from_millis(300));
    b.faults().drop_next(ApiKey::Metadata, 1);
    assert!(c.try_call(metadata(&["t"]), 12).await.is_none());
}

/// The success paths of the data and admin APIs at every served version (the sample-request test
/// mostly exercises error paths).
#[tokio::test]
async fn success_paths_encode_at_every_version() {
    let b = memory_broker().await;
    let mut c = Conn::connect(&b.bootstrap()).await;
    c.call(metadata(&["t"]), 12).await;
    for v in 3..=11 {
        let r = expect!(
            c.call(produce("t", 0, batch(2, 1_000), 1), v).await,
            Produce
        );
        assert_eq!(
            r.responses[0].partition_responses[0].error_code, 0,
            "produce v{v}"
        );
    }
    for v in 4..=12 {
        let r = expect!(c.call(fetch("t", 0, 0, 0), v).await, Fetch);
        assert_eq!(r.responses[0].partitions[0].error_code, 0, "fetch v{v}");
    }
    for v in 1..=10 {
        for ts in [-1, -2, 1_000] {
            let req = ListOffsetsRequest {
                replica_id: -1,
                topics: vec![ListOffsetsTopic {
                    name: "t".into(),
                    partitions: vec![ListOffsetsPartition {
                        partition_index: 0,
                        timestamp: ts,
                        current_leader_epoch: -1,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            };
            let r = expect!(c.call(req, v).await, ListOffsets);
            assert_eq!(r.topics[0].partitions[0].error_code, 0, "list offsets v{v}");
        }
    }
    for v in 0..=12 {
        let r = expect!(c.call(metadata(&["t"]), v).await, Metadata);
        assert_eq!(r.topics[0].error_code, 0, "metadata v{v}");
    }
    use kafka_proto::messages::offset_for_leader_epoch_request::{
        OffsetForLeaderPartition, OffsetForLeaderTopic,
    };
    for v in 0..=4 {
        let req = OffsetForLeaderEpochRequest {
            replica_id: -1,
            topics: vec![OffsetForLeaderTopic {
                topic: "t".into(),
                partitions: vec![OffsetForLeaderPartition {
                    partition: 0,
                    current_leader_epoch: -1,
                    leader_epoch: 0,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let r = expect!(c.call(req, v).await, OffsetForLeaderEpoch);
        let p = &r.topics[0].partitions[0];
        assert_eq!(
            (p.error_code, p.end_offset),
            (0, 18),
            "offset for leader epoch v{v}"
        );
    }
    for v in 2..=7 {
        let name = format!("created-v{v}");
        let req = CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: name.as_str().into(),
                num_partitions: 2,
                replication_factor: 1,
                ..Default::default()
            }],
            ..Default::default()
        };
        let r = expect!(c.call(req, v).await, CreateTopics);
        assert_eq!(r.topics[0].error_code, 0, "create topics v{v}");
    }
    use kafka_proto::messages::describe_configs_request::DescribeConfigsResource;
    for v in 1..=4 {
        let req = DescribeConfigsRequest {
            resources: vec![
                DescribeConfigsResource {
                    resource_type: 2,
                    resource_name: "t".into(),
                    configuration_keys: None,
                    ..Default::default()
                },
                DescribeConfigsResource {
                    resource_type: 4,
                    resource_name: "1".into(),
                    configuration_keys: None,
                    ..Default::default()
                },
            ],
            include_synonyms: true,
            ..Default::default()
        };
        let r = expect!(c.call(req, v).await, DescribeConfigs);
        assert!(
            r.results
                .iter()
                .all(|r| r.error_code == 0 && !r.configs.is_empty()),
            "describe configs v{v}"
        );
    }
    use kafka_proto::messages::delete_records_request::{
        DeleteRecordsPartition, DeleteRecordsTopic,
    };
    for v in 0..=2 {
        let req = DeleteRecordsRequest {
            topics: vec![DeleteRecordsTopic {
                name: "t".into(),
                partitions: vec![DeleteRecordsPartition {
                    partition_index: 0,
                    offset: 2 * v as i64,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let r = expect!(c.call(req, v).await, DeleteRecords);
        assert_eq!(
            r.topics[0].partitions[0].error_code, 0,
            "delete records v{v}"
        );
        assert_eq!(r.topics[0].partitions[0].low_watermark, 2 * v as i64);
    }
    for v in 1..=5 {
        let r = expect!(
            c.call(
                DeleteTopicsRequest {
                    topic_names: vec![format!("created-v{}", v + 1).as_str().into()],
                    ..Default::default()
                },
                v
            )
            .await,
            DeleteTopics
        );
        assert_eq!(r.responses[0].error_code, 0, "delete topics v{v}");
    }
}

/// KIP-320: a client that believes in a newer leader epoch than the broker's gets
/// UNKNOWN_LEADER_EPOCH from Fetch, ListOffsets and OffsetForLeaderEpoch.
#[tokio::test]
async fn newer_leader_epochs_are_refused() {
    let b = memory_broker().await;
    let mut c = Conn::connect(&b.bootstrap()).await;
    c.call(metadata(&["t"]), 12).await;
    let mut req = fetch("t", 0, 0, 0);
    req.topics[0].partitions[0].current_leader_epoch = 5;
    let r = expect!(c.call(req, 12).await, Fetch);
    assert_eq!(
        r.responses[0].partitions[0].error_code,
        ErrorCode::UnknownLeaderEpoch.code()
    );
    let req = ListOffsetsRequest {
        replica_id: -1,
        topics: vec![ListOffsetsTopic {
            name: "t".into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: 0,
                timestamp: -1,
                current_leader_epoch: 5,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = expect!(c.call(req, 7).await, ListOffsets);
    assert_eq!(
        r.topics[0].partitions[0].error_code,
        ErrorCode::UnknownLeaderEpoch.code()
    );
    use kafka_proto::messages::offset_for_leader_epoch_request::{
        OffsetForLeaderPartition, OffsetForLeaderTopic,
    };
    let req = OffsetForLeaderEpochRequest {
        replica_id: -1,
        topics: vec![OffsetForLeaderTopic {
            topic: "t".into(),
            partitions: vec![OffsetForLeaderPartition {
                partition: 0,
                current_leader_epoch: 5,
                leader_epoch: 0,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = expect!(c.call(req, 4).await, OffsetForLeaderEpoch);
    assert_eq!(
        r.topics[0].partitions[0].error_code,
        ErrorCode::UnknownLeaderEpoch.code()
    );
}

#[tokio::test]
async fn cluster_coordinator_producer_ids_and_legacy_alter_configs() {
    let b = memory_broker().await;
    let mut c = Conn::connect(&b.bootstrap()).await;
    let r = expect!(
        c.call(
            DescribeClusterRequest {
                endpoint_type: 1,
                ..Default::default()
            },
            1
        )
        .await,
        DescribeCluster
    );
    assert_eq!(
        (r.error_code, &*r.cluster_id, r.brokers.len()),
        (0, b.cluster_id(), 1)
    );
    assert_eq!(r.brokers[0].port as u16, b.local_addr().port());

    let r = expect!(
        c.call(
            FindCoordinatorRequest {
                key: "g".into(),
                ..Default::default()
            },
            3
        )
        .await,
        FindCoordinator
    );
    assert_eq!((r.error_code, r.port as u16), (0, b.local_addr().port()));
    let r = expect!(
        c.call(
            FindCoordinatorRequest {
                coordinator_keys: vec!["a".into(), "b".into()],
                ..Default::default()
            },
            4
        )
        .await,
        FindCoordinator
    );
    assert_eq!(r.coordinators.len(), 2);
    assert!(r
        .coordinators
        .iter()
        .all(|k| k.error_code == 0 && k.node_id == 1));

    let r = expect!(
        c.call(
            InitProducerIdRequest {
                transactional_id: None,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            },
            4
        )
        .await,
        InitProducerId
    );
    assert_eq!(r.error_code, 0);
    let (id, epoch) = (r.producer_id, r.producer_epoch);
    let r2 = expect!(
        c.call(
            InitProducerIdRequest {
                transactional_id: None,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            },
            4
        )
        .await,
        InitProducerId
    );
    assert_ne!(r2.producer_id, id, "fresh ids are distinct");
    // KIP-360: an existing producer bumps its epoch and keeps its id.
    let r = expect!(
        c.call(
            InitProducerIdRequest {
                transactional_id: None,
                producer_id: id,
                producer_epoch: epoch,
                ..Default::default()
            },
            4
        )
        .await,
        InitProducerId
    );
    assert_eq!((r.producer_id, r.producer_epoch), (id, epoch + 1));

    c.call(metadata(&["t"]), 12).await;
    use kafka_proto::messages::alter_configs_request::{AlterConfigsResource, AlterableConfig};
    let alter = |v: &str| AlterConfigsRequest {
        resources: vec![AlterConfigsResource {
            resource_type: 2,
            resource_name: "t".into(),
            configs: vec![AlterableConfig {
                name: "retention.bytes".into(),
                value: Some(v.into()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = expect!(c.call(alter("1000"), 2).await, AlterConfigs);
    assert_eq!(r.responses[0].error_code, 0);
    let r = expect!(c.call(alter("lots"), 2).await, AlterConfigs);
    assert_eq!(r.responses[0].error_code, ErrorCode::InvalidConfig.code());
}
