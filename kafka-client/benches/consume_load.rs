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

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_client::consumer::{Consumer, ConsumerConfig, TopicPartition};
use kafka_client::kafka_proto::record::Compression;
use kafka_client::producer::Acks;
use kafka_client::{Producer, ProducerConfig, ProducerRecord, RecordMetadata};

#[path = "load/mod.rs"]
mod load;
use load::*;

const ROLE: &str = "CONSUME_LOAD_ROLE";

/// How long the client may take for all records before the run counts as failed.
const DEADLINE: Duration = Duration::from_secs(300);

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

// ---------------------------------------------------------------------------------------------
// The broker process.

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

// ---------------------------------------------------------------------------------------------
// /proc readers.
