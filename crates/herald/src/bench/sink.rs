//! postfix's `smtp-sink` (the receiving end) and `smtp-source` (the raw
//! baseline sender), as child processes.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// Finds a postfix tool on PATH or in /usr/sbin (where Debian puts them).
pub fn find_tool(name: &str) -> Option<std::path::PathBuf> {
    let mut dirs: Vec<std::path::PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push("/usr/sbin".into());
    dirs.push("/usr/local/sbin".into());
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// `smtp-sink 127.0.0.1:PORT 1000`: accepts and discards every message.
pub struct SmtpSink {
    child: Child,
    pub addr: SocketAddr,
}

impl SmtpSink {
    pub async fn start() -> anyhow::Result<SmtpSink> {
        let exe = find_tool("smtp-sink").context(
            "smtp-sink not found (Debian package `postfix`; scripts/bench.sh installs it)",
        )?;
        let addr = super::server::free_port()?;
        let mut cmd = Command::new(exe);
        if is_root() {
            // Required when it runs as the super-user (see smtp-sink(1)).
            cmd.arg("-u").arg("nobody");
        }
        cmd.arg("-m")
            .arg("1000")
            .arg(addr.to_string())
            .arg("1000")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().context("cannot start smtp-sink")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("smtp-sink exited with {status}");
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                break;
            }
            if Instant::now() > deadline {
                anyhow::bail!("smtp-sink did not listen within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(SmtpSink { child, addr })
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Runs `smtp-source -s SESSIONS -m MESSAGES -l SIZE addr` and returns its
/// wall time.
pub async fn smtp_source(
    addr: SocketAddr,
    sessions: usize,
    messages: u64,
    size: usize,
) -> anyhow::Result<(Duration, String)> {
    let exe = find_tool("smtp-source").context("smtp-source not found (package `postfix`)")?;
    let args = vec![
        "-s".to_string(),
        sessions.to_string(),
        "-m".to_string(),
        messages.to_string(),
        "-l".to_string(),
        size.to_string(),
        "-f".to_string(),
        "bench@herald.test".to_string(),
        "-t".to_string(),
        "sink@example.com".to_string(),
        addr.to_string(),
    ];
    let shown = format!("smtp-source {}", args.join(" "));
    let started = Instant::now();
    let out = tokio::process::Command::new(exe)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .await
        .context("cannot run smtp-source")?;
    let elapsed = started.elapsed();
    if !out.status.success() {
        anyhow::bail!(
            "smtp-source failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok((elapsed, shown))
}
