//! Topics and partitions: create, delete, list, describe, grow.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use kafka_proto::messages::create_partitions_request::{
    CreatePartitionsRequest, CreatePartitionsTopic,
};
use kafka_proto::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig, CreateTopicsRequest,
};
use kafka_proto::messages::delete_topics_request::{DeleteTopicState, DeleteTopicsRequest};
use kafka_proto::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
use kafka_proto::{ApiKey, ErrorCode, Uuid, VersionRange};

use super::{ctx, timeout_ms, Admin, Outcome, CONTROLLER_RETRY};
use crate::{Error, Metadata, Node, Purpose, Result, TopicInfo};

/// A topic to create with [`Admin::create_topics`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewTopic {
    /// The name.
    pub name: String,
    /// The number of partitions, `-1` for the broker's `num.partitions`.
    pub partitions: i32,
    /// The replication factor, `-1` for the broker's `default.replication.factor`.
    pub replication_factor: i16,
    /// Topic configs (`cleanup.policy`, `retention.ms`, ...).
    pub configs: Vec<(String, String)>,
    /// Explicit replica assignment: `(partition, replica broker ids)` for every partition.
    /// When set, `partitions` and `replication_factor` are not sent.
    pub assignments: Option<Vec<(i32, Vec<i32>)>>,
}

impl NewTopic {
    /// A topic with `partitions` partitions of `replication_factor` replicas (`-1` for either
    /// means the broker's default).
    pub fn new(name: impl Into<String>, partitions: i32, replication_factor: i16) -> NewTopic {
        NewTopic {
            name: name.into(),
            partitions,
            replication_factor,
            configs: Vec::new(),
            assignments: None,
        }
    }

    /// Adds a topic config.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> NewTopic {
        self.configs.push((key.into(), value.into()));
        self
    }

    /// Assigns `partition` to `replicas` (the first is the preferred leader).
    pub fn assignment(mut self, partition: i32, replicas: Vec<i32>) -> NewTopic {
        self.assignments
            .get_or_insert_with(Vec::new)
            .push((partition, replicas));
        self
    }

    fn to_request(&self) -> CreatableTopic {
        let (partitions, rf, assignments) = match &self.assignments {
            Some(a) => (
                -1,
                -1,
                a.iter()
                    .map(|(p, r)| CreatableReplicaAssignment {
                        partition_index: *p,
                        broker_ids: r.iter().copied().collect(),
                        ..Default::default()
                    })
                    .collect(),
            ),
            None => (self.partitions, self.replication_factor, Vec::new()),
        };
        CreatableTopic {
            name: self.name.as_str().into(),
            num_partitions: partitions,
            replication_factor: rf,
            assignments,
            configs: self
                .configs
                .iter()
                .map(|(k, v)| CreatableTopicConfig {
                    name: k.as_str().into(),
                    value: Some(v.as_str().into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    /// The partition count the topic will have, if known before the broker answers.
    fn expected_partitions(&self) -> Option<i32> {
        match &self.assignments {
            Some(a) => i32::try_from(a.len()).ok(),
            None => (self.partitions > 0).then_some(self.partitions),
        }
    }
}

/// What the broker reports about a created topic (CreateTopics v5+ reports the counts, v7+ the
/// id; older brokers report nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreatedTopic {
    /// The topic id (KIP-516).
    pub id: Option<Uuid>,
    /// The number of partitions.
    pub partitions: Option<i32>,
    /// The replication factor.
    pub replication_factor: Option<i16>,
}

/// One topic of [`Admin::list_topics`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicListing {
    /// The name.
    pub name: String,
    /// The topic id (KIP-516), `None` if the broker does not report ids.
    pub id: Option<Uuid>,
    /// Whether the topic is internal (`__consumer_offsets`, ...).
    pub internal: bool,
    /// The number of partitions.
    pub partitions: usize,
}

impl Admin {
    /// Creates topics (or, with `validate_only`, only checks that they could be created).
    ///
    /// The request goes to the controller (retried after NOT_CONTROLLER). After a successful
    /// creation the call waits, within its deadline, until metadata shows every created topic
    /// with a leader for each partition, so that a following produce finds them; if that wait
    /// runs out the topics are still reported created.
    ///
    /// # Errors
    /// Outer: [`Error::InvalidArgument`] for an empty or repeated name; the request error if
    /// no controller answered. Per topic: the broker's error (TOPIC_ALREADY_EXISTS,
    /// INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR, INVALID_CONFIG, ...).
    ///
    /// # Cancel safety
    /// Not idempotent: a dropped call may have created some topics.
    pub async fn create_topics(
        &self,
        topics: &[NewTopic],
        validate_only: bool,
    ) -> Result<HashMap<String, Result<CreatedTopic>>> {
        let mut by_name: HashMap<String, &NewTopic> = HashMap::with_capacity(topics.len());
        for t in topics {
            if t.name.is_empty() {
                return Err(Error::InvalidArgument(
                    "a topic name cannot be empty".into(),
                ));
            }
            if by_name.insert(t.name.clone(), t).is_some() {
                return Err(Error::InvalidArgument(format!(
                    "topic {} is listed twice",
                    t.name
                )));
            }
        }
        if topics.is_empty() {
            return Ok(HashMap::new());
        }
        let deadline = self.deadline();
        let names: Vec<String> = topics.iter().map(|t| t.name.clone()).collect();
        // ValidateOnly exists from v1.
        let limit = validate_only.then_some(VersionRange::new(1, i16::MAX));
        let by_name = &by_name;
        let results = self
            .run_items(
                ApiKey::CreateTopics,
                deadline,
                names,
                |pending, refresh| async move {
                    let node = self.controller_node(refresh).await?;
                    let (v, resp) = self
                        .client
                        .send_built(node, Purpose::Admin, limit, |_| CreateTopicsRequest {
                            topics: pending
                                .iter()
                                .filter_map(|n| by_name.get(n))
                                .map(|t| t.to_request())
                                .collect(),
                            timeout_ms: timeout_ms(deadline),
                            validate_only,
                            ..Default::default()
                        })
                        .await?;
                    Ok(resp
                        .topics
                        .iter()
                        .map(|r| {
                            let name = r.name.to_string();
                            let err =
                                Error::from_code(r.error_code, r.error_message.as_deref(), || {
                                    ctx(ApiKey::CreateTopics, v, node).with_topic(&name, None)
                                });
                            let o = match err {
                                Some(e) => Outcome::from_error(e, CONTROLLER_RETRY),
                                None => Outcome::Done(Ok(CreatedTopic {
                                    id: (v >= 7 && !r.topic_id.is_zero()).then_some(r.topic_id),
                                    partitions: (v >= 5 && r.num_partitions > 0)
                                        .then_some(r.num_partitions),
                                    replication_factor: (v >= 5 && r.replication_factor > 0)
                                        .then_some(r.replication_factor),
                                })),
                            };
                            (name, o)
                        })
                        .collect())
                },
            )
            .await?;
        if !validate_only {
            let expect: Vec<(String, Option<i32>)> = results
                .iter()
                .filter_map(|(name, r)| {
                    let created = r.as_ref().ok()?;
                    let count = created
                        .partitions
                        .or_else(|| by_name.get(name).and_then(|t| t.expected_partitions()));
                    Some((name.clone(), count))
                })
                .collect();
            self.wait_for_topics(&expect, deadline).await;
        }
        Ok(results)
    }

    /// Deletes topics by name.
    ///
    /// # Errors
    /// Outer: the request error if no controller answered. Per topic: the broker's error
    /// (UNKNOWN_TOPIC_OR_PARTITION, TOPIC_DELETION_DISABLED, ...).
    ///
    /// # Cancel safety
    /// Not idempotent: a dropped call may have deleted some topics.
    pub async fn delete_topics(&self, names: &[&str]) -> Result<HashMap<String, Result<()>>> {
        let deadline = self.deadline();
        let names: Vec<String> = dedup(names.iter().map(|n| n.to_string()));
        if names.is_empty() {
            return Ok(HashMap::new());
        }
        let r = self
            .run_items(
                ApiKey::DeleteTopics,
                deadline,
                names,
                |pending, refresh| async move {
                    let node = self.controller_node(refresh).await?;
                    let (v, resp) = self
                        .client
                        .send_built(node, Purpose::Admin, None, |v| {
                            let mut r = DeleteTopicsRequest {
                                timeout_ms: timeout_ms(deadline),
                                ..Default::default()
                            };
                            if v >= 6 {
                                r.topics = pending
                                    .iter()
                                    .map(|n| DeleteTopicState {
                                        name: Some(n.as_str().into()),
                                        ..Default::default()
                                    })
                                    .collect();
                            } else {
                                r.topic_names = pending.iter().map(|n| n.as_str().into()).collect();
                            }
                            r
                        })
                        .await?;
                    Ok(resp
                        .responses
                        .iter()
                        .filter_map(|r| {
                            let name = r.name.as_ref()?.to_string();
                            let err =
                                Error::from_code(r.error_code, r.error_message.as_deref(), || {
                                    ctx(ApiKey::DeleteTopics, v, node).with_topic(&name, None)
                                });
                            Some((
                                name,
                                Outcome::from_result(err.map_or(Ok(()), Err), CONTROLLER_RETRY),
                            ))
                        })
                        .collect())
                },
            )
            .await?;
        self.client.invalidate_metadata();
        Ok(r)
    }

    /// Deletes topics by id (DeleteTopics v6+, Kafka 2.8+).
    ///
    /// # Errors
    /// Outer: [`Error::UnsupportedVersion`] for an older broker; the request error if no
    /// controller answered. Per topic: the broker's error (UNKNOWN_TOPIC_ID, ...).
    ///
    /// # Cancel safety
    /// Not idempotent: a dropped call may have deleted some topics.
    pub async fn delete_topics_by_id(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Result<()>>> {
        let deadline = self.deadline();
        let ids = dedup(ids.iter().copied());
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let r = self
            .run_items(
                ApiKey::DeleteTopics,
                deadline,
                ids,
                |pending, refresh| async move {
                    let node = self.controller_node(refresh).await?;
                    let (v, resp) = self
                        .client
                        .send_built(
                            node,
                            Purpose::Admin,
                            Some(VersionRange::new(6, i16::MAX)),
                            |_| DeleteTopicsRequest {
                                timeout_ms: timeout_ms(deadline),
                                topics: pending
                                    .iter()
                                    .map(|id| DeleteTopicState {
                                        name: None,
                                        topic_id: *id,
                                        ..Default::default()
                                    })
                                    .collect(),
                                ..Default::default()
                            },
                        )
                        .await?;
                    Ok(resp
                        .responses
                        .iter()
                        .map(|r| {
                            let err =
                                Error::from_code(r.error_code, r.error_message.as_deref(), || {
                                    let c = ctx(ApiKey::DeleteTopics, v, node);
                                    match &r.name {
                                        Some(n) => c.with_topic(n.to_string(), None),
                                        None => c,
                                    }
                                });
                            (
                                r.topic_id,
                                Outcome::from_result(err.map_or(Ok(()), Err), CONTROLLER_RETRY),
                            )
                        })
                        .collect())
                },
            )
            .await?;
        self.client.invalidate_metadata();
        Ok(r)
    }

    /// Every topic of the cluster (internal ones only with `include_internal`), sorted by name,
    /// from a fresh Metadata request.
    ///
    /// # Errors
    /// The Metadata request's error if no broker answered within the deadline.
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn list_topics(&self, include_internal: bool) -> Result<Vec<TopicListing>> {
        let md = self.fetch_metadata(None, self.deadline()).await?;
        let mut out: Vec<TopicListing> = md
            .topics
            .values()
            .filter(|t| include_internal || !t.internal)
            .map(|t| TopicListing {
                name: t.name.clone(),
                id: (!t.id.is_zero()).then_some(t.id),
                internal: t.internal,
                partitions: t.partitions.len(),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Describes topics from a fresh Metadata request (not the client's cache): id, internal
    /// flag, and every partition's leader, leader epoch, replicas, in-sync and offline replicas.
    ///
    /// # Errors
    /// Outer: the Metadata request's error if no broker answered within the deadline. Per
    /// topic: UNKNOWN_TOPIC_OR_PARTITION, TOPIC_AUTHORIZATION_FAILED, INVALID_TOPIC_EXCEPTION...
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn describe_topics(
        &self,
        names: &[&str],
    ) -> Result<HashMap<String, Result<TopicInfo>>> {
        let names: Vec<String> = dedup(names.iter().map(|n| n.to_string()));
        if names.is_empty() {
            return Ok(HashMap::new());
        }
        let md = self.fetch_metadata(Some(&names), self.deadline()).await?;
        Ok(names
            .into_iter()
            .map(|n| {
                let r = match (md.topics.get(&n), md.topic_errors.get(&n)) {
                    (Some(t), _) => Ok((**t).clone()),
                    (None, code) => Err(Error::Broker {
                        code: code.copied().unwrap_or(ErrorCode::UnknownTopicOrPartition),
                        message: None,
                        context: super::api_ctx(ApiKey::Metadata).with_topic(&n, None),
                    }),
                };
                (n, r)
            })
            .collect())
    }

    /// Grows topics to `new_total` partitions each (or, with `validate_only`, only checks).
    /// After success the call waits, within its deadline, until metadata shows the new
    /// partitions with leaders.
    ///
    /// # Errors
    /// Outer: the request error if no controller answered. Per topic: INVALID_PARTITIONS (not
    /// more than now), UNKNOWN_TOPIC_OR_PARTITION, ...
    ///
    /// # Cancel safety
    /// Not idempotent: a dropped call may have grown some topics.
    pub async fn create_partitions(
        &self,
        topics: &[(&str, i32)],
        validate_only: bool,
    ) -> Result<HashMap<String, Result<()>>> {
        let counts: HashMap<String, i32> =
            topics.iter().map(|(t, n)| (t.to_string(), *n)).collect();
        if counts.is_empty() {
            return Ok(HashMap::new());
        }
        let deadline = self.deadline();
        let names: Vec<String> = counts.keys().cloned().collect();
        let counts = &counts;
        let results = self
            .run_items(
                ApiKey::CreatePartitions,
                deadline,
                names,
                |pending, refresh| async move {
                    let node = self.controller_node(refresh).await?;
                    let (v, resp) = self
                        .client
                        .send_built(node, Purpose::Admin, None, |_| CreatePartitionsRequest {
                            topics: pending
                                .iter()
                                .filter_map(|n| {
                                    Some(CreatePartitionsTopic {
                                        name: n.as_str().into(),
                                        count: *counts.get(n)?,
                                        assignments: None,
                                        ..Default::default()
                                    })
                                })
                                .collect(),
                            timeout_ms: timeout_ms(deadline),
                            validate_only,
                            ..Default::default()
                        })
                        .await?;
                    Ok(resp
                        .results
                        .iter()
                        .map(|r| {
                            let name = r.name.to_string();
                            let err =
                                Error::from_code(r.error_code, r.error_message.as_deref(), || {
                                    ctx(ApiKey::CreatePartitions, v, node).with_topic(&name, None)
                                });
                            (
                                name,
                                Outcome::from_result(err.map_or(Ok(()), Err), CONTROLLER_RETRY),
                            )
                        })
                        .collect())
                },
            )
            .await?;
        if !validate_only {
            let expect: Vec<(String, Option<i32>)> = results
                .iter()
                .filter(|(_, r)| r.is_ok())
                .map(|(n, _)| (n.clone(), counts.get(n).copied()))
                .collect();
            self.wait_for_topics(&expect, deadline).await;
        }
        Ok(results)
    }

    /// The controller, after refreshing metadata when `refresh` (the last attempt said
    /// NOT_CONTROLLER or lost its connection).
    pub(super) async fn controller_node(&self, refresh: bool) -> Result<Node> {
        if refresh {
            self.client.refresh_metadata(Some(&[])).await?;
        }
        self.client.controller().await
    }

    /// A Metadata request for `topics` (every topic with `None`) to any broker, retried until
    /// `deadline`, not installed in the client's cache.
    pub(super) async fn fetch_metadata(
        &self,
        topics: Option<&[String]>,
        deadline: Instant,
    ) -> Result<Metadata> {
        self.client
            .retry_until(deadline, ApiKey::Metadata, |c| async move {
                let node = c.any_broker();
                let (_, resp) = c
                    .send_built(node, Purpose::Admin, None, |v| MetadataRequest {
                        topics: match topics {
                            None if v == 0 => Some(Vec::new()),
                            None => None,
                            Some(ts) => Some(
                                ts.iter()
                                    .map(|t| MetadataRequestTopic {
                                        name: Some(t.as_str().into()),
                                        ..Default::default()
                                    })
                                    .collect(),
                            ),
                        },
                        // The field exists from v4; before, its default (true) must be kept.
                        allow_auto_topic_creation: v < 4,
                        ..Default::default()
                    })
                    .await?;
                Ok(Metadata::from_response(&resp, None))
            })
            .await
    }

    /// Waits (until `deadline`) for metadata to show each topic with at least the given number
    /// of partitions, each with a leader. Gives up quietly: the change itself succeeded.
    async fn wait_for_topics(&self, expect: &[(String, Option<i32>)], deadline: Instant) {
        if expect.is_empty() {
            return;
        }
        let names: Vec<String> = expect.iter().map(|(n, _)| n.clone()).collect();
        let mut pause = Duration::from_millis(10);
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(remaining, self.client.refresh_metadata(Some(&names))).await
            {
                Ok(Ok(md)) => {
                    let ready = expect.iter().all(|(n, count)| {
                        md.topic(n).is_some_and(|t| {
                            let enough = match count {
                                Some(c) => {
                                    usize::try_from(*c).is_ok_and(|c| t.partitions.len() >= c)
                                }
                                None => !t.partitions.is_empty(),
                            };
                            enough && t.partitions.iter().all(|p| p.leader >= 0)
                        })
                    });
                    if ready {
                        return;
                    }
                }
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "metadata refresh while waiting for topics")
                }
                Err(_) => {}
            }
            if Instant::now() + pause >= deadline {
                tracing::debug!(topics = ?names, "topics not yet visible with leaders at the deadline");
                return;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }
}

/// The items in order, without repeats.
pub(super) fn dedup<K: Eq + std::hash::Hash + Clone>(items: impl Iterator<Item = K>) -> Vec<K> {
    let mut seen = HashSet::new();
    items.filter(|k| seen.insert(k.clone())).collect()
}
