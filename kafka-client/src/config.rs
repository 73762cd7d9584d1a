//! Client configuration, with Kafka's property names.
//!
//! Build a [`ClientConfig`] in code, or from `key=value` properties ([`ClientConfig::set`],
//! [`ClientConfig::from_properties`]) using the names of the Java client (and of librdkafka where
//! Java has none). Defaults are the Java client's.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::tls::TlsConfig;

/// Settings shared by every part of the client (connections, metadata, admin); the producer and
/// consumer configurations embed one.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `bootstrap.servers`: `host:port` entries to bootstrap metadata from.
    pub bootstrap_servers: Vec<String>,
    /// `client.id`: sent in every request header (brokers log it and apply quotas by it).
    pub client_id: String,
    /// `request.timeout.ms` (30 s): how long to wait for one response.
    pub request_timeout: Duration,
    /// `default.api.timeout.ms` (60 s): the overall deadline of an admin call, retries included.
    pub default_api_timeout: Duration,
    /// `metadata.max.age.ms` (5 min): refresh metadata at least this often.
    pub metadata_max_age: Duration,
    /// `reconnect.backoff.ms` (50 ms): first wait before reconnecting to a broker.
    pub reconnect_backoff: Duration,
    /// `reconnect.backoff.max.ms` (1 s): the cap of the exponential reconnect backoff.
    pub reconnect_backoff_max: Duration,
    /// `retry.backoff.ms` (100 ms): first wait before retrying a failed request.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms` (1 s): the cap of the exponential retry backoff.
    pub retry_backoff_max: Duration,
    /// `socket.connection.setup.timeout.ms` (10 s): time limit of one TCP (and TLS) connect.
    pub connection_setup_timeout: Duration,
    /// `connections.max.idle.ms` (9 min): close connections idle this long.
    pub connections_max_idle: Duration,
    /// `max.in.flight.requests.per.connection` (5): pipelined requests per connection.
    pub max_in_flight: usize,
    /// `receive.message.max.bytes` (librdkafka's name; 100 MB): largest response frame accepted.
    pub max_response_size: usize,
    /// `client.software.name` / `client.software.version`: reported in ApiVersions v3+ (KIP-511).
    pub software_name: String,
    /// See [`ClientConfig::software_name`].
    pub software_version: String,
    /// TLS settings (`security.protocol=SSL` and the `ssl.*` properties); `None` is plaintext.
    pub tls: Option<TlsConfig>,
    /// TLS properties set so far through [`ClientConfig::set`] (a certificate may come before
    /// its key, `security.protocol` after both).
    tls_props: TlsProps,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            bootstrap_servers: vec!["127.0.0.1:9092".to_owned()],
            client_id: "kafka-rs".to_owned(),
            request_timeout: Duration::from_millis(30_000),
            default_api_timeout: Duration::from_millis(60_000),
            metadata_max_age: Duration::from_millis(300_000),
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_millis(1_000),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_millis(1_000),
            connection_setup_timeout: Duration::from_millis(10_000),
            connections_max_idle: Duration::from_millis(540_000),
            max_in_flight: 5,
            max_response_size: 100_000_000,
            software_name: "kafka-rs".to_owned(),
            software_version: env!("CARGO_PKG_VERSION").to_owned(),
            tls: None,
            tls_props: TlsProps::default(),
        }
    }
}

/// TLS properties collected by [`ClientConfig::set`] until `security.protocol` says SSL.
#[derive(Clone, Debug, Default)]
struct TlsProps {
    ssl: bool,
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    server_name: Option<String>,
    insecure: bool,
}

impl ClientConfig {
    /// The defaults with these bootstrap servers (a comma-separated list is split).
    pub fn new(bootstrap: impl AsRef<str>) -> ClientConfig {
        ClientConfig {
            bootstrap_servers: split_list(bootstrap.as_ref()),
            ..ClientConfig::default()
        }
    }

    /// Sets `client.id`.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// Sets `request.timeout.ms`.
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = t;
        self
    }

    /// Sets `default.api.timeout.ms`.
    pub fn default_api_timeout(mut self, t: Duration) -> Self {
        self.default_api_timeout = t;
        self
    }

    /// Sets `metadata.max.age.ms`.
    pub fn metadata_max_age(mut self, t: Duration) -> Self {
        self.metadata_max_age = t;
        self
    }

    /// Sets `reconnect.backoff.ms` and `reconnect.backoff.max.ms`.
    pub fn reconnect_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.reconnect_backoff = first;
        self.reconnect_backoff_max = max;
        self
    }

    /// Sets `retry.backoff.ms` and `retry.backoff.max.ms`.
    pub fn retry_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.retry_backoff = first;
        self.retry_backoff_max = max;
        self
    }

    /// Sets `socket.connection.setup.timeout.ms`.
    pub fn connection_setup_timeout(mut self, t: Duration) -> Self {
        self.connection_setup_timeout = t;
        self
    }

    /// Sets `connections.max.idle.ms`.
    pub fn connections_max_idle(mut self, t: Duration) -> Self {
        self.connections_max_idle = t;
        self
    }

    /// Sets `max.in.flight.requests.per.connection` (at least 1).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// Sets `receive.message.max.bytes`.
    pub fn max_response_size(mut self, n: usize) -> Self {
        self.max_response_size = n;
        self
    }

    /// Connects with TLS.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Builds a configuration from `key=value` properties on top of the defaults.
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown property or an invalid value.
    pub fn from_properties<K, V>(props: impl IntoIterator<Item = (K, V)>) -> Result<ClientConfig>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut c = ClientConfig::default();
        let mut tls = TlsProps::default();
        for (k, v) in props {
            if !c.set_inner(k.as_ref(), v.as_ref(), &mut tls)? {
                return Err(Error::Config {
                    key: k.as_ref().to_owned(),
                    detail: "unknown property".into(),
                });
            }
        }
        c.tls_props = tls.clone();
        c.apply_tls(tls);
        Ok(c)
    }

    /// Sets one property by its Kafka name. Returns `Ok(false)` if the name is not a client
    /// property (the producer and consumer configurations try their own names next).
    ///
    /// TLS properties (`security.protocol`, `ssl.ca.location`, `ssl.certificate.location`,
    /// `ssl.key.location`, `ssl.endpoint.identification.algorithm`,
    /// `enable.ssl.certificate.verification`) take effect with `security.protocol=SSL`, which
    /// may come in any order relative to them.
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool> {
        let mut tls = self.tls_props.clone();
        let known = self.set_inner(key, value, &mut tls)?;
        if key.starts_with("ssl.")
            || key == "security.protocol"
            || key == "enable.ssl.certificate.verification"
        {
            self.tls_props = tls.clone();
            self.apply_tls(tls);
        }
        Ok(known)
    }

    fn apply_tls(&mut self, p: TlsProps) {
        if !p.ssl {
            self.tls = None;
            return;
        }
        let mut t = TlsConfig::new();
        if let Some(ca) = p.ca {
            t = t.ca_file(ca);
        }
        if let (Some(c), Some(k)) = (p.cert, p.key) {
            t = t.client_auth(c, k);
        }
        if let Some(n) = p.server_name {
            t = t.server_name(n);
        }
        self.tls = Some(t.danger_accept_invalid_certs(p.insecure));
    }

    fn set_inner(&mut self, key: &str, value: &str, tls: &mut TlsProps) -> Result<bool> {
        let ms = |v: &str| parse_ms(key, v);
        match key {
            "bootstrap.servers" | "metadata.broker.list" => {
                let list = split_list(value);
                if list.is_empty() {
                    return Err(config_err(key, "needs at least one host:port"));
                }
                self.bootstrap_servers = list;
            }
            "client.id" => self.client_id = value.to_owned(),
            "request.timeout.ms" => self.request_timeout = ms(value)?,
            "default.api.timeout.ms" => self.default_api_timeout = ms(value)?,
            "metadata.max.age.ms" => self.metadata_max_age = ms(value)?,
            "reconnect.backoff.ms" => self.reconnect_backoff = ms(value)?,
            "reconnect.backoff.max.ms" => self.reconnect_backoff_max = ms(value)?,
            "retry.backoff.ms" => self.retry_backoff = ms(value)?,
            "retry.backoff.max.ms" => self.retry_backoff_max = ms(value)?,
            "socket.connection.setup.timeout.ms" => self.connection_setup_timeout = ms(value)?,
            "connections.max.idle.ms" => self.connections_max_idle = ms(value)?,
            "max.in.flight.requests.per.connection" | "max.in.flight" => {
                self.max_in_flight = parse_num::<usize>(key, value)?.max(1)
            }
            "receive.message.max.bytes" => {
                let n = parse_num::<usize>(key, value)?;
                if n < 1024 {
                    return Err(config_err(key, "must be at least 1024"));
                }
                self.max_response_size = n;
            }
            "client.software.name" => self.software_name = value.to_owned(),
            "client.software.version" => self.software_version = value.to_owned(),
            "security.protocol" => match value.to_ascii_uppercase().as_str() {
                "PLAINTEXT" => tls.ssl = false,
                "SSL" => tls.ssl = true,
                "SASL_PLAINTEXT" | "SASL_SSL" => {
                    return Err(config_err(key, "SASL is not supported yet"));
                }
                _ => return Err(config_err(key, "expected PLAINTEXT or SSL")),
            },
            "ssl.ca.location" | "ssl.truststore.location" => tls.ca = Some(value.into()),
            "ssl.certificate.location" => tls.cert = Some(value.into()),
            "ssl.key.location" => tls.key = Some(value.into()),
            "ssl.endpoint.identification.algorithm" => {
                // Kafka's "" (or librdkafka's "none") disables host name checks; we only offer
                // verification on or off, so it maps to off only together with the next one.
                if !matches!(value, "" | "none" | "https") {
                    return Err(config_err(key, "expected https or none"));
                }
            }
            "enable.ssl.certificate.verification" => tls.insecure = !parse_bool(key, value)?,
            "ssl.server.name" => tls.server_name = Some(value.to_owned()),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// Splits a comma-separated list, trimming blanks.
pub(crate) fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(crate) fn config_err(key: &str, detail: impl Into<String>) -> Error {
    Error::Config {
        key: key.to_owned(),
        detail: detail.into(),
    }
}

/// Parses a millisecond property into a [`Duration`].
pub(crate) fn parse_ms(key: &str, v: &str) -> Result<Duration> {
    let n: u64 = parse_num(key, v)?;
    Ok(Duration::from_millis(n))
}

/// Parses a number property.
pub(crate) fn parse_num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T> {
    v.trim()
        .parse()
        .map_err(|_| config_err(key, format!("`{v}` is not a valid number")))
}

/// Parses `true`/`false`.
pub(crate) fn parse_bool(key: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(config_err(key, format!("`{v}` is not true or false"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_map_to_fields() {
        let c = ClientConfig::from_properties([
            ("bootstrap.servers", "a:1, b:2"),
            ("client.id", "me"),
            ("request.timeout.ms", "1500"),
            ("reconnect.backoff.max.ms", "700"),
            ("max.in.flight.requests.per.connection", "1"),
        ])
        .unwrap();
        assert_eq!(c.bootstrap_servers, vec!["a:1", "b:2"]);
        assert_eq!(c.client_id, "me");
        assert_eq!(c.request_timeout, Duration::from_millis(1500));
        assert_eq!(c.reconnect_backoff_max, Duration::from_millis(700));
        assert_eq!(c.max_in_flight, 1);
        assert!(c.tls.is_none());
    }

    #[test]
    fn bad_properties_name_the_key() {
        let e = ClientConfig::from_properties([("request.timeout.ms", "soon")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration request.timeout.ms: `soon` is not a valid number"
        );
        let e = ClientConfig::from_properties([("no.such.thing", "1")]).unwrap_err();
        assert!(e.to_string().contains("no.such.thing: unknown property"));
        let e = ClientConfig::from_properties([("bootstrap.servers", " , ")]).unwrap_err();
        assert!(e.to_string().contains("bootstrap.servers"));
    }

    #[test]
    fn tls_properties_in_any_order() {
        let c = ClientConfig::from_properties([
            ("ssl.ca.location", "ca.pem"),
            ("security.protocol", "ssl"),
            ("enable.ssl.certificate.verification", "false"),
        ])
        .unwrap();
        let t = c.tls.expect("tls on");
        assert_eq!(t.ca_path(), Some(std::path::Path::new("ca.pem")));
        assert!(t.accepts_invalid_certs());
        let mut c = ClientConfig::default();
        assert!(c.set("security.protocol", "SSL").unwrap());
        assert!(c.set("ssl.ca.location", "x.pem").unwrap());
        assert_eq!(
            c.tls.as_ref().and_then(|t| t.ca_path()),
            Some(std::path::Path::new("x.pem"))
        );
        assert!(!c.set("linger.ms", "5").unwrap());
        // A certificate set before its key (one property at a time) is kept.
        let mut c = ClientConfig::default();
        c.set("security.protocol", "SSL").unwrap();
        c.set("ssl.certificate.location", "c.pem").unwrap();
        c.set("ssl.key.location", "k.pem").unwrap();
        let paths = c.tls.as_ref().and_then(|t| t.client_cert_paths());
        assert_eq!(
            paths,
            Some((std::path::Path::new("c.pem"), std::path::Path::new("k.pem")))
        );
    }
}
