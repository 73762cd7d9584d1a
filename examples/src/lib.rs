//! Runnable SDK examples (produce, consume, admin, embedded broker) arrive with the client and broker.
