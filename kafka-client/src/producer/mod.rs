//! The producer: batching per partition in wire format, partitioners, idempotence (KIP-98,
//! KIP-360 epoch bumps), async backpressure, retries within `delivery.timeout.ms`.
//!
//! ```no_run
//! # async fn demo() -> kafka_client::Result<()> {
//! use kafka_client::producer::{Producer, ProducerConfig, ProducerRecord};
//! let producer = Producer::connect(ProducerConfig::new("127.0.0.1:9092")).await?;
//! let delivery = producer.send(ProducerRecord::new("events").key("user-1").value("hello")).await?;
//! let meta = delivery.await?; // partition and offset once the broker has it
//! println!("{}-{}@{}", meta.topic, meta.partition, meta.offset);
//! producer.close().await?;
//! # Ok(()) }
//! ```
//!
//! Flow: `send` resolves the topic's partitions (waiting for metadata, which auto-creates on
//! brokers that allow it, up to `max.block.ms`), picks the partition, reserves buffer memory
//! (waiting while `buffer.memory` is used up: async backpressure) and appends the record to the
//! partition's open batch. One sender task drains closed batches into Produce requests, one per
//! leader, up to `max.in.flight.requests.per.connection` per broker, and resolves each record
//! when the response comes. Dropping a delivery future does not cancel the send.

mod accumulator;
pub mod config;
pub mod partitioner;
mod sender;

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafka_proto::record::{BuilderOptions, Header};
use tokio::sync::{oneshot, Notify, Semaphore};

pub use config::{Acks, PartitionerChoice, ProducerConfig};
pub use partitioner::{PartitionInput, Partitioner};

use crate::client::Client;
use crate::error::{Context, Error, Result};
use accumulator::PartitionQueue;

/// Topic names are short and chosen by the application: a fast non-keyed hash for the
/// per-record topic lookup (SipHash was 2-3% of `send`).
pub(crate) type FastHash = rustc_hash::FxBuildHasher;

/// A record to send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerRecord {
    /// The topic.
    pub topic: String,
    /// An explicit partition (bypasses the partitioner).
    pub partition: Option<i32>,
    /// The key (`None` is a null key).
    pub key: Option<Bytes>,
    /// The value (`None` is a null value: a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// Headers in order; duplicates allowed; values may be null.
    pub headers: Vec<(String, Option<Bytes>)>,
    /// CreateTime in ms since the epoch (default: now).
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record for `topic` with null key and value.
    pub fn new(topic: impl Into<String>) -> ProducerRecord {
        ProducerRecord {
            topic: topic.into(),
            ..ProducerRecord::default()
        }
    }

    /// Sets the key.
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the value.
    pub fn value(mut self, value: impl Into<Bytes>) -> Self {
        self.value = Some(value.into());
        self
    }

    /// Adds a header.
    pub fn header(mut self, key: impl Into<String>, value: Option<impl Into<Bytes>>) -> Self {
        self.headers.push((key.into(), value.map(Into::into)));
        self
    }

    /// Sets the partition.
    pub fn partition(mut self, p: i32) -> Self {
        self.partition = Some(p);
        self
    }

    /// Sets the timestamp (ms since the epoch).
    pub fn timestamp(mut self, ms: i64) -> Self {
        self.timestamp = Some(ms);
        self
    }

    /// Bytes the record takes in a batch, roughly (for buffer accounting and size limits).
    fn size_estimate(&self) -> usize {
        let h: usize = self
            .headers
            .iter()
            .map(|(k, v)| k.len() + v.as_ref().map_or(0, Bytes::len) + 10)
            .sum();
        self.key.as_ref().map_or(0, Bytes::len) + self.value.as_ref().map_or(0, Bytes::len) + h + 21
    }
}

/// Where a record landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The offset, `-1` with `acks=0`.
    pub offset: i64,
    /// The record's CreateTime, or the broker's LogAppendTime if the topic uses it.
    pub timestamp: i64,
}

type Callback = Box<dyn FnOnce(Result<RecordMetadata>) + Send>;

/// Who is told about a record's delivery.
pub(crate) enum Waiter {
    Future(oneshot::Sender<Result<RecordMetadata>>),
    Callback(Callback),
    Group(Arc<Group>, usize),
}

impl Waiter {
    pub(crate) fn resolve(self, r: Result<RecordMetadata>) {
        match self {
            Waiter::Future(tx) => {
                let _ = tx.send(r);
            }
            Waiter::Callback(f) => f(r),
            Waiter::Group(g, i) => g.resolve(i, r),
        }
    }
}

/// The shared result slot of [`Producer::send_many`].
pub(crate) struct Group {
    results: Mutex<Vec<Option<Result<RecordMetadata>>>>,
    remaining: AtomicUsize,
    done: Mutex<Option<oneshot::Sender<Vec<Result<RecordMetadata>>>>>,
}

impl Group {
    fn resolve(&self, i: usize, r: Result<RecordMetadata>) {
        {
            let mut res = self.results.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(slot) = res.get_mut(i) {
                *slot = Some(r);
            }
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let all = std::mem::take(&mut *self.results.lock().unwrap_or_else(|p| p.into_inner()));
            let all = all
                .into_iter()
                .map(|r| r.unwrap_or_else(|| Err(Error::closed(Context::default()))))
                .collect();
            if let Some(tx) = self.done.lock().unwrap_or_else(|p| p.into_inner()).take() {
                let _ = tx.send(all);
            }
        }
    }
}

/// Resolves to where a record landed, or why it could not be delivered.
///
/// Dropping it does not cancel the send: the record is delivered (or fails) all the same.
#[derive(Debug)]
pub struct DeliveryFuture {
    rx: oneshot::Receiver<Result<RecordMetadata>>,
}

impl std::future::Future for DeliveryFuture {
    type Output = Result<RecordMetadata>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match std::pin::Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(r)) => Poll::Ready(r),
            Poll::Ready(Err(_)) => Poll::Ready(Err(Error::closed(Context::default()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Resolves to the results of [`Producer::send_many`], in the order of the records.
#[derive(Debug)]
pub struct BatchDelivery {
    rx: Option<oneshot::Receiver<Vec<Result<RecordMetadata>>>>,
}

impl std::future::Future for BatchDelivery {
    type Output = Vec<Result<RecordMetadata>>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match &mut self.rx {
            None => Poll::Ready(Vec::new()),
            Some(rx) => match std::pin::Pin::new(rx).poll(cx) {
                Poll::Ready(Ok(r)) => Poll::Ready(r),
                Poll::Ready(Err(_)) => Poll::Ready(vec![Err(Error::closed(Context::default()))]),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// A topic as the producer sees it: its partition queues and the partitions with leaders.
pub(crate) struct TopicState {
    pub(crate) name: Arc<str>,
    pub(crate) queues: RwLock<Vec<Arc<Mutex<PartitionQueue>>>>,
    view: RwLock<Arc<TopicView>>,
    /// The client's metadata generation `view` was last checked against.
    generation: AtomicU64,
}

#[derive(Debug)]
struct TopicView {
    partitions: i32,
    available: Vec<i32>,
    metadata: Arc<crate::metadata::Metadata>,
}

/// Idempotent producer state (KIP-98).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProducerIdentity {
    pub(crate) id: i64,
    pub(crate) epoch: i16,
}

pub(crate) struct Shared {
    pub(crate) client: Client,
    pub(crate) config: ProducerConfig,
    pub(crate) owns_client: bool,
    partitioner: Arc<dyn Partitioner>,
    pub(crate) options: BuilderOptions,
    pub(crate) memory: Semaphore,
    pub(crate) topics: RwLock<HashMap<Arc<str>, Arc<TopicState>, FastHash>>,
    /// Wakes the sender.
    pub(crate) wake: Notify,
    pub(crate) closed: AtomicBool,
    /// Set when every handle is gone or close() finished flushing.
    pub(crate) stop: AtomicBool,
    pub(crate) next_batch: AtomicU64,
    /// Ids of batches not yet resolved (open ones included), for flush.
    pub(crate) incomplete: Mutex<BTreeSet<u64>>,
    pub(crate) completed: Notify,
    pub(crate) flushing: AtomicUsize,
    pub(crate) identity: Mutex<Option<ProducerIdentity>>,
    /// A sequence broke (KIP-360): bump the epoch once nothing is in flight.
    pub(crate) needs_bump: AtomicBool,
    /// A fatal error (e.g. the producer id could not be obtained): every send fails with it.
    pub(crate) fatal: Mutex<Option<Error>>,
    /// Set with `fatal`, so `send` checks one atomic load instead of locking.
    pub(crate) has_fatal: AtomicBool,
    pub(crate) stats: ProducerCounters,
}

/// Producer counters (a [`ProducerStats`] snapshot).
#[derive(Debug, Default)]
pub(crate) struct ProducerCounters {
    pub(crate) records_sent: AtomicU64,
    pub(crate) records_failed: AtomicU64,
    pub(crate) batches_sent: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) epoch_bumps: AtomicU64,
    pub(crate) splits: AtomicU64,
}

/// A snapshot of producer statistics, beside the client's.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProducerStats {
    /// Records acknowledged.
    pub records_sent: u64,
    /// Records that failed.
    pub records_failed: u64,
    /// Batches acknowledged.
    pub batches_sent: u64,
    /// Produce requests sent.
    pub requests: u64,
    /// Batches sent again after a retriable error.
    pub retries: u64,
    /// Producer epoch bumps (KIP-360).
    pub epoch_bumps: u64,
    /// Batches split after MESSAGE_TOO_LARGE.
    pub splits: u64,
    /// Bytes of buffer memory in use.
    pub buffer_used: usize,
    /// The client's statistics.
    pub client: crate::stats::ClientStats,
}

impl Shared {
    pub(crate) fn now_ms() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    pub(crate) fn release(&self, memory: usize) {
        if memory > 0 {
            self.memory.add_permits(memory);
        }
    }

    pub(crate) fn batch_done(&self, id: u64) {
        self.incomplete
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        self.completed.notify_waiters();
    }

    pub(crate) fn topic(&self, name: &str) -> Option<Arc<TopicState>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    pub(crate) fn all_topics(&self) -> Vec<Arc<TopicState>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

/// Stops the sender when the last [`Producer`] handle is dropped (after it delivered what was
/// queued, within `delivery.timeout.ms`).
struct HandleGuard(Arc<Shared>);

impl Drop for HandleGuard {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.flushing.fetch_add(1, Ordering::AcqRel);
        self.0.stop.store(true, Ordering::Release);
        self.0.wake.notify_one();
    }
}

/// The producer. Cheap to clone; every clone shares the batches and the sender.
#[derive(Clone)]
pub struct Producer {
    shared: Arc<Shared>,
    _guard: Arc<HandleGuard>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("client", &self.shared.client)
            .field("acks", &self.shared.config.acks)
            .field("idempotence", &self.shared.config.idempotence)
            .finish()
    }
}

fn elapsed_or_timeout(started: Instant, limit: Duration, what: &str) -> Result<Duration> {
    let left = limit.saturating_sub(started.elapsed());
    if left.is_zero() {
        Err(Error::Timeout {
            context: Context::default(),
            after: limit,
            last: Some(Box::new(Error::InvalidArgument(what.to_owned()))),
        })
    } else {
        Ok(left)
    }
}

impl Producer {
    /// Connects a client and starts the producer.
    ///
    /// # Errors
    /// Invalid configuration, or the client's connect errors.
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn connect(config: ProducerConfig) -> Result<Producer> {
        let config = config.validated()?;
        let client = Client::connect(config.client.clone()).await?;
        Ok(Producer::start(client, config, true))
    }

    /// Starts a producer on an existing client (its connection settings apply; those in
    /// `config.client` are ignored). [`Producer::close`] leaves the client open.
    ///
    /// # Errors
    /// Invalid configuration.
    pub fn with_client(client: Client, config: ProducerConfig) -> Result<Producer> {
        let mut config = config.validated()?;
        config.client = client.config().clone();
        Ok(Producer::start(client, config, false))
    }

    fn start(client: Client, config: ProducerConfig, owns_client: bool) -> Producer {
        let options = BuilderOptions::default()
            .compression(config.compression)
            .level(config.compression_level)
            .max_bytes(config.batch_size);
        let shared = Arc::new(Shared {
            partitioner: config.partitioner.build(config.batch_size),
            memory: Semaphore::new(config.buffer_memory.min(Semaphore::MAX_PERMITS)),
            client,
            config,
            owns_client,
            options,
            topics: RwLock::new(HashMap::default()),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            next_batch: AtomicU64::new(1),
            incomplete: Mutex::new(BTreeSet::new()),
            completed: Notify::new(),
            flushing: AtomicUsize::new(0),
            identity: Mutex::new(None),
            needs_bump: AtomicBool::new(false),
            fatal: Mutex::new(None),
            has_fatal: AtomicBool::new(false),
            stats: ProducerCounters::default(),
        });
        tokio::spawn(sender::run(shared.clone()));
        Producer {
            _guard: Arc::new(HandleGuard(shared.clone())),
            shared,
        }
    }

    /// The client underneath.
    pub fn client(&self) -> &Client {
        &self.shared.client
    }

    /// Enqueues a record and returns its delivery future. Waits (up to `max.block.ms`) for the
    /// topic's metadata and for buffer memory: this is the backpressure.
    ///
    /// # Errors
    /// Before anything is enqueued: a closed producer, a record over `max.request.size` or
    /// `buffer.memory`, an unknown partition, or `max.block.ms` passing while waiting for
    /// metadata or memory. Delivery errors come from the future.
    ///
    /// # Cancel safety
    /// Cancel-safe: if cancelled, the record was not enqueued (and no memory stays reserved).
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture> {
        let (tx, rx) = oneshot::channel();
        match self.try_enqueue_fast(record, Waiter::Future(tx)) {
            Ok(r) => r?,
            Err((record, waiter)) => self.enqueue(record, waiter, true).await?,
        }
        Ok(DeliveryFuture { rx })
    }

    /// Like [`Producer::send`] but never waits: fails with a busy error when buffer memory is
    /// full or the topic's metadata is not known yet.
    ///
    /// # Errors
    /// As [`Producer::send`], plus `buffer full` / `metadata not available` instead of waiting.
    pub fn try_send(&self, record: ProducerRecord) -> Result<DeliveryFuture> {
        let (tx, rx) = oneshot::channel();
        let fut = self.enqueue(record, Waiter::Future(tx), false);
        // With `wait == false` the future completes on its first poll.
        let waker = std::task::Waker::noop();
        let mut cx = TaskContext::from_waker(waker);
        let mut fut = std::pin::pin!(fut);
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(r) => r.map(|_| DeliveryFuture { rx }),
            Poll::Pending => Err(Error::InvalidArgument(
                "producer busy: buffer memory full or metadata not available".into(),
            )),
        }
    }

    /// Enqueues a record and calls `callback` with its result (on the sender task: keep it
    /// short). The cheapest way to send many records that each need a result.
    ///
    /// # Errors
    /// As [`Producer::send`]; then the callback is not called.
    ///
    /// # Cancel safety
    /// As [`Producer::send`].
    pub async fn send_with(
        &self,
        record: ProducerRecord,
        callback: impl FnOnce(Result<RecordMetadata>) + Send + 'static,
    ) -> Result<()> {
        match self.try_enqueue_fast(record, Waiter::Callback(Box::new(callback))) {
            Ok(r) => r,
            Err((record, waiter)) => self.enqueue(record, waiter, true).await,
        }
    }

    /// Enqueues many records with one future for all their results (in order).
    ///
    /// # Errors
    /// The first enqueue error; records before it are sent and reported by the future.
    ///
    /// # Cancel safety
    /// Not cancel-safe: if cancelled, some records may have been enqueued; their results are
    /// lost with the future (they are still delivered).
    pub async fn send_many(
        &self,
        records: impl IntoIterator<Item = ProducerRecord>,
    ) -> Result<BatchDelivery> {
        let records: Vec<ProducerRecord> = records.into_iter().collect();
        if records.is_empty() {
            return Ok(BatchDelivery { rx: None });
        }
        let (tx, rx) = oneshot::channel();
        let group = Arc::new(Group {
            results: Mutex::new((0..records.len()).map(|_| None).collect()),
            remaining: AtomicUsize::new(records.len()),
            done: Mutex::new(Some(tx)),
        });
        let n = records.len();
        for (i, r) in records.into_iter().enumerate() {
            let queued = match self.try_enqueue_fast(r, Waiter::Group(group.clone(), i)) {
                Ok(r) => r,
                Err((r, waiter)) => self.enqueue(r, waiter, true).await,
            };
            if let Err(e) = queued {
                // Resolve the records that were never enqueued so the future completes.
                for j in i..n {
                    group.resolve(j, Err(e.clone()));
                }
                return Err(e);
            }
        }
        Ok(BatchDelivery { rx: Some(rx) })
    }

    async fn enqueue(&self, record: ProducerRecord, waiter: Waiter, wait: bool) -> Result<()> {
        let s = &self.shared;
        if s.closed.load(Ordering::Acquire) {
            return Err(Error::closed(Context::default()));
        }
        if s.has_fatal.load(Ordering::Acquire) {
            if let Some(e) = s.fatal.lock().unwrap_or_else(|p| p.into_inner()).clone() {
                return Err(e);
            }
        }
        let size = record.size_estimate();
        if size > s.config.max_request_size {
            return Err(Error::InvalidArgument(format!(
                "the record is {size} bytes when serialized, which is larger than \
                 max.request.size ({})",
                s.config.max_request_size
            )));
        }
        if size > s.config.buffer_memory {
            return Err(Error::InvalidArgument(format!(
                "the record is {size} bytes when serialized, which is larger than \
                 buffer.memory ({})",
                s.config.buffer_memory
            )));
        }
        let topic = self.topic_state(&record.topic, wait).await?;
        let partition = self.pick_partition(&topic, &record, size)?;
        // Buffer memory: the backpressure.
        let permits = u32::try_from(size).unwrap_or(u32::MAX);
        let permit = if let Ok(p) = s.memory.try_acquire_many(permits) {
            p
        } else if wait {
            let started = Instant::now();
            let left =
                elapsed_or_timeout(started, s.config.max_block, "waiting for buffer memory")?;
            match tokio::time::timeout(left, s.memory.acquire_many(permits)).await {
                Ok(Ok(p)) => p,
                Ok(Err(_)) => return Err(Error::closed(Context::default())),
                Err(_) => {
                    return Err(Error::Timeout {
                        context: Context::default().with_topic(record.topic.clone(), Some(partition)),
                        after: s.config.max_block,
                        last: Some(Box::new(Error::InvalidArgument(
                            "buffer.memory is full (records are produced faster than the brokers take them)".into(),
                        ))),
                    })
                }
            }
        } else {
            s.memory.try_acquire_many(permits).map_err(|_| {
                Error::InvalidArgument("producer busy: buffer.memory is full".into())
            })?
        };
        permit.forget();

        self.append(&topic, partition, &record, waiter, size)
    }

    /// The partition for a record (explicit, or the partitioner's choice).
    fn pick_partition(
        &self,
        topic: &TopicState,
        record: &ProducerRecord,
        size: usize,
    ) -> Result<i32> {
        let s = &self.shared;
        Ok({
            let view = topic.view.read().unwrap_or_else(|p| p.into_inner());
            match record.partition {
                Some(p) if p >= 0 && p < view.partitions => p,
                Some(p) => {
                    return Err(Error::InvalidArgument(format!(
                        "partition {p} of topic {} does not exist (it has {} partitions)",
                        record.topic, view.partitions
                    )))
                }
                None => {
                    let queued: Vec<usize> = {
                        let qs = topic.queues.read().unwrap_or_else(|p| p.into_inner());
                        if qs.len() > 1 && record.key.is_none() {
                            qs.iter()
                                .map(|q| q.lock().map(|q| q.queued_bytes).unwrap_or(0))
                                .collect()
                        } else {
                            Vec::new()
                        }
                    };
                    let input = PartitionInput {
                        topic: &topic.name,
                        partitions: view.partitions,
                        available: &view.available,
                        queued_bytes: &queued,
                    };
                    let p = s.partitioner.partition(record.key.as_deref(), size, &input);
                    if p < 0 || p >= view.partitions {
                        return Err(Error::InvalidArgument(format!(
                        "the partitioner chose partition {p} of topic {}, which has {} partitions",
                        record.topic, view.partitions
                    )));
                    }
                    p
                }
            }
        })
    }

    /// Appends to the partition's open batch (memory already reserved; released on error).
    fn append(
        &self,
        topic: &TopicState,
        partition: i32,
        record: &ProducerRecord,
        waiter: Waiter,
        size: usize,
    ) -> Result<()> {
        let s = &self.shared;
        let timestamp = record.timestamp.unwrap_or_else(Shared::now_ms);
        let headers: Vec<Header<'_>> = record
            .headers
            .iter()
            .map(|(k, v)| Header::new(k, v.as_deref()))
            .collect();
        let outcome = {
            let qs = topic.queues.read().unwrap_or_else(|p| p.into_inner());
            let Some(queue) = qs.get(partition as usize) else {
                drop(qs);
                s.release(size);
                return Err(Error::InvalidArgument(format!(
                    "partition {partition} of topic {} is not known yet",
                    record.topic
                )));
            };
            let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
            q.append(
                || {
                    let id = s.next_batch.fetch_add(1, Ordering::Relaxed);
                    s.incomplete
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(id);
                    id
                },
                s.options,
                timestamp,
                record.key.as_deref(),
                record.value.as_deref(),
                &headers,
                waiter,
                size,
            )
        };
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                s.release(size);
                return Err(e);
            }
        };
        if let Some((e, waiters, memory, id)) = outcome.failed_close {
            for w in waiters {
                w.resolve(Err(e.clone()));
            }
            s.release(memory);
            s.batch_done(id);
        }
        if outcome.closed || outcome.opened.is_some() {
            s.wake.notify_one();
        }
        Ok(())
    }

    /// The common case without an `.await`: a known topic whose metadata did not change and
    /// free buffer memory. Anything else is handed back for the async path.
    #[allow(clippy::result_large_err)]
    fn try_enqueue_fast(
        &self,
        record: ProducerRecord,
        waiter: Waiter,
    ) -> std::result::Result<Result<()>, (ProducerRecord, Waiter)> {
        let s = &self.shared;
        if s.closed.load(Ordering::Acquire) || s.has_fatal.load(Ordering::Acquire) {
            return Err((record, waiter));
        }
        let size = record.size_estimate();
        if size > s.config.max_request_size || size > s.config.buffer_memory {
            return Err((record, waiter));
        }
        let Some(topic) = s.topic(&record.topic) else {
            return Err((record, waiter));
        };
        if topic.generation.load(Ordering::Acquire) != s.client.metadata_generation() {
            return Err((record, waiter));
        }
        let permits = u32::try_from(size).unwrap_or(u32::MAX);
        let Ok(permit) = s.memory.try_acquire_many(permits) else {
            return Err((record, waiter));
        };
        permit.forget();
        let partition = match self.pick_partition(&topic, &record, size) {
            Ok(p) => p,
            Err(_) => {
                s.release(size);
                return Err((record, waiter));
            }
        };
        Ok(self.append(&topic, partition, &record, waiter, size))
    }

    /// The topic's state, waiting for its metadata (auto-creating where the broker allows).
    async fn topic_state(&self, name: &str, wait: bool) -> Result<Arc<TopicState>> {
        let s = &self.shared;
        let generation = s.client.metadata_generation();
        if let Some(t) = s.topic(name) {
            if t.generation.load(Ordering::Acquire) != generation {
                let md = s.client.metadata();
                let stale = {
                    let v = t.view.read().unwrap_or_else(|p| p.into_inner());
                    !Arc::ptr_eq(&v.metadata, &md)
                };
                if stale {
                    self.update_view(&t, &md);
                }
                t.generation.store(generation, Ordering::Release);
            }
            return Ok(t);
        }
        let md = s.client.metadata();
        let started = Instant::now();
        let mut md = md;
        let mut attempt = 0;
        loop {
            if let Some(info) = md.topic(name) {
                if !info.partitions.is_empty() {
                    let t = {
                        let mut topics = s.topics.write().unwrap_or_else(|p| p.into_inner());
                        topics
                            .entry(Arc::from(name))
                            .or_insert_with(|| {
                                Arc::new(TopicState {
                                    name: Arc::from(name),
                                    queues: RwLock::new(Vec::new()),
                                    generation: AtomicU64::new(u64::MAX),
                                    view: RwLock::new(Arc::new(TopicView {
                                        partitions: 0,
                                        available: Vec::new(),
                                        metadata: md.clone(),
                                    })),
                                })
                            })
                            .clone()
                    };
                    self.update_view(&t, &md);
                    return Ok(t);
                }
            }
            if !wait {
                return Err(Error::InvalidArgument(format!(
                    "producer busy: metadata for topic {name} is not available yet"
                )));
            }
            if let Some(code) = md.topic_errors.get(name) {
                if !code.is_retriable() && *code != kafka_proto::ErrorCode::UnknownTopicOrPartition
                {
                    return Err(Error::Broker {
                        code: *code,
                        message: None,
                        context: Context::default().with_topic(name, None),
                    });
                }
            }
            let left = elapsed_or_timeout(started, s.config.max_block, "").map_err(|_| {
                Error::Timeout {
                    context: Context::default().with_topic(name, None),
                    after: s.config.max_block,
                    last: Some(Box::new(Error::InvalidArgument(format!(
                        "topic {name} not present in metadata after {} ms",
                        s.config.max_block.as_millis()
                    )))),
                }
            })?;
            if attempt > 0 {
                let cfg = &s.client.config();
                let pause =
                    crate::client::backoff(cfg.retry_backoff, cfg.retry_backoff_max, attempt)
                        .min(left);
                tokio::time::sleep(pause).await;
            }
            attempt += 1;
            let topics = [name.to_owned()];
            md = match tokio::time::timeout(
                left,
                s.client.refresh_metadata_opts(Some(&topics), true),
            )
            .await
            {
                Ok(Ok(m)) => m,
                Ok(Err(e)) if e.is_retriable() => s.client.metadata(),
                Ok(Err(e)) => return Err(e),
                Err(_) => s.client.metadata(),
            };
        }
    }

    fn update_view(&self, t: &TopicState, md: &Arc<crate::metadata::Metadata>) {
        let Some(info) = md.topic(&t.name) else {
            // Not in this snapshot (e.g. refreshed without it): keep the old view.
            let mut v = t.view.write().unwrap_or_else(|p| p.into_inner());
            *v = Arc::new(TopicView {
                partitions: v.partitions,
                available: v.available.clone(),
                metadata: md.clone(),
            });
            return;
        };
        let partitions = info.partitions.len() as i32;
        let available = info
            .partitions
            .iter()
            .filter(|p| p.leader >= 0)
            .map(|p| p.partition)
            .collect();
        {
            let mut qs = t.queues.write().unwrap_or_else(|p| p.into_inner());
            while qs.len() < partitions as usize {
                qs.push(Arc::new(Mutex::new(PartitionQueue::default())));
            }
        }
        *t.view.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(TopicView {
            partitions,
            available,
            metadata: md.clone(),
        });
    }

    /// Sends every record enqueued so far now (ignoring `linger.ms`) and waits until each has
    /// its result.
    ///
    /// # Errors
    /// Never for delivery failures (those go to the records' futures); [`Error::Closed`] if the
    /// producer stopped before.
    ///
    /// # Cancel safety
    /// Cancel-safe: the records are still sent.
    pub async fn flush(&self) -> Result<()> {
        let s = &self.shared;
        let target = s.next_batch.load(Ordering::Acquire);
        s.flushing.fetch_add(1, Ordering::AcqRel);
        struct Unflush<'a>(&'a Shared);
        impl Drop for Unflush<'_> {
            fn drop(&mut self) {
                self.0.flushing.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let _unflush = Unflush(s);
        s.wake.notify_one();
        loop {
            let notified = s.completed.notified();
            let pending = s
                .incomplete
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .range(..target)
                .next()
                .is_some();
            if !pending {
                return Ok(());
            }
            // Re-check on a timer too, in case a wake-up raced.
            let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
            s.wake.notify_one();
        }
    }

    /// Stops accepting records, delivers (or fails, after `delivery.timeout.ms`) everything
    /// enqueued, stops the sender and closes the client if the producer opened it.
    ///
    /// # Errors
    /// None today; reserved for failures to deliver during close.
    ///
    /// # Cancel safety
    /// Cancel-safe: the producer is closed for new records either way, and what was enqueued
    /// is still delivered in the background.
    pub async fn close(&self) -> Result<()> {
        let s = &self.shared;
        s.closed.store(true, Ordering::Release);
        self.flush().await?;
        s.stop.store(true, Ordering::Release);
        s.wake.notify_one();
        if s.owns_client {
            s.client.close().await;
        }
        Ok(())
    }

    /// Statistics.
    pub fn stats(&self) -> ProducerStats {
        let c = &self.shared.stats;
        ProducerStats {
            records_sent: c.records_sent.load(Ordering::Relaxed),
            records_failed: c.records_failed.load(Ordering::Relaxed),
            batches_sent: c.batches_sent.load(Ordering::Relaxed),
            requests: c.requests.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            epoch_bumps: c.epoch_bumps.load(Ordering::Relaxed),
            splits: c.splits.load(Ordering::Relaxed),
            buffer_used: self
                .shared
                .config
                .buffer_memory
                .min(Semaphore::MAX_PERMITS)
                .saturating_sub(self.shared.memory.available_permits()),
            client: self.shared.client.stats(),
        }
    }

    /// The producer id and epoch (idempotence), once obtained.
    pub fn producer_id(&self) -> Option<(i64, i16)> {
        self.shared
            .identity
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|i| (i.id, i.epoch))
    }
}
