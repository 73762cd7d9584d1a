//! `kafka topic`: list, create, describe, delete, add-partitions, alter-config, trim.

pub(crate) mod util;

use std::collections::BTreeMap;

use kafka_client::admin::{AlterConfigOp, ConfigEntry, ConfigResource, ConfigSource, NewTopic};
use kafka_client::kafka_proto::ErrorCode;
use kafka_client::TopicInfo;
use serde_json::{json, Value};

use self::util::{anchored, describe_one, parse_kv, topic_error, watermarks, Outcome, Tp};
use super::Ctx;
use crate::exit::{not_found, usage};
use crate::output::{self, Format};
use crate::timespec;

#[derive(Debug, clap::Subcommand)]
pub enum TopicCommand {
    /// List topics (name, partitions, id).
    List(ListArgs),
    /// Create topics.
    Create(CreateArgs),
    /// Describe a topic: a summary, its partitions (-p), its configs (-c).
    Describe(DescribeArgs),
    /// Delete topics, by name or by regex.
    Delete(DeleteArgs),
    /// Grow a topic to a new total number of partitions.
    AddPartitions(AddPartitionsArgs),
    /// Set or delete topic configs (the others stay as they are).
    AlterConfig(AlterConfigArgs),
    /// Delete the records before an offset or a time (moves the log start offset).
    Trim(TrimArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only topics whose whole name matches this regex.
    #[arg(short = 'r', long, value_name = "REGEX")]
    pub regex: Option<String>,
    /// Include internal topics (__consumer_offsets, ...).
    #[arg(long)]
    pub internal: bool,
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Topic names.
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// Partitions [default: the broker's num.partitions].
    #[arg(short = 'p', long, value_name = "N",
          value_parser = clap::value_parser!(i32).range(1..=1_000_000))]
    pub partitions: Option<i32>,
    /// Replication factor [default: the broker's default.replication.factor].
    #[arg(short = 'r', long, value_name = "RF",
          value_parser = clap::value_parser!(i16).range(1..))]
    pub replication_factor: Option<i16>,
    /// A topic config (e.g. -c retention.ms=3600000); repeatable.
    #[arg(short = 'c', long = "config", value_name = "KEY=VALUE")]
    pub configs: Vec<String>,
    /// Succeed when a topic already exists.
    #[arg(long)]
    pub if_not_exists: bool,
}

#[derive(Debug, clap::Args)]
pub struct DescribeArgs {
    /// The topic.
    pub name: String,
    /// Show partitions: leader, replicas, ISR, low and high watermarks, record count.
    #[arg(short = 'p', long)]
    pub partitions: bool,
    /// Show every config with its value and source.
    #[arg(short = 'c', long)]
    pub configs: bool,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["names", "regex"])))]
pub struct DeleteArgs {
    /// Topic names.
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    /// Delete every (non-internal) topic whose whole name matches this regex.
    #[arg(short = 'r', long, value_name = "REGEX", conflicts_with = "names")]
    pub regex: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct AddPartitionsArgs {
    /// The topic.
    pub name: String,
    /// The new total number of partitions (as Kafka's --partitions), more than now.
    #[arg(long, visible_alias = "partitions", value_name = "N",
          value_parser = clap::value_parser!(i32).range(1..=1_000_000))]
    pub num: i32,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("change").required(true).multiple(true).args(["set", "delete"])))]
pub struct AlterConfigArgs {
    /// The topic.
    pub name: String,
    /// Set a config (KEY=VALUE); repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Remove a config's topic-level value (back to the broker default); repeatable.
    #[arg(long, value_name = "KEY")]
    pub delete: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct TrimArgs {
    /// The topic.
    pub name: String,
    /// Only these partitions (repeatable or comma-separated) [default: all].
    #[arg(
        short = 'p',
        long = "partition",
        value_name = "P",
        value_delimiter = ','
    )]
    pub partitions: Vec<i32>,
    /// Delete records before this offset (N, or `end` for everything), or before the first
    /// record at or after a time (@2024-01-02T03:04:05, @-1h, @EPOCH_MS).
    #[arg(
        short = 'o',
        long = "offset",
        value_name = "OFFSET|@TIME",
        allow_hyphen_values = true
    )]
    pub offset: String,
}

pub async fn run(c: TopicCommand, ctx: &Ctx) -> anyhow::Result<()> {
    match c {
        TopicCommand::List(a) => list(a, ctx).await,
        TopicCommand::Create(a) => create(a, ctx).await,
        TopicCommand::Describe(a) => describe(a, ctx).await,
        TopicCommand::Delete(a) => delete(a, ctx).await,
        TopicCommand::AddPartitions(a) => add_partitions(a, ctx).await,
        TopicCommand::AlterConfig(a) => alter_config(a, ctx).await,
        TopicCommand::Trim(a) => trim(a, ctx).await,
    }
}

async fn list(a: ListArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let re = a.regex.as_deref().map(anchored).transpose()?;
    let admin = ctx.settings()?.admin().await?;
    let topics: Vec<_> = admin
        .list_topics(a.internal)
        .await?
        .into_iter()
        .filter(|t| re.as_ref().is_none_or(|r| r.is_match(&t.name)))
        .collect();
    match ctx.format() {
        Format::Json => output::print_json(&Value::Array(
            topics
                .iter()
                .map(|t| {
                    json!({
                        "name": t.name,
                        "partitions": t.partitions,
                        "internal": t.internal,
                        "id": t.id.map(|i| i.to_string()),
                    })
                })
                .collect(),
        )),
        Format::Table => {
            let mut t = output::table(&["NAME", "PARTITIONS", "ID"]);
            for topic in &topics {
                let name = if topic.internal {
                    format!("{} (internal)", topic.name)
                } else {
                    topic.name.clone()
                };
                t.add_row(vec![
                    name,
                    topic.partitions.to_string(),
                    topic.id.map(|i| i.to_string()).unwrap_or_default(),
                ]);
            }
            output::print_table(&t)
        }
    }
}

async fn create(a: CreateArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let configs: Vec<(String, String)> = a
        .configs
        .iter()
        .map(|c| parse_kv("-c", c))
        .collect::<anyhow::Result<_>>()?;
    let mut seen = std::collections::HashSet::new();
    for n in &a.names {
        if n.is_empty() {
            return Err(usage("a topic name cannot be empty"));
        }
        if !seen.insert(n.as_str()) {
            return Err(usage(format!("topic `{n}` is named twice")));
        }
    }
    let admin = ctx.settings()?.admin().await?;
    let topics: Vec<NewTopic> = a
        .names
        .iter()
        .map(|n| {
            configs.iter().fold(
                NewTopic::new(
                    n.clone(),
                    a.partitions.unwrap_or(-1),
                    a.replication_factor.unwrap_or(-1),
                ),
                |t, (k, v)| t.config(k.clone(), v.clone()),
            )
        })
        .collect();
    let mut results = admin.create_topics(&topics, false).await?;
    let mut outcome = Outcome::new();
    let mut rows = Vec::new();
    for n in &a.names {
        match results.remove(n) {
            Some(Ok(c)) => {
                outcome.ok();
                rows.push(json!({
                    "name": n,
                    "status": "created",
                    "partitions": c.partitions.or(a.partitions),
                    "replication_factor": c.replication_factor.or(a.replication_factor),
                    "id": c.id.map(|i| i.to_string()),
                }));
            }
            Some(Err(e)) if a.if_not_exists && e.code() == Some(ErrorCode::TopicAlreadyExists) => {
                outcome.ok();
                rows.push(json!({
                    "name": n, "status": "exists", "partitions": null,
                    "replication_factor": null, "id": null,
                }));
            }
            Some(Err(e)) => outcome.fail(topic_error(n, e)),
            None => outcome.fail(anyhow::anyhow!("topic `{n}`: the broker did not answer")),
        }
    }
    print_rows(
        ctx,
        &rows,
        &[
            ("TOPIC", "name"),
            ("STATUS", "status"),
            ("PARTITIONS", "partitions"),
            ("REPLICATION", "replication_factor"),
            ("ID", "id"),
        ],
    )?;
    outcome.finish()
}

/// Prints JSON objects as an array, or as a table of the given (header, key) columns.
pub(crate) fn print_rows(ctx: &Ctx, rows: &[Value], cols: &[(&str, &str)]) -> anyhow::Result<()> {
    match ctx.format() {
        Format::Json => output::print_json(&Value::Array(rows.to_vec())),
        Format::Table => {
            if rows.is_empty() {
                return Ok(());
            }
            let headers: Vec<&str> = cols.iter().map(|(h, _)| *h).collect();
            let mut t = output::table(&headers);
            for r in rows {
                t.add_row(cols.iter().map(|(_, k)| cell(&r[*k])).collect::<Vec<_>>());
            }
            output::print_table(&t)
        }
    }
}

/// A JSON value as a table cell: strings bare, null as `-`.
pub(crate) fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn source_name(s: ConfigSource) -> String {
    match s {
        ConfigSource::DynamicTopic => "topic".into(),
        ConfigSource::DynamicBroker => "dynamic-broker".into(),
        ConfigSource::DynamicDefaultBroker => "dynamic-default-broker".into(),
        ConfigSource::StaticBroker => "static-broker".into(),
        ConfigSource::Default => "default".into(),
        ConfigSource::DynamicBrokerLogger => "broker-logger".into(),
        ConfigSource::ClientMetrics => "client-metrics".into(),
        ConfigSource::Group => "group".into(),
        ConfigSource::Unknown => "unknown".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn replication_factor(info: &TopicInfo) -> usize {
    info.partitions
        .iter()
        .map(|p| p.replicas.len())
        .max()
        .unwrap_or(0)
}

async fn describe(a: DescribeArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let admin = ctx.settings()?.admin().await?;
    let info = describe_one(&admin, &a.name).await?;
    let tps: Vec<Tp> = info
        .partitions
        .iter()
        .map(|p| (a.name.clone(), p.partition))
        .collect();
    let mut marks = watermarks(&admin, &tps).await?;
    let mut outcome = Outcome::new();
    let mut parts = Vec::new();
    let mut records: i64 = 0;
    for p in &info.partitions {
        let m = match marks.remove(&(a.name.clone(), p.partition)) {
            Some(Ok(m)) => Some(m),
            Some(Err(e)) => {
                outcome.fail(e);
                None
            }
            None => None,
        };
        if let Some(m) = m {
            records += (m.high - m.low).max(0);
        }
        parts.push(json!({
            "partition": p.partition,
            "leader": p.leader,
            "leader_epoch": p.leader_epoch,
            "replicas": p.replicas,
            "isr": p.isr,
            "offline": p.offline,
            "low": m.map(|m| m.low),
            "high": m.map(|m| m.high),
            "records": m.map(|m| (m.high - m.low).max(0)),
        }));
    }
    let configs: Option<Vec<ConfigEntry>> = if a.configs {
        let r = ConfigResource::topic(a.name.clone());
        let mut got = admin.describe_configs(std::slice::from_ref(&r)).await?;
        match got.remove(&r) {
            Some(Ok(mut entries)) => {
                entries.sort_by(|x, y| x.name.cmp(&y.name));
                Some(entries)
            }
            Some(Err(e)) => return Err(topic_error(&a.name, e)),
            None => return Err(not_found(format!("no configs reported for `{}`", a.name))),
        }
    } else {
        None
    };
    let id = (!info.id.is_zero()).then(|| info.id.to_string());
    let rf = replication_factor(&info);
    match ctx.format() {
        Format::Json => {
            let mut doc = json!({
                "name": info.name,
                "id": id,
                "internal": info.internal,
                "partition_count": info.partitions.len(),
                "replication_factor": rf,
                "records": records,
            });
            if a.partitions {
                doc["partitions"] = Value::Array(parts);
            }
            if let Some(cs) = &configs {
                doc["configs"] = Value::Array(
                    cs.iter()
                        .map(|c| {
                            json!({
                                "name": c.name,
                                "value": c.value,
                                "source": source_name(c.source),
                                "read_only": c.read_only,
                                "sensitive": c.sensitive,
                                "default": c.default,
                            })
                        })
                        .collect(),
                );
            }
            output::print_json(&doc)?;
        }
        Format::Table => {
            let mut t = output::table(&["NAME", "ID", "PARTITIONS", "REPLICATION", "RECORDS"]);
            let name = if info.internal {
                format!("{} (internal)", info.name)
            } else {
                info.name.clone()
            };
            t.add_row(vec![
                name,
                id.unwrap_or_else(|| "-".into()),
                info.partitions.len().to_string(),
                rf.to_string(),
                records.to_string(),
            ]);
            output::print_table(&t)?;
            if a.partitions {
                let mut t = output::table(&[
                    "PARTITION",
                    "LEADER",
                    "EPOCH",
                    "REPLICAS",
                    "ISR",
                    "LOW",
                    "HIGH",
                    "RECORDS",
                ]);
                for p in &parts {
                    t.add_row(
                        [
                            "partition",
                            "leader",
                            "leader_epoch",
                            "replicas",
                            "isr",
                            "low",
                            "high",
                            "records",
                        ]
                        .iter()
                        .map(|k| cell(&p[*k]))
                        .collect::<Vec<_>>(),
                    );
                }
                output::print_table(&t)?;
            }
            if let Some(cs) = &configs {
                let mut t = output::table(&["CONFIG", "VALUE", "SOURCE"]);
                for c in cs {
                    let value = if c.sensitive {
                        "(sensitive)".to_owned()
                    } else {
                        c.value.clone().unwrap_or_else(|| "-".into())
                    };
                    t.add_row(vec![c.name.clone(), value, source_name(c.source)]);
                }
                output::print_table(&t)?;
            }
        }
    }
    outcome.finish()
}

async fn delete(a: DeleteArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let re = a.regex.as_deref().map(anchored).transpose()?;
    let admin = ctx.settings()?.admin().await?;
    let names: Vec<String> = match &re {
        Some(re) => {
            let matched: Vec<String> = admin
                .list_topics(false)
                .await?
                .into_iter()
                .map(|t| t.name)
                .filter(|n| re.is_match(n))
                .collect();
            if matched.is_empty() {
                return Err(not_found(format!(
                    "no topic matches `{}` (see: kafka topic list)",
                    a.regex.as_deref().unwrap_or_default()
                )));
            }
            matched
        }
        None => {
            let mut v = a.names.clone();
            v.dedup();
            v
        }
    };
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut results = admin.delete_topics(&refs).await?;
    let mut outcome = Outcome::new();
    let mut rows = Vec::new();
    for n in &names {
        match results.remove(n) {
            Some(Ok(())) => {
                outcome.ok();
                rows.push(json!({"name": n, "status": "deleted"}));
            }
            Some(Err(e)) => outcome.fail(topic_error(n, e)),
            None => outcome.fail(anyhow::anyhow!("topic `{n}`: the broker did not answer")),
        }
    }
    print_rows(ctx, &rows, &[("TOPIC", "name"), ("STATUS", "status")])?;
    outcome.finish()
}

async fn add_partitions(a: AddPartitionsArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let admin = ctx.settings()?.admin().await?;
    let before = describe_one(&admin, &a.name).await?.partitions.len();
    let now = usize::try_from(a.num).unwrap_or(0);
    if now <= before {
        return Err(usage(format!(
            "topic `{}` already has {before} partitions; --num is the new total and must be more than that",
            a.name
        )));
    }
    let mut r = admin.create_partitions(&[(&a.name, a.num)], false).await?;
    match r.remove(&a.name) {
        Some(Ok(())) => {}
        Some(Err(e)) => return Err(topic_error(&a.name, e)),
        None => anyhow::bail!("topic `{}`: the broker did not answer", a.name),
    }
    let rows = [json!({"name": a.name, "before": before, "partitions": a.num})];
    match ctx.format() {
        Format::Json => output::print_json(&rows[0]),
        Format::Table => print_rows(
            ctx,
            &rows,
            &[
                ("TOPIC", "name"),
                ("BEFORE", "before"),
                ("PARTITIONS", "partitions"),
            ],
        ),
    }
}

async fn alter_config(a: AlterConfigArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let mut ops = Vec::new();
    let mut keys = std::collections::HashSet::new();
    let mut set = BTreeMap::new();
    for s in &a.set {
        let (k, v) = parse_kv("--set", s)?;
        if !keys.insert(k.clone()) {
            return Err(usage(format!("config `{k}` is changed twice")));
        }
        ops.push(AlterConfigOp::set(k.clone(), v.clone()));
        set.insert(k, v);
    }
    for k in &a.delete {
        let k = k.trim();
        if k.is_empty() || k.contains('=') {
            return Err(usage(format!(
                "--delete takes a config name (no value), got `{k}`"
            )));
        }
        if !keys.insert(k.to_owned()) {
            return Err(usage(format!("config `{k}` is changed twice")));
        }
        ops.push(AlterConfigOp::delete(k));
    }
    let admin = ctx.settings()?.admin().await?;
    describe_one(&admin, &a.name).await?;
    let r = ConfigResource::topic(a.name.clone());
    let mut out = admin
        .incremental_alter_configs(&[(r.clone(), ops)], false)
        .await?;
    match out.remove(&r) {
        Some(Ok(())) => {}
        Some(Err(e)) => return Err(topic_error(&a.name, e)),
        None => anyhow::bail!("topic `{}`: the broker did not answer", a.name),
    }
    match ctx.format() {
        Format::Json => output::print_json(&json!({
            "name": a.name, "set": set, "deleted": a.delete,
        })),
        Format::Table => {
            let mut t = output::table(&["TOPIC", "CONFIG", "CHANGE"]);
            for (k, v) in &set {
                t.add_row(vec![a.name.clone(), k.clone(), format!("set to {v}")]);
            }
            for k in &a.delete {
                t.add_row(vec![a.name.clone(), k.clone(), "deleted".to_owned()]);
            }
            output::print_table(&t)
        }
    }
}

/// Where `topic trim` cuts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cut {
    Offset(i64),
    End,
    Time(i64),
}

fn parse_cut(s: &str) -> anyhow::Result<Cut> {
    let t = s.trim();
    if let Some(time) = t.strip_prefix('@') {
        return timespec::parse_time(time)
            .map(Cut::Time)
            .map_err(|e| usage(format!("-o {s}: {e}")));
    }
    if t.eq_ignore_ascii_case("end") || t.eq_ignore_ascii_case("latest") {
        return Ok(Cut::End);
    }
    match t.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(Cut::Offset(n)),
        _ => Err(usage(format!(
            "-o expects an offset (N >= 0 or `end`) or @TIME (e.g. @2024-01-02T03:04:05, @-1h), got `{s}`"
        ))),
    }
}

async fn trim(a: TrimArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let cut = parse_cut(&a.offset)?;
    if let Some(p) = a.partitions.iter().find(|p| **p < 0) {
        return Err(usage(format!("-p expects partitions >= 0, got {p}")));
    }
    let admin = ctx.settings()?.admin().await?;
    let info = describe_one(&admin, &a.name).await?;
    let all: Vec<i32> = info.partitions.iter().map(|p| p.partition).collect();
    let chosen: Vec<i32> = if a.partitions.is_empty() {
        all
    } else {
        let mut ps = a.partitions.clone();
        ps.sort_unstable();
        ps.dedup();
        if let Some(p) = ps.iter().find(|p| !all.contains(p)) {
            return Err(not_found(format!(
                "partition {p} of topic `{}` does not exist (it has {})",
                a.name,
                all.len()
            )));
        }
        ps
    };
    let tps: Vec<Tp> = chosen.iter().map(|p| (a.name.clone(), *p)).collect();
    let mut marks = watermarks(&admin, &tps).await?;
    let mut times = match cut {
        Cut::Time(ms) => Some(util::offsets_for_time(&admin, &tps, ms).await?),
        _ => None,
    };
    let mut outcome = Outcome::new();
    let mut plan: Vec<(i32, util::Marks, i64)> = Vec::new();
    for tp in &tps {
        let m = match marks.remove(tp) {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                outcome.fail(e);
                continue;
            }
            None => continue,
        };
        let target = match cut {
            Cut::Offset(n) => n.min(m.high),
            Cut::End => m.high,
            Cut::Time(_) => match times.as_mut().and_then(|t| t.remove(tp)) {
                Some(Ok(Some((o, _)))) => o,
                Some(Ok(None)) => m.high,
                Some(Err(e)) => {
                    outcome.fail(e);
                    continue;
                }
                None => continue,
            },
        };
        plan.push((tp.1, m, target.max(m.low)));
    }
    let asks: Vec<(&str, i32, i64)> = plan
        .iter()
        .filter(|(_, m, target)| *target > m.low)
        .map(|(p, _, target)| (a.name.as_str(), *p, *target))
        .collect();
    let mut done = admin.delete_records(&asks).await?;
    let mut rows = Vec::new();
    for (p, m, target) in &plan {
        let low = if *target > m.low {
            match done.remove(&(a.name.clone(), *p)) {
                Some(Ok(low)) => low,
                Some(Err(e)) => {
                    outcome.fail(util::partition_error(&a.name, *p, e));
                    continue;
                }
                None => continue,
            }
        } else {
            m.low
        };
        outcome.ok();
        rows.push(json!({
            "topic": a.name,
            "partition": p,
            "before": m.low,
            "low": low,
            "high": m.high,
            "removed": (low - m.low).max(0),
        }));
    }
    print_rows(
        ctx,
        &rows,
        &[
            ("TOPIC", "topic"),
            ("PARTITION", "partition"),
            ("OLD LOW", "before"),
            ("LOW", "low"),
            ("HIGH", "high"),
            ("REMOVED", "removed"),
        ],
    )?;
    outcome.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts() {
        assert_eq!(parse_cut("5").unwrap(), Cut::Offset(5));
        assert_eq!(parse_cut("end").unwrap(), Cut::End);
        assert_eq!(
            parse_cut("@2024-01-02T03:04:05Z").unwrap(),
            Cut::Time(1_704_164_645_000)
        );
        assert!(matches!(parse_cut("@-1h").unwrap(), Cut::Time(_)));
        for bad in ["-1", "x", "@nope", ""] {
            assert!(parse_cut(bad).is_err(), "{bad}");
        }
    }
}
