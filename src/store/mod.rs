//! Persistence behind one interface: the `Store` methods are everything the server may ask of the
//! database, in domain words (claim, reply, approve…). No SQL or sqlx type leaves this module, so
//! a PostgreSQL backend can be added here without touching the API layer.
//!
//! SQLite layout: one writer connection, guarded by a mutex that is held from `BEGIN IMMEDIATE`
//! to after the events are published, so events reach subscribers in id order; a pool of read-only
//! connections for everything else (WAL lets them read while the writer writes). Every state
//! change and the event that tells of it are written in the same transaction.

mod agents;
mod events;
mod migrations;
mod questions;
mod stats;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard, broadcast};

pub use agents::{NewAgent, hash_token};
pub use questions::{InboundOutcome, NewInbound, QueueFilter, QueuePage, TransferTarget};
pub use stats::{AgentStats, FunctionStats, Stats};

use crate::config::Durability;
use crate::error::{Error, Result};
use crate::model::{Event, Millis};

/// How the store is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite::memory:`, `sqlite://PATH`, `sqlite:PATH`, or a plain path.
    pub database: String,
    pub durability: Durability,
    /// Events kept for reconnecting clients (older ones are pruned).
    pub events_retained: u32,
}

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    writer: SqlitePool,
    readers: SqlitePool,
    write_lock: Arc<Mutex<()>>,
    events: broadcast::Sender<Event>,
    events_retained: u32,
    memory: bool,
}

impl Store {
    pub async fn open(options: &StoreOptions) -> Result<Store> {
        let (connect, memory) = connect_options(&options.database)?;
        let connect = connect
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .synchronous(match options.durability {
                Durability::Normal => SqliteSynchronous::Normal,
                Durability::Full => SqliteSynchronous::Full,
            });
        let (writer, readers) = if memory {
            // Every connection to ":memory:" is a database of its own, so one connection serves
            // reads and writes alike.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(connect)
                .await?;
            (pool.clone(), pool)
        } else {
            let connect = connect.journal_mode(SqliteJournalMode::Wal).create_if_missing(true);
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(connect.clone())
                .await?;
            migrations::apply(&writer).await?;
            let readers = SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(connect.read_only(true))
                .await?;
            (writer, readers)
        };
        if memory {
            migrations::apply(&writer).await?;
        }
        let (events, _) = broadcast::channel(4096);
        Ok(Store {
            inner: Arc::new(Inner {
                writer,
                readers,
                write_lock: Arc::new(Mutex::new(())),
                events,
                events_retained: options.events_retained.max(100),
                memory,
            }),
        })
    }

    /// A store in memory with default settings, for tests and the demo.
    pub async fn in_memory() -> Result<Store> {
        Store::open(&StoreOptions {
            database: "sqlite::memory:".into(),
            durability: Durability::Normal,
            events_retained: 100_000,
        })
        .await
    }

    pub fn is_memory(&self) -> bool {
        self.inner.memory
    }

    /// New events, in id order, as they are committed by this process.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    fn readers(&self) -> &SqlitePool {
        &self.inner.readers
    }

    /// Starts a write transaction. Writes are serialised through one connection; `BEGIN
    /// IMMEDIATE` takes SQLite's write lock at once, so a second process (the admin CLI) waits on
    /// the busy timeout instead of failing half-way.
    async fn write(&self, now: Millis) -> Result<WriteTx> {
        let guard = self.inner.write_lock.clone().lock_owned().await;
        let tx = self.inner.writer.begin_with("BEGIN IMMEDIATE").await?;
        Ok(WriteTx { tx, events: Vec::new(), now, _guard: guard, store: self.clone() })
    }

    pub async fn close(&self) {
        self.inner.readers.close().await;
        self.inner.writer.close().await;
    }
}

/// A write transaction with the events it will publish once committed. Dropped without
/// `commit`, it rolls back and publishes nothing.
struct WriteTx {
    tx: Transaction<'static, Sqlite>,
    events: Vec<Event>,
    now: Millis,
    store: Store,
    _guard: OwnedMutexGuard<()>,
}

impl WriteTx {
    fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }

    /// Records an event in this transaction.
    async fn event(
        &mut self,
        kind: &str,
        question_id: Option<i64>,
        actor: Option<&str>,
        data: serde_json::Value,
    ) -> Result<()> {
        let text = data.to_string();
        let now = self.now;
        let r = sqlx::query(
            "INSERT INTO events (at, kind, question_id, actor, data) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(now)
        .bind(kind.to_string())
        .bind(question_id)
        .bind(actor.map(str::to_string))
        .bind(text)
        .execute(self.conn())
        .await?;
        self.events.push(Event {
            id: r.last_insert_rowid(),
            at: now,
            kind: kind.to_string(),
            question_id,
            actor: actor.map(str::to_string),
            data,
        });
        Ok(())
    }

    /// Commits, then publishes the events while still holding the write lock, so subscribers see
    /// them in id order.
    async fn commit(self) -> Result<Vec<Event>> {
        let WriteTx { tx, events, store, _guard, .. } = self;
        tx.commit().await?;
        for e in &events {
            // No subscribers is fine: the events are in the table for whoever comes later.
            let _ = store.inner.events.send(e.clone());
        }
        drop(_guard);
        Ok(events)
    }
}

fn connect_options(database: &str) -> Result<(SqliteConnectOptions, bool)> {
    let db = database.trim();
    if db == "sqlite::memory:" || db == ":memory:" || db == "sqlite://:memory:" {
        return Ok((SqliteConnectOptions::new().in_memory(true), true));
    }
    if db.starts_with("postgres:") || db.starts_with("postgresql:") {
        return Err(Error::invalid(
            "PostgreSQL is not supported yet: use a SQLite file or sqlite::memory:",
        ));
    }
    if db.starts_with("sqlite:") {
        let o = SqliteConnectOptions::from_str(db)
            .map_err(|e| Error::invalid(format!("database '{db}': {e}")))?;
        return Ok((o, false));
    }
    if db.is_empty() {
        return Err(Error::invalid("no database given"));
    }
    Ok((SqliteConnectOptions::new().filename(Path::new(db)), false))
}

/// The current time in milliseconds since the Unix epoch.
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
