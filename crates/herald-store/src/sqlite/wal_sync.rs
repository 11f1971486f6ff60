//! Pipelined durability for group commits.
//!
//! The group-commit transactions run with `synchronous=NORMAL`: COMMIT
//! writes the WAL frames but does not wait for the disk. This thread then
//! fsyncs the WAL file and only afterwards releases the answers of every
//! batch committed before that fsync started. The writer meanwhile runs
//! the next batch, so executing SQL and waiting for the disk overlap
//! instead of taking turns. A caller still hears back only once its data
//! is on disk, exactly as with `synchronous=FULL`.
//!
//! Why this is sound: fsync flushes the file (the inode), whichever
//! descriptor calls it, so every frame written before the call is durable
//! when it returns. A checkpoint that copies frames into the database file
//! syncs the WAL and the database itself, and SQLite restarts the WAL only
//! after a complete checkpoint.

use std::fs::File;
use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

use crate::StoreError;

/// An answer held back until the data it reports is on disk; called with
/// the fsync's error when it failed.
pub type Held = Box<dyn FnOnce(Option<&std::io::Error>) + Send>;

#[derive(Clone)]
pub struct WalSync {
    tx: mpsc::Sender<Vec<Held>>,
}

impl WalSync {
    /// Starts the sync thread for the WAL at `wal` (it must exist: the
    /// database is open in WAL mode).
    pub fn start(wal: &Path) -> Result<WalSync, StoreError> {
        let file = File::options()
            .read(true)
            .write(true)
            .open(wal)
            .map_err(|e| {
                StoreError::Corrupt(format!("cannot open the WAL {}: {e}", wal.display()))
            })?;
        let (tx, rx) = mpsc::channel::<Vec<Held>>();
        std::thread::Builder::new()
            .name("herald-wal-sync".into())
            .spawn(move || run(file, rx))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the WAL sync thread: {e}")))?;
        Ok(WalSync { tx })
    }

    /// Returns once everything committed before the call is on disk: for a
    /// read that answers as if it had accepted (an idempotent replay) and
    /// may have seen a commit whose fsync is still running.
    pub async fn barrier(&self) -> Result<(), StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.after_sync(vec![Box::new(move |err: Option<&std::io::Error>| {
            let _ = tx.send(err.map(|e| e.to_string()));
        })]);
        match rx.await {
            Ok(None) => Ok(()),
            Ok(Some(e)) => Err(StoreError::Corrupt(format!("fsync of the WAL failed: {e}"))),
            Err(_) => Err(StoreError::Closed),
        }
    }

    /// Releases `held` after the next fsync of the WAL.
    pub fn after_sync(&self, held: Vec<Held>) {
        if held.is_empty() {
            return;
        }
        if let Err(mpsc::SendError(held)) = self.tx.send(held) {
            let e = std::io::Error::other("the WAL sync thread has stopped");
            for h in held {
                h(Some(&e));
            }
        }
    }
}

fn run(file: File, rx: mpsc::Receiver<Vec<Held>>) {
    while let Ok(mut waiting) = rx.recv() {
        // Everything that arrived meanwhile shares this fsync.
        while let Ok(more) = rx.try_recv() {
            waiting.extend(more);
        }
        let started = Instant::now();
        let synced = file.sync_data();
        metrics::histogram!("herald_store_wal_fsync_seconds")
            .record(started.elapsed().as_secs_f64());
        if let Err(e) = &synced {
            tracing::error!(error = %e, "fsync of the WAL failed; the waiting writes are answered with an error");
        }
        let err = synced.as_ref().err();
        for h in waiting {
            h(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn held_answers_are_released_after_a_sync_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("x-wal");
        std::fs::write(&wal, b"frames").unwrap();
        let sync = WalSync::start(&wal).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (done_tx, done_rx) = mpsc::channel();
        for batch in 0..3 {
            let held: Vec<Held> = (0..2)
                .map(|i| {
                    let seen = seen.clone();
                    let done = done_tx.clone();
                    Box::new(move |err: Option<&std::io::Error>| {
                        seen.lock().unwrap().push((batch, i, err.is_none()));
                        done.send(()).unwrap();
                    }) as Held
                })
                .collect();
            sync.after_sync(held);
        }
        for _ in 0..6 {
            done_rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .unwrap();
        }
        let seen = seen.lock().unwrap().clone();
        let expected: Vec<_> = (0..3)
            .flat_map(|b| (0..2).map(move |i| (b, i, true)))
            .collect();
        assert_eq!(seen, expected);
    }

    #[tokio::test]
    async fn a_barrier_returns_after_a_sync() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("x-wal");
        std::fs::write(&wal, b"frames").unwrap();
        let sync = WalSync::start(&wal).unwrap();
        sync.barrier().await.unwrap();
        sync.clone().barrier().await.unwrap();
    }

    #[test]
    fn a_missing_wal_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        assert!(WalSync::start(&dir.path().join("absent-wal")).is_err());
    }
}
