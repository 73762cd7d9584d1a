//! ListGroups, DescribeGroups, DeleteGroups, and the served versions.

use kafka_proto::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_proto::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, ListGroupsRequest, OffsetCommitRequest,
};
use kafka_proto::{ApiKey, ErrorCode};

use super::*;
use crate::groups::{served_versions, GroupState, SERVED};

async fn simple_commit(c: &Arc<GroupCoordinator>, group: &str) {
    let req = OffsetCommitRequest {
        group_id: group.into(),
        topics: vec![OffsetCommitRequestTopic {
            name: "t1".into(),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: 1,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(
        c.offset_commit(req, 8).await.topics[0].partitions[0].error_code,
        0
    );
}

fn listed(r: &kafka_proto::messages::ListGroupsResponse) -> Vec<(String, String, String)> {
    r.groups
        .iter()
        .map(|g| {
            (
                g.group_id.to_string(),
                g.protocol_type.to_string(),
                g.group_state.to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn describe_list_and_delete_groups() {
    let c = start(GroupConfig::default());
    simple_commit(&c, "empty").await;
    let f = form_dynamic(&c, "stable", 2).await;

    // DescribeGroups: Stable with protocol, members with client id, host, metadata, assignment.
    let req = DescribeGroupsRequest {
        groups: vec!["stable".into(), "empty".into(), "ghost".into()],
        include_authorized_operations: true,
        ..Default::default()
    };
    let d = c.describe_groups(req.clone(), 5).await;
    d.to_bytes(5).unwrap();
    let s = &d.groups[0];
    assert_eq!(
        (
            s.error_code,
            s.group_state.as_ref(),
            s.protocol_type.as_ref(),
            s.protocol_data.as_ref()
        ),
        (0, "Stable", "consumer", "range")
    );
    assert_eq!(s.members.len(), 2);
    for m in &s.members {
        assert_eq!(
            (m.client_id.as_ref(), m.client_host.as_ref()),
            ("client", "/127.0.0.1")
        );
        assert_eq!(m.member_metadata, subscription(&["t1"]));
        assert_eq!(m.member_assignment, m.member_id.as_bytes());
    }
    assert!(f.members.contains(&s.members[0].member_id));
    assert_ne!(s.authorized_operations, i32::MIN);
    assert_eq!(
        (
            d.groups[1].group_state.as_ref(),
            d.groups[1].protocol_type.as_ref()
        ),
        ("Empty", "")
    );
    assert_eq!(
        (d.groups[2].error_code, d.groups[2].group_state.as_ref()),
        (0, "Dead")
    );
    for v in 0..=4 {
        let mut r = req.clone();
        r.include_authorized_operations = v >= 3;
        c.describe_groups(r, v).await.to_bytes(v).unwrap();
    }

    // A rebalance in progress: members listed without metadata.
    let b = member_id(&c, "stable").await;
    let parked = spawn_join(&c, join_req("stable", &b));
    eventually(|| c.group_state("stable") == Some(GroupState::PreparingRebalance)).await;
    let d = c
        .describe_groups(
            DescribeGroupsRequest {
                groups: vec!["stable".into()],
                ..Default::default()
            },
            5,
        )
        .await;
    assert_eq!(
        (
            d.groups[0].group_state.as_ref(),
            d.groups[0].protocol_data.as_ref()
        ),
        ("PreparingRebalance", "")
    );
    assert!(d.groups[0]
        .members
        .iter()
        .all(|m| m.member_metadata.is_empty()));

    // ListGroups with state (v4, case-insensitive) and type (v5) filters.
    let all = c.list_groups(ListGroupsRequest::default(), 5).await;
    all.to_bytes(5).unwrap();
    assert_eq!(
        listed(&all),
        [
            ("empty".into(), String::new(), "Empty".into()),
            (
                "stable".into(),
                "consumer".into(),
                "PreparingRebalance".into()
            )
        ]
    );
    let filtered = c
        .list_groups(
            ListGroupsRequest {
                states_filter: vec!["empty".into()],
                ..Default::default()
            },
            4,
        )
        .await;
    assert_eq!(listed(&filtered).len(), 1);
    let classic = c
        .list_groups(
            ListGroupsRequest {
                types_filter: vec!["Classic".into()],
                ..Default::default()
            },
            5,
        )
        .await;
    assert_eq!(classic.groups.len(), 2);
    assert_eq!(classic.groups[0].group_type, "classic");
    let consumer = c
        .list_groups(
            ListGroupsRequest {
                types_filter: vec!["consumer".into()],
                ..Default::default()
            },
            5,
        )
        .await;
    assert!(consumer.groups.is_empty());
    for v in 0..=3 {
        c.list_groups(ListGroupsRequest::default(), v)
            .await
            .to_bytes(v)
            .unwrap();
    }

    // DeleteGroups: only Empty groups.
    let del = c
        .delete_groups(
            DeleteGroupsRequest {
                groups_names: vec![
                    "stable".into(),
                    "empty".into(),
                    "ghost".into(),
                    "empty".into(),
                ],
                ..Default::default()
            },
            2,
        )
        .await;
    del.to_bytes(2).unwrap();
    let results: Vec<_> = del
        .results
        .iter()
        .map(|r| (r.group_id.to_string(), r.error_code))
        .collect();
    assert_eq!(
        results,
        [
            ("stable".into(), code(ErrorCode::NonEmptyGroup)),
            ("empty".into(), 0),
            ("ghost".into(), code(ErrorCode::GroupIdNotFound))
        ]
    );
    assert_eq!(c.group_state("empty"), None);
    drop(parked);
}

#[test]
fn served_versions_are_the_stable_ranges() {
    assert_eq!(SERVED.len(), 10);
    for (api, range) in SERVED {
        assert_eq!(*range, api.stable_versions(), "{api:?}");
        assert_eq!(served_versions(*api), Some(*range));
    }
    assert_eq!(served_versions(ApiKey::Produce), None);
}
