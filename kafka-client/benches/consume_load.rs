//! Load generator for the consumer: fills a topic of the bundled broker with `RECORDS` records
//! of `RECORD_SIZE` bytes (our producer: acks=1, 1 MiB batches), once uncompressed and once with
//! lz4, then reads them back from the beginning and prints throughput, peak RSS and the
//! consumer's CPU time.
//!
//! ```text
//! cargo bench -p kafka-client --bench consume_load                  # 1,000,000 x 100 B
//! RECORDS=200000 CODECS=lz4 PARTITIONS=4 cargo bench -p kafka-client --bench consume_load
//! ```
//!
//! Environment: `RECORDS` (default 1000000; 10000 when run without `--bench`, e.g. by
//! `cargo test --benches`), `RECORD_SIZE` (100), `CODECS` (`none,lz4`; any of none, gzip,
//! snappy, lz4, zstd), `PARTITIONS` (1), `CLIENT_THREADS` (tokio worker threads of the client,
//! default 2; 0 for a current-thread runtime), `BATCH` (records per `recv_batch`, 10000).
//!
//! Processes: the bench re-executes itself. One child runs the broker
//! (`CONSUME_LOAD_ROLE=broker`: prints its bootstrap address, serves until its stdin closes);
//! the parent fills the topics; each codec is read by a child of its own
//! (`CONSUME_LOAD_ROLE=client`), so the consumer's CPU time and peak RSS are its own, not the
//! broker's, the producer's nor another configuration's.
//!
//! Consumer settings (the same as `benches/compare`'s `consume_compare` gives librdkafka): no
//! group (`assign` of every partition), `auto.offset.reset=earliest`, fetch.max.bytes 50 MiB,
//! max.partition.fetch.bytes 1 MiB, fetch.min.bytes 1, fetch.max.wait.ms 500,
//! queued.max.messages.kbytes 65536, check.crcs true. The loop sums the value lengths.
//!
//! What is measured, in the client process:
//! - the clock runs from `assign` (after connecting and a metadata round trip) to the receipt of
//!   the last record;
//! - msgs/s and MB/s (value bytes, 10^6 per MB) over that time, and the time to the first record;
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
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_client::consumer::{Consumer, ConsumerConfig, TopicPartition};
use kafka_client::kafka_proto::record::Compression;
use kafka_client::producer::Acks;
use kafka_client::{Producer, ProducerConfig, ProducerRecord, RecordMetadata};

const ROLE: &str = "CONSUME_LOAD_ROLE";

/// How long the client may take for all records before the run counts as failed.
const DEADLINE: Duration = Duration::from_secs(300);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() {
    let result = match std::env::var(ROLE).as_deref() {
        Ok("broker") => run_broker(),
        Ok("client") => run_client(),
        _ => run_parent(),
    };
    if let Err(e) = result {
        eprintln!("consume_load: {e}");
        std::process::exit(1);
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn compression(codec: &str) -> Result<Compression, BoxError> {
    Ok(match codec {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        other => return Err(format!("unknown codec {other}").into()),
    })
}

fn runtime(threads: u64) -> Result<tokio::runtime::Runtime, BoxError> {
    Ok(if threads == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::try_from(threads)?)
            .enable_all()
            .build()?
    })
}

// ---------------------------------------------------------------------------------------------
// The parent: starts the broker, fills one topic per codec, runs one client process per codec,
// prints the results.

fn run_parent() -> Result<(), BoxError> {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let records = env_num("RECORDS", if bench_mode { 1_000_000 } else { 10_000 });
    let record_size = env_num("RECORD_SIZE", 100);
    let partitions = env_num("PARTITIONS", 1).max(1);
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
        "consume_load: {records} records x {record_size} B from the beginning, no group (assign), \
         fetch.max.bytes=52428800, max.partition.fetch.bytes=1048576, fetch.max.wait.ms=500, \
         check.crcs=true, {partitions} partition(s), broker {bootstrap}"
    );

    let mut json = Vec::new();
    for codec in codecs.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let topic = format!(
            "consume-load-{codec}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        );
        fill(
            &bootstrap,
            &topic,
            compression(codec)?,
            records,
            usize::try_from(record_size)?,
            i32::try_from(partitions)?,
        )?;
        let broker_stat = format!("/proc/{}/stat", broker.id());
        let broker_cpu0 = cpu_ticks_of(&broker_stat);
        let out = Command::new(&exe)
            .env(ROLE, "client")
            .env("BOOTSTRAP", &bootstrap)
            .env("TOPIC", &topic)
            .env("RECORDS", records.to_string())
            .env("PARTITIONS", partitions.to_string())
            .stderr(Stdio::inherit())
            .output()?;
        let broker_cpu = cpu_ticks_of(&broker_stat).saturating_sub(broker_cpu0);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let Some(line) = stdout.lines().find(|l| l.starts_with("result ")) else {
            return Err(format!("the {codec} client failed ({}): {stdout}", out.status).into());
        };
        let r = Fields::parse(line);
        let broker_cpu_s = broker_cpu as f64 / clock_ticks_per_second();
        println!(
            "ours {codec:<6} {:>9.0} msgs/s {:>7.1} MB/s  first record {:>6.1} ms  \
             peak RSS {:>6.1} MiB  CPU {:>5.3} s/1M records (user {:.2} s + sys {:.2} s)  \
             broker CPU {:.2} s",
            r.get("msgs_per_s"),
            r.get("mb_per_s"),
            r.get("first_record_us") / 1000.0,
            r.get("peak_rss_kib") / 1024.0,
            r.get("cpu_s_per_million"),
            r.get("user_s"),
            r.get("sys_s"),
            broker_cpu_s,
        );
        json.push(format!(
            "{{\"client\":\"ours\",\"codec\":\"{codec}\",{},\"broker_cpu_s\":{broker_cpu_s:.3}}}",
            r.json_fields()
        ));
    }
    println!(
        "{{\"bench\":\"consume_load\",\"records\":{records},\"record_size\":{record_size},\
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

/// Writes the records (values only, the 64 payloads in turn), round-robin over the partitions
/// so each holds the same number.
fn fill(
    bootstrap: &str,
    topic: &str,
    compression: Compression,
    records: u64,
    record_size: usize,
    partitions: i32,
) -> Result<(), BoxError> {
    let payloads: Vec<Bytes> = payloads(record_size).into_iter().map(Bytes::from).collect();
    runtime(2)?.block_on(async {
        let config = ProducerConfig::new(bootstrap)
            .acks(Acks::Leader)
            .linger(Duration::from_millis(5))
            .batch_size(1 << 20)
            .compression(compression, None)
            .idempotence(false);
        let producer = Producer::connect(config).await?;
        let failed = Arc::new(AtomicU64::new(0));
        for i in 0..records {
            let value = payloads[(i as usize) % payloads.len()].clone();
            let partition = i32::try_from(i % u64::try_from(partitions)?)?;
            let failed = failed.clone();
            producer
                .send_with(
                    ProducerRecord::new(topic).partition(partition).value(value),
                    move |r: kafka_client::Result<RecordMetadata>| {
                        if r.is_err() {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    },
                )
                .await?;
        }
        producer.flush().await?;
        producer.close().await?;
        match failed.load(Ordering::Relaxed) {
            0 => Ok(()),
            n => Err(format!("{n} records of the fill failed").into()),
        }
    })
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
    runtime(env_num("CLIENT_THREADS", 2))?.block_on(consume())
}

async fn consume() -> Result<(), BoxError> {
    let bootstrap = std::env::var("BOOTSTRAP")?;
    let topic = std::env::var("TOPIC")?;
    let records = env_num("RECORDS", 1_000_000);
    let partitions = i32::try_from(env_num("PARTITIONS", 1))?;
    let batch = usize::try_from(env_num("BATCH", 10_000))?.max(1);

    let config = ConsumerConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("auto.offset.reset", "earliest"),
        ("enable.auto.commit", "false"),
        ("fetch.max.bytes", "52428800"),
        ("max.partition.fetch.bytes", "1048576"),
        ("fetch.min.bytes", "1"),
        ("fetch.max.wait.ms", "500"),
        ("queued.max.messages.kbytes", "65536"),
        ("check.crcs", "true"),
    ])?;
    let consumer = Consumer::connect(config).await?;
    // Warm-up: the topic's metadata.
    consumer
        .client()
        .metadata_for(std::slice::from_ref(&topic))
        .await?;
    let tps: Vec<TopicPartition> = (0..partitions)
        .map(|p| TopicPartition::new(topic.as_str(), p))
        .collect();

    let (user0, sys0) = cpu_split("/proc/self/stat");
    let started = Instant::now();
    consumer.assign(&tps)?;
    let mut count = 0u64;
    let mut value_bytes = 0u64;
    let mut first_record = None;
    while count < records {
        let got = tokio::time::timeout(DEADLINE, consumer.recv_batch(batch))
            .await
            .map_err(|_| format!("timed out after {count} records"))??;
        first_record.get_or_insert_with(|| started.elapsed());
        count += got.len() as u64;
        for r in &got {
            value_bytes += r.value.as_ref().map_or(0, |v| v.len() as u64);
        }
    }
    let elapsed = started.elapsed();
    let (user1, sys1) = cpu_split("/proc/self/stat");
    consumer.close().await?;
    let peak_rss = peak_rss_kib();

    let secs = elapsed.as_secs_f64();
    let tick = clock_ticks_per_second();
    let user_s = user1.saturating_sub(user0) as f64 / tick;
    let sys_s = sys1.saturating_sub(sys0) as f64 / tick;
    let cpu_s = user_s + sys_s;
    println!(
        "result records={count} value_bytes={value_bytes} elapsed_s={secs:.3} msgs_per_s={:.0} \
         mb_per_s={:.2} first_record_us={} peak_rss_kib={peak_rss} cpu_s={cpu_s:.3} \
         cpu_s_per_million={:.3} user_s={user_s:.3} sys_s={sys_s:.3}",
        count as f64 / secs,
        value_bytes as f64 / secs / 1e6,
        first_record.unwrap_or_default().as_micros(),
        cpu_s * 1e6 / count.max(1) as f64,
    );
    Ok(())
}

/// 64 distinct text-like payloads (so lz4 has realistic work, not one repeated record). The
/// same generator as `produce_load`.
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
// /proc readers.

/// utime and stime, in clock ticks, from a `/proc/<pid>/stat` file ((0, 0) if unreadable).
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

/// utime + stime in clock ticks.
fn cpu_ticks_of(path: &str) -> u64 {
    let (u, s) = cpu_split(path);
    u + s
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

/// Peak resident set size (`VmHWM`) of this process in KiB.
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
