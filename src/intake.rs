//! One way in for customer messages, whatever brought them (a signed webhook, a connector's page
//! from a network): the spam rules and the topic are decided here, the same way for every source,
//! the store takes the batch in one transaction, and the router is woken when something new
//! reached the queue.
//!
//! The intake owns the topic model it classifies with, in a slot shared by all its clones: the
//! server's retraining replaces the model there, and the webhook endpoint and the connectors,
//! each holding a clone, classify with the new one from their next message on.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::Config;
use crate::error::Result;
use crate::routing::{self, Classification, ModelSlot};
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

/// The way in. Cheap to clone; clones share the model and the router's signal.
#[derive(Clone)]
pub struct Intake {
    store: Store,
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    model: ModelSlot,
    route_now: Arc<Notify>,
}

impl Intake {
    /// Classifies with the built-in model until one is put in [`Intake::model`]; wakes the router
    /// through `route_now`.
    pub fn new(store: Store, config: Arc<Config>, clock: Arc<dyn Clock>, route_now: Arc<Notify>) -> Intake {
        Intake { store, config, clock, model: ModelSlot::default(), route_now }
    }

    /// The topic model's slot: what is set here reaches every clone.
    pub fn model(&self) -> &ModelSlot {
        &self.model
    }

    /// The same intake classifying with `model`'s slot (shared with whoever else holds it).
    pub fn with_model(mut self, model: ModelSlot) -> Intake {
        self.model = model;
        self
    }

    /// The topic `text` would get, arriving on `channel`.
    pub fn classify(&self, channel: &str, text: &str) -> Classification {
        routing::classify(&self.config, &self.model, channel, text)
    }

    /// How a post from `handle` on `channel` is taken in: the spam rules of the configuration.
    fn options(&self, channel: &str, handle: &str, visibility: Option<String>) -> IngestOptions {
        let spam = &self.config.spam;
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
    fn prepare(&self, arrival: Arrival) -> (NewInbound, IngestOptions, Classification) {
        let m = arrival.message;
        let opts = self.options(&m.channel, &m.customer.handle, arrival.visibility);
        let class = self.classify(&m.channel, &m.text);
        (m, opts, class)
    }

    fn lease_ms(&self) -> i64 {
        self.config.server.lease_minutes as i64 * 60_000
    }

    /// Takes one message in; its refusal is the error.
    pub async fn ingest_one(&self, arrival: Arrival) -> Result<InboundOutcome> {
        let (m, opts, class) = self.prepare(arrival);
        let outcome = self.store.ingest(m, &opts, &class, self.lease_ms(), self.clock.now()).await?;
        if reaches_queue(&outcome) {
            self.route_now.notify_one();
        }
        Ok(outcome)
    }

    /// Takes a batch in: every message that can be stored goes in, in one transaction; each one
    /// that cannot is answered with the reason, in its place (one answer per message, in order).
    pub async fn ingest(&self, batch: Vec<Arrival>) -> Result<Vec<Result<InboundOutcome>>> {
        let items = batch.into_iter().map(|a| self.prepare(a)).collect();
        let outcomes = self.store.ingest_batch(items, self.lease_ms(), self.clock.now()).await?;
        if outcomes.iter().flatten().any(reaches_queue) {
            self.route_now.notify_one();
        }
        Ok(outcomes)
    }
}

/// A new question, or a follow-up that joins or reopens one: the router has something to do (a
/// duplicate changes nothing; a held post stays out of the queue).
fn reaches_queue(o: &InboundOutcome) -> bool {
    matches!(o.outcome.as_str(), "created" | "followup" | "reopened")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::model::Customer;
    use crate::routing::classifier::Example;

    const T0: i64 = 1_800_000_000_000;

    fn message(id: &str, text: &str) -> Arrival {
        Arrival::from(NewInbound {
            channel: "webhook".into(),
            external_id: id.into(),
            customer: Customer { handle: format!("cust-{id}"), name: "Customer".into() },
            text: text.into(),
            conversation_id: None,
            in_reply_to: None,
            received_at: None,
            priority: None,
        })
    }

    async fn intake() -> (Intake, Arc<Notify>) {
        let route_now = Arc::new(Notify::new());
        let store = Store::in_memory().await.unwrap();
        let intake = Intake::new(store, Arc::new(Config::builtin()), Arc::new(ManualClock::new(T0)), route_now.clone());
        (intake, route_now)
    }

    /// Whether the router was woken since the last look (`notify_one` keeps one wake-up).
    async fn woken(route_now: &Notify) -> bool {
        tokio::time::timeout(std::time::Duration::from_millis(20), route_now.notified()).await.is_ok()
    }

    #[tokio::test]
    async fn the_router_is_woken_when_something_new_reaches_the_queue_only() {
        let (intake, route_now) = intake().await;
        assert_eq!(intake.ingest_one(message("a", "I was charged twice")).await.unwrap().outcome, "created");
        assert!(woken(&route_now).await);
        assert_eq!(intake.ingest_one(message("a", "I was charged twice")).await.unwrap().outcome, "duplicate");
        assert!(!woken(&route_now).await, "a duplicate changes nothing");
        let outcomes = intake.ingest(vec![message("a", "again"), message("b", "where is my parcel")]).await.unwrap();
        let outcomes: Vec<_> = outcomes.into_iter().map(|o| o.unwrap().outcome).collect();
        assert_eq!(outcomes, ["duplicate", "created"]);
        assert!(woken(&route_now).await);
        assert!(intake.ingest(vec![message("b", "again")]).await.unwrap()[0].is_ok());
        assert!(!woken(&route_now).await);
    }

    #[tokio::test]
    async fn a_model_put_in_the_slot_reaches_every_clone() {
        let (intake, _) = intake().await;
        let connectors = intake.clone();
        let text = "zorbix zorbix";
        assert_ne!(connectors.classify("x", text).topic, "delivery");
        let extra: Vec<Example> =
            (0..25).map(|i| Example { text: format!("zorbix {i} zorbix"), topic: "delivery".into() }).collect();
        intake.model().set(routing::model_with(&extra));
        assert_eq!(connectors.classify("x", text).topic, "delivery");
        let stored = connectors.ingest_one(message("z", text)).await.unwrap();
        assert_eq!(stored.question.topic, "delivery");
    }
}
