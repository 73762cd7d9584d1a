//! The `kafka` command. `main` parses the arguments (usage errors exit 2, from clap), runs the
//! command on a tokio runtime and turns the outcome into an exit code (see [`exit`]): a one-line
//! cause on stderr, never a backtrace. Ctrl-C exits 130 unless the command treats it as a clean
//! stop; a closed stdout (`| head`) exits 0 quietly.

mod cli;
mod cmd;
mod exit;
mod output;
mod records;
mod settings;
mod timespec;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(args.verbose, args.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kafka: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        let work = cmd::run(args);
        tokio::pin!(work);
        tokio::select! {
            r = &mut work => Some(r),
            _ = tokio::signal::ctrl_c() => {
                if cmd::handles_interrupt() {
                    Some(work.await)
                } else {
                    None
                }
            }
        }
    });
    // Leave background tasks behind without waiting for them.
    runtime.shutdown_background();
    match outcome {
        None => {
            eprintln!("kafka: interrupted");
            ExitCode::from(exit::Exit::Interrupted as u8)
        }
        Some(Ok(())) => ExitCode::SUCCESS,
        Some(Err(e)) if exit::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Some(Err(e)) => {
            let (code, line) = exit::classify(&e);
            if let Some(line) = line {
                eprintln!("kafka: {line}");
            }
            ExitCode::from(code as u8)
        }
    }
}
