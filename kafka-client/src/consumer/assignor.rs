//! Partition assignors of classic consumer groups, as pure functions: the group leader runs one
//! over every member's [`Subscription`] and the partition counts, and sends each member its
//! [`Assignment`].
//!
//! The four assignors of the Java client, with its names (`partition.assignment.strategy`):
//!
//! - [`RangeAssignor`] (`range`): per topic, contiguous ranges over the members subscribed to it.
//! - [`RoundRobinAssignor`] (`roundrobin`): every partition in turn to the next subscribed member.
//! - [`StickyAssignor`] (`sticky`, KIP-54): balanced, keeping previous ownership; eager.
//! - [`CooperativeStickyAssignor`] (`cooperative-sticky`, KIP-429): the sticky target, but a
//!   partition another member still owns is withheld until that member has revoked it (the
//!   follow-up rebalance hands it over).
//!
//! Range and round robin give exactly the Java client's result: members are ordered as Java's
//! `MemberInfo` orders them (static members, KIP-345, first by `group.instance.id`, then dynamic
//! members by member id; strings compared by UTF-16 code units as `String.compareTo` does), topics
//! and partitions in ascending order. Rack-aware assignment (KIP-881) is not implemented.
//!
//! The sticky assignors follow Java's `AbstractStickyAssignor`:
//!
//! - Previous ownership is read from each member's owned partitions and generation
//!   (subscription v1/v2, KIP-429/KIP-792); [`StickyAssignor`] reads Java's sticky user data first
//!   (`[topic, [partition]]` then the generation, KIP-341), as eager Java members send nothing
//!   else. Only claims of the members at the highest generation count; a partition claimed twice
//!   in that generation counts as owned by nobody; claims on topics a member no longer
//!   subscribes to, or on partitions that do not exist, are dropped.
//! - When every member subscribes to the same topics, Java's "constrained" algorithm: every
//!   member keeps up to its quota (`floor` or `ceil` of partitions / members) of what it owns,
//!   the rest is dealt round-robin in partition order to the members under quota, in member-id
//!   order. Member counts then differ by at most one. Java walks members in `HashMap` order when
//!   deciding who keeps `ceil` rather than `floor` partitions; we walk them in member-id order,
//!   so which member keeps one more can differ from Java, never the balance or the stickiness.
//! - Otherwise a general algorithm (Java's is a different heuristic): keep every valid claim,
//!   give each remaining partition (fewest eligible members first) to the least-loaded eligible
//!   member, then move partitions along chains of eligible members while a member has at least
//!   two more partitions than one it can reach; moves prefer partitions the giver did not own
//!   before. No single move or chain can then improve the balance.
//! - Cooperative: a partition in the target is withheld from its new member when any other
//!   member claims it in its owned partitions (whatever its generation), unless the new
//!   member's own claim is the one that counted. Java's constrained path lets claims of older
//!   generations through; we wait for them (one more rebalance at worst, never two owners).

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_proto::Decoder;

use super::protocol::{Assignment, Subscription, TopicPartitions, NO_GENERATION};

/// One member of the group as the leader sees it in the JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSubscription {
    /// The member id the coordinator gave it.
    pub member_id: String,
    /// Its `group.instance.id` when it is a static member (KIP-345).
    pub group_instance_id: Option<String>,
    /// Its decoded subscription.
    pub subscription: Subscription,
}

/// How partitions change hands during a rebalance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RebalanceProtocol {
    /// Every member revokes everything before joining (the classic protocol).
    Eager,
    /// Members keep their partitions while rebalancing and revoke only what moves (KIP-429).
    Cooperative,
}

/// A partition assignment strategy.
pub trait Assignor: Send + Sync + std::fmt::Debug {
    /// The protocol name in JoinGroup (`range`, `roundrobin`, `sticky`, `cooperative-sticky`).
    fn name(&self) -> &str;

    /// The rebalance protocol the assignor supports.
    fn protocols(&self) -> RebalanceProtocol {
        RebalanceProtocol::Eager
    }

    /// User data this member puts in its subscription, given the partitions it owns and the
    /// generation they belong to; `None` by default.
    fn subscription_user_data(
        &self,
        owned: &[(String, Vec<i32>)],
        generation: i32,
    ) -> Option<Bytes> {
        let _ = (owned, generation);
        None
    }

    /// Computes every member's assignment. `partitions` is the partition count per topic; topics
    /// missing from it (or with no partitions) are skipped. Every member (by member id; a
    /// repeated member id counts once) gets an entry, possibly empty; partitions are grouped by
    /// topic in ascending order.
    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, Assignment>;
}

/// Java's `RangeAssignor` (`range`): for each topic, the members subscribed to it in `MemberInfo`
/// order each get a contiguous range; the first `partitions % members` get one extra.
#[derive(Debug, Clone, Copy, Default)]
pub struct RangeAssignor;

/// Java's `RoundRobinAssignor` (`roundrobin`): every partition (topics, then partitions, in
/// ascending order) to the next member in `MemberInfo` order, skipping members not subscribed to
/// its topic.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundRobinAssignor;

/// Java's `StickyAssignor` (`sticky`): balanced, preserving previous ownership; eager.
#[derive(Debug, Clone, Copy, Default)]
pub struct StickyAssignor;

/// Java's `CooperativeStickyAssignor` (`cooperative-sticky`, KIP-429): the sticky target minus
/// partitions another member still owns (they come in the follow-up rebalance, once revoked).
#[derive(Debug, Clone, Copy, Default)]
pub struct CooperativeStickyAssignor;

/// The assignor named `name`: `range`, `roundrobin`, `sticky`, `cooperative-sticky`, or the
/// Java class names (`org.apache.kafka.clients.consumer.RangeAssignor`, ...).
pub fn by_name(name: &str) -> Option<Arc<dyn Assignor>> {
    const PKG: &str = "org.apache.kafka.clients.consumer.";
    let name = name.trim();
    let short = match name.strip_prefix(PKG) {
        Some("RangeAssignor") => "range",
        Some("RoundRobinAssignor") => "roundrobin",
        Some("StickyAssignor") => "sticky",
        Some("CooperativeStickyAssignor") => "cooperative-sticky",
        Some(_) => return None,
        None => name,
    };
    match short {
        "range" => Some(Arc::new(RangeAssignor)),
        "roundrobin" => Some(Arc::new(RoundRobinAssignor)),
        "sticky" => Some(Arc::new(StickyAssignor)),
        "cooperative-sticky" => Some(Arc::new(CooperativeStickyAssignor)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Shared preparation

/// A partition as (index into `Group::topics`, partition).
type Tp = (usize, i32);

/// Java's `String.compareTo`: UTF-16 code units, then length.
fn java_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

struct Member<'a> {
    id: &'a str,
    instance: Option<&'a str>,
    /// Subscribed topics that exist (indexes into `Group::topics`).
    topics: BTreeSet<usize>,
    sub: &'a Subscription,
}

/// Java's `MemberInfo` order: static members by instance id first, then members by member id.
fn member_info_cmp(a: &Member<'_>, b: &Member<'_>) -> Ordering {
    match (a.instance, b.instance) {
        (Some(x), Some(y)) => java_cmp(x, y).then_with(|| java_cmp(a.id, b.id)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => java_cmp(a.id, b.id),
    }
}

struct Group<'a> {
    /// Topics that exist, have partitions and are subscribed by someone: (name, count), by name.
    topics: Vec<(&'a str, i32)>,
    index: HashMap<&'a str, usize>,
    /// Members, deduplicated by id, sorted by member id.
    members: Vec<Member<'a>>,
}

impl<'a> Group<'a> {
    fn new(members: &'a [MemberSubscription], partitions: &'a BTreeMap<String, i32>) -> Self {
        let mut seen = HashSet::new();
        let unique: Vec<&MemberSubscription> = members
            .iter()
            .filter(|m| seen.insert(m.member_id.as_str()))
            .collect();
        let subscribed: HashSet<&str> = unique
            .iter()
            .flat_map(|m| m.subscription.topics.iter().map(String::as_str))
            .collect();
        let topics: Vec<(&str, i32)> = partitions
            .iter()
            .filter(|(t, n)| **n > 0 && subscribed.contains(t.as_str()))
            .map(|(t, n)| (t.as_str(), *n))
            .collect();
        let index: HashMap<&str, usize> = topics
            .iter()
            .enumerate()
            .map(|(i, (t, _))| (*t, i))
            .collect();
        let mut members: Vec<Member<'a>> = unique
            .into_iter()
            .map(|m| Member {
                id: &m.member_id,
                instance: m.group_instance_id.as_deref(),
                topics: m
                    .subscription
                    .topics
                    .iter()
                    .filter_map(|t| index.get(t.as_str()).copied())
                    .collect(),
                sub: &m.subscription,
            })
            .collect();
        members.sort_by(|a, b| java_cmp(a.id, b.id));
        Group {
            topics,
            index,
            members,
        }
    }

    fn partitions_of(&self, t: usize) -> impl Iterator<Item = Tp> {
        let n = self.topics.get(t).map_or(0, |(_, n)| *n);
        (0..n).map(move |p| (t, p))
    }

    /// Members in Java's `MemberInfo` order (indexes into `members`).
    fn member_info_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.members.len()).collect();
        order.sort_by(|&a, &b| member_info_cmp(&self.members[a], &self.members[b]));
        order
    }

    /// The result: one entry per member, partitions grouped by topic, all sorted.
    fn output(&self, assignment: &[Vec<Tp>]) -> BTreeMap<String, Assignment> {
        self.members
            .iter()
            .zip(assignment)
            .map(|(m, tps)| {
                let mut by_topic: BTreeMap<usize, Vec<i32>> = BTreeMap::new();
                for &(t, p) in tps {
                    by_topic.entry(t).or_default().push(p);
                }
                let partitions = by_topic
                    .into_iter()
                    .map(|(t, mut ps)| {
                        ps.sort_unstable();
                        (self.topics[t].0.to_string(), ps)
                    })
                    .collect();
                (
                    m.id.to_string(),
                    Assignment {
                        partitions,
                        user_data: None,
                    },
                )
            })
            .collect()
    }

    /// Claimed partitions resolved against this group: unknown topics, partitions out of range
    /// and repeats dropped; order kept.
    fn resolve_claims<'s>(&self, claims: impl IntoIterator<Item = (&'s str, i32)>) -> Vec<Tp> {
        let mut seen = HashSet::new();
        claims
            .into_iter()
            .filter_map(|(topic, p)| {
                let t = *self.index.get(topic)?;
                (0..self.topics[t].1).contains(&p).then_some((t, p))
            })
            .filter(|tp| seen.insert(*tp))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Range and round robin

impl Assignor for RangeAssignor {
    fn name(&self) -> &str {
        "range"
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, Assignment> {
        let g = Group::new(members, partitions);
        let order = g.member_info_order();
        let mut out = vec![Vec::new(); g.members.len()];
        for (t, (_, n)) in g.topics.iter().enumerate() {
            let consumers: Vec<usize> = order
                .iter()
                .copied()
                .filter(|&m| g.members[m].topics.contains(&t))
                .collect();
            if consumers.is_empty() {
                continue;
            }
            let n = usize::try_from(*n).unwrap_or(0);
            let per = n / consumers.len();
            let extra = n % consumers.len();
            for (i, &m) in consumers.iter().enumerate() {
                let start = per * i + i.min(extra);
                let len = per + usize::from(i < extra);
                // Partition indexes fit in i32: they are below the topic's i32 count.
                out[m].extend((start..start + len).map(|p| (t, p as i32)));
            }
        }
        g.output(&out)
    }
}

impl Assignor for RoundRobinAssignor {
    fn name(&self) -> &str {
        "roundrobin"
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, Assignment> {
        let g = Group::new(members, partitions);
        let order = g.member_info_order();
        let mut out = vec![Vec::new(); g.members.len()];
        let mut next = 0usize;
        // Every topic in `g.topics` has a subscriber, so the skipping loop ends.
        for t in 0..g.topics.len() {
            for tp in g.partitions_of(t) {
                while !g.members[order[next]].topics.contains(&t) {
                    next = (next + 1) % order.len();
                }
                out[order[next]].push(tp);
                next = (next + 1) % order.len();
            }
        }
        g.output(&out)
    }
}

// ---------------------------------------------------------------------------------------------
// Sticky

/// Encodes Java's `StickyAssignor` user data (schema v1): `[topic: string, partitions: [int32]]`
/// then `generation: int32`. Topics whose names do not fit an `int16` length are left out.
pub fn encode_sticky_user_data(owned: &[(String, Vec<i32>)], generation: i32) -> Bytes {
    let owned: Vec<&(String, Vec<i32>)> = owned
        .iter()
        .filter(|(t, ps)| i16::try_from(t.len()).is_ok() && i32::try_from(ps.len()).is_ok())
        .collect();
    let mut b = BytesMut::new();
    b.put_i32(owned.len() as i32);
    for (topic, ps) in owned {
        b.put_i16(topic.len() as i16);
        b.put_slice(topic.as_bytes());
        b.put_i32(ps.len() as i32);
        for p in ps {
            b.put_i32(*p);
        }
    }
    b.put_i32(generation);
    b.freeze()
}

/// Decodes Java's `StickyAssignor` user data: the partitions and, for schema v1, the generation
/// (`None` for v0, which has none). `None` when the bytes do not parse (Java then ignores them).
pub fn decode_sticky_user_data(b: &Bytes) -> Option<(TopicPartitions, Option<i32>)> {
    let mut d = Decoder::new(b);
    let topics = d
        .array(false, |d| {
            let topic = d.string(false)?;
            let ps = d.i32_array(false)?;
            Ok((topic.to_string(), ps.to_vec()))
        })
        .ok()?;
    let generation = if d.remaining() >= 4 {
        d.i32().ok()
    } else {
        None
    };
    Some((topics, generation))
}

fn flatten(owned: &[(String, Vec<i32>)]) -> Vec<(&str, i32)> {
    owned
        .iter()
        .flat_map(|(t, ps)| ps.iter().map(move |p| (t.as_str(), *p)))
        .collect()
}

/// Claims and generation of each member for the sticky algorithm.
struct Claims<'a> {
    partitions: Vec<(&'a str, i32)>,
    generation: i32,
}

fn sticky_claims(s: &Subscription) -> (TopicPartitions, i32) {
    if let Some(ud) = s.user_data.as_ref().filter(|u| !u.is_empty()) {
        if let Some((parts, generation)) = decode_sticky_user_data(ud) {
            return (parts, generation.unwrap_or(NO_GENERATION));
        }
    }
    (s.owned_partitions.clone(), s.generation_id)
}

fn cooperative_generation(s: &Subscription) -> i32 {
    if s.generation_id >= 0 {
        return s.generation_id;
    }
    match s.user_data.as_deref() {
        Some([a, b, c, d, ..]) => i32::from_be_bytes([*a, *b, *c, *d]),
        _ => NO_GENERATION,
    }
}

/// The sticky target for `g`, given every member's claims (in `g.members` order), and the
/// claims that counted.
fn sticky_target(g: &Group<'_>, claims: &[Claims<'_>]) -> (Vec<Vec<Tp>>, Vec<Vec<Tp>>) {
    if g.members.is_empty() {
        return (Vec::new(), Vec::new());
    }
    // Only the highest generation's claims count; a partition claimed twice there is nobody's.
    let max_gen = claims
        .iter()
        .map(|c| c.generation)
        .max()
        .unwrap_or(NO_GENERATION);
    let mut owned: Vec<Vec<Tp>> = claims
        .iter()
        .map(|c| {
            if c.generation == max_gen {
                g.resolve_claims(c.partitions.iter().copied())
            } else {
                Vec::new()
            }
        })
        .collect();
    let mut claimers: HashMap<Tp, usize> = HashMap::new();
    for tp in owned.iter().flatten() {
        *claimers.entry(*tp).or_default() += 1;
    }
    // Then drop what a member no longer subscribes to.
    for (o, m) in owned.iter_mut().zip(&g.members) {
        o.retain(|tp| claimers.get(tp) == Some(&1) && m.topics.contains(&tp.0));
    }

    let uniform = g.members.windows(2).all(|w| w[0].topics == w[1].topics);
    let target = if uniform {
        constrained_assign(g, owned.clone())
    } else {
        general_assign(g, owned.clone())
    };
    (target, owned)
}

/// Java's constrained assignment (every member subscribes to the same topics).
fn constrained_assign(g: &Group<'_>, owned: Vec<Vec<Tp>>) -> Vec<Vec<Tp>> {
    let n = g.members.len();
    let all: Vec<Tp> = g.members[0]
        .topics
        .iter()
        .flat_map(|&t| g.partitions_of(t))
        .collect();
    let total = all.len();
    let min_quota = total / n;
    let max_quota = total.div_ceil(n);
    let expected_over = total % n;
    let mut current_over = 0usize;

    let mut assignment: Vec<Vec<Tp>> = vec![Vec::new(); n];
    let mut under: Vec<usize> = Vec::new();
    let mut exact: VecDeque<usize> = VecDeque::new();
    for (i, mut o) in owned.into_iter().enumerate() {
        if o.len() < min_quota {
            under.push(i);
        } else if o.len() >= max_quota && current_over < expected_over {
            current_over += 1;
            if current_over == expected_over {
                exact.clear();
            }
            o.truncate(max_quota);
        } else {
            o.truncate(min_quota);
            if current_over < expected_over {
                exact.push_back(i);
            }
        }
        assignment[i] = o;
    }
    let kept: HashSet<Tp> = assignment.iter().flatten().copied().collect();

    let mut next = 0usize;
    for tp in all.into_iter().filter(|tp| !kept.contains(tp)) {
        let m = if next < under.len() {
            next += 1;
            under[next - 1]
        } else if !under.is_empty() {
            next = 1;
            under[0]
        } else if let Some(m) = exact.pop_front() {
            m
        } else {
            // Cannot happen (the quotas add up); stay total by giving it to the least loaded.
            (0..n)
                .min_by_key(|&i| (assignment[i].len(), i))
                .unwrap_or(0)
        };
        assignment[m].push(tp);
        let count = assignment[m].len();
        if count == min_quota && next > 0 && under.get(next - 1) == Some(&m) {
            under.remove(next - 1);
            next -= 1;
            exact.push_back(m);
        }
    }
    assignment
}

/// Best-effort balance when subscriptions differ (see the module docs).
fn general_assign(g: &Group<'_>, owned: Vec<Vec<Tp>>) -> Vec<Vec<Tp>> {
    let n = g.members.len();
    let owned_by: HashMap<Tp, usize> = owned
        .iter()
        .enumerate()
        .flat_map(|(i, o)| o.iter().map(move |tp| (*tp, i)))
        .collect();
    let mut assignment = owned;
    let eligible = |m: usize, tp: Tp| g.members[m].topics.contains(&tp.0);

    // Remaining partitions, the most constrained first.
    let subscribers: Vec<usize> = (0..g.topics.len())
        .map(|t| g.members.iter().filter(|m| m.topics.contains(&t)).count())
        .collect();
    let mut unassigned: Vec<Tp> = (0..g.topics.len())
        .flat_map(|t| g.partitions_of(t))
        .filter(|tp| !owned_by.contains_key(tp))
        .collect();
    unassigned.sort_by_key(|tp| (subscribers[tp.0], *tp));
    for tp in unassigned {
        if let Some(m) = (0..n)
            .filter(|&m| eligible(m, tp))
            .min_by_key(|&m| (assignment[m].len(), m))
        {
            assignment[m].push(tp);
        }
    }

    // Move partitions along chains while someone has two more than a member it can reach.
    loop {
        let min_count = assignment.iter().map(Vec::len).min().unwrap_or(0);
        let mut sources: Vec<usize> = (0..n).collect();
        sources.sort_by_key(|&m| (Reverse(assignment[m].len()), m));
        let mut path = None;
        for &x in &sources {
            let cx = assignment[x].len();
            if cx < min_count + 2 {
                break;
            }
            // Breadth-first over "u holds a partition v may take".
            let mut prev: Vec<Option<usize>> = vec![None; n];
            let mut seen = vec![false; n];
            seen[x] = true;
            let mut queue = VecDeque::from([x]);
            let mut best: Option<usize> = None;
            while let Some(u) = queue.pop_front() {
                let held: BTreeSet<usize> = assignment[u].iter().map(|tp| tp.0).collect();
                for v in 0..n {
                    if seen[v] || !held.iter().any(|t| g.members[v].topics.contains(t)) {
                        continue;
                    }
                    seen[v] = true;
                    prev[v] = Some(u);
                    queue.push_back(v);
                    let cv = assignment[v].len();
                    if cv + 2 <= cx && best.is_none_or(|b| cv < assignment[b].len()) {
                        best = Some(v);
                    }
                }
            }
            if let Some(y) = best {
                let mut hops = Vec::new();
                let mut v = y;
                while let Some(u) = prev[v] {
                    hops.push((u, v));
                    v = u;
                }
                path = Some(hops);
                break;
            }
        }
        let Some(hops) = path else { break };
        // Hand over from the receiving end first; each giver keeps its count except the first.
        for (u, v) in hops {
            let pick = assignment[u]
                .iter()
                .enumerate()
                .filter(|(_, tp)| eligible(v, **tp))
                .min_by_key(|(_, tp)| {
                    let was_u = owned_by.get(tp) == Some(&u);
                    let was_v = owned_by.get(tp) == Some(&v);
                    (was_u, !was_v, **tp)
                })
                .map(|(i, _)| i);
            if let Some(i) = pick {
                let tp = assignment[u].swap_remove(i);
                assignment[v].push(tp);
            }
        }
    }
    assignment
}

/// A sticky assignment with what the members claimed.
struct StickyRound {
    target: BTreeMap<String, Assignment>,
    /// Every member claiming a partition, whatever its generation.
    claimed_by: HashMap<(String, i32), BTreeSet<String>>,
    /// Claims that counted: (member id, topic, partition).
    valid: HashSet<(String, String, i32)>,
}

impl StickyAssignor {
    fn round(
        members: &[MemberSubscription],
        partitions: &BTreeMap<String, i32>,
        claims_of: impl Fn(&Subscription) -> (TopicPartitions, i32),
    ) -> StickyRound {
        let g = Group::new(members, partitions);
        let raw: Vec<(TopicPartitions, i32)> = g.members.iter().map(|m| claims_of(m.sub)).collect();
        let claims: Vec<Claims<'_>> = raw
            .iter()
            .map(|(parts, generation)| Claims {
                partitions: flatten(parts),
                generation: *generation,
            })
            .collect();
        let (target, valid) = sticky_target(&g, &claims);
        let mut claimed_by: HashMap<(String, i32), BTreeSet<String>> = HashMap::new();
        for (m, c) in g.members.iter().zip(&claims) {
            for (t, p) in &c.partitions {
                claimed_by
                    .entry((t.to_string(), *p))
                    .or_default()
                    .insert(m.id.to_string());
            }
        }
        let valid = g
            .members
            .iter()
            .zip(&valid)
            .flat_map(|(m, tps)| {
                tps.iter()
                    .map(|&(t, p)| (m.id.to_string(), g.topics[t].0.to_string(), p))
            })
            .collect();
        StickyRound {
            target: g.output(&target),
            claimed_by,
            valid,
        }
    }
}

impl Assignor for StickyAssignor {
    fn name(&self) -> &str {
        "sticky"
    }

    /// Java's sticky user data (the owned partitions and their generation): eager members own
    /// nothing when they join, so this is how the leader learns what they had.
    fn subscription_user_data(
        &self,
        owned: &[(String, Vec<i32>)],
        generation: i32,
    ) -> Option<Bytes> {
        if owned.is_empty() && generation < 0 {
            return None;
        }
        Some(encode_sticky_user_data(owned, generation))
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, Assignment> {
        Self::round(members, partitions, sticky_claims).target
    }
}

impl Assignor for CooperativeStickyAssignor {
    fn name(&self) -> &str {
        "cooperative-sticky"
    }

    fn protocols(&self) -> RebalanceProtocol {
        RebalanceProtocol::Cooperative
    }

    /// The generation as an `int32`, as Java sends it for leaders that read subscriptions
    /// older than v2.
    fn subscription_user_data(
        &self,
        _owned: &[(String, Vec<i32>)],
        generation: i32,
    ) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(&generation.to_be_bytes()))
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, Assignment> {
        let StickyRound {
            mut target,
            claimed_by,
            valid,
        } = StickyAssignor::round(members, partitions, |s| {
            (s.owned_partitions.clone(), cooperative_generation(s))
        });
        // A partition another member claims waits until that member has revoked it, unless the
        // assignee's own claim is the one that counted (the other claim is then stale).
        for (id, a) in &mut target {
            for (topic, ps) in &mut a.partitions {
                ps.retain(|&p| {
                    let key = (topic.clone(), p);
                    let contested = claimed_by
                        .get(&key)
                        .is_some_and(|owners| owners.iter().any(|o| o != id));
                    !contested || valid.contains(&(id.clone(), key.0, p))
                });
            }
            a.partitions.retain(|(_, ps)| !ps.is_empty());
        }
        target
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Tps = Vec<(String, i32)>;

    fn member(id: &str, topics: &[&str]) -> MemberSubscription {
        MemberSubscription {
            member_id: id.into(),
            group_instance_id: None,
            subscription: Subscription {
                topics: topics.iter().map(|t| t.to_string()).collect(),
                ..Subscription::default()
            },
        }
    }

    fn owning(
        id: &str,
        topics: &[&str],
        owned: &[(&str, i32)],
        generation: i32,
    ) -> MemberSubscription {
        let mut m = member(id, topics);
        m.subscription.owned_partitions = group_tps(owned);
        m.subscription.generation_id = generation;
        m
    }

    fn group_tps(tps: &[(&str, i32)]) -> Vec<(String, Vec<i32>)> {
        let mut by: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for (t, p) in tps {
            by.entry(t.to_string()).or_default().push(*p);
        }
        by.into_iter().collect()
    }

    fn counts(list: &[(&str, i32)]) -> BTreeMap<String, i32> {
        list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn tps(list: &[(&str, i32)]) -> Tps {
        list.iter().map(|(t, p)| (t.to_string(), *p)).collect()
    }

    fn flat(a: &Assignment) -> Tps {
        a.topic_partitions()
            .map(|(t, p)| (t.to_string(), p))
            .collect()
    }

    fn set(a: Option<&Assignment>) -> HashSet<(String, i32)> {
        a.map(flat).unwrap_or_default().into_iter().collect()
    }

    /// The next round's members: everyone owns what `out` gave them, at `generation`.
    fn next_round(
        members: &[MemberSubscription],
        out: &BTreeMap<String, Assignment>,
        generation: i32,
    ) -> Vec<MemberSubscription> {
        members
            .iter()
            .map(|m| {
                let mut m = m.clone();
                m.subscription.owned_partitions = out
                    .get(&m.member_id)
                    .map(|a| a.partitions.clone())
                    .unwrap_or_default();
                m.subscription.generation_id = generation;
                m
            })
            .collect()
    }

    #[test]
    fn names_and_lookup() {
        for (n, java, proto) in [
            ("range", "RangeAssignor", RebalanceProtocol::Eager),
            ("roundrobin", "RoundRobinAssignor", RebalanceProtocol::Eager),
            ("sticky", "StickyAssignor", RebalanceProtocol::Eager),
            (
                "cooperative-sticky",
                "CooperativeStickyAssignor",
                RebalanceProtocol::Cooperative,
            ),
        ] {
            let a = by_name(n).unwrap();
            assert_eq!(a.name(), n);
            assert_eq!(a.protocols(), proto);
            let j = by_name(&format!("org.apache.kafka.clients.consumer.{java}")).unwrap();
            assert_eq!(j.name(), n);
        }
        assert!(by_name("org.apache.kafka.clients.consumer.Nope").is_none());
        assert!(by_name("uniform").is_none());
    }

    #[test]
    fn range_javadoc_example() {
        let members = [member("C0", &["t0", "t1"]), member("C1", &["t0", "t1"])];
        let out = RangeAssignor.assign(&members, &counts(&[("t0", 3), ("t1", 3)]));
        assert_eq!(
            flat(&out["C0"]),
            tps(&[("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)])
        );
        assert_eq!(flat(&out["C1"]), tps(&[("t0", 2), ("t1", 2)]));
    }

    #[test]
    fn range_orders_static_members_first_and_skips_unknown_topics() {
        let mut b = member("a-dynamic", &["t", "gone"]);
        b.group_instance_id = None;
        let mut s1 = member("z-static", &["t", "gone"]);
        s1.group_instance_id = Some("i1".into());
        let mut s2 = member("b-static", &["t"]);
        s2.group_instance_id = Some("i2".into());
        let parts = counts(&[("t", 5), ("unsubscribed", 4), ("empty", 0)]);
        let out = RangeAssignor.assign(&[b.clone(), s1.clone(), s2.clone()], &parts);
        // Order: i1 (z-static), i2 (b-static), then a-dynamic; 5 = 2 + 2 + 1.
        assert_eq!(flat(&out["z-static"]), tps(&[("t", 0), ("t", 1)]));
        assert_eq!(flat(&out["b-static"]), tps(&[("t", 2), ("t", 3)]));
        assert_eq!(flat(&out["a-dynamic"]), tps(&[("t", 4)]));
        // More members than partitions: the last ones get nothing but still have an entry.
        let out = RangeAssignor.assign(&[b, s1, s2], &counts(&[("t", 1)]));
        assert_eq!(out.len(), 3);
        assert_eq!(flat(&out["z-static"]), tps(&[("t", 0)]));
        assert!(out["a-dynamic"].is_empty());
    }

    #[test]
    fn member_ids_compare_as_java_strings() {
        // U+FF5E sorts after U+1F600 in UTF-8 bytes but before it in UTF-16 code units.
        let members = [member("\u{FF5E}", &["t"]), member("\u{1F600}", &["t"])];
        let out = RangeAssignor.assign(&members, &counts(&[("t", 1)]));
        assert_eq!(flat(&out["\u{1F600}"]), tps(&[("t", 0)]));
    }

    #[test]
    fn roundrobin_javadoc_examples() {
        let members = [member("C0", &["t0", "t1"]), member("C1", &["t0", "t1"])];
        let out = RoundRobinAssignor.assign(&members, &counts(&[("t0", 3), ("t1", 3)]));
        assert_eq!(flat(&out["C0"]), tps(&[("t0", 0), ("t0", 2), ("t1", 1)]));
        assert_eq!(flat(&out["C1"]), tps(&[("t0", 1), ("t1", 0), ("t1", 2)]));

        let members = [
            member("C0", &["t0"]),
            member("C1", &["t0", "t1"]),
            member("C2", &["t0", "t1", "t2"]),
        ];
        let parts = counts(&[("t0", 1), ("t1", 2), ("t2", 3)]);
        let out = RoundRobinAssignor.assign(&members, &parts);
        assert_eq!(flat(&out["C0"]), tps(&[("t0", 0)]));
        assert_eq!(flat(&out["C1"]), tps(&[("t1", 0)]));
        assert_eq!(
            flat(&out["C2"]),
            tps(&[("t1", 1), ("t2", 0), ("t2", 1), ("t2", 2)])
        );
    }

    #[test]
    fn sticky_javadoc_examples() {
        // All subscribe to t0..t3 (2 partitions each); C1 leaves: C0 and C2 keep theirs.
        let all = ["t0", "t1", "t2", "t3"];
        let parts = counts(&[("t0", 2), ("t1", 2), ("t2", 2), ("t3", 2)]);
        let first = StickyAssignor.assign(
            &[member("C0", &all), member("C1", &all), member("C2", &all)],
            &parts,
        );
        let sizes: Vec<usize> = first.values().map(Assignment::len).collect();
        assert_eq!(sizes, vec![3, 3, 2]);
        let members = [
            owning("C0", &all, &[("t0", 0), ("t1", 1), ("t3", 0)], 1),
            owning("C2", &all, &[("t1", 0), ("t2", 1)], 1),
        ];
        let out = StickyAssignor.assign(&members, &parts);
        assert_eq!(
            flat(&out["C0"]),
            tps(&[("t0", 0), ("t0", 1), ("t1", 1), ("t3", 0)])
        );
        assert_eq!(
            flat(&out["C2"]),
            tps(&[("t1", 0), ("t2", 0), ("t2", 1), ("t3", 1)])
        );

        // Unequal subscriptions: C0 t0; C1 t0, t1; C2 t0, t1, t2.
        let parts = counts(&[("t0", 1), ("t1", 2), ("t2", 3)]);
        let members = [
            member("C0", &["t0"]),
            member("C1", &["t0", "t1"]),
            member("C2", &["t0", "t1", "t2"]),
        ];
        let out = StickyAssignor.assign(&members, &parts);
        assert_eq!(flat(&out["C0"]), tps(&[("t0", 0)]));
        assert_eq!(flat(&out["C1"]), tps(&[("t1", 0), ("t1", 1)]));
        assert_eq!(flat(&out["C2"]), tps(&[("t2", 0), ("t2", 1), ("t2", 2)]));
        // C0 leaves: only t0p0 moves.
        let members = next_round(&members[1..], &out, 1);
        let out = StickyAssignor.assign(&members, &parts);
        assert_eq!(flat(&out["C1"]), tps(&[("t0", 0), ("t1", 0), ("t1", 1)]));
        assert_eq!(flat(&out["C2"]), tps(&[("t2", 0), ("t2", 1), ("t2", 2)]));
    }

    fn moved(before: &BTreeMap<String, Assignment>, after: &BTreeMap<String, Assignment>) -> usize {
        before
            .iter()
            .map(|(id, a)| {
                let now = set(after.get(id));
                flat(a).into_iter().filter(|tp| !now.contains(tp)).count()
            })
            .sum()
    }

    #[test]
    fn sticky_adding_and_removing_members() {
        let parts = counts(&[("a", 6), ("b", 6)]);
        let t = ["a", "b"];
        let members = vec![member("m1", &t), member("m2", &t), member("m3", &t)];
        let r1 = StickyAssignor.assign(&members, &parts);
        assert!(r1.values().all(|a| a.len() == 4));

        // A fourth member: 12 / 4 = 3 each, so exactly 3 partitions move, all to m4.
        let mut members2 = next_round(&members, &r1, 1);
        members2.push(member("m4", &t));
        let r2 = StickyAssignor.assign(&members2, &parts);
        assert!(r2.values().all(|a| a.len() == 3), "{r2:?}");
        assert_eq!(moved(&r1, &r2), 3);

        // m2 leaves: only its 3 partitions move, each survivor gains one.
        let members3: Vec<_> = next_round(&members2, &r2, 2)
            .into_iter()
            .filter(|m| m.member_id != "m2")
            .collect();
        let r3 = StickyAssignor.assign(&members3, &parts);
        assert!(r3.values().all(|a| a.len() == 4));
        let r2_without_m2: BTreeMap<_, _> =
            r2.clone().into_iter().filter(|(k, _)| k != "m2").collect();
        assert_eq!(moved(&r2_without_m2, &r3), 0);

        // Non-uniform: adding a member that subscribes to b only takes b partitions.
        let members4 = vec![member("x", &["a", "b"]), member("y", &["a", "b"])];
        let r4 = StickyAssignor.assign(&members4, &parts);
        let mut members5 = next_round(&members4, &r4, 3);
        members5.push(member("z", &["b"]));
        let r5 = StickyAssignor.assign(&members5, &parts);
        assert_eq!(r5["z"].len(), 4);
        assert!(flat(&r5["z"]).iter().all(|(t, _)| t == "b"));
        assert_eq!(moved(&r4, &r5), 4);
        assert_eq!(r5["x"].len(), 4);
        assert_eq!(r5["y"].len(), 4);
    }

    #[test]
    fn higher_generation_wins_a_double_claim() {
        let parts = counts(&[("t", 2)]);
        for (stale, fresh) in [("a", "b"), ("b", "a")] {
            for topics in [vec!["t"], vec!["t", "other"]] {
                // `other` (absent from metadata) keeps the uniform path; add a member of a
                // different subscription to exercise the general path too.
                let mut members = vec![
                    owning(stale, &topics, &[("t", 1)], 3),
                    owning(fresh, &["t"], &[("t", 1)], 4),
                ];
                let mut parts = parts.clone();
                if topics.len() == 2 {
                    parts.insert("other".into(), 1);
                    members.push(member("c", &["other"]));
                }
                let out = StickyAssignor.assign(&members, &parts);
                assert_eq!(flat(&out[fresh]), tps(&[("t", 1)]), "{out:?}");
                assert_eq!(flat(&out[stale]), tps(&[("t", 0)]), "{out:?}");
            }
        }
        // The same generation: neither keeps it, the partition is dealt afresh.
        let members = [
            owning("a", &["t"], &[("t", 1)], 4),
            owning("b", &["t"], &[("t", 1)], 4),
        ];
        let out = StickyAssignor.assign(&members, &parts);
        assert_eq!(out.values().map(Assignment::len).sum::<usize>(), 2);
        assert_eq!(out["a"].len(), 1);
    }

    #[test]
    fn sticky_claims_on_vanished_or_bogus_partitions_are_dropped() {
        let members = [
            owning(
                "a",
                &["t"],
                &[
                    ("t", 7),
                    ("t", -1),
                    ("gone", 0),
                    ("u", 0),
                    ("t", 0),
                    ("t", 0),
                ],
                2,
            ),
            member("b", &["t"]),
        ];
        let out = StickyAssignor.assign(&members, &counts(&[("t", 2), ("u", 1)]));
        assert_eq!(flat(&out["a"]), tps(&[("t", 0)]));
        assert_eq!(flat(&out["b"]), tps(&[("t", 1)]));
        assert!(!out
            .values()
            .any(|a| a.topic_partitions().any(|(t, _)| t == "u")));
    }

    #[test]
    fn sticky_user_data_round_trip_and_java_format() {
        let owned = vec![("t".to_string(), vec![1, 2])];
        let b = encode_sticky_user_data(&owned, 9);
        let mut want = Vec::new();
        want.extend_from_slice(&1i32.to_be_bytes());
        want.extend_from_slice(&1i16.to_be_bytes());
        want.push(b't');
        want.extend_from_slice(&2i32.to_be_bytes());
        want.extend_from_slice(&1i32.to_be_bytes());
        want.extend_from_slice(&2i32.to_be_bytes());
        want.extend_from_slice(&9i32.to_be_bytes());
        assert_eq!(&b[..], &want[..]);
        assert_eq!(decode_sticky_user_data(&b), Some((owned.clone(), Some(9))));
        // Schema v0 (no generation).
        let v0 = b.slice(..b.len() - 4);
        assert_eq!(decode_sticky_user_data(&v0), Some((owned.clone(), None)));
        assert_eq!(decode_sticky_user_data(&b.slice(..5)), None);
        assert_eq!(
            StickyAssignor.subscription_user_data(&owned, 9),
            Some(b.clone())
        );
        assert_eq!(StickyAssignor.subscription_user_data(&[], -1), None);
        assert_eq!(
            CooperativeStickyAssignor
                .subscription_user_data(&owned, 9)
                .as_deref(),
            Some(&9i32.to_be_bytes()[..])
        );
        assert_eq!(RangeAssignor.subscription_user_data(&owned, 9), None);

        // The eager sticky assignor reads ownership from user data (Java eager members own
        // nothing in their subscription).
        let mut a = member("a", &["t"]);
        a.subscription.user_data = Some(encode_sticky_user_data(&[("t".into(), vec![2, 3])], 5));
        let mut b2 = member("b", &["t"]);
        b2.subscription.user_data = Some(encode_sticky_user_data(&[("t".into(), vec![0, 1])], 5));
        let out = StickyAssignor.assign(&[a, b2], &counts(&[("t", 4)]));
        assert_eq!(flat(&out["a"]), tps(&[("t", 2), ("t", 3)]));
        assert_eq!(flat(&out["b"]), tps(&[("t", 0), ("t", 1)]));
    }

    #[test]
    fn cooperative_two_phase_hand_over() {
        let parts = counts(&[("t", 4)]);
        let members = vec![owning(
            "a",
            &["t"],
            &[("t", 0), ("t", 1), ("t", 2), ("t", 3)],
            1,
        )];
        let r0 = CooperativeStickyAssignor.assign(&members, &parts);
        assert_eq!(r0["a"].len(), 4);

        // b joins: the target moves two partitions from a to b, but a still owns them.
        let mut members1 = next_round(&members, &r0, 1);
        members1.push(member("b", &["t"]));
        let target = StickyAssignor.assign(&members1, &parts);
        let r1 = CooperativeStickyAssignor.assign(&members1, &parts);
        assert_eq!(flat(&r1["a"]), tps(&[("t", 0), ("t", 1)]));
        assert!(r1["b"].is_empty(), "{r1:?}");
        assert_eq!(flat(&target["b"]), tps(&[("t", 2), ("t", 3)]));

        // a revokes, everyone rejoins owning round one's result: b gets them now.
        let members2 = next_round(&members1, &r1, 2);
        let r2 = CooperativeStickyAssignor.assign(&members2, &parts);
        assert_eq!(flat(&r2["a"]), tps(&[("t", 0), ("t", 1)]));
        assert_eq!(flat(&r2["b"]), tps(&[("t", 2), ("t", 3)]));
        // Stable from then on.
        let r3 = CooperativeStickyAssignor.assign(&next_round(&members2, &r2, 3), &parts);
        assert_eq!(r3, r2);
    }

    #[test]
    fn cooperative_stale_claims() {
        // b's claims are from an older generation: they do not count for stickiness, and a's
        // valid claim on t0 is not withheld because of them.
        let members = [
            owning("a", &["t"], &[("t", 0)], 5),
            owning("b", &["t"], &[("t", 0), ("t", 1)], 4),
        ];
        let out = CooperativeStickyAssignor.assign(&members, &counts(&[("t", 2)]));
        assert_eq!(flat(&out["a"]), tps(&[("t", 0)]));
        assert_eq!(flat(&out["b"]), tps(&[("t", 1)]));

        // But a partition a stale member still claims is not handed to someone else yet.
        let members = [
            owning("a", &["t"], &[("t", 1)], 5),
            owning("b", &["t"], &[("t", 2)], 4),
            member("c", &["t"]),
        ];
        let parts = counts(&[("t", 3)]);
        let target = StickyAssignor.assign(&members, &parts);
        assert_eq!(flat(&target["c"]), tps(&[("t", 2)]));
        let out = CooperativeStickyAssignor.assign(&members, &parts);
        assert_eq!(flat(&out["a"]), tps(&[("t", 1)]));
        assert_eq!(flat(&out["b"]), tps(&[("t", 0)]));
        assert!(out["c"].is_empty());

        // Claimed twice in one generation: withheld from both claimers until one lets go.
        let members = [
            owning("a", &["t"], &[("t", 0)], 5),
            owning("b", &["t"], &[("t", 0)], 5),
        ];
        let out = CooperativeStickyAssignor.assign(&members, &counts(&[("t", 2)]));
        assert_eq!(
            out.values().map(Assignment::len).sum::<usize>(),
            1,
            "{out:?}"
        );
    }

    // ---- properties ----

    fn random_group(
        rng: &mut fastrand::Rng,
        uniform: bool,
    ) -> (Vec<MemberSubscription>, BTreeMap<String, i32>) {
        let n_topics = rng.usize(1..5);
        let topics: Vec<String> = (0..n_topics).map(|i| format!("topic-{i}")).collect();
        let mut parts: BTreeMap<String, i32> =
            topics.iter().map(|t| (t.clone(), rng.i32(0..9))).collect();
        if rng.bool() {
            parts.remove(&topics[0]);
        }
        let n_members = rng.usize(1..8);
        let all: Vec<&str> = topics.iter().map(String::as_str).collect();
        let members = (0..n_members)
            .map(|i| {
                let subs: Vec<&str> = if uniform {
                    all.clone()
                } else {
                    let s: Vec<&str> = all.iter().copied().filter(|_| rng.bool()).collect();
                    if s.is_empty() {
                        vec![all[rng.usize(..all.len())]]
                    } else {
                        s
                    }
                };
                let mut m = member(&format!("member-{:02}", (i * 7) % 11), &subs);
                if rng.u8(..4) == 0 {
                    m.group_instance_id = Some(format!("instance-{}", rng.u8(..)));
                }
                let claims: Vec<(&str, i32)> = (0..rng.usize(..6))
                    .map(|_| (all[rng.usize(..all.len())], rng.i32(-1..10)))
                    .collect();
                m.subscription.owned_partitions = group_tps(&claims);
                m.subscription.generation_id = rng.i32(-1..3);
                m
            })
            .collect();
        (members, parts)
    }

    /// Every member's expected partitions: each of a subscribed topic, exactly once.
    fn check_eager(
        name: &str,
        members: &[MemberSubscription],
        parts: &BTreeMap<String, i32>,
        out: &BTreeMap<String, Assignment>,
    ) {
        let ids: BTreeSet<&str> = members.iter().map(|m| m.member_id.as_str()).collect();
        assert_eq!(
            out.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            ids,
            "{name}"
        );
        let mut seen: HashMap<(String, i32), &str> = HashMap::new();
        for (id, a) in out {
            let m = members.iter().find(|m| &m.member_id == id).unwrap();
            for (t, p) in a.topic_partitions() {
                assert!(
                    m.subscription.topics.iter().any(|s| s == t),
                    "{name}: {id} not subscribed to {t}"
                );
                assert!((0..parts[t]).contains(&p), "{name}: {t}-{p} does not exist");
                assert!(
                    seen.insert((t.to_string(), p), id).is_none(),
                    "{name}: {t}-{p} twice"
                );
            }
        }
        for (t, n) in parts {
            if members.iter().any(|m| m.subscription.topics.contains(t)) {
                for p in 0..*n {
                    assert!(
                        seen.contains_key(&(t.clone(), p)),
                        "{name}: {t}-{p} unassigned: {out:?}"
                    );
                }
            }
        }
    }

    fn spread(out: &BTreeMap<String, Assignment>) -> usize {
        let sizes: Vec<usize> = out.values().map(Assignment::len).collect();
        sizes.iter().max().unwrap_or(&0) - sizes.iter().min().unwrap_or(&0)
    }

    #[test]
    fn properties_of_every_assignor() {
        let mut rng = fastrand::Rng::with_seed(0x0a55_1690);
        let assignors: Vec<Arc<dyn Assignor>> =
            ["range", "roundrobin", "sticky", "cooperative-sticky"]
                .iter()
                .map(|n| by_name(n).unwrap())
                .collect();
        for round in 0..1000 {
            let uniform = round % 2 == 0;
            let (members, parts) = random_group(&mut rng, uniform);
            let mut shuffled = members.clone();
            rng.shuffle(&mut shuffled);
            for a in &assignors {
                let out = a.assign(&members, &parts);
                // Deterministic and independent of the members' order.
                assert_eq!(out, a.assign(&members, &parts), "{}", a.name());
                assert_eq!(out, a.assign(&shuffled, &parts), "{}", a.name());
                match a.protocols() {
                    RebalanceProtocol::Eager => {
                        check_eager(a.name(), &members, &parts, &out);
                        if uniform && a.name() != "range" {
                            assert!(spread(&out) <= 1, "{}: {out:?}", a.name());
                        }
                    }
                    RebalanceProtocol::Cooperative => {
                        let target = StickyAssignor.assign(
                            &members
                                .iter()
                                .cloned()
                                .map(|mut m| {
                                    m.subscription.user_data = None;
                                    m
                                })
                                .collect::<Vec<_>>(),
                            &parts,
                        );
                        // A subset of the sticky target, never handing out what another owns.
                        for (id, asg) in &out {
                            let t = set(target.get(id));
                            let max_gen = members
                                .iter()
                                .map(|m| m.subscription.generation_id)
                                .max()
                                .unwrap();
                            let claims = |m: &MemberSubscription, tp: (&str, i32)| {
                                flatten(&m.subscription.owned_partitions).contains(&tp)
                            };
                            let me = members.iter().find(|m| &m.member_id == id).unwrap();
                            for (topic, p) in asg.topic_partitions() {
                                assert!(t.contains(&(topic.to_string(), p)));
                                let others = members.iter().filter(|m| &m.member_id != id);
                                if others.clone().any(|o| claims(o, (topic, p))) {
                                    // Only when our claim is the one that counts.
                                    assert_eq!(me.subscription.generation_id, max_gen);
                                    assert!(claims(me, (topic, p)));
                                    assert!(!others
                                        .clone()
                                        .any(|o| o.subscription.generation_id == max_gen
                                            && claims(o, (topic, p))));
                                }
                            }
                        }
                        // Rejoining with the result as owned converges to a full assignment.
                        let mut gen = 10;
                        let mut cur = next_round(&members, &out, gen);
                        let mut last = out.clone();
                        for _ in 0..4 {
                            gen += 1;
                            let next = a.assign(&cur, &parts);
                            if next == last {
                                break;
                            }
                            last = next;
                            cur = next_round(&cur, &last, gen);
                        }
                        check_eager("cooperative (converged)", &members, &parts, &last);
                        if uniform {
                            assert!(spread(&last) <= 1);
                            // One follow-up rebalance is enough.
                            let r2 = a.assign(&next_round(&members, &out, 10), &parts);
                            check_eager("cooperative round 2", &members, &parts, &r2);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn sticky_keeps_valid_ownership_under_random_churn() {
        // Uniform subscriptions, everyone at one generation, no double claims: each member keeps
        // min(owned, quota) of what it had.
        let mut rng = fastrand::Rng::with_seed(77);
        for _ in 0..200 {
            let n = rng.usize(1..7);
            let parts = counts(&[("a", rng.i32(1..10)), ("b", rng.i32(1..10))]);
            let members: Vec<_> = (0..n)
                .map(|i| member(&format!("m{i}"), &["a", "b"]))
                .collect();
            let r1 = StickyAssignor.assign(&members, &parts);
            let mut members2 = next_round(&members, &r1, 1);
            if rng.bool() && members2.len() > 1 {
                members2.remove(rng.usize(..members2.len()));
            } else {
                members2.push(member("new", &["a", "b"]));
            }
            let r2 = StickyAssignor.assign(&members2, &parts);
            check_eager("sticky", &members2, &parts, &r2);
            assert!(spread(&r2) <= 1);
            let total: usize = parts.values().map(|n| *n as usize).sum();
            let max_quota = total.div_ceil(members2.len());
            let min_quota = total / members2.len();
            for m in &members2 {
                let before = set(r1.get(&m.member_id));
                let kept = flat(&r2[&m.member_id])
                    .into_iter()
                    .filter(|tp| before.contains(tp))
                    .count();
                assert!(kept >= before.len().min(min_quota), "{r1:?} -> {r2:?}");
                assert!(kept <= max_quota);
            }
        }
    }
}
