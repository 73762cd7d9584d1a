//! Async Kafka client on tokio.
//!
//! - [`Client`]: the shared core: connections per broker and purpose (one writer and one reader
//!   task each, pipelined, cancel-safe), version negotiation with ApiVersions (KIP-511), the
//!   metadata cache (KIP-320 leader epochs), routing and retries.
//! - [`Admin`]: topics, partitions, configs, offsets, records, groups and the cluster.
//! - [`ClientConfig`]: Kafka's property names (`bootstrap.servers`, `request.timeout.ms`, ...).
//! - [`Error`]: one error type with the Kafka [`ErrorCode`](kafka_proto::ErrorCode),
//!   [`Error::is_retriable`] and a [`Context`] naming API, broker, topic and partition.
//! - [`tls`]: rustls (ring provider) for `security.protocol=SSL`.
//!
//! The protocol itself lives in [`kafka_proto`].

pub use kafka_proto;

pub mod admin;
mod client;
pub mod config;
pub mod conn;
pub mod consumer;
mod error;
pub mod metadata;
pub mod producer;
pub mod stats;
pub mod tls;

pub use admin::Admin;
pub use client::{Client, Node, Purpose};
pub use config::ClientConfig;
pub use conn::Connection;
pub use error::{Context, Error, Result};
pub use metadata::{BrokerInfo, Metadata, PartitionInfo, TopicInfo};
pub use producer::{Producer, ProducerConfig, ProducerRecord, RecordMetadata};
pub use stats::{BrokerStats, ClientStats};

#[cfg(test)]
mod send_assertions {
    //! Public futures must be `Send` so they can run on a multi-threaded runtime.
    use super::*;

    fn is_send<T: Send>(_: &T) {}

    #[allow(dead_code, clippy::diverging_sub_expression, unreachable_code)]
    fn futures_are_send(c: Client, conn: Connection) {
        is_send(&Client::connect(ClientConfig::default()));
        is_send(&c.refresh_metadata(None));
        is_send(&c.connection(Node::Id(0), Purpose::Admin));
        is_send(&c.coordinator(0, "g"));
        is_send(
            &conn.send(&kafka_proto::messages::api_versions_request::ApiVersionsRequest::default()),
        );
        is_send(&c.close());
        let admin = Admin::new(c.clone());
        is_send(&admin.list_topics(false));
        is_send(&admin.describe_cluster());
        is_send(&Producer::connect(ProducerConfig::default()));
        is_send(&consumer::Consumer::connect(
            consumer::ConsumerConfig::default(),
        ));
    }

    #[allow(dead_code)]
    fn handle_futures_are_send(p: Producer, k: consumer::Consumer) {
        is_send(&p.send(ProducerRecord::new("t")));
        is_send(&p.flush());
        is_send(&p.close());
        is_send(&k.recv());
        is_send(&k.commit());
        is_send(&k.close());
    }
}
