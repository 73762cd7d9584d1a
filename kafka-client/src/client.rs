//! [`Client`]: the shared core under the admin, producer and consumer handles: connections per
//! broker and purpose, the metadata cache and its refreshes, routing to leaders, the controller
//! and coordinators, and retries within a deadline.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use kafka_proto::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_proto::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
use kafka_proto::{ApiKey, ErrorCode, Request, VersionRange};
use tokio::sync::watch;

use crate::config::ClientConfig;
use crate::conn::{ConnectParams, Connection};
use crate::error::{Context, Error, Result};
use crate::metadata::Metadata;
use crate::stats::{ClientStats, StatsRegistry};
use crate::tls::TlsConnector;

/// What a connection is for. Each purpose has its own connection to a broker, so a long-poll
/// fetch never delays a heartbeat and a big produce never delays metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Purpose {
    /// Metadata and admin requests.
    Admin,
    /// Produce requests.
    Produce,
    /// Fetch and offset lookups for consumption.
    Fetch,
    /// Group coordination: join, sync, heartbeat, commit.
    Group,
}

/// A broker to talk to: a node id from metadata, or the n-th bootstrap address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Node {
    /// A broker by node id.
    Id(i32),
    /// The bootstrap server at this index of `bootstrap.servers`.
    Bootstrap(usize),
}

#[derive(Default)]
struct SlotState {
    conn: Option<Connection>,
    failures: u32,
    retry_at: Option<Instant>,
}

#[derive(Default)]
struct Slot {
    state: tokio::sync::Mutex<SlotState>,
}

pub(crate) struct Inner {
    pub(crate) config: ClientConfig,
    tls: Option<TlsConnector>,
    pub(crate) stats: StatsRegistry,
    metadata: RwLock<Arc<Metadata>>,
    has_metadata: AtomicBool,
    metadata_generation: AtomicU64,
    refresh_lock: tokio::sync::Mutex<()>,
    /// Topics the client refreshes on its timer (the ones it was asked about).
    interest: Mutex<std::collections::BTreeSet<String>>,
    slots: Mutex<HashMap<(Node, Purpose), Arc<Slot>>>,
    coordinators: Mutex<HashMap<(i8, String), i32>>,
    closed: AtomicBool,
    shutdown: watch::Sender<bool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        let slots = self.slots.get_mut().unwrap_or_else(|p| p.into_inner());
        for slot in slots.values() {
            if let Ok(st) = slot.state.try_lock() {
                if let Some(c) = &st.conn {
                    c.close();
                }
            }
        }
    }
}

/// The client core. Cheap to clone (an `Arc`); background work stops when the last clone is
/// dropped or on [`Client::close`].
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("bootstrap", &self.inner.config.bootstrap_servers)
            .field("client_id", &self.inner.config.client_id)
            .finish()
    }
}

/// Exponential backoff with ±20 % jitter: `first * 2^(n-1)`, capped at `max`.
pub(crate) fn backoff(first: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = first.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let capped = exp.min(max.max(first));
    let jitter = 0.8 + fastrand::f64() * 0.4;
    capped.mul_f64(jitter)
}

impl Client {
    /// Connects to the cluster: tries every bootstrap server (every address each name resolves
    /// to) until one answers a Metadata request.
    ///
    /// # Errors
    /// [`Error::Unreachable`] naming every address tried and why; [`Error::Tls`] for a TLS
    /// configuration that cannot be loaded.
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn connect(config: ClientConfig) -> Result<Client> {
        if config.bootstrap_servers.is_empty() {
            return Err(crate::config::config_err(
                "bootstrap.servers",
                "needs at least one host:port",
            ));
        }
        let tls = match &config.tls {
            None => None,
            Some(t) => Some(t.connector().map_err(|e| Error::Tls {
                context: Context::default(),
                source: Arc::new(e),
            })?),
        };
        let (shutdown, _) = watch::channel(false);
        let client = Client {
            inner: Arc::new(Inner {
                config,
                tls,
                stats: StatsRegistry::default(),
                metadata: RwLock::new(Arc::new(Metadata::default())),
                has_metadata: AtomicBool::new(false),
                metadata_generation: AtomicU64::new(0),
                refresh_lock: tokio::sync::Mutex::new(()),
                interest: Mutex::new(Default::default()),
                slots: Mutex::new(HashMap::new()),
                coordinators: Mutex::new(HashMap::new()),
                closed: AtomicBool::new(false),
                shutdown,
            }),
        };
        client.bootstrap().await?;
        tokio::spawn(metadata_timer(Arc::downgrade(&client.inner)));
        Ok(client)
    }

    async fn bootstrap(&self) -> Result<()> {
        let mut tried = Vec::new();
        for i in 0..self.inner.config.bootstrap_servers.len() {
            let addr = self.inner.config.bootstrap_servers[i].clone();
            match self
                .fetch_metadata_from(Node::Bootstrap(i), None, false)
                .await
            {
                Ok(m) => {
                    self.install_metadata(m);
                    return Ok(());
                }
                Err(e) => tried.push((addr, e.to_string())),
            }
        }
        Err(Error::Unreachable { tried })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            Err(Error::closed(Context::default()))
        } else {
            Ok(())
        }
    }

    // ---- connections ----------------------------------------------------------------------

    fn node_address(&self, node: Node) -> Result<(Arc<str>, String)> {
        match node {
            Node::Bootstrap(i) => {
                let a = self
                    .inner
                    .config
                    .bootstrap_servers
                    .get(i)
                    .cloned()
                    .ok_or_else(|| Error::InvalidArgument(format!("no bootstrap server {i}")))?;
                Ok((Arc::from(a.as_str()), a))
            }
            Node::Id(id) => {
                let md = self.metadata();
                let b = md.brokers.get(&id).ok_or_else(|| Error::Broker {
                    code: ErrorCode::BrokerNotAvailable,
                    message: Some(format!("node {id} is not in the cluster metadata")),
                    context: Context::default(),
                })?;
                let a = b.address();
                Ok((Arc::from(format!("node {id} ({a})").as_str()), a))
            }
        }
    }

    /// A live connection to `node` for `purpose`, connecting (after the reconnect backoff of
    /// earlier failures) if needed. Concurrent callers share one connect.
    ///
    /// # Errors
    /// The connect failure ([`Error::Io`], [`Error::Timeout`], [`Error::Tls`], ...).
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn connection(&self, node: Node, purpose: Purpose) -> Result<Connection> {
        self.check_open()?;
        let slot = {
            let mut slots = self.inner.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.entry((node, purpose)).or_default().clone()
        };
        let mut st = slot.state.lock().await;
        if let Some(c) = &st.conn {
            if !c.is_poisoned() {
                return Ok(c.clone());
            }
            st.conn = None;
            self.inner.stats.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(at) = st.retry_at {
            tokio::time::sleep_until(at.into()).await;
        }
        match self.dial(node).await {
            Ok(c) => {
                st.failures = 0;
                st.retry_at = None;
                st.conn = Some(c.clone());
                Ok(c)
            }
            Err(e) => {
                st.failures += 1;
                let cfg = &self.inner.config;
                st.retry_at = Some(
                    Instant::now()
                        + backoff(
                            cfg.reconnect_backoff,
                            cfg.reconnect_backoff_max,
                            st.failures,
                        ),
                );
                Err(e)
            }
        }
    }

    /// Connects to every address the node's host resolves to, in turn.
    async fn dial(&self, node: Node) -> Result<Connection> {
        let (name, address) = self.node_address(node)?;
        let (host, _) = split_host_port(&address).ok_or_else(|| {
            crate::config::config_err("bootstrap.servers", format!("`{address}` is not host:port"))
        })?;
        let ctx = || Context::broker(&name);
        let addrs: Vec<_> = match tokio::time::timeout(
            self.inner.config.connection_setup_timeout,
            tokio::net::lookup_host(address.as_str()),
        )
        .await
        {
            Ok(Ok(a)) => a.collect(),
            Ok(Err(e)) => return Err(Error::io(ctx(), e)),
            Err(_) => {
                return Err(Error::Timeout {
                    context: ctx(),
                    after: self.inner.config.connection_setup_timeout,
                    last: None,
                })
            }
        };
        let counters = self.inner.stats.broker(&name);
        let mut last = None;
        for addr in addrs {
            let r = Connection::connect(ConnectParams {
                name: name.clone(),
                host,
                addr,
                config: &self.inner.config,
                tls: self.inner.tls.as_ref(),
                counters: counters.clone(),
            })
            .await;
            match r {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::debug!(broker = %name, %addr, error = %e, "connect failed");
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            Error::io(
                ctx(),
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the name resolved to no address",
                ),
            )
        }))
    }

    /// Sends `req` to `node` on the connection for `purpose` at the highest version both sides
    /// support (within `limit`), once, without retries.
    ///
    /// # Errors
    /// Connection and protocol errors; Kafka error codes inside the response are the caller's.
    ///
    /// # Cancel safety
    /// Cancel-safe (see [`Connection::send`]).
    pub async fn send_to<R: Request>(
        &self,
        node: Node,
        purpose: Purpose,
        req: &R,
        limit: Option<VersionRange>,
    ) -> Result<(i16, R::Response)> {
        let conn = self.connection(node, purpose).await?;
        let v = conn.version_for::<R>(limit)?;
        let r = conn
            .send_at(req, v, self.inner.config.request_timeout)
            .await?;
        Ok((v, r))
    }

    /// Like [`Client::send_to`], but lets `build` shape the request for the version chosen
    /// (fields differ between versions, e.g. topic names versus topic ids).
    ///
    /// # Errors
    /// As [`Client::send_to`].
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn send_built<R: Request>(
        &self,
        node: Node,
        purpose: Purpose,
        limit: Option<VersionRange>,
        build: impl FnOnce(i16) -> R,
    ) -> Result<(i16, R::Response)> {
        let conn = self.connection(node, purpose).await?;
        let v = conn.version_for::<R>(limit)?;
        let req = build(v);
        let r = conn
            .send_at(&req, v, self.inner.config.request_timeout)
            .await?;
        Ok((v, r))
    }

    /// The version of `api` that `node` would be sent (connecting if needed).
    ///
    /// # Errors
    /// Connect errors, or [`Error::UnsupportedVersion`].
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn negotiated_version<R: Request>(&self, node: Node) -> Result<i16> {
        self.connection(node, Purpose::Admin)
            .await?
            .version_for::<R>(None)
    }

    /// A broker to send a request that any broker can answer: a known broker with a live
    /// connection if there is one, otherwise any known broker, otherwise a bootstrap server.
    pub fn any_broker(&self) -> Node {
        let md = self.metadata();
        let slots = self.inner.slots.lock().unwrap_or_else(|p| p.into_inner());
        let mut ids: Vec<i32> = md.brokers.keys().copied().collect();
        ids.sort_unstable();
        for id in &ids {
            if let Some(s) = slots.get(&(Node::Id(*id), Purpose::Admin)) {
                if let Ok(st) = s.state.try_lock() {
                    if st.conn.as_ref().is_some_and(|c| !c.is_poisoned()) {
                        return Node::Id(*id);
                    }
                }
            }
        }
        if ids.is_empty() {
            return Node::Bootstrap(fastrand::usize(
                ..self.inner.config.bootstrap_servers.len().max(1),
            ));
        }
        // Prefer a broker whose connection has not been failing.
        let healthy: Vec<i32> = ids
            .iter()
            .copied()
            .filter(|id| {
                slots
                    .get(&(Node::Id(*id), Purpose::Admin))
                    .and_then(|s| s.state.try_lock().ok().map(|st| st.failures == 0))
                    .unwrap_or(true)
            })
            .collect();
        let pool = if healthy.is_empty() { &ids } else { &healthy };
        Node::Id(pool[fastrand::usize(..pool.len())])
    }

    // ---- metadata ---------------------------------------------------------------------------

    /// The current metadata snapshot (possibly empty before the first refresh).
    pub fn metadata(&self) -> Arc<Metadata> {
        self.inner
            .metadata
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Bumped on every metadata install: a cheap staleness check for cached views.
    pub(crate) fn metadata_generation(&self) -> u64 {
        self.inner.metadata_generation.load(Ordering::Acquire)
    }

    fn install_metadata(&self, m: Metadata) {
        *self
            .inner
            .metadata
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(m);
        self.inner.has_metadata.store(true, Ordering::Release);
        self.inner
            .metadata_generation
            .fetch_add(1, Ordering::AcqRel);
        self.inner
            .stats
            .metadata_refreshes
            .fetch_add(1, Ordering::Relaxed);
    }

    async fn fetch_metadata_from(
        &self,
        node: Node,
        topics: Option<&[String]>,
        auto_create: bool,
    ) -> Result<Metadata> {
        let (v, resp) = self
            .send_built(node, Purpose::Admin, None, |v| MetadataRequest {
                topics: match topics {
                    None if v == 0 => Some(Vec::new()),
                    None => None,
                    Some(ts) => Some(
                        ts.iter()
                            .map(|t| MetadataRequestTopic {
                                name: Some(t.as_str().into()),
                                ..Default::default()
                            })
                            .collect(),
                    ),
                },
                // Before v4 the field does not exist and brokers always auto-create.
                allow_auto_topic_creation: auto_create || v < 4,
                ..Default::default()
            })
            .await?;
        let _ = v;
        let prev = self.metadata();
        let merge = if topics.is_some() && self.inner.has_metadata.load(Ordering::Acquire) {
            Some(&*prev)
        } else {
            None
        };
        Ok(Metadata::from_response(&resp, merge))
    }

    /// Refreshes metadata for `topics` (every topic with `None`) and returns the new snapshot.
    /// Concurrent refreshes are coalesced: a caller that waited while another refresh ran gets
    /// that refresh's result if it covered its topics.
    ///
    /// # Errors
    /// The last error if no broker answered within `default.api.timeout.ms`.
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn refresh_metadata(&self, topics: Option<&[String]>) -> Result<Arc<Metadata>> {
        self.refresh_metadata_opts(topics, false).await
    }

    /// As [`Client::refresh_metadata`], asking the broker to create missing topics when it
    /// allows auto-creation (what producers do).
    ///
    /// # Errors
    /// As [`Client::refresh_metadata`].
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn refresh_metadata_opts(
        &self,
        topics: Option<&[String]>,
        auto_create: bool,
    ) -> Result<Arc<Metadata>> {
        self.check_open()?;
        if let Some(ts) = topics {
            let mut i = self
                .inner
                .interest
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            i.extend(ts.iter().cloned());
        }
        let seen = self.inner.metadata_generation.load(Ordering::Acquire);
        let _guard = self.inner.refresh_lock.lock().await;
        if self.inner.metadata_generation.load(Ordering::Acquire) != seen {
            let md = self.metadata();
            let covered = match topics {
                None => false,
                Some(ts) => ts
                    .iter()
                    .all(|t| md.topics.contains_key(t) || md.topic_errors.contains_key(t)),
            };
            if covered && !auto_create {
                return Ok(md);
            }
        }
        let deadline = Instant::now() + self.inner.config.default_api_timeout;
        let md = self
            .retry_until(deadline, ApiKey::Metadata, |c| async move {
                let node = c.any_broker();
                c.fetch_metadata_from(node, topics, auto_create).await
            })
            .await?;
        if topics.is_some() {
            // Topics that do not exist are not worth refreshing on the timer.
            let mut i = self
                .inner
                .interest
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            for (t, code) in &md.topic_errors {
                if *code == ErrorCode::UnknownTopicOrPartition {
                    i.remove(t);
                }
            }
        }
        self.install_metadata(md);
        Ok(self.metadata())
    }

    /// Metadata for `topics`, from the cache when every topic is in it and the cache is younger
    /// than `metadata.max.age.ms`, refreshed otherwise.
    ///
    /// # Errors
    /// As [`Client::refresh_metadata`].
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn metadata_for(&self, topics: &[String]) -> Result<Arc<Metadata>> {
        let md = self.metadata();
        let fresh = md.fetched_at.elapsed() < self.inner.config.metadata_max_age;
        if fresh && topics.iter().all(|t| md.topics.contains_key(t)) {
            return Ok(md);
        }
        self.refresh_metadata(Some(topics)).await
    }

    /// Marks metadata stale so the next [`Client::metadata_for`] refreshes it (call after an
    /// error for which [`Error::is_stale_metadata`] is true).
    pub fn invalidate_metadata(&self) {
        let mut w = self
            .inner
            .metadata
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let mut m = (**w).clone();
        m.fetched_at = Instant::now()
            .checked_sub(self.inner.config.metadata_max_age + Duration::from_secs(1))
            .unwrap_or(m.fetched_at);
        *w = Arc::new(m);
    }

    // ---- routing ------------------------------------------------------------------------------

    /// The controller's node (from metadata; Kafka 2.x+ brokers forward admin requests sent to
    /// any broker when the controller moved, and answer NOT_CONTROLLER otherwise).
    ///
    /// # Errors
    /// Metadata errors.
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn controller(&self) -> Result<Node> {
        let mut md = self.metadata();
        let stale = md.fetched_at.elapsed() >= self.inner.config.metadata_max_age;
        if stale || md.controller < 0 || !md.brokers.contains_key(&md.controller) {
            md = self.refresh_metadata(Some(&[])).await?;
        }
        if md.controller >= 0 {
            Ok(Node::Id(md.controller))
        } else {
            Ok(self.any_broker())
        }
    }

    /// The coordinator of a group (`key_type` 0) or transactional id (1), found with
    /// FindCoordinator and cached until [`Client::forget_coordinator`].
    ///
    /// # Errors
    /// The FindCoordinator error (COORDINATOR_NOT_AVAILABLE while the broker loads, ...).
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn coordinator(&self, key_type: i8, key: &str) -> Result<Node> {
        if let Some(id) = self
            .inner
            .coordinators
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(key_type, key.to_owned()))
        {
            return Ok(Node::Id(*id));
        }
        let node = self.any_broker();
        let (v, resp) = self
            .send_built(node, Purpose::Admin, None, |v| {
                let mut r = FindCoordinatorRequest {
                    key_type,
                    ..Default::default()
                };
                if v >= 4 {
                    r.coordinator_keys = vec![key.into()];
                } else {
                    r.key = key.into();
                }
                r
            })
            .await?;
        let ctx = || Context::default().with_api(ApiKey::FindCoordinator, v);
        let (code, msg, id) = if v >= 4 {
            let c = resp.coordinators.first().ok_or_else(|| {
                Error::protocol(ctx(), "FindCoordinator response without coordinators")
            })?;
            (c.error_code, c.error_message.clone(), c.node_id)
        } else {
            (resp.error_code, resp.error_message.clone(), resp.node_id)
        };
        if let Some(e) = Error::from_code(code, msg.as_deref(), ctx) {
            return Err(e);
        }
        // Make sure the coordinator's address is known.
        if !self.metadata().brokers.contains_key(&id) {
            self.refresh_metadata(Some(&[])).await?;
        }
        self.inner
            .coordinators
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((key_type, key.to_owned()), id);
        Ok(Node::Id(id))
    }

    /// Forgets a cached coordinator (after NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE).
    pub fn forget_coordinator(&self, key_type: i8, key: &str) {
        self.inner
            .coordinators
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(key_type, key.to_owned()));
    }

    /// Runs `op` until it succeeds, fails with a non-retriable error, or `deadline` passes,
    /// waiting `retry.backoff.ms` (exponential, with jitter) between attempts and invalidating
    /// metadata after errors that mean it is stale.
    ///
    /// # Errors
    /// The first non-retriable error, or [`Error::Timeout`] carrying the last retriable one.
    ///
    /// # Cancel safety
    /// As cancel-safe as `op`.
    pub async fn retry_until<T, F, Fut>(
        &self,
        deadline: Instant,
        api: ApiKey,
        mut op: F,
    ) -> Result<T>
    where
        F: FnMut(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            self.check_open()?;
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let r = match tokio::time::timeout(remaining, op(self.clone())).await {
                Ok(r) => r,
                Err(_) => {
                    return Err(Error::Timeout {
                        context: Context::default().with_api(api, -1).without_version(),
                        after: started.elapsed(),
                        last: None,
                    })
                }
            };
            match r {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retriable() => {
                    if e.is_stale_metadata() {
                        self.invalidate_metadata();
                    }
                    let cfg = &self.inner.config;
                    let wait = backoff(cfg.retry_backoff, cfg.retry_backoff_max, attempt);
                    if Instant::now() + wait >= deadline {
                        return Err(Error::Timeout {
                            context: Context::default().with_api(api, -1).without_version(),
                            after: started.elapsed(),
                            last: Some(Box::new(e)),
                        });
                    }
                    tracing::debug!(api = api.name(), attempt, error = %e, "retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    // ---- lifecycle ----------------------------------------------------------------------------

    /// A statistics snapshot.
    pub fn stats(&self) -> ClientStats {
        let has = self.inner.has_metadata.load(Ordering::Acquire);
        ClientStats {
            brokers: self.inner.stats.brokers(),
            metadata_age: has.then(|| self.metadata().fetched_at.elapsed()),
            metadata_refreshes: self.inner.stats.metadata_refreshes.load(Ordering::Relaxed),
            reconnects: self.inner.stats.reconnects.load(Ordering::Relaxed),
        }
    }

    /// Closes every connection and stops background tasks; later calls fail with
    /// [`Error::Closed`]. Requests in flight fail.
    ///
    /// # Cancel safety
    /// Cancel-safe: the close has happened once the first poll returns.
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        let _ = self.inner.shutdown.send(true);
        let slots: Vec<Arc<Slot>> = self
            .inner
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, s)| s)
            .collect();
        for s in slots {
            let st = s.state.lock().await;
            if let Some(c) = &st.conn {
                c.close();
            }
        }
    }
}

impl Context {
    fn without_version(mut self) -> Context {
        self.version = None;
        self
    }
}

/// Splits `host:port` (or `[v6]:port`).
pub(crate) fn split_host_port(s: &str) -> Option<(&str, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host, port.parse().ok()?))
}

/// Refreshes the topics of interest every `metadata.max.age.ms` while the client lives.
async fn metadata_timer(inner: Weak<Inner>) {
    let (period, mut stop) = match inner.upgrade() {
        Some(i) => (i.config.metadata_max_age, i.shutdown.subscribe()),
        None => return,
    };
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let Some(inner) = inner.upgrade() else { return };
        let client = Client { inner };
        let age = client.metadata().fetched_at.elapsed();
        if age + Duration::from_millis(50) < period {
            continue;
        }
        let topics: Vec<String> = client
            .inner
            .interest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect();
        if let Err(e) = client.refresh_metadata(Some(&topics)).await {
            tracing::debug!(error = %e, "periodic metadata refresh failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps_with_jitter() {
        let f = Duration::from_millis(50);
        let m = Duration::from_millis(1000);
        for _ in 0..100 {
            let b1 = backoff(f, m, 1);
            assert!(
                b1 >= Duration::from_millis(40) && b1 <= Duration::from_millis(60),
                "{b1:?}"
            );
            let b3 = backoff(f, m, 3);
            assert!(
                b3 >= Duration::from_millis(160) && b3 <= Duration::from_millis(240),
                "{b3:?}"
            );
            let b30 = backoff(f, m, 30);
            assert!(
                b30 >= Duration::from_millis(800) && b30 <= Duration::from_millis(1200),
                "{b30:?}"
            );
        }
    }

    #[test]
    fn host_port() {
        assert_eq!(split_host_port("a.b:9092"), Some(("a.b", 9092)));
        assert_eq!(split_host_port("[::1]:9"), Some(("::1", 9)));
        assert_eq!(split_host_port("nope"), None);
    }
}
