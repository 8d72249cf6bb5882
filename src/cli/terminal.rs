//! The agent terminal (no command; `dashboard`) and `stats`: the commands that talk to a running
//! server with an employee's token.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use helphive::client::Client;
use helphive::clock::SystemClock;
use helphive::config::Config;
use helphive::tui::app::View;

use super::{ConfigArg, ServerArgs, load_config};

/// The terminal on `view`: the queue without a command, the dashboard for `helphive dashboard`.
pub async fn open(config: &ConfigArg, server: &ServerArgs, view: View) -> Result<(), String> {
    let (config, _) = load_config(config)?;
    init_file_logging();
    let client = terminal_client(server, &config)?;
    helphive::tui::run(client, &config, helphive::tui::TuiOptions { view, clock: Arc::new(SystemClock) }).await
}

/// `helphive stats`: the queue statistics once, as text or as the API's JSON.
pub async fn stats(config: &ConfigArg, server: &ServerArgs, json: bool) -> Result<(), String> {
    let (config, _) = load_config(config)?;
    let client = terminal_client(server, &config)?;
    let stats = client.stats().await.map_err(|e| e.to_string())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&stats).map_err(|e| e.to_string())?);
    } else {
        print!("{}", helphive::tui::stats_text(&stats));
    }
    Ok(())
}

/// The client for the terminal commands: server and token from the options, the environment or
/// the configuration.
fn terminal_client(args: &ServerArgs, config: &Config) -> Result<Client, String> {
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
    Client::new(&server, token.trim()).map_err(|e| e.to_string())
}

fn read_token(path: &Path) -> Result<String, String> {
    let t = std::fs::read_to_string(path).map_err(|e| format!("cannot read token file {}: {e}", path.display()))?;
    let t = t.trim().to_string();
    if t.is_empty() {
        return Err(format!("token file {} is empty", path.display()));
    }
    Ok(t)
}

/// The terminal draws on stdout, so its logs go to a file in the data directory.
pub fn init_file_logging() {
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
