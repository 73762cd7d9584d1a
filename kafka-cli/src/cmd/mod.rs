//! One module per command. Each `run` gets the parsed arguments and a [`Ctx`] with the global
//! options; connection settings are resolved lazily so bad input is rejected before connecting.

mod broker;
pub mod cluster;
pub mod consume;
pub mod group;
pub mod offsets;
pub mod perf;
pub mod produce;
pub mod profile;
pub mod replay;
pub mod topic;

use std::sync::atomic::{AtomicBool, Ordering};

use clap::CommandFactory;

use crate::cli::{BrokerCommand, Cli, Command, Global};
use crate::output::Format;
use crate::settings::Settings;

/// Set by commands for which Ctrl-C/SIGTERM is a normal way to stop (broker start, tail,
/// follow-mode consume): `main` then lets them finish and exit 0 instead of exiting 130.
static INTERRUPT_IS_CLEAN: AtomicBool = AtomicBool::new(false);

/// Declares that this command handles Ctrl-C and SIGTERM itself as a clean stop.
pub fn interrupt_is_clean() {
    INTERRUPT_IS_CLEAN.store(true, Ordering::Release);
}

/// Whether the running command handles interrupts itself.
pub fn handles_interrupt() -> bool {
    INTERRUPT_IS_CLEAN.load(Ordering::Acquire)
}

/// What every command gets besides its own arguments.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub global: Global,
}

impl Ctx {
    /// Brokers, properties and TLS from flags, environment and profile.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        Settings::resolve(&self.global)
    }

    /// `--format`.
    pub fn format(&self) -> Format {
        self.global.format
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let ctx = Ctx {
        global: cli.global.clone(),
    };
    match cli.command {
        Command::Broker(BrokerCommand::Start(args)) => {
            interrupt_is_clean();
            broker::start(args).await
        }
        Command::Cluster(c) => cluster::run(c, &ctx).await,
        Command::Topic(c) => topic::run(c, &ctx).await,
        Command::Produce(a) => produce::run(a, &ctx).await,
        Command::Consume(a) => consume::run(a, &ctx).await,
        Command::Tail(a) => consume::tail(a, &ctx).await,
        Command::Offsets(a) => offsets::run(a, &ctx).await,
        Command::Group(c) => group::run(c, &ctx).await,
        Command::Replay(a) => replay::run(a, &ctx).await,
        Command::Perf(c) => perf::run(c, &ctx).await,
        Command::Profile(c) => profile::run(c, &ctx).await,
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "kafka", &mut std::io::stdout());
            Ok(())
        }
    }
}
