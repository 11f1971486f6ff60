//! The server under test: `herald serve` as a child process of this binary,
//! with a temporary data directory, a fixed API key and a free port.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// The fixed admin key of every benchmark run.
pub const API_KEY: &str = "herald-bench-key-0123456789abcdef";

pub struct ServerOptions {
    /// `--smtp-url`; `None` means the Maildir outbox.
    pub smtp_url: Option<String>,
    /// `HERALD_DELIVERY_CONCURRENCY`; `None` keeps the server's default.
    pub delivery_concurrency: Option<usize>,
    /// `--no-delivery`: an API-only node.
    pub no_delivery: bool,
    /// A data directory to reuse (a second start on the first one's
    /// store); `None`: a fresh one in the temporary directory.
    pub data_dir: Option<PathBuf>,
}

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    _data_dir: tempfile::TempDir,
    data: PathBuf,
    pub log: PathBuf,
}

impl Server {
    pub async fn start(opts: &ServerOptions) -> anyhow::Result<Server> {
        let data_dir = tempfile::Builder::new()
            .prefix("herald-bench-")
            .tempdir()
            .context("cannot create a temporary data directory")?;
        let addr = free_port()?;
        let exe = std::env::current_exe().context("cannot find the herald executable")?;
        let log = data_dir.path().join("server.log");
        let log_file = std::fs::File::create(&log)?;
        let data = opts
            .data_dir
            .clone()
            .unwrap_or_else(|| data_dir.path().join("data"));
        let mut cmd = Command::new(exe);
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(&data)
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--api-key")
            .arg(API_KEY)
            .arg("--bench-noop")
            .env_remove("HERALD_CONFIG")
            .env_remove("HERALD_SMTP_URL")
            .env_remove("HERALD_DELIVERY_CONCURRENCY")
            .env_remove("HERALD_NO_DELIVERY")
            .current_dir(data_dir.path())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        if let Some(url) = &opts.smtp_url {
            cmd.arg("--smtp-url").arg(url);
        }
        if opts.no_delivery {
            cmd.arg("--no-delivery");
        }
        if let Some(n) = opts.delivery_concurrency {
            cmd.env("HERALD_DELIVERY_CONCURRENCY", n.to_string());
        }
        let child = cmd.spawn().context("cannot start `herald serve`")?;
        let mut server = Server {
            child,
            addr,
            _data_dir: data_dir,
            data,
            log,
        };
        server.wait_healthy().await?;
        Ok(server)
    }

    /// The server process id (the import bench reads its peak RSS).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's `--data-dir`.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let url = format!("{}/ajo/im/health", self.base_url());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "`herald serve` exited with {status}; log:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                anyhow::bail!("`herald serve` did not become healthy within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM first (graceful shutdown), SIGKILL after a grace period.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                self.keep_log();
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.keep_log();
    }
}

impl Server {
    /// `HERALD_BENCH_SERVER_LOG=path` keeps the server's log (with
    /// `RUST_LOG=herald_store=debug`, the group-commit figures per second)
    /// after the temporary data directory is gone.
    fn keep_log(&self) {
        if let Some(dest) = std::env::var_os("HERALD_BENCH_SERVER_LOG")
            && let Err(e) = std::fs::copy(&self.log, &dest)
        {
            eprintln!("cannot keep the server log: {e}");
        }
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> anyhow::Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(l.local_addr()?)
}
