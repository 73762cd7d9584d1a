//! End-to-end tests of CLI, client and broker together arrive with those crates.
