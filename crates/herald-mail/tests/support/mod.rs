//! Shared helpers for herald-mail's integration tests: a real aiosmtpd server
//! run as a child process, Maildir reading and a sample email.

#![allow(dead_code)] // each test binary uses a different subset

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use herald_mail::OutgoingEmail;
use mail_parser::MimeHeaders;

pub const RTL_NAME: &str = "שלום";
pub const SUBJECT: &str = "🎉 Welcome aboard, שלום!";

/// A running `python3 -m aiosmtpd` storing accepted mail in `maildir()`.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl SmtpServer {
    /// Plain `aiosmtpd.handlers.Mailbox`: accepts everything.
    pub fn start() -> SmtpServer {
        Self::start_with_handler("aiosmtpd.handlers.Mailbox")
    }

    /// `herald_test_handlers.FlakyMailbox` from tests/support: rejects some
    /// recipients with 4xx/5xx replies.
    pub fn start_flaky() -> SmtpServer {
        Self::start_with_handler("herald_test_handlers.FlakyMailbox")
    }

    fn start_with_handler(handler: &str) -> SmtpServer {
        require_aiosmtpd();
        let dir = tempfile::tempdir().expect("tempdir");
        let maildir = dir.path().join("maildir");
        let port = free_port();
        let support = support_dir();
        let stderr = std::fs::File::create(dir.path().join("aiosmtpd.log")).expect("log file");
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", handler])
            .arg(&maildir)
            .env("PYTHONPATH", support)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn python3 -m aiosmtpd");
        let mut server = SmtpServer { child, port, dir };
        server.wait_until_listening();
        server
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "aiosmtpd exited early ({status}):\n{}",
                    std::fs::read_to_string(self.dir.path().join("aiosmtpd.log"))
                        .unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on port {} within 20s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?timeout=10s", self.port)
    }

    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }

    /// Raw bytes of every message in `maildir/new`, in name order.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        read_maildir_new(&self.maildir())
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// This folder, also when another crate's tests include this module with
/// `#[path]` (CARGO_MANIFEST_DIR is then that crate's).
pub fn support_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../herald-mail/tests/support")
}

/// Fails with instructions when the test server is not installed.
pub fn require_aiosmtpd() {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 with aiosmtpd is required for herald-mail's SMTP tests; \
         run scripts/install-test-deps.sh first"
    );
}

/// A port that was free a moment ago (bind to 0, read it back, release it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local addr").port()
}

pub fn read_maildir_new(maildir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries.map(|e| e.expect("dir entry").path()).collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read(p).expect("read message"))
        .collect()
}

pub fn sample_email(to: &str) -> OutgoingEmail {
    OutgoingEmail {
        from_address: "news@herald.test".to_owned(),
        from_name: Some(format!("{RTL_NAME} Team")),
        reply_to: Some("support@herald.test".to_owned()),
        to: to.to_owned(),
        subject: SUBJECT.to_owned(),
        preheader: Some("Your first campaign is ready".to_owned()),
        html: Some(
            "<html><head><style>p{color:red}</style></head><body>\
             <h1>Hello 🎉</h1><p>Read <a href=\"https://herald.test/start\">the guide</a>.</p>\
             </body></html>"
                .to_owned(),
        ),
        text: None,
        message_id: "0190abc.1@mail.herald.test".to_owned(),
        date: Utc
            .with_ymd_and_hms(2025, 1, 2, 3, 4, 5)
            .single()
            .expect("date"),
        extra_headers: vec![(
            "List-Unsubscribe".to_owned(),
            "<https://herald.test/u/1>".to_owned(),
        )],
        list_unsubscribe: None,
    }
}

/// Parses `raw` with mail-parser and checks everything `sample_email(to)`
/// should have produced.
pub fn assert_sample_message(raw: &[u8], to: &str) {
    let msg = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("message parses");
    assert_eq!(msg.subject(), Some(SUBJECT));
    let from = msg.from().and_then(|a| a.first()).expect("From");
    assert_eq!(from.address(), Some("news@herald.test"));
    assert_eq!(from.name(), Some(format!("{RTL_NAME} Team").as_str()));
    let rcpt = msg.to().and_then(|a| a.first()).expect("To");
    assert_eq!(rcpt.address(), Some(to));
    let reply_to = msg.reply_to().and_then(|a| a.first()).expect("Reply-To");
    assert_eq!(reply_to.address(), Some("support@herald.test"));
    assert_eq!(msg.message_id(), Some("0190abc.1@mail.herald.test"));
    assert_eq!(
        msg.date().map(|d| d.to_rfc3339()).as_deref(),
        Some("2025-01-02T03:04:05Z")
    );
    assert_eq!(
        msg.header_raw("List-Unsubscribe").map(str::trim),
        Some("<https://herald.test/u/1>")
    );

    let ct = msg.content_type().expect("Content-Type");
    assert_eq!(ct.ctype(), "multipart");
    assert_eq!(ct.subtype(), Some("alternative"));
    assert_eq!(msg.parts.len(), 3, "root + text + html");
    let kinds: Vec<String> = msg.parts[1..]
        .iter()
        .map(|p| {
            let ct = p.content_type().expect("part Content-Type");
            format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or(""))
        })
        .collect();
    assert_eq!(kinds, ["text/plain", "text/html"], "text first, then html");
    for part in &msg.parts {
        assert!(!part.is_encoding_problem, "encoding problem in {part:?}");
    }

    let text = msg.body_text(0).expect("text body");
    assert!(text.contains("Hello 🎉"), "{text}");
    assert!(
        text.contains("the guide (https://herald.test/start)"),
        "{text}"
    );
    assert!(!text.contains("color:red"), "{text}");
    let html = msg.body_html(0).expect("html body");
    assert!(html.contains("<h1>Hello 🎉</h1>"), "{html}");
    let pre = html
        .find("Your first campaign is ready")
        .expect("preheader");
    let body = html.find("<body>").expect("body tag");
    let h1 = html.find("<h1>").expect("h1");
    assert!(
        body < pre && pre < h1,
        "preheader right after <body>: {html}"
    );
}

/// Every header line name in the top-level header block of `raw`.
pub fn raw_header_names(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    let head = text.split("\n\n").next().unwrap_or("");
    head.lines()
        .filter(|l| !l.starts_with([' ', '\t']))
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_ascii_lowercase()))
        .collect()
}

/// What dkimpy said about a message.
pub struct DkimVerdict {
    pub valid: bool,
    /// dkimpy's debug log and the DNS names it asked for.
    pub log: String,
}

/// Verifies `raw`'s DKIM signature with dkimpy (tests/support/dkim_verify.py),
/// answering its DNS query with `txt_record`. Panics when dkimpy is missing:
/// CI installs it, and a skipped check would hide a broken signer.
pub fn dkim_verify(raw: &[u8], txt_record: &str) -> DkimVerdict {
    use std::io::Write;
    let script = support_dir().join("dkim_verify.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(txt_record)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3 dkim_verify.py");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(raw)
        .expect("write message to dkimpy");
    let out = child.wait_with_output().expect("dkimpy finished");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    match out.status.code() {
        Some(0) => DkimVerdict { valid: true, log },
        Some(1) => DkimVerdict { valid: false, log },
        Some(3) => panic!(
            "python3 with dkimpy and pynacl is required for herald-mail's DKIM tests; \
             run scripts/install-test-deps.sh first ({log})"
        ),
        other => panic!("dkim_verify.py failed ({other:?}): {log}"),
    }
}

/// How a [`TlsSmtpServer`] offers TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsOffer {
    /// No TLS at all (no STARTTLS in EHLO).
    Plain,
    /// STARTTLS offered; with `required`, mail is refused without it.
    StartTls { required: bool },
    /// TLS from the first byte (smtps).
    Implicit,
}

/// aiosmtpd with TLS and AUTH (tests/support/tls_server.py) and a fresh
/// self-signed certificate for 127.0.0.1 (rcgen).
pub struct TlsSmtpServer {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl TlsSmtpServer {
    /// `auth`: `Some(("user", "password", "PLAIN,LOGIN"))` requires AUTH with
    /// those mechanisms offered.
    pub fn start(offer: TlsOffer, auth: Option<(&str, &str, &str)>) -> TlsSmtpServer {
        require_aiosmtpd();
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
            .expect("self-signed certificate");
        std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).expect("cert");
        std::fs::write(dir.path().join("key.pem"), cert.key_pair.serialize_pem()).expect("key");
        let port = free_port();
        let script = support_dir().join("tls_server.py");
        let mode = match offer {
            TlsOffer::Plain => "plain",
            TlsOffer::StartTls { .. } => "starttls",
            TlsOffer::Implicit => "implicit",
        };
        let mut command = Command::new("python3");
        command
            .arg(&script)
            .arg(port.to_string())
            .arg(dir.path().join("maildir"))
            .arg(dir.path().join("auth.log"))
            .args(["--mode", mode])
            .arg("--cert")
            .arg(dir.path().join("cert.pem"))
            .arg("--key")
            .arg(dir.path().join("key.pem"));
        if offer == (TlsOffer::StartTls { required: true }) {
            command.arg("--require-starttls");
        }
        if let Some((user, password, mechanisms)) = auth {
            command
                .arg("--auth")
                .arg(format!("{user}:{password}"))
                .args(["--mechanisms", mechanisms]);
        }
        let stderr = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn python3 tls_server.py");
        let mut server = TlsSmtpServer { child, port, dir };
        server.wait_until_listening();
        server
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("tls_server.py exited early ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "tls_server.py did not listen on port {} within 20s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The CA file that makes the transport trust this server.
    pub fn cafile(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    pub fn messages(&self) -> Vec<Vec<u8>> {
        read_maildir_new(&self.dir.path().join("maildir"))
    }

    /// `MECHANISM ok|fail` per AUTH attempt.
    pub fn auth_log(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("auth.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for TlsSmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
