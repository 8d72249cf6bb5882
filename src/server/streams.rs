//! The open event streams and the credentials behind them. A stream carries customer names and
//! texts, so it must not outlive the right to read them: when its agent is disabled or its token
//! revoked, the stream ends within a second (at once when the change is made through this
//! server; within the poll interval when it comes from another process, such as the admin CLI).
//! Shutdown ends every stream, so the server can stop while terminals are connected.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::store::Store;

/// How often open streams' tokens are read afresh from the database.
pub const POLL: Duration = Duration::from_millis(500);

/// Every open event stream, by the hash of the token that opened it.
#[derive(Default)]
pub struct Streams {
    open: Mutex<HashMap<u64, (String, oneshot::Sender<End>)>>,
    next_id: AtomicU64,
    watching: AtomicBool,
    closing: AtomicBool,
}

/// Why a stream was ended by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The agent was disabled or the token revoked.
    Revoked,
    /// The server is shutting down.
    Shutdown,
}

/// One open stream's place in the registry; dropping it (the stream ended) takes it out.
pub struct Ticket {
    id: u64,
    streams: Weak<Streams>,
    /// Completes when the server ends the stream.
    pub ended: oneshot::Receiver<End>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(s) = self.streams.upgrade()
            && let Ok(mut open) = s.open.lock()
        {
            open.remove(&self.id);
        }
    }
}

impl Streams {
    /// Registers a stream opened with this token hash. The first registration starts the
    /// watcher that checks the tokens (it stops when the registry is dropped).
    pub fn open(self: &Arc<Self>, token_hash: String, store: &Store) -> Ticket {
        let (tx, ended) = oneshot::channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if self.closing.load(Ordering::SeqCst) {
            let _ = tx.send(End::Shutdown);
        } else if let Ok(mut open) = self.open.lock() {
            open.insert(id, (token_hash, tx));
        }
        if !self.watching.swap(true, Ordering::SeqCst) {
            tokio::spawn(watch(Arc::downgrade(self), store.clone()));
        }
        Ticket { id, streams: Arc::downgrade(self), ended }
    }

    /// How many streams are open.
    pub fn count(&self) -> usize {
        self.open.lock().map(|o| o.len()).unwrap_or(0)
    }

    /// Ends every open stream and refuses new ones (they end as soon as they open).
    pub fn shut_down(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.end_where(|_| true, End::Shutdown);
    }

    fn hashes(&self) -> Vec<String> {
        let Ok(open) = self.open.lock() else { return Vec::new() };
        let mut hashes: Vec<String> = open.values().map(|(h, _)| h.clone()).collect();
        hashes.sort_unstable();
        hashes.dedup();
        hashes
    }

    fn end_where(&self, doomed: impl Fn(&str) -> bool, why: End) {
        let Ok(mut open) = self.open.lock() else { return };
        let ids: Vec<u64> = open.iter().filter(|(_, (h, _))| doomed(h)).map(|(id, _)| *id).collect();
        for id in ids {
            if let Some((_, tx)) = open.remove(&id) {
                let _ = tx.send(why);
            }
        }
    }
}

/// Checks the open streams' tokens every `POLL`, and at once when this process changes
/// credentials.
async fn watch(streams: Weak<Streams>, store: Store) {
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = store.credentials_changed() => {}
        }
        let Some(s) = streams.upgrade() else { return };
        let hashes = s.hashes();
        if hashes.is_empty() {
            continue;
        }
        match store.valid_token_hashes(&hashes).await {
            Ok(valid) => s.end_where(|h| !valid.contains(h), End::Revoked),
            Err(e) => tracing::warn!(error = %e, "checking the event streams' tokens failed; will retry"),
        }
    }
}
