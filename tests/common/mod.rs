//! Test helpers: the real server on 127.0.0.1:0 with a fresh SQLite file, driven by the real
//! client.
#![allow(dead_code)]

pub mod mastodon;
pub mod process;
pub mod schema;

use std::sync::Arc;

use helphive::client::Client;
use helphive::clock::{Clock, ManualClock, SystemClock};
use helphive::config::Config;
use helphive::model::{Agent, Customer, Role, Skill};
use helphive::server::{self, AppState};
use helphive::store::{NewAgent, NewInbound, Store, StoreOptions};

/// One question for each function, as the benchmarks send them in bulk.
pub const SAMPLE_QUESTIONS: [&str; 5] = [
    "my router will not connect to wifi after the update",
    "where is my order? it was due yesterday",
    "I was charged twice for the same purchase, refund please",
    "does the store downtown have the headphones in stock?",
    "is the black friday coupon valid online?",
];

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub struct TestApp {
    pub base: String,
    pub store: Store,
    pub state: AppState,
    /// Signed in as the admin `root`.
    pub admin: Client,
    pub clock: Option<ManualClock>,
    pub dir: tempfile::TempDir,
    /// The store's database (a SQLite file in `dir`, or a PostgreSQL URL), for a second store
    /// on it, as another process would open.
    pub database: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub struct Options {
    pub config: Config,
    pub manual_clock: Option<i64>,
    pub jobs: bool,
    /// Connectors the state carries (the outbox worker and the directory use them); tests drive
    /// them by hand rather than running them in the background.
    pub channels: Option<helphive::channels::Channels>,
}

impl Default for Options {
    fn default() -> Self {
        Options { config: Config::builtin(), manual_clock: None, jobs: false, channels: None }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(opts: Options) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let database = test_database(dir.path()).await;
    let store = Store::open(&StoreOptions {
        database: database.clone(),
        durability: opts.config.server.durability,
        events_retained: opts.config.server.events_retained,
    })
    .await
    .unwrap();
    let manual = opts.manual_clock.map(ManualClock::new);
    let clock: Arc<dyn Clock> = match &manual {
        Some(c) => Arc::new(c.clone()),
        None => Arc::new(SystemClock),
    };
    let mut state = AppState::new(store.clone(), opts.config, clock, Some(SECRET));
    if let Some(c) = opts.channels {
        state = state.with_channels(c);
    }
    let (_, token) =
        store.add_agent(new_agent("root", "store", Role::Admin, &[]), state.functions(), state.now()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    if opts.jobs {
        server::spawn_jobs(state.clone());
    }
    let app = server::app(state.clone());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let base = format!("http://{addr}");
    let admin = Client::new(&base, &token).unwrap();
    TestApp { base, store, state, admin, clock: manual, dir, database, server }
}

/// The database a test server gets: a new SQLite file in `dir`; or, with
/// `HELPHIVE_TEST_API_DATABASE=postgres`, a new database in the `HELPHIVE_TEST_POSTGRES` cluster
/// (scripts/test runs the API tests both ways).
pub async fn test_database(dir: &std::path::Path) -> String {
    if std::env::var("HELPHIVE_TEST_API_DATABASE").as_deref() != Ok("postgres") {
        return dir.join("helphive.db").display().to_string();
    }
    let base = std::env::var("HELPHIVE_TEST_POSTGRES")
        .expect("HELPHIVE_TEST_API_DATABASE=postgres needs HELPHIVE_TEST_POSTGRES (scripts/test sets both)");
    new_postgres_database(&base).await
}

/// A new database in the `HELPHIVE_TEST_POSTGRES` cluster, as a URL; `None` when the variable is
/// not set (a test that needs one then fails under CI, and is skipped with a note elsewhere).
#[allow(dead_code)] // not every test binary uses it
pub async fn postgres_database() -> Option<String> {
    match std::env::var("HELPHIVE_TEST_POSTGRES") {
        Ok(base) => Some(new_postgres_database(&base).await),
        Err(_) => {
            assert!(std::env::var_os("CI").is_none(), "HELPHIVE_TEST_POSTGRES is not set: PostgreSQL tests cannot run");
            use std::io::Write;
            let _ =
                writeln!(std::io::stderr(), "note: HELPHIVE_TEST_POSTGRES is not set: a PostgreSQL test was NOT run");
            None
        }
    }
}

async fn new_postgres_database(base: &str) -> String {
    use sqlx::{ConnectOptions, Connection};
    let options: sqlx::postgres::PgConnectOptions = base.parse().expect("HELPHIVE_TEST_POSTGRES is a database URL");
    let name = format!("helphive_api_{}_{:08x}", std::process::id(), rand::random::<u32>());
    let mut admin = options.connect().await.expect("the test PostgreSQL cluster answers");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
    options.database(&name).to_url_lossy().to_string()
}

pub fn new_agent(handle: &str, function: &str, role: Role, skills: &[(&str, u8)]) -> NewAgent {
    NewAgent {
        handle: handle.into(),
        display_name: format!("Agent {handle}"),
        function: function.into(),
        role,
        novice: false,
        mentor: None,
        capacity: 3,
        skills: skills.iter().map(|(t, p)| Skill { topic: t.to_string(), proficiency: *p }).collect(),
        signature: String::new(),
    }
}

pub fn question(id: &str, customer: &str, text: &str) -> NewInbound {
    NewInbound {
        channel: "webhook".into(),
        external_id: id.into(),
        customer: Customer { handle: customer.into(), name: customer.into() },
        text: text.into(),
        conversation_id: None,
        in_reply_to: None,
        received_at: None,
        priority: None,
    }
}

impl TestApp {
    /// Adds an agent through the API and returns a client signed in as them.
    pub async fn agent(&self, new: NewAgent) -> (Agent, Client) {
        let (agent, token) = self.admin.add_agent(&new).await.unwrap();
        (agent, self.admin.with_token(&token))
    }

    pub async fn ask(&self, id: &str, text: &str) -> i64 {
        self.admin.inbound(&question(id, &format!("cust-{id}"), text)).await.unwrap().question.id
    }

    pub fn http(&self) -> reqwest::Client {
        helphive::tls::client_builder().build().unwrap()
    }
}
