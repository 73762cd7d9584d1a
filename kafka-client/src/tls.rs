//! TLS for broker connections (Kafka's `security.protocol=SSL`), on rustls with the `ring`
//! crypto provider.
//!
//! A [`TlsConfig`] says what to trust and who we are; [`TlsConfig::connector`] reads the PEM
//! files once and returns a [`TlsConnector`] that is cheap to clone and wraps every new TCP
//! connection to a broker.
//!
//! Kafka's SSL listener is plain TLS around the usual length-prefixed frames: no ALPN, no
//! STARTTLS. Kafka clients verify the broker's certificate against the host they dialled (Kafka's
//! `ssl.endpoint.identification.algorithm=https`, the default since Kafka 2.0, KIP-294); so does
//! this module, for host names and IP addresses alike.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use kafka_client::tls::TlsConfig;
//!
//! let connector = TlsConfig::new().ca_file("ca.pem").connector()?;
//! let tcp = tokio::net::TcpStream::connect("broker.example:9093").await?;
//! let tls = connector.connect("broker.example", tcp).await?;
//! # drop(tls);
//! # Ok(())
//! # }
//! ```
//!
//! Nothing here logs key material, certificate contents or file contents; errors name files and
//! say what was wrong with them.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;

/// A TLS stream to a broker, as returned by [`TlsConnector::connect`].
pub use tokio_rustls::client::TlsStream;

/// What to trust and which client certificate to present; turned into a [`TlsConnector`] by
/// [`TlsConfig::connector`].
///
/// The default (same as [`TlsConfig::new`]) verifies brokers against the operating system's root
/// certificates and presents no client certificate.
#[derive(Clone, Debug, Default)]
pub struct TlsConfig {
    ca_file: Option<PathBuf>,
    client_auth: Option<(PathBuf, PathBuf)>,
    server_name: Option<String>,
    accept_invalid_certs: bool,
}

impl TlsConfig {
    /// Verifies brokers against the system's root certificates (via `rustls-native-certs`)
    /// unless [`ca_file`](Self::ca_file) is set; no client certificate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts exactly the certificates in this PEM bundle (Kafka's `ssl.ca.location`), instead
    /// of the system roots.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Presents a client certificate (mutual TLS; Kafka's `ssl.certificate.location` and
    /// `ssl.key.location`). `cert_pem` holds the certificate chain, leaf first; `key_pem` holds
    /// an unencrypted PKCS#8, PKCS#1 or SEC1 private key (the two may be the same file).
    pub fn client_auth(
        mut self,
        cert_pem: impl Into<PathBuf>,
        key_pem: impl Into<PathBuf>,
    ) -> Self {
        self.client_auth = Some((cert_pem.into(), key_pem.into()));
        self
    }

    /// Uses `name` for SNI and certificate verification instead of the host the client dialled
    /// (for brokers reached through an address their certificate does not name). A DNS name or
    /// an IP address.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// With `true`, accepts any broker certificate: no chain, name or expiry check (the
    /// handshake signatures are still checked, so the peer must hold the key of the certificate
    /// it shows). For local development only; it gives up the protection TLS is there for.
    pub fn danger_accept_invalid_certs(mut self, yes: bool) -> Self {
        self.accept_invalid_certs = yes;
        self
    }

    /// Reads the configured files now and builds a connector to reuse for every connection.
    ///
    /// # Errors
    ///
    /// - [`TlsError::ReadFile`] when a configured file cannot be read;
    /// - [`TlsError::InvalidPem`] when a file is not well-formed PEM;
    /// - [`TlsError::NoCertificate`] when the CA file or the client certificate file holds no
    ///   certificate;
    /// - [`TlsError::NoPrivateKey`] when the client key file holds no private key;
    /// - [`TlsError::InvalidServerName`] when the [`server_name`](Self::server_name) override is
    ///   neither a DNS name nor an IP address;
    /// - [`TlsError::NoSystemRoots`] when no CA file is given and the system has no usable root
    ///   certificates;
    /// - [`TlsError::Config`] when rustls refuses the material (a CA certificate it cannot
    ///   parse, a key that does not match the certificate, an unsupported key type).
    pub fn connector(&self) -> Result<TlsConnector, TlsError> {
        let server_name = match &self.server_name {
            Some(name) => Some(parse_server_name(name)?),
            None => None,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = if self.accept_invalid_certs {
            tracing::warn!(
                "TLS certificate verification is disabled (danger_accept_invalid_certs)"
            );
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCert { provider }))
        } else {
            builder.with_root_certificates(self.root_store()?)
        };
        let config = match &self.client_auth {
            Some((cert_path, key_path)) => {
                let chain = read_certificates(cert_path)?;
                let key = read_private_key(key_path)?;
                builder.with_client_auth_cert(chain, key)?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(TlsConnector {
            inner: tokio_rustls::TlsConnector::from(Arc::new(config)),
            server_name,
            verifies: !self.accept_invalid_certs,
            client_auth: self.client_auth.is_some(),
        })
    }

    fn root_store(&self) -> Result<RootCertStore, TlsError> {
        let mut roots = RootCertStore::empty();
        match &self.ca_file {
            Some(path) => {
                for cert in read_certificates(path)? {
                    roots.add(cert)?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _ignored) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    let detail = match found.errors.first() {
                        Some(e) => e.to_string(),
                        None => "the system certificate store is empty".to_owned(),
                    };
                    return Err(TlsError::NoSystemRoots { detail });
                }
                tracing::debug!(roots = added, "loaded system root certificates");
            }
        }
        Ok(roots)
    }
}

/// Wraps TCP connections to brokers in TLS. Built once by [`TlsConfig::connector`]; clones share
/// the configuration (and rustls' session cache, so reconnects can resume sessions).
#[derive(Clone)]
pub struct TlsConnector {
    inner: tokio_rustls::TlsConnector,
    server_name: Option<ServerName<'static>>,
    verifies: bool,
    client_auth: bool,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector")
            .field("server_name", &self.server_name)
            .field("verifies_certificates", &self.verifies)
            .field("client_auth", &self.client_auth)
            .finish_non_exhaustive()
    }
}

impl TlsConnector {
    /// Runs the TLS handshake over `tcp`.
    ///
    /// `host` is the broker host the client dialled (as it appears in the bootstrap list or in
    /// Metadata): it is sent as SNI and the certificate must name it, unless
    /// [`TlsConfig::server_name`] overrides it. IP addresses work (the certificate must then
    /// carry that address as an IP subject alternative name); an IPv6 address may be written
    /// with or without brackets.
    ///
    /// # Errors
    ///
    /// [`TlsError::InvalidServerName`] when `host` is neither a DNS name nor an IP address, and
    /// [`TlsError::Handshake`] when the handshake fails; its text carries rustls' reason (for
    /// example `invalid peer certificate: UnknownIssuer`).
    ///
    /// With TLS 1.3 a broker that rejects our client certificate does so after the client has
    /// finished its side of the handshake: that shows up as an error on the first read, not
    /// here.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future closes the TCP connection; nothing else is left behind.
    pub async fn connect(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> Result<TlsStream<TcpStream>, TlsError> {
        let name = match &self.server_name {
            Some(name) => name.clone(),
            None => parse_server_name(host)?,
        };
        match self.inner.connect(name, tcp).await {
            Ok(stream) => {
                let (_, session) = stream.get_ref();
                tracing::debug!(
                    host,
                    version = ?session.protocol_version(),
                    cipher_suite = ?session.negotiated_cipher_suite().map(|s| s.suite()),
                    "TLS handshake done"
                );
                Ok(stream)
            }
            Err(error) => Err(TlsError::Handshake {
                host: host.to_owned(),
                error,
            }),
        }
    }
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A configured file could not be read.
    #[error("cannot read {}: {error}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        error: io::Error,
    },
    /// A configured file is not well-formed PEM.
    #[error("{} is not valid PEM: {reason}", path.display())]
    InvalidPem {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the file's contents).
        reason: &'static str,
    },
    /// A CA or client certificate file holds no `CERTIFICATE` section.
    #[error("no PEM certificate in {}", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The client key file holds no private key (PKCS#8, PKCS#1 or SEC1, unencrypted).
    #[error("no PEM private key in {} (PKCS#8, PKCS#1 or SEC1, unencrypted)", path.display())]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// The broker host or the configured server name is neither a DNS name nor an IP address.
    #[error("invalid TLS server name {name:?}")]
    InvalidServerName {
        /// The name as given.
        name: String,
    },
    /// rustls refused the configuration (for example a key that does not match the
    /// certificate).
    #[error("invalid TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The TLS handshake with a broker failed; the text carries rustls' reason.
    #[error("TLS handshake with {host} failed: {error}")]
    Handshake {
        /// The host the client dialled.
        host: String,
        /// The error from the handshake (rustls errors are wrapped in it).
        error: io::Error,
    },
    /// No CA file was given and the system has no usable root certificates.
    #[error("no usable system root certificates ({detail}); configure a CA file")]
    NoSystemRoots {
        /// Why none were found.
        detail: String,
    },
}

fn parse_server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(bare.to_owned()).map_err(|_| TlsError::InvalidServerName {
        name: host.to_owned(),
    })
}

fn read_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::ReadFile {
        path: path.to_owned(),
        error,
    })
}

/// Says what is wrong with a PEM file without quoting it (it may be a key file).
fn pem_reason(e: &pem::Error) -> &'static str {
    match e {
        pem::Error::MissingSectionEnd { .. } => "a section has no END line",
        pem::Error::IllegalSectionStart { .. } => "a malformed BEGIN line",
        pem::Error::Base64Decode(_) => "invalid base64 in a section",
        pem::Error::SectionTooLarge => "a section is too large",
        _ => "malformed PEM",
    }
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read_file(path)?;
    let mut certs = Vec::new();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        match cert {
            Ok(cert) => certs.push(cert),
            Err(e) => {
                return Err(TlsError::InvalidPem {
                    path: path.to_owned(),
                    reason: pem_reason(&e),
                })
            }
        }
    }
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read_file(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey {
            path: path.to_owned(),
        },
        other => TlsError::InvalidPem {
            path: path.to_owned(),
            reason: pem_reason(&other),
        },
    })
}

/// The verifier behind [`TlsConfig::danger_accept_invalid_certs`]: any certificate is accepted,
/// but handshake signatures are still verified with the provider's algorithms.
#[derive(Debug)]
struct AcceptAnyCert {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Read access for the property mapping of [`crate::ClientConfig::set`].
impl TlsConfig {
    /// The CA bundle file, if one replaces the system roots.
    pub fn ca_path(&self) -> Option<&std::path::Path> {
        self.ca_file.as_deref()
    }

    /// The client certificate and key files (mTLS), if set.
    pub fn client_cert_paths(&self) -> Option<(&std::path::Path, &std::path::Path)> {
        self.client_auth
            .as_ref()
            .map(|(c, k)| (c.as_path(), k.as_path()))
    }

    /// The server name override, if set.
    pub fn server_name_override(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// Whether certificate verification is switched off.
    pub fn accepts_invalid_certs(&self) -> bool {
        self.accept_invalid_certs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn server_names_accept_hosts_and_ip_addresses() {
        assert!(matches!(
            parse_server_name("broker-1.example"),
            Ok(ServerName::DnsName(_))
        ));
        assert!(matches!(
            parse_server_name("127.0.0.1"),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(
            parse_server_name("[::1]"),
            Ok(ServerName::IpAddress(_))
        ));
        assert!(matches!(
            parse_server_name("::1"),
            Ok(ServerName::IpAddress(_))
        ));
        let err = parse_server_name("not a host!").unwrap_err();
        assert!(matches!(err, TlsError::InvalidServerName { .. }), "{err}");
        let err = TlsConfig::new()
            .danger_accept_invalid_certs(true)
            .server_name("bad name")
            .connector()
            .unwrap_err();
        assert!(matches!(err, TlsError::InvalidServerName { .. }), "{err}");
    }

    #[test]
    fn file_errors_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = TlsConfig::new().ca_file(&missing).connector().unwrap_err();
        assert!(matches!(err, TlsError::ReadFile { .. }), "{err}");
        assert!(err.to_string().contains("missing.pem"), "{err}");

        let empty = write(dir.path(), "empty.pem", "no pem here\n");
        let err = TlsConfig::new().ca_file(&empty).connector().unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");

        let truncated = write(
            dir.path(),
            "truncated.pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n",
        );
        let err = TlsConfig::new()
            .ca_file(&truncated)
            .connector()
            .unwrap_err();
        assert!(matches!(err, TlsError::InvalidPem { .. }), "{err}");

        let err = TlsConfig::new()
            .danger_accept_invalid_certs(true)
            .client_auth(&empty, &empty)
            .connector()
            .unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");

        let bad_key = write(
            dir.path(),
            "key.pem",
            "-----BEGIN PRIVATE KEY-----\nsecret!!\n-----END PRIVATE KEY-----\n",
        );
        let err = read_private_key(&bad_key).unwrap_err();
        assert!(matches!(err, TlsError::InvalidPem { .. }), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
        let err = read_private_key(&empty).unwrap_err();
        assert!(matches!(err, TlsError::NoPrivateKey { .. }), "{err}");
    }

    #[test]
    fn debug_shows_no_key_material() {
        let c = TlsConfig::new()
            .danger_accept_invalid_certs(true)
            .server_name("localhost")
            .connector()
            .unwrap();
        let text = format!("{c:?}");
        assert!(text.contains("verifies_certificates: false"), "{text}");
    }
}
