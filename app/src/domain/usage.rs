//! One LLM usage event as Costroom stores it: who spent what on which model, never the prompt.
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::Nanos;

/// A priced usage event. `event_id` is client-supplied and unique per organisation, which
/// makes ingest idempotent: a retried batch inserts nothing twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageEvent {
    pub event_id: String,
    pub occurred_at: DateTime<Utc>,
    pub provider: String,
    pub model: String,
    pub team: Option<String>,
    pub feature: Option<String>,
    pub initiative: Option<String>,
    pub customer: Option<String>,
    pub environment: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub request_count: i64,
    pub cost: Nanos,
}

impl UsageEvent {
    /// The UTC day the event counts on.
    pub fn day(&self) -> NaiveDate {
        self.occurred_at.date_naive()
    }
}
