//! Producing: keyed records (same key, same partition, as with the Java client), unkeyed
//! records (sticky partitioning), delivery futures, a callback, and flush.
//!
//! `cargo run -p kafka-examples --example produce -- [BOOTSTRAP] [TOPIC]`

use std::time::Duration;

use kafka_client::producer::{Acks, ProducerConfig, ProducerRecord};
use kafka_client::Producer;

#[tokio::main]
async fn main() -> kafka_client::Result<()> {
    let mut args = std::env::args().skip(1);
    let bootstrap = args.next().unwrap_or_else(|| "127.0.0.1:9092".to_owned());
    let topic = args.next().unwrap_or_else(|| "example-produce".to_owned());

    // Java's defaults: acks=all, idempotence on, linger 5 ms.
    let producer = Producer::connect(
        ProducerConfig::new(&bootstrap)
            .acks(Acks::All)
            .linger(Duration::from_millis(5)),
    )
    .await?;

    // Keyed: every record of a user goes to the same partition, in order.
    let mut deliveries = Vec::new();
    for (user, action) in [("alice", "login"), ("bob", "login"), ("alice", "logout")] {
        let record = ProducerRecord::new(&topic)
            .key(user)
            .value(action)
            .header("source", Some("example"));
        // `send` waits only for buffer space (backpressure); the returned future resolves
        // when the broker has the record. Dropping it would not cancel the send.
        deliveries.push((user, producer.send(record).await?));
    }
    for (user, delivery) in deliveries {
        let meta = delivery.await?;
        println!(
            "{user}: partition {} offset {}",
            meta.partition, meta.offset
        );
    }

    // Unkeyed: many records with a callback each instead of a future.
    for i in 0..1000 {
        producer
            .send_with(
                ProducerRecord::new(&topic).value(format!("event {i}")),
                |result| {
                    if let Err(e) = result {
                        eprintln!("delivery failed: {e}");
                    }
                },
            )
            .await?;
    }
    // Wait until everything sent so far is acknowledged.
    producer.flush().await?;
    let stats = producer.stats();
    println!(
        "sent {} records in {} batches ({} requests)",
        stats.records_sent, stats.batches_sent, stats.requests
    );
    producer.close().await
}
