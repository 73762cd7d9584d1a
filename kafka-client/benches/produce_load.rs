//! Load generator for the producer: sends `RECORDS` records of `RECORD_SIZE` bytes (acks=1,
//! linger.ms=5, batch.size=1048576, idempotence off) to the bundled broker, once uncompressed and
//! once with lz4, and prints throughput, delivery latency, peak RSS and the client's CPU time.
//!
//! ```text
//! cargo bench -p kafka-client --bench produce_load                  # 1,000,000 x 100 B
//! RECORDS=200000 CODECS=lz4 cargo bench -p kafka-client --bench produce_load
//! ```
//!
//! Environment: `RECORDS` (default 1000000; 10000 when run without `--bench`, e.g. by
//! `cargo test --benches`), `RECORD_SIZE` (100), `CODECS` (`none,lz4`; any of none, gzip,
//! snappy, lz4, zstd), `PARTITIONS` (1), `CLIENT_THREADS` (tokio worker threads of the client,
//! default 2; 0 for a current-thread runtime).
//!
//! Processes: the bench re-executes itself. One child runs the broker
//! (`PRODUCE_LOAD_ROLE=broker`: prints its bootstrap address, serves until its stdin closes) and
//! each configuration runs in a child of its own (`PRODUCE_LOAD_ROLE=client`), so the client's
//! CPU time and peak RSS are its own, not the broker's nor another configuration's.
//!
//! What is measured, in the client process:
//! - the clock runs from the first `send_with` to the end of `flush` (a warm-up record sent
//!   before it pays for connecting, metadata and topic creation);
//! - msgs/s and MB/s (payload bytes, 10^6 per MB) over that time;
//! - delivery latency: from just before `send_with` (so time blocked on `buffer.memory` counts)
//!   to the delivery callback, in a log-linear histogram (1.6% buckets);
//! - CPU: utime + stime of the whole process from `/proc/self/stat` over the timed phase, in
//!   clock ticks converted with `AT_CLKTCK` from `/proc/self/auxv` (100 if absent: Linux's
//!   USER_HZ), so resolution is 10 ms;
//! - peak RSS: `VmHWM` from `/proc/self/status` at the end;
//! - the broker's CPU over the same run, from `/proc/<broker pid>/stat`, to tell whether the
//!   broker (which shares the machine) was the limit.
//!
//! Linux only (it reads `/proc`). `benches/compare` runs the same measurement for librdkafka.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_client::kafka_proto::record::Compression;
use kafka_client::producer::Acks;
use kafka_client::{Producer, ProducerConfig, ProducerRecord, RecordMetadata};

const ROLE: &str = "PRODUCE_LOAD_ROLE";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() {
    let result = match std::env::var(ROLE).as_deref() {
        Ok("broker") => run_broker(),
        Ok("client") => run_client(),
        _ => run_parent(),
    };
    if let Err(e) = result {
        eprintln!("produce_load: {e}");
        std::process::exit(1);
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------------------
// The parent: starts the broker, runs one client process per codec, prints the results.

fn run_parent() -> Result<(), BoxError> {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let records = env_num("RECORDS", if bench_mode { 1_000_000 } else { 10_000 });
    let record_size = env_num("RECORD_SIZE", 100);
    let partitions = env_num("PARTITIONS", 1);
    let codecs = std::env::var("CODECS").unwrap_or_else(|_| "none,lz4".into());
    let exe = std::env::current_exe()?;

    let mut broker = Command::new(&exe)
        .env(ROLE, "broker")
        .env("PARTITIONS", partitions.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let bootstrap = read_line(&mut broker)?;
    println!(
        "produce_load: {records} records x {record_size} B, acks=1, linger.ms=5, \
         batch.size=1048576, idempotence off, {partitions} partition(s), broker {bootstrap}"
    );

    let mut json = Vec::new();
    for codec in codecs.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let topic = format!(
            "produce-load-{codec}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        );
        let broker_cpu0 = cpu_ticks_of(&format!("/proc/{}/stat", broker.id()));
        let out = Command::new(&exe)
            .env(ROLE, "client")
            .env("BOOTSTRAP", &bootstrap)
            .env("TOPIC", &topic)
            .env("CODEC", codec)
            .env("RECORDS", records.to_string())
            .env("RECORD_SIZE", record_size.to_string())
            .stderr(Stdio::inherit())
            .output()?;
        let broker_cpu = cpu_ticks_of(&format!("/proc/{}/stat", broker.id())) - broker_cpu0;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let Some(line) = stdout.lines().find(|l| l.starts_with("result ")) else {
            return Err(format!("the {codec} client failed ({}): {stdout}", out.status).into());
        };
        let r = Fields::parse(line);
        let broker_cpu_s = broker_cpu as f64 / clock_ticks_per_second();
        println!(
            "ours {codec:<6} {:>9.0} msgs/s {:>7.1} MB/s  p50 {:>8.2} ms  p99 {:>8.2} ms  \
             peak RSS {:>6.1} MiB  CPU {:>5.2} s/1M records (user {:.2} s + sys {:.2} s)  \
             broker CPU {:.2} s  errors {}",
            r.get("msgs_per_s"),
            r.get("mb_per_s"),
            r.get("p50_us") / 1000.0,
            r.get("p99_us") / 1000.0,
            r.get("peak_rss_kib") / 1024.0,
            r.get("cpu_s_per_million"),
            r.get("user_s"),
            r.get("sys_s"),
            broker_cpu_s,
            r.get("errors"),
        );
        json.push(format!(
            "{{\"client\":\"ours\",\"codec\":\"{codec}\",{},\"broker_cpu_s\":{broker_cpu_s:.3}}}",
            r.json_fields()
        ));
    }
    println!(
        "{{\"bench\":\"produce_load\",\"records\":{records},\"record_size\":{record_size},\
         \"partitions\":{partitions},\"results\":[{}]}}",
        json.join(",")
    );
    drop(broker.stdin.take());
    broker.wait()?;
    Ok(())
}

fn read_line(child: &mut Child) -> Result<String, BoxError> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let line = line.trim().to_owned();
    if line.is_empty() {
        return Err("the broker process did not start".into());
    }
    Ok(line)
}

/// The `key=value` pairs of a client's `result` line.
struct Fields(Vec<(String, String)>);

impl Fields {
    fn parse(line: &str) -> Fields {
        Fields(
            line.split_whitespace()
                .skip(1)
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }

    fn get(&self, key: &str) -> f64 {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(f64::NAN)
    }

    fn json_fields(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

// ---------------------------------------------------------------------------------------------
// The broker process.

fn run_broker() -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    let partitions = i32::try_from(env_num("PARTITIONS", 1))?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let broker = kafka_broker::Broker::builder()
            .listen("127.0.0.1:0".parse()?)
            .data_dir(dir.path())
            .default_partitions(partitions)
            .start()
            .await?;
        let mut out = std::io::stdout();
        writeln!(out, "{}", broker.bootstrap())?;
        out.flush()?;
        // Serve until the parent closes our stdin (or exits).
        tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()))
            .await??;
        broker.shutdown().await?;
        Ok::<(), BoxError>(())
    })
}

// ---------------------------------------------------------------------------------------------
// The client process.

fn run_client() -> Result<(), BoxError> {
    let threads = env_num("CLIENT_THREADS", 2);
    let rt = if threads == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::try_from(threads)?)
            .enable_all()
            .build()?
    };
    rt.block_on(produce())
}

async fn produce() -> Result<(), BoxError> {
    let bootstrap = std::env::var("BOOTSTRAP")?;
    let topic = std::env::var("TOPIC")?;
    let codec = std::env::var("CODEC")?;
    let records = env_num("RECORDS", 1_000_000);
    let record_size = usize::try_from(env_num("RECORD_SIZE", 100))?;
    let compression = match codec.as_str() {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        other => return Err(format!("unknown codec {other}").into()),
    };
    let payloads: Vec<Bytes> = payloads(record_size).into_iter().map(Bytes::from).collect();

    let config = ProducerConfig::new(&bootstrap)
        .acks(Acks::Leader)
        .linger(Duration::from_millis(5))
        .batch_size(1 << 20)
        .compression(compression, None)
        .idempotence(false);
    let producer = Producer::connect(config).await?;
    // Warm-up: connection, metadata, topic auto-creation.
    producer
        .send(ProducerRecord::new(topic.as_str()).value(payloads[0].clone()))
        .await?
        .await?;

    let hist = histogram();
    let (user0, sys0) = cpu_split("/proc/self/stat");
    let started = Instant::now();
    for i in 0..records {
        let sent = Instant::now();
        let value = payloads[(i as usize) % payloads.len()].clone();
        producer
            .send_with(
                ProducerRecord::new(topic.as_str()).value(value),
                move |r: kafka_client::Result<RecordMetadata>| match r {
                    Ok(_) => hist.record(sent.elapsed()),
                    Err(_) => hist.error(),
                },
            )
            .await?;
    }
    producer.flush().await?;
    let elapsed = started.elapsed();
    let (user1, sys1) = cpu_split("/proc/self/stat");
    producer.close().await?;
    let peak_rss = peak_rss_kib();

    let secs = elapsed.as_secs_f64();
    let tick = clock_ticks_per_second();
    let user_s = user1.saturating_sub(user0) as f64 / tick;
    let sys_s = sys1.saturating_sub(sys0) as f64 / tick;
    let cpu_s = user_s + sys_s;
    println!(
        "result records={records} elapsed_s={secs:.3} msgs_per_s={:.0} mb_per_s={:.2} \
         p50_us={} p99_us={} max_us={} peak_rss_kib={peak_rss} cpu_s={cpu_s:.3} \
         cpu_s_per_million={:.3} user_s={user_s:.3} sys_s={sys_s:.3} errors={}",
        records as f64 / secs,
        (records as f64 * record_size as f64) / secs / 1e6,
        hist.quantile(0.50),
        hist.quantile(0.99),
        hist.quantile(1.0),
        cpu_s * 1e6 / records.max(1) as f64,
        hist.errors.load(Ordering::Relaxed),
    );
    Ok(())
}

/// 64 distinct text-like payloads (so lz4 has realistic work, not one repeated record).
fn payloads(size: usize) -> Vec<Vec<u8>> {
    const WORDS: [&str; 16] = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..64)
        .map(|i| {
            let mut text = format!("{{\"seq\":{i},\"event\":\"");
            while text.len() < size {
                text.push_str(WORDS[(next() % 16) as usize]);
                text.push(' ');
            }
            text.truncate(size);
            text.into_bytes()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Latency histogram: log-linear buckets over microseconds (exact below 128 us, then 64 buckets
// per power of two), lock-free so the delivery callback stays cheap.

const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;
const BUCKETS: usize = (64 - SUB_BITS as usize) * SUB + SUB;

struct Histogram {
    buckets: Vec<AtomicU64>,
    errors: AtomicU64,
}

fn histogram() -> &'static Histogram {
    static H: OnceLock<Histogram> = OnceLock::new();
    H.get_or_init(|| Histogram {
        buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        errors: AtomicU64::new(0),
    })
}

impl Histogram {
    fn index(us: u64) -> usize {
        if us < 2 * SUB as u64 {
            return us as usize;
        }
        let msb = 63 - us.leading_zeros();
        let shift = msb - SUB_BITS;
        let top = (us >> shift) as usize; // SUB..2*SUB
        (shift as usize + 1) * SUB + (top - SUB)
    }

    /// The middle of bucket `i`, in microseconds.
    fn value(i: usize) -> u64 {
        if i < 2 * SUB {
            return i as u64;
        }
        let shift = (i / SUB - 1) as u32;
        let top = (i % SUB + SUB) as u64;
        (top << shift) + (1u64 << shift) / 2
    }

    fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        if let Some(b) = self.buckets.get(Self::index(us)) {
            b.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    fn quantile(&self, q: f64) -> u64 {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::value(i);
            }
        }
        0
    }
}

// ---------------------------------------------------------------------------------------------
// /proc readers (Linux).

/// utime + stime, in clock ticks, from a `/proc/<pid>/stat` file (0 if unreadable).
fn cpu_ticks_of(path: &str) -> u64 {
    let (u, s) = cpu_split(path);
    u + s
}

fn cpu_split(path: &str) -> (u64, u64) {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return (0, 0);
    };
    // The command name is in parentheses and may contain spaces: fields count from after it.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of proc(5) (utime, stime); field 3 (state) is fields[0] here.
    let num = |i: usize| fields.get(i).and_then(|v| v.parse().ok()).unwrap_or(0);
    (num(11), num(12))
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`), read from the `AT_CLKTCK` entry of the
/// process's auxiliary vector; 100 (Linux's USER_HZ) if that cannot be read.
fn clock_ticks_per_second() -> f64 {
    const AT_CLKTCK: u64 = 17;
    let Ok(auxv) = std::fs::read("/proc/self/auxv") else {
        return 100.0;
    };
    for pair in auxv.chunks_exact(16) {
        let word = |b: &[u8]| b.try_into().map(u64::from_ne_bytes).unwrap_or_default();
        let (key, value) = pair.split_at(8);
        if word(key) == AT_CLKTCK && word(value) > 0 {
            return word(value) as f64;
        }
    }
    100.0
}

/// Peak resident set size (`VmHWM`) in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
