//! Command-line syntax (clap derive).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::cmd;
use crate::output::Format;

/// A pure-Rust Kafka toolkit: topics, produce, consume, groups, offsets, replay, perf, and a
/// bundled broker.
#[derive(Debug, Parser)]
#[command(
    name = "kafka",
    version,
    propagate_version = true,
    after_help = EXIT_CODES_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Printed under `kafka --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0    success (also -e/-c ends, a closed pipe, and Ctrl-C/SIGTERM ending broker start, tail, follow-mode consume)
  1    error
  2    usage: bad flags, values or properties
  3    not found: topic, partition or group
  4    unreachable or timed out
  5    partial failure (some items of a multi-item command failed)
  6    authentication or authorization failed
  130  interrupted by Ctrl-C";

/// Options every command takes.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Bootstrap brokers, host:port[,host:port...] [default: 127.0.0.1:9092, or the profile's].
    #[arg(
        short = 'b',
        long = "brokers",
        env = "KAFKA_BROKERS",
        global = true,
        value_name = "HOST:PORT,..."
    )]
    pub brokers: Option<String>,
    /// A client property (any Kafka client property, e.g. -X client.id=me); repeatable.
    #[arg(short = 'X', value_name = "KEY=VALUE", global = true)]
    pub properties: Vec<String>,
    /// Use a saved profile (see `kafka profile`).
    #[arg(long, env = "KAFKA_PROFILE", global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Output of non-record commands.
    #[arg(long, value_enum, global = true, default_value_t = Format::Table)]
    pub format: Format,
    /// Connect with TLS (system roots unless --tls-ca).
    #[arg(long, global = true)]
    pub tls: bool,
    /// CA bundle (PEM) to verify brokers with; implies --tls.
    #[arg(long, global = true, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS; implies --tls.
    #[arg(long, global = true, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS.
    #[arg(long, global = true, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Skip certificate verification (local use only); implies --tls.
    #[arg(long, global = true)]
    pub tls_insecure: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bundled Kafka-compatible broker.
    #[command(subcommand)]
    Broker(BrokerCommand),
    /// The cluster: id, controller, brokers, topic and partition counts.
    #[command(subcommand)]
    Cluster(cmd::cluster::ClusterCommand),
    /// Manage topics.
    #[command(subcommand)]
    Topic(cmd::topic::TopicCommand),
    /// Produce records from stdin or a file, one per line (or JSON lines).
    Produce(cmd::produce::ProduceArgs),
    /// Consume records and print them.
    Consume(cmd::consume::ConsumeArgs),
    /// The last records of every partition, then follow.
    Tail(cmd::consume::TailArgs),
    /// Offsets of a topic's partitions (earliest, latest, or at a time).
    Offsets(cmd::offsets::OffsetsArgs),
    /// Consumer groups: list, describe, delete, reset offsets.
    #[command(subcommand)]
    Group(cmd::group::GroupCommand),
    /// Copy a range of records from one topic into another.
    Replay(cmd::replay::ReplayArgs),
    /// Benchmarks in the spirit of kafka-producer-perf-test.
    #[command(subcommand)]
    Perf(cmd::perf::PerfCommand),
    /// Saved connection profiles.
    #[command(subcommand)]
    Profile(cmd::profile::ProfileCommand),
    /// Shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum BrokerCommand {
    /// Start a broker in the foreground; Ctrl-C or SIGTERM stops it cleanly.
    Start(BrokerStart),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FsyncArg {
    /// Like Kafka: rely on the page cache, sync on segment roll and shutdown.
    Roll,
    /// Sync data before acknowledging each produce (acks=1/-1).
    Always,
}

#[derive(Debug, Args)]
pub struct BrokerStart {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub listen: SocketAddr,
    /// host:port advertised to clients (default: the listen address).
    #[arg(long, value_name = "HOST:PORT")]
    pub advertise: Option<String>,
    /// Data directory (Kafka's on-disk layout).
    #[arg(long, default_value = ".kafka-data", conflicts_with = "memory")]
    pub data_dir: PathBuf,
    /// Keep everything in memory; nothing survives a restart.
    #[arg(long)]
    pub memory: bool,
    /// Partitions of auto-created topics.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..=100_000))]
    pub default_partitions: i32,
    /// When produced data is synced to disk.
    #[arg(long, value_enum, default_value_t = FsyncArg::Roll)]
    pub fsync: FsyncArg,
    /// Do not create topics on first use.
    #[arg(long)]
    pub no_auto_create: bool,
}

/// Logs go to stderr; `RUST_LOG` wins over the flags.
pub fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},kafka_broker={level}"))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_valid() {
        super::Cli::command().debug_assert();
    }
}
