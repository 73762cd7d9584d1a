//! Command-line syntax (clap derive).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A pure-Rust Kafka toolkit: a bundled broker now; topics, produce, consume and groups next.
#[derive(Debug, Parser)]
#[command(name = "kafka", version, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bundled Kafka-compatible broker.
    #[command(subcommand)]
    Broker(BrokerCommand),
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
