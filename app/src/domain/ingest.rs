//! The ingest wire format: a batch body (a JSON array, or NDJSON: one object per line) and
//! each item's fields, checked with errors that name the item, the field and the reason.
//! Prompts and payloads have no field here: there is nowhere to send them.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::event_bounds;
use super::limits::{self, MAX_CODE_LEN, MAX_ID_LEN, MAX_TAGS, MAX_TEXT_LEN};
pub use super::limits::{MAX_BATCH_ITEMS, MAX_BODY_BYTES};
use super::pricing::{femto_to_nanos, parse_scaled_i128, ServiceTier, Tokens};
use super::{Nanos, UsageEvent};

/// What was wrong with one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemError {
    /// Position in the batch, from 0 (for NDJSON: the n-th non-empty line).
    pub index: usize,
    pub field: String,
    pub reason: String,
}

/// A body that is not a batch at all (answered 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Not JSON; 1-based line and column of the first error.
    Malformed { line: usize, column: usize, reason: String },
    /// More than [`MAX_BATCH_ITEMS`] items.
    TooManyItems { limit: usize },
    /// Neither an array nor objects.
    NotABatch(String),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::Malformed { line, column, reason } => {
                write!(f, "malformed JSON at line {line}, column {column}: {reason}")
            }
            BodyError::TooManyItems { limit } => write!(f, "batch: more than {limit} items; split the batch"),
            BodyError::NotABatch(why) => write!(f, "body: {why}"),
        }
    }
}

/// Splits a body into items: a JSON array of objects, one object, or NDJSON.
pub fn parse_body(body: &[u8]) -> Result<Vec<Value>, BodyError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        let (line, column) = position(body, e.valid_up_to());
        BodyError::Malformed { line, column, reason: "not UTF-8".into() }
    })?;
    let first = text.trim_start().chars().next();
    let items = match first {
        None => vec![],
        Some('[') => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => items,
            Ok(_) => return Err(BodyError::NotABatch("expected a JSON array".into())),
            Err(e) => return Err(malformed(&e, 0)),
        },
        Some(_) => {
            let mut items = vec![];
            for (n, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                if items.len() == MAX_BATCH_ITEMS {
                    return Err(BodyError::TooManyItems { limit: MAX_BATCH_ITEMS });
                }
                items.push(serde_json::from_str::<Value>(line).map_err(|e| malformed(&e, n))?);
            }
            items
        }
    };
    if items.len() > MAX_BATCH_ITEMS {
        return Err(BodyError::TooManyItems { limit: MAX_BATCH_ITEMS });
    }
    Ok(items)
}

fn malformed(e: &serde_json::Error, line_offset: usize) -> BodyError {
    BodyError::Malformed { line: e.line() + line_offset, column: e.column(), reason: e.to_string() }
}

fn position(body: &[u8], offset: usize) -> (usize, usize) {
    let before = &body[..offset.min(body.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = offset - before.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1) + 1;
    (line, column)
}

/// Every field an item may carry (the OpenAPI document in `public/openapi.json` lists the same).
pub const FIELDS: &[&str] = &[
    "event_id",
    "timestamp",
    "provider",
    "model",
    "requested_model",
    "operation",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "input_audio_tokens",
    "cache_read_audio_tokens",
    "input_image_tokens",
    "output_audio_tokens",
    "output_image_tokens",
    "web_search_calls",
    "request_count",
    "service_tier",
    "latency_ms",
    "status",
    "team",
    "feature",
    "initiative",
    "customer",
    "environment",
    "tags",
    "trace_id",
    "span_id",
    "parent_span_id",
    "depth",
    "retry",
    "tool_name",
    "reservation_id",
    "cost_usd",
];

/// Reads one item. Unknown fields are refused (a typo such as `input_token` would otherwise
/// silently count as zero tokens). Cost: `cost_usd` (provider-reported, a decimal string or
/// a number) or nothing, in which case the price book prices the event later.
pub fn parse_item(index: usize, item: &Value) -> Result<UsageEvent, ItemError> {
    let err = |field: &str, reason: String| ItemError { index, field: field.into(), reason };
    let Some(obj) = item.as_object() else {
        return Err(err("item", "expected a JSON object".into()));
    };
    if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(err(unknown, "unknown field (prompts and payloads are never accepted)".into()));
    }
    let r = Reader { obj, index };
    let event_id = r.text("event_id", MAX_ID_LEN)?.ok_or_else(|| err("event_id", "required".into()))?;
    let timestamp = r.text("timestamp", 64)?.ok_or_else(|| err("timestamp", "required".into()))?;
    let occurred_at = DateTime::parse_from_rfc3339(&timestamp)
        .map_err(|_| {
            err("timestamp", format!("'{timestamp}' is not an RFC 3339 time (e.g. 2026-11-20T14:05:00Z)"))
        })?
        .with_timezone(&Utc);
    let provider = r.text("provider", MAX_TEXT_LEN)?.ok_or_else(|| err("provider", "required".into()))?;
    let requested_model = r.text("requested_model", MAX_TEXT_LEN)?;
    let model = match (r.text("model", MAX_TEXT_LEN)?, &requested_model) {
        (Some(m), _) => m,
        (None, Some(req)) => req.clone(),
        (None, None) => return Err(err("model", "required".into())),
    };
    let mut tokens = Tokens::default();
    for field in crate::domain::pricing::TOKEN_FIELDS {
        let max = event_bounds::count_max(field);
        *tokens.field_mut(field).expect("a token field") = r.count(field, max)?.unwrap_or(0);
    }
    event_bounds::check_tokens(&tokens).map_err(|m| split_field(index, &m))?;
    let request_count = r.count("request_count", limits::MAX_REQUESTS)?.unwrap_or(1);
    let service_tier = match r.text("service_tier", MAX_CODE_LEN)? {
        Some(t) => ServiceTier::parse("service_tier", &t).map_err(|m| split_field(index, &m))?,
        None => ServiceTier::Standard,
    };
    let tags = match obj.get("tags") {
        None | Some(Value::Null) => vec![],
        Some(Value::Object(m)) => {
            if m.len() > MAX_TAGS {
                return Err(err("tags", format!("at most {MAX_TAGS} tags")));
            }
            let mut tags = vec![];
            for (k, v) in m {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return Err(err(&format!("tags.{k}"), "expected a string".into())),
                };
                if k.is_empty() || k.len() > MAX_TEXT_LEN || v.len() > MAX_TEXT_LEN {
                    return Err(err(
                        &format!("tags.{k}"),
                        format!("keys and values hold 1 to {MAX_TEXT_LEN} bytes"),
                    ));
                }
                tags.push((k.clone(), v));
            }
            tags.sort();
            tags
        }
        Some(_) => return Err(err("tags", "expected an object of string values".into())),
    };
    let cost = match obj.get("cost_usd") {
        None | Some(Value::Null) => None,
        Some(v) => Some(usd_to_nanos(v).map_err(|m| err("cost_usd", m))?),
    };
    let event = UsageEvent {
        event_id,
        occurred_at,
        provider,
        requested_model: requested_model.filter(|m| *m != model),
        model,
        operation: r.text("operation", MAX_CODE_LEN)?.unwrap_or_else(|| "chat".into()),
        tokens,
        request_count,
        service_tier,
        latency_ms: r.count("latency_ms", limits::MAX_LATENCY_MS)?,
        status: r.text("status", MAX_CODE_LEN)?.unwrap_or_else(|| "ok".into()),
        team: r.text("team", MAX_TEXT_LEN)?,
        feature: r.text("feature", MAX_TEXT_LEN)?,
        initiative: r.text("initiative", MAX_TEXT_LEN)?,
        customer: r.text("customer", MAX_TEXT_LEN)?,
        environment: r.text("environment", MAX_TEXT_LEN)?,
        api_key: None,
        tags,
        trace_id: r.text("trace_id", MAX_ID_LEN)?,
        span_id: r.text("span_id", MAX_ID_LEN)?,
        parent_span_id: r.text("parent_span_id", MAX_ID_LEN)?,
        depth: r.count("depth", limits::MAX_DEPTH)?,
        retry: r.count("retry", limits::MAX_RETRY)?,
        tool_name: r.text("tool_name", MAX_TEXT_LEN)?,
        reservation_id: r.text("reservation_id", MAX_ID_LEN)?,
        cost: cost.unwrap_or(Nanos::ZERO),
        cost_source: if cost.is_some() {
            super::usage::CostSource::Provider
        } else {
            super::usage::CostSource::Unpriced
        },
        price_entry_id: None,
    };
    check(index, &event)?;
    Ok(event)
}

/// [`event_bounds::check_event`] as an item error: the last word on every path's events.
pub fn check(index: usize, e: &UsageEvent) -> Result<(), ItemError> {
    event_bounds::check_event(e).map_err(|(field, reason)| ItemError { index, field, reason })
}

/// An event in the ingest format (what [`parse_item`] reads back); used by exports, the
/// benchmark and tests. A provider-reported cost is sent as `cost_usd`; others are left to
/// the price book.
pub fn to_item(e: &UsageEvent) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            m.insert(k.to_string(), v);
        }
    };
    put("event_id", e.event_id.clone().into());
    put("timestamp", e.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true).into());
    put("provider", e.provider.clone().into());
    put("model", e.model.clone().into());
    put("requested_model", e.requested_model.clone().into());
    put("operation", e.operation.clone().into());
    for (k, v) in e.tokens.fields() {
        if v != 0 {
            put(k, v.into());
        }
    }
    put("request_count", e.request_count.into());
    if e.service_tier != ServiceTier::Standard {
        put("service_tier", e.service_tier.as_str().into());
    }
    put("latency_ms", e.latency_ms.into());
    put("status", e.status.clone().into());
    put("team", e.team.clone().into());
    put("feature", e.feature.clone().into());
    put("initiative", e.initiative.clone().into());
    put("customer", e.customer.clone().into());
    put("environment", e.environment.clone().into());
    if !e.tags.is_empty() {
        put(
            "tags",
            Value::Object(e.tags.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()),
        );
    }
    put("trace_id", e.trace_id.clone().into());
    put("span_id", e.span_id.clone().into());
    put("parent_span_id", e.parent_span_id.clone().into());
    put("depth", e.depth.into());
    put("retry", e.retry.into());
    put("tool_name", e.tool_name.clone().into());
    put("reservation_id", e.reservation_id.clone().into());
    if e.cost_source == super::usage::CostSource::Provider {
        put("cost_usd", format!("{}.{:09}", e.cost.0 / 1_000_000_000, e.cost.0 % 1_000_000_000).into());
    }
    Value::Object(m)
}

/// `"field: reason"` (the form domain checks return) as an item error.
fn split_field(index: usize, msg: &str) -> ItemError {
    let (field, reason) = msg.split_once(": ").unwrap_or(("item", msg));
    ItemError { index, field: field.into(), reason: reason.into() }
}

/// A provider-reported cost in USD → nanos, exact up to 15 decimals, rounded half up once, at
/// most [`limits::MAX_EVENT_COST`].
pub fn usd_to_nanos(v: &Value) -> Result<Nanos, String> {
    let text = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:e}"),
            _ => n.to_string(),
        },
        _ => return Err("expected a decimal number of US dollars".into()),
    };
    let shown: String = text.chars().take(40).collect();
    let femto = parse_scaled_i128(&text, 15).ok_or_else(|| {
        if text.len() > 64 {
            format!("'{shown}…' is not a decimal amount of US dollars")
        } else {
            format!(
                "'{shown}' is not a decimal amount of US dollars (digits, one point, at most 15 decimals)"
            )
        }
    })?;
    if femto < 0 {
        return Err(format!("'{shown}' is negative"));
    }
    let max = i128::from(limits::MAX_EVENT_COST.0) * 1_000_000;
    if femto > max {
        return Err(format!("'{shown}' is above the per-event maximum of {}", limits::MAX_EVENT_COST.usd()));
    }
    Ok(femto_to_nanos(femto))
}

struct Reader<'a> {
    obj: &'a Map<String, Value>,
    index: usize,
}

impl Reader<'_> {
    fn err(&self, field: &str, reason: String) -> ItemError {
        ItemError { index: self.index, field: field.into(), reason }
    }

    fn text(&self, field: &str, max: usize) -> Result<Option<String>, ItemError> {
        match self.obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.is_empty() {
                    Ok(None)
                } else if s.len() > max {
                    Err(self.err(field, format!("longer than {max} bytes")))
                } else {
                    Ok(Some(s.to_string()))
                }
            }
            Some(other) => Err(self.err(field, format!("expected a string, got {other}"))),
        }
    }

    fn count(&self, field: &str, max: i64) -> Result<Option<i64>, ItemError> {
        match self.obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(v) if v >= 0 => {
                    limits::count(field, v, max).map(Some).map_err(|m| split_field(self.index, &m))
                }
                _ if n.as_u64().is_some() => {
                    Err(self.err(field, format!("{n} is above the maximum of {max}")))
                }
                _ => Err(self.err(field, format!("expected a whole number ≥ 0, got {n}"))),
            },
            Some(other) => Err(self.err(field, format!("expected a whole number ≥ 0, got {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({"event_id": "e1", "timestamp": "2026-11-20T14:05:00Z", "provider": "openai",
            "model": "gpt-4o-2024-08-06", "requested_model": "gpt-4o", "input_tokens": 1200,
            "cache_read_tokens": 1000, "output_tokens": 300, "service_tier": "batch",
            "team": "search", "tags": {"region": "eu", "sla": 2}})
    }

    #[test]
    fn a_full_item_is_read_with_defaults_for_what_is_missing() {
        let e = parse_item(0, &good()).unwrap();
        assert_eq!(e.model, "gpt-4o-2024-08-06");
        assert_eq!(e.requested_model.as_deref(), Some("gpt-4o"));
        assert_eq!((e.tokens.input, e.tokens.cache_read, e.tokens.output), (1200, 1000, 300));
        assert_eq!((e.request_count, e.service_tier, e.operation.as_str()), (1, ServiceTier::Batch, "chat"));
        assert_eq!(e.tags, vec![("region".into(), "eu".into()), ("sla".into(), "2".into())]);
        assert_eq!(e.tags_json(), r#"{"region":"eu","sla":"2"}"#);
        assert_eq!(e.cost_source, super::super::usage::CostSource::Unpriced);
    }

    #[test]
    fn each_bad_field_is_named() {
        let bad = |patch: Value| {
            let mut v = good();
            for (k, val) in patch.as_object().unwrap() {
                v[k] = val.clone();
            }
            let e = parse_item(7, &v).unwrap_err();
            assert_eq!(e.index, 7);
            (e.field, e.reason)
        };
        assert_eq!(bad(json!({"timestamp": "yesterday"})).0, "timestamp");
        assert_eq!(bad(json!({"input_tokens": -5})).0, "input_tokens");
        assert_eq!(bad(json!({"input_tokens": 1.5})).0, "input_tokens");
        assert_eq!(bad(json!({"cache_read_tokens": 5000})).0, "cache_read_tokens");
        assert_eq!(bad(json!({"service_tier": "gold"})).0, "service_tier");
        assert_eq!(
            bad(json!({"input_token": 3})),
            ("input_token".into(), "unknown field (prompts and payloads are never accepted)".into())
        );
        assert_eq!(bad(json!({"messages": []})).0, "messages");
        assert_eq!(bad(json!({"event_id": null})), ("event_id".into(), "required".into()));
        assert_eq!(bad(json!({"cost_usd": "12,5"})).0, "cost_usd");
        assert_eq!(bad(json!({"tags": {"a": [1]}})).0, "tags.a");
        assert_eq!(parse_item(0, &json!(3)).unwrap_err().field, "item");
    }

    #[test]
    fn an_event_survives_the_round_trip_through_the_wire_format() {
        let mut e = parse_item(0, &good()).unwrap();
        e.cost = Nanos(1_234_567_891);
        e.cost_source = super::super::usage::CostSource::Provider;
        e.depth = Some(2);
        let back = parse_item(0, &to_item(&e)).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn provider_costs_are_exact() {
        assert_eq!(usd_to_nanos(&json!("0.0123")), Ok(Nanos(12_300_000)));
        assert_eq!(usd_to_nanos(&json!(0.0123)), Ok(Nanos(12_300_000)));
        assert_eq!(usd_to_nanos(&json!(2)), Ok(Nanos(2_000_000_000)));
        // 13 decimals: rounded half up once
        assert_eq!(usd_to_nanos(&json!("0.0000000015")), Ok(Nanos(2)));
        assert_eq!(usd_to_nanos(&json!("0.0000000014999")), Ok(Nanos(1)));
        assert!(usd_to_nanos(&json!("-1")).is_err());
        assert!(usd_to_nanos(&json!("1e-20")).is_err());
    }

    #[test]
    fn bodies_are_arrays_or_ndjson_and_errors_give_line_and_column() {
        assert_eq!(parse_body(b"[{\"a\":1},{\"b\":2}]").unwrap().len(), 2);
        assert_eq!(parse_body(b"{\"a\":1}\n\n{\"b\":2}\n").unwrap().len(), 2);
        assert_eq!(parse_body(b"  ").unwrap().len(), 0);
        match parse_body(b"{\"a\":1}\n{\"b\":}\n") {
            Err(BodyError::Malformed { line, column, .. }) => assert_eq!((line, column), (2, 6)),
            other => panic!("{other:?}"),
        }
        match parse_body(b"[\n {\"a\": 1},\n {\"b\" 2}\n]") {
            Err(BodyError::Malformed { line, column, .. }) => assert_eq!((line, column), (3, 7)),
            other => panic!("{other:?}"),
        }
        let many = format!("[{}]", vec!["{}"; MAX_BATCH_ITEMS + 1].join(","));
        assert_eq!(parse_body(many.as_bytes()), Err(BodyError::TooManyItems { limit: MAX_BATCH_ITEMS }));
        assert_eq!(parse_body(b"{\"items\": 1}").unwrap().len(), 1, "one object is a batch of one");
        assert_eq!(
            BodyError::TooManyItems { limit: 10 }.to_string(),
            "batch: more than 10 items; split the batch"
        );
    }
}
