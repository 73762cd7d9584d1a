//! Test harness shared by the client and CLI tests: proxies to put between a Kafka client and
//! the bundled broker.
//!
//! - [`TlsProxy`]: terminates TLS (optionally requiring a client certificate) with certificates
//!   generated at start, and forwards plain TCP to a broker; for testing the client's TLS.
//! - [`FaultProxy`]: forwards plain TCP and, on request, corrupts, cuts, oversizes or
//!   mis-addresses the next response frame, pauses client reads or kills every connection; for
//!   testing the client's error handling and cancel safety.
//!
//! Both listen on `127.0.0.1:0` and can be bound before their upstream is known, so a broker
//! can be told to advertise the proxy's address: `bind`, start the broker with
//! `.advertise(proxy.addr().to_string())`, then `set_upstream`. Both stop every task they
//! started when dropped, and must be created inside a tokio runtime.

mod certs;
pub mod fault_proxy;
pub mod tls_proxy;

pub use fault_proxy::FaultProxy;
pub use tls_proxy::{TlsProxy, TlsProxyOptions};
