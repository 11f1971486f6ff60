//! `--inbound-smtp ADDR`: an SMTP listener for the bounces (DSN, RFC 3464)
//! and complaints (ARF, RFC 5965) that remote servers mail back, e.g. to
//! the VERP return path `bounces+<message id>@…` (point that domain's MX
//! here, or have the MX forward the bounce address to it).
//!
//! The server loop is ours on tokio, with smtp-proto (already Herald's SMTP
//! client parser, also Stalwart's server parser) reading commands and the
//! DATA stream. The embeddable server crates did not fit:
//! `mailin-embedded` runs a blocking thread per connection with no way to
//! stop it, and `samotop` is on async-std and unmaintained.
//!
//! Replies: 250 once every report in the message is recorded (or the
//! message is not a report at all: like other bounce processors it is
//! accepted, counted and dropped, since refusing it would only bounce the
//! bounce); 451 when the store fails, so the sender retries and nothing is
//! lost (recording is idempotent, a retry records nothing twice); 552 above
//! the size limit. No TLS and no AUTH: it only ever accepts reports, and
//! relays nothing.

use std::sync::Arc;
use std::time::Duration;

use chrono::{SubsecRound, Utc};
use smtp_proto::request::receiver::{DataReceiver, DummyDataReceiver, RequestReceiver};
use smtp_proto::{Error as ProtoError, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tracing::{Instrument, debug, info, info_span, warn};

use herald_domain::token::{TokenKey, TokenPurpose};
use herald_store::{ConsentChange, FeedbackRecorded, Store};

/// Limits of the listener.
#[derive(Debug, Clone)]
pub struct InboundLimits {
    /// Larger messages are refused with 552 (a report with its original
    /// attached is rarely above a few hundred kB).
    pub max_message_bytes: usize,
    /// Connections served at once; more are answered 421.
    pub max_connections: usize,
    /// Recipients per transaction.
    pub max_recipients: usize,
    /// A client silent for this long is disconnected.
    pub idle_timeout: Duration,
}

impl Default for InboundLimits {
    fn default() -> Self {
        InboundLimits {
            max_message_bytes: 10 * 1024 * 1024,
            max_connections: 64,
            max_recipients: 100,
            idle_timeout: Duration::from_secs(120),
        }
    }
}

/// Accepts connections until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    store: Arc<dyn Store>,
    token_key: Option<Arc<TokenKey>>,
    limits: InboundLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let limits = Arc::new(limits);
    let mut next_id: u64 = 0;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        let (mut stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                warn!(error = %e, "inbound SMTP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        next_id += 1;
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            let _ = stream
                .write_all(b"421 4.3.2 Too many connections, try again later\r\n")
                .await;
            continue;
        };
        let span = info_span!("inbound_smtp", connection = next_id, %peer);
        let (store, limits, key) = (store.clone(), limits.clone(), token_key.clone());
        tokio::spawn(
            async move {
                let _permit = permit;
                let _ = stream.set_nodelay(true);
                if let Err(e) = Session::new(store, key, limits).run(&mut stream).await {
                    debug!(error = %e, "inbound SMTP connection ended");
                }
            }
            .instrument(span),
        );
    }
    info!("inbound SMTP listener stopped");
}

/// One SMTP conversation.
struct Session {
    store: Arc<dyn Store>,
    /// Checks `unsubscribe+TOKEN@…` recipients (the mailto of
    /// List-Unsubscribe).
    token_key: Option<Arc<TokenKey>>,
    limits: Arc<InboundLimits>,
    mail_from: Option<String>,
    rcpts: Vec<String>,
}

enum Phase {
    Commands,
    Data(DataReceiver),
    /// Over the size limit: read to the end, keep nothing.
    Discard(DummyDataReceiver),
}

impl Session {
    fn new(
        store: Arc<dyn Store>,
        token_key: Option<Arc<TokenKey>>,
        limits: Arc<InboundLimits>,
    ) -> Session {
        Session {
            store,
            token_key,
            limits,
            mail_from: None,
            rcpts: Vec::new(),
        }
    }

    async fn run(&mut self, stream: &mut TcpStream) -> std::io::Result<()> {
        stream
            .write_all(b"220 herald ESMTP Herald inbound (bounces and complaints)\r\n")
            .await?;
        let mut receiver = RequestReceiver::default();
        let mut phase = Phase::Commands;
        let mut message = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n =
                match tokio::time::timeout(self.limits.idle_timeout, stream.read(&mut buf)).await {
                    Ok(r) => r?,
                    Err(_) => {
                        stream
                            .write_all(b"421 4.4.2 Idle too long, closing\r\n")
                            .await?;
                        return Ok(());
                    }
                };
            if n == 0 {
                return Ok(());
            }
            let mut bytes = buf[..n].iter();
            let mut out = String::new();
            loop {
                match &mut phase {
                    Phase::Commands => match receiver.ingest(&mut bytes) {
                        Ok(request) => {
                            let request = request.into_owned();
                            let (reply, next) = self.command(request);
                            out.push_str(&reply);
                            match next {
                                Next::Continue => {}
                                Next::Data => {
                                    message.clear();
                                    phase = Phase::Data(DataReceiver::new());
                                }
                                Next::Quit => {
                                    stream.write_all(out.as_bytes()).await?;
                                    return Ok(());
                                }
                            }
                        }
                        Err(ProtoError::NeedsMoreData { .. }) => break,
                        Err(e) => out.push_str(proto_error_reply(&e)),
                    },
                    Phase::Data(data) => {
                        if data.ingest(&mut bytes, &mut message) {
                            // Answer what came before first: the store may
                            // take a moment.
                            stream.write_all(out.as_bytes()).await?;
                            out.clear();
                            let reply = self.message(&message).await;
                            out.push_str(&reply);
                            message = Vec::new();
                            self.reset();
                            phase = Phase::Commands;
                        } else {
                            if message.len() > self.limits.max_message_bytes {
                                phase = Phase::Discard(DummyDataReceiver::new_data(data));
                                message = Vec::new();
                            }
                            break;
                        }
                    }
                    Phase::Discard(dummy) => {
                        if dummy.ingest(&mut bytes) {
                            out.push_str("552 5.3.4 Message too big\r\n");
                            self.reset();
                            phase = Phase::Commands;
                        } else {
                            break;
                        }
                    }
                }
                if bytes.as_slice().is_empty() && matches!(phase, Phase::Commands) {
                    break;
                }
            }
            if !out.is_empty() {
                stream.write_all(out.as_bytes()).await?;
            }
        }
    }

    fn reset(&mut self) {
        self.mail_from = None;
        self.rcpts.clear();
    }

    fn command(&mut self, request: Request<String>) -> (String, Next) {
        let max = self.limits.max_message_bytes;
        let reply = match request {
            Request::Ehlo { .. } | Request::Lhlo { .. } => {
                self.reset();
                format!(
                    "250-herald\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n\
                     250-ENHANCEDSTATUSCODES\r\n250 SIZE {max}\r\n"
                )
            }
            Request::Helo { .. } => {
                self.reset();
                "250 herald\r\n".into()
            }
            Request::Mail { from } => {
                if from.size > max {
                    "552 5.3.4 Message too big\r\n".into()
                } else {
                    self.reset();
                    // Bounces come from the null sender `<>`.
                    self.mail_from = Some(from.address);
                    "250 2.1.0 OK\r\n".into()
                }
            }
            Request::Rcpt { to } => {
                if self.mail_from.is_none() {
                    "503 5.5.1 MAIL first\r\n".into()
                } else if self.rcpts.len() >= self.limits.max_recipients {
                    "452 4.5.3 Too many recipients\r\n".into()
                } else {
                    self.rcpts.push(to.address);
                    "250 2.1.5 OK\r\n".into()
                }
            }
            Request::Data => {
                if self.rcpts.is_empty() {
                    "503 5.5.1 RCPT first\r\n".into()
                } else {
                    return ("354 End data with <CR><LF>.<CR><LF>\r\n".into(), Next::Data);
                }
            }
            Request::Rset => {
                self.reset();
                "250 2.0.0 OK\r\n".into()
            }
            Request::Noop { .. } => "250 2.0.0 OK\r\n".into(),
            Request::Quit => return ("221 2.0.0 Bye\r\n".into(), Next::Quit),
            Request::Vrfy { .. } => "252 2.5.2 Cannot verify\r\n".into(),
            // Not offered in EHLO: CHUNKING, STARTTLS, AUTH and the rest.
            _ => "502 5.5.1 Command not implemented\r\n".into(),
        };
        (reply, Next::Continue)
    }

    /// Parses and records one received message; the reply to its DATA.
    async fn message(&self, raw: &[u8]) -> String {
        if let Some(reply) = self.mailto_unsubscribe().await {
            return reply;
        }
        let events = match herald_inbound::events(raw, &self.rcpts) {
            Ok(events) => events,
            Err(why) => {
                metrics::counter!("herald_inbound_ignored_total").increment(1);
                info!(reason = %why, bytes = raw.len(), rcpt = ?self.rcpts, "inbound mail is not a report; accepted and ignored");
                return "250 2.0.0 Accepted (not a bounce or feedback report; ignored)\r\n".into();
            }
        };
        let now = Utc::now().trunc_subsecs(3);
        let mut recorded = 0;
        for e in &events {
            let source = e.source.as_str();
            match self.store.record_feedback(None, e, now).await {
                Ok(FeedbackRecorded::Recorded {
                    message_id,
                    sandbox,
                    suppressed,
                }) => {
                    recorded += 1;
                    info!(message_id, sandbox, kind = e.event_status(), reason = ?e.reason(),
                        status = ?e.status, suppressed, "feedback recorded");
                    metrics::counter!("herald_feedback_total", "source" => source, "outcome" => "recorded")
                        .increment(1);
                }
                Ok(FeedbackRecorded::Duplicate { message_id }) => {
                    debug!(message_id, "feedback already recorded");
                    metrics::counter!("herald_feedback_total", "source" => source, "outcome" => "duplicate")
                        .increment(1);
                }
                Ok(FeedbackRecorded::Unmatched) => {
                    info!(message_id = ?e.message_id, header_message_id = ?e.header_message_id,
                        recipient = ?e.recipient, "feedback matches no message");
                    metrics::counter!("herald_feedback_total", "source" => source, "outcome" => "unmatched")
                        .increment(1);
                }
                Err(err) => {
                    // What was recorded stays; the retry records the rest.
                    warn!(error = %err, "cannot record feedback; asking the sender to retry");
                    return "451 4.3.0 Temporary failure, try again later\r\n".into();
                }
            }
        }
        format!(
            "250 2.0.0 OK: {} report(s), {recorded} recorded\r\n",
            events.len()
        )
    }
}

impl Session {
    /// A mail to `unsubscribe+TOKEN@…` (List-Unsubscribe's mailto, RFC
    /// 2369): its content does not matter, the signed token in the address
    /// names the message. `None` when no recipient is such an address.
    async fn mailto_unsubscribe(&self) -> Option<String> {
        let key = self.token_key.as_ref()?;
        let mut reply = None;
        for rcpt in &self.rcpts {
            let Some(token) = rcpt
                .split_once('@')
                .and_then(|(local, _)| local.strip_prefix("unsubscribe+"))
            else {
                continue;
            };
            let Ok(claims) = key.verify(token) else {
                info!(rcpt, "unsubscribe mail with an invalid token; ignored");
                reply.get_or_insert_with(|| {
                    "250 2.0.0 Accepted (unknown unsubscribe address)\r\n".to_owned()
                });
                continue;
            };
            if claims.purpose != TokenPurpose::Unsubscribe {
                continue;
            }
            let change = ConsentChange {
                message_id: claims.message_id.clone(),
                unsubscribe: true,
                at: Utc::now().trunc_subsecs(3),
                source: "mailto".into(),
            };
            match self.store.change_consent(&change).await {
                Ok(outcome) => {
                    info!(
                        message_id = claims.message_id,
                        ?outcome,
                        "unsubscribe by mail"
                    );
                    reply = Some("250 2.0.0 OK: unsubscribed\r\n".to_owned());
                }
                Err(err) => {
                    warn!(error = %err, "cannot record an unsubscribe by mail; asking the sender to retry");
                    return Some("451 4.3.0 Temporary failure, try again later\r\n".into());
                }
            }
        }
        reply
    }
}

enum Next {
    Continue,
    Data,
    Quit,
}

fn proto_error_reply(e: &ProtoError) -> &'static str {
    match e {
        ProtoError::UnknownCommand => "500 5.5.1 Unknown command\r\n",
        ProtoError::InvalidSenderAddress => "501 5.1.7 Bad sender address syntax\r\n",
        ProtoError::InvalidRecipientAddress => "501 5.1.3 Bad recipient address syntax\r\n",
        ProtoError::ResponseTooLong => "500 5.5.2 Line too long\r\n",
        ProtoError::UnsupportedParameter { .. } | ProtoError::InvalidParameter { .. } => {
            "504 5.5.4 Parameter not supported\r\n"
        }
        _ => "501 5.5.4 Syntax error\r\n",
    }
}
