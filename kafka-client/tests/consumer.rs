//! The consumer against the bundled broker over TCP: exact ranges, seeks, resets, pause and
//! resume, incremental fetch sessions, consumer groups with every assignor, members joining,
//! leaving and being killed while records flow, static membership, rebalance hooks that
//! commit, and committed offsets that resume exactly.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_broker::{Broker, BrokerHandle, GroupConfig};
use kafka_client::consumer::assignor;
use kafka_client::consumer::{
    Consumer, ConsumerConfig, OffsetReset, RebalanceEvent, TopicPartition,
};
use kafka_client::producer::Acks;
use kafka_client::{ClientConfig, Error, Producer, ProducerConfig, ProducerRecord};

fn name(prefix: &str) -> String {
    format!("{prefix}-{:016x}", fastrand::u64(..))
}

async fn broker(partitions: i32) -> BrokerHandle {
    Broker::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .in_memory()
        .default_partitions(partitions)
        .group_config(GroupConfig {
            initial_rebalance_delay: Duration::from_millis(0),
            min_session_timeout: Duration::from_millis(100),
            ..GroupConfig::default()
        })
        .start()
        .await
        .unwrap()
}

fn client(b: &BrokerHandle) -> ClientConfig {
    ClientConfig::new(b.bootstrap())
        .request_timeout(Duration::from_secs(10))
        .default_api_timeout(Duration::from_secs(10))
        .retry_backoff(Duration::from_millis(10), Duration::from_millis(200))
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(200))
}

fn consumer_config(b: &BrokerHandle) -> ConsumerConfig {
    ConsumerConfig::new("unused")
        .client(client(b))
        .fetch_wait(1, Duration::from_millis(100))
        .auto_offset_reset(OffsetReset::Earliest)
}

fn group_config(b: &BrokerHandle, group: &str) -> ConsumerConfig {
    consumer_config(b)
        .group_id(group)
        .session(Duration::from_millis(1500), Duration::from_millis(200))
        .auto_commit_interval(Duration::from_millis(200))
}

async fn produce(
    b: &BrokerHandle,
    topic: &str,
    partition: i32,
    values: impl IntoIterator<Item = String>,
    ts: Option<i64>,
) {
    let p = Producer::connect(ProducerConfig::new("x").client(client(b)).acks(Acks::All))
        .await
        .unwrap();
    let recs = values.into_iter().map(|v| {
        let mut r = ProducerRecord::new(topic)
            .partition(partition)
            .value(v.clone())
            .key(v);
        if let Some(t) = ts {
            r = r.timestamp(t);
        }
        r
    });
    let res = p.send_many(recs).await.unwrap().await;
    assert!(res.iter().all(Result::is_ok));
    p.close().await.unwrap();
}

fn value(r: &kafka_client::consumer::ConsumerRecord) -> String {
    String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap()
}

async fn recv_n(c: &Consumer, n: usize) -> Vec<kafka_client::consumer::ConsumerRecord> {
    let mut out = Vec::new();
    while out.len() < n {
        let r = tokio::time::timeout(Duration::from_secs(10), c.recv())
            .await
            .expect("records arrive")
            .unwrap();
        out.push(r);
    }
    out
}

#[tokio::test]
async fn assign_and_read_exact_ranges() {
    let b = broker(2).await;
    let topic = name("range");
    produce(&b, &topic, 0, (0..100).map(|i| format!("p0-{i}")), None).await;
    produce(&b, &topic, 1, (0..50).map(|i| format!("p1-{i}")), None).await;
    let c = Consumer::connect(consumer_config(&b)).await.unwrap();
    let tp0 = TopicPartition::new(&topic, 0);
    let tp1 = TopicPartition::new(&topic, 1);
    c.assign(std::slice::from_ref(&tp0)).unwrap();
    let first = recv_n(&c, 100).await;
    assert_eq!(
        first.iter().map(|r| r.offset).collect::<Vec<_>>(),
        (0..100).collect::<Vec<_>>()
    );
    assert_eq!(value(&first[42]), "p0-42");
    assert_eq!(first[42].key.as_deref(), Some(&b"p0-42"[..]));
    assert_eq!(c.position(&tp0), Some(100));
    assert_eq!(c.high_watermark(&tp0), Some(100));
    assert_eq!(c.lag(&tp0), Some(0));

    c.seek(&tp0, 10).unwrap();
    let r = recv_n(&c, 20).await;
    assert_eq!(r.first().unwrap().offset, 10);
    assert_eq!(r.last().unwrap().offset, 29);

    // Reassign to both partitions; batch receive.
    c.assign(&[tp0.clone(), tp1.clone()]).unwrap();
    c.seek_to_beginning(&tp1).unwrap();
    let mut got1 = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while got1 < 50 {
        assert!(Instant::now() < deadline);
        for r in c.recv_batch(1000).await.unwrap() {
            if r.partition == 1 {
                assert_eq!(value(&r), format!("p1-{}", r.offset));
                got1 += 1;
            }
        }
    }
    // Nothing more: recv waits (and a dropped recv loses nothing).
    assert!(tokio::time::timeout(Duration::from_millis(300), c.recv())
        .await
        .is_err());
    produce(&b, &topic, 1, ["late".to_owned()], None).await;
    let r = recv_n(&c, 1).await;
    assert_eq!(value(&r[0]), "late");
    assert_eq!(r[0].offset, 50);
    c.close().await.unwrap();
}

#[tokio::test]
async fn seek_by_timestamp_and_offset_resets() {
    let b = broker(1).await;
    let topic = name("ts");
    for (i, ts) in [1_000i64, 2_000, 3_000].iter().enumerate() {
        produce(
            &b,
            &topic,
            0,
            (0..10).map(|j| format!("{i}-{j}")),
            Some(*ts),
        )
        .await;
    }
    let tp = TopicPartition::new(&topic, 0);
    let c = Consumer::connect(consumer_config(&b)).await.unwrap();
    c.assign(std::slice::from_ref(&tp)).unwrap();
    c.seek_to_timestamp(&tp, 1_500).unwrap();
    let r = recv_n(&c, 1).await;
    assert_eq!(r[0].offset, 10, "first record at or after 1500 ms");
    assert_eq!(r[0].timestamp, 2_000);
    c.seek_to_end(&tp).unwrap();
    assert!(tokio::time::timeout(Duration::from_millis(300), c.recv())
        .await
        .is_err());
    c.seek_to_timestamp(&tp, 9_999).unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), c.recv())
            .await
            .is_err(),
        "past the end: log end"
    );
    c.close().await.unwrap();

    // latest: only new records.
    let c = Consumer::connect(consumer_config(&b).auto_offset_reset(OffsetReset::Latest))
        .await
        .unwrap();
    c.assign(std::slice::from_ref(&tp)).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    produce(&b, &topic, 0, ["new".to_owned()], None).await;
    let r = recv_n(&c, 1).await;
    assert_eq!((r[0].offset, value(&r[0])), (30, "new".to_owned()));
    // An out-of-range seek resets by policy.
    c.seek(&tp, 1_000).unwrap();
    produce(&b, &topic, 0, ["newer".to_owned()], None).await;
    let r = recv_n(&c, 1).await;
    assert_eq!(value(&r[0]), "newer");

    // none: an error instead of a guess.
    let c = Consumer::connect(consumer_config(&b).auto_offset_reset(OffsetReset::None))
        .await
        .unwrap();
    c.assign(std::slice::from_ref(&tp)).unwrap();
    let e = tokio::time::timeout(Duration::from_secs(5), c.recv())
        .await
        .unwrap()
        .unwrap_err();
    assert!(e.to_string().contains("auto.offset.reset is none"), "{e}");
    c.seek(&tp, 5).unwrap();
    assert_eq!(recv_n(&c, 1).await[0].offset, 5);
}

#[tokio::test]
async fn pause_resume_and_incremental_fetch_sessions() {
    let b = broker(4).await;
    let topic = name("pause");
    for p in 0..4 {
        produce(&b, &topic, p, (0..20).map(|i| format!("{p}-{i}")), None).await;
    }
    let c = Consumer::connect(consumer_config(&b)).await.unwrap();
    let tps: Vec<_> = (0..4).map(|p| TopicPartition::new(&topic, p)).collect();
    c.assign(&tps).unwrap();
    c.pause(&tps[..2]);
    assert_eq!(c.paused(), tps[..2].to_vec());
    let got = recv_n(&c, 40).await;
    assert!(
        got.iter().all(|r| r.partition >= 2),
        "paused partitions deliver nothing"
    );
    assert!(tokio::time::timeout(Duration::from_millis(300), c.recv())
        .await
        .is_err());
    c.resume(&tps[..2]);
    let got = recv_n(&c, 40).await;
    assert!(got.iter().all(|r| r.partition < 2));
    // Keep consuming a trickle so the session is reused.
    for i in 0..5 {
        produce(&b, &topic, 3, [format!("more-{i}")], None).await;
        recv_n(&c, 1).await;
    }
    let s = c.stats();
    assert!(s.full_fetches >= 1, "{s:?}");
    assert!(s.incremental_fetches >= 3, "KIP-227 sessions used: {s:?}");
    assert_eq!(s.records, 85);
}

#[derive(Default)]
struct Ownership {
    owner: HashMap<TopicPartition, usize>,
    violations: Vec<String>,
    events: Vec<(usize, RebalanceEvent)>,
}

fn tracking_hook(
    id: usize,
    own: Arc<Mutex<Ownership>>,
) -> impl Fn(
    RebalanceEvent,
    Consumer,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
       + Send
       + Sync
       + 'static {
    move |e: RebalanceEvent, c: Consumer| {
        let own = own.clone();
        Box::pin(async move {
            if let RebalanceEvent::Revoked(_) = &e {
                // Commit synchronously before the partitions move.
                c.commit()
                    .await
                    .unwrap_or_else(|e| eprintln!("commit in hook: {e}"));
            }
            let mut o = own.lock().unwrap();
            match &e {
                RebalanceEvent::Assigned(tps) => {
                    for tp in tps {
                        if let Some(other) = o.owner.get(tp) {
                            if *other != id {
                                let v = format!("{tp} given to {id} while {other} owns it");
                                o.violations.push(v);
                            }
                        }
                        o.owner.insert(tp.clone(), id);
                    }
                }
                RebalanceEvent::Revoked(tps) | RebalanceEvent::Lost(tps) => {
                    for tp in tps {
                        if o.owner.get(tp) == Some(&id) {
                            o.owner.remove(tp);
                        }
                    }
                }
                _ => {}
            }
            o.events.push((id, e));
        })
    }
}

fn release_all(own: &Arc<Mutex<Ownership>>, id: usize) {
    own.lock().unwrap().owner.retain(|_, o| *o != id);
}

#[tokio::test]
async fn cooperative_group_with_members_joining_leaving_and_killed() {
    let b = broker(12).await;
    let topic = name("coop");
    let group = name("g");
    let own = Arc::new(Mutex::new(Ownership::default()));
    let seen: Arc<Mutex<HashSet<(i32, i64)>>> = Arc::default();
    let cfg = || {
        group_config(&b, &group).assignors(vec![assignor::by_name("cooperative-sticky").unwrap()])
    };
    // Records flow the whole time.
    let producer = Producer::connect(
        ProducerConfig::new("x")
            .client(client(&b))
            .linger(Duration::from_millis(2)),
    )
    .await
    .unwrap();
    let total = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let prod = {
        let p = producer.clone();
        let topic = topic.clone();
        let total = total.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let d = p
                    .send(
                        ProducerRecord::new(&topic)
                            .key(format!("k{i}"))
                            .value(format!("{i}")),
                    )
                    .await
                    .unwrap();
                d.await.unwrap();
                total.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                i += 1;
                if i.is_multiple_of(20) {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        })
    };
    let spawn_member = |id: usize| {
        let own = own.clone();
        let seen = seen.clone();
        let cfg = cfg();
        let topic = topic.clone();
        async move {
            let c = Consumer::connect(cfg).await.unwrap();
            c.subscribe_with(&[topic.as_str()], tracking_hook(id, own))
                .unwrap();
            let reader = {
                let c = c.clone();
                tokio::spawn(async move {
                    loop {
                        match c.recv().await {
                            Ok(r) => {
                                seen.lock().unwrap().insert((r.partition, r.offset));
                            }
                            Err(Error::Closed { .. }) => return,
                            Err(e) => panic!("member {id}: {e}"),
                        }
                    }
                })
            };
            (c, reader)
        }
    };
    let (c0, r0) = spawn_member(0).await;
    let (c1, r1) = spawn_member(1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (c2, r2) = spawn_member(2).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Member 1 leaves cleanly.
    c1.close().await.unwrap();
    r1.abort();
    release_all(&own, 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Member 2 is killed: dropped without close; its partitions move after the session timeout.
    r2.abort();
    drop(c2);
    release_all(&own, 2);
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let (c3, r3) = spawn_member(3).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    prod.await.unwrap();
    producer.flush().await.unwrap();
    // Everything produced is eventually processed by the survivors.
    let produced = total.load(std::sync::atomic::Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.lock().unwrap().len() < produced {
        assert!(
            Instant::now() < deadline,
            "{} of {produced} records processed",
            seen.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    {
        let o = own.lock().unwrap();
        assert!(
            o.violations.is_empty(),
            "double ownership: {:?}",
            o.violations
        );
        let owners: HashSet<usize> = o.owner.values().copied().collect();
        assert_eq!(
            o.owner.len(),
            12,
            "every partition owned at the end: {:?}",
            o.owner
        );
        assert!(owners.is_subset(&HashSet::from([0, 3])), "{owners:?}");
    }
    // Committed offsets resume exactly: a fresh member reading from the commits after the
    // survivors commit and leave sees no gap and nothing before the commits.
    c0.commit().await.unwrap();
    c3.commit().await.unwrap();
    let committed_positions: BTreeMap<i32, i64> = {
        let tps: Vec<_> = (0..12).map(|p| TopicPartition::new(&topic, p)).collect();
        let m = c0.committed(&tps).await.unwrap();
        m.into_iter()
            .map(|(tp, o)| (tp.partition, o.unwrap_or(0)))
            .collect()
    };
    c0.close().await.unwrap();
    c3.close().await.unwrap();
    r0.abort();
    r3.abort();
    produce(&b, &topic, 5, ["after".to_owned()], None).await;
    let c4 = Consumer::connect(cfg()).await.unwrap();
    c4.subscribe(&[topic.as_str()]).unwrap();
    let r = recv_n(&c4, 1).await;
    assert_eq!(r[0].partition, 5);
    assert_eq!(
        r[0].offset, committed_positions[&5],
        "resumes exactly at the committed offset"
    );
    assert_eq!(value(&r[0]), "after");
    c4.close().await.unwrap();
}

#[tokio::test]
async fn eager_assignors_split_partitions_like_java() {
    let b = broker(6).await;
    for name_ in ["range", "roundrobin", "sticky"] {
        let topic = name("eager");
        let group = name(name_);
        let cfg = group_config(&b, &group).assignors(vec![assignor::by_name(name_).unwrap()]);
        let c1 = Consumer::connect(cfg.clone()).await.unwrap();
        let c2 = Consumer::connect(cfg).await.unwrap();
        produce(&b, &topic, 0, ["x".to_owned()], None).await;
        c1.subscribe(&[topic.as_str()]).unwrap();
        c2.subscribe(&[topic.as_str()]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (a1, a2) = (c1.assignment(), c2.assignment());
            if a1.len() + a2.len() == 6
                && a1.len() == 3
                && c1.group_membership().map(|m| m.1) == c2.group_membership().map(|m| m.1)
            {
                let all: HashSet<_> = a1.iter().chain(a2.iter()).collect();
                assert_eq!(all.len(), 6, "{name_}: no partition twice");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name_}: {:?} / {:?}",
                c1.assignment(),
                c2.assignment()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        c1.close().await.unwrap();
        c2.close().await.unwrap();
    }
}

#[tokio::test]
async fn static_member_restart_keeps_its_partitions_without_a_rebalance() {
    let b = broker(4).await;
    let topic = name("static");
    let group = name("g");
    produce(&b, &topic, 0, ["x".to_owned()], None).await;
    let cfg = |inst: &str| {
        group_config(&b, &group)
            .group_instance_id(inst)
            .session(Duration::from_secs(5), Duration::from_millis(200))
    };
    let a = Consumer::connect(cfg("a")).await.unwrap();
    let bm = Consumer::connect(cfg("b")).await.unwrap();
    a.subscribe(&[topic.as_str()]).unwrap();
    bm.subscribe(&[topic.as_str()]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while a.assignment().len() + bm.assignment().len() != 4
        || a.assignment().is_empty()
        || bm.assignment().is_empty()
    {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = a.assignment();
    let generation = bm.group_membership().unwrap().1;
    let rebalances_b = bm.stats().rebalances;
    a.close().await.unwrap(); // static: no LeaveGroup
    let a2 = Consumer::connect(cfg("a")).await.unwrap();
    a2.subscribe(&[topic.as_str()]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while a2.assignment().is_empty() {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(a2.assignment(), before, "same partitions back");
    assert_eq!(
        bm.group_membership().unwrap().1,
        generation,
        "no new generation"
    );
    assert_eq!(
        bm.stats().rebalances,
        rebalances_b,
        "the other member did not rebalance"
    );
    a2.close().await.unwrap();
    bm.close().await.unwrap();
}

#[tokio::test]
async fn manual_commits_and_committed_offsets() {
    let b = broker(1).await;
    let topic = name("commit");
    let group = name("g");
    produce(&b, &topic, 0, (0..10).map(|i| i.to_string()), None).await;
    let tp = TopicPartition::new(&topic, 0);
    let c = Consumer::connect(group_config(&b, &group).enable_auto_commit(false))
        .await
        .unwrap();
    c.assign(std::slice::from_ref(&tp)).unwrap();
    recv_n(&c, 4).await;
    assert_eq!(
        c.committed(std::slice::from_ref(&tp)).await.unwrap()[&tp],
        None
    );
    c.commit().await.unwrap();
    assert_eq!(
        c.committed(std::slice::from_ref(&tp)).await.unwrap()[&tp],
        Some(4)
    );
    c.commit_offsets(&[(tp.clone(), 7, None, Some("meta".into()))])
        .await
        .unwrap();
    c.close().await.unwrap();
    // A new consumer of the group starts at the commit.
    let c = Consumer::connect(group_config(&b, &group)).await.unwrap();
    c.assign(std::slice::from_ref(&tp)).unwrap();
    assert_eq!(recv_n(&c, 1).await[0].offset, 7);
    // Without a group, commits are refused with a clear error.
    let c = Consumer::connect(consumer_config(&b)).await.unwrap();
    c.assign(&[tp]).unwrap();
    let e = c.commit().await.unwrap_err();
    assert!(e.to_string().contains("group.id"), "{e}");
    let e = c.subscribe(&[topic.as_str()]).unwrap_err();
    assert!(e.to_string().contains("group.id"), "{e}");
}

#[tokio::test]
async fn a_lost_coordinator_is_rediscovered() {
    use kafka_client::kafka_proto::{ApiKey, ErrorCode};
    let b = broker(2).await;
    let topic = name("coord");
    let group = name("g");
    produce(&b, &topic, 0, (0..5).map(|i| i.to_string()), None).await;
    let c = Consumer::connect(group_config(&b, &group).enable_auto_commit(false))
        .await
        .unwrap();
    c.subscribe(&[topic.as_str()]).unwrap();
    recv_n(&c, 5).await;
    // The coordinator "moves": heartbeats, commits and lookups fail for a while.
    b.faults()
        .fail_next(ApiKey::Heartbeat, 2, ErrorCode::NotCoordinator);
    b.faults()
        .fail_next(ApiKey::OffsetCommit, 2, ErrorCode::NotCoordinator);
    b.faults().fail_next(
        ApiKey::FindCoordinator,
        1,
        ErrorCode::CoordinatorNotAvailable,
    );
    c.commit().await.unwrap();
    let tp = TopicPartition::new(&topic, 0);
    assert_eq!(
        c.committed(std::slice::from_ref(&tp)).await.unwrap()[&tp],
        Some(5)
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        !c.assignment().is_empty(),
        "still a member after heartbeat errors"
    );
    produce(&b, &topic, 0, ["after".to_owned()], None).await;
    assert_eq!(value(&recv_n(&c, 1).await[0]), "after");
    c.close().await.unwrap();
}

#[tokio::test]
async fn pattern_subscription_picks_up_new_topics_and_stream_yields_records() {
    let b = broker(1).await;
    let prefix = name("pat");
    let group = name("g");
    produce(&b, &format!("{prefix}-a"), 0, ["a0".to_owned()], None).await;
    produce(
        &b,
        &format!("{prefix}-other"),
        0,
        ["ignored".to_owned()],
        None,
    )
    .await;
    let c = Consumer::connect(
        group_config(&b, &group).client(client(&b).metadata_max_age(Duration::from_millis(500))),
    )
    .await
    .unwrap();
    c.subscribe_pattern(&format!("{prefix}-[ab]")).unwrap();
    let mut stream = c.stream();
    let first = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(&*first.topic, format!("{prefix}-a"));
    // A topic created later that matches joins the subscription.
    produce(&b, &format!("{prefix}-b"), 0, ["b0".to_owned()], None).await;
    let next = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("the new matching topic is consumed")
        .unwrap()
        .unwrap();
    assert_eq!(&*next.topic, format!("{prefix}-b"));
    assert_eq!(value(&next), "b0");
    assert!(c
        .assignment()
        .iter()
        .all(|tp| !tp.topic.ends_with("-other")));
    c.close().await.unwrap();
    assert!(
        stream.next().await.is_none(),
        "the stream ends when the consumer closes"
    );
}

/// KIP-320 against an unclean leader election: the broker cuts the log at 60 below the
/// consumer's position (100) and bumps the leader epoch; the consumer's next fetch is fenced,
/// it asks OffsetForLeaderEpoch for its last epoch, moves back to 60 and reads the new leader's
/// records there, rather than waiting at 100 or resetting to the earliest offset.
#[tokio::test]
async fn log_truncation_below_the_position_is_detected() {
    let b = broker(1).await;
    let topic = name("truncated");
    // Two produce calls: offset 60 starts a batch, so the log can be cut exactly there.
    produce(&b, &topic, 0, (0..60).map(|i| format!("old-{i}")), None).await;
    produce(&b, &topic, 0, (60..100).map(|i| format!("old-{i}")), None).await;
    let tp = TopicPartition::new(&topic, 0);
    let c = Consumer::connect(consumer_config(&b)).await.unwrap();
    c.assign(std::slice::from_ref(&tp)).unwrap();
    let old = recv_n(&c, 100).await;
    assert_eq!(
        old.iter().map(|r| r.offset).collect::<Vec<_>>(),
        (0..100).collect::<Vec<_>>()
    );
    assert!(old.iter().all(|r| r.leader_epoch == Some(0)));
    assert_eq!(c.position(&tp), Some(100));
    assert_eq!(c.stats().truncations, 0);

    assert_eq!(b.truncate_partition(&topic, 0, 60).await.unwrap(), 1);
    assert_eq!(b.log_end_offset(&topic, 0), Some(60));
    produce(&b, &topic, 0, (0..20).map(|i| format!("new-{i}")), None).await;
    assert_eq!(b.log_end_offset(&topic, 0), Some(80));

    let new = recv_n(&c, 20).await;
    assert_eq!(
        new.iter()
            .map(|r| (r.offset, value(r), r.leader_epoch))
            .collect::<Vec<_>>(),
        (0..20)
            .map(|i| (60 + i, format!("new-{i}"), Some(1)))
            .collect::<Vec<_>>()
    );
    assert_eq!(c.position(&tp), Some(80));
    assert_eq!(c.stats().truncations, 1);
    // Nothing else: no reset to the earliest offset replaying 0..59.
    assert!(tokio::time::timeout(Duration::from_millis(300), c.recv())
        .await
        .is_err());
    c.close().await.unwrap();
}

#[tokio::test]
async fn fetching_survives_leadership_pauses_and_dropped_connections() {
    // Records keep arriving exactly once and in order per partition while the broker refuses
    // to lead a partition for a while and drops fetch connections.
    use kafka_proto::messages::ApiKey;
    let b = broker(2).await;
    let topic = name("faults");
    for p in 0..2 {
        produce(&b, &topic, p, (0..100).map(|i| format!("{p}-{i}")), None).await;
    }
    let c = Consumer::connect(consumer_config(&b)).await.unwrap();
    let tps = [
        TopicPartition::new(&topic, 0),
        TopicPartition::new(&topic, 1),
    ];
    c.assign(&tps).unwrap();
    let mut got: BTreeMap<i32, Vec<(i64, String)>> = BTreeMap::new();
    for r in recv_n(&c, 50).await {
        got.entry(r.partition)
            .or_default()
            .push((r.offset, value(&r)));
    }
    let before = c.stats();
    b.faults()
        .pause_leadership(&topic, 0, Duration::from_millis(600));
    b.faults().drop_next(ApiKey::Fetch, 2);
    for p in 0..2 {
        produce(&b, &topic, p, (100..200).map(|i| format!("{p}-{i}")), None).await;
    }
    for r in recv_n(&c, 350).await {
        got.entry(r.partition)
            .or_default()
            .push((r.offset, value(&r)));
    }
    for p in 0..2 {
        let want: Vec<(i64, String)> = (0..200).map(|i| (i, format!("{p}-{i}"))).collect();
        assert_eq!(got[&p], want, "partition {p}: every record once, in order");
    }
    let after = c.stats();
    let reconnects = |s: &kafka_client::consumer::ConsumerStats| {
        s.client.brokers.iter().map(|b| b.connects).sum::<u64>()
    };
    assert!(
        reconnects(&after) > reconnects(&before),
        "dropped fetch connections were reopened: {after:?}"
    );
    assert!(
        after.full_fetches > before.full_fetches,
        "sessions restarted"
    );
    // Nothing more: no duplicates delivered late.
    assert!(tokio::time::timeout(Duration::from_millis(300), c.recv())
        .await
        .is_err());
    c.close().await.unwrap();
}

#[tokio::test]
async fn dropped_recv_and_recv_batch_calls_lose_no_record() {
    // recv and recv_batch raced against a future that is ready on its second poll: most calls
    // are dropped while pending, some complete. Whatever completes must still be every record
    // exactly once, in order.
    let b = broker(1).await;
    let topic = name("cancel");
    let n = 3000;
    let c = Consumer::connect(consumer_config(&b)).await.unwrap();
    let tp = TopicPartition::new(&topic, 0);
    let producing = {
        let topic = topic.clone();
        let b = &b;
        async move {
            for chunk in 0..6 {
                let from = chunk * (n / 6);
                produce(
                    b,
                    &topic,
                    0,
                    (from..from + n / 6).map(|i| format!("v{i}")),
                    None,
                )
                .await;
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        }
    };
    c.assign(std::slice::from_ref(&tp)).unwrap();
    let consuming = async {
        let mut got: Vec<i64> = Vec::new();
        let (mut dropped, mut calls) = (0u64, 0u64);
        let deadline = Instant::now() + Duration::from_secs(30);
        while got.len() < n as usize {
            assert!(Instant::now() < deadline, "stuck at {} records", got.len());
            calls += 1;
            if calls % 2 == 0 {
                tokio::select! {
                    biased;
                    r = c.recv() => {
                        let r = r.unwrap();
                        assert_eq!(value(&r), format!("v{}", r.offset));
                        got.push(r.offset);
                    }
                    _ = tokio::task::yield_now() => dropped += 1,
                }
            } else {
                tokio::select! {
                    biased;
                    r = c.recv_batch(7) => got.extend(r.unwrap().iter().map(|r| r.offset)),
                    _ = tokio::task::yield_now() => dropped += 1,
                }
            }
        }
        (got, dropped)
    };
    let ((got, dropped), ()) = tokio::join!(consuming, producing);
    assert!(dropped > 0, "some calls were dropped while pending");
    assert_eq!(got, (0..n as i64).collect::<Vec<_>>());
    c.close().await.unwrap();
}
