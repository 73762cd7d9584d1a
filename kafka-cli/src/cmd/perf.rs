//! `kafka perf`: throughput and latency, in the spirit of kafka-producer-perf-test and
//! kafka-consumer-perf-test. `--format json` prints one JSON object.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use kafka_client::{Client, Producer, ProducerRecord};
use serde_json::json;

use super::consume::reader::{self, Reader};
use super::produce::{ensure_topic, Pacer};
use super::Ctx;
use crate::exit::{fail, usage, Exit};
use crate::output::{self, Format};
use crate::records::offset::{OffsetRange, Start, Stop};

#[derive(Debug, clap::Subcommand)]
pub enum PerfCommand {
    /// Produce N records of S bytes as fast as possible (or at --throughput).
    Produce(PerfProduce),
    /// Consume N records from the start of a topic.
    Consume(PerfConsume),
}

#[derive(Debug, Args)]
pub struct PerfProduce {
    /// The topic.
    pub topic: String,
    /// Records to send.
    #[arg(long, value_name = "N")]
    pub num_records: u64,
    /// Bytes per record value.
    #[arg(long, value_name = "BYTES", default_value_t = 100)]
    pub record_size: usize,
    /// Acknowledgements to wait for.
    #[arg(long, value_parser = ["0", "1", "all", "-1"], default_value = "all")]
    pub acks: String,
    /// linger.ms.
    #[arg(long, value_name = "MS")]
    pub linger_ms: Option<u64>,
    /// Compression.
    #[arg(short = 'z', long = "compression", value_parser = ["none", "gzip", "snappy", "lz4", "zstd"])]
    pub compression: Option<String>,
    /// At most R records per second (default: unthrottled).
    #[arg(long, value_name = "R")]
    pub throughput: Option<f64>,
}

#[derive(Debug, Args)]
pub struct PerfConsume {
    /// The topic.
    pub topic: String,
    /// Records to read.
    #[arg(long, value_name = "N")]
    pub num_records: u64,
    /// Give up after this long without a record (e.g. 10s).
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub timeout: String,
}

/// Percentiles of a latency sample (µs), in ms.
fn percentiles(mut v: Vec<u64>) -> serde_json::Value {
    if v.is_empty() {
        return json!(null);
    }
    v.sort_unstable();
    let at = |q: f64| {
        let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
        v[i] as f64 / 1000.0
    };
    let avg = v.iter().sum::<u64>() as f64 / v.len() as f64 / 1000.0;
    json!({
        "avg": round3(avg),
        "p50": round3(at(0.50)),
        "p95": round3(at(0.95)),
        "p99": round3(at(0.99)),
        "max": round3(at(1.0)),
    })
}

/// Sub-buckets per power of two of the latency histogram (relative error under 1.6%).
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;

/// Send-to-ack latencies in microseconds: log-linear buckets (exact below 128 µs, then 64 per
/// power of two), filled with relaxed atomic adds from the delivery callbacks, so recording
/// costs no lock and no allocation however many records a run sends.
struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum_us: AtomicU64,
    max_us: AtomicU64,
    failed: AtomicU64,
}

impl Histogram {
    fn new() -> Histogram {
        let n = (64 - SUB_BITS as usize) * SUB as usize + SUB as usize;
        Histogram {
            buckets: (0..n).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    fn index(us: u64) -> usize {
        if us < 2 * SUB {
            return us as usize;
        }
        let msb = 63 - us.leading_zeros();
        let shift = msb - SUB_BITS;
        ((shift as u64 + 1) * SUB + ((us >> shift) - SUB)) as usize
    }

    /// The lowest latency that falls in bucket `i` (the inverse of [`Histogram::index`]).
    fn lower_bound(i: usize) -> u64 {
        let i = i as u64;
        if i < 2 * SUB {
            return i;
        }
        let shift = i / SUB - 1;
        (SUB + i % SUB) << shift
    }

    fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        if let Some(b) = self.buckets.get(Self::index(us)) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    /// avg, p50, p95, p99 and max in ms (each percentile the lower edge of its bucket).
    fn summary(&self) -> serde_json::Value {
        let count = self.count.load(Ordering::Relaxed);
        if count == 0 {
            return json!(null);
        }
        let at = |q: f64| {
            let rank = ((count as f64 * q).ceil() as u64).clamp(1, count);
            let mut seen = 0;
            for (i, b) in self.buckets.iter().enumerate() {
                seen += b.load(Ordering::Relaxed);
                if seen >= rank {
                    return Self::lower_bound(i) as f64 / 1000.0;
                }
            }
            self.max_us.load(Ordering::Relaxed) as f64 / 1000.0
        };
        let avg = self.sum_us.load(Ordering::Relaxed) as f64 / count as f64 / 1000.0;
        json!({
            "avg": round3(avg),
            "p50": round3(at(0.50)),
            "p95": round3(at(0.95)),
            "p99": round3(at(0.99)),
            "max": round3(self.max_us.load(Ordering::Relaxed) as f64 / 1000.0),
        })
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn print(ctx: &Ctx, v: serde_json::Value, latency_label: &str) -> anyhow::Result<()> {
    if ctx.format() == Format::Json {
        return output::print_json(&v);
    }
    let l = &v["latency_ms"];
    let lat = if l.is_null() {
        "no latency samples".to_string()
    } else {
        format!(
            "{latency_label} ms: avg {}, p50 {}, p95 {}, p99 {}, max {}",
            l["avg"], l["p50"], l["p95"], l["p99"], l["max"]
        )
    };
    output::print_line(&format!(
        "{} records, {} bytes in {:.3} s: {:.0} records/s, {:.2} MB/s; {lat}",
        v["records"],
        v["bytes"],
        v["seconds"].as_f64().unwrap_or(0.0),
        v["records_per_sec"].as_f64().unwrap_or(0.0),
        v["mb_per_sec"].as_f64().unwrap_or(0.0),
    ))
}

pub async fn run(c: PerfCommand, ctx: &Ctx) -> anyhow::Result<()> {
    match c {
        PerfCommand::Produce(a) => produce(a, ctx).await,
        PerfCommand::Consume(a) => consume(a, ctx).await,
    }
}

async fn produce(a: PerfProduce, ctx: &Ctx) -> anyhow::Result<()> {
    let mut pacer = Pacer::new(a.throughput.filter(|t| *t > 0.0))?;
    let settings = ctx.settings()?;
    let mut cfg = settings.producer_config()?;
    cfg.set("acks", &a.acks).map_err(|e| usage(e.to_string()))?;
    if let Some(l) = a.linger_ms {
        cfg.set("linger.ms", &l.to_string())
            .map_err(|e| usage(e.to_string()))?;
    }
    if let Some(z) = &a.compression {
        cfg.set("compression.type", z)
            .map_err(|e| usage(e.to_string()))?;
    }
    let payload: Bytes = (0..a.record_size)
        .map(|i| b'a' + (fastrand_byte(i) % 26))
        .collect::<Vec<u8>>()
        .into();
    let client = Client::connect(cfg.client.clone()).await?;
    ensure_topic(&client, &a.topic).await?;
    let producer = Producer::with_client(client.clone(), cfg)?;
    // One histogram for the run, leaked so that each delivery callback holds a plain
    // reference (an `Arc` would put two atomic counts per record on one contended line).
    let hist: &'static Histogram = Box::leak(Box::new(Histogram::new()));
    let start = Instant::now();
    for _ in 0..a.num_records {
        pacer.next().await;
        let sent = Instant::now();
        let rec = ProducerRecord::new(a.topic.as_str()).value(payload.clone());
        producer
            .send_with(rec, move |r| match r {
                Ok(_) => hist.record(sent.elapsed()),
                Err(_) => {
                    hist.failed.fetch_add(1, Ordering::Relaxed);
                }
            })
            .await?;
    }
    producer.flush().await?;
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    producer.close().await?;
    client.close().await;
    let n = a.num_records;
    let bytes = n * a.record_size as u64;
    print(
        ctx,
        json!({
            "records": n,
            "bytes": bytes,
            "seconds": round3(secs),
            "records_per_sec": (n as f64 / secs).round() as u64,
            "mb_per_sec": round3(bytes as f64 / secs / 1e6),
            "failed": hist.failed.load(Ordering::Relaxed),
            "latency_ms": hist.summary(),
        }),
        "send-to-ack latency",
    )?;
    let f = hist.failed.load(Ordering::Relaxed);
    if f > 0 {
        return Err(fail(Exit::Error, format!("{f} of {n} records failed")));
    }
    Ok(())
}

/// A cheap deterministic byte pattern for payloads.
fn fastrand_byte(i: usize) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 7) as u8
}

async fn consume(a: PerfConsume, ctx: &Ctx) -> anyhow::Result<()> {
    let idle = crate::timespec::parse_duration(&a.timeout)
        .map_err(|e| usage(format!("--timeout: {e}")))?;
    let settings = ctx.settings()?;
    let mut cfg = settings.consumer_config()?;
    reader::tune(&mut cfg, &settings.properties);
    let client = Client::connect(cfg.client.clone()).await?;
    let tps = reader::partitions_of(&client, std::slice::from_ref(&a.topic), None).await?;
    let range = OffsetRange {
        start: Start::Beginning,
        stop: Stop::Follow,
    };
    let plan = reader::plan(&client, &tps, &range, false).await?;
    let mut rd = Reader::assigned(&client, cfg, &plan)?;
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut waits = Vec::new();
    let start = Instant::now();
    let mut timed_out = false;
    while n < a.num_records {
        let t = Instant::now();
        let batch = match tokio::time::timeout(idle, rd.next_batch()).await {
            Ok(b) => b?,
            Err(_) => {
                timed_out = true;
                break;
            }
        };
        waits.push(t.elapsed().as_micros() as u64);
        let Some(batch) = batch else { break };
        for r in batch.iter().take((a.num_records - n) as usize) {
            n += 1;
            bytes += r.key.as_ref().map_or(0, |k| k.len() as u64)
                + r.value.as_ref().map_or(0, |v| v.len() as u64);
        }
    }
    let mut secs = start.elapsed();
    if timed_out {
        secs = secs.saturating_sub(idle);
    }
    let secs = secs.as_secs_f64().max(1e-9);
    rd.close().await?;
    client.close().await;
    if timed_out {
        eprintln!(
            "kafka: only {n} of {} records arrived (nothing for {}); the numbers cover those",
            a.num_records, a.timeout
        );
    }
    print(
        ctx,
        json!({
            "records": n,
            "bytes": bytes,
            "seconds": round3(secs),
            "records_per_sec": (n as f64 / secs).round() as u64,
            "mb_per_sec": round3(bytes as f64 / secs / 1e6),
            "latency_ms": percentiles(waits),
        }),
        "poll wait (per batch)",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_ordered_and_tight() {
        let mut last = 0;
        for us in (0..100_000u64).chain([1 << 20, 123_456_789, u64::MAX / 2]) {
            let i = Histogram::index(us);
            assert!(i >= last, "index goes backwards at {us}");
            last = i;
            let low = Histogram::lower_bound(i);
            assert!(low <= us, "{us} below its bucket's edge {low}");
            assert!((us - low) as f64 <= us as f64 / 63.0, "{us} vs {low}");
            assert_eq!(Histogram::index(low), i);
        }
        assert!(Histogram::index(u64::MAX) < Histogram::new().buckets.len());
    }

    #[test]
    fn histogram_percentiles() {
        let h = Histogram::new();
        assert!(h.summary().is_null());
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let s = h.summary();
        let close = |k: &str, want: f64| {
            let got = s[k].as_f64().unwrap();
            assert!((got - want).abs() <= want * 0.016, "{k}: {got} vs {want}");
        };
        close("p50", 50.0);
        close("p95", 95.0);
        close("p99", 99.0);
        assert_eq!(s["max"].as_f64(), Some(100.0));
        assert_eq!(s["avg"].as_f64(), Some(50.5));
    }
}
