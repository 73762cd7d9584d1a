//! Topic configurations: which names exist, their defaults, validation, and how they map onto
//! the log settings this broker honours.
//!
//! Honoured: `retention.ms`, `retention.bytes`, `segment.bytes`, `segment.ms`,
//! `max.message.bytes`, `message.timestamp.type`, `index.interval.bytes`, `cleanup.policy=delete`.
//! Every other Apache Kafka topic config is accepted and reported (so tools that set them keep
//! working) but has no effect; `cleanup.policy=compact` is stored, and logs are not compacted.

use std::collections::BTreeMap;

use crate::storage::LogConfig;

/// The value type of a config, as DescribeConfigs v3+ reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigType {
    /// Boolean.
    Boolean = 1,
    /// String.
    String = 2,
    /// Int.
    Int = 3,
    /// Short.
    Short = 4,
    /// Long.
    Long = 5,
    /// Double.
    Double = 6,
    /// List.
    List = 7,
}

/// One known topic config.
#[derive(Clone, Copy, Debug)]
pub struct ConfigDef {
    /// Kafka's name.
    pub name: &'static str,
    /// Value type.
    pub kind: ConfigType,
    /// Whether this broker acts on it.
    pub honoured: bool,
}

const fn def(name: &'static str, kind: ConfigType, honoured: bool) -> ConfigDef {
    ConfigDef {
        name,
        kind,
        honoured,
    }
}

/// Every topic config Apache Kafka 4.0 knows, sorted by name.
pub const TOPIC_CONFIGS: &[ConfigDef] = &[
    def("cleanup.policy", ConfigType::List, true),
    def("compression.gzip.level", ConfigType::Int, false),
    def("compression.lz4.level", ConfigType::Int, false),
    def("compression.type", ConfigType::String, false),
    def("compression.zstd.level", ConfigType::Int, false),
    def("delete.retention.ms", ConfigType::Long, false),
    def("file.delete.delay.ms", ConfigType::Long, false),
    def("flush.messages", ConfigType::Long, false),
    def("flush.ms", ConfigType::Long, false),
    def(
        "follower.replication.throttled.replicas",
        ConfigType::List,
        false,
    ),
    def("index.interval.bytes", ConfigType::Int, true),
    def(
        "leader.replication.throttled.replicas",
        ConfigType::List,
        false,
    ),
    def("local.retention.bytes", ConfigType::Long, false),
    def("local.retention.ms", ConfigType::Long, false),
    def("max.compaction.lag.ms", ConfigType::Long, false),
    def("max.message.bytes", ConfigType::Int, true),
    def("message.timestamp.after.max.ms", ConfigType::Long, false),
    def("message.timestamp.before.max.ms", ConfigType::Long, false),
    def("message.timestamp.type", ConfigType::String, true),
    def("min.cleanable.dirty.ratio", ConfigType::Double, false),
    def("min.compaction.lag.ms", ConfigType::Long, false),
    def("min.insync.replicas", ConfigType::Int, false),
    def("preallocate", ConfigType::Boolean, false),
    def("remote.storage.enable", ConfigType::Boolean, false),
    def("retention.bytes", ConfigType::Long, true),
    def("retention.ms", ConfigType::Long, true),
    def("segment.bytes", ConfigType::Int, true),
    def("segment.index.bytes", ConfigType::Int, false),
    def("segment.jitter.ms", ConfigType::Long, false),
    def("segment.ms", ConfigType::Long, true),
    def("unclean.leader.election.enable", ConfigType::Boolean, false),
];

/// Looks up a config by name.
pub fn find(name: &str) -> Option<&'static ConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// The value a topic has for `name` when it sets nothing, given the broker's log defaults.
pub fn default_value(name: &str, log: &LogConfig) -> String {
    match name {
        "cleanup.policy" => "delete".into(),
        "compression.gzip.level" => "-1".into(),
        "compression.lz4.level" => "9".into(),
        "compression.type" => "producer".into(),
        "compression.zstd.level" => "3".into(),
        "delete.retention.ms" => "86400000".into(),
        "file.delete.delay.ms" => "60000".into(),
        "flush.messages" | "flush.ms" | "max.compaction.lag.ms" => i64::MAX.to_string(),
        "follower.replication.throttled.replicas" | "leader.replication.throttled.replicas" => {
            String::new()
        }
        "index.interval.bytes" => log.index_interval_bytes.to_string(),
        "local.retention.bytes" | "local.retention.ms" => "-2".into(),
        "max.message.bytes" => log.max_message_bytes.to_string(),
        "message.timestamp.after.max.ms" | "message.timestamp.before.max.ms" => {
            i64::MAX.to_string()
        }
        "message.timestamp.type" => if log.message_timestamp_type_log_append {
            "LogAppendTime"
        } else {
            "CreateTime"
        }
        .into(),
        "min.cleanable.dirty.ratio" => "0.5".into(),
        "min.compaction.lag.ms" => "0".into(),
        "min.insync.replicas" => "1".into(),
        "preallocate" | "remote.storage.enable" | "unclean.leader.election.enable" => {
            "false".into()
        }
        "retention.bytes" => log.retention_bytes.to_string(),
        "retention.ms" => log.retention_ms.to_string(),
        "segment.bytes" => log.segment_bytes.to_string(),
        "segment.index.bytes" => "10485760".into(),
        "segment.jitter.ms" => "0".into(),
        "segment.ms" => log.segment_ms.to_string(),
        _ => String::new(),
    }
}

/// Checks a value for a config; `Err` carries the message Kafka-style tools print.
pub fn validate(name: &str, value: &str) -> Result<(), String> {
    let Some(d) = find(name) else {
        return Err(format!("Unknown topic config name: {name}"));
    };
    let bad = || Err(format!("Invalid value {value} for configuration {name}"));
    match d.kind {
        ConfigType::Boolean => {
            if !matches!(value, "true" | "false") {
                return bad();
            }
        }
        ConfigType::Int | ConfigType::Short => {
            if value.trim().parse::<i32>().is_err() {
                return bad();
            }
        }
        ConfigType::Long => {
            if value.trim().parse::<i64>().is_err() {
                return bad();
            }
        }
        ConfigType::Double => {
            if value.trim().parse::<f64>().is_err() {
                return bad();
            }
        }
        ConfigType::String | ConfigType::List => {}
    }
    let num = value.trim().parse::<i64>().unwrap_or(0);
    match name {
        "cleanup.policy" => {
            for p in value.split(',') {
                if !matches!(p.trim(), "delete" | "compact") {
                    return bad();
                }
            }
        }
        "message.timestamp.type" if !matches!(value, "CreateTime" | "LogAppendTime") => {
            return bad()
        }
        "compression.type"
            if !matches!(
                value,
                "producer" | "uncompressed" | "none" | "gzip" | "snappy" | "lz4" | "zstd"
            ) =>
        {
            return bad()
        }
        "segment.bytes" if num < 14 => return bad(),
        "segment.ms" if num < 1 => return bad(),
        "max.message.bytes" | "index.interval.bytes" if num < 0 => return bad(),
        "retention.ms" | "retention.bytes" if num < -1 => return bad(),
        _ => {}
    }
    Ok(())
}

/// The log settings of a topic: the broker's defaults with the topic's overrides applied.
/// Values are assumed validated.
pub fn log_config(defaults: &LogConfig, overrides: &BTreeMap<String, String>) -> LogConfig {
    let mut c = defaults.clone();
    let num = |k: &str| overrides.get(k).and_then(|v| v.trim().parse::<i64>().ok());
    if let Some(v) = num("retention.ms") {
        c.retention_ms = v;
    }
    if let Some(v) = num("retention.bytes") {
        c.retention_bytes = v;
    }
    if let Some(v) = num("segment.bytes") {
        c.segment_bytes = v.max(14) as u64;
    }
    if let Some(v) = num("segment.ms") {
        c.segment_ms = v.max(1);
    }
    if let Some(v) = num("max.message.bytes") {
        c.max_message_bytes = v.max(0) as usize;
    }
    if let Some(v) = num("index.interval.bytes") {
        c.index_interval_bytes = v.max(0) as usize;
    }
    if let Some(v) = overrides.get("message.timestamp.type") {
        c.message_timestamp_type_log_append = v == "LogAppendTime";
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_follows_kafka_names_and_types() {
        assert!(validate("retention.ms", "1000").is_ok());
        assert!(validate("retention.ms", "soon").is_err());
        assert!(validate("no.such.config", "1").is_err());
        assert!(validate("cleanup.policy", "compact,delete").is_ok());
        assert!(validate("cleanup.policy", "shred").is_err());
        assert!(validate("message.timestamp.type", "LogAppendTime").is_ok());
        assert!(TOPIC_CONFIGS.windows(2).all(|w| w[0].name < w[1].name));
    }

    #[test]
    fn overrides_reach_the_log_config() {
        let mut o = BTreeMap::new();
        o.insert("retention.ms".to_string(), "5000".to_string());
        o.insert("segment.bytes".to_string(), "1048576".to_string());
        let c = log_config(&LogConfig::default(), &o);
        assert_eq!(c.retention_ms, 5000);
        assert_eq!(c.segment_bytes, 1_048_576);
        assert_eq!(default_value("retention.ms", &c), "5000");
    }
}
