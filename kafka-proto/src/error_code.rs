//! Kafka error codes. Being built.
