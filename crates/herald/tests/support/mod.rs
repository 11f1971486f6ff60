//! End-to-end harness: the real `herald` binary as a child process, a real
//! SMTP server (Python aiosmtpd) and Maildir readers.
//!
//! ```ignore
//! let smtp = SmtpServer::start();
//! let mut herald = Herald::start(HeraldOptions::smtp(&smtp.url())).await;
//! let cfg = herald.create_email_configuration().await;
//! let campaign = herald.create_campaign(&cfg, "Hi {{context.name}}", html, text).await;
//! herald.activate(&campaign).await;
//! let exec = herald.fire_unitary(&campaign, "req-1", recipients, json!({})).await;
//! let done = herald.wait_final(exec["executionId"].as_str().unwrap()).await;
//! ```
//!
//! Every `Herald` owns its own temp directory (data dir + logs) and port, so
//! tests can run in parallel. Dropping it SIGKILLs the process.

#![allow(dead_code)] // each test binary uses a different subset

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The admin key every harness-started Herald uses.
pub const API_KEY: &str = "e2e-test-api-key-0123456789";

/// Statuses after which a message never changes again on its own.
pub const FINAL_STATUSES: &[&str] = &["sent", "delivered", "failed", "bounced", "excluded"];

/// How long `wait_final` waits by default.
pub const FINAL_WAIT: Duration = Duration::from_secs(20);

/// A port that was free a moment ago (bind to 0, read it back, release it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local addr").port()
}

// ---------------------------------------------------------------------------
// SMTP server
// ---------------------------------------------------------------------------

/// Fails with instructions when aiosmtpd is not installed.
pub fn require_aiosmtpd() {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 with aiosmtpd is required for Herald's end-to-end tests; \
         run scripts/install-test-deps.sh first"
    );
}

/// A running `python3 -m aiosmtpd` storing accepted mail in `maildir()`.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl SmtpServer {
    /// On a fresh free port.
    pub fn start() -> SmtpServer {
        Self::start_on(free_port())
    }

    /// `herald_e2e_handlers.SlowMailbox`: 0.3 s per accepted message.
    pub fn start_slow() -> SmtpServer {
        Self::start_with_handler(free_port(), "herald_e2e_handlers.SlowMailbox")
    }

    /// On `port` (e.g. one Herald was already told about).
    pub fn start_on(port: u16) -> SmtpServer {
        Self::start_with_handler(port, "aiosmtpd.handlers.Mailbox")
    }

    fn start_with_handler(port: u16, handler: &str) -> SmtpServer {
        Self::spawn(port, handler, "maildir", &[])
    }

    /// `herald_e2e_handlers.Recorder`: accepts everything and appends
    /// `<Message-ID>\t<recipient>` per message to a file (see
    /// [`SmtpServer::records`]); keeps up with tens of thousands of
    /// messages where a Maildir does not.
    pub fn start_recording() -> SmtpServer {
        Self::spawn(free_port(), "herald_e2e_handlers.Recorder", "records", &[])
    }

    /// `herald_e2e_handlers.Scripted`: a recorder that refuses `flaky…`
    /// recipients with `flaky_plan` (e.g. `451@RCPT,454@DATA,421@RCPT`)
    /// first, answers `550 5.1.1` to `unknown…` and cuts the connection
    /// after DATA's content for `drop…`. See [`SmtpServer::attempts`].
    pub fn start_scripted(flaky_plan: &str) -> SmtpServer {
        Self::spawn(
            free_port(),
            "herald_e2e_handlers.Scripted",
            "records",
            &[("HERALD_E2E_FLAKY", flaky_plan)],
        )
    }

    /// Runs `python3 -m aiosmtpd` with `handler`, whose one argument is
    /// `arg` inside this server's temp dir.
    fn spawn(port: u16, handler: &str, arg: &str, env: &[(&str, &str)]) -> SmtpServer {
        require_aiosmtpd();
        let dir = tempfile::tempdir().expect("tempdir");
        let stderr = std::fs::File::create(dir.path().join("aiosmtpd.log")).expect("log file");
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", handler])
            .arg(dir.path().join(arg))
            .env(
                "PYTHONPATH",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support"),
            )
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn python3 -m aiosmtpd (run scripts/install-test-deps.sh first)");
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
                let log = std::fs::read_to_string(self.dir.path().join("aiosmtpd.log"))
                    .unwrap_or_default();
                if log.contains("No module named") {
                    panic!("aiosmtpd is missing: run scripts/install-test-deps.sh first\n{log}");
                }
                panic!("aiosmtpd exited early ({status}):\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on port {} within 20s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The `--smtp-url` for Herald.
    pub fn url(&self) -> String {
        smtp_url(self.port)
    }

    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }

    /// Raw bytes of every message in `maildir/new`, in name order.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        read_maildir_new(&self.maildir())
    }

    /// (Message-ID, recipient) of every message a `Recorder` or `Scripted`
    /// server accepted (or, for `drop…`, read in full), in arrival order.
    pub fn records(&self) -> Vec<(String, String)> {
        read_tab_lines(&self.dir.path().join("records"))
    }

    /// (recipient, what happened) of every attempt a `Scripted` server saw.
    pub fn attempts(&self) -> Vec<(String, String)> {
        read_tab_lines(&self.dir.path().join("records.attempts"))
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `--smtp-url` for an SMTP server on loopback `port`.
pub fn smtp_url(port: u16) -> String {
    format!("smtp://127.0.0.1:{port}?timeout=10s")
}

/// The complete `a\tb` lines of a file (a line still being written is
/// left out); none when it does not exist yet.
fn read_tab_lines(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |i| &text[..i]);
    complete
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect()
}

/// Raw bytes of every message in `maildir/new`, in name order.
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

/// The top-level header block of `raw` as (name, value) lines, continuation
/// lines kept apart (a continuation line has name "").
pub fn raw_header_lines(raw: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    let head = text.split("\n\n").next().unwrap_or("").to_owned();
    head.lines()
        .map(|l| {
            if l.starts_with([' ', '\t']) {
                (String::new(), l.to_owned())
            } else {
                match l.split_once(':') {
                    Some((n, v)) => (n.to_ascii_lowercase(), v.trim().to_owned()),
                    None => ("<malformed>".to_owned(), l.to_owned()),
                }
            }
        })
        .collect()
}

/// Polls `f` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------
// Herald
// ---------------------------------------------------------------------------

/// Command-line options for `herald serve` beyond data dir, listen and key.
#[derive(Debug, Clone, Default)]
pub struct HeraldOptions {
    pub smtp_url: Option<String>,
    pub retry_base_seconds: Option<f64>,
    pub max_attempts: Option<i64>,
    /// `--no-delivery`: an API-only node (messages are stored, never sent).
    pub no_delivery: bool,
    /// Anything else for `herald serve`.
    pub extra_args: Vec<String>,
}

impl HeraldOptions {
    /// Email to the Maildir outbox in the data dir.
    pub fn outbox() -> Self {
        Self::default()
    }

    /// Email to the SMTP server at `url`.
    pub fn smtp(url: &str) -> Self {
        HeraldOptions {
            smtp_url: Some(url.to_owned()),
            ..Self::default()
        }
    }
}

/// A running `herald serve` on its own data dir and port.
pub struct Herald {
    child: Option<Child>,
    pub port: u16,
    pub options: HeraldOptions,
    dir: tempfile::TempDir,
    /// Another Herald's data dir, when this one shares its store.
    shared_data_dir: Option<PathBuf>,
    /// Incremented on each (re)start; names the log file.
    generation: u32,
    pub http: reqwest::Client,
}

impl Herald {
    pub async fn start(options: HeraldOptions) -> Herald {
        Self::start_in(options, None).await
    }

    /// A second process on `other`'s data dir (the same SQLite store), with
    /// its own port and logs. Give it its own `--worker-id`.
    pub async fn start_sharing(other: &Herald, options: HeraldOptions) -> Herald {
        Self::start_in(options, Some(other.data_dir())).await
    }

    async fn start_in(options: HeraldOptions, shared_data_dir: Option<PathBuf>) -> Herald {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
        let mut h = Herald {
            child: None,
            port: 0,
            options,
            dir,
            shared_data_dir,
            generation: 0,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("reqwest client"),
        };
        h.spawn_and_wait().await;
        h
    }

    pub fn data_dir(&self) -> PathBuf {
        match &self.shared_data_dir {
            Some(d) => d.clone(),
            None => self.dir.path().join("data"),
        }
    }

    /// The Maildir outbox used when there is no SMTP URL.
    pub fn outbox_maildir(&self) -> PathBuf {
        self.data_dir().join("outbox").join("email")
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("herald is running").id()
    }

    fn log_path(&self, generation: u32) -> PathBuf {
        self.dir.path().join(format!("herald-{generation}.log"))
    }

    /// Everything every run of this Herald wrote to stderr.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for g in 1..=self.generation {
            out.push_str(&format!("----- herald run {g} -----\n"));
            out.push_str(&std::fs::read_to_string(self.log_path(g)).unwrap_or_default());
        }
        out
    }

    /// Starts the process (a new port each time; same data dir) and waits
    /// until `/ajo/im/health` answers. Retries on a port race.
    async fn spawn_and_wait(&mut self) {
        for _try in 0..3 {
            self.generation += 1;
            self.port = free_port();
            let log = std::fs::File::create(self.log_path(self.generation)).expect("log file");
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_herald"));
            cmd.arg("serve")
                .arg("--data-dir")
                .arg(self.data_dir())
                .arg("--listen")
                .arg(format!("127.0.0.1:{}", self.port))
                .arg("--api-key")
                .arg(API_KEY)
                .current_dir(self.dir.path())
                .env_remove("HERALD_CONFIG")
                .env("RUST_LOG", "info,sqlx=warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log);
            if let Some(url) = &self.options.smtp_url {
                cmd.arg("--smtp-url").arg(url);
            }
            if let Some(s) = self.options.retry_base_seconds {
                cmd.arg("--retry-base-seconds").arg(s.to_string());
            }
            if let Some(n) = self.options.max_attempts {
                cmd.arg("--max-attempts").arg(n.to_string());
            }
            if self.options.no_delivery {
                cmd.arg("--no-delivery");
            }
            cmd.args(&self.options.extra_args);
            self.child = Some(cmd.spawn().expect("spawn herald"));
            match self.wait_healthy().await {
                Ok(()) => return,
                Err(status) => {
                    let log =
                        std::fs::read_to_string(self.log_path(self.generation)).unwrap_or_default();
                    self.child = None;
                    if log.contains("cannot listen") {
                        continue; // someone took the port; pick another
                    }
                    panic!("herald exited during startup ({status}):\n{log}");
                }
            }
        }
        panic!("herald could not start after 3 tries:\n{}", self.logs());
    }

    async fn wait_healthy(&mut self) -> Result<(), ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = format!("{}/ajo/im/health", self.base_url());
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().expect("try_wait") {
                return Err(status);
            }
            if let Ok(r) = self
                .http
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                && r.status().is_success()
            {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "herald did not answer {url} within 30s:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill_9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM (graceful shutdown); the process keeps running until
    /// [`Herald::wait_exit`].
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Waits for the process to exit on its own, at most `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            let child = self.child.as_mut().expect("herald is running");
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "herald did not exit within {timeout:?}:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts again on the same data dir with the same options (after
    /// `kill_9` or a graceful stop; kills a still-running process first).
    pub async fn restart(&mut self) {
        self.kill_9();
        self.spawn_and_wait().await;
    }

    /// Starts again on the same data dir with other options.
    pub async fn restart_with(&mut self, options: HeraldOptions) {
        self.kill_9();
        self.options = options;
        self.spawn_and_wait().await;
    }

    // --- HTTP ---------------------------------------------------------------

    /// Any request with the API key; returns status and JSON body (Null when
    /// the body is not JSON).
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base_url()))
            .bearer_auth(API_KEY);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.logs()));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, value)
    }

    /// POST returning status, headers and JSON body (Null when not JSON).
    pub async fn post_full(
        &self,
        path: &str,
        body: &Value,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.base_url()))
            .bearer_auth(API_KEY)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}\n{}", self.logs()));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, v) = self.request(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path} → {status}: {v}");
        v
    }

    /// POST expecting `expect`; returns the body.
    pub async fn post(&self, path: &str, body: &Value, expect: u16) -> Value {
        let (status, v) = self.request(reqwest::Method::POST, path, Some(body)).await;
        assert_eq!(status, expect, "POST {path} → {status}: {v}\nbody: {body}");
        v
    }

    /// An email channel configuration; returns its id.
    pub async fn create_email_configuration(&self) -> String {
        let v = self
            .post(
                "/v1/channel-configurations",
                &json!({
                    "name": "E2E mail",
                    "channel": "email",
                    "category": "any",
                    "email": {"fromAddress": "receipts@herald.test", "fromName": "Herald Shop"}
                }),
                201,
            )
            .await;
        v["id"].as_str().expect("configuration id").to_owned()
    }

    /// An email configuration sending from `news@herald.test` with
    /// `List-Unsubscribe` on all its mail; returns its id.
    pub async fn create_list_unsubscribe_configuration(&self) -> String {
        let v = self
            .post(
                "/v1/channel-configurations",
                &json!({"name": "News", "channel": "email", "category": "any",
                        "email": {"fromAddress": "news@herald.test", "listUnsubscribe": true}}),
                201,
            )
            .await;
        v["id"].as_str().expect("configuration id").to_owned()
    }

    /// A draft transactional email campaign creating new profiles; returns
    /// its id.
    pub async fn create_campaign(
        &self,
        configuration_id: &str,
        subject: &str,
        html: &str,
        text: &str,
    ) -> String {
        let v = self
            .post(
                "/v1/campaigns",
                &json!({
                    "name": "E2E receipt",
                    "category": "transactional",
                    "action": {"channel": "email", "channelConfigurationId": configuration_id},
                    "content": {"email": {"subject": subject, "html": html, "text": text}},
                    "audience": {"identityNamespace": "email", "createNewProfiles": true}
                }),
                201,
            )
            .await;
        assert_eq!(v["status"], "draft", "{v}");
        v["id"].as_str().expect("campaign id").to_owned()
    }

    pub async fn activate(&self, campaign_id: &str) {
        let v = self
            .post(
                &format!("/v1/campaigns/{campaign_id}/activate"),
                &json!({}),
                200,
            )
            .await;
        assert_eq!(v["status"], "live", "{v}");
    }

    /// One campaign with the given content, activated; returns its id.
    pub async fn live_campaign(&self, subject: &str, html: &str, text: &str) -> String {
        let cfg = self.create_email_configuration().await;
        let id = self.create_campaign(&cfg, subject, html, text).await;
        self.activate(&id).await;
        id
    }

    /// `POST /ajo/im/executions/unitary`, expecting 202; returns the body.
    pub async fn fire_unitary(
        &self,
        campaign_id: &str,
        request_id: &str,
        recipients: Vec<Value>,
        context: Value,
    ) -> Value {
        let body = json!({
            "requestId": request_id,
            "campaignId": campaign_id,
            "recipients": recipients,
            "context": context,
        });
        self.post("/ajo/im/executions/unitary", &body, 202).await
    }

    /// Polls `GET /v1/executions/{id}` until every message has a final
    /// status; returns the execution. Panics after `timeout`.
    pub async fn wait_final_within(&self, execution_id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.get(&format!("/v1/executions/{execution_id}")).await;
            let messages = v["messages"].as_array().expect("messages array");
            let done = messages
                .iter()
                .all(|m| FINAL_STATUSES.contains(&m["status"].as_str().unwrap_or("?")));
            if done {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "execution {execution_id}: messages not final after {timeout:?}: {v:#}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_final(&self, execution_id: &str) -> Value {
        self.wait_final_within(execution_id, FINAL_WAIT).await
    }

    /// `GET /v1/messages/{id}`.
    pub async fn message(&self, message_id: &str) -> Value {
        self.get(&format!("/v1/messages/{message_id}")).await
    }
}

impl Drop for Herald {
    fn drop(&mut self) {
        self.kill_9();
    }
}

// ---------------------------------------------------------------------------
// Bulk: opted-in profiles and a marketing campaign over them
// ---------------------------------------------------------------------------

/// `POST /ajo/im/executions/audience`.
pub const AUDIENCE_EXECUTIONS: &str = "/ajo/im/executions/audience";

/// `POST /v1/profiles:import` of `n` opted-in profiles `u{i}@{domain}`;
/// asserts they were all created.
pub async fn import_opted_in(herald: &Herald, n: usize, domain: &str) {
    let started = Instant::now();
    let mut body = Vec::with_capacity(n * 160);
    for i in 0..n {
        let line = json!({
            "identities": [{"namespace": "email", "id": format!("u{i}@{domain}")}],
            "attributes": {
                "person": {"name": {"firstName": format!("User{i}")}},
                "consents": {"marketing": {"email": {"val": "y"}}},
            },
        });
        serde_json::to_writer(&mut body, &line).expect("serialize a line");
        body.push(b'\n');
    }
    let resp = herald
        .http
        .post(format!("{}/v1/profiles:import", herald.base_url()))
        .bearer_auth(API_KEY)
        .header("content-type", "application/x-ndjson")
        .timeout(Duration::from_secs(600))
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST /v1/profiles:import: {e}\n{}", herald.logs()));
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(status, 200, "import → {status}: {text}");
    let v: Value = serde_json::from_str(&text).expect("import summary");
    assert_eq!(v["created"], n as u64, "{v}");
    assert_eq!(v["rejected"], 0, "{v}");
    println!(
        "imported {n} profiles in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// A live marketing email campaign (from `news@shop.example.com`) over a
/// rule audience of the opted-in profiles; returns its id.
pub async fn opted_in_campaign(herald: &Herald) -> String {
    opted_in_campaign_with(herald, "<p>News for {{profile.person.name.firstName}}</p>")
        .await
        .0
}

/// [`opted_in_campaign`] with its own HTML; returns the campaign and the
/// audience ids.
pub async fn opted_in_campaign_with(herald: &Herald, html: &str) -> (String, String) {
    let cfg = herald
        .post(
            "/v1/channel-configurations",
            &json!({"name": "marketing mail", "channel": "email", "category": "marketing",
                    "email": {"fromAddress": "news@shop.example.com", "fromName": "Shop"}}),
            201,
        )
        .await["id"]
        .as_str()
        .expect("configuration id")
        .to_owned();
    let audience = herald
        .post(
            "/v1/audiences",
            &json!({"name": "opted in", "rule": r#"profile.consents.marketing.email.val = "y""#}),
            201,
        )
        .await;
    assert_eq!(audience["kind"], "rule", "{audience}");
    let audience = audience["id"].as_str().expect("audience id").to_owned();
    let campaign = herald
        .post(
            "/v1/campaigns",
            &json!({
                "name": "newsletter",
                "category": "marketing",
                "action": {"channel": "email", "channelConfigurationId": cfg},
                "content": {"email": {
                    "subject": "Hello {{profile.person.name.firstName}}",
                    "html": html,
                    "text": "News for {{profile.person.name.firstName}}"}},
                "audience": {"identityNamespace": "email", "audienceId": audience},
            }),
            201,
        )
        .await["id"]
        .as_str()
        .expect("campaign id")
        .to_owned();
    herald.activate(&campaign).await;
    (campaign, audience)
}

/// Message counts by status, read straight from the SQLite file in
/// `data_dir` (read-only; works while Herald runs and after a kill).
pub async fn status_counts(data_dir: &Path) -> std::collections::BTreeMap<String, i64> {
    use sqlx::Connection;
    let mut conn = open_read_only(data_dir).await;
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM messages GROUP BY status")
            .fetch_all(&mut conn)
            .await
            .expect("count messages by status");
    conn.close().await.expect("close");
    rows.into_iter().collect()
}

/// Ids of the messages with `status`, read from the SQLite file.
pub async fn message_ids_with_status(data_dir: &Path, status: &str) -> Vec<String> {
    use sqlx::Connection;
    let mut conn = open_read_only(data_dir).await;
    let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM messages WHERE status = ?")
        .bind(status)
        .fetch_all(&mut conn)
        .await
        .expect("select message ids");
    conn.close().await.expect("close");
    rows.into_iter().map(|(id,)| id).collect()
}

async fn open_read_only(data_dir: &Path) -> sqlx::SqliteConnection {
    use sqlx::Connection;
    let path = data_dir.join("herald.db");
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .read_only(true)
        .busy_timeout(Duration::from_secs(10));
    sqlx::SqliteConnection::connect_with(&opts)
        .await
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}
