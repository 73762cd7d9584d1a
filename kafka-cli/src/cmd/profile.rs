//! `kafka profile` (being written).

use super::Ctx;

#[derive(Debug, clap::Subcommand)]
pub enum ProfileCommand {
    /// Not yet available.
    Todo,
}

pub async fn run(_c: ProfileCommand, _ctx: &Ctx) -> anyhow::Result<()> {
    anyhow::bail!("not yet available")
}
