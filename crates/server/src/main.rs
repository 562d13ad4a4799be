//! `cairn`: see `cairn --help`.

use clap::Parser;
use std::process::ExitCode;

// mimalloc instead of the system allocator: under load, glibc's malloc and free were 12 % of the
// server's CPU; with mimalloc, list_projects serves about 17 % more requests (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = server::cli::Cli::parse();
    match server::cli::run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
