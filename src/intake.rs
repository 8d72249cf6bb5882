//! One way in for customer messages, whatever brought them (a signed webhook, a connector's page
//! from a network): the spam rules and the topic are decided here, the same way for every source,
//! and the store takes the batch in one transaction. Waking the router is the caller's.

use crate::config::Config;
use crate::error::Result;
use crate::model::Millis;
use crate::routing::{self, Classification};
use crate::store::{InboundOutcome, IngestOptions, NewInbound, SpamRules, Store};

/// A message with what its source knows about it besides the message itself.
pub struct Arrival {
    pub message: NewInbound,
    /// Who may see the post on its network (a connector knows; a webhook does not say).
    pub visibility: Option<String>,
}

impl From<NewInbound> for Arrival {
    fn from(message: NewInbound) -> Arrival {
        Arrival { message, visibility: None }
    }
}

/// How a post from `handle` on `channel` is taken in: the spam rules of the configuration.
pub fn options(config: &Config, channel: &str, handle: &str, visibility: Option<String>) -> IngestOptions {
    let spam = &config.spam;
    IngestOptions {
        visibility,
        spam: Some(SpamRules {
            blocked: spam.is_blocked(channel, handle),
            flood_max: spam.flood_max_posts,
            flood_window_ms: spam.flood_window_seconds as i64 * 1000,
            duplicate_window_ms: spam.duplicate_window_minutes as i64 * 60_000,
        }),
    }
}

/// A message made ready for the store: its spam rules and its topic.
pub fn prepare(config: &Config, arrival: Arrival) -> (NewInbound, IngestOptions, Classification) {
    let m = arrival.message;
    let opts = options(config, &m.channel, &m.customer.handle, arrival.visibility);
    let class = routing::classify(config, &m.channel, &m.text);
    (m, opts, class)
}

/// Takes a batch in: every message that can be stored goes in, in one transaction; each one that
/// cannot is answered with the reason, in its place (one answer per message, in order).
pub async fn ingest(
    store: &Store,
    config: &Config,
    batch: Vec<Arrival>,
    lease_ms: i64,
    now: Millis,
) -> Result<Vec<Result<InboundOutcome>>> {
    let items = batch.into_iter().map(|a| prepare(config, a)).collect();
    store.ingest_batch(items, lease_ms, now).await
}
