//! `kafka group`: list, describe, delete, delete-offsets, reset (the last in [`reset`]).

mod reset;

use std::collections::{BTreeMap, BTreeSet};

use kafka_client::admin::{CommittedOffset, GroupDescription, MemberAssignment};
use kafka_client::Admin;
use serde_json::{json, Value};

use super::topic::print_rows;
use super::topic::util::{
    anchored, group_error, or_dash, parse_topic_spec, partition_error, split_existing, watermarks,
    Outcome, Tp,
};
use super::Ctx;
use crate::exit::{fail, not_found, usage, Exit};
use crate::output::{self, Format};

pub use reset::ResetArgs;

#[derive(Debug, clap::Subcommand)]
pub enum GroupCommand {
    /// List consumer groups (id, state, protocol type, coordinator).
    List(ListArgs),
    /// Describe groups: state, members and assignments, committed offsets, log ends and lag.
    Describe(DescribeArgs),
    /// Delete groups (they must have no active members).
    Delete(DeleteArgs),
    /// Delete a group's committed offsets of some topics or partitions.
    DeleteOffsets(DeleteOffsetsArgs),
    /// Reset committed offsets: a preview by default, --execute to apply.
    Reset(ResetArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only groups in these states (Stable, Empty, PreparingRebalance, CompletingRebalance,
    /// Dead; any case); repeatable or comma-separated.
    #[arg(
        short = 's',
        long = "state",
        value_name = "STATE",
        value_delimiter = ','
    )]
    pub states: Vec<String>,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["groups", "regex"])))]
pub struct DescribeArgs {
    /// Group ids.
    #[arg(value_name = "GROUP")]
    pub groups: Vec<String>,
    /// Every group whose whole id matches this regex.
    #[arg(short = 'r', long, value_name = "REGEX", conflicts_with = "groups")]
    pub regex: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// Group ids.
    #[arg(required = true, value_name = "GROUP")]
    pub groups: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct DeleteOffsetsArgs {
    /// The group id.
    pub group: String,
    /// TOPIC (every partition the group committed) or TOPIC:P,P...; repeatable.
    #[arg(
        short = 't',
        long = "topic",
        required = true,
        value_name = "TOPIC[:P,..]"
    )]
    pub topics: Vec<String>,
}

pub async fn run(c: GroupCommand, ctx: &Ctx) -> anyhow::Result<()> {
    match c {
        GroupCommand::List(a) => list(a, ctx).await,
        GroupCommand::Describe(a) => describe(a, ctx).await,
        GroupCommand::Delete(a) => delete(a, ctx).await,
        GroupCommand::DeleteOffsets(a) => delete_offsets(a, ctx).await,
        GroupCommand::Reset(a) => reset::run(a, ctx).await,
    }
}

/// Group states as Kafka spells them (ListGroups filters are case-insensitive in Kafka; we
/// send Kafka's spelling).
const STATES: &[&str] = &[
    "Stable",
    "Empty",
    "PreparingRebalance",
    "CompletingRebalance",
    "Dead",
    "Assigning",
    "Reconciling",
    "Unknown",
];

fn parse_state(s: &str) -> anyhow::Result<&'static str> {
    let norm: String = s
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .collect::<String>()
        .to_ascii_lowercase();
    STATES
        .iter()
        .find(|k| k.to_ascii_lowercase() == norm)
        .copied()
        .ok_or_else(|| {
            usage(format!(
                "unknown group state `{s}`: expected one of {}",
                STATES.join(", ")
            ))
        })
}

async fn list(a: ListArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let states: Vec<&str> = a
        .states
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_state(s.trim()))
        .collect::<anyhow::Result<_>>()?;
    let admin = ctx.settings()?.admin().await?;
    let listed = admin
        .list_groups((!states.is_empty()).then_some(states.as_slice()))
        .await?;
    let rows: Vec<Value> = listed
        .groups
        .iter()
        // Older brokers ignore the filter; apply it here too when they report states.
        .filter(|g| {
            states.is_empty()
                || g.state
                    .as_deref()
                    .is_none_or(|s| states.iter().any(|w| w.eq_ignore_ascii_case(s)))
        })
        .map(|g| {
            json!({
                "group": g.group_id,
                "state": g.state,
                "protocol_type": g.protocol_type,
                "coordinator": g.coordinator,
            })
        })
        .collect();
    print_rows(
        ctx,
        &rows,
        &[
            ("GROUP", "group"),
            ("STATE", "state"),
            ("PROTOCOL TYPE", "protocol_type"),
            ("COORDINATOR", "coordinator"),
        ],
    )?;
    let mut outcome = Outcome::new();
    outcome.ok();
    for (node, e) in listed.errors {
        outcome.fail(
            anyhow::Error::new(e).context(format!("broker {node} (its groups are missing above)")),
        );
    }
    outcome.finish()
}

/// The committed offsets of a group that has them (`Ok(None)` entries dropped).
async fn committed_offsets(
    admin: &Admin,
    group: &str,
) -> anyhow::Result<BTreeMap<Tp, CommittedOffset>> {
    let got = admin
        .list_group_offsets(group, None)
        .await
        .map_err(|e| group_error(group, e))?;
    Ok(got
        .into_iter()
        .filter_map(|(tp, r)| Some((tp, r.ok()??)))
        .collect())
}

/// The partitions a member is assigned, as `topic:p,p topic2:p`.
fn assignment_text(a: &MemberAssignment) -> String {
    match a {
        MemberAssignment::Consumer { partitions, .. } => partitions
            .iter()
            .map(|(t, ps)| {
                let ps: Vec<String> = ps.iter().map(|p| p.to_string()).collect();
                format!("{t}:{}", ps.join(","))
            })
            .collect::<Vec<_>>()
            .join(" "),
        MemberAssignment::Raw(b) if b.is_empty() => String::new(),
        MemberAssignment::Raw(b) => format!("({} bytes)", b.len()),
        _ => String::new(),
    }
}

/// One described group as a JSON document (the `--format json` schema).
async fn describe_doc(admin: &Admin, d: &GroupDescription) -> anyhow::Result<Value> {
    let committed = committed_offsets(admin, &d.group_id).await?;
    let mut owner: BTreeMap<Tp, usize> = BTreeMap::new();
    for (i, m) in d.members.iter().enumerate() {
        if let MemberAssignment::Consumer { partitions, .. } = &m.assignment {
            for (t, ps) in partitions {
                for p in ps {
                    owner.insert((t.clone(), *p), i);
                }
            }
        }
    }
    let tps: Vec<Tp> = committed
        .keys()
        .chain(owner.keys())
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let (live, _gone) = split_existing(admin, &tps).await?;
    let mut marks = watermarks(admin, &live).await?;
    let mut total_lag: i64 = 0;
    let mut offsets = Vec::new();
    for tp in &tps {
        let c = committed.get(tp).map(|c| c.offset);
        let end = match marks.remove(tp) {
            Some(Ok(m)) => Some(m.high),
            Some(Err(e)) => {
                // A deleted topic keeps its committed offsets; show them without a log end.
                tracing::debug!("{e:#}");
                None
            }
            None => None,
        };
        let lag = match (c, end) {
            (Some(c), Some(e)) => Some((e - c).max(0)),
            _ => None,
        };
        total_lag += lag.unwrap_or(0);
        let m = owner.get(tp).and_then(|i| d.members.get(*i));
        offsets.push(json!({
            "topic": tp.0,
            "partition": tp.1,
            "committed": c,
            "log_end": end,
            "lag": lag,
            "member_id": m.map(|m| m.member_id.clone()),
            "client_id": m.map(|m| m.client_id.clone()),
            "host": m.map(|m| m.client_host.clone()),
        }));
    }
    let members: Vec<Value> = d
        .members
        .iter()
        .map(|m| {
            let assignment: Vec<Value> = match &m.assignment {
                MemberAssignment::Consumer { partitions, .. } => partitions
                    .iter()
                    .map(|(t, ps)| json!({"topic": t, "partitions": ps}))
                    .collect(),
                _ => Vec::new(),
            };
            json!({
                "member_id": m.member_id,
                "group_instance_id": m.group_instance_id,
                "client_id": m.client_id,
                "host": m.client_host,
                "assignment": assignment,
                "assignment_text": assignment_text(&m.assignment),
            })
        })
        .collect();
    Ok(json!({
        "group": d.group_id,
        "state": d.state,
        "protocol_type": d.protocol_type,
        "protocol": d.protocol,
        "coordinator": d.coordinator,
        "members": members,
        "offsets": offsets,
        "total_lag": total_lag,
    }))
}

fn print_group_table(doc: &Value) -> anyhow::Result<()> {
    use super::topic::cell;
    let mut t = output::table(&[
        "GROUP",
        "STATE",
        "PROTOCOL",
        "MEMBERS",
        "COORDINATOR",
        "TOTAL LAG",
    ]);
    let members = doc["members"].as_array().cloned().unwrap_or_default();
    let protocol = match (doc["protocol_type"].as_str(), doc["protocol"].as_str()) {
        (Some(t), Some(p)) if !t.is_empty() && !p.is_empty() => format!("{t}/{p}"),
        (Some(t), _) if !t.is_empty() => t.to_owned(),
        _ => "-".to_owned(),
    };
    t.add_row(vec![
        cell(&doc["group"]),
        cell(&doc["state"]),
        protocol,
        members.len().to_string(),
        cell(&doc["coordinator"]),
        cell(&doc["total_lag"]),
    ]);
    output::print_table(&t)?;
    if !members.is_empty() {
        let mut t = output::table(&["MEMBER", "CLIENT ID", "HOST", "ASSIGNMENT"]);
        for m in &members {
            t.add_row(vec![
                cell(&m["member_id"]),
                cell(&m["client_id"]),
                cell(&m["host"]),
                cell(&m["assignment_text"]),
            ]);
        }
        output::print_table(&t)?;
    }
    let offsets = doc["offsets"].as_array().cloned().unwrap_or_default();
    if !offsets.is_empty() {
        let mut t = output::table(&[
            "TOPIC",
            "PARTITION",
            "COMMITTED",
            "LOG END",
            "LAG",
            "CLIENT ID",
            "HOST",
        ]);
        for o in &offsets {
            t.add_row(vec![
                cell(&o["topic"]),
                cell(&o["partition"]),
                or_dash(o["committed"].as_i64()),
                or_dash(o["log_end"].as_i64()),
                or_dash(o["lag"].as_i64()),
                cell(&o["client_id"]),
                cell(&o["host"]),
            ]);
        }
        output::print_table(&t)?;
    }
    Ok(())
}

async fn describe(a: DescribeArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let re = a.regex.as_deref().map(anchored).transpose()?;
    let admin = ctx.settings()?.admin().await?;
    let groups: Vec<String> = match &re {
        Some(re) => {
            let listed = admin.list_groups(None).await?;
            let matched: Vec<String> = listed
                .groups
                .into_iter()
                .map(|g| g.group_id)
                .filter(|g| re.is_match(g))
                .collect();
            if matched.is_empty() {
                return Err(not_found(format!(
                    "no group matches `{}` (see: kafka group list)",
                    a.regex.as_deref().unwrap_or_default()
                )));
            }
            matched
        }
        None => {
            let mut seen = BTreeSet::new();
            a.groups
                .iter()
                .filter(|g| seen.insert(g.as_str()))
                .cloned()
                .collect()
        }
    };
    let refs: Vec<&str> = groups.iter().map(String::as_str).collect();
    let mut described = admin.describe_groups(&refs).await?;
    let mut outcome = Outcome::new();
    let mut docs = Vec::new();
    for g in &groups {
        match described.remove(g) {
            Some(Ok(d)) => match describe_doc(&admin, &d).await {
                Ok(doc) => {
                    outcome.ok();
                    docs.push(doc);
                }
                Err(e) => outcome.fail(e),
            },
            Some(Err(e)) => outcome.fail(group_error(g, e)),
            None => outcome.fail(fail(
                Exit::Error,
                format!("group `{g}`: the coordinator did not answer"),
            )),
        }
    }
    match ctx.format() {
        Format::Json => output::print_json(&Value::Array(docs))?,
        Format::Table => {
            for (i, doc) in docs.iter().enumerate() {
                if i > 0 {
                    output::print_line("")?;
                }
                print_group_table(doc)?;
            }
        }
    }
    outcome.finish()
}

async fn delete(a: DeleteArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let admin = ctx.settings()?.admin().await?;
    let mut seen = BTreeSet::new();
    let groups: Vec<&str> = a
        .groups
        .iter()
        .map(String::as_str)
        .filter(|g| seen.insert(*g))
        .collect();
    let mut results = admin.delete_groups(&groups).await?;
    let mut outcome = Outcome::new();
    let mut rows = Vec::new();
    for g in groups {
        match results.remove(g) {
            Some(Ok(())) => {
                outcome.ok();
                rows.push(json!({"group": g, "status": "deleted"}));
            }
            Some(Err(e)) => outcome.fail(group_error(g, e)),
            None => outcome.fail(fail(
                Exit::Error,
                format!("group `{g}`: the coordinator did not answer"),
            )),
        }
    }
    print_rows(ctx, &rows, &[("GROUP", "group"), ("STATUS", "status")])?;
    outcome.finish()
}

async fn delete_offsets(a: DeleteOffsetsArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let specs: Vec<(String, Option<Vec<i32>>)> = a
        .topics
        .iter()
        .map(|t| parse_topic_spec(t))
        .collect::<anyhow::Result<_>>()?;
    let admin = ctx.settings()?.admin().await?;
    let committed = committed_offsets(&admin, &a.group).await?;
    let mut tps: BTreeSet<Tp> = BTreeSet::new();
    for (topic, parts) in &specs {
        match parts {
            Some(ps) => tps.extend(ps.iter().map(|p| (topic.clone(), *p))),
            None => {
                let before = tps.len();
                tps.extend(committed.keys().filter(|(t, _)| t == topic).cloned());
                if tps.len() == before {
                    return Err(not_found(format!(
                        "group `{}` has no committed offsets for topic `{topic}` (see: kafka group describe {})",
                        a.group, a.group
                    )));
                }
            }
        }
    }
    let asks: Vec<(&str, i32)> = tps.iter().map(|(t, p)| (t.as_str(), *p)).collect();
    let mut results = admin
        .delete_group_offsets(&a.group, &asks)
        .await
        .map_err(|e| group_error(&a.group, e))?;
    let mut outcome = Outcome::new();
    let mut rows = Vec::new();
    for tp in &tps {
        match results.remove(tp) {
            Some(Ok(())) => {
                outcome.ok();
                rows.push(json!({
                    "group": a.group, "topic": tp.0, "partition": tp.1, "status": "deleted",
                }));
            }
            Some(Err(e)) => outcome.fail(partition_error(&tp.0, tp.1, e)),
            None => outcome.fail(fail(
                Exit::Error,
                format!("topic `{}` partition {}: no answer", tp.0, tp.1),
            )),
        }
    }
    print_rows(
        ctx,
        &rows,
        &[
            ("GROUP", "group"),
            ("TOPIC", "topic"),
            ("PARTITION", "partition"),
            ("STATUS", "status"),
        ],
    )?;
    outcome.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_case_insensitive() {
        assert_eq!(parse_state("stable").unwrap(), "Stable");
        assert_eq!(parse_state("EMPTY").unwrap(), "Empty");
        assert_eq!(
            parse_state("preparing_rebalance").unwrap(),
            "PreparingRebalance"
        );
        assert!(parse_state("asleep").is_err());
    }
}
