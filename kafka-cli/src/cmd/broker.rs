//! `kafka broker start`: the bundled broker in the foreground.

use anyhow::Context;
use kafka_broker::{Broker, FsyncPolicy};

use crate::cli::{BrokerStart, FsyncArg};

pub async fn start(args: BrokerStart) -> anyhow::Result<()> {
    let mut b = Broker::builder()
        .listen(args.listen)
        .default_partitions(args.default_partitions)
        .auto_create_topics(!args.no_auto_create)
        .fsync(match args.fsync {
            FsyncArg::Roll => FsyncPolicy::Roll,
            FsyncArg::Always => FsyncPolicy::Always,
        });
    b = if args.memory {
        b.in_memory()
    } else {
        b.data_dir(&args.data_dir)
    };
    if let Some(a) = &args.advertise {
        b = b.advertise(a.clone());
    }
    let broker = b.start().await.context("starting the broker")?;
    let bootstrap = broker.bootstrap();
    let report = broker.startup_report();
    let storage = if args.memory {
        "in memory".to_string()
    } else {
        format!("data in {}", args.data_dir.display())
    };
    println!("kafka broker ready on {bootstrap} ({storage})");
    if !report.clean {
        eprintln!(
            "recovered after an unclean shutdown: {} batches checked, {} bytes of torn tail removed",
            report.batches_checked, report.truncated_bytes
        );
    }
    eprintln!("try:  kcat -b {bootstrap} -L");
    eprintln!(
        "      echo hello | kcat -b {bootstrap} -t demo -P && kcat -b {bootstrap} -t demo -C -e"
    );
    eprintln!("stop: Ctrl-C");
    wait_for_signal().await?;
    eprintln!("stopping...");
    broker.shutdown().await.context("stopping the broker")?;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_signal() -> anyhow::Result<()> {
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")
}
