//! Async Kafka client (tokio): connections with version negotiation, producer, consumer, admin.
//!
//! Not built yet; the protocol lives in [`kafka_proto`].

pub use kafka_proto;
