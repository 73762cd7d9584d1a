//! Our consumer against librdkafka (through the `rdkafka` crate), at equal settings, in the same
//! run, reading the same records from the same bundled broker.
//!
//! ```text
//! cargo run --release --manifest-path benches/compare/Cargo.toml --bin consume_compare
//! RUNS=3 PARTITIONS=4 CODECS=lz4 cargo run --release --manifest-path ... --bin consume_compare
//! ```
//!
//! Environment: `RECORDS` (1000000), `RECORD_SIZE` (100), `CODECS` (`none,lz4`), `CLIENTS`
//! (`ours,rdkafka,rdkafka-nocrc`; also `rdkafka-stock`: librdkafka's own
//! `fetch.queue.backoff.ms`), `RUNS` (1; with more, the summary is the median of each column),
//! `PARTITIONS` (1), `CLIENT_THREADS` (our client's tokio worker threads, 2; 0 for a
//! current-thread runtime), `BATCH` (records per `recv_batch` call of ours, 10000),
//! `RDKAFKA_PROPS` and `OURS_PROPS` (extra properties, `k=v,k=v`, applied last).
//!
//! Processes: the binary re-executes itself with `--role broker` (serves until its stdin closes);
//! the parent then fills one topic per codec with our producer, and runs each client and codec
//! in a process of its own (`--role ours|rdkafka|rdkafka-nocrc --codec C`), so each client's CPU
//! time and peak RSS are its own. See README.md for what is measured.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_compare_benches::load::{
    clock_ticks_per_second, cpu_ticks, env_list, env_num, median, payloads, peak_rss_kib, CpuClock,
    Fields,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The settings both clients get.
const FETCH_MAX_BYTES: usize = 50 << 20;
const MAX_PARTITION_FETCH_BYTES: usize = 1 << 20;
const FETCH_MIN_BYTES: usize = 1;
const FETCH_MAX_WAIT_MS: u64 = 500;
const QUEUED_MAX_KBYTES: usize = 65_536;
/// How long a client may take for all records before the run counts as failed.
const DEADLINE: Duration = Duration::from_secs(300);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let result = match arg("--role").as_deref() {
        None => run_parent(),
        Some("broker") => run_broker(),
        Some(client) => run_client(client, &arg("--codec").unwrap_or_else(|| "none".into())),
    };
    if let Err(e) = result {
        eprintln!("consume_compare: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// The parent.

/// One client run's numbers (from its `result` line) plus the broker's CPU during it.
#[derive(Debug, Clone)]
struct Row {
    client: String,
    codec: String,
    msgs_per_s: f64,
    mb_per_s: f64,
    first_ms: f64,
    rss_mib: f64,
    cpu_per_million: f64,
    user_s: f64,
    sys_s: f64,
    broker_cpu_s: f64,
}

impl Row {
    fn parse(client: &str, codec: &str, line: &str, broker_cpu_s: f64) -> Row {
        let f = Fields::parse(line);
        Row {
            client: client.to_owned(),
            codec: codec.to_owned(),
            msgs_per_s: f.get("msgs_per_s"),
            mb_per_s: f.get("mb_per_s"),
            first_ms: f.get("first_record_us") / 1000.0,
            rss_mib: f.get("peak_rss_kib") / 1024.0,
            cpu_per_million: f.get("cpu_s_per_million"),
            user_s: f.get("user_s"),
            sys_s: f.get("sys_s"),
            broker_cpu_s,
        }
    }

    fn name(&self) -> &str {
        match self.client.as_str() {
            "rdkafka" => "librdkafka",
            "rdkafka-nocrc" => "librdkafka crc=off",
            "rdkafka-stock" => "librdkafka stock",
            other => other,
        }
    }
}

fn print_header() {
    println!(
        "{:<19} {:<6} {:>10} {:>8} {:>9} {:>8} {:>9} {:>13} {:>10}",
        "client",
        "codec",
        "msgs/s",
        "MB/s",
        "1st rec",
        "RSS MiB",
        "CPU s/1M",
        "(user+sys s)",
        "broker CPU",
    );
}

fn print_row(r: &Row) {
    println!(
        "{:<19} {:<6} {:>10.0} {:>8.1} {:>7.1}ms {:>8.1} {:>9.3} {:>13} {:>9.2}s",
        r.name(),
        r.codec,
        r.msgs_per_s,
        r.mb_per_s,
        r.first_ms,
        r.rss_mib,
        r.cpu_per_million,
        format!("({:.2}+{:.2})", r.user_s, r.sys_s),
        r.broker_cpu_s,
    );
}

/// The median of every column over the runs of one client and codec.
fn summarize(rows: &[&Row]) -> Option<Row> {
    let first = (*rows.first()?).clone();
    let m = |f: fn(&Row) -> f64| median(rows.iter().map(|r| f(r)).collect());
    Some(Row {
        msgs_per_s: m(|r| r.msgs_per_s),
        mb_per_s: m(|r| r.mb_per_s),
        first_ms: m(|r| r.first_ms),
        rss_mib: m(|r| r.rss_mib),
        cpu_per_million: m(|r| r.cpu_per_million),
        user_s: m(|r| r.user_s),
        sys_s: m(|r| r.sys_s),
        broker_cpu_s: m(|r| r.broker_cpu_s),
        ..first
    })
}

fn run_parent() -> Result<(), BoxError> {
    let records = env_num("RECORDS", 1_000_000);
    let record_size = env_num("RECORD_SIZE", 100);
    let partitions = env_num("PARTITIONS", 1).max(1);
    let runs = env_num("RUNS", 1).max(1);
    let codecs = env_list("CODECS", "none,lz4");
    let clients = env_list("CLIENTS", "ours,rdkafka,rdkafka-nocrc");
    let exe = std::env::current_exe()?;

    let mut broker = Command::new(&exe)
        .args(["--role", "broker"])
        .env("PARTITIONS", partitions.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let bootstrap = read_line(&mut broker)?;
    let broker_stat = format!("/proc/{}/stat", broker.id());
    let tick = clock_ticks_per_second();

    // One topic per codec, filled once by our producer here (not in a measured process).
    let mut topics = Vec::new();
    for codec in &codecs {
        let topic = format!("consume-compare-{codec}-{}", std::process::id());
        let started = Instant::now();
        fill(
            &bootstrap,
            &topic,
            codec,
            records,
            usize::try_from(record_size)?,
            i32::try_from(partitions)?,
        )?;
        println!(
            "filled {topic}: {records} records x {record_size} B, {codec}, {partitions} \
             partition(s), in {:.2} s",
            started.elapsed().as_secs_f64()
        );
        topics.push((codec.clone(), topic));
    }

    println!(
        "consume_compare: {records} records x {record_size} B from the beginning, no group \
         (assign), fetch.max.bytes={FETCH_MAX_BYTES}, max.partition.fetch.bytes=\
         {MAX_PARTITION_FETCH_BYTES}, fetch.min.bytes={FETCH_MIN_BYTES}, fetch wait \
         {FETCH_MAX_WAIT_MS} ms, queued.max.messages.kbytes={QUEUED_MAX_KBYTES}, \
         {partitions} partition(s), {runs} run(s), broker {bootstrap}"
    );
    print_header();
    let mut rows: Vec<Row> = Vec::new();
    for _run in 0..runs {
        for (codec, topic) in &topics {
            for client in &clients {
                let (u0, s0) = cpu_ticks(&broker_stat);
                let out = Command::new(&exe)
                    .args(["--role", client, "--codec", codec])
                    .env("BOOTSTRAP", &bootstrap)
                    .env("TOPIC", topic)
                    .env("RECORDS", records.to_string())
                    .env("PARTITIONS", partitions.to_string())
                    .stderr(Stdio::inherit())
                    .output()?;
                let (u1, s1) = cpu_ticks(&broker_stat);
                let broker_cpu = (u1 + s1).saturating_sub(u0 + s0) as f64 / tick;
                let stdout = String::from_utf8_lossy(&out.stdout);
                let Some(line) = stdout.lines().find(|l| l.starts_with("result ")) else {
                    return Err(
                        format!("{client} {codec} failed ({}): {stdout}", out.status).into(),
                    );
                };
                let row = Row::parse(client, codec, line, broker_cpu);
                print_row(&row);
                rows.push(row);
            }
        }
    }
    drop(broker.stdin.take());
    broker.wait()?;

    let mut summary = Vec::new();
    for codec in &codecs {
        for client in &clients {
            let of: Vec<&Row> = rows
                .iter()
                .filter(|r| &r.client == client && &r.codec == codec)
                .collect();
            summary.extend(summarize(&of));
        }
    }
    if runs > 1 {
        println!("\nmedian of {runs} runs:");
        print_header();
        for r in &summary {
            print_row(r);
        }
    }
    println!(
        "\nratios ours / librdkafka (msgs/s: higher is better, target >= 1.5x; CPU per record \
         and RSS: lower is better, targets <= 0.66x and <= 1.0x):"
    );
    for codec in &codecs {
        let find = |c: &str| summary.iter().find(|r| r.client == c && &r.codec == codec);
        for other in ["rdkafka", "rdkafka-nocrc"] {
            if let (Some(o), Some(l)) = (find("ours"), find(other)) {
                println!(
                    "  {codec:<6} vs {:<19} msgs/s {:.2}x   CPU/record {:.2}x   peak RSS {:.2}x",
                    l.name(),
                    o.msgs_per_s / l.msgs_per_s,
                    o.cpu_per_million / l.cpu_per_million,
                    o.rss_mib / l.rss_mib,
                );
            }
        }
    }
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

/// Writes `records` records (values only, `record_size` bytes, the 64 payloads in turn) to
/// `topic` with our producer: acks=1, 1 MiB batches, the codec, spread round-robin over the
/// partitions so each holds the same number.
fn fill(
    bootstrap: &str,
    topic: &str,
    codec: &str,
    records: u64,
    record_size: usize,
    partitions: i32,
) -> Result<(), BoxError> {
    use kafka_client::kafka_proto::record::Compression;
    use kafka_client::producer::Acks;
    use kafka_client::{Producer, ProducerConfig, ProducerRecord, RecordMetadata};

    let compression = match codec {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        other => return Err(format!("unknown codec {other}").into()),
    };
    let payloads: Vec<Bytes> = payloads(record_size).into_iter().map(Bytes::from).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let config = ProducerConfig::new(bootstrap)
            .acks(Acks::Leader)
            .linger(Duration::from_millis(5))
            .batch_size(1 << 20)
            .compression(compression, None)
            .idempotence(false);
        let producer = Producer::connect(config).await?;
        let failed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        for i in 0..records {
            let value = payloads[(i as usize) % payloads.len()].clone();
            let partition = i32::try_from(i % partitions as u64)?;
            let failed = failed.clone();
            producer
                .send_with(
                    ProducerRecord::new(topic).partition(partition).value(value),
                    move |r: kafka_client::Result<RecordMetadata>| {
                        if r.is_err() {
                            failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    },
                )
                .await?;
        }
        producer.flush().await?;
        producer.close().await?;
        let failed = failed.load(std::sync::atomic::Ordering::Relaxed);
        if failed > 0 {
            return Err(format!("{failed} records of the fill failed").into());
        }
        Ok::<(), BoxError>(())
    })
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
// The client processes.

/// What a client reports: records and value bytes read in `elapsed`, CPU over the same span.
struct Outcome {
    records: u64,
    value_bytes: u64,
    elapsed: Duration,
    first_record: Duration,
    user_s: f64,
    sys_s: f64,
}

fn run_client(client: &str, _codec: &str) -> Result<(), BoxError> {
    let bootstrap = std::env::var("BOOTSTRAP")?;
    let topic = std::env::var("TOPIC")?;
    let records = env_num("RECORDS", 1_000_000);
    let partitions = i32::try_from(env_num("PARTITIONS", 1))?;
    let outcome = match client {
        "ours" => ours(&bootstrap, &topic, partitions, records)?,
        "rdkafka" => librdkafka(&bootstrap, &topic, partitions, records, true, true)?,
        "rdkafka-nocrc" => librdkafka(&bootstrap, &topic, partitions, records, false, true)?,
        "rdkafka-stock" => librdkafka(&bootstrap, &topic, partitions, records, true, false)?,
        other => return Err(format!("unknown client {other}").into()),
    };
    let secs = outcome.elapsed.as_secs_f64();
    let cpu_s = outcome.user_s + outcome.sys_s;
    println!(
        "result records={} value_bytes={} elapsed_s={secs:.3} msgs_per_s={:.0} mb_per_s={:.2} \
         first_record_us={} peak_rss_kib={} cpu_s={cpu_s:.3} cpu_s_per_million={:.3} \
         user_s={:.3} sys_s={:.3}",
        outcome.records,
        outcome.value_bytes,
        outcome.records as f64 / secs,
        outcome.value_bytes as f64 / secs / 1e6,
        outcome.first_record.as_micros(),
        peak_rss_kib(),
        cpu_s * 1e6 / outcome.records.max(1) as f64,
        outcome.user_s,
        outcome.sys_s,
    );
    Ok(())
}

/// The properties both clients are given (Kafka/librdkafka names; ours reads both spellings).
fn common_properties(bootstrap: &str, check_crcs: bool) -> Vec<(&'static str, String)> {
    vec![
        ("bootstrap.servers", bootstrap.to_owned()),
        ("auto.offset.reset", "earliest".to_owned()),
        ("enable.auto.commit", "false".to_owned()),
        ("fetch.max.bytes", FETCH_MAX_BYTES.to_string()),
        (
            "max.partition.fetch.bytes",
            MAX_PARTITION_FETCH_BYTES.to_string(),
        ),
        ("fetch.min.bytes", FETCH_MIN_BYTES.to_string()),
        ("fetch.wait.max.ms", FETCH_MAX_WAIT_MS.to_string()),
        ("queued.max.messages.kbytes", QUEUED_MAX_KBYTES.to_string()),
        ("check.crcs", check_crcs.to_string()),
    ]
}

/// Our consumer: `assign` every partition (no group), `recv_batch` in a loop, summing the value
/// lengths. The clock (and CPU clock) start after connecting, just before `assign`.
fn ours(bootstrap: &str, topic: &str, partitions: i32, records: u64) -> Result<Outcome, BoxError> {
    use kafka_client::consumer::{Consumer, ConsumerConfig, TopicPartition};

    let threads = usize::try_from(env_num("CLIENT_THREADS", 2))?;
    let batch = usize::try_from(env_num("BATCH", 10_000))?.max(1);
    let rt = if threads == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    rt.block_on(async {
        let mut config = ConsumerConfig::from_properties(common_properties(bootstrap, true))?;
        // Extra or overriding properties, `k=v,k=v` (for experiments).
        for kv in env_list("OURS_PROPS", "") {
            if let Some((k, v)) = kv.split_once('=') {
                if !config.set(k.trim(), v.trim())? {
                    return Err(format!("unknown property {k}").into());
                }
            }
        }
        let consumer = Consumer::connect(config).await?;
        // Warm-up as for librdkafka: the topic's metadata.
        consumer.client().metadata_for(&[topic.to_owned()]).await?;
        let tps: Vec<TopicPartition> = (0..partitions)
            .map(|p| TopicPartition::new(topic, p))
            .collect();

        let cpu = CpuClock::start();
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
        let (user_s, sys_s) = cpu.elapsed();
        if env_num("STATS", 0) != 0 {
            eprintln!("ours: {:?}", consumer.stats());
        }
        consumer.close().await?;
        Ok(Outcome {
            records: count,
            value_bytes,
            elapsed,
            first_record: first_record.unwrap_or_default(),
            user_s,
            sys_s,
        })
    })
}

/// librdkafka through `BaseConsumer`: `assign` every partition at `Offset::Beginning`, then one
/// `poll` per message on the application thread, summing the payload lengths. A `group.id` is
/// set because librdkafka's consumer queue needs one, but nothing joins a group (assign) and
/// nothing is committed. The clock starts as for ours, after a metadata round trip.
fn librdkafka(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    records: u64,
    check_crcs: bool,
    no_queue_backoff: bool,
) -> Result<Outcome, BoxError> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Offset, TopicPartitionList};

    let mut config = rdkafka::ClientConfig::new();
    for (k, v) in common_properties(bootstrap, check_crcs) {
        config.set(k, v);
    }
    config
        .set(
            "group.id",
            format!("consume-compare-{}", std::process::id()),
        )
        .set("enable.auto.offset.store", "false")
        // Ours sets TCP_NODELAY.
        .set("socket.nagle.disable", "true");
    if no_queue_backoff {
        // librdkafka stops fetching a partition once `queued.min.messages` (100000) are queued
        // and then waits `fetch.queue.backoff.ms` (1000 by default) before fetching it again,
        // which caps it near 300k msgs/s here. Ours resumes as soon as the buffer drains, so
        // librdkafka gets the same: a 1 ms backoff (its fastest setting here that keeps RSS low;
        // raising `queued.min.messages` instead was slower and used 3-4x the memory).
        config.set("fetch.queue.backoff.ms", "1");
    }
    // Extra or overriding properties, `k=v,k=v` (for experiments).
    for kv in env_list("RDKAFKA_PROPS", "") {
        if let Some((k, v)) = kv.split_once('=') {
            config.set(k.trim(), v.trim());
        }
    }
    let consumer: BaseConsumer = config.create()?;
    consumer.fetch_metadata(Some(topic), Duration::from_secs(30))?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }

    let cpu = CpuClock::start();
    let started = Instant::now();
    consumer.assign(&tpl)?;
    let mut count = 0u64;
    let mut value_bytes = 0u64;
    let mut first_record = None;
    while count < records {
        if started.elapsed() > DEADLINE {
            return Err(format!("timed out after {count} records").into());
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(m)) => {
                first_record.get_or_insert_with(|| started.elapsed());
                count += 1;
                value_bytes += m.payload_len() as u64;
            }
            Some(Err(e)) => return Err(e.into()),
        }
    }
    let elapsed = started.elapsed();
    let (user_s, sys_s) = cpu.elapsed();
    Ok(Outcome {
        records: count,
        value_bytes,
        elapsed,
        first_record: first_record.unwrap_or_default(),
        user_s,
        sys_s,
    })
}
