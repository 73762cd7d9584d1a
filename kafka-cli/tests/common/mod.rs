//! Shared harness for the CLI's end-to-end tests: a real broker on 127.0.0.1:0 (on its own
//! runtime thread, so tests can stay synchronous) and the real `kafka` binary as a process.

#![allow(dead_code)]

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;

/// A broker running on a background runtime; stopped on drop.
pub struct TestBroker {
    pub bootstrap: String,
    pub handle: Option<kafka_broker::BrokerHandle>,
    pub runtime: tokio::runtime::Runtime,
    /// Profiles and other user config go here, never to the real home directory.
    pub config_dir: tempfile::TempDir,
}

impl TestBroker {
    /// An in-memory broker with `partitions` per auto-created topic.
    pub fn start(partitions: i32) -> TestBroker {
        Self::start_with(|b| b.in_memory().default_partitions(partitions))
    }

    /// A broker configured by `f`.
    pub fn start_with(
        f: impl FnOnce(kafka_broker::BrokerBuilder) -> kafka_broker::BrokerBuilder,
    ) -> TestBroker {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let builder = f(kafka_broker::Broker::builder()
            .listen("127.0.0.1:0".parse().unwrap())
            .group_config(kafka_broker::GroupConfig {
                initial_rebalance_delay: Duration::from_millis(0),
                min_session_timeout: Duration::from_millis(100),
                ..kafka_broker::GroupConfig::default()
            }));
        let handle = runtime.block_on(builder.start()).unwrap();
        TestBroker {
            bootstrap: handle.bootstrap(),
            handle: Some(handle),
            runtime,
            config_dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The `kafka` binary with `-b` pointing at this broker and a private config directory.
    pub fn kafka(&self) -> Command {
        let mut c = Command::cargo_bin("kafka").unwrap();
        c.env("KAFKA_BROKERS", &self.bootstrap)
            .env("KAFKA_CONFIG_DIR", self.config_dir.path())
            .env_remove("KAFKA_PROFILE")
            .env_remove("RUST_LOG")
            .timeout(Duration::from_secs(60));
        c
    }

    pub fn faults(&self) -> &kafka_broker::Faults {
        self.handle.as_ref().unwrap().faults()
    }

    pub fn log_end_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        self.handle
            .as_ref()
            .unwrap()
            .log_end_offset(topic, partition)
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = self.runtime.block_on(h.shutdown());
        }
    }
}

/// A `kafka` binary with no broker (for usage errors and unreachable brokers).
pub fn kafka_alone(config_dir: &Path) -> Command {
    let mut c = Command::cargo_bin("kafka").unwrap();
    c.env("KAFKA_CONFIG_DIR", config_dir)
        .env_remove("KAFKA_BROKERS")
        .env_remove("KAFKA_PROFILE")
        .timeout(Duration::from_secs(60));
    c
}

/// A random name.
pub fn name(prefix: &str) -> String {
    format!("{prefix}-{:012x}", fastrand::u64(..) >> 16)
}

/// stdout as a string.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as a string.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
