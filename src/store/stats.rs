//! Queue statistics for shift leads. The definitions are in the README ("Statistics"); keep the
//! two in step.

use std::collections::BTreeMap;

use super::Store;
use super::db::query;
use crate::error::Result;
use crate::model::Millis;

const HOUR: Millis = 3_600_000;
const DAY: Millis = 24 * HOUR;

// The types live in `model`, so the terminal and the client read them without the store.
pub use crate::model::{AgentStats, FunctionStats, Percentiles, Stats};

const BUCKET: Millis = 5 * 60_000;
const BUCKETS: usize = 24;

/// Counts times into 5-minute buckets ending at `now`, oldest first.
fn buckets(times: &[Millis], now: Millis) -> Vec<i64> {
    let mut out = vec![0; BUCKETS];
    for t in times {
        let age = now.saturating_sub(*t);
        if (0..BUCKETS as i64 * BUCKET).contains(&age) {
            out[BUCKETS - 1 - (age / BUCKET) as usize] += 1;
        }
    }
    out
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn percentiles(mut v: Vec<i64>) -> Percentiles {
    v.sort_unstable();
    Percentiles { count: v.len() as i64, median_ms: percentile(&v, 50.0), p90_ms: percentile(&v, 90.0) }
}

impl Store {
    /// The numbers on the shift lead's dashboard. `functions` lists every configured function, so
    /// a function with nothing going on still shows up with zeros.
    pub async fn stats(&self, functions: &[String], now: Millis) -> Result<Stats> {
        let day_start = now - now.rem_euclid(DAY);
        let hour_ago = now - HOUR;
        let mut conn = self.read().await?;
        let mut by_function: BTreeMap<String, FunctionStats> = functions
            .iter()
            .map(|f| (f.clone(), FunctionStats { function: f.clone(), ..Default::default() }))
            .collect();

        let rows = query(
            "SELECT function, state, COUNT(*) AS n, \
             SUM(CASE WHEN awaiting_since IS NOT NULL AND sla_due_at < ? THEN 1 ELSE 0 END) AS breaching, \
             MIN(awaiting_since) AS oldest \
             FROM questions WHERE state NOT IN ('resolved', 'held') GROUP BY function, state",
        )
        .bind(now)
        .fetch_all(conn.conn())
        .await?;
        for r in &rows {
            let function: String = r.try_get("function")?;
            let state: String = r.try_get("state")?;
            let n: i64 = r.try_get("n")?;
            let breaching: i64 = r.try_get("breaching")?;
            let oldest: Option<i64> = r.try_get("oldest")?;
            let f =
                by_function.entry(function.clone()).or_insert_with(|| FunctionStats { function, ..Default::default() });
            f.open += n;
            f.breaching += breaching;
            match state.as_str() {
                "open" => f.unclaimed += n,
                "claimed" => f.claimed += n,
                "awaiting_approval" => f.awaiting_approval += n,
                _ => {}
            }
            if let Some(o) = oldest {
                let wait = now.saturating_sub(o).max(0);
                f.oldest_waiting_ms = Some(f.oldest_waiting_ms.map_or(wait, |w| w.max(wait)));
            }
        }

        let rows =
            query("SELECT function, status, COUNT(*) AS n FROM agents WHERE NOT disabled GROUP BY function, status")
                .fetch_all(conn.conn())
                .await?;
        for r in &rows {
            let function: String = r.try_get("function")?;
            let status: String = r.try_get("status")?;
            let n: i64 = r.try_get("n")?;
            let f =
                by_function.entry(function.clone()).or_insert_with(|| FunctionStats { function, ..Default::default() });
            match status.as_str() {
                "online" => f.agents_online += n,
                "away" => f.agents_away += n,
                _ => {}
            }
        }

        let firsts: Vec<(i64, i64)> = query(
            "SELECT first_response_at AS t, first_response_at - received_at AS d FROM questions \
             WHERE first_response_at >= ?",
        )
        .bind(day_start.min(hour_ago))
        .fetch_all(conn.conn())
        .await?
        .iter()
        .map(|r| Ok((r.try_get("t")?, r.try_get("d")?)))
        .collect::<Result<_>>()?;
        let today: Vec<i64> = firsts.iter().filter(|(t, _)| *t >= day_start).map(|(_, d)| *d).collect();
        let last_hour: Vec<i64> = firsts.iter().filter(|(t, _)| *t >= hour_ago).map(|(_, d)| *d).collect();

        let sla = query(
            "SELECT \
             SUM(CASE WHEN first_response_at IS NOT NULL AND first_response_at <= sla_due_at THEN 1 ELSE 0 END) AS met, \
             SUM(CASE WHEN (first_response_at IS NOT NULL AND first_response_at > sla_due_at) \
                        OR (first_response_at IS NULL AND sla_due_at < ?) THEN 1 ELSE 0 END) AS missed \
             FROM questions WHERE received_at >= ?",
        )
        .bind(now)
        .bind(day_start)
        .fetch_one(conn.conn())
        .await?;
        let met: i64 = sla.try_get::<Option<i64>>("met")?.unwrap_or(0);
        let missed: i64 = sla.try_get::<Option<i64>>("missed")?.unwrap_or(0);

        let answered = query(
            "SELECT SUM(CASE WHEN released_at >= ? THEN 1 ELSE 0 END) AS hour, \
             SUM(CASE WHEN released_at >= ? THEN 1 ELSE 0 END) AS today \
             FROM messages WHERE kind = 'reply' AND released_at >= ?",
        )
        .bind(hour_ago)
        .bind(day_start)
        .bind(day_start.min(hour_ago))
        .fetch_one(conn.conn())
        .await?;

        let agent_rows = query(
            "SELECT a.handle, a.display_name, a.function, a.status, a.capacity, \
             (SELECT COUNT(*) FROM questions q WHERE q.holder_id = a.id AND q.state IN ('claimed', 'awaiting_approval')) AS holding, \
             (SELECT COUNT(*) FROM messages m WHERE m.agent_id = a.id AND m.kind = 'reply' AND m.released_at >= ?) AS answered \
             FROM agents a WHERE NOT a.disabled ORDER BY a.function, a.handle",
        )
        .bind(day_start)
        .fetch_all(conn.conn())
        .await?;
        let agents = agent_rows
            .iter()
            .map(|r| {
                let holding: i64 = r.try_get("holding")?;
                let capacity: i64 = r.try_get("capacity")?;
                Ok(AgentStats {
                    handle: r.try_get("handle")?,
                    display_name: r.try_get("display_name")?,
                    function: r.try_get("function")?,
                    status: r.try_get("status")?,
                    holding,
                    capacity,
                    occupancy: if capacity > 0 { holding as f64 / capacity as f64 } else { 0.0 },
                    answered_today: r.try_get("answered")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;

        let window_start = now - BUCKETS as i64 * BUCKET;
        let arrivals: Vec<i64> = query("SELECT received_at FROM questions WHERE received_at > ?")
            .bind(window_start)
            .scalar_all(conn.conn())
            .await?;
        let answers: Vec<i64> = query("SELECT released_at FROM messages WHERE released_at > ?")
            .bind(window_start)
            .scalar_all(conn.conn())
            .await?;

        let corrections: i64 = query("SELECT COUNT(*) FROM events WHERE kind = ? AND at >= ?")
            .bind(crate::model::event_kind::QUESTION_RECATEGORIZED)
            .bind(day_start)
            .scalar_one(conn.conn())
            .await?;

        let held: i64 = query("SELECT COUNT(*) FROM questions WHERE state = 'held'").scalar_one(conn.conn()).await?;

        let functions: Vec<FunctionStats> = by_function.into_values().collect();
        let sum = |f: fn(&FunctionStats) -> i64| functions.iter().map(f).sum::<i64>();
        Ok(Stats {
            at: now,
            day_start,
            open: sum(|f| f.open),
            unclaimed: sum(|f| f.unclaimed),
            claimed: sum(|f| f.claimed),
            awaiting_approval: sum(|f| f.awaiting_approval),
            breaching: sum(|f| f.breaching),
            held,
            oldest_waiting_ms: functions.iter().filter_map(|f| f.oldest_waiting_ms).max(),
            first_response_last_hour: percentiles(last_hour),
            first_response_today: percentiles(today),
            sla_met_today: met,
            sla_missed_today: missed,
            sla_attainment_pct_today: if met + missed > 0 {
                Some(100.0 * met as f64 / (met + missed) as f64)
            } else {
                None
            },
            answered_last_hour: answered.try_get::<Option<i64>>("hour")?.unwrap_or(0),
            answered_today: answered.try_get::<Option<i64>>("today")?.unwrap_or(0),
            topic_corrections_today: corrections,
            arrivals_5min: buckets(&arrivals, now),
            answers_5min: buckets(&answers, now),
            functions,
            agents,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let p = percentiles(vec![5, 1, 4, 2, 3, 6, 7, 8, 9, 10]);
        assert_eq!(p.count, 10);
        assert_eq!(p.median_ms, Some(5));
        assert_eq!(p.p90_ms, Some(9));
        assert_eq!(percentiles(vec![]).median_ms, None);
        assert_eq!(percentiles(vec![42]).p90_ms, Some(42));
    }

    #[test]
    fn five_minute_buckets_end_now() {
        let now = 10 * 3_600_000;
        let b = buckets(&[now, now - 1, now - BUCKET, now - 2 * 3_600_000 + 1, now - 3 * 3_600_000], now);
        assert_eq!(b.len(), 24);
        assert_eq!(b[23], 2);
        assert_eq!(b[22], 1);
        assert_eq!(b[0], 1);
        assert_eq!(b.iter().sum::<i64>(), 4);
    }
}
