//! `herald bench audience`: with N profiles stored (imported like `bench
//! import` does), times a rule audience's size estimate, then one audience
//! execution over every profile from its 202 to `Succeeded` (messages
//! selected, policy-checked and queued per second) while sampling the
//! server's RSS; then accepted calls/s of the high-throughput endpoint next
//! to the standard unitary one, in the same run.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::json;

use super::api::Api;
use super::import::{peak_rss_kib, proc_status_kib, write_file};
use super::load::{self, Endpoint, Target};
use super::output;
use super::server::{Server, ServerOptions};

#[derive(Args, Debug)]
pub struct AudienceBenchArgs {
    /// Profiles stored before the execution.
    #[arg(long, default_value_t = 1_000_000)]
    pub profiles: u64,
    /// Connections of the unitary / high-throughput comparison.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Seconds per endpoint in the comparison.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

fn rss_kib(pid: u32) -> Option<u64> {
    proc_status_kib(pid, "VmRSS")
}

pub(super) async fn marketing_campaign(api: &Api, audience: &str) -> anyhow::Result<String> {
    api.live_campaign(
        json!({"name": "Bench news", "channel": "email", "category": "marketing",
               "email": {"fromAddress": "news@shop.example.com", "fromName": "North Store"}}),
        |cfg| json!({
            "name": "Bench newsletter", "category": "marketing",
            "action": {"channel": "email", "channelConfigurationId": cfg},
            "content": {"email": {
                "subject": "News for {{profile.person.name.firstName}}",
                "html": "<p>Hi {{profile.person.name.firstName}} in {{profile.homeAddress.city}}: {{context.offer}}</p>"}},
            "audience": {"identityNamespace": "email", "audienceId": audience}
        }),
    )
    .await
}

async fn high_throughput_campaign(api: &Api) -> anyhow::Result<String> {
    api.live_campaign(
        json!({"name": "Bench OTP", "channel": "email", "category": "transactional",
               "email": {"fromAddress": "otp@shop.example.com"}}),
        |cfg| json!({
            "name": "Bench order (high throughput)", "category": "transactional", "highThroughput": true,
            "action": {"channel": "email", "channelConfigurationId": cfg},
            "content": {"email": {
                "subject": "Order {{context.order.id}} confirmed",
                "html": "<p>Thanks for your order {{context.order.id}} at {{context.shop}}: total {{context.order.total}}.</p>"}},
            "audience": {"identityNamespace": "email"}
        }),
    )
    .await
}

pub async fn run(args: AudienceBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.profiles > 0, "--profiles must be at least 1");
    let dir = tempfile::Builder::new()
        .prefix("herald-bench-audience-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let file = dir.path().join("profiles.ndjson");
    eprintln!("generating {} profiles…", args.profiles);
    write_file(&file, args.profiles)?;
    // API-only: the benchmark measures fan-out into the queue, not sending.
    let server = Server::start(&ServerOptions {
        smtp_url: None,
        delivery_concurrency: None,
        no_delivery: true,
        data_dir: None,
    })
    .await?;
    let pid = server.pid();
    eprintln!("importing…");
    let api = Api::new(server.base_url());
    let import_secs = api.import_ndjson(&file).await?;

    // 1. Size estimate of a selective rule audience.
    let selective = api
        .rule_audience(
            "Paris regulars",
            "profile.homeAddress.city = \"Paris\" and profile.loyalty.points >= 2500 and profile.preferredLanguage in [\"fr-FR\", \"en-US\"]",
        )
        .await?;
    let t = Instant::now();
    let est = api
        .call(
            reqwest::Method::GET,
            &format!("/v1/audiences/{selective}/estimate"),
            None,
        )
        .await?;
    let estimate_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let exact = api
        .call(
            reqwest::Method::GET,
            &format!("/v1/audiences/{selective}/estimate?exact=true"),
            None,
        )
        .await?;
    let exact_secs = t.elapsed().as_secs_f64();

    // 2. One audience execution over every profile.
    let everyone = api
        .rule_audience("Everyone", "profile.loyalty.tier = \"gold\"")
        .await?;
    let campaign = marketing_campaign(&api, &everyone).await?;
    let rss_before = rss_kib(pid);
    eprintln!("fanning out…");
    let t = Instant::now();
    let exec_id = api.fire_audience(json!({"campaignId": campaign, "requestId": "bench-blast", "context": {"offer": "20% off"}})).await?;
    let mut max_rss = 0u64;
    let status = loop {
        if let Some(r) = rss_kib(pid) {
            max_rss = max_rss.max(r);
        }
        let s = api
            .call(
                reqwest::Method::GET,
                &format!("/ajo/im/executions/audience/{exec_id}"),
                None,
            )
            .await?;
        if s["status"] != "InProgress" {
            break s;
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(1800),
            "the execution did not finish in 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let fanout_secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(status["status"] == "Succeeded", "execution ended {status}");
    let targeted = status["targetedProfileCount"].as_u64().unwrap_or(0);
    let report = api
        .call(
            reqwest::Method::GET,
            &format!("/v1/executions/{exec_id}/report"),
            None,
        )
        .await?;
    let fanout_rate = targeted as f64 / fanout_secs;

    // 3. High-throughput vs standard unitary calls, same run.
    let ht = high_throughput_campaign(&api).await?;
    let tx = api.setup_campaign().await?;
    let d = Duration::from_secs(args.seconds);
    let ht_target = Target::new(server.addr, ht, 1);
    let tx_target = Target::new(server.addr, tx, 1);
    load::closed_loop(
        tx_target.clone(),
        Endpoint::Unitary,
        args.connections,
        Duration::from_secs(2),
        None,
    )
    .await;
    let unitary = load::closed_loop(tx_target, Endpoint::Unitary, args.connections, d, None).await;
    load::closed_loop(
        ht_target.clone(),
        Endpoint::HighThroughput,
        args.connections,
        Duration::from_secs(2),
        None,
    )
    .await;
    let high = load::closed_loop(
        ht_target,
        Endpoint::HighThroughput,
        args.connections,
        d,
        None,
    )
    .await;
    let peak = peak_rss_kib(pid);
    drop(server);

    let mib = |k: Option<u64>| {
        k.map(|k| format!("{:.0} MiB", k as f64 / 1024.0))
            .unwrap_or_else(|| "unknown".into())
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "bench": "audience",
                "machine": output::machine(),
                "profiles": args.profiles,
                "importSeconds": import_secs,
                "estimate": {"count": est["count"], "margin": est["margin"], "exact": est["exact"],
                             "sampled": est["sampled"], "seconds": estimate_secs},
                "exactCount": {"count": exact["count"], "seconds": exact_secs},
                "fanout": {"targeted": targeted, "seconds": fanout_secs, "messagesPerSecond": fanout_rate,
                           "queued": report["byStatus"]["queued"], "excluded": report["excluded"],
                           "rssBeforeKiB": rss_before, "maxRssDuringKiB": max_rss},
                "unitary": {"callsPerSecond": unitary.rate(), "errors": unitary.errors()},
                "highThroughput": {"callsPerSecond": high.rate(), "errors": high.errors()},
                "serverPeakRssKiB": peak,
            }))?
        );
    } else {
        println!("herald bench audience: {}", output::machine());
        println!(
            "{} profiles stored (import {:.1} s)",
            args.profiles, import_secs
        );
        println!(
            "estimate of a 3-condition rule audience: {} ± {} profiles (sample of {}) in {:.2} s; exact count {} in {:.2} s",
            est["count"], est["margin"], est["sampled"], estimate_secs, exact["count"], exact_secs
        );
        println!(
            "audience execution: {targeted} messages queued or excluded in {fanout_secs:.1} s = {fanout_rate:.0} messages/s \
             (queued {}, excluded {})",
            report["byStatus"]["queued"], report["excluded"]["total"]
        );
        println!(
            "server RSS: {} before, at most {} during the fan-out (sampled every 100 ms); peak of the run {}",
            mib(rss_before),
            mib(Some(max_rss)),
            mib(peak)
        );
        println!(
            "accepted calls/s, 1 recipient, {} connections, {} s each: unitary {:.0} ({} errors), high-throughput {:.0} ({} errors)",
            args.connections,
            args.seconds,
            unitary.rate(),
            unitary.errors(),
            high.rate(),
            high.errors()
        );
    }
    Ok(())
}
