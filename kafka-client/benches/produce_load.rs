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

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_client::kafka_proto::record::Compression;
use kafka_client::producer::Acks;
use kafka_client::{Producer, ProducerConfig, ProducerRecord, RecordMetadata};

#[path = "load/mod.rs"]
mod load;
use load::*;

const ROLE: &str = "PRODUCE_LOAD_ROLE";

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

// ---------------------------------------------------------------------------------------------
// The broker process.

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
