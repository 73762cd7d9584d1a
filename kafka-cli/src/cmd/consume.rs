//! `kafka consume` and `kafka tail`: records to stdout, one per line (the value by default, a
//! `-f` format, or `-J` JSON lines), read from a range (`-o`), to the end (`-e`), a count
//! (`-c`), or following until Ctrl-C/SIGTERM (a clean stop, exit 0).

pub(crate) mod reader;

use std::io::Write;

use clap::Args;
use kafka_client::consumer::{ConsumerRecord, OffsetReset, TopicPartition};

use super::Ctx;
use crate::exit::usage;
use crate::records::filter::{self, Filter};
use crate::records::format::{RecordFormat, TimeFormat};
use crate::records::json;
use crate::records::offset::{OffsetRange, Start, Stop};
use reader::Reader;

const OFFSET_HELP: &str = "Where to start and stop, per partition: start | end | N (offset) | +N (N after the start) | -N (N before the end) | :end (start to the end as of now) | N1:N2 (offsets N1 up to, not including, N2; either side may be start/end) | @TIME (first record at/after TIME) | @T1:T2 | @-1h (relative to now) | s@TIME (start) | e@TIME (stop before TIME; -o may be given twice to pair it with a start). TIME: epoch ms, 2024-01-02T03:04:05[.123][Z|+02:00], a date, now, or -DURATION";

/// How records are printed (shared by consume and tail).
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Format string (kcat's tokens): %t topic, %p partition, %o offset, %k key, %K key length,
    /// %s value, %S value length, %T timestamp, %h headers (k=v,...), %% percent; %k %s %h take
    /// {hex} or {base64} (e.g. %k{hex}); escapes \n \t \r \0 \\. Default: the value and a newline.
    #[arg(
        short = 'f',
        long = "fmt",
        value_name = "FORMAT",
        conflicts_with = "json"
    )]
    pub fmt: Option<String>,
    /// One JSON object per record (lossless; `kafka produce --input jsonl` reads it back):
    /// topic, partition, offset, timestamp, timestamp_type, key, value, headers; bytes are
    /// null, a string, or {"base64": ...} when not UTF-8.
    #[arg(short = 'J', long = "json")]
    pub json: bool,
    /// How %T prints.
    #[arg(long, value_enum, default_value_t = TimeFormat::Ms)]
    pub time_format: TimeFormat,
    /// Only records matching FIELD OP PATTERN (repeatable; all must match). FIELD: key, value,
    /// header.NAME; OP: `:` contains, `=` equals, `~` regex (`(?i)` ignores case); `!` before
    /// OP negates. Examples: value:error, key~^user-[0-9]+$, header.env=prod, value!:debug.
    #[arg(long = "filter", value_name = "FIELD OP PATTERN")]
    pub filter: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ConsumeArgs {
    /// Topics to read.
    #[arg(required = true, value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// Only these partitions (comma-separated).
    #[arg(
        short = 'p',
        long = "partitions",
        value_delimiter = ',',
        value_name = "P,..."
    )]
    pub partitions: Vec<i32>,
    #[arg(short = 'o', long = "offset", value_name = "SPEC", allow_hyphen_values = true, help = OFFSET_HELP)]
    pub offset: Vec<String>,
    /// Stop at the end of each partition as of now (exit 0).
    #[arg(short = 'e', long = "exit-at-end")]
    pub exit_at_end: bool,
    /// Stop after N records (exit 0).
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,
    /// Consume as a member of GROUP (committed offsets decide where to start; -o start|end is
    /// where to start without one) and commit on exit.
    #[arg(
        short = 'g',
        long = "group",
        value_name = "GROUP",
        conflicts_with = "partitions"
    )]
    pub group: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, clap::Args)]
pub struct TailArgs {
    /// The topic.
    pub topic: String,
    /// Records per partition to show first.
    #[arg(short = 'n', long = "lines", default_value_t = 10, value_name = "N")]
    pub lines: u64,
    /// Only these partitions (comma-separated).
    #[arg(
        short = 'p',
        long = "partitions",
        value_delimiter = ',',
        value_name = "P,..."
    )]
    pub partitions: Vec<i32>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Formats records into a buffer and writes it to stdout in large pieces.
#[derive(Debug)]
pub(crate) struct Printer {
    fmt: Option<RecordFormat>,
    filters: Vec<Filter>,
    buf: Vec<u8>,
}

impl Printer {
    pub fn new(o: &OutputArgs) -> anyhow::Result<Printer> {
        let filters = o
            .filter
            .iter()
            .map(|f| Filter::parse(f).map_err(usage))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let fmt = if o.json {
            None
        } else {
            Some(match &o.fmt {
                Some(f) => RecordFormat::parse(f, o.time_format).map_err(usage)?,
                None => RecordFormat::value_only(),
            })
        };
        Ok(Printer {
            fmt,
            filters,
            buf: Vec::with_capacity(1 << 20),
        })
    }

    /// Formats a record if it passes the filters; whether it did.
    pub fn push(&mut self, r: &ConsumerRecord) -> bool {
        if !self.filters.is_empty() && !filter::all_match(&self.filters, r) {
            return false;
        }
        match &self.fmt {
            Some(f) => f.write(&mut self.buf, r),
            None => json::write_record(&mut self.buf, r),
        }
        true
    }

    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Writes what is buffered to stdout (a closed pipe is an io error: main exits 0).
    pub fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        out.write_all(&self.buf)?;
        out.flush()?;
        self.buf.clear();
        Ok(())
    }
}

/// SIGINT/SIGTERM as a clean stop for following commands.
#[derive(Debug)]
pub(crate) struct Shutdown {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Shutdown {
    /// Takes over Ctrl-C and SIGTERM (main then waits for the command to end, exit 0).
    pub fn install() -> anyhow::Result<Shutdown> {
        super::interrupt_is_clean();
        #[cfg(unix)]
        {
            use anyhow::Context as _;
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Shutdown {
                term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
                int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Shutdown {})
    }

    pub async fn wait(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// What ends a read besides the partitions' stops.
struct Limits {
    count: Option<u64>,
}

/// Reads until done, a count, or a signal; flushes and closes (committing in group mode).
async fn pump(
    mut reader: Reader,
    printer: &mut Printer,
    limits: Limits,
    mut shutdown: Option<Shutdown>,
) -> anyhow::Result<()> {
    let mut printed: u64 = 0;
    let mut last_commit = std::time::Instant::now();
    'outer: loop {
        let batch = match &mut shutdown {
            Some(s) => tokio::select! {
                b = reader.next_batch() => b?,
                _ = s.wait() => break 'outer,
            },
            None => reader.next_batch().await?,
        };
        let Some(batch) = batch else { break };
        for (i, r) in batch.iter().enumerate() {
            if printer.push(r) {
                printed += 1;
                if limits.count.is_some_and(|c| printed >= c) {
                    reader.unhandled(&batch[i + 1..]);
                    break 'outer;
                }
            }
            if printer.pending() >= 1 << 20 {
                printer.flush()?;
            }
        }
        printer.flush()?;
        if last_commit.elapsed() >= std::time::Duration::from_secs(5) {
            reader.commit().await?;
            last_commit = std::time::Instant::now();
        }
    }
    printer.flush()?;
    reader.close().await
}

pub async fn run(a: ConsumeArgs, ctx: &Ctx) -> anyhow::Result<()> {
    // Everything the user typed is checked before connecting.
    let range = OffsetRange::parse_all(&a.offset).map_err(usage)?;
    let mut printer = Printer::new(&a.output)?;
    if a.count == Some(0) {
        return Ok(());
    }
    let reset = match (&a.group, range) {
        (None, _) => None,
        (Some(_), OffsetRange { start: Start::Beginning, stop: Stop::Follow }) => {
            Some(OffsetReset::Earliest)
        }
        (Some(_), OffsetRange { start: Start::End, stop: Stop::Follow }) => Some(OffsetReset::Latest),
        (Some(_), _) => {
            return Err(usage(
                "with -g the group's committed offsets decide where to start: -o takes only start or end (where to start without a committed offset); drop -g to read a range",
            ))
        }
    };
    let settings = ctx.settings()?;
    let mut cfg = settings.consumer_config()?;
    reader::tune(&mut cfg, &settings.properties);
    let follows = range.stop == Stop::Follow && !a.exit_at_end;
    let shutdown = if follows {
        Some(Shutdown::install()?)
    } else {
        None
    };
    let client = kafka_client::Client::connect(cfg.client.clone()).await?;
    let only = (!a.partitions.is_empty()).then_some(a.partitions.as_slice());
    let tps = reader::partitions_of(&client, &a.topics, only).await?;
    let reader = match (&a.group, reset) {
        (Some(g), Some(reset)) => {
            let stops: Vec<(TopicPartition, Option<i64>)> = if a.exit_at_end {
                reader::plan(&client, &tps, &range, true)
                    .await?
                    .into_iter()
                    .map(|p| (p.tp, Some(p.latest)))
                    .collect()
            } else {
                tps.into_iter().map(|tp| (tp, None)).collect()
            };
            Reader::group(&client, cfg, g, &a.topics, reset, stops)?
        }
        _ => {
            let plan = reader::plan(&client, &tps, &range, a.exit_at_end).await?;
            Reader::assigned(&client, cfg, &plan)?
        }
    };
    let r = pump(reader, &mut printer, Limits { count: a.count }, shutdown).await;
    client.close().await;
    r
}

pub async fn tail(a: TailArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let mut printer = Printer::new(&a.output)?;
    let range = OffsetRange {
        start: Start::BeforeEnd(i64::try_from(a.lines).unwrap_or(i64::MAX)),
        stop: Stop::Follow,
    };
    let settings = ctx.settings()?;
    let mut cfg = settings.consumer_config()?;
    reader::tune(&mut cfg, &settings.properties);
    let shutdown = Shutdown::install()?;
    let client = kafka_client::Client::connect(cfg.client.clone()).await?;
    let only = (!a.partitions.is_empty()).then_some(a.partitions.as_slice());
    let tps = reader::partitions_of(&client, std::slice::from_ref(&a.topic), only).await?;
    let plan = reader::plan(&client, &tps, &range, false).await?;
    let reader = Reader::assigned(&client, cfg, &plan)?;
    let r = pump(reader, &mut printer, Limits { count: None }, Some(shutdown)).await;
    client.close().await;
    r
}
