//! A consumer group member with manual commits: records are processed, positions committed
//! every 100 records, and — in the rebalance hook — committed synchronously before partitions
//! are revoked, so the next owner starts exactly after the last processed record.
//!
//! `cargo run -p kafka-examples --example consume_group -- [BOOTSTRAP] [TOPIC] [GROUP]`
//! (stops after 30 s without records, or on Ctrl-C)

use std::time::Duration;

use kafka_client::consumer::{Consumer, ConsumerConfig, OffsetReset, RebalanceEvent};

#[tokio::main]
async fn main() -> kafka_client::Result<()> {
    let mut args = std::env::args().skip(1);
    let bootstrap = args.next().unwrap_or_else(|| "127.0.0.1:9092".to_owned());
    let topic = args.next().unwrap_or_else(|| "example-produce".to_owned());
    let group = args.next().unwrap_or_else(|| "example-group".to_owned());

    let consumer = Consumer::connect(
        ConsumerConfig::new(&bootstrap)
            .group_id(&group)
            .enable_auto_commit(false)
            .auto_offset_reset(OffsetReset::Earliest),
    )
    .await?;

    consumer.subscribe_with(&[topic.as_str()], |event, consumer: Consumer| async move {
        match event {
            RebalanceEvent::Revoked(partitions) => {
                // Runs before the partitions move: commit what was processed.
                match consumer.commit().await {
                    Ok(()) => println!("committed before revoking {partitions:?}"),
                    Err(e) => eprintln!("commit on revoke failed: {e}"),
                }
            }
            RebalanceEvent::Assigned(partitions) => println!("assigned {partitions:?}"),
            RebalanceEvent::Lost(partitions) => println!("lost {partitions:?} (no commit)"),
            _ => {}
        }
    })?;

    let mut processed = 0u64;
    loop {
        let record = tokio::select! {
            r = tokio::time::timeout(Duration::from_secs(30), consumer.recv()) => match r {
                Ok(r) => r?,
                Err(_) => break, // idle
            },
            _ = tokio::signal::ctrl_c() => break,
        };
        processed += 1;
        println!(
            "{}-{}@{}: {}",
            record.topic,
            record.partition,
            record.offset,
            String::from_utf8_lossy(record.value.as_deref().unwrap_or_default())
        );
        if processed.is_multiple_of(100) {
            consumer.commit().await?;
        }
    }
    consumer.commit().await?;
    println!("processed {processed} records");
    consumer.close().await
}
