//! `kafka group reset`: kafka-consumer-groups' `--reset-offsets`, preview by default.
//!
//! Scope: groups (`G...` or `--all-groups`) × partitions (`-t TOPIC[:P,..]`, `--all-topics` =
//! every partition the group has committed offsets for; `--from-file` brings its own). One
//! target spec. Each new offset is clamped to the partition's [low, high] watermarks, as Kafka
//! does. Groups with active members are refused (even for a preview, as Kafka does): offsets
//! can only be changed while nobody consumes.
//!
//! Semantics follow Kafka's `ConsumerGroupCommand`: `--to-current` is the committed offset, or
//! the log end for a partition without one; `--shift-by` needs a committed offset;
//! `--to-datetime` / `--by-duration` take the first offset at or after the time, or the log end
//! when no record is that recent. `--to-group G2` copies G2's committed offsets (with
//! `--all-topics`: every partition G2 has committed). `--export` prints Kafka's CSV
//! (`topic,partition,offset`, or `group,topic,partition,offset` for several groups) which
//! `--from-file` reads back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use kafka_client::kafka_proto::ErrorCode;
use kafka_client::Admin;
use serde_json::{json, Value};

use super::super::topic::print_rows;
use super::super::topic::util::{
    describe, group_error, missing_partition, offsets_for_time, parse_topic_spec, split_existing,
    watermarks, Marks, Outcome, Tp,
};
use super::super::Ctx;
use super::committed_offsets;
use crate::exit::{fail, usage, Exit};
use crate::output::{self, Format};
use crate::timespec;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args([
    "to_earliest", "to_latest", "to_current", "to_offset", "shift_by", "to_datetime",
    "by_duration", "from_file", "to_group",
])))]
#[command(group(clap::ArgGroup::new("which").required(true).args(["groups", "all_groups"])))]
pub struct ResetArgs {
    /// Group ids.
    #[arg(value_name = "GROUP")]
    pub groups: Vec<String>,
    /// Every group of the cluster.
    #[arg(long, conflicts_with = "groups")]
    pub all_groups: bool,
    /// TOPIC (all its partitions) or TOPIC:P,P...; repeatable.
    #[arg(short = 't', long = "topic", value_name = "TOPIC[:P,..]")]
    pub topics: Vec<String>,
    /// Every partition the group has committed offsets for.
    #[arg(long, conflicts_with = "topics")]
    pub all_topics: bool,
    /// To the log start offset.
    #[arg(long)]
    pub to_earliest: bool,
    /// To the log end offset.
    #[arg(long)]
    pub to_latest: bool,
    /// To the committed offset (the log end where there is none).
    #[arg(long)]
    pub to_current: bool,
    /// To this offset.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub to_offset: Option<i64>,
    /// The committed offset plus N (N may be negative).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub shift_by: Option<i64>,
    /// To the first offset at or after this time: 2024-01-02T03:04:05, with optional .123
    /// millis and Z or +02:00 zone (no zone = local time).
    #[arg(long, value_name = "DATETIME")]
    pub to_datetime: Option<String>,
    /// To the first offset at or after this long ago (PT1H, P1DT2H, 30m, 2d).
    #[arg(long, value_name = "DURATION")]
    pub by_duration: Option<String>,
    /// To the offsets in this CSV file (topic,partition,offset or group,topic,partition,offset;
    /// what --export prints).
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
    /// To the committed offsets of another group.
    #[arg(long, value_name = "GROUP")]
    pub to_group: Option<String>,
    /// Only show what would change (the default).
    #[arg(long, conflicts_with = "execute")]
    pub dry_run: bool,
    /// Apply the new offsets.
    #[arg(long)]
    pub execute: bool,
    /// Print the new offsets as CSV (topic,partition,offset) for --from-file.
    #[arg(long)]
    pub export: bool,
}

/// The target spec, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    Earliest,
    Latest,
    Current,
    Offset(i64),
    Shift(i64),
    Time(i64),
    File(Plan),
    Group(String),
}

/// `--from-file` rows: offsets per (group or any group) and partition.
type Plan = BTreeMap<Option<String>, BTreeMap<Tp, i64>>;

fn target(a: &ResetArgs) -> anyhow::Result<Target> {
    if a.to_earliest {
        return Ok(Target::Earliest);
    }
    if a.to_latest {
        return Ok(Target::Latest);
    }
    if a.to_current {
        return Ok(Target::Current);
    }
    if let Some(n) = a.to_offset {
        return Ok(Target::Offset(n));
    }
    if let Some(n) = a.shift_by {
        return Ok(Target::Shift(n));
    }
    if let Some(t) = &a.to_datetime {
        return timespec::parse_datetime(t)
            .map(Target::Time)
            .map_err(|e| usage(format!("--to-datetime: {e}")));
    }
    if let Some(d) = &a.by_duration {
        let d = timespec::parse_duration(d).map_err(|e| usage(format!("--by-duration: {e}")))?;
        let ago = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        return Ok(Target::Time(timespec::now_ms().saturating_sub(ago)));
    }
    if let Some(f) = &a.from_file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| usage(format!("cannot read --from-file {}: {e}", f.display())))?;
        return parse_plan(&text)
            .map(Target::File)
            .map_err(|e| usage(format!("--from-file {}: {e}", f.display())));
    }
    if let Some(g) = &a.to_group {
        return Ok(Target::Group(g.clone()));
    }
    Err(usage("give one of --to-earliest, --to-latest, --to-current, --to-offset, --shift-by, --to-datetime, --by-duration, --from-file, --to-group"))
}

/// Kafka's reset CSV: `topic,partition,offset` or `group,topic,partition,offset` per line.
fn parse_plan(text: &str) -> anyhow::Result<Plan> {
    let mut plan = Plan::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let (group, t, p, o) = match f.as_slice() {
            [t, p, o] => (None, *t, *p, *o),
            [g, t, p, o] => (Some((*g).to_owned()), *t, *p, *o),
            _ => anyhow::bail!(
                "line {}: expected topic,partition,offset or group,topic,partition,offset",
                i + 1
            ),
        };
        let p: i32 = p
            .parse()
            .ok()
            .filter(|p| *p >= 0)
            .ok_or_else(|| anyhow::anyhow!("line {}: invalid partition `{p}`", i + 1))?;
        let o: i64 = o
            .parse()
            .map_err(|_| anyhow::anyhow!("line {}: invalid offset `{o}`", i + 1))?;
        if t.is_empty() || group.as_deref() == Some("") {
            anyhow::bail!("line {}: empty topic or group", i + 1);
        }
        plan.entry(group).or_default().insert((t.to_owned(), p), o);
    }
    if plan.is_empty() {
        anyhow::bail!("no offsets in the file");
    }
    Ok(plan)
}

/// One planned change.
struct Row {
    group: String,
    tp: Tp,
    current: Option<i64>,
    new: i64,
}

pub async fn run(a: ResetArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let target = target(&a)?;
    let specs: Vec<(String, Option<Vec<i32>>)> = a
        .topics
        .iter()
        .map(|t| parse_topic_spec(t))
        .collect::<anyhow::Result<_>>()?;
    let from_file = matches!(target, Target::File(_));
    if specs.is_empty() && !a.all_topics && !from_file {
        return Err(usage(
            "say which partitions: -t TOPIC[:P,..] (repeatable) or --all-topics",
        ));
    }
    let admin = ctx.settings()?.admin().await?;
    let groups: Vec<String> = if a.all_groups {
        admin
            .list_groups(None)
            .await?
            .groups
            .into_iter()
            .map(|g| g.group_id)
            .collect()
    } else {
        let mut seen = BTreeSet::new();
        a.groups
            .iter()
            .filter(|g| seen.insert(g.as_str()))
            .cloned()
            .collect()
    };
    let mut outcome = Outcome::new();
    let mut rows: Vec<Row> = Vec::new();
    // Partitions of topics named without partitions, looked up once.
    let whole: Vec<String> = specs
        .iter()
        .filter(|(_, ps)| ps.is_none())
        .map(|(t, _)| t.clone())
        .collect();
    let mut topic_parts: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    if !whole.is_empty() {
        for (t, r) in describe(&admin, &whole).await? {
            if let Ok(info) = r {
                topic_parts.insert(t, info.partitions.iter().map(|p| p.partition).collect());
            }
        }
    }
    let source = match &target {
        Target::Group(g) => Some(committed_offsets(&admin, g).await?),
        _ => None,
    };
    let refs: Vec<&str> = groups.iter().map(String::as_str).collect();
    let mut described = admin.describe_groups(&refs).await?;
    for g in &groups {
        // Only a group without active members can be reset (a group that does not exist yet
        // is fine: the reset creates it).
        match described.remove(g) {
            Some(Ok(d)) if !d.members.is_empty() => {
                outcome.fail(fail(
                    Exit::Error,
                    format!(
                        "group `{g}` has {} active member(s) (state {}): stop its consumers, then reset",
                        d.members.len(),
                        d.state
                    ),
                ));
                continue;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) if e.code() == Some(ErrorCode::GroupIdNotFound) => {}
            Some(Err(e)) => {
                outcome.fail(group_error(g, e));
                continue;
            }
            None => {}
        }
        match plan_group(
            &admin,
            g,
            &target,
            &specs,
            a.all_topics,
            &topic_parts,
            source.as_ref(),
        )
        .await
        {
            Ok((planned, failures)) => {
                if planned.is_empty() && failures.is_empty() {
                    eprintln!("group `{g}`: nothing to reset in the given scope");
                }
                for f in failures {
                    outcome.fail(f);
                }
                if a.execute && !planned.is_empty() {
                    let asks: Vec<(&str, i32, i64, Option<&str>)> = planned
                        .iter()
                        .map(|r| (r.tp.0.as_str(), r.tp.1, r.new, None))
                        .collect();
                    let mut done = match admin.alter_group_offsets(g, &asks).await {
                        Ok(done) => done,
                        Err(e) => {
                            outcome.fail(group_error(g, e));
                            continue;
                        }
                    };
                    for r in planned {
                        match done.remove(&r.tp) {
                            Some(Ok(())) => {
                                outcome.ok();
                                rows.push(r);
                            }
                            Some(Err(e)) => outcome.fail(
                                anyhow::Error::new(e)
                                    .context(format!("group `{g}` {}:{}", r.tp.0, r.tp.1)),
                            ),
                            None => {}
                        }
                    }
                } else {
                    for r in planned {
                        outcome.ok();
                        rows.push(r);
                    }
                }
            }
            Err(e) => outcome.fail(e),
        }
    }
    if a.export {
        let several = groups.len() > 1;
        for r in &rows {
            let line = if several {
                format!("{},{},{},{}", r.group, r.tp.0, r.tp.1, r.new)
            } else {
                format!("{},{},{}", r.tp.0, r.tp.1, r.new)
            };
            output::print_line(&line)?;
        }
    } else {
        let json_rows: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "group": r.group,
                    "topic": r.tp.0,
                    "partition": r.tp.1,
                    "current": r.current,
                    "new": r.new,
                    "delta": r.current.map(|c| r.new - c),
                })
            })
            .collect();
        match ctx.format() {
            Format::Json => output::print_json(&json!({
                "executed": a.execute,
                "offsets": json_rows,
            }))?,
            Format::Table => print_rows(
                ctx,
                &json_rows,
                &[
                    ("GROUP", "group"),
                    ("TOPIC", "topic"),
                    ("PARTITION", "partition"),
                    ("CURRENT", "current"),
                    ("NEW", "new"),
                    ("DELTA", "delta"),
                ],
            )?,
        }
    }
    if !rows.is_empty() {
        if a.execute {
            eprintln!("offsets reset");
        } else {
            eprintln!("preview only, nothing changed: add --execute to apply");
        }
    }
    outcome.finish()
}

/// The new offsets of one group, and the partitions that could not be planned.
async fn plan_group(
    admin: &Admin,
    group: &str,
    target: &Target,
    specs: &[(String, Option<Vec<i32>>)],
    all_topics: bool,
    topic_parts: &BTreeMap<String, Vec<i32>>,
    source: Option<&BTreeMap<Tp, kafka_client::admin::CommittedOffset>>,
) -> anyhow::Result<(Vec<Row>, Vec<anyhow::Error>)> {
    let committed = committed_offsets(admin, group).await?;
    let file_plan: Option<BTreeMap<Tp, i64>> = match target {
        Target::File(plan) => {
            let mut m = plan.get(&None).cloned().unwrap_or_default();
            if let Some(mine) = plan.get(&Some(group.to_owned())) {
                m.extend(mine.clone());
            }
            Some(m)
        }
        _ => None,
    };
    // The partitions in scope: explicit ones, whole topics (expanded from metadata), the
    // committed ones with --all-topics, the file's.
    let mut failures = Vec::new();
    let mut scope: BTreeSet<Tp> = BTreeSet::new();
    for (t, ps) in specs {
        match ps {
            Some(ps) => scope.extend(ps.iter().map(|p| (t.clone(), *p))),
            None => match topic_parts.get(t) {
                Some(ps) => scope.extend(ps.iter().map(|p| (t.clone(), *p))),
                None => failures.push(crate::exit::not_found(format!(
                    "topic `{t}` does not exist (see: kafka topic list)"
                ))),
            },
        }
    }
    if all_topics {
        match source {
            Some(src) => scope.extend(src.keys().cloned()),
            None => scope.extend(committed.keys().cloned()),
        }
    }
    if let Some(fp) = &file_plan {
        if specs.is_empty() && !all_topics {
            scope.extend(fp.keys().cloned());
        } else {
            scope.retain(|tp| fp.contains_key(tp));
        }
    }
    let scope: Vec<Tp> = scope.into_iter().collect();
    let (tps, missing) = split_existing(admin, &scope).await?;
    failures.extend(missing.iter().map(missing_partition));
    let mut marks = watermarks(admin, &tps).await?;
    let mut times = match target {
        Target::Time(ms) => Some(offsets_for_time(admin, &tps, *ms).await?),
        _ => None,
    };
    let mut rows = Vec::new();
    for tp in tps {
        let m: Marks = match marks.remove(&tp) {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                failures.push(e);
                continue;
            }
            None => continue,
        };
        let current = committed.get(&tp).map(|c| c.offset);
        let wanted = match target {
            Target::Earliest => m.low,
            Target::Latest => m.high,
            Target::Current => current.unwrap_or(m.high),
            Target::Offset(n) => *n,
            Target::Shift(n) => match current {
                Some(c) => c.saturating_add(*n),
                None => {
                    failures.push(fail(
                        Exit::Error,
                        format!(
                            "group `{group}` has no committed offset for {}:{} to shift from; use --to-earliest, --to-latest or --to-offset for it",
                            tp.0, tp.1
                        ),
                    ));
                    continue;
                }
            },
            Target::Time(_) => match times.as_mut().and_then(|t| t.remove(&tp)) {
                Some(Ok(Some((o, _)))) => o,
                Some(Ok(None)) => m.high,
                Some(Err(e)) => {
                    failures.push(e);
                    continue;
                }
                None => continue,
            },
            Target::File(_) => match file_plan.as_ref().and_then(|f| f.get(&tp)) {
                Some(o) => *o,
                None => continue,
            },
            Target::Group(src) => match source.and_then(|s| s.get(&tp)) {
                Some(c) => c.offset,
                None => {
                    failures.push(fail(
                        Exit::Error,
                        format!(
                            "group `{src}` has no committed offset for {}:{} to copy",
                            tp.0, tp.1
                        ),
                    ));
                    continue;
                }
            },
        };
        let new = wanted.clamp(m.low, m.high.max(m.low));
        if new != wanted {
            eprintln!(
                "{}:{}: {wanted} is outside [{}, {}], using {new}",
                tp.0, tp.1, m.low, m.high
            );
        }
        rows.push(Row {
            group: group.to_owned(),
            tp,
            current,
            new,
        });
    }
    Ok((rows, failures))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_parse() {
        let p = parse_plan("t,0,5\nt,1,7\n\n# c\ng2,u,0,3\n").unwrap();
        assert_eq!(p[&None][&("t".to_owned(), 1)], 7);
        assert_eq!(p[&Some("g2".to_owned())][&("u".to_owned(), 0)], 3);
        for bad in ["", "t,0", "t,x,1", "t,0,y", "t,-1,0", ",0,1", "a,b,c,d,e"] {
            assert!(parse_plan(bad).is_err(), "{bad:?}");
        }
    }
}
