//! The `helphive` binary as an admin uses it: help texts, the admin commands on the server's
//! database, configuration lookup, durability across `kill -9`, and a channel over HTTPS.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;

use helphive::client::Client;
use helphive::model::QuestionState;

use common::process::{Server, add_agent, cmd, run_err, run_ok};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_helphive"))
}

fn start_server(dir: &Path) -> Server {
    Server::start(dir, "127.0.0.1:0")
}

fn start_server_with(c: Command) -> Server {
    Server::start_with(c, "127.0.0.1:0")
}

#[test]
fn help_describes_every_command() {
    let top = run_ok(bin().arg("--help"));
    for word in
        ["serve", "agent", "token", "backup", "webhook-secret", "bench", "completions", "man", "classify", "--config"]
    {
        assert!(top.contains(word), "--help mentions {word}:\n{top}");
    }
    let serve = run_ok(bin().args(["serve", "--help"]));
    assert!(serve.contains("--bind"));
    let add = run_ok(bin().args(["agent", "add", "--help"]));
    for word in ["--handle", "--function", "--role", "--skill", "--capacity", "--novice", "--mentor"] {
        assert!(add.contains(word), "agent add --help mentions {word}");
    }
    run_ok(bin().args(["agent", "list", "--help"]));
    run_ok(bin().args(["agent", "disable", "--help"]));
    assert!(run_ok(bin().args(["token", "issue", "--help"])).contains("--revoke-others"));
    assert!(run_ok(bin().args(["bench", "--help"])).contains("--agents"));
    let classify = run_ok(bin().args(["classify", "--help"]));
    for word in ["--eval", "--train", "--bench", "--cv", "--replay", "--stream"] {
        assert!(classify.contains(word), "classify --help mentions {word}");
    }
    assert!(run_ok(bin().arg("webhook-secret")).starts_with("whsec_"));
}

/// The options `--help` lists for `args`: the flags that start a line.
fn options(args: &[&str]) -> Vec<String> {
    let help = run_ok(bin().args(args).arg("--help"));
    help.lines()
        .map(|l| l.trim_start())
        .map(|l| if l.len() > 4 && l.starts_with('-') && &l[2..4] == ", " { &l[4..] } else { l })
        .filter(|l| l.starts_with("--"))
        .filter_map(|l| l.split([' ', ',']).next().map(str::to_string))
        .collect()
}

const SHARED: [&str; 5] = ["--config", "--database", "--server", "--token", "--token-file"];

/// Each command's --help lists the shared options it uses and none that it does not.
fn assert_takes(args: &[&str], takes: &[&str]) {
    let listed = options(args);
    for flag in SHARED {
        let expected = takes.contains(&flag);
        assert_eq!(
            listed.iter().any(|f| f == flag),
            expected,
            "`helphive {} --help` lists {flag}: {expected}",
            args.join(" ")
        );
    }
}

const CLIENT: [&str; 4] = ["--config", "--server", "--token", "--token-file"];
const STORE: [&str; 2] = ["--config", "--database"];

/// The terminal (no command) and the commands that talk to a running server: server and token,
/// no database.
#[test]
fn help_of_the_terminal_commands_lists_server_and_token_not_database() {
    assert_takes(&[], &CLIENT);
    assert_takes(&["dashboard"], &CLIENT);
    assert_takes(&["stats"], &CLIENT);
    let dir = tempfile::tempdir().unwrap();
    let e = run_err(cmd(dir.path()).args(["stats", "--database", "x.db"]));
    assert!(e.contains("unexpected argument '--database'"), "{e}");
    let e = run_err(cmd(dir.path()).args(["--database", "x.db", "stats"]));
    assert_eq!(e.trim(), "helphive: --database is not an option of `helphive stats` (see `helphive stats --help`)");
    let e = run_err(cmd(dir.path()).args(["--database", "x.db"]));
    assert!(e.contains("--database is not an option of the agent terminal"), "{e}");
}

/// The commands that open the database: database, no server or token.
#[test]
fn help_of_the_database_commands_lists_database_not_server_or_token() {
    for args in [
        &["serve"][..],
        &["agent"],
        &["agent", "add"],
        &["agent", "list"],
        &["agent", "disable"],
        &["agent", "enable"],
        &["token"],
        &["token", "issue"],
        &["backup"],
        &["bench"],
    ] {
        assert_takes(args, &STORE);
    }
    let dir = tempfile::tempdir().unwrap();
    let e = run_err(cmd(dir.path()).args(["agent", "add", "--server", "http://x", "--handle", "a"]));
    assert!(e.contains("unexpected argument '--server'"), "{e}");
    let e = run_err(cmd(dir.path()).args(["serve", "--token", "t"]));
    assert!(e.contains("unexpected argument '--token'"), "{e}");
    let e = run_err(cmd(dir.path()).args(["--server", "http://x", "agent", "list"]));
    assert_eq!(e.trim(), "helphive: --server is not an option of `helphive agent` (see `helphive agent --help`)");
    let e = run_err(cmd(dir.path()).args(["--token-file", "t", "backup", "b.db"]));
    assert!(e.contains("--token-file is not an option of `helphive backup`"), "{e}");
}

/// The demo reads the configuration for its terminal; it has its own server and database.
#[test]
fn help_of_the_demo_lists_config_only() {
    assert_takes(&["demo"], &["--config"]);
    let dir = tempfile::tempdir().unwrap();
    let e = run_err(cmd(dir.path()).args(["--server", "http://x", "demo"]));
    assert!(e.contains("--server is not an option of `helphive demo`"), "{e}");
}

/// The commands that need neither configuration, database nor server.
#[test]
fn help_of_the_standalone_commands_lists_none_of_them() {
    for args in [&["sim"][..], &["webhook-secret"], &["completions"], &["man"]] {
        assert_takes(args, &[]);
    }
    let dir = tempfile::tempdir().unwrap();
    let e = run_err(cmd(dir.path()).args(["--database", "x.db", "sim"]));
    assert!(e.contains("--database is not an option of `helphive sim`"), "{e}");
    let e = run_err(cmd(dir.path()).args(["--config", "c.toml", "webhook-secret"]));
    assert!(e.contains("--config is not an option of `helphive webhook-secret`"), "{e}");
    // A broken configuration does not stop them.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "not toml [").unwrap();
    assert!(run_ok(cmd(dir.path()).env("HELPHIVE_CONFIG", &bad).arg("webhook-secret")).starts_with("whsec_"));
}

/// The options a command takes work where they worked when they were global: before the
/// command, after it, and between `agent` and its subcommand.
#[test]
fn shared_options_work_before_and_after_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("elsewhere.db");
    let db = db.to_str().unwrap();
    let add = |args: &[&str]| run_ok(cmd(dir.path()).args(args));
    add(&["--database", db, "agent", "add", "--handle", "a1", "--name", "A", "--function", "store"]);
    add(&["agent", "--database", db, "add", "--handle", "a2", "--name", "A", "--function", "store"]);
    add(&["agent", "add", "--handle", "a3", "--name", "A", "--function", "store", "--database", db]);
    let list = add(&["agent", "list", "--database", db]);
    assert!(list.contains("@a1") && list.contains("@a2") && list.contains("@a3"), "{list}");
    // The default database was not touched.
    assert!(!add(&["agent", "list"]).contains("@a1"));
    // The nearer one wins.
    let other = dir.path().join("other.db");
    let e = run_err(cmd(dir.path()).args([
        "--database",
        db,
        "token",
        "issue",
        "a1",
        "--database",
        other.to_str().unwrap(),
    ]));
    assert_eq!(e.trim(), "helphive: no agent '@a1'");
}

#[test]
fn admin_commands_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = run_err(cmd(dir.path()).args(["agent", "add", "--handle", "a", "--name", "A", "--function", "nope"]));
    assert!(e.starts_with("helphive: unknown function 'nope'"), "{e}");
    let e = run_err(cmd(dir.path()).args([
        "agent",
        "add",
        "--handle",
        "a",
        "--name",
        "A",
        "--function",
        "billing",
        "--skill",
        "billing:9",
    ]));
    assert!(e.contains("level must be from 1 to 5"), "{e}");
    let e = run_err(cmd(dir.path()).args([
        "agent",
        "add",
        "--handle",
        "a",
        "--name",
        "A",
        "--function",
        "billing",
        "--novice",
    ]));
    assert!(e.contains("--mentor"), "{e}");
    let e = run_err(cmd(dir.path()).args(["agent", "disable", "ghost"]));
    assert_eq!(e.trim(), "helphive: no agent '@ghost'");
    let e = run_err(cmd(dir.path()).args(["token", "issue", "ghost"]));
    assert_eq!(e.trim(), "helphive: no agent '@ghost'");
    let e = run_err(cmd(dir.path()).args(["serve", "--bind", "not-an-address"]));
    assert!(e.contains("not an address"), "{e}");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[server]\nlease_minutes = 'ten'\n").unwrap();
    let e = run_err(cmd(dir.path()).args(["--config", bad.to_str().unwrap(), "agent", "list"]));
    assert!(e.starts_with(&format!("helphive: config file {}", bad.display())), "{e}");
    assert_eq!(e.lines().count(), 1, "one clear line, no stack trace: {e}");
}

#[test]
fn configuration_is_found_by_flag_then_env_then_config_dir() {
    let dir = tempfile::tempdir().unwrap();
    let with_function = |name: &str| {
        format!(
            "[[functions]]\nname = \"{name}\"\ndisplay = \"X\"\n[[topics]]\nname = \"general\"\nfunction = \"{name}\"\nsla_minutes = 5\n"
        )
    };
    let flag_file = dir.path().join("flag.toml");
    let env_file = dir.path().join("env.toml");
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(&flag_file, with_function("from_flag")).unwrap();
    std::fs::write(&env_file, with_function("from_env")).unwrap();
    std::fs::write(dir.path().join("config/config.toml"), with_function("from_dir")).unwrap();
    let add = |extra: &[&str], env: Option<&Path>, handle: &str, function: &str| {
        let mut c = cmd(dir.path());
        c.args(extra).args(["agent", "add", "--handle", handle, "--name", "N", "--function", function]);
        if let Some(e) = env {
            c.env("HELPHIVE_CONFIG", e);
        }
        c.output().unwrap().status.success()
    };
    let flag = flag_file.to_str().unwrap();
    assert!(add(&["--config", flag], Some(&env_file), "a1", "from_flag"));
    assert!(!add(&["--config", flag], Some(&env_file), "a2", "from_env"));
    assert!(add(&[], Some(&env_file), "a3", "from_env"));
    assert!(add(&[], None, "a4", "from_dir"));
    std::fs::remove_file(dir.path().join("config/config.toml")).unwrap();
    assert!(add(&[], None, "a5", "billing"), "built-in default");
}

#[tokio::test]
async fn admin_cli_works_on_the_running_servers_database() {
    let dir = tempfile::tempdir().unwrap();
    let admin =
        add_agent(dir.path(), &["--handle", "root", "--name", "Root", "--function", "store", "--role", "admin"]);
    let server = start_server(dir.path());
    // Added while the server runs: the token works at once.
    let token = add_agent(
        dir.path(),
        &["--handle", "dana", "--name", "Dana K", "--function", "billing", "--skill", "billing:4"],
    );
    let dana = Client::new(&server.base, &token).unwrap();
    let me = dana.me().await.unwrap();
    assert_eq!((me.handle.as_str(), me.function.as_str(), me.skills[0].proficiency), ("dana", "billing", 4));
    let list = run_ok(cmd(dir.path()).args(["agent", "list"]));
    assert!(list.contains("@dana") && list.contains("billing:4"), "{list}");
    let json: serde_json::Value =
        serde_json::from_str(&run_ok(cmd(dir.path()).args(["agent", "list", "--json"]))).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);

    let out = run_ok(cmd(dir.path()).args(["token", "issue", "dana", "--revoke-others"]));
    let second = out.lines().last().unwrap().trim();
    // Changes from another process reach the server's token cache within a second.
    assert_eq!(rejected_within(&dana, Duration::from_secs(3)).await, Some(401), "revoked");
    assert_eq!(dana.with_token(second).me().await.unwrap().handle, "dana");

    let admin = Client::new(&server.base, &admin).unwrap();
    let qid = admin.inbound(&helphive_question("c1", "refund please")).await.unwrap().question.id;
    dana.with_token(second).claim(qid).await.unwrap();
    run_ok(cmd(dir.path()).args(["agent", "disable", "@dana"]));
    assert_eq!(rejected_within(&dana.with_token(second), Duration::from_secs(3)).await, Some(401));
    // The server's lease job is not needed: disabling returned the question at once.
    assert_eq!(admin.question(qid).await.unwrap().question.state, QuestionState::Open);
    // Back again: enabled, and signed in with a fresh token (the old ones stay revoked).
    let out = run_ok(cmd(dir.path()).args(["agent", "enable", "dana"]));
    assert!(out.contains("enabled @dana"), "{out}");
    assert_eq!(rejected_within(&dana.with_token(second), Duration::from_secs(1)).await, Some(401));
    let out = run_ok(cmd(dir.path()).args(["token", "issue", "dana"]));
    let third = out.lines().last().unwrap().trim();
    assert_eq!(dana.with_token(third).me().await.unwrap().handle, "dana");
    // The last admin stays: the desk keeps someone who can run it.
    let e = run_err(cmd(dir.path()).args(["agent", "disable", "root"]));
    assert!(e.contains("last enabled admin"), "{e}");
    let e = run_err(cmd(dir.path()).args(["agent", "enable", "dana"]));
    assert!(e.contains("not disabled"), "{e}");
}

/// Polls `me` until the server rejects the client's token; returns the status it answered.
async fn rejected_within(client: &Client, limit: Duration) -> Option<u16> {
    let start = std::time::Instant::now();
    loop {
        match client.me().await {
            Err(e) => return e.status(),
            Ok(_) if start.elapsed() > limit => return None,
            Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn helphive_question(id: &str, text: &str) -> helphive::store::NewInbound {
    helphive::store::NewInbound {
        channel: "webhook".into(),
        external_id: id.into(),
        customer: helphive::model::Customer { handle: format!("cust-{id}"), name: "Customer".into() },
        text: text.into(),
        conversation_id: None,
        in_reply_to: None,
        received_at: None,
        priority: None,
    }
}

#[derive(Default)]
struct Acked {
    questions: Vec<(String, i64)>,
    claims: Vec<i64>,
    replies: Vec<(i64, String)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_write_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let admin_token =
        add_agent(dir.path(), &["--handle", "root", "--name", "Root", "--function", "store", "--role", "admin"]);
    let mut tokens = Vec::new();
    for i in 0..4 {
        tokens.push(add_agent(
            dir.path(),
            &[
                "--handle",
                &format!("w{i}"),
                "--name",
                "W",
                "--function",
                "billing",
                "--skill",
                "billing:3",
                "--capacity",
                "50",
            ],
        ));
    }
    let mut server = start_server(dir.path());
    let acked = Arc::new(Mutex::new(Acked::default()));
    let admin = Client::new(&server.base, &admin_token).unwrap();
    // Four writers, each: a question in, claim it, reply to it; recording only what the server
    // acknowledged. They run until the server dies under them.
    let mut writers = Vec::new();
    for (w, token) in tokens.iter().enumerate() {
        let admin = admin.clone();
        let agent = admin.with_token(token);
        let acked = acked.clone();
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let ext = format!("w{w}-{i}");
                let Ok(out) = admin.inbound(&helphive_question(&ext, "refund please")).await else { return };
                acked.lock().unwrap().questions.push((ext.clone(), out.question.id));
                if agent.claim(out.question.id).await.is_err() {
                    return;
                }
                acked.lock().unwrap().claims.push(out.question.id);
                let key = format!("key-{ext}");
                if agent.reply(out.question.id, "Your refund is on its way.", &key).await.is_err() {
                    return;
                }
                acked.lock().unwrap().replies.push((out.question.id, key));
                if i % 3 == 2 && agent.resolve(out.question.id).await.is_err() {
                    return;
                }
            }
        }));
    }
    // Let the stream run, then kill -9 in the middle of it.
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if acked.lock().unwrap().replies.len() >= 40 {
            break;
        }
    }
    server.child.kill().unwrap(); // SIGKILL: no shutdown, no flush
    server.child.wait().unwrap();
    for w in writers {
        tokio::time::timeout(Duration::from_secs(30), w).await.unwrap().unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(acked.replies.len() >= 40);

    let server = start_server(dir.path());
    let admin = Client::new(&server.base, &admin_token).unwrap();
    for (ext, id) in &acked.questions {
        let d = admin.question(*id).await.unwrap_or_else(|e| panic!("question {ext} (#{id}) lost: {e}"));
        assert_eq!(&d.question.external_id, ext);
    }
    for id in &acked.claims {
        let d = admin.question(*id).await.unwrap();
        let claimed_or_later = d.question.holder.is_some() || d.question.state == QuestionState::Resolved;
        assert!(claimed_or_later, "claim on #{id} lost: {:?}", d.question.state);
    }
    for (id, key) in &acked.replies {
        let d = admin.question(*id).await.unwrap();
        assert!(
            d.messages.iter().any(|m| m.idempotency_key.as_deref() == Some(key.as_str())),
            "reply {key} on #{id} lost"
        );
    }
    // And the event log has no holes.
    let store = helphive::store::Store::open(&helphive::store::StoreOptions {
        database: dir.path().join("data/helphive.db").display().to_string(),
        durability: helphive::config::Durability::Normal,
        events_retained: 100_000,
    })
    .await
    .unwrap();
    let events = store.events_since(0, 1_000_000).await.unwrap();
    assert!(events.windows(2).all(|w| w[1].id == w[0].id + 1));
    drop(server);
}

#[tokio::test]
async fn serve_runs_on_an_in_memory_database() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = cmd(dir.path())
        .args(["--database", "sqlite::memory:", "serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("helphive listening on ").unwrap().to_string();
    let server = Server { child, base };
    let r =
        helphive::tls::client_builder().build().unwrap().get(format!("{}/healthz", server.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(!dir.path().join("data/helphive.db").exists(), "nothing written to disk");
}

#[test]
fn demo_runs_headless_and_prints_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_ok(cmd(dir.path()).args(["demo", "--headless", "--duration", "90s", "--speed", "30"]));
    assert!(out.starts_with("Demo summary: \"A morning at Hollowmere\""), "{out}");
    assert!(out.contains("Questions received:"), "{out}");
    assert!(out.contains("Replies released to customers:"), "{out}");
    assert!(out.contains("World errors: none"), "{out}");
    let e = run_err(cmd(dir.path()).args(["demo", "--duration", "60s"]));
    assert!(e.contains("--duration goes with --headless"), "{e}");
    let e = run_err(cmd(dir.path()).args(["demo", "--headless", "--scenario", "/nonexistent.toml"]));
    assert!(e.contains("/nonexistent.toml"), "{e}");
}

/// `helphive serve` runs a Mastodon channel over HTTPS: mastodon-mock serves TLS with a
/// certificate from a test CA, which the server trusts through SSL_CERT_FILE (the system
/// certificate store's override); a mention comes in and the reply goes out through the outbox.
/// Without the CA the certificate is refused.
#[tokio::test]
async fn serve_runs_a_mastodon_channel_over_verified_https() {
    use common::mastodon::{Mock, test_certificates};
    let dir = tempfile::tempdir().unwrap();
    let certs = test_certificates(dir.path());
    let mock = Mock::start_tls(&certs).await;
    let (_, brand) = mock.account("helpdesk").await;
    let (_, alice) = mock.account("alice").await;

    // The certificate is checked: without the test CA the TLS handshake fails.
    let e = run_err(cmd(dir.path()).args(["--server", &mock.base, "--token", "t", "stats"]));
    assert!(e.contains("UnknownIssuer") || e.contains("certificate"), "{e}");

    let config = dir.path().join("https.toml");
    std::fs::write(
        &config,
        format!(
            "[[channels]]\nkind = \"mastodon\"\nbase_url = \"{}\"\naccount = \"helpdesk\"\n\
             token_env = \"HELPHIVE_TEST_MASTODON_TOKEN\"\npoll_seconds = 1\nstream = true\n",
            mock.base
        ),
    )
    .unwrap();
    let admin =
        add_agent(dir.path(), &["--handle", "root", "--name", "Root", "--function", "store", "--role", "admin"]);
    let token = add_agent(dir.path(), &["--handle", "dana", "--name", "Dana", "--function", "delivery"]);
    let mut c = cmd(dir.path());
    c.arg("--config").arg(&config).env("SSL_CERT_FILE", &certs.0).env("HELPHIVE_TEST_MASTODON_TOKEN", &brand);
    let server = start_server_with(c);
    let admin = Client::new(&server.base, &admin).unwrap();

    let status = mock.post_status(&alice, "@helpdesk where is my parcel?", "public").await;
    let mut question = None;
    for _ in 0..100 {
        let page = admin.queue(&Default::default()).await.unwrap();
        question = page.items.into_iter().find(|q| q.external_id == status);
        if question.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let q = question.expect("the mention came in over HTTPS within 20 s");
    let dana = Client::new(&server.base, &token).unwrap();
    dana.claim(q.id).await.unwrap();
    dana.reply(q.id, "It ships today.", "https-1").await.unwrap();
    let mut replies = Vec::new();
    for _ in 0..100 {
        replies = mock.replies(&alice, &status).await;
        if !replies.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(replies.len(), 1, "the reply went out over HTTPS, once");
    assert!(replies[0]["content"].as_str().unwrap().contains("It ships today."));
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    let bash = run_ok(bin().args(["completions", "bash"]));
    for word in ["_helphive()", "serve", "agent", "backup", "completions", "--bind", "--revoke-others"] {
        assert!(bash.contains(word), "bash completions mention {word}");
    }
    assert!(run_ok(bin().args(["completions", "zsh"])).starts_with("#compdef helphive"));
    assert!(run_ok(bin().args(["completions", "fish"])).contains("complete -c helphive"));
    let e = run_err(bin().args(["completions", "tcsh"]));
    assert!(e.contains("possible values"), "{e}");

    let page = run_ok(bin().arg("man"));
    assert!(page.contains(".TH helphive 1"), "{page}");
    assert!(page.contains("backup") && page.contains("\\-\\-token\\-file"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    run_ok(bin().args(["man", "--dir"]).arg(dir.path()));
    let serve = std::fs::read_to_string(dir.path().join("helphive-serve.1")).unwrap();
    assert!(serve.contains("\\-\\-bind") && serve.contains("\\-\\-database"), "{serve}");
    assert!(dir.path().join("helphive-agent-add.1").exists());
}

/// A backup taken while the server writes is a database of its own that holds every question
/// acknowledged before the backup began, with no holes in the event log; a server started on it
/// serves them (the restore the README describes).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_while_the_server_writes_holds_every_acknowledged_question() {
    let dir = tempfile::tempdir().unwrap();
    let admin_token =
        add_agent(dir.path(), &["--handle", "root", "--name", "Root", "--function", "store", "--role", "admin"]);
    let server = start_server(dir.path());
    let admin = Client::new(&server.base, &admin_token).unwrap();
    let acked: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..3 {
        let (admin, acked, stop) = (admin.clone(), acked.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                let ext = format!("b{w}-{i}");
                let out = admin.inbound(&helphive_question(&ext, "refund please")).await.unwrap();
                acked.lock().unwrap().push((ext, out.question.id));
            }
        }));
    }
    while acked.lock().unwrap().len() < 60 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before: Vec<(String, i64)> = acked.lock().unwrap().clone();
    let file = dir.path().join("backup.db");
    let mut backup = cmd(dir.path());
    backup.arg("backup").arg(&file);
    let out = tokio::task::spawn_blocking(move || backup.output().unwrap()).await.unwrap();
    assert!(out.status.success(), "backup failed: {}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(said.starts_with("backed up ") && said.contains("(checked)"), "{said}");
    let questions: usize = said.split(" questions").next().unwrap().rsplit(' ').next().unwrap().parse().unwrap();
    assert!(questions >= before.len(), "{said}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let during = acked.lock().unwrap().len();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    assert!(acked.lock().unwrap().len() > during || during > before.len(), "the server kept writing");
    assert!(!dir.path().read_dir().unwrap().any(|e| e.unwrap().file_name().to_string_lossy().contains(".partial")));

    // Restore: a server on a copy of the backup.
    let restored = dir.path().join("restored.db");
    std::fs::copy(&file, &restored).unwrap();
    let mut c = cmd(dir.path());
    c.arg("--database").arg(&restored);
    let second = start_server_with(c);
    let admin2 = Client::new(&second.base, &admin_token).unwrap();
    for (ext, id) in &before {
        let d = admin2.question(*id).await.unwrap_or_else(|e| panic!("question {ext} (#{id}) not in the backup: {e}"));
        assert_eq!(&d.question.external_id, ext);
    }
    drop(second);
    let store = helphive::store::Store::open(&helphive::store::StoreOptions {
        database: restored.display().to_string(),
        durability: helphive::config::Durability::Normal,
        events_retained: 100_000,
    })
    .await
    .unwrap();
    let events = store.events_since(0, 1_000_000).await.unwrap();
    assert!(events.len() >= before.len());
    assert!(events.windows(2).all(|w| w[1].id == w[0].id + 1), "no holes in the event log");

    // A backup never overwrites, and never invents a database.
    let e = run_err(cmd(dir.path()).arg("backup").arg(&file));
    assert!(e.contains("exists"), "{e}");
    let e = run_err(cmd(dir.path()).args(["backup", "--database"]).arg(dir.path().join("nope.db")).arg("x.db"));
    assert!(e.contains("no database at"), "{e}");
    assert!(!dir.path().join("nope.db").exists());
    drop(server);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The value of the sample `series` (name and labels, as exposed) in a scrape, if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_and_are_off_unless_configured() {
    let dir = tempfile::tempdir().unwrap();
    let admin_token =
        add_agent(dir.path(), &["--handle", "root", "--name", "Root", "--function", "store", "--role", "admin"]);
    let http = helphive::tls::client_builder().build().unwrap();
    let port = free_port();
    let scrape_url = format!("http://127.0.0.1:{port}/metrics");

    // Not enabled: nothing listens on the metrics address, and the API has no /metrics.
    let off = dir.path().join("off.toml");
    std::fs::write(&off, format!("[metrics]\nbind = \"127.0.0.1:{port}\"\n")).unwrap();
    let mut c = cmd(dir.path());
    c.arg("--config").arg(&off);
    let server = start_server_with(c);
    assert!(http.get(&scrape_url).send().await.is_err(), "no metrics listener");
    assert_eq!(http.get(format!("{}/metrics", server.base)).send().await.unwrap().status(), 404);
    drop(server);

    // Anywhere but loopback, a token is required.
    let open = dir.path().join("open.toml");
    std::fs::write(&open, "[metrics]\nenabled = true\nbind = \"0.0.0.0:0\"\n").unwrap();
    let e = run_err(cmd(dir.path()).arg("--config").arg(&open).args(["serve", "--bind", "127.0.0.1:0"]));
    assert!(e.contains("metrics.bind 0.0.0.0:0 is reachable from other machines"), "{e}");

    // A Mastodon channel whose instance refuses connections: its errors are counted.
    let on = dir.path().join("on.toml");
    std::fs::write(
        &on,
        format!(
            "[metrics]\nenabled = true\nbind = \"127.0.0.1:{port}\"\n\n[[channels]]\nkind = \"mastodon\"\n\
             base_url = \"http://127.0.0.1:{}\"\naccount = \"helpdesk\"\ntoken_env = \"HELPHIVE_TEST_MASTODON_TOKEN\"\n",
            free_port()
        ),
    )
    .unwrap();
    let mut c = cmd(dir.path());
    c.arg("--config").arg(&on).env("HELPHIVE_TEST_MASTODON_TOKEN", "t");
    let server = start_server_with(c);
    let scrape = || async { http.get(&scrape_url).send().await.unwrap().text().await.unwrap() };
    let first = scrape().await;
    assert!(first.contains("# TYPE helphive_http_requests_total counter"), "{first}");
    assert_eq!(sample(&first, r#"helphive_queue_depth{function="billing"}"#), Some(0.0), "{first}");
    assert_eq!(sample(&first, "helphive_event_streams_open"), Some(0.0), "{first}");
    assert_eq!(sample(&first, "helphive_store_up"), Some(1.0), "{first}");

    let admin = Client::new(&server.base, &admin_token).unwrap();
    let q = admin.inbound(&helphive_question("m1", "refund please")).await.unwrap().question;
    admin.question(q.id).await.unwrap();
    admin.question(q.id).await.unwrap();
    assert_eq!(admin.question(987_654).await.unwrap_err().status(), Some(404));
    assert_eq!(http.get(format!("{}/no/such/path", server.base)).send().await.unwrap().status(), 404);
    assert_eq!(http.get(format!("{}/metrics", server.base)).send().await.unwrap().status(), 404);
    let mut stream = http.get(format!("{}/api/v1/events", server.base)).bearer_auth(&admin_token).send().await.unwrap();
    assert_eq!(stream.status(), 200);

    let text = scrape().await;
    let detail = r#"helphive_http_requests_total{method="GET",route="/api/v1/questions/{id}",status="#;
    assert_eq!(sample(&text, &format!("{detail}\"200\"}}")), Some(2.0), "{text}");
    assert_eq!(sample(&text, &format!("{detail}\"404\"}}")), Some(1.0), "{text}");
    let inbound = r#"helphive_http_requests_total{method="POST",route="/api/v1/inbound",status="201"}"#;
    assert_eq!(sample(&text, inbound), Some(1.0), "{text}");
    // Unknown paths are one series, and no raw path (with its id) becomes a label.
    let unmatched = r#"helphive_http_requests_total{method="GET",route="unmatched",status="404"}"#;
    assert_eq!(sample(&text, unmatched), Some(2.0), "{text}");
    assert!(!text.contains("no/such/path") && !text.contains(&format!("/questions/{}\"", q.id)), "{text}");
    let count = r#"helphive_http_request_duration_seconds_count{method="GET",route="/api/v1/questions/{id}"}"#;
    assert_eq!(sample(&text, count), Some(3.0), "{text}");
    let inf = r#"helphive_http_request_duration_seconds_bucket{method="GET",route="/api/v1/questions/{id}",le="+Inf"}"#;
    assert_eq!(sample(&text, inf), Some(3.0), "{text}");
    assert_eq!(sample(&text, "helphive_event_streams_open"), Some(1.0), "{text}");
    let function = &q.function;
    assert_eq!(sample(&text, &format!("helphive_queue_depth{{function=\"{function}\"}}")), Some(1.0), "{text}");
    assert_eq!(sample(&text, &format!("helphive_questions_open{{function=\"{function}\"}}")), Some(1.0), "{text}");
    let refused = r#"helphive_channel_errors_total{channel="mastodon",stage="prepare"}"#;
    let mut errors = sample(&text, refused);
    for _ in 0..50 {
        if errors >= Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        errors = sample(&scrape().await, refused);
    }
    assert!(errors >= Some(1.0), "the refused connection counted: {errors:?}");
    // A question three hours old is past its deadline: breaching.
    let mut late = helphive_question("m2", "refund please");
    late.received_at = Some(helphive::clock::now_ms() - 3 * 3_600_000);
    admin.inbound(&late).await.unwrap();
    // Events still flow through the counting middleware.
    let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk()).await.unwrap().unwrap().unwrap();
    assert!(String::from_utf8_lossy(&chunk).contains("event: question.new"), "{chunk:?}");
    let text = scrape().await;
    assert_eq!(sample(&text, &format!("helphive_questions_breaching{{function=\"{function}\"}}")), Some(1.0), "{text}");
    assert_eq!(sample(&text, &format!("helphive_queue_depth{{function=\"{function}\"}}")), Some(2.0), "{text}");
    // A reply released to the outbox (no connector posts to webhooks): the backlog grows.
    assert_eq!(sample(&text, r#"helphive_outbox_backlog{channel="webhook"}"#), None, "{text}");
    admin.claim(q.id).await.unwrap();
    admin.reply(q.id, "On its way.", "m1-reply").await.unwrap();
    let text = scrape().await;
    assert_eq!(sample(&text, r#"helphive_outbox_backlog{channel="webhook"}"#), Some(1.0), "{text}");
    assert_eq!(sample(&text, r#"helphive_outbox_failed{channel="webhook"}"#), Some(0.0), "{text}");
    assert_eq!(sample(&text, &format!("helphive_queue_depth{{function=\"{function}\"}}")), Some(1.0), "{text}");
    // A stream the client closes stops counting.
    drop(stream);
    let mut open = Some(1.0);
    for _ in 0..100 {
        open = sample(&scrape().await, "helphive_event_streams_open");
        if open == Some(0.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(open, Some(0.0), "the closed stream is no longer counted");
    drop(server);

    // With a token, scrapers must send it.
    let mut c = cmd(dir.path());
    c.arg("--config").arg(&on).env("HELPHIVE_METRICS_TOKEN", "s3cret").env("HELPHIVE_TEST_MASTODON_TOKEN", "t");
    let _server = start_server_with(c);
    let r = http.get(&scrape_url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http.get(&scrape_url).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http.get(&scrape_url).bearer_auth("s3cret").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("helphive_queue_depth"));
}

#[test]
fn classify_explains_one_question() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_ok(cmd(dir.path()).args(["classify", "I was charged twice for one order, refund please"]));
    assert!(out.contains("topic       billing"), "{out}");
    assert!(out.contains("function    billing"), "{out}");
    assert!(out.contains("confidence  "), "{out}");
    assert!(out.contains("guess 1     billing"), "{out}");
    assert!(out.contains("guess 2     "), "{out}");
    assert!(out.contains("features    "), "the words that decided: {out}");
    assert!(out.contains("decided by  keyword 'refund'"), "{out}");
}

#[test]
fn classify_eval_prints_accuracy_precision_recall_and_confusion() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.jsonl");
    std::fs::write(
        &file,
        "{\"text\": \"where is my parcel, tracking hasn't moved in a week\", \"topic\": \"delivery\", \"function\": \"delivery\"}\n\
         {\"text\": \"my refund never came through\", \"function\": \"billing\"}\n",
    )
    .unwrap();
    let out = run_ok(cmd(dir.path()).args(["classify", "--eval"]).arg(&file));
    for want in ["questions            2", "accuracy", "macro accuracy", "precision", "recall", "confusion", "delivery"]
    {
        assert!(out.contains(want), "{want}: {out}");
    }
    std::fs::write(&file, "{\"text\": \"a\", \"topic\": \"billing\"}\n{\"text\": \"b\", \"topic\": \"nope\"}\n")
        .unwrap();
    let err = run_err(cmd(dir.path()).args(["classify", "--eval"]).arg(&file));
    assert!(err.contains("question 2") && err.contains("'nope' is not a configured topic"), "{err}");
    std::fs::write(&file, "{\"text\": \"a\", \"topic\": \"billing\", \"function\": \"delivery\"}\n").unwrap();
    let err = run_err(cmd(dir.path()).args(["classify", "--eval"]).arg(&file));
    assert!(err.contains("belongs to 'billing'"), "{err}");
}

#[test]
fn classify_train_stores_a_business_s_own_questions_and_they_are_learned() {
    let dir = tempfile::tempdir().unwrap();
    // A made-up product line the built-in questions never mention, labelled as delivery.
    let file = dir.path().join("own.jsonl");
    let lines: String =
        (0..25).map(|i| format!("{{\"text\": \"zorbix tracker {i} zorbix\", \"topic\": \"delivery\"}}\n")).collect();
    std::fs::write(&file, lines).unwrap();
    let before = run_ok(cmd(dir.path()).args(["classify", "zorbix zorbix"]));
    assert!(!before.contains("topic       delivery"), "{before}");
    let out = run_ok(cmd(dir.path()).args(["classify", "--train"]).arg(&file));
    assert!(out.contains("added 25 labelled questions"), "{out}");
    let again = run_ok(cmd(dir.path()).args(["classify", "--train"]).arg(&file));
    assert!(again.contains("added 0 labelled questions (25 already stored)"), "{again}");
    let after = run_ok(cmd(dir.path()).args(["classify", "zorbix zorbix"]));
    assert!(after.contains("topic       delivery"), "{after}");
}
