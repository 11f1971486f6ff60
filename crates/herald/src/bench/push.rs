//! `herald bench push`: rapid push delivery. An in-process APNs-shaped h2c
//! endpoint (HTTP/2 with prior knowledge, `POST /3/device/{token}` → 200
//! with an `apns-id`) counts what it receives. First the in-run baseline: a
//! raw reqwest HTTP/2 client sends N such requests at Herald's delivery
//! concurrency. Then Herald: N profiles with an APNs token and marketing
//! push consent, one audience execution of a plain-text push campaign (one
//! render, maximal fan-out), timed from the 202 to every message `sent`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};

use super::api::Api;
use super::output;
use super::server::{Server, ServerOptions};

const TOPIC: &str = "com.example.herald.bench";
const APP_ID: &str = "com.example.herald.bench";
const TITLE: &str = "Flash sale";
const BODY: &str = "Everything -30% today";

#[derive(Args, Debug)]
pub struct PushBenchArgs {
    /// Profiles (one APNs token each), so push messages, per phase.
    #[arg(long, default_value_t = 100_000)]
    pub profiles: u64,
    /// Sends in flight: HERALD_DELIVERY_CONCURRENCY for the server, and the
    /// baseline client's concurrent requests.
    #[arg(long, default_value_t = 128)]
    pub concurrency: usize,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// What the endpoint received: a count, and the first and last request
/// times as nanoseconds after `epoch` (0 = none yet).
struct Counter {
    epoch: Instant,
    received: AtomicU64,
    first_ns: AtomicU64,
    last_ns: AtomicU64,
}

impl Counter {
    fn record(&self) {
        let ns = (self.epoch.elapsed().as_nanos() as u64).max(1);
        self.received.fetch_add(1, Ordering::Relaxed);
        let _ = self
            .first_ns
            .compare_exchange(0, ns, Ordering::Relaxed, Ordering::Relaxed);
        self.last_ns.fetch_max(ns, Ordering::Relaxed);
    }

    /// Starts a new phase: count and times from zero.
    fn reset(&self) {
        self.received.store(0, Ordering::SeqCst);
        self.first_ns.store(0, Ordering::SeqCst);
        self.last_ns.store(0, Ordering::SeqCst);
    }

    fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }

    /// First to last request of the phase.
    fn span(&self) -> Option<(Instant, Instant)> {
        let f = self.first_ns.load(Ordering::SeqCst);
        let l = self.last_ns.load(Ordering::SeqCst);
        (f > 0).then(|| {
            (
                self.epoch + Duration::from_nanos(f),
                self.epoch + Duration::from_nanos(l),
            )
        })
    }
}

async fn answer(
    req: Request<Incoming>,
    c: Arc<Counter>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let ok = req.method() == hyper::Method::POST
        && req
            .uri()
            .path()
            .strip_prefix("/3/device/")
            .is_some_and(|t| !t.is_empty());
    let id = req.headers().get("apns-id").cloned().unwrap_or_else(|| {
        hyper::header::HeaderValue::from_static("00000000-0000-4000-8000-000000000000")
    });
    // Read the body like a real endpoint would (and so flow control runs).
    let _ = req.into_body().collect().await;
    let mut resp = Response::new(Full::new(Bytes::new()));
    if ok {
        c.record();
        resp.headers_mut().insert("apns-id", id);
    } else {
        *resp.status_mut() = StatusCode::NOT_FOUND;
    }
    Ok(resp)
}

/// The h2c endpoint on a loopback port; lives as long as the runtime.
async fn endpoint() -> anyhow::Result<(SocketAddr, Arc<Counter>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let counter = Arc::new(Counter {
        epoch: Instant::now(),
        received: AtomicU64::new(0),
        first_ns: AtomicU64::new(0),
        last_ns: AtomicU64::new(0),
    });
    let c = counter.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let c = c.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| answer(req, c.clone()));
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    // Above any sane client concurrency: streams, not the
                    // server's limit, decide how many requests are in flight.
                    .max_concurrent_streams(1024)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((addr, counter))
}

/// A fresh P-256 key as the PKCS#8 PEM of an APNs `.p8` file.
fn p8_pem() -> anyhow::Result<String> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .map_err(|_| anyhow::anyhow!("cannot generate a P-256 key"))?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk)?);
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(pem)
}

fn token(i: u64) -> String {
    format!("{i:064x}")
}

/// The baseline: N APNs-shaped requests (the headers and body Herald sends)
/// from `concurrency` tasks over one multiplexed HTTP/2 connection.
async fn baseline(addr: SocketAddr, n: u64, concurrency: usize) -> anyhow::Result<(Duration, u64)> {
    let client = reqwest::Client::builder().http2_prior_knowledge().build()?;
    // A provider token of a real one's length; the endpoint does not check it.
    let bearer = format!("bearer {}", "x".repeat(200));
    let body = serde_json::to_vec(&json!({"aps": {"alert": {"title": TITLE, "body": BODY}}}))?;
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, next, errors) = (client.clone(), next.clone(), errors.clone());
            let (bearer, body) = (bearer.clone(), body.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let r = client
                        .post(format!("http://{addr}/3/device/{}", token(i)))
                        .header("authorization", &bearer)
                        .header("apns-topic", TOPIC)
                        .header("apns-push-type", "alert")
                        .header("apns-priority", "10")
                        .header("apns-id", format!("00000000-0000-4000-8000-{i:012x}"))
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await?;
    }
    Ok((started.elapsed(), errors.load(Ordering::SeqCst)))
}

/// N profiles, each with one APNs token of the bench app and marketing push
/// consent; `bench = "push"` is what the audience rule matches.
fn write_profiles(path: &std::path::Path, n: u64) -> anyhow::Result<()> {
    use std::io::Write;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let langs = ["en-US", "fr-FR", "de-DE", "ja-JP"];
    for i in 0..n {
        let line = json!({
            "identities": [{"namespace": "email", "id": format!("push{i}@example.com")}],
            "attributes": {
                "person": {"name": {"firstName": format!("First{i}")}},
                "preferredLanguage": langs[(i % 4) as usize],
                "bench": "push",
                "consents": {"marketing": {"push": {"val": "y"}}},
                "pushNotificationDetails": [{"appID": APP_ID, "token": token(i), "platform": "apns"}]
            }
        });
        serde_json::to_writer(&mut w, &line)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}

async fn push_campaign(api: &Api, base_url: &str, audience: &str) -> anyhow::Result<String> {
    api.live_campaign(
        json!({"name": "Bench push", "channel": "push", "category": "marketing",
               "push": {"appId": APP_ID,
                        "apns": {"teamId": "TEAM123456", "keyId": "KEY1234567",
                                 "privateKey": p8_pem()?, "topic": TOPIC, "baseUrl": base_url}}}),
        |cfg| {
            json!({
                "name": "Bench flash sale", "category": "marketing",
                "action": {"channel": "push", "channelConfigurationId": cfg},
                "content": {"push": {"title": TITLE, "body": BODY}},
                "audience": {"identityNamespace": "email", "audienceId": audience}
            })
        },
    )
    .await
}

fn count(s: &Value, k: &str) -> u64 {
    s[k].as_u64().unwrap_or(0)
}

pub async fn run(args: PushBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.profiles > 0, "--profiles must be at least 1");
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    let n = args.profiles;
    let (addr, counter) = endpoint().await?;
    eprintln!(
        "herald bench push: {}; {n} messages; APNs-shaped h2c endpoint on {addr}",
        output::machine()
    );

    // 1. The baseline: the machine's ceiling for these requests.
    eprintln!("baseline: reqwest h2 → endpoint…");
    let (raw_elapsed, raw_errors) = baseline(addr, n, args.concurrency).await?;
    anyhow::ensure!(raw_errors == 0, "{raw_errors} baseline requests failed");
    anyhow::ensure!(
        counter.received() == n,
        "the endpoint received {} baseline requests, not {n}",
        counter.received()
    );
    let raw_rate = n as f64 / raw_elapsed.as_secs_f64();
    counter.reset();

    // 2. Herald.
    let dir = tempfile::Builder::new()
        .prefix("herald-bench-push-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let file = dir.path().join("profiles.ndjson");
    eprintln!("generating {n} profiles…");
    write_profiles(&file, n)?;
    let server = Server::start(&ServerOptions {
        smtp_url: None,
        delivery_concurrency: Some(args.concurrency),
        no_delivery: false,
        data_dir: None,
    })
    .await?;
    eprintln!("importing…");
    let api = Api::new(server.base_url());
    let import_secs = api.import_ndjson(&file).await?;
    let audience = api
        .rule_audience("Everyone (push)", "profile.bench = \"push\"")
        .await?;
    let campaign = push_campaign(&api, &format!("http://{addr}"), &audience).await?;

    eprintln!("fanning out and delivering…");
    let started = Instant::now();
    let exec_id = api
        .fire_audience(json!({"campaignId": campaign, "requestId": "bench-push"}))
        .await?;
    let timeout = Duration::from_secs(1800);
    let mut fanout: Option<(Duration, Value)> = None;
    let (all_sent, final_status) = loop {
        if fanout.is_none() {
            let s = api
                .call(
                    reqwest::Method::GET,
                    &format!("/ajo/im/executions/audience/{exec_id}"),
                    None,
                )
                .await?;
            if s["status"] != "InProgress" {
                anyhow::ensure!(s["status"] == "Succeeded", "execution ended {s}");
                fanout = Some((started.elapsed(), s));
            }
        }
        let s = api.by_status(&campaign).await?;
        let done = count(&s, "sent") + count(&s, "delivered");
        if fanout.is_some() && done >= n {
            break (started.elapsed(), s);
        }
        anyhow::ensure!(
            count(&s, "failed") == 0,
            "{} messages failed; statuses: {s}",
            count(&s, "failed")
        );
        if let Some((_, f)) = &fanout
            && count(f, "targetedProfileCount") < n
        {
            anyhow::bail!(
                "only {} profiles were targeted: {f}",
                f["targetedProfileCount"]
            );
        }
        anyhow::ensure!(
            started.elapsed() < timeout,
            "not every message was sent within 30 minutes: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (fanout_elapsed, fanout_status) = fanout.context("fan-out status")?;
    let received = counter.received();
    let span = counter.span();
    drop(server);
    anyhow::ensure!(
        received == n,
        "the endpoint received {received} push requests from Herald, not {n}; statuses: {final_status}"
    );
    let (first, last) = span.context("no request reached the endpoint")?;
    let delivery = last.duration_since(first);
    let first_after = first.duration_since(started);
    let e2e_rate = n as f64 / all_sent.as_secs_f64();
    let delivery_rate = n as f64 / delivery.as_secs_f64();
    let fanout_rate = n as f64 / fanout_elapsed.as_secs_f64();
    let ratio = delivery_rate / raw_rate;

    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "bench": "push",
                "machine": output::machine(),
                "messages": n,
                "concurrency": args.concurrency,
                "baseline": {"seconds": raw_elapsed.as_secs_f64(), "requestsPerSecond": raw_rate},
                "herald": {
                    "importSeconds": import_secs,
                    "fanoutSeconds": fanout_elapsed.as_secs_f64(),
                    "fanoutMessagesPerSecond": fanout_rate,
                    "firstRequestAfterSeconds": first_after.as_secs_f64(),
                    "deliverySeconds": delivery.as_secs_f64(),
                    "deliveryMessagesPerSecond": delivery_rate,
                    "allSentSeconds": all_sent.as_secs_f64(),
                    "endToEndMessagesPerSecond": e2e_rate,
                    "endpointReceived": received,
                    "execution": fanout_status,
                    "finalByStatus": final_status
                },
                "ratio": ratio
            }))?
        );
    } else {
        println!();
        println!("herald bench push: {}", output::machine());
        println!(
            "{n} profiles imported in {import_secs:.1} s; {} sends in flight",
            args.concurrency
        );
        println!();
        println!(
            "{:<52} {:>8} {:>9} {:>12}",
            "phase", "messages", "seconds", "messages/s"
        );
        let row = |name: &str, secs: f64| {
            println!(
                "{:<52} {:>8} {:>9.2} {:>12.0}",
                name,
                n,
                secs,
                n as f64 / secs
            )
        };
        row("baseline: reqwest h2 → endpoint", raw_elapsed.as_secs_f64());
        row(
            "herald fan-out (202 → execution Succeeded)",
            fanout_elapsed.as_secs_f64(),
        );
        row(
            "herald delivery (first → last request at endpoint)",
            delivery.as_secs_f64(),
        );
        row(
            "herald end to end (202 → every message sent)",
            all_sent.as_secs_f64(),
        );
        println!();
        println!("herald delivery / baseline: {ratio:.2}");
        println!(
            "first push reached the endpoint {:.2} s after the 202; endpoint received {received}",
            first_after.as_secs_f64()
        );
        println!("final message statuses: {final_status}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_endpoint_answers_h2c_with_the_apns_id_and_counts() {
        let (addr, counter) = endpoint().await.unwrap();
        let client = reqwest::Client::builder()
            .http2_prior_knowledge()
            .build()
            .unwrap();
        let r = client
            .post(format!("http://{addr}/3/device/{}", token(7)))
            .header("apns-id", "0190f1a2-7b3c-7def-8123-000000000007")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.version(), reqwest::Version::HTTP_2);
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["apns-id"],
            "0190f1a2-7b3c-7def-8123-000000000007"
        );
        let r = client
            .post(format!("http://{addr}/elsewhere"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(counter.received(), 1, "only the device request counts");
        counter.reset();
        assert_eq!(counter.received(), 0);
        assert!(counter.span().is_none());
    }

    #[test]
    fn the_generated_key_is_a_p256_pkcs8_pem_and_tokens_are_64_hex() {
        let pem = p8_pem().unwrap();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &der,
            &ring::rand::SystemRandom::new(),
        )
        .unwrap();
        let t = token(255);
        assert_eq!(t.len(), 64);
        assert!(t.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
