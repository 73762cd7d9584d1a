//! `kafka cluster` (being written).

use super::Ctx;

#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// Not yet available.
    Todo,
}

pub async fn run(_c: ClusterCommand, _ctx: &Ctx) -> anyhow::Result<()> {
    anyhow::bail!("not yet available")
}
