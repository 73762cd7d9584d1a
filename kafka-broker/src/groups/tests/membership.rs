//! Join, sync, heartbeat, leave, timeouts.

use std::time::Duration;

use kafka_proto::messages::leave_group_request::MemberIdentity;
use kafka_proto::messages::{DescribeGroupsRequest, LeaveGroupRequest};
use kafka_proto::ErrorCode;

use super::*;
use crate::groups::GroupState;

#[tokio::test]
async fn single_member_join_sync_heartbeat() {
    let c = start(GroupConfig::default());
    let id = member_id(&c, "g").await;
    // The member id is held for it: the group is not usable by others before it rejoins.
    let r = bounded(join(&c, join_req("g", &id))).await;
    assert_eq!(r.error_code, 0);
    assert_eq!(r.generation_id, 1);
    assert_eq!(r.member_id, id);
    assert_eq!(r.leader, id);
    assert_eq!(r.protocol_type.as_deref(), Some("consumer"));
    assert_eq!(r.protocol_name.as_deref(), Some("range"));
    assert_eq!(r.members.len(), 1);
    assert_eq!(r.members[0].metadata, subscription(&["t1"]));
    assert_eq!(c.group_state("g"), Some(GroupState::CompletingRebalance));
    // Commits wait for the assignment.
    assert_eq!(heartbeat(&c, "g", &id, 1).await, 0);

    let s = bounded(c.sync_group(sync_req("g", &id, 1, &[(&id, b"assigned")]), 5)).await;
    assert_eq!(s.error_code, 0);
    assert_eq!(s.assignment, &b"assigned"[..]);
    assert_eq!(s.protocol_name.as_deref(), Some("range"));
    assert_eq!(c.group_state("g"), Some(GroupState::Stable));
    assert_eq!(heartbeat(&c, "g", &id, 1).await, 0);
    assert_eq!(
        heartbeat(&c, "g", &id, 0).await,
        code(ErrorCode::IllegalGeneration)
    );
    assert_eq!(
        heartbeat(&c, "g", &"nobody".into(), 1).await,
        code(ErrorCode::UnknownMemberId)
    );
    assert_eq!(
        heartbeat(&c, "other", &id, 1).await,
        code(ErrorCode::UnknownMemberId)
    );

    // A follower-style rejoin with unchanged metadata in Stable... is the leader here: rebalance.
    let r = bounded(join(&c, join_req("g", &id))).await;
    assert_eq!(r.generation_id, 2);
    // Sync again in Stable returns the current assignment.
    bounded(c.sync_group(sync_req("g", &id, 2, &[(&id, b"again")]), 5)).await;
    let s = bounded(c.sync_group(sync_req("g", &id, 2, &[]), 5)).await;
    assert_eq!((s.error_code, &s.assignment[..]), (0, &b"again"[..]));
}

#[tokio::test]
async fn join_before_v4_gets_a_member_id_at_once_and_v0_uses_the_session_timeout() {
    let c = start(GroupConfig::default());
    let mut req = join_req("g", "");
    req.rebalance_timeout_ms = -1;
    let r = bounded(c.join_group(req, 0, "old-client", "/10.0.0.1")).await;
    assert_eq!(r.error_code, 0);
    assert!(r.member_id.starts_with("old-client-"));
    assert_eq!(r.protocol_name.as_deref(), Some("range"));
    assert_eq!(r.protocol_type, None);
    r.to_bytes(0).unwrap();
}

#[tokio::test]
async fn second_member_triggers_a_rebalance_and_followers_wait_for_the_leader() {
    let c = start(GroupConfig::default());
    let a = form_dynamic(&c, "g", 1).await;
    let a_id = a.members[0].clone();
    assert_eq!(a.generation, 1);

    let b_id = member_id(&c, "g").await;
    let b_join = spawn_join(&c, join_req("g", &b_id));
    eventually(|| c.group_state("g") == Some(GroupState::PreparingRebalance)).await;
    assert_eq!(
        heartbeat(&c, "g", &a_id, 1).await,
        code(ErrorCode::RebalanceInProgress)
    );
    assert!(!b_join.is_finished());

    let a_join = spawn_join(&c, join_req("g", &a_id));
    let (ra, rb) = (
        bounded(a_join).await.unwrap(),
        bounded(b_join).await.unwrap(),
    );
    assert_eq!((ra.error_code, rb.error_code), (0, 0));
    assert_eq!((ra.generation_id, rb.generation_id), (2, 2));
    assert_eq!(ra.leader, a_id);
    assert_eq!(rb.leader, a_id);
    assert_eq!(
        ra.members.len(),
        2,
        "the leader gets every member's metadata"
    );
    assert!(rb.members.is_empty(), "followers get none");

    // The follower's SyncGroup waits for the leader's.
    let b_sync = spawn_sync(&c, sync_req("g", &b_id, 2, &[]));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!b_sync.is_finished());
    let sa = bounded(c.sync_group(
        sync_req("g", &a_id, 2, &[(&a_id, b"pa"), (&b_id, b"pb")]),
        5,
    ))
    .await;
    assert_eq!(&sa.assignment[..], b"pa");
    let sb = bounded(b_sync).await.unwrap();
    assert_eq!((sb.error_code, &sb.assignment[..]), (0, &b"pb"[..]));
    assert_eq!(c.group_state("g"), Some(GroupState::Stable));
    // Old generation now illegal.
    assert_eq!(
        heartbeat(&c, "g", &b_id, 1).await,
        code(ErrorCode::IllegalGeneration)
    );
}

#[tokio::test]
async fn session_timeout_removes_a_silent_member() {
    let c = start(GroupConfig::default());
    let mut reqs = Vec::new();
    for _ in 0..2 {
        let id = member_id(&c, "g").await;
        let mut r = join_req("g", &id);
        r.session_timeout_ms = 300;
        reqs.push(r);
    }
    let f = form(&c, "g", reqs).await;
    let (alive, silent) = (f.members[0].clone(), f.members[1].clone());
    // Only `alive` heartbeats; eventually it is told to rejoin.
    bounded(async {
        loop {
            let e = heartbeat(&c, "g", &alive, f.generation).await;
            if e == code(ErrorCode::RebalanceInProgress) {
                break;
            }
            assert_eq!(e, 0);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let mut req = join_req("g", &alive);
    req.session_timeout_ms = 300;
    let r = bounded(join(&c, req)).await;
    assert_eq!(r.error_code, 0);
    assert_eq!(r.generation_id, f.generation + 1);
    assert_eq!(r.members.len(), 1);
    assert_eq!(r.leader, alive);
    assert_eq!(
        heartbeat(&c, "g", &silent, f.generation).await,
        code(ErrorCode::UnknownMemberId)
    );
}

#[tokio::test]
async fn rebalance_timeout_drops_members_that_do_not_rejoin() {
    let c = start(GroupConfig::default());
    let mut reqs = Vec::new();
    for _ in 0..2 {
        let id = member_id(&c, "g").await;
        let mut r = join_req("g", &id);
        r.rebalance_timeout_ms = 300;
        reqs.push(r);
    }
    let f = form(&c, "g", reqs).await;
    // A new member joins; only the first old member rejoins; the other stays silent
    // (its session is long, so only the rebalance timeout can remove it).
    let n = member_id(&c, "g").await;
    let mut nreq = join_req("g", &n);
    nreq.rebalance_timeout_ms = 300;
    let new_join = spawn_join(&c, nreq);
    let mut req = join_req("g", &f.members[0]);
    req.rebalance_timeout_ms = 300;
    let old_join = spawn_join(&c, req);
    let (rn, ro) = (
        bounded(new_join).await.unwrap(),
        bounded(old_join).await.unwrap(),
    );
    assert_eq!((rn.error_code, ro.error_code), (0, 0));
    assert_eq!(ro.generation_id, f.generation + 1);
    let leader_view = if ro.leader == ro.member_id { &ro } else { &rn };
    let mut ids: Vec<_> = leader_view
        .members
        .iter()
        .map(|m| m.member_id.clone())
        .collect();
    ids.sort();
    let mut want = vec![n.clone(), f.members[0].clone()];
    want.sort();
    assert_eq!(ids, want);
}

#[tokio::test]
async fn members_that_never_sync_are_removed_and_the_group_is_not_wedged() {
    let c = start(GroupConfig::default());
    let mut reqs = Vec::new();
    for _ in 0..2 {
        let id = member_id(&c, "g").await;
        let mut r = join_req("g", &id);
        r.rebalance_timeout_ms = 300;
        reqs.push(r);
    }
    let handles: Vec<_> = reqs.into_iter().map(|r| spawn_join(&c, r)).collect();
    let mut rs = Vec::new();
    for h in handles {
        rs.push(bounded(h).await.unwrap());
    }
    let leader = rs[0].leader.clone();
    let follower = rs
        .iter()
        .find(|r| r.member_id != leader)
        .unwrap()
        .member_id
        .clone();
    // The follower's SyncGroup call is dropped (client gone), and the leader never syncs.
    let dropped = spawn_sync(&c, sync_req("g", &follower, 1, &[]));
    tokio::time::sleep(Duration::from_millis(20)).await;
    dropped.abort();
    // The leader is removed at the sync deadline; the follower is told to rejoin and leads.
    bounded(async {
        while heartbeat(&c, "g", &follower, 1).await != code(ErrorCode::RebalanceInProgress) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let r = bounded(join(&c, join_req("g", &follower))).await;
    assert_eq!((r.error_code, r.generation_id), (0, 2));
    assert_eq!(r.leader, follower);
    assert_eq!(r.members.len(), 1);
}

#[tokio::test]
async fn leave_group_batched_and_legacy() {
    let c = start(GroupConfig::default());
    let f = form_dynamic(&c, "g", 3).await;
    let leave = |members: Vec<MemberIdentity>| LeaveGroupRequest {
        group_id: "g".into(),
        members,
        ..Default::default()
    };
    let who = |id: &str| MemberIdentity {
        member_id: id.into(),
        reason: Some("bye".into()),
        ..Default::default()
    };
    let r = c
        .leave_group(
            leave(vec![who(&f.members[1]), who("unknown"), who(&f.members[2])]),
            5,
        )
        .await;
    assert_eq!(r.error_code, 0);
    let errors: Vec<_> = r
        .members
        .iter()
        .map(|m| (m.member_id.to_string(), m.error_code))
        .collect();
    assert_eq!(
        errors,
        [
            (f.members[1].to_string(), 0),
            ("unknown".to_string(), code(ErrorCode::UnknownMemberId)),
            (f.members[2].to_string(), 0)
        ]
    );
    r.to_bytes(5).unwrap();
    assert_eq!(c.group_state("g"), Some(GroupState::PreparingRebalance));
    // The remaining member rejoins alone.
    let rj = bounded(join(&c, join_req("g", &f.members[0]))).await;
    assert_eq!((rj.generation_id, rj.members.len()), (f.generation + 1, 1));

    // v0-v2: one member, the error at top level.
    let legacy = LeaveGroupRequest {
        group_id: "g".into(),
        member_id: "nope".into(),
        ..Default::default()
    };
    let r = c.leave_group(legacy.clone(), 1).await;
    assert_eq!(r.error_code, code(ErrorCode::UnknownMemberId));
    assert!(r.members.is_empty());
    r.to_bytes(1).unwrap();
    let r = c
        .leave_group(
            LeaveGroupRequest {
                member_id: f.members[0].clone(),
                ..legacy
            },
            2,
        )
        .await;
    assert_eq!(r.error_code, 0);
    // Last member gone: the group is Empty after the rebalance completes.
    eventually(|| c.group_state("g") == Some(GroupState::Empty)).await;
    // Unknown group: per-member UNKNOWN_MEMBER_ID.
    let r = c
        .leave_group(
            LeaveGroupRequest {
                group_id: "nope".into(),
                members: vec![who("x")],
                ..Default::default()
            },
            4,
        )
        .await;
    assert_eq!(
        (r.error_code, r.members[0].error_code),
        (0, code(ErrorCode::UnknownMemberId))
    );
}

#[tokio::test]
async fn a_pending_member_id_can_leave_and_expires() {
    let cfg = GroupConfig {
        min_session_timeout: Duration::from_millis(50),
        ..GroupConfig::default()
    };
    let c = start(cfg);
    let f = form_dynamic(&c, "g", 1).await;
    // A member id handed out but never used: the leader's rejoin is not held up forever.
    let mut req = join_req("g", "");
    req.session_timeout_ms = 200;
    let pending = join(&c, req).await;
    assert_eq!(pending.error_code, code(ErrorCode::MemberIdRequired));
    let r = bounded(join(&c, join_req("g", &f.members[0]))).await;
    assert_eq!((r.error_code, r.members.len()), (0, 1));
    // Leaving with a pending id is fine.
    let p2 = member_id(&c, "g").await;
    let r = c
        .leave_group(
            LeaveGroupRequest {
                group_id: "g".into(),
                members: vec![MemberIdentity {
                    member_id: p2,
                    ..Default::default()
                }],
                ..Default::default()
            },
            3,
        )
        .await;
    assert_eq!(r.members[0].error_code, 0);
}

#[tokio::test]
async fn protocol_selection_and_inconsistent_protocols() {
    let c = start(GroupConfig::default());
    let md = subscription(&["t1"]);
    let mut reqs = Vec::new();
    for prefs in [
        &["roundrobin", "range"][..],
        &["range", "roundrobin"],
        &["range", "sticky", "roundrobin"],
    ] {
        let id = member_id(&c, "g").await;
        let mut r = join_req("g", &id);
        r.protocols = prefs.iter().map(|p| protocol(p, md.clone())).collect();
        reqs.push(r);
    }
    let handles: Vec<_> = reqs.into_iter().map(|r| spawn_join(&c, r)).collect();
    for h in handles {
        let r = bounded(h).await.unwrap();
        assert_eq!(
            r.protocol_name.as_deref(),
            Some("range"),
            "two of three prefer range"
        );
    }
    // A member with no protocol in common, or another protocol type, cannot join.
    let mut r = join_req("g", "");
    r.protocols = vec![protocol("sticky", md.clone())];
    assert_eq!(
        join(&c, r).await.error_code,
        code(ErrorCode::InconsistentGroupProtocol)
    );
    let mut r = join_req("g", "");
    r.protocol_type = "connect".into();
    assert_eq!(
        join(&c, r).await.error_code,
        code(ErrorCode::InconsistentGroupProtocol)
    );
    // SyncGroup v5 must carry matching protocol type and name.
    let leader = c
        .describe_groups(
            DescribeGroupsRequest {
                groups: vec!["g".into()],
                ..Default::default()
            },
            5,
        )
        .await;
    let any = leader.groups[0].members[0].member_id.clone();
    let mut s = sync_req("g", &any, 1, &[]);
    s.protocol_name = Some("roundrobin".into());
    assert_eq!(
        c.sync_group(s.clone(), 5).await.error_code,
        code(ErrorCode::InconsistentGroupProtocol)
    );
    s.protocol_name = None;
    assert_eq!(
        c.sync_group(s, 5).await.error_code,
        code(ErrorCode::InconsistentGroupProtocol)
    );
}

#[tokio::test]
async fn join_validation_errors() {
    let c = start(GroupConfig::default());
    let mut r = join_req("g", "");
    r.session_timeout_ms = 10;
    assert_eq!(
        join(&c, r).await.error_code,
        code(ErrorCode::InvalidSessionTimeout)
    );
    let mut r = join_req("g", "");
    r.session_timeout_ms = 31 * 60 * 1000;
    assert_eq!(
        join(&c, r).await.error_code,
        code(ErrorCode::InvalidSessionTimeout)
    );
    assert_eq!(
        join(&c, join_req("", "")).await.error_code,
        code(ErrorCode::InvalidGroupId)
    );
    // A member id for a group that does not exist.
    let r = join(&c, join_req("ghost", "client-123")).await;
    assert_eq!(
        (r.error_code, r.member_id.as_ref()),
        (code(ErrorCode::UnknownMemberId), "client-123")
    );
    // An unknown member id in an existing group.
    form_dynamic(&c, "g", 1).await;
    assert_eq!(
        join(&c, join_req("g", "client-123")).await.error_code,
        code(ErrorCode::UnknownMemberId)
    );
    // Sync from strangers.
    assert_eq!(
        c.sync_group(sync_req("ghost", &"m".into(), 1, &[]), 5)
            .await
            .error_code,
        code(ErrorCode::UnknownMemberId)
    );
    assert_eq!(
        c.sync_group(sync_req("", &"m".into(), 1, &[]), 5)
            .await
            .error_code,
        code(ErrorCode::InvalidGroupId)
    );
}

#[tokio::test]
async fn group_max_size_is_enforced() {
    let c = start(GroupConfig {
        max_group_size: 1,
        ..GroupConfig::default()
    });
    form_dynamic(&c, "g", 1).await;
    // As Kafka: the size check comes before MEMBER_ID_REQUIRED.
    let r = join(&c, join_req("g", "")).await;
    assert_eq!(r.error_code, code(ErrorCode::GroupMaxSizeReached));
    // A second group is not affected.
    form_dynamic(&c, "h", 1).await;
}

#[tokio::test]
async fn initial_rebalance_delay_gathers_members_into_one_generation() {
    let c = start(GroupConfig {
        initial_rebalance_delay: Duration::from_millis(200),
        ..GroupConfig::default()
    });
    let a = member_id(&c, "g").await;
    let b = member_id(&c, "g").await;
    let ja = spawn_join(&c, join_req("g", &a));
    let jb = spawn_join(&c, join_req("g", &b));
    let (ra, rb) = (bounded(ja).await.unwrap(), bounded(jb).await.unwrap());
    assert_eq!((ra.generation_id, rb.generation_id), (1, 1));
    let mut r = join_req("g2", "");
    r.rebalance_timeout_ms = 300;
    // v3 (no MEMBER_ID_REQUIRED): a lone member waits out the delay, then gets generation 1.
    let lone = bounded(c.join_group(r, 3, "c", "/h")).await;
    assert_eq!(
        (lone.error_code, lone.generation_id, lone.members.len()),
        (0, 1, 1)
    );
}

#[tokio::test]
async fn shutdown_answers_parked_calls_and_refuses_new_ones() {
    let c = start(GroupConfig::default());
    let f = form_dynamic(&c, "g", 1).await;
    let b = member_id(&c, "g").await;
    let parked = spawn_join(&c, join_req("g", &b));
    eventually(|| c.group_state("g") == Some(GroupState::PreparingRebalance)).await;
    bounded(c.shutdown()).await.unwrap();
    let r = bounded(parked).await.unwrap();
    assert_eq!(r.error_code, code(ErrorCode::CoordinatorNotAvailable));
    assert_eq!(
        heartbeat(&c, "g", &f.members[0], 1).await,
        code(ErrorCode::CoordinatorNotAvailable)
    );
    assert_eq!(
        join(&c, join_req("g", "")).await.error_code,
        code(ErrorCode::CoordinatorNotAvailable)
    );
    bounded(c.shutdown()).await.unwrap();
}

#[tokio::test]
async fn responses_encode_at_every_version() {
    let c = start(GroupConfig::default());
    for v in 0..=9i16 {
        let group = format!("g{v}");
        let mut req = join_req(&group, "");
        if v >= 5 {
            req.group_instance_id = Some(format!("i{v}").into());
        }
        let mut r = bounded(c.join_group(req.clone(), v, "c", "/h")).await;
        r.to_bytes(v).unwrap();
        if r.error_code == code(ErrorCode::MemberIdRequired) {
            req.member_id = r.member_id.clone();
            r = bounded(c.join_group(req, v, "c", "/h")).await;
            r.to_bytes(v).unwrap();
        }
        assert_eq!(r.error_code, 0, "v{v}");
        let sv = v.min(5);
        let mut s = sync_req(
            &group,
            &r.member_id,
            r.generation_id,
            &[(&r.member_id, b"x")],
        );
        if sv < 5 {
            s.protocol_type = None;
            s.protocol_name = None;
        }
        if sv >= 3 && v >= 5 {
            s.group_instance_id = Some(format!("i{v}").into());
        }
        let sr = bounded(c.sync_group(s, sv)).await;
        assert_eq!(sr.error_code, 0, "sync v{sv}");
        sr.to_bytes(sv).unwrap();
        for hv in 0..=4 {
            let h = HeartbeatRequest {
                group_id: group.as_str().into(),
                generation_id: 1,
                member_id: r.member_id.clone(),
                ..Default::default()
            };
            c.heartbeat(h, hv).await.to_bytes(hv).unwrap();
        }
    }
}
