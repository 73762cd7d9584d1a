//! `kafka group` (being written).

use super::Ctx;

#[derive(Debug, clap::Subcommand)]
pub enum GroupCommand {
    /// Not yet available.
    Todo,
}

pub async fn run(_c: GroupCommand, _ctx: &Ctx) -> anyhow::Result<()> {
    anyhow::bail!("not yet available")
}
