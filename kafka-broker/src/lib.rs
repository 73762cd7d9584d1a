//! A lightweight Kafka-compatible broker for local development and tests.
//!
//! Not built yet; the protocol lives in [`kafka_proto`].

pub use kafka_proto;
