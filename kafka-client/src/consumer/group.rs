//! Classic consumer groups: FindCoordinator, JoinGroup (with MEMBER_ID_REQUIRED, KIP-394),
//! SyncGroup (the leader runs the agreed assignor), heartbeats, eager or cooperative (KIP-429)
//! rebalances, static membership (KIP-345), LeaveGroup, auto-commit, and the commit and
//! committed-offset requests.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_proto::messages::heartbeat_request::HeartbeatRequest;
use kafka_proto::messages::join_group_request::{JoinGroupRequest, JoinGroupRequestProtocol};
use kafka_proto::messages::leave_group_request::{LeaveGroupRequest, MemberIdentity};
use kafka_proto::messages::offset_commit_request::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_proto::messages::offset_fetch_request::{
    OffsetFetchRequest, OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_proto::messages::sync_group_request::{SyncGroupRequest, SyncGroupRequestAssignment};
use kafka_proto::{ApiKey, ErrorCode, Request};

use super::assignor::{Assignor, MemberSubscription, RebalanceProtocol};
use super::protocol::{self, Assignment, Subscription};
use super::record::TopicPartition;
use super::{since_last_poll, Consumer, Inner, RebalanceEvent, Subscription as Sub};
use crate::client::Purpose;
use crate::error::{Context, Error, Result};

/// This member's place in the group.
#[derive(Debug, Clone)]
pub(crate) struct Membership {
    pub(crate) member_id: String,
    pub(crate) generation: i32,
    pub(crate) protocol: Option<String>,
    /// Partitions this member owns (its last assignment).
    pub(crate) owned: Vec<TopicPartition>,
}

impl Default for Membership {
    fn default() -> Self {
        Membership {
            member_id: String::new(),
            generation: -1,
            protocol: None,
            owned: Vec::new(),
        }
    }
}

/// `^(?:pattern)$`.
pub(crate) fn compile_pattern(p: &str) -> Result<regex::Regex> {
    regex::Regex::new(&format!("^(?:{p})$"))
        .map_err(|e| Error::InvalidArgument(format!("invalid topic pattern `{p}`: {e}")))
}

fn group_id(inner: &Inner) -> Result<&str> {
    inner
        .config
        .group_id
        .as_deref()
        .ok_or_else(|| Error::Config {
            key: "group.id".into(),
            detail: "needed for group membership and commits".into(),
        })
}

fn membership(inner: &Inner) -> Membership {
    inner
        .group
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

fn ctx(api: ApiKey, v: i16) -> Context {
    Context::default().with_api(api, v)
}

fn is_coordinator_error(code: Option<ErrorCode>) -> bool {
    matches!(
        code,
        Some(
            ErrorCode::NotCoordinator
                | ErrorCode::CoordinatorNotAvailable
                | ErrorCode::CoordinatorLoadInProgress
        )
    )
}

/// Sends a group request to the coordinator with a timeout of our choosing (JoinGroup waits
/// for the whole rebalance).
async fn to_coordinator<R: Request>(
    inner: &Inner,
    timeout: Duration,
    build: impl FnOnce(i16) -> R,
) -> Result<(i16, R::Response)> {
    let g = group_id(inner)?;
    let node = inner.client.coordinator(0, g).await?;
    let conn = inner.client.connection(node, Purpose::Group).await?;
    let v = conn.version_for::<R>(None)?;
    let req = build(v);
    match conn.send_at(&req, v, timeout).await {
        Ok(r) => Ok((v, r)),
        Err(e) => {
            inner.client.forget_coordinator(0, g);
            Err(e)
        }
    }
}

async fn hook(inner: &Arc<Inner>, event: RebalanceEvent) {
    let listener = inner
        .listener
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if let Some(l) = listener {
        l(event, Consumer::weak_handle(inner)).await;
    }
}

fn cooperative(inner: &Inner) -> bool {
    !inner.config.assignors.is_empty()
        && inner
            .config
            .assignors
            .iter()
            .all(|a| a.protocols() == RebalanceProtocol::Cooperative)
}

/// The topics the subscription covers now.
async fn subscribed_topics(inner: &Arc<Inner>) -> Result<Vec<String>> {
    let sub = inner
        .state
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .subscription
        .clone();
    match sub {
        Sub::Topics(t) => {
            let mut t = t;
            t.sort();
            t.dedup();
            Ok(t)
        }
        Sub::Pattern(p) => {
            let re = compile_pattern(&p)?;
            let md = inner.client.refresh_metadata(None).await?;
            let mut t: Vec<String> = md
                .topics
                .values()
                .filter(|t| !t.internal && re.is_match(&t.name))
                .map(|t| t.name.clone())
                .collect();
            t.sort();
            Ok(t)
        }
        _ => Ok(Vec::new()),
    }
}

/// The group task.
pub(crate) async fn run(inner: Arc<Inner>) {
    let mut backoff_attempt = 0u32;
    let mut topics_seen: Vec<String> = Vec::new();
    loop {
        if inner.stop.load(Ordering::Acquire) || inner.closed.load(Ordering::Acquire) {
            return;
        }
        let topics = match subscribed_topics(&inner).await {
            Ok(t) => t,
            Err(e) => {
                tracing::debug!(error = %e, "cannot evaluate the subscription");
                pause(&inner, &mut backoff_attempt).await;
                continue;
            }
        };
        topics_seen.clone_from(&topics);
        match join_and_sync(&inner, &topics).await {
            Ok(rejoin_now) => {
                backoff_attempt = 0;
                if rejoin_now {
                    continue;
                }
            }
            Err(e) => {
                if fatal(&e) {
                    tracing::warn!(error = %e, "group membership failed");
                    let mut st = inner.state.lock().unwrap_or_else(|p| p.into_inner());
                    st.errors.push_back(e);
                    drop(st);
                    inner.records_ready.notify_waiters();
                    return;
                }
                tracing::debug!(error = %e, "join failed; retrying");
                pause(&inner, &mut backoff_attempt).await;
                continue;
            }
        }
        // Member of a stable group: heartbeats, auto-commit, subscription changes.
        stable(&inner, &topics_seen).await;
    }
}

fn fatal(e: &Error) -> bool {
    matches!(
        e.code(),
        Some(
            ErrorCode::GroupAuthorizationFailed
                | ErrorCode::FencedInstanceId
                | ErrorCode::InvalidSessionTimeout
                | ErrorCode::InconsistentGroupProtocol
                | ErrorCode::GroupMaxSizeReached
                | ErrorCode::UnsupportedVersion
        )
    ) || matches!(e, Error::Config { .. } | Error::UnsupportedVersion { .. })
}

async fn pause(inner: &Inner, attempt: &mut u32) {
    *attempt += 1;
    let cfg = inner.client.config();
    let d = crate::client::backoff(cfg.retry_backoff, cfg.retry_backoff_max, *attempt);
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = inner.group_wake.notified() => {}
    }
}

/// Revokes partitions: hook, auto-commit, then drop them from the fetch state.
async fn revoke(inner: &Arc<Inner>, tps: Vec<TopicPartition>, lost: bool) {
    if tps.is_empty() {
        return;
    }
    if lost {
        hook(inner, RebalanceEvent::Lost(tps.clone())).await;
    } else {
        if inner.config.enable_auto_commit {
            let c = Consumer::weak_handle(inner);
            let offsets: Vec<_> = c
                .consumed_offsets()
                .into_iter()
                .filter(|(tp, ..)| tps.contains(tp))
                .collect();
            if let Err(e) = commit(inner, &offsets).await {
                tracing::warn!(error = %e, "commit before revocation failed");
            }
        }
        hook(inner, RebalanceEvent::Revoked(tps.clone())).await;
    }
    inner
        .state
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&tps);
    let mut g = inner.group.lock().unwrap_or_else(|p| p.into_inner());
    g.owned.retain(|tp| !tps.contains(tp));
}

fn group_tps(a: &Assignment) -> Vec<TopicPartition> {
    let mut v: Vec<TopicPartition> = a
        .partitions
        .iter()
        .flat_map(|(t, ps)| ps.iter().map(move |p| TopicPartition::new(t.clone(), *p)))
        .collect();
    v.sort();
    v.dedup();
    v
}

fn owned_as_pairs(owned: &[TopicPartition]) -> Vec<(String, Vec<i32>)> {
    let mut m: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for tp in owned {
        m.entry(tp.topic.clone()).or_default().push(tp.partition);
    }
    m.into_iter().collect()
}

/// One rebalance round. Returns whether to rejoin at once (cooperative second phase).
async fn join_and_sync(inner: &Arc<Inner>, topics: &[String]) -> Result<bool> {
    let gid = group_id(inner)?.to_owned();
    let coop = cooperative(inner);
    // Eager: give everything up before joining.
    if !coop {
        let owned = membership(inner).owned;
        revoke(inner, owned, false).await;
    }
    let instance = inner.config.group_instance_id.clone();
    let rebalance_timeout = inner.config.max_poll_interval;
    let session_timeout = inner.config.session_timeout;
    let m = membership(inner);
    let protocols: Vec<(String, bytes::Bytes)> = inner
        .config
        .assignors
        .iter()
        .map(|a| {
            let owned = owned_as_pairs(&m.owned);
            let sub = Subscription {
                topics: topics.to_vec(),
                user_data: a.subscription_user_data(&owned, m.generation),
                owned_partitions: owned,
                generation_id: m.generation,
                rack_id: inner.config.client_rack.clone(),
            };
            protocol::encode_subscription(&sub, protocol::SUBSCRIPTION_VERSION)
                .map(|b| (a.name().to_owned(), b))
                .map_err(|e| Error::InvalidArgument(format!("cannot encode the subscription: {e}")))
        })
        .collect::<Result<_>>()?;
    let mut member_id = m.member_id.clone();
    let join = loop {
        let protos = protocols.clone();
        let mid = member_id.clone();
        let inst = instance.clone();
        let g = gid.clone();
        let (v, r) = to_coordinator(
            inner,
            rebalance_timeout + Duration::from_secs(5),
            move |_| JoinGroupRequest {
                group_id: g.as_str().into(),
                session_timeout_ms: ms(session_timeout),
                rebalance_timeout_ms: ms(rebalance_timeout),
                member_id: mid.as_str().into(),
                group_instance_id: inst.map(|s| s.as_str().into()),
                protocol_type: "consumer".into(),
                protocols: protos
                    .into_iter()
                    .map(|(name, metadata)| JoinGroupRequestProtocol {
                        name: name.as_str().into(),
                        metadata,
                        ..Default::default()
                    })
                    .collect(),
                reason: None,
                ..Default::default()
            },
        )
        .await?;
        let code = ErrorCode::from_i16(r.error_code);
        match code {
            ErrorCode::None => break (v, r),
            ErrorCode::MemberIdRequired => {
                member_id = r.member_id.to_string();
                continue;
            }
            ErrorCode::UnknownMemberId => {
                member_id.clear();
                set_member(inner, String::new(), -1);
                return Err(
                    Error::from_code(r.error_code, None, || ctx(ApiKey::JoinGroup, v))
                        .unwrap_or_else(|| Error::closed(Context::default())),
                );
            }
            _ => {
                if is_coordinator_error(Some(code)) {
                    inner.client.forget_coordinator(0, &gid);
                }
                return Err(
                    Error::from_code(r.error_code, None, || ctx(ApiKey::JoinGroup, v))
                        .unwrap_or_else(|| Error::closed(Context::default())),
                );
            }
        }
    };
    let (jv, jr) = join;
    let generation = jr.generation_id;
    let member_id = jr.member_id.to_string();
    let protocol_name = jr
        .protocol_name
        .as_ref()
        .map(|s| s.to_string())
        .unwrap_or_default();
    set_member(inner, member_id.clone(), generation);
    let is_leader = *jr.leader == *member_id;
    // The leader assigns (unless the broker says to skip: static leader rejoining, KIP-814).
    let assignments = if is_leader && !jr.skip_assignment {
        leader_assign(inner, &protocol_name, &jr.members).await?
    } else {
        Vec::new()
    };
    let g = gid.clone();
    let mid = member_id.clone();
    let inst = instance.clone();
    let pname = protocol_name.clone();
    let (sv, sr) = to_coordinator(
        inner,
        inner.client.config().request_timeout + rebalance_timeout,
        move |_| SyncGroupRequest {
            group_id: g.as_str().into(),
            generation_id: generation,
            member_id: mid.as_str().into(),
            group_instance_id: inst.map(|s| s.as_str().into()),
            protocol_type: Some("consumer".into()),
            protocol_name: Some(pname.as_str().into()),
            assignments: assignments
                .into_iter()
                .map(|(m, a)| SyncGroupRequestAssignment {
                    member_id: m.as_str().into(),
                    assignment: a,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        },
    )
    .await?;
    if let Some(e) = Error::from_code(sr.error_code, None, || ctx(ApiKey::SyncGroup, sv)) {
        if matches!(
            e.code(),
            Some(ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration)
        ) {
            let owned = membership(inner).owned;
            revoke(inner, owned, true).await;
            set_member(
                inner,
                if e.code() == Some(ErrorCode::UnknownMemberId) {
                    String::new()
                } else {
                    member_id.clone()
                },
                -1,
            );
        }
        if is_coordinator_error(e.code()) {
            inner.client.forget_coordinator(0, &gid);
        }
        return Err(e);
    }
    let _ = jv;
    let assignment = match protocol::decode_assignment(&sr.assignment) {
        Ok((_, a)) => a,
        Err(e) => {
            return Err(Error::protocol(
                ctx(ApiKey::SyncGroup, sv),
                format!("cannot decode this member's assignment: {e}"),
            ))
        }
    };
    let new = group_tps(&assignment);
    let owned = membership(inner).owned;
    let revoked: Vec<TopicPartition> = owned
        .iter()
        .filter(|tp| !new.contains(tp))
        .cloned()
        .collect();
    let added: Vec<TopicPartition> = new
        .iter()
        .filter(|tp| !owned.contains(tp))
        .cloned()
        .collect();
    if !revoked.is_empty() {
        revoke(inner, revoked.clone(), false).await;
    }
    {
        let mut st = inner.state.lock().unwrap_or_else(|p| p.into_inner());
        st.add(&added, true);
        let mut g = inner.group.lock().unwrap_or_else(|p| p.into_inner());
        g.owned = new.clone();
        g.protocol = Some(protocol_name);
    }
    inner.fetch_wake.notify_one();
    inner.stats.rebalances.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(group = %gid, generation, member = %member_id, partitions = new.len(), "joined");
    hook(inner, RebalanceEvent::Assigned(added)).await;
    // Cooperative: partitions given up in this round get a new owner in the next one.
    Ok(coop && !revoked.is_empty())
}

fn set_member(inner: &Inner, member_id: String, generation: i32) {
    let mut g = inner.group.lock().unwrap_or_else(|p| p.into_inner());
    g.member_id = member_id;
    g.generation = generation;
}

fn ms(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

async fn leader_assign(
    inner: &Arc<Inner>,
    protocol_name: &str,
    members: &[kafka_proto::messages::join_group_response::JoinGroupResponseMember],
) -> Result<Vec<(String, bytes::Bytes)>> {
    let assignor: Arc<dyn Assignor> = inner
        .config
        .assignors
        .iter()
        .find(|a| a.name() == protocol_name)
        .cloned()
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "the group chose assignor {protocol_name}, which this consumer does not have"
            ))
        })?;
    let mut subs = Vec::new();
    let mut all_topics = BTreeSet::new();
    for m in members {
        let sub = match protocol::decode_subscription(&m.metadata) {
            Ok((_, s)) => s,
            Err(e) => {
                tracing::warn!(member = %m.member_id, error = %e, "undecodable subscription; treating as empty");
                Subscription::default()
            }
        };
        all_topics.extend(sub.topics.iter().cloned());
        subs.push(MemberSubscription {
            member_id: m.member_id.to_string(),
            group_instance_id: m.group_instance_id.as_ref().map(|s| s.to_string()),
            subscription: sub,
        });
    }
    let topics: Vec<String> = all_topics.into_iter().collect();
    let md = inner.client.refresh_metadata(Some(&topics)).await?;
    let counts: BTreeMap<String, i32> = topics
        .iter()
        .filter_map(|t| md.topic(t).map(|i| (t.clone(), i.partitions.len() as i32)))
        .collect();
    let result = assignor.assign(&subs, &counts);
    subs.iter()
        .map(|s| {
            let a = result.get(&s.member_id).cloned().unwrap_or_default();
            protocol::encode_assignment(&a, protocol::ASSIGNMENT_VERSION)
                .map(|b| (s.member_id.clone(), b))
                .map_err(|e| Error::InvalidArgument(format!("cannot encode an assignment: {e}")))
        })
        .collect()
}

/// Heartbeats and auto-commits until the group needs a rejoin.
async fn stable(inner: &Arc<Inner>, topics: &[String]) {
    let mut next_heartbeat = Instant::now() + inner.config.heartbeat_interval;
    let mut next_commit = Instant::now() + inner.config.auto_commit_interval;
    let mut last_ok = Instant::now();
    let mut next_topic_check = Instant::now()
        + inner
            .client
            .config()
            .metadata_max_age
            .min(Duration::from_secs(30));
    loop {
        if inner.stop.load(Ordering::Acquire) || inner.closed.load(Ordering::Acquire) {
            return;
        }
        let wake = next_heartbeat.min(if inner.config.enable_auto_commit {
            next_commit
        } else {
            next_heartbeat
        });
        let woken = tokio::select! {
            _ = tokio::time::sleep_until(wake.into()) => false,
            _ = inner.group_wake.notified() => true,
        };
        if inner.stop.load(Ordering::Acquire) || inner.closed.load(Ordering::Acquire) {
            return;
        }
        if woken {
            // Subscription changed.
            match subscribed_topics(inner).await {
                Ok(t) if t != topics => return,
                _ => {}
            }
        }
        let now = Instant::now();
        if now >= next_topic_check {
            next_topic_check = now
                + inner
                    .client
                    .config()
                    .metadata_max_age
                    .min(Duration::from_secs(30));
            let is_pattern = matches!(
                inner
                    .state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .subscription,
                Sub::Pattern(_)
            );
            if is_pattern {
                if let Ok(t) = subscribed_topics(inner).await {
                    if t != topics {
                        return;
                    }
                }
            }
        }
        if inner.config.enable_auto_commit && now >= next_commit {
            next_commit = now + inner.config.auto_commit_interval;
            let offsets = Consumer::weak_handle(inner).consumed_offsets();
            if !offsets.is_empty() {
                if let Err(e) = commit(inner, &offsets).await {
                    tracing::debug!(error = %e, "auto-commit failed");
                }
            }
        }
        if since_last_poll(inner) > inner.config.max_poll_interval {
            tracing::warn!(
                "no recv() for longer than max.poll.interval.ms: leaving the group; it rejoins at the next recv()"
            );
            let owned = membership(inner).owned;
            let _ = send_leave(inner).await;
            revoke(inner, owned, true).await;
            set_member(inner, String::new(), -1);
            while since_last_poll(inner) > inner.config.max_poll_interval {
                if inner.stop.load(Ordering::Acquire) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            return;
        }
        if now < next_heartbeat {
            continue;
        }
        next_heartbeat = now + inner.config.heartbeat_interval;
        let m = membership(inner);
        let gid = match group_id(inner) {
            Ok(g) => g.to_owned(),
            Err(_) => return,
        };
        let inst = inner.config.group_instance_id.clone();
        let r = to_coordinator(inner, inner.client.config().request_timeout, |_| {
            HeartbeatRequest {
                group_id: gid.as_str().into(),
                generation_id: m.generation,
                member_id: m.member_id.as_str().into(),
                group_instance_id: inst.map(|s| s.as_str().into()),
                ..Default::default()
            }
        })
        .await;
        match r {
            Ok((v, resp)) => match ErrorCode::from_i16(resp.error_code) {
                ErrorCode::None => last_ok = Instant::now(),
                ErrorCode::RebalanceInProgress => return,
                code @ (ErrorCode::IllegalGeneration | ErrorCode::UnknownMemberId) => {
                    revoke(inner, m.owned.clone(), true).await;
                    set_member(
                        inner,
                        if code == ErrorCode::UnknownMemberId {
                            String::new()
                        } else {
                            m.member_id.clone()
                        },
                        -1,
                    );
                    return;
                }
                ErrorCode::FencedInstanceId => {
                    let e = Error::from_code(resp.error_code, None, || ctx(ApiKey::Heartbeat, v));
                    if let Some(e) = e {
                        inner
                            .state
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .errors
                            .push_back(e);
                        inner.records_ready.notify_waiters();
                    }
                    inner.stop.store(true, Ordering::Release);
                    return;
                }
                code => {
                    if is_coordinator_error(Some(code)) {
                        inner.client.forget_coordinator(0, &gid);
                    }
                    next_heartbeat = Instant::now() + inner.client.config().retry_backoff;
                }
            },
            Err(e) => {
                tracing::debug!(error = %e, "heartbeat failed");
                next_heartbeat = Instant::now() + inner.client.config().retry_backoff;
            }
        }
        if last_ok.elapsed() > inner.config.session_timeout {
            // The coordinator has evicted us by now.
            revoke(inner, m.owned.clone(), true).await;
            set_member(inner, String::new(), -1);
            return;
        }
    }
}

async fn send_leave(inner: &Inner) -> Result<()> {
    let m = membership(inner);
    if m.member_id.is_empty() || inner.config.group_instance_id.is_some() {
        return Ok(());
    }
    let gid = group_id(inner)?.to_owned();
    let (v, r) = to_coordinator(inner, inner.client.config().request_timeout, |v| {
        let mut req = LeaveGroupRequest {
            group_id: gid.as_str().into(),
            ..Default::default()
        };
        if v >= 3 {
            req.members = vec![MemberIdentity {
                member_id: m.member_id.as_str().into(),
                group_instance_id: None,
                reason: Some("the consumer is closing".into()),
                ..Default::default()
            }];
        } else {
            req.member_id = m.member_id.as_str().into();
        }
        req
    })
    .await?;
    match Error::from_code(r.error_code, None, || ctx(ApiKey::LeaveGroup, v)) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// close(): commit, revoke hook, LeaveGroup.
pub(crate) async fn leave(inner: &Arc<Inner>) -> Result<()> {
    let subscribed = inner.group_started.load(Ordering::Acquire);
    let mut result = Ok(());
    if inner.config.group_id.is_some() && inner.config.enable_auto_commit {
        let offsets = Consumer::weak_handle(inner).consumed_offsets();
        if !offsets.is_empty() {
            result = commit(inner, &offsets).await;
        }
    }
    if subscribed {
        let owned = membership(inner).owned;
        if !owned.is_empty() {
            hook(inner, RebalanceEvent::Revoked(owned)).await;
        }
        if let Err(e) = send_leave(inner).await {
            tracing::debug!(error = %e, "LeaveGroup failed");
        }
        set_member(inner, String::new(), -1);
    }
    result
}

/// OffsetCommit to the coordinator with this member's generation (or as a simple consumer).
pub(crate) async fn commit(
    inner: &Inner,
    offsets: &[(TopicPartition, i64, Option<i32>, Option<String>)],
) -> Result<()> {
    let gid = group_id(inner)?.to_owned();
    if offsets.is_empty() {
        return Ok(());
    }
    let deadline = Instant::now() + inner.client.config().default_api_timeout;
    let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
    for (tp, off, epoch, meta) in offsets {
        let p = OffsetCommitRequestPartition {
            partition_index: tp.partition,
            committed_offset: *off,
            committed_leader_epoch: epoch.unwrap_or(-1),
            commit_timestamp: -1,
            committed_metadata: Some(meta.as_deref().unwrap_or("").into()),
            ..Default::default()
        };
        match topics.iter_mut().find(|t| *t.name == *tp.topic) {
            Some(t) => t.partitions.push(p),
            None => topics.push(OffsetCommitRequestTopic {
                name: tp.topic.as_str().into(),
                partitions: vec![p],
                ..Default::default()
            }),
        }
    }
    inner
        .client
        .retry_until(deadline, ApiKey::OffsetCommit, |_| {
            let topics = topics.clone();
            let gid = gid.clone();
            async move {
                let m = membership(inner);
                let subscribed = inner.group_started.load(Ordering::Acquire);
                let (generation, member) = if subscribed {
                    (m.generation, m.member_id.clone())
                } else {
                    (-1, String::new())
                };
                let inst = if subscribed {
                    inner.config.group_instance_id.clone()
                } else {
                    None
                };
                let (v, r) = to_coordinator(inner, inner.client.config().request_timeout, |_| {
                    OffsetCommitRequest {
                        group_id: gid.as_str().into(),
                        generation_id_or_member_epoch: generation,
                        member_id: member.as_str().into(),
                        group_instance_id: inst.map(|s| s.as_str().into()),
                        retention_time_ms: -1,
                        topics,
                        ..Default::default()
                    }
                })
                .await?;
                for t in &r.topics {
                    for p in &t.partitions {
                        if let Some(e) = Error::from_code(p.error_code, None, || {
                            ctx(ApiKey::OffsetCommit, v).with_topic(t.name.to_string(), Some(p.partition_index))
                        }) {
                            if is_coordinator_error(e.code()) {
                                inner.client.forget_coordinator(0, &gid);
                                return Err(e);
                            }
                            if matches!(
                                e.code(),
                                Some(
                                    ErrorCode::RebalanceInProgress
                                        | ErrorCode::IllegalGeneration
                                        | ErrorCode::UnknownMemberId
                                )
                            ) {
                                // Not retriable for this commit: the partitions may have moved.
                                return Err(Error::Broker {
                                    code: e.code().unwrap_or(ErrorCode::IllegalGeneration),
                                    message: Some(
                                        "commit refused: the group rebalanced; the partitions may have a new owner"
                                            .into(),
                                    ),
                                    context: ctx(ApiKey::OffsetCommit, v)
                                        .with_topic(t.name.to_string(), Some(p.partition_index)),
                                });
                            }
                            return Err(e);
                        }
                    }
                }
                Ok(())
            }
        })
        .await
}

/// OffsetFetch: committed offset and leader epoch per partition (absent: nothing committed).
pub(crate) async fn fetch_committed(
    inner: &Inner,
    tps: &[TopicPartition],
) -> Result<HashMap<TopicPartition, (i64, Option<i32>)>> {
    let gid = group_id(inner)?.to_owned();
    let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for tp in tps {
        by_topic
            .entry(tp.topic.clone())
            .or_default()
            .push(tp.partition);
    }
    let deadline = Instant::now() + inner.client.config().default_api_timeout;
    let require_stable = inner.config.isolation_level == super::IsolationLevel::ReadCommitted;
    inner
        .client
        .retry_until(deadline, ApiKey::OffsetFetch, |_| {
            let by_topic = by_topic.clone();
            let gid = gid.clone();
            async move {
                let (v, r) = to_coordinator(inner, inner.client.config().request_timeout, |v| {
                    if v >= 8 {
                        OffsetFetchRequest {
                            groups: vec![OffsetFetchRequestGroup {
                                group_id: gid.as_str().into(),
                                topics: Some(
                                    by_topic
                                        .iter()
                                        .map(|(t, ps)| OffsetFetchRequestTopics {
                                            name: t.as_str().into(),
                                            partition_indexes: ps.iter().copied().collect(),
                                            ..Default::default()
                                        })
                                        .collect(),
                                ),
                                member_epoch: -1,
                                ..Default::default()
                            }],
                            require_stable,
                            ..Default::default()
                        }
                    } else {
                        OffsetFetchRequest {
                            group_id: gid.as_str().into(),
                            topics: Some(
                                by_topic
                                    .iter()
                                    .map(|(t, ps)| OffsetFetchRequestTopic {
                                        name: t.as_str().into(),
                                        partition_indexes: ps.iter().copied().collect(),
                                        ..Default::default()
                                    })
                                    .collect(),
                            ),
                            require_stable: require_stable && v >= 7,
                            ..Default::default()
                        }
                    }
                })
                .await?;
                let mut out = HashMap::new();
                let mut entries: Vec<(String, i32, i64, i32, i16)> = Vec::new();
                let top = if v >= 8 {
                    let g = r.groups.first();
                    for t in g.map(|g| g.topics.as_slice()).unwrap_or_default() {
                        for p in &t.partitions {
                            entries.push((
                                t.name.to_string(),
                                p.partition_index,
                                p.committed_offset,
                                p.committed_leader_epoch,
                                p.error_code,
                            ));
                        }
                    }
                    g.map_or(0, |g| g.error_code)
                } else {
                    for t in &r.topics {
                        for p in &t.partitions {
                            entries.push((
                                t.name.to_string(),
                                p.partition_index,
                                p.committed_offset,
                                p.committed_leader_epoch,
                                p.error_code,
                            ));
                        }
                    }
                    r.error_code
                };
                if let Some(e) = Error::from_code(top, None, || ctx(ApiKey::OffsetFetch, v)) {
                    if is_coordinator_error(e.code()) {
                        inner.client.forget_coordinator(0, &gid);
                    }
                    return Err(e);
                }
                for (t, p, off, epoch, code) in entries {
                    if let Some(e) = Error::from_code(code, None, || {
                        ctx(ApiKey::OffsetFetch, v).with_topic(t.clone(), Some(p))
                    }) {
                        // UNSTABLE_OFFSET_COMMIT is retriable: a transaction is pending.
                        return Err(e);
                    }
                    if off >= 0 {
                        out.insert(
                            TopicPartition::new(t, p),
                            (off, (epoch >= 0).then_some(epoch)),
                        );
                    }
                }
                Ok(out)
            }
        })
        .await
}
