//! Reading questions: one with its thread, and the shared queue page by page.

use super::db::{Conn, Kind, Value, query};
use super::questions::{MESSAGE_SELECT, QUESTION_SELECT, message_from_row, must_load, question_from_row};
use super::{QueuePage, Store};
use crate::error::{Error, Result};
use crate::model::{QuestionDetail, QuestionState};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct QueueFilter {
    pub state: Option<QuestionState>,
    pub function: Option<String>,
    pub topic: Option<String>,
    /// Only questions held by this agent id.
    pub holder_id: Option<i64>,
    /// Only questions nobody holds (state open).
    pub unclaimed: bool,
    /// Include resolved questions when no state is given.
    pub include_resolved: bool,
    pub cursor: Option<String>,
    pub limit: u32,
}

impl Store {
    pub async fn question(&self, qid: i64) -> Result<QuestionDetail> {
        let mut conn = self.read().await?;
        let question = must_load(conn.conn(), qid).await?;
        let sql = format!("{MESSAGE_SELECT} WHERE m.question_id = ? ORDER BY m.id");
        let messages = query(sqlx::AssertSqlSafe(sql))
            .bind(qid)
            .fetch_all(conn.conn())
            .await?
            .iter()
            .map(message_from_row)
            .collect::<Result<Vec<_>>>()?;
        let sql = format!(
            "{QUESTION_SELECT} WHERE q.channel = ? AND q.customer_handle = ? AND q.id != ? ORDER BY q.received_at DESC LIMIT 20"
        );
        let earlier = query(sqlx::AssertSqlSafe(sql))
            .bind(question.channel.clone())
            .bind(question.customer.handle.clone())
            .bind(qid)
            .fetch_all(conn.conn())
            .await?
            .iter()
            .map(question_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(QuestionDetail { question, messages, earlier })
    }

    /// The shared queue, most urgent first (earliest SLA deadline), one page at a time.
    pub async fn queue(&self, filter: &QueueFilter) -> Result<QueuePage> {
        let limit = filter.limit.clamp(1, 500);
        let mut conditions: Vec<&str> = Vec::new();
        let mut binds: Vec<Value> = Vec::new();
        match filter.state {
            Some(s) => {
                conditions.push("q.state = ?");
                binds.push(Value::Text(Some(s.as_str().to_string())));
            }
            None if !filter.include_resolved => conditions.push("q.state NOT IN ('resolved', 'held')"),
            None => conditions.push("q.state != 'held'"),
        }
        if filter.unclaimed {
            conditions.push("q.state = 'open'");
        }
        if let Some(f) = &filter.function {
            conditions.push("q.function = ?");
            binds.push(Value::Text(Some(f.clone())));
        }
        if let Some(t) = &filter.topic {
            conditions.push("q.topic = ?");
            binds.push(Value::Text(Some(t.clone())));
        }
        if let Some(h) = filter.holder_id {
            conditions.push("q.holder_id = ?");
            binds.push(Value::Int(Some(h)));
        }
        let mut conn = self.read().await?;
        // Read before the questions: every event up to here is committed with its change, so
        // the page reflects at least this much (a later change may show too; replaying its event
        // is harmless, the newer copy of a question wins).
        let as_of = last_event_id(conn.conn()).await?;
        let where_all = if conditions.is_empty() { "TRUE".to_string() } else { conditions.join(" AND ") };
        let count_sql = format!("SELECT COUNT(*) AS n FROM questions q WHERE {where_all}");
        let mut count = query(sqlx::AssertSqlSafe(count_sql));
        for b in &binds {
            count = count.bind(b.clone());
        }
        let total: i64 = count.fetch_one(conn.conn()).await?.try_get("n")?;

        let mut page_conditions = where_all;
        let mut page_binds = binds;
        if let Some(c) = &filter.cursor {
            let (due, id) = parse_cursor(c)?;
            page_conditions.push_str(" AND (q.sla_due_at > ? OR (q.sla_due_at = ? AND q.id > ?))");
            page_binds.extend([Value::Int(Some(due)), Value::Int(Some(due)), Value::Int(Some(id))]);
        }
        let sql = format!("{QUESTION_SELECT} WHERE {page_conditions} ORDER BY q.sla_due_at, q.id LIMIT ?");
        let mut q = query(sqlx::AssertSqlSafe(sql));
        for b in page_binds {
            q = q.bind(b);
        }
        let rows = q.bind(limit as i64 + 1).fetch_all(conn.conn()).await?;
        let mut items = rows.iter().map(question_from_row).collect::<Result<Vec<_>>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|q| format!("{}.{}", q.sla_due_at, q.id))
        } else {
            None
        };
        Ok(QueuePage { items, next_cursor, total, as_of: Some(as_of) })
    }
}

/// The id of the newest event written, also when every event has been pruned since.
pub(super) async fn last_event_id(conn: Conn<'_>) -> Result<i64> {
    let sql = match conn.kind() {
        // The sequence remembers the last id handed out after the rows are gone.
        Kind::Sqlite => {
            "SELECT MAX(COALESCE((SELECT MAX(id) FROM events), 0), \
             COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0))"
        }
        // Not the sequence: it runs ahead of what is committed (an id taken by a transaction in
        // progress), and pruning always keeps the newest events, so the table has the answer.
        Kind::Postgres => "SELECT COALESCE(MAX(id), 0) FROM events",
    };
    Ok(query(sql).scalar_one(conn).await?)
}

fn parse_cursor(c: &str) -> Result<(i64, i64)> {
    let bad = || Error::invalid(format!("cursor '{c}' is not one this server gave out"));
    let (a, b) = c.split_once('.').ok_or_else(bad)?;
    Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
}
