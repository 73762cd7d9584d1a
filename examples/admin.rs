//! The Admin API end to end: create a topic, describe it, list its offsets, change a config,
//! delete it.
//!
//! ```text
//! cargo run -p kafka-examples --example admin -- [bootstrap]   # default 127.0.0.1:9092
//! ```
//!
//! Start a broker first, e.g. `kafka broker start`.

use std::time::{SystemTime, UNIX_EPOCH};

use kafka_client::admin::{AlterConfigOp, ConfigResource, IsolationLevel, NewTopic, OffsetSpec};
use kafka_client::{Admin, ClientConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bootstrap = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9092".to_string());
    println!("connecting to {bootstrap}");
    let admin = Admin::connect(ClientConfig::new(&bootstrap).client_id("admin-example")).await?;

    let cluster = admin.describe_cluster().await?;
    println!(
        "cluster {} with {} broker(s), controller {:?}",
        cluster.cluster_id.as_deref().unwrap_or("(no id)"),
        cluster.brokers.len(),
        cluster.controller
    );

    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.subsec_nanos();
    let topic = format!("admin-example-{nanos:08x}");
    println!("creating topic {topic} with 3 partitions");
    let created = admin
        .create_topics(
            &[NewTopic::new(&topic, 3, -1).config("retention.ms", "3600000")],
            false,
        )
        .await?;
    for (name, result) in &created {
        match result {
            Ok(t) => println!("  created {name}: {t:?}"),
            Err(e) => return Err(format!("creating {name}: {e}").into()),
        }
    }

    let described = admin.describe_topics(&[topic.as_str()]).await?;
    if let Some(Ok(t)) = described.get(&topic) {
        println!("topic {} (id {}):", t.name, t.id);
        for p in &t.partitions {
            println!(
                "  partition {}: leader {} epoch {} replicas {:?} isr {:?}",
                p.partition, p.leader, p.leader_epoch, p.replicas, p.isr
            );
        }
    }

    // Results are keyed by partition, so Earliest and Latest are two calls (each one request
    // per partition leader).
    let of = |spec| {
        (0..3)
            .map(|p| (topic.as_str(), p, spec))
            .collect::<Vec<_>>()
    };
    let earliest = admin
        .list_offsets(&of(OffsetSpec::Earliest), IsolationLevel::ReadUncommitted)
        .await?;
    let latest = admin
        .list_offsets(&of(OffsetSpec::Latest), IsolationLevel::ReadUncommitted)
        .await?;
    for p in 0..3 {
        let key = (topic.clone(), p);
        let e = earliest
            .get(&key)
            .and_then(|r| r.as_ref().ok())
            .map(|o| o.offset);
        let l = latest
            .get(&key)
            .and_then(|r| r.as_ref().ok())
            .map(|o| o.offset);
        println!("  partition {p}: earliest {e:?}, latest {l:?}");
    }

    let resource = ConfigResource::topic(&topic);
    println!("setting retention.ms=7200000 on {topic}");
    let altered = admin
        .incremental_alter_configs(
            &[(
                resource.clone(),
                vec![AlterConfigOp::set("retention.ms", "7200000")],
            )],
            false,
        )
        .await?;
    if let Some(Err(e)) = altered.get(&resource) {
        println!("  alter failed: {e}");
    }
    let configs = admin
        .describe_configs(std::slice::from_ref(&resource))
        .await?;
    if let Some(Ok(entries)) = configs.get(&resource) {
        for e in entries.iter().filter(|e| !e.default) {
            println!(
                "  {} = {} ({:?})",
                e.name,
                e.value.as_deref().unwrap_or("<hidden>"),
                e.source
            );
        }
    }

    println!("deleting {topic}");
    for (name, result) in admin.delete_topics(&[topic.as_str()]).await? {
        match result {
            Ok(()) => println!("  deleted {name}"),
            Err(e) => println!("  deleting {name} failed: {e}"),
        }
    }
    Ok(())
}
