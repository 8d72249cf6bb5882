//! The outbox worker: posts approved replies through their channel's connector, exactly once.
//!
//! Each attempt is marked in the store before its request goes out. An attempt whose outcome was
//! never recorded (the process was killed, the request timed out) makes the next one look on the
//! network first (`find_posted`), and the request carries the outbox row's idempotency key where
//! the network honours one. Failures that heal (429, 5xx, the network) are retried with
//! exponential backoff and jitter, never before the network's rate-limit reset; failures that
//! will not (401, 422, too long) mark the reply failed and tell the agent on the question.

use std::time::Duration;

use rand::Rng;

use super::{ChannelError, ChannelStage, Desk, Outgoing};
use crate::model::Millis;
use crate::store::{OutboxItem, PostOutcome};

/// Rows taken per pass; the next pass takes the rest.
const BATCH: u32 = 20;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainReport {
    pub posted: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// The delay before attempt `attempt + 1` after `attempt` failed (1-based): base·2^(attempt-1)
/// capped at `max`, with "equal jitter" (a random point in its upper half) so replies held up by
/// the same outage do not all retry in the same instant.
pub fn backoff(attempt: i64, base_ms: i64, max_ms: i64, rng: &mut impl Rng) -> i64 {
    let exp = attempt.clamp(1, 40) - 1;
    let full = base_ms.saturating_mul(1i64 << exp.min(30)).min(max_ms);
    let half = full / 2;
    half + rng.random_range(0..=full - half)
}

/// Posts every reply that is due, once. Tests call this with a manual clock to step through
/// retries; `run` calls it every second.
pub async fn drain_once(state: &Desk, now: Millis) -> crate::error::Result<DrainReport> {
    let mut report = DrainReport::default();
    let names = state.channels.names();
    let due = state.store.outbox_due(&names, now, BATCH).await?;
    for item in due {
        let outcome = attempt(state, &item, now).await?;
        match &outcome {
            PostOutcome::Posted { .. } => report.posted += 1,
            PostOutcome::Retry { .. } => report.retrying += 1,
            PostOutcome::Failed { .. } => report.failed += 1,
        }
        if let PostOutcome::Failed { error } | PostOutcome::Retry { error, .. } = &outcome {
            (state.count_error)(&item.channel, ChannelStage::Post);
            tracing::warn!(outbox = item.id, channel = %item.channel, %error, "reply not posted");
        }
        state.store.outbox_record(item.id, &outcome, now).await?;
    }
    Ok(report)
}

async fn attempt(state: &Desk, item: &OutboxItem, now: Millis) -> crate::error::Result<PostOutcome> {
    let Some(connector) = state.channels.get(&item.channel) else {
        return Ok(PostOutcome::Retry { at: now + 60_000, error: "no connector".into(), maybe_posted: false });
    };
    let cfg = &state.config.outbox;
    let Some(reply_to) = item.reply_to.clone() else {
        return Ok(PostOutcome::Failed {
            error: format!("the customer's message has no id on {} to reply under", item.channel),
        });
    };
    let reply = Outgoing {
        text: connector.compose(&item.body, &item.customer_handle),
        in_reply_to: reply_to,
        visibility: item.visibility.clone(),
        idempotency_key: item.idempotency_key.clone(),
        created_at: item.created_at,
    };
    // Refused here, before any request: the network would refuse it anyway, and a 422 costs a
    // request from the rate-limit budget.
    let limit = connector.limit();
    let length = connector.length(&reply.text);
    if length > limit.max {
        let extra = if reply.text != item.body { " (with the customer's @mention)" } else { "" };
        return Ok(PostOutcome::Failed {
            error: format!("too long for {}: {length} characters{extra}, at most {}", item.channel, limit.max),
        });
    }
    if item.attempts >= cfg.max_attempts as i64 {
        return Ok(PostOutcome::Failed { error: format!("gave up after {} attempts", item.attempts) });
    }
    let uncertain = item.posting_started_at.is_some();
    state.store.outbox_begin(item.id, now).await?;
    let attempt_no = item.attempts + 1;
    if uncertain {
        match connector.find_posted(&reply, now).await {
            Ok(Some(p)) => return Ok(PostOutcome::Posted { external_id: p.id, url: p.url }),
            Ok(None) => {}
            Err(e) => return Ok(retry(state, attempt_no, e, now)),
        }
    }
    Ok(match connector.post(&reply, now).await {
        Ok(p) => PostOutcome::Posted { external_id: p.id, url: p.url },
        Err(ChannelError::Permanent { message }) => PostOutcome::Failed { error: message },
        Err(e) => retry(state, attempt_no, e, now),
    })
}

fn retry(state: &Desk, attempt_no: i64, e: ChannelError, now: Millis) -> PostOutcome {
    let cfg = &state.config.outbox;
    let mut rng = rand::rng();
    let delay =
        backoff(attempt_no, cfg.base_delay_seconds as i64 * 1000, cfg.max_delay_seconds as i64 * 1000, &mut rng);
    match e {
        ChannelError::Transient { message, retry_at, maybe_sent } => {
            // The network's reset time wins; a little jitter after it spreads the queue out.
            let at = match retry_at {
                Some(t) => t.max(now) + rng.random_range(0..=1000),
                None => now + delay,
            };
            PostOutcome::Retry { at, error: message, maybe_posted: maybe_sent }
        }
        ChannelError::Permanent { message } => PostOutcome::Failed { error: message },
    }
}

/// Drains the outbox every second until aborted.
pub async fn run(state: Desk) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = drain_once(&state, state.now()).await {
            tracing::warn!(error = %e, "outbox pass failed; will retry");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let mut rng = rand::rng();
        for _ in 0..200 {
            let d1 = backoff(1, 1000, 60_000, &mut rng);
            assert!((500..=1000).contains(&d1), "{d1}");
            let d3 = backoff(3, 1000, 60_000, &mut rng);
            assert!((2000..=4000).contains(&d3), "{d3}");
            let d20 = backoff(20, 1000, 60_000, &mut rng);
            assert!((30_000..=60_000).contains(&d20), "{d20}");
        }
    }
}
