//! The `helphive` command: the server, the admin commands and the benchmark.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, CommandFactory, Parser, Subcommand};

use helphive::clock::SystemClock;
use helphive::config::Config;
use helphive::model::{Role, Skill};
use helphive::server::{self, AppState};
use helphive::store::{NewAgent, Store, StoreOptions, now_ms};

#[derive(Parser)]
#[command(
    name = "helphive",
    version,
    about = "A shared help desk for social customer care: one queue, exclusive claims, live events.",
    long_about = "A shared help desk for social customer care. Customer questions from social networks \
                  and webhooks land in one shared queue; employees claim a question (an exclusive \
                  lease), answer it, and hand it on with its context; shift leads watch live statistics.\n\n\
                  Without a command, helphive opens the agent terminal on the server and token from \
                  the options below or the configuration. `helphive demo` tries it all with nothing to \
                  set up. Run `helphive serve` for a team, add employees with `helphive agent add`, and \
                  talk to the API under /api/v1 (see /api/v1/openapi.json). Each command's --help lists \
                  the options it takes."
)]
struct Cli {
    /// Configuration file (default: $HELPHIVE_CONFIG, then config.toml in the configuration
    /// directory, then the built-in default).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Server for the agent terminal (default: client.server in the configuration).
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Bearer token for the agent terminal (beware: visible in the process list; prefer
    /// --token-file or HELPHIVE_TOKEN).
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// File holding the bearer token (default: $HELPHIVE_TOKEN, then client.token_file, then the
    /// file `token` in the data directory).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    // Hidden: the terminal has no database. Accepted here for the commands that take it, as in
    // `helphive --database URL serve` from before each command had its own options.
    /// Database, for a command that takes it (see the command's --help).
    #[arg(long, value_name = "URL", hide = true)]
    database: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

/// `--config`, for the commands that read the configuration. Global, so that under `agent` and
/// `token` it goes before or after the subcommand's name.
#[derive(Args, Clone, Default)]
struct ConfigArg {
    /// Configuration file (default: $HELPHIVE_CONFIG, then config.toml in the configuration
    /// directory, then the built-in default).
    #[arg(long, global = true, value_name = "FILE", display_order = 900)]
    config: Option<PathBuf>,
}

/// `--database`, for the commands that open the help desk's database themselves.
#[derive(Args, Clone, Default)]
struct DatabaseArg {
    /// Database: a SQLite file path, sqlite://PATH, sqlite::memory:, or postgres://USER@HOST/NAME
    /// (default: server.database, else helphive.db in the data directory).
    #[arg(long, global = true, value_name = "URL", display_order = 901)]
    database: Option<String>,
}

/// Server and token, for the commands that talk to a running server.
#[derive(Args, Clone, Default)]
struct ServerArgs {
    /// Server URL (default: client.server in the configuration).
    #[arg(long, global = true, value_name = "URL", display_order = 902)]
    server: Option<String>,
    /// Bearer token (beware: visible in the process list; prefer --token-file or HELPHIVE_TOKEN).
    #[arg(long, global = true, value_name = "TOKEN", display_order = 903)]
    token: Option<String>,
    /// File holding the bearer token (default: $HELPHIVE_TOKEN, then client.token_file, then the
    /// file `token` in the data directory).
    #[arg(long, global = true, value_name = "FILE", display_order = 904)]
    token_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// A scripted demo hive with no set-up: the real server in-process (in memory), customers
    /// asking and colleagues answering, and you in the terminal. For trying helphive out and for
    /// training newcomers.
    Demo {
        // For the terminal's keys, templates and theme.
        #[command(flatten)]
        config: ConfigArg,
        /// A scenario file (TOML; see scenarios/default.toml for the format). Default: built in.
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
        /// How fast scenario time runs: 2 is twice as fast as real time.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Your role: agent (the queue), mentor (you review the novice's replies), lead or admin
        /// (the dashboard).
        #[arg(long, default_value = "agent", value_parser = parse_role)]
        role: Role,
        /// No terminal: run the scenario and print a summary.
        #[arg(long)]
        headless: bool,
        /// With --headless: how much scenario time to run, like 60s or 4m (default: the whole scenario).
        #[arg(long, value_name = "DURATION", value_parser = helphive::demo::parse_duration)]
        duration: Option<std::time::Duration>,
    },
    /// Simulate the hive in virtual time: routing policies compared on the same workload, against
    /// a pooled oracle and Erlang C (presets: peak, week, pooled; or a TOML workload).
    Sim {
        /// peak (3,000 employees at load 0.95), week (seven days, ~300,000 messages) or pooled
        /// (the Erlang C check).
        #[arg(long, default_value = "peak")]
        preset: String,
        /// A workload file (TOML) overriding the preset's keys.
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
        /// Random seed: the same seed gives the same sample path and the same table.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Only these policies, comma-separated (broadcast, random, round-robin, least-loaded,
        /// longest-idle, helphive, oracle).
        #[arg(long, value_delimiter = ',')]
        policies: Option<Vec<String>>,
        /// Size relative to the preset (0.1 for a quick look).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Route this share of questions (0 to 1) to a wrong function in the run with realistic
        /// topics, instead of the errors the built-in topic model makes on its held-out questions.
        #[arg(long, value_name = "RATE", value_parser = parse_rate, conflicts_with = "perfect_topics")]
        misroute: Option<f64>,
        /// Only the run with every question's real topic (by default every policy also runs with
        /// topics as the classifier sees them, and the report shows both).
        #[arg(long)]
        perfect_topics: bool,
    },
    /// Open the terminal straight on the shift lead's dashboard.
    Dashboard {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Print the queue statistics once (for scripts: --json).
    Stats {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        server: ServerArgs,
        /// Print the numbers as JSON, as the API returns them.
        #[arg(long)]
        json: bool,
    },
    /// Run the help desk server: HTTP API, live events, routing, lease expiry, the configured
    /// channels with their outbox, and /metrics when [metrics] is enabled.
    Serve {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        database: DatabaseArg,
        /// Address to listen on (overrides server.bind), e.g. 0.0.0.0:7878.
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
    },
    /// Manage employees (works on the server's database; the server may be running).
    Agent {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        database: DatabaseArg,
        #[command(subcommand)]
        command: AgentCommand,
    },
    /// Manage bearer tokens (works on the server's database; the server may be running).
    Token {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        database: DatabaseArg,
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Copy the database to a new file, consistent and online: the server may go on writing.
    /// To restore, stop the server and put the copy in the database's place (README, "Backup").
    Backup {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        database: DatabaseArg,
        /// The file to write; it must not exist yet.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Sort a question into a topic with the learned model and say why; measure the model on
    /// labelled questions (--eval), add a business's own (--train), or print the goals against the
    /// keyword rules (--bench). Labelled questions are JSONL: {"text", "topic", "function"} a line.
    Classify {
        #[command(flatten)]
        config: ConfigArg,
        /// With --train, and to learn the business's own questions stored there.
        #[command(flatten)]
        database: DatabaseArg,
        /// The question's text.
        #[arg(required_unless_present_any = ["eval", "train", "bench", "cv", "replay"])]
        text: Option<String>,
        /// Measure on labelled questions: accuracy, macro accuracy, per-function precision and
        /// recall, confusion matrix.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["text", "train", "bench", "cv"])]
        eval: Option<PathBuf>,
        /// Add labelled questions to the server's database; the server learns them (with the
        /// built-in ones) when it starts.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["text", "bench", "cv"])]
        train: Option<PathBuf>,
        /// The goals on the held-out questions, beside the keyword rules measured in the same run:
        /// accuracy, abstention, calibration, time per question, training time.
        #[arg(long, conflicts_with_all = ["text", "cv"])]
        bench: bool,
        /// Compare the model's settings by cross-validation on the training questions only.
        #[arg(long, conflicts_with = "text")]
        cv: bool,
        /// Replay N handled questions (held back from the training file) whose corrections and
        /// resolutions are learned on a schedule, with the held-out accuracy after each retraining.
        #[arg(long, value_name = "N", conflicts_with_all = ["text", "eval", "train", "bench", "cv"])]
        replay: Option<usize>,
        /// With --bench, --cv or --replay: a directory with train.jsonl and test.jsonl (default: the
        /// built-in data/).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// The channel the question came in on (a topic may lean to a channel).
        #[arg(long, default_value = "webhook")]
        channel: String,
    },
    /// Print a new secret for signed inbound webhooks (put it in HELPHIVE_WEBHOOK_SECRET or a file).
    WebhookSecret,
    /// Measure claim, reply, resolve and reopen on the store alone, then through the HTTP API
    /// (back to back, then paced), on a database of its own.
    Bench {
        // For the durability setting, functions and topics.
        #[command(flatten)]
        config: ConfigArg,
        /// Where the benchmark's databases go (default: fresh files in a temporary directory):
        /// sqlite::memory:, or a path PATH for PATH.store.db and PATH.api.db, one per phase.
        /// Never a help desk's own database.
        #[arg(long, value_name = "URL")]
        database: Option<String>,
        /// Simulated agents working at once.
        #[arg(long, default_value_t = 1000)]
        agents: usize,
        /// Seconds each measured phase runs.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Mean pause of a simulated agent between two actions, in milliseconds (the paced phase).
        /// 5000 ms for 1,000 agents is 200 claims and replies a second, far above a real desk.
        #[arg(long, default_value_t = 5000)]
        think_ms: u64,
    },
    /// Print a shell completion script: `helphive completions bash > /etc/bash_completion.d/helphive`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), generated from the same definition as --help: `helphive man | man -l -`.
    Man {
        /// Write helphive.1 and a page per command (helphive-serve.1, ...) into this directory instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Clone)]
enum AgentCommand {
    /// Add an employee and print their first token (shown once).
    Add {
        /// Short unique name, e.g. dana (shown as @dana).
        #[arg(long)]
        handle: String,
        /// Full name shown to colleagues.
        #[arg(long)]
        name: String,
        /// Home function, one of the configured [[functions]].
        #[arg(long)]
        function: String,
        /// agent, mentor, lead or admin.
        #[arg(long, default_value = "agent", value_parser = parse_role)]
        role: Role,
        /// A topic and proficiency 1-5, e.g. --skill billing:4 (repeat for more).
        #[arg(long = "skill", value_parser = Skill::parse)]
        skills: Vec<Skill>,
        /// Questions held at once.
        #[arg(long, default_value_t = 3)]
        capacity: u32,
        /// Replies wait for the mentor's approval before they are posted.
        #[arg(long, requires = "mentor")]
        novice: bool,
        /// Handle of the mentor who approves this novice's replies.
        #[arg(long)]
        mentor: Option<String>,
        /// Text appended to replies by the terminal (may start with a dash: --signature "- Dana").
        #[arg(long, default_value = "", allow_hyphen_values = true)]
        signature: String,
    },
    /// List employees.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Disable an employee: tokens stop working, open event streams end, held questions return
    /// to the queue. The last enabled admin cannot be disabled.
    Disable {
        /// The employee's handle (with or without @).
        handle: String,
    },
    /// Enable a disabled employee again; their old tokens stay revoked (`token issue` makes one).
    Enable {
        /// The employee's handle (with or without @).
        handle: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue another bearer token for an employee (printed once; only its hash is stored).
    Issue {
        /// The employee's handle (with or without @).
        handle: String,
        /// Revoke the employee's earlier tokens.
        #[arg(long)]
        revoke_others: bool,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("'{s}' is not a role: use agent, mentor, lead or admin"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("helphive: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("helphive: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn open_store(cli_db: Option<&str>, config: &Config) -> Result<Store, String> {
    let database = helphive::resolve_database(cli_db, config)?;
    Store::open(&StoreOptions {
        database: database.clone(),
        durability: config.server.durability,
        events_retained: config.server.events_retained,
    })
    .await
    .map_err(|e| format!("cannot open database {database}: {e}"))
}

/// The client for the terminal commands: server and token from the options, the environment or
/// the configuration.
/// `config` with a model that has also learned the business's own labelled questions stored in
/// the database (`helphive classify --train`), if there are any.
async fn learn_business_questions(mut config: Config, store: &Store) -> Result<Config, String> {
    let extra = store.training_examples().await.map_err(|e| e.to_string())?;
    if !extra.is_empty() {
        let model = helphive::routing::model_with(&extra);
        tracing::info!(own = extra.len(), "topic model trained with the business's own questions");
        config.classifier = helphive::routing::ModelSlot::new(model);
    }
    Ok(config)
}

/// `learn_business_questions` for the CLI, on the server's database.
async fn with_business_model(config: Config, cli_db: Option<&str>) -> Result<Config, String> {
    let store = open_store(cli_db, &config).await?;
    learn_business_questions(config, &store).await
}

fn terminal_client(args: &ServerArgs, config: &Config) -> Result<helphive::client::Client, String> {
    let server = args.server.clone().unwrap_or_else(|| config.client.server.clone());
    let token = match (&args.token, &args.token_file) {
        (Some(t), _) => t.clone(),
        (None, Some(f)) => read_token(f)?,
        (None, None) => match std::env::var("HELPHIVE_TOKEN") {
            Ok(t) if !t.trim().is_empty() => t,
            _ => {
                let file = if config.client.token_file.is_empty() {
                    helphive::config::data_dir().map(|d| d.join("token"))
                } else {
                    Some(PathBuf::from(&config.client.token_file))
                };
                match file {
                    Some(f) if f.exists() => read_token(&f)?,
                    Some(f) => {
                        return Err(format!(
                            "no token: give --token-file FILE, set HELPHIVE_TOKEN, or put your token in {} \
                             (`helphive agent add` and `helphive token issue` print one)",
                            f.display()
                        ));
                    }
                    None => return Err("no token: give --token-file FILE or set HELPHIVE_TOKEN".into()),
                }
            }
        },
    };
    helphive::client::Client::new(&server, token.trim()).map_err(|e| e.to_string())
}

fn read_token(path: &std::path::Path) -> Result<String, String> {
    let t = std::fs::read_to_string(path).map_err(|e| format!("cannot read token file {}: {e}", path.display()))?;
    let t = t.trim().to_string();
    if t.is_empty() {
        return Err(format!("token file {} is empty", path.display()));
    }
    Ok(t)
}

/// The terminal draws on stdout, so its logs go to a file in the data directory.
fn init_file_logging() {
    use tracing_subscriber::EnvFilter;
    let Some(dir) = helphive::config::data_dir() else { return };
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let Ok(file) = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("helphive.log")) else { return };
    let filter = EnvFilter::try_from_env("HELPHIVE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .try_init();
}

async fn open_terminal(args: &ServerArgs, config: &Config, view: helphive::tui::app::View) -> Result<(), String> {
    init_file_logging();
    let client = terminal_client(args, config)?;
    helphive::tui::run(client, config, helphive::tui::TuiOptions { view, clock: Arc::new(SystemClock) }).await
}

/// Options given before the command's name (`helphive --config FILE agent list`, as when they
/// were global) apply to the command when it takes them, and are refused when it does not, rather
/// than silently ignored.
fn apply_leading_options(cli: Cli) -> Result<(Option<Command>, ConfigArg, ServerArgs), String> {
    let Cli { config, server, token, token_file, database, mut command } = cli;
    let Some(cmd) = &mut command else {
        if database.is_some() {
            return Err("--database is not an option of the agent terminal (see `helphive --help`)".into());
        }
        return Ok((None, ConfigArg { config }, ServerArgs { server, token, token_file }));
    };
    let (name, config_slot, database_slot, server_slot) = match cmd {
        Command::Demo { config, .. } => ("demo", Some(config), None, None),
        Command::Sim { .. } => ("sim", None, None, None),
        Command::Dashboard { config, server } => ("dashboard", Some(config), None, Some(server)),
        Command::Stats { config, server, .. } => ("stats", Some(config), None, Some(server)),
        Command::Serve { config, database, .. } => ("serve", Some(config), Some(&mut database.database), None),
        Command::Agent { config, database, .. } => ("agent", Some(config), Some(&mut database.database), None),
        Command::Token { config, database, .. } => ("token", Some(config), Some(&mut database.database), None),
        Command::Backup { config, database, .. } => ("backup", Some(config), Some(&mut database.database), None),
        Command::Classify { config, database, .. } => ("classify", Some(config), Some(&mut database.database), None),
        Command::WebhookSecret => ("webhook-secret", None, None, None),
        Command::Bench { config, database, .. } => ("bench", Some(config), Some(database), None),
        Command::Completions { .. } => ("completions", None, None, None),
        Command::Man { .. } => ("man", None, None, None),
    };
    fill(config_slot.map(|c| &mut c.config), config, "--config", name)?;
    fill(database_slot, database, "--database", name)?;
    let (s, t, f) = match server_slot {
        Some(a) => (Some(&mut a.server), Some(&mut a.token), Some(&mut a.token_file)),
        None => (None, None, None),
    };
    fill(s, server, "--server", name)?;
    fill(t, token, "--token", name)?;
    fill(f, token_file, "--token-file", name)?;
    Ok((command, ConfigArg::default(), ServerArgs::default()))
}

/// Puts a value given before the command into the command's own option, unless the command
/// was given one too (the nearer one wins).
fn fill<T>(slot: Option<&mut Option<T>>, before: Option<T>, flag: &str, command: &str) -> Result<(), String> {
    match (slot, before) {
        (_, None) => Ok(()),
        (Some(slot), Some(v)) => {
            if slot.is_none() {
                *slot = Some(v);
            }
            Ok(())
        }
        (None, Some(_)) => {
            Err(format!("{flag} is not an option of `helphive {command}` (see `helphive {command} --help`)"))
        }
    }
}

fn load_config(arg: &ConfigArg) -> Result<(Config, String), String> {
    Config::load(arg.config.as_deref()).map_err(|e| e.to_string())
}

async fn run(cli: Cli) -> Result<(), String> {
    let (command, terminal_config, terminal_server) = apply_leading_options(cli)?;
    let Some(command) = command else {
        let (config, _) = load_config(&terminal_config)?;
        return open_terminal(&terminal_server, &config, helphive::tui::app::View::Queue).await;
    };
    match command {
        Command::Demo { config, scenario, speed, role, headless, duration } => {
            let opts = helphive::demo::DemoOptions { scenario, speed, role };
            if headless {
                let duration = match duration {
                    Some(d) => d,
                    None => helphive::demo::Scenario::load(opts.scenario.as_deref())?.duration(),
                };
                let summary = helphive::demo::run_headless(&opts, duration).await?;
                print!("{summary}");
                return Ok(());
            }
            if duration.is_some() {
                return Err("--duration goes with --headless; the interactive demo runs until you quit".into());
            }
            let (config, _) = load_config(&config)?;
            init_file_logging();
            let world = helphive::demo::start(&opts).await?;
            let client =
                helphive::client::Client::new(&world.base_url, &world.user_token).map_err(|e| e.to_string())?;
            let view = match role {
                Role::Lead | Role::Admin => helphive::tui::app::View::Dashboard,
                Role::Mentor => helphive::tui::app::View::Approvals,
                Role::Agent => helphive::tui::app::View::Queue,
            };
            let result =
                helphive::tui::run(client, &config, helphive::tui::TuiOptions { view, clock: world.clock() }).await;
            let summary = world.summary().await;
            world.shutdown().await;
            result?;
            if let Ok(s) = summary {
                print!("{s}");
            }
            Ok(())
        }
        Command::Sim { preset, scenario, seed, policies, scale, misroute, perfect_topics } => {
            let misrouting = match (misroute, perfect_topics) {
                (_, true) => None,
                (Some(rate), false) => Some(helphive::sim::Misrouting::Rate(rate)),
                // The built-in topic model's measured errors (its held-out questions).
                (None, false) => Some(helphive::sim::Misrouting::Confusion(helphive::classify::held_out_confusion(
                    &Config::builtin(),
                )?)),
            };
            let opts = helphive::sim::SimOptions { preset, scenario, seed, policies, scale, misrouting };
            // CPU-bound for seconds to minutes: off the async runtime's threads.
            let report = tokio::task::spawn_blocking(move || helphive::sim::run(&opts))
                .await
                .map_err(|e| format!("the simulation stopped: {e}"))??;
            print!("{report}");
            Ok(())
        }
        Command::Dashboard { config, server } => {
            let (config, _) = load_config(&config)?;
            open_terminal(&server, &config, helphive::tui::app::View::Dashboard).await
        }
        Command::Stats { config, server, json } => {
            let (config, _) = load_config(&config)?;
            let client = terminal_client(&server, &config)?;
            let stats = client.stats().await.map_err(|e| e.to_string())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&stats).map_err(|e| e.to_string())?);
            } else {
                print!("{}", helphive::tui::stats_text(&stats));
            }
            Ok(())
        }
        Command::Serve { config, database, bind } => {
            let (config, origin) = load_config(&config)?;
            init_logging();
            let bind = bind.unwrap_or_else(|| config.server.bind.clone());
            let addr: SocketAddr =
                bind.parse().map_err(|_| format!("'{bind}' is not an address to listen on (like 127.0.0.1:7878)"))?;
            let secret = config.webhook_secret().map_err(|e| e.to_string())?;
            let channels = helphive::channels::Channels::from_config(&config).map_err(|e| e.to_string())?;
            let store = open_store(database.database.as_deref(), &config).await?;
            let config = learn_business_questions(config, &store).await?;
            // Trained now rather than by the first question to arrive (under a second).
            let warm = config.clone();
            tokio::task::spawn_blocking(move || drop(helphive::routing::model(&warm)))
                .await
                .map_err(|e| format!("the topic model could not be trained: {e}"))?;
            if store.is_memory() {
                tracing::warn!("database is in memory: everything is lost when the server stops");
            }
            // Tests only: a clock that stands still at HELPHIVE_TEST_CLOCK_MS, so that limits relative to
            // now which the OpenAPI document states as numbers (received_at's window) hold for a whole
            // fuzzing run (tests/fuzz.rs).
            let clock: Arc<dyn helphive::clock::Clock> = match std::env::var("HELPHIVE_TEST_CLOCK_MS")
                .ok()
                .and_then(|v| v.parse().ok())
            {
                Some(t) => {
                    tracing::warn!(at = t, "HELPHIVE_TEST_CLOCK_MS is set: the clock stands still (for tests only)");
                    Arc::new(helphive::clock::ManualClock::new(t))
                }
                None => Arc::new(SystemClock),
            };
            let state = AppState::new(store, config.clone(), clock, secret.as_deref()).with_channels(channels);
            tracing::info!(config = %origin, "configuration loaded");
            // Bound before the API, so /metrics answers once the "listening" line is out.
            let _metrics = match server::metrics::start(&state).await? {
                Some((local, task)) => {
                    tracing::info!("metrics on http://{local}/metrics");
                    Some(task)
                }
                None => None,
            };
            server::serve(state, addr, |local| {
                // One line on stdout that scripts (and tests) can wait for.
                println!("helphive listening on http://{local}");
            })
            .await
            .map_err(|e| format!("cannot serve on {addr}: {e}"))
        }
        Command::Agent { config, database, command } => {
            let (config, _) = load_config(&config)?;
            let store = open_store(database.database.as_deref(), &config).await?;
            let functions: Vec<String> = config.functions.iter().map(|f| f.name.clone()).collect();
            match command {
                AgentCommand::Add { handle, name, function, role, skills, capacity, novice, mentor, signature } => {
                    for s in &skills {
                        if config.topic(&s.topic).is_none() {
                            return Err(format!(
                                "unknown topic '{}' in --skill; configured topics: {}",
                                s.topic,
                                config.topics.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
                            ));
                        }
                    }
                    let new = NewAgent {
                        handle,
                        display_name: name,
                        function,
                        role,
                        novice,
                        mentor,
                        capacity,
                        skills,
                        signature,
                    };
                    let (agent, token) = store.add_agent(new, &functions, now_ms()).await.map_err(|e| e.to_string())?;
                    println!("added @{} ({}, {}, {})", agent.handle, agent.display_name, agent.function, agent.role);
                    println!("token (shown once; only its hash is stored):");
                    println!("{token}");
                    Ok(())
                }
                AgentCommand::List { json } => {
                    let agents = store.agents().await.map_err(|e| e.to_string())?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&agents).map_err(|e| e.to_string())?);
                        return Ok(());
                    }
                    println!(
                        "{:<16} {:<24} {:<14} {:<7} {:<8} {:>3}  skills",
                        "handle", "name", "function", "role", "status", "cap"
                    );
                    for a in agents {
                        let skills: Vec<String> =
                            a.skills.iter().map(|s| format!("{}:{}", s.topic, s.proficiency)).collect();
                        let mut flags = String::new();
                        if a.novice {
                            flags.push_str(&format!(" novice(mentor @{})", a.mentor.as_deref().unwrap_or("?")));
                        }
                        if a.disabled {
                            flags.push_str(" DISABLED");
                        }
                        println!(
                            "{:<16} {:<24} {:<14} {:<7} {:<8} {:>3}  {}{}",
                            format!("@{}", a.handle),
                            a.display_name,
                            a.function,
                            a.role.as_str(),
                            a.status.as_str(),
                            a.capacity,
                            skills.join(" "),
                            flags
                        );
                    }
                    Ok(())
                }
                AgentCommand::Disable { handle } => {
                    let a = store.disable_agent(&handle, None, now_ms()).await.map_err(|e| e.to_string())?;
                    println!("disabled @{}: tokens revoked, held questions returned to the queue", a.handle);
                    Ok(())
                }
                AgentCommand::Enable { handle } => {
                    let a = store.enable_agent(&handle, None, now_ms()).await.map_err(|e| e.to_string())?;
                    println!("enabled @{}; issue a token to sign in: helphive token issue {}", a.handle, a.handle);
                    Ok(())
                }
            }
        }
        Command::Token { config, database, command: TokenCommand::Issue { handle, revoke_others } } => {
            let (config, _) = load_config(&config)?;
            let store = open_store(database.database.as_deref(), &config).await?;
            let token = store.issue_token(&handle, revoke_others, now_ms()).await.map_err(|e| e.to_string())?;
            println!("token for @{} (shown once; only its hash is stored):", handle.trim_start_matches('@'));
            println!("{token}");
            Ok(())
        }
        Command::Backup { config, database, file } => {
            let (config, _) = load_config(&config)?;
            backup(database.database.as_deref(), &config, &file).await
        }
        Command::Classify { config, database, text, eval, train, bench, cv, replay, data, channel } => {
            use helphive::classify;
            let (config, _) = load_config(&config)?;
            let db = database.database.as_deref();
            if let Some(n) = replay {
                let (tr, te) = classify::bench_data(data.as_deref(), &config)?;
                print!("{}", classify::replay(&config, &tr, &te, n));
                return Ok(());
            }
            if bench || cv {
                let (tr, te) = classify::bench_data(data.as_deref(), &config)?;
                print!(
                    "{}",
                    if bench { classify::bench(&config, &tr, &te) } else { classify::cross_validation(&config, &tr) }
                );
                return Ok(());
            }
            if let Some(path) = train {
                let examples = classify::read_examples(&path, &config)?;
                let store = open_store(db, &config).await?;
                let added =
                    store.add_training_examples(&examples, "import", now_ms()).await.map_err(|e| e.to_string())?;
                let total = store.training_examples().await.map_err(|e| e.to_string())?.len();
                println!(
                    "added {added} labelled questions ({} already stored); {total} of the business's own in all, \
                     learned with the built-in ones when the server starts",
                    examples.len() - added
                );
                return Ok(());
            }
            let config = with_business_model(config, db).await?;
            match (eval, text) {
                (Some(path), _) => print!("{}", classify::eval(&config, &classify::read_examples(&path, &config)?)),
                (None, Some(text)) => print!("{}", classify::explain(&config, &channel, &text)),
                (None, None) => return Err("give a question's text, or --eval, --train, --bench or --cv".into()),
            }
            Ok(())
        }
        Command::WebhookSecret => {
            println!("{}", server::webhook::new_secret());
            Ok(())
        }
        Command::Bench { config, database, agents, seconds, think_ms } => {
            let (config, _) = load_config(&config)?;
            helphive::bench::run(helphive::bench::BenchOptions { agents, seconds, think_ms, database, config }).await
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "helphive", &mut script);
            print_bytes(&script)
        }
        Command::Man { dir } => {
            let command = Cli::command();
            match dir {
                Some(dir) => {
                    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                    clap_mangen::generate_to(command, &dir)
                        .map_err(|e| format!("cannot write the man pages to {}: {e}", dir.display()))?;
                    println!("man pages written to {}", dir.display());
                }
                None => {
                    let mut page = Vec::new();
                    clap_mangen::Man::new(command).render(&mut page).map_err(|e| format!("cannot render: {e}"))?;
                    print_bytes(&page)?;
                }
            }
            Ok(())
        }
    }
}

/// Writes generated output to stdout; a reader that stops early (`| head`) is not an error.
fn print_bytes(bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("cannot print: {e}")),
        _ => Ok(()),
    }
}

/// `helphive backup FILE`: the store's online copy of an existing database.
async fn backup(database: Option<&str>, config: &Config, file: &std::path::Path) -> Result<(), String> {
    let database = helphive::resolve_database(database, config)?;
    if database.starts_with("postgres:") || database.starts_with("postgresql:") {
        return Err("the online backup is for SQLite databases; back up a PostgreSQL database with pg_dump".into());
    }
    // Opening a missing database would create an empty one and back that up.
    let path = database.strip_prefix("sqlite://").or_else(|| database.strip_prefix("sqlite:")).unwrap_or(&database);
    let path = path.split('?').next().unwrap_or(path);
    if path.contains(":memory:") {
        return Err("the database is in memory: there is nothing on disk to back up".into());
    }
    if !std::path::Path::new(path).exists() {
        return Err(format!("no database at {path} (give --database, or set server.database)"));
    }
    let store = open_store(Some(&database), config).await?;
    let report = store.backup_to(file).await.map_err(|e| format!("cannot back up to {}: {e}", file.display()));
    store.close().await;
    let r = report?;
    println!(
        "backed up {database} to {}: {} bytes, {} questions, {} agents, events up to #{} (checked)",
        file.display(),
        r.bytes,
        r.questions,
        r.agents,
        r.last_event
    );
    Ok(())
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("HELPHIVE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Server logs go to stderr; stdout carries only the "listening" line.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::env::var_os("NO_COLOR").is_none())
        .try_init();
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("'{s}' is not a share from 0 to 1 (0.2 = one question in five)")),
    }
}
