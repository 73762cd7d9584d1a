//! The TCP side: accept connections, cut frames, hand them to the dispatcher in order, write the
//! responses back in the same order (Kafka's per-connection ordering guarantee).
//!
//! A connection holds a small read buffer that grows only as a frame's bytes actually arrive, so
//! a client that sends nothing, or half a frame, costs its socket and little more. A frame longer
//! than `socket.request.max.bytes` closes the connection before anything is reserved for it.

use std::io::IoSlice;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_proto::frame::FrameDecoder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::cluster::Cluster;
use crate::handlers::{self, ConnInfo, Ctx, Outcome};

static CONN_IDS: AtomicU64 = AtomicU64::new(1);

pub(crate) async fn serve(
    listener: TcpListener,
    ctx: Arc<Ctx>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let ctx = ctx.clone();
                    let shutdown = shutdown.clone();
                    conns.spawn(async move { connection(stream, peer, ctx, shutdown).await });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    // Connections see the same shutdown signal; give in-flight requests a moment.
    let deadline = tokio::time::sleep(Duration::from_secs(5));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            next = conns.join_next() => if next.is_none() { break },
            _ = &mut deadline => { conns.abort_all(); break }
        }
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    ctx: Arc<Ctx>,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let conn = ConnInfo {
        id: CONN_IDS.fetch_add(1, Ordering::Relaxed),
        peer,
    };
    tracing::debug!(conn = conn.id, %peer, "connection opened");
    let (mut rd, mut wr) = stream.into_split();
    let mut frames = FrameDecoder::new(ctx.cluster.config.max_request_bytes);
    let mut buf = BytesMut::new();
    let reason = 'conn: loop {
        loop {
            match frames.decode(&mut buf) {
                Ok(Some(frame)) => match handlers::dispatch(&ctx, &conn, frame).await {
                    Outcome::Respond(chunks) => {
                        if let Err(e) = write_chunks(&mut wr, &chunks).await {
                            break 'conn format!("write failed: {e}");
                        }
                    }
                    Outcome::NoResponse => {}
                    Outcome::Close(why) => break 'conn why,
                },
                Ok(None) => break,
                Err(e) => break 'conn format!("bad frame: {e}"),
            }
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(8192);
        }
        tokio::select! {
            read = rd.read_buf(&mut buf) => match read {
                Ok(0) => break "closed by client".into(),
                Ok(_) => {}
                Err(e) => break format!("read failed: {e}"),
            },
            _ = shutdown.changed() => break "broker shutting down".into(),
        }
    };
    tracing::debug!(conn = conn.id, %peer, reason, "connection closed");
}

/// Writes a length prefix and the response chunks with vectored writes (large record chunks are
/// the stored bytes themselves, not copies).
async fn write_chunks(wr: &mut OwnedWriteHalf, chunks: &[Bytes]) -> std::io::Result<()> {
    let total: usize = chunks.iter().map(Bytes::len).sum();
    let len = i32::try_from(total)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "response too large"))?;
    let prefix = len.to_be_bytes();
    let mut parts: Vec<&[u8]> = Vec::with_capacity(chunks.len() + 1);
    parts.push(&prefix);
    parts.extend(chunks.iter().map(|c| &c[..]));
    let mut idx = 0;
    let mut off = 0;
    while idx < parts.len() {
        let slices: Vec<IoSlice<'_>> = parts
            .iter()
            .enumerate()
            .skip(idx)
            .take(64)
            .map(|(i, p)| {
                IoSlice::new(if i == idx {
                    p.get(off..).unwrap_or_default()
                } else {
                    p
                })
            })
            .collect();
        let mut n = wr.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while n > 0 && idx < parts.len() {
            let left = parts.get(idx).map_or(0, |p| p.len()) - off;
            if n >= left {
                n -= left;
                idx += 1;
                off = 0;
            } else {
                off += n;
                n = 0;
            }
        }
    }
    Ok(())
}

/// Retention and time-based segment rolls, every `every`.
pub(crate) async fn housekeeping(
    cluster: Arc<Cluster>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let c = cluster.clone();
                let _ = tokio::task::spawn_blocking(move || c.housekeeping()).await;
            }
            _ = shutdown.changed() => break,
        }
    }
}
