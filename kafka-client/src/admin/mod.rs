//! [`Admin`]: topics, partitions, configs, offsets, records, groups and the cluster.
//!
//! Every call fans out to the broker that must answer it: the controller for topic, partition
//! and config changes, partition leaders for [`Admin::list_offsets`] and
//! [`Admin::delete_records`] (one request per leader, sent concurrently), group coordinators for
//! group calls, every broker for [`Admin::list_groups`], any broker for the rest.
//!
//! Results are per item: the outer `Result` fails only when nothing could be asked at all (no
//! broker reachable, a request-level error that applies to every item, invalid arguments); each
//! topic, partition, resource or group then has its own `Result`. Retriable failures (a moved
//! controller or leader, a coordinator still loading, a dropped connection) are retried with
//! backoff, only for the items that failed, until the call's deadline: the client's
//! `default.api.timeout.ms`, or [`Admin::with_timeout`].

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_proto::{ApiKey, ErrorCode};

use crate::client::backoff;
use crate::{Client, ClientConfig, Context, Error, Node, Result};

mod cluster;
mod configs;
mod groups;
mod offsets;
mod topics;

pub use cluster::ClusterDescription;
pub use configs::{
    AlterConfigOp, AlterOpType, ConfigEntry, ConfigResource, ConfigResourceType, ConfigSource,
    ConfigSynonym, DescribeConfigsOptions,
};
pub use groups::{
    CommittedOffset, GroupDescription, GroupListing, GroupListings, MemberAssignment,
    MemberDescription,
};
pub use offsets::{IsolationLevel, ListedOffset, OffsetSpec};
pub use topics::{CreatedTopic, NewTopic, TopicListing};

/// A topic name and partition index, the key of per-partition results.
pub type TopicPartition = (String, i32);

/// The admin handle. Cheap to clone; clones share the [`Client`] (connections, metadata).
#[derive(Clone, Debug)]
pub struct Admin {
    client: Client,
    timeout: Option<Duration>,
}

impl Admin {
    /// An admin handle over an existing client.
    pub fn new(client: Client) -> Admin {
        Admin {
            client,
            timeout: None,
        }
    }

    /// Connects a new client and wraps it.
    ///
    /// # Errors
    /// As [`Client::connect`].
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn connect(config: ClientConfig) -> Result<Admin> {
        Ok(Admin::new(Client::connect(config).await?))
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A handle whose calls give up after `timeout` (retries included) instead of the client's
    /// `default.api.timeout.ms`.
    pub fn with_timeout(&self, timeout: Duration) -> Admin {
        Admin {
            client: self.client.clone(),
            timeout: Some(timeout),
        }
    }

    /// The time budget of one call.
    pub fn timeout(&self) -> Duration {
        self.timeout
            .unwrap_or(self.client.config().default_api_timeout)
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.timeout()
    }

    /// Runs `attempt` over `items` until every item is done, retrying only the items the
    /// attempt says to retry, with backoff, until the deadline.
    ///
    /// `attempt` gets the pending items and whether metadata should be refreshed first (a
    /// retried error said it was stale). It returns per-item outcomes, or one error for the
    /// whole attempt (retried when [`Error::is_retriable`]). Items it leaves out are reported
    /// as a protocol error. The outer error happens only if no attempt ever got an answer.
    async fn run_items<K, T, F, Fut>(
        &self,
        api: ApiKey,
        deadline: Instant,
        items: Vec<K>,
        mut attempt: F,
    ) -> Result<HashMap<K, Result<T>>>
    where
        K: Eq + Hash + Clone,
        F: FnMut(Vec<K>, bool) -> Fut,
        Fut: Future<Output = Result<Vec<(K, Outcome<T>)>>>,
    {
        let started = Instant::now();
        let mut out: HashMap<K, Result<T>> = HashMap::with_capacity(items.len());
        let mut pending = items;
        let mut last: HashMap<K, Error> = HashMap::new();
        let mut request_error: Option<Error> = None;
        let mut answered = false;
        let mut refresh = false;
        let mut round = 0u32;
        while !pending.is_empty() {
            round += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let r = tokio::time::timeout(remaining, attempt(pending.clone(), refresh)).await;
            refresh = false;
            match r {
                Err(_) => break,
                Ok(Err(e)) => {
                    let retry = request_retriable(&e);
                    refresh |= e.is_stale_metadata();
                    request_error = Some(e.clone());
                    if retry {
                        for k in &pending {
                            last.insert(k.clone(), e.clone());
                        }
                    } else {
                        for k in pending.drain(..) {
                            last.remove(&k);
                            out.insert(k, Err(e.clone()));
                        }
                    }
                }
                Ok(Ok(results)) => {
                    answered = true;
                    let mut next = Vec::new();
                    let mut got: HashMap<K, ()> = HashMap::with_capacity(results.len());
                    for (k, o) in results {
                        got.insert(k.clone(), ());
                        match o {
                            Outcome::Done(r) => {
                                last.remove(&k);
                                out.insert(k, r);
                            }
                            Outcome::Retry(e) => {
                                refresh |= e.is_stale_metadata();
                                last.insert(k.clone(), e);
                                next.push(k);
                            }
                        }
                    }
                    for k in pending.drain(..) {
                        if !got.contains_key(&k) && !out.contains_key(&k) {
                            out.insert(
                                k,
                                Err(Error::protocol(
                                    api_ctx(api),
                                    "the response has no result for this item",
                                )),
                            );
                        }
                    }
                    pending = next;
                }
            }
            if pending.is_empty() {
                break;
            }
            if refresh {
                self.client.invalidate_metadata();
            }
            let cfg = self.client.config();
            let wait = backoff(cfg.retry_backoff, cfg.retry_backoff_max, round);
            if Instant::now() + wait >= deadline {
                break;
            }
            tracing::debug!(api = api.name(), round, pending = pending.len(), "retrying");
            tokio::time::sleep(wait).await;
        }
        let timeout = |last: Option<Error>| Error::Timeout {
            context: api_ctx(api),
            after: started.elapsed(),
            last: last.map(Box::new),
        };
        if !answered {
            return Err(match request_error {
                Some(e) if !e.is_retriable() => e,
                last => timeout(last),
            });
        }
        for k in pending {
            let e = last.remove(&k);
            out.insert(k, Err(timeout(e)));
        }
        Ok(out)
    }
}

/// What one attempt decided for one item.
pub(crate) enum Outcome<T> {
    /// Final: success or an error not worth retrying.
    Done(Result<T>),
    /// Worth another attempt (after a metadata refresh if the error says so).
    Retry(Error),
}

impl<T> Outcome<T> {
    /// `Retry` for request-level failures that [`Error::is_retriable`] and for broker errors
    /// with one of `codes`; `Done(Err)` otherwise.
    fn from_error(e: Error, codes: &[ErrorCode]) -> Outcome<T> {
        let retry = match &e {
            Error::Broker { code, .. } => codes.contains(code),
            other => other.is_retriable(),
        };
        if retry {
            Outcome::Retry(e)
        } else {
            Outcome::Done(Err(e))
        }
    }

    /// For an error of a whole request: `Retry` when [`request_retriable`] or the code is one
    /// of `codes`.
    fn from_request_error(e: Error, codes: &[ErrorCode]) -> Outcome<T> {
        let retry = request_retriable(&e)
            || matches!(&e, Error::Broker { code, .. } if codes.contains(code));
        if retry {
            Outcome::Retry(e)
        } else {
            Outcome::Done(Err(e))
        }
    }

    /// From a result: `Done(Ok)`, or as [`Outcome::from_error`].
    fn from_result(r: Result<T>, codes: &[ErrorCode]) -> Outcome<T> {
        match r {
            Ok(v) => Outcome::Done(Ok(v)),
            Err(e) => Outcome::from_error(e, codes),
        }
    }
}

/// Whether a request that failed as a whole is worth another attempt: a retriable error, or a
/// broker missing from the metadata snapshot (it is refreshed before the next attempt).
fn request_retriable(e: &Error) -> bool {
    e.is_retriable()
        || matches!(
            e,
            Error::Broker {
                code: ErrorCode::BrokerNotAvailable,
                ..
            }
        )
}

/// Codes after which a request to the controller is retried (after a metadata refresh).
const CONTROLLER_RETRY: &[ErrorCode] = &[ErrorCode::NotController];

/// Codes after which a request to a group coordinator is retried (after forgetting it).
const COORDINATOR_RETRY: &[ErrorCode] = &[
    ErrorCode::NotCoordinator,
    ErrorCode::CoordinatorNotAvailable,
    ErrorCode::CoordinatorLoadInProgress,
];

fn is_coordinator_error(code: i16) -> bool {
    COORDINATOR_RETRY.contains(&ErrorCode::from_i16(code))
}

fn api_ctx(api: ApiKey) -> Context {
    Context {
        api: Some(api),
        ..Context::default()
    }
}

/// The context of a response from `node` at version `v`.
fn ctx(api: ApiKey, v: i16, node: Node) -> Context {
    let mut c = Context::default().with_api(api, v);
    c.broker = Some(Arc::from(match node {
        Node::Id(id) => format!("node {id}"),
        Node::Bootstrap(i) => format!("bootstrap server {i}"),
    }));
    c
}

/// Milliseconds left until `deadline`, for a request's `timeout_ms` (at least 1).
fn timeout_ms(deadline: Instant) -> i32 {
    let ms = deadline
        .saturating_duration_since(Instant::now())
        .as_millis();
    i32::try_from(ms).unwrap_or(i32::MAX).max(1)
}

/// Runs one future per broker concurrently (spawned, aborted if the caller is dropped) and
/// gathers their per-item outcomes; a failed request fails each of its items.
async fn fan_out<K, T, Fut>(
    jobs: Vec<(Vec<K>, Fut)>,
    retry_codes: &'static [ErrorCode],
) -> Vec<(K, Outcome<T>)>
where
    K: Clone + Send + 'static,
    T: Send + 'static,
    Fut: Future<Output = Result<Vec<(K, Outcome<T>)>>> + Send + 'static,
{
    let mut out = Vec::new();
    let mut absorb = |keys: Vec<K>, r: Result<Vec<(K, Outcome<T>)>>| match r {
        Ok(v) => out.extend(v),
        Err(e) => {
            for k in keys {
                out.push((k, Outcome::from_request_error(e.clone(), retry_codes)));
            }
        }
    };
    if jobs.len() == 1 {
        for (keys, fut) in jobs {
            let r = fut.await;
            absorb(keys, r);
        }
        return out;
    }
    let mut set = tokio::task::JoinSet::new();
    for (keys, fut) in jobs {
        set.spawn(async move { (keys, fut.await) });
    }
    while let Some(joined) = set.join_next().await {
        // A task that panicked leaves its items unanswered; `run_items` reports them.
        if let Ok((keys, r)) = joined {
            absorb(keys, r);
        }
    }
    out
}

impl<T> Outcome<T> {
    /// For partition-level answers from a leader: `Retry` whenever the error is retriable
    /// (a moved leader, a leader election, a dropped connection), `Done(Err)` otherwise.
    fn from_leader_error(e: Error) -> Outcome<T> {
        if e.is_retriable() {
            Outcome::Retry(e)
        } else {
            Outcome::Done(Err(e))
        }
    }
}

/// Partitions grouped by leader, and the outcomes of those that could not be routed.
type Routed<T> = (
    HashMap<i32, Vec<TopicPartition>>,
    Vec<(TopicPartition, Outcome<T>)>,
);

impl Admin {
    /// Groups partitions by leader from metadata (the cache when it knows every topic, a
    /// fresh request when `refresh`). A topic metadata says does not exist is a final
    /// UNKNOWN_TOPIC_OR_PARTITION; a partition without a leader, or one the cache does not
    /// know yet, is retried.
    async fn by_leader<T>(
        &self,
        api: ApiKey,
        pending: Vec<TopicPartition>,
        refresh: bool,
    ) -> Result<Routed<T>> {
        let topics: Vec<String> = topics::dedup(pending.iter().map(|(t, _)| t.clone()));
        let md = if refresh {
            self.client.refresh_metadata(Some(&topics)).await?
        } else {
            self.client.metadata_for(&topics).await?
        };
        let mut groups: HashMap<i32, Vec<TopicPartition>> = HashMap::new();
        let mut out = Vec::new();
        for tp in pending {
            let err = |code: ErrorCode| Error::Broker {
                code,
                message: None,
                context: api_ctx(api).with_topic(&tp.0, Some(tp.1)),
            };
            let o = match md.topic(&tp.0) {
                None => {
                    let code = md
                        .topic_errors
                        .get(&tp.0)
                        .copied()
                        .unwrap_or(ErrorCode::UnknownTopicOrPartition);
                    if code == ErrorCode::UnknownTopicOrPartition || !code.is_retriable() {
                        Outcome::Done(Err(err(code)))
                    } else {
                        Outcome::Retry(err(code))
                    }
                }
                Some(t) => match t.partition(tp.1) {
                    None if refresh => Outcome::Done(Err(err(ErrorCode::UnknownTopicOrPartition))),
                    None => Outcome::Retry(err(ErrorCode::UnknownTopicOrPartition)),
                    Some(p) if p.leader < 0 => Outcome::Retry(err(ErrorCode::LeaderNotAvailable)),
                    Some(p) => {
                        groups.entry(p.leader).or_default().push(tp);
                        continue;
                    }
                },
            };
            out.push((tp, o));
        }
        Ok((groups, out))
    }
}

#[cfg(test)]
mod send_assertions {
    use super::*;

    fn is_send<T: Send>(_: &T) {}

    #[allow(dead_code)]
    fn admin_futures_are_send(a: Admin) {
        is_send(&a.create_topics(&[], false));
        is_send(&a.delete_topics(&[]));
        is_send(&a.list_topics(false));
        is_send(&a.describe_topics(&[]));
        is_send(&a.create_partitions(&[], false));
        is_send(&a.describe_configs(&[]));
        is_send(&a.incremental_alter_configs(&[], false));
        is_send(&a.alter_configs(&[], false));
        is_send(&a.list_offsets(&[], IsolationLevel::ReadUncommitted));
        is_send(&a.delete_records(&[]));
        is_send(&a.list_groups(None));
        is_send(&a.describe_groups(&[]));
        is_send(&a.delete_groups(&[]));
        is_send(&a.list_group_offsets("g", None));
        is_send(&a.alter_group_offsets("g", &[]));
        is_send(&a.delete_group_offsets("g", &[]));
        is_send(&a.describe_cluster());
    }
}
