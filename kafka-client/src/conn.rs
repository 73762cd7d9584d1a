//! One connection to one broker: a writer task and a reader task (franz-go's broker connection,
//! in tokio).
//!
//! - Callers encode their request into a complete frame in their own task, with a correlation
//!   id taken from the connection's counter, and queue it to the writer. The writer records the
//!   request as in flight (for the reader) *before* writing it, then writes the whole frame; a
//!   caller that is cancelled after queueing cannot leave half a frame on the wire, because the
//!   caller never writes.
//! - Kafka answers the requests of one connection in order, so the reader matches each response
//!   with the oldest request in flight; a response whose correlation id differs is a protocol
//!   error that poisons the connection.
//! - Any I/O error, framing error, undecodable response or request timeout poisons the
//!   connection: both tasks stop, the socket closes, and every waiting request gets the error.
//!   The pool opens a new connection on next use.
//! - In-flight requests are bounded by a semaphore (`max.in.flight.requests.per.connection`).
//! - On connect, ApiVersions (KIP-511: retried at the version the broker's error lists, v0 if it
//!   lists none) fixes the version of every API for the life of the connection.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_proto::frame::FrameDecoder;
use kafka_proto::messages::api_versions_request::ApiVersionsRequest;
use kafka_proto::messages::api_versions_response::ApiVersionsResponse;
use kafka_proto::messages::request_header::RequestHeader;
use kafka_proto::messages::response_header::ResponseHeader;
use kafka_proto::{ApiKey, ChunkedSink, Decoder, ErrorCode, Message, Request, Sink, VersionRange};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use crate::config::ClientConfig;
use crate::error::{Context, Error, Result};
use crate::stats::BrokerCounters;
use crate::tls::TlsConnector;

/// The versions of every API a broker supports, from its ApiVersions response.
#[derive(Clone, Debug, Default)]
pub struct BrokerVersions {
    ranges: Vec<Option<VersionRange>>,
}

impl BrokerVersions {
    fn from_response(r: &ApiVersionsResponse) -> BrokerVersions {
        let mut ranges = Vec::new();
        for k in &r.api_keys {
            if let Ok(i) = usize::try_from(k.api_key) {
                if i < 1024 {
                    if ranges.len() <= i {
                        ranges.resize(i + 1, None);
                    }
                    ranges[i] = Some(VersionRange::new(k.min_version, k.max_version));
                }
            }
        }
        BrokerVersions { ranges }
    }

    /// What the broker advertised for `api`, `None` if nothing.
    pub fn range(&self, api: ApiKey) -> Option<VersionRange> {
        usize::try_from(api.key())
            .ok()
            .and_then(|i| self.ranges.get(i).copied().flatten())
    }

    /// The highest version of `api` within `ours` that the broker also supports.
    pub fn pick(&self, api: ApiKey, ours: VersionRange) -> Option<i16> {
        let both = self.range(api)?.intersect(&ours);
        (!both.is_empty()).then_some(both.max)
    }
}

/// The versions of `api` this client speaks: the codec's stable versions (a version the specs
/// mark unstable is never sent to a real broker).
pub fn client_versions(api: ApiKey) -> VersionRange {
    api.stable_versions()
}

type Reply = oneshot::Sender<Result<Bytes>>;

/// A request queued to the writer.
struct Outgoing {
    /// The frame in chunks: large byte fields (record batches) are shared, not copied.
    frame: Vec<Bytes>,
    correlation_id: i32,
    /// `None` for a request the broker does not answer (Produce with acks=0): the sender is
    /// told once the frame is written.
    reply: Reply,
    expects_response: bool,
    permit: OwnedSemaphorePermit,
    sent_at: Instant,
}

/// A request written and waiting for its response.
struct Pending {
    correlation_id: i32,
    reply: Reply,
    _permit: OwnedSemaphorePermit,
    sent_at: Instant,
}

struct Shared {
    name: Arc<str>,
    poison: Mutex<Option<Error>>,
    poisoned: AtomicBool,
    stop: watch::Sender<bool>,
    in_flight: Mutex<VecDeque<Pending>>,
    counters: Arc<BrokerCounters>,
}

impl Shared {
    /// Marks the connection broken with `e` (the first error wins), stops both tasks and fails
    /// every request in flight.
    fn poison(&self, e: Error) {
        {
            let mut p = self.poison.lock().unwrap_or_else(|p| p.into_inner());
            if p.is_none() {
                tracing::debug!(broker = %self.name, error = %e, "connection closed");
                *p = Some(e);
                self.poisoned.store(true, Ordering::Release);
                self.counters.disconnects.fetch_add(1, Ordering::Relaxed);
            }
        }
        let _ = self.stop.send(true);
        self.fail_in_flight();
    }

    fn error(&self) -> Error {
        let p = self.poison.lock().unwrap_or_else(|p| p.into_inner());
        p.clone()
            .unwrap_or_else(|| Error::closed(Context::broker(&self.name)))
    }

    fn fail_in_flight(&self) {
        let drained: Vec<Pending> = {
            let mut q = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            q.drain(..).collect()
        };
        if drained.is_empty() {
            return;
        }
        let e = self.error();
        for p in drained {
            self.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
            let _ = p.reply.send(Err(e.clone()));
        }
    }
}

/// A live connection. Cheap to clone; the tasks stop when the last clone is dropped (after
/// writing what was queued), or when the connection is poisoned.
#[derive(Clone)]
pub struct Connection {
    tx: mpsc::UnboundedSender<Outgoing>,
    shared: Arc<Shared>,
    permits: Arc<Semaphore>,
    next_correlation: Arc<AtomicI32>,
    versions: Arc<BrokerVersions>,
    client_id: Arc<str>,
    request_timeout: Duration,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("broker", &self.shared.name)
            .field("poisoned", &self.is_poisoned())
            .finish()
    }
}

/// What [`Connection::connect`] needs besides the address.
pub(crate) struct ConnectParams<'a> {
    pub name: Arc<str>,
    pub host: &'a str,
    pub addr: SocketAddr,
    pub config: &'a ClientConfig,
    pub tls: Option<&'a TlsConnector>,
    pub counters: Arc<BrokerCounters>,
}

impl Connection {
    /// Opens a TCP (and TLS) connection to one address, starts the tasks and negotiates
    /// versions.
    ///
    /// # Cancel safety
    /// Cancel-safe: a cancelled connect drops the socket and stops the tasks.
    pub(crate) async fn connect(p: ConnectParams<'_>) -> Result<Connection> {
        let ctx = || Context::broker(&p.name);
        let setup = p.config.connection_setup_timeout;
        let started = async {
            let tcp = TcpStream::connect(p.addr)
                .await
                .map_err(|e| Error::io(ctx(), e))?;
            tcp.set_nodelay(true).map_err(|e| Error::io(ctx(), e))?;
            let conn = match p.tls {
                None => {
                    let (r, w) = tcp.into_split();
                    Connection::start(r, w, &p)
                }
                Some(tls) => {
                    let stream = tls.connect(p.host, tcp).await.map_err(|e| Error::Tls {
                        context: ctx(),
                        source: Arc::new(e),
                    })?;
                    let (r, w) = tokio::io::split(stream);
                    Connection::start(r, w, &p)
                }
            };
            conn.negotiate(p.config).await
        };
        match tokio::time::timeout(setup, started).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout {
                context: ctx(),
                after: setup,
                last: None,
            }),
        }
    }

    fn start<R, W>(r: R, w: W, p: &ConnectParams<'_>) -> Connection
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (stop, stop_rx) = watch::channel(false);
        p.counters.connects.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            name: p.name.clone(),
            poison: Mutex::new(None),
            poisoned: AtomicBool::new(false),
            stop,
            in_flight: Mutex::new(VecDeque::new()),
            counters: p.counters.clone(),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let span = tracing::debug_span!("connection", broker = %p.name);
        tokio::spawn(
            writer(
                BufWriter::with_capacity(64 * 1024, w),
                rx,
                shared.clone(),
                stop_rx.clone(),
                p.config.connections_max_idle,
            )
            .instrument(span.clone()),
        );
        tokio::spawn(
            reader(r, shared.clone(), stop_rx, p.config.max_response_size).instrument(span),
        );
        Connection {
            tx,
            shared,
            permits: Arc::new(Semaphore::new(p.config.max_in_flight.max(1))),
            next_correlation: Arc::new(AtomicI32::new(1)),
            versions: Arc::new(BrokerVersions::default()),
            client_id: Arc::from(p.config.client_id.as_str()),
            request_timeout: p.config.request_timeout,
        }
    }

    /// ApiVersions, retried at a lower version when the broker rejects ours (KIP-511).
    async fn negotiate(mut self, config: &ClientConfig) -> Result<Connection> {
        let ours = client_versions(ApiKey::ApiVersions);
        let mut version = ours.max;
        for _ in 0..3 {
            let req = ApiVersionsRequest {
                client_software_name: sanitize_software(&config.software_name).into(),
                client_software_version: sanitize_software(&config.software_version).into(),
                ..Default::default()
            };
            let frame = self
                .send_raw(&req, version, self.request_timeout, true)
                .await?;
            let resp = decode_api_versions(&frame, version).map_err(|e| {
                let err = Error::decode(
                    Context::broker(&self.shared.name).with_api(ApiKey::ApiVersions, version),
                    e,
                );
                self.shared.poison(err.clone());
                err
            })?;
            let code = ErrorCode::from_i16(resp.error_code);
            if code == ErrorCode::UnsupportedVersion && version > 0 {
                // The broker lists its own ApiVersions range in a v0-format answer; use the
                // highest version both sides speak, or v0 if it lists none.
                let theirs = BrokerVersions::from_response(&resp);
                version = theirs
                    .pick(ApiKey::ApiVersions, ours)
                    .unwrap_or(0)
                    .min(version - 1);
                continue;
            }
            if let Some(e) = Error::from_code(resp.error_code, None, || {
                Context::broker(&self.shared.name).with_api(ApiKey::ApiVersions, version)
            }) {
                return Err(e);
            }
            self.versions = Arc::new(BrokerVersions::from_response(&resp));
            tracing::debug!(broker = %self.shared.name, apiversions = version, apis = resp.api_keys.len(), "connected");
            return Ok(self);
        }
        Err(Error::protocol(
            Context::broker(&self.shared.name).with_api(ApiKey::ApiVersions, version),
            "the broker keeps rejecting every ApiVersions version",
        ))
    }

    /// The broker's name: `node <id> (<host:port>)` or the bootstrap address.
    pub fn broker_name(&self) -> &Arc<str> {
        &self.shared.name
    }

    /// What the broker supports, from ApiVersions at connect.
    pub fn versions(&self) -> &BrokerVersions {
        &self.versions
    }

    /// Whether the connection is broken (the pool replaces it).
    pub fn is_poisoned(&self) -> bool {
        self.shared.poisoned.load(Ordering::Acquire) || self.tx.is_closed()
    }

    /// The version `R` will be sent at: the highest both sides support, within `limit`.
    ///
    /// # Errors
    /// [`Error::UnsupportedVersion`] when there is none.
    pub fn version_for<R: Request>(&self, limit: Option<VersionRange>) -> Result<i16> {
        let mut ours = client_versions(R::KEY);
        if let Some(l) = limit {
            ours = ours.intersect(&l);
        }
        self.versions
            .pick(R::KEY, ours)
            .ok_or_else(|| Error::UnsupportedVersion {
                context: Context::broker(&self.shared.name),
                api: R::KEY,
                broker: self.versions.range(R::KEY),
                client: ours,
            })
    }

    /// Sends `req` at the highest version both sides support and waits for the response.
    ///
    /// # Cancel safety
    /// Cancel-safe: once queued, the request is written whole whatever happens to this future;
    /// a response to a dropped request is read and discarded.
    pub async fn send<R: Request>(&self, req: &R) -> Result<(i16, R::Response)> {
        let v = self.version_for::<R>(None)?;
        Ok((v, self.send_at(req, v, self.request_timeout).await?))
    }

    /// Sends `req` at `version`, waiting at most `timeout` for the response. A timeout poisons
    /// the connection (the response may still come, and later responses queue behind it), as
    /// the Java client does.
    ///
    /// # Cancel safety
    /// As [`Connection::send`].
    pub async fn send_at<R: Request>(
        &self,
        req: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response> {
        let frame = self.send_raw::<R>(req, version, timeout, true).await?;
        let ctx = || Context::broker(&self.shared.name).with_api(R::KEY, version);
        let mut d = Decoder::new(&frame);
        let decoded = ResponseHeader::decode(&mut d, R::KEY.response_header_version(version))
            .and_then(|_| R::Response::decode(&mut d, version));
        match decoded {
            Ok(r) => Ok(r),
            Err(e) => {
                // The frame boundary held, but the bytes are not the response we asked for:
                // nothing later on this connection can be trusted.
                let err = Error::decode(ctx(), e);
                self.shared.poison(err.clone());
                Err(err)
            }
        }
    }

    /// Sends `req` without waiting for a response that the broker never sends (Produce with
    /// `acks=0`); resolves once the frame is handed to the socket.
    ///
    /// # Cancel safety
    /// As [`Connection::send`].
    pub async fn send_no_response<R: Request>(&self, req: &R, version: i16) -> Result<()> {
        self.send_raw::<R>(req, version, self.request_timeout, false)
            .await
            .map(|_| ())
    }

    async fn send_raw<R: Request>(
        &self,
        req: &R,
        version: i16,
        timeout: Duration,
        expects_response: bool,
    ) -> Result<Bytes> {
        let queued = self
            .enqueue::<R>(req, version, timeout, expects_response)
            .await?;
        queued.response(timeout).await
    }

    /// Queues `req` at `version` behind the requests queued before it on this connection and
    /// returns a handle to await its response with. Requests queued in turn by one task are
    /// written (and answered) in that order, which is what keeps a producer's batches of one
    /// partition in sequence across several requests in flight.
    ///
    /// # Cancel safety
    /// Cancel-safe: a cancelled call queued nothing, or queued the whole request.
    pub async fn enqueue<R: Request>(
        &self,
        req: &R,
        version: i16,
        timeout: Duration,
        expects_response: bool,
    ) -> Result<Queued> {
        let ctx = || Context::broker(&self.shared.name).with_api(R::KEY, version);
        if self.is_poisoned() {
            return Err(self.shared.error());
        }
        let correlation_id = self.next_correlation.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        let span = tracing::debug_span!(
            "request",
            api = R::KEY.name(),
            version,
            broker = %self.shared.name,
            correlation_id
        );
        let frame = encode_frame(req, version, correlation_id, &self.client_id).map_err(|e| {
            Error::Encode {
                context: ctx(),
                source: Arc::new(e),
            }
        })?;
        let bytes_out = frame.iter().map(|c| c.len() as u64).sum::<u64>();
        let permit = tokio::select! {
            p = self.permits.clone().acquire_owned() => p.map_err(|_| Error::closed(ctx()))?,
            _ = tokio::time::sleep(timeout) => {
                return Err(Error::Timeout { context: ctx(), after: timeout, last: None });
            }
        };
        let (reply, rx) = oneshot::channel();
        let started = Instant::now();
        self.tx
            .send(Outgoing {
                frame,
                correlation_id,
                reply,
                expects_response,
                permit,
                sent_at: started,
            })
            .map_err(|_| self.shared.error())?;
        self.shared
            .counters
            .bytes_out
            .fetch_add(bytes_out, Ordering::Relaxed);
        Ok(Queued {
            rx,
            started,
            shared: self.shared.clone(),
            context: ctx(),
            span,
        })
    }

    /// Queues a typed request (see [`Connection::enqueue`]); [`QueuedRequest::response`]
    /// decodes its response.
    ///
    /// # Cancel safety
    /// As [`Connection::enqueue`].
    pub async fn enqueue_typed<R: Request>(
        &self,
        req: &R,
        version: i16,
        timeout: Duration,
        expects_response: bool,
    ) -> Result<QueuedRequest<R>> {
        let queued = self
            .enqueue(req, version, timeout, expects_response)
            .await?;
        Ok(QueuedRequest {
            queued,
            version,
            _request: std::marker::PhantomData,
        })
    }

    /// Closes the connection: requests in flight fail with [`Error::Closed`].
    pub fn close(&self) {
        self.shared
            .poison(Error::closed(Context::broker(&self.shared.name)));
    }
}

/// A request queued on a connection, waiting for its response.
#[derive(Debug)]
pub struct Queued {
    rx: oneshot::Receiver<Result<Bytes>>,
    started: Instant,
    shared: Arc<Shared>,
    context: Context,
    span: tracing::Span,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("name", &self.name).finish()
    }
}

impl Queued {
    /// The response frame (empty for a request without a response), waiting at most `timeout`.
    /// A timeout poisons the connection.
    ///
    /// # Cancel safety
    /// Cancel-safe: the response is read and dropped.
    pub async fn response(self, timeout: Duration) -> Result<Bytes> {
        let Queued {
            rx,
            started,
            shared,
            context,
            span,
        } = self;
        async move {
            let result = match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(r)) => r,
                Ok(Err(_)) => Err(shared.error()),
                Err(_) => {
                    let e = Error::Timeout {
                        context,
                        after: timeout,
                        last: None,
                    };
                    shared.poison(e.clone());
                    Err(e)
                }
            };
            let elapsed = started.elapsed();
            let counters = &shared.counters;
            counters.requests.fetch_add(1, Ordering::Relaxed);
            if result.is_err() {
                counters.errors.fetch_add(1, Ordering::Relaxed);
            } else {
                counters.latency.record(elapsed);
            }
            tracing::debug!(
                latency_us = elapsed.as_micros() as u64,
                ok = result.is_ok(),
                "response"
            );
            result
        }
        .instrument(span)
        .await
    }
}

/// A typed [`Queued`] request.
#[derive(Debug)]
pub struct QueuedRequest<R: Request> {
    queued: Queued,
    version: i16,
    _request: std::marker::PhantomData<fn() -> R>,
}

impl<R: Request> QueuedRequest<R> {
    /// The decoded response (`None` for a request the broker does not answer).
    ///
    /// # Errors
    /// As [`Connection::send_at`].
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn response(self, timeout: Duration) -> Result<Option<R::Response>> {
        let shared = self.queued.shared.clone();
        let context = self.queued.context.clone();
        let frame = self.queued.response(timeout).await?;
        if frame.is_empty() {
            return Ok(None);
        }
        let mut d = Decoder::new(&frame);
        let decoded = ResponseHeader::decode(&mut d, R::KEY.response_header_version(self.version))
            .and_then(|_| R::Response::decode(&mut d, self.version));
        match decoded {
            Ok(r) => Ok(Some(r)),
            Err(e) => {
                let err = Error::decode(context, e);
                shared.poison(err.clone());
                Err(err)
            }
        }
    }
}

/// Kafka's rule for client software names and versions (KIP-511): `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`.
fn sanitize_software(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() {
        "unknown".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Decodes an ApiVersions response. Its header is always v0; a broker that does not support
/// the version we sent answers in the v0 body format with UNSUPPORTED_VERSION (KIP-511), so that
/// error code (the first field of every version) switches the body to v0.
fn decode_api_versions(
    frame: &Bytes,
    version: i16,
) -> std::result::Result<ApiVersionsResponse, kafka_proto::DecodeError> {
    let mut d = Decoder::new(frame);
    ResponseHeader::decode(&mut d, 0)?;
    let code = d.rest().get(..2).map(|b| i16::from_be_bytes([b[0], b[1]]));
    let v = if code == Some(ErrorCode::UnsupportedVersion.code()) {
        0
    } else {
        version
    };
    ApiVersionsResponse::decode(&mut d, v)
}

/// Encodes a whole frame: length prefix, request header, body. Byte fields of 16 KiB or more
/// (record batches) stay their own chunks, shared with the caller, so a Produce request does
/// not copy its batches.
pub(crate) fn encode_frame<R: Request>(
    req: &R,
    version: i16,
    correlation_id: i32,
    client_id: &str,
) -> std::result::Result<Vec<Bytes>, kafka_proto::EncodeError> {
    let hv = R::KEY.request_header_version(version);
    let header = RequestHeader {
        request_api_key: R::KEY.key(),
        request_api_version: version,
        correlation_id,
        client_id: Some(client_id.into()),
        ..Default::default()
    };
    let size = header.encoded_size(hv) + req.encoded_size(version);
    let mut sink = ChunkedSink::with_threshold(16 * 1024);
    sink.put_i32(i32::try_from(size).unwrap_or(i32::MAX));
    header.encode(&mut sink, hv)?;
    req.encode(&mut sink, version)?;
    Ok(sink.finish())
}

async fn writer<W: AsyncWrite + Unpin>(
    mut w: BufWriter<W>,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    idle: Duration,
) {
    loop {
        let next = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            m = tokio::time::timeout(idle, rx.recv()) => m,
        };
        let msg = match next {
            Ok(Some(m)) => m,
            Ok(None) => {
                // Every handle is gone: let the in-flight requests finish, then close.
                shared.poison(Error::closed(Context::broker(&shared.name)));
                break;
            }
            Err(_) => {
                let busy = !shared
                    .in_flight
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .is_empty();
                if busy {
                    continue;
                }
                tracing::debug!(broker = %shared.name, "closing idle connection");
                shared.poison(Error::closed(Context::broker(&shared.name)));
                break;
            }
        };
        if let Err(e) = write_one(&mut w, msg, &shared).await {
            shared.poison(Error::io(Context::broker(&shared.name), e));
            break;
        }
        // Pipelining: write whatever else is queued before flushing once.
        let mut failed = None;
        while let Ok(m) = rx.try_recv() {
            if let Err(e) = write_one(&mut w, m, &shared).await {
                failed = Some(e);
                break;
            }
        }
        if failed.is_none() {
            if let Err(e) = w.flush().await {
                failed = Some(e);
            }
        }
        if let Some(e) = failed {
            shared.poison(Error::io(Context::broker(&shared.name), e));
            break;
        }
    }
    // Fail whatever was queued but never written.
    rx.close();
    while let Ok(m) = rx.try_recv() {
        let _ = m.reply.send(Err(shared.error()));
    }
    let _ = w.shutdown().await;
}

async fn write_one<W: AsyncWrite + Unpin>(
    w: &mut BufWriter<W>,
    m: Outgoing,
    shared: &Shared,
) -> std::io::Result<()> {
    if m.expects_response {
        shared
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(Pending {
                correlation_id: m.correlation_id,
                reply: m.reply,
                _permit: m.permit,
                sent_at: m.sent_at,
            });
        shared.counters.in_flight.fetch_add(1, Ordering::Relaxed);
        for chunk in &m.frame {
            w.write_all(chunk).await?;
        }
        Ok(())
    } else {
        for chunk in &m.frame {
            w.write_all(chunk).await?;
        }
        w.flush().await?;
        let _ = m.reply.send(Ok(Bytes::new()));
        Ok(())
    }
}

async fn reader<R: AsyncRead + Unpin>(
    mut r: R,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    max_frame: usize,
) {
    let mut frames = FrameDecoder::new(max_frame);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let ctx = || Context::broker(&shared.name);
    loop {
        // Cut every complete frame already buffered.
        loop {
            match frames.decode(&mut buf) {
                Ok(Some(frame)) => {
                    if let Err(e) = deliver(&shared, frame) {
                        shared.poison(e);
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    shared.poison(Error::protocol(ctx(), format!("bad response frame: {e}")));
                    return;
                }
            }
        }
        // Room for the whole frame being read (its length is known and within the maximum, or
        // FrameDecoder would have refused it): one allocation instead of growing step by step.
        let want = match buf.get(..4) {
            Some(b) => {
                let len = i32::from_be_bytes([b[0], b[1], b[2], b[3]]).max(0) as usize;
                (len + 4)
                    .min(max_frame + 4)
                    .saturating_sub(buf.len())
                    .max(4096)
            }
            None => 64 * 1024,
        };
        if buf.capacity() - buf.len() < want {
            buf.reserve(want.max(64 * 1024));
        }
        let n = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            n = r.read_buf(&mut buf) => n,
        };
        match n {
            Ok(0) => {
                let detail = if buf.is_empty() {
                    "the broker closed the connection"
                } else {
                    "the broker closed the connection in the middle of a response"
                };
                let e = Error::io(
                    ctx(),
                    std::io::Error::new(std::io::ErrorKind::UnexpectedEof, detail),
                );
                shared.poison(e);
                return;
            }
            Ok(_) => {}
            Err(e) => {
                shared.poison(Error::io(ctx(), e));
                return;
            }
        }
    }
}

/// Hands one response frame to the oldest request in flight.
fn deliver(shared: &Shared, frame: Bytes) -> Result<()> {
    let ctx = || Context::broker(&shared.name);
    let Some(id) = frame
        .get(..4)
        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    else {
        return Err(Error::protocol(
            ctx(),
            "response frame shorter than its header",
        ));
    };
    let pending = {
        let mut q = shared.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        match q.front() {
            Some(p) if p.correlation_id == id => q.pop_front(),
            Some(p) => {
                return Err(Error::protocol(
                    ctx(),
                    format!(
                    "response correlation id {id} does not match the oldest request in flight ({})",
                    p.correlation_id
                ),
                ))
            }
            None => {
                return Err(Error::protocol(
                    ctx(),
                    format!("response with correlation id {id} but no request in flight"),
                ))
            }
        }
    };
    if let Some(p) = pending {
        shared.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
        shared
            .counters
            .bytes_in
            .fetch_add(frame.len() as u64 + 4, Ordering::Relaxed);
        let _ = p.sent_at;
        // A dropped caller has closed its receiver; the response is discarded.
        let _ = p.reply.send(Ok(frame));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_names_follow_kip_511() {
        assert_eq!(sanitize_software("kafka-rs"), "kafka-rs");
        assert_eq!(sanitize_software("my app/1"), "my-app-1");
        assert_eq!(sanitize_software("-x-"), "x");
        assert_eq!(sanitize_software("!!"), "unknown");
    }

    #[test]
    fn pick_takes_highest_common_version() {
        let v = BrokerVersions {
            ranges: vec![Some(VersionRange::new(3, 9)), None],
        };
        assert_eq!(v.pick(ApiKey::Produce, VersionRange::new(0, 11)), Some(9));
        assert_eq!(v.pick(ApiKey::Produce, VersionRange::new(10, 11)), None);
        assert_eq!(v.pick(ApiKey::Fetch, VersionRange::new(0, 11)), None);
        assert_eq!(v.pick(ApiKey::ListOffsets, VersionRange::new(0, 11)), None);
    }
}
