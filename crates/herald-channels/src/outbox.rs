//! The default SMS and push transports: JSON-lines files under
//! `<dir>/outbox/` (`sms.jsonl`, `push.jsonl`), one line per message, for
//! development and as a deterministic sink.
//!
//! The file is opened with O_APPEND and each line goes out in one `write`
//! under a mutex, so concurrent sends never interleave. fsync runs every
//! [`SYNC_EVERY`] lines and on [`JsonlOutbox::sync`] / drop: a crash may lose
//! the last lines, which is acceptable for a dev outbox.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{SecondsFormat, Utc};
use herald_domain::sms_encoding;
use serde_json::{Value, json};

use crate::error::ChannelError;
use crate::push::{PushMessage, PushReceipt, PushTransport};
use crate::sms::{SmsMessage, SmsReceipt, SmsTransport};

pub const SYNC_EVERY: u64 = 64;

struct Inner {
    file: File,
    unsynced: u64,
}

/// An append-only JSON-lines file shared by concurrent senders.
pub struct JsonlOutbox {
    path: PathBuf,
    inner: Arc<Mutex<Inner>>,
}

impl JsonlOutbox {
    /// Opens (creating) `<dir>/outbox/<name>`.
    pub fn open(dir: &Path, name: &str) -> std::io::Result<JsonlOutbox> {
        let outbox = dir.join("outbox");
        fs::create_dir_all(&outbox)?;
        let path = outbox.join(name);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(JsonlOutbox {
            path,
            inner: Arc::new(Mutex::new(Inner { file, unsynced: 0 })),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `line` as one JSON line (one write).
    pub async fn append(&self, line: &Value) -> Result<(), ChannelError> {
        let mut buf = serde_json::to_vec(line).map_err(|e| {
            ChannelError::permanent(format!("cannot serialize the outbox line: {e}"))
        })?;
        buf.push(b'\n');
        let inner = Arc::clone(&self.inner);
        let path = self.path.display().to_string();
        // Disk I/O stays off the async workers.
        tokio::task::spawn_blocking(move || {
            let mut g = inner
                .lock()
                .map_err(|_| ChannelError::transient("the outbox lock is poisoned"))?;
            g.file
                .write_all(&buf)
                .map_err(|e| ChannelError::transient(format!("cannot write {path}: {e}")))?;
            g.unsynced += 1;
            if g.unsynced >= SYNC_EVERY {
                g.file
                    .sync_data()
                    .map_err(|e| ChannelError::transient(format!("cannot fsync {path}: {e}")))?;
                g.unsynced = 0;
            }
            Ok(())
        })
        .await
        .map_err(|e| ChannelError::transient(format!("the outbox writer failed: {e}")))?
    }

    /// fsyncs what was written so far.
    pub fn sync(&self) -> std::io::Result<()> {
        let mut g = self
            .inner
            .lock()
            .map_err(|_| std::io::Error::other("the outbox lock is poisoned"))?;
        g.file.sync_data()?;
        g.unsynced = 0;
        Ok(())
    }
}

impl Drop for JsonlOutbox {
    fn drop(&mut self) {
        if let Ok(g) = self.inner.lock()
            && g.unsynced > 0
        {
            let _ = g.file.sync_data();
        }
    }
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// SMS into `<dir>/outbox/sms.jsonl`: `{"messageId", "to", "from", "text",
/// "segments", "encoding", "at"}`.
pub struct SmsOutbox(JsonlOutbox);

impl SmsOutbox {
    pub fn open(dir: &Path) -> std::io::Result<SmsOutbox> {
        JsonlOutbox::open(dir, "sms.jsonl").map(SmsOutbox)
    }
    pub fn outbox(&self) -> &JsonlOutbox {
        &self.0
    }
}

#[async_trait]
impl SmsTransport for SmsOutbox {
    async fn send(&self, msg: &SmsMessage) -> Result<SmsReceipt, ChannelError> {
        let size = sms_encoding::size(&msg.text);
        self.0
            .append(&json!({
                "messageId": msg.message_id,
                "to": msg.to,
                "from": msg.from,
                "text": msg.text,
                "segments": size.segments,
                "encoding": size.encoding.as_str(),
                "at": now(),
            }))
            .await?;
        Ok(SmsReceipt {
            provider_message_id: None,
            reply: format!("appended to {}", self.0.path.display()),
            segments: size.segments,
            encoding: size.encoding,
        })
    }

    fn describe(&self) -> String {
        format!("SMS outbox {}", self.0.path.display())
    }
}

/// Push into `<dir>/outbox/push.jsonl`: `{"messageId", "platform", "token",
/// "title", "body", "data", "image", "at"}`.
pub struct PushOutbox(JsonlOutbox);

impl PushOutbox {
    pub fn open(dir: &Path) -> std::io::Result<PushOutbox> {
        JsonlOutbox::open(dir, "push.jsonl").map(PushOutbox)
    }
    pub fn outbox(&self) -> &JsonlOutbox {
        &self.0
    }
}

#[async_trait]
impl PushTransport for PushOutbox {
    async fn send(&self, msg: &PushMessage) -> Result<PushReceipt, ChannelError> {
        self.0
            .append(&json!({
                "messageId": msg.message_id,
                "platform": msg.platform.as_str(),
                "token": msg.token,
                "title": msg.title,
                "body": msg.body,
                "data": msg.data,
                "image": msg.image,
                "at": now(),
            }))
            .await?;
        Ok(PushReceipt {
            provider_message_id: None,
            reply: format!("appended to {}", self.0.path.display()),
        })
    }

    fn describe(&self) -> String {
        format!("push outbox {}", self.0.path.display())
    }
}
