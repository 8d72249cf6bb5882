//! `helphive serve` as the admin runs it: the listener's limits against slow and greedy clients,
//! a stop on SIGTERM with terminals connected, and a refused write that leaves the database to
//! the admin commands.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::time::Duration;

use common::process::{Server, add_agent, cmd, run_ok, write_config};
use helphive::client::{Client, StreamItem};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Writes `request` on a new connection and reads until the server closes it; panics if the
/// connection is still open after `limit`.
async fn send_and_read(addr: &str, request: &str, limit: Duration) -> String {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    match tokio::time::timeout(limit, conn.read_to_end(&mut got)).await {
        Ok(_) => String::from_utf8_lossy(&got).into_owned(),
        Err(_) => panic!("the server kept the connection open; it sent {:?}", String::from_utf8_lossy(&got)),
    }
}

#[tokio::test]
async fn slow_clients_are_cut_off_by_the_header_and_body_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "[server]\nheader_timeout_seconds = 1\nbody_timeout_seconds = 1\n");
    let server = Server::start(dir.path(), "127.0.0.1:0");

    // Half a request head, then nothing (slowloris): the connection is closed.
    let answer =
        send_and_read(server.addr(), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1", Duration::from_secs(10)).await;
    assert!(!answer.contains("200 OK"), "{answer}");

    // Whole headers, then a body that stalls: 408 in the API's error shape, then closed.
    let answer = send_and_read(
        server.addr(),
        "POST /api/v1/inbound HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 400\r\n\r\n{\"chan",
        Duration::from_secs(10),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"timeout""#), "{answer}");

    // A body over every limit is refused with 413 in the same shape, before it is read.
    let answer = send_and_read(
        server.addr(),
        "POST /api/v1/inbound HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 99999999\r\n\r\n[",
        Duration::from_secs(10),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains(r#""code":"too_large""#), "{answer}");

    // A well-behaved client is served as before.
    let answer = send_and_read(
        server.addr(),
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(10),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn connections_over_the_cap_are_refused_with_503() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "[server]\nmax_connections = 2\nheader_timeout_seconds = 30\n");
    let server = Server::start(dir.path(), "127.0.0.1:0");
    let _a = TcpStream::connect(server.addr()).await.unwrap();
    let _b = TcpStream::connect(server.addr()).await.unwrap();
    let answer =
        send_and_read(server.addr(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains(r#""code":"busy""#), "{answer}");
    drop((_a, _b));
    // Once those are gone, the server takes connections again.
    let mut served = false;
    for _ in 0..50 {
        let answer = send_and_read(
            server.addr(),
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Duration::from_secs(10),
        )
        .await;
        if answer.starts_with("HTTP/1.1 200") {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "the closed connections gave their places back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_with_terminals_connected_and_they_reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let admin =
        add_agent(dir.path(), &["--handle", "root", "--name", "Root", "--function", "store", "--role", "admin"]);
    let mut server = Server::start(dir.path(), "127.0.0.1:0");
    let addr = server.addr().to_string();
    let client = Client::new(&server.base, &admin).unwrap();
    // Two terminals' event streams, open while the server is told to stop.
    let mut first = client.events(None);
    let mut second = client.events(None);
    for live in [&mut first, &mut second] {
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(10), live.recv()).await.unwrap(),
            Some(StreamItem::Connected)
        );
    }
    server.terminate();
    let status = server.wait_exit(Duration::from_secs(20)).expect("the server stops on SIGTERM with streams open");
    assert!(status.success(), "{status}");
    // Each terminal hears that the server went (and shows it offline) ...
    for live in [&mut first, &mut second] {
        match tokio::time::timeout(Duration::from_secs(10), live.recv()).await.unwrap() {
            Some(StreamItem::Disconnected(reason)) => assert!(reason.contains("shutting down"), "{reason}"),
            other => panic!("expected a disconnect, got {other:?}"),
        }
    }
    // ... and is back on its own once a server runs again at the same address.
    let _again = Server::start(dir.path(), &addr);
    for live in [&mut first, &mut second] {
        loop {
            match tokio::time::timeout(Duration::from_secs(30), live.recv()).await.unwrap() {
                Some(StreamItem::Connected) => break,
                Some(StreamItem::Disconnected(_)) => {}
                other => panic!("expected a reconnect, got {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn a_refused_request_leaves_the_database_to_the_admin_commands() {
    let dir = tempfile::tempdir().unwrap();
    let admin =
        add_agent(dir.path(), &["--handle", "root", "--name", "Root", "--function", "store", "--role", "admin"]);
    let server = Server::start(dir.path(), "127.0.0.1:0");
    let client = Client::new(&server.base, &admin).unwrap();
    // Refused: the question does not exist; then the server sits idle.
    assert_eq!(client.claim(4242).await.unwrap_err().status(), Some(404));
    assert_eq!(client.release(4242).await.unwrap_err().status(), Some(404));
    // The admin commands write to the same file while the server runs (they give up after
    // waiting ten seconds for SQLite's write lock, as they did while a refusal held it).
    let out = cmd(dir.path())
        .args(["agent", "add", "--handle", "dana", "--name", "Dana", "--function", "billing"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(run_ok(cmd(dir.path()).args(["agent", "list"])).contains("@dana"));
}

#[tokio::test]
async fn two_servers_share_a_postgres_database() {
    let Some(database) = common::postgres_database().await else { return };
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &format!("[server]\ndatabase = \"{database}\"\n"));
    let admin =
        add_agent(dir.path(), &["--handle", "root", "--name", "Root", "--function", "store", "--role", "admin"]);
    // Two servers on one database, as behind a load balancer; the migrations ran once already.
    let a = Server::start(dir.path(), "127.0.0.1:0");
    let b = Server::start(dir.path(), "127.0.0.1:0");
    let (ca, cb) = (Client::new(&a.base, &admin).unwrap(), Client::new(&b.base, &admin).unwrap());
    assert_eq!(ca.me().await.unwrap().handle, "root");
    assert_eq!(cb.me().await.unwrap().handle, "root");
    assert_eq!(cb.claim(4242).await.unwrap_err().status(), Some(404));
    // The admin commands write while both run; each server reads the other's writes.
    run_ok(cmd(dir.path()).args(["agent", "add", "--handle", "dana", "--name", "Dana", "--function", "billing"]));
    for c in [&ca, &cb] {
        assert!(c.agents().await.unwrap().iter().any(|x| x.handle == "dana"));
    }
    // The online backup is SQLite's; PostgreSQL has pg_dump.
    let out = cmd(dir.path()).args(["backup", dir.path().join("copy.db").to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"), "{}", String::from_utf8_lossy(&out.stderr));
}
