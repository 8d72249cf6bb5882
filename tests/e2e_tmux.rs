//! The real binary in a real terminal (tmux), against a real server: keys typed with
//! `send-keys`, the screen read with `capture-pane`, the result checked on the server.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use helphive::client::Client;
use helphive::model::{Customer, MessageKind};
use helphive::store::NewInbound;

fn cmd(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_helphive"));
    c.env("HELPHIVE_DATA_DIR", dir.join("data"))
        .env("HELPHIVE_CONFIG_DIR", dir.join("config"))
        .env_remove("HELPHIVE_CONFIG")
        .env_remove("HELPHIVE_TOKEN");
    c
}

fn add_agent(dir: &Path, args: &[&str]) -> String {
    let out = cmd(dir).args(["agent", "add"]).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_string()
}

struct Server(Child);

/// Starts `helphive serve` on a free loopback port; the server stops when the handle drops.
fn start_server(dir: &Path) -> (Server, String) {
    start_server_on(dir, "127.0.0.1:0")
}

/// Starts `helphive serve` on `bind` (the database in `dir`); the server is killed (SIGKILL)
/// when the handle drops.
fn start_server_on(dir: &Path, bind: &str) -> (Server, String) {
    let mut child =
        cmd(dir).args(["serve", "--bind", bind]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("helphive listening on ").unwrap().to_string();
    (Server(child), base)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is installed (scripts/test installs it)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "hh"])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "hh"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    fn text(&self, s: &str) {
        self.run(&["send-keys", "-t", "hh", "-l", s]);
    }

    /// Waits until the screen shows `needle` (the terminal draws asynchronously).
    fn wait_for(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(start.elapsed() < Duration::from_secs(15), "screen never showed {needle:?}:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-L").arg(&self.socket).arg("kill-server").output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_claims_and_answers_with_keystrokes() {
    let dir = tempfile::tempdir().unwrap();
    let admin =
        add_agent(dir.path(), &["--handle", "root", "--name", "Root", "--function", "store", "--role", "admin"]);
    let token = add_agent(
        dir.path(),
        &[
            "--handle",
            "dana",
            "--name",
            "Dana Kim",
            "--function",
            "billing",
            "--skill",
            "billing:4",
            "--signature",
            "- Dana",
        ],
    );
    let token_file = dir.path().join("dana.token");
    std::fs::write(&token_file, &token).unwrap();

    let (_server, base) = start_server(dir.path());
    let admin = Client::new(&base, &admin).unwrap();
    let asked = admin
        .inbound(&NewInbound {
            channel: "mastodon".into(),
            external_id: "toot-1".into(),
            customer: Customer { handle: "ann@social.example".into(), name: "Ann \x1b[31mLee".into() },
            text: "I was charged twice for my order, refund please".into(),
            conversation_id: None,
            in_reply_to: None,
            received_at: None,
            priority: None,
        })
        .await
        .unwrap();

    let tmux = Tmux { socket: format!("helphive-test-{}", std::process::id()) };
    let command = format!(
        "env HELPHIVE_DATA_DIR={data} HELPHIVE_CONFIG_DIR={config} {bin} --server {base} --token-file {tf}; sleep 30",
        data = dir.path().join("data").display(),
        config = dir.path().join("config").display(),
        bin = env!("CARGO_BIN_EXE_helphive"),
        tf = token_file.display(),
    );
    tmux.run(&["new-session", "-d", "-s", "hh", "-x", "120", "-y", "30", &command]);
    let screen = tmux.wait_for("I was charged twice");
    assert!(screen.contains("@dana (billing, agent)"), "{screen}");
    assert!(screen.contains("Ann ␛[31mLee"), "the escape is shown, not obeyed:\n{screen}");

    tmux.keys(&["Enter"]);
    tmux.wait_for("Conversation");
    tmux.keys(&["c"]);
    tmux.wait_for("held by @dana");
    tmux.keys(&["r"]);
    tmux.wait_for("Reply to the customer");
    tmux.text("Sorry Ann, the second charge is reversed.");
    tmux.wait_for("/500 mastodon");
    tmux.keys(&["C-s"]);
    tmux.wait_for("reply to #");

    // The reply arrived on the server, with the signature.
    let d = admin.question(asked.question.id).await.unwrap();
    let reply = d.messages.iter().find(|m| m.kind == MessageKind::Reply).expect("a reply on the server");
    assert_eq!(reply.body, "Sorry Ann, the second charge is reversed.\n- Dana");
    assert_eq!(reply.author, "dana");

    tmux.keys(&["x"]);
    tmux.wait_for("resolved #");
    tmux.keys(&["q"]);
    let start = Instant::now();
    while admin.question(asked.question.id).await.unwrap().question.state != helphive::model::QuestionState::Resolved {
        assert!(start.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn a_wrong_server_or_token_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 9 of loopback.
    let out = cmd(dir.path()).args(["--server", "http://127.0.0.1:9", "--token", "hh_x"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("helphive: cannot reach the server at http://127.0.0.1:9"), "{err}");

    let out = cmd(dir.path()).args(["--server", "not a url", "--token", "x"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("must start with http://"), "{err}");

    let out = cmd(dir.path()).args(["--server", "http://127.0.0.1:9"]).output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("helphive: no token"), "{err}");
}

#[tokio::test]
async fn a_rejected_token_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    add_agent(dir.path(), &["--handle", "root", "--name", "Root", "--function", "store", "--role", "admin"]);
    let (_server, base) = start_server(dir.path());
    let out = cmd(dir.path()).args(["--server", &base, "--token", "hh_wrong"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("refused the token"), "{err}");
}

#[test]
fn the_demo_opens_the_terminal_with_nothing_to_set_up() {
    let dir = tempfile::tempdir().unwrap();
    let tmux = Tmux { socket: format!("helphive-demo-{}", std::process::id()) };
    let command = format!(
        "env HELPHIVE_DATA_DIR={data} HELPHIVE_CONFIG_DIR={config} {bin} demo --speed 10 --role lead; sleep 30",
        data = dir.path().join("data").display(),
        config = dir.path().join("config").display(),
        bin = env!("CARGO_BIN_EXE_helphive"),
    );
    tmux.run(&["new-session", "-d", "-s", "hh", "-x", "130", "-y", "34", &command]);
    // A lead starts on the dashboard, which fills as the scenario plays.
    tmux.wait_for("By function");
    tmux.wait_for("@ines");
    tmux.keys(&["1"]);
    let screen = tmux.wait_for("Queue ·");
    assert!(screen.contains("@you (store, lead)"), "{screen}");
    tmux.keys(&["q"]);
    // On quitting, the trainer gets the summary.
    tmux.wait_for("Demo summary");
}

/// Issue 10, item 12: a terminal that has not yet received a single event must not lose what
/// happens while its server is away. The terminal opens, the server is killed with SIGKILL before
/// any event reaches it, restarted on the same port and database, and a question is posted before
/// the terminal reconnects (it is backing off by then): the question must appear. Then `n` claims
/// it and opens it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_terminal_misses_nothing_while_its_server_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let admin =
        add_agent(dir.path(), &["--handle", "root", "--name", "Root", "--function", "store", "--role", "admin"]);
    let token = add_agent(
        dir.path(),
        // Delivery at level 2: `n` may take a delivery question, but the router offers it only to
        // experts while the deadline is far, so no offer event carries the question to her.
        &[
            "--handle",
            "dana",
            "--name",
            "Dana Kim",
            "--function",
            "billing",
            "--skill",
            "billing:4",
            "--skill",
            "delivery:2",
        ],
    );
    let token_file = dir.path().join("dana.token");
    std::fs::write(&token_file, &token).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let bind = format!("127.0.0.1:{port}");
    let (server, base) = start_server_on(dir.path(), &bind);

    let tmux = Tmux { socket: format!("helphive-kill-{}", std::process::id()) };
    let command = format!(
        "env HELPHIVE_DATA_DIR={data} HELPHIVE_CONFIG_DIR={config} {bin} --server {base} --token-file {tf}; sleep 30",
        data = dir.path().join("data").display(),
        config = dir.path().join("config").display(),
        bin = env!("CARGO_BIN_EXE_helphive"),
        tf = token_file.display(),
    );
    tmux.run(&["new-session", "-d", "-s", "hh", "-x", "120", "-y", "30", &command]);
    // The snapshot is in (it loads once the stream is open) and no event has come.
    tmux.wait_for("The queue is empty");

    drop(server); // SIGKILL
    tmux.wait_for("OFFLINE");
    // Let the terminal back off, so its next try comes well after the question is in.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_server, again) = start_server_on(dir.path(), &bind);
    assert_eq!(again, base);
    let admin = Client::new(&base, &admin).unwrap();
    let asked = admin
        .inbound(&NewInbound {
            channel: "mastodon".into(),
            external_id: "toot-while-away".into(),
            customer: Customer { handle: "ann@social.example".into(), name: "Ann Lee".into() },
            text: "Where is my parcel? Tracking has not moved while you were away".into(),
            conversation_id: None,
            in_reply_to: None,
            received_at: None,
            priority: None,
        })
        .await
        .unwrap();

    assert_eq!(asked.question.topic, "delivery");
    let screen = tmux.wait_for("Tracking has not moved");
    assert!(screen.contains("● online"), "{screen}");

    // A question on her own skill: `n` claims it and opens it.
    let billing = admin
        .inbound(&NewInbound {
            channel: "mastodon".into(),
            external_id: "toot-billing".into(),
            customer: Customer { handle: "bo@social.example".into(), name: "Bo".into() },
            text: "I was charged twice, refund please".into(),
            conversation_id: None,
            in_reply_to: None,
            received_at: None,
            priority: None,
        })
        .await
        .unwrap();
    tmux.wait_for("I was charged twice");
    tmux.keys(&["n"]);
    let screen = tmux.wait_for("held by @dana");
    assert!(screen.contains("Conversation"), "{screen}");
    assert!(screen.contains(&format!("#{} mastodon · Bo", billing.question.id)), "{screen}");
    assert!(!screen.contains("Where is my parcel"), "{screen}");
    tmux.keys(&["q"]);
}
