//! Feedback webhooks: the dispatcher.
//!
//! One background task per process tails `message_events` from each
//! enabled webhook's cursor, builds a `message.feedback` payload for every
//! event that concerns the webhook (its sandbox and channels, campaign
//! versions with `webhooksEnabled`), and POSTs them one at a time, in seq
//! order. A webhook's cursor moves only past delivered (or unconcerned)
//! events: a failing event is retried with exponential backoff and jitter
//! and blocks that webhook's later events, so the events of one message
//! arrive in order and none is dropped. Delivery is at least once (a crash
//! between the receiver's 2xx and the cursor's commit repeats the event);
//! `X-Herald-Event-Id` is stable across retries for deduplication.
//!
//! Every attempt is written to the webhook's delivery log. With several
//! nodes on one store, each webhook is leased to one node at a time.

pub mod auth;
pub mod guard;
pub mod payload;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rand::Rng;
use tokio::sync::{Notify, watch};
use tracing::Instrument;

use herald_domain::webhook::{Webhook, WebhookAuth};
use herald_store::{Store, StoreError, WebhookCursor, WebhookDelivery, WebhookEvent};

pub use auth::{SIGNATURE_HEADER, signature, verify};

/// The header naming the event (`<webhook id>-<event seq>`), the same on
/// every retry.
pub const EVENT_ID_HEADER: &str = "x-herald-event-id";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// How often the event log is looked at when nothing wakes the task.
    pub poll: Duration,
    /// Events read per webhook per round.
    pub batch: usize,
    /// First retry delay of a failing event; doubles per failure.
    pub retry_base: Duration,
    /// The longest wait between two tries of one event.
    pub retry_max: Duration,
    /// Per-request timeout (connect included).
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// This node's identity: a webhook is worked on by one node at a time
    /// (a lease in the store), so two nodes never send its events twice
    /// or out of order.
    pub node_id: String,
    /// How long a node holds a webhook without renewing; another node
    /// takes it over after that (a crashed node's webhooks wait this long).
    pub lease: Duration,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        DispatcherConfig {
            poll: Duration::from_millis(300),
            batch: 500,
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            node_id: format!("webhooks-{}", std::process::id()),
            lease: Duration::from_secs(30),
        }
    }
}

impl DispatcherConfig {
    /// The wait after the `failures`-th failed try: base·2^(failures−1),
    /// at most `retry_max`, with ±20 % jitter so that webhooks failing
    /// together do not retry in lockstep.
    pub fn backoff(&self, failures: u32) -> Duration {
        let exp = self
            .retry_base
            .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(30)));
        let capped = exp.min(self.retry_max);
        capped.mul_f64(rand::rng().random_range(0.8..=1.2))
    }
}

pub struct Dispatcher {
    store: Arc<dyn Store>,
    config: DispatcherConfig,
    wake: Arc<Notify>,
    /// Resolves names through the SSRF guard.
    guarded: reqwest::Client,
    /// For webhooks with `allowPrivateNetwork`.
    open: reqwest::Client,
}

/// The state of a webhook whose head event keeps failing.
#[derive(Debug, Clone, Copy)]
struct Failing {
    seq: i64,
    failures: u32,
    next_try: Instant,
}

enum Round {
    /// Nothing new.
    Idle,
    /// Events were read; there may be more.
    Progress,
    /// The head event failed.
    Failed { seq: i64, failures: u32 },
}

impl Dispatcher {
    pub fn new(store: Arc<dyn Store>, config: DispatcherConfig) -> Result<Dispatcher, Error> {
        let builder = || {
            reqwest::Client::builder()
                .timeout(config.timeout)
                .connect_timeout(config.connect_timeout)
                // A redirect could lead to an address the guard never saw.
                .redirect(reqwest::redirect::Policy::none())
                // A proxy would resolve the name itself, past the guard.
                .no_proxy()
                .user_agent(concat!("Herald-Webhooks/", env!("CARGO_PKG_VERSION")))
        };
        Ok(Dispatcher {
            guarded: builder()
                .dns_resolver(Arc::new(guard::GuardedResolver))
                .build()?,
            open: builder().build()?,
            store,
            config,
            wake: Arc::new(Notify::new()),
        })
    }

    /// Notifying it makes the dispatcher look at the event log at once.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Runs until `shutdown` turns true (or its sender is dropped).
    pub fn start(self, shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run(shutdown))
    }

    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut failing: HashMap<(String, String), Failing> = HashMap::new();
        let mut more = false;
        loop {
            if *shutdown.borrow() {
                break;
            }
            if !more {
                tokio::select! {
                    r = shutdown.changed() => if r.is_err() || *shutdown.borrow() { break },
                    _ = self.wake.notified() => {},
                    _ = tokio::time::sleep(self.config.poll) => {},
                }
            }
            more = false;
            let leased = self
                .store
                .lease_webhooks(&self.config.node_id, self.config.lease, Utc::now())
                .await;
            let hooks = match leased {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list the webhooks");
                    continue;
                }
            };
            failing.retain(|k, _| {
                hooks
                    .iter()
                    .any(|h| h.webhook.sandbox == k.0 && h.webhook.id == k.1)
            });
            let now = Instant::now();
            let due: Vec<(WebhookCursor, Option<Failing>)> = hooks
                .into_iter()
                .filter_map(|h| {
                    let f = failing
                        .get(&(h.webhook.sandbox.clone(), h.webhook.id.clone()))
                        .copied();
                    match f {
                        Some(f) if f.next_try > now => None,
                        _ => Some((h, f)),
                    }
                })
                .collect();
            let all = futures::future::join_all(due.iter().map(|(h, f)| {
                let span = tracing::info_span!("webhook", sandbox = %h.webhook.sandbox, webhook_id = %h.webhook.id);
                self.round(h, *f).instrument(span)
            }));
            // A shutdown does not wait for a slow receiver: an event cut
            // off mid-call was not recorded as delivered and goes again.
            let rounds = tokio::select! {
                r = all => r,
                _ = wait_true(&mut shutdown) => break,
            };
            for ((h, _), r) in due.iter().zip(rounds) {
                let key = (h.webhook.sandbox.clone(), h.webhook.id.clone());
                match r {
                    Ok(Round::Idle) => {
                        failing.remove(&key);
                    }
                    Ok(Round::Progress) => {
                        failing.remove(&key);
                        more = true;
                    }
                    Ok(Round::Failed { seq, failures }) => {
                        let wait = self.config.backoff(failures);
                        tracing::info!(webhook_id = %h.webhook.id, seq, failures, retry_in_ms = wait.as_millis() as u64, "webhook delivery failed; retrying later");
                        failing.insert(
                            key,
                            Failing {
                                seq,
                                failures,
                                next_try: Instant::now() + wait,
                            },
                        );
                    }
                    Err(e) => {
                        tracing::warn!(webhook_id = %h.webhook.id, error = %e, "webhook round failed")
                    }
                }
            }
        }
        tracing::debug!("webhook dispatcher stopped");
    }

    /// One page of one webhook's events.
    async fn round(&self, h: &WebhookCursor, failing: Option<Failing>) -> Result<Round, Error> {
        let w = &h.webhook;
        let page = self
            .store
            .webhook_events(&w.sandbox, &w.channels, h.seq, self.config.batch)
            .await?;
        let Some(scanned_to) = page.scanned_to else {
            return Ok(Round::Idle);
        };
        let mut cursor = h.seq;
        for e in &page.events {
            let Some(body) = payload::feedback(e) else {
                continue;
            };
            let attempt = match failing {
                Some(f) if f.seq == e.seq => f.failures + 1,
                _ => 1,
            };
            let started = Instant::now();
            let result = self.send(w, e, &body).await;
            let delivered = result.is_ok();
            let (status_code, error) = match result {
                Ok(code) => (Some(code), None),
                Err((code, err)) => (code, Some(err)),
            };
            let record = WebhookDelivery {
                id: 0,
                sandbox: w.sandbox.clone(),
                webhook_id: w.id.clone(),
                event_seq: e.seq,
                message_id: e.message_id.clone(),
                attempt: i64::from(attempt),
                at: Utc::now(),
                status_code,
                error: error.clone(),
                duration_ms: started.elapsed().as_millis() as i64,
                delivered,
            };
            if delivered {
                self.store
                    .record_webhook_attempt(&w.sandbox, &w.id, Some(&record), Some(e.seq))
                    .await?;
                cursor = e.seq;
                metrics_delivered(true);
            } else {
                // What lies before the failing event is done.
                let before = (e.seq - 1 > cursor).then_some(e.seq - 1);
                self.store
                    .record_webhook_attempt(&w.sandbox, &w.id, Some(&record), before)
                    .await?;
                metrics_delivered(false);
                metrics_failed(record.status_code.is_some());
                tracing::debug!(seq = e.seq, message_id = %e.message_id, attempt, error = ?error, "webhook attempt failed");
                return Ok(Round::Failed {
                    seq: e.seq,
                    failures: attempt,
                });
            }
        }
        if scanned_to > cursor {
            self.store
                .record_webhook_attempt(&w.sandbox, &w.id, None, Some(scanned_to))
                .await?;
        }
        Ok(Round::Progress)
    }

    /// POSTs one event: its status code, or the status (when the receiver
    /// answered) and why it did not count as delivered.
    async fn send(
        &self,
        w: &Webhook,
        e: &WebhookEvent,
        body: &serde_json::Value,
    ) -> Result<u16, (Option<u16>, String)> {
        let url = reqwest::Url::parse(&w.url).map_err(|err| (None, format!("bad URL: {err}")))?;
        if !w.allow_private_network {
            guard::check_literal(&url).map_err(|err| (None, err))?;
        }
        let body = serde_json::to_vec(body).map_err(|err| (None, err.to_string()))?;
        let client = if w.allow_private_network {
            &self.open
        } else {
            &self.guarded
        };
        let now = Utc::now().timestamp();
        let mut req = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(EVENT_ID_HEADER, format!("{}-{}", w.id, e.seq));
        for (name, value) in &w.headers {
            req = req.header(name.as_str(), value.as_str());
        }
        req = match &w.auth {
            WebhookAuth::None => req,
            WebhookAuth::Hmac { secret } => {
                req.header(SIGNATURE_HEADER, auth::signature(secret, now, &body))
            }
            WebhookAuth::Bearer { token } => req.bearer_auth(token),
            WebhookAuth::Jwt {
                secret,
                issuer,
                audience,
                ttl_seconds,
            } => req.bearer_auth(auth::jwt(
                secret,
                issuer,
                audience.as_deref(),
                *ttl_seconds,
                now,
            )),
        };
        let resp = req
            .body(body)
            .send()
            .await
            .map_err(|err| (None, chain(&err)))?;
        let status = resp.status();
        if status.is_success() {
            Ok(status.as_u16())
        } else {
            Err((Some(status.as_u16()), format!("HTTP {status}")))
        }
    }
}

async fn wait_true(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

fn metrics_delivered(ok: bool) {
    let outcome = if ok { "delivered" } else { "failed" };
    metrics::counter!("herald_webhook_attempts_total", "outcome" => outcome).increment(1);
}

/// A failed webhook call, by kind: `status` (the receiver answered non-2xx) or
/// `transport` (timeout, refused connection, TLS, the private-network guard).
fn metrics_failed(answered: bool) {
    let kind = if answered { "status" } else { "transport" };
    metrics::counter!("herald_webhook_failures_total", "kind" => kind).increment(1);
}

/// An error with its causes: reqwest's own text hides the guard's refusal.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
