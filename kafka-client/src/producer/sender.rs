//! The sender task: closes lingering batches, drains ready batches into Produce requests (one
//! batch per partition per request, up to `max.in.flight.requests.per.connection` requests per
//! broker), and handles the results: offsets to the records, retries in sequence order,
//! batch splits after MESSAGE_TOO_LARGE, and epoch bumps (KIP-360) when a sequence breaks.
//!
//! All queue state changes after a response happen on this task (request tasks only send and
//! report back), so the ordering rules live in one place.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_proto::messages::init_producer_id_request::InitProducerIdRequest;
use kafka_proto::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use kafka_proto::messages::produce_response::ProduceResponse;
use kafka_proto::record::{RecordBatchBuilder, RecordBatches};
use kafka_proto::{ApiKey, ErrorCode, VersionRange};
use tokio::sync::mpsc;

use super::accumulator::{set_producer_fields, ClosedBatch, OpenBatch, PartitionQueue};
use super::{Acks, ProducerIdentity, Shared, TopicState};
use crate::client::{backoff, Node, Purpose};
use crate::error::{Context, Error};

/// Produce v3 is the first that carries magic-2 record batches.
const PRODUCE_VERSIONS: VersionRange = VersionRange::new(3, i16::MAX);

/// A partition queue with its topic and index.
type QueueRef = (Arc<TopicState>, i32, Arc<Mutex<PartitionQueue>>);

/// Error code, base offset, log append time and error message of one partition's answer.
type PartitionResult = (i16, i64, i64, Option<String>);

struct InFlight {
    topic: Arc<TopicState>,
    partition: i32,
    queue: Arc<Mutex<PartitionQueue>>,
    batch: ClosedBatch,
}

struct Completion {
    leader: i32,
    batches: Vec<InFlight>,
    result: Result<Option<ProduceResponse>, Error>,
}

pub(crate) async fn run(s: Arc<Shared>) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Completion>();
    let mut broker_in_flight: HashMap<i32, usize> = HashMap::new();
    let mut sinks: Sinks = HashMap::new();
    let mut next_wake: Option<Instant> = None;
    let refreshing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut identity_retry_at: Option<Instant> = None;
    let mut identity_attempts = 0u32;
    loop {
        let sleep_until = next_wake.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            _ = s.wake.notified() => {}
            Some(c) = done_rx.recv() => handle_completion(&s, c, &mut broker_in_flight, &refreshing),
            _ = tokio::time::sleep_until(sleep_until.into()) => {}
        }
        while let Ok(c) = done_rx.try_recv() {
            handle_completion(&s, c, &mut broker_in_flight, &refreshing);
        }
        let in_flight: usize = broker_in_flight.values().sum();
        if s.stop.load(Ordering::Acquire) && in_flight == 0 && nothing_left(&s) {
            break;
        }
        if let Some(e) = s.fatal.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            fail_everything(&s, &e);
            if s.stop.load(Ordering::Acquire) && in_flight == 0 {
                break;
            }
            next_wake = Some(Instant::now() + Duration::from_millis(100));
            continue;
        }
        // Idempotence: a producer id first; an epoch bump once nothing is in flight.
        if s.config.idempotence {
            let have_identity = s
                .identity
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_some();
            let bump =
                s.needs_bump.load(Ordering::Acquire) && in_flight == 0 && !any_unknown_outcome(&s);
            if (!have_identity || bump) && identity_retry_at.is_none_or(|t| t <= Instant::now()) {
                match init_producer_id(&s, bump).await {
                    Ok(()) => {
                        identity_retry_at = None;
                        identity_attempts = 0;
                    }
                    Err(e) if e.is_retriable() => {
                        identity_attempts += 1;
                        let cfg = s.client.config();
                        identity_retry_at = Some(
                            Instant::now()
                                + backoff(
                                    cfg.retry_backoff,
                                    cfg.retry_backoff_max,
                                    identity_attempts,
                                ),
                        );
                        tracing::debug!(error = %e, "InitProducerId failed; retrying");
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot obtain a producer id");
                        *s.fatal.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        s.has_fatal.store(true, Ordering::Release);
                        continue;
                    }
                }
            }
        }
        next_wake = drain(&s, &mut sinks, &done_tx, &mut broker_in_flight, &refreshing);
        if let Some(t) = identity_retry_at {
            next_wake = Some(next_wake.map_or(t, |n| n.min(t)));
        }
    }
}

fn nothing_left(s: &Shared) -> bool {
    s.incomplete
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .is_empty()
}

fn for_each_queue(
    s: &Shared,
    mut f: impl FnMut(&Arc<TopicState>, i32, &Arc<Mutex<PartitionQueue>>),
) {
    for t in s.all_topics() {
        let qs: Vec<_> = t.queues.read().unwrap_or_else(|p| p.into_inner()).clone();
        for (p, q) in qs.iter().enumerate() {
            f(&t, p as i32, q);
        }
    }
}

fn any_unknown_outcome(s: &Shared) -> bool {
    let mut any = false;
    for_each_queue(s, |_, _, q| {
        let q = q.lock().unwrap_or_else(|p| p.into_inner());
        any |= q.retry.iter().any(|b| b.unknown_outcome);
    });
    any
}

/// Fails every queued record (fatal producer error).
fn fail_everything(s: &Shared, e: &Error) {
    let mut failed = Vec::new();
    for_each_queue(s, |t, p, q| {
        let mut q = q.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(open) = q.open.take() {
            failed.push((t.name.clone(), p, Fail::Open(open)));
        }
        while let Some(b) = q.retry.pop_front() {
            failed.push((t.name.clone(), p, Fail::Closed(b)));
        }
        while let Some(b) = q.ready.pop_front() {
            failed.push((t.name.clone(), p, Fail::Closed(b)));
        }
        q.queued_bytes = 0;
    });
    for (topic, p, f) in failed {
        let ctx = Context::default().with_topic(topic.to_string(), Some(p));
        let _ = ctx;
        match f {
            Fail::Open(o) => {
                let n = o.waiters.len() as u64;
                for w in o.waiters {
                    w.resolve(Err(e.clone()));
                }
                s.stats.records_failed.fetch_add(n, Ordering::Relaxed);
                s.release(o.memory);
                s.batch_done(o.id);
            }
            Fail::Closed(b) => fail_batch(s, &topic, p, b, e.clone()),
        }
    }
}

enum Fail {
    Open(OpenBatch),
    Closed(ClosedBatch),
}

fn fail_batch(s: &Shared, topic: &Arc<str>, partition: i32, b: ClosedBatch, e: Error) {
    let (id, memory, n) = (b.id, b.memory, b.records() as u64);
    b.complete(topic, partition, Err(e));
    s.stats.records_failed.fetch_add(n, Ordering::Relaxed);
    s.release(memory);
    s.batch_done(id);
}

fn request_refresh(s: &Arc<Shared>, refreshing: &Arc<std::sync::atomic::AtomicBool>) {
    if refreshing.swap(true, Ordering::AcqRel) {
        return;
    }
    s.client.invalidate_metadata();
    let s = s.clone();
    let flag = refreshing.clone();
    tokio::spawn(async move {
        let topics: Vec<String> = s.all_topics().iter().map(|t| t.name.to_string()).collect();
        if let Err(e) = s.client.refresh_metadata(Some(&topics)).await {
            tracing::debug!(error = %e, "producer metadata refresh failed");
        }
        flag.store(false, Ordering::Release);
        s.wake.notify_one();
    });
}

/// Closes lingering batches, expires old ones, and sends what can be sent. Returns when to look
/// again.
fn drain(
    s: &Arc<Shared>,
    sinks: &mut Sinks,
    done_tx: &mpsc::UnboundedSender<Completion>,
    broker_in_flight: &mut HashMap<i32, usize>,
    refreshing: &Arc<std::sync::atomic::AtomicBool>,
) -> Option<Instant> {
    let now = Instant::now();
    let flushing = s.flushing.load(Ordering::Acquire) > 0 || s.closed.load(Ordering::Acquire);
    let linger = s.config.linger;
    let delivery_timeout = s.config.delivery_timeout;
    let max_in_flight = s.client.config().max_in_flight.max(1);
    let md = s.client.metadata();
    let identity = *s.identity.lock().unwrap_or_else(|p| p.into_inner());
    let bumping = s.needs_bump.load(Ordering::Acquire);
    if s.config.idempotence && identity.is_none() {
        // Nothing can be sent before the producer id; still close lingering batches below.
    }
    let mut next: Option<Instant> = None;
    let mut wake_at = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
    let mut need_metadata = false;
    let mut by_leader: HashMap<i32, Vec<QueueRef>> = HashMap::new();
    let mut expired: Vec<(Arc<str>, i32, ClosedBatch)> = Vec::new();
    let mut failed_close = Vec::new();
    for_each_queue(s, |t, p, queue| {
        let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(open) = &q.open {
            let due = open.created + linger;
            if flushing || due <= now {
                if let Some(f) = q.close_open() {
                    failed_close.push((t.name.clone(), p, f));
                }
            } else {
                wake_at(due);
            }
        }
        // Expire batches that waited past delivery.timeout.ms (never ones in flight).
        let qr = &mut *q;
        for list in [&mut qr.retry, &mut qr.ready] {
            let mut keep = std::collections::VecDeque::with_capacity(list.len());
            while let Some(b) = list.pop_front() {
                if b.created + delivery_timeout <= now {
                    expired.push((t.name.clone(), p, b));
                } else {
                    keep.push_back(b);
                }
            }
            *list = keep;
        }
        if q.ready.is_empty() && q.retry.is_empty() {
            return;
        }
        if let Some(b) = q.retry.front().or(q.ready.front()) {
            wake_at(b.created + delivery_timeout);
        }
        match md.leader(&t.name, p) {
            Some((leader, _)) if md.brokers.contains_key(&leader) => {
                by_leader
                    .entry(leader)
                    .or_default()
                    .push((t.clone(), p, queue.clone()));
            }
            _ => {
                need_metadata = true;
                wake_at(now + s.client.config().retry_backoff);
            }
        }
    });
    for (topic, p, (e, waiters, memory, id)) in failed_close {
        let n = waiters.len() as u64;
        for w in waiters {
            w.resolve(Err(e.clone()));
        }
        let _ = (topic, p);
        s.stats.records_failed.fetch_add(n, Ordering::Relaxed);
        s.release(memory);
        s.batch_done(id);
    }
    for (topic, p, b) in expired {
        if b.sequence.is_some() && s.config.idempotence {
            s.needs_bump.store(true, Ordering::Release);
        }
        let e = Error::Timeout {
            context: Context::default().with_topic(topic.to_string(), Some(p)),
            after: delivery_timeout,
            last: Some(Box::new(Error::InvalidArgument(
                "record expired before it could be delivered (delivery.timeout.ms)".into(),
            ))),
        };
        fail_batch(s, &topic, p, b, e);
    }
    if need_metadata {
        request_refresh(s, refreshing);
    }
    let can_send = !s.config.idempotence || identity.is_some();
    if !can_send {
        return next;
    }
    for (leader, parts) in by_leader {
        loop {
            let used = broker_in_flight.get(&leader).copied().unwrap_or(0);
            if used >= max_in_flight {
                break;
            }
            let mut batches = Vec::new();
            let mut size = 0usize;
            for (t, p, queue) in &parts {
                let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
                let retrying = !q.retry.is_empty();
                let limit = if retrying || bumping {
                    1
                } else {
                    max_in_flight
                };
                if q.in_flight >= limit {
                    continue;
                }
                let from_retry = retrying;
                let head = if from_retry {
                    q.retry.front()
                } else {
                    q.ready.front()
                };
                let Some(head) = head else { continue };
                if bumping && !(from_retry && head.unknown_outcome) {
                    continue;
                }
                if let Some(t) = head.not_before {
                    if t > now {
                        wake_at(t);
                        continue;
                    }
                }
                if !batches.is_empty() && size + head.data.len() > s.config.max_request_size {
                    continue;
                }
                let popped = if from_retry {
                    q.retry.pop_front()
                } else {
                    q.ready.pop_front()
                };
                let Some(mut b) = popped else { continue };
                q.queued_bytes = q.queued_bytes.saturating_sub(b.memory);
                if let Some(id) = identity {
                    if b.sequence.is_none() {
                        let seq = q.next_sequence;
                        q.next_sequence = next_sequence(seq, b.records());
                        b.sequence = Some(seq);
                    }
                    let data = std::mem::take(&mut b.data);
                    b.data = set_producer_fields(data, id.id, id.epoch, b.sequence.unwrap_or(0));
                }
                q.in_flight += 1;
                size += b.data.len();
                batches.push(InFlight {
                    topic: t.clone(),
                    partition: *p,
                    queue: queue.clone(),
                    batch: b,
                });
            }
            if batches.is_empty() {
                break;
            }
            *broker_in_flight.entry(leader).or_default() += 1;
            send_request(s, sinks, leader, batches, done_tx.clone());
        }
    }
    next
}

/// Kafka sequences wrap from `i32::MAX` to 0.
fn next_sequence(seq: i32, records: i32) -> i32 {
    let n = i64::from(seq) + i64::from(records);
    (n % (i64::from(i32::MAX) + 1)) as i32
}

/// A Produce request for one broker's sink.
struct Job {
    req: ProduceRequest,
    batches: Vec<InFlight>,
}

/// Per-broker sinks: requests to one broker are queued on its connection in drain order (a
/// task per request could overtake an earlier one, and the broker would see sequence gaps).
type Sinks = HashMap<i32, mpsc::UnboundedSender<Job>>;

fn send_request(
    s: &Arc<Shared>,
    sinks: &mut Sinks,
    leader: i32,
    batches: Vec<InFlight>,
    done: mpsc::UnboundedSender<Completion>,
) {
    let mut topics: Vec<TopicProduceData> = Vec::new();
    for b in &batches {
        let data = PartitionProduceData {
            index: b.partition,
            records: Some(b.batch.data.clone()),
            ..Default::default()
        };
        match topics.iter_mut().find(|t| *t.name == *b.topic.name) {
            Some(t) => t.partition_data.push(data),
            None => topics.push(TopicProduceData {
                name: b.topic.name.as_ref().into(),
                partition_data: vec![data],
                ..Default::default()
            }),
        }
    }
    let timeout = s.client.config().request_timeout;
    let req = ProduceRequest {
        transactional_id: None,
        acks: s.config.acks.as_i16(),
        timeout_ms: i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX),
        topic_data: topics,
        ..Default::default()
    };
    s.stats.requests.fetch_add(1, Ordering::Relaxed);
    let job = Job { req, batches };
    let sink = sinks.entry(leader).or_insert_with(|| {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(sink(s.clone(), leader, rx, done.clone()));
        tx
    });
    if let Err(mpsc::error::SendError(job)) = sink.send(job) {
        // The sink ended (cannot happen while the sender runs); fail over to a new one.
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(self::sink(s.clone(), leader, rx, done));
        let _ = tx.send(job);
        sinks.insert(leader, tx);
    }
}

/// Queues one broker's Produce requests on its connection, in order, and hands each response
/// back to the sender task.
async fn sink(
    s: Arc<Shared>,
    leader: i32,
    mut rx: mpsc::UnboundedReceiver<Job>,
    done: mpsc::UnboundedSender<Completion>,
) {
    let timeout = s.client.config().request_timeout + Duration::from_secs(1);
    let acks = s.config.acks;
    let client = s.client.clone();
    drop(s);
    while let Some(Job { req, batches }) = rx.recv().await {
        let queued = async {
            let conn = client
                .connection(Node::Id(leader), Purpose::Produce)
                .await?;
            let v = conn.version_for::<ProduceRequest>(Some(PRODUCE_VERSIONS))?;
            conn.enqueue_typed(&req, v, timeout, acks != Acks::None)
                .await
        }
        .await;
        match queued {
            Err(e) => {
                let _ = done.send(Completion {
                    leader,
                    batches,
                    result: Err(e),
                });
            }
            Ok(q) => {
                let done = done.clone();
                tokio::spawn(async move {
                    let result = q.response(timeout).await;
                    let _ = done.send(Completion {
                        leader,
                        batches,
                        result,
                    });
                });
            }
        }
    }
}

fn handle_completion(
    s: &Arc<Shared>,
    c: Completion,
    broker_in_flight: &mut HashMap<i32, usize>,
    refreshing: &Arc<std::sync::atomic::AtomicBool>,
) {
    if let Some(n) = broker_in_flight.get_mut(&c.leader) {
        *n = n.saturating_sub(1);
    }
    let mut stale = false;
    match c.result {
        Err(e) => {
            stale |= e.is_stale_metadata() || e.is_retriable();
            for f in c.batches {
                // No answer: the batch may or may not have been written.
                let unknown = !matches!(e, Error::UnsupportedVersion { .. } | Error::Encode { .. });
                batch_failed(s, f, e.clone(), unknown);
            }
        }
        Ok(None) => {
            for f in c.batches {
                batch_succeeded(s, f, -1, -1);
            }
        }
        Ok(Some(resp)) => {
            let mut results: HashMap<(&str, i32), PartitionResult> = HashMap::new();
            for t in &resp.responses {
                for p in &t.partition_responses {
                    let msg = p.error_message.as_ref().map(|m| m.to_string()).or_else(|| {
                        p.record_errors.first().and_then(|r| {
                            r.batch_index_error_message.as_ref().map(|m| m.to_string())
                        })
                    });
                    results.insert(
                        (&*t.name, p.index),
                        (p.error_code, p.base_offset, p.log_append_time_ms, msg),
                    );
                }
            }
            for f in c.batches {
                let r = results.get(&(&*f.topic.name, f.partition)).cloned();
                match r {
                    None => {
                        let e = Error::protocol(
                            Context::default()
                                .with_api(ApiKey::Produce, -1)
                                .with_topic(f.topic.name.to_string(), Some(f.partition)),
                            "the Produce response does not mention this partition",
                        );
                        batch_failed(s, f, e, true);
                    }
                    Some((0, base, append_time, _)) => batch_succeeded(s, f, base, append_time),
                    Some((code, _, _, _))
                        if ErrorCode::from_i16(code) == ErrorCode::DuplicateSequenceNumber =>
                    {
                        // Already written by an earlier attempt.
                        batch_succeeded(s, f, -1, -1)
                    }
                    Some((code, _, _, msg)) => {
                        let e = Error::Broker {
                            code: ErrorCode::from_i16(code),
                            message: msg,
                            context: Context::default()
                                .with_api(ApiKey::Produce, -1)
                                .with_topic(f.topic.name.to_string(), Some(f.partition)),
                        };
                        stale |= e.is_stale_metadata();
                        batch_failed(s, f, e, false);
                    }
                }
            }
        }
    }
    if stale {
        request_refresh(s, refreshing);
    }
    s.wake.notify_one();
}

fn batch_succeeded(s: &Shared, f: InFlight, base_offset: i64, log_append_time: i64) {
    {
        let mut q = f.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.in_flight = q.in_flight.saturating_sub(1);
    }
    let (id, memory, n) = (f.batch.id, f.batch.memory, f.batch.records() as u64);
    f.batch.complete(
        &f.topic.name,
        f.partition,
        Ok((base_offset, log_append_time)),
    );
    s.stats.records_sent.fetch_add(n, Ordering::Relaxed);
    s.stats.batches_sent.fetch_add(1, Ordering::Relaxed);
    s.release(memory);
    s.batch_done(id);
}

fn batch_failed(s: &Arc<Shared>, f: InFlight, e: Error, unknown_outcome: bool) {
    let InFlight {
        topic,
        partition,
        queue,
        mut batch,
    } = f;
    let code = e.code();
    let now = Instant::now();
    let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
    q.in_flight = q.in_flight.saturating_sub(1);
    let idempotent = s.config.idempotence;
    let expired = batch.created + s.config.delivery_timeout <= now;
    let out_of_retries = batch.attempts >= s.config.retries;

    // Too large for the broker: split in two and send again, or fail a lone record.
    if matches!(
        code,
        Some(ErrorCode::MessageTooLarge | ErrorCode::RecordListTooLarge)
    ) && batch.records() > 1
        && !expired
    {
        if let Some(halves) = split(s, &mut batch) {
            s.stats.splits.fetch_add(1, Ordering::Relaxed);
            if idempotent && batch.sequence.is_some() {
                s.needs_bump.store(true, Ordering::Release);
            }
            for b in halves.into_iter().rev() {
                q.queued_bytes += b.memory;
                q.retry.push_front(b);
            }
            // The halves own the waiters now; the old batch id is done.
            s.batch_done(batch.id);
            return;
        }
    }
    let sequence_broken = idempotent
        && matches!(
            code,
            Some(
                ErrorCode::OutOfOrderSequenceNumber
                    | ErrorCode::UnknownProducerId
                    | ErrorCode::InvalidProducerEpoch
            )
        );
    // OUT_OF_ORDER after an earlier batch of the partition failed is that failure's echo:
    // resend in order with the same sequence.
    let echo = code == Some(ErrorCode::OutOfOrderSequenceNumber)
        && batch.sequence.is_some_and(|seq| {
            q.retry
                .iter()
                .any(|b| b.sequence.is_some_and(|other| other < seq))
        });
    let retry = !expired && !out_of_retries && (e.is_retriable() || echo || sequence_broken);
    if retry {
        if sequence_broken && !echo {
            s.needs_bump.store(true, Ordering::Release);
        }
        batch.attempts += 1;
        batch.unknown_outcome |= unknown_outcome;
        let cfg = s.client.config();
        batch.not_before =
            Some(now + backoff(cfg.retry_backoff, cfg.retry_backoff_max, batch.attempts));
        q.queued_bytes += batch.memory;
        let seq = batch.sequence.unwrap_or(i32::MAX);
        let at = q
            .retry
            .iter()
            .position(|b| b.sequence.unwrap_or(i32::MAX) > seq)
            .unwrap_or(q.retry.len());
        q.retry.insert(at, batch);
        s.stats.retries.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(topic = %topic.name, partition, error = %e, "retrying batch");
        return;
    }
    drop(q);
    if idempotent && batch.sequence.is_some() {
        // Later batches of this partition carry sequences after this one: start over.
        s.needs_bump.store(true, Ordering::Release);
    }
    let e = if expired && e.is_retriable() {
        Error::Timeout {
            context: Context::default().with_topic(topic.name.to_string(), Some(partition)),
            after: s.config.delivery_timeout,
            last: Some(Box::new(e)),
        }
    } else {
        e
    };
    fail_batch(s, &topic.name, partition, batch, e);
}

/// Splits a closed batch in two by re-encoding its records (only after MESSAGE_TOO_LARGE).
/// The halves take over the batch's records, memory and delivery deadline.
fn split(s: &Shared, b: &mut ClosedBatch) -> Option<Vec<ClosedBatch>> {
    let batch = RecordBatches::new(b.data.clone()).next()?.ok()?;
    let records: Vec<_> = batch.records().ok()?.collect::<Result<Vec<_>, _>>().ok()?;
    let n = records.len();
    if n != b.waiters.len() || n < 2 {
        return None;
    }
    let half = n / 2;
    let opts = s.options.max_bytes(usize::MAX);
    let mut encoded = Vec::with_capacity(2);
    for range in [0..half, half..n] {
        let mut builder = RecordBatchBuilder::new(opts);
        for r in records.get(range.clone())? {
            let headers: Vec<_> = r.headers().collect();
            builder
                .try_append(r.timestamp(), r.key(), r.value(), &headers)
                .ok()?;
        }
        encoded.push((range, builder.finish(&Default::default()).ok()?));
    }
    // Nothing can fail any more: move the records' waiters and memory into the halves.
    let mut first_waiters = std::mem::take(&mut b.waiters);
    let second_waiters = first_waiters.split_off(half);
    let first_memory = b.memory * half / n;
    let memories = [first_memory, b.memory - first_memory];
    let mut waiters = [first_waiters, second_waiters].into_iter();
    let mut out = Vec::with_capacity(2);
    for (i, (range, data)) in encoded.into_iter().enumerate() {
        let id = s.next_batch.fetch_add(1, Ordering::Relaxed);
        s.incomplete
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id);
        out.push(ClosedBatch {
            id,
            data,
            waiters: waiters.next().unwrap_or_default(),
            timestamps: b
                .timestamps
                .get(range)
                .map(<[i64]>::to_vec)
                .unwrap_or_default(),
            memory: memories[i],
            created: b.created,
            attempts: b.attempts + 1,
            sequence: None,
            unknown_outcome: false,
            not_before: None,
        });
    }
    b.memory = 0;
    Some(out)
}

/// Obtains a producer id, or bumps the epoch of the current one (KIP-360, InitProducerId v3+
/// with the current id and epoch; older brokers hand out a new id instead). Afterwards every
/// partition's sequence restarts at 0 and batches waiting for a resend get new sequences.
async fn init_producer_id(s: &Shared, bump: bool) -> Result<(), Error> {
    let current = *s.identity.lock().unwrap_or_else(|p| p.into_inner());
    let node = s.client.any_broker();
    let (v, resp) = s
        .client
        .send_built(node, Purpose::Admin, None, |v| InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: i32::MAX,
            producer_id: match current {
                Some(c) if bump && v >= 3 => c.id,
                _ => -1,
            },
            producer_epoch: match current {
                Some(c) if bump && v >= 3 => c.epoch,
                _ => -1,
            },
            ..Default::default()
        })
        .await?;
    if let Some(e) = Error::from_code(resp.error_code, None, || {
        Context::default().with_api(ApiKey::InitProducerId, v)
    }) {
        return Err(e);
    }
    *s.identity.lock().unwrap_or_else(|p| p.into_inner()) = Some(ProducerIdentity {
        id: resp.producer_id,
        epoch: resp.producer_epoch,
    });
    if current.is_some() {
        s.stats.epoch_bumps.fetch_add(1, Ordering::Relaxed);
        for_each_queue(s, |_, _, q| {
            let mut q = q.lock().unwrap_or_else(|p| p.into_inner());
            q.next_sequence = 0;
            for b in q.retry.iter_mut() {
                b.sequence = None;
                b.unknown_outcome = false;
            }
        });
    }
    s.needs_bump.store(false, Ordering::Release);
    tracing::debug!(
        producer_id = resp.producer_id,
        epoch = resp.producer_epoch,
        bumped = current.is_some(),
        "producer identity"
    );
    Ok(())
}
