//! Group coordinator settings, with development-friendly defaults.

use std::time::Duration;

/// Timings and limits of the group coordinator.
///
/// The defaults suit development and tests; [`GroupConfig::kafka`] gives Apache Kafka's
/// broker defaults. Each field names the Kafka setting it mirrors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupConfig {
    /// How long the first rebalance of an empty group waits for more members before completing
    /// (`group.initial.rebalance.delay.ms`; Kafka: 3 s). Default here: **0**, so a lone consumer
    /// gets its assignment at once and tests with many groups stay fast.
    pub initial_rebalance_delay: Duration,
    /// Smallest session timeout a member may ask for (`group.min.session.timeout.ms`;
    /// Kafka: 6 s). Default here: 100 ms, so tests can use short session timeouts.
    pub min_session_timeout: Duration,
    /// Largest session timeout a member may ask for (`group.max.session.timeout.ms`; 30 min).
    pub max_session_timeout: Duration,
    /// How long committed offsets of an empty group (or of a group without membership, since
    /// their last commit) are kept (`offsets.retention.minutes`; 7 days).
    pub offsets_retention: Duration,
    /// How often expired offsets are looked for (`offsets.retention.check.interval.ms`; 10 min).
    pub offsets_retention_check_interval: Duration,
    /// Most members in one group (`group.max.size`); `usize::MAX`, unlimited, by default.
    pub max_group_size: usize,
    /// Longest metadata string kept with a committed offset (`offset.metadata.max.bytes`;
    /// 4096). Longer ones get OFFSET_METADATA_TOO_LARGE.
    pub offset_metadata_max_bytes: usize,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            initial_rebalance_delay: Duration::ZERO,
            min_session_timeout: Duration::from_millis(100),
            max_session_timeout: Duration::from_secs(30 * 60),
            offsets_retention: Duration::from_secs(7 * 24 * 3600),
            offsets_retention_check_interval: Duration::from_secs(10 * 60),
            max_group_size: usize::MAX,
            offset_metadata_max_bytes: 4096,
        }
    }
}

impl GroupConfig {
    /// Apache Kafka's broker defaults (3 s initial rebalance delay, session timeouts between
    /// 6 s and 30 min).
    pub fn kafka() -> GroupConfig {
        GroupConfig {
            initial_rebalance_delay: Duration::from_secs(3),
            min_session_timeout: Duration::from_secs(6),
            ..GroupConfig::default()
        }
    }

    /// The retention check interval, never zero (a zero interval would spin the timer task).
    pub(crate) fn retention_tick(&self) -> Duration {
        self.offsets_retention_check_interval
            .max(Duration::from_millis(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_dev_friendly_and_kafka_is_kafka() {
        let dev = GroupConfig::default();
        assert_eq!(dev.initial_rebalance_delay, Duration::ZERO);
        assert_eq!(dev.min_session_timeout, Duration::from_millis(100));
        assert_eq!(dev.max_group_size, usize::MAX);
        let kafka = GroupConfig::kafka();
        assert_eq!(kafka.initial_rebalance_delay, Duration::from_secs(3));
        assert_eq!(kafka.min_session_timeout, Duration::from_secs(6));
        assert_eq!(kafka.offsets_retention, Duration::from_secs(604_800));
        assert_eq!(
            kafka.offsets_retention_check_interval,
            Duration::from_secs(600)
        );
    }
}
