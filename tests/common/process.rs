//! The `helphive` binary as a separate process: commands with their own data and config
//! directories, and `serve` on a free loopback port.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A command with its own data and config directories, so nothing touches $HOME.
pub fn cmd(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_helphive"));
    c.env("HELPHIVE_DATA_DIR", dir.join("data"))
        .env("HELPHIVE_CONFIG_DIR", dir.join("config"))
        .env_remove("HELPHIVE_CONFIG")
        .env_remove("HELPHIVE_TOKEN")
        .env_remove("HELPHIVE_WEBHOOK_SECRET");
    c
}

/// Writes `config.toml` into the command's config directory.
pub fn write_config(dir: &Path, toml: &str) {
    std::fs::create_dir_all(dir.join("config")).unwrap();
    std::fs::write(dir.join("config").join("config.toml"), toml).unwrap();
}

pub fn run_ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{:?} failed: {}", c, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

pub fn run_err(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(!out.status.success(), "{c:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

/// `agent add` with these arguments; returns the token (the last line it prints).
pub fn add_agent(dir: &Path, args: &[&str]) -> String {
    let out = run_ok(cmd(dir).args(["agent", "add"]).args(args));
    out.lines().last().unwrap().trim().to_string()
}

/// A `helphive serve` process, killed on drop.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `serve` in `dir` on `bind` (`127.0.0.1:0` for a free port).
    pub fn start(dir: &Path, bind: &str) -> Server {
        Server::start_with(cmd(dir), bind)
    }

    /// `serve` from `c` (a `cmd` with more flags or environment).
    pub fn start_with(c: Command, bind: &str) -> Server {
        Server::start_logging(c, bind, Stdio::null())
    }

    /// `serve` from `c`, its log (warnings and worse) to `log`.
    pub fn start_logging(mut c: Command, bind: &str, log: impl Into<Stdio>) -> Server {
        let mut child = c
            .args(["serve", "--bind", bind])
            .env("HELPHIVE_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("helphive listening on ")
            .unwrap_or_else(|| panic!("unexpected: {line}"))
            .to_string();
        Server { child, base }
    }

    /// The `host:port` the server listens on.
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Sends SIGTERM, as a service manager stopping the server does.
    pub fn terminate(&self) {
        let ok = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill -TERM");
    }

    /// Waits up to `limit` for the process to exit; its exit status, or `None` if still running.
    pub fn wait_exit(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let start = std::time::Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }
}
