//! Our producer against librdkafka (through the `rdkafka` crate), at equal settings, in the same
//! run, against the same bundled broker.
//!
//! ```text
//! cargo run --release --manifest-path benches/compare/Cargo.toml --bin produce_compare
//! RECORDS=200000 RUNS=3 CODECS=lz4 cargo run --release --manifest-path ... --bin produce_compare
//! ```
//!
//! Environment: `RECORDS` (1000000), `RECORD_SIZE` (100), `CODECS` (`none,lz4`), `CLIENTS`
//! (`ours,rdkafka`), `RUNS` (1; with more, the summary is the median of each column),
//! `PARTITIONS` (1), `CLIENT_THREADS` (our client's tokio worker threads, 2; 0 for a
//! current-thread runtime).
//!
//! Processes: the binary re-executes itself with `--role broker` (serves until its stdin closes)
//! and then once per client and codec with `--role ours|rdkafka --codec C`, so each client's CPU
//! time and peak RSS are its own. See README.md for what is measured.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_compare_benches::load::{
    clock_ticks_per_second, cpu_ticks, histogram, payloads, peak_rss_kib, CpuClock,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The settings both clients get, as librdkafka/Java property names.
const LINGER_MS: u64 = 5;
const BATCH_SIZE: usize = 1 << 20;
const BUFFER_MEMORY: usize = 32 << 20;
const MAX_IN_FLIGHT: usize = 5;

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
        eprintln!("produce_compare: {e}");
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
// The parent.

/// One client run's numbers (from its `result` line) plus the broker's CPU during it.
#[derive(Debug, Clone)]
struct Row {
    client: String,
    codec: String,
    msgs_per_s: f64,
    mb_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    rss_mib: f64,
    cpu_per_million: f64,
    user_s: f64,
    sys_s: f64,
    broker_cpu_s: f64,
    errors: f64,
}

impl Row {
    fn parse(client: &str, codec: &str, line: &str, broker_cpu_s: f64) -> Row {
        let fields: Vec<(&str, f64)> = line
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k, v.parse().unwrap_or(f64::NAN)))
            .collect();
        let get = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| *k == key)
                .map_or(f64::NAN, |(_, v)| *v)
        };
        Row {
            client: client.to_owned(),
            codec: codec.to_owned(),
            msgs_per_s: get("msgs_per_s"),
            mb_per_s: get("mb_per_s"),
            p50_ms: get("p50_us") / 1000.0,
            p99_ms: get("p99_us") / 1000.0,
            rss_mib: get("peak_rss_kib") / 1024.0,
            cpu_per_million: get("cpu_s_per_million"),
            user_s: get("user_s"),
            sys_s: get("sys_s"),
            broker_cpu_s,
            errors: get("errors"),
        }
    }

    fn name(&self) -> &str {
        if self.client == "rdkafka" {
            "librdkafka"
        } else {
            &self.client
        }
    }
}

fn print_header() {
    println!(
        "{:<11} {:<6} {:>10} {:>8} {:>8} {:>8} {:>8} {:>9} {:>13} {:>10} {:>6}",
        "client",
        "codec",
        "msgs/s",
        "MB/s",
        "p50 ms",
        "p99 ms",
        "RSS MiB",
        "CPU s/1M",
        "(user+sys s)",
        "broker CPU",
        "errors"
    );
}

fn print_row(r: &Row) {
    println!(
        "{:<11} {:<6} {:>10.0} {:>8.1} {:>8.2} {:>8.2} {:>8.1} {:>9.3} {:>13} {:>9.2}s {:>6}",
        r.name(),
        r.codec,
        r.msgs_per_s,
        r.mb_per_s,
        r.p50_ms,
        r.p99_ms,
        r.rss_mib,
        r.cpu_per_million,
        format!("({:.2}+{:.2})", r.user_s, r.sys_s),
        r.broker_cpu_s,
        r.errors
    );
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The median of every column over the runs of one client and codec.
fn summarize(rows: &[&Row]) -> Option<Row> {
    let first = (*rows.first()?).clone();
    let m = |f: fn(&Row) -> f64| median(rows.iter().map(|r| f(r)).collect());
    Some(Row {
        msgs_per_s: m(|r| r.msgs_per_s),
        mb_per_s: m(|r| r.mb_per_s),
        p50_ms: m(|r| r.p50_ms),
        p99_ms: m(|r| r.p99_ms),
        rss_mib: m(|r| r.rss_mib),
        cpu_per_million: m(|r| r.cpu_per_million),
        user_s: m(|r| r.user_s),
        sys_s: m(|r| r.sys_s),
        broker_cpu_s: m(|r| r.broker_cpu_s),
        errors: rows.iter().map(|r| r.errors).sum(),
        ..first
    })
}

fn run_parent() -> Result<(), BoxError> {
    let records = env_num("RECORDS", 1_000_000);
    let record_size = env_num("RECORD_SIZE", 100);
    let partitions = env_num("PARTITIONS", 1);
    let runs = env_num("RUNS", 1).max(1);
    let list = |name: &str, default: &str| -> Vec<String> {
        std::env::var(name)
            .unwrap_or_else(|_| default.into())
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let codecs = list("CODECS", "none,lz4");
    let clients = list("CLIENTS", "ours,rdkafka");
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
    println!(
        "produce_compare: {records} records x {record_size} B, acks=1, linger.ms={LINGER_MS}, \
         batch.size={BATCH_SIZE}, buffer {} MiB, max.in.flight={MAX_IN_FLIGHT}, idempotence off, \
         {partitions} partition(s), {runs} run(s), broker {bootstrap}",
        BUFFER_MEMORY >> 20
    );
    print_header();
    let mut rows: Vec<Row> = Vec::new();
    let mut topic_no = 0;
    for run in 0..runs {
        for codec in &codecs {
            for client in &clients {
                topic_no += 1;
                let topic = format!("compare-{client}-{codec}-{run}-{topic_no}");
                let (u0, s0) = cpu_ticks(&broker_stat);
                let out = Command::new(&exe)
                    .args(["--role", client, "--codec", codec])
                    .env("BOOTSTRAP", &bootstrap)
                    .env("TOPIC", &topic)
                    .env("RECORDS", records.to_string())
                    .env("RECORD_SIZE", record_size.to_string())
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
    println!("\nratios ours / librdkafka (msgs/s: higher is better; CPU per record and RSS: lower is better):");
    for codec in &codecs {
        let find = |c: &str| summary.iter().find(|r| r.client == c && &r.codec == codec);
        if let (Some(o), Some(l)) = (find("ours"), find("rdkafka")) {
            println!(
                "  {codec:<6} msgs/s {:.2}x   CPU/record {:.2}x   peak RSS {:.2}x   p99 {:.2}x",
                o.msgs_per_s / l.msgs_per_s,
                o.cpu_per_million / l.cpu_per_million,
                o.rss_mib / l.rss_mib,
                o.p99_ms / l.p99_ms,
            );
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

/// What a client reports: records sent in `elapsed`, CPU over the same span.
struct Outcome {
    records: u64,
    record_size: usize,
    elapsed: Duration,
    user_s: f64,
    sys_s: f64,
}

fn run_client(client: &str, codec: &str) -> Result<(), BoxError> {
    let bootstrap = std::env::var("BOOTSTRAP")?;
    let topic = std::env::var("TOPIC")?;
    let records = env_num("RECORDS", 1_000_000);
    let record_size = usize::try_from(env_num("RECORD_SIZE", 100))?;
    let outcome = match client {
        "ours" => ours(&bootstrap, &topic, codec, records, record_size)?,
        "rdkafka" => librdkafka(&bootstrap, &topic, codec, records, record_size)?,
        other => return Err(format!("unknown client {other}").into()),
    };
    let hist = histogram();
    let secs = outcome.elapsed.as_secs_f64();
    let cpu_s = outcome.user_s + outcome.sys_s;
    println!(
        "result records={} elapsed_s={secs:.3} msgs_per_s={:.0} mb_per_s={:.2} p50_us={} \
         p99_us={} max_us={} peak_rss_kib={} cpu_s={cpu_s:.3} cpu_s_per_million={:.3} \
         user_s={:.3} sys_s={:.3} delivered={} errors={}",
        outcome.records,
        outcome.records as f64 / secs,
        outcome.records as f64 * outcome.record_size as f64 / secs / 1e6,
        hist.quantile(0.50),
        hist.quantile(0.99),
        hist.quantile(1.0),
        peak_rss_kib(),
        cpu_s * 1e6 / outcome.records.max(1) as f64,
        outcome.user_s,
        outcome.sys_s,
        hist.count(),
        hist.errors(),
    );
    Ok(())
}

/// Our producer: `send_with` and a callback per record, as `kafka-client/benches/produce_load.rs`.
fn ours(
    bootstrap: &str,
    topic: &str,
    codec: &str,
    records: u64,
    record_size: usize,
) -> Result<Outcome, BoxError> {
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
    let threads = usize::try_from(env_num("CLIENT_THREADS", 2))?;
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
    let payloads: Vec<Bytes> = payloads(record_size).into_iter().map(Bytes::from).collect();
    rt.block_on(async {
        let config = ProducerConfig::new(bootstrap)
            .acks(Acks::Leader)
            .linger(Duration::from_millis(LINGER_MS))
            .batch_size(BATCH_SIZE)
            .buffer_memory(BUFFER_MEMORY)
            .compression(compression, None)
            .idempotence(false);
        let mut config = config;
        config.client = config.client.max_in_flight(MAX_IN_FLIGHT);
        let producer = Producer::connect(config).await?;
        // Warm-up: connection, metadata, topic auto-creation.
        producer
            .send(ProducerRecord::new(topic).value(payloads[0].clone()))
            .await?
            .await?;

        let hist = histogram();
        let cpu = CpuClock::start();
        let started = Instant::now();
        for i in 0..records {
            let sent = Instant::now();
            let value = payloads[(i as usize) % payloads.len()].clone();
            producer
                .send_with(
                    ProducerRecord::new(topic).value(value),
                    move |r: kafka_client::Result<RecordMetadata>| match r {
                        Ok(_) => hist.record(sent.elapsed()),
                        Err(_) => hist.error(),
                    },
                )
                .await?;
        }
        producer.flush().await?;
        let elapsed = started.elapsed();
        let (user_s, sys_s) = cpu.elapsed();
        producer.close().await?;
        Ok(Outcome {
            records,
            record_size,
            elapsed,
            user_s,
            sys_s,
        })
    })
}

/// The delivery opaque of the warm-up record, which is not counted.
const WARM_UP: usize = usize::MAX;

/// librdkafka's delivery reports land here (on the thread that polls).
struct Reports {
    origin: Instant,
}

impl rdkafka::ClientContext for Reports {}

impl rdkafka::producer::ProducerContext for Reports {
    /// When the record was handed over, in nanoseconds since `origin` (no allocation per record).
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &rdkafka::producer::DeliveryResult<'_>, sent: usize) {
        let hist = histogram();
        match result {
            _ if sent == WARM_UP => {}
            Ok(_) => {
                let now = self.origin.elapsed();
                hist.record(now.saturating_sub(Duration::from_nanos(sent as u64)));
            }
            Err(_) => hist.error(),
        }
    }
}

/// librdkafka through `BaseProducer`: the application thread produces and polls for delivery
/// reports (every 128 records, and while the queue is full), librdkafka's own threads batch and
/// send. Time blocked on a full queue counts in the latency, as `send_with`'s wait does for ours.
fn librdkafka(
    bootstrap: &str,
    topic: &str,
    codec: &str,
    records: u64,
    record_size: usize,
) -> Result<Outcome, BoxError> {
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

    let payloads = payloads(record_size);
    let producer: BaseProducer<Reports> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "1")
        .set("linger.ms", LINGER_MS.to_string())
        .set("batch.size", BATCH_SIZE.to_string())
        // The byte limit governs, as for ours (librdkafka's default caps a batch at 10000).
        .set("batch.num.messages", "1000000")
        .set("compression.codec", codec)
        .set("enable.idempotence", "false")
        .set(
            "queue.buffering.max.kbytes",
            (BUFFER_MEMORY >> 10).to_string(),
        )
        // Likewise the byte limit of the queue, not its default 100000 messages.
        .set("queue.buffering.max.messages", "10000000")
        .set(
            "max.in.flight.requests.per.connection",
            MAX_IN_FLIGHT.to_string(),
        )
        // Ours sets TCP_NODELAY.
        .set("socket.nagle.disable", "true")
        .create_with_context(Reports {
            origin: Instant::now(),
        })?;
    let origin = producer.context().origin;

    // Warm-up: connection, metadata, topic auto-creation.
    let warm =
        BaseRecord::<(), [u8], usize>::with_opaque_to(topic, WARM_UP).payload(&payloads[0][..]);
    producer.send(warm).map_err(|(e, _)| e)?;
    producer.flush(Duration::from_secs(30))?;

    let cpu = CpuClock::start();
    let started = Instant::now();
    for i in 0..records {
        let sent = origin.elapsed().as_nanos() as usize;
        let value = &payloads[(i as usize) % payloads.len()][..];
        let mut record = BaseRecord::<(), [u8], usize>::with_opaque_to(topic, sent).payload(value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
        if i % 128 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120))?;
    let elapsed = started.elapsed();
    let (user_s, sys_s) = cpu.elapsed();
    Ok(Outcome {
        records,
        record_size,
        elapsed,
        user_s,
        sys_s,
    })
}
