//! The worker loop: claim, render, send, record.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, info, info_span, warn};

use herald_domain::channel::Channel;
use herald_domain::message::{Deliverable, RenderedEmail};
use herald_mail::{FailureClass, MailTransport, OutgoingEmail, build_email, html_to_text};
use herald_store::{DeliveryOutcome, OutcomeKind, Store};

use crate::content_cache::ContentCache;
use crate::retry::RetryPolicy;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Names this worker's leases; unique per process.
    pub worker_id: String,
    /// Messages being sent at once.
    pub concurrency: usize,
    /// Messages claimed per store round trip.
    pub claim_batch: usize,
    /// How long a claimed message stays ours without an outcome.
    pub lease: Duration,
    /// The longest sleep when nothing is due and nobody wakes us.
    pub idle_poll: Duration,
    /// At light load, how long to let work gather before claiming it, and
    /// outcomes before recording them. Every claim and every record is a
    /// store commit; without this a steady trickle of triggers costs two
    /// extra commits per message and starves the API of the writer.
    pub linger: Duration,
    pub retry: RetryPolicy,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            worker_id: format!("worker-{}", std::process::id()),
            concurrency: 128,
            claim_batch: 256,
            // Longer than the slowest send (the SMTP timeout is 60 s).
            lease: Duration::from_secs(120),
            idle_poll: Duration::from_millis(500),
            linger: Duration::from_millis(5),
            retry: RetryPolicy::default(),
        }
    }
}

pub struct DeliveryEngine {
    store: Arc<dyn Store>,
    email: Arc<dyn MailTransport>,
    cache: Arc<ContentCache>,
    config: EngineConfig,
    wake: Arc<Notify>,
}

/// A running engine: wake it when work arrives, stop it gracefully.
pub struct EngineHandle {
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl EngineHandle {
    /// Tells the engine that messages were queued, so it claims now.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Stops claiming, lets every in-flight send finish and records its
    /// outcome, then returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.wake.notify_one();
        let _ = self.task.await;
    }
}

impl DeliveryEngine {
    pub fn new(store: Arc<dyn Store>, email: Arc<dyn MailTransport>, config: EngineConfig) -> Self {
        DeliveryEngine {
            store,
            email,
            cache: Arc::new(ContentCache::new(Duration::from_secs(30))),
            config,
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn start(self) -> EngineHandle {
        let (stop, stop_rx) = watch::channel(false);
        let wake = self.wake.clone();
        let task = tokio::spawn(self.run(stop_rx));
        EngineHandle { wake, stop, task }
    }

    async fn run(self, stop: watch::Receiver<bool>) {
        let me = Arc::new(self);
        let (done_tx, done_rx) = mpsc::channel::<DeliveryOutcome>(me.config.concurrency * 4);
        let recorder = tokio::spawn(record_outcomes(me.store.clone(), done_rx, me.config.linger));
        let permits = Arc::new(Semaphore::new(me.config.concurrency));
        match me.store.release_leases(&me.config.worker_id).await {
            Ok(0) => {}
            Ok(n) => info!(
                count = n,
                "took back messages this worker was sending when it last stopped"
            ),
            Err(e) => warn!(error = %e, "could not release old leases; they will expire"),
        }
        info!(worker = %me.config.worker_id, transport = %me.email.describe(), "delivery engine started");
        loop {
            if *stop.borrow() {
                break;
            }
            // Claim only what we can start now, so leases are not wasted
            // on messages that would wait in memory.
            // Claim in chunks: each claim is a store round trip (and a
            // commit), so wait until a quarter of the slots are free rather
            // than claiming one message per finished send.
            let chunk = (me.config.concurrency / 4).clamp(1, me.config.claim_batch) as u32;
            tokio::select! {
                p = permits.clone().acquire_many_owned(chunk) => drop(p),
                _ = stopped(stop.clone()) => break,
            }
            let free = permits.available_permits().min(me.config.claim_batch);
            let claimed = match me
                .store
                .claim_messages(&me.config.worker_id, free, me.config.lease, Utc::now())
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %e, "claiming messages failed; retrying shortly");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            // Fewer than asked for: everything due is claimed, so wait to
            // be woken (or for the next retry to come due) instead of
            // asking the store again right away.
            let drained = claimed.len() < free;
            debug!(count = claimed.len(), "claimed messages");
            for m in claimed {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    break;
                };
                let me = me.clone();
                let done = done_tx.clone();
                let span =
                    info_span!("deliver", message_id = %m.message_id, campaign_id = %m.campaign_id);
                tokio::spawn(
                    async move {
                        let outcome = me.deliver(m).await;
                        let _ = done.send(outcome).await;
                        drop(permit);
                    }
                    .instrument(span),
                );
            }
            if drained {
                let sleep = me.idle_sleep().await;
                tokio::select! {
                    _ = me.wake.notified() => {}
                    _ = tokio::time::sleep(sleep) => {}
                    _ = stopped(stop.clone()) => break,
                }
                // Let the triggers of the next few milliseconds join this
                // claim.
                tokio::select! {
                    _ = tokio::time::sleep(me.config.linger) => {}
                    _ = stopped(stop.clone()) => break,
                }
            }
        }
        // Graceful stop: wait until every send has returned its permit.
        let _ = permits.acquire_many(me.config.concurrency as u32).await;
        drop(done_tx);
        let _ = recorder.await;
        info!("delivery engine stopped; in-flight sends finished");
    }

    async fn idle_sleep(&self) -> Duration {
        match self.store.next_due_at().await {
            Ok(Some(at)) => (at - Utc::now())
                .to_std()
                .unwrap_or(Duration::from_millis(10))
                .min(self.config.idle_poll),
            _ => self.config.idle_poll,
        }
    }

    async fn deliver(&self, m: Deliverable) -> DeliveryOutcome {
        let worker = self.config.worker_id.clone();
        let message_id = m.message_id.clone();
        let kind = match m.channel {
            Channel::Email => self.deliver_email(&m).await,
            other => OutcomeKind::Failed {
                error: format!(
                    "the {} channel has no transport configured yet",
                    other.as_str()
                ),
                rendered: None,
            },
        };
        match &kind {
            OutcomeKind::Sent { .. } => {
                metrics::counter!("herald_messages_sent_total", "channel" => m.channel.as_str())
                    .increment(1)
            }
            OutcomeKind::Retry { .. } => {
                metrics::counter!("herald_messages_retried_total", "channel" => m.channel.as_str())
                    .increment(1)
            }
            OutcomeKind::Failed { .. } => {
                metrics::counter!("herald_messages_failed_total", "channel" => m.channel.as_str())
                    .increment(1)
            }
        }
        DeliveryOutcome {
            message_id,
            worker,
            at: Utc::now(),
            kind,
        }
    }

    async fn deliver_email(&self, m: &Deliverable) -> OutcomeKind {
        let prepared = match self.cache.get_for(self.store.as_ref(), m).await {
            Ok(p) => p,
            Err(e) => return self.transient_or_failed(m, format!("cannot prepare content: {e}")),
        };
        let Some(settings) = &prepared.configuration.email else {
            return OutcomeKind::Failed {
                error: "the channel configuration has no email settings".into(),
                rendered: None,
            };
        };
        let mut rendered: RenderedEmail = match prepared.render(m) {
            Ok(r) => r,
            Err(error) => {
                return OutcomeKind::Failed {
                    error,
                    rendered: None,
                };
            }
        };
        if rendered.text.trim().is_empty()
            && let Some(html) = &rendered.html
        {
            rendered.text = html_to_text(html);
        }
        let domain = settings
            .from_address
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("herald.local");
        // Derived from the message id: the same on every retry.
        let header_message_id = format!("{}@{}", m.message_id, domain);
        let email = OutgoingEmail {
            from_address: settings.from_address.clone(),
            from_name: settings.from_name.clone(),
            reply_to: settings.reply_to.clone(),
            to: m.address.clone(),
            subject: rendered.subject.clone(),
            preheader: rendered.preheader.clone(),
            html: rendered.html.clone(),
            text: Some(rendered.text.clone()),
            message_id: header_message_id.clone(),
            date: Utc::now(),
            extra_headers: vec![("X-Herald-Message-Id".into(), m.message_id.clone())],
            list_unsubscribe: None,
        };
        let raw = match build_email(&email) {
            Ok(raw) => raw,
            Err(e) => {
                return OutcomeKind::Failed {
                    error: format!("cannot build the email: {e}"),
                    rendered: Some(rendered),
                };
            }
        };
        match self
            .email
            .send(&settings.from_address, &m.address, &raw)
            .await
        {
            Ok(d) => OutcomeKind::Sent {
                reply: d.reply,
                rendered,
                header_message_id,
            },
            Err(e) => match e.class {
                FailureClass::Transient => self.transient_or_failed(m, e.to_string()),
                FailureClass::Permanent => OutcomeKind::Failed {
                    error: e.to_string(),
                    rendered: Some(rendered),
                },
                // It may have been delivered: never resend on our own.
                FailureClass::Unknown => OutcomeKind::Failed {
                    error: format!("outcome unknown, not retried: {e}"),
                    rendered: Some(rendered),
                },
            },
        }
    }

    fn transient_or_failed(&self, m: &Deliverable, error: String) -> OutcomeKind {
        match self.config.retry.delay_after(m.attempts) {
            Some(delay) => OutcomeKind::Retry {
                error,
                retry_at: Utc::now()
                    + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(60)),
            },
            None => OutcomeKind::Failed {
                error: format!("gave up after {} attempts: {error}", m.attempts),
                rendered: None,
            },
        }
    }
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Batches outcomes into the store's group commit.
async fn record_outcomes(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<DeliveryOutcome>,
    linger: Duration,
) {
    const MAX: usize = 512;
    let mut batch = Vec::with_capacity(MAX);
    while rx.recv_many(&mut batch, MAX).await > 0 {
        if batch.len() < MAX / 8 && !linger.is_zero() {
            // A light trickle: give the sends finishing right now a moment
            // to share this commit. A closed channel ends the wait.
            let until = tokio::time::Instant::now() + linger;
            while batch.len() < MAX {
                match tokio::time::timeout_at(until, rx.recv()).await {
                    Ok(Some(o)) => batch.push(o),
                    Ok(None) | Err(_) => break,
                }
            }
        }
        let outcomes = std::mem::take(&mut batch);
        let mut attempt = 0;
        loop {
            match store.complete_messages(outcomes.clone()).await {
                Ok(()) => break,
                Err(e) if attempt < 5 => {
                    attempt += 1;
                    warn!(error = %e, attempt, "recording outcomes failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(e) => {
                    // The leases will run out and the messages be claimed
                    // again: a possible duplicate, never a loss.
                    warn!(error = %e, "giving up recording {} outcomes", outcomes.len());
                    break;
                }
            }
        }
    }
}
