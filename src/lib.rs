//! helphive: a shared help desk for social customer care, in the terminal.
//!
//! Parts (see the README's architecture section): `model` (plain data), `clock` (where "now"
//! comes from), `routing` (pure rules), `lifecycle` (pure rules of a question's life), `store`
//! (SQLite persistence), `server` (HTTP API and live events), `wire` (the API's request, answer
//! and event types), `signing` (webhook signatures), `intake` (the one way in for
//! customer messages), `channels` (social network connectors and the outbox worker), `client`
//! (the async client the terminal uses), `config`, `bench` (the API against the raw store) and
//! `classify` (the topic model measured and explained). The command line is the binary's own
//! (`src/cli/`).

pub mod bench;
pub mod channels;
pub mod classify;
pub mod client;
pub mod clock;
pub mod config;
pub mod demo;
pub mod error;
pub mod intake;
pub mod lifecycle;
pub mod model;
pub mod routing;
pub mod server;
pub mod signing;
pub mod sim;
pub mod store;
pub mod text;
pub mod tls;
pub mod tui;
pub mod wire;
