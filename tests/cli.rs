//! The `helphive` binary as an admin uses it: help texts, the admin commands on the server's
//! database, configuration lookup, durability across `kill -9`, and a channel over HTTPS.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;

use helphive::client::Client;
use helphive::model::QuestionState;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_helphive"))
}

/// A command with its own data and config directories, so nothing touches $HOME.
fn cmd(dir: &Path) -> Command {
    let mut c = bin();
    c.env("HELPHIVE_DATA_DIR", dir.join("data"))
        .env("HELPHIVE_CONFIG_DIR", dir.join("config"))
        .env_remove("HELPHIVE_CONFIG")
        .env_remove("HELPHIVE_WEBHOOK_SECRET");
    c
}

fn run_ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{:?} failed: {}", c, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn run_err(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(!out.status.success(), "{c:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

/// The token is the last line `agent add` and `token issue` print.
fn add_agent(dir: &Path, args: &[&str]) -> String {
    let out = run_ok(cmd(dir).args(["agent", "add"]).args(args));
    out.lines().last().unwrap().trim().to_string()
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(dir: &Path) -> Server {
    start_server_with(cmd(dir))
}

/// `serve` on a free port from `c` (a `cmd` with more flags or environment).
fn start_server_with(mut c: Command) -> Server {
    let mut child = c
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("HELPHIVE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base =
        line.trim().strip_prefix("helphive listening on ").unwrap_or_else(|| panic!("unexpected: {line}")).to_string();
    Server { child, base }
}

#[test]
fn help_describes_every_command() {
    let top = run_ok(bin().arg("--help"));
    for word in ["serve", "agent", "token", "webhook-secret", "bench", "classify", "--config", "--database"] {
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
    for word in ["--eval", "--train", "--bench", "--cv"] {
        assert!(classify.contains(word), "classify --help mentions {word}");
    }
    assert!(run_ok(bin().arg("webhook-secret")).starts_with("whsec_"));
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
