//! Delivery into a local Maildir, readable by any mail client (a dev outbox
//! and a deterministic sink for tests).

use std::collections::hash_map::RandomState;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use super::{ConfigError, Delivered, FailureClass, MailTransport, SendError};

/// Writes each message as a file in `<dir>/new`, following the Maildir
/// protocol: write to `tmp/`, fsync, rename into `new/`, fsync the directory.
pub struct MaildirTransport {
    root: PathBuf,
    hostname: String,
    counter: AtomicU64,
}

impl MaildirTransport {
    /// Creates `dir` and its `tmp/`, `new/`, `cur/` subdirectories if missing.
    pub fn new(dir: impl AsRef<Path>) -> Result<MaildirTransport, ConfigError> {
        let root = dir.as_ref().to_path_buf();
        for sub in ["tmp", "new", "cur"] {
            let path = root.join(sub);
            fs::create_dir_all(&path).map_err(|source| ConfigError::Maildir {
                path: path.display().to_string(),
                source,
            })?;
        }
        Ok(MaildirTransport {
            root,
            hostname: maildir_hostname(),
            counter: AtomicU64::new(0),
        })
    }

    /// `time.M<micros>P<pid>Q<counter>R<random>.host`, unique across
    /// processes and concurrent deliveries within one process.
    fn unique_name(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        // RandomState is randomly seeded per instance: a dependency-free nonce.
        let random = RandomState::new().build_hasher().finish();
        format!(
            "{}.M{}P{}Q{}R{:016x}.{}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            self.counter.fetch_add(1, Ordering::Relaxed),
            random,
            self.hostname
        )
    }
}

#[async_trait]
impl MailTransport for MaildirTransport {
    async fn send(
        &self,
        envelope_from: &str,
        to: &str,
        raw: &[u8],
    ) -> Result<Delivered, SendError> {
        // Envelope values become headers here, so they must not carry breaks.
        for value in [envelope_from, to] {
            if value.chars().any(char::is_control) {
                return Err(SendError::new(
                    FailureClass::Permanent,
                    None,
                    format!("envelope address {value:?} contains control characters"),
                ));
            }
        }
        let mut content =
            format!("Return-Path: <{envelope_from}>\nDelivered-To: {to}\n").into_bytes();
        // Maildir files conventionally use bare LF line endings.
        content.extend(crlf_to_lf(raw));

        let name = self.unique_name();
        let tmp = self.root.join("tmp").join(&name);
        let new = self.root.join("new").join(&name);
        let new_dir = self.root.join("new");
        tokio::task::spawn_blocking(move || deliver(&tmp, &new, &new_dir, &content))
            .await
            .map_err(|e| {
                SendError::new(
                    FailureClass::Transient,
                    None,
                    format!("maildir task failed: {e}"),
                )
            })?
            .map_err(|e| {
                SendError::new(
                    FailureClass::Transient,
                    None,
                    format!("maildir write failed: {e}"),
                )
            })
            .map(|path| Delivered {
                reply: path.display().to_string(),
            })
    }

    fn describe(&self) -> String {
        format!("maildir:{}", self.root.display())
    }
}

fn deliver(tmp: &Path, new: &Path, new_dir: &Path, content: &[u8]) -> std::io::Result<PathBuf> {
    let write = || -> std::io::Result<()> {
        let mut file = OpenOptions::new().write(true).create_new(true).open(tmp)?;
        file.write_all(content)?;
        file.sync_all()?;
        fs::rename(tmp, new)?;
        // Persist the rename itself, not just the file contents.
        File::open(new_dir)?.sync_all()
    };
    write().inspect_err(|_| {
        // Best effort: a half-written tmp file must not linger.
        let _ = fs::remove_file(tmp);
    })?;
    Ok(new.to_path_buf())
}

fn crlf_to_lf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut iter = raw.iter().peekable();
    while let Some(&b) = iter.next() {
        if b == b'\r' && iter.peek() == Some(&&b'\n') {
            continue;
        }
        out.push(b);
    }
    out
}

/// The hostname with `/` and `:` escaped as the Maildir spec requires.
fn maildir_hostname() -> String {
    let host = fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    host.replace('/', "\\057").replace(':', "\\072")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_crlf_only() {
        assert_eq!(crlf_to_lf(b"a\r\nb\rc\n"), b"a\nb\rc\n");
    }

    #[test]
    fn unique_names_differ() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = MaildirTransport::new(dir.path()).expect("maildir");
        let a = t.unique_name();
        let b = t.unique_name();
        assert_ne!(a, b);
        assert!(!a.contains('/') && !a.contains(':'));
    }
}
