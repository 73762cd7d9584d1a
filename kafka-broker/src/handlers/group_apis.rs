//! The classic consumer-group APIs, served by the group coordinator (`crate::groups`): JoinGroup,
//! SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, ListGroups, DescribeGroups,
//! DeleteGroups, OffsetDelete. This file routes them and applies injected faults; the version
//! ranges are the coordinator's.

use kafka_proto::messages::{
    HeartbeatResponse, JoinGroupResponse, LeaveGroupResponse, ListGroupsResponse,
    OffsetCommitResponse, OffsetFetchResponse, SyncGroupResponse,
};
use kafka_proto::{ApiKey, ErrorCode, RequestBody, ResponseBody, VersionRange};

use super::{Ctx, Req};

pub(crate) fn versions(api: ApiKey) -> Option<VersionRange> {
    crate::groups::served_versions(api)
}

/// The response to a group request that fault injection fails as a whole.
fn failed(body: &RequestBody, code: ErrorCode) -> Option<ResponseBody> {
    let c = code.code();
    Some(match body {
        RequestBody::JoinGroup(_) => JoinGroupResponse {
            error_code: c,
            generation_id: -1,
            ..Default::default()
        }
        .into(),
        RequestBody::SyncGroup(_) => SyncGroupResponse {
            error_code: c,
            ..Default::default()
        }
        .into(),
        RequestBody::Heartbeat(_) => HeartbeatResponse {
            error_code: c,
            ..Default::default()
        }
        .into(),
        RequestBody::LeaveGroup(_) => LeaveGroupResponse {
            error_code: c,
            ..Default::default()
        }
        .into(),
        RequestBody::ListGroups(_) => ListGroupsResponse {
            error_code: c,
            ..Default::default()
        }
        .into(),
        RequestBody::OffsetFetch(_) => OffsetFetchResponse {
            error_code: c,
            ..Default::default()
        }
        .into(),
        RequestBody::OffsetCommit(req) => {
            use kafka_proto::messages::offset_commit_response::{
                OffsetCommitResponsePartition, OffsetCommitResponseTopic,
            };
            OffsetCommitResponse {
                topics: req
                    .topics
                    .iter()
                    .map(|t| OffsetCommitResponseTopic {
                        name: t.name.clone(),
                        partitions: t
                            .partitions
                            .iter()
                            .map(|p| OffsetCommitResponsePartition {
                                partition_index: p.partition_index,
                                error_code: c,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }
            .into()
        }
        _ => return None,
    })
}

pub(crate) async fn handle(ctx: &Ctx, r: &Req<'_>, body: RequestBody) -> Option<ResponseBody> {
    if let Some(i) = &r.injected {
        if let Some(resp) = failed(&body, i.code) {
            return Some(resp);
        }
    }
    let g = &ctx.groups;
    let v = r.version;
    Some(match body {
        RequestBody::JoinGroup(req) => {
            let host = format!("/{}", r.conn.peer.ip());
            g.join_group(req, v, r.client_id(), &host).await.into()
        }
        RequestBody::SyncGroup(req) => g.sync_group(req, v).await.into(),
        RequestBody::Heartbeat(req) => g.heartbeat(req, v).await.into(),
        RequestBody::LeaveGroup(req) => g.leave_group(req, v).await.into(),
        RequestBody::OffsetCommit(req) => g.offset_commit(req, v).await.into(),
        RequestBody::OffsetFetch(req) => g.offset_fetch(req, v).await.into(),
        RequestBody::ListGroups(req) => g.list_groups(req, v).await.into(),
        RequestBody::DescribeGroups(req) => g.describe_groups(req, v).await.into(),
        RequestBody::DeleteGroups(req) => g.delete_groups(req, v).await.into(),
        RequestBody::OffsetDelete(req) => g.offset_delete(req, v).await.into(),
        other => {
            tracing::error!(api = %other.api_key(), "request routed to the group APIs by mistake");
            return None;
        }
    })
}
