//! The load generator: C HTTP/1.1 keep-alive connections (hyper's low-level
//! client, one connection per worker), closed loop or open loop at a fixed
//! rate. Open-loop latency is measured from each request's *scheduled* send
//! time, so a stalled server is charged for the requests it delayed
//! (no coordinated omission).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, header};
use hyper_util::rt::TokioIo;

use super::api::unitary_body;
use super::server::API_KEY;

/// What each request calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /_bench/noop` with the same body a unitary call would carry.
    Noop,
    /// `POST /ajo/im/executions/unitary`.
    Unitary,
    /// `POST /ajo/im/executions/highthroughput`.
    HighThroughput,
    /// `GET /healthz`: the baseline of GET endpoints.
    Health,
    /// `GET` of the target's tracking links (`/t/o/…`, `/t/c/…`) in turn.
    Track,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Endpoint::Noop => "/_bench/noop",
            Endpoint::Unitary => "/ajo/im/executions/unitary",
            Endpoint::HighThroughput => "/ajo/im/executions/highthroughput",
            Endpoint::Health => "/healthz",
            Endpoint::Track => "/t",
        }
    }

    /// The answer a successful request gets.
    fn succeeded(self, status: u16) -> bool {
        match self {
            Endpoint::Noop | Endpoint::Unitary | Endpoint::HighThroughput => status == 202,
            Endpoint::Health => status == 200,
            // The pixel (200) or the click's redirect (302).
            Endpoint::Track => status == 200 || status == 302,
        }
    }
}

/// Shared by every worker of every phase: unique request ids across the run.
pub struct Target {
    pub addr: SocketAddr,
    pub campaign_id: String,
    pub recipients: usize,
    pub run_tag: String,
    seq: AtomicU64,
    /// The links `Endpoint::Track` requests, in turn.
    pub links: Vec<String>,
}

impl Target {
    pub fn new(addr: SocketAddr, campaign_id: String, recipients: usize) -> Arc<Target> {
        Arc::new(Target {
            addr,
            campaign_id,
            recipients,
            run_tag: uuid::Uuid::new_v4().simple().to_string()[..8].to_string(),
            seq: AtomicU64::new(0),
            links: Vec::new(),
        })
    }

    /// A target for GETs of `links` (paths such as `/t/o/{token}`).
    pub fn links(addr: SocketAddr, links: Vec<String>) -> Arc<Target> {
        Arc::new(Target {
            addr,
            campaign_id: String::new(),
            recipients: 0,
            run_tag: String::new(),
            seq: AtomicU64::new(0),
            links,
        })
    }

    fn request(&self, endpoint: Endpoint) -> Request<Full<Bytes>> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        if matches!(endpoint, Endpoint::Health | Endpoint::Track) {
            let path = match endpoint {
                Endpoint::Track if !self.links.is_empty() => {
                    self.links[(seq as usize) % self.links.len()].as_str()
                }
                _ => endpoint.path(),
            };
            return Request::get(path)
                .header(header::HOST, self.addr.to_string())
                .header(
                    header::USER_AGENT,
                    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.0",
                )
                .body(Full::new(Bytes::new()))
                .expect("request");
        }
        let request_id = format!("bench-{}-{seq}", self.run_tag);
        let body = unitary_body(&self.campaign_id, &request_id, seq, self.recipients);
        Request::post(endpoint.path())
            .header(header::HOST, self.addr.to_string())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {API_KEY}"))
            .body(Full::new(Bytes::from(body)))
            .expect("request")
    }
}

/// What one phase measured.
#[derive(Debug)]
pub struct PhaseResult {
    /// Successful responses (202 for triggers, 200/302 for GETs).
    pub ok: u64,
    /// Other statuses, by code.
    pub non_202: BTreeMap<u16, u64>,
    /// Connection-level failures (each followed by a reconnect).
    pub transport_errors: u64,
    pub first_error: Option<String>,
    /// From the phase start until the last response.
    pub elapsed: Duration,
    /// When the first 202 arrived.
    pub first_ok: Option<Instant>,
    /// Latency in microseconds (closed loop: send to response; open loop:
    /// scheduled time to response).
    pub hist: Histogram<u64>,
}

impl PhaseResult {
    fn new() -> PhaseResult {
        PhaseResult {
            ok: 0,
            non_202: BTreeMap::new(),
            transport_errors: 0,
            first_error: None,
            elapsed: Duration::ZERO,
            first_ok: None,
            hist: Histogram::new_with_bounds(1, 120_000_000, 3).expect("histogram"),
        }
    }

    pub fn errors(&self) -> u64 {
        self.non_202.values().sum::<u64>() + self.transport_errors
    }

    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    fn merge(&mut self, other: PhaseResult) {
        self.ok += other.ok;
        for (k, v) in other.non_202 {
            *self.non_202.entry(k).or_default() += v;
        }
        self.transport_errors += other.transport_errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.first_ok = match (self.first_ok, other.first_ok) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.hist.add(other.hist).expect("histogram");
    }

    fn record(&mut self, endpoint: Endpoint, outcome: anyhow::Result<u16>, latency: Duration) {
        match outcome {
            Ok(status) if endpoint.succeeded(status) => {
                self.ok += 1;
                self.first_ok.get_or_insert_with(Instant::now);
                self.hist
                    .saturating_record(latency.as_micros().max(1) as u64);
            }
            Ok(status) => {
                *self.non_202.entry(status).or_default() += 1;
            }
            Err(e) => {
                self.transport_errors += 1;
                self.first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        Conn { addr, sender: None }
    }

    async fn send(&mut self, req: Request<Full<Bytes>>) -> anyhow::Result<u16> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = tokio::net::TcpStream::connect(self.addr)
                .await
                .context("connect")?;
            stream.set_nodelay(true)?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .context("handshake")?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            self.sender = Some(sender);
        }
        let result = async {
            let sender = self.sender.as_mut().expect("connected");
            sender.ready().await.context("connection not ready")?;
            let resp = sender.send_request(req).await.context("send")?;
            let status = resp.status().as_u16();
            // Read the whole body so the connection can be reused.
            resp.into_body().collect().await.context("body")?;
            anyhow::Ok(status)
        }
        .await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }
}

/// Closed loop: every connection sends its next request as soon as the
/// previous answer arrives, until `duration` has passed or `limit`
/// requests were issued.
pub async fn closed_loop(
    target: Arc<Target>,
    endpoint: Endpoint,
    connections: usize,
    duration: Duration,
    limit: Option<u64>,
) -> PhaseResult {
    let start = Instant::now();
    let deadline = start + duration;
    let issued = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let target = target.clone();
        let issued = issued.clone();
        tasks.push(tokio::spawn(async move {
            let mut res = PhaseResult::new();
            let mut conn = Conn::new(target.addr);
            loop {
                if Instant::now() >= deadline {
                    break;
                }
                if let Some(l) = limit
                    && issued.fetch_add(1, Ordering::Relaxed) >= l
                {
                    break;
                }
                let req = target.request(endpoint);
                let t = Instant::now();
                let outcome = conn.send(req).await;
                res.record(endpoint, outcome, t.elapsed());
            }
            res
        }));
    }
    let mut total = PhaseResult::new();
    for t in tasks {
        total.merge(t.await.expect("load worker"));
    }
    total.elapsed = start.elapsed();
    total
}

/// Open loop: request i is due at start + i/rate. Up to `connections`
/// requests are in flight; a request that finds every connection busy waits
/// and is charged for the wait.
pub async fn open_loop(
    target: Arc<Target>,
    endpoint: Endpoint,
    connections: usize,
    rate: f64,
    duration: Duration,
) -> PhaseResult {
    let total_requests = (rate * duration.as_secs_f64()).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now() + Duration::from_millis(10);
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let target = target.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut res = PhaseResult::new();
            let mut conn = Conn::new(target.addr);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total_requests {
                    break;
                }
                let due = start + interval.mul_f64(i as f64);
                tokio::time::sleep_until(due.into()).await;
                let req = target.request(endpoint);
                let outcome = conn.send(req).await;
                res.record(endpoint, outcome, due.elapsed());
            }
            res
        }));
    }
    let mut total = PhaseResult::new();
    for t in tasks {
        total.merge(t.await.expect("load worker"));
    }
    total.elapsed = start.elapsed();
    total
}
