//! Exit codes, and how an error maps to one. Documented in `kafka --help` and the README.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success (also `-e`/`-c` ends, a broken pipe, and Ctrl-C/SIGTERM ending `broker start`, `tail`, follow-mode `consume`) |
//! | 1 | any other error |
//! | 2 | usage: bad flags, values or properties (rejected before connecting) |
//! | 3 | not found: topic, partition or group |
//! | 4 | unreachable or timed out |
//! | 5 | partial failure: some items of a multi-item command failed |
//! | 6 | authentication or authorization failed |
//! | 130 | interrupted by Ctrl-C mid-work |

use std::fmt;

use kafka_client::kafka_proto::ErrorCode;

/// The process exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Error = 1,
    Usage = 2,
    NotFound = 3,
    Unreachable = 4,
    Partial = 5,
    Auth = 6,
    Interrupted = 130,
}

/// An error that decides its exit code. Wrap with `anyhow::Error::new(Fail::..)` or use the
/// helpers.
#[derive(Debug)]
pub struct Fail {
    pub exit: Exit,
    pub message: String,
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fail {}

/// An error with this exit code.
pub fn fail(exit: Exit, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Fail {
        exit,
        message: message.into(),
    })
}

/// A usage error (exit 2).
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    fail(Exit::Usage, message)
}

/// A not-found error (exit 3).
pub fn not_found(message: impl Into<String>) -> anyhow::Error {
    fail(Exit::NotFound, message)
}

/// A partial failure (exit 5).
pub fn partial(message: impl Into<String>) -> anyhow::Error {
    fail(Exit::Partial, message)
}

/// The exit code for a client error.
pub fn classify_client(e: &kafka_client::Error) -> Exit {
    use kafka_client::Error as E;
    match e {
        E::Unreachable { .. } | E::Io { .. } => Exit::Unreachable,
        E::Timeout { last, .. } => match last.as_deref() {
            Some(inner)
                if classify_client(inner) != Exit::Unreachable
                    && classify_client(inner) != Exit::Error =>
            {
                classify_client(inner)
            }
            _ => Exit::Unreachable,
        },
        E::Config { .. } | E::InvalidArgument(_) => Exit::Usage,
        E::Tls { .. } => Exit::Unreachable,
        _ => match e.code() {
            Some(
                ErrorCode::UnknownTopicOrPartition
                | ErrorCode::UnknownTopicId
                | ErrorCode::GroupIdNotFound,
            ) => Exit::NotFound,
            Some(
                ErrorCode::TopicAuthorizationFailed
                | ErrorCode::GroupAuthorizationFailed
                | ErrorCode::ClusterAuthorizationFailed
                | ErrorCode::TransactionalIdAuthorizationFailed
                | ErrorCode::SaslAuthenticationFailed
                | ErrorCode::DelegationTokenAuthorizationFailed,
            ) => Exit::Auth,
            _ => Exit::Error,
        },
    }
}

/// What `main` does with an error: the exit code, and the line to print (`None`: stay quiet).
pub fn classify(e: &anyhow::Error) -> (Exit, Option<String>) {
    for cause in e.chain() {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::BrokenPipe {
                return (Exit::Error, None); // mapped to 0 by main
            }
        }
    }
    let mut exit = Exit::Error;
    for cause in e.chain() {
        if let Some(f) = cause.downcast_ref::<Fail>() {
            exit = f.exit;
            break;
        }
        if let Some(c) = cause.downcast_ref::<kafka_client::Error>() {
            exit = classify_client(c);
            break;
        }
    }
    let mut line = format!("{e:#}").replace('\n', " ");
    if exit == Exit::Unreachable && !line.contains("try:") {
        line.push_str(" — is a broker running? try: kafka broker start");
    }
    (exit, Some(line))
}

/// Whether the error is a broken pipe (`kafka consume ... | head`): exit 0 quietly.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_map_to_codes() {
        let unreachable = kafka_client::Error::Unreachable {
            tried: vec![("127.0.0.1:9092".into(), "connection refused".into())],
        };
        let (code, line) = classify(&anyhow::Error::new(unreachable));
        assert_eq!(code, Exit::Unreachable);
        let line = line.unwrap();
        assert!(
            line.contains("127.0.0.1:9092: connection refused"),
            "{line}"
        );
        assert!(line.ends_with("try: kafka broker start"), "{line}");
        let nf = kafka_client::Error::Broker {
            code: ErrorCode::UnknownTopicOrPartition,
            message: None,
            context: Default::default(),
        };
        assert_eq!(classify(&anyhow::Error::new(nf)).0, Exit::NotFound);
        let auth = kafka_client::Error::Broker {
            code: ErrorCode::TopicAuthorizationFailed,
            message: None,
            context: Default::default(),
        };
        assert_eq!(classify(&anyhow::Error::new(auth)).0, Exit::Auth);
        assert_eq!(classify(&usage("bad")).0, Exit::Usage);
        let pipe = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(is_broken_pipe(&pipe));
    }
}
