//! `herald bench events`: engagement tracking at scale.
//!
//! 1. Opens and clicks through HTTP (`GET /t/o/…`, `GET /t/c/…` of messages
//!    the server really sent, tokens signed with its key) next to `GET
//!    /healthz` in the same run; every accepted request must show in the
//!    report afterwards (nothing lost).
//! 2. Deliveries with and without that event load: the drain rate of the
//!    same number of messages.
//! 3. Reports at scale: `--events` more events (spread over 24 h) written
//!    straight into the store, then the report's latency over HTTP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use serde_json::{Value, json};

use herald_domain::token::{TokenClaims, TokenPurpose};
use herald_store::sqlite::SqliteStore;
use herald_store::{NewEvent, Store};

use super::api::Api;
use super::load::{self, Endpoint, Target};
use super::output;
use super::server::{Server, ServerOptions};

#[derive(Args, Debug)]
pub struct EventsBenchArgs {
    /// Messages sent before the event load (their links are requested).
    #[arg(long, default_value_t = 2_000)]
    pub messages: usize,
    /// Connections of the HTTP phases.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Seconds per HTTP phase.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Opens and clicks per second (open loop) while the second send
    /// drains; 0: as fast as the connections go (closed loop).
    #[arg(long, default_value_t = 20_000)]
    pub rate: u64,
    /// Events written into the store before the report is timed.
    #[arg(long, default_value_t = 10_000_000)]
    pub events: u64,
    /// Reports requested per kind in the report phase.
    #[arg(long, default_value_t = 50)]
    pub reports: usize,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

const RECIPIENTS_PER_CALL: usize = 20;
const LINKS: u32 = 3;

async fn tracked_campaign(api: &Api) -> anyhow::Result<String> {
    api.live_campaign(
        json!({"name": "Bench tracked", "channel": "email", "category": "any",
               "email": {"fromAddress": "news@shop.example.com"}}),
        |cfg| json!({
            "name": "Bench tracked", "category": "transactional",
            "action": {"channel": "email", "channelConfigurationId": cfg,
                       "tracking": {"opens": true, "clicks": true}},
            "content": {"email": {"subject": "Your order {{context.order}}",
                "html": "<html><body><p>Order {{context.order}}</p><p><a href=\"https://shop.example.com/o/{{context.order}}\">Track it</a> <a href=\"https://shop.example.com/help\">Help</a> <a href=\"https://shop.example.com/sale\">Sale</a></p></body></html>"}},
            "audience": {"identityNamespace": "email"}
        }),
    )
    .await
}

/// Fires `n` messages (calls of 20 recipients, 8 at a time) and waits
/// until the campaign's `sent` grew by `n`. Returns the message ids and
/// the time from the first call to the last message sent.
async fn send(
    api: &Arc<Api>,
    campaign: &str,
    tag: &str,
    n: usize,
) -> anyhow::Result<(Vec<String>, Duration)> {
    let before = report(api, campaign, "").await?["sent"]
        .as_u64()
        .unwrap_or(0);
    let started = Instant::now();
    let calls = n.div_ceil(RECIPIENTS_PER_CALL);
    let mut executions = Vec::with_capacity(calls);
    for chunk in (0..calls).collect::<Vec<_>>().chunks(8) {
        let mut tasks = Vec::new();
        for &c in chunk {
            let api = api.clone();
            let campaign = campaign.to_owned();
            let tag = tag.to_owned();
            tasks.push(tokio::spawn(async move {
                let recipients: Vec<Value> = (0..RECIPIENTS_PER_CALL)
                    .map(|i| {
                        json!({"type": "external", "namespace": "email",
                           "userId": format!("{tag}-{c}-{i}@shop{}.example", i % 7)})
                    })
                    .collect();
                api.call(
                    reqwest::Method::POST,
                    "/ajo/im/executions/unitary",
                    Some(
                        json!({"requestId": format!("{tag}-{c}"), "campaignId": campaign,
                                "recipients": recipients, "context": {"order": c}}),
                    ),
                )
                .await
            }));
        }
        for t in tasks {
            let v = t.await??;
            executions.push(v["executionId"].as_str().context("executionId")?.to_owned());
        }
    }
    let target = before + (calls * RECIPIENTS_PER_CALL) as u64;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let sent = report(api, campaign, "").await?["sent"]
            .as_u64()
            .unwrap_or(0);
        if sent >= target {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {sent} of {target} sent after 10 min"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drained = started.elapsed();
    let mut ids = Vec::with_capacity(n);
    for e in executions {
        let v = api
            .call(reqwest::Method::GET, &format!("/v1/executions/{e}"), None)
            .await?;
        for m in v["messages"].as_array().into_iter().flatten() {
            if let Some(id) = m["messageId"].as_str() {
                ids.push(id.to_owned());
            }
        }
    }
    Ok((ids, drained))
}

async fn report(api: &Api, campaign: &str, query: &str) -> anyhow::Result<Value> {
    api.call(
        reqwest::Method::GET,
        &format!("/v1/campaigns/{campaign}/report{query}"),
        None,
    )
    .await
}

/// Writes `total` events over `ids` into the store, spread over the last
/// 24 h; returns events per second.
async fn seed(store: Arc<SqliteStore>, ids: &[String], total: u64) -> anyhow::Result<f64> {
    const BATCH: u64 = 5_000;
    const WRITERS: u64 = 4;
    let ids = Arc::new(ids.to_vec());
    let now = Utc::now();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (store, ids) = (store.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = w * BATCH;
            while i < total {
                let events: Vec<NewEvent> = (i..(i + BATCH).min(total))
                    .map(|k| {
                        let id = &ids[(k as usize * 7919) % ids.len()];
                        let at =
                            now - chrono::Duration::milliseconds(((k * 8_640) % 86_400_000) as i64);
                        let link = (k % LINKS as u64) as u32;
                        if k % 3 == 0 {
                            NewEvent {
                                message_id: id.clone(),
                                at,
                                status: "clicked".into(),
                                reason: Some(link.to_string()),
                                detail: Some(format!("https://shop.example.com/l{link}")),
                                data: None,
                            }
                        } else {
                            NewEvent {
                                message_id: id.clone(),
                                at,
                                status: "opened".into(),
                                reason: (k % 10 == 1).then(|| "machine".into()),
                                detail: None,
                                data: None,
                            }
                        }
                    })
                    .collect();
                store.record_events(events).await?;
                i += WRITERS * BATCH;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// The phase's load in the background: open loop at `--rate`, or closed.
fn background(
    args: &EventsBenchArgs,
    target: Arc<Target>,
    endpoint: Endpoint,
) -> tokio::task::JoinHandle<load::PhaseResult> {
    let duration = Duration::from_secs(args.seconds);
    if args.rate > 0 {
        tokio::spawn(load::open_loop(
            target,
            endpoint,
            args.connections,
            args.rate as f64,
            duration,
        ))
    } else {
        tokio::spawn(load::closed_loop(
            target,
            endpoint,
            args.connections,
            duration,
            None,
        ))
    }
}

/// p50 / p99 / max in ms of `n` GETs of `path`.
async fn latency(api: &Api, path: &str, n: usize) -> anyhow::Result<(f64, f64, f64)> {
    let mut ms = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        api.call(reqwest::Method::GET, path, None).await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1];
    Ok((at(0.5), at(0.99), at(1.0)))
}

pub async fn run(args: EventsBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.messages > 0, "--messages must be at least 1");
    let server = Server::start(&ServerOptions {
        smtp_url: None,
        delivery_concurrency: None,
        no_delivery: false,
        data_dir: None,
    })
    .await?;
    let api = Arc::new(Api::new(server.base_url()));
    let campaign = tracked_campaign(&api).await?;
    eprintln!("sending {} messages…", args.messages);
    let (ids, drain_alone) = send(&api, &campaign, "quiet", args.messages).await?;
    let key = crate::secrets::load_or_create_token_key(server.data_dir())?;
    let mut links = Vec::with_capacity(ids.len() * 2);
    for id in &ids {
        let sign = |purpose, link| {
            key.sign(&TokenClaims {
                purpose,
                message_id: id.clone(),
                link,
            })
        };
        links.push(format!("/t/o/{}", sign(TokenPurpose::Open, None)?));
        links.push(format!(
            "/t/c/{}",
            sign(TokenPurpose::Click, Some((links.len() as u32 / 2) % LINKS))?
        ));
    }
    let duration = Duration::from_secs(args.seconds);
    eprintln!("GET /healthz for {} s…", args.seconds);
    let health = load::closed_loop(
        Target::links(server.addr, Vec::new()),
        Endpoint::Health,
        args.connections,
        duration,
        None,
    )
    .await;
    eprintln!(
        "opens and clicks for {} s, and the same send again…",
        args.seconds
    );
    let track_target = Target::links(server.addr, links);
    // The same send under the same rate of no-op GETs: how much of the
    // slowdown is any HTTP load on these two CPUs, not the events.
    let health_load = background(
        &args,
        Target::links(server.addr, Vec::new()),
        Endpoint::Health,
    );
    let (_, drain_health) = send(&api, &campaign, "healthz", args.messages).await?;
    health_load.await?;
    let tracking = background(&args, track_target, Endpoint::Track);
    let (_, drain_loaded) = send(&api, &campaign, "loaded", args.messages).await?;
    let tracking = tracking.await?;
    let counted = report(&api, &campaign, "").await?;
    let recorded = counted["opens"].as_u64().unwrap_or(0)
        + counted["machineOpens"].as_u64().unwrap_or(0)
        + counted["clicks"].as_u64().unwrap_or(0);
    anyhow::ensure!(
        recorded == tracking.ok,
        "{} tracking requests answered, {recorded} events in the report",
        tracking.ok
    );

    // Reports at scale: the server is stopped while the events are seeded.
    let data_dir = server.data_dir().to_path_buf();
    let health_wall = health.rate();
    let keep = server; // keeps the temporary directory alive
    let pid = keep.pid();
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("writing {} events into the store…", args.events);
    let store = Arc::new(SqliteStore::open(&data_dir).await?);
    let seed_rate = seed(store.clone(), &ids, args.events).await?;
    store.close().await;
    drop(store);
    let again = Server::start(&ServerOptions {
        smtp_url: None,
        delivery_concurrency: None,
        no_delivery: false,
        data_dir: Some(data_dir.clone()),
    })
    .await?;
    let api = Api::new(again.base_url());
    let total_events = report(&api, &campaign, "").await?;
    let events_in_report = ["opens", "machineOpens", "clicks"]
        .iter()
        .map(|k| total_events[k].as_u64().unwrap_or(0))
        .sum::<u64>();
    let path = format!("/v1/campaigns/{campaign}/report");
    let all = latency(&api, &path, args.reports).await?;
    let day = latency(&api, &format!("{path}?window=24h"), args.reports).await?;
    let hourly = latency(
        &api,
        &format!("{path}?window=24h&bucket=hour"),
        args.reports,
    )
    .await?;
    let healthz = latency(&api, "/healthz", args.reports).await?;
    drop(keep);

    let result = json!({
        "machine": output::machine(),
        "http": {
            "connections": args.connections, "seconds": args.seconds, "offeredRate": args.rate,
            "healthzPerSecond": health_wall,
            "trackingPerSecond": tracking.rate(),
            "trackingAnswered": tracking.ok,
            "trackingErrors": tracking.errors(),
            "eventsInReport": recorded,
        },
        "delivery": {
            "messages": args.messages,
            "aloneSeconds": drain_alone.as_secs_f64(),
            "withEventLoadSeconds": drain_loaded.as_secs_f64(),
            "alonePerSecond": args.messages as f64 / drain_alone.as_secs_f64(),
            "withHealthzLoadPerSecond": args.messages as f64 / drain_health.as_secs_f64(),
            "withEventLoadPerSecond": args.messages as f64 / drain_loaded.as_secs_f64(),
        },
        "store": {"eventsWritten": args.events, "eventsPerSecond": seed_rate},
        "report": {
            "eventsInCampaign": events_in_report,
            "allMs": {"p50": all.0, "p99": all.1, "max": all.2},
            "last24hMs": {"p50": day.0, "p99": day.1, "max": day.2},
            "last24hHourlySeriesMs": {"p50": hourly.0, "p99": hourly.1, "max": hourly.2},
            "healthzMs": {"p50": healthz.0, "p99": healthz.1, "max": healthz.2},
        },
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
        return Ok(());
    }
    println!("herald bench events — {}", output::machine());
    println!(
        "HTTP, {} connections, {} s each:\n  GET /healthz          {:>9.0} req/s\n  GET /t/o, /t/c        {:>9.0} events/s offered {} ({} answered, {} errors; {} in the report; p99 {} ms)",
        args.connections,
        args.seconds,
        health_wall,
        tracking.rate(),
        if args.rate > 0 {
            format!("{}/s", args.rate)
        } else {
            "closed loop".into()
        },
        tracking.ok,
        tracking.errors(),
        recorded,
        output::ms(tracking.hist.value_at_quantile(0.99))
    );
    println!(
        "Delivery of {} messages (accept → sent):\n  alone                 {:>9.0} msg/s\n  with /healthz load    {:>9.0} msg/s (same rate)\n  with the event load   {:>9.0} msg/s",
        args.messages,
        args.messages as f64 / drain_alone.as_secs_f64(),
        args.messages as f64 / drain_health.as_secs_f64(),
        args.messages as f64 / drain_loaded.as_secs_f64()
    );
    println!(
        "Store: {} events written at {:.0} events/s",
        args.events, seed_rate
    );
    println!(
        "Report of a campaign with {events_in_report} events (p50 / p99 / max ms over {}):",
        args.reports
    );
    for (name, (p50, p99, max)) in [
        ("window=all", all),
        ("window=24h", day),
        ("window=24h&bucket=hour", hourly),
        ("GET /healthz (baseline)", healthz),
    ] {
        println!("  {name:<26} {p50:>7.2} {p99:>7.2} {max:>7.2}");
    }
    Ok(())
}
