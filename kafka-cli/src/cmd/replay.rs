//! `kafka replay` (being written).

use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {}

pub async fn run(_a: ReplayArgs, _ctx: &Ctx) -> anyhow::Result<()> {
    anyhow::bail!("not yet available")
}
