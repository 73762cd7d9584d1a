//! `kafka consume` and `kafka tail` (being written).

use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct ConsumeArgs {}

#[derive(Debug, clap::Args)]
pub struct TailArgs {}

pub async fn run(_a: ConsumeArgs, _ctx: &Ctx) -> anyhow::Result<()> {
    anyhow::bail!("not yet available")
}

pub async fn tail(_a: TailArgs, _ctx: &Ctx) -> anyhow::Result<()> {
    anyhow::bail!("not yet available")
}
