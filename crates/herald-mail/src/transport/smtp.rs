//! SMTP delivery through `mail-send`'s stage-level client with our own small
//! connection pool.
//!
//! Every connection has `TCP_NODELAY` set and the dot-stuffed message plus the
//! terminating `.` go out in a single write, so Nagle's algorithm and the
//! receiver's delayed ACK cannot add ~40 ms per message.
//!
//! # Pool
//!
//! Idle connections are kept LIFO, at most `pool_size` of them, and dropped
//! once idle for more than [`IDLE_LIMIT`]. Concurrency is limited by the
//! caller: a `send` that finds no idle connection opens a new one. A connection
//! goes back to the pool only after a completed transaction, or after a clean
//! 4xx/5xx reply followed by a successful `RSET`; any I/O, protocol or timeout
//! error discards it. A pooled connection the server closed while idle (the
//! error shows up at `MAIL FROM`, before anything was accepted) is discarded
//! and the message is retried on another connection.
//!
//! # Failure classification
//!
//! - a 4xx reply → `Transient`; a 5xx reply → `Permanent` (with the code),
//!   except authentication failures (530/534/535/538), which are a sender
//!   configuration problem and so `Transient`, not the recipient's fault;
//! - connect, TLS and greeting/EHLO failures (refused, DNS, handshake, a
//!   missing STARTTLS when `tls=starttls`) and I/O errors or timeouts before
//!   the message data is written → `Transient`;
//! - a local client error (an envelope address we cannot send, e.g. non-ASCII
//!   to a server without SMTPUTF8, or no authentication mechanism in common)
//!   → `Permanent`: resending the same bytes to the same server cannot succeed;
//! - an I/O error, malformed reply or timeout (ours or the per-session
//!   deadline) *after the message data started being written* — while writing
//!   it or waiting for the final reply → `Unknown`: the server may have
//!   accepted the message, so it must not be retried automatically.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mail_send::smtp::AssertReply;
use mail_send::smtp::message::Parameters;
use mail_send::{Credentials, SmtpClient, SmtpClientBuilder};
use smtp_proto::{EXT_SMTP_UTF8, EXT_START_TLS, EhloResponse, Response};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

use super::{ConfigError, Delivered, FailureClass, MailTransport, SendError};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle pooled connections older than this are closed instead of reused.
const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// Upper bound for the `RSET` that makes a connection reusable after a
/// rejected transaction.
const RSET_TIMEOUT: Duration = Duration::from_secs(5);

/// Pooled SMTP client. Cheap to share behind an `Arc`; connections are reused
/// across `send` calls (up to `pool_size` idle connections are kept).
pub struct SmtpTransport {
    host: String,
    port: u16,
    tls_mode: TlsMode,
    /// Holds the TLS connector (and server name); `None` for `tls=none`.
    tls: Option<SmtpClientBuilder<String>>,
    credentials: Option<Credentials<String>>,
    helo_name: String,
    timeout: Duration,
    pool_size: usize,
    idle: Mutex<Vec<Idle>>,
    description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsMode {
    None,
    Opportunistic,
    Required,
    Implicit,
}

impl TlsMode {
    fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Opportunistic => "opportunistic",
            Self::Required => "starttls",
            Self::Implicit => "implicit",
        }
    }
}

/// Plain or TLS stream behind one type, so the pool holds a single kind.
trait IoStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> IoStream for T {}

struct Connection {
    client: SmtpClient<Box<dyn IoStream>>,
    smtputf8: bool,
}

struct Idle {
    connection: Connection,
    since: Instant,
}

/// Where in the session an error happened; decides its classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Connect,
    Tls,
    Greeting,
    Hello,
    Auth,
    MailFrom,
    RcptTo,
    Data,
    /// The message data is being written or its final reply awaited.
    Payload,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Tls => "TLS handshake",
            Self::Greeting => "greeting",
            Self::Hello => "EHLO",
            Self::Auth => "AUTH",
            Self::MailFrom => "MAIL FROM",
            Self::RcptTo => "RCPT TO",
            Self::Data => "DATA",
            Self::Payload => "message data",
        }
    }
}

impl SmtpTransport {
    /// Accepts `smtp://host[:port]` (plain, port 25),
    /// `smtp://host:587?tls=starttls|required|opportunistic|none`,
    /// `smtps://user:pass@host[:465]` (implicit TLS) and `timeout=10s|500ms|2m`.
    /// Credentials are percent-decoded. `timeout` (default 60s) bounds both the
    /// TCP connect and each whole `send`. `cafile=/path/ca.pem` trusts the PEM
    /// certificates in that file instead of the built-in web PKI roots (a
    /// private CA, or a self-signed relay in tests); the host name is still
    /// checked.
    pub fn from_url(url: &str, pool_size: u32) -> Result<SmtpTransport, ConfigError> {
        let parsed = Url::parse(url).map_err(|e| ConfigError::InvalidUrl(e.to_string()))?;
        let implicit = match parsed.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => return Err(ConfigError::UnsupportedScheme(other.to_owned())),
        };
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| ConfigError::InvalidUrl("missing host".to_owned()))?;
        // IPv6 literals come bracketed from the URL; sockets want them bare.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = parsed.port().unwrap_or(if implicit { 465 } else { 25 });

        let mut tls_mode = if implicit {
            TlsMode::Implicit
        } else {
            TlsMode::None
        };
        let mut timeout = DEFAULT_TIMEOUT;
        let mut cafile = None;
        for (name, value) in parsed.query_pairs() {
            let invalid = || ConfigError::InvalidParameter {
                name: name.to_string(),
                value: value.to_string(),
            };
            match name.as_ref() {
                "tls" => {
                    tls_mode = match (implicit, value.as_ref()) {
                        (false, "none") => TlsMode::None,
                        (false, "opportunistic") => TlsMode::Opportunistic,
                        (false, "starttls" | "required") => TlsMode::Required,
                        (true, "implicit" | "wrapper") => TlsMode::Implicit,
                        _ => return Err(invalid()),
                    }
                }
                "timeout" => timeout = parse_duration(&value).ok_or_else(invalid)?,
                "cafile" if !value.is_empty() => cafile = Some(value.to_string()),
                "cafile" => return Err(invalid()),
                _ => return Err(ConfigError::UnknownParameter(name.to_string())),
            }
        }

        let tls = match tls_mode {
            TlsMode::None => None,
            _ => {
                if host.contains(|c: char| c.is_whitespace() || c.is_control()) {
                    return Err(ConfigError::Tls(format!(
                        "invalid TLS server name {host:?}"
                    )));
                }
                let mut builder = SmtpClientBuilder::new(host.clone(), port).timeout(timeout);
                if let Some(path) = &cafile {
                    builder.tls_connector = connector_trusting(path)?;
                }
                Some(builder)
            }
        };

        let user = percent_decode(parsed.username())?;
        let credentials = if user.is_empty() {
            None
        } else {
            let password = percent_decode(parsed.password().unwrap_or(""))?;
            Some(Credentials::Plain {
                username: user.clone(),
                secret: password,
            })
        };

        let pool_size = pool_size.max(1);
        let auth = if user.is_empty() {
            String::new()
        } else {
            format!("{user}@")
        };
        let description = format!(
            "{}://{auth}{host}:{port} (tls={}, pool={pool_size}, timeout={}s)",
            parsed.scheme(),
            tls_mode.name(),
            timeout.as_secs_f32()
        );
        Ok(SmtpTransport {
            host,
            port,
            tls_mode,
            tls,
            credentials,
            helo_name: helo_name(),
            timeout,
            pool_size: pool_size as usize,
            idle: Mutex::new(Vec::new()),
            description,
        })
    }

    /// Newest idle connection that is not too old (LIFO).
    fn checkout(&self) -> Option<Connection> {
        let mut stale = Vec::new();
        let found = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            let (fresh, old): (Vec<Idle>, Vec<Idle>) = std::mem::take(&mut *idle)
                .into_iter()
                .partition(|i| i.since.elapsed() <= IDLE_LIMIT);
            *idle = fresh;
            stale.extend(old);
            idle.pop().map(|i| i.connection)
        };
        drop(stale); // close outside the lock
        found
    }

    fn checkin(&self, connection: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.retain(|i| i.since.elapsed() <= IDLE_LIMIT);
        if idle.len() < self.pool_size {
            idle.push(Idle {
                connection,
                since: Instant::now(),
            });
        }
    }

    async fn connect(&self, stage: &mut Stage) -> mail_send::Result<Connection> {
        *stage = Stage::Connect;
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).await?;
        tcp.set_nodelay(true)?;
        let mut plain = SmtpClient {
            stream: tcp,
            timeout: self.timeout,
        };
        let (client, capabilities) = match (self.tls_mode, &self.tls) {
            (TlsMode::Implicit, Some(tls)) => {
                *stage = Stage::Tls;
                let mut client = plain.into_tls(&tls.tls_connector, &self.host).await?;
                *stage = Stage::Greeting;
                client.read().await?.assert_positive_completion()?;
                *stage = Stage::Hello;
                let capabilities = client.ehlo(&self.helo_name).await?;
                (boxed(client), capabilities)
            }
            (mode, tls) => {
                *stage = Stage::Greeting;
                plain.read().await?.assert_positive_completion()?;
                *stage = Stage::Hello;
                let capabilities = plain.ehlo(&self.helo_name).await?;
                let starttls = capabilities.has_capability(EXT_START_TLS);
                match (mode, tls) {
                    (TlsMode::Required, _) if !starttls => {
                        return Err(mail_send::Error::MissingStartTls);
                    }
                    (TlsMode::Required | TlsMode::Opportunistic, Some(tls)) if starttls => {
                        *stage = Stage::Tls;
                        let mut client = plain.start_tls(&tls.tls_connector, &self.host).await?;
                        *stage = Stage::Hello;
                        let capabilities = client.ehlo(&self.helo_name).await?;
                        (boxed(client), capabilities)
                    }
                    _ => (boxed(plain), capabilities),
                }
            }
        };
        let mut connection = Connection {
            smtputf8: capabilities.has_capability(EXT_SMTP_UTF8),
            client,
        };
        if let Some(credentials) = &self.credentials {
            *stage = Stage::Auth;
            authenticate(&mut connection.client, credentials, &capabilities).await?;
        }
        Ok(connection)
    }

    async fn deliver(&self, from: &str, to: &str, raw: &[u8], stage: &mut Stage) -> Outcome {
        let needs_utf8 = !from.is_ascii() || !to.is_ascii();
        // Pooled connections first; one the server closed while idle fails
        // at MAIL FROM before anything was accepted, so try the next one.
        while let Some(mut connection) = self.checkout() {
            match self
                .attempt(&mut connection, from, to, raw, needs_utf8, stage)
                .await
            {
                Err(Attempt::Smtp(err)) if *stage == Stage::MailFrom && is_broken(&err) => {
                    tracing::debug!(error = %err, "pooled SMTP connection was closed; reconnecting");
                }
                outcome => return self.finish(connection, outcome, *stage),
            }
        }
        let mut connection = match self.connect(stage).await {
            Ok(connection) => connection,
            Err(err) => return (Err(classify(*stage, &err)), None),
        };
        let outcome = self
            .attempt(&mut connection, from, to, raw, needs_utf8, stage)
            .await;
        self.finish(connection, outcome, *stage)
    }

    async fn attempt(
        &self,
        connection: &mut Connection,
        from: &str,
        to: &str,
        raw: &[u8],
        needs_utf8: bool,
        stage: &mut Stage,
    ) -> Result<Delivered, Attempt> {
        let mut params = Parameters::new();
        if needs_utf8 {
            if !connection.smtputf8 {
                return Err(Attempt::Local(SendError::new(
                    FailureClass::Permanent,
                    None,
                    format!(
                        "envelope address {from:?} -> {to:?} needs SMTPUTF8, \
                         which the server does not support"
                    ),
                )));
            }
            params.add("SMTPUTF8");
        }
        transaction(&mut connection.client, from, to, raw, &params, stage)
            .await
            .map_err(Attempt::Smtp)
    }

    /// Returns the connection to the pool when it is in a clean state, hands
    /// it back for `RSET` after a clean rejection, and turns the outcome into
    /// the public result.
    fn finish(
        &self,
        connection: Connection,
        outcome: Result<Delivered, Attempt>,
        failed_at: Stage,
    ) -> Outcome {
        match outcome {
            Ok(delivered) => {
                self.checkin(connection);
                (Ok(delivered), None)
            }
            Err(Attempt::Local(err)) => {
                // Nothing was sent on the connection.
                self.checkin(connection);
                (Err(err), None)
            }
            Err(Attempt::Smtp(err)) => {
                let classified = classify(failed_at, &err);
                tracing::debug!(error = %err, stage = failed_at.name(), class = %classified.class, "SMTP send failed");
                // After a clean rejection the session is still in sync and
                // can be reused once reset; anything else is discarded.
                let reset =
                    matches!(err, mail_send::Error::UnexpectedReply(_)).then_some(connection);
                (Err(classified), reset)
            }
        }
    }

    /// `RSET` after a rejected transaction, outside the session deadline so
    /// a slow reset cannot turn a classified rejection into a timeout.
    async fn reset_and_checkin(&self, mut connection: Connection) {
        let limit = self.timeout.min(RSET_TIMEOUT);
        if let Ok(Ok(())) = tokio::time::timeout(limit, connection.client.rset()).await {
            self.checkin(connection);
        }
    }
}

/// A send's result plus a connection that needs `RSET` before reuse.
type Outcome = (Result<Delivered, SendError>, Option<Connection>);

enum Attempt {
    Smtp(mail_send::Error),
    Local(SendError),
}

fn boxed<S: IoStream + 'static>(client: SmtpClient<S>) -> SmtpClient<Box<dyn IoStream>> {
    SmtpClient {
        stream: Box::new(client.stream),
        timeout: client.timeout,
    }
}

async fn authenticate(
    client: &mut SmtpClient<Box<dyn IoStream>>,
    credentials: &Credentials<String>,
    capabilities: &EhloResponse<String>,
) -> mail_send::Result<()> {
    client.authenticate(credentials, capabilities).await?;
    Ok(())
}

/// One MAIL/RCPT/DATA transaction. `stage` tracks progress so a failure (or
/// the caller's deadline) can be attributed.
async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut SmtpClient<S>,
    from: &str,
    to: &str,
    raw: &[u8],
    params: &Parameters<'_>,
    stage: &mut Stage,
) -> mail_send::Result<Delivered> {
    *stage = Stage::MailFrom;
    client.mail_from(from, params).await?;
    *stage = Stage::RcptTo;
    client.rcpt_to(to, &Parameters::new()).await?;
    *stage = Stage::Data;
    client.cmd(b"DATA\r\n").await?.assert_code(354)?;
    // From here on the server may end up accepting the message.
    *stage = Stage::Payload;
    let payload = dot_stuff(raw);
    let reply = tokio::time::timeout(client.timeout, async {
        // One write for data and terminator: no Nagle/delayed-ACK stall.
        client.stream.write_all(&payload).await?;
        client.stream.flush().await?;
        client.read().await
    })
    .await
    .map_err(|_| mail_send::Error::Timeout)??;
    if !reply.is_positive_completion() {
        return Err(mail_send::Error::UnexpectedReply(reply));
    }
    Ok(Delivered {
        reply: reply_text(&reply),
    })
}

/// RFC 5321 §4.5.2 transparency plus the terminating `.` line. A dot is
/// doubled at the start of the data and after any CR or LF (as mail-send does,
/// so a bare LF cannot smuggle an end-of-data line past a lenient server).
fn dot_stuff(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 64 + 5);
    let mut line_start = true;
    for &byte in raw {
        if byte == b'.' && line_start {
            out.push(b'.');
        }
        out.push(byte);
        line_start = byte == b'\n' || byte == b'\r';
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// The connection is gone (EOF or I/O error) rather than answering.
fn is_broken(err: &mail_send::Error) -> bool {
    matches!(
        err,
        mail_send::Error::Io(_) | mail_send::Error::UnparseableReply
    )
}

/// A TLS connector whose only roots are the certificates in `path`. ring is
/// named explicitly: the process may have no default crypto provider.
fn connector_trusting(path: &str) -> Result<tokio_rustls::TlsConnector, ConfigError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    let tls = |why: String| ConfigError::Tls(format!("cafile {path:?}: {why}"));
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| tls(e.to_string()))?;
    for cert in certs {
        roots
            .add(cert.map_err(|e| tls(e.to_string()))?)
            .map_err(|e| tls(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(tls("no certificates in the file".to_owned()));
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| tls(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(
        config,
    )))
}

fn reply_text(reply: &Response<String>) -> String {
    let message = reply
        .message
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if reply.esc[0] != 0 {
        format!(
            "{} {}.{}.{} {message}",
            reply.code, reply.esc[0], reply.esc[1], reply.esc[2]
        )
    } else {
        format!("{} {message}", reply.code)
    }
}

fn helo_name() -> String {
    let name = gethostname::gethostname();
    match name.to_str() {
        Some(name)
            if !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') =>
        {
            name.to_owned()
        }
        _ => "localhost".to_owned(),
    }
}

#[async_trait]
impl MailTransport for SmtpTransport {
    async fn send(
        &self,
        envelope_from: &str,
        to: &str,
        raw: &[u8],
    ) -> Result<Delivered, SendError> {
        let (from, to) = envelope(envelope_from, to)?;
        let mut stage = Stage::Connect;
        // Bound the whole session so a stalled server cannot hang a worker.
        let outcome =
            tokio::time::timeout(self.timeout, self.deliver(&from, &to, raw, &mut stage)).await;
        match outcome {
            Ok((result, reset)) => {
                if let Some(connection) = reset {
                    self.reset_and_checkin(connection).await;
                }
                result
            }
            Err(_) if stage == Stage::Payload => Err(SendError::new(
                FailureClass::Unknown,
                None,
                format!(
                    "SMTP session timed out after {:?} after the message data was sent; \
                     it may have been delivered",
                    self.timeout
                ),
            )),
            Err(_) => Err(SendError::new(
                FailureClass::Transient,
                None,
                format!(
                    "SMTP session timed out after {:?} (during {})",
                    self.timeout,
                    stage.name()
                ),
            )),
        }
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

/// Validates the envelope addresses (they go verbatim into `MAIL FROM:<..>`
/// and `RCPT TO:<..>`, so nothing that could break the command line passes).
fn envelope(envelope_from: &str, to: &str) -> Result<(String, String), SendError> {
    let from = if envelope_from.is_empty() {
        String::new()
    } else {
        check_address("sender", envelope_from)?
    };
    Ok((from, check_address("recipient", to)?))
}

fn check_address(what: &str, value: &str) -> Result<String, SendError> {
    let bad = |why: &str| {
        SendError::new(
            FailureClass::Permanent,
            None,
            format!("invalid envelope {what} {value:?}: {why}"),
        )
    };
    if value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>'))
    {
        return Err(bad(
            "contains whitespace, control characters or angle brackets",
        ));
    }
    let (local, domain) = value.rsplit_once('@').ok_or_else(|| bad("missing '@'"))?;
    if local.is_empty() || domain.is_empty() {
        return Err(bad("empty local part or domain"));
    }
    if value.len() > 320 || local.len() > 64 {
        return Err(bad("too long"));
    }
    let literal = domain.starts_with('[') && domain.ends_with(']');
    if !literal
        && (domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
            || domain.contains(|c: char| {
                c.is_ascii() && !(c.is_ascii_alphanumeric() || c == '-' || c == '.')
            }))
    {
        return Err(bad("invalid domain"));
    }
    Ok(value.to_owned())
}

/// See the module docs for the reasoning behind each branch.
fn classify(stage: Stage, err: &mail_send::Error) -> SendError {
    use mail_send::Error as E;
    let message = format!("{} failed: {}", stage.name(), error_text(err));
    match err {
        E::UnexpectedReply(reply) | E::AuthenticationFailed(reply) => {
            let code = reply.code;
            let auth = stage == Stage::Auth && matches!(code, 530 | 534 | 535 | 538);
            let class = if (400..500).contains(&code) || auth {
                FailureClass::Transient
            } else if (500..600).contains(&code) {
                FailureClass::Permanent
            } else if stage == Stage::Payload {
                FailureClass::Unknown
            } else {
                FailureClass::Transient
            };
            SendError::new(class, Some(code), message)
        }
        E::Io(_) | E::Timeout | E::UnparseableReply if stage == Stage::Payload => SendError::new(
            FailureClass::Unknown,
            None,
            format!("{message}; the message may have been delivered"),
        ),
        E::UnsupportedAuthMechanism | E::MissingCredentials => {
            SendError::new(FailureClass::Permanent, None, message)
        }
        _ => SendError::new(FailureClass::Transient, None, message),
    }
}

fn error_text(err: &mail_send::Error) -> String {
    use mail_send::Error as E;
    match err {
        E::UnexpectedReply(reply) | E::AuthenticationFailed(reply) => reply_text(reply),
        E::Io(io) => io.to_string(),
        E::Timeout => "timed out".to_owned(),
        E::UnparseableReply => "connection closed or unparsable reply".to_owned(),
        other => other.to_string(),
    }
}

fn parse_duration(value: &str) -> Option<Duration> {
    let value = value.trim();
    let (number, unit) = value
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((value, ""), |i| value.split_at(i));
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" => number * 60.0,
        _ => return None,
    };
    (seconds > 0.0 && seconds.is_finite()).then(|| Duration::from_secs_f64(seconds))
}

fn percent_decode(value: &str) -> Result<String, ConfigError> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let byte = value
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| ConfigError::InvalidUrl("bad percent-encoding".to_owned()))?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| ConfigError::InvalidUrl("credentials are not UTF-8".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("ten"), None);
        assert_eq!(parse_duration("5h"), None);
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(
            percent_decode("p%40ss%3Aw%2Fd").ok().as_deref(),
            Some("p@ss:w/d")
        );
        assert_eq!(percent_decode("%C3%BC").ok().as_deref(), Some("ü"));
        assert!(percent_decode("%zz").is_err());
        assert!(percent_decode("%ff").is_err());
    }

    #[tokio::test]
    async fn accepts_documented_url_forms() {
        let t = SmtpTransport::from_url("smtp://mail.example.com", 4).expect("plain");
        assert_eq!(
            t.describe(),
            "smtp://mail.example.com:25 (tls=none, pool=4, timeout=60s)"
        );
        let t = SmtpTransport::from_url("smtp://mail.example.com:587?tls=starttls&timeout=10s", 2)
            .expect("starttls");
        assert_eq!(
            t.describe(),
            "smtp://mail.example.com:587 (tls=starttls, pool=2, timeout=10s)"
        );
        for tls in ["required", "opportunistic", "none"] {
            SmtpTransport::from_url(&format!("smtp://h:587?tls={tls}"), 1).expect(tls);
        }
        let t =
            SmtpTransport::from_url("smtps://us%40er:p%40ss@mail.example.com", 1).expect("smtps");
        // Credentials are decoded but the password never shows.
        assert_eq!(
            t.describe(),
            "smtps://us@er@mail.example.com:465 (tls=implicit, pool=1, timeout=60s)"
        );
        assert!(!t.describe().contains("p@ss"));
        SmtpTransport::from_url("smtp://[::1]:2525", 1).expect("ipv6");
    }

    #[tokio::test]
    async fn rejects_bad_urls() {
        for (url, expect) in [
            ("http://h", "unsupported scheme"),
            ("smtp://", "invalid SMTP URL"),
            ("smtp://h?tls=bogus", "invalid value"),
            ("smtps://h?tls=none", "invalid value"),
            ("smtp://h?timeout=forever", "invalid value"),
            ("smtp://h?tsl=starttls", "unknown SMTP URL parameter"),
            ("smtp://h?tls=starttls&cafile=", "invalid value"),
            ("smtp://h?tls=starttls&cafile=/nonexistent/ca.pem", "cafile"),
            ("not a url", "invalid SMTP URL"),
        ] {
            let err = SmtpTransport::from_url(url, 1)
                .err()
                .unwrap_or_else(|| panic!("{url} should fail"));
            assert!(err.to_string().contains(expect), "{url}: {err}");
        }
    }

    #[test]
    fn envelope_rejects_garbage_permanently() {
        let err = envelope("a@b.test", "not an address").expect_err("invalid");
        assert_eq!(err.class, FailureClass::Permanent);
        assert!(envelope("", "a@b.test").is_ok());
        for bad in ["a@b.test>\r\nRCPT TO:<x@y", "a@", "@b", "a@b..c", "a@b_c"] {
            assert!(envelope("", bad).is_err(), "{bad:?}");
        }
        assert!(envelope("ü@bücher.test", "x@[127.0.0.1]").is_ok());
    }

    #[test]
    fn dot_stuffing_and_terminator() {
        assert_eq!(
            dot_stuff(b"A: b\r\n\r\n.x\r\n"),
            b"A: b\r\n\r\n..x\r\n.\r\n"
        );
        assert_eq!(dot_stuff(b".\r\nx"), b"..\r\nx\r\n.\r\n");
        assert_eq!(dot_stuff(b"a\n.b"), b"a\n..b\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b".\r\n");
    }

    #[test]
    fn classifies_by_stage() {
        let io = || mail_send::Error::Io(std::io::Error::other("reset"));
        assert_eq!(classify(Stage::Payload, &io()).class, FailureClass::Unknown);
        assert_eq!(
            classify(Stage::Payload, &mail_send::Error::Timeout).class,
            FailureClass::Unknown
        );
        assert_eq!(classify(Stage::Data, &io()).class, FailureClass::Transient);
        assert_eq!(
            classify(Stage::Connect, &io()).class,
            FailureClass::Transient
        );
        let reply = |code| {
            mail_send::Error::AuthenticationFailed(Response {
                code,
                esc: [5, 7, 8],
                message: "nope".to_owned(),
            })
        };
        let err = classify(Stage::Auth, &reply(535));
        assert_eq!((err.class, err.code), (FailureClass::Transient, Some(535)));
        let err = classify(Stage::Auth, &reply(554));
        assert_eq!((err.class, err.code), (FailureClass::Permanent, Some(554)));
    }
}
