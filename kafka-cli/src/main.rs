//! The `kafka` command. `main` parses the arguments, runs the command and turns the outcome into
//! an exit code: 0 for success (and for Ctrl-C ending a long-running command), 2 for usage
//! errors (clap), 1 for everything else, with a one-line cause on stderr.

mod cli;
mod cmd;

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
    match runtime.block_on(cmd::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kafka: {e:#}");
            ExitCode::FAILURE
        }
    }
}
