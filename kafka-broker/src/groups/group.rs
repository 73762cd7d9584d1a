//! One classic group: members, generations, the rebalance state machine and its deadlines.
//!
//! The request-level operations (join, sync, heartbeat, leave) are in `membership.rs`; this
//! file holds what they share: member bookkeeping, protocol selection, preparing and completing
//! a rebalance, propagating the leader's assignment, and the timers.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bytes::Bytes;
use kafka_proto::messages::ConsumerProtocolSubscription;
use kafka_proto::{Decoder, ErrorCode, KStr, Message};
use tokio::time::Instant;

use super::config::GroupConfig;
use super::member::{JoinResult, Member, SyncResult};
use super::now_ms;
use super::offsets::OffsetTable;

/// How long a new member's first JoinGroup may wait for the rebalance to complete before the
/// member is dropped (Kafka's `NewMemberJoinTimeoutMs`, 5 minutes).
pub(crate) const NEW_MEMBER_JOIN_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// The state of a classic group, named as Kafka names it in DescribeGroups and ListGroups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No members; may still hold committed offsets.
    Empty,
    /// A rebalance started: waiting for members to (re)join.
    PreparingRebalance,
    /// Everyone joined: waiting for the leader's assignment (SyncGroup).
    CompletingRebalance,
    /// Assignment handed out; members heartbeat.
    Stable,
    /// The group is gone (reported for unknown groups).
    Dead,
}

impl GroupState {
    /// Kafka's spelling: `Empty`, `PreparingRebalance`, `CompletingRebalance`, `Stable`, `Dead`.
    pub const fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

impl std::fmt::Display for GroupState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A classic group.
#[derive(Debug)]
pub(crate) struct Group {
    pub id: KStr,
    pub state: GroupState,
    /// Wall-clock milliseconds of the last state change (offset retention of Empty groups).
    pub state_since_ms: i64,
    /// Set by the first member; kept while the group is Empty. `None` for groups that only
    /// store offsets.
    pub protocol_type: Option<KStr>,
    /// The protocol chosen for the current generation.
    pub protocol_name: Option<KStr>,
    pub generation: i32,
    pub leader: Option<KStr>,
    /// In join order (the first one is the leader unless it leaves).
    pub members: Vec<Member>,
    /// `group.instance.id` → member id.
    pub static_members: HashMap<KStr, KStr>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with the deadline to rejoin by.
    pub pending_members: HashMap<KStr, Instant>,
    /// Members of the current generation that have not sent SyncGroup yet.
    pub pending_sync: HashSet<KStr>,
    /// When the current join phase completes regardless of who rejoined.
    pub join_deadline: Option<Instant>,
    /// During the initial rebalance delay of an empty group: the rebalance time left after it.
    pub initial_delay_remaining: Option<Duration>,
    /// A new member joined during the initial delay (which then extends).
    pub new_member_added: bool,
    /// When members still in `pending_sync` are removed.
    pub sync_deadline: Option<Instant>,
    /// Topics the consumer-protocol members subscribe to; `None` when unknown.
    pub subscribed_topics: Option<HashSet<KStr>>,
    pub offsets: OffsetTable,
}

impl Group {
    pub fn new(id: KStr) -> Group {
        Group {
            id,
            state: GroupState::Empty,
            state_since_ms: now_ms(),
            protocol_type: None,
            protocol_name: None,
            generation: 0,
            leader: None,
            members: Vec::new(),
            static_members: HashMap::new(),
            pending_members: HashMap::new(),
            pending_sync: HashSet::new(),
            join_deadline: None,
            initial_delay_remaining: None,
            new_member_added: false,
            sync_deadline: None,
            subscribed_topics: None,
            offsets: OffsetTable::default(),
        }
    }

    /// Empty, without offsets and without member ids handed out: nothing left to keep.
    pub fn is_disposable(&self) -> bool {
        self.state == GroupState::Empty
            && self.offsets.is_empty()
            && self.pending_members.is_empty()
    }

    // ---- members -------------------------------------------------------------------------

    pub fn index_of(&self, member_id: &str) -> Option<usize> {
        self.members.iter().position(|m| m.id == member_id)
    }

    pub fn member(&self, member_id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == member_id)
    }

    pub fn member_mut(&mut self, member_id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == member_id)
    }

    pub fn has_member(&self, member_id: &str) -> bool {
        self.index_of(member_id).is_some()
    }

    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader.as_deref() == Some(member_id)
    }

    pub fn awaiting_join_count(&self) -> usize {
        self.members.iter().filter(|m| m.is_awaiting_join()).count()
    }

    /// Adds a member (its JoinGroup call, if any, is in `member.join_waiter`).
    pub fn add_member(&mut self, member: Member) {
        if self.members.is_empty() {
            self.protocol_type = Some(member.protocol_type.clone());
        }
        if let Some(instance) = &member.instance_id {
            self.static_members
                .insert(instance.clone(), member.id.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(member.id.clone());
        }
        self.pending_members.remove(&member.id);
        self.members.push(member);
    }

    /// Removes a member without touching the rebalance state; the leader passes to the first
    /// remaining member.
    pub fn remove_member(&mut self, member_id: &str) -> Option<Member> {
        let idx = self.index_of(member_id)?;
        let member = self.members.remove(idx);
        if let Some(instance) = &member.instance_id {
            if self
                .static_members
                .get(instance)
                .is_some_and(|m| *m == member.id)
            {
                self.static_members.remove(instance);
            }
        }
        if self.is_leader(member_id) {
            self.leader = self.members.first().map(|m| m.id.clone());
        }
        self.pending_members.remove(member_id);
        self.pending_sync.remove(member_id);
        Some(member)
    }

    /// Removes a member and lets the group react: a pending JoinGroup gets UNKNOWN_MEMBER_ID, a
    /// stable or completing group rebalances, a preparing one may now complete.
    pub fn remove_member_and_update(
        &mut self,
        member_id: &str,
        now: Instant,
        cfg: &GroupConfig,
        reason: &str,
    ) {
        let Some(mut member) = self.remove_member(member_id) else {
            return;
        };
        member.complete_join(JoinResult::error(KStr::new(), ErrorCode::UnknownMemberId));
        member.complete_sync(SyncResult::error(ErrorCode::UnknownMemberId));
        tracing::info!(group = %self.id, member = %member.id, reason, "member removed");
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.maybe_prepare_rebalance(now, cfg, reason)
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(now, cfg),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    /// Forgets a member id handed out with MEMBER_ID_REQUIRED.
    pub fn remove_pending_member(&mut self, member_id: &str, now: Instant, cfg: &GroupConfig) {
        if self.pending_members.remove(member_id).is_some()
            && self.state == GroupState::PreparingRebalance
        {
            self.maybe_complete_join(now, cfg);
        }
    }

    /// A sign of life from a member: its session deadline starts over.
    pub fn touch(&mut self, member_id: &str, now: Instant) {
        if let Some(m) = self.member_mut(member_id) {
            m.deadline = now + m.session_timeout;
        }
    }

    /// Kafka's `validateCurrentMember`: a static member must present the member id its
    /// instance id maps to (FENCED_INSTANCE_ID otherwise), and the member must exist.
    pub fn validate_member(&self, member_id: &str, instance_id: Option<&str>) -> Option<ErrorCode> {
        if let Some(instance) = instance_id {
            return match self.static_members.get(instance) {
                Some(current) if current != member_id => {
                    tracing::info!(
                        group = %self.id,
                        member = member_id,
                        instance,
                        current = %current,
                        "static member fenced",
                    );
                    Some(ErrorCode::FencedInstanceId)
                }
                Some(_) => None,
                None => Some(ErrorCode::UnknownMemberId),
            };
        }
        (!self.has_member(member_id)).then_some(ErrorCode::UnknownMemberId)
    }

    /// Checks of an OffsetCommit against the group (Kafka's `validateOffsetCommit`).
    pub fn validate_offset_commit(
        &self,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Option<ErrorCode> {
        if self.state == GroupState::Dead {
            return Some(ErrorCode::CoordinatorNotAvailable);
        }
        if generation < 0 && self.state == GroupState::Empty {
            return None;
        }
        if generation >= 0 || !member_id.is_empty() || instance_id.is_some() {
            if let Some(e) = self.validate_member(member_id, instance_id) {
                return Some(e);
            }
            if generation != self.generation {
                return Some(ErrorCode::IllegalGeneration);
            }
        } else if self.state != GroupState::Empty {
            // Only members may commit while the group has members.
            return Some(ErrorCode::UnknownMemberId);
        }
        (self.state == GroupState::CompletingRebalance).then_some(ErrorCode::RebalanceInProgress)
    }

    // ---- protocols -----------------------------------------------------------------------

    /// Protocols every member supports.
    fn candidate_protocols(&self) -> Vec<&str> {
        let Some(first) = self.members.first() else {
            return Vec::new();
        };
        first
            .protocols
            .iter()
            .map(|p| p.name.as_ref())
            .filter(|name| self.members.iter().all(|m| m.metadata(name).is_some()))
            .collect()
    }

    /// Whether a member with these protocols can be in the group: any type and protocol while
    /// Empty (but not none), else the group's type and at least one protocol all members support.
    pub fn supports_protocols(
        &self,
        protocol_type: &str,
        protocols: &[super::member::Protocol],
    ) -> bool {
        if protocol_type.is_empty() || protocols.is_empty() {
            return false;
        }
        if self.state == GroupState::Empty || self.members.is_empty() {
            return true;
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols
                .iter()
                .any(|p| self.members.iter().all(|m| m.metadata(&p.name).is_some()))
    }

    /// The protocol for the next generation: each member votes for its most preferred protocol
    /// that all members support; most votes wins; a tie goes to the protocol the leader prefers
    /// (Kafka leaves ties to hash order).
    pub fn select_protocol(&self) -> Option<KStr> {
        let candidates = self.candidate_protocols();
        let mut votes: Vec<(&KStr, usize)> = Vec::new();
        for m in &self.members {
            let Some(choice) = m.vote(&candidates) else {
                continue;
            };
            match votes.iter_mut().find(|(p, _)| *p == choice) {
                Some((_, n)) => *n += 1,
                None => votes.push((choice, 1)),
            }
        }
        let preference = |p: &KStr| {
            let leader = self.leader.as_deref().and_then(|l| self.member(l));
            leader
                .and_then(|l| l.protocols.iter().position(|x| x.name == *p))
                .unwrap_or(usize::MAX)
        };
        votes
            .into_iter()
            .max_by(|a, b| {
                a.1.cmp(&b.1)
                    .then_with(|| preference(b.0).cmp(&preference(a.0)))
            })
            .map(|(p, _)| p.clone())
    }

    /// `(member id, instance id, metadata for the chosen protocol)` of every member, for the
    /// leader's JoinGroup response.
    pub fn member_metadata(&self) -> Vec<(KStr, Option<KStr>, Bytes)> {
        let protocol = self.protocol_name.as_deref().unwrap_or("");
        self.members
            .iter()
            .map(|m| {
                (
                    m.id.clone(),
                    m.instance_id.clone(),
                    m.metadata(protocol).cloned().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// The current generation as a JoinGroup answer for `member_id`.
    pub fn join_result(
        &self,
        member_id: KStr,
        with_members: bool,
        leader: Option<KStr>,
        skip_assignment: bool,
    ) -> JoinResult {
        JoinResult {
            error: ErrorCode::None,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader: leader.or_else(|| self.leader.clone()).unwrap_or_default(),
            skip_assignment,
            members: if with_members {
                self.member_metadata()
            } else {
                Vec::new()
            },
            member_id,
        }
    }

    /// The topics consumer-protocol members subscribe to, decoded from their metadata with the
    /// v0 prefix every version shares; `None` if not a consumer group or unparsable.
    fn compute_subscribed_topics(&self) -> Option<HashSet<KStr>> {
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        if self.members.is_empty() {
            return Some(HashSet::new());
        }
        let protocol = self.protocol_name.as_deref()?;
        let mut topics = HashSet::new();
        for m in &self.members {
            let metadata = m.metadata(protocol)?;
            let mut d = Decoder::new(metadata);
            let version = d.i16().ok()?;
            if version < 0 {
                return None;
            }
            let sub = ConsumerProtocolSubscription::decode(&mut d, 0).ok()?;
            topics.extend(sub.topics);
        }
        Some(topics)
    }

    /// Whether members may consume `topic` (true when unknown, to be safe).
    pub fn is_subscribed_to(&self, topic: &str) -> bool {
        self.subscribed_topics
            .as_ref()
            .is_none_or(|t| t.contains(topic))
    }

    // ---- the rebalance -------------------------------------------------------------------

    pub fn transition(&mut self, to: GroupState) {
        tracing::debug!(
            group = %self.id,
            from = %self.state,
            to = %to,
            generation = self.generation,
            "group state",
        );
        self.state = to;
        self.state_since_ms = now_ms();
    }

    /// Longest rebalance timeout among members.
    pub fn rebalance_timeout(&self) -> Duration {
        self.members
            .iter()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or(Duration::ZERO)
    }

    pub fn maybe_prepare_rebalance(&mut self, now: Instant, cfg: &GroupConfig, reason: &str) {
        if matches!(
            self.state,
            GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty
        ) {
            self.prepare_rebalance(now, cfg, reason);
        }
    }

    /// Starts a rebalance: members awaiting an assignment are told REBALANCE_IN_PROGRESS, and
    /// the join phase starts (with the initial delay if the group was Empty).
    pub fn prepare_rebalance(&mut self, now: Instant, cfg: &GroupConfig, reason: &str) {
        if self.state == GroupState::CompletingRebalance {
            self.propagate_assignment(now, ErrorCode::RebalanceInProgress, None);
        }
        self.pending_sync.clear();
        self.sync_deadline = None;
        let rebalance_timeout = self.rebalance_timeout();
        if self.state == GroupState::Empty && !cfg.initial_rebalance_delay.is_zero() {
            let delay = cfg.initial_rebalance_delay;
            self.new_member_added = false;
            self.initial_delay_remaining = Some(rebalance_timeout.saturating_sub(delay));
            self.join_deadline = Some(now + delay);
        } else {
            self.initial_delay_remaining = None;
            self.join_deadline = Some(now + rebalance_timeout);
        }
        self.transition(GroupState::PreparingRebalance);
        tracing::info!(
            group = %self.id,
            generation = self.generation,
            members = self.members.len(),
            reason,
            "preparing to rebalance",
        );
        self.maybe_complete_join(now, cfg);
    }

    /// Completes the join phase early once every member has rejoined and no member id handed
    /// out with MEMBER_ID_REQUIRED is outstanding (never during the initial delay).
    pub fn maybe_complete_join(&mut self, now: Instant, cfg: &GroupConfig) {
        if self.state == GroupState::PreparingRebalance
            && self.initial_delay_remaining.is_none()
            && self.pending_members.is_empty()
            && self.members.iter().all(Member::is_awaiting_join)
        {
            self.complete_join(now, cfg);
        }
    }

    /// Ends the join phase: dynamic members that did not rejoin are dropped, the generation
    /// advances with a protocol all members support, everyone waiting gets its JoinGroup
    /// answer (the leader with all members' metadata), and the group waits for SyncGroup.
    pub fn complete_join(&mut self, now: Instant, cfg: &GroupConfig) {
        let _ = cfg;
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        let gone: Vec<KStr> = self
            .members
            .iter()
            .filter(|m| !m.is_awaiting_join() && m.instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in &gone {
            self.remove_member(id);
        }
        if !gone.is_empty() {
            tracing::info!(
                group = %self.id,
                removed = ?gone,
                "removed members that did not rejoin in time",
            );
        }
        self.join_deadline = None;
        self.initial_delay_remaining = None;
        if !self.members.is_empty() && !self.elect_joined_leader() {
            // Only static members that did not rejoin are left: wait another round.
            tracing::warn!(group = %self.id, "no member rejoined; extending the rebalance");
            self.join_deadline = Some(now + self.rebalance_timeout());
            return;
        }
        self.generation += 1;
        self.pending_sync.clear();
        if self.members.is_empty() {
            self.protocol_name = None;
            self.subscribed_topics = self.compute_subscribed_topics();
            self.transition(GroupState::Empty);
            tracing::info!(group = %self.id, generation = self.generation, "group is now empty");
            return;
        }
        self.protocol_name = self.select_protocol();
        self.subscribed_topics = self.compute_subscribed_topics();
        self.transition(GroupState::CompletingRebalance);
        tracing::info!(
            group = %self.id,
            generation = self.generation,
            members = self.members.len(),
            protocol = self.protocol_name.as_deref().unwrap_or(""),
            leader = self.leader.as_deref().unwrap_or(""),
            "rebalance: join phase complete"
        );
        let leader_view = self.member_metadata();
        for m in &mut self.members {
            let is_leader = self.leader.as_deref() == Some(&*m.id);
            let result = JoinResult {
                error: ErrorCode::None,
                generation: self.generation,
                protocol_type: self.protocol_type.clone(),
                protocol_name: self.protocol_name.clone(),
                leader: self.leader.clone().unwrap_or_default(),
                skip_assignment: false,
                member_id: m.id.clone(),
                members: if is_leader {
                    leader_view.clone()
                } else {
                    Vec::new()
                },
            };
            m.complete_join(result);
            m.deadline = now + m.session_timeout;
            m.is_new = false;
            self.pending_sync.insert(m.id.clone());
        }
        self.sync_deadline = Some(now + self.rebalance_timeout());
    }

    /// Keeps the leader if it rejoined, else picks a member that did; false if none did.
    fn elect_joined_leader(&mut self) -> bool {
        if self
            .leader
            .as_deref()
            .and_then(|l| self.member(l))
            .is_some_and(Member::is_awaiting_join)
        {
            return true;
        }
        match self.members.iter().find(|m| m.is_awaiting_join()) {
            Some(m) => {
                tracing::info!(
                    group = %self.id,
                    old = ?self.leader,
                    new = %m.id,
                    "leader did not rejoin; new leader elected",
                );
                self.leader = Some(m.id.clone());
                true
            }
            None => false,
        }
    }

    /// Hands out the assignment (or an error) to members waiting in SyncGroup. With
    /// `assignments`, each member's assignment is first set from it (missing ones empty); on
    /// error all assignments are cleared.
    pub fn propagate_assignment(
        &mut self,
        now: Instant,
        error: ErrorCode,
        assignments: Option<&HashMap<KStr, Bytes>>,
    ) {
        let ok = error == ErrorCode::None;
        let (ptype, pname) = if ok {
            (self.protocol_type.clone(), self.protocol_name.clone())
        } else {
            (None, None)
        };
        for m in &mut self.members {
            m.assignment = match assignments {
                Some(a) if ok => a.get(&m.id).cloned().unwrap_or_default(),
                _ if ok => m.assignment.clone(),
                _ => Bytes::new(),
            };
            let result = SyncResult {
                error,
                protocol_type: ptype.clone(),
                protocol_name: pname.clone(),
                assignment: m.assignment.clone(),
            };
            if m.complete_sync(result) {
                m.deadline = now + m.session_timeout;
            }
        }
    }

    // ---- timers --------------------------------------------------------------------------

    /// The earliest deadline that would change something.
    pub fn next_deadline(&self) -> Option<Instant> {
        let members = self
            .members
            .iter()
            .filter(|m| m.deadline_armed())
            .map(|m| m.deadline);
        let pending = self.pending_members.values().copied();
        let group = [self.join_deadline, self.sync_deadline]
            .into_iter()
            .flatten();
        members.chain(pending).chain(group).min()
    }

    /// Acts on every deadline that has passed at `now`.
    pub fn on_timer(&mut self, now: Instant, cfg: &GroupConfig) {
        let expired_pending: Vec<KStr> = self
            .pending_members
            .iter()
            .filter(|(_, d)| **d <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired_pending {
            tracing::info!(
                group = %self.id,
                member = %id,
                "pending member did not rejoin in its session timeout",
            );
            self.remove_pending_member(&id, now, cfg);
        }
        let expired: Vec<KStr> = self
            .members
            .iter()
            .filter(|m| m.deadline_armed() && m.deadline <= now)
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            self.remove_member_and_update(&id, now, cfg, "session timeout expired");
        }
        if self.state == GroupState::PreparingRebalance
            && self.join_deadline.is_some_and(|d| d <= now)
        {
            match self.initial_delay_remaining {
                Some(remaining) if self.new_member_added && !remaining.is_zero() => {
                    // Kafka's InitialDelayedJoin: new members keep arriving, wait a bit more.
                    let delay = cfg.initial_rebalance_delay.min(remaining);
                    self.new_member_added = false;
                    self.initial_delay_remaining = Some(remaining - delay);
                    self.join_deadline = Some(now + delay);
                }
                _ => self.complete_join(now, cfg),
            }
        }
        if self.sync_deadline.is_some_and(|d| d <= now) {
            self.sync_deadline = None;
            if matches!(
                self.state,
                GroupState::CompletingRebalance | GroupState::Stable
            ) && !self.pending_sync.is_empty()
            {
                let late: Vec<KStr> = self.pending_sync.drain().collect();
                tracing::info!(
                    group = %self.id,
                    members = ?late,
                    "members did not send SyncGroup in time; removing",
                );
                for id in &late {
                    if let Some(mut m) = self.remove_member(id) {
                        m.complete_join(JoinResult::error(KStr::new(), ErrorCode::UnknownMemberId));
                    }
                }
                self.prepare_rebalance(now, cfg, "pending SyncGroup expired");
            }
        }
    }

    /// Answers every pending call with `error` (coordinator shutting down).
    pub fn fail_waiters(&mut self, error: ErrorCode) {
        for m in &mut self.members {
            m.complete_join(JoinResult::error(m.id.clone(), error));
            m.complete_sync(SyncResult::error(error));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::member::Protocol;
    use super::*;

    fn member(id: &str, protocols: &[&str]) -> Member {
        Member {
            id: id.into(),
            instance_id: None,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            rebalance_timeout: Duration::from_secs(1),
            session_timeout: Duration::from_secs(1),
            protocol_type: "consumer".into(),
            protocols: protocols
                .iter()
                .map(|p| Protocol {
                    name: (*p).into(),
                    metadata: Bytes::new(),
                })
                .collect(),
            assignment: Bytes::new(),
            join_waiter: None,
            sync_waiter: None,
            is_new: false,
            deadline: Instant::now(),
        }
    }

    #[test]
    fn protocol_selection_takes_the_most_votes_among_common_protocols() {
        let mut g = Group::new("g".into());
        g.add_member(member("a", &["roundrobin", "range", "sticky"]));
        g.add_member(member("b", &["range", "roundrobin"]));
        g.add_member(member("c", &["range", "cooperative-sticky", "roundrobin"]));
        // sticky is not supported by all; range gets 2 votes, roundrobin 1.
        assert_eq!(g.select_protocol().as_deref(), Some("range"));
        // A tie goes to the leader's preference.
        g.remove_member("c");
        assert_eq!(g.select_protocol().as_deref(), Some("roundrobin"));
        // No common protocol: none.
        g.add_member(member("d", &["other"]));
        assert_eq!(g.select_protocol(), None);
    }

    #[test]
    fn supports_protocols_rules() {
        let mut g = Group::new("g".into());
        let p = |names: &[&str]| {
            names
                .iter()
                .map(|n| Protocol {
                    name: (*n).into(),
                    metadata: Bytes::new(),
                })
                .collect::<Vec<_>>()
        };
        assert!(g.supports_protocols("consumer", &p(&["range"])));
        assert!(!g.supports_protocols("", &p(&["range"])));
        assert!(!g.supports_protocols("consumer", &[]));
        g.add_member(member("a", &["range", "roundrobin"]));
        g.state = GroupState::Stable;
        assert!(g.supports_protocols("consumer", &p(&["sticky", "roundrobin"])));
        assert!(!g.supports_protocols("consumer", &p(&["sticky"])));
        assert!(!g.supports_protocols("connect", &p(&["range"])));
    }

    #[test]
    fn leader_passes_to_the_first_remaining_member() {
        let mut g = Group::new("g".into());
        g.add_member(member("a", &["range"]));
        g.add_member(member("b", &["range"]));
        g.add_member(member("c", &["range"]));
        assert!(g.is_leader("a"));
        g.remove_member("a");
        assert!(g.is_leader("b"));
        g.remove_member("c");
        assert!(g.is_leader("b"));
        g.remove_member("b");
        assert_eq!(g.leader, None);
    }

    #[test]
    fn subscribed_topics_come_from_consumer_metadata() {
        let mut g = Group::new("g".into());
        let sub = |topics: &[&str], version: i16| {
            let s = ConsumerProtocolSubscription {
                topics: topics.iter().map(|t| KStr::from(*t)).collect(),
                ..Default::default()
            };
            let mut b = bytes::BytesMut::new();
            b.extend_from_slice(&version.to_be_bytes());
            s.encode(&mut b, version.min(3)).unwrap();
            b.freeze()
        };
        let mut a = member("a", &[]);
        a.protocols = vec![Protocol {
            name: "range".into(),
            metadata: sub(&["t1", "t2"], 3),
        }];
        let mut b = member("b", &[]);
        // A future version still parses through the v0 prefix.
        b.protocols = vec![Protocol {
            name: "range".into(),
            metadata: sub(&["t3"], 1),
        }];
        g.add_member(a);
        g.add_member(b);
        g.protocol_name = Some("range".into());
        let topics = g.compute_subscribed_topics().unwrap();
        assert_eq!(topics.len(), 3);
        assert!(topics.contains("t3"));
        g.members[1].protocols[0].metadata = Bytes::from_static(b"\x00");
        assert_eq!(g.compute_subscribed_topics(), None);
        g.subscribed_topics = None;
        assert!(g.is_subscribed_to("anything"));
    }
}
