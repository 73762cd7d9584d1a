//! The client's one error type.
//!
//! Every failure carries a [`Context`] (API, broker, topic/partition) where one applies, the Kafka
//! [`ErrorCode`] when a broker returned one, and answers [`Error::is_retriable`] the way the Java
//! client decides whether to retry.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use kafka_proto::{ApiKey, DecodeError, EncodeError, ErrorCode, VersionRange};

use crate::tls::TlsError;

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where an error happened: the request's API and version, the broker, the topic and partition.
/// Every part is optional; [`fmt::Display`] prints only the known ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// The API of the request, if the error belongs to one.
    pub api: Option<ApiKey>,
    /// The version the request was sent at.
    pub version: Option<i16>,
    /// The broker: `node <id> (<host:port>)`, or the address for bootstrap connections.
    pub broker: Option<Arc<str>>,
    /// The topic the error is about.
    pub topic: Option<String>,
    /// The partition the error is about.
    pub partition: Option<i32>,
}

impl Context {
    /// A context naming only a broker.
    pub fn broker(broker: &Arc<str>) -> Context {
        Context {
            broker: Some(broker.clone()),
            ..Context::default()
        }
    }

    /// This context with an API and version.
    pub fn with_api(mut self, api: ApiKey, version: i16) -> Context {
        self.api = Some(api);
        self.version = Some(version);
        self
    }

    /// This context with a topic (and optionally a partition).
    pub fn with_topic(mut self, topic: impl Into<String>, partition: Option<i32>) -> Context {
        self.topic = Some(topic.into());
        self.partition = partition;
        self
    }

    fn is_empty(&self) -> bool {
        self.api.is_none() && self.broker.is_none() && self.topic.is_none()
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(api) = self.api {
            write!(f, "{}", api.name())?;
            if let Some(v) = self.version {
                write!(f, " v{v}")?;
            }
            sep = " ";
        }
        if let Some(b) = &self.broker {
            let to = if self.api.is_some() { "to " } else { "" };
            write!(f, "{sep}{to}{b}")?;
            sep = " ";
        }
        if let Some(t) = &self.topic {
            write!(f, "{sep}topic {t}")?;
            if let Some(p) = self.partition {
                write!(f, " partition {p}")?;
            }
        }
        Ok(())
    }
}

fn prefix(c: &Context) -> String {
    if c.is_empty() {
        String::new()
    } else {
        format!("{c}: ")
    }
}

fn suffix(message: &Option<String>) -> String {
    match message {
        Some(m) if !m.is_empty() => format!(" ({m})"),
        _ => String::new(),
    }
}

/// Every error of the client.
///
/// Cloneable, so that a connection failure can be handed to every request that was waiting on
/// that connection.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A broker answered with a Kafka error code.
    #[error("{}{code}{}", prefix(context), suffix(message))]
    Broker {
        /// The code.
        code: ErrorCode,
        /// The broker's error message, when the response carries one.
        message: Option<String>,
        /// Where.
        context: Context,
    },
    /// Connecting to a broker, or reading or writing its socket, failed.
    #[error("{}{source}", prefix(context))]
    Io {
        /// Where.
        context: Context,
        /// The cause.
        #[source]
        source: Arc<io::Error>,
    },
    /// The broker sent something that is not a valid response: bytes that do not decode, a frame
    /// over the configured maximum, a correlation id no request used. The connection is dropped.
    #[error("{}protocol error: {detail}", prefix(context))]
    Protocol {
        /// Where.
        context: Context,
        /// What was wrong.
        detail: String,
    },
    /// An operation did not finish within its time limit.
    #[error("{}timed out after {} ms{}", prefix(context), after.as_millis(), last.as_ref().map(|e| format!(" (last error: {e})")).unwrap_or_default())]
    Timeout {
        /// Where.
        context: Context,
        /// The limit.
        after: Duration,
        /// The last retriable error seen before the deadline, if any.
        last: Option<Box<Error>>,
    },
    /// None of the bootstrap servers could be reached.
    #[error("cannot reach any bootstrap server: {}", tried.iter().map(|(a, e)| format!("{a}: {e}")).collect::<Vec<_>>().join("; "))]
    Unreachable {
        /// Every address tried, with why it failed.
        tried: Vec<(String, String)>,
    },
    /// The broker supports no version of an API that this client also supports.
    #[error("{}the broker supports no version of {} that this client speaks (broker: {}, client: {client})", prefix(context), api.name(), broker.map(|r| r.to_string()).unwrap_or_else(|| "not at all".into()))]
    UnsupportedVersion {
        /// Where.
        context: Context,
        /// The API.
        api: ApiKey,
        /// What the broker advertised, `None` if it does not know the API.
        broker: Option<VersionRange>,
        /// What the client supports.
        client: VersionRange,
    },
    /// TLS setup or handshake failed.
    #[error("{}TLS: {source}", prefix(context))]
    Tls {
        /// Where.
        context: Context,
        /// The cause.
        #[source]
        source: Arc<TlsError>,
    },
    /// A configuration property is invalid.
    #[error("invalid configuration {key}: {detail}")]
    Config {
        /// The property.
        key: String,
        /// Why.
        detail: String,
    },
    /// An argument to a client call is invalid (nothing was sent).
    #[error("{0}")]
    InvalidArgument(String),
    /// A request could not be encoded (a value too long for its field, for example).
    #[error("{}cannot encode request: {source}", prefix(context))]
    Encode {
        /// Where.
        context: Context,
        /// The cause.
        #[source]
        source: Arc<EncodeError>,
    },
    /// Fetched data is corrupt (CRC mismatch, impossible lengths) at this offset. The position
    /// stays before it: seek past it to skip, or stop.
    #[error("{}corrupt record batch at offset {offset}: {detail}", prefix(context))]
    Corrupt {
        /// The topic and partition.
        context: Context,
        /// The offset of the bad batch.
        offset: i64,
        /// What is wrong.
        detail: String,
    },
    /// The client, or the connection a request was waiting on, was closed.
    #[error("{}closed", prefix(context))]
    Closed {
        /// Where.
        context: Context,
    },
}

impl Error {
    /// A broker error from a raw code with a context; `None` for code 0.
    pub fn from_code(
        code: i16,
        message: Option<&str>,
        context: impl FnOnce() -> Context,
    ) -> Option<Error> {
        if code == 0 {
            return None;
        }
        Some(Error::Broker {
            code: ErrorCode::from_i16(code),
            message: message.map(str::to_owned),
            context: context(),
        })
    }

    pub(crate) fn io(context: Context, e: io::Error) -> Error {
        Error::Io {
            context,
            source: Arc::new(e),
        }
    }

    pub(crate) fn protocol(context: Context, detail: impl Into<String>) -> Error {
        Error::Protocol {
            context,
            detail: detail.into(),
        }
    }

    pub(crate) fn decode(context: Context, e: DecodeError) -> Error {
        Error::Protocol {
            context,
            detail: format!("cannot decode response: {e}"),
        }
    }

    pub(crate) fn closed(context: Context) -> Error {
        Error::Closed { context }
    }

    /// The Kafka error code, when a broker returned one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Broker { code, .. } => Some(*code),
            Error::Timeout { last: Some(e), .. } => e.code(),
            _ => None,
        }
    }

    /// Where the error happened, when known.
    pub fn context(&self) -> Option<&Context> {
        match self {
            Error::Broker { context, .. }
            | Error::Io { context, .. }
            | Error::Protocol { context, .. }
            | Error::Timeout { context, .. }
            | Error::UnsupportedVersion { context, .. }
            | Error::Tls { context, .. }
            | Error::Encode { context, .. }
            | Error::Corrupt { context, .. }
            | Error::Closed { context } => Some(context),
            _ => None,
        }
    }

    /// Whether trying again (after a metadata refresh or a reconnect) may succeed: Kafka's
    /// retriable codes, I/O failures, broken connections, request timeouts and unreachable
    /// brokers. Deadlines of whole operations, TLS failures,
    /// configuration errors, unsupported versions and closed clients are final.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Broker { code, .. } => code.is_retriable(),
            Error::Io { .. } | Error::Protocol { .. } | Error::Unreachable { .. } => true,
            // The connection closed under a request; the client itself is not closed.
            Error::Closed { context } => context.broker.is_some(),
            // A request or connect that timed out on one broker is retried (on a new
            // connection); an operation's overall deadline is final.
            Error::Timeout { context, .. } => context.broker.is_some(),
            Error::UnsupportedVersion { .. }
            | Error::Tls { .. }
            | Error::Config { .. }
            | Error::InvalidArgument(_)
            | Error::Corrupt { .. }
            | Error::Encode { .. } => false,
        }
    }

    /// Whether the error means the client's view of leaders or topics is out of date, so metadata
    /// should be refreshed before a retry.
    pub fn is_stale_metadata(&self) -> bool {
        matches!(
            self.code(),
            Some(
                ErrorCode::NotLeaderOrFollower
                    | ErrorCode::UnknownTopicOrPartition
                    | ErrorCode::FencedLeaderEpoch
                    | ErrorCode::UnknownLeaderEpoch
                    | ErrorCode::LeaderNotAvailable
                    | ErrorCode::NotController
                    | ErrorCode::NotCoordinator
                    | ErrorCode::CoordinatorNotAvailable
                    | ErrorCode::UnknownTopicId
                    | ErrorCode::InconsistentTopicId
                    | ErrorCode::BrokerNotAvailable
                    | ErrorCode::ReplicaNotAvailable
                    | ErrorCode::KafkaStorageError
            )
        ) || matches!(self, Error::Io { .. } | Error::Closed { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_api_broker_and_partition() {
        let e = Error::Broker {
            code: ErrorCode::NotLeaderOrFollower,
            message: None,
            context: Context::broker(&Arc::from("node 1 (127.0.0.1:9092)"))
                .with_api(ApiKey::Produce, 9)
                .with_topic("t", Some(3)),
        };
        let s = e.to_string();
        assert!(
            s.starts_with("Produce v9 to node 1 (127.0.0.1:9092) topic t partition 3: "),
            "{s}"
        );
        assert!(s.contains("NOT_LEADER_OR_FOLLOWER"), "{s}");
        assert!(e.is_retriable());
        assert!(e.is_stale_metadata());
        assert_eq!(e.code(), Some(ErrorCode::NotLeaderOrFollower));
    }

    #[test]
    fn final_errors_are_not_retriable() {
        let e = Error::Broker {
            code: ErrorCode::TopicAuthorizationFailed,
            message: Some("denied".into()),
            context: Context::default(),
        };
        assert!(!e.is_retriable());
        assert!(e.to_string().ends_with("(denied)"), "{e}");
        assert!(!Error::closed(Context::default()).is_retriable());
        let u = Error::Unreachable {
            tried: vec![
                ("a:1".into(), "connection refused".into()),
                ("b:2".into(), "timed out".into()),
            ],
        };
        assert_eq!(
            u.to_string(),
            "cannot reach any bootstrap server: a:1: connection refused; b:2: timed out"
        );
    }

    #[test]
    fn error_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Error>();
    }
}
