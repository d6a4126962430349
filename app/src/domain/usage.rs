//! One LLM usage event as Costroom stores it: who spent what on which model, never the prompt.
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::pricing::{ServiceTier, Tokens};
use super::Nanos;

/// Where an event's cost comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CostSource {
    /// Priced from the price book (the entry is in `price_entry_id`).
    #[default]
    Computed,
    /// Reported by the provider or gateway with the event; wins over the price book.
    Provider,
    /// No price known yet: cost 0 *and flagged*, listed on the unpriced page, priced when a
    /// price arrives (never a silent $0).
    Unpriced,
}

impl CostSource {
    pub fn as_str(self) -> &'static str {
        match self {
            CostSource::Computed => "computed",
            CostSource::Provider => "provider",
            CostSource::Unpriced => "unpriced",
        }
    }

    pub fn parse(s: &str) -> Option<CostSource> {
        match s {
            "computed" => Some(CostSource::Computed),
            "provider" => Some(CostSource::Provider),
            "unpriced" => Some(CostSource::Unpriced),
            _ => None,
        }
    }
}

/// A usage event. `event_id` is client-supplied and unique per organisation, which makes
/// ingest idempotent: a retried batch inserts nothing twice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageEvent {
    pub event_id: String,
    pub occurred_at: DateTime<Utc>,
    pub provider: String,
    /// The model that answered (the response model when known, else the requested one); the
    /// price book prices this one.
    pub model: String,
    /// The model asked for, when it differs (e.g. `gpt-4o` → `gpt-4o-2024-08-06`).
    pub requested_model: Option<String>,
    /// `chat`, `embeddings`, `execute_tool`, … (OTel `gen_ai.operation.name`).
    pub operation: String,
    pub tokens: Tokens,
    pub request_count: i64,
    pub service_tier: ServiceTier,
    pub latency_ms: Option<i64>,
    /// `ok`, or the error type.
    pub status: String,
    // attribution
    pub team: Option<String>,
    pub feature: Option<String>,
    pub initiative: Option<String>,
    pub customer: Option<String>,
    pub environment: Option<String>,
    /// Prefix of the API key that sent the event.
    pub api_key: Option<String>,
    /// Free-form tags, sorted by key.
    pub tags: Vec<(String, String)>,
    // agent context
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub parent_span_id: Option<String>,
    pub depth: Option<i64>,
    pub retry: Option<i64>,
    pub tool_name: Option<String>,
    /// The guardrail reservation this call was authorized under: storing the event settles it
    /// with the event's cost (not stored with the event).
    #[serde(default)]
    pub reservation_id: Option<String>,
    // money
    pub cost: Nanos,
    pub cost_source: CostSource,
    /// The price-book entry that produced a computed cost.
    pub price_entry_id: Option<i64>,
}

impl UsageEvent {
    /// The UTC day the event counts on.
    pub fn day(&self) -> NaiveDate {
        self.occurred_at.date_naive()
    }

    /// Tags as stored: a JSON object, keys sorted (`{}` when there are none).
    pub fn tags_json(&self) -> String {
        let map: serde_json::Map<String, serde_json::Value> =
            self.tags.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
        serde_json::Value::Object(map).to_string()
    }
}
