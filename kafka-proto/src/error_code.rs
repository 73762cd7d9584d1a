//! Kafka protocol error codes.
//!
//! Kafka responses report failures as a signed 16-bit error code, per partition, per topic or
//! per response. [`ErrorCode`] names every code Apache Kafka defines (from -1,
//! `UNKNOWN_SERVER_ERROR`, and 0, `NONE`, up to 133, `SHARE_SESSION_LIMIT_REACHED`) together with
//! Kafka's constant name, a short description and whether Kafka classifies the error as
//! retriable.
//!
//! Converting from an `i16` never fails: a number missing from the table (a newer broker, a
//! vendor extension, a corrupt frame) becomes [`ErrorCode::Unknown`], which keeps the number, so
//! [`ErrorCode::code`] always gives back exactly what was received.
//!
//! ```
//! use kafka_proto::ErrorCode;
//!
//! let err = ErrorCode::from_i16(3);
//! assert_eq!(err, ErrorCode::UnknownTopicOrPartition);
//! assert_eq!(err.name(), "UNKNOWN_TOPIC_OR_PARTITION");
//! assert!(err.is_retriable());
//!
//! let odd = ErrorCode::from(9999_i16);
//! assert_eq!(odd, ErrorCode::Unknown(9999));
//! assert_eq!(i16::from(odd), 9999);
//! assert_eq!(odd.to_string(), "unknown error code 9999");
//! ```

use std::fmt;

/// Generates [`ErrorCode`] and its lookups from one table.
///
/// Each row is `code => Variant, "KAFKA_NAME", retriable, "description";`, in ascending order of
/// code (the tests check the order).
macro_rules! error_codes {
    ($($code:literal => $variant:ident, $name:literal, $retriable:literal, $desc:literal;)+) => {
        /// A Kafka protocol error code.
        ///
        /// Variants are the CamelCase forms of Kafka's constant names (`NOT_LEADER_OR_FOLLOWER`
        /// is [`ErrorCode::NotLeaderOrFollower`]); code 0 is [`ErrorCode::None`], meaning
        /// success. Any other number is kept in [`ErrorCode::Unknown`].
        ///
        /// Build values from the wire with [`ErrorCode::from_i16`] (or `From<i16>`), which maps
        /// every known number to its named variant. An `Unknown` built by hand around a known
        /// number is not normalised and compares unequal to the named variant.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $(
                #[doc = concat!("`", $name, "` (", stringify!($code), "): ", $desc, ".")]
                $variant,
            )+
            /// A code that is not in this crate's table; holds the number as received.
            Unknown(i16),
        }

        impl ErrorCode {
            /// Every known error code (every variant except [`ErrorCode::Unknown`]), in strictly
            /// ascending numeric order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// Maps a wire error code to its variant; numbers not in the table become
            /// [`ErrorCode::Unknown`]. Never fails.
            pub const fn from_i16(code: i16) -> ErrorCode {
                match code {
                    $($code => ErrorCode::$variant,)+
                    other => ErrorCode::Unknown(other),
                }
            }

            /// The numeric code as sent on the wire.
            pub const fn code(self) -> i16 {
                match self {
                    $(ErrorCode::$variant => $code,)+
                    ErrorCode::Unknown(code) => code,
                }
            }

            /// Kafka's constant name for the code, such as `"UNKNOWN_TOPIC_OR_PARTITION"`;
            /// `"UNKNOWN"` for [`ErrorCode::Unknown`].
            pub const fn name(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)+
                    ErrorCode::Unknown(_) => "UNKNOWN",
                }
            }

            /// A short, lower-case, one-line description of what the code means.
            pub const fn description(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $desc,)+
                    ErrorCode::Unknown(_) => "an error code this library does not know",
                }
            }

            /// Whether Kafka classifies the error as retriable, i.e. transient, so that
            /// repeating the request (often after refreshing metadata) may succeed.
            /// [`ErrorCode::Unknown`] is not retriable.
            pub const fn is_retriable(self) -> bool {
                match self {
                    $(ErrorCode::$variant => $retriable,)+
                    ErrorCode::Unknown(_) => false,
                }
            }
        }
    };
}

error_codes! {
    -1 => UnknownServerError, "UNKNOWN_SERVER_ERROR", false,
        "the broker hit an unexpected failure while handling the request";
    0 => None, "NONE", false, "no error; the operation succeeded";
    1 => OffsetOutOfRange, "OFFSET_OUT_OF_RANGE", false,
        "the requested offset lies outside the range the broker retains";
    2 => CorruptMessage, "CORRUPT_MESSAGE", true,
        "a message failed its CRC check, was oversized, had a null key on a compacted topic, or was otherwise malformed";
    3 => UnknownTopicOrPartition, "UNKNOWN_TOPIC_OR_PARTITION", true,
        "the broker does not host the requested topic-partition";
    4 => InvalidFetchSize, "INVALID_FETCH_SIZE", false,
        "the fetch size in the request is not valid";
    5 => LeaderNotAvailable, "LEADER_NOT_AVAILABLE", true,
        "the partition has no leader right now, typically because an election is under way";
    6 => NotLeaderOrFollower, "NOT_LEADER_OR_FOLLOWER", true,
        "the broker is not the leader, or not a replica, for the partition the request targets";
    7 => RequestTimedOut, "REQUEST_TIMED_OUT", true,
        "the request did not complete within its timeout";
    8 => BrokerNotAvailable, "BROKER_NOT_AVAILABLE", false, "the broker is not available";
    9 => ReplicaNotAvailable, "REPLICA_NOT_AVAILABLE", true,
        "the replica for the requested topic-partition is not available";
    10 => MessageTooLarge, "MESSAGE_TOO_LARGE", false,
        "a message exceeded the maximum size the broker accepts";
    11 => StaleControllerEpoch, "STALE_CONTROLLER_EPOCH", false,
        "the controller has moved to a different broker";
    12 => OffsetMetadataTooLarge, "OFFSET_METADATA_TOO_LARGE", false,
        "the metadata attached to an offset commit is too large";
    13 => NetworkException, "NETWORK_EXCEPTION", true,
        "the connection was closed before a response arrived";
    14 => CoordinatorLoadInProgress, "COORDINATOR_LOAD_IN_PROGRESS", true,
        "the coordinator is still loading its state and cannot serve requests yet";
    15 => CoordinatorNotAvailable, "COORDINATOR_NOT_AVAILABLE", true,
        "the coordinator is not available";
    16 => NotCoordinator, "NOT_COORDINATOR", true,
        "the broker is not the coordinator for this group or transaction";
    17 => InvalidTopicException, "INVALID_TOPIC_EXCEPTION", false,
        "the request referred to an invalid topic";
    18 => RecordListTooLarge, "RECORD_LIST_TOO_LARGE", false,
        "a record batch exceeded the broker's configured segment size";
    19 => NotEnoughReplicas, "NOT_ENOUGH_REPLICAS", true,
        "rejected because fewer replicas are in sync than required";
    20 => NotEnoughReplicasAfterAppend, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true,
        "records were written, but to fewer in-sync replicas than required";
    21 => InvalidRequiredAcks, "INVALID_REQUIRED_ACKS", false,
        "the produce request's acks value is not valid";
    22 => IllegalGeneration, "ILLEGAL_GENERATION", false,
        "the group generation id in the request is not valid";
    23 => InconsistentGroupProtocol, "INCONSISTENT_GROUP_PROTOCOL", false,
        "the member's protocols clash with the group's, or its protocol type or list is empty";
    24 => InvalidGroupId, "INVALID_GROUP_ID", false, "the group id is not valid";
    25 => UnknownMemberId, "UNKNOWN_MEMBER_ID", false,
        "the coordinator does not know this member id";
    26 => InvalidSessionTimeout, "INVALID_SESSION_TIMEOUT", false,
        "the session timeout lies outside the range the broker allows";
    27 => RebalanceInProgress, "REBALANCE_IN_PROGRESS", false,
        "the group is rebalancing and the member must rejoin";
    28 => InvalidCommitOffsetSize, "INVALID_COMMIT_OFFSET_SIZE", false,
        "the size of the offset commit data is not valid";
    29 => TopicAuthorizationFailed, "TOPIC_AUTHORIZATION_FAILED", false,
        "not authorized to access the topic";
    30 => GroupAuthorizationFailed, "GROUP_AUTHORIZATION_FAILED", false,
        "not authorized to access the group";
    31 => ClusterAuthorizationFailed, "CLUSTER_AUTHORIZATION_FAILED", false,
        "not authorized for the cluster-level operation";
    32 => InvalidTimestamp, "INVALID_TIMESTAMP", false,
        "a message timestamp is outside the acceptable range";
    33 => UnsupportedSaslMechanism, "UNSUPPORTED_SASL_MECHANISM", false,
        "the broker does not support the requested SASL mechanism";
    34 => IllegalSaslState, "ILLEGAL_SASL_STATE", false,
        "the request is not valid in the current SASL state";
    35 => UnsupportedVersion, "UNSUPPORTED_VERSION", false,
        "the broker does not support this API version";
    36 => TopicAlreadyExists, "TOPIC_ALREADY_EXISTS", false,
        "a topic with this name already exists";
    37 => InvalidPartitions, "INVALID_PARTITIONS", false,
        "the requested number of partitions is not valid";
    38 => InvalidReplicationFactor, "INVALID_REPLICATION_FACTOR", false,
        "the replication factor is below 1 or exceeds the number of available brokers";
    39 => InvalidReplicaAssignment, "INVALID_REPLICA_ASSIGNMENT", false,
        "the replica assignment is not valid";
    40 => InvalidConfig, "INVALID_CONFIG", false, "the configuration is not valid";
    41 => NotController, "NOT_CONTROLLER", true, "the broker is not the active controller";
    42 => InvalidRequest, "INVALID_REQUEST", false,
        "the request was malformed or sent to an incompatible broker";
    43 => UnsupportedForMessageFormat, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false,
        "the broker's message format version does not support this request";
    44 => PolicyViolation, "POLICY_VIOLATION", false,
        "the request violates a policy configured on the broker";
    45 => OutOfOrderSequenceNumber, "OUT_OF_ORDER_SEQUENCE_NUMBER", false,
        "the broker received a producer sequence number out of order";
    46 => DuplicateSequenceNumber, "DUPLICATE_SEQUENCE_NUMBER", false,
        "the broker received a duplicate producer sequence number";
    47 => InvalidProducerEpoch, "INVALID_PRODUCER_EPOCH", false,
        "the producer used an epoch older than the current one";
    48 => InvalidTxnState, "INVALID_TXN_STATE", false,
        "the transactional operation is not valid in the producer's current state";
    49 => InvalidProducerIdMapping, "INVALID_PRODUCER_ID_MAPPING", false,
        "the producer id is not the one currently assigned to the transactional id";
    50 => InvalidTransactionTimeout, "INVALID_TRANSACTION_TIMEOUT", false,
        "the transaction timeout exceeds the broker's transaction.max.timeout.ms";
    51 => ConcurrentTransactions, "CONCURRENT_TRANSACTIONS", true,
        "another operation on the same transaction is still in progress";
    52 => TransactionCoordinatorFenced, "TRANSACTION_COORDINATOR_FENCED", false,
        "the transaction coordinator sending the marker is no longer the current one";
    53 => TransactionalIdAuthorizationFailed, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", false,
        "not authorized to use the transactional id";
    54 => SecurityDisabled, "SECURITY_DISABLED", false,
        "security features are disabled on the broker";
    55 => OperationNotAttempted, "OPERATION_NOT_ATTEMPTED", false,
        "the broker skipped this operation, typically because another item in the batch failed";
    56 => KafkaStorageError, "KAFKA_STORAGE_ERROR", true,
        "the broker hit a disk error while accessing the log";
    57 => LogDirNotFound, "LOG_DIR_NOT_FOUND", false,
        "the requested log directory is not configured on the broker";
    58 => SaslAuthenticationFailed, "SASL_AUTHENTICATION_FAILED", false,
        "SASL authentication failed";
    59 => UnknownProducerId, "UNKNOWN_PRODUCER_ID", false,
        "the broker holds no state for this producer id, e.g. because its records expired";
    60 => ReassignmentInProgress, "REASSIGNMENT_IN_PROGRESS", false,
        "a partition reassignment is already in progress";
    61 => DelegationTokenAuthDisabled, "DELEGATION_TOKEN_AUTH_DISABLED", false,
        "delegation tokens are not enabled";
    62 => DelegationTokenNotFound, "DELEGATION_TOKEN_NOT_FOUND", false,
        "the delegation token does not exist on the server";
    63 => DelegationTokenOwnerMismatch, "DELEGATION_TOKEN_OWNER_MISMATCH", false,
        "the principal is neither the token's owner nor a renewer";
    64 => DelegationTokenRequestNotAllowed, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", false,
        "delegation token requests are refused on plaintext, one-way SSL and token-authenticated channels";
    65 => DelegationTokenAuthorizationFailed, "DELEGATION_TOKEN_AUTHORIZATION_FAILED", false,
        "not authorized for the delegation token operation";
    66 => DelegationTokenExpired, "DELEGATION_TOKEN_EXPIRED", false,
        "the delegation token has expired";
    67 => InvalidPrincipalType, "INVALID_PRINCIPAL_TYPE", false,
        "the principal type is not supported";
    68 => NonEmptyGroup, "NON_EMPTY_GROUP", false, "the group still has members";
    69 => GroupIdNotFound, "GROUP_ID_NOT_FOUND", false, "the group does not exist";
    70 => FetchSessionIdNotFound, "FETCH_SESSION_ID_NOT_FOUND", true,
        "the broker does not know the fetch session id";
    71 => InvalidFetchSessionEpoch, "INVALID_FETCH_SESSION_EPOCH", true,
        "the fetch session epoch is not valid";
    72 => ListenerNotFound, "LISTENER_NOT_FOUND", true,
        "the leader has no listener matching the one the metadata request arrived on";
    73 => TopicDeletionDisabled, "TOPIC_DELETION_DISABLED", false,
        "topic deletion is disabled on the cluster";
    74 => FencedLeaderEpoch, "FENCED_LEADER_EPOCH", true,
        "the request's leader epoch is older than the broker's";
    75 => UnknownLeaderEpoch, "UNKNOWN_LEADER_EPOCH", true,
        "the request's leader epoch is newer than the broker's";
    76 => UnsupportedCompressionType, "UNSUPPORTED_COMPRESSION_TYPE", false,
        "the client does not support the partition's compression type";
    77 => StaleBrokerEpoch, "STALE_BROKER_EPOCH", false, "the broker epoch has changed";
    78 => OffsetNotAvailable, "OFFSET_NOT_AVAILABLE", true,
        "the new leader's high watermark has not caught up, so offsets are not yet safe to serve";
    79 => MemberIdRequired, "MEMBER_ID_REQUIRED", false,
        "the member must obtain a member id before joining the group";
    80 => PreferredLeaderNotAvailable, "PREFERRED_LEADER_NOT_AVAILABLE", true,
        "the preferred leader is not available";
    81 => GroupMaxSizeReached, "GROUP_MAX_SIZE_REACHED", false,
        "the group has reached its maximum size";
    82 => FencedInstanceId, "FENCED_INSTANCE_ID", false,
        "another member registered with the same group.instance.id has fenced this static member";
    83 => EligibleLeadersNotAvailable, "ELIGIBLE_LEADERS_NOT_AVAILABLE", true,
        "no eligible leader is available for the partition";
    84 => ElectionNotNeeded, "ELECTION_NOT_NEEDED", true,
        "a leader election is not needed for the partition";
    85 => NoReassignmentInProgress, "NO_REASSIGNMENT_IN_PROGRESS", false,
        "no partition reassignment is in progress";
    86 => GroupSubscribedToTopic, "GROUP_SUBSCRIBED_TO_TOPIC", false,
        "offsets cannot be deleted for a topic the group is actively subscribed to";
    87 => InvalidRecord, "INVALID_RECORD", false, "the broker's validation rejected the record";
    88 => UnstableOffsetCommit, "UNSTABLE_OFFSET_COMMIT", true,
        "pending transactional offsets must be resolved first";
    89 => ThrottlingQuotaExceeded, "THROTTLING_QUOTA_EXCEEDED", true,
        "the throttling quota was exceeded";
    90 => ProducerFenced, "PRODUCER_FENCED", false,
        "a newer producer with the same transactional id has fenced this one";
    91 => ResourceNotFound, "RESOURCE_NOT_FOUND", false,
        "the request referred to a resource that does not exist";
    92 => DuplicateResource, "DUPLICATE_RESOURCE", false,
        "the request referred to the same resource more than once";
    93 => UnacceptableCredential, "UNACCEPTABLE_CREDENTIAL", false,
        "the requested credential does not meet the acceptance criteria";
    94 => InconsistentVoterSet, "INCONSISTENT_VOTER_SET", false,
        "the sender or receiver of a voter-only request is not an expected voter";
    95 => InvalidUpdateVersion, "INVALID_UPDATE_VERSION", false, "the update version is not valid";
    96 => FeatureUpdateFailed, "FEATURE_UPDATE_FAILED", false,
        "updating the finalized features failed with an unexpected server error";
    97 => PrincipalDeserializationFailure, "PRINCIPAL_DESERIALIZATION_FAILURE", false,
        "the principal of a forwarded request could not be deserialized";
    98 => SnapshotNotFound, "SNAPSHOT_NOT_FOUND", false, "the requested snapshot does not exist";
    99 => PositionOutOfRange, "POSITION_OUT_OF_RANGE", false,
        "the requested position is negative or past the end of the snapshot";
    100 => UnknownTopicId, "UNKNOWN_TOPIC_ID", true,
        "the broker does not host a topic with this id";
    101 => DuplicateBrokerRegistration, "DUPLICATE_BROKER_REGISTRATION", false,
        "this broker id is already registered";
    102 => BrokerIdNotRegistered, "BROKER_ID_NOT_REGISTERED", false,
        "this broker id is not registered";
    103 => InconsistentTopicId, "INCONSISTENT_TOPIC_ID", true,
        "the topic id in the request does not match the log's topic id";
    104 => InconsistentClusterId, "INCONSISTENT_CLUSTER_ID", false,
        "the cluster id in the request does not match the server's";
    105 => TransactionalIdNotFound, "TRANSACTIONAL_ID_NOT_FOUND", false,
        "the transactional id does not exist";
    106 => FetchSessionTopicIdError, "FETCH_SESSION_TOPIC_ID_ERROR", true,
        "the fetch session used topic ids inconsistently";
    107 => IneligibleReplica, "INELIGIBLE_REPLICA", false,
        "the proposed ISR includes an ineligible replica";
    108 => NewLeaderElected, "NEW_LEADER_ELECTED", false,
        "the partition state was updated, but the leader has changed";
    109 => OffsetMovedToTieredStorage, "OFFSET_MOVED_TO_TIERED_STORAGE", false,
        "the requested offset is now held only in tiered storage";
    110 => FencedMemberEpoch, "FENCED_MEMBER_EPOCH", false,
        "the coordinator fenced the member epoch; the member must drop its partitions and rejoin";
    111 => UnreleasedInstanceId, "UNRELEASED_INSTANCE_ID", false,
        "another member still holds this instance id and must leave first";
    112 => UnsupportedAssignor, "UNSUPPORTED_ASSIGNOR", false,
        "the group does not support the assignor or its version range";
    113 => StaleMemberEpoch, "STALE_MEMBER_EPOCH", false,
        "the member epoch is stale; retry once a heartbeat returns the current epoch";
    114 => MismatchedEndpointType, "MISMATCHED_ENDPOINT_TYPE", false,
        "the request was sent to the wrong type of endpoint";
    115 => UnsupportedEndpointType, "UNSUPPORTED_ENDPOINT_TYPE", false,
        "this endpoint type is not supported yet";
    116 => UnknownControllerId, "UNKNOWN_CONTROLLER_ID", false, "the controller id is unknown";
    117 => UnknownSubscriptionId, "UNKNOWN_SUBSCRIPTION_ID", false,
        "the telemetry subscription id is unknown or outdated";
    118 => TelemetryTooLarge, "TELEMETRY_TOO_LARGE", false,
        "the telemetry push exceeded the maximum size the broker accepts";
    119 => InvalidRegistration, "INVALID_REGISTRATION", false,
        "the controller considers the broker registration invalid";
    120 => TransactionAbortable, "TRANSACTION_ABORTABLE", false,
        "the transaction failed; abort it to keep using the transactional id";
    121 => InvalidRecordState, "INVALID_RECORD_STATE", false,
        "the record's state does not allow the acknowledgement";
    122 => ShareSessionNotFound, "SHARE_SESSION_NOT_FOUND", true,
        "the share session does not exist";
    123 => InvalidShareSessionEpoch, "INVALID_SHARE_SESSION_EPOCH", true,
        "the share session epoch is not valid";
    124 => FencedStateEpoch, "FENCED_STATE_EPOCH", false,
        "the share coordinator rejected the request because the share-group state epoch did not match";
    125 => InvalidVoterKey, "INVALID_VOTER_KEY", false,
        "the voter key does not match the receiving replica's key";
    126 => DuplicateVoter, "DUPLICATE_VOTER", false, "the voter is already in the voter set";
    127 => VoterNotFound, "VOTER_NOT_FOUND", false, "the voter is not in the voter set";
    128 => InvalidRegularExpression, "INVALID_REGULAR_EXPRESSION", false,
        "the regular expression is not valid";
    129 => RebootstrapRequired, "REBOOTSTRAP_REQUIRED", false,
        "the client's metadata is stale and it should rebootstrap";
    130 => StreamsInvalidTopology, "STREAMS_INVALID_TOPOLOGY", false,
        "the Streams topology supplied is not valid";
    131 => StreamsInvalidTopologyEpoch, "STREAMS_INVALID_TOPOLOGY_EPOCH", false,
        "the Streams topology epoch supplied is not valid";
    132 => StreamsTopologyFenced, "STREAMS_TOPOLOGY_FENCED", false,
        "the Streams topology epoch supplied is outdated";
    133 => ShareSessionLimitReached, "SHARE_SESSION_LIMIT_REACHED", true,
        "no new share session can be opened because the limit has been reached";
}

/// Every known error code in strictly ascending numeric order; the same slice as
/// [`ErrorCode::ALL`].
pub const ALL: &[ErrorCode] = ErrorCode::ALL;

impl ErrorCode {
    /// Whether this is code 0 (`NONE`), i.e. no error.
    pub const fn is_ok(self) -> bool {
        self.code() == 0
    }
}

impl Default for ErrorCode {
    /// [`ErrorCode::None`], code 0.
    fn default() -> Self {
        ErrorCode::None
    }
}

impl From<i16> for ErrorCode {
    fn from(code: i16) -> Self {
        ErrorCode::from_i16(code)
    }
}

impl From<ErrorCode> for i16 {
    fn from(error: ErrorCode) -> Self {
        error.code()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ErrorCode::Unknown(code) => write!(f, "unknown error code {code}"),
            known => write!(
                f,
                "{} ({}): {}",
                known.name(),
                known.code(),
                known.description()
            ),
        }
    }
}

impl std::error::Error for ErrorCode {}

#[cfg(test)]
mod tests {
    use super::ErrorCode;
    use std::collections::HashSet;

    #[test]
    fn round_trips_small_codes() {
        for n in -1..=200_i16 {
            let err = ErrorCode::from_i16(n);
            assert_eq!(err.code(), n);
            assert_eq!(i16::from(ErrorCode::from(n)), n);
            assert_eq!(ErrorCode::from_i16(err.code()), err);
            // Every code from -1 to 133 is defined by Kafka.
            assert_eq!(matches!(err, ErrorCode::Unknown(_)), n > 133, "code {n}");
        }
    }

    #[test]
    fn round_trips_odd_and_extreme_codes() {
        let mut odd = vec![
            i16::MIN,
            i16::MIN + 1,
            -32000,
            -1000,
            -2,
            134,
            999,
            9999,
            32000,
        ];
        odd.extend([i16::MAX - 1, i16::MAX]);
        // A fixed xorshift sequence for some pseudo-random numbers.
        let mut state: u32 = 0x9e37_79b9;
        for _ in 0..1000 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            odd.push(state as i16);
            odd.push((state >> 16) as i16);
        }
        for n in odd {
            let err = ErrorCode::from(n);
            assert_eq!(i16::from(err), n);
            if !(-1..=133).contains(&n) {
                assert_eq!(err, ErrorCode::Unknown(n));
                assert_eq!(err.name(), "UNKNOWN");
                assert!(!err.is_retriable());
            }
        }
    }

    #[test]
    fn every_i16_round_trips_and_agrees_with_all() {
        let known: HashSet<i16> = ErrorCode::ALL.iter().map(|e| e.code()).collect();
        for n in i16::MIN..=i16::MAX {
            let err = ErrorCode::from_i16(n);
            assert_eq!(err.code(), n);
            assert_eq!(!matches!(err, ErrorCode::Unknown(_)), known.contains(&n));
        }
    }

    #[test]
    fn all_is_strictly_increasing_and_round_trips() {
        assert_eq!(ErrorCode::ALL.len(), 135);
        assert_eq!(super::ALL, ErrorCode::ALL);
        assert_eq!(ErrorCode::ALL.first(), Some(&ErrorCode::UnknownServerError));
        assert_eq!(
            ErrorCode::ALL.last(),
            Some(&ErrorCode::ShareSessionLimitReached)
        );
        for pair in ErrorCode::ALL.windows(2) {
            if let [a, b] = pair {
                assert!(a.code() < b.code(), "{a:?} then {b:?}");
            }
        }
        for &err in ErrorCode::ALL {
            assert!(!matches!(err, ErrorCode::Unknown(_)));
            assert_eq!(ErrorCode::from_i16(err.code()), err);
            assert_eq!(ErrorCode::from(i16::from(err)), err);
        }
    }

    #[test]
    fn known_codes() {
        let cases = [
            (
                -1,
                ErrorCode::UnknownServerError,
                "UNKNOWN_SERVER_ERROR",
                false,
            ),
            (0, ErrorCode::None, "NONE", false),
            (
                3,
                ErrorCode::UnknownTopicOrPartition,
                "UNKNOWN_TOPIC_OR_PARTITION",
                true,
            ),
            (
                6,
                ErrorCode::NotLeaderOrFollower,
                "NOT_LEADER_OR_FOLLOWER",
                true,
            ),
            (7, ErrorCode::RequestTimedOut, "REQUEST_TIMED_OUT", true),
            (
                35,
                ErrorCode::UnsupportedVersion,
                "UNSUPPORTED_VERSION",
                false,
            ),
            (
                45,
                ErrorCode::OutOfOrderSequenceNumber,
                "OUT_OF_ORDER_SEQUENCE_NUMBER",
                false,
            ),
            (
                47,
                ErrorCode::InvalidProducerEpoch,
                "INVALID_PRODUCER_EPOCH",
                false,
            ),
            (
                59,
                ErrorCode::UnknownProducerId,
                "UNKNOWN_PRODUCER_ID",
                false,
            ),
            (79, ErrorCode::MemberIdRequired, "MEMBER_ID_REQUIRED", false),
            (100, ErrorCode::UnknownTopicId, "UNKNOWN_TOPIC_ID", true),
            (
                121,
                ErrorCode::InvalidRecordState,
                "INVALID_RECORD_STATE",
                false,
            ),
            (
                122,
                ErrorCode::ShareSessionNotFound,
                "SHARE_SESSION_NOT_FOUND",
                true,
            ),
            (
                128,
                ErrorCode::InvalidRegularExpression,
                "INVALID_REGULAR_EXPRESSION",
                false,
            ),
            (
                129,
                ErrorCode::RebootstrapRequired,
                "REBOOTSTRAP_REQUIRED",
                false,
            ),
            (
                133,
                ErrorCode::ShareSessionLimitReached,
                "SHARE_SESSION_LIMIT_REACHED",
                true,
            ),
        ];
        for (code, err, name, retriable) in cases {
            assert_eq!(ErrorCode::from_i16(code), err);
            assert_eq!(err.code(), code);
            assert_eq!(err.name(), name);
            assert_eq!(err.is_retriable(), retriable, "{name}");
        }
        let retriable = ErrorCode::ALL.iter().filter(|e| e.is_retriable()).count();
        assert_eq!(retriable, 32);
    }

    #[test]
    fn names_are_unique_and_match_variants() {
        let mut names = HashSet::new();
        for &err in ErrorCode::ALL {
            assert!(names.insert(err.name()), "duplicate name {}", err.name());
            assert!(err
                .name()
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'_'));
            let camel = format!("{err:?}").to_ascii_lowercase();
            assert_eq!(err.name().replace('_', "").to_ascii_lowercase(), camel);
            assert!(!err.description().is_empty());
            assert!(!err.description().ends_with('.'));
        }
        assert!(!names.contains("UNKNOWN"));
    }

    #[test]
    fn display_ok_default_and_error() {
        assert_eq!(
            ErrorCode::UnknownTopicOrPartition.to_string(),
            format!(
                "UNKNOWN_TOPIC_OR_PARTITION (3): {}",
                ErrorCode::UnknownTopicOrPartition.description()
            )
        );
        assert!(ErrorCode::UnknownServerError
            .to_string()
            .starts_with("UNKNOWN_SERVER_ERROR (-1): "));
        assert_eq!(
            ErrorCode::Unknown(9999).to_string(),
            "unknown error code 9999"
        );
        assert_eq!(ErrorCode::from_i16(-2).to_string(), "unknown error code -2");
        assert_eq!(ErrorCode::default(), ErrorCode::None);
        assert!(ErrorCode::default().is_ok());
        assert_eq!(ErrorCode::default().code(), 0);
        assert!(ErrorCode::ALL
            .iter()
            .filter(|e| e.is_ok())
            .eq([&ErrorCode::None]));
        assert!(!ErrorCode::Unknown(1).is_ok());
        let boxed: Box<dyn std::error::Error> = Box::new(ErrorCode::NotController);
        assert!(boxed.to_string().starts_with("NOT_CONTROLLER (41): "));
    }

    #[test]
    fn usable_in_const_context() {
        const ERR: ErrorCode = ErrorCode::from_i16(6);
        const CODE: i16 = ERR.code();
        assert_eq!(CODE, 6);
        assert!(ERR.is_retriable());
    }
}
