//! A TLS-terminating TCP proxy: clients speak TLS to it, it speaks plain TCP to the upstream
//! (a broker started without TLS), byte for byte.
//!
//! Certificates are generated when the proxy starts (see [`TlsProxy::ca_pem_path`] and the other
//! accessors); the server certificate names `localhost` and `127.0.0.1`.
//!
//! A Kafka client connects to the address a broker advertises in Metadata, so a broker behind the
//! proxy must advertise the proxy's address. Bind the proxy first, start the broker with
//! `.advertise(proxy.addr().to_string())`, then point the proxy at it:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use kafka_testkit::{TlsProxy, TlsProxyOptions};
//!
//! let proxy = TlsProxy::bind(TlsProxyOptions::default()).await?;
//! // let broker = Broker::builder().advertise(proxy.addr().to_string())...start().await?;
//! # let broker_addr: std::net::SocketAddr = "127.0.0.1:9092".parse().unwrap();
//! proxy.set_upstream(broker_addr);
//! # Ok(())
//! # }
//! ```

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::certs::{self, CertFiles};

/// How long a client has to finish the TLS handshake before it counts as a failure.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Options for [`TlsProxy`].
#[derive(Clone, Debug, Default)]
pub struct TlsProxyOptions {
    require_client_cert: bool,
    tls12_only: bool,
}

impl TlsProxyOptions {
    /// Requires a client certificate signed by the test CA (mutual TLS). Off by default.
    pub fn require_client_cert(mut self, yes: bool) -> Self {
        self.require_client_cert = yes;
        self
    }

    /// Offers only TLS 1.2 (by default TLS 1.3 and 1.2). With TLS 1.2 a rejected client
    /// certificate fails the client's handshake itself; with TLS 1.3 the client only learns of
    /// it on its first read.
    pub fn tls12_only(mut self, yes: bool) -> Self {
        self.tls12_only = yes;
        self
    }
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicUsize,
    handshake_failures: AtomicUsize,
}

/// A TLS-terminating proxy on `127.0.0.1`, forwarding each connection to a plain-TCP upstream.
///
/// Dropping it stops accepting, closes every connection and deletes the certificate files.
#[derive(Debug)]
pub struct TlsProxy {
    addr: SocketAddr,
    files: CertFiles,
    upstream: watch::Sender<Option<SocketAddr>>,
    counters: Arc<Counters>,
    accept_task: JoinHandle<()>,
    // Last, so the files outlive everything above while dropping.
    _dir: tempfile::TempDir,
}

impl TlsProxy {
    /// Binds, generates certificates and forwards to `upstream`: [`bind`](Self::bind) then
    /// [`set_upstream`](Self::set_upstream).
    ///
    /// # Errors
    ///
    /// As [`bind`](Self::bind).
    pub async fn start(upstream: SocketAddr, opts: TlsProxyOptions) -> io::Result<TlsProxy> {
        let proxy = Self::bind(opts).await?;
        proxy.set_upstream(upstream);
        Ok(proxy)
    }

    /// Generates the certificates, binds `127.0.0.1:0` and starts accepting. Connections that
    /// arrive before [`set_upstream`](Self::set_upstream) finish their TLS handshake and then
    /// wait for the upstream to be set.
    ///
    /// Must be called inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// When the temporary directory, the certificates or the listener cannot be made.
    pub async fn bind(opts: TlsProxyOptions) -> io::Result<TlsProxy> {
        let dir = tempfile::Builder::new()
            .prefix("kafka-testkit-tls-")
            .tempdir()?;
        let (files, material) = certs::generate(dir.path())?;
        let config = server_config(&opts, material)?;
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let (upstream, upstream_rx) = watch::channel(None);
        let counters = Arc::new(Counters::default());
        let accept_task = tokio::spawn(accept_loop(
            listener,
            TlsAcceptor::from(Arc::new(config)),
            upstream_rx,
            counters.clone(),
        ));
        Ok(TlsProxy {
            addr,
            files,
            upstream,
            counters,
            accept_task,
            _dir: dir,
        })
    }

    /// Sets (or changes) the plain-TCP address connections are forwarded to. Connections
    /// already forwarding keep their upstream.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        self.upstream.send_replace(Some(upstream));
    }

    /// The address clients connect to (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// PEM file of the test CA that signed the server and client certificates.
    pub fn ca_pem_path(&self) -> &Path {
        &self.files.ca
    }

    /// PEM file of an unrelated CA: the server certificate does not chain to it.
    pub fn wrong_ca_pem_path(&self) -> &Path {
        &self.files.wrong_ca
    }

    /// PEM file of a client certificate signed by the test CA (accepted under
    /// [`TlsProxyOptions::require_client_cert`]).
    pub fn client_cert_path(&self) -> &Path {
        &self.files.client_cert
    }

    /// PEM file (PKCS#8) of the key of [`client_cert_path`](Self::client_cert_path).
    pub fn client_key_path(&self) -> &Path {
        &self.files.client_key
    }

    /// PEM file of a client certificate signed by the unrelated CA (rejected under
    /// [`TlsProxyOptions::require_client_cert`]).
    pub fn wrong_client_cert_path(&self) -> &Path {
        &self.files.wrong_client_cert
    }

    /// PEM file (PKCS#8) of the key of [`wrong_client_cert_path`](Self::wrong_client_cert_path).
    pub fn wrong_client_key_path(&self) -> &Path {
        &self.files.wrong_client_key
    }

    /// PEM file of the server certificate (for `localhost` and `127.0.0.1`).
    pub fn server_cert_path(&self) -> &Path {
        &self.files.server_cert
    }

    /// PEM file (PKCS#8) of the server certificate's key.
    pub fn server_key_path(&self) -> &Path {
        &self.files.server_key
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.counters.connections.load(Ordering::Acquire)
    }

    /// TLS handshakes that failed (or timed out) so far.
    pub fn handshake_failures(&self) -> usize {
        self.counters.handshake_failures.load(Ordering::Acquire)
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        // The accept task owns the connection tasks' JoinSet: aborting it aborts them too.
        self.accept_task.abort();
    }
}

fn server_config(
    opts: &TlsProxyOptions,
    material: certs::ServerMaterial,
) -> io::Result<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = if opts.tls12_only {
        &[&rustls::version::TLS12]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(io::Error::other)?;
    let builder = if opts.require_client_cert {
        let mut roots = RootCertStore::empty();
        roots.add(material.ca).map_err(io::Error::other)?;
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(io::Error::other)?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    builder
        .with_single_cert(material.server_chain, material.server_key)
        .map_err(io::Error::other)
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    upstream: watch::Receiver<Option<SocketAddr>>,
    counters: Arc<Counters>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    counters.connections.fetch_add(1, Ordering::AcqRel);
                    conns.spawn(serve_connection(
                        tcp,
                        peer,
                        acceptor.clone(),
                        upstream.clone(),
                        counters.clone(),
                    ));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "TLS proxy accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = conns.join_next() => {}
        }
    }
}

async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    mut upstream: watch::Receiver<Option<SocketAddr>>,
    counters: Arc<Counters>,
) {
    let _ = tcp.set_nodelay(true);
    let mut tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            counters.handshake_failures.fetch_add(1, Ordering::AcqRel);
            tracing::debug!(%peer, error = %e, "TLS proxy handshake failed");
            return;
        }
        Err(_) => {
            counters.handshake_failures.fetch_add(1, Ordering::AcqRel);
            tracing::debug!(%peer, "TLS proxy handshake timed out");
            return;
        }
    };
    let target = match upstream.wait_for(Option::is_some).await {
        Ok(addr) => *addr,
        Err(_) => return,
    };
    let Some(target) = target else { return };
    let mut plain = match TcpStream::connect(target).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(%peer, %target, error = %e, "TLS proxy cannot reach upstream");
            return;
        }
    };
    let _ = plain.set_nodelay(true);
    if let Err(e) = tokio::io::copy_bidirectional(&mut tls, &mut plain).await {
        tracing::debug!(%peer, error = %e, "TLS proxy connection ended");
    }
}
