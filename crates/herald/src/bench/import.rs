//! `herald bench import`: generates an NDJSON file of profiles (two
//! identities and 10 attributes each), imports it into a fresh `herald
//! serve` through `POST /v1/profiles:import` the way `herald import
//! profiles` does, and prints rows per second and the server's peak RSS.

use std::io::Write;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use serde_json::json;

use super::output;
use super::server::{API_KEY, Server, ServerOptions};
use crate::import::{Format, upload};

#[derive(Args, Debug)]
pub struct ImportBenchArgs {
    /// Profiles in the generated file.
    #[arg(long, default_value_t = 1_000_000)]
    pub profiles: u64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn write_file(path: &std::path::Path, n: u64) -> anyhow::Result<u64> {
    write_profiles(path, n, false)
}

/// As [`write_file`], every profile opted in to marketing email.
pub fn write_file_opted_in(path: &std::path::Path, n: u64) -> anyhow::Result<u64> {
    write_profiles(path, n, true)
}

fn write_profiles(path: &std::path::Path, n: u64, all_opted_in: bool) -> anyhow::Result<u64> {
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let langs = ["en-US", "fr-FR", "de-DE", "ja-JP"];
    let cities = ["Paris", "London", "Berlin", "Tokyo", "Austin"];
    for i in 0..n {
        let line = json!({
            "identities": [
                {"namespace": "email", "id": format!("user{i}@Example.com")},
                {"namespace": "crmId", "id": format!("CRM-{i:08}")}
            ],
            "attributes": {
                "person": {"name": {"firstName": format!("First{i}"), "lastName": format!("Last{i}")},
                           "birthDate": "1990-01-01"},
                "preferredLanguage": langs[(i % 4) as usize],
                "consents": {"marketing": {"email": {"val": if i % 3 == 0 && !all_opted_in { "n" } else { "y" }}}},
                "homeAddress": {"city": cities[(i % 5) as usize], "postalCode": format!("{:05}", i % 100_000),
                                "country": "FR"},
                "loyalty": {"tier": "gold", "points": i % 5000}
            }
        });
        serde_json::to_writer(&mut w, &line)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// Peak resident set size of `pid` in KiB (`VmHWM`).
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    proc_status_kib(pid, "VmHWM")
}

/// A `/proc/<pid>/status` field in KiB (`VmHWM`, `VmRSS`, …).
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

pub async fn run(args: ImportBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.profiles > 0, "--profiles must be at least 1");
    let dir = tempfile::Builder::new()
        .prefix("herald-bench-import-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let file = dir.path().join("profiles.ndjson");
    eprintln!("generating {} profiles…", args.profiles);
    let bytes = write_file(&file, args.profiles)?;
    let server = Server::start(&ServerOptions {
        smtp_url: None,
        delivery_concurrency: None,
        no_delivery: true,
        data_dir: None,
    })
    .await?;
    let rss_before = peak_rss_kib(server.pid());
    eprintln!(
        "importing {:.1} MB into {}…",
        bytes as f64 / 1e6,
        server.base_url()
    );
    let started = Instant::now();
    let summary = upload(
        &server.base_url(),
        API_KEY,
        "prod",
        &file,
        Format::Ndjson,
        |_| {},
    )
    .await?;
    let secs = started.elapsed().as_secs_f64();
    let peak = peak_rss_kib(server.pid());
    drop(server);
    let rows = summary.created + summary.updated;
    let rate = rows as f64 / secs;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "bench": "import",
                "machine": output::machine(),
                "profiles": args.profiles,
                "bytes": bytes,
                "seconds": secs,
                "rowsPerSecond": rate,
                "created": summary.created,
                "updated": summary.updated,
                "rejected": summary.rejected,
                "serverPeakRssKiB": peak,
                "serverRssAtStartKiB": rss_before,
            }))?
        );
    } else {
        println!("herald bench import: {}", output::machine());
        println!(
            "{} profiles ({:.1} MB NDJSON, 2 identities and 10 attributes each) in {:.1} s: {:.0} rows/s",
            args.profiles,
            bytes as f64 / 1e6,
            secs,
            rate
        );
        println!(
            "created {}, updated {}, rejected {}",
            summary.created, summary.updated, summary.rejected
        );
        println!(
            "server peak RSS: {} (at start: {})",
            peak.map(|k| format!("{:.0} MiB", k as f64 / 1024.0))
                .unwrap_or_else(|| "unknown".into()),
            rss_before
                .map(|k| format!("{:.0} MiB", k as f64 / 1024.0))
                .unwrap_or_else(|| "unknown".into())
        );
    }
    anyhow::ensure!(
        summary.rejected == 0,
        "{} rows were rejected",
        summary.rejected
    );
    Ok(())
}
