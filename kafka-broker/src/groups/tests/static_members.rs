//! Static membership (KIP-345).

use kafka_proto::messages::leave_group_request::MemberIdentity;
use kafka_proto::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_proto::messages::{HeartbeatRequest, LeaveGroupRequest, OffsetCommitRequest};
use kafka_proto::ErrorCode;

use super::*;
use crate::groups::GroupState;

fn static_req(group: &str, member: &str, instance: &str) -> JoinGroupRequest {
    JoinGroupRequest {
        group_instance_id: Some(instance.into()),
        ..join_req(group, member)
    }
}

async fn static_heartbeat(
    c: &Arc<GroupCoordinator>,
    member: &KStr,
    instance: &str,
    generation: i32,
) -> i16 {
    let req = HeartbeatRequest {
        group_id: "g".into(),
        generation_id: generation,
        member_id: member.clone(),
        group_instance_id: Some(instance.into()),
        ..Default::default()
    };
    c.heartbeat(req, 4).await.error_code
}

/// A coordinator whose initial rebalance delay lets both static members join generation 1.
fn start_static() -> Arc<GroupCoordinator> {
    start(GroupConfig {
        initial_rebalance_delay: std::time::Duration::from_millis(100),
        ..GroupConfig::default()
    })
}

async fn form_static(c: &Arc<GroupCoordinator>) -> Formed {
    // Static members skip MEMBER_ID_REQUIRED.
    let f = form(
        c,
        "g",
        vec![static_req("g", "", "i1"), static_req("g", "", "i2")],
    )
    .await;
    assert!(
        f.members
            .iter()
            .all(|m| m.starts_with("i1-") || m.starts_with("i2-")),
        "{:?}",
        f.members
    );
    f
}

#[tokio::test]
async fn restarted_static_follower_keeps_its_assignment_without_rebalance() {
    let c = start_static();
    let f = form_static(&c).await;
    let (follower, instance) = f
        .members
        .iter()
        .find(|m| **m != f.leader)
        .map(|m| (m.clone(), if m.starts_with("i1-") { "i1" } else { "i2" }))
        .unwrap();
    // Restart: unknown member id, same instance id, same metadata.
    let r = bounded(c.join_group(static_req("g", "", instance), 8, "client", "/h")).await;
    assert_eq!(r.error_code, 0);
    assert_ne!(r.member_id, follower);
    assert_eq!(r.generation_id, f.generation, "no new generation");
    assert_eq!(r.leader, f.leader);
    assert!(r.members.is_empty());
    assert_eq!(c.group_state("g"), Some(GroupState::Stable));
    // Its SyncGroup returns the assignment the old member id had.
    let mut s = sync_req("g", &r.member_id, f.generation, &[]);
    s.group_instance_id = Some(instance.into());
    let sr = bounded(c.sync_group(s, 5)).await;
    assert_eq!(
        (sr.error_code, &sr.assignment[..]),
        (0, &follower.as_bytes()[..])
    );
    // The stale member id is fenced; the leader is undisturbed.
    assert_eq!(
        static_heartbeat(&c, &follower, instance, f.generation).await,
        code(ErrorCode::FencedInstanceId)
    );
    assert_eq!(
        static_heartbeat(&c, &r.member_id, instance, f.generation).await,
        0
    );
    let leader_instance = if instance == "i1" { "i2" } else { "i1" };
    assert_eq!(
        static_heartbeat(&c, &f.leader, leader_instance, f.generation).await,
        0
    );
    // Commits from the stale id are fenced too.
    let commit = OffsetCommitRequest {
        group_id: "g".into(),
        generation_id_or_member_epoch: f.generation,
        member_id: follower.clone(),
        group_instance_id: Some(instance.into()),
        topics: vec![OffsetCommitRequestTopic {
            name: "t1".into(),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: 5,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let cr = c.offset_commit(commit, 8).await;
    assert_eq!(
        cr.topics[0].partitions[0].error_code,
        code(ErrorCode::FencedInstanceId)
    );
}

#[tokio::test]
async fn restarted_static_leader_v9_skips_assignment_older_versions_see_the_old_leader() {
    let c = start_static();
    let f = form_static(&c).await;
    let instance = if f.leader.starts_with("i1-") {
        "i1"
    } else {
        "i2"
    };
    let r = bounded(c.join_group(static_req("g", "", instance), 9, "client", "/h")).await;
    assert_eq!(r.error_code, 0);
    assert_eq!(r.leader, r.member_id, "v9: told it leads");
    assert!(r.skip_assignment);
    assert_eq!(r.members.len(), 2);
    assert_eq!(r.generation_id, f.generation);
    // Restart again with v5: the answer names the previous leader id, so it does not assign.
    let prev = r.member_id.clone();
    let r = bounded(c.join_group(static_req("g", "", instance), 5, "client", "/h")).await;
    assert_eq!(r.leader, prev);
    assert_ne!(r.member_id, prev);
    assert!(r.members.is_empty());
    assert_eq!(c.group_state("g"), Some(GroupState::Stable));
}

#[tokio::test]
async fn static_rejoin_with_a_new_protocol_rebalances_and_admin_leave_by_instance() {
    let c = start_static();
    let f = form_static(&c).await;
    let mut req = static_req("g", "", "i1");
    req.protocols = vec![
        protocol("roundrobin", subscription(&["t1"])),
        protocol("range", subscription(&["t1"])),
    ];
    // Protocol vote unchanged (the other member only supports range): no rebalance.
    let r = bounded(join(&c, req)).await;
    assert_eq!((r.error_code, r.generation_id), (0, f.generation));
    // Administrative removal of a static member by instance id alone.
    let leave = LeaveGroupRequest {
        group_id: "g".into(),
        members: vec![
            MemberIdentity {
                group_instance_id: Some("i2".into()),
                ..Default::default()
            },
            MemberIdentity {
                group_instance_id: Some("i9".into()),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let lr = c.leave_group(leave, 4).await;
    let errors: Vec<_> = lr.members.iter().map(|m| m.error_code).collect();
    assert_eq!(errors, [0, code(ErrorCode::UnknownMemberId)]);
    assert_eq!(c.group_state("g"), Some(GroupState::PreparingRebalance));
}
