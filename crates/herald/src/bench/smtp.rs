//! `herald bench smtp`: emails per second from unitary calls to `sent`
//! through SMTP into postfix's smtp-sink, next to smtp-source's raw rate
//! into the same sink.

use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;

use super::api::Api;
use super::load::{self, Endpoint, Target};
use super::output;
use super::server::{Server, ServerOptions};
use super::sink::{self, SmtpSink};

#[derive(Args, Debug)]
pub struct SmtpArgs {
    /// Emails in total (Herald: messages / recipients unitary calls).
    #[arg(long, default_value_t = 20_000)]
    pub messages: u64,
    /// External recipients per unitary call (1–20).
    #[arg(long, default_value_t = 20)]
    pub recipients: usize,
    /// Concurrent HTTP connections firing the calls.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// smtp-source parallel sessions (-s).
    #[arg(long, default_value_t = 20)]
    pub sessions: usize,
    /// smtp-source message size in bytes (-l), about a rendered Herald email.
    #[arg(long, default_value_t = 1500)]
    pub size: usize,
    /// HERALD_DELIVERY_CONCURRENCY for the server (default: the server's).
    #[arg(long)]
    pub delivery_concurrency: Option<usize>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: SmtpArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=20).contains(&args.recipients),
        "--recipients must be between 1 and 20"
    );
    let calls = args.messages.div_ceil(args.recipients as u64);
    let emails = calls * args.recipients as u64;

    // 1. The sink's raw rate, with postfix's own load generator.
    let sink = SmtpSink::start().await?;
    eprintln!(
        "herald bench smtp: {}; {emails} emails; smtp-sink on {}",
        output::machine(),
        sink.addr
    );
    eprintln!("smtp-source → smtp-sink…");
    let (raw_elapsed, raw_cmd) =
        sink::smtp_source(sink.addr, args.sessions, emails, args.size).await?;
    let raw_rate = emails as f64 / raw_elapsed.as_secs_f64();

    // 2. Herald → the same sink.
    let server = Server::start(&ServerOptions {
        smtp_url: Some(sink.url()),
        delivery_concurrency: args.delivery_concurrency,
        no_delivery: false,
        data_dir: None,
    })
    .await?;
    let api = Api::new(server.base_url());
    let campaign_id = api.setup_campaign().await?;
    let target = Target::new(server.addr, campaign_id.clone(), args.recipients);
    // Warm-up: one call (opens the SMTP pool, warms the caches), drained.
    let warm = load::closed_loop(
        target.clone(),
        Endpoint::Unitary,
        1,
        Duration::from_secs(60),
        Some(1),
    )
    .await;
    anyhow::ensure!(
        warm.errors() == 0,
        "warm-up call failed: {:?} {:?}",
        warm.non_202,
        warm.first_error
    );
    api.wait_drained(&campaign_id, Duration::from_secs(60))
        .await?;
    let base_sent = sent(&api.by_status(&campaign_id).await?);
    let goal = base_sent + emails;

    eprintln!(
        "herald → smtp-sink: {calls} unitary calls × {} recipients…",
        args.recipients
    );
    let fire = tokio::spawn(load::closed_loop(
        target.clone(),
        Endpoint::Unitary,
        args.connections,
        Duration::from_secs(3600),
        Some(calls),
    ));
    // Poll the report until every message is `sent` (or one failed).
    let poll_started = Instant::now();
    let (all_sent_at, final_status) = loop {
        let s = api.by_status(&campaign_id).await?;
        let now = Instant::now();
        if sent(&s) >= goal {
            break (now, s);
        }
        let failed = s["failed"].as_u64().unwrap_or(0);
        if failed > 0 {
            anyhow::bail!("{failed} messages failed; statuses: {s}");
        }
        if poll_started.elapsed() > Duration::from_secs(1800) {
            anyhow::bail!("not every message was sent within 30 minutes: {s}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let fired = fire.await?;
    drop(server);
    drop(sink);
    anyhow::ensure!(
        fired.errors() == 0,
        "{} calls failed: {:?} {:?}",
        fired.errors(),
        fired.non_202,
        fired.first_error
    );
    let first_ok = fired.first_ok.expect("at least one 202");
    let herald_elapsed = all_sent_at.duration_since(first_ok);
    let herald_rate = emails as f64 / herald_elapsed.as_secs_f64();
    let accept_rate = emails as f64 / fired.elapsed.as_secs_f64();
    let ratio = herald_rate / raw_rate;

    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "bench": "smtp",
                "machine": output::machine(),
                "emails": emails,
                "calls": calls,
                "recipientsPerCall": args.recipients,
                "smtpSource": {"command": raw_cmd, "seconds": raw_elapsed.as_secs_f64(), "emailsPerSecond": raw_rate},
                "herald": {
                    "seconds": herald_elapsed.as_secs_f64(),
                    "emailsPerSecond": herald_rate,
                    "acceptSeconds": fired.elapsed.as_secs_f64(),
                    "acceptedEmailsPerSecond": accept_rate,
                    "calls": output::phase_json(&fired),
                    "finalByStatus": final_status
                },
                "ratio": ratio
            }))?
        );
    } else {
        println!();
        println!(
            "{:<44} {:>8} {:>9} {:>12}",
            "sender → smtp-sink", "emails", "seconds", "emails/s"
        );
        println!(
            "{:<44} {:>8} {:>9.2} {:>12.0}",
            format!("smtp-source (-s {} -l {})", args.sessions, args.size),
            emails,
            raw_elapsed.as_secs_f64(),
            raw_rate
        );
        println!(
            "{:<44} {:>8} {:>9.2} {:>12.0}",
            format!("herald ({calls} calls × {} recipients)", args.recipients),
            emails,
            herald_elapsed.as_secs_f64(),
            herald_rate
        );
        println!();
        println!("herald / smtp-source: {:.2}", ratio);
        println!(
            "acceptance alone: {calls} calls in {:.2} s ({:.0} calls/s, {:.0} emails/s); call p50 {} ms, p99 {} ms",
            fired.elapsed.as_secs_f64(),
            fired.rate(),
            accept_rate,
            output::ms(fired.hist.value_at_quantile(0.5)),
            output::ms(fired.hist.value_at_quantile(0.99)),
        );
        println!("baseline command: {raw_cmd}");
        println!("final message statuses: {final_status}");
    }
    Ok(())
}

fn sent(by_status: &serde_json::Value) -> u64 {
    by_status["sent"].as_u64().unwrap_or(0) + by_status["delivered"].as_u64().unwrap_or(0)
}
