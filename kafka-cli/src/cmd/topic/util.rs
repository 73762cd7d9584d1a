//! Helpers the admin commands (topic, group, offsets, cluster) share: per-item failures and
//! exit codes, friendly messages for the usual broker errors, `TOPIC[:P,P..]` specs, anchored
//! regexes, partition lists and watermarks.

use std::collections::{BTreeMap, HashMap};

use kafka_client::admin::{IsolationLevel, OffsetSpec};
use kafka_client::kafka_proto::ErrorCode;
use kafka_client::{Admin, TopicInfo};
use regex::Regex;

use crate::exit::{self, fail, not_found, usage, Exit};

/// `(topic, partition)`.
pub type Tp = (String, i32);

/// The outcome of a multi-item command: how many items succeeded, and the failures.
#[derive(Debug, Default)]
pub struct Outcome {
    succeeded: usize,
    failures: Vec<anyhow::Error>,
}

impl Outcome {
    pub fn new() -> Outcome {
        Outcome::default()
    }

    /// One item succeeded.
    pub fn ok(&mut self) {
        self.succeeded += 1;
    }

    /// One item failed.
    pub fn fail(&mut self, e: anyhow::Error) {
        self.failures.push(e);
    }

    /// Ends the command. Nothing failed: success. Otherwise every failure but the returned one
    /// is printed on stderr, one line each; the returned error is a partial failure (exit 5)
    /// when something succeeded, or, when everything failed, the failures' own class if they
    /// share one (all missing: 3), else a plain error.
    pub fn finish(self) -> anyhow::Result<()> {
        let total = self.succeeded + self.failures.len();
        let mut failures = self.failures;
        let Some(last) = failures.pop() else {
            return Ok(());
        };
        let (last_exit, last_line) = exit::classify(&last);
        let mut same = true;
        for f in &failures {
            let (code, line) = exit::classify(f);
            same &= code == last_exit;
            eprintln!("kafka: {}", line.unwrap_or_default());
        }
        if self.succeeded > 0 {
            eprintln!("kafka: {}", last_line.unwrap_or_default());
            return Err(exit::partial(format!(
                "{} of {total} items failed (see above)",
                failures.len() + 1
            )));
        }
        if same {
            Err(last)
        } else {
            Err(fail(Exit::Error, last_line.unwrap_or_default()))
        }
    }
}

/// A topic-level client error as one line with a fix, keeping its exit class.
pub fn topic_error(topic: &str, e: kafka_client::Error) -> anyhow::Error {
    match e.code() {
        Some(ErrorCode::UnknownTopicOrPartition | ErrorCode::UnknownTopicId) => not_found(format!(
            "topic `{topic}` does not exist (see: kafka topic list)"
        )),
        Some(ErrorCode::TopicAlreadyExists) => fail(
            Exit::Error,
            format!("topic `{topic}` already exists (add --if-not-exists to accept that)"),
        ),
        _ => anyhow::Error::new(e).context(format!("topic `{topic}`")),
    }
}

/// A partition-level client error as one line, keeping its exit class.
pub fn partition_error(topic: &str, partition: i32, e: kafka_client::Error) -> anyhow::Error {
    match e.code() {
        Some(ErrorCode::UnknownTopicOrPartition) => not_found(format!(
            "partition {partition} of topic `{topic}` does not exist (see: kafka topic describe {topic} -p)"
        )),
        _ => anyhow::Error::new(e).context(format!("topic `{topic}` partition {partition}")),
    }
}

/// A group-level client error as one line with a fix, keeping its exit class.
pub fn group_error(group: &str, e: kafka_client::Error) -> anyhow::Error {
    match e.code() {
        Some(ErrorCode::GroupIdNotFound) => not_found(format!(
            "group `{group}` does not exist (see: kafka group list)"
        )),
        Some(ErrorCode::NonEmptyGroup) => fail(
            Exit::Error,
            format!("group `{group}` has active members; stop its consumers first"),
        ),
        _ => anyhow::Error::new(e).context(format!("group `{group}`")),
    }
}

/// A regex matched against whole names (as Kafka's tools do): `orders` matches only `orders`,
/// `orders.*` every name starting with it.
pub fn anchored(re: &str) -> anyhow::Result<Regex> {
    Regex::new(&format!("^(?:{re})$")).map_err(|e| {
        usage(format!(
            "invalid regex `{re}`: {}",
            one_line(&e.to_string())
        ))
    })
}

/// The last non-empty line of a multi-line message (regex errors draw a caret diagram).
fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or(s)
        .to_owned()
}

/// `TOPIC` or `TOPIC:P,P,...`.
pub fn parse_topic_spec(s: &str) -> anyhow::Result<(String, Option<Vec<i32>>)> {
    let bad = || {
        usage(format!(
            "invalid topic `{s}`: expected TOPIC or TOPIC:PARTITION[,PARTITION...] such as orders:0,1"
        ))
    };
    match s.split_once(':') {
        None if !s.is_empty() => Ok((s.to_owned(), None)),
        None => Err(bad()),
        Some((t, ps)) => {
            if t.is_empty() {
                return Err(bad());
            }
            let mut parts = Vec::new();
            for p in ps.split(',') {
                let n: i32 = p.trim().parse().map_err(|_| bad())?;
                if n < 0 {
                    return Err(bad());
                }
                if !parts.contains(&n) {
                    parts.push(n);
                }
            }
            Ok((t.to_owned(), Some(parts)))
        }
    }
}

/// Parses `key=value` for a flag.
pub fn parse_kv(flag: &str, s: &str) -> anyhow::Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(usage(format!("{flag} expects key=value, got `{s}`"))),
    }
}

/// Describes topics; a failure is per topic (missing: exit 3).
pub async fn describe(
    admin: &Admin,
    topics: &[String],
) -> anyhow::Result<BTreeMap<String, Result<TopicInfo, anyhow::Error>>> {
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let mut described = admin.describe_topics(&names).await?;
    let mut out = BTreeMap::new();
    for t in topics {
        let r = match described.remove(t) {
            Some(Ok(info)) => Ok(info),
            Some(Err(e)) => Err(topic_error(t, e)),
            None => Err(not_found(format!(
                "topic `{t}` does not exist (see: kafka topic list)"
            ))),
        };
        out.insert(t.clone(), r);
    }
    Ok(out)
}

/// Describes one topic; missing is an error (exit 3).
pub async fn describe_one(admin: &Admin, topic: &str) -> anyhow::Result<TopicInfo> {
    describe(admin, &[topic.to_owned()])
        .await?
        .remove(topic)
        .unwrap_or_else(|| Err(not_found(format!("topic `{topic}` does not exist"))))
}

/// Splits partitions into those that exist (per fresh metadata) and those that do not (their
/// topic is gone, or it has fewer partitions). Offsets lookups of missing partitions would
/// otherwise be retried until the call's deadline.
pub async fn split_existing(admin: &Admin, tps: &[Tp]) -> anyhow::Result<(Vec<Tp>, Vec<Tp>)> {
    let topics: Vec<String> = tps
        .iter()
        .map(|(t, _)| t.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if topics.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let described = describe(admin, &topics).await?;
    let (mut have, mut missing) = (Vec::new(), Vec::new());
    for tp in tps {
        let exists = match described.get(&tp.0) {
            Some(Ok(info)) => info.partition(tp.1).is_some(),
            _ => false,
        };
        if exists {
            have.push(tp.clone());
        } else {
            missing.push(tp.clone());
        }
    }
    Ok((have, missing))
}

/// The error for a partition that does not exist.
pub fn missing_partition(tp: &Tp) -> anyhow::Error {
    not_found(format!(
        "topic `{}` partition {} does not exist (see: kafka topic describe {} -p)",
        tp.0, tp.1, tp.0
    ))
}

/// Low and high watermarks (log start offset, log end offset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Marks {
    pub low: i64,
    pub high: i64,
}

/// The watermarks of partitions (two ListOffsets lookups run together).
pub async fn watermarks(
    admin: &Admin,
    tps: &[Tp],
) -> anyhow::Result<HashMap<Tp, anyhow::Result<Marks>>> {
    let earliest: Vec<(&str, i32, OffsetSpec)> = tps
        .iter()
        .map(|(t, p)| (t.as_str(), *p, OffsetSpec::Earliest))
        .collect();
    let latest: Vec<(&str, i32, OffsetSpec)> = tps
        .iter()
        .map(|(t, p)| (t.as_str(), *p, OffsetSpec::Latest))
        .collect();
    let (lo, hi) = tokio::join!(
        admin.list_offsets(&earliest, IsolationLevel::ReadUncommitted),
        admin.list_offsets(&latest, IsolationLevel::ReadUncommitted)
    );
    let (mut lo, mut hi) = (lo?, hi?);
    let mut out = HashMap::with_capacity(tps.len());
    for tp in tps {
        let r = match (lo.remove(tp), hi.remove(tp)) {
            (Some(Ok(l)), Some(Ok(h))) => Ok(Marks {
                low: l.offset,
                high: h.offset,
            }),
            (Some(Err(e)), _) | (_, Some(Err(e))) => Err(partition_error(&tp.0, tp.1, e)),
            _ => Err(fail(
                Exit::Error,
                format!(
                    "no offsets reported for topic `{}` partition {}",
                    tp.0, tp.1
                ),
            )),
        };
        out.insert(tp.clone(), r);
    }
    Ok(out)
}

/// The first offset of each partition whose timestamp is at or after `ms`; `None` when no
/// record is that recent.
pub async fn offsets_for_time(
    admin: &Admin,
    tps: &[Tp],
    ms: i64,
) -> anyhow::Result<HashMap<Tp, anyhow::Result<Option<(i64, i64)>>>> {
    let specs: Vec<(&str, i32, OffsetSpec)> = tps
        .iter()
        .map(|(t, p)| (t.as_str(), *p, OffsetSpec::Timestamp(ms)))
        .collect();
    let mut found = admin
        .list_offsets(&specs, IsolationLevel::ReadUncommitted)
        .await?;
    Ok(tps
        .iter()
        .map(|tp| {
            let r = match found.remove(tp) {
                Some(Ok(o)) if o.offset >= 0 => Ok(Some((o.offset, o.timestamp))),
                Some(Ok(_)) => Ok(None),
                Some(Err(e)) => Err(partition_error(&tp.0, tp.1, e)),
                None => Err(fail(
                    Exit::Error,
                    format!("no offset reported for topic `{}` partition {}", tp.0, tp.1),
                )),
            };
            (tp.clone(), r)
        })
        .collect())
}

/// `-` for a missing number in a table.
pub fn or_dash(v: Option<i64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_specs() {
        assert_eq!(parse_topic_spec("t").unwrap(), ("t".into(), None));
        assert_eq!(
            parse_topic_spec("t:0,2,2").unwrap(),
            ("t".into(), Some(vec![0, 2]))
        );
        for bad in ["", ":1", "t:", "t:x", "t:-1", "t:1,,2"] {
            assert!(parse_topic_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn regexes_are_anchored() {
        let r = anchored("ord.*").unwrap();
        assert!(r.is_match("orders"));
        assert!(!r.is_match("old-orders"));
        let e = anchored("(").unwrap_err().to_string();
        assert!(!e.contains('\n'), "{e}");
    }
}
