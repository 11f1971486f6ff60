//! `herald bench`: measures a real `herald serve` child process on loopback.
//!
//! - `herald bench http`: accepted unitary triggers per second (closed loop)
//!   and latency at a fixed open-loop rate, each next to the in-run baseline
//!   `POST /_bench/noop` on the same server.
//! - `herald bench smtp`: emails per second through SMTP into postfix's
//!   `smtp-sink`, next to `smtp-source`'s raw rate against the same sink.
//! - `herald bench push`: one plain-text audience push into an APNs-shaped
//!   h2c endpoint, next to a raw HTTP/2 client against the same endpoint.
//!
//! See BENCHMARKS.md for the method and the numbers.

mod api;
mod http;
mod load;
mod output;
mod server;
mod sink;
mod smtp;
// --- profiles and import
mod audience;
mod import;
mod latency;
// --- push
mod push;
// --- engagement tracking and reports
mod events;

use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// HTTP acceptance: unitary triggers vs the no-op baseline.
    Http(http::HttpArgs),
    /// SMTP delivery: Herald into smtp-sink vs smtp-source into smtp-sink.
    Smtp(smtp::SmtpArgs),
    /// Profile import: generated NDJSON through `POST /v1/profiles:import`.
    Import(import::ImportBenchArgs),
    /// Audience execution over N stored profiles, estimate, and
    /// high-throughput vs unitary calls/s.
    Audience(audience::AudienceBenchArgs),
    /// Transactional latency (trigger → accepted by smtp-sink) at a fixed
    /// rate while a marketing send drains into the same sink.
    Latency(latency::LatencyArgs),
    /// Push delivery: one plain-text audience push to an APNs-shaped h2c
    /// endpoint vs a raw HTTP/2 client against the same endpoint.
    Push(push::PushBenchArgs),
    /// Opens and clicks over HTTP vs GET /healthz, deliveries with and
    /// without that load, and report latency with 10 M events stored.
    Events(events::EventsBenchArgs),
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Http(a) => http::run(a).await,
        BenchCommand::Smtp(a) => smtp::run(a).await,
        BenchCommand::Import(a) => import::run(a).await,
        BenchCommand::Audience(a) => audience::run(a).await,
        BenchCommand::Latency(a) => latency::run(a).await,
        BenchCommand::Push(a) => push::run(a).await,
        BenchCommand::Events(a) => events::run(a).await,
    }
}
