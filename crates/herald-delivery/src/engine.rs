//! The worker loop: claim, render, send, record.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, info, info_span, warn};
use uuid::Uuid;

use herald_channels::{ErrorClass, PushMessage, PushPlatform, SmsMessage};
use herald_domain::channel::Channel;
use herald_domain::delivery_settings::{QuietMode, ReplyClass};
use herald_domain::message::{Deliverable, RenderedEmail, reasons};
use herald_domain::suppression::Suppression;
use herald_mail::{FailureClass, MailTransport, html_to_text};
use herald_store::{ClaimRequest, DeliveryOutcome, Lane, OutcomeKind, Store, failure_reason};

use crate::channels::Channels;
use crate::clock::{Clock, SystemClock};
use crate::content_cache::{ContentCache, Prepared};
use crate::email::{EmailBuilder, EmailInput};
use crate::gates::{Gate, Gates};
use crate::limits::Domains;
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
    /// Server-wide retry defaults; a channel configuration's `delivery`
    /// settings override them.
    pub retry: RetryPolicy,
    /// Sends in flight for transactional messages, apart from marketing's:
    /// a marketing backlog never holds these.
    pub transactional_concurrency: usize,
    /// Sends in flight to one destination domain at most.
    pub per_domain_concurrency: usize,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for dyn Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
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
            transactional_concurrency: 32,
            per_domain_concurrency: 32,
            clock: Arc::new(SystemClock),
        }
    }
}

pub struct DeliveryEngine {
    store: Arc<dyn Store>,
    email: Arc<dyn MailTransport>,
    cache: Arc<ContentCache>,
    gates: Gates,
    domains: Domains,
    channels: Option<Arc<Channels>>,
    email_builder: EmailBuilder,
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

/// What one send attempt came to, before it is turned into an outcome.
enum Attempt {
    Sent {
        reply: String,
        rendered: RenderedEmail,
        header_message_id: String,
    },
    Failed {
        class: FailureClass,
        error: String,
        rendered: Option<RenderedEmail>,
        /// The destination's server answered (a reply code), as opposed to
        /// a fault on the way (connection refused, a relay down): only the
        /// former counts against the destination domain.
        from_server: bool,
    },
    /// Decided without a retry policy (e.g. an invalid push token).
    Outcome(OutcomeKind),
}

impl DeliveryEngine {
    pub fn new(store: Arc<dyn Store>, email: Arc<dyn MailTransport>, config: EngineConfig) -> Self {
        DeliveryEngine {
            store,
            email,
            cache: Arc::new(ContentCache::new(Duration::from_secs(30))),
            gates: Gates::default(),
            domains: Domains::new(config.per_domain_concurrency),
            channels: None,
            email_builder: EmailBuilder::new(None, "http://localhost:8080"),
            config,
            wake: Arc::new(Notify::new()),
        }
    }

    /// How emails are built: the token key for unsubscribe links and the
    /// public URL they point to.
    pub fn with_email_builder(mut self, builder: EmailBuilder) -> Self {
        self.email_builder = builder;
        self
    }

    /// SMS and push transports (without them those messages fail).
    pub fn with_channels(mut self, channels: Arc<Channels>) -> Self {
        self.channels = Some(channels);
        self
    }

    pub fn start(self) -> EngineHandle {
        let (stop, stop_rx) = watch::channel(false);
        let wake = self.wake.clone();
        let task = tokio::spawn(self.run(stop_rx));
        EngineHandle { wake, stop, task }
    }

    fn now(&self) -> DateTime<Utc> {
        self.config.clock.now()
    }

    async fn run(self, stop: watch::Receiver<bool>) {
        let me = Arc::new(self);
        let (done_tx, done_rx) = mpsc::channel::<DeliveryOutcome>(me.config.concurrency * 4);
        let recorder = tokio::spawn(record_outcomes(me.store.clone(), done_rx, me.config.linger));
        match me.store.release_leases(&me.config.worker_id).await {
            Ok(0) => {}
            Ok(n) => info!(
                count = n,
                "took back messages this worker was sending when it last stopped"
            ),
            Err(e) => warn!(error = %e, "could not release old leases; they will expire"),
        }
        info!(worker = %me.config.worker_id, transport = %me.email.describe(), "delivery engine started");
        // One waker for the outside; each lane has its own, so a wake-up
        // reaches both.
        let lanes = [
            (
                Lane::Transactional,
                me.config.transactional_concurrency.max(1),
            ),
            (Lane::Marketing, me.config.concurrency.max(1)),
        ];
        let lane_wakes: Vec<Arc<Notify>> = lanes.iter().map(|_| Arc::new(Notify::new())).collect();
        let forward = {
            let (outer, inner, mut stop) = (me.wake.clone(), lane_wakes.clone(), stop.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = outer.notified() => {}
                        _ = stop.changed() => {}
                    }
                    for w in &inner {
                        w.notify_one();
                    }
                    if *stop.borrow() {
                        return;
                    }
                }
            })
        };
        let mut tasks = Vec::new();
        for ((lane, slots), wake) in lanes.into_iter().zip(lane_wakes) {
            tasks.push(tokio::spawn(me.clone().run_lane(
                lane,
                slots,
                wake,
                done_tx.clone(),
                stop.clone(),
            )));
        }
        for t in tasks {
            let _ = t.await;
        }
        forward.abort();
        drop(done_tx);
        let _ = recorder.await;
        info!("delivery engine stopped; in-flight sends finished");
    }

    async fn run_lane(
        self: Arc<Self>,
        lane: Lane,
        slots: usize,
        wake: Arc<Notify>,
        done_tx: mpsc::Sender<DeliveryOutcome>,
        stop: watch::Receiver<bool>,
    ) {
        let me = self;
        let permits = Arc::new(Semaphore::new(slots));
        loop {
            if *stop.borrow() {
                break;
            }
            // Claim in chunks: each claim is a store round trip (and a
            // commit), so wait until a quarter of the slots are free rather
            // than claiming one message per finished send.
            let chunk = (slots / 4).clamp(1, me.config.claim_batch) as u32;
            tokio::select! {
                p = permits.clone().acquire_many_owned(chunk) => drop(p),
                _ = stopped(stop.clone()) => break,
            }
            let free = permits.available_permits().min(me.config.claim_batch);
            let now = me.now();
            let claimed = match me
                .store
                .claim(ClaimRequest {
                    worker: me.config.worker_id.clone(),
                    limit: free,
                    lease: me.config.lease,
                    now,
                    lane,
                    skip_domains: me.domains.paused(now),
                })
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %e, ?lane, "claiming messages failed; retrying shortly");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            // Fewer than asked for: everything due is claimed, so wait to
            // be woken (or for the next retry to come due) instead of
            // asking the store again right away.
            let drained = claimed.len() < free;
            debug!(count = claimed.len(), ?lane, "claimed messages");
            for m in claimed {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    break;
                };
                let me = me.clone();
                let done = done_tx.clone();
                let span = info_span!("deliver", message_id = %m.message_id, execution_id = %m.execution_id, campaign_id = %m.campaign_id);
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
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(sleep) => {}
                    _ = stopped(stop.clone()) => break,
                }
                // Let the triggers of the next few milliseconds join this
                // claim (marketing only: a transactional message goes at once).
                if lane != Lane::Transactional {
                    tokio::select! {
                        _ = tokio::time::sleep(me.config.linger) => {}
                        _ = stopped(stop.clone()) => break,
                    }
                }
            }
        }
        // Graceful stop: wait until every send has returned its permit.
        let _ = permits.acquire_many(slots as u32).await;
    }

    async fn idle_sleep(&self) -> Duration {
        match self.store.next_due_at().await {
            Ok(Some(at)) => (at - self.now())
                .to_std()
                .unwrap_or(Duration::from_millis(10))
                .min(self.config.idle_poll),
            _ => self.config.idle_poll,
        }
    }

    async fn deliver(&self, m: Deliverable) -> DeliveryOutcome {
        let worker = self.config.worker_id.clone();
        let message_id = m.message_id.clone();
        let kind = self.attempt(&m).await;
        let label = match &kind {
            OutcomeKind::Sent { .. } => "sent",
            OutcomeKind::Retry { .. } => "retried",
            OutcomeKind::Failed { .. } => "failed",
            OutcomeKind::Unknown { .. } => "unknown",
            OutcomeKind::Bounced { .. } => "bounced",
            OutcomeKind::Excluded { .. } => "excluded",
            OutcomeKind::Deferred { .. } => "deferred",
        };
        metrics::counter!("herald_delivery_outcomes_total", "channel" => m.channel.as_str(), "outcome" => label)
            .increment(1);
        DeliveryOutcome {
            message_id,
            worker,
            at: self.now(),
            kind,
        }
    }

    /// Everything that stands between a claimed message and its send, in
    /// order: the throttle window, the content, the message's age, quiet
    /// hours, a paused domain, the rate; then the send and its reply.
    async fn attempt(&self, m: &Deliverable) -> OutcomeKind {
        let now = self.now();
        if m.expires_at.is_some_and(|e| e <= now) {
            return OutcomeKind::Excluded {
                reason: reasons::THROTTLE_WINDOW_EXPIRED.into(),
                detail: "the throttled send's 12 h window ended before this message's turn".into(),
            };
        }
        let prepared = match self.cache.get_for(self.store.as_ref(), m).await {
            Ok(p) => p,
            Err(e) => {
                let gate = Gate::fallback(&self.config.retry);
                return self.transient_or_failed(
                    m,
                    &gate,
                    format!("cannot prepare content: {e}"),
                    None,
                );
            }
        };
        let gate = self.gates.get(&prepared.configuration, &self.config.retry);
        if m.attempts > 1 && now - m.created_at > gate.settings.max_age() {
            return OutcomeKind::Failed {
                error: format!(
                    "expired: not delivered within {} s of being accepted",
                    gate.settings.max_age().num_seconds()
                ),
                reason: failure_reason::MAX_AGE.into(),
                rendered: None,
            };
        }
        if m.priority >= 1
            && let Some(q) = &gate.settings.quiet_hours
        {
            let zone = q
                .zone_paths()
                .iter()
                .find_map(|p| dotted(&m.profile, p))
                .and_then(|v| v.as_str().map(str::to_string));
            if let Some(end) = q.window_end(now, zone.as_deref()) {
                return match q.mode {
                    QuietMode::Discard => OutcomeKind::Excluded {
                        reason: reasons::QUIET_HOURS.into(),
                        detail: format!("inside quiet hours {}–{}", q.start, q.end),
                    },
                    QuietMode::Queue => OutcomeKind::Deferred {
                        detail: format!("quiet hours {}–{}", q.start, q.end),
                        until: end,
                    },
                };
            }
        }
        let domain = (m.channel == Channel::Email)
            .then(|| email_domain(&m.address))
            .flatten();
        if let Some(d) = &domain
            && let Some(until) = self.domains.paused_until(d, now)
        {
            return OutcomeKind::Deferred {
                detail: format!("{d} is paused after repeated temporary failures"),
                until,
            };
        }
        if let Err(until) = gate.take_token(now) {
            return OutcomeKind::Deferred {
                detail: "the channel configuration's send rate".into(),
                until,
            };
        }
        // Caps on sends in flight: the configuration's connections, then
        // the destination domain's share.
        let _connection = match &gate.connections {
            Some(s) => s.clone().acquire_owned().await.ok(),
            None => None,
        };
        let _domain_slot = match &domain {
            Some(d) => self.domains.slots(d).acquire_owned().await.ok(),
            None => None,
        };
        let attempt = match (m.channel, &self.channels) {
            (Channel::Email, _) => self.deliver_email(m, &prepared).await,
            (Channel::Sms, Some(ch)) => self.deliver_sms(m, &prepared, ch).await,
            (Channel::Push, Some(ch)) => self.deliver_push(m, &prepared, ch).await,
            (other, None) => Attempt::Failed {
                class: FailureClass::Permanent,
                error: format!("this node has no {} transport", other.as_str()),
                rendered: None,
                from_server: false,
            },
        };
        self.conclude(m, &gate, domain.as_deref(), attempt)
    }

    /// Turns an attempt into the outcome to record: reply overrides, the
    /// retry policy, hard bounces, the domain breaker.
    fn conclude(
        &self,
        m: &Deliverable,
        gate: &Gate,
        domain: Option<&str>,
        attempt: Attempt,
    ) -> OutcomeKind {
        let (class, error, rendered, from_server) = match attempt {
            Attempt::Outcome(k) => return k,
            Attempt::Sent {
                reply,
                rendered,
                header_message_id,
            } => {
                if let Some(d) = domain {
                    self.domains.succeeded(d);
                }
                return OutcomeKind::Sent {
                    reply,
                    rendered,
                    header_message_id,
                };
            }
            Attempt::Failed {
                class,
                error,
                rendered,
                from_server,
            } => (class, error, rendered, from_server),
        };
        // A configured pattern wins over the reply code, except for an
        // unknown outcome: that one may have been delivered.
        let class = match (class, gate.overrides.class_of(&error)) {
            (FailureClass::Unknown, _) | (_, None) => class,
            (_, Some(ReplyClass::Transient)) => FailureClass::Transient,
            (_, Some(ReplyClass::Permanent)) => FailureClass::Permanent,
        };
        match class {
            FailureClass::Transient => {
                if let Some(d) = domain.filter(|_| from_server)
                    && let Some(until) = self.domains.failed(d, self.now())
                {
                    warn!(domain = d, %until, "destination domain keeps failing; paused");
                }
                self.transient_or_failed(m, gate, error, rendered)
            }
            FailureClass::Unknown => OutcomeKind::Unknown {
                error: format!("outcome unknown, not retried: {error}"),
                rendered,
            },
            FailureClass::Permanent => {
                if m.channel == Channel::Email && is_hard_bounce(&error) {
                    let suppression = Suppression {
                        id: Uuid::now_v7().to_string(),
                        sandbox: m.sandbox.clone(),
                        channel: m.channel,
                        address: Some(m.address.clone()),
                        domain: None,
                        reason: "hardBounce".into(),
                        source: "bounce".into(),
                        created_at: self.now(),
                    };
                    OutcomeKind::Bounced {
                        error,
                        rendered,
                        suppression: (m.proof.is_none()).then_some(suppression),
                    }
                } else {
                    OutcomeKind::Failed {
                        error,
                        reason: if from_server {
                            failure_reason::PERMANENT_REPLY
                        } else {
                            failure_reason::CANNOT_SEND
                        }
                        .into(),
                        rendered,
                    }
                }
            }
        }
    }

    async fn deliver_email(&self, m: &Deliverable, prepared: &Prepared) -> Attempt {
        if prepared.configuration.email.is_none() {
            return permanent("the channel configuration has no email settings".into());
        }
        let marketing = m.priority >= 1;
        let unsubscribe_url = prepared
            .configuration
            .email
            .as_ref()
            .filter(|s| marketing || s.list_unsubscribe)
            .and_then(|_| {
                self.email_builder
                    .unsubscribe_url(&prepared.configuration, &m.message_id)
            });
        let mut rendered: RenderedEmail = match prepared.render_with(m, unsubscribe_url.as_deref())
        {
            Ok(r) => r,
            Err(error) => {
                return Attempt::Failed {
                    class: FailureClass::Permanent,
                    error,
                    rendered: None,
                    from_server: false,
                };
            }
        };
        if rendered.text.trim().is_empty()
            && let Some(html) = &rendered.html
        {
            rendered.text = html_to_text(html);
        }
        // Message-ID derived from the message id (the same on every retry),
        // List-Unsubscribe for marketing, the DKIM signature of the From
        // domain's key.
        let built = match self.email_builder.build(&EmailInput {
            configuration: &prepared.configuration,
            message_id: &m.message_id,
            rendered: &rendered,
            to: &m.address,
            marketing,
            tracking: prepared.tracking,
            date: Utc::now(),
        }) {
            Ok(b) => b,
            Err(e) => {
                return Attempt::Failed {
                    class: FailureClass::Permanent,
                    error: format!("cannot build the email: {e}"),
                    rendered: Some(rendered),
                    from_server: false,
                };
            }
        };
        rendered.links = built.links;
        match self
            .email
            .send(&built.envelope_from, &m.address, &built.raw)
            .await
        {
            Ok(d) => Attempt::Sent {
                reply: d.reply,
                rendered,
                header_message_id: built.header_message_id,
            },
            Err(e) => Attempt::Failed {
                class: e.class,
                error: e.to_string(),
                rendered: Some(rendered),
                from_server: e.code.is_some(),
            },
        }
    }

    async fn deliver_sms(&self, m: &Deliverable, prepared: &Prepared, ch: &Channels) -> Attempt {
        let mut rendered = match prepared.render(m) {
            Ok(r) => r,
            Err(error) => return permanent(error),
        };
        if prepared.tracking.clicks && m.proof.is_none() {
            match self.email_builder.track_text_links(
                &prepared.configuration,
                &m.message_id,
                &rendered.text,
            ) {
                Ok((text, links)) => {
                    rendered.text = text;
                    rendered.links = links;
                }
                Err(e) => return permanent(format!("cannot track the SMS links: {e}")),
            }
        }
        let (transport, settings) = match ch.sms_for(&prepared.configuration) {
            Ok(t) => t,
            Err(e) => return permanent(format!("the SMS settings are not usable: {e}")),
        };
        let from = settings
            .and_then(|s| s.from)
            .or_else(|| {
                prepared
                    .configuration
                    .sms
                    .as_ref()
                    .and_then(|v| v.get("from").or_else(|| v.get("sender")))
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_default();
        let msg = SmsMessage {
            message_id: m.message_id.clone(),
            to: m.address.clone(),
            from,
            text: rendered.text.clone(),
        };
        match transport.send(&msg).await {
            Ok(r) => {
                rendered.segments = Some(r.segments as u32);
                rendered.encoding = Some(r.encoding.as_str().to_string());
                Attempt::Sent {
                    reply: r.reply,
                    rendered,
                    header_message_id: r
                        .provider_message_id
                        .unwrap_or_else(|| m.message_id.clone()),
                }
            }
            Err(e) => {
                let size = herald_domain::sms_encoding::size(&rendered.text);
                rendered.segments = Some(size.segments as u32);
                rendered.encoding = Some(size.encoding.as_str().to_string());
                Attempt::Failed {
                    class: channel_class(e.class),
                    error: e.to_string(),
                    rendered: Some(rendered),
                    from_server: false,
                }
            }
        }
    }

    async fn deliver_push(&self, m: &Deliverable, prepared: &Prepared, ch: &Channels) -> Attempt {
        let rendered = match prepared.render(m) {
            Ok(r) => r,
            Err(error) => return permanent(error),
        };
        let (transport, settings) = match ch.push_for(&prepared.configuration) {
            Ok(t) => t,
            Err(e) => return permanent(format!("the push settings are not usable: {e}")),
        };
        let platforms = settings.map(|s| s.platforms()).unwrap_or_default();
        // APNs device tokens are 64 hex digits; FCM registration tokens are not.
        let platform = match platforms.as_slice() {
            [one] => *one,
            _ if m.address.len() == 64 && m.address.chars().all(|c| c.is_ascii_hexdigit()) => {
                PushPlatform::Apns
            }
            _ => PushPlatform::Fcm,
        };
        let msg = PushMessage {
            message_id: m.message_id.clone(),
            platform,
            token: m.address.clone(),
            title: rendered.subject.clone(),
            body: rendered.text.clone(),
            data: serde_json::Map::new(),
            image: None,
        };
        match transport.send(&msg).await {
            Ok(r) => Attempt::Sent {
                reply: r.reply,
                rendered,
                header_message_id: r
                    .provider_message_id
                    .unwrap_or_else(|| m.message_id.clone()),
            },
            Err(e) if e.class == ErrorClass::InvalidToken => {
                if let Some(profile) = &m.profile_id {
                    match self
                        .store
                        .remove_push_token(&m.sandbox, profile, &m.address, self.now())
                        .await
                    {
                        Ok(removed) => debug!(removed, "invalid push token taken off the profile"),
                        Err(err) => warn!(error = %err, "could not remove an invalid push token"),
                    }
                }
                Attempt::Outcome(OutcomeKind::Excluded {
                    reason: reasons::PUSH_TOKEN_INVALID.into(),
                    detail: e.to_string(),
                })
            }
            Err(e) => Attempt::Failed {
                class: channel_class(e.class),
                error: e.to_string(),
                rendered: Some(rendered),
                from_server: false,
            },
        }
    }

    fn transient_or_failed(
        &self,
        m: &Deliverable,
        gate: &Gate,
        error: String,
        rendered: Option<RenderedEmail>,
    ) -> OutcomeKind {
        let now = self.now();
        match gate.retry.delay_after(m.attempts) {
            Some(delay) => {
                let retry_at = now
                    + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(60));
                if retry_at - m.created_at > gate.settings.max_age() {
                    return OutcomeKind::Failed {
                        error: format!(
                            "gave up: the next try would be past the maximum age of {} s: {error}",
                            gate.settings.max_age().num_seconds()
                        ),
                        reason: failure_reason::MAX_AGE.into(),
                        rendered,
                    };
                }
                OutcomeKind::Retry { error, retry_at }
            }
            None => OutcomeKind::Failed {
                error: format!("gave up after {} attempts: {error}", m.attempts),
                reason: failure_reason::MAX_ATTEMPTS.into(),
                rendered,
            },
        }
    }
}

fn permanent(error: String) -> Attempt {
    Attempt::Failed {
        class: FailureClass::Permanent,
        error,
        rendered: None,
        from_server: false,
    }
}

fn channel_class(c: ErrorClass) -> FailureClass {
    match c {
        ErrorClass::Transient => FailureClass::Transient,
        ErrorClass::Unknown => FailureClass::Unknown,
        ErrorClass::Permanent | ErrorClass::InvalidToken => FailureClass::Permanent,
    }
}

/// The value at a dotted path (`person.timeZone`).
fn dotted<'a>(v: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

/// The lower-cased domain of an email address.
fn email_domain(address: &str) -> Option<String> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

/// A permanent rejection because of the address itself (RFC 3463: 5.1.x
/// bad destination address, 5.2.1 mailbox disabled), or, without an
/// enhanced code, a 550/551/553 to RCPT TO. Content or policy rejections
/// (5.7.x, 554 after DATA) are failures, not bounces: the address is fine.
pub fn is_hard_bounce(reply: &str) -> bool {
    let enhanced = reply.split_whitespace().find_map(|w| {
        let w = w.trim_matches(|c: char| !c.is_ascii_digit() && c != '.');
        let mut parts = w.split('.');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), Some(c), None)
                if a.len() == 1
                    && !b.is_empty()
                    && !c.is_empty()
                    && [a, b, c]
                        .iter()
                        .all(|p| p.chars().all(|c| c.is_ascii_digit())) =>
            {
                Some((a.to_string(), b.to_string(), c.to_string()))
            }
            _ => None,
        }
    });
    match enhanced {
        Some((class, subject, detail)) => {
            class == "5" && (subject == "1" || (subject == "2" && detail == "1"))
        }
        None => reply.contains("RCPT") && ["550", "551", "553"].iter().any(|c| reply.contains(c)),
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

#[cfg(test)]
mod tests {
    use super::is_hard_bounce;

    #[test]
    fn hard_bounces_are_address_faults() {
        for r in [
            "permanent failure (550): RCPT TO failed: 550 5.1.1 <x@example.com>: user unknown",
            "permanent failure (550): RCPT TO failed: 550 5.2.1 mailbox disabled",
            "permanent failure (553): RCPT TO failed: 553 5.1.3 bad address syntax",
            "permanent failure (550): RCPT TO failed: 550 no such user here",
        ] {
            assert!(is_hard_bounce(r), "{r}");
        }
        for r in [
            "permanent failure (554): DATA failed: 554 5.7.1 message rejected as spam",
            "permanent failure (550): RCPT TO failed: 550 5.7.1 relaying denied",
            "permanent failure (552): DATA failed: 552 5.3.4 message too big",
            "permanent failure (554): DATA failed: 554 transaction failed",
            "transient failure (450): RCPT TO failed: 450 4.1.1 try later",
        ] {
            assert!(!is_hard_bounce(r), "{r}");
        }
    }
}
