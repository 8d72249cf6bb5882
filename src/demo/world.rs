//! The simulated hive around the demo user: customer messages arriving on the scenario's
//! timeline, colleagues working the queue, mentors reviewing their novices' replies. Everything
//! goes through the real HTTP API with the real client, each colleague with their own token, so
//! the demo exercises exactly what a real team would; the world never acts as the user.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::scenario::{Arrival, ColleagueSpec, Scenario};
use crate::client::{Client, ClientError, QueueQuery};
use crate::clock::Clock;
use crate::model::{MessageKind, Millis, Question, QuestionState};
use crate::store::{InboundOutcome, NewInbound};

/// How often (scenario seconds) an idle colleague looks at the queue again, a mentor at their
/// approvals, a customer at whether they got an answer. About what a person at a desk does.
const POLL_SECONDS: f64 = 3.0;

/// Below this, polling at a high speed would only load the machine without making the world
/// any livelier.
const MIN_POLL: Duration = Duration::from_millis(50);

/// A customer whose question was answered but not closed writes back after this long anyway
/// (the user, unlike colleagues, may answer without resolving).
const FOLLOWUP_PATIENCE_MS: Millis = 60_000;

/// Errors kept for the summary; past this only a count, so a world stuck on a broken server
/// cannot grow without end.
const MAX_ERRORS: usize = 50;

/// Scenario time: the wall clock when the demo starts, then running `speed` times as fast. The
/// server reads it too, so SLA deadlines, leases and response times all pass in scenario time
/// and a question waiting "58 minutes" breaches after two scenario minutes at any speed.
#[derive(Debug, Clone)]
pub(crate) struct ScenarioClock {
    started: Instant,
    origin: Millis,
    speed: f64,
}

impl ScenarioClock {
    pub fn new(speed: f64) -> Self {
        ScenarioClock { started: Instant::now(), origin: crate::clock::now_ms(), speed }
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Scenario seconds since the start.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * self.speed
    }

    pub fn now_ms(&self) -> Millis {
        self.origin + (self.elapsed() * 1000.0) as Millis
    }

    /// Real time for `secs` of scenario time.
    pub fn real(&self, secs: f64) -> Duration {
        // Inputs are checked (finite, bounded) where they come in, so this never saturates in
        // practice; it must not panic either way.
        Duration::try_from_secs_f64((secs / self.speed).max(0.0)).unwrap_or(Duration::MAX)
    }

    /// The moment `secs` of scenario time after the start.
    pub fn instant_at(&self, secs: f64) -> tokio::time::Instant {
        let at = self.started.checked_add(self.real(secs)).unwrap_or(self.started);
        tokio::time::Instant::from_std(at)
    }

    fn poll(&self) -> Duration {
        self.real(POLL_SECONDS).max(MIN_POLL)
    }
}

impl Clock for ScenarioClock {
    fn now(&self) -> Millis {
        self.now_ms()
    }
}

/// What the world did, for the summary.
#[derive(Debug, Default)]
pub(crate) struct WorldLog {
    pub received: Vec<Received>,
    pub late_starts: Vec<LateStart>,
    pub followups: Vec<FollowUpRecord>,
    pub errors: Vec<String>,
    pub errors_dropped: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub function: String,
}

/// A question that arrived already close to its deadline (`waiting_minutes`).
#[derive(Debug, Clone)]
pub(crate) struct LateStart {
    pub label: String,
    pub question_id: i64,
    /// Server time when it was posted.
    pub posted_at: Millis,
}

#[derive(Debug, Clone)]
pub(crate) struct FollowUpRecord {
    pub label: String,
    pub question_id: i64,
    /// The follow-up message, to find the reply that came after it; `None` when never sent.
    pub message_id: Option<i64>,
    /// `reopened`, `followup`, or `not sent` when the original was never answered in time.
    pub outcome: String,
    pub original_answerer: Option<String>,
    /// Who held the question right after the follow-up came in.
    pub went_to: Option<String>,
}

/// What every task of the world shares.
pub(crate) struct Shared {
    pub clock: ScenarioClock,
    pub scenario: Arc<Scenario>,
    /// Signed in as the demo's administrator: posts customer messages, reads for the summary.
    pub admin: Client,
    /// Makes this run's external ids and idempotency keys its own.
    pub tag: String,
    pub log: Mutex<WorldLog>,
}

impl Shared {
    fn log(&self) -> std::sync::MutexGuard<'_, WorldLog> {
        // A task that panicked while holding the lock left a log that is still worth reading.
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn error(&self, who: &str, what: &str, e: &ClientError) {
        let line = format!("at {:.0} s, {who}: {what}: {e}", self.clock.elapsed());
        tracing::warn!("demo world: {line}");
        let mut log = self.log();
        if log.errors.len() < MAX_ERRORS {
            log.errors.push(line);
        } else {
            log.errors_dropped += 1;
        }
    }

    fn external_id(&self, key: &str) -> String {
        format!("demo-{}-{key}", self.tag)
    }
}

/// Waits `d` of real time. False when the world is stopping (then at once).
async fn pause(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    pause_until(stop, tokio::time::Instant::now() + d).await
}

async fn pause_until(stop: &mut watch::Receiver<bool>, at: tokio::time::Instant) -> bool {
    if *stop.borrow() {
        return false;
    }
    let stopped = tokio::select! {
        _ = tokio::time::sleep_until(at) => false,
        // An error means the sender is gone: the world is being dropped.
        _ = stop.wait_for(|s| *s) => true,
    };
    !stopped && !*stop.borrow()
}

/// Posts the scenario's customer messages at their times. A follow-up waits, in a task of its
/// own, until its original has been answered: customers write back to an answer, and only then
/// does the follow-up have someone to go back to.
pub(crate) async fn arrivals(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut sent: HashMap<String, (i64, String)> = HashMap::new();
    let mut waiting = JoinSet::new();
    for a in shared.scenario.timeline() {
        if !pause_until(&mut stop, shared.clock.instant_at(a.at)).await {
            break;
        }
        match a.in_reply_to.clone() {
            None => {
                if let Some(outcome) = post(&shared, &a, None).await {
                    sent.insert(a.key.clone(), (outcome.question.id, shared.external_id(&a.key)));
                }
            }
            Some(parent) => match sent.get(&parent) {
                Some((qid, parent_external)) => {
                    waiting.spawn(follow_up(shared.clone(), a, *qid, parent_external.clone(), stop.clone()));
                }
                None => {
                    // The original failed to post; that error is already in the log.
                    shared.log().followups.push(FollowUpRecord {
                        label: a.label.clone(),
                        question_id: 0,
                        message_id: None,
                        outcome: "not sent".into(),
                        original_answerer: None,
                        went_to: None,
                    });
                }
            },
        }
    }
    while waiting.join_next().await.is_some() {}
}

async fn post(shared: &Shared, a: &Arrival, in_reply_to: Option<String>) -> Option<InboundOutcome> {
    let msg = NewInbound {
        channel: a.channel.clone(),
        external_id: shared.external_id(&a.key),
        customer: a.customer.clone(),
        text: a.text.clone(),
        conversation_id: None,
        in_reply_to,
        received_at: a.waiting_minutes.map(|w| shared.clock.now_ms() - (w * 60_000.0) as Millis),
        priority: a.priority,
    };
    match shared.admin.inbound(&msg).await {
        Ok(o) => {
            if o.outcome == "created" {
                let mut log = shared.log();
                log.received.push(Received { function: o.question.function.clone() });
                if a.waiting_minutes.is_some() {
                    log.late_starts.push(LateStart {
                        label: a.label.clone(),
                        question_id: o.question.id,
                        posted_at: shared.clock.now_ms(),
                    });
                }
            }
            Some(o)
        }
        Err(e) => {
            shared.error(&format!("customer @{}", a.customer.handle), &format!("posting '{}'", a.label), &e);
            None
        }
    }
}

async fn follow_up(
    shared: Arc<Shared>,
    a: Arrival,
    qid: i64,
    parent_external: String,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        match shared.admin.question(qid).await {
            Ok(d) if ready_for_follow_up(&d.question, shared.clock.now_ms()) => break,
            Ok(_) => {}
            Err(e) => shared.error(&format!("customer @{}", a.customer.handle), "checking for an answer", &e),
        }
        if !pause(&mut stop, shared.clock.poll()).await {
            shared.log().followups.push(FollowUpRecord {
                label: a.label.clone(),
                question_id: qid,
                message_id: None,
                outcome: "not sent".into(),
                original_answerer: None,
                went_to: None,
            });
            return;
        }
    }
    if let Some(o) = post(&shared, &a, Some(parent_external)).await {
        shared.log().followups.push(FollowUpRecord {
            label: a.label.clone(),
            question_id: o.question.id,
            message_id: Some(o.message_id),
            outcome: o.outcome.clone(),
            original_answerer: o.question.answered_by.clone(),
            went_to: o.question.holder.clone(),
        });
    }
}

/// The customer has their answer, and the one who answered has closed the question (or had a
/// minute to do so).
fn ready_for_follow_up(q: &Question, now: Millis) -> bool {
    let answered = q.answered_by.is_some() && q.awaiting_since.is_none();
    let settled =
        q.state == QuestionState::Resolved || q.first_response_at.is_some_and(|t| now - t >= FOLLOWUP_PATIENCE_MS);
    answered && settled
}

/// A simulated colleague: their scenario entry and a client with their own token.
pub(crate) struct Colleague {
    pub spec: ColleagueSpec,
    pub client: Client,
    /// Novices whose replies this colleague reviews.
    pub mentees: Vec<String>,
}

/// A colleague's working loop: first what they hold (close what is answered, answer what a
/// customer waits on, follow-ups that came back to them included), then the next question
/// from the queue while they have room, else a pause. They take work by pulling (`next()`),
/// which prefers what the router offered them, so offers need no event stream here.
pub(crate) async fn work(shared: Arc<Shared>, me: Arc<Colleague>, mut stop: watch::Receiver<bool>) {
    let mut answered = 0usize;
    loop {
        if *stop.borrow() {
            return;
        }
        let busy = match step(&shared, &me, &mut stop, &mut answered).await {
            Ok(busy) => busy,
            Err((what, e)) => {
                shared.error(&format!("@{}", me.spec.handle), &what, &e);
                false
            }
        };
        if !busy && !pause(&mut stop, shared.clock.poll()).await {
            return;
        }
    }
}

type StepError = (String, ClientError);

async fn step(
    shared: &Shared,
    me: &Colleague,
    stop: &mut watch::Receiver<bool>,
    answered: &mut usize,
) -> Result<bool, StepError> {
    let c = &me.client;
    let mine = c
        .queue(&QueueQuery { mine: true, limit: Some(100), ..Default::default() })
        .await
        .map_err(|e| ("reading my questions".to_string(), e))?
        .items;
    if let Some(q) = mine.iter().find(|q| q.state == QuestionState::Claimed && q.awaiting_since.is_none()) {
        c.resolve(q.id).await.map_err(|e| (format!("resolving #{}", q.id), e))?;
        return Ok(true);
    }
    if let Some(q) = mine.iter().find(|q| q.state == QuestionState::Claimed) {
        // Held already (a follow-up came back, or a rejected reply): renew first, since the
        // lease has been running while they were busy with something else.
        c.renew(q.id).await.map_err(|e| (format!("renewing #{}", q.id), e))?;
        answer(shared, me, q.id, stop, answered).await?;
        return Ok(true);
    }
    if (mine.len() as u32) < me.spec.capacity {
        let next = c.next().await.map_err(|e| ("taking the next question".to_string(), e))?;
        if let Some(q) = next {
            answer(shared, me, q.id, stop, answered).await?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// Takes `answer_seconds` to think, then replies to the thread as it is by then.
async fn answer(
    shared: &Shared,
    me: &Colleague,
    qid: i64,
    stop: &mut watch::Receiver<bool>,
    answered: &mut usize,
) -> Result<(), StepError> {
    if !pause(stop, shared.clock.real(me.spec.answer_seconds)).await {
        // The demo is ending; the question simply stays claimed.
        return Ok(());
    }
    let c = &me.client;
    let d = c.question(qid).await.map_err(|e| (format!("reading #{qid}"), e))?;
    let q = &d.question;
    if q.holder.as_deref() != Some(me.spec.handle.as_str()) || q.state != QuestionState::Claimed {
        // Someone took it over meanwhile (a lead, an expired lease): nothing to send.
        return Ok(());
    }
    let asked = d
        .messages
        .iter()
        .rev()
        .find(|m| m.kind == MessageKind::Inbound)
        .map(|m| m.body.as_str())
        .unwrap_or(q.text.as_str());
    let body = shared.scenario.reply_text(&q.topic, q.inbound_count > 1, asked, &q.customer.name, *answered);
    *answered += 1;
    let key = format!("demo-{}-{}-{}", shared.tag, me.spec.handle, answered);
    c.reply(qid, &body, &key).await.map_err(|e| (format!("replying to #{qid}"), e))?;
    Ok(())
}

/// A mentor approving their novices' replies once each has waited `review_seconds`.
pub(crate) async fn review(shared: Arc<Shared>, me: Arc<Colleague>, mut stop: watch::Receiver<bool>) {
    let wait_ms = (me.spec.review_seconds * 1000.0) as Millis;
    let who = format!("@{}", me.spec.handle);
    while pause(&mut stop, shared.clock.poll()).await {
        let items = match me.client.approvals().await {
            Ok(items) => items,
            Err(e) => {
                shared.error(&who, "reading approvals", &e);
                continue;
            }
        };
        for (m, _) in items {
            // Only their own mentees': a lead colleague must not take a review meant for the user.
            if !me.mentees.contains(&m.author) || shared.clock.now_ms() - m.created_at < wait_ms {
                continue;
            }
            if let Err(e) = me.client.approve(m.id, None).await {
                // Reviewed by someone else (a lead) in the meantime: nothing left to do.
                if e.code() != Some("not_pending") {
                    shared.error(&who, &format!("approving message {}", m.id), &e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_time_runs_at_speed() {
        let c = ScenarioClock::new(30.0);
        assert_eq!(c.real(60.0), Duration::from_secs(2));
        assert!(c.now_ms() >= c.origin);
        assert_eq!(c.real(f64::NAN), Duration::ZERO);
        assert!(c.poll() >= MIN_POLL);
    }
}
