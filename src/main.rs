//! The `isect` binary: parse the command line, run, map the outcome to an exit code.
use std::process::ExitCode;

use clap::Parser;

// A no-op run of a large monorepo allocates and frees a path per file: glibc's malloc and
// free were ~12% of its profile; mimalloc makes both cheap (bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = isect::cli::Cli::parse();
    isect::run(cli).into()
}
