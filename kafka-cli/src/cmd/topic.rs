//! `kafka topic` (being written).

use super::Ctx;

#[derive(Debug, clap::Subcommand)]
pub enum TopicCommand {
    /// Not yet available.
    Todo,
}

pub async fn run(_c: TopicCommand, _ctx: &Ctx) -> anyhow::Result<()> {
    anyhow::bail!("not yet available")
}
