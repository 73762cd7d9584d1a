//! `kafka cluster info`: cluster id, controller, brokers, topic and partition counts.

use serde_json::json;

use super::Ctx;
use crate::output::{self, Format};

#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// Cluster id, controller, brokers (id, address, rack), topic and partition counts.
    Info,
}

pub async fn run(c: ClusterCommand, ctx: &Ctx) -> anyhow::Result<()> {
    match c {
        ClusterCommand::Info => info(ctx).await,
    }
}

async fn info(ctx: &Ctx) -> anyhow::Result<()> {
    let admin = ctx.settings()?.admin().await?;
    let (cluster, topics) = tokio::join!(admin.describe_cluster(), admin.list_topics(true));
    let (cluster, topics) = (cluster?, topics?);
    let user: Vec<_> = topics.iter().filter(|t| !t.internal).collect();
    let partitions: usize = user.iter().map(|t| t.partitions).sum();
    let internal = topics.len() - user.len();
    match ctx.format() {
        Format::Json => output::print_json(&json!({
            "cluster_id": cluster.cluster_id,
            "controller": cluster.controller,
            "brokers": cluster.brokers.iter().map(|b| json!({
                "id": b.id,
                "host": b.host,
                "port": b.port,
                "address": b.address(),
                "rack": b.rack,
            })).collect::<Vec<_>>(),
            "topics": user.len(),
            "partitions": partitions,
            "internal_topics": internal,
        })),
        Format::Table => {
            let mut t = output::table(&["CLUSTER ID", "CONTROLLER", "TOPICS", "PARTITIONS"]);
            t.add_row(vec![
                cluster.cluster_id.clone().unwrap_or_else(|| "-".into()),
                cluster
                    .controller
                    .map_or_else(|| "-".into(), |c| c.to_string()),
                if internal > 0 {
                    format!("{} (+{internal} internal)", user.len())
                } else {
                    user.len().to_string()
                },
                partitions.to_string(),
            ]);
            output::print_table(&t)?;
            let mut b = output::table(&["BROKER", "ADDRESS", "RACK", ""]);
            for broker in &cluster.brokers {
                let role = if cluster.controller == Some(broker.id) {
                    "controller"
                } else {
                    ""
                };
                b.add_row(vec![
                    broker.id.to_string(),
                    broker.address(),
                    broker.rack.clone().unwrap_or_else(|| "-".into()),
                    role.to_owned(),
                ]);
            }
            output::print_table(&b)
        }
    }
}
