//! Reading a range of records from partitions: resolve `-o` per partition (ListOffsets for the
//! log start and end and for times), assign and seek, or join a group, then hand out batches
//! until every bounded partition reached its stop.
//!
//! "Reached its stop" compares the consumer's position with the stop, never record offsets:
//! an empty partition, a compacted gap or a trailing transaction marker moves the position
//! without a record, so `-e` cannot hang on them.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use kafka_client::admin::{IsolationLevel, OffsetSpec};
use kafka_client::consumer::{
    Consumer, ConsumerConfig, ConsumerRecord, OffsetReset, TopicPartition,
};
use kafka_client::kafka_proto::ErrorCode;
use kafka_client::{Admin, Client};

use crate::exit::{fail, not_found, Exit};
use crate::records::offset::{OffsetRange, Start, Stop};

/// The partitions of `topics` (all, or those in `only`), checked to exist. A missing topic or
/// partition is exit 3; topics are never created by reading them.
pub async fn partitions_of(
    client: &Client,
    topics: &[String],
    only: Option<&[i32]>,
) -> anyhow::Result<Vec<TopicPartition>> {
    let md = client
        .refresh_metadata(Some(topics))
        .await
        .context("fetching metadata")?;
    let mut out = Vec::new();
    for t in topics {
        if let Some(code) = md.topic_errors.get(t) {
            if *code == ErrorCode::UnknownTopicOrPartition {
                return Err(not_found(format!(
                    "topic `{t}` does not exist (see: kafka topic list; create it with: kafka topic create {t})"
                )));
            }
            return Err(fail(
                Exit::Error,
                format!("topic `{t}`: {code:?} from the broker"),
            ));
        }
        let Some(info) = md.topic(t) else {
            return Err(not_found(format!(
                "topic `{t}` does not exist (see: kafka topic list)"
            )));
        };
        let mut ids: Vec<i32> = info.partitions.iter().map(|p| p.partition).collect();
        ids.sort_unstable();
        match only {
            None => out.extend(ids.iter().map(|p| TopicPartition::new(t.clone(), *p))),
            Some(want) => {
                for p in want {
                    if !ids.contains(p) {
                        return Err(not_found(format!(
                            "topic `{t}` has no partition {p} (it has {}: 0..{}); fix -p",
                            ids.len(),
                            ids.len().saturating_sub(1)
                        )));
                    }
                    out.push(TopicPartition::new(t.clone(), *p));
                }
            }
        }
    }
    Ok(out)
}

/// One partition's resolved range.
#[derive(Clone, Debug)]
pub struct PartPlan {
    pub tp: TopicPartition,
    pub earliest: i64,
    pub latest: i64,
    pub start: i64,
    /// Exclusive; `None` follows.
    pub stop: Option<i64>,
}

async fn lookup(
    admin: &Admin,
    tps: &[TopicPartition],
    spec: impl Fn(&TopicPartition) -> OffsetSpec,
) -> anyhow::Result<HashMap<TopicPartition, i64>> {
    let specs: Vec<(&str, i32, OffsetSpec)> = tps
        .iter()
        .map(|tp| (tp.topic.as_str(), tp.partition, spec(tp)))
        .collect();
    let got = admin
        .list_offsets(&specs, IsolationLevel::ReadUncommitted)
        .await
        .context("looking up offsets")?;
    let mut out = HashMap::with_capacity(tps.len());
    for tp in tps {
        let r = got
            .get(&(tp.topic.clone(), tp.partition))
            .ok_or_else(|| anyhow::anyhow!("no offset returned for {tp}"))?;
        let o = r
            .as_ref()
            .map_err(|e| anyhow::Error::new(e.clone()))
            .with_context(|| format!("looking up offsets of {tp}"))?;
        out.insert(tp.clone(), o.offset);
    }
    Ok(out)
}

/// Resolves `range` for every partition (`cap_at_end`: `-e`).
pub async fn plan(
    client: &Client,
    tps: &[TopicPartition],
    range: &OffsetRange,
    cap_at_end: bool,
) -> anyhow::Result<Vec<PartPlan>> {
    let admin = Admin::new(client.clone());
    let earliest = lookup(&admin, tps, |_| OffsetSpec::Earliest).await?;
    let latest = lookup(&admin, tps, |_| OffsetSpec::Latest).await?;
    let by_time = |t: i64| {
        let admin = &admin;
        async move {
            let m = lookup(admin, tps, |_| OffsetSpec::Timestamp(t)).await?;
            // -1: no record at or after the time.
            Ok::<_, anyhow::Error>(
                m.into_iter()
                    .map(|(k, v)| (k, (v >= 0).then_some(v)))
                    .collect::<HashMap<_, _>>(),
            )
        }
    };
    let start_t = match range.start {
        Start::Time(t) => Some(by_time(t).await?),
        _ => None,
    };
    let stop_t = match range.stop {
        Stop::Time(t) => Some(by_time(t).await?),
        _ => None,
    };
    let mut out = Vec::with_capacity(tps.len());
    for tp in tps {
        let e = earliest.get(tp).copied().unwrap_or(0);
        let l = latest.get(tp).copied().unwrap_or(0).max(e);
        let st = start_t.as_ref().and_then(|m| m.get(tp).copied().flatten());
        let sp = stop_t.as_ref().and_then(|m| m.get(tp).copied().flatten());
        let (start, stop) = range.resolve(e, l, st, sp, cap_at_end);
        out.push(PartPlan {
            tp: tp.clone(),
            earliest: e,
            latest: l,
            start,
            stop,
        });
    }
    Ok(out)
}

#[derive(Debug)]
struct Status {
    tp: TopicPartition,
    stop: Option<i64>,
    done: bool,
    /// The offset after the last record handed out (what a commit stores).
    next: Option<i64>,
}

/// Hands out records of assigned partitions (or a group's) until the bounded ones are done.
#[derive(Debug)]
pub struct Reader {
    consumer: Consumer,
    parts: Vec<Status>,
    group: bool,
    last: usize,
    tick: tokio::time::Interval,
    max_batch: usize,
    empty_since: Option<std::time::Instant>,
    /// Assigned mode: the partitions and where they started.
    live: Vec<TopicPartition>,
    starts: HashMap<TopicPartition, i64>,
}

/// Fetch settings for a command-line consumer: larger fetches than the library's defaults
/// (throughput over memory), unless `-X` set them.
pub fn tune(cfg: &mut ConsumerConfig, props: &[(String, String)]) {
    let set = |k: &str| props.iter().any(|(p, _)| p == k);
    if !set("max.partition.fetch.bytes") {
        cfg.max_partition_fetch_bytes = 8 << 20;
    }
    if !set("fetch.max.wait.ms") {
        cfg.fetch_max_wait = Duration::from_millis(250);
    }
}

impl Reader {
    /// Assigns the planned partitions (skipping empty ranges) and seeks to their starts.
    pub fn assigned(
        client: &Client,
        mut cfg: ConsumerConfig,
        plan: &[PartPlan],
    ) -> anyhow::Result<Reader> {
        // Partitions that start at the log start need no seek.
        cfg.auto_offset_reset = OffsetReset::Earliest;
        let consumer = Consumer::with_client(client.clone(), cfg);
        let parts: Vec<Status> = plan
            .iter()
            .map(|p| Status {
                tp: p.tp.clone(),
                stop: p.stop,
                done: p.stop.is_some_and(|s| p.start >= s),
                next: None,
            })
            .collect();
        let live: Vec<TopicPartition> = parts
            .iter()
            .filter(|s| !s.done)
            .map(|s| s.tp.clone())
            .collect();
        consumer.assign(&live)?;
        let mut starts = HashMap::new();
        for p in plan {
            if live.contains(&p.tp) {
                if p.start != p.earliest {
                    consumer.seek(&p.tp, p.start)?;
                }
                starts.insert(p.tp.clone(), p.start);
            }
        }
        let mut r = Reader::new(consumer, parts, false);
        r.starts = starts;
        r.live = live;
        Ok(r)
    }

    /// Joins `group` for `topics`; `stops` bounds partitions (`-e`: the log ends now).
    pub fn group(
        client: &Client,
        mut cfg: ConsumerConfig,
        group: &str,
        topics: &[String],
        reset: OffsetReset,
        stops: Vec<(TopicPartition, Option<i64>)>,
    ) -> anyhow::Result<Reader> {
        cfg.group_id = Some(group.to_owned());
        cfg.enable_auto_commit = false;
        cfg.auto_offset_reset = reset;
        let consumer = Consumer::with_client(client.clone(), cfg);
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&names)?;
        let parts = stops
            .into_iter()
            .map(|(tp, stop)| Status {
                tp,
                stop,
                done: false,
                next: None,
            })
            .collect();
        Ok(Reader::new(consumer, parts, true))
    }

    fn new(consumer: Consumer, parts: Vec<Status>, group: bool) -> Reader {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Reader {
            consumer,
            parts,
            group,
            last: 0,
            tick,
            max_batch: 4096,
            empty_since: None,
            live: Vec::new(),
            starts: HashMap::new(),
        }
    }

    fn find(&mut self, topic: &str, partition: i32) -> Option<usize> {
        find_in(&self.parts, &mut self.last, topic, partition)
    }

    /// Marks partitions whose position reached their stop; true when nothing is left to read.
    fn check_done(&mut self) -> bool {
        let assigned = if self.group {
            if self.consumer.group_membership().is_none() {
                return false;
            }
            let a = self.consumer.assignment();
            // Right after joining the assignment may not have arrived yet; a member that
            // really gets nothing (more members than partitions) is done after a while.
            if a.is_empty() {
                let since = *self.empty_since.get_or_insert_with(std::time::Instant::now);
                return since.elapsed() >= Duration::from_secs(3);
            }
            self.empty_since = None;
            Some(a)
        } else {
            None
        };
        let mut finished = Vec::new();
        let mut all = true;
        for s in &mut self.parts {
            if let Some(a) = &assigned {
                if !a.contains(&s.tp) {
                    continue;
                }
            }
            if !s.done {
                if let (Some(stop), Some(pos)) = (s.stop, self.consumer.position(&s.tp)) {
                    if pos >= stop {
                        s.done = true;
                        finished.push(s.tp.clone());
                    }
                }
            }
            all &= s.done;
        }
        if !finished.is_empty() {
            self.consumer.pause(&finished);
        }
        all
    }

    /// The next records (in partition order), or `None` once every partition is done. Records
    /// at or past a partition's stop are dropped.
    ///
    /// # Cancel safety
    /// Cancel-safe: records are taken only in the poll that returns them.
    pub async fn next_batch(&mut self) -> anyhow::Result<Option<Vec<ConsumerRecord>>> {
        loop {
            if self.check_done() {
                return Ok(None);
            }
            tokio::select! {
                biased;
                r = self.consumer.recv_batch(self.max_batch) => {
                    let mut batch = r?;
                    let (parts, last) = (&mut self.parts, &mut self.last);
                    batch.retain(|r| match find_in(parts, last, &r.topic, r.partition) {
                        Some(k) => {
                            let s = &mut parts[k];
                            if s.done || s.stop.is_some_and(|stop| r.offset >= stop) {
                                false
                            } else {
                                s.next = Some(r.offset + 1);
                                true
                            }
                        }
                        None => true,
                    });
                    if !batch.is_empty() {
                        return Ok(Some(batch));
                    }
                }
                _ = self.tick.tick() => {}
            }
        }
    }

    /// Records handed out but not used (`-c` stopped in the middle of a batch): a commit must
    /// not cover them.
    pub fn unhandled(&mut self, rest: &[ConsumerRecord]) {
        for r in rest {
            if let Some(k) = self.find(&r.topic, r.partition) {
                let s = &mut self.parts[k];
                if s.next.is_none_or(|n| r.offset < n) {
                    s.next = Some(r.offset);
                }
            }
        }
    }

    /// Commits what was handed out (group mode): never past a stop.
    pub async fn commit(&self) -> anyhow::Result<()> {
        if !self.group {
            return Ok(());
        }
        let assigned = self.consumer.assignment();
        let mut offsets = Vec::new();
        for s in &self.parts {
            if !assigned.contains(&s.tp) {
                continue;
            }
            let pos = s.next.or_else(|| self.consumer.position(&s.tp));
            if let Some(mut o) = pos {
                if let Some(stop) = s.stop {
                    o = o.min(stop);
                }
                offsets.push((s.tp.clone(), o, None, None));
            }
        }
        if offsets.is_empty() {
            return Ok(());
        }
        self.consumer
            .commit_offsets(&offsets)
            .await
            .context("committing the group's offsets")
    }

    /// Commits (group mode) and leaves.
    pub async fn close(self) -> anyhow::Result<()> {
        let r = self.commit().await;
        let _ = self.consumer.close().await;
        r
    }
}

fn find_in(parts: &[Status], last: &mut usize, topic: &str, partition: i32) -> Option<usize> {
    if let Some(s) = parts.get(*last) {
        if s.tp.partition == partition && s.tp.topic == topic {
            return Some(*last);
        }
    }
    let i = parts
        .iter()
        .position(|s| s.tp.partition == partition && s.tp.topic == topic)?;
    *last = i;
    Some(i)
}
