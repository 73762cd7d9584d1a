//! A plain TCP proxy between a Kafka client and a broker that injects faults into responses.
//!
//! Broker→client bytes are cut into Kafka frames (a 4-byte big-endian length, then that many
//! bytes: the response header, whose first 4 bytes are the correlation id, and the body) and
//! forwarded a whole frame at a time, so a fault can replace or cut one frame. Client→broker
//! bytes are forwarded as they come, unless [paused](FaultProxy::pause_client_reads).
//!
//! A fault is armed with one of the `*_next_response` methods and fires once, on the next
//! response frame any connection forwards. Faults armed together fire on successive frames
//! (in the order close, oversize, wrong correlation id, garbage).
//!
//! Like [`TlsProxy`](crate::TlsProxy), the proxy can be bound before its upstream is known (for
//! a broker that must advertise the proxy's address): [`FaultProxy::bind`], then
//! [`FaultProxy::set_upstream`].

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// What [`FaultProxy::wrong_correlation_next_response`] adds to the correlation id.
pub const CORRELATION_SHIFT: i32 = 1_000_000;

/// A fault waiting for the next response frame.
#[derive(Debug, Default)]
struct Armed {
    close_mid_frame: bool,
    oversize: Option<u32>,
    wrong_correlation: bool,
    garbage: bool,
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    CloseMidFrame,
    Oversize(u32),
    WrongCorrelation,
    Garbage,
}

impl Armed {
    fn take(&mut self) -> Option<Fault> {
        if std::mem::take(&mut self.close_mid_frame) {
            Some(Fault::CloseMidFrame)
        } else if let Some(len) = self.oversize.take() {
            Some(Fault::Oversize(len))
        } else if std::mem::take(&mut self.wrong_correlation) {
            Some(Fault::WrongCorrelation)
        } else if std::mem::take(&mut self.garbage) {
            Some(Fault::Garbage)
        } else {
            None
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    armed: Mutex<Armed>,
    connections: AtomicUsize,
    faults_fired: AtomicUsize,
}

impl Shared {
    fn arm(&self, f: impl FnOnce(&mut Armed)) {
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut armed);
    }

    fn take_fault(&self) -> Option<Fault> {
        let fault = self.armed.lock().unwrap_or_else(|e| e.into_inner()).take();
        if fault.is_some() {
            self.faults_fired.fetch_add(1, Ordering::AcqRel);
        }
        fault
    }
}

/// Channels from the proxy handle to its tasks; the tasks end when these senders are dropped.
#[derive(Debug)]
struct Controls {
    upstream: watch::Sender<Option<SocketAddr>>,
    paused: watch::Sender<bool>,
    kill: watch::Sender<u64>,
}

#[derive(Clone, Debug)]
struct Watchers {
    upstream: watch::Receiver<Option<SocketAddr>>,
    paused: watch::Receiver<bool>,
    kill: watch::Receiver<u64>,
}

/// A fault-injecting TCP proxy on `127.0.0.1` in front of a Kafka broker.
///
/// Dropping it stops accepting and closes every connection.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    controls: Controls,
    accept_task: JoinHandle<()>,
}

impl FaultProxy {
    /// Binds `127.0.0.1:0` and forwards to `upstream`: [`bind`](Self::bind) then
    /// [`set_upstream`](Self::set_upstream).
    ///
    /// # Errors
    ///
    /// As [`bind`](Self::bind).
    pub async fn start(upstream: SocketAddr) -> io::Result<FaultProxy> {
        let proxy = Self::bind().await?;
        proxy.set_upstream(upstream);
        Ok(proxy)
    }

    /// Binds `127.0.0.1:0` and starts accepting; connections that arrive before
    /// [`set_upstream`](Self::set_upstream) wait for it.
    ///
    /// Must be called inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// When the listener cannot be bound.
    pub async fn bind() -> io::Result<FaultProxy> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let (upstream, upstream_rx) = watch::channel(None);
        let (paused, paused_rx) = watch::channel(false);
        let (kill, kill_rx) = watch::channel(0);
        let shared = Arc::new(Shared::default());
        let watchers = Watchers {
            upstream: upstream_rx,
            paused: paused_rx,
            kill: kill_rx,
        };
        let accept_task = tokio::spawn(accept_loop(listener, watchers, shared.clone()));
        Ok(FaultProxy {
            addr,
            shared,
            controls: Controls {
                upstream,
                paused,
                kill,
            },
            accept_task,
        })
    }

    /// Sets (or changes) the broker address new connections are forwarded to.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        self.controls.upstream.send_replace(Some(upstream));
    }

    /// The address clients connect to (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces everything after the correlation id in the next response frame with random
    /// bytes. The length prefix and the correlation id are kept, so the client matches the
    /// frame to its request and then fails to decode it.
    pub fn garbage_next_response(&self) {
        self.shared.arm(|a| a.garbage = true);
    }

    /// Writes the next response frame's length prefix and the first half of its bytes, then
    /// closes both the client and the broker connection.
    pub fn close_mid_frame_next_response(&self) {
        self.shared.arm(|a| a.close_mid_frame = true);
    }

    /// Sends a length prefix of `len` instead of the next response frame (choose a `len` above
    /// the client's maximum). Nothing more is sent to that client afterwards; the connection
    /// stays open until the client (or [`kill_all`](Self::kill_all)) closes it.
    pub fn oversize_next_response(&self, len: u32) {
        self.shared.arm(|a| a.oversize = Some(len));
    }

    /// Adds [`CORRELATION_SHIFT`] (wrapping) to the correlation id of the next response frame,
    /// giving an id no request used.
    pub fn wrong_correlation_next_response(&self) {
        self.shared.arm(|a| a.wrong_correlation = true);
    }

    /// Stops (`true`) or resumes (`false`) reading from every client socket. While paused
    /// nothing is forwarded client→broker, so a large client write fills the socket buffers
    /// and blocks part-way; resuming forwards everything buffered, in order. Responses still
    /// flow broker→client.
    pub fn pause_client_reads(&self, paused: bool) {
        self.controls.paused.send_replace(paused);
    }

    /// Closes every current connection (both sides) at once. New connections are still
    /// accepted.
    pub fn kill_all(&self) {
        self.controls
            .kill
            .send_modify(|generation| *generation += 1);
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::Acquire)
    }

    /// Faults that have fired so far.
    pub fn faults_fired(&self) -> usize {
        self.shared.faults_fired.load(Ordering::Acquire)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // The accept task owns the connection tasks' JoinSet: aborting it aborts them too.
        // (Dropping `controls` also ends them, as their watch channels close.)
        self.accept_task.abort();
    }
}

async fn accept_loop(listener: TcpListener, watchers: Watchers, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, peer)) => {
                    shared.connections.fetch_add(1, Ordering::AcqRel);
                    let mut w = watchers.clone();
                    // Only kills from now on apply to this connection.
                    w.kill.mark_unchanged();
                    conns.spawn(serve_connection(client, peer, w, shared.clone()));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "fault proxy accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = conns.join_next() => {}
        }
    }
}

/// How the broker→client direction ended.
enum Down {
    /// The broker closed its side; the client's write side was shut down.
    Eof,
    /// A fault asked for both sides to be closed now.
    CloseAll,
}

async fn serve_connection(client: TcpStream, peer: SocketAddr, w: Watchers, shared: Arc<Shared>) {
    let Watchers {
        mut upstream,
        paused,
        mut kill,
    } = w;
    let target = tokio::select! {
        t = upstream.wait_for(Option::is_some) => match t {
            Ok(t) => *t,
            Err(_) => return,
        },
        _ = kill.changed() => return,
    };
    let Some(target) = target else { return };
    let broker = match TcpStream::connect(target).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(%peer, %target, error = %e, "fault proxy cannot reach upstream");
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = broker.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (broker_read, broker_write) = broker.into_split();

    let up = client_to_broker(client_read, broker_write, paused);
    let down = broker_to_client(broker_read, client_write, &shared);
    tokio::pin!(up, down);
    let (mut up_done, mut down_done) = (false, false);
    while !(up_done && down_done) {
        tokio::select! {
            _ = kill.changed() => return,
            r = &mut up, if !up_done => {
                up_done = true;
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "fault proxy client→broker ended");
                    return;
                }
            }
            r = &mut down, if !down_done => {
                down_done = true;
                match r {
                    Ok(Down::Eof) => {}
                    Ok(Down::CloseAll) => return,
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "fault proxy broker→client ended");
                        return;
                    }
                }
            }
        }
    }
}

/// Waits until reads are not paused; `false` when the proxy is gone.
async fn wait_unpaused(paused: &mut watch::Receiver<bool>) -> bool {
    paused.wait_for(|p| !*p).await.is_ok()
}

async fn client_to_broker(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut paused: watch::Receiver<bool>,
) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !wait_unpaused(&mut paused).await {
            return Ok(());
        }
        let n = from.read(&mut buf).await?;
        if n == 0 {
            to.shutdown().await?;
            return Ok(());
        }
        // A pause that began while this read was pending holds these bytes back as well.
        if !wait_unpaused(&mut paused).await {
            return Ok(());
        }
        to.write_all(buf.get(..n).unwrap_or_default()).await?;
    }
}

/// Cuts one frame (length prefix included) off the front of `buf` if it is complete.
fn next_frame(buf: &mut Vec<u8>) -> Option<Vec<u8>> {
    let prefix: [u8; 4] = buf.get(..4)?.try_into().ok()?;
    let total = usize::try_from(u32::from_be_bytes(prefix))
        .ok()?
        .checked_add(4)?;
    if buf.len() < total {
        return None;
    }
    let rest = buf.split_off(total);
    Some(std::mem::replace(buf, rest))
}

async fn broker_to_client(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    shared: &Shared,
) -> io::Result<Down> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    // After an oversize prefix nothing more reaches the client.
    let mut muted = false;
    loop {
        let n = from.read(&mut chunk).await?;
        if n == 0 {
            to.shutdown().await?;
            return Ok(Down::Eof);
        }
        if muted {
            continue;
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        while let Some(mut frame) = next_frame(&mut buf) {
            match shared.take_fault() {
                None => to.write_all(&frame).await?,
                Some(Fault::CloseMidFrame) => {
                    let cut = 4 + frame.len().saturating_sub(4) / 2;
                    to.write_all(frame.get(..cut).unwrap_or_default()).await?;
                    to.flush().await?;
                    return Ok(Down::CloseAll);
                }
                Some(Fault::Oversize(len)) => {
                    to.write_all(&len.to_be_bytes()).await?;
                    muted = true;
                    buf.clear();
                    break;
                }
                Some(Fault::WrongCorrelation) => {
                    if let Some(id) = frame.get_mut(4..8) {
                        if let Ok(old) = <[u8; 4]>::try_from(&*id) {
                            let new = i32::from_be_bytes(old).wrapping_add(CORRELATION_SHIFT);
                            id.copy_from_slice(&new.to_be_bytes());
                        }
                    }
                    to.write_all(&frame).await?;
                }
                Some(Fault::Garbage) => {
                    if let Some(rest) = frame.get_mut(8..) {
                        fastrand::fill(rest);
                    }
                    to.write_all(&frame).await?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_cut_at_their_length_prefix() {
        let mut buf = vec![0, 0, 0, 2, 7, 8, 0, 0, 0, 1];
        assert_eq!(next_frame(&mut buf), Some(vec![0, 0, 0, 2, 7, 8]));
        assert_eq!(next_frame(&mut buf), None);
        buf.push(9);
        assert_eq!(next_frame(&mut buf), Some(vec![0, 0, 0, 1, 9]));
        assert!(buf.is_empty());
        let mut huge = vec![0xff, 0xff, 0xff, 0xff, 1];
        assert_eq!(next_frame(&mut huge), None);
        let mut short = vec![0, 0];
        assert_eq!(next_frame(&mut short), None);
    }

    #[test]
    fn armed_faults_fire_once_each() {
        let shared = Shared::default();
        shared.arm(|a| a.garbage = true);
        shared.arm(|a| a.wrong_correlation = true);
        assert!(matches!(shared.take_fault(), Some(Fault::WrongCorrelation)));
        assert!(matches!(shared.take_fault(), Some(Fault::Garbage)));
        assert!(shared.take_fault().is_none());
        assert_eq!(shared.faults_fired.load(Ordering::Acquire), 2);
    }
}
