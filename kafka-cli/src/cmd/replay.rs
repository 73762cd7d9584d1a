//! `kafka replay`: copies a range of records from one topic into another, keeping keys,
//! headers and timestamps (CreateTime), partition by partition.
//!
//! The range is `--from` (a start of the `-o` grammar: start, end, N, +N, -N, @TIME) up to
//! `--to` (end: the log end when the command started; an offset, exclusive; or @TIME), per
//! source partition. Records keep their partition number unless `--partition-map` or
//! `--into-partition` says otherwise.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use clap::Args;
use kafka_client::{Client, Producer, ProducerRecord};
use serde_json::json;

use super::consume::reader::{self, Reader};
use super::produce::{ensure_topic, quiet, stderr_is_tty, tune, Pacer, DELIVERIES};
use super::Ctx;
use crate::exit::usage;
use crate::output::{self, Format};
use crate::records::offset::{self, OffsetRange};

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The source topic.
    #[arg(value_name = "SRC")]
    pub source: String,
    /// The destination topic.
    #[arg(long, value_name = "DST")]
    pub into: String,
    /// Only these source partitions (comma-separated).
    #[arg(
        short = 'p',
        long = "partitions",
        value_delimiter = ',',
        value_name = "P,..."
    )]
    pub partitions: Vec<i32>,
    /// Where to start in each source partition: start, end, N, +N, -N, @TIME (e.g. @-1h).
    #[arg(
        long,
        value_name = "SPEC",
        default_value = "start",
        allow_hyphen_values = true
    )]
    pub from: String,
    /// Where to stop (exclusive): end (the log end as of now), an offset, or @TIME.
    #[arg(
        long,
        value_name = "SPEC",
        default_value = "end",
        allow_hyphen_values = true
    )]
    pub to: String,
    /// At most N records per second.
    #[arg(long, value_name = "N")]
    pub rate: Option<f64>,
    /// Count what would be copied without writing.
    #[arg(long)]
    pub dry_run: bool,
    /// Give copies the current time instead of the original timestamps.
    #[arg(long)]
    pub new_timestamps: bool,
    /// Where each source partition goes: SRC=DST,... (every copied partition must be listed).
    #[arg(long, value_name = "SRC=DST,...", conflicts_with = "into_partition")]
    pub partition_map: Option<String>,
    /// Send every record to this destination partition.
    #[arg(long, value_name = "P")]
    pub into_partition: Option<i32>,
}

#[derive(Debug)]
enum Mapping {
    Same,
    One(i32),
    Map(HashMap<i32, i32>),
}

impl Mapping {
    fn parse(a: &ReplayArgs) -> anyhow::Result<Mapping> {
        if let Some(p) = a.into_partition {
            if p < 0 {
                return Err(usage(format!(
                    "--into-partition must be 0 or more, got {p}"
                )));
            }
            return Ok(Mapping::One(p));
        }
        let Some(m) = &a.partition_map else {
            return Ok(Mapping::Same);
        };
        let mut map = HashMap::new();
        for pair in m.split(',').filter(|s| !s.trim().is_empty()) {
            let parsed = pair.split_once('=').and_then(|(s, d)| {
                Some((s.trim().parse::<i32>().ok()?, d.trim().parse::<i32>().ok()?))
            });
            match parsed {
                Some((s, d)) if s >= 0 && d >= 0 => {
                    if map.insert(s, d).is_some() {
                        return Err(usage(format!("--partition-map lists partition {s} twice")));
                    }
                }
                _ => {
                    return Err(usage(format!(
                        "--partition-map expects SRC=DST,... (e.g. 0=1,1=0), got `{pair}`"
                    )))
                }
            }
        }
        Ok(Mapping::Map(map))
    }

    fn target(&self, p: i32) -> Option<i32> {
        match self {
            Mapping::Same => Some(p),
            Mapping::One(d) => Some(*d),
            Mapping::Map(m) => m.get(&p).copied(),
        }
    }
}

#[derive(Debug, Default)]
struct Copied {
    records: u64,
    first: Option<i64>,
    last: Option<i64>,
}

pub async fn run(a: ReplayArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let range = OffsetRange {
        start: offset::parse_start(&a.from).map_err(usage)?,
        stop: offset::parse_stop(&a.to).map_err(usage)?,
    };
    let mapping = Mapping::parse(&a)?;
    let mut pacer = Pacer::new(a.rate)?;
    let settings = ctx.settings()?;
    let mut ccfg = settings.consumer_config()?;
    reader::tune(&mut ccfg, &settings.properties);
    let mut pcfg = settings.producer_config()?;
    tune(&mut pcfg, &settings.properties);

    let client = Client::connect(ccfg.client.clone()).await?;
    let only = (!a.partitions.is_empty()).then_some(a.partitions.as_slice());
    let tps = reader::partitions_of(&client, std::slice::from_ref(&a.source), only).await?;
    let plan = reader::plan(&client, &tps, &range, true).await?;
    let producer = if a.dry_run {
        None
    } else {
        let dst_parts = ensure_topic(&client, &a.into).await?;
        for p in &plan {
            let src = p.tp.partition;
            match mapping.target(src) {
                None => {
                    return Err(usage(format!(
                        "source partition {src} is not in --partition-map; add {src}=DST"
                    )))
                }
                Some(d) if d >= dst_parts => {
                    return Err(usage(format!(
                        "`{}` has {dst_parts} partition(s), so source partition {src} cannot go to partition {d}; use --partition-map or --into-partition",
                        a.into
                    )))
                }
                Some(_) => {}
            }
        }
        Some(Producer::with_client(client.clone(), pcfg)?)
    };

    let total: u64 = plan
        .iter()
        .map(|p| p.stop.map_or(0, |s| (s - p.start).max(0) as u64))
        .sum();
    let progress = (stderr_is_tty() && !quiet()).then(|| {
        let pb = indicatif::ProgressBar::new(total);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} records {per_sec} eta {eta}",
        ) {
            pb.set_style(style);
        }
        pb
    });
    let deliveries = &DELIVERIES;
    let mut copied: BTreeMap<i32, Copied> = BTreeMap::new();
    let mut rd = Reader::assigned(&client, ccfg, &plan)?;
    let dst: Arc<str> = Arc::from(a.into.as_str());
    while let Some(batch) = rd.next_batch().await? {
        for r in &batch {
            let c = copied.entry(r.partition).or_default();
            c.records += 1;
            c.first.get_or_insert(r.offset);
            c.last = Some(r.offset);
            let Some(producer) = &producer else { continue };
            let rec = ProducerRecord {
                topic: dst.to_string(),
                partition: mapping.target(r.partition),
                key: r.key.clone(),
                value: r.value.clone(),
                headers: r
                    .headers
                    .iter()
                    .map(|h| (h.key.clone(), h.value.clone()))
                    .collect(),
                timestamp: (!a.new_timestamps && r.timestamp >= 0).then_some(r.timestamp),
            };
            pacer.next().await;
            producer
                .send_with(rec, |res| DELIVERIES.record(&res))
                .await?;
        }
        if let Some(p) = &progress {
            p.inc(batch.len() as u64);
        }
    }
    rd.close().await?;
    if let Some(p) = &producer {
        p.close().await?;
    }
    client.close().await;
    if let Some(p) = &progress {
        p.finish_and_clear();
    }

    let verb = if a.dry_run { "would copy" } else { "copied" };
    let rows: Vec<_> = plan
        .iter()
        .map(|p| {
            let c = copied.get(&p.tp.partition);
            (
                p,
                c.map_or(0, |c| c.records),
                c.and_then(|c| c.first),
                c.and_then(|c| c.last),
            )
        })
        .collect();
    let sum: u64 = rows.iter().map(|r| r.1).sum();
    match ctx.format() {
        Format::Json => output::print_json(&json!({
            "source": a.source,
            "destination": a.into,
            "dry_run": a.dry_run,
            "records": sum,
            "failed": deliveries.failed.load(Ordering::Relaxed),
            "partitions": rows.iter().map(|(p, n, first, last)| json!({
                "partition": p.tp.partition,
                "into_partition": mapping.target(p.tp.partition),
                "from_offset": p.start,
                "to_offset": p.stop,
                "records": n,
                "first_offset": first,
                "last_offset": last,
            })).collect::<Vec<_>>(),
        }))?,
        Format::Table => {
            let mut t = output::table(&["partition", "into", "range", "records", "first", "last"]);
            for (p, n, first, last) in &rows {
                let s = |o: &Option<i64>| o.map_or("-".to_string(), |o| o.to_string());
                t.add_row(vec![
                    p.tp.partition.to_string(),
                    mapping
                        .target(p.tp.partition)
                        .map_or("-".into(), |d| d.to_string()),
                    format!("[{}, {})", p.start, p.stop.unwrap_or(p.start)),
                    n.to_string(),
                    s(first),
                    s(last),
                ]);
            }
            output::print_table(&t)?;
            output::print_line(&format!(
                "{verb} {sum} records from {} to {}",
                a.source, a.into
            ))?;
        }
    }
    deliveries.outcome("records")
}
