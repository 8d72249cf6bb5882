//! The `helphive` command line: the clap definition (which `--help`, the man page and the shell
//! completions all come from) and the dispatch to one module per group of commands. It belongs to
//! the binary, not the library: it prints, reads files named on the command line and sets up
//! logging, all around library calls.

mod agents;
mod classify;
mod db;
mod demo;
mod generate;
mod serve;
mod terminal;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use helphive::config::Config;
use helphive::model::{Role, Skill};
use helphive::tui::app::View;

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
pub struct Cli {
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
    Demo(DemoArgs),
    /// Simulate the hive in virtual time: routing policies compared on the same workload, against
    /// a pooled oracle and Erlang C (presets: peak, week, pooled; or a TOML workload).
    Sim(SimArgs),
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
    Classify(ClassifyArgs),
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

// `helphive demo`'s options; its help text is the variant's doc comment in `Command`.
#[derive(Args)]
struct DemoArgs {
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
}

// `helphive sim`'s options; its help text is the variant's doc comment in `Command`.
#[derive(Args)]
struct SimArgs {
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
}

// `helphive classify`'s options; its help text is the variant's doc comment in `Command`.
#[derive(Args)]
struct ClassifyArgs {
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
    /// Replay a desk's own stream (the built-in data/desk/stream.jsonl, or --stream): the
    /// first N questions are handled (corrected or resolved) and learned as the server learns
    /// them; accuracy on the rest of the stream before and after, for each N (e.g. 50,100,200).
    /// Then the same on the generic questions: N held back from the training file and learned
    /// on a schedule, and the held-out questions replayed as a stream.
    #[arg(
        long,
        value_name = "N,...",
        value_delimiter = ',',
        conflicts_with_all = ["text", "eval", "train", "bench", "cv"]
    )]
    replay: Vec<usize>,
    /// With --replay: the desk's stream, labelled questions in arrival order (JSONL).
    #[arg(long, value_name = "FILE", requires = "replay")]
    stream: Option<PathBuf>,
    /// With --bench, --cv or --replay: a directory with train.jsonl and test.jsonl (default: the
    /// built-in data/).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// The channel the question came in on (a topic may lean to a channel).
    #[arg(long, default_value = "webhook")]
    channel: String,
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("'{s}' is not a role: use agent, mentor, lead or admin"))
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("'{s}' is not a share from 0 to 1 (0.2 = one question in five)")),
    }
}

/// Runs the command given; the error is the message for stderr.
pub async fn run(cli: Cli) -> Result<(), String> {
    let (command, terminal_config, terminal_server) = apply_leading_options(cli)?;
    let Some(command) = command else {
        return terminal::open(&terminal_config, &terminal_server, View::Queue).await;
    };
    match command {
        Command::Demo(args) => demo::demo(args).await,
        Command::Sim(args) => demo::sim(args).await,
        Command::Dashboard { config, server } => terminal::open(&config, &server, View::Dashboard).await,
        Command::Stats { config, server, json } => terminal::stats(&config, &server, json).await,
        Command::Serve { config, database, bind } => serve::serve(&config, &database, bind).await,
        Command::Agent { config, database, command } => agents::agent(&config, &database, command).await,
        Command::Token { config, database, command } => agents::token(&config, &database, command).await,
        Command::Backup { config, database, file } => db::backup(&config, &database, &file).await,
        Command::Classify(args) => classify::classify(args).await,
        Command::WebhookSecret => {
            println!("{}", helphive::signing::new_secret());
            Ok(())
        }
        Command::Bench { config, database, agents, seconds, think_ms } => {
            let (config, _) = load_config(&config)?;
            helphive::bench::run(helphive::bench::BenchOptions { agents, seconds, think_ms, database, config }).await
        }
        Command::Completions { shell } => generate::completions(shell),
        Command::Man { dir } => generate::man(dir),
    }
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
        Command::Demo(DemoArgs { config, .. }) => ("demo", Some(config), None, None),
        Command::Sim(_) => ("sim", None, None, None),
        Command::Dashboard { config, server } => ("dashboard", Some(config), None, Some(server)),
        Command::Stats { config, server, .. } => ("stats", Some(config), None, Some(server)),
        Command::Serve { config, database, .. } => ("serve", Some(config), Some(&mut database.database), None),
        Command::Agent { config, database, .. } => ("agent", Some(config), Some(&mut database.database), None),
        Command::Token { config, database, .. } => ("token", Some(config), Some(&mut database.database), None),
        Command::Backup { config, database, .. } => ("backup", Some(config), Some(&mut database.database), None),
        Command::Classify(ClassifyArgs { config, database, .. }) => {
            ("classify", Some(config), Some(&mut database.database), None)
        }
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
