//! `herald bench latency`: how long a transactional message takes from its
//! trigger (the call leaving the client) to being accepted by the SMTP sink
//! (its `sentAt`), at a fixed trigger rate while a large marketing send is
//! draining into the same sink. The transactional lane must not wait behind
//! the marketing backlog.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::api::Api;
use super::audience::marketing_campaign;
use super::import::write_file_opted_in;
use super::output;
use super::server::{API_KEY, Server, ServerOptions};
use super::sink::{self, SmtpSink};

#[derive(Args, Debug)]
pub struct LatencyArgs {
    /// Marketing messages queued before the transactional triggers start
    /// (profiles imported, all opted in, one audience execution).
    #[arg(long, default_value_t = 1_000_000)]
    pub marketing: u64,
    /// Transactional triggers per second (one recipient each).
    #[arg(long, default_value_t = 500)]
    pub rate: u64,
    /// How long the triggers run, in seconds.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// HERALD_DELIVERY_CONCURRENCY for the server (default: the server's).
    #[arg(long)]
    pub delivery_concurrency: Option<usize>,
}

struct Fired {
    at: DateTime<Utc>,
    execution_id: String,
}

pub async fn run(args: LatencyArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.rate > 0 && args.seconds > 0,
        "--rate and --seconds must be positive"
    );
    let sink = SmtpSink::start().await?;
    eprintln!(
        "herald bench latency: {}; {} marketing messages; {} triggers/s for {} s; smtp-sink on {}",
        output::machine(),
        args.marketing,
        args.rate,
        args.seconds,
        sink.addr
    );
    // The sink's own rate with postfix's raw client: the in-run ceiling.
    let (raw_elapsed, _) = sink::smtp_source(sink.addr, 20, 20_000, 1500).await?;
    let raw_rate = 20_000.0 / raw_elapsed.as_secs_f64();
    let server = Server::start(&ServerOptions {
        smtp_url: Some(sink.url()),
        delivery_concurrency: args.delivery_concurrency,
        no_delivery: false,
        data_dir: None,
    })
    .await?;
    let api = Api::new(server.base_url());
    let dir = tempfile::Builder::new()
        .prefix("herald-bench-latency-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let file = dir.path().join("profiles.ndjson");
    eprintln!("generating and importing {} profiles…", args.marketing);
    write_file_opted_in(&file, args.marketing)?;
    api.import_ndjson(&file).await?;

    // The marketing send: the audience bench's campaign, over everyone.
    let audience = api
        .rule_audience("Everyone", "profile.loyalty.tier = \"gold\"")
        .await?;
    let marketing = marketing_campaign(&api, &audience).await?;
    let transactional = api.setup_campaign().await?;
    eprintln!("fanning out the marketing send…");
    let exec = api.fire_audience(json!({"campaignId": marketing, "requestId": "bench-blast", "context": {"offer": "20% off"}})).await?;
    // Start the triggers once every marketing message is queued and the
    // drain is under way: the backlog is the whole send.
    loop {
        let s = api
            .call(
                reqwest::Method::GET,
                &format!("/ajo/im/executions/audience/{exec}"),
                None,
            )
            .await?;
        if s["status"] != "InProgress" {
            anyhow::ensure!(s["status"] == "Succeeded", "the fan-out ended {s}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The drain alone, queue → accepted by the sink, for 10 s.
    let s0 = api.by_status(&marketing).await?["sent"]
        .as_u64()
        .unwrap_or(0);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let s1 = api.by_status(&marketing).await?["sent"]
        .as_u64()
        .unwrap_or(0);
    let drain_alone = (s1 - s0) as f64 / t0.elapsed().as_secs_f64();
    let before = api.by_status(&marketing).await?;
    eprintln!("marketing backlog: {before}; firing transactional triggers…");

    // Open loop: one call every 1/rate s, whatever the answers do.
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(256)
        .build()?;
    let fired: Arc<Mutex<Vec<Fired>>> = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let total = args.rate * args.seconds;
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let phase = Instant::now();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        tick.tick().await;
        let (client, fired, errors) = (client.clone(), fired.clone(), errors.clone());
        let url = format!("{}/ajo/im/executions/unitary", server.base_url());
        let body = json!({
            "requestId": format!("lat-{i}"), "campaignId": transactional,
            "recipients": [{"type": "external", "namespace": "email", "userId": format!("vip{i}@example.org"),
                            "profile": {"person": {"name": {"firstName": "Vip"}}}}],
            "context": {"order": {"id": format!("O-{i}"), "total": "42.00"}, "shop": "North Store"}
        });
        tasks.push(tokio::spawn(async move {
            let at = Utc::now();
            let r = client
                .post(url)
                .bearer_auth(API_KEY)
                .header("x-sandbox-name", "prod")
                .json(&body)
                .send()
                .await;
            match r {
                Ok(r) if r.status().as_u16() == 202 => {
                    let v: Value = r.json().await.unwrap_or(Value::Null);
                    if let Some(id) = v["executionId"].as_str() {
                        fired.lock().await.push(Fired {
                            at,
                            execution_id: id.to_string(),
                        });
                        return;
                    }
                    errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                _ => {
                    errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let phase_secs = phase.elapsed().as_secs_f64();
    let after = api.by_status(&marketing).await?;
    let marketing_during =
        after["sent"].as_u64().unwrap_or(0) - before["sent"].as_u64().unwrap_or(0);
    api.wait_drained(&transactional, Duration::from_secs(300))
        .await?;

    // Latency: the message's sentAt (the sink's 250) minus the trigger's start.
    let fired = std::mem::take(&mut *fired.lock().await);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let mut not_sent = 0u64;
    for f in &fired {
        let e = api
            .call(
                reqwest::Method::GET,
                &format!("/v1/executions/{}", f.execution_id),
                None,
            )
            .await?;
        let sent_at = e["messages"][0]["sentAt"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok());
        match sent_at {
            Some(s) => {
                let us = (s.with_timezone(&Utc) - f.at)
                    .num_microseconds()
                    .unwrap_or(0)
                    .max(1);
                hist.record(us as u64)?;
            }
            None => not_sent += 1,
        }
    }
    let still_queued = api.by_status(&marketing).await?;
    println!("transactional latency (trigger → accepted by smtp-sink) during a marketing drain");
    println!(
        "  triggers: {} fired at {} /s over {:.1} s; {} errors; {} not sent",
        fired.len(),
        args.rate,
        phase_secs,
        errors.load(std::sync::atomic::Ordering::Relaxed),
        not_sent
    );
    println!(
        "  latency: p50 {} · p90 {} · p99 {} · max {}",
        output::ms(hist.value_at_quantile(0.50)),
        output::ms(hist.value_at_quantile(0.90)),
        output::ms(hist.value_at_quantile(0.99)),
        output::ms(hist.max())
    );
    println!(
        "  smtp-source → smtp-sink (baseline): {raw_rate:.0} emails/s; marketing drain alone: {drain_alone:.0} emails/s ({:.2} of the baseline)",
        drain_alone / raw_rate
    );
    println!(
        "  marketing sent meanwhile: {marketing_during} ({:.0} emails/s); still queued after: {}",
        marketing_during as f64 / phase_secs,
        still_queued["queued"].as_u64().unwrap_or(0)
    );
    Ok(())
}
