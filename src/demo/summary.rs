//! What a demo run showed, in the terms a trainer would use: who asked, who answered, where
//! the follow-up went, what waits for a mentor, how the queue stands. Read back from the server
//! (threads, statistics) plus the world's own log of what it sent.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use super::world::Shared;
use crate::client::{Client, QueueQuery};
use crate::model::{MessageKind, Question, QuestionDetail, ReplyStatus};

#[derive(Debug, Clone, PartialEq)]
pub struct DemoSummary {
    pub scenario: String,
    /// "built-in default" or the scenario file's path.
    pub source: String,
    pub scenario_seconds: f64,
    pub speed: f64,
    /// New questions by the function they were routed to.
    pub received_by_function: BTreeMap<String, u32>,
    /// Replies released to customers (sent, or approved by a mentor), by author handle.
    pub replies_by_author: BTreeMap<String, u32>,
    pub followups: Vec<FollowUpReport>,
    /// Novices' replies a mentor or lead approved.
    pub approved: Vec<ReviewedReply>,
    /// Novices' replies still waiting for review.
    pub awaiting_approval: Vec<PendingReply>,
    pub rejected: u32,
    /// The demo user's handle, so the summary can say "waiting for you".
    pub user_handle: String,
    /// Questions that arrived close to their deadline, and what became of them.
    pub near_deadline: Vec<DeadlineReport>,
    /// Queue now, from the server's statistics.
    pub open: i64,
    pub unclaimed: i64,
    pub claimed: i64,
    pub awaiting_approval_questions: i64,
    pub breaching: i64,
    pub oldest_waiting_ms: Option<i64>,
    /// First response over the last hour of scenario time (the whole run, for any demo of an
    /// hour or less).
    pub first_responses: i64,
    pub first_response_median_ms: Option<i64>,
    pub first_response_p90_ms: Option<i64>,
    /// Calls of the world that failed; none in a healthy run.
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FollowUpReport {
    pub label: String,
    pub question_id: i64,
    /// `reopened` (the question was resolved), `followup` (still open), or `not sent` (the
    /// original was never answered while the demo ran).
    pub outcome: String,
    pub original_answerer: Option<String>,
    /// Who held the question right after the follow-up came in.
    pub went_to: Option<String>,
    /// Who replied to the follow-up, if anyone did yet.
    pub answered_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeadlineReport {
    pub label: String,
    pub question_id: i64,
    /// How much of its response deadline was left when it showed up.
    pub left_at_arrival_ms: i64,
    /// First response time minus the deadline: negative in time, positive late. `None` while
    /// unanswered.
    pub answered_vs_deadline_ms: Option<i64>,
    pub answered_by: Option<String>,
    /// Deadline minus now at the end of the run (negative: overdue), while unanswered.
    pub left_now_ms: Option<i64>,
}

impl DeadlineReport {
    /// Whether the deadline passed without an answer (answered late, or still unanswered past
    /// it).
    pub fn breached(&self) -> bool {
        self.answered_vs_deadline_ms.is_some_and(|d| d > 0) || self.left_now_ms.is_some_and(|l| l < 0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReviewedReply {
    pub question_id: i64,
    pub author: String,
    pub reviewer: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PendingReply {
    pub question_id: i64,
    pub author: String,
    /// The novice's mentor, who is asked to review it (a lead may too).
    pub mentor: Option<String>,
}

fn fail(what: &str) -> impl Fn(crate::client::ClientError) -> String + '_ {
    move |e| format!("demo summary: cannot read {what}: {e}")
}

async fn all_questions(admin: &Client) -> Result<Vec<Question>, String> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = admin
            .queue(&QueueQuery { include_resolved: true, limit: Some(500), cursor, ..Default::default() })
            .await
            .map_err(fail("the queue"))?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

pub(crate) async fn gather(shared: &Shared, user_handle: &str, scenario_seconds: f64) -> Result<DemoSummary, String> {
    let admin = &shared.admin;
    let stats = admin.stats().await.map_err(fail("the statistics"))?;
    let mentors: HashMap<String, Option<String>> =
        admin.agents().await.map_err(fail("the agents"))?.into_iter().map(|a| (a.handle, a.mentor)).collect();
    let mut threads: HashMap<i64, QuestionDetail> = HashMap::new();
    for q in all_questions(admin).await? {
        let d = admin.question(q.id).await.map_err(fail("a question"))?;
        threads.insert(q.id, d);
    }

    let mut replies_by_author = BTreeMap::new();
    let mut approved = Vec::new();
    let mut awaiting_approval = Vec::new();
    let mut rejected = 0;
    let mut ids: Vec<&i64> = threads.keys().collect();
    ids.sort();
    for id in ids {
        for m in threads[id].messages.iter().filter(|m| m.kind == MessageKind::Reply) {
            match m.status {
                Some(ReplyStatus::Approved | ReplyStatus::Posted) => {
                    *replies_by_author.entry(m.author.clone()).or_insert(0) += 1;
                    if let Some(r) = &m.reviewed_by {
                        approved.push(ReviewedReply {
                            question_id: *id,
                            author: m.author.clone(),
                            reviewer: r.clone(),
                        });
                    }
                }
                Some(ReplyStatus::AwaitingApproval) => awaiting_approval.push(PendingReply {
                    question_id: *id,
                    author: m.author.clone(),
                    mentor: mentors.get(&m.author).cloned().flatten(),
                }),
                Some(ReplyStatus::Rejected) => rejected += 1,
                _ => {}
            }
        }
    }

    let log = shared.log.lock().unwrap_or_else(|e| e.into_inner());
    let mut received_by_function = BTreeMap::new();
    for r in &log.received {
        *received_by_function.entry(r.function.clone()).or_insert(0) += 1;
    }
    let followups = log
        .followups
        .iter()
        .map(|f| {
            let answered_by = f.message_id.and_then(|mid| {
                threads
                    .get(&f.question_id)?
                    .messages
                    .iter()
                    .find(|m| m.kind == MessageKind::Reply && m.id > mid && m.status != Some(ReplyStatus::Rejected))
                    .map(|m| m.author.clone())
            });
            FollowUpReport {
                label: f.label.clone(),
                question_id: f.question_id,
                outcome: f.outcome.clone(),
                original_answerer: f.original_answerer.clone(),
                went_to: f.went_to.clone(),
                answered_by,
            }
        })
        .collect();
    let near_deadline = log
        .late_starts
        .iter()
        .filter_map(|l| {
            let q = &threads.get(&l.question_id)?.question;
            let answered_vs_deadline_ms = q.first_response_at.map(|t| t - q.sla_due_at);
            Some(DeadlineReport {
                label: l.label.clone(),
                question_id: l.question_id,
                left_at_arrival_ms: q.sla_due_at - l.posted_at,
                answered_vs_deadline_ms,
                answered_by: q.answered_by.clone(),
                left_now_ms: answered_vs_deadline_ms.is_none().then_some(q.sla_due_at - stats.at),
            })
        })
        .collect();
    let mut errors = log.errors.clone();
    if log.errors_dropped > 0 {
        errors.push(format!("… and {} more", log.errors_dropped));
    }
    drop(log);

    Ok(DemoSummary {
        scenario: shared.scenario.scenario.name.clone(),
        source: shared.scenario.origin.clone(),
        scenario_seconds,
        speed: shared.clock.speed(),
        received_by_function,
        replies_by_author,
        followups,
        approved,
        awaiting_approval,
        rejected,
        user_handle: user_handle.to_string(),
        near_deadline,
        open: stats.open,
        unclaimed: stats.unclaimed,
        claimed: stats.claimed,
        awaiting_approval_questions: stats.awaiting_approval,
        breaching: stats.breaching,
        oldest_waiting_ms: stats.oldest_waiting_ms,
        first_responses: stats.first_response_last_hour.count,
        first_response_median_ms: stats.first_response_last_hour.median_ms,
        first_response_p90_ms: stats.first_response_last_hour.p90_ms,
        errors,
    })
}

/// "45 s", "2 min 5 s", "1 h 3 min".
pub(crate) fn span(ms: i64) -> String {
    let s = (ms.max(0) + 500) / 1000;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 if s % 60 == 0 => format!("{} min", s / 60),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

fn handle(h: &Option<String>) -> String {
    h.as_deref().map(|h| format!("@{h}")).unwrap_or_else(|| "nobody".into())
}

fn plural(n: impl Into<i64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Demo summary: \"{}\" ({})", self.scenario, self.source)?;
        writeln!(
            f,
            "Ran {} of scenario time at {}x speed ({:.1} s real time).",
            span((self.scenario_seconds * 1000.0) as i64),
            self.speed,
            self.scenario_seconds / self.speed
        )?;

        let total: u32 = self.received_by_function.values().sum();
        writeln!(f)?;
        let sent = self.followups.iter().filter(|f| f.outcome != "not sent").count() as i64;
        writeln!(f, "Questions received: {total} new, {}", plural(sent, "follow-up", "follow-ups"))?;
        let width = self.received_by_function.keys().map(|k| k.len()).max().unwrap_or(0);
        for (function, n) in &self.received_by_function {
            writeln!(f, "  {function:<width$}  {n}")?;
        }

        let replies: u32 = self.replies_by_author.values().sum();
        writeln!(f)?;
        writeln!(f, "Replies released to customers: {replies}")?;
        let width = self.replies_by_author.keys().map(|k| k.len() + 1).max().unwrap_or(0);
        for (author, n) in &self.replies_by_author {
            writeln!(f, "  {:<width$}  {n}", format!("@{author}"))?;
        }

        writeln!(f)?;
        if self.followups.is_empty() {
            writeln!(f, "Follow-ups: none")?;
        } else {
            writeln!(f, "Follow-ups:")?;
        }
        for fu in &self.followups {
            if fu.outcome == "not sent" {
                writeln!(f, "  {}: not sent, the original question was never answered", fu.label)?;
                continue;
            }
            let back = match (&fu.went_to, &fu.original_answerer) {
                (Some(to), Some(orig)) if to == orig => {
                    format!("went back to @{to}, who answered the original")
                }
                (Some(to), orig) => format!("went to @{to} (the original was answered by {})", handle(orig)),
                (None, orig) => format!("went to the shared queue (the original was answered by {})", handle(orig)),
            };
            let again = match &fu.answered_by {
                Some(a) => format!("; answered by @{a}"),
                None => "; not answered yet".into(),
            };
            writeln!(f, "  {} on #{}: {back}{again}", fu.label, fu.question_id)?;
        }

        writeln!(f)?;
        writeln!(f, "Novices' replies:")?;
        writeln!(f, "  approved: {}", self.approved.len())?;
        for r in &self.approved {
            writeln!(f, "    @{}'s reply on #{}, approved by @{}", r.author, r.question_id, r.reviewer)?;
        }
        writeln!(f, "  awaiting approval: {}", self.awaiting_approval.len())?;
        for p in &self.awaiting_approval {
            let by = match &p.mentor {
                Some(m) if *m == self.user_handle => "waiting for you to review it".to_string(),
                Some(m) => format!("waiting for @{m}"),
                None => "waiting for a lead".to_string(),
            };
            writeln!(f, "    @{}'s reply on #{}, {by}", p.author, p.question_id)?;
        }
        if self.rejected > 0 {
            writeln!(f, "  rejected: {}", self.rejected)?;
        }

        if !self.near_deadline.is_empty() {
            writeln!(f)?;
            writeln!(f, "Close to the deadline from the start:")?;
        }
        for d in &self.near_deadline {
            let fate = match (d.answered_vs_deadline_ms, &d.answered_by, d.left_now_ms) {
                (Some(late), by, _) if late > 0 => {
                    format!("breached, answered {} late by {}", span(late), handle(by))
                }
                (Some(early), by, _) => {
                    format!("answered in time by {}, {} before the deadline", handle(by), span(-early))
                }
                (None, _, Some(left)) if left < 0 => {
                    format!("breached: still unanswered, {} past the deadline", span(-left))
                }
                (None, _, left) => format!("still unanswered, {} left", span(left.unwrap_or(0))),
            };
            writeln!(
                f,
                "  {} (#{}): arrived with {} left; {fate}",
                d.label,
                d.question_id,
                span(d.left_at_arrival_ms)
            )?;
        }

        writeln!(f)?;
        writeln!(
            f,
            "Queue now: {} open ({} unclaimed, {} claimed, {} awaiting approval), {} breaching the response deadline",
            self.open, self.unclaimed, self.claimed, self.awaiting_approval_questions, self.breaching
        )?;
        if let Some(w) = self.oldest_waiting_ms {
            writeln!(f, "  longest a customer is waiting now: {}", span(w))?;
        }
        match (self.first_response_median_ms, self.first_response_p90_ms) {
            (Some(m), Some(p)) => writeln!(
                f,
                "First response: median {}, p90 {}, over {}",
                span(m),
                span(p),
                plural(self.first_responses, "question", "questions")
            )?,
            _ => writeln!(f, "First response: no question answered yet")?,
        }

        if self.errors.is_empty() {
            writeln!(f, "World errors: none")?;
        } else {
            writeln!(f, "World errors: {}", self.errors.len())?;
            for e in &self.errors {
                writeln!(f, "  {e}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_like_a_person_would_say_them() {
        assert_eq!(span(44_600), "45 s");
        assert_eq!(span(125_000), "2 min 5 s");
        assert_eq!(span(120_000), "2 min");
        assert_eq!(span(3_780_000), "1 h 3 min");
        assert_eq!(span(-5), "0 s");
    }
}
