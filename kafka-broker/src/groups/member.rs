//! One member of a classic group, and the results handed to its pending JoinGroup and
//! SyncGroup calls.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafka_proto::messages::join_group_response::JoinGroupResponseMember;
use kafka_proto::messages::{JoinGroupResponse, SyncGroupResponse};
use kafka_proto::{ErrorCode, KStr};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// A protocol a member supports (e.g. `range`) with its metadata (for consumers, an encoded
/// `ConsumerProtocolSubscription`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Protocol {
    pub name: KStr,
    pub metadata: Bytes,
}

/// A member of a group.
#[derive(Debug)]
pub(crate) struct Member {
    pub id: KStr,
    /// `group.instance.id` of a static member (KIP-345).
    pub instance_id: Option<KStr>,
    pub client_id: KStr,
    pub client_host: KStr,
    pub rebalance_timeout: Duration,
    pub session_timeout: Duration,
    pub protocol_type: KStr,
    /// In the member's order of preference.
    pub protocols: Vec<Protocol>,
    /// What the leader assigned it in the current generation.
    pub assignment: Bytes,
    /// The pending JoinGroup call, while the member waits for a rebalance to complete.
    pub join_waiter: Option<oneshot::Sender<JoinResult>>,
    /// The pending SyncGroup call, while the member waits for the leader's assignment.
    pub sync_waiter: Option<oneshot::Sender<SyncResult>>,
    /// Joined but not yet part of a completed generation: expires on its join deadline even
    /// while its JoinGroup call is pending (Kafka's `isNew`).
    pub is_new: bool,
    /// When the member is removed unless it shows a sign of life (heartbeat, commit, ...).
    pub deadline: Instant,
}

impl Member {
    pub fn is_awaiting_join(&self) -> bool {
        self.join_waiter.is_some()
    }

    pub fn is_awaiting_sync(&self) -> bool {
        self.sync_waiter.is_some()
    }

    /// Whether the liveness deadline applies now. Members parked in a JoinGroup or SyncGroup
    /// call are alive by definition (their deadline is reset when the call completes), except
    /// new members, whose first JoinGroup is bounded by the new-member join timeout.
    pub fn deadline_armed(&self) -> bool {
        self.is_new || !(self.is_awaiting_join() || self.is_awaiting_sync())
    }

    /// Metadata for `protocol`, if the member supports it.
    pub fn metadata(&self, protocol: &str) -> Option<&Bytes> {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map(|p| &p.metadata)
    }

    /// Same protocols with the same metadata, in the same order.
    pub fn matches(&self, protocols: &[Protocol]) -> bool {
        self.protocols == protocols
    }

    /// The member's most preferred protocol among `candidates`.
    pub fn vote<'a>(&'a self, candidates: &[&str]) -> Option<&'a KStr> {
        self.protocols
            .iter()
            .map(|p| &p.name)
            .find(|n| candidates.contains(&n.as_ref()))
    }

    /// Hands `result` to the pending JoinGroup call, if any. A call whose client went away
    /// (dropped receiver) is simply forgotten.
    pub fn complete_join(&mut self, result: JoinResult) -> bool {
        match self.join_waiter.take() {
            Some(tx) => {
                let _ = tx.send(result);
                true
            }
            None => false,
        }
    }

    /// Hands `result` to the pending SyncGroup call, if any.
    pub fn complete_sync(&mut self, result: SyncResult) -> bool {
        match self.sync_waiter.take() {
            Some(tx) => {
                let _ = tx.send(result);
                true
            }
            None => false,
        }
    }
}

/// The outcome of a JoinGroup call, independent of the request version.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct JoinResult {
    pub error: ErrorCode,
    pub generation: i32,
    pub protocol_type: Option<KStr>,
    pub protocol_name: Option<KStr>,
    pub leader: KStr,
    pub skip_assignment: bool,
    pub member_id: KStr,
    /// `(member id, instance id, metadata)`; only for the leader.
    pub members: Vec<(KStr, Option<KStr>, Bytes)>,
}

impl JoinResult {
    /// An error answer (generation -1, no leader, no protocol).
    pub fn error(member_id: KStr, error: ErrorCode) -> JoinResult {
        JoinResult {
            error,
            generation: -1,
            protocol_type: None,
            protocol_name: None,
            leader: KStr::new(),
            skip_assignment: false,
            member_id,
            members: Vec::new(),
        }
    }

    /// The response at `version`: v0-6 have a non-nullable protocol name, v7+ add the
    /// protocol type, v9 `skip_assignment`.
    pub fn into_response(self, version: i16) -> JoinGroupResponse {
        let protocol_name = if version >= 7 {
            self.protocol_name
        } else {
            Some(self.protocol_name.unwrap_or_default())
        };
        JoinGroupResponse {
            error_code: self.error.code(),
            generation_id: self.generation,
            protocol_type: if version >= 7 {
                self.protocol_type
            } else {
                None
            },
            protocol_name,
            leader: self.leader,
            skip_assignment: version >= 9 && self.skip_assignment,
            member_id: self.member_id,
            members: self
                .members
                .into_iter()
                .map(
                    |(member_id, instance_id, metadata)| JoinGroupResponseMember {
                        member_id,
                        group_instance_id: if version >= 5 { instance_id } else { None },
                        metadata,
                        ..Default::default()
                    },
                )
                .collect(),
            ..Default::default()
        }
    }
}

/// The outcome of a SyncGroup call.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SyncResult {
    pub error: ErrorCode,
    pub protocol_type: Option<KStr>,
    pub protocol_name: Option<KStr>,
    pub assignment: Bytes,
}

impl SyncResult {
    pub fn error(error: ErrorCode) -> SyncResult {
        SyncResult {
            error,
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }

    /// The response at `version` (protocol type and name exist from v5).
    pub fn into_response(self, version: i16) -> SyncGroupResponse {
        let v5 = version >= 5;
        SyncGroupResponse {
            error_code: self.error.code(),
            protocol_type: if v5 { self.protocol_type } else { None },
            protocol_name: if v5 { self.protocol_name } else { None },
            assignment: self.assignment,
            ..Default::default()
        }
    }
}

/// A new member id: `<prefix>-<random UUID>`, where the prefix is the client id (dynamic
/// members) or the group instance id (static members), as Kafka builds them.
pub(crate) fn new_member_id(prefix: &str) -> KStr {
    format!("{prefix}-{}", random_uuid()).into()
}

/// A random (version 4 layout) UUID in the usual 8-4-4-4-12 form.
///
/// Uses std's randomly keyed SipHash over a process-wide counter and the clock: unique within
/// the process and unpredictable enough for member ids, without a dependency.
fn random_uuid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let word = |salt: u64| {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_u64(salt);
        h.write_u128(nanos);
        h.finish()
    };
    let hi = (word(1) & 0xffff_ffff_ffff_0fff) | 0x4000; // version 4
    let lo = (word(2) & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000; // RFC 4122 variant
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_ids_are_prefixed_unique_uuids() {
        let a = new_member_id("client");
        let b = new_member_id("client");
        assert_ne!(a, b);
        let uuid = a.strip_prefix("client-").unwrap();
        let parts: Vec<_> = uuid.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert_eq!(uuid.as_bytes()[14], b'4');
    }

    #[test]
    fn join_response_fields_follow_the_version() {
        let r = JoinResult {
            error: ErrorCode::None,
            generation: 3,
            protocol_type: Some("consumer".into()),
            protocol_name: None,
            leader: "m".into(),
            skip_assignment: true,
            member_id: "m".into(),
            members: vec![("m".into(), Some("i".into()), Bytes::from_static(b"x"))],
        };
        let v6 = r.clone().into_response(6);
        assert_eq!(v6.protocol_name.as_deref(), Some(""));
        assert_eq!(v6.protocol_type, None);
        assert!(!v6.skip_assignment);
        assert_eq!(v6.members[0].group_instance_id.as_deref(), Some("i"));
        let v4 = r.clone().into_response(4);
        assert_eq!(v4.members[0].group_instance_id, None);
        let v9 = r.into_response(9);
        assert_eq!(v9.protocol_name, None);
        assert_eq!(v9.protocol_type.as_deref(), Some("consumer"));
        assert!(v9.skip_assignment);
        use kafka_proto::Message;
        for v in 0..=9 {
            let resp = JoinResult::error("x".into(), ErrorCode::MemberIdRequired).into_response(v);
            resp.to_bytes(v).unwrap();
        }
    }
}
