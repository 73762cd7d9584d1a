//! `kafka produce`: one record per input line (stdin or `--file`), or JSON lines as `kafka
//! consume -J` prints them. Lines are bytes (binary-safe); the trailing `\n` or `\r\n` is cut.
//!
//! Input is read on its own thread in large blocks and cut into lines that are slices of the
//! block (no copy per line); the async side enqueues them with the producer's backpressure.

pub(crate) mod input;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use clap::{Args, ValueEnum};
use kafka_client::kafka_proto::ErrorCode;
use kafka_client::{Client, Producer, ProducerConfig, ProducerRecord};

use super::Ctx;
use crate::exit::{fail, not_found, partial, usage, Exit};
use crate::records::json;
use input::Chunk;

/// What each input line is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum InputKind {
    /// The value (see -k, -K, -Z).
    #[default]
    Lines,
    /// A JSON object as `kafka consume -J` prints it (key, value, headers, partition, timestamp).
    Jsonl,
}

#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// The topic.
    pub topic: String,
    /// Read this file instead of stdin.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// The key of every record.
    #[arg(
        short = 'k',
        long = "key",
        value_name = "KEY",
        conflicts_with = "key_delimiter"
    )]
    pub key: Option<String>,
    /// Split each line into key and value at the first DELIM (a line without it is a value
    /// with a null key).
    #[arg(short = 'K', long = "key-delimiter", value_name = "DELIM")]
    pub key_delimiter: Option<String>,
    /// A header k=v on every record (repeatable, order kept).
    #[arg(short = 'H', long = "header", value_name = "K=V")]
    pub headers: Vec<String>,
    /// Send every record to this partition (default: by key, Java's partitioner).
    #[arg(short = 'p', long = "partition", value_name = "P")]
    pub partition: Option<i32>,
    /// Compression.
    #[arg(short = 'z', long = "compression", value_name = "CODEC", value_parser = ["none", "gzip", "snappy", "lz4", "zstd"])]
    pub compression: Option<String>,
    /// Acknowledgements to wait for.
    #[arg(long, value_name = "ACKS", value_parser = ["0", "1", "all", "-1"])]
    pub acks: Option<String>,
    /// An empty value (or key, with -K) is sent as null (a tombstone).
    #[arg(short = 'Z', long = "null-empty")]
    pub null_empty: bool,
    /// At most N records per second.
    #[arg(long, value_name = "N")]
    pub rate: Option<f64>,
    /// What each line is.
    #[arg(long, value_enum, default_value_t = InputKind::Lines)]
    pub input: InputKind,
}

/// Whether -q was given (the logger is at error level).
pub(crate) fn quiet() -> bool {
    !tracing::enabled!(tracing::Level::WARN)
}

/// Delivery results, updated from the producer's callbacks.
#[derive(Debug)]
pub(crate) struct Deliveries {
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    pub first_error: Mutex<Option<String>>,
}

/// This process's deliveries: a static, so a callback captures nothing (no allocation and
/// no reference count per record).
pub(crate) static DELIVERIES: Deliveries = Deliveries::new();

impl Deliveries {
    pub const fn new() -> Deliveries {
        Deliveries {
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            first_error: Mutex::new(None),
        }
    }

    pub fn record(&self, r: &kafka_client::Result<kafka_client::RecordMetadata>) {
        match r {
            Ok(_) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut f = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
                if f.is_none() {
                    *f = Some(e.to_string());
                }
            }
        }
    }

    /// The error for failed deliveries, if any: exit 5 when some succeeded, else 1.
    pub fn outcome(&self, what: &str) -> anyhow::Result<()> {
        let failed = self.failed.load(Ordering::Relaxed);
        if failed == 0 {
            return Ok(());
        }
        let ok = self.ok.load(Ordering::Relaxed);
        let first = self
            .first_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_default();
        let msg = format!(
            "{failed} of {} {what} failed; first error: {first}",
            failed + ok
        );
        Err(if ok > 0 {
            partial(msg)
        } else {
            fail(Exit::Error, msg)
        })
    }
}

/// Paces to `rate` records per second.
#[derive(Debug)]
pub(crate) struct Pacer {
    rate: Option<f64>,
    start: Instant,
    sent: u64,
}

impl Pacer {
    pub fn new(rate: Option<f64>) -> anyhow::Result<Pacer> {
        if let Some(r) = rate {
            if !(r > 0.0 && r.is_finite()) {
                return Err(usage(format!("--rate must be a positive number, got {r}")));
            }
        }
        Ok(Pacer {
            rate,
            start: Instant::now(),
            sent: 0,
        })
    }

    /// Waits until the next record may go.
    pub async fn next(&mut self) {
        if let Some(r) = self.rate {
            let due = self.start + Duration::from_secs_f64(self.sent as f64 / r);
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
        }
        self.sent += 1;
    }
}

/// Producer settings of the command line: larger batches than the library's defaults unless
/// `-X` set them.
pub(crate) fn tune(cfg: &mut ProducerConfig, props: &[(String, String)]) {
    let set = |k: &str| props.iter().any(|(p, _)| p == k);
    if !set("batch.size") {
        cfg.batch_size = 512 << 10;
    }
}

/// Checks that `topic` exists (asking the broker to create it where it auto-creates).
pub(crate) async fn ensure_topic(client: &Client, topic: &str) -> anyhow::Result<i32> {
    let md = client
        .refresh_metadata_opts(Some(&[topic.to_owned()]), true)
        .await
        .context("fetching metadata")?;
    if let Some(info) = md.topic(topic) {
        return Ok(info.partitions.len() as i32);
    }
    match md.topic_errors.get(topic) {
        Some(ErrorCode::UnknownTopicOrPartition) | None => Err(not_found(format!(
            "topic `{topic}` does not exist and the broker does not create it (create it with: kafka topic create {topic})"
        ))),
        Some(code) => Err(fail(Exit::Error, format!("topic `{topic}`: {code:?}"))),
    }
}

fn parse_header(h: &str) -> anyhow::Result<(String, Bytes)> {
    match h.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), Bytes::from(v.to_owned()))),
        _ => Err(usage(format!("-H expects key=value, got `{h}`"))),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let mut i = 0;
    while let Some(p) = hay[i..=hay.len() - needle.len()]
        .iter()
        .position(|b| *b == first)
    {
        let at = i + p;
        if hay[at..].starts_with(needle) {
            return Some(at);
        }
        i = at + 1;
        if i > hay.len() - needle.len() {
            break;
        }
    }
    None
}

pub async fn run(a: ProduceArgs, ctx: &Ctx) -> anyhow::Result<()> {
    // Checked before connecting.
    let headers: Vec<(String, Option<Bytes>)> = a
        .headers
        .iter()
        .map(|h| parse_header(h).map(|(k, v)| (k, Some(v))))
        .collect::<anyhow::Result<_>>()?;
    if a.input == InputKind::Jsonl && (a.key.is_some() || a.key_delimiter.is_some() || a.null_empty)
    {
        return Err(usage(
            "--input jsonl takes keys and values from the JSON; drop -k, -K and -Z",
        ));
    }
    if a.key_delimiter.as_deref() == Some("") {
        return Err(usage("-K needs a non-empty delimiter"));
    }
    if let Some(p) = a.partition {
        if p < 0 {
            return Err(usage(format!("-p must be 0 or more, got {p}")));
        }
    }
    let mut pacer = Pacer::new(a.rate)?;
    let source = input::Source::open(a.file.as_deref())?;
    let settings = ctx.settings()?;
    let mut cfg = settings.producer_config()?;
    tune(&mut cfg, &settings.properties);
    if let Some(z) = &a.compression {
        cfg.set("compression.type", z)
            .map_err(|e| usage(e.to_string()))?;
    }
    if let Some(acks) = &a.acks {
        cfg.set("acks", acks).map_err(|e| usage(e.to_string()))?;
    }

    let client = Client::connect(cfg.client.clone()).await?;
    ensure_topic(&client, &a.topic).await?;
    let producer = Producer::with_client(client.clone(), cfg)?;

    let progress = source.progress_bar();
    let mut rx = source.spawn();
    let deliveries = &DELIVERIES;
    let key = a.key.clone().map(Bytes::from);
    let delim = a.key_delimiter.clone().map(String::into_bytes);
    let started = Instant::now();
    let (mut records, mut bytes) = (0u64, 0u64);
    let mut line_no = 0u64;
    let mut result: anyhow::Result<()> = Ok(());
    'read: while let Some(chunk) = rx.recv().await {
        let Chunk { lines, read_bytes } = match chunk {
            Ok(c) => c,
            Err(e) => {
                result = Err(anyhow::Error::new(e).context("reading the input"));
                break;
            }
        };
        // One clock read per block: its lines were read at the same moment.
        let now = crate::timespec::now_ms();
        for line in lines {
            line_no += 1;
            let mut rec = ProducerRecord {
                topic: a.topic.clone(),
                partition: a.partition,
                key: None,
                value: None,
                headers: headers.clone(),
                timestamp: a.rate.is_none().then_some(now),
            };
            match a.input {
                InputKind::Lines => {
                    let (k, v) = match &delim {
                        Some(d) => match find(&line, d) {
                            Some(at) => (Some(line.slice(..at)), line.slice(at + d.len()..)),
                            None => (None, line),
                        },
                        None => (key.clone(), line),
                    };
                    let nul = |b: Bytes| (!(a.null_empty && b.is_empty())).then_some(b);
                    rec.key = k.and_then(nul);
                    rec.value = nul(v);
                }
                InputKind::Jsonl => {
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    let j = match json::parse_record(&line) {
                        Ok(j) => j,
                        Err(e) => {
                            result = Err(usage(format!("{} line {line_no}: {e}", source.name())));
                            break 'read;
                        }
                    };
                    rec.key = j.key;
                    rec.value = j.value;
                    let mut hs = j.headers;
                    hs.extend(headers.iter().cloned());
                    rec.headers = hs;
                    rec.partition = a.partition.or(j.partition);
                    rec.timestamp = j.timestamp;
                }
            }
            bytes += rec.key.as_ref().map_or(0, |k| k.len() as u64)
                + rec.value.as_ref().map_or(0, |v| v.len() as u64);
            pacer.next().await;
            if let Err(e) = producer.send_with(rec, |r| DELIVERIES.record(&r)).await {
                result = Err(anyhow::Error::new(e).context(format!(
                    "{} line {line_no} could not be sent",
                    source.name()
                )));
                break 'read;
            }
            records += 1;
        }
        if let Some(p) = &progress {
            p.inc(read_bytes);
        }
    }
    drop(rx);
    producer.close().await?;
    client.close().await;
    if let Some(p) = &progress {
        p.finish_and_clear();
    }
    let elapsed = started.elapsed();
    if !quiet() {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let ok = deliveries.ok.load(Ordering::Relaxed);
        eprintln!(
            "produced {ok} records ({bytes} bytes) to {} in {:.2} s: {:.0} records/s, {:.2} MB/s",
            a.topic,
            secs,
            records as f64 / secs,
            bytes as f64 / secs / 1e6,
        );
    }
    result?;
    deliveries.outcome("records")
}

/// Whether stderr shows progress bars.
pub(crate) fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}
