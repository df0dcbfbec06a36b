//! The `isect` binary: parse the command line, run, map the outcome to an exit code.
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = isect::cli::Cli::parse();
    isect::run(cli).into()
}
