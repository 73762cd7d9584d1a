//! The fetcher task: resolves positions (committed offsets, resets), validates positions after
//! leader changes (KIP-320), and keeps one Fetch in flight per broker for the partitions it
//! leads that have nothing buffered, using incremental fetch sessions (KIP-227).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use kafka_proto::messages::fetch_request::{
    FetchPartition, FetchRequest, FetchTopic, ForgottenTopic,
};
use kafka_proto::messages::fetch_response::FetchResponse;
use kafka_proto::messages::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use kafka_proto::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderEpochRequest, OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_proto::{ApiKey, ErrorCode, VersionRange};
use tokio::sync::mpsc;

use super::record::{FetchedPartition, TopicPartition};
use super::{group, Inner, IsolationLevel, OffsetReset, Reset};
use crate::client::{Node, Purpose};
use crate::error::{Context, Error, Result};

/// Fetch v4+ (record batches, isolation level, last stable offset), up to v12: the last
/// version that names topics (v13+ uses topic ids).
const FETCH_VERSIONS: VersionRange = VersionRange::new(4, 12);

/// The longest a fetch may wait for data while other partitions of the same broker still have
/// data buffered for the application (they cannot be fetched until this fetch returns).
const SHORT_POLL: Duration = Duration::from_millis(20);

#[derive(Default)]
struct Session {
    id: i32,
    epoch: i32,
    /// What the broker's session holds: partition → (fetch offset, max bytes).
    parts: HashMap<TopicPartition, (i64, i32)>,
}

struct Wanted {
    tp: TopicPartition,
    offset: i64,
    generation: u64,
    leader_epoch: i32,
}

struct FetchDone {
    broker: i32,
    wanted: Vec<Wanted>,
    incremental: bool,
    sent: Vec<(TopicPartition, i64)>,
    forgotten: Vec<TopicPartition>,
    result: Result<(i16, FetchResponse)>,
}

pub(crate) async fn run(inner: Arc<Inner>) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<FetchDone>();
    let mut sessions: HashMap<i32, Session> = HashMap::new();
    let mut busy: HashSet<i32> = HashSet::new();
    let mut backoff = Duration::from_millis(0);
    loop {
        if inner.stop.load(Ordering::Acquire) {
            break;
        }
        let wait = if backoff.is_zero() {
            Duration::from_millis(200)
        } else {
            backoff
        };
        tokio::select! {
            _ = inner.fetch_wake.notified() => {}
            Some(d) = done_rx.recv() => {
                busy.remove(&d.broker);
                handle_done(&inner, d, &mut sessions);
            }
            _ = tokio::time::sleep(wait) => {}
        }
        while let Ok(d) = done_rx.try_recv() {
            busy.remove(&d.broker);
            handle_done(&inner, d, &mut sessions);
        }
        if inner.stop.load(Ordering::Acquire) {
            break;
        }
        backoff = Duration::from_millis(0);
        if let Err(e) = resolve_positions(&inner).await {
            tracing::debug!(error = %e, "resolving positions failed; retrying");
            backoff = inner.client.config().retry_backoff;
        }
        let validation_failed = validate_positions(&inner).await;
        let (all_led, awaiting_validation) =
            start_fetches(&inner, &mut sessions, &mut busy, &done_tx);
        if !all_led || validation_failed {
            backoff = inner.client.config().retry_backoff;
        } else if awaiting_validation {
            // Metadata moved an epoch after validation looked: validate again at once.
            backoff = Duration::from_millis(1);
        }
    }
}

/// Positions of newly assigned or reset partitions: committed offsets first (group members),
/// then `auto.offset.reset` or the explicit seek via ListOffsets.
async fn resolve_positions(inner: &Arc<Inner>) -> Result<()> {
    let (committed_wanted, resets) = {
        let st = inner.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut c = Vec::new();
        let mut r = Vec::new();
        for (tp, p) in &st.parts {
            if p.position.is_some() {
                continue;
            }
            if let Some(reset) = p.reset {
                r.push((tp.clone(), reset, p.generation));
            } else if p.use_committed && inner.config.group_id.is_some() {
                c.push((tp.clone(), p.generation));
            }
        }
        (c, r)
    };
    let mut resets = resets;
    if !committed_wanted.is_empty() {
        let tps: Vec<TopicPartition> = committed_wanted.iter().map(|(tp, _)| tp.clone()).collect();
        let committed = group::fetch_committed(inner, &tps).await?;
        let mut st = inner.state.lock().unwrap_or_else(|p| p.into_inner());
        for (tp, generation) in committed_wanted {
            let Some(p) = st.parts.get_mut(&tp) else {
                continue;
            };
            if p.generation != generation || p.position.is_some() {
                continue;
            }
            p.use_committed = false;
            match committed.get(&tp) {
                Some((offset, epoch)) if *offset >= 0 => {
                    p.position = Some(*offset);
                    p.epoch = *epoch;
                }
                _ => match inner.config.auto_offset_reset {
                    OffsetReset::Earliest => {
                        p.reset = Some(Reset::Earliest);
                        resets.push((tp, Reset::Earliest, generation));
                    }
                    OffsetReset::Latest => {
                        p.reset = Some(Reset::Latest);
                        resets.push((tp, Reset::Latest, generation));
                    }
                    OffsetReset::None => {
                        let e = Error::InvalidArgument(format!(
                            "{tp} has no committed offset and auto.offset.reset is none; seek first"
                        ));
                        st.errors.push_back(e);
                        inner.records_ready.notify_waiters();
                    }
                },
            }
        }
    }
    // Plain assign() without a group: auto.offset.reset decides.
    {
        let mut st = inner.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut errs = Vec::new();
        for (tp, p) in st.parts.iter_mut() {
            if p.position.is_none()
                && p.reset.is_none()
                && (!p.use_committed || inner.config.group_id.is_none())
            {
                p.use_committed = false;
                let r = match inner.config.auto_offset_reset {
                    OffsetReset::Earliest => Reset::Earliest,
                    OffsetReset::Latest => Reset::Latest,
                    OffsetReset::None => {
                        errs.push(Error::InvalidArgument(format!(
                            "{tp} has no position and auto.offset.reset is none; seek first"
                        )));
                        p.reset = Some(Reset::Latest);
                        p.position = None;
                        continue;
                    }
                };
                p.reset = Some(r);
                if !resets.iter().any(|(t, _, _)| t == tp) {
                    resets.push((tp.clone(), r, p.generation));
                }
            }
        }
        if !errs.is_empty() {
            st.errors.extend(errs);
            inner.records_ready.notify_waiters();
        }
    }
    if resets.is_empty() {
        return Ok(());
    }
    let specs: Vec<(TopicPartition, i64)> = resets
        .iter()
        .map(|(tp, r, _)| {
            (
                tp.clone(),
                match r {
                    Reset::Earliest => -2,
                    Reset::Latest => -1,
                    Reset::Timestamp(t) => *t,
                },
            )
        })
        .collect();
    let found = list_offsets(inner, &specs).await?;
    let mut latest_again = Vec::new();
    {
        let mut st = inner.state.lock().unwrap_or_else(|p| p.into_inner());
        for (tp, r, generation) in resets {
            let Some(p) = st.parts.get_mut(&tp) else {
                continue;
            };
            if p.generation != generation || p.position.is_some() {
                continue;
            }
            match found.get(&tp) {
                Some(Ok((offset, _))) if *offset >= 0 => {
                    p.position = Some(*offset);
                    p.reset = None;
                }
                // No record at or after the timestamp: the log end.
                Some(Ok(_)) if matches!(r, Reset::Timestamp(_)) => {
                    p.reset = Some(Reset::Latest);
                    latest_again.push(tp.clone());
                }
                Some(Err(e)) if !e.is_retriable() => {
                    st.errors.push_back(e.clone());
                    inner.records_ready.notify_waiters();
                    return Ok(());
                }
                _ => {}
            }
        }
    }
    if !latest_again.is_empty() {
        inner.fetch_wake.notify_one();
    }
    Ok(())
}

/// ListOffsets for many partitions, one request per leader.
pub(crate) async fn list_offsets(
    inner: &Inner,
    specs: &[(TopicPartition, i64)],
) -> Result<HashMap<TopicPartition, Result<(i64, i32)>>> {
    let topics: Vec<String> = {
        let mut t: Vec<String> = specs.iter().map(|(tp, _)| tp.topic.clone()).collect();
        t.sort();
        t.dedup();
        t
    };
    let md = inner.client.metadata_for(&topics).await?;
    let mut by_leader: HashMap<i32, Vec<&(TopicPartition, i64)>> = HashMap::new();
    let mut out = HashMap::new();
    for s in specs {
        match md.leader(&s.0.topic, s.0.partition) {
            Some((l, _)) => by_leader.entry(l).or_default().push(s),
            None => {
                out.insert(
                    s.0.clone(),
                    Err(Error::Broker {
                        code: ErrorCode::LeaderNotAvailable,
                        message: None,
                        context: Context::default()
                            .with_topic(s.0.topic.clone(), Some(s.0.partition)),
                    }),
                );
            }
        }
    }
    let isolation = inner.config.isolation_level.as_i8();
    let mut futs = Vec::new();
    for (leader, items) in by_leader {
        let mut topics: Vec<ListOffsetsTopic> = Vec::new();
        for (tp, ts) in &items {
            let part = ListOffsetsPartition {
                partition_index: tp.partition,
                current_leader_epoch: md.leader(&tp.topic, tp.partition).map_or(-1, |(_, e)| e),
                timestamp: *ts,
                max_num_offsets: 1,
                ..Default::default()
            };
            match topics.iter_mut().find(|t| *t.name == *tp.topic) {
                Some(t) => t.partitions.push(part),
                None => topics.push(ListOffsetsTopic {
                    name: tp.topic.as_str().into(),
                    partitions: vec![part],
                    ..Default::default()
                }),
            }
        }
        let client = inner.client.clone();
        futs.push(async move {
            client
                .send_built(
                    Node::Id(leader),
                    Purpose::Fetch,
                    Some(VersionRange::new(1, i16::MAX)),
                    |v| ListOffsetsRequest {
                        replica_id: -1,
                        isolation_level: if v >= 2 { isolation } else { 0 },
                        topics,
                        timeout_ms: 30_000,
                        ..Default::default()
                    },
                )
                .await
        });
    }
    let mut stale = false;
    for r in join_all(futs).await {
        let (v, resp) = r?;
        for t in &resp.topics {
            for p in &t.partitions {
                let tp = TopicPartition::new(t.name.to_string(), p.partition_index);
                let res = match Error::from_code(p.error_code, None, || {
                    Context::default()
                        .with_api(ApiKey::ListOffsets, v)
                        .with_topic(tp.topic.clone(), Some(tp.partition))
                }) {
                    Some(e) => {
                        stale |= e.is_stale_metadata();
                        Err(e)
                    }
                    None => Ok((p.offset, p.leader_epoch)),
                };
                out.insert(tp, res);
            }
        }
    }
    if stale {
        inner.client.invalidate_metadata();
    }
    Ok(out)
}

/// Runs futures concurrently and collects their outputs in order.
pub(crate) async fn join_all<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut futs: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futs.iter_mut().enumerate() {
            if out[i].is_some() {
                continue;
            }
            match f.as_mut().poll(cx) {
                std::task::Poll::Ready(v) => out[i] = Some(v),
                std::task::Poll::Pending => pending = true,
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// After a leader change, checks the position against the new leader's log (KIP-320): if the
/// log was truncated below the position, the position moves back to the end of the epoch.
/// Returns whether some validation could not be asked (to be retried after a backoff).
async fn validate_positions(inner: &Arc<Inner>) -> bool {
    let mut failed = false;
    let md = inner.client.metadata();
    let todo: Vec<(TopicPartition, i32, i32, u64)> = {
        let mut st = inner.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut v = Vec::new();
        for (tp, p) in st.parts.iter_mut() {
            let Some((_, leader_epoch)) = md.leader(&tp.topic, tp.partition) else {
                continue;
            };
            if leader_epoch < 0 {
                continue;
            }
            match (p.validated_epoch, p.epoch, p.position) {
                (None, _, _) => p.validated_epoch = Some(leader_epoch),
                (Some(seen), Some(last), Some(_)) if seen < leader_epoch => {
                    v.push((tp.clone(), leader_epoch, last, p.generation));
                }
                (Some(seen), _, _) if seen < leader_epoch => p.validated_epoch = Some(leader_epoch),
                _ => {}
            }
        }
        v
    };
    for (tp, current, last, generation) in todo {
        let Some((leader, _)) = md.leader(&tp.topic, tp.partition) else {
            continue;
        };
        let req = OffsetForLeaderEpochRequest {
            replica_id: -1,
            topics: vec![OffsetForLeaderTopic {
                topic: tp.topic.as_str().into(),
                partitions: vec![OffsetForLeaderPartition {
                    partition: tp.partition,
                    current_leader_epoch: current,
                    leader_epoch: last,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let r = inner
            .client
            .send_to(
                Node::Id(leader),
                Purpose::Fetch,
                &req,
                Some(VersionRange::new(3, i16::MAX)),
            )
            .await;
        let mut st = inner.state.lock().unwrap_or_else(|p| p.into_inner());
        // A fresh generation in case the position moves: a fetch still in flight from the old
        // position must not be applied to the new one.
        let fresh = st.bump();
        let Some(p) = st.parts.get_mut(&tp) else {
            continue;
        };
        if p.generation != generation {
            continue;
        }
        match r {
            Ok((_, resp)) => {
                let end = resp
                    .topics
                    .first()
                    .and_then(|t| t.partitions.first())
                    .filter(|e| e.error_code == 0)
                    .map(|e| e.end_offset);
                p.validated_epoch = Some(current);
                // Compared with the position now: the application may have read on meanwhile.
                if let (Some(end), Some(now)) = (end, p.position) {
                    if end >= 0 && end < now {
                        tracing::warn!(%tp, position = now, end, "log truncated below the position; moving back");
                        p.position = Some(end);
                        p.generation = fresh;
                        // Records buffered from past the truncation point are gone from the log.
                        p.buffered = false;
                        inner.stats.truncations.fetch_add(1, Ordering::Relaxed);
                        st.drop_stale();
                    }
                }
            }
            // Brokers before 2.3 cannot validate for consumers: accept the position.
            Err(Error::UnsupportedVersion { .. }) => p.validated_epoch = Some(current),
            Err(e) => {
                failed = true;
                tracing::debug!(%tp, error = %e, "position validation failed; retrying");
            }
        }
    }
    failed
}

/// Starts a fetch on every broker without one in flight. Returns whether every partition had
/// a leader (false: metadata is being refreshed) and whether some partition was held back
/// because its position awaits validation against a new leader epoch.
fn start_fetches(
    inner: &Arc<Inner>,
    sessions: &mut HashMap<i32, Session>,
    busy: &mut HashSet<i32>,
    done: &mpsc::UnboundedSender<FetchDone>,
) -> (bool, bool) {
    let md = inner.client.metadata();
    let mut by_broker: HashMap<i32, Vec<Wanted>> = HashMap::new();
    let mut missing_leader = Vec::new();
    // Brokers some of whose partitions have data waiting for the application: a fetch to them
    // must not long-poll on idle partitions, or partitions that drain meanwhile wait for it.
    let mut flowing: HashSet<i32> = HashSet::new();
    let mut awaiting_validation = false;
    {
        let mut st = inner.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.buffered_bytes >= inner.config.max_buffered_bytes {
            return (true, false);
        }
        for (tp, p) in st.parts.iter_mut() {
            if p.buffered && !p.paused {
                if let Some((leader, _)) = md.leader(&tp.topic, tp.partition) {
                    flowing.insert(leader);
                }
            }
            if p.paused || p.buffered || p.in_flight {
                continue;
            }
            let Some(pos) = p.position else { continue };
            let leader = md.leader(&tp.topic, tp.partition);
            if let (Some(seen), Some(_), Some((_, epoch))) = (p.validated_epoch, p.epoch, leader) {
                if seen < epoch {
                    // The leader changed since the position was validated (metadata refreshed
                    // after `validate_positions` looked): fetching now could read a truncated
                    // log from the stale position, so the position is validated first.
                    awaiting_validation = true;
                    continue;
                }
            }
            match leader {
                Some((leader, epoch)) if md.brokers.contains_key(&leader) => {
                    if busy.contains(&leader) {
                        continue;
                    }
                    by_broker.entry(leader).or_default().push(Wanted {
                        tp: tp.clone(),
                        offset: pos,
                        generation: p.generation,
                        leader_epoch: epoch,
                    });
                }
                _ => missing_leader.push(tp.topic.clone()),
            }
        }
        for wanted in by_broker.values() {
            for w in wanted {
                if let Some(p) = st.parts.get_mut(&w.tp) {
                    p.in_flight = true;
                }
            }
        }
    }
    let all_led = missing_leader.is_empty();
    if !missing_leader.is_empty() {
        missing_leader.sort();
        missing_leader.dedup();
        let client = inner.client.clone();
        let wake = inner.clone();
        tokio::spawn(async move {
            let _ = client.refresh_metadata(Some(&missing_leader)).await;
            wake.fetch_wake.notify_one();
        });
    }
    for (broker, wanted) in by_broker {
        busy.insert(broker);
        let session = sessions.entry(broker).or_default();
        let wait = if flowing.contains(&broker) {
            inner.config.fetch_max_wait.min(SHORT_POLL)
        } else {
            inner.config.fetch_max_wait
        };
        spawn_fetch(inner, broker, wanted, session, wait, done.clone());
    }
    (all_led, awaiting_validation)
}

fn spawn_fetch(
    inner: &Arc<Inner>,
    broker: i32,
    wanted: Vec<Wanted>,
    session: &Session,
    wait: Duration,
    done: mpsc::UnboundedSender<FetchDone>,
) {
    let cfg = &inner.config;
    let max_part = cfg.max_partition_fetch_bytes;
    // Incremental when a session is open: send new and moved partitions, forget the rest.
    let incremental = session.id != 0;
    let mut sent = Vec::new();
    let mut forgotten = Vec::new();
    let mut topics: Vec<FetchTopic> = Vec::new();
    for w in &wanted {
        if incremental && session.parts.get(&w.tp) == Some(&(w.offset, max_part)) {
            continue;
        }
        sent.push((w.tp.clone(), w.offset));
        let part = FetchPartition {
            partition: w.tp.partition,
            current_leader_epoch: w.leader_epoch,
            fetch_offset: w.offset,
            last_fetched_epoch: -1,
            log_start_offset: -1,
            partition_max_bytes: max_part,
            ..Default::default()
        };
        match topics.iter_mut().find(|t| *t.topic == *w.tp.topic) {
            Some(t) => t.partitions.push(part),
            None => topics.push(FetchTopic {
                topic: w.tp.topic.as_str().into(),
                partitions: vec![part],
                ..Default::default()
            }),
        }
    }
    let mut forgotten_topics: Vec<ForgottenTopic> = Vec::new();
    if incremental {
        for tp in session.parts.keys() {
            if !wanted.iter().any(|w| &w.tp == tp) {
                forgotten.push(tp.clone());
                match forgotten_topics.iter_mut().find(|t| *t.topic == *tp.topic) {
                    Some(t) => t.partitions.push(tp.partition),
                    None => forgotten_topics.push(ForgottenTopic {
                        topic: tp.topic.as_str().into(),
                        partitions: [tp.partition].into_iter().collect(),
                        ..Default::default()
                    }),
                }
            }
        }
    }
    let (session_id, session_epoch) = if incremental {
        (session.id, session.epoch)
    } else {
        (0, 0)
    };
    let client = inner.client.clone();
    let req_base = FetchRequest {
        replica_id: -1,
        max_wait_ms: i32::try_from(wait.as_millis()).unwrap_or(i32::MAX),
        min_bytes: cfg.fetch_min_bytes,
        max_bytes: cfg.fetch_max_bytes,
        isolation_level: cfg.isolation_level.as_i8(),
        session_id,
        session_epoch,
        topics,
        forgotten_topics_data: forgotten_topics,
        rack_id: cfg.client_rack.clone().unwrap_or_default().into(),
        ..Default::default()
    };
    let timeout = client.config().request_timeout + wait;
    inner.stats.fetches.fetch_add(1, Ordering::Relaxed);
    if incremental {
        inner
            .stats
            .incremental_fetches
            .fetch_add(1, Ordering::Relaxed);
    } else {
        inner.stats.full_fetches.fetch_add(1, Ordering::Relaxed);
    }
    tokio::spawn(async move {
        let result = async {
            let conn = client.connection(Node::Id(broker), Purpose::Fetch).await?;
            let v = conn.version_for::<FetchRequest>(Some(FETCH_VERSIONS))?;
            let mut req = req_base;
            if v < 7 {
                req.session_id = 0;
                req.session_epoch = -1;
                req.forgotten_topics_data.clear();
            }
            let resp = conn.send_at(&req, v, timeout).await?;
            Ok((v, resp))
        }
        .await;
        let _ = done.send(FetchDone {
            broker,
            wanted,
            incremental,
            sent,
            forgotten,
            result,
        });
    });
}

fn handle_done(inner: &Arc<Inner>, d: FetchDone, sessions: &mut HashMap<i32, Session>) {
    let mut st = inner.state.lock().unwrap_or_else(|p| p.into_inner());
    for w in &d.wanted {
        if let Some(p) = st.parts.get_mut(&w.tp) {
            // Only one fetch per partition is ever in flight, so this response ends it whatever
            // the generation (a seek while it was in flight must not strand the partition).
            p.in_flight = false;
        }
    }
    let session = sessions.entry(d.broker).or_default();
    let (v, resp) = match d.result {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(broker = d.broker, error = %e, "fetch failed");
            *session = Session::default();
            if e.is_stale_metadata() || e.is_retriable() {
                inner.client.invalidate_metadata();
            } else {
                st.errors.push_back(e);
                inner.records_ready.notify_waiters();
            }
            return;
        }
    };
    let top = ErrorCode::from_i16(resp.error_code);
    if !top.is_ok() {
        if matches!(
            top,
            ErrorCode::FetchSessionIdNotFound | ErrorCode::InvalidFetchSessionEpoch
        ) {
            inner.stats.session_resets.fetch_add(1, Ordering::Relaxed);
        }
        *session = Session::default();
        return;
    }
    // Session bookkeeping (KIP-227).
    if v >= 7 && resp.session_id != 0 {
        if d.incremental {
            for tp in &d.forgotten {
                session.parts.remove(tp);
            }
        } else {
            session.parts.clear();
        }
        for (tp, off) in &d.sent {
            session
                .parts
                .insert(tp.clone(), (*off, inner.config.max_partition_fetch_bytes));
        }
        session.id = resp.session_id;
        session.epoch = if d.incremental {
            session.epoch.checked_add(1).unwrap_or(1)
        } else {
            1
        };
    } else {
        *session = Session::default();
    }
    let read_committed = inner.config.isolation_level == IsolationLevel::ReadCommitted;
    let mut stale = false;
    let mut got_data = false;
    for t in &resp.responses {
        for pd in &t.partitions {
            let tp = TopicPartition::new(t.topic.to_string(), pd.partition_index);
            let Some(w) = d.wanted.iter().find(|w| w.tp == tp) else {
                continue;
            };
            let generation = st.parts.get(&tp).map(|p| p.generation);
            if generation != Some(w.generation) {
                // Sought or revoked meanwhile: forget what the session has for it.
                session.parts.remove(&tp);
                continue;
            }
            let code = ErrorCode::from_i16(pd.error_code);
            let Some(p) = st.parts.get_mut(&tp) else {
                continue;
            };
            match code {
                ErrorCode::None => {
                    p.high_watermark = pd.high_watermark;
                    p.last_stable_offset = pd.last_stable_offset;
                    p.log_start_offset = pd.log_start_offset;
                    if pd.diverging_epoch.epoch >= 0 && pd.diverging_epoch.end_offset >= 0 {
                        if pd.diverging_epoch.end_offset < w.offset {
                            p.position = Some(pd.diverging_epoch.end_offset);
                            inner.stats.truncations.fetch_add(1, Ordering::Relaxed);
                            session.parts.remove(&tp);
                        }
                        continue;
                    }
                    let Some(records) = pd.records.clone().filter(|r| !r.is_empty()) else {
                        continue;
                    };
                    inner
                        .stats
                        .bytes
                        .fetch_add(records.len() as u64, Ordering::Relaxed);
                    let aborted = pd
                        .aborted_transactions
                        .as_ref()
                        .map(|a| a.iter().map(|x| (x.producer_id, x.first_offset)).collect());
                    let f = FetchedPartition::new(
                        tp.clone(),
                        p.topic.clone(),
                        w.generation,
                        records,
                        w.offset,
                        aborted,
                        read_committed,
                        inner.config.check_crcs,
                    );
                    p.buffered = true;
                    st.buffered_bytes += f.bytes;
                    st.buffer.push_back(f);
                    got_data = true;
                }
                ErrorCode::OffsetOutOfRange => {
                    session.parts.remove(&tp);
                    match inner.config.auto_offset_reset {
                        OffsetReset::Earliest => {
                            p.position = None;
                            p.reset = Some(Reset::Earliest);
                        }
                        OffsetReset::Latest => {
                            p.position = None;
                            p.reset = Some(Reset::Latest);
                        }
                        OffsetReset::None => {
                            let e = Error::Broker {
                                code,
                                message: Some(format!(
                                    "offset {} is out of range and auto.offset.reset is none; seek first",
                                    w.offset
                                )),
                                context: Context::default()
                                    .with_api(ApiKey::Fetch, v)
                                    .with_topic(tp.topic.clone(), Some(tp.partition)),
                            };
                            p.paused = true;
                            st.errors.push_back(e);
                            inner.records_ready.notify_waiters();
                        }
                    }
                }
                code if code.is_retriable()
                    || matches!(
                        code,
                        ErrorCode::FencedLeaderEpoch | ErrorCode::UnknownLeaderEpoch
                    ) =>
                {
                    session.parts.remove(&tp);
                    stale = true;
                }
                code => {
                    session.parts.remove(&tp);
                    let e = Error::Broker {
                        code,
                        message: None,
                        context: Context::default()
                            .with_api(ApiKey::Fetch, v)
                            .with_topic(tp.topic.clone(), Some(tp.partition)),
                    };
                    p.paused = true;
                    st.errors.push_back(e);
                    inner.records_ready.notify_waiters();
                }
            }
        }
    }
    drop(st);
    if got_data {
        inner.records_ready.notify_waiters();
    }
    if stale {
        inner.client.invalidate_metadata();
        let client = inner.client.clone();
        let wake = inner.clone();
        tokio::spawn(async move {
            let _ = client.refresh_metadata(None).await;
            wake.fetch_wake.notify_one();
        });
    }
}
