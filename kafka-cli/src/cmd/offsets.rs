//! `kafka offsets TOPIC [--at earliest|latest|@TIME]`: per-partition offsets.

use serde_json::{json, Value};

use super::topic::print_rows;
use super::topic::util::{describe_one, offsets_for_time, watermarks, Outcome, Tp};
use super::Ctx;
use crate::exit::usage;
use crate::timespec;

#[derive(Debug, clap::Args)]
pub struct OffsetsArgs {
    /// The topic.
    pub topic: String,
    /// Only this offset: `earliest` (log start), `latest` (log end), or `@TIME` for the first
    /// record at or after a time (@2024-01-02T03:04:05, @-1h, @EPOCH_MS) [default: earliest and
    /// latest].
    #[arg(long, value_name = "earliest|latest|@TIME", allow_hyphen_values = true)]
    pub at: Option<String>,
}

/// `--at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    Earliest,
    Latest,
    Time(i64),
}

fn parse_at(s: &str) -> anyhow::Result<At> {
    let t = s.trim();
    if let Some(time) = t.strip_prefix('@') {
        return timespec::parse_time(time)
            .map(At::Time)
            .map_err(|e| usage(format!("--at {s}: {e}")));
    }
    match t.to_ascii_lowercase().as_str() {
        "earliest" | "start" | "beginning" => Ok(At::Earliest),
        "latest" | "end" => Ok(At::Latest),
        _ => Err(usage(format!(
            "--at expects earliest, latest or @TIME (e.g. @2024-01-02T03:04:05, @-1h), got `{s}`"
        ))),
    }
}

pub async fn run(a: OffsetsArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let at = a.at.as_deref().map(parse_at).transpose()?;
    let admin = ctx.settings()?.admin().await?;
    let info = describe_one(&admin, &a.topic).await?;
    let tps: Vec<Tp> = info
        .partitions
        .iter()
        .map(|p| (a.topic.clone(), p.partition))
        .collect();
    let mut outcome = Outcome::new();
    let mut rows: Vec<Value> = Vec::new();
    match at {
        None | Some(At::Earliest) | Some(At::Latest) => {
            let mut marks = watermarks(&admin, &tps).await?;
            for tp in &tps {
                match marks.remove(tp) {
                    Some(Ok(m)) => {
                        outcome.ok();
                        rows.push(match at {
                            None => json!({
                                "partition": tp.1,
                                "earliest": m.low,
                                "latest": m.high,
                                "records": (m.high - m.low).max(0),
                            }),
                            Some(At::Earliest) => json!({"partition": tp.1, "offset": m.low}),
                            _ => json!({"partition": tp.1, "offset": m.high}),
                        });
                    }
                    Some(Err(e)) => outcome.fail(e),
                    None => {}
                }
            }
        }
        Some(At::Time(ms)) => {
            let (found, marks) =
                tokio::join!(offsets_for_time(&admin, &tps, ms), watermarks(&admin, &tps));
            let (mut found, mut marks) = (found?, marks?);
            for tp in &tps {
                match (found.remove(tp), marks.remove(tp)) {
                    (Some(Ok(Some((offset, ts)))), _) => {
                        outcome.ok();
                        rows.push(json!({
                            "partition": tp.1,
                            "offset": offset,
                            "timestamp": ts,
                            "time": timespec::format_rfc3339_ms(ts),
                        }));
                    }
                    // No record that recent: the log end, where the next one will go.
                    (Some(Ok(None)), Some(Ok(m))) => {
                        outcome.ok();
                        rows.push(json!({
                            "partition": tp.1,
                            "offset": m.high,
                            "timestamp": null,
                            "time": null,
                        }));
                    }
                    (Some(Err(e)), _) | (_, Some(Err(e))) => outcome.fail(e),
                    _ => {}
                }
            }
        }
    }
    let cols: &[(&str, &str)] = match at {
        None => &[
            ("PARTITION", "partition"),
            ("EARLIEST", "earliest"),
            ("LATEST", "latest"),
            ("RECORDS", "records"),
        ],
        Some(At::Time(_)) => &[
            ("PARTITION", "partition"),
            ("OFFSET", "offset"),
            ("TIMESTAMP", "time"),
        ],
        Some(_) => &[("PARTITION", "partition"), ("OFFSET", "offset")],
    };
    print_rows(ctx, &rows, cols)?;
    outcome.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_values() {
        assert_eq!(parse_at("earliest").unwrap(), At::Earliest);
        assert_eq!(parse_at("LATEST").unwrap(), At::Latest);
        assert_eq!(parse_at("@1000").unwrap(), At::Time(1000));
        assert!(parse_at("@soon").is_err());
        assert!(parse_at("middle").is_err());
    }
}
