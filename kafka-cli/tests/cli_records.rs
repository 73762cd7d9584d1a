//! Records through the real binary: produce, consume (-o, -e, -c, -g, -f, -J, --filter), tail,
//! replay and perf, against a broker on 127.0.0.1:0.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use kafka_client::admin::NewTopic;
use kafka_client::{Admin, ClientConfig, Producer, ProducerConfig, ProducerRecord};

/// Creates a topic with `partitions`.
fn create(b: &TestBroker, topic: &str, partitions: i32) {
    b.runtime.block_on(async {
        let admin = Admin::connect(ClientConfig::new(&b.bootstrap))
            .await
            .unwrap();
        let r = admin
            .create_topics(&[NewTopic::new(topic, partitions, -1)], false)
            .await
            .unwrap();
        r[topic].as_ref().unwrap();
    });
}

/// Sends records with the library and waits for all of them.
fn send(b: &TestBroker, records: Vec<ProducerRecord>) {
    b.runtime.block_on(async {
        let p = Producer::connect(ProducerConfig::new(&b.bootstrap))
            .await
            .unwrap();
        let mut futs = Vec::new();
        for r in records {
            futs.push(p.send(r).await.unwrap());
        }
        for f in futs {
            f.await.unwrap();
        }
        p.close().await.unwrap();
    });
}

/// `n` records "v0".."v{n-1}" with keys "k0".. and timestamps `ts0 + i * 1000` into partition p.
fn numbered(topic: &str, p: i32, n: usize, ts0: i64) -> Vec<ProducerRecord> {
    (0..n)
        .map(|i| {
            ProducerRecord::new(topic)
                .partition(p)
                .key(format!("k{i}"))
                .value(format!("v{i}"))
                .timestamp(ts0 + i as i64 * 1000)
        })
        .collect()
}

fn ok(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

/// The binary as a child process (for signals and pipes).
fn spawn(b: &TestBroker, args: &[&str]) -> Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("kafka"))
        .args(args)
        .env("KAFKA_BROKERS", &b.bootstrap)
        .env("KAFKA_CONFIG_DIR", b.config_dir.path())
        .env_remove("KAFKA_PROFILE")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads stdout lines on a thread so a test fails (instead of hanging) when output never comes.
fn line_reader(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let out = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in out.lines() {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

fn next_line(rx: &std::sync::mpsc::Receiver<String>) -> String {
    rx.recv_timeout(Duration::from_secs(30))
        .expect("no output line within 30 s")
}

fn signal(child: &Child, sig: &str) {
    let st = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// Waits for the child with a generous limit (a hang fails the test instead of the suite).
fn wait_exit(child: &mut Child) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An address nothing listens on: connecting there would fail with exit 4.
fn dead_broker() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    a.to_string()
}

#[test]
fn produce_lines_keys_headers_partition_and_nulls() {
    let b = TestBroker::start(3);
    let t = name("prod");
    create(&b, &t, 3);
    // -K splits at the first delimiter; \r\n is cut; a line without the delimiter has no key;
    // -Z turns the empty value into null; the last line has no newline.
    let o = b
        .kafka()
        .args([
            "produce", &t, "-K", "::", "-H", "a=1", "-H", "a=2", "-p", "2", "-Z",
        ])
        .write_stdin("k1::v1\r\nnokey\nk2::a::b\nk3::\nlast")
        .output()
        .unwrap();
    ok(&o);
    assert!(stderr(&o).contains("produced 5 records"), "{}", stderr(&o));
    assert_eq!(b.log_end_offset(&t, 2), Some(5));
    assert_eq!(b.log_end_offset(&t, 0), Some(0));
    let o = b
        .kafka()
        .args(["consume", &t, "-e", "-p", "2", "-f", "%p|%k|%s|%K|%S|%h\\n"])
        .output()
        .unwrap();
    assert_eq!(
        lines(&ok(&o)),
        [
            "2|k1|v1|2|2|a=1,a=2",
            "2||nokey|-1|5|a=1,a=2",
            "2|k2|a::b|2|4|a=1,a=2",
            "2|k3||2|-1|a=1,a=2",
            "2||last|-1|4|a=1,a=2",
        ]
    );
    // -k gives every record the same key; -q drops the summary; binary bytes pass through.
    let o = b
        .kafka()
        .args(["produce", &t, "-k", "same", "-p", "0", "-q"])
        .write_stdin(&b"\xff\x00x\n\n"[..])
        .output()
        .unwrap();
    ok(&o);
    assert_eq!(stderr(&o), "");
    let o = b
        .kafka()
        .args(["consume", &t, "-e", "-p", "0", "-f", "%k %s{hex} %S\\n"])
        .output()
        .unwrap();
    assert_eq!(lines(&ok(&o)), ["same ff0078 3", "same  0"]);
}

#[test]
fn produce_from_a_file_with_codecs_and_acks() {
    let b = TestBroker::start(1);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("in.txt");
    let body: String = (0..500).map(|i| format!("line-{i}\n")).collect();
    std::fs::write(&f, body).unwrap();
    for (z, acks) in [
        ("none", "all"),
        ("gzip", "1"),
        ("snappy", "0"),
        ("lz4", "all"),
        ("zstd", "1"),
    ] {
        let t = name(z);
        let o = b
            .kafka()
            .args([
                "produce",
                &t,
                "--file",
                f.to_str().unwrap(),
                "-z",
                z,
                "--acks",
                acks,
            ])
            .output()
            .unwrap();
        ok(&o);
        let o = b.kafka().args(["consume", &t, "-e"]).output().unwrap();
        let out = ok(&o);
        let got = lines(&out);
        assert_eq!(got.len(), 500, "{z}");
        assert_eq!(got[499], "line-499");
    }
    // A missing file is a one-line error before connecting.
    let o = kafka_alone(dir.path())
        .args([
            "-b",
            &dead_broker(),
            "produce",
            "t",
            "--file",
            "/nonexistent/x",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(stderr(&o).lines().count(), 1);
}

#[test]
fn produce_rate_spreads_records_over_time() {
    let b = TestBroker::start(1);
    let t = name("rate");
    let input: String = (0..6).map(|i| format!("{i}\n")).collect();
    ok(&b
        .kafka()
        .args(["produce", &t, "--rate", "10"])
        .write_stdin(input)
        .output()
        .unwrap());
    let o = b
        .kafka()
        .args(["consume", &t, "-e", "-f", "%T\\n"])
        .output()
        .unwrap();
    let out = ok(&o);
    let ts: Vec<i64> = out.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(ts.len(), 6);
    // Six records at 10/s span at least half a second of CreateTime.
    assert!(ts[5] - ts[0] >= 450, "{ts:?}");
}

#[test]
fn json_lines_round_trip_byte_for_byte() {
    let b = TestBroker::start(2);
    let src = name("json-src");
    let dst = name("json-dst");
    create(&b, &src, 2);
    create(&b, &dst, 2);
    send(
        &b,
        vec![
            ProducerRecord::new(&src)
                .partition(0)
                .key(Bytes::from_static(b"\x00\xffbin"))
                .value("text \"quoted\"\n\ttab é")
                .header("dup", Some("1"))
                .header("dup", Some(Bytes::from_static(b"\xfe")))
                .header("null", None::<Bytes>)
                .timestamp(1_600_000_000_123),
            ProducerRecord::new(&src)
                .partition(0)
                .timestamp(1_600_000_000_124),
            ProducerRecord::new(&src)
                .partition(1)
                .key("")
                .value(Bytes::from_static(b"\x80\x81"))
                .header("z", Some(""))
                .timestamp(1_500_000_000_000),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dump.jsonl");
    let dump = ok(&b
        .kafka()
        .args(["consume", &src, "-e", "-J"])
        .output()
        .unwrap());
    std::fs::write(&file, &dump).unwrap();
    assert_eq!(dump.lines().count(), 3);
    assert!(dump.contains(r#""key":{"base64":"AP9iaW4="}"#), "{dump}");
    assert!(dump.contains(r#"{"key":"null","value":null}"#), "{dump}");
    ok(&b
        .kafka()
        .args([
            "produce",
            &dst,
            "--input",
            "jsonl",
            "--file",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap());
    let copy = ok(&b
        .kafka()
        .args(["consume", &dst, "-e", "-J"])
        .output()
        .unwrap());
    let norm = |s: &str| {
        let mut v: Vec<serde_json::Value> = s
            .lines()
            .map(|l| {
                let mut j: serde_json::Value = serde_json::from_str(l).unwrap();
                j.as_object_mut().unwrap().remove("topic");
                j.as_object_mut().unwrap().remove("offset");
                j
            })
            .collect();
        v.sort_by_key(|j| (j["partition"].as_i64(), j["timestamp"].as_i64()));
        v
    };
    assert_eq!(norm(&dump), norm(&copy));
    // Bad JSON is a one-line usage error naming the line.
    let o = b
        .kafka()
        .args(["produce", &dst, "--input", "jsonl"])
        .write_stdin("{\"value\":\"ok\"}\n{\"value\": 5}\n")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("stdin line 2"), "{}", stderr(&o));
}

#[test]
fn exit_at_end_with_empty_partitions_and_groups() {
    let b = TestBroker::start(3);
    let t = name("empty");
    create(&b, &t, 3);
    // Nothing at all: -e ends at once.
    let o = b.kafka().args(["consume", &t, "-e"]).output().unwrap();
    assert_eq!(ok(&o), "");
    send(&b, numbered(&t, 1, 4, 1_000));
    let o = b.kafka().args(["consume", &t, "-e"]).output().unwrap();
    assert_eq!(lines(&ok(&o)), ["v0", "v1", "v2", "v3"]);
    // As a group: reads everything, commits, and the next run has nothing left.
    let g = name("grp");
    let o = b
        .kafka()
        .args(["consume", &t, "-e", "-g", &g])
        .output()
        .unwrap();
    assert_eq!(lines(&ok(&o)), ["v0", "v1", "v2", "v3"]);
    let o = b
        .kafka()
        .args(["consume", &t, "-e", "-g", &g])
        .output()
        .unwrap();
    assert_eq!(ok(&o), "");
    send(&b, numbered(&t, 2, 2, 1_000));
    let o = b
        .kafka()
        .args(["consume", &t, "-e", "-g", &g])
        .output()
        .unwrap();
    assert_eq!(lines(&ok(&o)), ["v0", "v1"]);
    // -c stops the group early and commits only what was printed.
    let g2 = name("grp");
    let o = b
        .kafka()
        .args(["consume", &t, "-g", &g2, "-c", "2", "-p", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "-g with -p is a usage error");
    let o = b
        .kafka()
        .args(["consume", &t, "-g", &g2, "-c", "1", "-f", "%p:%s\\n"])
        .output()
        .unwrap();
    let first = ok(&o);
    assert_eq!(first.lines().count(), 1);
    let o = b
        .kafka()
        .args(["consume", &t, "-g", &g2, "-e", "-f", "%p:%s\\n"])
        .output()
        .unwrap();
    let rest = ok(&o);
    assert_eq!(rest.lines().count(), 5, "{first}{rest}");
    assert!(!rest.contains(first.trim()), "{first} was read twice");
    // With -g, -o takes only start or end.
    let o = b
        .kafka()
        .args(["consume", &t, "-g", &g, "-o", "5"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn count_stops_after_n_records() {
    let b = TestBroker::start(1);
    let t = name("count");
    send(&b, numbered(&t, 0, 10, 1_000));
    let o = b.kafka().args(["consume", &t, "-c", "3"]).output().unwrap();
    assert_eq!(lines(&ok(&o)), ["v0", "v1", "v2"]);
    // Only one record exists from -1: -e ends before the count.
    let o = b
        .kafka()
        .args(["consume", &t, "-c", "3", "-o", "-1", "-e"])
        .output()
        .unwrap();
    assert_eq!(lines(&ok(&o)), ["v9"]);
}

#[test]
fn every_offset_form() {
    let b = TestBroker::start(1);
    let t = name("offsets");
    let now = kafka_now();
    // Ten records one second apart, the last one a minute ago.
    let t0 = now - 60_000 - 9_000;
    send(&b, numbered(&t, 0, 10, t0));
    let run = |o: &[&str]| -> Vec<String> {
        let mut args = vec!["consume", t.as_str(), "-e", "-f", "%o\\n"];
        args.extend_from_slice(o);
        let out = ok(&b.kafka().args(&args).output().unwrap());
        out.lines().map(str::to_owned).collect()
    };
    let offs = |r: std::ops::Range<i32>| -> Vec<String> { r.map(|i| i.to_string()).collect() };
    assert_eq!(run(&[]), offs(0..10));
    assert_eq!(run(&["-o", "start"]), offs(0..10));
    assert_eq!(run(&["-o", "beginning"]), offs(0..10));
    assert_eq!(run(&["-o", "end"]), offs(0..0));
    assert_eq!(run(&["-o", "7"]), offs(7..10));
    assert_eq!(run(&["-o", "+2"]), offs(2..10));
    assert_eq!(run(&["-o", "-3"]), offs(7..10));
    assert_eq!(run(&["-o", "-30"]), offs(0..10));
    assert_eq!(run(&["-o", ":end"]), offs(0..10));
    assert_eq!(run(&["-o", "2:5"]), offs(2..5));
    assert_eq!(run(&["-o", ":3"]), offs(0..3));
    assert_eq!(run(&["-o", "+8:end"]), offs(8..10));
    let ts = |i: i64| (t0 + i * 1000).to_string();
    assert_eq!(run(&["-o", &format!("@{}", ts(4))]), offs(4..10));
    assert_eq!(run(&["-o", &format!("@{}", t0 + 4500)]), offs(5..10));
    assert_eq!(run(&["-o", &format!("s@{}", ts(6))]), offs(6..10));
    assert_eq!(run(&["-o", &format!("e@{}", ts(3))]), offs(0..3));
    assert_eq!(run(&["-o", &format!("@{}:{}", ts(2), ts(5))]), offs(2..5));
    assert_eq!(run(&["-o", &format!("@{}:end", ts(8))]), offs(8..10));
    assert_eq!(
        run(&["-o", &format!("s@{}", ts(1)), "-o", &format!("e@{}", ts(3))]),
        offs(1..3)
    );
    // RFC 3339 with colons inside a range, and relative times.
    let rfc = |i: i64| {
        chrono::DateTime::from_timestamp_millis(t0 + i * 1000)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    };
    assert_eq!(run(&["-o", &format!("@{}:{}", rfc(3), rfc(6))]), offs(3..6));
    assert_eq!(run(&["-o", "@-1h"]), offs(0..10));
    assert_eq!(run(&["-o", "@-10s"]), offs(0..0));
    // Without -e, a range still ends by itself.
    let o = b
        .kafka()
        .args(["consume", &t, "-o", "1:3"])
        .output()
        .unwrap();
    assert_eq!(lines(&ok(&o)), ["v1", "v2"]);
}

fn kafka_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn format_tokens_modifiers_and_time_format() {
    let b = TestBroker::start(1);
    let t = name("fmt");
    send(
        &b,
        vec![ProducerRecord::new(&t)
            .partition(0)
            .key(Bytes::from_static(b"\x01k"))
            .value("hi")
            .header("h", Some("x"))
            .header("n", None::<Bytes>)
            .timestamp(1_704_164_645_123)],
    );
    let o = b
        .kafka()
        .args([
            "consume",
            &t,
            "-e",
            "-f",
            "%t|%p|%o|%k{hex}|%K|%s{base64}|%S|%T|%h|%%\\t.\\n",
        ])
        .output()
        .unwrap();
    assert_eq!(
        ok(&o),
        format!("{t}|0|0|016b|2|aGk=|2|1704164645123|h=x,n|%\t.\n")
    );
    let o = b
        .kafka()
        .args([
            "consume",
            &t,
            "-e",
            "-f",
            "%T %h{hex}\\n",
            "--time-format",
            "rfc3339",
        ])
        .output()
        .unwrap();
    assert_eq!(ok(&o), "2024-01-02T03:04:05.123Z h=78,n\n");
}

#[test]
fn filters_on_key_value_and_headers() {
    let b = TestBroker::start(1);
    let t = name("filter");
    let rec = |k: &str, v: &str, env: &str| {
        ProducerRecord::new(&t)
            .partition(0)
            .key(k.to_owned())
            .value(v.to_owned())
            .header("env", Some(env.to_owned()))
    };
    send(
        &b,
        vec![
            rec("user-1", "login ok", "prod"),
            rec("user-22", "ERROR disk", "prod"),
            rec("svc", "error net", "dev"),
            rec("user-3", "debug x", "dev"),
        ],
    );
    let run = |f: &[&str]| -> Vec<String> {
        let mut args = vec!["consume", t.as_str(), "-e", "-f", "%k\\n"];
        for x in f {
            args.push("--filter");
            args.push(x);
        }
        ok(&b.kafka().args(&args).output().unwrap())
            .lines()
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(run(&["value:error"]), ["svc"]);
    assert_eq!(run(&["value~(?i)error"]), ["user-22", "svc"]);
    assert_eq!(
        run(&["key~^user-[0-9]+$", "header.env=prod"]),
        ["user-1", "user-22"]
    );
    assert_eq!(run(&["value!:debug", "header.env:de"]), ["svc"]);
    assert_eq!(run(&["key=svc"]), ["svc"]);
    let o = b
        .kafka()
        .args(["consume", &t, "--filter", "bogus"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn tail_shows_the_last_records_then_follows_until_sigterm() {
    let b = TestBroker::start(2);
    let t = name("tail");
    create(&b, &t, 2);
    send(&b, numbered(&t, 0, 5, 1_000));
    send(&b, numbered(&t, 1, 1, 1_000));
    let mut child = spawn(&b, &["tail", &t, "-n", "2", "-f", "%p:%s\\n"]);
    let rx = line_reader(&mut child);
    let mut got: Vec<String> = (0..3).map(|_| next_line(&rx)).collect();
    got.sort();
    assert_eq!(got, ["0:v3", "0:v4", "1:v0"]);
    // Then it follows.
    send(&b, vec![ProducerRecord::new(&t).partition(1).value("new")]);
    assert_eq!(next_line(&rx), "1:new");
    signal(&child, "-TERM");
    assert_eq!(wait_exit(&mut child), 0);
}

#[test]
fn follow_mode_ends_cleanly_on_ctrl_c() {
    let b = TestBroker::start(1);
    let t = name("follow");
    send(&b, numbered(&t, 0, 1, 1_000));
    let mut child = spawn(&b, &["consume", &t]);
    let rx = line_reader(&mut child);
    assert_eq!(next_line(&rx), "v0");
    signal(&child, "-INT");
    assert_eq!(wait_exit(&mut child), 0);
}

#[test]
fn closed_stdout_exits_zero() {
    let b = TestBroker::start(1);
    let t = name("pipe");
    let input: String = (0..50_000).map(|i| format!("record-{i}\n")).collect();
    ok(&b
        .kafka()
        .args(["produce", &t, "-q"])
        .write_stdin(input)
        .output()
        .unwrap());
    let mut child = spawn(&b, &["consume", &t, "-e"]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut l = String::new();
    out.read_line(&mut l).unwrap();
    assert_eq!(l, "record-0\n");
    drop(out);
    assert_eq!(wait_exit(&mut child), 0);
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(err, "");
}

#[test]
fn replay_copies_exactly_the_range() {
    let b = TestBroker::start(2);
    let src = name("rsrc");
    let dst = name("rdst");
    create(&b, &src, 2);
    create(&b, &dst, 2);
    let mut recs = numbered(&src, 0, 10, 1_000_000);
    recs.extend(numbered(&src, 1, 10, 2_000_000));
    recs[3]
        .headers
        .push(("h".into(), Some(Bytes::from_static(b"x"))));
    send(&b, recs);
    // Dry run: counts, writes nothing.
    let o = b
        .kafka()
        .args([
            "replay",
            &src,
            "--into",
            &dst,
            "--from",
            "2",
            "--to",
            "5",
            "--dry-run",
        ])
        .output()
        .unwrap();
    assert!(ok(&o).contains("would copy 6 records"), "{}", stdout(&o));
    assert_eq!(b.log_end_offset(&dst, 0), Some(0));
    // Offsets [2, 5) of partition 0, swapped into partition 1.
    let o = b
        .kafka()
        .args([
            "replay",
            &src,
            "--into",
            &dst,
            "-p",
            "0",
            "--from",
            "2",
            "--to",
            "5",
            "--partition-map",
            "0=1",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(v["records"], 3);
    assert_eq!(v["partitions"][0]["first_offset"], 2);
    assert_eq!(v["partitions"][0]["last_offset"], 4);
    assert_eq!(b.log_end_offset(&dst, 0), Some(0));
    assert_eq!(b.log_end_offset(&dst, 1), Some(3));
    let o = b
        .kafka()
        .args(["consume", &dst, "-e", "-f", "%p %k %s %T %h\\n"])
        .output()
        .unwrap();
    assert_eq!(
        lines(&ok(&o)),
        [
            "1 k2 v2 1002000 ",
            "1 k3 v3 1003000 h=x",
            "1 k4 v4 1004000 ",
        ]
    );
    // Time ranges, --into-partition and --new-timestamps.
    let o = b
        .kafka()
        .args([
            "replay",
            &src,
            "--into",
            &dst,
            "-p",
            "1",
            "--from",
            "@2008000",
            "--into-partition",
            "0",
            "--new-timestamps",
        ])
        .output()
        .unwrap();
    assert!(ok(&o).contains("copied 2 records"), "{}", stdout(&o));
    let o = b
        .kafka()
        .args(["consume", &dst, "-p", "0", "-e", "-f", "%s %T\\n"])
        .output()
        .unwrap();
    let out = ok(&o);
    let got: Vec<(&str, i64)> = out
        .lines()
        .map(|l| {
            let (v, t) = l.split_once(' ').unwrap();
            (v, t.parse().unwrap())
        })
        .collect();
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), ["v8", "v9"]);
    assert!(got.iter().all(|g| g.1 > 1_600_000_000_000));
    // A partition the destination lacks is a usage error naming the fix.
    let o = b
        .kafka()
        .args(["replay", &src, "--into", &dst, "--into-partition", "7"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--into-partition"), "{}", stderr(&o));
}

#[test]
fn perf_prints_numbers() {
    let b = TestBroker::start(1);
    let t = name("perf");
    let o = b
        .kafka()
        .args([
            "perf",
            "produce",
            &t,
            "--num-records",
            "2000",
            "--record-size",
            "50",
            "--acks",
            "1",
        ])
        .output()
        .unwrap();
    let out = ok(&o);
    assert!(
        out.contains("2000 records") && out.contains("records/s") && out.contains("p99"),
        "{out}"
    );
    let o = b
        .kafka()
        .args([
            "perf",
            "produce",
            &t,
            "--num-records",
            "500",
            "--format",
            "json",
            "-z",
            "lz4",
            "--linger-ms",
            "1",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(v["records"], 500);
    assert!(v["records_per_sec"].as_f64().unwrap() > 0.0);
    assert!(v["latency_ms"]["p95"].as_f64().is_some());
    let o = b
        .kafka()
        .args([
            "perf",
            "consume",
            &t,
            "--num-records",
            "2500",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(v["records"], 2500);
    assert_eq!(v["bytes"], 2000 * 50 + 500 * 100);
    assert!(v["mb_per_sec"].as_f64().unwrap() > 0.0);
}

#[test]
fn bad_input_is_rejected_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dead_broker();
    for (args, needle) in [
        (vec!["consume", "t", "-o", "bogus"], "invalid offset"),
        (vec!["consume", "t", "-o", "9:3"], "before the start"),
        (vec!["consume", "t", "-o", "@yesterday"], "invalid"),
        (vec!["consume", "t", "-o", "@2024-13-01"], "invalid"),
        (vec!["consume", "t", "-o", "e@nope"], "invalid"),
        (vec!["consume", "t", "-f", "%x"], "unknown token"),
        (vec!["consume", "t", "-f", "%k{rot13}"], "unknown modifier"),
        (vec!["consume", "t", "--filter", "value"], "--filter"),
        (vec!["tail", "t", "-f", "%"], "-f"),
        (
            vec!["replay", "a", "--into", "b", "--from", "nope"],
            "invalid",
        ),
        (
            vec!["replay", "a", "--into", "b", "--to", "@never"],
            "invalid",
        ),
        (
            vec!["replay", "a", "--into", "b", "--partition-map", "0:1"],
            "--partition-map",
        ),
        (vec!["produce", "t", "-H", "novalue"], "-H"),
        (vec!["produce", "t", "--input", "jsonl", "-k", "x"], "jsonl"),
        (vec!["produce", "t", "--rate", "0"], "--rate"),
        (
            vec![
                "perf",
                "consume",
                "t",
                "--num-records",
                "1",
                "--timeout",
                "soon",
            ],
            "--timeout",
        ),
    ] {
        let o = kafka_alone(dir.path())
            .args(["-b", dead.as_str()])
            .args(&args)
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("broker running"), "{args:?} connected: {err}");
    }
}

#[test]
fn consuming_a_missing_topic_is_not_found() {
    let b = TestBroker::start(1);
    let t = name("missing");
    for cmd in [vec!["consume", t.as_str(), "-e"], vec!["tail", t.as_str()]] {
        let o = b.kafka().args(&cmd).output().unwrap();
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
    }
    // ...and it was not created by trying.
    assert_eq!(b.log_end_offset(&t, 0), None);
    let o = b
        .kafka()
        .args(["consume", &name("x"), "-e", "-p", "0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let t2 = name("parts");
    send(&b, numbered(&t2, 0, 1, 1));
    let o = b
        .kafka()
        .args(["consume", &t2, "-e", "-p", "4"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
}
