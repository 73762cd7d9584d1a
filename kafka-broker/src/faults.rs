//! Fault injection for tests, off unless used (modelled on franz-go's kfake control functions and
//! librdkafka's mock-cluster error stacks).
//!
//! ```no_run
//! # async fn demo(broker: kafka_broker::BrokerHandle) {
//! use kafka_proto::{ApiKey, ErrorCode};
//! use std::time::Duration;
//! let f = broker.faults();
//! f.fail_next(ApiKey::Produce, 2, ErrorCode::NotLeaderOrFollower); // next 2 produce requests fail
//! f.fail_next_partition(ApiKey::Fetch, "t", 0, 1, ErrorCode::UnknownServerError);
//! f.delay_next(ApiKey::Metadata, 1, Duration::from_millis(500));
//! f.cap_version(ApiKey::Fetch, 11); // behave like an older broker
//! f.drop_next(ApiKey::Heartbeat, 1); // close the connection instead of answering
//! f.pause_leadership("t", 0, Duration::from_secs(1)); // NOT_LEADER_OR_FOLLOWER for a while
//! # }
//! ```
//!
//! Faults that change stored data need the broker itself and live on the handle:
//! [`BrokerHandle::truncate_partition`](crate::BrokerHandle::truncate_partition) simulates an
//! unclean leader election (the log cut at an offset, the leader epoch bumped).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kafka_proto::{ApiKey, ErrorCode};

#[derive(Debug)]
enum Action {
    Error(ErrorCode),
    Delay(Duration),
    Drop,
}

#[derive(Debug)]
struct Rule {
    api: ApiKey,
    partition: Option<(String, i32)>,
    remaining: usize,
    action: Action,
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<Rule>,
    caps: HashMap<ApiKey, i16>,
    paused: HashMap<(String, i32), Instant>,
}

/// Fault injection handle; cheap to clone, shared with the broker.
#[derive(Clone, Debug, Default)]
pub struct Faults(Arc<Mutex<State>>);

/// An error to inject into one request, found by [`Faults::take`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Injected {
    pub code: ErrorCode,
    /// Only this partition fails; `None` fails the whole request.
    pub only: Option<(String, i32)>,
}

impl Injected {
    /// Whether the injected error applies to `topic`/`partition`.
    pub fn hits(&self, topic: &str, partition: i32) -> bool {
        match &self.only {
            None => true,
            Some((t, p)) => t == topic && *p == partition,
        }
    }
}

/// What to do with one request.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub delay: Option<Duration>,
    pub drop: bool,
    pub error: Option<Injected>,
}

impl Faults {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next `count` requests of `api` fail with `error` (every partition, or the top-level
    /// error code for APIs without partitions).
    pub fn fail_next(&self, api: ApiKey, count: usize, error: ErrorCode) {
        self.state().rules.push(Rule {
            api,
            partition: None,
            remaining: count,
            action: Action::Error(error),
        });
    }

    /// The next `count` requests of `api` that include `topic`/`partition` fail there with
    /// `error` (Produce, Fetch, ListOffsets, OffsetForLeaderEpoch); other partitions are served.
    pub fn fail_next_partition(
        &self,
        api: ApiKey,
        topic: &str,
        partition: i32,
        count: usize,
        error: ErrorCode,
    ) {
        self.state().rules.push(Rule {
            api,
            partition: Some((topic.to_owned(), partition)),
            remaining: count,
            action: Action::Error(error),
        });
    }

    /// The next `count` requests of `api` are answered after `delay`.
    pub fn delay_next(&self, api: ApiKey, count: usize, delay: Duration) {
        self.state().rules.push(Rule {
            api,
            partition: None,
            remaining: count,
            action: Action::Delay(delay),
        });
    }

    /// The next `count` requests of `api` close their connection instead of being answered.
    pub fn drop_next(&self, api: ApiKey, count: usize) {
        self.state().rules.push(Rule {
            api,
            partition: None,
            remaining: count,
            action: Action::Drop,
        });
    }

    /// Serve `api` only up to version `max` (advertised and enforced), to emulate an older broker.
    /// A negative `max` stops serving the API.
    pub fn cap_version(&self, api: ApiKey, max: i16) {
        self.state().caps.insert(api, max);
    }

    /// Caps several APIs at once.
    pub fn cap_versions(&self, caps: &[(ApiKey, i16)]) {
        let mut s = self.state();
        for (api, max) in caps {
            s.caps.insert(*api, *max);
        }
    }

    /// Produce, Fetch and ListOffsets for `topic`/`partition` get NOT_LEADER_OR_FOLLOWER for `for_`.
    pub fn pause_leadership(&self, topic: &str, partition: i32, for_: Duration) {
        self.state()
            .paused
            .insert((topic.to_owned(), partition), Instant::now() + for_);
    }

    /// Removes every injected fault and version cap.
    pub fn clear(&self) {
        *self.state() = State::default();
    }

    pub(crate) fn version_cap(&self, api: ApiKey) -> Option<i16> {
        let s = self.state();
        if s.caps.is_empty() {
            return None;
        }
        s.caps.get(&api).copied()
    }

    pub(crate) fn leadership_paused(&self, topic: &str, partition: i32) -> bool {
        let mut s = self.state();
        if s.paused.is_empty() {
            return false;
        }
        let now = Instant::now();
        s.paused.retain(|_, until| *until > now);
        s.paused.contains_key(&(topic.to_owned(), partition))
    }

    /// Takes the faults that apply to one request of `api` touching `partitions`.
    pub(crate) fn take<'a>(
        &self,
        api: ApiKey,
        mut partitions: impl FnMut() -> Vec<(&'a str, i32)>,
    ) -> Plan {
        let mut s = self.state();
        let mut plan = Plan::default();
        if s.rules.is_empty() {
            return plan;
        }
        let mut touched: Option<Vec<(&str, i32)>> = None;
        for r in s
            .rules
            .iter_mut()
            .filter(|r| r.api == api && r.remaining > 0)
        {
            if let Some((t, p)) = &r.partition {
                let list = touched.get_or_insert_with(&mut partitions);
                if !list.iter().any(|(lt, lp)| lt == t && lp == p) {
                    continue;
                }
            }
            match r.action {
                Action::Delay(d) if plan.delay.is_none() => plan.delay = Some(d),
                Action::Drop if !plan.drop => plan.drop = true,
                Action::Error(code) if plan.error.is_none() => {
                    plan.error = Some(Injected {
                        code,
                        only: r.partition.clone(),
                    })
                }
                _ => continue,
            }
            r.remaining -= 1;
        }
        s.rules.retain(|r| r.remaining > 0);
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_count_down_and_match_partitions() {
        let f = Faults::default();
        f.fail_next(ApiKey::Produce, 1, ErrorCode::NotLeaderOrFollower);
        f.fail_next_partition(ApiKey::Fetch, "t", 1, 1, ErrorCode::UnknownServerError);
        let p = f.take(ApiKey::Produce, Vec::new);
        assert_eq!(p.error.unwrap().code, ErrorCode::NotLeaderOrFollower);
        assert!(f.take(ApiKey::Produce, Vec::new).error.is_none());
        assert!(f.take(ApiKey::Fetch, || vec![("t", 0)]).error.is_none());
        let p = f.take(ApiKey::Fetch, || vec![("t", 0), ("t", 1)]);
        assert_eq!(
            p.error,
            Some(Injected {
                code: ErrorCode::UnknownServerError,
                only: Some(("t".into(), 1))
            })
        );
        assert!(f.take(ApiKey::Fetch, || vec![("t", 1)]).error.is_none());
    }
}
