//! The Admin API over real TCP: topics, partitions, configs, offsets, records, groups and the
//! cluster.
//!
//! Runs against the bundled broker on 127.0.0.1:0 (one per test). With `KAFKA_TEST_BOOTSTRAP`
//! set (`host:port`), every test runs against that cluster instead, with random topic and group
//! names.

use std::collections::HashMap;
use std::time::Duration;

use kafka_broker::{Broker, BrokerHandle};
use kafka_client::admin::{
    AlterConfigOp, ConfigResource, ConfigSource, IsolationLevel, MemberAssignment, NewTopic,
    OffsetSpec,
};
use kafka_client::kafka_proto::messages::consumer_protocol_assignment::{
    ConsumerProtocolAssignment, TopicPartition as AssignedPartitions,
};
use kafka_client::kafka_proto::messages::join_group_request::{
    JoinGroupRequest, JoinGroupRequestProtocol,
};
use kafka_client::kafka_proto::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use kafka_client::kafka_proto::messages::sync_group_request::{
    SyncGroupRequest, SyncGroupRequestAssignment,
};
use kafka_client::kafka_proto::record::{BatchMeta, BuilderOptions, RecordBatchBuilder};
use kafka_client::kafka_proto::{ErrorCode, Message};
use kafka_client::{Admin, ClientConfig, Error, Node, Purpose};

fn name(prefix: &str) -> String {
    format!("{prefix}-{:016x}", fastrand::u64(..))
}

/// The cluster to test against: `KAFKA_TEST_BOOTSTRAP`, or a fresh in-memory broker.
async fn cluster() -> (String, Option<BrokerHandle>) {
    if let Ok(b) = std::env::var("KAFKA_TEST_BOOTSTRAP") {
        if !b.is_empty() {
            return (b, None);
        }
    }
    let h = Broker::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .in_memory()
        .start()
        .await
        .expect("broker starts");
    (h.bootstrap(), Some(h))
}

async fn admin(bootstrap: &str) -> Admin {
    Admin::connect(
        ClientConfig::new(bootstrap)
            .request_timeout(Duration::from_secs(5))
            .default_api_timeout(Duration::from_secs(10))
            .connection_setup_timeout(Duration::from_secs(3)),
    )
    .await
    .expect("connects")
}

async fn done(h: Option<BrokerHandle>) {
    if let Some(h) = h {
        h.shutdown().await.unwrap();
    }
}

fn code<T: std::fmt::Debug>(r: &Result<T, Error>) -> Option<ErrorCode> {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.code(),
    }
}

async fn create(a: &Admin, topic: &str, partitions: i32) {
    let r = a
        .create_topics(&[NewTopic::new(topic, partitions, 1)], false)
        .await
        .unwrap();
    r[topic].as_ref().expect("topic created");
}

/// Produces `n` records with timestamps `ts0, ts0 + 1, ...` to a partition's leader.
async fn produce(a: &Admin, topic: &str, partition: i32, n: usize, ts0: i64) {
    let mut b = RecordBatchBuilder::new(BuilderOptions::default());
    for i in 0..n {
        let v = format!("value-{i}");
        assert!(b
            .try_append(ts0 + i as i64, None, Some(v.as_bytes()), &[])
            .unwrap());
    }
    let records = b.finish(&BatchMeta::default()).unwrap();
    let md = a
        .client()
        .refresh_metadata(Some(&[topic.to_string()]))
        .await
        .unwrap();
    let (leader, _) = md.leader(topic, partition).expect("partition has a leader");
    let req = ProduceRequest {
        acks: -1,
        timeout_ms: 5000,
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
    };
    let (_, resp) = a
        .client()
        .send_to(Node::Id(leader), Purpose::Produce, &req, None)
        .await
        .unwrap();
    for t in &resp.responses {
        for p in &t.partition_responses {
            assert_eq!(p.error_code, 0, "produce to {topic}/{partition}");
        }
    }
}

/// Waits until `topic` is gone from metadata (a real cluster deletes asynchronously).
async fn until_deleted(a: &Admin, topic: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let d = a.describe_topics(&[topic]).await.unwrap();
        match &d[topic] {
            Err(e) if e.code() == Some(ErrorCode::UnknownTopicOrPartition) => return,
            other => assert!(
                std::time::Instant::now() < deadline,
                "{topic} still described: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn topics_create_describe_grow_list_delete() {
    let (bootstrap, h) = cluster().await;
    let a = admin(&bootstrap).await;
    let t = name("adm-topic");
    let other = name("adm-topic");

    let r = a
        .create_topics(
            &[
                NewTopic::new(&t, 3, 1).config("retention.ms", "7200000"),
                NewTopic::new(&other, 1, 1),
            ],
            false,
        )
        .await
        .unwrap();
    assert_eq!(r.len(), 2);
    let created = r[&t].as_ref().unwrap();
    if let Some(n) = created.partitions {
        assert_eq!(n, 3);
    }
    r[&other].as_ref().unwrap();

    // Visible with leaders as soon as create_topics returns.
    let md = a.client().metadata();
    let info = md
        .topic(&t)
        .expect("created topic is in the client's metadata");
    assert_eq!(info.partitions.len(), 3);
    assert!(info.partitions.iter().all(|p| p.leader >= 0));

    let d = a.describe_topics(&[t.as_str()]).await.unwrap();
    let desc = d[&t].as_ref().unwrap();
    assert_eq!(desc.name, t);
    assert!(!desc.internal);
    assert_eq!(desc.partitions.len(), 3);
    for (i, p) in desc.partitions.iter().enumerate() {
        assert_eq!(p.partition, i as i32);
        assert!(p.leader >= 0, "partition {i} has no leader");
        assert!(p.replicas.contains(&p.leader));
        assert!(p.isr.contains(&p.leader));
    }

    // Creating it again is a per-topic error; the other topic in the request still succeeds.
    let third = name("adm-topic");
    let r = a
        .create_topics(
            &[NewTopic::new(&t, 3, 1), NewTopic::new(&third, -1, -1)],
            false,
        )
        .await
        .unwrap();
    assert_eq!(code(&r[&t]), Some(ErrorCode::TopicAlreadyExists));
    r[&third].as_ref().expect("broker defaults are accepted");

    // Validate-only creates nothing.
    let ghost = name("adm-ghost");
    let r = a
        .create_topics(&[NewTopic::new(&ghost, 2, 1)], true)
        .await
        .unwrap();
    r[&ghost].as_ref().unwrap();
    let d = a.describe_topics(&[ghost.as_str()]).await.unwrap();
    assert_eq!(code(&d[&ghost]), Some(ErrorCode::UnknownTopicOrPartition));

    // Bad arguments are rejected before anything is sent.
    assert!(matches!(
        a.create_topics(&[NewTopic::new(&t, 1, 1), NewTopic::new(&t, 1, 1)], false)
            .await,
        Err(Error::InvalidArgument(_))
    ));

    // Grow 3 -> 5; shrinking is refused per topic.
    let r = a
        .create_partitions(&[(t.as_str(), 5)], false)
        .await
        .unwrap();
    r[&t].as_ref().unwrap();
    let d = a.describe_topics(&[t.as_str()]).await.unwrap();
    let desc = d[&t].as_ref().unwrap();
    assert_eq!(desc.partitions.len(), 5);
    assert!(desc.partitions.iter().all(|p| p.leader >= 0));
    let r = a
        .create_partitions(&[(t.as_str(), 2)], false)
        .await
        .unwrap();
    assert_eq!(code(&r[&t]), Some(ErrorCode::InvalidPartitions));
    let r = a
        .create_partitions(&[(ghost.as_str(), 4)], false)
        .await
        .unwrap();
    assert_eq!(code(&r[&ghost]), Some(ErrorCode::UnknownTopicOrPartition));

    let listed = a.list_topics(false).await.unwrap();
    let l = listed.iter().find(|l| l.name == t).expect("listed");
    assert_eq!(l.partitions, 5);
    assert!(!l.internal);
    assert!(listed.iter().any(|l| l.name == other));
    assert!(listed.iter().all(|l| !l.internal));
    assert!(
        listed.windows(2).all(|w| w[0].name <= w[1].name),
        "sorted by name"
    );

    // Delete, then describing reports it unknown; deleting again is a per-topic error.
    let r = a
        .delete_topics(&[t.as_str(), other.as_str(), third.as_str()])
        .await
        .unwrap();
    assert_eq!(r.len(), 3);
    assert!(r.values().all(|x| x.is_ok()), "{r:?}");
    until_deleted(&a, &t).await;
    until_deleted(&a, &other).await;
    let r = a.delete_topics(&[t.as_str()]).await.unwrap();
    assert_eq!(code(&r[&t]), Some(ErrorCode::UnknownTopicOrPartition));
    assert!(!a
        .list_topics(false)
        .await
        .unwrap()
        .iter()
        .any(|l| l.name == t));
    done(h).await;
}

#[tokio::test]
async fn delete_topics_by_id() {
    let (bootstrap, h) = cluster().await;
    let a = admin(&bootstrap).await;
    let t = name("adm-byid");
    create(&a, &t, 1).await;
    let d = a.describe_topics(&[t.as_str()]).await.unwrap();
    let id = d[&t].as_ref().unwrap().id;
    if id.is_zero() {
        done(h).await;
        return; // the broker does not report topic ids
    }
    let r = a.delete_topics_by_id(&[id]).await.unwrap();
    r[&id].as_ref().unwrap();
    until_deleted(&a, &t).await;
    done(h).await;
}

#[tokio::test]
async fn configs_incremental_legacy_and_broker() {
    let (bootstrap, h) = cluster().await;
    let a = admin(&bootstrap).await;
    let t = name("adm-cfg");
    create(&a, &t, 1).await;
    let res = ConfigResource::topic(&t);

    let find =
        |m: &HashMap<ConfigResource, Result<Vec<kafka_client::admin::ConfigEntry>, Error>>,
         key: &str| {
            m[&res]
                .as_ref()
                .unwrap()
                .iter()
                .find(|e| e.name == key)
                .cloned()
                .unwrap_or_else(|| panic!("{key} described"))
        };

    let before = a
        .describe_configs(std::slice::from_ref(&res))
        .await
        .unwrap();
    let r = find(&before, "retention.ms");
    assert!(r.default || r.source != ConfigSource::DynamicTopic, "{r:?}");

    let r = a
        .incremental_alter_configs(
            &[(
                res.clone(),
                vec![
                    AlterConfigOp::set("retention.ms", "3600000"),
                    AlterConfigOp::set("cleanup.policy", "compact"),
                ],
            )],
            false,
        )
        .await
        .unwrap();
    r[&res].as_ref().unwrap();
    let after = a
        .describe_configs(std::slice::from_ref(&res))
        .await
        .unwrap();
    let r = find(&after, "retention.ms");
    assert_eq!(r.value.as_deref(), Some("3600000"));
    assert_eq!(r.source, ConfigSource::DynamicTopic);
    assert!(!r.default);
    assert_eq!(
        find(&after, "cleanup.policy").value.as_deref(),
        Some("compact")
    );

    // Validate-only changes nothing.
    let r = a
        .incremental_alter_configs(
            &[(
                res.clone(),
                vec![AlterConfigOp::set("retention.ms", "1000")],
            )],
            true,
        )
        .await
        .unwrap();
    r[&res].as_ref().unwrap();
    let d = a
        .describe_configs(std::slice::from_ref(&res))
        .await
        .unwrap();
    assert_eq!(find(&d, "retention.ms").value.as_deref(), Some("3600000"));

    // Delete goes back to the default.
    let r = a
        .incremental_alter_configs(
            &[(res.clone(), vec![AlterConfigOp::delete("retention.ms")])],
            false,
        )
        .await
        .unwrap();
    r[&res].as_ref().unwrap();
    let d = a
        .describe_configs(std::slice::from_ref(&res))
        .await
        .unwrap();
    let r = find(&d, "retention.ms");
    assert_ne!(r.source, ConfigSource::DynamicTopic, "{r:?}");
    assert_eq!(find(&d, "cleanup.policy").value.as_deref(), Some("compact"));

    // Synonyms when asked.
    let d = a
        .describe_configs_with(
            std::slice::from_ref(&res),
            kafka_client::admin::DescribeConfigsOptions::default().synonyms(true),
        )
        .await
        .unwrap();
    let c = find(&d, "cleanup.policy");
    assert!(
        c.synonyms
            .iter()
            .any(|s| s.source == ConfigSource::DynamicTopic),
        "{c:?}"
    );

    // An invalid value is a per-resource error.
    let r = a
        .incremental_alter_configs(
            &[(
                res.clone(),
                vec![AlterConfigOp::set("retention.ms", "soon")],
            )],
            false,
        )
        .await
        .unwrap();
    assert!(r[&res].is_err());

    // Legacy AlterConfigs replaces the whole dynamic config.
    let r = a
        .alter_configs(
            &[(
                res.clone(),
                vec![("segment.ms".to_string(), "7200000".to_string())],
            )],
            false,
        )
        .await
        .unwrap();
    r[&res].as_ref().unwrap();
    let d = a
        .describe_configs(std::slice::from_ref(&res))
        .await
        .unwrap();
    let s = find(&d, "segment.ms");
    assert_eq!(s.value.as_deref(), Some("7200000"));
    assert_eq!(s.source, ConfigSource::DynamicTopic);
    assert_ne!(
        find(&d, "cleanup.policy").source,
        ConfigSource::DynamicTopic
    );

    // Unknown topics fail per resource; brokers are asked directly.
    let ghost = ConfigResource::topic(name("adm-ghost"));
    let md = a.client().refresh_metadata(Some(&[])).await.unwrap();
    let broker_id = *md.brokers.keys().next().unwrap();
    let broker = ConfigResource::broker(broker_id);
    let d = a
        .describe_configs(&[ghost.clone(), broker.clone()])
        .await
        .unwrap();
    assert_eq!(code(&d[&ghost]), Some(ErrorCode::UnknownTopicOrPartition));
    let entries = d[&broker].as_ref().unwrap();
    assert!(!entries.is_empty());
    assert!(entries
        .iter()
        .any(|e| e.name == "log.retention.hours" || e.name == "num.partitions"));
    let bad = ConfigResource::new(
        kafka_client::admin::ConfigResourceType::Broker,
        "not-a-number",
    );
    let d = a
        .describe_configs(std::slice::from_ref(&bad))
        .await
        .unwrap();
    assert!(matches!(d[&bad], Err(Error::InvalidArgument(_))));

    a.delete_topics(&[t.as_str()]).await.unwrap();
    done(h).await;
}

#[tokio::test]
async fn list_offsets_and_delete_records() {
    let (bootstrap, h) = cluster().await;
    let a = admin(&bootstrap).await;
    let t = name("adm-offsets");
    create(&a, &t, 2).await;
    produce(&a, &t, 0, 5, 1_000).await;
    produce(&a, &t, 0, 5, 5_000).await;

    let ts = t.as_str();
    let ghost = name("adm-ghost");
    let r = a
        .list_offsets(
            &[
                (ts, 0, OffsetSpec::Earliest),
                (ts, 1, OffsetSpec::Latest),
                (ghost.as_str(), 0, OffsetSpec::Latest),
                (ts, 7, OffsetSpec::Latest),
            ],
            IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    assert_eq!(r[&(t.clone(), 0)].as_ref().unwrap().offset, 0);
    assert_eq!(r[&(t.clone(), 1)].as_ref().unwrap().offset, 0);
    assert_eq!(
        code(&r[&(ghost.clone(), 0)]),
        Some(ErrorCode::UnknownTopicOrPartition)
    );
    assert_eq!(
        code(&r[&(t.clone(), 7)]),
        Some(ErrorCode::UnknownTopicOrPartition)
    );

    let latest = |r: &HashMap<(String, i32), Result<kafka_client::admin::ListedOffset, Error>>| {
        r[&(t.clone(), 0)].as_ref().unwrap().offset
    };
    let r = a
        .list_offsets(
            &[(ts, 0, OffsetSpec::Latest)],
            IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    assert_eq!(latest(&r), 10);
    let r = a
        .list_offsets(
            &[(ts, 0, OffsetSpec::Latest)],
            IsolationLevel::ReadCommitted,
        )
        .await
        .unwrap();
    assert_eq!(latest(&r), 10);

    let r = a
        .list_offsets(
            &[(ts, 0, OffsetSpec::Timestamp(5_000))],
            IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    let o = r[&(t.clone(), 0)].as_ref().unwrap();
    assert_eq!(o.offset, 5);
    assert_eq!(o.timestamp, 5_000);
    let r = a
        .list_offsets(
            &[(ts, 0, OffsetSpec::Timestamp(1_002))],
            IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    assert_eq!(latest(&r), 2);
    let r = a
        .list_offsets(
            &[(ts, 0, OffsetSpec::Timestamp(99_999))],
            IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    assert_eq!(latest(&r), -1);
    let r = a
        .list_offsets(
            &[(ts, 0, OffsetSpec::MaxTimestamp)],
            IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    let o = r[&(t.clone(), 0)].as_ref().unwrap();
    assert_eq!((o.offset, o.timestamp), (9, 5_004));

    // DeleteRecords moves the low watermark; beyond the high watermark is refused.
    let r = a.delete_records(&[(ts, 0, 3), (ts, 1, 5)]).await.unwrap();
    assert_eq!(*r[&(t.clone(), 0)].as_ref().unwrap(), 3);
    assert_eq!(code(&r[&(t.clone(), 1)]), Some(ErrorCode::OffsetOutOfRange));
    let r = a
        .list_offsets(
            &[(ts, 0, OffsetSpec::Earliest)],
            IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    assert_eq!(latest(&r), 3);
    let r = a.delete_records(&[(ts, 0, -1)]).await.unwrap();
    assert_eq!(*r[&(t.clone(), 0)].as_ref().unwrap(), 10);

    a.delete_topics(&[ts]).await.unwrap();
    until_deleted(&a, ts).await;
    // After deletion the cached leader answers UNKNOWN_TOPIC_OR_PARTITION, a refresh confirms.
    let r = a
        .list_offsets(
            &[(ts, 0, OffsetSpec::Latest)],
            IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    assert_eq!(
        code(&r[&(t.clone(), 0)]),
        Some(ErrorCode::UnknownTopicOrPartition)
    );
    done(h).await;
}

#[tokio::test]
async fn list_offsets_of_many_partitions() {
    let (bootstrap, h) = cluster().await;
    let a = admin(&bootstrap).await;
    let t = name("adm-wide");
    // One request per leader: 10,000 partitions against the bundled broker; fewer against a
    // real cluster, where each partition costs files.
    let n = if h.is_some() { 10_000 } else { 500 };
    create(&a, &t, n).await;
    produce(&a, &t, n - 1, 3, 0).await;
    let specs: Vec<(&str, i32, OffsetSpec)> = (0..n)
        .map(|p| (t.as_str(), p, OffsetSpec::Latest))
        .collect();
    let r = a
        .list_offsets(&specs, IsolationLevel::ReadUncommitted)
        .await
        .unwrap();
    assert_eq!(r.len(), n as usize);
    for p in 0..n {
        let want = if p == n - 1 { 3 } else { 0 };
        assert_eq!(
            r[&(t.clone(), p)].as_ref().unwrap().offset,
            want,
            "partition {p}"
        );
    }
    a.delete_topics(&[t.as_str()]).await.unwrap();
    done(h).await;
}

#[tokio::test]
async fn group_offsets_list_describe_delete() {
    let (bootstrap, h) = cluster().await;
    let a = admin(&bootstrap).await;
    let t = name("adm-grp-topic");
    let g = name("adm-group");
    create(&a, &t, 3).await;
    let ts = t.as_str();

    let r = a
        .alter_group_offsets(&g, &[(ts, 0, 3, Some("meta")), (ts, 1, 7, None)])
        .await
        .unwrap();
    assert_eq!(r.len(), 2);
    assert!(r.values().all(|x| x.is_ok()), "{r:?}");

    let all = a.list_group_offsets(&g, None).await.unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    let p0 = all[&(t.clone(), 0)].as_ref().unwrap().as_ref().unwrap();
    assert_eq!(p0.offset, 3);
    assert_eq!(p0.metadata.as_deref(), Some("meta"));
    assert_eq!(
        all[&(t.clone(), 1)]
            .as_ref()
            .unwrap()
            .as_ref()
            .unwrap()
            .offset,
        7
    );
    let some = a
        .list_group_offsets(&g, Some(&[(ts, 1), (ts, 2)]))
        .await
        .unwrap();
    assert_eq!(
        some[&(t.clone(), 1)]
            .as_ref()
            .unwrap()
            .as_ref()
            .unwrap()
            .offset,
        7
    );
    assert!(
        some[&(t.clone(), 2)].as_ref().unwrap().is_none(),
        "no commit on partition 2"
    );

    let listed = a.list_groups(None).await.unwrap();
    assert!(listed.errors.is_empty(), "{:?}", listed.errors);
    let l = listed
        .groups
        .iter()
        .find(|l| l.group_id == g)
        .expect("group listed");
    if let Some(s) = &l.state {
        assert_eq!(s, "Empty");
    }
    let empty = a.list_groups(Some(&["Empty"])).await.unwrap();
    assert!(empty.groups.iter().any(|l| l.group_id == g));
    let stable = a.list_groups(Some(&["Stable"])).await.unwrap();
    assert!(!stable.groups.iter().any(|l| l.group_id == g));

    let d = a.describe_groups(&[g.as_str()]).await.unwrap();
    let desc = d[&g].as_ref().unwrap();
    assert_eq!(desc.group_id, g);
    assert_eq!(desc.state, "Empty");
    assert!(desc.members.is_empty());
    let _: Option<&MemberAssignment> = desc.members.first().map(|m| &m.assignment);

    let r = a.delete_group_offsets(&g, &[(ts, 1)]).await.unwrap();
    r[&(t.clone(), 1)].as_ref().unwrap();
    let all = a.list_group_offsets(&g, None).await.unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(all.contains_key(&(t.clone(), 0)));

    let r = a.delete_groups(&[g.as_str()]).await.unwrap();
    r[&g].as_ref().unwrap();
    let d = a.describe_groups(&[g.as_str()]).await.unwrap();
    assert_eq!(code(&d[&g]), Some(ErrorCode::GroupIdNotFound));
    let listed = a.list_groups(None).await.unwrap();
    assert!(!listed.groups.iter().any(|l| l.group_id == g));
    let r = a.delete_groups(&[g.as_str()]).await.unwrap();
    assert!(r[&g].is_err());

    a.delete_topics(&[ts]).await.unwrap();
    done(h).await;
}

#[tokio::test]
async fn describe_cluster_shows_brokers_and_id() {
    let (bootstrap, h) = cluster().await;
    let a = admin(&bootstrap).await;
    let d = a.describe_cluster().await.unwrap();
    assert!(!d.brokers.is_empty());
    let controller = d.controller.expect("a controller");
    assert!(d.brokers.iter().any(|b| b.id == controller));
    assert!(d.brokers.windows(2).all(|w| w[0].id < w[1].id));
    let id = d.cluster_id.clone().expect("a cluster id");
    if let Some(h) = &h {
        assert_eq!(id, h.cluster_id());
        assert_eq!(d.brokers.len(), 1);
        assert_eq!(d.brokers[0].address(), h.bootstrap());
    }
    done(h).await;
}

#[tokio::test]
async fn timeouts_are_bounded_by_with_timeout() {
    let (bootstrap, h) = cluster().await;
    let a = admin(&bootstrap).await;
    let short = a.with_timeout(Duration::from_millis(300));
    assert_eq!(short.timeout(), Duration::from_millis(300));
    let started = std::time::Instant::now();
    // An unknown topic's leader cannot be found: the answer comes at once, not after retries.
    let ghost = name("adm-ghost");
    let r = short
        .list_offsets(
            &[(ghost.as_str(), 0, OffsetSpec::Latest)],
            IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    assert_eq!(
        code(&r[&(ghost.clone(), 0)]),
        Some(ErrorCode::UnknownTopicOrPartition)
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    done(h).await;
}

/// Joins `group` as its only consumer member and assigns it `assignment`: the group is then
/// Stable with one member. Returns the member id.
async fn join_as_consumer(a: &Admin, group: &str, assignment: Vec<(String, Vec<i32>)>) -> String {
    let node = a.client().coordinator(0, group).await.unwrap();
    let mut member_id = String::new();
    let mut joined = None;
    for _ in 0..3 {
        let req = JoinGroupRequest {
            group_id: group.into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 10_000,
            member_id: member_id.as_str().into(),
            protocol_type: "consumer".into(),
            protocols: vec![JoinGroupRequestProtocol {
                name: "range".into(),
                metadata: bytes::Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
                ..Default::default()
            }],
            ..Default::default()
        };
        let (_, resp) = a
            .client()
            .send_to(node, Purpose::Group, &req, None)
            .await
            .unwrap();
        member_id = resp.member_id.to_string();
        match ErrorCode::from_i16(resp.error_code) {
            ErrorCode::MemberIdRequired => continue,
            ErrorCode::None => {
                joined = Some(resp);
                break;
            }
            other => panic!("JoinGroup: {other:?}"),
        }
    }
    let joined = joined.expect("joined");
    assert_eq!(joined.leader.to_string(), member_id);
    let body = ConsumerProtocolAssignment {
        assigned_partitions: assignment
            .into_iter()
            .map(|(t, ps)| AssignedPartitions {
                topic: t.into(),
                partitions: ps.into_iter().collect(),
            })
            .collect(),
        user_data: None,
    };
    let mut bytes = vec![0u8, 1];
    bytes.extend_from_slice(&body.to_bytes(1).unwrap());
    let req = SyncGroupRequest {
        group_id: group.into(),
        generation_id: joined.generation_id,
        member_id: member_id.as_str().into(),
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        assignments: vec![SyncGroupRequestAssignment {
            member_id: member_id.as_str().into(),
            assignment: bytes.into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let (_, resp) = a
        .client()
        .send_to(node, Purpose::Group, &req, None)
        .await
        .unwrap();
    assert_eq!(resp.error_code, 0, "SyncGroup");
    member_id
}

#[tokio::test]
async fn active_groups_are_described_and_refuse_admin_changes() {
    let (bootstrap, h) = cluster().await;
    let a = admin(&bootstrap).await;
    let t = name("adm-active-topic");
    let g = name("adm-active");
    create(&a, &t, 2).await;
    let member = join_as_consumer(&a, &g, vec![(t.clone(), vec![0, 1])]).await;

    let d = a.describe_groups(&[g.as_str()]).await.unwrap();
    let desc = d[&g].as_ref().unwrap();
    assert_eq!(desc.state, "Stable");
    assert_eq!(desc.protocol_type, "consumer");
    assert_eq!(desc.protocol, "range");
    assert_eq!(desc.members.len(), 1);
    let m = &desc.members[0];
    assert_eq!(m.member_id, member);
    assert_eq!(
        m.assignment,
        MemberAssignment::Consumer {
            partitions: vec![(t.clone(), vec![0, 1])],
            user_data: None
        }
    );

    let stable = a.list_groups(Some(&["Stable"])).await.unwrap();
    assert!(stable.groups.iter().any(|l| l.group_id == g));

    // An admin commit needs an empty group: the error says so.
    let r = a
        .alter_group_offsets(&g, &[(t.as_str(), 0, 1, None)])
        .await
        .unwrap();
    let e = r[&(t.clone(), 0)].as_ref().unwrap_err();
    assert!(
        matches!(
            e.code(),
            Some(
                ErrorCode::UnknownMemberId
                    | ErrorCode::IllegalGeneration
                    | ErrorCode::RebalanceInProgress
            )
        ),
        "{e}"
    );
    assert!(e.to_string().contains("no active members"), "{e}");

    let r = a.delete_groups(&[g.as_str()]).await.unwrap();
    assert_eq!(code(&r[&g]), Some(ErrorCode::NonEmptyGroup));
    done(h).await;
}

/// Retries after injected faults (bundled broker only).
#[tokio::test]
async fn retriable_faults_are_retried_per_item() {
    let h = Broker::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .in_memory()
        .start()
        .await
        .unwrap();
    let a = admin(&h.bootstrap()).await;
    let f = h.faults().clone();
    use kafka_client::kafka_proto::ApiKey;

    // NOT_CONTROLLER: refresh and retry.
    let t = name("adm-fault");
    f.fail_next(ApiKey::CreateTopics, 2, ErrorCode::NotController);
    let r = a
        .create_topics(&[NewTopic::new(&t, 2, 1)], false)
        .await
        .unwrap();
    r[&t].as_ref().unwrap();
    produce(&a, &t, 1, 4, 0).await;

    // A partition whose leader is "moving" is retried while the other is answered.
    f.pause_leadership(&t, 0, Duration::from_millis(300));
    f.fail_next_partition(
        ApiKey::ListOffsets,
        &t,
        1,
        2,
        ErrorCode::NotLeaderOrFollower,
    );
    let r = a
        .list_offsets(
            &[
                (t.as_str(), 0, OffsetSpec::Latest),
                (t.as_str(), 1, OffsetSpec::Latest),
            ],
            IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    assert_eq!(r[&(t.clone(), 0)].as_ref().unwrap().offset, 0);
    assert_eq!(r[&(t.clone(), 1)].as_ref().unwrap().offset, 4);

    // ... until the deadline, then the last error is kept.
    f.pause_leadership(&t, 0, Duration::from_secs(5));
    let r = a
        .with_timeout(Duration::from_millis(500))
        .list_offsets(
            &[(t.as_str(), 0, OffsetSpec::Latest)],
            IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    let e = r[&(t.clone(), 0)].as_ref().unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    assert_eq!(e.code(), Some(ErrorCode::NotLeaderOrFollower));
    f.clear();

    // A dropped connection is retried.
    let g = name("adm-fault-group");
    a.alter_group_offsets(&g, &[(t.as_str(), 0, 0, None)])
        .await
        .unwrap();
    f.drop_next(ApiKey::DescribeGroups, 1);
    let d = a.describe_groups(&[g.as_str()]).await.unwrap();
    assert_eq!(d[&g].as_ref().unwrap().state, "Empty");
    f.fail_next(ApiKey::OffsetFetch, 2, ErrorCode::CoordinatorLoadInProgress);
    let o = a.list_group_offsets(&g, None).await.unwrap();
    assert_eq!(o.len(), 1);

    // Without IncrementalAlterConfigs, Set/Delete fall back to describe + AlterConfigs and
    // keep the other dynamic configs; Append cannot.
    let res = ConfigResource::topic(&t);
    a.incremental_alter_configs(
        &[(
            res.clone(),
            vec![AlterConfigOp::set("cleanup.policy", "compact")],
        )],
        false,
    )
    .await
    .unwrap()[&res]
        .as_ref()
        .unwrap();
    f.cap_version(ApiKey::IncrementalAlterConfigs, -1);
    let a2 = admin(&h.bootstrap()).await; // new connections see the cap
    let node = a2.client().controller().await.unwrap();
    let v = a2
        .client()
        .negotiated_version::<kafka_client::kafka_proto::messages::incremental_alter_configs_request::IncrementalAlterConfigsRequest>(node)
        .await;
    assert!(matches!(v, Err(Error::UnsupportedVersion { .. })), "{v:?}");
    let r = a2
        .incremental_alter_configs(
            &[(
                res.clone(),
                vec![AlterConfigOp::set("retention.ms", "3600000")],
            )],
            false,
        )
        .await
        .unwrap();
    r[&res].as_ref().unwrap();
    let d = a2
        .describe_configs(std::slice::from_ref(&res))
        .await
        .unwrap();
    let entries = d[&res].as_ref().unwrap();
    let get = |k: &str| entries.iter().find(|e| e.name == k).unwrap().clone();
    assert_eq!(get("retention.ms").value.as_deref(), Some("3600000"));
    assert_eq!(get("cleanup.policy").value.as_deref(), Some("compact"));
    assert_eq!(get("cleanup.policy").source, ConfigSource::DynamicTopic);
    let r = a2
        .incremental_alter_configs(
            &[(res.clone(), vec![AlterConfigOp::delete("cleanup.policy")])],
            false,
        )
        .await
        .unwrap();
    r[&res].as_ref().unwrap();
    let d = a2
        .describe_configs(std::slice::from_ref(&res))
        .await
        .unwrap();
    let entries = d[&res].as_ref().unwrap();
    let get = |k: &str| entries.iter().find(|e| e.name == k).unwrap().clone();
    assert_ne!(get("cleanup.policy").source, ConfigSource::DynamicTopic);
    assert_eq!(get("retention.ms").value.as_deref(), Some("3600000"));
    let r = a2
        .incremental_alter_configs(
            &[(
                res.clone(),
                vec![AlterConfigOp::append("cleanup.policy", "delete")],
            )],
            false,
        )
        .await
        .unwrap();
    assert!(matches!(r[&res], Err(Error::InvalidArgument(_))));

    h.shutdown().await.unwrap();
}
