//! ListGroups, DescribeGroups and DeleteGroups.

use std::collections::HashSet;

use kafka_proto::messages::delete_groups_response::DeletableGroupResult;
use kafka_proto::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_proto::messages::list_groups_response::ListedGroup;
use kafka_proto::messages::{
    DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
    ListGroupsRequest, ListGroupsResponse,
};
use kafka_proto::{ErrorCode, KStr};

use super::group::{Group, GroupState};
use super::offset_log::LogEntry;
use super::State;

/// The operations a principal may do on a group (READ, DELETE, DESCRIBE as bits of Kafka's
/// `AclOperation` codes 3, 6 and 8); without an authorizer Kafka reports all of them.
const GROUP_AUTHORIZED_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

/// Classic groups' type name in ListGroups v5 (KIP-848).
const CLASSIC: &str = "classic";

impl State {
    /// ListGroups: every group, filtered by state (v4+, case-insensitive) and type (v5+).
    pub(crate) fn list_groups(&self, req: &ListGroupsRequest, version: i16) -> ListGroupsResponse {
        if !self.running {
            return ListGroupsResponse {
                error_code: ErrorCode::CoordinatorNotAvailable.code(),
                ..Default::default()
            };
        }
        let states: HashSet<String> = if version >= 4 {
            req.states_filter.iter().map(|s| s.to_lowercase()).collect()
        } else {
            HashSet::new()
        };
        let types_ok = version < 5
            || req.types_filter.is_empty()
            || req
                .types_filter
                .iter()
                .any(|t| t.eq_ignore_ascii_case(CLASSIC));
        let mut groups: Vec<&Group> = self
            .groups
            .values()
            .filter(|g| {
                types_ok && (states.is_empty() || states.contains(&g.state.name().to_lowercase()))
            })
            .collect();
        groups.sort_by(|a, b| a.id.cmp(&b.id));
        ListGroupsResponse {
            groups: groups
                .into_iter()
                .map(|g| ListedGroup {
                    group_id: g.id.clone(),
                    protocol_type: g.protocol_type.clone().unwrap_or_default(),
                    group_state: KStr::from_static(g.state.name()),
                    group_type: KStr::from_static(CLASSIC),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    /// DescribeGroups: state, protocol and members; member metadata and assignments only when
    /// Stable (as Kafka); an unknown group is reported `Dead` without error.
    pub(crate) fn describe_groups(
        &self,
        req: &DescribeGroupsRequest,
        version: i16,
    ) -> DescribeGroupsResponse {
        let authorized = (version >= 3 && req.include_authorized_operations)
            .then_some(GROUP_AUTHORIZED_OPERATIONS);
        let groups = req
            .groups
            .iter()
            .map(|id| {
                let mut d = DescribedGroup {
                    group_id: id.clone(),
                    ..Default::default()
                };
                if let Some(ops) = authorized {
                    d.authorized_operations = ops;
                }
                if !self.running {
                    d.error_code = ErrorCode::CoordinatorNotAvailable.code();
                    return d;
                }
                let Some(g) = self.groups.get(id) else {
                    d.group_state = KStr::from_static(GroupState::Dead.name());
                    return d;
                };
                let stable = g.state == GroupState::Stable;
                let protocol = if stable {
                    g.protocol_name.clone().unwrap_or_default()
                } else {
                    KStr::new()
                };
                d.group_state = KStr::from_static(g.state.name());
                d.protocol_type = g.protocol_type.clone().unwrap_or_default();
                d.members = g
                    .members
                    .iter()
                    .map(|m| DescribedGroupMember {
                        member_id: m.id.clone(),
                        group_instance_id: if version >= 4 {
                            m.instance_id.clone()
                        } else {
                            None
                        },
                        client_id: m.client_id.clone(),
                        client_host: m.client_host.clone(),
                        member_metadata: if stable {
                            m.metadata(&protocol).cloned().unwrap_or_default()
                        } else {
                            bytes::Bytes::new()
                        },
                        member_assignment: if stable {
                            m.assignment.clone()
                        } else {
                            bytes::Bytes::new()
                        },
                        ..Default::default()
                    })
                    .collect();
                d.protocol_data = protocol;
                d
            })
            .collect();
        DescribeGroupsResponse {
            groups,
            ..Default::default()
        }
    }

    /// DeleteGroups: only Empty groups (NON_EMPTY_GROUP otherwise), with their offsets.
    pub(crate) fn delete_groups(&mut self, req: &DeleteGroupsRequest) -> DeleteGroupsResponse {
        let mut seen = HashSet::new();
        let mut results = Vec::new();
        for id in &req.groups_names {
            if !seen.insert(id.clone()) {
                continue;
            }
            let error = if !self.running {
                ErrorCode::CoordinatorNotAvailable
            } else {
                match self.groups.get(id).map(|g| g.state) {
                    None | Some(GroupState::Dead) => ErrorCode::GroupIdNotFound,
                    Some(GroupState::Empty) => {
                        match self.persist(&[LogEntry::DeleteGroup { group: id.clone() }]) {
                            Ok(()) => {
                                let offsets = self.groups.remove(id).map_or(0, |g| g.offsets.len());
                                tracing::info!(group = %id, offsets, "group deleted");
                                ErrorCode::None
                            }
                            Err(e) => {
                                tracing::error!(
                                    group = %id,
                                    error = %e,
                                    "cannot record group deletion",
                                );
                                ErrorCode::CoordinatorNotAvailable
                            }
                        }
                    }
                    Some(_) => ErrorCode::NonEmptyGroup,
                }
            };
            results.push(DeletableGroupResult {
                group_id: id.clone(),
                error_code: error.code(),
                ..Default::default()
            });
        }
        DeleteGroupsResponse {
            results,
            ..Default::default()
        }
    }
}
