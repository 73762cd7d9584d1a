//! `kafka produce` (being written).

use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct ProduceArgs {}

pub async fn run(_a: ProduceArgs, _ctx: &Ctx) -> anyhow::Result<()> {
    anyhow::bail!("not yet available")
}
