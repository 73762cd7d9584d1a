//! Consumer configuration with the Java client's property names and defaults.

use std::sync::Arc;
use std::time::Duration;

use super::assignor::{self, Assignor};
use crate::config::{config_err, parse_bool, parse_ms, parse_num, ClientConfig};
use crate::error::Result;

/// `auto.offset.reset`: where to start when there is no committed offset, or the position is
/// out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetReset {
    /// The log start.
    Earliest,
    /// The log end (only new records). The default.
    Latest,
    /// Fail with an error instead.
    None,
}

pub use crate::admin::IsolationLevel;

/// Consumer settings; connection settings are in [`ConsumerConfig::client`].
#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    /// The connection settings.
    pub client: ClientConfig,
    /// `group.id`: needed for `subscribe` and commits.
    pub group_id: Option<String>,
    /// `group.instance.id`: static membership (KIP-345).
    pub group_instance_id: Option<String>,
    /// `auto.offset.reset` (default latest).
    pub auto_offset_reset: OffsetReset,
    /// `enable.auto.commit` (default true with a group).
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms` (default 5000).
    pub auto_commit_interval: Duration,
    /// `session.timeout.ms` (default 45000).
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms` (default 3000).
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms` (default 300000): also the rebalance timeout.
    pub max_poll_interval: Duration,
    /// `fetch.min.bytes` (default 1).
    pub fetch_min_bytes: i32,
    /// `fetch.max.wait.ms` (default 500).
    pub fetch_max_wait: Duration,
    /// `fetch.max.bytes` (default 52428800).
    pub fetch_max_bytes: i32,
    /// `max.partition.fetch.bytes` (default 1048576).
    pub max_partition_fetch_bytes: i32,
    /// `isolation.level` (default read_uncommitted).
    pub isolation_level: IsolationLevel,
    /// `partition.assignment.strategy` (default `range, cooperative-sticky`, as Java 3.x).
    pub assignors: Vec<Arc<dyn Assignor>>,
    /// `client.rack`: sent in fetches (KIP-392) and subscriptions.
    pub client_rack: Option<String>,
    /// `queued.max.messages.kbytes` (librdkafka's name, default 65536): bytes fetched ahead of
    /// the application; fetching pauses above it.
    pub max_buffered_bytes: usize,
    /// `check.crcs` (default true).
    pub check_crcs: bool,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            client: ClientConfig::default(),
            group_id: None,
            group_instance_id: None,
            auto_offset_reset: OffsetReset::Latest,
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_millis(5_000),
            session_timeout: Duration::from_millis(45_000),
            heartbeat_interval: Duration::from_millis(3_000),
            max_poll_interval: Duration::from_millis(300_000),
            fetch_min_bytes: 1,
            fetch_max_wait: Duration::from_millis(500),
            fetch_max_bytes: 52_428_800,
            max_partition_fetch_bytes: 1_048_576,
            isolation_level: IsolationLevel::ReadUncommitted,
            assignors: default_assignors(),
            client_rack: None,
            max_buffered_bytes: 64 << 20,
            check_crcs: true,
        }
    }
}

fn default_assignors() -> Vec<Arc<dyn Assignor>> {
    ["range", "cooperative-sticky"]
        .iter()
        .filter_map(|n| assignor::by_name(n))
        .collect()
}

impl ConsumerConfig {
    /// Defaults with these bootstrap servers.
    pub fn new(bootstrap: impl AsRef<str>) -> ConsumerConfig {
        ConsumerConfig {
            client: ClientConfig::new(bootstrap),
            ..ConsumerConfig::default()
        }
    }

    /// Sets the connection settings.
    pub fn client(mut self, c: ClientConfig) -> Self {
        self.client = c;
        self
    }

    /// Sets `group.id`.
    pub fn group_id(mut self, g: impl Into<String>) -> Self {
        self.group_id = Some(g.into());
        self
    }

    /// Sets `group.instance.id` (static membership).
    pub fn group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.group_instance_id = Some(id.into());
        self
    }

    /// Sets `auto.offset.reset`.
    pub fn auto_offset_reset(mut self, r: OffsetReset) -> Self {
        self.auto_offset_reset = r;
        self
    }

    /// Sets `enable.auto.commit`.
    pub fn enable_auto_commit(mut self, on: bool) -> Self {
        self.enable_auto_commit = on;
        self
    }

    /// Sets `auto.commit.interval.ms`.
    pub fn auto_commit_interval(mut self, d: Duration) -> Self {
        self.auto_commit_interval = d;
        self
    }

    /// Sets `session.timeout.ms` and `heartbeat.interval.ms`.
    pub fn session(mut self, session_timeout: Duration, heartbeat_interval: Duration) -> Self {
        self.session_timeout = session_timeout;
        self.heartbeat_interval = heartbeat_interval;
        self
    }

    /// Sets `max.poll.interval.ms`.
    pub fn max_poll_interval(mut self, d: Duration) -> Self {
        self.max_poll_interval = d;
        self
    }

    /// Sets `fetch.min.bytes`, `fetch.max.wait.ms`.
    pub fn fetch_wait(mut self, min_bytes: i32, max_wait: Duration) -> Self {
        self.fetch_min_bytes = min_bytes;
        self.fetch_max_wait = max_wait;
        self
    }

    /// Sets `fetch.max.bytes` and `max.partition.fetch.bytes`.
    pub fn fetch_sizes(mut self, max_bytes: i32, max_partition_bytes: i32) -> Self {
        self.fetch_max_bytes = max_bytes;
        self.max_partition_fetch_bytes = max_partition_bytes;
        self
    }

    /// Sets `isolation.level`.
    pub fn isolation_level(mut self, l: IsolationLevel) -> Self {
        self.isolation_level = l;
        self
    }

    /// Sets the assignors (`partition.assignment.strategy`), in preference order.
    pub fn assignors(mut self, a: Vec<Arc<dyn Assignor>>) -> Self {
        self.assignors = a;
        self
    }

    /// Builds a configuration from properties (client and consumer names).
    ///
    /// # Errors
    /// [`crate::Error::Config`] for an unknown property or an invalid value.
    pub fn from_properties<K: AsRef<str>, V: AsRef<str>>(
        props: impl IntoIterator<Item = (K, V)>,
    ) -> Result<ConsumerConfig> {
        let mut c = ConsumerConfig::default();
        for (k, v) in props {
            if !c.set(k.as_ref(), v.as_ref())? {
                return Err(config_err(k.as_ref(), "unknown property"));
            }
        }
        Ok(c)
    }

    /// Sets one property (client or consumer); `Ok(false)` if the name is neither.
    ///
    /// # Errors
    /// [`crate::Error::Config`] for an invalid value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool> {
        if self.client.set(key, value)? {
            return Ok(true);
        }
        match key {
            "group.id" => self.group_id = (!value.is_empty()).then(|| value.to_owned()),
            "group.instance.id" => {
                self.group_instance_id = (!value.is_empty()).then(|| value.to_owned())
            }
            "auto.offset.reset" => {
                self.auto_offset_reset = match value.trim().to_ascii_lowercase().as_str() {
                    "earliest" | "smallest" | "beginning" => OffsetReset::Earliest,
                    "latest" | "largest" | "end" => OffsetReset::Latest,
                    "none" | "error" => OffsetReset::None,
                    _ => return Err(config_err(key, "expected earliest, latest or none")),
                }
            }
            "enable.auto.commit" => self.enable_auto_commit = parse_bool(key, value)?,
            "auto.commit.interval.ms" => self.auto_commit_interval = parse_ms(key, value)?,
            "session.timeout.ms" => self.session_timeout = parse_ms(key, value)?,
            "heartbeat.interval.ms" => self.heartbeat_interval = parse_ms(key, value)?,
            "max.poll.interval.ms" => self.max_poll_interval = parse_ms(key, value)?,
            "fetch.min.bytes" => self.fetch_min_bytes = parse_num(key, value)?,
            "fetch.max.wait.ms" | "fetch.wait.max.ms" => {
                self.fetch_max_wait = parse_ms(key, value)?
            }
            "fetch.max.bytes" => self.fetch_max_bytes = parse_num(key, value)?,
            "max.partition.fetch.bytes" | "fetch.message.max.bytes" => {
                self.max_partition_fetch_bytes = parse_num(key, value)?
            }
            "isolation.level" => {
                self.isolation_level = match value.trim().to_ascii_lowercase().as_str() {
                    "read_uncommitted" => IsolationLevel::ReadUncommitted,
                    "read_committed" => IsolationLevel::ReadCommitted,
                    _ => {
                        return Err(config_err(
                            key,
                            "expected read_uncommitted or read_committed",
                        ))
                    }
                }
            }
            "partition.assignment.strategy" => {
                let mut list = Vec::new();
                for name in crate::config::split_list(value) {
                    list.push(assignor::by_name(&name).ok_or_else(|| {
                        config_err(
                            key,
                            format!("unknown assignor `{name}` (range, roundrobin, sticky, cooperative-sticky)"),
                        )
                    })?);
                }
                if list.is_empty() {
                    return Err(config_err(key, "needs at least one assignor"));
                }
                self.assignors = list;
            }
            "client.rack" => self.client_rack = (!value.is_empty()).then(|| value.to_owned()),
            "queued.max.messages.kbytes" => {
                let kb: usize = parse_num(key, value)?;
                self.max_buffered_bytes = kb.saturating_mul(1024).max(1024);
            }
            "check.crcs" => self.check_crcs = parse_bool(key, value)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties() {
        let c = ConsumerConfig::from_properties([
            ("bootstrap.servers", "h:1"),
            ("group.id", "g"),
            ("auto.offset.reset", "earliest"),
            ("enable.auto.commit", "false"),
            ("isolation.level", "read_committed"),
            ("partition.assignment.strategy", "roundrobin,range"),
            ("fetch.max.wait.ms", "100"),
        ])
        .unwrap();
        assert_eq!(c.group_id.as_deref(), Some("g"));
        assert_eq!(c.auto_offset_reset, OffsetReset::Earliest);
        assert!(!c.enable_auto_commit);
        assert_eq!(c.isolation_level, IsolationLevel::ReadCommitted);
        let names: Vec<&str> = c.assignors.iter().map(|a| a.name()).collect();
        assert_eq!(names, vec!["roundrobin", "range"]);
        assert_eq!(c.fetch_max_wait, Duration::from_millis(100));
        assert!(
            ConsumerConfig::from_properties([("partition.assignment.strategy", "nope")]).is_err()
        );
        assert!(ConsumerConfig::from_properties([("auto.offset.reset", "sideways")]).is_err());
    }
}
