//! Coordinator-level scenario tests: real tokio timers with short timings, no wall-clock
//! assertions (waits are bounded polls).

mod admin;
mod membership;
mod offsets;
mod static_members;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_proto::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_proto::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_proto::messages::{
    ConsumerProtocolSubscription, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse,
    SyncGroupRequest, SyncGroupResponse,
};
use kafka_proto::{ErrorCode, KStr, Message};
use tokio::task::JoinHandle;

use super::{GroupConfig, GroupCoordinator, TopicLookup};

/// Topics named `missing*` do not exist; others have partitions 0-7.
pub(super) struct FakeTopics;

impl TopicLookup for FakeTopics {
    fn partition_exists(&self, topic: &str, partition: i32) -> bool {
        !topic.starts_with("missing") && (0..8).contains(&partition)
    }
}

pub(super) fn start(cfg: GroupConfig) -> Arc<GroupCoordinator> {
    GroupCoordinator::new(cfg, None, Arc::new(FakeTopics)).unwrap()
}

pub(super) fn code(e: ErrorCode) -> i16 {
    e.code()
}

/// `ConsumerProtocolSubscription` v3 metadata with its version prefix.
pub(super) fn subscription(topics: &[&str]) -> Bytes {
    let s = ConsumerProtocolSubscription {
        topics: topics.iter().map(|t| KStr::from(*t)).collect(),
        ..Default::default()
    };
    let mut b = BytesMut::new();
    b.extend_from_slice(&3i16.to_be_bytes());
    s.encode(&mut b, 3).unwrap();
    b.freeze()
}

/// A JoinGroup request: 10 s session and rebalance timeouts, consumer protocol `range`
/// subscribing `t1`.
pub(super) fn join_req(group: &str, member: &str) -> JoinGroupRequest {
    JoinGroupRequest {
        group_id: group.into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        member_id: member.into(),
        protocol_type: "consumer".into(),
        protocols: vec![protocol("range", subscription(&["t1"]))],
        ..Default::default()
    }
}

pub(super) fn protocol(name: &str, metadata: Bytes) -> JoinGroupRequestProtocol {
    JoinGroupRequestProtocol {
        name: name.into(),
        metadata,
        ..Default::default()
    }
}

pub(super) async fn join(c: &Arc<GroupCoordinator>, req: JoinGroupRequest) -> JoinGroupResponse {
    c.join_group(req, 9, "client", "/127.0.0.1").await
}

pub(super) fn spawn_join(
    c: &Arc<GroupCoordinator>,
    req: JoinGroupRequest,
) -> JoinHandle<JoinGroupResponse> {
    let c = c.clone();
    tokio::spawn(async move { join(&c, req).await })
}

pub(super) fn sync_req(
    group: &str,
    member: &KStr,
    generation: i32,
    assignments: &[(&KStr, &[u8])],
) -> SyncGroupRequest {
    SyncGroupRequest {
        group_id: group.into(),
        generation_id: generation,
        member_id: member.clone(),
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        assignments: assignments
            .iter()
            .map(|(m, a)| SyncGroupRequestAssignment {
                member_id: (*m).clone(),
                assignment: Bytes::copy_from_slice(a),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

pub(super) fn spawn_sync(
    c: &Arc<GroupCoordinator>,
    req: SyncGroupRequest,
) -> JoinHandle<SyncGroupResponse> {
    let c = c.clone();
    tokio::spawn(async move { c.sync_group(req, 5).await })
}

pub(super) async fn heartbeat(
    c: &Arc<GroupCoordinator>,
    group: &str,
    member: &KStr,
    generation: i32,
) -> i16 {
    let req = HeartbeatRequest {
        group_id: group.into(),
        generation_id: generation,
        member_id: member.clone(),
        ..Default::default()
    };
    c.heartbeat(req, 4).await.error_code
}

/// A member id obtained through the MEMBER_ID_REQUIRED round.
pub(super) async fn member_id(c: &Arc<GroupCoordinator>, group: &str) -> KStr {
    let r = join(c, join_req(group, "")).await;
    assert_eq!(r.error_code, code(ErrorCode::MemberIdRequired));
    assert!(r.member_id.starts_with("client-"), "{}", r.member_id);
    r.member_id
}

/// Awaits `f` for at most 10 s (a hang is a failure, not a timing assertion).
pub(super) async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("timed out")
}

/// Polls `cond` every 20 ms for up to 10 s.
pub(super) async fn eventually(mut cond: impl FnMut() -> bool) {
    bounded(async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// A stable group formed by `reqs` (member ids already obtained): everyone joins at once, the
/// leader assigns each member its own id as assignment, everyone syncs.
pub(super) struct Formed {
    pub generation: i32,
    pub leader: KStr,
    pub members: Vec<KStr>,
}

pub(super) async fn form(
    c: &Arc<GroupCoordinator>,
    group: &str,
    reqs: Vec<JoinGroupRequest>,
) -> Formed {
    let handles: Vec<_> = reqs.into_iter().map(|r| spawn_join(c, r)).collect();
    let mut responses = Vec::new();
    for h in handles {
        responses.push(bounded(h).await.unwrap());
    }
    for r in &responses {
        assert_eq!(r.error_code, 0, "{r:?}");
    }
    let generation = responses[0].generation_id;
    let leader = responses[0].leader.clone();
    let members: Vec<KStr> = responses.iter().map(|r| r.member_id.clone()).collect();
    let assignments: Vec<(&KStr, &[u8])> = members.iter().map(|m| (m, &m.as_bytes()[..])).collect();
    let syncs: Vec<_> = members
        .iter()
        .map(|m| {
            let a = if *m == leader {
                assignments.clone()
            } else {
                Vec::new()
            };
            spawn_sync(c, sync_req(group, m, generation, &a))
        })
        .collect();
    for (m, s) in members.iter().zip(syncs) {
        let r = bounded(s).await.unwrap();
        assert_eq!(r.error_code, 0);
        assert_eq!(r.assignment, m.as_bytes());
    }
    Formed {
        generation,
        leader,
        members,
    }
}

/// A stable group of `n` dynamic members.
pub(super) async fn form_dynamic(c: &Arc<GroupCoordinator>, group: &str, n: usize) -> Formed {
    let mut reqs = Vec::new();
    for _ in 0..n {
        let id = member_id(c, group).await;
        reqs.push(join_req(group, &id));
    }
    form(c, group, reqs).await
}
