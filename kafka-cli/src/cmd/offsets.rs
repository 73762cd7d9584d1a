//! `kafka offsets` (being written).

use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct OffsetsArgs {}

pub async fn run(_a: OffsetsArgs, _ctx: &Ctx) -> anyhow::Result<()> {
    anyhow::bail!("not yet available")
}
