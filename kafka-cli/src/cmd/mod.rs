//! One module per command.

mod broker;

use crate::cli::{BrokerCommand, Cli, Command};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Broker(BrokerCommand::Start(args)) => broker::start(args).await,
    }
}
