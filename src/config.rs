//! Configuration: the built-in default (`config.example.toml`, embedded), overridden by the user's
//! file, found through `--config`, `HELPHIVE_CONFIG`, then the platform's configuration directory.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::is_identifier;

/// The shipped example, which doubles as the default: one file, so they can never disagree.
pub const DEFAULT_TOML: &str = include_str!("../config.example.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub client: ClientConfig,
    pub webhook: WebhookConfig,
    pub routing: RoutingConfig,
    pub functions: Vec<FunctionConfig>,
    pub topics: Vec<TopicConfig>,
    #[serde(default)]
    pub channels: Vec<ChannelConfig>,
    pub spam: SpamConfig,
    pub outbox: OutboxConfig,
    pub metrics: MetricsConfig,
}

/// Which network a connector talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Mastodon,
    Bluesky,
    X,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Mastodon => "mastodon",
            ChannelKind::Bluesky => "bluesky",
            ChannelKind::X => "x",
        }
    }
}

/// One social network account the help desk reads mentions from and replies as.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub kind: ChannelKind,
    /// The channel name questions carry; empty: the kind (`mastodon`, `x`).
    #[serde(default)]
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub base_url: String,
    /// The brand account, without `@`.
    pub account: String,
    /// A file holding the access token.
    #[serde(default)]
    pub token_file: String,
    /// An environment variable holding the access token (wins over `token_file`).
    #[serde(default)]
    pub token_env: String,
    #[serde(default = "default_poll_seconds")]
    pub poll_seconds: u32,
    /// Mastodon: also listen on the streaming API, so mentions arrive at once.
    #[serde(default = "yes")]
    pub stream: bool,
}

fn yes() -> bool {
    true
}

fn default_poll_seconds() -> u32 {
    60
}

impl ChannelConfig {
    pub fn channel_name(&self) -> &str {
        if self.name.is_empty() { self.kind.as_str() } else { &self.name }
    }

    /// The access token, from the environment variable or the file; never from the config.
    pub fn token(&self) -> Result<String, ConfigError> {
        secret_from(&self.token_env, &self.token_file)?.ok_or_else(|| ConfigError::Invalid {
            path: format!("channel {}", self.channel_name()),
            message: format!(
                "no access token: set the environment variable {} or name a token_file",
                if self.token_env.is_empty() { "(token_env)" } else { &self.token_env }
            ),
        })
    }
}

/// A secret from the environment variable named `env` (when set and not blank), else from the
/// file named `file`; `None` when neither is configured. An empty file is an error, not a secret.
fn secret_from(env: &str, file: &str) -> Result<Option<String>, ConfigError> {
    if !env.is_empty()
        && let Ok(t) = std::env::var(env)
        && !t.trim().is_empty()
    {
        return Ok(Some(t.trim().to_string()));
    }
    if file.is_empty() {
        return Ok(None);
    }
    let path = PathBuf::from(file);
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read { path: path.clone(), source })?;
    match text.trim() {
        "" => Err(ConfigError::Invalid { path: path.display().to_string(), message: "the file is empty".into() }),
        t => Ok(Some(t.to_string())),
    }
}

/// When posts from the networks are held back from the queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpamConfig {
    /// `channel:handle` entries, e.g. `mastodon:spammer@example.social`.
    pub blocked_accounts: Vec<String>,
    pub flood_max_posts: u32,
    pub flood_window_seconds: u32,
    pub duplicate_window_minutes: u32,
}

impl SpamConfig {
    pub fn is_blocked(&self, channel: &str, handle: &str) -> bool {
        let handle = handle.trim_start_matches('@');
        self.blocked_accounts.iter().any(|b| match b.split_once(':') {
            Some((c, h)) => c == channel && h.trim_start_matches('@').eq_ignore_ascii_case(handle),
            None => false,
        })
    }
}

/// How the outbox worker retries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    pub base_delay_seconds: u32,
    pub max_delay_seconds: u32,
    pub max_attempts: u32,
}

/// Prometheus metrics on a listener of their own (`serve`), off unless enabled.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    pub enabled: bool,
    pub bind: String,
    /// An environment variable holding the scrapers' bearer token (wins over `token_file`).
    pub token_env: String,
    /// A file holding the scrapers' bearer token.
    pub token_file: String,
}

impl MetricsConfig {
    /// The bearer token scrapers must send, if one is configured.
    pub fn token(&self) -> Result<Option<String>, ConfigError> {
        secret_from(&self.token_env, &self.token_file)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub bind: String,
    pub database: String,
    pub durability: Durability,
    pub lease_minutes: u32,
    pub lease_check_seconds: u32,
    pub max_body_bytes: usize,
    pub events_retained: u32,
    pub header_timeout_seconds: u32,
    pub body_timeout_seconds: u32,
    pub max_connections: u32,
    pub shutdown_grace_seconds: u32,
}

/// The terminal's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub server: String,
    pub token_file: String,
    pub theme: Theme,
    #[serde(default)]
    pub keys: std::collections::BTreeMap<String, KeyList>,
    #[serde(default)]
    pub templates: Vec<Template>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    Color,
    Mono,
}

/// One key or several for an action.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum KeyList {
    One(String),
    Many(Vec<String>),
}

impl KeyList {
    pub fn keys(&self) -> Vec<&str> {
        match self {
            KeyList::One(k) => vec![k.as_str()],
            KeyList::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub name: String,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    Normal,
    Full,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub secret_file: String,
    pub secret: String,
    pub tolerance_seconds: u32,
    pub max_batch_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    pub default_topic: String,
    pub offer_seconds: u32,
    /// `learned` (the model, with the topics' keywords as extra evidence) or `keywords` (keyword
    /// rules only, as before the model).
    #[serde(default)]
    pub classifier: ClassifierKind,
    /// Below this confidence a question goes to the default topic as unsure. Default: the
    /// threshold fitted on cross-validation folds of the training questions.
    #[serde(default)]
    pub unsure_below: Option<f32>,
    /// How often (minutes) the server retrains the topic model when new labelled questions
    /// (corrections, resolved questions, imports) were stored; 0: only at start.
    #[serde(default = "default_retrain_minutes")]
    pub retrain_minutes: u32,
}

fn default_retrain_minutes() -> u32 {
    60
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassifierKind {
    #[default]
    Learned,
    Keywords,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionConfig {
    pub name: String,
    pub display: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicConfig {
    pub name: String,
    pub function: String,
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Channels whose questions lean to this topic when keywords tie.
    #[serde(default)]
    pub channels: Vec<String>,
    pub sla_minutes: u32,
    /// A keyword of this topic decides on its own, whatever the model says (a product recall, a
    /// campaign hashtag). Otherwise keywords are evidence added to the model's.
    #[serde(default, rename = "override")]
    pub overrides: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("config {path}: {message}")]
    Invalid { path: String, message: String },
}

impl Config {
    /// The built-in default.
    pub fn builtin() -> Config {
        // The embedded default is checked by a unit test, so this cannot fail in a built binary.
        #[allow(clippy::expect_used)]
        Self::from_toml_str(DEFAULT_TOML, "built-in default").expect("built-in config is valid")
    }

    /// Parses `text` as overrides on top of the built-in default and checks the result.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let base: toml::Table = toml::from_str(DEFAULT_TOML)
            .map_err(|e| ConfigError::Parse { path: "built-in default".into(), message: e.to_string() })?;
        let user: toml::Table = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: origin.into(), message: one_line(&e, text) })?;
        let merged = merge(base, user);
        let config: Config = merged
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse { path: origin.into(), message: one_line(&e, text) })?;
        config.validate().map_err(|message| ConfigError::Invalid { path: origin.into(), message })?;
        Ok(config)
    }

    /// Loads the configuration the way every subcommand does: explicit path, then
    /// `HELPHIVE_CONFIG`, then the configuration directory, then the built-in default.
    pub fn load(explicit: Option<&Path>) -> Result<(Config, String), ConfigError> {
        let candidate = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => match std::env::var_os("HELPHIVE_CONFIG") {
                Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
                _ => {
                    let p = config_dir().map(|d| d.join("config.toml"));
                    p.filter(|p| p.exists())
                }
            },
        };
        match candidate {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| ConfigError::Read { path: path.clone(), source })?;
                let origin = path.display().to_string();
                Ok((Self::from_toml_str(&text, &origin)?, origin))
            }
            None => Ok((Self::builtin(), "built-in default".to_string())),
        }
    }

    fn validate(&self) -> Result<(), String> {
        if self.server.lease_minutes == 0 {
            return Err("server.lease_minutes must be at least 1".into());
        }
        if self.server.lease_check_seconds == 0 {
            return Err("server.lease_check_seconds must be at least 1".into());
        }
        for (name, v) in [
            ("server.header_timeout_seconds", self.server.header_timeout_seconds),
            ("server.body_timeout_seconds", self.server.body_timeout_seconds),
            ("server.max_connections", self.server.max_connections),
        ] {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if self.server.max_body_bytes < 1024 {
            return Err("server.max_body_bytes must be at least 1024".into());
        }
        if self.routing.offer_seconds == 0 {
            return Err("routing.offer_seconds must be at least 1".into());
        }
        if let Some(t) = self.routing.unsure_below
            && !(0.0..=1.0).contains(&t)
        {
            return Err(format!("routing.unsure_below must be between 0 and 1, not {t}"));
        }
        if self.functions.is_empty() {
            return Err("at least one [[functions]] entry is needed".into());
        }
        let mut functions = HashSet::new();
        for f in &self.functions {
            if !is_identifier(&f.name) {
                return Err(format!("function name '{}' must be lowercase letters, digits, '_' or '-'", f.name));
            }
            if !functions.insert(f.name.as_str()) {
                return Err(format!("function '{}' is listed twice", f.name));
            }
        }
        let mut topics = HashSet::new();
        for t in &self.topics {
            if !is_identifier(&t.name) {
                return Err(format!("topic name '{}' must be lowercase letters, digits, '_' or '-'", t.name));
            }
            if !topics.insert(t.name.as_str()) {
                return Err(format!("topic '{}' is listed twice", t.name));
            }
            if !functions.contains(t.function.as_str()) {
                return Err(format!("topic '{}' names unknown function '{}'", t.name, t.function));
            }
            if t.sla_minutes == 0 {
                return Err(format!("topic '{}': sla_minutes must be at least 1", t.name));
            }
            if t.overrides && t.keywords.is_empty() {
                return Err(format!("topic '{}': override = true needs keywords", t.name));
            }
        }
        let mut channels = HashSet::new();
        for c in &self.channels {
            let name = c.channel_name();
            if !is_identifier(name) {
                return Err(format!("channel name '{name}' must be lowercase letters, digits, '_' or '-'"));
            }
            if c.enabled && !channels.insert(name) {
                return Err(format!("channel '{name}' is listed twice; give one a different name"));
            }
            if !(c.base_url.starts_with("http://") || c.base_url.starts_with("https://")) {
                return Err(format!("channel '{name}': base_url must start with http:// or https://"));
            }
            if c.poll_seconds == 0 {
                return Err(format!("channel '{name}': poll_seconds must be at least 1"));
            }
        }
        for b in &self.spam.blocked_accounts {
            if !b.contains(':') {
                return Err(format!("spam.blocked_accounts entry '{b}' should look like channel:handle"));
            }
        }
        if self.outbox.base_delay_seconds == 0 || self.outbox.max_delay_seconds < self.outbox.base_delay_seconds {
            return Err("outbox: base_delay_seconds must be at least 1 and at most max_delay_seconds".into());
        }
        if self.metrics.enabled && self.metrics.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(format!(
                "metrics.bind '{}' is not an address to listen on (like 127.0.0.1:7879)",
                self.metrics.bind
            ));
        }
        if !topics.contains(self.routing.default_topic.as_str()) {
            return Err(format!("routing.default_topic '{}' is not one of the [[topics]]", self.routing.default_topic));
        }
        Ok(())
    }

    pub fn topic(&self, name: &str) -> Option<&TopicConfig> {
        self.topics.iter().find(|t| t.name == name)
    }

    pub fn has_function(&self, name: &str) -> bool {
        self.functions.iter().any(|f| f.name == name)
    }

    /// The webhook secret: `HELPHIVE_WEBHOOK_SECRET`, then `secret_file`, then `secret`.
    pub fn webhook_secret(&self) -> Result<Option<String>, ConfigError> {
        if let Ok(s) = std::env::var("HELPHIVE_WEBHOOK_SECRET")
            && !s.trim().is_empty()
        {
            return Ok(Some(s.trim().to_string()));
        }
        if !self.webhook.secret_file.is_empty() {
            let path = PathBuf::from(&self.webhook.secret_file);
            let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read { path, source })?;
            return Ok(Some(text.trim().to_string()));
        }
        if !self.webhook.secret.is_empty() {
            return Ok(Some(self.webhook.secret.clone()));
        }
        Ok(None)
    }
}

/// A TOML error as one line: "line N: what is wrong (in key)".
fn one_line(e: &toml::de::Error, text: &str) -> String {
    let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        // Errors on the merged table have no position; their text names the key instead.
        None => e.to_string().split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

/// Tables merge key by key; arrays (functions, topics) and values replace the default whole, so a
/// company that lists its own functions does not inherit the example's.
fn merge(mut base: toml::Table, user: toml::Table) -> toml::Value {
    for (key, value) in user {
        match (base.remove(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(u)) => {
                base.insert(key, merge(b, u));
            }
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
    toml::Value::Table(base)
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("org", "helphive", "helphive")
}

/// The configuration directory: `HELPHIVE_CONFIG_DIR`, else the platform's.
pub fn config_dir() -> Option<PathBuf> {
    match std::env::var_os("HELPHIVE_CONFIG_DIR") {
        Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => project_dirs().map(|p| p.config_dir().to_path_buf()),
    }
}

/// The data directory (database, logs, drafts): `HELPHIVE_DATA_DIR`, else the platform's.
pub fn data_dir() -> Option<PathBuf> {
    match std::env::var_os("HELPHIVE_DATA_DIR") {
        Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => project_dirs().map(|p| p.data_dir().to_path_buf()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_example_parses_and_is_complete() {
        let c = Config::from_toml_str(DEFAULT_TOML, "config.example.toml").unwrap();
        assert_eq!(c.server.bind, "127.0.0.1:7878");
        assert_eq!(c.server.lease_minutes, 10);
        assert_eq!(c.functions.len(), 6);
        assert!(c.topic("billing").is_some());
        assert_eq!(c.routing.default_topic, "general");
        assert_eq!(c.client.server, "http://127.0.0.1:7878");
        assert!(c.client.templates.len() >= 3);
        assert!(c.client.keys.is_empty(), "the example changes no keys");
        let names: Vec<&str> = c.channels.iter().map(|ch| ch.channel_name()).collect();
        assert_eq!(names, ["mastodon", "bluesky", "x"], "the example documents one channel of each kind");
        assert!(c.channels.iter().all(|ch| !ch.enabled), "nothing connects to a network by default");
        assert!(c.spam.flood_max_posts > 0);
    }

    #[test]
    fn channel_tokens_come_from_the_environment_or_a_file_only() {
        let e = Config::from_toml_str("token = \"x\"\n", "t");
        assert!(e.is_err());
        let c = Config::from_toml_str(
            "[[channels]]\nkind = \"mastodon\"\nbase_url = \"http://127.0.0.1:1\"\naccount = \"help\"\ntoken_env = \"HELPHIVE_TEST_NO_SUCH_VAR\"\n",
            "t",
        )
        .unwrap();
        let err = c.channels[0].token().unwrap_err().to_string();
        assert!(err.contains("HELPHIVE_TEST_NO_SUCH_VAR"), "{err}");
        let inline = Config::from_toml_str(
            "[[channels]]\nkind = \"x\"\nbase_url = \"http://h\"\naccount = \"a\"\ntoken = \"secret\"\n",
            "t",
        );
        assert!(inline.is_err(), "a token in the config file itself is refused");
    }

    #[test]
    fn blocked_accounts_match_channel_and_handle() {
        let c = Config::from_toml_str("[spam]\nblocked_accounts = [\"mastodon:Spam@evil.example\"]\n", "t").unwrap();
        assert!(c.spam.is_blocked("mastodon", "@spam@evil.example"));
        assert!(!c.spam.is_blocked("x", "spam@evil.example"));
        assert!(!c.spam.is_blocked("mastodon", "alice"));
    }

    #[test]
    fn client_keys_take_one_key_or_several() {
        let c = Config::from_toml_str("[client.keys]\nclaim = \"C\"\nnext = [\"n\", \"ctrl-n\"]\n", "t").unwrap();
        assert_eq!(c.client.keys["claim"].keys(), ["C"]);
        assert_eq!(c.client.keys["next"].keys(), ["n", "ctrl-n"]);
    }

    #[test]
    fn user_file_overrides_only_what_it_names() {
        let c = Config::from_toml_str("[server]\nlease_minutes = 3\n", "test").unwrap();
        assert_eq!(c.server.lease_minutes, 3);
        assert_eq!(c.server.bind, "127.0.0.1:7878");
        assert_eq!(c.functions.len(), 6);
    }

    #[test]
    fn errors_name_the_problem() {
        let e = Config::from_toml_str("[server]\nlease_minutez = 3\n", "my.toml").unwrap_err();
        assert!(e.to_string().contains("lease_minutez"), "{e}");
        let e = Config::from_toml_str(
            "[[topics]]\nname = \"x\"\nfunction = \"nope\"\nsla_minutes = 5\n[routing]\ndefault_topic = \"x\"\n",
            "my.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown function 'nope'"), "{e}");
        let e = Config::from_toml_str("[server\n", "my.toml").unwrap_err();
        assert!(e.to_string().starts_with("config file my.toml"), "{e}");
    }
}
