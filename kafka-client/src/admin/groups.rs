//! Consumer groups: list, describe, delete, and their committed offsets.

use std::collections::HashMap;

use bytes::Bytes;
use kafka_proto::messages::consumer_protocol_assignment::ConsumerProtocolAssignment;
use kafka_proto::messages::delete_groups_request::DeleteGroupsRequest;
use kafka_proto::messages::describe_groups_request::DescribeGroupsRequest;
use kafka_proto::messages::describe_groups_response::DescribedGroup;
use kafka_proto::messages::list_groups_request::ListGroupsRequest;
use kafka_proto::messages::offset_commit_request::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_proto::messages::offset_delete_request::{
    OffsetDeleteRequest, OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_proto::messages::offset_fetch_request::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_proto::{ApiKey, Decoder, ErrorCode, Message, VersionRange};

use super::{
    ctx, fan_out, is_coordinator_error, Admin, Outcome, TopicPartition, COORDINATOR_RETRY,
};
use crate::{Client, Error, Node, Purpose, Result};

/// FindCoordinator key type of groups.
const GROUP: i8 = 0;

/// One group of [`Admin::list_groups`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupListing {
    /// The group id.
    pub group_id: String,
    /// `consumer` for consumer groups, `connect` for Connect workers, empty for groups that
    /// only commit offsets.
    pub protocol_type: String,
    /// The state (`Empty`, `Stable`, ...), reported by ListGroups v4+ (Kafka 2.6+).
    pub state: Option<String>,
    /// The node id of the group's coordinator.
    pub coordinator: i32,
}

/// The answer of [`Admin::list_groups`]: the groups of every broker that answered, and the
/// errors of those that did not.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct GroupListings {
    /// Every group found, sorted by id.
    pub groups: Vec<GroupListing>,
    /// Brokers that could not be asked (node id, error): their groups are missing.
    pub errors: Vec<(i32, Error)>,
}

/// A member's assignment as [`Admin::describe_groups`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemberAssignment {
    /// A consumer group member's partitions (decoded `ConsumerProtocolAssignment`).
    Consumer {
        /// `(topic, partitions)`.
        partitions: Vec<(String, Vec<i32>)>,
        /// The assignor's user data.
        user_data: Option<Bytes>,
    },
    /// The bytes as the broker sent them (other protocol types, or bytes that do not decode).
    Raw(Bytes),
}

/// One member of a described group.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberDescription {
    /// The member id the coordinator gave.
    pub member_id: String,
    /// The static membership id (KIP-345), if any.
    pub group_instance_id: Option<String>,
    /// The member's `client.id`.
    pub client_id: String,
    /// The member's host as the coordinator saw it.
    pub client_host: String,
    /// The member's assignment.
    pub assignment: MemberAssignment,
}

/// A described group.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupDescription {
    /// The group id.
    pub group_id: String,
    /// The state: `Empty`, `PreparingRebalance`, `CompletingRebalance`, `Stable`.
    pub state: String,
    /// The protocol type (`consumer` for consumer groups).
    pub protocol_type: String,
    /// The chosen protocol (the assignor for consumer groups, `range`, ...).
    pub protocol: String,
    /// The members.
    pub members: Vec<MemberDescription>,
    /// The node id of the group's coordinator.
    pub coordinator: i32,
}

/// A committed offset of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommittedOffset {
    /// The offset.
    pub offset: i64,
    /// The leader epoch committed with it (OffsetFetch v5+), if any.
    pub leader_epoch: Option<i32>,
    /// The metadata string committed with it.
    pub metadata: Option<String>,
}

/// The outcome of a group-level error code: coordinator errors forget the cached coordinator
/// and retry; the rest are final.
fn group_error<T>(client: &Client, group: &str, e: Error) -> Outcome<T> {
    if e.code().is_some_and(|c| COORDINATOR_RETRY.contains(&c)) {
        client.forget_coordinator(GROUP, group);
    }
    Outcome::from_error(e, COORDINATOR_RETRY)
}

/// Explains the errors a broker gives an admin commit to a group with active members.
fn commit_message(code: i16) -> Option<&'static str> {
    match ErrorCode::from_i16(code) {
        ErrorCode::UnknownMemberId
        | ErrorCode::IllegalGeneration
        | ErrorCode::RebalanceInProgress => {
            Some("offsets can only be altered while the group has no active members")
        }
        _ => None,
    }
}

impl Admin {
    /// Lists the groups of every broker (each coordinates some), merged. Brokers are asked
    /// concurrently, each retried until the deadline. `states` filters by state (`Empty`,
    /// `Stable`, ...; needs ListGroups v4, Kafka 2.6+).
    ///
    /// # Errors
    /// Outer: the metadata error when the brokers cannot be listed, or the first broker's error
    /// when no broker answered. Brokers that failed while others answered are listed in
    /// [`GroupListings::errors`] ([`Error::UnsupportedVersion`] there for a state filter an
    /// old broker cannot apply).
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn list_groups(&self, states: Option<&[&str]>) -> Result<GroupListings> {
        let deadline = self.deadline();
        let md = self.client.refresh_metadata(Some(&[])).await?;
        let mut ids: Vec<i32> = md.brokers.keys().copied().collect();
        ids.sort_unstable();
        let filter: Vec<String> = states
            .unwrap_or_default()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut set = tokio::task::JoinSet::new();
        for id in ids {
            let client = self.client.clone();
            let filter = filter.clone();
            set.spawn(async move {
                let r = client
                    .retry_until(deadline, ApiKey::ListGroups, |c| {
                        let filter = filter.clone();
                        async move { list_groups_at(c, id, filter).await }
                    })
                    .await;
                (id, r)
            });
        }
        let mut groups: HashMap<String, GroupListing> = HashMap::new();
        let mut errors = Vec::new();
        let mut answered = false;
        while let Some(joined) = set.join_next().await {
            let Ok((id, r)) = joined else { continue };
            match r {
                Ok(gs) => {
                    answered = true;
                    for g in gs {
                        groups.insert(g.group_id.clone(), g);
                    }
                }
                Err(e) => errors.push((id, e)),
            }
        }
        errors.sort_by_key(|(id, _)| *id);
        if !answered {
            if let Some((_, e)) = errors.into_iter().next() {
                return Err(e);
            }
            return Ok(GroupListings {
                groups: Vec::new(),
                errors: Vec::new(),
            });
        }
        let mut groups: Vec<GroupListing> = groups.into_values().collect();
        groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Ok(GroupListings { groups, errors })
    }

    /// Describes groups, asking each group's coordinator (groups sharing one in one request).
    /// A group that does not exist is GROUP_ID_NOT_FOUND (the broker reports it as `Dead`).
    /// Consumer group assignments are decoded.
    ///
    /// # Errors
    /// Outer: only if nothing could be asked. Per group: GROUP_ID_NOT_FOUND,
    /// GROUP_AUTHORIZATION_FAILED, ..., or [`Error::Timeout`] when the coordinator could not
    /// be found or stayed unavailable.
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn describe_groups(
        &self,
        ids: &[&str],
    ) -> Result<HashMap<String, Result<GroupDescription>>> {
        let groups = super::topics::dedup(ids.iter().map(|g| g.to_string()));
        if groups.is_empty() {
            return Ok(HashMap::new());
        }
        self.run_items(
            ApiKey::DescribeGroups,
            self.deadline(),
            groups,
            |pending, _| async move {
                let (by_node, mut out) = self.by_coordinator(pending).await;
                let jobs = by_node
                    .into_iter()
                    .map(|(node, gs)| {
                        (
                            gs.clone(),
                            describe_groups_at(self.client.clone(), node, gs),
                        )
                    })
                    .collect();
                out.extend(fan_out(jobs, COORDINATOR_RETRY).await);
                Ok(out)
            },
        )
        .await
    }

    /// Deletes groups (they must be empty), at each group's coordinator.
    ///
    /// # Errors
    /// Outer: only if nothing could be asked. Per group: NON_EMPTY_GROUP,
    /// GROUP_ID_NOT_FOUND, GROUP_AUTHORIZATION_FAILED, ..., or [`Error::Timeout`].
    ///
    /// # Cancel safety
    /// Idempotent; a dropped call may have deleted some groups.
    pub async fn delete_groups(&self, ids: &[&str]) -> Result<HashMap<String, Result<()>>> {
        let groups = super::topics::dedup(ids.iter().map(|g| g.to_string()));
        if groups.is_empty() {
            return Ok(HashMap::new());
        }
        self.run_items(
            ApiKey::DeleteGroups,
            self.deadline(),
            groups,
            |pending, _| async move {
                let (by_node, mut out) = self.by_coordinator(pending).await;
                let jobs = by_node
                    .into_iter()
                    .map(|(node, gs)| (gs.clone(), delete_groups_at(self.client.clone(), node, gs)))
                    .collect();
                out.extend(fan_out(jobs, COORDINATOR_RETRY).await);
                Ok(out)
            },
        )
        .await
    }

    /// The committed offsets of a group: of the given partitions (a partition without a
    /// committed offset is `Ok(None)`), or with `None` of every partition the group committed.
    ///
    /// # Errors
    /// Outer: a group-level error (GROUP_AUTHORIZATION_FAILED, GROUP_ID_NOT_FOUND from newer
    /// brokers, ...), or [`Error::Timeout`] when the coordinator stayed unavailable. Per
    /// partition: UNKNOWN_TOPIC_OR_PARTITION, UNSTABLE_OFFSET_COMMIT, ...
    ///
    /// # Cancel safety
    /// Cancel-safe.
    pub async fn list_group_offsets(
        &self,
        group: &str,
        partitions: Option<&[(&str, i32)]>,
    ) -> Result<HashMap<TopicPartition, Result<Option<CommittedOffset>>>> {
        let topics: Option<Vec<(String, Vec<i32>)>> =
            partitions.map(|ps| group_by_topic(ps.iter().map(|(t, p)| (*t, *p))));
        // "All partitions" (null topics) exists from v2.
        let limit = topics.is_none().then_some(VersionRange::new(2, i16::MAX));
        let topics = &topics;
        self.client
            .retry_until(self.deadline(), ApiKey::OffsetFetch, |c| async move {
                let node = c.coordinator(GROUP, group).await?;
                let (v, resp) = c
                    .send_built(node, Purpose::Admin, limit, |v| {
                        if v >= 8 {
                            OffsetFetchRequest {
                                groups: vec![OffsetFetchRequestGroup {
                                    group_id: group.into(),
                                    topics: topics.as_ref().map(|ts| {
                                        ts.iter()
                                            .map(|(t, ps)| OffsetFetchRequestTopics {
                                                name: t.as_str().into(),
                                                partition_indexes: ps.iter().copied().collect(),
                                                ..Default::default()
                                            })
                                            .collect()
                                    }),
                                    ..Default::default()
                                }],
                                ..Default::default()
                            }
                        } else {
                            OffsetFetchRequest {
                                group_id: group.into(),
                                topics: topics.as_ref().map(|ts| {
                                    ts.iter()
                                        .map(|(t, ps)| OffsetFetchRequestTopic {
                                            name: t.as_str().into(),
                                            partition_indexes: ps.iter().copied().collect(),
                                            ..Default::default()
                                        })
                                        .collect()
                                }),
                                ..Default::default()
                            }
                        }
                    })
                    .await?;
                let ctx = || ctx(ApiKey::OffsetFetch, v, node);
                // (topic, partition, offset, epoch, metadata, error) in either response shape.
                let mut rows: Vec<(String, i32, i64, i32, Option<String>, i16)> = Vec::new();
                let top = if v >= 8 {
                    let g = resp
                        .groups
                        .iter()
                        .find(|g| &*g.group_id == group)
                        .ok_or_else(|| {
                            Error::protocol(ctx(), format!("the response has no group {group}"))
                        })?;
                    for t in &g.topics {
                        for p in &t.partitions {
                            rows.push((
                                t.name.to_string(),
                                p.partition_index,
                                p.committed_offset,
                                p.committed_leader_epoch,
                                p.metadata.as_ref().map(|m| m.to_string()),
                                p.error_code,
                            ));
                        }
                    }
                    g.error_code
                } else {
                    for t in &resp.topics {
                        for p in &t.partitions {
                            rows.push((
                                t.name.to_string(),
                                p.partition_index,
                                p.committed_offset,
                                p.committed_leader_epoch,
                                p.metadata.as_ref().map(|m| m.to_string()),
                                p.error_code,
                            ));
                        }
                    }
                    resp.error_code
                };
                // v0-1 report coordinator errors per partition.
                let coordinator_error = if is_coordinator_error(top) {
                    Some(top)
                } else {
                    rows.iter().map(|r| r.5).find(|c| is_coordinator_error(*c))
                };
                if let Some(code) = coordinator_error {
                    c.forget_coordinator(GROUP, group);
                    return Err(Error::from_code(code, None, ctx)
                        .unwrap_or_else(|| Error::protocol(ctx(), "coordinator error")));
                }
                if let Some(e) = Error::from_code(top, None, ctx) {
                    return Err(e);
                }
                Ok(rows
                    .into_iter()
                    .map(|(t, p, offset, epoch, metadata, code)| {
                        let r = match Error::from_code(code, None, || ctx().with_topic(&t, Some(p)))
                        {
                            Some(e) => Err(e),
                            None if offset < 0 => Ok(None),
                            None => Ok(Some(CommittedOffset {
                                offset,
                                leader_epoch: (v >= 5 && epoch >= 0).then_some(epoch),
                                metadata,
                            })),
                        };
                        ((t, p), r)
                    })
                    .collect())
            })
            .await
    }

    /// Commits offsets for a group as an admin: `(topic, partition, offset, metadata)` each,
    /// with no member id and generation -1 (what Kafka's AdminClient does). Only a group
    /// without active members (empty, or not existing yet) accepts this.
    ///
    /// # Errors
    /// Outer: [`Error::Timeout`] when the coordinator stayed unavailable. Per partition:
    /// UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION / REBALANCE_IN_PROGRESS when the group has
    /// active members (with a message saying so), UNKNOWN_TOPIC_OR_PARTITION,
    /// OFFSET_METADATA_TOO_LARGE, ...
    ///
    /// # Cancel safety
    /// Idempotent; a dropped call may have committed the offsets.
    pub async fn alter_group_offsets(
        &self,
        group: &str,
        offsets: &[(&str, i32, i64, Option<&str>)],
    ) -> Result<HashMap<TopicPartition, Result<()>>> {
        if offsets.is_empty() {
            return Ok(HashMap::new());
        }
        let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
        for (t, p, o, m) in offsets {
            let part = OffsetCommitRequestPartition {
                partition_index: *p,
                committed_offset: *o,
                committed_leader_epoch: -1,
                committed_metadata: m.map(Into::into),
                ..Default::default()
            };
            match topics.iter_mut().find(|x| &*x.name == *t) {
                Some(x) => x.partitions.push(part),
                None => topics.push(OffsetCommitRequestTopic {
                    name: (*t).into(),
                    partitions: vec![part],
                    ..Default::default()
                }),
            }
        }
        let topics = &topics;
        self.client
            .retry_until(self.deadline(), ApiKey::OffsetCommit, |c| async move {
                let node = c.coordinator(GROUP, group).await?;
                let (v, resp) = c
                    .send_built(node, Purpose::Admin, None, |_| OffsetCommitRequest {
                        group_id: group.into(),
                        generation_id_or_member_epoch: -1,
                        member_id: "".into(),
                        group_instance_id: None,
                        retention_time_ms: -1,
                        topics: topics.clone(),
                        ..Default::default()
                    })
                    .await?;
                let ctx = || ctx(ApiKey::OffsetCommit, v, node);
                let mut out = HashMap::new();
                for t in &resp.topics {
                    for p in &t.partitions {
                        if is_coordinator_error(p.error_code) {
                            c.forget_coordinator(GROUP, group);
                            return Err(Error::from_code(p.error_code, None, ctx)
                                .unwrap_or_else(|| Error::protocol(ctx(), "coordinator error")));
                        }
                        let name = t.name.to_string();
                        let r = match Error::from_code(
                            p.error_code,
                            commit_message(p.error_code),
                            || ctx().with_topic(&name, Some(p.partition_index)),
                        ) {
                            Some(e) => Err(e),
                            None => Ok(()),
                        };
                        out.insert((name, p.partition_index), r);
                    }
                }
                Ok(out)
            })
            .await
    }

    /// Deletes committed offsets of a group (OffsetDelete, Kafka 2.4+). The group must not be
    /// subscribed to the topics.
    ///
    /// # Errors
    /// Outer: a group-level error (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP,
    /// GROUP_AUTHORIZATION_FAILED, ...), [`Error::UnsupportedVersion`] for older brokers, or
    /// [`Error::Timeout`]. Per partition: GROUP_SUBSCRIBED_TO_TOPIC,
    /// UNKNOWN_TOPIC_OR_PARTITION, ...
    ///
    /// # Cancel safety
    /// Idempotent; a dropped call may have deleted the offsets.
    pub async fn delete_group_offsets(
        &self,
        group: &str,
        partitions: &[(&str, i32)],
    ) -> Result<HashMap<TopicPartition, Result<()>>> {
        if partitions.is_empty() {
            return Ok(HashMap::new());
        }
        let topics = group_by_topic(partitions.iter().map(|(t, p)| (*t, *p)));
        let topics = &topics;
        self.client
            .retry_until(self.deadline(), ApiKey::OffsetDelete, |c| async move {
                let node = c.coordinator(GROUP, group).await?;
                let (v, resp) = c
                    .send_built(node, Purpose::Admin, None, |_| OffsetDeleteRequest {
                        group_id: group.into(),
                        topics: topics
                            .iter()
                            .map(|(t, ps)| OffsetDeleteRequestTopic {
                                name: t.as_str().into(),
                                partitions: ps
                                    .iter()
                                    .map(|p| OffsetDeleteRequestPartition {
                                        partition_index: *p,
                                    })
                                    .collect(),
                            })
                            .collect(),
                    })
                    .await?;
                let ctx = || ctx(ApiKey::OffsetDelete, v, node);
                if is_coordinator_error(resp.error_code) {
                    c.forget_coordinator(GROUP, group);
                }
                if let Some(e) = Error::from_code(resp.error_code, None, ctx) {
                    return Err(e);
                }
                let mut out = HashMap::new();
                for t in &resp.topics {
                    for p in &t.partitions {
                        let name = t.name.to_string();
                        let r = match Error::from_code(p.error_code, None, || {
                            ctx().with_topic(&name, Some(p.partition_index))
                        }) {
                            Some(e) => Err(e),
                            None => Ok(()),
                        };
                        out.insert((name, p.partition_index), r);
                    }
                }
                Ok(out)
            })
            .await
    }

    /// Groups by coordinator; groups whose coordinator cannot be found are answered.
    async fn by_coordinator<T>(
        &self,
        groups: Vec<String>,
    ) -> (HashMap<Node, Vec<String>>, Vec<(String, Outcome<T>)>) {
        let mut by_node: HashMap<Node, Vec<String>> = HashMap::new();
        let mut out = Vec::new();
        for g in groups {
            match self.client.coordinator(GROUP, &g).await {
                Ok(node) => by_node.entry(node).or_default().push(g),
                Err(e) => out.push((g, Outcome::from_error(e, COORDINATOR_RETRY))),
            }
        }
        (by_node, out)
    }
}

/// `(topic, partitions)` in first-seen topic order.
fn group_by_topic<'a>(items: impl Iterator<Item = (&'a str, i32)>) -> Vec<(String, Vec<i32>)> {
    let mut out: Vec<(String, Vec<i32>)> = Vec::new();
    for (t, p) in items {
        match out.iter_mut().find(|(x, _)| x == t) {
            Some((_, ps)) => {
                if !ps.contains(&p) {
                    ps.push(p);
                }
            }
            None => out.push((t.to_string(), vec![p])),
        }
    }
    out
}

async fn list_groups_at(client: Client, id: i32, filter: Vec<String>) -> Result<Vec<GroupListing>> {
    let node = Node::Id(id);
    let limit = (!filter.is_empty()).then_some(VersionRange::new(4, i16::MAX));
    let (v, resp) = client
        .send_built(node, Purpose::Admin, limit, |v| ListGroupsRequest {
            states_filter: if v >= 4 {
                filter.iter().map(|s| s.as_str().into()).collect()
            } else {
                Vec::new()
            },
            ..Default::default()
        })
        .await?;
    if let Some(e) = Error::from_code(resp.error_code, None, || ctx(ApiKey::ListGroups, v, node)) {
        return Err(e);
    }
    Ok(resp
        .groups
        .iter()
        .map(|g| GroupListing {
            group_id: g.group_id.to_string(),
            protocol_type: g.protocol_type.to_string(),
            state: (v >= 4).then(|| g.group_state.to_string()),
            coordinator: id,
        })
        .collect())
}

async fn describe_groups_at(
    client: Client,
    node: Node,
    groups: Vec<String>,
) -> Result<Vec<(String, Outcome<GroupDescription>)>> {
    let (v, resp) = client
        .send_built(node, Purpose::Admin, None, |_| DescribeGroupsRequest {
            groups: groups.iter().map(|g| g.as_str().into()).collect(),
            ..Default::default()
        })
        .await?;
    Ok(resp
        .groups
        .iter()
        .map(|g| {
            let id = g.group_id.to_string();
            let err = Error::from_code(g.error_code, None, || ctx(ApiKey::DescribeGroups, v, node));
            let o = match err {
                Some(e) => group_error(&client, &id, e),
                None if &*g.group_state == "Dead" => Outcome::Done(Err(Error::Broker {
                    code: ErrorCode::GroupIdNotFound,
                    message: Some(format!("group {id} does not exist")),
                    context: ctx(ApiKey::DescribeGroups, v, node),
                })),
                None => Outcome::Done(Ok(description(g, node))),
            };
            (id, o)
        })
        .collect())
}

fn description(g: &DescribedGroup, node: Node) -> GroupDescription {
    GroupDescription {
        group_id: g.group_id.to_string(),
        state: g.group_state.to_string(),
        protocol_type: g.protocol_type.to_string(),
        protocol: g.protocol_data.to_string(),
        members: g
            .members
            .iter()
            .map(|m| MemberDescription {
                member_id: m.member_id.to_string(),
                group_instance_id: m.group_instance_id.as_ref().map(|s| s.to_string()),
                client_id: m.client_id.to_string(),
                client_host: m.client_host.to_string(),
                assignment: decode_assignment(&g.protocol_type, &m.member_assignment),
            })
            .collect(),
        coordinator: match node {
            Node::Id(id) => id,
            Node::Bootstrap(_) => -1,
        },
    }
}

/// A consumer assignment is an int16 version followed by `ConsumerProtocolAssignment` at that
/// version; newer versions only add fields at the end, so they are read as the newest known.
fn decode_assignment(protocol_type: &str, bytes: &Bytes) -> MemberAssignment {
    if protocol_type == "consumer" {
        if bytes.is_empty() {
            return MemberAssignment::Consumer {
                partitions: Vec::new(),
                user_data: None,
            };
        }
        if let (Some(hi), Some(lo)) = (bytes.first(), bytes.get(1)) {
            let version = i16::from_be_bytes([*hi, *lo]);
            if version >= 0 {
                let body = bytes.slice(2..);
                let mut d = Decoder::new(&body);
                let known = ConsumerProtocolAssignment::VERSIONS.max;
                if let Ok(a) = ConsumerProtocolAssignment::decode(&mut d, version.min(known)) {
                    return MemberAssignment::Consumer {
                        partitions: a
                            .assigned_partitions
                            .iter()
                            .map(|tp| (tp.topic.to_string(), tp.partitions.to_vec()))
                            .collect(),
                        user_data: a.user_data,
                    };
                }
            }
        }
    }
    MemberAssignment::Raw(bytes.clone())
}

async fn delete_groups_at(
    client: Client,
    node: Node,
    groups: Vec<String>,
) -> Result<Vec<(String, Outcome<()>)>> {
    let (v, resp) = client
        .send_built(node, Purpose::Admin, None, |_| DeleteGroupsRequest {
            groups_names: groups.iter().map(|g| g.as_str().into()).collect(),
            ..Default::default()
        })
        .await?;
    Ok(resp
        .results
        .iter()
        .map(|r| {
            let id = r.group_id.to_string();
            let o =
                match Error::from_code(r.error_code, None, || ctx(ApiKey::DeleteGroups, v, node)) {
                    Some(e) => group_error(&client, &id, e),
                    None => Outcome::Done(Ok(())),
                };
            (id, o)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_proto::messages::consumer_protocol_assignment::TopicPartition as Tp;

    #[test]
    fn consumer_assignments_decode_and_others_stay_raw() {
        let a = ConsumerProtocolAssignment {
            assigned_partitions: vec![Tp {
                topic: "t".into(),
                partitions: [0, 2].into_iter().collect(),
            }],
            user_data: None,
        };
        let mut bytes = vec![0u8, 1];
        bytes.extend_from_slice(&a.to_bytes(1).unwrap());
        let bytes = Bytes::from(bytes);
        assert_eq!(
            decode_assignment("consumer", &bytes),
            MemberAssignment::Consumer {
                partitions: vec![("t".to_string(), vec![0, 2])],
                user_data: None
            }
        );
        assert_eq!(
            decode_assignment("connect", &bytes),
            MemberAssignment::Raw(bytes.clone())
        );
        let short = Bytes::from_static(&[0]);
        assert_eq!(
            decode_assignment("consumer", &short),
            MemberAssignment::Raw(short.clone())
        );
        let junk = Bytes::from_static(&[0, 0, 0, 0, 0, 9]);
        assert_eq!(
            decode_assignment("consumer", &junk),
            MemberAssignment::Raw(junk.clone())
        );
    }
}
