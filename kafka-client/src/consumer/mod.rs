//! The consumer: a fetch pipeline with incremental fetch sessions (KIP-227), positions and
//! resets, leader-epoch validation (KIP-320), read_committed filtering, and classic consumer
//! groups with eager and cooperative (KIP-429) rebalancing, static membership (KIP-345),
//! rebalance hooks and commits.
//!
//! ```no_run
//! # async fn demo() -> kafka_client::Result<()> {
//! use kafka_client::consumer::{Consumer, ConsumerConfig, OffsetReset};
//! let consumer = Consumer::connect(
//!     ConsumerConfig::new("127.0.0.1:9092")
//!         .group_id("billing")
//!         .auto_offset_reset(OffsetReset::Earliest),
//! )
//! .await?;
//! consumer.subscribe(&["invoices"])?;
//! loop {
//!     let record = consumer.recv().await?;
//!     println!("{}-{}@{}: {:?}", record.topic, record.partition, record.offset, record.value);
//! }
//! # }
//! ```
//!
//! Tasks: a fetcher (one fetch in flight per broker, for the assigned partitions it leads that
//! have no data buffered, within `queued.max.messages.kbytes`), and with a group a coordinator
//! task (join, sync, heartbeats, auto-commit). `recv` reads the buffered data lazily.

pub mod assignor;
pub mod config;
mod fetcher;
mod group;
pub mod protocol;
mod record;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

pub use config::{ConsumerConfig, IsolationLevel, OffsetReset};
pub use record::{ConsumerRecord, RecordHeader, TopicPartition};

use crate::client::Client;
use crate::error::{Context, Error, Result};
use record::{FetchedPartition, Next};

/// A rebalance event, given to the hook set with [`Consumer::subscribe_with`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RebalanceEvent {
    /// These partitions are now this member's (incrementally, under cooperative rebalancing).
    Assigned(Vec<TopicPartition>),
    /// These partitions are about to move: commit what was processed now.
    Revoked(Vec<TopicPartition>),
    /// These partitions were lost (the member was fenced or timed out): another member may
    /// already own them, so committing is pointless.
    Lost(Vec<TopicPartition>),
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
type Listener = Arc<dyn Fn(RebalanceEvent, Consumer) -> BoxFuture<'static, ()> + Send + Sync>;

/// Where to move a partition's position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reset {
    Earliest,
    Latest,
    Timestamp(i64),
}

#[derive(Debug)]
pub(crate) struct PartState {
    pub(crate) topic: Arc<str>,
    /// The next offset to hand out; `None` until committed offsets or a reset decide it.
    pub(crate) position: Option<i64>,
    /// Look up the committed offset first (group members), else reset.
    pub(crate) use_committed: bool,
    /// An explicit reset (seek to beginning/end/timestamp) waiting to be resolved.
    pub(crate) reset: Option<Reset>,
    pub(crate) paused: bool,
    pub(crate) high_watermark: i64,
    pub(crate) last_stable_offset: i64,
    pub(crate) log_start_offset: i64,
    pub(crate) in_flight: bool,
    pub(crate) buffered: bool,
    /// Bumped on every seek/reset/assignment: fetched data of an older generation is dropped.
    pub(crate) generation: u64,
    /// Leader epoch of the last consumed record (KIP-320).
    pub(crate) epoch: Option<i32>,
    /// The leader epoch the position was last validated against.
    pub(crate) validated_epoch: Option<i32>,
}

impl PartState {
    fn new(topic: Arc<str>, use_committed: bool, generation: u64) -> PartState {
        PartState {
            topic,
            position: None,
            use_committed,
            reset: None,
            paused: false,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            in_flight: false,
            buffered: false,
            generation,
            epoch: None,
            validated_epoch: None,
        }
    }
}

/// What the consumer is subscribed to.
#[derive(Clone, Debug, Default)]
pub(crate) enum Subscription {
    #[default]
    None,
    /// Explicit partitions (`assign`), no group membership.
    Assigned,
    /// Topics by name, through the group.
    Topics(Vec<String>),
    /// Topics matching a regex, through the group (re-evaluated on metadata changes).
    Pattern(String),
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) parts: BTreeMap<TopicPartition, PartState>,
    pub(crate) subscription: Subscription,
    pub(crate) buffer: VecDeque<FetchedPartition>,
    pub(crate) buffered_bytes: usize,
    current: Option<FetchedPartition>,
    pub(crate) errors: VecDeque<Error>,
    pub(crate) next_generation: u64,
}

impl State {
    pub(crate) fn bump(&mut self) -> u64 {
        self.next_generation += 1;
        self.next_generation
    }

    /// Adds partitions (positions to be resolved).
    pub(crate) fn add(&mut self, tps: &[TopicPartition], use_committed: bool) {
        for tp in tps {
            if !self.parts.contains_key(tp) {
                let g = self.bump();
                self.parts.insert(
                    tp.clone(),
                    PartState::new(Arc::from(tp.topic.as_str()), use_committed, g),
                );
            }
        }
    }

    /// Removes partitions and drops their buffered data.
    pub(crate) fn remove(&mut self, tps: &[TopicPartition]) {
        for tp in tps {
            self.parts.remove(tp);
        }
        self.drop_stale();
    }

    fn drop_stale(&mut self) {
        let parts = &self.parts;
        let mut freed = 0;
        self.buffer.retain(|f| {
            let keep = parts
                .get(&f.tp)
                .is_some_and(|p| p.generation == f.generation);
            if !keep {
                freed += f.bytes;
            }
            keep
        });
        if let Some(c) = &self.current {
            if parts
                .get(&c.tp)
                .is_none_or(|p| p.generation != c.generation)
            {
                freed += c.bytes;
                self.current = None;
            }
        }
        self.buffered_bytes = self.buffered_bytes.saturating_sub(freed);
    }

    /// Moves a partition's position, dropping data fetched for the old one.
    pub(crate) fn seek(
        &mut self,
        tp: &TopicPartition,
        position: Option<i64>,
        reset: Option<Reset>,
    ) -> bool {
        let g = self.bump();
        let Some(p) = self.parts.get_mut(tp) else {
            return false;
        };
        p.position = position;
        p.reset = reset;
        p.use_committed = false;
        p.generation = g;
        p.buffered = false;
        p.epoch = None;
        p.validated_epoch = None;
        self.drop_stale();
        true
    }

    pub(crate) fn assigned(&self) -> Vec<TopicPartition> {
        self.parts.keys().cloned().collect()
    }
}

/// Consumer counters.
#[derive(Debug, Default)]
pub(crate) struct ConsumerCounters {
    pub(crate) records: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) fetches: AtomicU64,
    pub(crate) full_fetches: AtomicU64,
    pub(crate) incremental_fetches: AtomicU64,
    pub(crate) session_resets: AtomicU64,
    pub(crate) rebalances: AtomicU64,
    pub(crate) commits: AtomicU64,
    pub(crate) truncations: AtomicU64,
}

/// A snapshot of consumer statistics.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConsumerStats {
    /// Records handed to the application.
    pub records: u64,
    /// Record bytes fetched.
    pub bytes: u64,
    /// Fetch requests.
    pub fetches: u64,
    /// Fetches that sent every partition (session start or sessionless).
    pub full_fetches: u64,
    /// Incremental fetches (KIP-227).
    pub incremental_fetches: u64,
    /// Fetch sessions the broker dropped (restarted as full fetches).
    pub session_resets: u64,
    /// Completed rebalances (join + sync).
    pub rebalances: u64,
    /// Successful commits.
    pub commits: u64,
    /// Positions moved back after log truncation was detected (KIP-320).
    pub truncations: u64,
    /// Bytes fetched and not yet read.
    pub buffered_bytes: usize,
    /// The client's statistics.
    pub client: crate::stats::ClientStats,
}

pub(crate) struct Inner {
    pub(crate) client: Client,
    pub(crate) config: ConsumerConfig,
    owns_client: bool,
    pub(crate) state: Mutex<State>,
    pub(crate) records_ready: Notify,
    pub(crate) fetch_wake: Notify,
    pub(crate) group_wake: Notify,
    pub(crate) closed: AtomicBool,
    pub(crate) stop: AtomicBool,
    pub(crate) last_poll: Mutex<Instant>,
    pub(crate) listener: Mutex<Option<Listener>>,
    pub(crate) group: Mutex<group::Membership>,
    pub(crate) group_started: AtomicBool,
    pub(crate) stats: ConsumerCounters,
    pub(crate) last_commit_error: Mutex<Option<Error>>,
}

struct Guard(Arc<Inner>);

impl Drop for Guard {
    fn drop(&mut self) {
        // Dropped without close(): stop the tasks; a group member is left to time out (as a
        // crashed process would).
        self.0.closed.store(true, Ordering::Release);
        self.0.stop.store(true, Ordering::Release);
        self.0.fetch_wake.notify_one();
        self.0.group_wake.notify_one();
        self.0.records_ready.notify_waiters();
    }
}

/// The consumer. Cheap to clone; clones share the assignment, positions and buffered data
/// (so a rebalance hook can commit through the clone it is given).
#[derive(Clone)]
pub struct Consumer {
    pub(crate) inner: Arc<Inner>,
    _guard: Option<Arc<Guard>>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("group_id", &self.inner.config.group_id)
            .finish()
    }
}

impl Consumer {
    /// Connects a client and creates the consumer (nothing is fetched before `assign` or
    /// `subscribe`).
    ///
    /// # Errors
    /// The client's connect errors.
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn connect(config: ConsumerConfig) -> Result<Consumer> {
        let client = Client::connect(config.client.clone()).await?;
        Ok(Consumer::start(client, config, true))
    }

    /// A consumer on an existing client.
    pub fn with_client(client: Client, mut config: ConsumerConfig) -> Consumer {
        config.client = client.config().clone();
        Consumer::start(client, config, false)
    }

    fn start(client: Client, config: ConsumerConfig, owns_client: bool) -> Consumer {
        let inner = Arc::new(Inner {
            client,
            config,
            owns_client,
            state: Mutex::new(State::default()),
            records_ready: Notify::new(),
            fetch_wake: Notify::new(),
            group_wake: Notify::new(),
            closed: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            last_poll: Mutex::new(Instant::now()),
            listener: Mutex::new(None),
            group: Mutex::new(group::Membership::default()),
            group_started: AtomicBool::new(false),
            stats: ConsumerCounters::default(),
            last_commit_error: Mutex::new(None),
        });
        tokio::spawn(fetcher::run(inner.clone()));
        Consumer {
            _guard: Some(Arc::new(Guard(inner.clone()))),
            inner,
        }
    }

    /// A handle that does not keep the consumer alive (for hooks and tasks).
    pub(crate) fn weak_handle(inner: &Arc<Inner>) -> Consumer {
        Consumer {
            inner: inner.clone(),
            _guard: None,
        }
    }

    /// The client underneath.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            Err(Error::closed(Context::default()))
        } else {
            Ok(())
        }
    }

    // ---- positioning --------------------------------------------------------------------

    /// Consumes exactly these partitions (no group membership, no rebalancing). Positions
    /// start at the committed offsets when `group.id` is set, else by `auto.offset.reset`.
    /// Replaces an earlier assignment.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the consumer is subscribed through a group.
    pub fn assign(&self, partitions: &[TopicPartition]) -> Result<()> {
        self.check_open()?;
        let use_committed = self.inner.config.group_id.is_some();
        let mut st = self.state();
        if matches!(
            st.subscription,
            Subscription::Topics(_) | Subscription::Pattern(_)
        ) {
            return Err(Error::InvalidArgument(
                "assign() cannot be used while subscribed; unsubscribe first".into(),
            ));
        }
        let remove: Vec<TopicPartition> = st
            .parts
            .keys()
            .filter(|tp| !partitions.contains(tp))
            .cloned()
            .collect();
        st.remove(&remove);
        st.add(partitions, use_committed);
        st.subscription = if partitions.is_empty() {
            Subscription::None
        } else {
            Subscription::Assigned
        };
        drop(st);
        self.inner.fetch_wake.notify_one();
        Ok(())
    }

    /// Subscribes to topics through the consumer group (`group.id` needed); the group
    /// coordinator assigns partitions.
    ///
    /// # Errors
    /// [`Error::Config`] without `group.id`; [`Error::InvalidArgument`] after `assign`.
    pub fn subscribe(&self, topics: &[&str]) -> Result<()> {
        self.set_subscription(Subscription::Topics(
            topics.iter().map(|t| t.to_string()).collect(),
        ))
    }

    /// Subscribes to every topic matching `pattern` (a regular expression matched against the
    /// whole name), re-evaluated when metadata changes.
    ///
    /// # Errors
    /// As [`Consumer::subscribe`], or an invalid pattern.
    pub fn subscribe_pattern(&self, pattern: &str) -> Result<()> {
        group::compile_pattern(pattern)?;
        self.set_subscription(Subscription::Pattern(pattern.to_owned()))
    }

    /// Subscribes with a rebalance hook: `hook` runs (and is awaited) before partitions are
    /// revoked and after they are assigned, so it can commit synchronously.
    ///
    /// # Errors
    /// As [`Consumer::subscribe`].
    pub fn subscribe_with<F, Fut>(&self, topics: &[&str], hook: F) -> Result<()>
    where
        F: Fn(RebalanceEvent, Consumer) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener: Listener = Arc::new(move |e, c| Box::pin(hook(e, c)));
        *self
            .inner
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(listener);
        self.subscribe(topics)
    }

    fn set_subscription(&self, sub: Subscription) -> Result<()> {
        self.check_open()?;
        if self.inner.config.group_id.is_none() {
            return Err(Error::Config {
                key: "group.id".into(),
                detail: "subscribe needs a group.id (or use assign)".into(),
            });
        }
        {
            let mut st = self.state();
            if matches!(st.subscription, Subscription::Assigned) {
                return Err(Error::InvalidArgument(
                    "subscribe() cannot be used after assign(); assign(&[]) first".into(),
                ));
            }
            st.subscription = sub;
        }
        if !self.inner.group_started.swap(true, Ordering::AcqRel) {
            tokio::spawn(group::run(self.inner.clone()));
        } else {
            self.inner.group_wake.notify_one();
        }
        Ok(())
    }

    /// The partitions currently assigned.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.state().assigned()
    }

    /// Moves the position of a partition; the next record comes from `offset`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the partition is not assigned.
    pub fn seek(&self, tp: &TopicPartition, offset: i64) -> Result<()> {
        self.seek_to(tp, Some(offset), None)
    }

    /// Moves the position to the log start.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the partition is not assigned.
    pub fn seek_to_beginning(&self, tp: &TopicPartition) -> Result<()> {
        self.seek_to(tp, None, Some(Reset::Earliest))
    }

    /// Moves the position to the log end.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the partition is not assigned.
    pub fn seek_to_end(&self, tp: &TopicPartition) -> Result<()> {
        self.seek_to(tp, None, Some(Reset::Latest))
    }

    /// Moves the position to the first record with a timestamp at or after `timestamp_ms`
    /// (the log end if there is none), looked up with ListOffsets.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the partition is not assigned.
    pub fn seek_to_timestamp(&self, tp: &TopicPartition, timestamp_ms: i64) -> Result<()> {
        self.seek_to(tp, None, Some(Reset::Timestamp(timestamp_ms)))
    }

    fn seek_to(&self, tp: &TopicPartition, pos: Option<i64>, reset: Option<Reset>) -> Result<()> {
        self.check_open()?;
        if !self.state().seek(tp, pos, reset) {
            return Err(Error::InvalidArgument(format!(
                "{tp} is not assigned to this consumer"
            )));
        }
        self.inner.fetch_wake.notify_one();
        Ok(())
    }

    /// Stops fetching these partitions (buffered data of them is dropped; the position stays).
    pub fn pause(&self, tps: &[TopicPartition]) {
        let mut st = self.state();
        for tp in tps {
            let g = st.bump();
            if let Some(p) = st.parts.get_mut(tp) {
                p.paused = true;
                p.generation = g;
                p.buffered = false;
            }
        }
        st.drop_stale();
    }

    /// Resumes fetching paused partitions.
    pub fn resume(&self, tps: &[TopicPartition]) {
        {
            let mut st = self.state();
            for tp in tps {
                if let Some(p) = st.parts.get_mut(tp) {
                    p.paused = false;
                }
            }
        }
        self.inner.fetch_wake.notify_one();
    }

    /// The paused partitions.
    pub fn paused(&self) -> Vec<TopicPartition> {
        self.state()
            .parts
            .iter()
            .filter(|(_, p)| p.paused)
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// The position (offset of the next record) of a partition, once known.
    pub fn position(&self, tp: &TopicPartition) -> Option<i64> {
        self.state().parts.get(tp).and_then(|p| p.position)
    }

    /// The high watermark of a partition from the last fetch response (`None` before one).
    pub fn high_watermark(&self, tp: &TopicPartition) -> Option<i64> {
        self.state()
            .parts
            .get(tp)
            .and_then(|p| (p.high_watermark >= 0).then_some(p.high_watermark))
    }

    /// Records between the position and the high watermark (from the last fetch response).
    pub fn lag(&self, tp: &TopicPartition) -> Option<i64> {
        let st = self.state();
        let p = st.parts.get(tp)?;
        let hw = if self.inner.config.isolation_level == IsolationLevel::ReadCommitted {
            p.last_stable_offset
        } else {
            p.high_watermark
        };
        match (p.position, hw >= 0) {
            (Some(pos), true) => Some((hw - pos).max(0)),
            _ => None,
        }
    }

    // ---- receiving ----------------------------------------------------------------------

    /// The next record.
    ///
    /// # Errors
    /// A corrupt batch ([`Error::Corrupt`], for its partition and offset), an out-of-range
    /// position with `auto.offset.reset=none`, a fatal group error, or a closed consumer.
    ///
    /// # Cancel safety
    /// Cancel-safe: a record is taken from the buffer only in the poll that returns it, so a
    /// dropped `recv` loses nothing.
    pub async fn recv(&self) -> Result<ConsumerRecord> {
        loop {
            let notified = self.inner.records_ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(r) = self.try_recv()? {
                return Ok(r);
            }
            self.check_open()?;
            notified.await;
        }
    }

    /// Up to `max` records: waits for the first, then takes what is buffered.
    ///
    /// # Errors
    /// As [`Consumer::recv`] (an error after some records is kept for the next call).
    ///
    /// # Cancel safety
    /// Cancel-safe, as [`Consumer::recv`].
    pub async fn recv_batch(&self, max: usize) -> Result<Vec<ConsumerRecord>> {
        let first = self.recv().await?;
        let mut out = Vec::with_capacity(max.clamp(1, 4096));
        out.push(first);
        let mut st = self.state();
        while out.len() < max {
            match self.next_locked(&mut st) {
                Ok(Some(r)) => out.push(r),
                Ok(None) => break,
                Err(e) => {
                    st.errors.push_front(e);
                    break;
                }
            }
        }
        drop(st);
        self.inner
            .stats
            .records
            .fetch_add(out.len() as u64 - 1, Ordering::Relaxed);
        Ok(out)
    }

    /// The next buffered record without waiting.
    ///
    /// # Errors
    /// As [`Consumer::recv`].
    pub fn try_recv(&self) -> Result<Option<ConsumerRecord>> {
        self.polled();
        let mut st = self.state();
        let r = self.next_locked(&mut st);
        drop(st);
        if let Ok(Some(_)) = &r {
            self.inner.stats.records.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    /// Notes that the application asked for records (for `max.poll.interval.ms`).
    fn polled(&self) {
        *self
            .inner
            .last_poll
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    fn next_locked(&self, st: &mut State) -> Result<Option<ConsumerRecord>> {
        if let Some(e) = st.errors.pop_front() {
            return Err(e);
        }
        loop {
            let mut cur = match st.current.take() {
                Some(c) => c,
                None => match st.buffer.pop_front() {
                    Some(f) => f,
                    None => return Ok(None),
                },
            };
            let valid = st
                .parts
                .get(&cur.tp)
                .is_some_and(|p| p.generation == cur.generation && !p.paused);
            if !valid {
                st.buffered_bytes = st.buffered_bytes.saturating_sub(cur.bytes);
                continue;
            }
            let next = cur.next();
            let Some(p) = st.parts.get_mut(&cur.tp) else {
                continue;
            };
            match next {
                Next::Record(r) => {
                    p.position = Some(cur.next_offset);
                    if r.leader_epoch.is_some() {
                        p.epoch = r.leader_epoch;
                    }
                    st.current = Some(cur);
                    return Ok(Some(r));
                }
                Next::Done => {
                    p.position = Some(cur.next_offset);
                    p.buffered = false;
                    st.buffered_bytes = st.buffered_bytes.saturating_sub(cur.bytes);
                    self.inner.fetch_wake.notify_one();
                }
                Next::Corrupt(e) => {
                    p.position = Some(cur.next_offset);
                    p.buffered = false;
                    st.buffered_bytes = st.buffered_bytes.saturating_sub(cur.bytes);
                    self.inner.fetch_wake.notify_one();
                    return Err(e);
                }
            }
        }
    }

    /// The records as an async iterator: `stream.next().await`.
    pub fn stream(&self) -> RecordStream {
        RecordStream {
            consumer: self.clone(),
            fut: None,
        }
    }

    // ---- commits --------------------------------------------------------------------------

    /// Commits the position of every assigned partition (what was consumed) and waits.
    ///
    /// # Errors
    /// No `group.id`; a rebalance in between (the partitions may have moved: the commit is
    /// refused); broker errors after retries within `default.api.timeout.ms`.
    ///
    /// # Cancel safety
    /// Cancel-safe (the commit may or may not have happened).
    pub async fn commit(&self) -> Result<()> {
        let offsets = self.consumed_offsets();
        self.commit_offsets(&offsets).await
    }

    /// The positions of the assigned partitions, as offsets to commit.
    pub fn consumed_offsets(&self) -> Vec<(TopicPartition, i64, Option<i32>, Option<String>)> {
        self.state()
            .parts
            .iter()
            .filter_map(|(tp, p)| p.position.map(|o| (tp.clone(), o, p.epoch, None)))
            .collect()
    }

    /// Commits explicit offsets (the offset of the next record to read), with optional leader
    /// epoch and metadata.
    ///
    /// # Errors
    /// As [`Consumer::commit`].
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn commit_offsets(
        &self,
        offsets: &[(TopicPartition, i64, Option<i32>, Option<String>)],
    ) -> Result<()> {
        let r = group::commit(&self.inner, offsets).await;
        match &r {
            Ok(()) => self.inner.stats.commits.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                *self
                    .inner
                    .last_commit_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
                0
            }
        };
        r
    }

    /// Commits the consumed positions in the background; a failure is logged and kept for
    /// [`Consumer::last_commit_error`].
    pub fn commit_async(&self) {
        let c = Consumer::weak_handle(&self.inner);
        tokio::spawn(async move {
            if let Err(e) = c.commit().await {
                tracing::warn!(error = %e, "async commit failed");
            }
        });
    }

    /// The last commit failure, if the last commit failed.
    pub fn last_commit_error(&self) -> Option<Error> {
        self.inner
            .last_commit_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The committed offsets of partitions (`None`: nothing committed).
    ///
    /// # Errors
    /// No `group.id`, or broker errors after retries.
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn committed(
        &self,
        tps: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, Option<i64>>> {
        let m = group::fetch_committed(&self.inner, tps).await?;
        Ok(tps
            .iter()
            .map(|tp| (tp.clone(), m.get(tp).map(|(o, _)| *o)))
            .collect())
    }

    // ---- lifecycle ------------------------------------------------------------------------

    /// Statistics.
    pub fn stats(&self) -> ConsumerStats {
        let c = &self.inner.stats;
        ConsumerStats {
            records: c.records.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            fetches: c.fetches.load(Ordering::Relaxed),
            full_fetches: c.full_fetches.load(Ordering::Relaxed),
            incremental_fetches: c.incremental_fetches.load(Ordering::Relaxed),
            session_resets: c.session_resets.load(Ordering::Relaxed),
            rebalances: c.rebalances.load(Ordering::Relaxed),
            commits: c.commits.load(Ordering::Relaxed),
            truncations: c.truncations.load(Ordering::Relaxed),
            buffered_bytes: self.state().buffered_bytes,
            client: self.inner.client.stats(),
        }
    }

    /// The member id and generation in the group, once joined.
    pub fn group_membership(&self) -> Option<(String, i32)> {
        let g = self.inner.group.lock().unwrap_or_else(|p| p.into_inner());
        (g.generation >= 0).then(|| (g.member_id.clone(), g.generation))
    }

    /// Leaves cleanly: commits (with auto-commit on), runs the revoke hook, leaves the group
    /// (dynamic members; static members stay until their session times out, KIP-345), stops
    /// the tasks and closes the client if the consumer opened it.
    ///
    /// # Errors
    /// The final commit's error (the consumer is closed anyway).
    ///
    /// # Cancel safety
    /// Cancel-safe: the consumer is closed either way; a cancelled close may skip the commit
    /// or the LeaveGroup.
    pub async fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let r = group::leave(&self.inner).await;
        self.inner.stop.store(true, Ordering::Release);
        self.inner.fetch_wake.notify_one();
        self.inner.group_wake.notify_one();
        self.inner.records_ready.notify_waiters();
        if self.inner.owns_client {
            self.inner.client.close().await;
        }
        r
    }
}

/// An async iterator over records, from [`Consumer::stream`], with
/// `Stream`-style polling through [`RecordStream::poll_next`] and an async
/// [`RecordStream::next`].
pub struct RecordStream {
    consumer: Consumer,
    fut: Option<BoxFuture<'static, Result<ConsumerRecord>>>,
}

impl std::fmt::Debug for RecordStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordStream").finish()
    }
}

impl RecordStream {
    /// Polls for the next record; `None` once the consumer is closed.
    pub fn poll_next(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Result<ConsumerRecord>>> {
        let fut = self.fut.get_or_insert_with(|| {
            let c = self.consumer.clone();
            Box::pin(async move { c.recv().await })
        });
        match fut.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => {
                self.fut = None;
                match r {
                    Err(Error::Closed { .. }) => Poll::Ready(None),
                    other => Poll::Ready(Some(other)),
                }
            }
        }
    }

    /// The next record; `None` once the consumer is closed.
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn next(&mut self) -> Option<Result<ConsumerRecord>> {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }
}

/// Polls the time since the application last asked for records (for `max.poll.interval.ms`).
pub(crate) fn since_last_poll(inner: &Inner) -> Duration {
    inner
        .last_poll
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .elapsed()
}
