//! Persistence behind one interface: the `Store` methods are everything the server may ask of the
//! database, in domain words (claim, reply, approve…). No SQL or sqlx type leaves this module, so
//! a PostgreSQL backend can be added here without touching the API layer.
//!
//! What an operation does to a question, or why it is refused, is `crate::lifecycle`'s (pure);
//! the store loads the question in its write transaction, applies the rule and records the
//! change with its event (`questions::transition`, `questions::apply`).
//!
//! Two databases, one meaning (`db`: the SQL is written once): SQLite, embedded, the default; or
//! PostgreSQL (`postgres://…`), which several servers can share.
//!
//! Layout, both: one writer connection behind a mutex that is held from the start of the write
//! transaction to after the events are published, so this process's writes serialise (racing
//! claims: one wins) and events reach subscribers in id order; a pool of connections for
//! everything else. Every state change and the event that tells of it are written in the same
//! transaction. The writer is a plain connection, not a pool of one: taking it from a pool cost
//! more than a whole small transaction.
//!
//! SQLite: `BEGIN IMMEDIATE` takes the database's write lock, which also holds off other
//! processes (the admin CLI); the readers are read-only and WAL lets them read while the writer
//! writes. PostgreSQL: see `WriteTx` for how writers in other processes are kept in order.

mod agents;
mod channels;
mod claims;
mod db;
mod events;
mod inbound;
mod migrations;
mod ops;
mod questions;
mod queue;
mod replies;
mod routing;
mod stats;
mod training;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Postgres, Sqlite};

use db::{Conn, DbConn, Kind, query};
use tokio::sync::{Mutex, OwnedMutexGuard, broadcast};

/// The API's types the store takes and gives back; they live with the rest of the contract.
pub use crate::wire::{InboundOutcome, NewAgent, NewInbound, QueuePage};
pub use agents::hash_token;
pub use channels::{OutboxItem, PostOutcome};
pub use claims::TransferTarget;
pub use inbound::{IngestOptions, MAX_CLOCK_AHEAD_MS, MAX_MESSAGE_AGE_MS};
pub use ops::{BackupReport, FunctionGauges, OpsGauges, OutboxGauges};
pub use questions::{MAX_BODY_CHARS, SpamRules};
pub use queue::QueueFilter;
pub use routing::{RoutingAgent, RoutingQuestion};
pub use stats::{AgentStats, FunctionStats, Percentiles, Stats};

use crate::config::Durability;
use crate::error::{Error, Result};
use crate::model::{Agent, Event, Millis};

/// How long a token check is remembered; see [`Store::authenticate`].
pub const AUTH_CACHE_TTL: Duration = Duration::from_secs(1);

/// How the store is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite::memory:`, `sqlite://PATH`, `sqlite:PATH`, a plain path, or
    /// `postgres://USER@HOST/DATABASE` (also `postgresql://`).
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
    writer: Arc<Mutex<DbConn>>,
    /// `None` for an in-memory database, whose only connection is the writer.
    readers: Option<Readers>,
    /// How to open the writer again after its connection broke (PostgreSQL only: a server
    /// restart or a network cut; an SQLite file does not go away).
    reconnect: Option<PgConnectOptions>,
    /// Runs WAL checkpoints outside the write path (file databases only).
    checkpointer: Option<Mutex<SqliteConnection>>,
    /// Set when a write transaction was dropped unfinished (an error, a refused operation, a
    /// cancelled request) and its rollback has not run yet: the next user of the writer rolls it
    /// back first. Normally the rollback runs at once (see `WriteTx::drop`).
    dirty: Arc<AtomicBool>,
    events: broadcast::Sender<Event>,
    /// Woken when this process disables an agent or revokes tokens, so open event streams
    /// are checked at once (a change from another process is found by polling).
    credentials_changed: tokio::sync::Notify,
    /// Counts those changes, so a stream can tell cheaply whether to check its token again.
    credentials_generation: std::sync::atomic::AtomicU64,
    events_retained: u32,
    /// Token hash → the agent it signed in, and when that was read.
    sessions: std::sync::Mutex<HashMap<String, (Agent, Instant)>>,
    memory: bool,
    kind: Kind,
}

enum Readers {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

impl Store {
    pub async fn open(options: &StoreOptions) -> Result<Store> {
        let (connect, memory) = match connect_options(&options.database)? {
            Target::Sqlite(connect, memory) => (*connect, memory),
            Target::Postgres(connect) => return Store::open_postgres(options, *connect).await,
        };
        let connect =
            connect.foreign_keys(true).busy_timeout(Duration::from_secs(10)).synchronous(match options.durability {
                Durability::Normal => SqliteSynchronous::Normal,
                Durability::Full => SqliteSynchronous::Full,
            });
        let (writer, readers) = if memory {
            // Every connection to ":memory:" is a database of its own, so the writer serves
            // reads too.
            let mut writer = connect.connect().await?;
            migrations::apply(Conn::Sqlite(&mut writer)).await?;
            (writer, None)
        } else {
            let connect = connect.journal_mode(SqliteJournalMode::Wal).create_if_missing(true);
            let parent = connect.get_filename().parent().map(Path::to_path_buf);
            if let Some(dir) = parent.filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(&dir).map_err(|e| {
                    Error::invalid(format!("cannot create the database directory {}: {e}", dir.display()))
                })?;
            }
            // Checkpoints (copying the WAL into the database file, with a disk flush) run in the
            // background job through their own connection (`checkpoint`), not inside a request's
            // commit. The writer still checkpoints by itself if the WAL grows past ~40 MB, in case
            // no job runs (the admin CLI).
            let mut writer = connect.clone().pragma("wal_autocheckpoint", "10000").connect().await?;
            migrations::apply(Conn::Sqlite(&mut writer)).await?;
            let checkpointer = connect.clone().connect().await?;
            let readers = SqlitePoolOptions::new()
                .max_connections(8)
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(connect.read_only(true))
                .await?;
            (writer, Some((readers, checkpointer)))
        };
        let (readers, checkpointer) = match readers {
            Some((r, c)) => (Some(Readers::Sqlite(r)), Some(Mutex::new(c))),
            None => (None, None),
        };
        Ok(Store::assemble(options, DbConn::Sqlite(writer), readers, checkpointer, None, memory, Kind::Sqlite))
    }

    /// A store on a PostgreSQL database, which other servers may be using at the same time.
    /// `durability` is the database server's business there (`synchronous_commit`).
    async fn open_postgres(options: &StoreOptions, connect: PgConnectOptions) -> Result<Store> {
        let connect = connect.application_name("helphive");
        let mut writer = connect.connect().await?;
        migrations::apply(Conn::Pg(&mut writer)).await?;
        let readers = PgPoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(connect.clone())
            .await?;
        Ok(Store::assemble(
            options,
            DbConn::Pg(writer),
            Some(Readers::Pg(readers)),
            None,
            Some(connect),
            false,
            Kind::Postgres,
        ))
    }

    fn assemble(
        options: &StoreOptions,
        writer: DbConn,
        readers: Option<Readers>,
        checkpointer: Option<Mutex<SqliteConnection>>,
        reconnect: Option<PgConnectOptions>,
        memory: bool,
        kind: Kind,
    ) -> Store {
        let (events, _) = broadcast::channel(4096);
        Store {
            inner: Arc::new(Inner {
                writer: Arc::new(Mutex::new(writer)),
                readers,
                reconnect,
                checkpointer,
                dirty: Arc::new(AtomicBool::new(false)),
                events,
                credentials_changed: tokio::sync::Notify::new(),
                credentials_generation: std::sync::atomic::AtomicU64::new(0),
                events_retained: options.events_retained.max(100),
                sessions: Default::default(),
                memory,
                kind,
            }),
        }
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

    /// Whether the database is PostgreSQL (else SQLite).
    pub fn is_postgres(&self) -> bool {
        self.inner.kind == Kind::Postgres
    }

    /// New events, in id order, as they are committed by this process.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// The writer connection, rolled back first if an earlier transaction was left unfinished.
    async fn lock_writer(&self) -> Result<OwnedMutexGuard<DbConn>> {
        let mut conn = self.inner.writer.clone().lock_owned().await;
        if self.inner.dirty.swap(false, Ordering::SeqCst) {
            // SQLite may have rolled back already (some errors do that itself); then this
            // fails harmlessly.
            if let Err(e) = conn.conn().raw("ROLLBACK").await {
                tracing::debug!(error = %e, "rollback of an unfinished transaction");
            }
        }
        Ok(conn)
    }

    /// Opens the writer's PostgreSQL connection again.
    async fn reconnect_writer(&self, conn: &mut DbConn) -> Result<()> {
        if let Some(options) = &self.inner.reconnect {
            *conn = DbConn::Pg(options.connect().await?);
        }
        Ok(())
    }

    fn cached_session(&self, hash: &str) -> Option<Agent> {
        let sessions = self.inner.sessions.lock().ok()?;
        let (agent, at) = sessions.get(hash)?;
        (at.elapsed() < AUTH_CACHE_TTL).then(|| agent.clone())
    }

    fn remember_session(&self, hash: String, agent: Agent) {
        if let Ok(mut sessions) = self.inner.sessions.lock() {
            if sessions.len() > 10_000 {
                sessions.retain(|_, (_, at)| at.elapsed() < AUTH_CACHE_TTL);
            }
            sessions.insert(hash, (agent, Instant::now()));
        }
    }

    fn forget_sessions(&self) {
        if let Ok(mut sessions) = self.inner.sessions.lock() {
            sessions.clear();
        }
    }

    /// Completes the next time this process disables an agent or revokes tokens.
    pub async fn credentials_changed(&self) {
        self.inner.credentials_changed.notified().await;
    }

    /// How many times this process has disabled an agent or revoked tokens.
    pub fn credentials_generation(&self) -> u64 {
        self.inner.credentials_generation.load(Ordering::SeqCst)
    }

    fn announce_credentials_changed(&self) {
        self.forget_sessions();
        self.inner.credentials_generation.fetch_add(1, Ordering::SeqCst);
        self.inner.credentials_changed.notify_waiters();
    }

    /// A connection for reading.
    async fn read(&self) -> Result<ReadConn> {
        Ok(match &self.inner.readers {
            Some(Readers::Sqlite(pool)) => ReadConn::Sqlite(pool.acquire().await?),
            Some(Readers::Pg(pool)) => ReadConn::Pg(pool.acquire().await?),
            None => ReadConn::Writer(self.lock_writer().await?),
        })
    }

    /// Starts a write transaction and takes the database's write lock at once (see `WriteTx`):
    /// a second process waits for it (SQLite: on the busy timeout) instead of failing half-way.
    async fn write(&self, now: Millis) -> Result<WriteTx> {
        let mut conn = self.lock_writer().await?;
        if let Err(e) = begin_write(conn.conn()).await {
            if self.inner.reconnect.is_none() {
                return Err(e.into());
            }
            // The connection may have broken while idle (the database restarted): once more
            // on a new one.
            tracing::warn!(error = %e, "the write connection failed; connecting again");
            self.reconnect_writer(&mut conn).await?;
            begin_write(conn.conn()).await?;
        }
        Ok(WriteTx { conn: Some(conn), open: true, events: Vec::new(), now, store: self.clone() })
    }

    /// Copies committed pages from the WAL into the database file, without blocking writers
    /// (a passive checkpoint). The background job calls this every second.
    pub async fn checkpoint(&self) -> Result<()> {
        if let Some(c) = &self.inner.checkpointer {
            let mut conn = c.lock().await;
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&mut *conn).await?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        let _ = self.checkpoint().await;
        match &self.inner.readers {
            Some(Readers::Sqlite(pool)) => pool.close().await,
            Some(Readers::Pg(pool)) => pool.close().await,
            None => {}
        }
        let conn = self.inner.writer.lock().await;
        drop(conn);
    }
}

/// Begins a write transaction and takes the write lock.
///
/// SQLite: `BEGIN IMMEDIATE`, the database's one write lock.
///
/// PostgreSQL: a transaction-scoped advisory lock, one key for every helphive server on the
/// database, taken before anything is read. Chosen over locking rows (`SELECT … FOR UPDATE`)
/// because it gives exactly SQLite's meaning with the same SQL: every write transaction of every
/// server runs alone, so the load, apply, record of `questions::transition` cannot interleave
/// with another server's (racing claims across servers: one wins, with no per-operation lock
/// list to get wrong), and transactions commit in the order they took the lock, so event ids
/// (handed out inside the lock) are committed in id order, which resuming by `Last-Event-ID`
/// relies on: a client that saw event n never misses a smaller id committed later. Scoped to the
/// transaction, it is released by COMMIT or ROLLBACK, also when the connection dies, and is safe
/// behind PgBouncer's transaction pooling. The cost is one global order of writes, as on SQLite,
/// which the write volume of a help desk allows.
async fn begin_write(conn: Conn<'_>) -> std::result::Result<(), sqlx::Error> {
    match conn.kind() {
        Kind::Sqlite => conn.raw("BEGIN IMMEDIATE").await,
        // One round trip for both statements. The key is the same for every helphive server
        // on the database and arbitrary otherwise: "helphive" in ASCII, as a 64-bit number.
        Kind::Postgres => conn.raw("BEGIN; SELECT pg_advisory_xact_lock(7522537982636160613)").await,
    }
}

/// A read connection: from the pool, or the writer itself for an in-memory database.
enum ReadConn {
    Sqlite(PoolConnection<Sqlite>),
    Pg(PoolConnection<Postgres>),
    Writer(OwnedMutexGuard<DbConn>),
}

impl ReadConn {
    fn conn(&mut self) -> Conn<'_> {
        match self {
            ReadConn::Sqlite(c) => Conn::Sqlite(c),
            ReadConn::Pg(c) => Conn::Pg(c),
            ReadConn::Writer(c) => c.conn(),
        }
    }
}

/// A write transaction with the events it will publish once committed. Dropped without
/// `commit` (a refused operation returns early with `?`), it is rolled back at once and publishes
/// nothing. It holds the write lock (`begin_write`) from its start to its end.
struct WriteTx {
    /// Always `Some` until dropped; `Drop` moves the guard into the rollback task.
    conn: Option<OwnedMutexGuard<DbConn>>,
    open: bool,
    events: Vec<Event>,
    now: Millis,
    store: Store,
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        // Set while the writer is still locked, so nobody can use the connection before seeing
        // the flag; cleared by the rollback below once it has run.
        let dirty = self.store.inner.dirty.clone();
        dirty.store(true, Ordering::SeqCst);
        // SQLite's write lock belongs to the open transaction, not to the mutex: left open until
        // the next write comes along, it would shut out every other process (the admin CLI) for
        // as long as the server stays idle. Roll back now, still holding the writer so the next
        // user starts on a clean connection.
        let (Some(mut conn), Ok(runtime)) = (self.conn.take(), tokio::runtime::Handle::try_current()) else {
            return;
        };
        runtime.spawn(async move {
            match conn.conn().raw("ROLLBACK").await {
                Ok(_) => dirty.store(false, Ordering::SeqCst),
                // SQLite may have rolled back by itself (some errors do that); the flag stays
                // set and the next user's ROLLBACK fails just as harmlessly.
                Err(e) => tracing::debug!(error = %e, "rollback of an unfinished transaction"),
            }
            drop(conn);
        });
    }
}

impl WriteTx {
    fn conn(&mut self) -> Conn<'_> {
        #[allow(clippy::expect_used)] // only `Drop` takes it
        self.conn.as_mut().expect("the writer is held until the transaction is dropped").conn()
    }

    /// Records an event in this transaction.
    async fn event(
        &mut self,
        kind: &str,
        question_id: Option<i64>,
        actor: Option<&str>,
        data: serde_json::Value,
    ) -> Result<()> {
        // Every event the store's tests make is held to its payload type in `wire::events`.
        #[cfg(test)]
        if let Err(e) = crate::wire::events::check(kind, &data) {
            panic!("event data does not match its payload type: {e}");
        }
        let text = data.to_string();
        let now = self.now;
        let id: i64 =
            query("INSERT INTO events (at, kind, question_id, actor, data) VALUES (?, ?, ?, ?, ?) RETURNING id")
                .bind(now)
                .bind(kind.to_string())
                .bind(question_id)
                .bind(actor.map(str::to_string))
                .bind(text)
                .scalar_one(self.conn())
                .await?;
        self.events.push(Event {
            id,
            at: now,
            kind: kind.to_string(),
            question_id,
            actor: actor.map(str::to_string),
            data,
        });
        Ok(())
    }

    /// Commits, then publishes the events while still holding the writer, so subscribers see
    /// them in id order.
    async fn commit(mut self) -> Result<Vec<Event>> {
        self.conn().raw("COMMIT").await?;
        self.open = false;
        let events = std::mem::take(&mut self.events);
        // This process's subscribers only. On PostgreSQL another server's events reach its own
        // subscribers alone; delivering them here too (LISTEN/NOTIFY, or following the events
        // table) belongs in this place, after the commit and in id order.
        for e in &events {
            // No subscribers is fine: the events are in the table for whoever comes later.
            let _ = self.store.inner.events.send(e.clone());
        }
        Ok(events)
    }
}

/// Where `StoreOptions::database` points.
enum Target {
    /// With whether it is in memory.
    Sqlite(Box<SqliteConnectOptions>, bool),
    Postgres(Box<PgConnectOptions>),
}

fn connect_options(database: &str) -> Result<Target> {
    let db = database.trim();
    if db == "sqlite::memory:" || db == ":memory:" || db == "sqlite://:memory:" {
        return Ok(Target::Sqlite(Box::new(SqliteConnectOptions::new().in_memory(true)), true));
    }
    if db.starts_with("postgres:") || db.starts_with("postgresql:") {
        // The URL may carry a password: the error names the problem, not the URL.
        let o = PgConnectOptions::from_str(db)
            .map_err(|e| Error::invalid(format!("the PostgreSQL database URL is not valid: {e}")))?;
        return Ok(Target::Postgres(Box::new(o)));
    }
    if db.starts_with("sqlite:") {
        let o = SqliteConnectOptions::from_str(db).map_err(|e| Error::invalid(format!("database '{db}': {e}")))?;
        return Ok(Target::Sqlite(Box::new(o), false));
    }
    if db.is_empty() {
        return Err(Error::invalid("no database given"));
    }
    Ok(Target::Sqlite(Box::new(SqliteConnectOptions::new().filename(Path::new(db))), false))
}

#[cfg(test)]
mod tests;
