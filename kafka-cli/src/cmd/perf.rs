//! `kafka perf` (being written).

use super::Ctx;

#[derive(Debug, clap::Subcommand)]
pub enum PerfCommand {
    /// Not yet available.
    Todo,
}

pub async fn run(_c: PerfCommand, _ctx: &Ctx) -> anyhow::Result<()> {
    anyhow::bail!("not yet available")
}
