//! The `herald` binary: `herald serve` runs the server; `herald bench`
//! measures it.

mod bench;
mod config;
mod serve;
// --- bounces and complaints received later
mod inbound_smtp;
// --- profiles and import
mod import;
mod import_audience;
mod operator_metrics;
// --- the install secret for signed tokens (unsubscribe and tracking links)
mod secrets;

use clap::{Parser, Subcommand};

// glibc malloc took ~16% of the server's CPU under load (profiled with
// perf); mimalloc's thread-local free lists do the same work for less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "herald",
    version,
    about = "API-triggered campaigns: define once, fire with one call."
)]
struct Cli {
    /// Configuration file (TOML). Default: ./herald.toml when it exists.
    #[arg(long, global = true, env = "HERALD_CONFIG")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server.
    Serve(config::ServeArgs),
    /// Benchmarks against a real server on loopback (see BENCHMARKS.md).
    Bench(bench::BenchArgs),
    /// Bulk data into a running server (`herald import profiles FILE`).
    Import(import::ImportArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve(args) => {
            let settings = config::Settings::resolve(cli.config.as_deref(), args)?;
            runtime.block_on(serve::run(settings))
        }
        Command::Bench(args) => runtime.block_on(bench::run(args)),
        Command::Import(args) => runtime.block_on(import::run(args)),
    }
}
