//! The queue statistics a shift lead reads (`GET /api/v1/stats`): computed by the store, drawn by
//! the terminal's dashboard. The JSON shape is described in the README ("Statistics").

use serde::{Deserialize, Serialize};

use super::Millis;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// How many first responses fall in the window.
    pub count: i64,
    pub median_ms: Option<i64>,
    pub p90_ms: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionStats {
    pub function: String,
    pub open: i64,
    pub unclaimed: i64,
    pub claimed: i64,
    pub awaiting_approval: i64,
    pub breaching: i64,
    pub oldest_waiting_ms: Option<i64>,
    pub agents_online: i64,
    pub agents_away: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStats {
    pub handle: String,
    pub display_name: String,
    pub function: String,
    pub status: String,
    pub holding: i64,
    pub capacity: i64,
    /// holding / capacity, 0.0 to 1.0.
    pub occupancy: f64,
    pub answered_today: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub at: Millis,
    /// Start of "today": midnight UTC.
    pub day_start: Millis,
    pub open: i64,
    pub unclaimed: i64,
    pub claimed: i64,
    pub awaiting_approval: i64,
    pub breaching: i64,
    /// Questions held back as possible spam, waiting for a lead (not counted in `open`).
    #[serde(default)]
    pub held: i64,
    pub oldest_waiting_ms: Option<i64>,
    pub first_response_last_hour: Percentiles,
    pub first_response_today: Percentiles,
    pub sla_met_today: i64,
    pub sla_missed_today: i64,
    pub sla_attainment_pct_today: Option<f64>,
    pub answered_last_hour: i64,
    pub answered_today: i64,
    /// Topics corrected by agents today (the classifier got them wrong).
    pub topic_corrections_today: i64,
    /// New questions per 5 minutes over the last 2 hours, oldest first (24 buckets).
    pub arrivals_5min: Vec<i64>,
    /// Replies released per 5 minutes over the last 2 hours, oldest first (24 buckets).
    pub answers_5min: Vec<i64>,
    pub functions: Vec<FunctionStats>,
    pub agents: Vec<AgentStats>,
}
