//! Producer configuration with the Java client's property names and defaults.

use std::sync::Arc;
use std::time::Duration;

use kafka_proto::record::Compression;

use super::partitioner::{
    ConsistentRandomPartitioner, DefaultPartitioner, Murmur2RandomPartitioner, Partitioner,
    RoundRobinPartitioner,
};
use crate::config::{config_err, parse_bool, parse_ms, parse_num, ClientConfig};
use crate::error::{Error, Result};

/// `acks`: how many replicas must have a record before the broker answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acks {
    /// `acks=0`: the broker does not answer; offsets are unknown (-1).
    None,
    /// `acks=1`: the leader has written it.
    Leader,
    /// `acks=all` (`-1`): every in-sync replica has it. The default.
    All,
}

impl Acks {
    /// The wire value.
    pub fn as_i16(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

/// `partitioner` (librdkafka's property; Java's `partitioner.class` names a class).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum PartitionerChoice {
    /// Java's default: murmur2 for keys, uniform sticky (KIP-794) without (`default`).
    Default,
    /// `murmur2_random`: murmur2 for keys, random without.
    Murmur2Random,
    /// `consistent_random`: CRC-32 for keys, random without (librdkafka's default).
    ConsistentRandom,
    /// `round_robin`: every record to the next partition.
    RoundRobin,
    /// Your own.
    Custom(Arc<dyn Partitioner>),
}

impl PartitionerChoice {
    pub(crate) fn build(&self, batch_size: usize) -> Arc<dyn Partitioner> {
        match self {
            PartitionerChoice::Default => Arc::new(DefaultPartitioner::new(batch_size)),
            PartitionerChoice::Murmur2Random => Arc::new(Murmur2RandomPartitioner),
            PartitionerChoice::ConsistentRandom => Arc::new(ConsistentRandomPartitioner),
            PartitionerChoice::RoundRobin => Arc::new(RoundRobinPartitioner::default()),
            PartitionerChoice::Custom(p) => p.clone(),
        }
    }
}

/// Producer settings. Connection settings (`bootstrap.servers`, `request.timeout.ms`,
/// `retry.backoff.ms`, `max.in.flight.requests.per.connection`, TLS...) are in
/// [`ProducerConfig::client`].
#[derive(Clone, Debug)]
pub struct ProducerConfig {
    /// The connection settings.
    pub client: ClientConfig,
    /// `acks` (default all).
    pub acks: Acks,
    /// `linger.ms` (default 5): how long a batch waits for more records before it is sent.
    pub linger: Duration,
    /// `batch.size` (default 16384): bytes per partition batch before it is closed.
    pub batch_size: usize,
    /// `max.request.size` (default 1048576): largest request, and largest record.
    pub max_request_size: usize,
    /// `buffer.memory` (default 32 MiB): bytes of records waiting to be sent; `send` waits
    /// when it is full.
    pub buffer_memory: usize,
    /// `compression.type` (default none).
    pub compression: Compression,
    /// `compression.level` (default: the codec's).
    pub compression_level: Option<i32>,
    /// `enable.idempotence` (default true; turned off quietly when another setting conflicts
    /// and it was not set explicitly, as the Java client does).
    pub idempotence: bool,
    idempotence_explicit: bool,
    /// `retries` (default `i32::MAX`): attempts after the first; `delivery.timeout.ms` bounds
    /// them anyway.
    pub retries: u32,
    /// `delivery.timeout.ms` (default 120000): the limit from `send` to the result.
    pub delivery_timeout: Duration,
    /// `max.block.ms` (default 60000): how long `send` waits for metadata or buffer space.
    pub max_block: Duration,
    /// `partitioner` (default: Java's).
    pub partitioner: PartitionerChoice,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            client: ClientConfig::default(),
            acks: Acks::All,
            linger: Duration::from_millis(5),
            batch_size: 16_384,
            max_request_size: 1_048_576,
            buffer_memory: 33_554_432,
            compression: Compression::None,
            compression_level: None,
            idempotence: true,
            idempotence_explicit: false,
            retries: i32::MAX as u32,
            delivery_timeout: Duration::from_millis(120_000),
            max_block: Duration::from_millis(60_000),
            partitioner: PartitionerChoice::Default,
        }
    }
}

impl ProducerConfig {
    /// The defaults with these bootstrap servers.
    pub fn new(bootstrap: impl AsRef<str>) -> ProducerConfig {
        ProducerConfig {
            client: ClientConfig::new(bootstrap),
            ..ProducerConfig::default()
        }
    }

    /// Sets `acks`.
    pub fn acks(mut self, acks: Acks) -> Self {
        self.acks = acks;
        self
    }

    /// Sets `linger.ms`.
    pub fn linger(mut self, d: Duration) -> Self {
        self.linger = d;
        self
    }

    /// Sets `batch.size`.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }

    /// Sets `max.request.size`.
    pub fn max_request_size(mut self, n: usize) -> Self {
        self.max_request_size = n;
        self
    }

    /// Sets `buffer.memory`.
    pub fn buffer_memory(mut self, n: usize) -> Self {
        self.buffer_memory = n;
        self
    }

    /// Sets `compression.type` and `compression.level`.
    pub fn compression(mut self, c: Compression, level: Option<i32>) -> Self {
        self.compression = c;
        self.compression_level = level;
        self
    }

    /// Sets `enable.idempotence` explicitly.
    pub fn idempotence(mut self, on: bool) -> Self {
        self.idempotence = on;
        self.idempotence_explicit = true;
        self
    }

    /// Sets `retries`.
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }

    /// Sets `delivery.timeout.ms`.
    pub fn delivery_timeout(mut self, d: Duration) -> Self {
        self.delivery_timeout = d;
        self
    }

    /// Sets `max.block.ms`.
    pub fn max_block(mut self, d: Duration) -> Self {
        self.max_block = d;
        self
    }

    /// Sets the partitioner.
    pub fn partitioner(mut self, p: PartitionerChoice) -> Self {
        self.partitioner = p;
        self
    }

    /// Sets the connection settings.
    pub fn client(mut self, c: ClientConfig) -> Self {
        self.client = c;
        self
    }

    /// Builds a configuration from properties (client and producer names).
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown property or an invalid value.
    pub fn from_properties<K: AsRef<str>, V: AsRef<str>>(
        props: impl IntoIterator<Item = (K, V)>,
    ) -> Result<ProducerConfig> {
        let mut c = ProducerConfig::default();
        for (k, v) in props {
            if !c.set(k.as_ref(), v.as_ref())? {
                return Err(config_err(k.as_ref(), "unknown property"));
            }
        }
        Ok(c)
    }

    /// Sets one property (client or producer). `Ok(false)` if the name is neither.
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool> {
        if self.client.set(key, value)? {
            return Ok(true);
        }
        match key {
            "acks" | "request.required.acks" => {
                self.acks = match value.trim().to_ascii_lowercase().as_str() {
                    "all" | "-1" => Acks::All,
                    "1" => Acks::Leader,
                    "0" => Acks::None,
                    _ => return Err(config_err(key, "expected all, -1, 1 or 0")),
                }
            }
            "linger.ms" | "queue.buffering.max.ms" => self.linger = parse_ms(key, value)?,
            "batch.size" => self.batch_size = parse_num::<usize>(key, value)?.max(1),
            "max.request.size" | "message.max.bytes" => {
                self.max_request_size = parse_num(key, value)?
            }
            "buffer.memory" => self.buffer_memory = parse_num(key, value)?,
            "compression.type" | "compression.codec" => {
                self.compression = parse_compression(value)
                    .ok_or_else(|| config_err(key, "expected none, gzip, snappy, lz4 or zstd"))?
            }
            "compression.level"
            | "compression.gzip.level"
            | "compression.lz4.level"
            | "compression.zstd.level" => {
                let n: i32 = parse_num(key, value)?;
                self.compression_level = (n >= 0).then_some(n);
            }
            "enable.idempotence" => {
                self.idempotence = parse_bool(key, value)?;
                self.idempotence_explicit = true;
            }
            "retries" | "message.send.max.retries" => {
                let n: i64 = parse_num(key, value)?;
                self.retries = n.clamp(0, i64::from(u32::MAX)) as u32;
            }
            "delivery.timeout.ms" | "message.timeout.ms" => {
                self.delivery_timeout = parse_ms(key, value)?
            }
            "max.block.ms" => self.max_block = parse_ms(key, value)?,
            "partitioner" => {
                self.partitioner =
                    match value {
                        "default" | "sticky" => PartitionerChoice::Default,
                        "murmur2_random" => PartitionerChoice::Murmur2Random,
                        "consistent_random" => PartitionerChoice::ConsistentRandom,
                        "round_robin" | "roundrobin" => PartitionerChoice::RoundRobin,
                        _ => return Err(config_err(
                            key,
                            "expected default, murmur2_random, consistent_random or round_robin",
                        )),
                    }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Checks the combination, turning idempotence off when it conflicts with settings and was
    /// not asked for explicitly (Java's rule).
    pub(crate) fn validated(mut self) -> Result<ProducerConfig> {
        let conflict = if self.acks != Acks::All {
            Some("acks must be all")
        } else if self.client.max_in_flight > 5 {
            Some("max.in.flight.requests.per.connection must be at most 5")
        } else if self.retries == 0 {
            Some("retries must be above 0")
        } else {
            None
        };
        if self.idempotence {
            if let Some(why) = conflict {
                if self.idempotence_explicit {
                    return Err(Error::Config {
                        key: "enable.idempotence".into(),
                        detail: format!("idempotence needs {why}"),
                    });
                }
                self.idempotence = false;
            }
        }
        if self.max_request_size < 128 {
            return Err(config_err("max.request.size", "must be at least 128"));
        }
        if self.buffer_memory < self.batch_size.min(self.max_request_size) {
            return Err(config_err("buffer.memory", "must hold at least one batch"));
        }
        Ok(self)
    }
}

/// `none`, `gzip`, `snappy`, `lz4`, `zstd`.
pub fn parse_compression(s: &str) -> Option<Compression> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "none" | "uncompressed" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties() {
        let c = ProducerConfig::from_properties([
            ("bootstrap.servers", "h:1"),
            ("acks", "1"),
            ("linger.ms", "20"),
            ("batch.size", "1000000"),
            ("compression.type", "lz4"),
            ("partitioner", "consistent_random"),
        ])
        .unwrap();
        assert_eq!(c.acks, Acks::Leader);
        assert_eq!(c.linger, Duration::from_millis(20));
        assert_eq!(c.batch_size, 1_000_000);
        assert_eq!(c.compression, Compression::Lz4);
        assert!(matches!(c.partitioner, PartitionerChoice::ConsistentRandom));
        assert_eq!(c.client.bootstrap_servers, vec!["h:1"]);
        // acks=1 quietly turns default idempotence off...
        assert!(!c.clone().validated().unwrap().idempotence);
        // ...but not an explicit one.
        let mut c = c;
        c.set("enable.idempotence", "true").unwrap();
        let e = c.validated().unwrap_err();
        assert!(e.to_string().contains("acks must be all"), "{e}");
        assert!(ProducerConfig::from_properties([("acks", "2")]).is_err());
        assert!(ProducerConfig::from_properties([("nope", "2")]).is_err());
    }
}
