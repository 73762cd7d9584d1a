//! OffsetCommit / OffsetFetch / OffsetDelete, persistence and retention.

use std::time::Duration;

use kafka_proto::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_proto::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_proto::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_proto::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest, OffsetFetchRequest,
    OffsetFetchResponse,
};
use kafka_proto::ErrorCode;

use super::*;

/// Commits `(topic, partition, offset)` with leader epoch 7 and metadata `m<offset>`.
fn commit_req(
    group: &str,
    generation: i32,
    member: &str,
    offsets: &[(&str, i32, i64)],
) -> OffsetCommitRequest {
    let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
    for (t, p, o) in offsets {
        let part = OffsetCommitRequestPartition {
            partition_index: *p,
            committed_offset: *o,
            committed_leader_epoch: 7,
            committed_metadata: Some(format!("m{o}").into()),
            ..Default::default()
        };
        match topics.iter_mut().find(|x| x.name == *t) {
            Some(x) => x.partitions.push(part),
            None => topics.push(OffsetCommitRequestTopic {
                name: (*t).into(),
                partitions: vec![part],
                ..Default::default()
            }),
        }
    }
    OffsetCommitRequest {
        group_id: group.into(),
        generation_id_or_member_epoch: generation,
        member_id: member.into(),
        topics,
        ..Default::default()
    }
}

fn errors(r: &OffsetCommitResponse) -> Vec<i16> {
    r.topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect()
}

/// `(topic, partition, offset, leader epoch, metadata, error)` of a v0-v7 response.
fn fetched(r: &OffsetFetchResponse) -> Vec<(String, i32, i64, i32, String, i16)> {
    r.topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                (
                    t.name.to_string(),
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata.as_deref().unwrap_or("").to_string(),
                    p.error_code,
                )
            })
        })
        .collect()
}

fn fetch_req(group: &str, topics: Option<&[(&str, &[i32])]>) -> OffsetFetchRequest {
    OffsetFetchRequest {
        group_id: group.into(),
        topics: topics.map(|ts| {
            ts.iter()
                .map(|(t, ps)| OffsetFetchRequestTopic {
                    name: (*t).into(),
                    partition_indexes: ps.iter().copied().collect(),
                    ..Default::default()
                })
                .collect()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn simple_commits_and_fetches() {
    let c = start(GroupConfig::default());
    let r = c
        .offset_commit(
            commit_req(
                "simple",
                -1,
                "",
                &[
                    ("t1", 0, 10),
                    ("t1", 1, 11),
                    ("t2", 0, 20),
                    ("missing", 0, 1),
                ],
            ),
            8,
        )
        .await;
    assert_eq!(
        errors(&r),
        [0, 0, 0, code(ErrorCode::UnknownTopicOrPartition)]
    );
    r.to_bytes(8).unwrap();
    // Requested partitions: -1 where nothing was committed.
    let f = c
        .offset_fetch(fetch_req("simple", Some(&[("t1", &[0, 5])])), 7)
        .await;
    assert_eq!(
        fetched(&f),
        [
            ("t1".into(), 0, 10, 7, "m10".into(), 0),
            ("t1".into(), 5, -1, -1, String::new(), 0)
        ]
    );
    // Null topics: everything committed, sorted.
    let f = c.offset_fetch(fetch_req("simple", None), 7).await;
    let all: Vec<_> = fetched(&f).into_iter().map(|x| (x.0, x.1, x.2)).collect();
    assert_eq!(
        all,
        [
            ("t1".into(), 0, 10),
            ("t1".into(), 1, 11),
            ("t2".into(), 0, 20)
        ]
    );
    // Old versions: no leader epoch in the commit, fetch still works.
    let r = c
        .offset_commit(commit_req("simple", -1, "", &[("t1", 0, 12)]), 2)
        .await;
    assert_eq!(errors(&r), [0]);
    let f = c
        .offset_fetch(fetch_req("simple", Some(&[("t1", &[0])])), 1)
        .await;
    assert_eq!(fetched(&f)[0].2, 12);
    assert_eq!(fetched(&f)[0].3, -1);
    f.to_bytes(1).unwrap();
    // Unknown group: -1, no error; all-topics: nothing.
    let f = c
        .offset_fetch(fetch_req("nobody", Some(&[("t1", &[0])])), 5)
        .await;
    assert_eq!(fetched(&f), [("t1".into(), 0, -1, -1, String::new(), 0)]);
    assert!(c
        .offset_fetch(fetch_req("nobody", None), 5)
        .await
        .topics
        .is_empty());
    // Too much metadata.
    let mut big = commit_req("simple", -1, "", &[("t1", 0, 13)]);
    big.topics[0].partitions[0].committed_metadata = Some("x".repeat(5000).into());
    assert_eq!(
        errors(&c.offset_commit(big, 8).await),
        [code(ErrorCode::OffsetMetadataTooLarge)]
    );
    // Null metadata is stored as "".
    let mut null = commit_req("simple", -1, "", &[("t1", 0, 14)]);
    null.topics[0].partitions[0].committed_metadata = None;
    assert_eq!(errors(&c.offset_commit(null, 8).await), [0]);
    assert_eq!(
        fetched(
            &c.offset_fetch(fetch_req("simple", Some(&[("t1", &[0])])), 6)
                .await
        )[0]
        .4,
        ""
    );
}

#[tokio::test]
async fn batched_offset_fetch_v8() {
    let c = start(GroupConfig::default());
    c.offset_commit(commit_req("a", -1, "", &[("t1", 0, 1)]), 8)
        .await;
    c.offset_commit(commit_req("b", -1, "", &[("t2", 3, 2)]), 8)
        .await;
    let req = OffsetFetchRequest {
        groups: vec![
            OffsetFetchRequestGroup {
                group_id: "a".into(),
                topics: None,
                ..Default::default()
            },
            OffsetFetchRequestGroup {
                group_id: "b".into(),
                topics: Some(vec![OffsetFetchRequestTopics {
                    name: "t2".into(),
                    partition_indexes: [3, 4].into_iter().collect(),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let r = c.offset_fetch(req, 9).await;
    r.to_bytes(9).unwrap();
    assert_eq!(r.groups.len(), 2);
    assert_eq!(r.groups[0].topics[0].partitions[0].committed_offset, 1);
    let b: Vec<_> = r.groups[1].topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.committed_offset))
        .collect();
    assert_eq!(b, [(3, 2), (4, -1)]);
}

#[tokio::test]
async fn member_commits_check_generation_and_membership() {
    let c = start(GroupConfig::default());
    let f = form_dynamic(&c, "g", 1).await;
    let m = f.members[0].to_string();
    assert_eq!(
        errors(
            &c.offset_commit(commit_req("g", f.generation, &m, &[("t1", 0, 5)]), 8)
                .await
        ),
        [0]
    );
    let e = |r: OffsetCommitResponse| errors(&r)[0];
    assert_eq!(
        e(
            c.offset_commit(commit_req("g", f.generation + 1, &m, &[("t1", 0, 6)]), 8)
                .await
        ),
        code(ErrorCode::IllegalGeneration)
    );
    assert_eq!(
        e(c.offset_commit(
            commit_req("g", f.generation, "stranger", &[("t1", 0, 6)]),
            8
        )
        .await),
        code(ErrorCode::UnknownMemberId)
    );
    // Simple commits are refused while the group has members.
    assert_eq!(
        e(c.offset_commit(commit_req("g", -1, "", &[("t1", 0, 6)]), 8)
            .await),
        code(ErrorCode::UnknownMemberId)
    );
    // A generation for a group that does not exist.
    assert_eq!(
        e(
            c.offset_commit(commit_req("none", 3, "m", &[("t1", 0, 6)]), 8)
                .await
        ),
        code(ErrorCode::IllegalGeneration)
    );
    assert_eq!(
        e(
            c.offset_commit(commit_req("none", 3, "m", &[("t1", 0, 6)]), 9)
                .await
        ),
        code(ErrorCode::GroupIdNotFound)
    );
    // During PreparingRebalance commits of the old generation still count; during
    // CompletingRebalance they get REBALANCE_IN_PROGRESS.
    let b = member_id(&c, "g").await;
    let jb = spawn_join(&c, join_req("g", &b));
    eventually(|| c.group_state("g") == Some(crate::groups::GroupState::PreparingRebalance)).await;
    assert_eq!(
        e(
            c.offset_commit(commit_req("g", f.generation, &m, &[("t1", 0, 7)]), 8)
                .await
        ),
        0
    );
    let ja = bounded(join(&c, join_req("g", &m))).await;
    bounded(jb).await.unwrap();
    assert_eq!(
        e(
            c.offset_commit(commit_req("g", ja.generation_id, &m, &[("t1", 0, 8)]), 8)
                .await
        ),
        code(ErrorCode::RebalanceInProgress)
    );
    let f = c
        .offset_fetch(fetch_req("g", Some(&[("t1", &[0])])), 7)
        .await;
    assert_eq!(fetched(&f)[0].2, 7);
}

#[tokio::test]
async fn offsets_survive_a_new_coordinator_over_the_same_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        GroupCoordinator::new(
            GroupConfig::default(),
            Some(dir.path().to_owned()),
            Arc::new(FakeTopics),
        )
        .unwrap()
    };
    let c = open();
    c.offset_commit(commit_req("g", -1, "", &[("t1", 0, 10), ("t1", 1, 20)]), 8)
        .await;
    c.offset_commit(commit_req("g", -1, "", &[("t1", 0, 11)]), 8)
        .await;
    c.offset_commit(commit_req("h", -1, "", &[("t2", 0, 5)]), 8)
        .await;
    bounded(c.shutdown()).await.unwrap();
    drop(c);

    let c = open();
    let f = c.offset_fetch(fetch_req("g", None), 7).await;
    assert_eq!(
        fetched(&f),
        [
            ("t1".into(), 0, 11, 7, "m11".into(), 0),
            ("t1".into(), 1, 20, 7, "m20".into(), 0)
        ]
    );
    // A group restored from offsets is Empty and accepts members and simple commits.
    assert_eq!(c.group_state("h"), Some(crate::groups::GroupState::Empty));
    // Without a clean shutdown (crash): commits written to the page cache are still there.
    c.offset_commit(commit_req("h", -1, "", &[("t2", 0, 6)]), 8)
        .await;
    drop(c);
    let c = open();
    assert_eq!(
        fetched(&c.offset_fetch(fetch_req("h", None), 7).await)[0].2,
        6
    );
}

#[tokio::test]
async fn a_torn_offsets_file_tail_is_tolerated() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        GroupCoordinator::new(
            GroupConfig::default(),
            Some(dir.path().to_owned()),
            Arc::new(FakeTopics),
        )
        .unwrap()
    };
    let c = open();
    c.offset_commit(commit_req("g", -1, "", &[("t1", 0, 10)]), 8)
        .await;
    c.offset_commit(commit_req("g", -1, "", &[("t1", 1, 20)]), 8)
        .await;
    drop(c);
    let path = dir.path().join("__consumer_offsets/offsets.log");
    let mut bytes = std::fs::read(&path).unwrap();
    let full = bytes.len();
    // Half of a further entry, as a crash mid-write leaves it.
    bytes.extend_from_slice(&[0, 0, 0, 60, 1, 2, 3, 4, 1, 0, 0]);
    std::fs::write(&path, &bytes).unwrap();
    let c = open();
    let f = c.offset_fetch(fetch_req("g", None), 7).await;
    assert_eq!(fetched(&f).len(), 2);
    // The tail is gone from the file (rewritten at start-up) and new commits are readable.
    assert!(std::fs::metadata(&path).unwrap().len() as usize <= full);
    c.offset_commit(commit_req("g", -1, "", &[("t1", 2, 30)]), 8)
        .await;
    drop(c);
    let c = open();
    assert_eq!(
        fetched(&c.offset_fetch(fetch_req("g", None), 7).await).len(),
        3
    );
}

#[tokio::test]
async fn offset_delete_rules() {
    let c = start(GroupConfig::default());
    let del = |group: &str, topics: &[(&str, i32)]| OffsetDeleteRequest {
        group_id: group.into(),
        topics: topics
            .iter()
            .map(|(t, p)| OffsetDeleteRequestTopic {
                name: (*t).into(),
                partitions: vec![OffsetDeleteRequestPartition {
                    partition_index: *p,
                }],
            })
            .collect(),
    };
    // A Stable consumer group whose members subscribe t1.
    let f = form_dynamic(&c, "g", 1).await;
    let m = f.members[0].to_string();
    c.offset_commit(
        commit_req("g", f.generation, &m, &[("t1", 0, 1), ("t2", 0, 2)]),
        8,
    )
    .await;
    let r = c
        .offset_delete(del("g", &[("t1", 0), ("t2", 0), ("missing", 0)]), 0)
        .await;
    r.to_bytes(0).unwrap();
    assert_eq!(r.error_code, 0);
    let errs: Vec<_> = r
        .topics
        .iter()
        .map(|t| t.partitions[0].error_code)
        .collect();
    assert_eq!(
        errs,
        [
            code(ErrorCode::GroupSubscribedToTopic),
            0,
            code(ErrorCode::UnknownTopicOrPartition)
        ]
    );
    let left: Vec<_> = fetched(&c.offset_fetch(fetch_req("g", None), 7).await)
        .into_iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(left, ["t1"]);
    // Unknown group; invalid id.
    assert_eq!(
        c.offset_delete(del("nobody", &[("t1", 0)]), 0)
            .await
            .error_code,
        code(ErrorCode::GroupIdNotFound)
    );
    assert_eq!(
        c.offset_delete(del("", &[("t1", 0)]), 0).await.error_code,
        code(ErrorCode::InvalidGroupId)
    );
    // A non-consumer group with members: NON_EMPTY_GROUP.
    let mut req = join_req("conn", "");
    req.protocol_type = "connect".into();
    let r = join(&c, req.clone()).await;
    req.member_id = r.member_id;
    bounded(join(&c, req)).await;
    assert_eq!(
        c.offset_delete(del("conn", &[("t1", 0)]), 0)
            .await
            .error_code,
        code(ErrorCode::NonEmptyGroup)
    );
    // An Empty group: deleting its last offset forgets the group.
    c.offset_commit(commit_req("simple", -1, "", &[("t1", 0, 1)]), 8)
        .await;
    let r = c.offset_delete(del("simple", &[("t1", 0)]), 0).await;
    assert_eq!((r.error_code, r.topics[0].partitions[0].error_code), (0, 0));
    assert_eq!(c.group_state("simple"), None);
}

#[tokio::test]
async fn deleted_topics_lose_their_offsets() {
    let c = start(GroupConfig::default());
    c.offset_commit(commit_req("a", -1, "", &[("t1", 0, 1), ("t2", 0, 2)]), 8)
        .await;
    c.offset_commit(commit_req("b", -1, "", &[("t1", 0, 3)]), 8)
        .await;
    c.topic_deleted("t1");
    let a: Vec<_> = fetched(&c.offset_fetch(fetch_req("a", None), 7).await)
        .into_iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(a, ["t2"]);
    assert_eq!(
        c.group_state("b"),
        None,
        "an empty group without offsets is forgotten"
    );
}

#[tokio::test]
async fn offsets_of_empty_groups_expire_after_retention() {
    let cfg = GroupConfig {
        offsets_retention: Duration::from_millis(100),
        offsets_retention_check_interval: Duration::from_millis(20),
        ..GroupConfig::default()
    };
    let c = start(cfg);
    c.offset_commit(commit_req("simple", -1, "", &[("t1", 0, 1)]), 8)
        .await;
    // A Stable consumer group keeps offsets of subscribed topics (t1) but not of others.
    let f = form_dynamic(&c, "live", 1).await;
    let m = f.members[0].to_string();
    c.offset_commit(
        commit_req("live", f.generation, &m, &[("t1", 0, 5), ("t9", 0, 6)]),
        8,
    )
    .await;
    let c2 = c.clone();
    eventually(move || c2.group_state("simple").is_none()).await;
    let c3 = c.clone();
    bounded(async move {
        loop {
            let f = c3.offset_fetch(fetch_req("live", None), 7).await;
            let topics: Vec<_> = fetched(&f).into_iter().map(|x| x.0).collect();
            if topics == ["t1"] {
                break;
            }
            // Heartbeats keep the member alive meanwhile.
            assert_eq!(heartbeat(&c3, "live", &m.as_str().into(), 1).await, 0);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let f = c
        .offset_fetch(fetch_req("simple", Some(&[("t1", &[0])])), 7)
        .await;
    assert_eq!(fetched(&f)[0].2, -1);
}

#[tokio::test]
async fn explicit_retention_time_of_v2_to_v4_commits() {
    let cfg = GroupConfig {
        offsets_retention_check_interval: Duration::from_millis(20),
        ..GroupConfig::default()
    };
    let c = start(cfg);
    let mut req = commit_req("g", -1, "", &[("t1", 0, 1)]);
    req.retention_time_ms = 50;
    assert_eq!(errors(&c.offset_commit(req, 2).await), [0]);
    let c2 = c.clone();
    eventually(move || c2.group_state("g").is_none()).await;
}
