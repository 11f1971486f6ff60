//! `herald bench http`: accepted unitary triggers per second and latency,
//! next to the no-op baseline on the same server.

use std::time::Duration;

use clap::{Args, ValueEnum};
use serde_json::json;

use super::api::Api;
use super::load::{self, Endpoint, PhaseResult, Target};
use super::output;
use super::server::{Server, ServerOptions};
use super::sink::{self, SmtpSink};

#[derive(Args, Debug)]
pub struct HttpArgs {
    /// Seconds per measured phase.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Concurrent HTTP/1.1 keep-alive connections.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Open-loop request rate (requests per second).
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Seconds of unmeasured warm-up per endpoint before the measured phases.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Where the messages accepted during the run are delivered: `auto`
    /// uses smtp-sink when installed and the Maildir outbox otherwise.
    #[arg(long, value_enum, default_value_t = Delivery::Auto)]
    pub delivery: Delivery,
    /// HERALD_DELIVERY_CONCURRENCY for the server (default: the server's).
    #[arg(long)]
    pub delivery_concurrency: Option<usize>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Delivery {
    Auto,
    SmtpSink,
    Maildir,
    /// An API-only node (`--no-delivery`): acceptance alone.
    Off,
}

pub async fn run(args: HttpArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.seconds > 0, "--seconds must be at least 1");
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    anyhow::ensure!(args.rate > 0.0, "--rate must be positive");
    let use_sink = match args.delivery {
        Delivery::Auto => sink::find_tool("smtp-sink").is_some(),
        Delivery::SmtpSink => true,
        Delivery::Maildir | Delivery::Off => false,
    };
    let no_delivery = args.delivery == Delivery::Off;
    let smtp_sink = if use_sink {
        Some(SmtpSink::start().await?)
    } else {
        None
    };
    let delivery = if no_delivery {
        "off (API-only node)"
    } else if use_sink {
        "SMTP to smtp-sink"
    } else {
        "Maildir outbox"
    };
    let server = Server::start(&ServerOptions {
        smtp_url: smtp_sink.as_ref().map(|s| s.url()),
        delivery_concurrency: args.delivery_concurrency,
        no_delivery,
        data_dir: None,
    })
    .await?;
    let api = Api::new(server.base_url());
    let campaign_id = api.setup_campaign().await?;
    let target = Target::new(server.addr, campaign_id.clone(), 1);
    let secs = Duration::from_secs(args.seconds);
    let c = args.connections;
    let drain_timeout = Duration::from_secs(600);

    say(
        args.json,
        &format!(
            "herald bench http: {}; {c} connections; {} s per phase; open loop at {}/s; delivery: {delivery}",
            output::machine(),
            args.seconds,
            args.rate
        ),
    );
    if args.warmup > 0 {
        say(args.json, "warming up…");
        let w = Duration::from_secs(args.warmup);
        load::closed_loop(target.clone(), Endpoint::Noop, c, w, None).await;
        load::closed_loop(target.clone(), Endpoint::Unitary, c, w, None).await;
        if !no_delivery {
            api.wait_drained(&campaign_id, drain_timeout).await?;
        }
    }

    say(args.json, "closed loop: no-op…");
    let closed_noop = load::closed_loop(target.clone(), Endpoint::Noop, c, secs, None).await;
    say(args.json, "closed loop: unitary…");
    let closed_unitary = load::closed_loop(target.clone(), Endpoint::Unitary, c, secs, None).await;
    let backlog = api.by_status(&campaign_id).await?;
    let backlog_pending =
        backlog["queued"].as_u64().unwrap_or(0) + backlog["sending"].as_u64().unwrap_or(0);
    say(
        args.json,
        &format!("waiting for the delivery backlog ({backlog_pending} messages)…"),
    );
    let drain = if no_delivery {
        Duration::ZERO
    } else {
        api.wait_drained(&campaign_id, drain_timeout).await?
    };

    say(args.json, &format!("open loop {}/s: no-op…", args.rate));
    let open_noop = load::open_loop(target.clone(), Endpoint::Noop, c, args.rate, secs).await;
    say(args.json, &format!("open loop {}/s: unitary…", args.rate));
    let open_unitary = load::open_loop(target.clone(), Endpoint::Unitary, c, args.rate, secs).await;
    if !no_delivery {
        api.wait_drained(&campaign_id, drain_timeout).await?;
    }
    let final_status = api.by_status(&campaign_id).await?;
    drop(server);
    drop(smtp_sink);

    let phases: [(&str, &PhaseResult); 4] = [
        ("closed loop, no-op", &closed_noop),
        ("closed loop, unitary", &closed_unitary),
        ("open loop, no-op", &open_noop),
        ("open loop, unitary", &open_unitary),
    ];
    let total_errors: u64 = phases.iter().map(|(_, r)| r.errors()).sum();
    let ratio = closed_unitary.rate() / closed_noop.rate();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "bench": "http",
                "machine": output::machine(),
                "connections": c,
                "seconds": args.seconds,
                "openLoopRate": args.rate,
                "delivery": delivery,
                "closedLoop": {"noop": output::phase_json(&closed_noop), "unitary": output::phase_json(&closed_unitary)},
                "openLoop": {"noop": output::phase_json(&open_noop), "unitary": output::phase_json(&open_unitary)},
                "unitaryToNoopRatio": ratio,
                "backlogAfterClosedLoop": {"messages": backlog_pending, "drainSeconds": drain.as_secs_f64()},
                "finalByStatus": final_status,
                "errors": total_errors
            }))?
        );
    } else {
        println!();
        println!("{}", output::table_header());
        for (name, r) in phases {
            println!("{}", output::table_row(name, r));
        }
        println!();
        println!(
            "max accepted unitary triggers/s: {:.0} ({:.0}% of the no-op baseline's {:.0}/s)",
            closed_unitary.rate(),
            ratio * 100.0,
            closed_noop.rate()
        );
        println!(
            "open loop at {}/s, unitary: p50 {} ms, p99 {} ms (no-op: p50 {} ms, p99 {} ms)",
            args.rate,
            output::ms(open_unitary.hist.value_at_quantile(0.5)),
            output::ms(open_unitary.hist.value_at_quantile(0.99)),
            output::ms(open_noop.hist.value_at_quantile(0.5)),
            output::ms(open_noop.hist.value_at_quantile(0.99)),
        );
        println!(
            "delivery backlog after the closed-loop phase: {backlog_pending} messages, drained in {:.1} s",
            drain.as_secs_f64()
        );
        println!("final message statuses: {final_status}");
        println!("errors (non-202 or transport): {total_errors}");
        for (name, r) in phases {
            if let Some(note) = output::error_note(name, r) {
                println!("{note}");
            }
        }
    }
    if total_errors > 0 {
        anyhow::bail!("{total_errors} requests failed");
    }
    Ok(())
}

/// Progress goes to stderr so that `--json` output stays clean.
fn say(_json: bool, line: &str) {
    eprintln!("{line}");
}
