//! The consumer's embedded protocol in classic groups: what a member puts in the `metadata` of
//! its JoinGroup protocols (a [`Subscription`]) and what the leader puts in each SyncGroup
//! assignment (an [`Assignment`]).
//!
//! Both are Kafka's "data" specs `ConsumerProtocolSubscription` and `ConsumerProtocolAssignment`
//! (versions 0-3, never flexible), written as an `int16` version followed by the body at that
//! version:
//!
//! - Subscription v0: topics and user data; v1 adds the owned partitions (KIP-429, cooperative
//!   rebalancing); v2 adds the generation the owned partitions belong to (KIP-792); v3 adds the
//!   rack id (KIP-881). Java 3.x clients write v3.
//! - Assignment v0-v3 share one layout (the version follows the subscription's).
//!
//! Decoding follows Kafka's compatibility rule for these specs: fields are only ever appended,
//! so a version newer than the ones we know is read as our newest and whatever follows is
//! ignored (trailing bytes are ignored at every version, as the Java client does). A negative
//! version is an error. An empty assignment (what a broker hands to a member the leader gave
//! nothing, and what some leaders send) decodes as an empty [`Assignment`].

use bytes::{BufMut, Bytes, BytesMut};
use kafka_proto::messages::consumer_protocol_assignment::{
    self as cpa, ConsumerProtocolAssignment,
};
use kafka_proto::messages::consumer_protocol_subscription::{
    self as cps, ConsumerProtocolSubscription,
};
use kafka_proto::{DecodeError, Decoder, EncodeError, I32s, KStr, Message};

/// The newest `ConsumerProtocolSubscription` version we write and read (3, as Java 3.x).
pub const SUBSCRIPTION_VERSION: i16 = 3;

/// The newest `ConsumerProtocolAssignment` version we write and read (3, as Java 3.x).
pub const ASSIGNMENT_VERSION: i16 = 3;

/// The generation a member reports before it has one (Java's `DEFAULT_GENERATION`).
pub const NO_GENERATION: i32 = -1;

/// Partitions grouped by topic, as the consumer protocol carries them.
pub type TopicPartitions = Vec<(String, Vec<i32>)>;

/// A member's subscription: the metadata of its `consumer` protocol in JoinGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Topics the member subscribes to.
    pub topics: Vec<String>,
    /// Assignor-specific data (null by default).
    pub user_data: Option<Bytes>,
    /// Partitions the member owns now, per topic (v1+; empty for eager members).
    pub owned_partitions: Vec<(String, Vec<i32>)>,
    /// The generation `owned_partitions` belong to (v2+); [`NO_GENERATION`] (-1) when unknown.
    pub generation_id: i32,
    /// The member's rack (`client.rack`, v3+).
    pub rack_id: Option<String>,
}

impl Default for Subscription {
    fn default() -> Self {
        Subscription {
            topics: Vec::new(),
            user_data: None,
            owned_partitions: Vec::new(),
            generation_id: NO_GENERATION,
            rack_id: None,
        }
    }
}

/// A member's assignment: the SyncGroup assignment the leader computed for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    /// Assigned partitions, per topic.
    pub partitions: Vec<(String, Vec<i32>)>,
    /// Assignor-specific data (null by default).
    pub user_data: Option<Bytes>,
}

impl Assignment {
    /// Every assigned `(topic, partition)`, in the order stored.
    pub fn topic_partitions(&self) -> impl Iterator<Item = (&str, i32)> + '_ {
        self.partitions
            .iter()
            .flat_map(|(t, ps)| ps.iter().map(move |p| (t.as_str(), *p)))
    }

    /// Number of assigned partitions.
    pub fn len(&self) -> usize {
        self.partitions.iter().map(|(_, ps)| ps.len()).sum()
    }

    /// True when nothing is assigned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A consumer protocol subscription or assignment that could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The input is too short to hold the `int16` version.
    #[error("consumer protocol {what} is truncated: no room for its version")]
    MissingVersion {
        /// `"subscription"` or `"assignment"`.
        what: &'static str,
    },
    /// A version this codec cannot read or write (negative when decoding, outside 0-3 when
    /// encoding).
    #[error("consumer protocol {what} version {version} is not supported")]
    UnsupportedVersion {
        /// `"subscription"` or `"assignment"`.
        what: &'static str,
        /// The version found or asked for.
        version: i16,
    },
    /// The body is malformed (truncated, a bad length, invalid UTF-8...).
    #[error("malformed consumer protocol {what} (version {version}): {source}")]
    Malformed {
        /// `"subscription"` or `"assignment"`.
        what: &'static str,
        /// The version the body was read at.
        version: i16,
        /// The codec's error, with field path and offset.
        #[source]
        source: DecodeError,
    },
    /// A value does not fit the wire format (a string longer than 32767 bytes...).
    #[error("cannot encode consumer protocol {what}: {source}")]
    Encode {
        /// `"subscription"` or `"assignment"`.
        what: &'static str,
        /// The codec's error.
        #[source]
        source: EncodeError,
    },
}

fn to_wire_partitions<T>(parts: &[(String, Vec<i32>)], make: impl Fn(KStr, I32s) -> T) -> Vec<T> {
    parts
        .iter()
        .map(|(t, ps)| make(KStr::from(t.as_str()), I32s::from_slice(ps)))
        .collect()
}

fn check_version(what: &'static str, version: i16, max: i16) -> Result<(), ProtocolError> {
    if (0..=max).contains(&version) {
        Ok(())
    } else {
        Err(ProtocolError::UnsupportedVersion { what, version })
    }
}

fn framed<M: Message>(what: &'static str, m: &M, version: i16) -> Result<Bytes, ProtocolError> {
    let mut b = BytesMut::with_capacity(2 + m.encoded_size(version));
    b.put_i16(version);
    m.encode(&mut b, version)
        .map_err(|source| ProtocolError::Encode { what, source })?;
    Ok(b.freeze())
}

/// Encodes `s` as a `ConsumerProtocolSubscription` of `version` (0-3), version prefix included.
/// Fields the version does not have (owned partitions before v1, generation before v2, rack
/// before v3) are left out.
///
/// # Errors
/// [`ProtocolError::UnsupportedVersion`] outside 0-3; [`ProtocolError::Encode`] when a topic
/// name or the rack id is longer than 32767 bytes.
pub fn try_encode_subscription(s: &Subscription, version: i16) -> Result<Bytes, ProtocolError> {
    const WHAT: &str = "subscription";
    check_version(WHAT, version, SUBSCRIPTION_VERSION)?;
    let m = ConsumerProtocolSubscription {
        topics: s.topics.iter().map(|t| KStr::from(t.as_str())).collect(),
        user_data: s.user_data.clone(),
        owned_partitions: to_wire_partitions(&s.owned_partitions, |topic, partitions| {
            cps::TopicPartition { topic, partitions }
        }),
        generation_id: s.generation_id,
        rack_id: s.rack_id.as_deref().map(KStr::from),
    };
    framed(WHAT, &m, version)
}

/// Encodes `s` as a `ConsumerProtocolSubscription`, version prefix included. `version` is
/// clamped into 0..=[`SUBSCRIPTION_VERSION`]; fields the version does not have are left out.
///
/// # Errors
/// [`ProtocolError::Encode`] when a topic name or the rack id is longer than 32767 bytes.
pub fn encode_subscription(s: &Subscription, version: i16) -> Result<Bytes, ProtocolError> {
    try_encode_subscription(s, version.clamp(0, SUBSCRIPTION_VERSION))
}

/// Decodes a subscription: the `int16` version, then the body. Returns the version as written
/// (a version above [`SUBSCRIPTION_VERSION`] is read as [`SUBSCRIPTION_VERSION`]; what follows
/// is ignored).
///
/// # Errors
/// [`ProtocolError::MissingVersion`] for fewer than two bytes,
/// [`ProtocolError::UnsupportedVersion`] for a negative version, [`ProtocolError::Malformed`]
/// for a body that does not parse.
pub fn decode_subscription(b: &Bytes) -> Result<(i16, Subscription), ProtocolError> {
    const WHAT: &str = "subscription";
    let mut d = Decoder::new(b);
    let version = d
        .i16()
        .map_err(|_| ProtocolError::MissingVersion { what: WHAT })?;
    if version < 0 {
        return Err(ProtocolError::UnsupportedVersion {
            what: WHAT,
            version,
        });
    }
    let read_as = version.min(SUBSCRIPTION_VERSION);
    let m = ConsumerProtocolSubscription::decode(&mut d, read_as).map_err(|source| {
        ProtocolError::Malformed {
            what: WHAT,
            version: read_as,
            source,
        }
    })?;
    let s = Subscription {
        topics: m.topics.iter().map(|t| t.to_string()).collect(),
        user_data: m.user_data,
        owned_partitions: m
            .owned_partitions
            .iter()
            .map(|tp| (tp.topic.to_string(), tp.partitions.to_vec()))
            .collect(),
        generation_id: m.generation_id,
        rack_id: m.rack_id.map(|r| r.to_string()),
    };
    Ok((version, s))
}

/// Encodes `a` as a `ConsumerProtocolAssignment` of `version` (0-3), version prefix included.
///
/// # Errors
/// [`ProtocolError::UnsupportedVersion`] outside 0-3; [`ProtocolError::Encode`] when a topic
/// name is longer than 32767 bytes.
pub fn try_encode_assignment(a: &Assignment, version: i16) -> Result<Bytes, ProtocolError> {
    const WHAT: &str = "assignment";
    check_version(WHAT, version, ASSIGNMENT_VERSION)?;
    let m = ConsumerProtocolAssignment {
        assigned_partitions: to_wire_partitions(&a.partitions, |topic, partitions| {
            cpa::TopicPartition { topic, partitions }
        }),
        user_data: a.user_data.clone(),
    };
    framed(WHAT, &m, version)
}

/// Encodes `a` as a `ConsumerProtocolAssignment`, version prefix included. `version` is clamped
/// into 0..=[`ASSIGNMENT_VERSION`] (all versions share one layout).
///
/// # Errors
/// [`ProtocolError::Encode`] when a topic name is longer than 32767 bytes.
pub fn encode_assignment(a: &Assignment, version: i16) -> Result<Bytes, ProtocolError> {
    try_encode_assignment(a, version.clamp(0, ASSIGNMENT_VERSION))
}

/// Decodes an assignment: the `int16` version, then the body. An empty input is an empty
/// assignment (returned as version 0). Returns the version as written (a version above
/// [`ASSIGNMENT_VERSION`] is read as [`ASSIGNMENT_VERSION`]; what follows is ignored).
///
/// # Errors
/// [`ProtocolError::MissingVersion`] for a single byte, [`ProtocolError::UnsupportedVersion`]
/// for a negative version, [`ProtocolError::Malformed`] for a body that does not parse.
pub fn decode_assignment(b: &Bytes) -> Result<(i16, Assignment), ProtocolError> {
    const WHAT: &str = "assignment";
    if b.is_empty() {
        return Ok((0, Assignment::default()));
    }
    let mut d = Decoder::new(b);
    let version = d
        .i16()
        .map_err(|_| ProtocolError::MissingVersion { what: WHAT })?;
    if version < 0 {
        return Err(ProtocolError::UnsupportedVersion {
            what: WHAT,
            version,
        });
    }
    let read_as = version.min(ASSIGNMENT_VERSION);
    let m = ConsumerProtocolAssignment::decode(&mut d, read_as).map_err(|source| {
        ProtocolError::Malformed {
            what: WHAT,
            version: read_as,
            source,
        }
    })?;
    let a = Assignment {
        partitions: m
            .assigned_partitions
            .iter()
            .map(|tp| (tp.topic.to_string(), tp.partitions.to_vec()))
            .collect(),
        user_data: m.user_data,
    };
    Ok((version, a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_subscription() -> Subscription {
        Subscription {
            topics: vec!["orders".into(), "payments".into()],
            user_data: Some(Bytes::from_static(b"\x00\x01ud")),
            owned_partitions: vec![("orders".into(), vec![0, 2]), ("payments".into(), vec![1])],
            generation_id: 7,
            rack_id: Some("rack-a".into()),
        }
    }

    /// Hand-written wire bytes: int16 length + UTF-8 for strings, int32 counts for arrays.
    fn put_str(b: &mut Vec<u8>, s: &str) {
        b.extend_from_slice(&(s.len() as i16).to_be_bytes());
        b.extend_from_slice(s.as_bytes());
    }

    #[test]
    fn subscription_round_trips_at_every_version() {
        let s = full_subscription();
        for v in 0..=SUBSCRIPTION_VERSION {
            let b = encode_subscription(&s, v).unwrap();
            assert_eq!(&b[..2], &v.to_be_bytes());
            let (got_v, got) = decode_subscription(&b).unwrap();
            assert_eq!(got_v, v);
            let mut want = s.clone();
            if v < 1 {
                want.owned_partitions.clear();
            }
            if v < 2 {
                want.generation_id = NO_GENERATION;
            }
            if v < 3 {
                want.rack_id = None;
            }
            assert_eq!(got, want, "version {v}");
        }
        // Defaults and nulls.
        let empty = Subscription::default();
        let (_, got) = decode_subscription(&encode_subscription(&empty, 3).unwrap()).unwrap();
        assert_eq!(got, empty);
    }

    #[test]
    fn subscription_v3_exact_bytes() {
        let s = Subscription {
            topics: vec!["t".into()],
            user_data: None,
            owned_partitions: vec![("t".into(), vec![5])],
            generation_id: 2,
            rack_id: None,
        };
        let mut want = vec![0, 3];
        want.extend_from_slice(&1i32.to_be_bytes());
        put_str(&mut want, "t");
        want.extend_from_slice(&(-1i32).to_be_bytes()); // null user data
        want.extend_from_slice(&1i32.to_be_bytes());
        put_str(&mut want, "t");
        want.extend_from_slice(&1i32.to_be_bytes());
        want.extend_from_slice(&5i32.to_be_bytes());
        want.extend_from_slice(&2i32.to_be_bytes()); // generation
        want.extend_from_slice(&(-1i16).to_be_bytes()); // null rack
        assert_eq!(&encode_subscription(&s, 3).unwrap()[..], &want[..]);
    }

    #[test]
    fn v0_subscription_from_an_old_client() {
        // version 0, topics ["a", "bc"], user data 3 bytes.
        let mut b = vec![0, 0];
        b.extend_from_slice(&2i32.to_be_bytes());
        put_str(&mut b, "a");
        put_str(&mut b, "bc");
        b.extend_from_slice(&3i32.to_be_bytes());
        b.extend_from_slice(b"xyz");
        let (v, s) = decode_subscription(&Bytes::from(b)).unwrap();
        assert_eq!(v, 0);
        assert_eq!(s.topics, vec!["a".to_string(), "bc".to_string()]);
        assert_eq!(s.user_data.as_deref(), Some(&b"xyz"[..]));
        assert!(s.owned_partitions.is_empty());
        assert_eq!(s.generation_id, NO_GENERATION);
        assert_eq!(s.rack_id, None);
    }

    #[test]
    fn newer_subscription_version_is_read_as_ours() {
        let s = full_subscription();
        let v3 = encode_subscription(&s, 3).unwrap();
        let mut b = BytesMut::new();
        b.put_i16(9);
        b.extend_from_slice(&v3[2..]);
        b.extend_from_slice(b"\x00\x00\x00\x2a future fields");
        let (v, got) = decode_subscription(&b.freeze()).unwrap();
        assert_eq!(v, 9);
        assert_eq!(got, s);
        // Trailing bytes at a known version are ignored too (as Java does).
        let mut b = BytesMut::from(&v3[..]);
        b.extend_from_slice(b"junk");
        assert_eq!(decode_subscription(&b.freeze()).unwrap().1, s);
    }

    #[test]
    fn truncated_or_invalid_subscriptions_are_errors() {
        assert!(matches!(
            decode_subscription(&Bytes::new()),
            Err(ProtocolError::MissingVersion { .. })
        ));
        assert!(matches!(
            decode_subscription(&Bytes::from_static(&[0])),
            Err(ProtocolError::MissingVersion { .. })
        ));
        assert!(matches!(
            decode_subscription(&Bytes::from_static(&[0xff, 0xff, 0, 0, 0, 0])),
            Err(ProtocolError::UnsupportedVersion { version: -1, .. })
        ));
        let b = encode_subscription(&full_subscription(), 3).unwrap();
        for cut in 2..b.len() {
            let e = decode_subscription(&b.slice(..cut)).unwrap_err();
            assert!(
                matches!(e, ProtocolError::Malformed { version: 3, .. }),
                "cut {cut}: {e}"
            );
        }
        // A topic count far beyond the input.
        let mut b = vec![0, 1];
        b.extend_from_slice(&i32::MAX.to_be_bytes());
        assert!(decode_subscription(&Bytes::from(b)).is_err());
        // Invalid UTF-8 in a topic name.
        let mut b = vec![0, 0];
        b.extend_from_slice(&1i32.to_be_bytes());
        b.extend_from_slice(&[0, 1, 0xff]);
        b.extend_from_slice(&(-1i32).to_be_bytes());
        let e = decode_subscription(&Bytes::from(b)).unwrap_err();
        assert!(e.to_string().contains("topics"), "{e}");
    }

    #[test]
    fn encode_checks_versions_and_lengths() {
        let s = full_subscription();
        assert!(matches!(
            try_encode_subscription(&s, 4),
            Err(ProtocolError::UnsupportedVersion { version: 4, .. })
        ));
        assert!(try_encode_subscription(&s, -1).is_err());
        // The infallible form clamps.
        assert_eq!(
            encode_subscription(&s, 12).unwrap(),
            encode_subscription(&s, 3).unwrap()
        );
        let long = Subscription {
            topics: vec!["x".repeat(40_000)],
            ..Subscription::default()
        };
        assert!(matches!(
            try_encode_subscription(&long, 3),
            Err(ProtocolError::Encode { .. })
        ));
        assert!(try_encode_assignment(&Assignment::default(), 4).is_err());
    }

    #[test]
    fn assignment_round_trips() {
        let a = Assignment {
            partitions: vec![("a".into(), vec![0, 1, 2]), ("b".into(), vec![])],
            user_data: Some(Bytes::from_static(b"u")),
        };
        for v in 0..=ASSIGNMENT_VERSION {
            let b = encode_assignment(&a, v).unwrap();
            assert_eq!(decode_assignment(&b).unwrap(), (v, a.clone()));
        }
        assert_eq!(a.len(), 3);
        assert_eq!(
            a.topic_partitions().collect::<Vec<_>>(),
            vec![("a", 0), ("a", 1), ("a", 2)]
        );
        // Exact bytes of a small v0 assignment.
        let small = Assignment {
            partitions: vec![("t".into(), vec![3])],
            user_data: None,
        };
        let mut want = vec![0, 0];
        want.extend_from_slice(&1i32.to_be_bytes());
        put_str(&mut want, "t");
        want.extend_from_slice(&1i32.to_be_bytes());
        want.extend_from_slice(&3i32.to_be_bytes());
        want.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(&encode_assignment(&small, 0).unwrap()[..], &want[..]);
    }

    #[test]
    fn empty_and_future_assignments() {
        let (v, a) = decode_assignment(&Bytes::new()).unwrap();
        assert_eq!(v, 0);
        assert!(a.is_empty());
        assert_eq!(a.user_data, None);

        let a = Assignment {
            partitions: vec![("t".into(), vec![1])],
            user_data: None,
        };
        let mut b = BytesMut::from(&encode_assignment(&a, 3).unwrap()[..]);
        b[1] = 5;
        b.extend_from_slice(b"more");
        assert_eq!(decode_assignment(&b.freeze()).unwrap(), (5, a));
    }

    #[test]
    fn truncated_assignments_are_errors() {
        assert!(matches!(
            decode_assignment(&Bytes::from_static(&[0])),
            Err(ProtocolError::MissingVersion { .. })
        ));
        assert!(matches!(
            decode_assignment(&Bytes::from_static(&[0x80, 0])),
            Err(ProtocolError::UnsupportedVersion { .. })
        ));
        let a = Assignment {
            partitions: vec![("topic".into(), vec![1, 2])],
            user_data: Some(Bytes::from_static(b"data")),
        };
        let b = encode_assignment(&a, 3).unwrap();
        for cut in 2..b.len() {
            assert!(
                matches!(
                    decode_assignment(&b.slice(..cut)),
                    Err(ProtocolError::Malformed { .. })
                ),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        let seed = encode_subscription(&full_subscription(), 3).unwrap();
        for _ in 0..5_000 {
            let mut b = seed.to_vec();
            for _ in 0..rng.usize(1..4) {
                let i = rng.usize(..b.len());
                b[i] = rng.u8(..);
            }
            b.truncate(rng.usize(..=b.len()));
            let b = Bytes::from(b);
            let _ = decode_subscription(&b);
            let _ = decode_assignment(&b);
        }
    }
}
