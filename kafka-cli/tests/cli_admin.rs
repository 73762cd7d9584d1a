//! The admin commands on the real binary against a real broker: cluster, topic, offsets, group
//! (with reset), profile. Every flag is checked by what it changes: the output, or the broker's
//! state read back through kafka_client.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use kafka_client::admin::{ConfigResource, OffsetSpec};
use kafka_client::consumer::{Consumer, ConsumerConfig, OffsetReset};
use kafka_client::{Admin, ClientConfig, Producer, ProducerConfig, ProducerRecord};
use serde_json::Value;

fn client(b: &TestBroker) -> ClientConfig {
    ClientConfig::new(&b.bootstrap)
        .request_timeout(Duration::from_secs(10))
        .default_api_timeout(Duration::from_secs(10))
}

fn admin(b: &TestBroker) -> Admin {
    b.runtime.block_on(Admin::connect(client(b))).unwrap()
}

/// Creates a topic with `partitions` partitions.
fn create(b: &TestBroker, topic: &str, partitions: i32) {
    let a = admin(b);
    let r = b
        .runtime
        .block_on(a.create_topics(
            &[kafka_client::admin::NewTopic::new(topic, partitions, -1)],
            false,
        ))
        .unwrap();
    r[topic].as_ref().unwrap();
}

/// Produces `n` records to one partition; record i gets timestamp `ts(i)`.
fn produce(b: &TestBroker, topic: &str, partition: i32, n: usize, ts: impl Fn(usize) -> i64) {
    b.runtime.block_on(async {
        let p = Producer::connect(ProducerConfig::new("x").client(client(b)))
            .await
            .unwrap();
        let recs: Vec<ProducerRecord> = (0..n)
            .map(|i| {
                ProducerRecord::new(topic)
                    .partition(partition)
                    .value(format!("v{i}"))
                    .timestamp(ts(i))
            })
            .collect();
        let res = p.send_many(recs).await.unwrap().await;
        assert!(res.iter().all(Result::is_ok));
        p.close().await.unwrap();
    });
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Runs the binary; returns the output after checking the exit code.
fn run(b: &TestBroker, args: &[&str], code: i32) -> std::process::Output {
    let o = b.kafka().args(args).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(code),
        "kafka {args:?}\nstdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
    o
}

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

/// One line on stderr (the error), naming `needle`.
fn one_line_error(o: &std::process::Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
}

fn committed(b: &TestBroker, group: &str) -> HashMap<(String, i32), i64> {
    let a = admin(b);
    b.runtime
        .block_on(a.list_group_offsets(group, None))
        .unwrap()
        .into_iter()
        .filter_map(|(tp, r)| Some((tp, r.ok()??.offset)))
        .collect()
}

fn commit(b: &TestBroker, group: &str, offsets: &[(&str, i32, i64)]) {
    let a = admin(b);
    let asks: Vec<(&str, i32, i64, Option<&str>)> =
        offsets.iter().map(|(t, p, o)| (*t, *p, *o, None)).collect();
    let r = b
        .runtime
        .block_on(a.alter_group_offsets(group, &asks))
        .unwrap();
    assert!(r.values().all(Result::is_ok), "{r:?}");
}

fn low_watermark(b: &TestBroker, topic: &str, p: i32) -> i64 {
    let a = admin(b);
    let r = b
        .runtime
        .block_on(a.list_offsets(
            &[(topic, p, OffsetSpec::Earliest)],
            kafka_client::admin::IsolationLevel::ReadUncommitted,
        ))
        .unwrap();
    r[&(topic.to_owned(), p)].as_ref().unwrap().offset
}

/// A live group member (consumed and committed; stays in the group until `close`).
fn live_member(b: &TestBroker, group: &str, topic: &str, client_id: &str) -> Consumer {
    b.runtime.block_on(async {
        let c = Consumer::connect(
            ConsumerConfig::new("unused")
                .client(client(b).client_id(client_id))
                .group_id(group)
                .auto_offset_reset(OffsetReset::Earliest)
                .enable_auto_commit(false)
                .fetch_wait(1, Duration::from_millis(100))
                .session(Duration::from_secs(10), Duration::from_millis(200)),
        )
        .await
        .unwrap();
        c.subscribe(&[topic]).unwrap();
        tokio::time::timeout(Duration::from_secs(20), c.recv())
            .await
            .expect("a record arrives")
            .unwrap();
        c.commit().await.unwrap();
        c
    })
}

#[test]
fn cluster_info_table_and_json() {
    let b = TestBroker::start(1);
    let t = name("info");
    create(&b, &t, 3);
    let o = run(&b, &["cluster", "info"], 0);
    let out = stdout(&o);
    assert!(out.contains(&b.bootstrap), "{out}");
    assert!(
        out.contains("CONTROLLER") && out.contains("controller"),
        "{out}"
    );
    let j = json(&run(&b, &["--format", "json", "cluster", "info"], 0));
    assert_eq!(j["brokers"][0]["address"], b.bootstrap.as_str());
    assert!(j["brokers"][0]["id"].is_i64());
    assert_eq!(j["controller"], j["brokers"][0]["id"]);
    assert!(j["topics"].as_u64().unwrap() >= 1);
    assert!(j["partitions"].as_u64().unwrap() >= 3);
    assert!(j.get("cluster_id").is_some());
}

#[test]
fn topic_create_list_describe_delete() {
    let b = TestBroker::start(1);
    let (t1, t2) = (name("ta"), name("ta"));
    let o = run(
        &b,
        &[
            "topic",
            "create",
            &t1,
            &t2,
            "-p",
            "3",
            "-c",
            "retention.ms=123456",
        ],
        0,
    );
    assert!(stdout(&o).contains("created"), "{}", stdout(&o));
    let a = admin(&b);
    let d = b.runtime.block_on(a.describe_topics(&[&t1, &t2])).unwrap();
    assert_eq!(d[&t1].as_ref().unwrap().partitions.len(), 3);
    assert_eq!(d[&t2].as_ref().unwrap().partitions.len(), 3);
    let r = ConfigResource::topic(t1.clone());
    let cfg = b
        .runtime
        .block_on(a.describe_configs(std::slice::from_ref(&r)))
        .unwrap();
    let ret = cfg[&r]
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.name == "retention.ms")
        .unwrap()
        .value
        .clone();
    assert_eq!(ret.as_deref(), Some("123456"));

    // Exists: an error, unless --if-not-exists.
    let o = run(&b, &["topic", "create", &t1], 1);
    one_line_error(&o, "--if-not-exists");
    let o = run(
        &b,
        &[
            "--format",
            "json",
            "topic",
            "create",
            &t1,
            "--if-not-exists",
        ],
        0,
    );
    assert_eq!(json(&o)[0]["status"], "exists");

    // List: regex (anchored), JSON.
    let o = run(&b, &["topic", "list", "-r", "ta-.*"], 0);
    assert!(stdout(&o).contains(&t1) && stdout(&o).contains(&t2));
    let o = run(&b, &["topic", "list", "-r", &t1], 0);
    assert!(stdout(&o).contains(&t1) && !stdout(&o).contains(&t2));
    let j = json(&run(&b, &["--format", "json", "topic", "list"], 0));
    let entry = j
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == t1.as_str())
        .unwrap();
    assert_eq!(entry["partitions"], 3);
    assert_eq!(entry["internal"], false);
    assert!(j.as_array().unwrap().iter().all(|e| e["internal"] == false));

    // Describe: summary, -p with watermarks and record counts, -c with sources.
    produce(&b, &t1, 1, 5, |_| now_ms());
    let o = run(&b, &["topic", "describe", &t1], 0);
    let out = stdout(&o);
    assert!(out.contains(&t1) && out.contains("RECORDS"), "{out}");
    assert!(
        !out.contains("LEADER") && !out.contains("retention.ms"),
        "{out}"
    );
    let o = run(&b, &["topic", "describe", &t1, "-p", "-c"], 0);
    let out = stdout(&o);
    assert!(
        out.contains("LEADER") && out.contains("ISR") && out.contains("HIGH"),
        "{out}"
    );
    assert!(
        out.contains("retention.ms") && out.contains("123456"),
        "{out}"
    );
    assert!(out.contains("topic") && out.contains("default"), "{out}");
    let j = json(&run(
        &b,
        &["--format", "json", "topic", "describe", &t1, "-p", "-c"],
        0,
    ));
    assert_eq!(j["partition_count"], 3);
    assert_eq!(j["records"], 5);
    assert_eq!(j["replication_factor"], 1);
    let p1 = &j["partitions"][1];
    assert_eq!(
        (
            p1["low"].as_i64(),
            p1["high"].as_i64(),
            p1["records"].as_i64()
        ),
        (Some(0), Some(5), Some(5))
    );
    assert!(p1["leader"].is_i64() && p1["replicas"].is_array() && p1["isr"].is_array());
    let ret = j["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "retention.ms")
        .unwrap();
    assert_eq!(ret["value"], "123456");
    assert_eq!(ret["source"], "topic");
    let j = json(&run(&b, &["--format", "json", "topic", "describe", &t2], 0));
    assert!(j.get("partitions").is_none() && j.get("configs").is_none());

    // Missing: exit 3, one line.
    let missing = name("missing");
    let o = run(&b, &["topic", "describe", &missing], 3);
    one_line_error(&o, &missing);

    // Delete: one missing of two is a partial failure (5); the other is gone.
    let o = run(&b, &["topic", "delete", &t1, &missing], 5);
    assert!(stdout(&o).contains(&t1), "{}", stdout(&o));
    assert!(stderr(&o).contains(&missing), "{}", stderr(&o));
    let d = b.runtime.block_on(a.describe_topics(&[&t1])).unwrap();
    assert!(d[&t1].is_err());
    // All missing: 3.
    run(&b, &["topic", "delete", &missing], 3);
    // By regex: every match, printed.
    let (r1, r2) = (name("rx"), name("rx"));
    create(&b, &r1, 1);
    create(&b, &r2, 1);
    let o = run(&b, &["topic", "delete", "-r", "rx-.*"], 0);
    assert!(stdout(&o).contains(&r1) && stdout(&o).contains(&r2));
    let names: Vec<String> = b
        .runtime
        .block_on(a.list_topics(false))
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert!(!names.contains(&r1) && !names.contains(&r2) && names.contains(&t2));
    run(&b, &["topic", "delete", "-r", "rx-.*"], 3);
    // Usage errors before connecting.
    run(&b, &["topic", "create", "x", "-c", "novalue"], 2);
    // Replication factor: 1 works on one broker, 3 is the broker's error.
    let rf = name("rf");
    let j = json(&run(
        &b,
        &[
            "--format", "json", "topic", "create", &rf, "-r", "1", "-p", "2",
        ],
        0,
    ));
    assert_eq!(
        (
            j[0]["replication_factor"].as_i64(),
            j[0]["partitions"].as_i64()
        ),
        (Some(1), Some(2))
    );
    let o = run(&b, &["topic", "create", &name("rf"), "-r", "3"], 1);
    one_line_error(&o, "REPLICATION_FACTOR");
    run(&b, &["topic", "list", "-r", "("], 2);
}

#[test]
fn topic_add_partitions_and_alter_config() {
    let b = TestBroker::start(1);
    let t = name("grow");
    create(&b, &t, 2);
    let o = run(&b, &["topic", "add-partitions", &t, "--num", "5"], 0);
    assert!(stdout(&o).contains('5'), "{}", stdout(&o));
    let a = admin(&b);
    let d = b.runtime.block_on(a.describe_topics(&[&t])).unwrap();
    assert_eq!(d[&t].as_ref().unwrap().partitions.len(), 5);
    // Not more than now: usage error naming the count.
    let o = run(&b, &["topic", "add-partitions", &t, "--num", "3"], 2);
    one_line_error(&o, "5 partitions");
    run(
        &b,
        &["topic", "add-partitions", &name("nope"), "--num", "3"],
        3,
    );

    let cfg = |b: &TestBroker| -> HashMap<String, (Option<String>, String)> {
        let r = ConfigResource::topic(t.clone());
        let got = b
            .runtime
            .block_on(a.describe_configs(std::slice::from_ref(&r)))
            .unwrap();
        got[&r]
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| (c.name.clone(), (c.value.clone(), format!("{:?}", c.source))))
            .collect()
    };
    run(
        &b,
        &[
            "topic",
            "alter-config",
            &t,
            "--set",
            "retention.ms=5000",
            "--set",
            "cleanup.policy=compact",
        ],
        0,
    );
    let c = cfg(&b);
    assert_eq!(c["retention.ms"].0.as_deref(), Some("5000"));
    assert_eq!(c["cleanup.policy"].0.as_deref(), Some("compact"));
    // Incremental: deleting one leaves the other.
    let o = run(
        &b,
        &[
            "--format",
            "json",
            "topic",
            "alter-config",
            &t,
            "--delete",
            "cleanup.policy",
        ],
        0,
    );
    assert_eq!(json(&o)["deleted"][0], "cleanup.policy");
    let c = cfg(&b);
    assert_eq!(c["retention.ms"].0.as_deref(), Some("5000"));
    assert_eq!(c["cleanup.policy"].0.as_deref(), Some("delete"));
    assert_eq!(c["cleanup.policy"].1, "Default");
    run(&b, &["topic", "alter-config", &t], 2);
    run(&b, &["topic", "alter-config", &t, "--set", "x"], 2);
}

#[test]
fn topic_trim_by_offset_and_time() {
    let b = TestBroker::start(1);
    let t = name("trim");
    create(&b, &t, 3);
    let base = 1_700_000_000_000i64; // 2023-11-14T22:13:20Z
    for p in 0..3 {
        produce(&b, &t, p, 10, |i| base + i as i64 * 1000);
    }
    let o = run(&b, &["topic", "trim", &t, "-p", "0", "-o", "4"], 0);
    assert!(stdout(&o).contains("REMOVED"), "{}", stdout(&o));
    assert_eq!(low_watermark(&b, &t, 0), 4);
    assert_eq!(low_watermark(&b, &t, 1), 0);
    // @TIME: the first record at or after 22:13:27Z is offset 7, on every partition.
    let j = json(&run(
        &b,
        &[
            "--format",
            "json",
            "topic",
            "trim",
            &t,
            "-o",
            "@2023-11-14T22:13:27Z",
        ],
        0,
    ));
    assert_eq!(j.as_array().unwrap().len(), 3);
    assert_eq!(j[1]["removed"], 7);
    for p in 0..3 {
        assert_eq!(low_watermark(&b, &t, p), 7);
    }
    // Past the end: clamped to the high watermark; `end` empties the partition.
    run(&b, &["topic", "trim", &t, "-p", "1", "-o", "100"], 0);
    assert_eq!(low_watermark(&b, &t, 1), 10);
    run(&b, &["topic", "trim", &t, "-p", "2", "-o", "end"], 0);
    assert_eq!(low_watermark(&b, &t, 2), 10);
    run(&b, &["topic", "trim", &t, "-p", "9", "-o", "1"], 3);
    run(&b, &["topic", "trim", &t, "-o", "@yesterday"], 2);
}

#[test]
fn offsets_per_partition() {
    let b = TestBroker::start(1);
    let t = name("offs");
    create(&b, &t, 2);
    let base = 1_700_000_000_000i64;
    produce(&b, &t, 0, 6, |i| base + i as i64 * 1000);
    produce(&b, &t, 1, 2, |i| base + i as i64 * 1000);
    let a = admin(&b);
    b.runtime.block_on(a.delete_records(&[(&t, 0, 2)])).unwrap();
    let o = run(&b, &["offsets", &t], 0);
    let out = stdout(&o);
    assert!(out.contains("EARLIEST") && out.contains("LATEST"), "{out}");
    let j = json(&run(&b, &["--format", "json", "offsets", &t], 0));
    assert_eq!(j[0]["earliest"], 2);
    assert_eq!(j[0]["latest"], 6);
    assert_eq!(j[0]["records"], 4);
    assert_eq!(j[1]["latest"], 2);
    let j = json(&run(
        &b,
        &["--format", "json", "offsets", &t, "--at", "earliest"],
        0,
    ));
    assert_eq!(j[0]["offset"], 2);
    assert!(j[0].get("latest").is_none());
    let j = json(&run(
        &b,
        &["--format", "json", "offsets", &t, "--at", "latest"],
        0,
    ));
    assert_eq!(j[1]["offset"], 2);
    // @TIME: first offset at or after; none that recent: the log end.
    let o = run(&b, &["offsets", &t, "--at", "@2023-11-14T22:13:24Z"], 0);
    assert!(
        stdout(&o).contains("2023-11-14T22:13:24.000Z"),
        "{}",
        stdout(&o)
    );
    let j = json(&run(
        &b,
        &[
            "--format",
            "json",
            "offsets",
            &t,
            "--at",
            &format!("@{}", base + 4000),
        ],
        0,
    ));
    assert_eq!(j[0]["offset"], 4);
    assert_eq!(j[0]["timestamp"], base + 4000);
    assert_eq!(j[1]["offset"], 2);
    assert!(j[1]["timestamp"].is_null());
    run(&b, &["offsets", &name("nope")], 3);
    run(&b, &["offsets", &t, "--at", "middle"], 2);
}

#[test]
fn groups_list_describe_delete() {
    let b = TestBroker::start(1);
    let t = name("gt");
    create(&b, &t, 2);
    produce(&b, &t, 0, 5, |_| now_ms());
    produce(&b, &t, 1, 3, |_| now_ms());
    let g = name("live");
    let member = live_member(&b, &g, &t, "cli-test-client");
    let idle = name("idle");
    commit(&b, &idle, &[(&t, 0, 1), (&t, 1, 1)]);

    let o = run(&b, &["group", "list"], 0);
    assert!(stdout(&o).contains(&g) && stdout(&o).contains(&idle));
    let j = json(&run(
        &b,
        &["--format", "json", "group", "list", "-s", "stable"],
        0,
    ));
    let ids: Vec<&str> = j
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["group"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&g.as_str()) && !ids.contains(&idle.as_str()),
        "{j}"
    );
    let j = json(&run(
        &b,
        &["--format", "json", "group", "list", "-s", "EMPTY,dead"],
        0,
    ));
    let ids: Vec<&str> = j
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["group"].as_str().unwrap())
        .collect();
    assert!(
        !ids.contains(&g.as_str()) && ids.contains(&idle.as_str()),
        "{j}"
    );
    run(&b, &["group", "list", "-s", "sleepy"], 2);

    // Describe: members with client id and assignment, committed, log end, lag, totals.
    let o = run(&b, &["group", "describe", &g], 0);
    let out = stdout(&o);
    assert!(
        out.contains("Stable") && out.contains("cli-test-client"),
        "{out}"
    );
    assert!(out.contains("LAG") && out.contains(&t), "{out}");
    let j = json(&run(
        &b,
        &["--format", "json", "group", "describe", &idle],
        0,
    ));
    let d = &j[0];
    assert_eq!(d["state"], "Empty");
    assert_eq!(d["total_lag"], 4 + 2);
    let p0 = d["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["partition"] == 0)
        .unwrap();
    assert_eq!(
        (
            p0["committed"].as_i64(),
            p0["log_end"].as_i64(),
            p0["lag"].as_i64()
        ),
        (Some(1), Some(5), Some(4))
    );
    let j = json(&run(&b, &["--format", "json", "group", "describe", &g], 0));
    let m = &j[0]["members"][0];
    assert_eq!(m["client_id"], "cli-test-client");
    assert_eq!(m["assignment"][0]["topic"], t.as_str());
    // By regex, and a missing group (3).
    let j = json(&run(
        &b,
        &[
            "--format",
            "json",
            "group",
            "describe",
            "-r",
            "(live|idle)-.*",
        ],
        0,
    ));
    assert_eq!(j.as_array().unwrap().len(), 2);
    let missing = name("nogroup");
    let o = run(&b, &["group", "describe", &missing], 3);
    one_line_error(&o, &missing);
    run(&b, &["group", "describe", &idle, &missing], 5);

    // Delete: a live group is refused; delete-offsets; delete.
    let o = run(&b, &["group", "delete", &g], 1);
    one_line_error(&o, "stop its consumers");
    b.runtime.block_on(member.close()).unwrap();
    run(
        &b,
        &["group", "delete-offsets", &idle, "-t", &format!("{t}:1")],
        0,
    );
    let c = committed(&b, &idle);
    assert!(c.contains_key(&(t.clone(), 0)) && !c.contains_key(&(t.clone(), 1)));
    let o = run(&b, &["group", "delete", &g, &idle], 0);
    assert!(stdout(&o).contains("deleted"));
    assert!(committed(&b, &idle).is_empty());
    // A whole topic: every partition the group committed.
    let other = name("other");
    commit(&b, &other, &[(&t, 0, 1), (&t, 1, 1)]);
    run(&b, &["group", "delete-offsets", &other, "-t", &t], 0);
    assert!(committed(&b, &other).is_empty());
    run(&b, &["group", "describe", &g], 3);
    run(&b, &["group", "delete", &g], 3);
}

#[test]
fn reset_preview_execute_clamp_export_import() {
    let b = TestBroker::start(1);
    let t = name("rt");
    create(&b, &t, 2);
    produce(&b, &t, 0, 10, |_| now_ms());
    produce(&b, &t, 1, 10, |_| now_ms());
    let a = admin(&b);
    b.runtime.block_on(a.delete_records(&[(&t, 1, 3)])).unwrap();
    let g = name("rg");
    commit(&b, &g, &[(&t, 0, 5), (&t, 1, 5)]);
    let before = committed(&b, &g);

    // Preview (default and --dry-run): a table, nothing changes.
    let o = run(&b, &["group", "reset", &g, "-t", &t, "--to-earliest"], 0);
    let out = stdout(&o);
    for h in ["GROUP", "TOPIC", "PARTITION", "CURRENT", "NEW", "DELTA"] {
        assert!(out.contains(h), "{h}: {out}");
    }
    assert!(out.contains("-5") && out.contains("-2"), "{out}");
    assert!(stderr(&o).contains("--execute"), "{}", stderr(&o));
    run(
        &b,
        &["group", "reset", &g, "-t", &t, "--to-earliest", "--dry-run"],
        0,
    );
    assert_eq!(committed(&b, &g), before);

    // Execute.
    let j = json(&run(
        &b,
        &[
            "--format",
            "json",
            "group",
            "reset",
            &g,
            "-t",
            &t,
            "--to-earliest",
            "--execute",
        ],
        0,
    ));
    assert_eq!(j["executed"], true);
    assert_eq!(j["offsets"].as_array().unwrap().len(), 2);
    let c = committed(&b, &g);
    assert_eq!(c[&(t.clone(), 0)], 0);
    assert_eq!(c[&(t.clone(), 1)], 3);

    // One partition; clamping both ways; shift.
    run(
        &b,
        &[
            "group",
            "reset",
            &g,
            "-t",
            &format!("{t}:0"),
            "--to-offset",
            "1000",
            "--execute",
        ],
        0,
    );
    let c = committed(&b, &g);
    assert_eq!((c[&(t.clone(), 0)], c[&(t.clone(), 1)]), (10, 3));
    run(
        &b,
        &[
            "group",
            "reset",
            &g,
            "-t",
            &format!("{t}:0,1"),
            "--shift-by",
            "-4",
            "--execute",
        ],
        0,
    );
    let c = committed(&b, &g);
    assert_eq!((c[&(t.clone(), 0)], c[&(t.clone(), 1)]), (6, 3));
    run(
        &b,
        &[
            "group",
            "reset",
            &g,
            "--all-topics",
            "--to-latest",
            "--execute",
        ],
        0,
    );
    let c = committed(&b, &g);
    assert_eq!((c[&(t.clone(), 0)], c[&(t.clone(), 1)]), (10, 10));

    // Export a plan, change the offsets, import the plan back.
    run(
        &b,
        &[
            "group",
            "reset",
            &g,
            "-t",
            &t,
            "--to-offset",
            "7",
            "--execute",
        ],
        0,
    );
    let o = run(
        &b,
        &[
            "group",
            "reset",
            &g,
            "--all-topics",
            "--to-current",
            "--export",
        ],
        0,
    );
    let csv = stdout(&o);
    assert_eq!(csv, format!("{t},0,7\n{t},1,7\n"));
    run(
        &b,
        &[
            "group",
            "reset",
            &g,
            "--all-topics",
            "--to-earliest",
            "--execute",
        ],
        0,
    );
    assert_eq!(committed(&b, &g)[&(t.clone(), 0)], 0);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.csv");
    std::fs::write(&file, &csv).unwrap();
    let f = file.to_str().unwrap();
    run(&b, &["group", "reset", &g, "--from-file", f], 0);
    assert_eq!(committed(&b, &g)[&(t.clone(), 0)], 0);
    run(
        &b,
        &["group", "reset", &g, "--from-file", f, "--execute"],
        0,
    );
    let c = committed(&b, &g);
    assert_eq!((c[&(t.clone(), 0)], c[&(t.clone(), 1)]), (7, 7));

    // --to-current without a committed offset is the log end (Kafka's rule); --to-group copies.
    let fresh = name("fresh");
    run(
        &b,
        &[
            "group",
            "reset",
            &fresh,
            "-t",
            &t,
            "--to-current",
            "--execute",
        ],
        0,
    );
    let c = committed(&b, &fresh);
    assert_eq!((c[&(t.clone(), 0)], c[&(t.clone(), 1)]), (10, 10));
    let copy = name("copy");
    run(
        &b,
        &[
            "group",
            "reset",
            &copy,
            "--all-topics",
            "--to-group",
            &g,
            "--execute",
        ],
        0,
    );
    assert_eq!(committed(&b, &copy), committed(&b, &g));
    // --all-groups: every group; its export has a group column and imports back per group.
    let o = run(
        &b,
        &[
            "group",
            "reset",
            "--all-groups",
            "--all-topics",
            "--to-earliest",
            "--export",
        ],
        0,
    );
    let csv = stdout(&o);
    assert!(csv.contains(&format!("{g},{t},1,3\n")), "{csv}");
    assert!(csv.contains(&format!("{copy},{t},0,0\n")), "{csv}");
    let multi = dir.path().join("multi.csv");
    std::fs::write(&multi, format!("{g},{t},0,2\n{copy},{t},0,4\n")).unwrap();
    run(
        &b,
        &[
            "group",
            "reset",
            &g,
            &copy,
            "--from-file",
            multi.to_str().unwrap(),
            "--execute",
        ],
        0,
    );
    assert_eq!(committed(&b, &g)[&(t.clone(), 0)], 2);
    assert_eq!(committed(&b, &copy)[&(t.clone(), 0)], 4);
    assert_eq!(
        committed(&b, &copy)[&(t.clone(), 1)],
        7,
        "not in the file: unchanged"
    );
    // --shift-by needs a committed offset.
    let o = run(
        &b,
        &["group", "reset", &name("none"), "-t", &t, "--shift-by", "1"],
        1,
    );
    assert!(stderr(&o).contains("no committed offset"), "{}", stderr(&o));
    // Missing topic: 3.
    run(
        &b,
        &["group", "reset", &g, "-t", &name("nope"), "--to-earliest"],
        3,
    );
}

#[test]
fn reset_by_time_and_duration() {
    let b = TestBroker::start(1);
    let t = name("time");
    create(&b, &t, 1);
    // Record i is i hours after 2024-01-02T00:00:00Z, then 10 recent ones (now - 10h + i h).
    let base = 1_704_153_600_000i64;
    produce(&b, &t, 0, 10, |i| base + i as i64 * 3_600_000);
    let now = now_ms();
    produce(&b, &t, 0, 10, |i| {
        now - 10 * 3_600_000 + i as i64 * 3_600_000
    });
    let g = name("tg");
    commit(&b, &g, &[(&t, 0, 0)]);
    run(
        &b,
        &[
            "group",
            "reset",
            &g,
            "-t",
            &t,
            "--to-datetime",
            "2024-01-02T03:30:00Z",
            "--execute",
        ],
        0,
    );
    assert_eq!(committed(&b, &g)[&(t.clone(), 0)], 4);
    run(
        &b,
        &[
            "group",
            "reset",
            &g,
            "-t",
            &t,
            "--to-datetime",
            "2024-01-02T05:00:00.000+00:00",
            "--execute",
        ],
        0,
    );
    assert_eq!(committed(&b, &g)[&(t.clone(), 0)], 5);
    // Without a zone: local time, as Kafka.
    let local = chrono::DateTime::from_timestamp_millis(base + 2 * 3_600_000)
        .unwrap()
        .with_timezone(&chrono::Local)
        .naive_local()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    run(
        &b,
        &[
            "group",
            "reset",
            &g,
            "-t",
            &t,
            "--to-datetime",
            &local,
            "--execute",
        ],
        0,
    );
    assert_eq!(committed(&b, &g)[&(t.clone(), 0)], 2);
    // 5h30m ago: the first recent record at or after is i = 5 (now - 5h), offset 15.
    run(
        &b,
        &[
            "group",
            "reset",
            &g,
            "-t",
            &t,
            "--by-duration",
            "PT5H30M",
            "--execute",
        ],
        0,
    );
    assert_eq!(committed(&b, &g)[&(t.clone(), 0)], 15);
    run(
        &b,
        &[
            "group",
            "reset",
            &g,
            "-t",
            &t,
            "--by-duration",
            "2h30m",
            "--execute",
        ],
        0,
    );
    assert_eq!(committed(&b, &g)[&(t.clone(), 0)], 18);
    // In the future: nothing that recent, the log end.
    run(
        &b,
        &[
            "group",
            "reset",
            &g,
            "-t",
            &t,
            "--to-datetime",
            "2999-01-01T00:00:00Z",
            "--execute",
        ],
        0,
    );
    assert_eq!(committed(&b, &g)[&(t.clone(), 0)], 20);
}

#[test]
fn reset_usage_errors_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let dead = "127.0.0.1:1";
    let cases: &[&[&str]] = &[
        &[
            "group",
            "reset",
            "g",
            "-t",
            "t",
            "--to-datetime",
            "2024-13-01T00:00:00",
        ],
        &[
            "group",
            "reset",
            "g",
            "-t",
            "t",
            "--to-datetime",
            "yesterday",
        ],
        &["group", "reset", "g", "-t", "t", "--by-duration", "soon"],
        &[
            "group",
            "reset",
            "g",
            "-t",
            "t",
            "--to-earliest",
            "--to-latest",
        ],
        &[
            "group",
            "reset",
            "g",
            "-t",
            "t",
            "--to-offset",
            "1",
            "--shift-by",
            "2",
        ],
        &["group", "reset", "g", "-t", "t"],
        &["group", "reset", "g", "--to-earliest"],
        &["group", "reset", "-t", "t", "--to-earliest"],
        &["group", "reset", "g", "-t", "t:x", "--to-earliest"],
        &[
            "group",
            "reset",
            "g",
            "-t",
            "t",
            "--to-earliest",
            "--dry-run",
            "--execute",
        ],
        &[
            "group",
            "reset",
            "g",
            "--from-file",
            "/nonexistent/plan.csv",
        ],
        &["offsets", "t", "--at", "@nope"],
    ];
    for args in cases {
        let o = kafka_alone(dir.path())
            .args(["-b", dead])
            .args(*args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}");
    }
    // Our own checks print one line naming the value.
    let o = kafka_alone(dir.path())
        .args([
            "-b",
            dead,
            "group",
            "reset",
            "g",
            "-t",
            "t",
            "--to-datetime",
            "yesterday",
        ])
        .output()
        .unwrap();
    one_line_error(&o, "yesterday");
    let plan = dir.path().join("bad.csv");
    std::fs::write(&plan, "t,0,1\nt,zero,2\n").unwrap();
    let o = kafka_alone(dir.path())
        .args([
            "-b",
            dead,
            "group",
            "reset",
            "g",
            "--from-file",
            plan.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    one_line_error(&o, "line 2");
}

#[test]
fn reset_refuses_a_group_with_live_members() {
    let b = TestBroker::start(1);
    let t = name("lt");
    create(&b, &t, 1);
    produce(&b, &t, 0, 5, |_| now_ms());
    let g = name("busy");
    let member = live_member(&b, &g, &t, "busy-client");
    let before = committed(&b, &g);
    assert!(!before.is_empty());
    let o = b
        .kafka()
        .args(["group", "reset", &g, "-t", &t, "--to-earliest", "--execute"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    one_line_error(&o, "stop its consumers");
    assert_eq!(committed(&b, &g), before);
    b.runtime.block_on(member.close()).unwrap();
}

#[test]
fn profiles_create_use_list_delete_and_precedence() {
    let b = TestBroker::start(1);
    let dead = format!(
        "127.0.0.1:{}",
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    );
    let cfg = b.config_dir.path();
    let alone = || kafka_alone(cfg);
    let ok = |c: &mut assert_cmd::Command, code: i32| {
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
        o
    };
    ok(
        alone().args([
            "-b",
            &dead,
            "-X",
            "client.id=from-profile",
            "profile",
            "create",
            "down",
            "--use",
        ]),
        0,
    );
    ok(
        alone().args(["-b", &b.bootstrap, "profile", "create", "up"]),
        0,
    );
    // Exists; unknown property; nothing to save; bad name: usage errors.
    ok(alone().args(["-b", &dead, "profile", "create", "up"]), 2);
    ok(
        alone().args(["-b", &dead, "-X", "no.such=1", "profile", "create", "x"]),
        2,
    );
    ok(alone().args(["profile", "create", "empty"]), 2);
    // --force replaces; TLS flags are saved.
    ok(
        alone().args(["--tls-insecure", "profile", "create", "tls"]),
        0,
    );
    ok(alone().args(["-b", &dead, "profile", "create", "tls"]), 2);
    ok(
        alone().args([
            "-b",
            &dead,
            "--tls-insecure",
            "profile",
            "create",
            "tls",
            "--force",
        ]),
        0,
    );
    let j: Value = serde_json::from_slice(
        &ok(alone().args(["--format", "json", "profile", "list"]), 0).stdout,
    )
    .unwrap();
    let tls = j
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "tls")
        .unwrap();
    assert_eq!(
        (tls["tls"].as_bool(), tls["tls_insecure"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(tls["brokers"], dead.as_str());
    ok(alone().args(["profile", "delete", "tls"]), 0);
    ok(
        alone().args(["-b", &dead, "profile", "create", "bad name"]),
        2,
    );

    let o = ok(alone().args(["profile", "list"]), 0);
    let out = stdout(&o);
    let line = out.lines().find(|l| l.contains("down")).unwrap();
    assert!(
        line.contains('*') && line.contains(&dead) && line.contains("client.id=from-profile"),
        "{out}"
    );
    assert!(
        !out.lines()
            .find(|l| l.contains(" up "))
            .unwrap()
            .contains('*'),
        "{out}"
    );
    let j: Value = serde_json::from_slice(
        &ok(alone().args(["--format", "json", "profile", "list"]), 0).stdout,
    )
    .unwrap();
    assert_eq!(j.as_array().unwrap().len(), 2);
    let down = j
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "down")
        .unwrap();
    assert_eq!(down["current"], true);
    assert_eq!(down["brokers"], dead.as_str());

    // The current profile alone: its dead broker (4). A flag or the environment beats it.
    ok(alone().args(["cluster", "info"]), 4);
    ok(alone().args(["-b", &b.bootstrap, "cluster", "info"]), 0);
    ok(
        alone()
            .env("KAFKA_BROKERS", &b.bootstrap)
            .args(["cluster", "info"]),
        0,
    );
    ok(alone().args(["--profile", "up", "cluster", "info"]), 0);
    ok(alone().args(["--profile", "ghost", "cluster", "info"]), 2);

    // use / delete.
    ok(alone().args(["profile", "use", "up"]), 0);
    ok(alone().args(["cluster", "info"]), 0);
    ok(alone().args(["profile", "use", "ghost"]), 2);
    ok(alone().args(["profile", "delete", "up"]), 0);
    ok(alone().args(["profile", "delete", "up"]), 2);
    let j: Value = serde_json::from_slice(
        &ok(alone().args(["--format", "json", "profile", "list"]), 0).stdout,
    )
    .unwrap();
    assert_eq!(j.as_array().unwrap().len(), 1);
    assert_eq!(
        j[0]["current"], false,
        "deleting the current profile unsets it"
    );
}

#[test]
fn authorization_failures_exit_6_with_one_line() {
    // The broker has no ACLs yet, so its fault hooks answer as an authorizing broker would:
    // the error code in the response, which the CLI must classify as an authorization failure.
    use kafka_proto::messages::ApiKey;
    use kafka_proto::ErrorCode;
    let b = TestBroker::start(1);
    let t = name("denied");
    b.faults()
        .fail_next(ApiKey::CreateTopics, 1, ErrorCode::TopicAuthorizationFailed);
    let o = b.kafka().args(["topic", "create", &t]).output().unwrap();
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    one_line_error(&o, "not authorized");
    assert!(!stderr(&o).contains("panicked"));

    // A cluster-level code: listing groups needs Describe on the cluster.
    b.faults()
        .fail_next(ApiKey::ListGroups, 1, ErrorCode::ClusterAuthorizationFailed);
    let o = b.kafka().args(["group", "list"]).output().unwrap();
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    one_line_error(&o, "not authorized");

    // Without the fault the same commands succeed (exit 0), so 6 came from the answer.
    let o = b.kafka().args(["topic", "create", &t]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}
