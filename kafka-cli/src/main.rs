//! The `kafka` command. Subcommands arrive with the CLI issue; for now it reports the codec it carries.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "kafka {}: commands are not built yet; the codec knows {} APIs",
        env!("CARGO_PKG_VERSION"),
        kafka_proto::ApiKey::ALL.len()
    );
    ExitCode::from(2)
}
