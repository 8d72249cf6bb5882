//! The OpenAPI document as a fuzzer reads it: schemathesis (PyPI) generates requests from
//! /api/v1/openapi.json against a live `helphive serve` on 127.0.0.1, signed in as an admin, with
//! its default checks: no server error, only declared status codes, answers that match their
//! schemas and content types, schema-violating requests refused, valid ones accepted. scripts/test
//! installs schemathesis and sets HELPHIVE_SCHEMATHESIS to its executable.
//!
//! The server's clock stands still during the run (HELPHIVE_TEST_CLOCK_MS), so that the window
//! the document gives received_at, relative to the server's now, holds exactly for every request.
//!
//! Left out, because fuzzing them cannot be done safely: disabling an agent and issuing tokens
//! with revoke_others (either can lock out the caller, so every later request would be a 401),
//! and the event stream, which stays open (tests/api.rs tests it).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::process::{Server, add_agent, cmd};
use common::question;
use helphive::client::Client;
use helphive::clock::Clock;
use helphive::model::Role;
use helphive::store::NewAgent;

const SCHEMATHESIS_VERSION: &str = "4.32.5";
/// Test cases per operation and phase: about a minute and a half on two cores.
const MAX_EXAMPLES: &str = "100";
/// Fixed, so a run is repeatable; HELPHIVE_FUZZ_SEED picks another.
const SEED: &str = "20261202";

const EXCLUDED: &[&str] =
    &["post /api/v1/agents/{handle}/disable", "post /api/v1/agents/{handle}/tokens", "get /api/v1/events"];

fn agent(handle: &str, role: Role, novice: bool) -> NewAgent {
    NewAgent {
        handle: handle.into(),
        display_name: handle.into(),
        function: "billing".into(),
        role,
        novice,
        mentor: novice.then(|| "maya".into()),
        capacity: 5,
        skills: vec![helphive::model::Skill { topic: "billing".into(), proficiency: 3 }],
        signature: String::new(),
    }
}

/// Questions, people and a reply waiting for review, so that small ids the fuzzer draws name
/// real questions and messages and requests reach past "not found".
async fn seed(admin: &Client) -> Vec<i64> {
    let texts = ["refund please", "my parcel is late", "setup help for the router", "is the coupon valid?"];
    let mut ids = Vec::new();
    for i in 0..12 {
        let q = question(&format!("seed-{i}"), &format!("cust{i}"), texts[i % texts.len()]);
        ids.push(admin.inbound(&q).await.unwrap().question.id);
    }
    for i in 12..18 {
        admin.inbound(&question(&format!("seed-{i}"), "flooder", &format!("order {i} is late"))).await.unwrap();
    }
    admin.add_agent(&agent("maya", Role::Mentor, false)).await.unwrap();
    let (_, token) = admin.add_agent(&agent("nick", Role::Agent, true)).await.unwrap();
    let nick = admin.with_token(&token);
    nick.claim(ids[0]).await.unwrap();
    nick.reply(ids[0], "We'll refund you", "seed-1").await.unwrap();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_against_a_live_server() {
    let st = std::env::var("HELPHIVE_SCHEMATHESIS").unwrap_or_default();
    assert!(
        !st.is_empty() && std::path::Path::new(&st).exists(),
        "HELPHIVE_SCHEMATHESIS is not set to the schemathesis executable ('{st}'): run the tests with scripts/test, which installs schemathesis {SCHEMATHESIS_VERSION} and sets it"
    );
    let dir = tempfile::tempdir().unwrap();
    let token =
        add_agent(dir.path(), &["--handle", "root", "--name", "Fuzz admin", "--function", "store", "--role", "admin"]);
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let mut serve = cmd(dir.path());
    // The clock stands still: the document states received_at's window (the last year up to 10
    // minutes ahead) as numbers, which must hold from the first request to the last.
    serve.env("HELPHIVE_TEST_CLOCK_MS", helphive::clock::SystemClock.now().to_string());
    let server = Server::start_logging(serve, "127.0.0.1:0", log);
    let base = server.base.clone();
    let admin = Client::new(&base, &token).unwrap();
    let seeded = seed(&admin).await;

    let seed = std::env::var("HELPHIVE_FUZZ_SEED").unwrap_or_else(|_| SEED.into());
    let mut command = tokio::process::Command::new(&st);
    command
        .arg("run")
        .arg(format!("{base}/api/v1/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", &seed, "--request-timeout", "10"])
        .args(["--generation-database", "none", "--no-color"]);
    for op in EXCLUDED {
        command.args(["--exclude-operation-id", op]);
    }
    // Its working directory holds anything it writes.
    command.current_dir(dir.path()).kill_on_drop(true).stdin(Stdio::null());
    let run = tokio::time::timeout(Duration::from_secs(600), command.output()).await;
    let output = run.expect("schemathesis finished within 10 minutes").unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = report.lines().map(str::trim).collect();
    let cases = lines.iter().position(|l| *l == "Test cases:").and_then(|i| lines.get(i + 1)).unwrap_or(&"");
    let total = lines.iter().rev().find(|l| l.starts_with('=')).unwrap_or(&"");
    println!("schemathesis {SCHEMATHESIS_VERSION}, seed {seed}: {cases}; {total}");
    assert!(
        output.status.success(),
        "schemathesis found problems (replay with HELPHIVE_FUZZ_SEED={seed}):\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let selected = lines.iter().find_map(|l| l.strip_prefix("Selected: ")).and_then(|l| l.split_once('/'));
    let (selected, total): (usize, usize) = selected.map(|(a, b)| (a.parse().unwrap(), b.parse().unwrap())).unwrap();
    assert_eq!(selected, total - EXCLUDED.len(), "every operation but the excluded ones was fuzzed:\n{report}");

    // Whatever the fuzzer sent, nothing stored was lost, and the server never panicked.
    for id in seeded {
        admin.question(id).await.unwrap_or_else(|e| panic!("question {id} after fuzzing: {e}"));
    }
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(!log.contains("panicked") && !log.contains("internal error"), "server log:\n{log}");
    drop(server);
}
