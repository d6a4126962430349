//! OpenTelemetry GenAI spans (OTLP traces) as usage events. Both encodings (JSON here,
//! protobuf in the server) are read into [`Span`], and one mapping turns spans into events:
//!
//! - a span becomes an event when it carries any `gen_ai.*` attribute (model calls, tool
//!   executions, agent invocations); other spans only give the trace its shape;
//! - event id `otel:<trace id>:<span id>`, so a collector's retry inserts nothing twice;
//! - time = span end; latency = end − start; depth = ancestors found in the same request;
//! - tokens from `gen_ai.usage.*` (input includes cache reads and writes, as the convention
//!   says); the counts the conventions do not define (one-hour cache writes, audio and image
//!   tokens, web-search calls) from `costroom.usage.<event API name>`; provider from
//!   `gen_ai.provider.name`, else the older `gen_ai.system`;
//! - a cost attribute (`gen_ai.usage.cost`, `gen_ai.usage.cost.total`, `gen_ai.usage.cost_usd`)
//!   is the provider-reported cost;
//! - attribution from the organisation's [`AttributeMapping`]: for each dimension, the first
//!   listed attribute present on the span or its resource (by default `costroom.<dimension>`,
//!   then `service.name` for the feature and `deployment.environment(.name)` for the
//!   environment).
use std::collections::HashMap;

use chrono::DateTime;

/// The counts a span carries as `costroom.usage.<name>` attributes.
pub const BILLED_UNITS: [&str; 7] = [
    "cache_write_1h_tokens",
    "input_audio_tokens",
    "cache_read_audio_tokens",
    "input_image_tokens",
    "output_audio_tokens",
    "output_image_tokens",
    "web_search_calls",
];
use serde_json::Value;

use super::ingest::{usd_to_nanos, ItemError};
use super::pricing::{ServiceTier, Tokens};
use super::usage::CostSource;
use super::UsageEvent;

#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
}

impl AttrValue {
    fn text(&self) -> String {
        match self {
            AttrValue::Str(s) => s.clone(),
            AttrValue::Int(i) => i.to_string(),
            AttrValue::Double(d) => d.to_string(),
            AttrValue::Bool(b) => b.to_string(),
        }
    }
}

/// One span, whatever its encoding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Span {
    /// Lower-case hex.
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub name: String,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub error: bool,
    pub attributes: Vec<(String, AttrValue)>,
    /// Shared by every span of its resource: a request with a large resource and many spans
    /// must not copy it once per span.
    pub resource: std::sync::Arc<Vec<(String, AttrValue)>>,
}

impl Span {
    fn attr(&self, key: &str) -> Option<&AttrValue> {
        self.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn resource_attr(&self, key: &str) -> Option<&AttrValue> {
        self.resource.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn text(&self, key: &str) -> Option<String> {
        self.attr(key).map(AttrValue::text).filter(|s| !s.is_empty())
    }

    /// On the span, else on its resource.
    fn either(&self, key: &str) -> Option<String> {
        self.text(key).or_else(|| self.resource_attr(key).map(AttrValue::text).filter(|s| !s.is_empty()))
    }

    fn is_gen_ai(&self) -> bool {
        self.attributes.iter().any(|(k, _)| k.starts_with("gen_ai."))
    }
}

/// Which span or resource attributes give each attribution dimension, in order of preference.
/// An organisation edits it (e.g. its instrumentation already sets `app.team`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttributeMapping {
    pub team: Vec<String>,
    pub feature: Vec<String>,
    pub initiative: Vec<String>,
    pub customer: Vec<String>,
    pub environment: Vec<String>,
}

impl Default for AttributeMapping {
    fn default() -> Self {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        AttributeMapping {
            team: v(&["costroom.team"]),
            feature: v(&["costroom.feature", "service.name"]),
            initiative: v(&["costroom.initiative"]),
            customer: v(&["costroom.customer"]),
            environment: v(&[
                "costroom.environment",
                "deployment.environment.name",
                "deployment.environment",
            ]),
        }
    }
}

impl AttributeMapping {
    /// From the settings form: one comma-separated list of attribute names per dimension;
    /// errors name the field.
    pub fn parse(
        team: &str,
        feature: &str,
        initiative: &str,
        customer: &str,
        environment: &str,
    ) -> Result<Self, String> {
        let list = |field: &str, s: &str| -> Result<Vec<String>, String> {
            let names: Vec<String> =
                s.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_string).collect();
            if names.len() > 10 {
                return Err(format!("{field}: at most 10 attribute names"));
            }
            if let Some(bad) = names.iter().find(|n| {
                n.len() > 128
                    || !n.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
            }) {
                return Err(format!("{field}: '{bad}' is not an attribute name (letters, digits, . _ - /)"));
            }
            Ok(names)
        };
        Ok(AttributeMapping {
            team: list("team", team)?,
            feature: list("feature", feature)?,
            initiative: list("initiative", initiative)?,
            customer: list("customer", customer)?,
            environment: list("environment", environment)?,
        })
    }

    fn pick(&self, s: &Span, names: &[String]) -> Option<String> {
        names.iter().find_map(|n| s.either(n))
    }
}

/// What the spans of one request came to.
#[derive(Debug, Default)]
pub struct Mapped {
    /// Each event with the position of its span in the request.
    pub events: Vec<(usize, UsageEvent)>,
    /// Spans with `gen_ai.*` attributes that could not be read (index into the request's spans).
    pub errors: Vec<ItemError>,
    /// Spans without `gen_ai.*` attributes.
    pub skipped: usize,
}

pub fn spans_to_events(spans: &[Span], mapping: &AttributeMapping) -> Mapped {
    let parents: HashMap<(&str, &str), &str> = spans
        .iter()
        .map(|s| ((s.trace_id.as_str(), s.span_id.as_str()), s.parent_span_id.as_str()))
        .collect();
    let depth = |s: &Span| {
        let mut d = 0;
        let mut parent = s.parent_span_id.as_str();
        // bounded: a malformed request could hold a cycle
        while !parent.is_empty() && d < 64 {
            match parents.get(&(s.trace_id.as_str(), parent)) {
                Some(p) => {
                    d += 1;
                    parent = p;
                }
                None => break,
            }
        }
        d
    };
    let mut out = Mapped::default();
    for (i, s) in spans.iter().enumerate() {
        if !s.is_gen_ai() {
            out.skipped += 1;
            continue;
        }
        match span_event(i, s, depth(s), mapping) {
            Ok(e) => out.events.push((i, e)),
            Err(e) => out.errors.push(e),
        }
    }
    out
}

fn span_event(
    index: usize,
    s: &Span,
    depth: i64,
    mapping: &AttributeMapping,
) -> Result<UsageEvent, ItemError> {
    let err = |field: &str, reason: String| ItemError { index, field: field.into(), reason };
    if s.trace_id.is_empty() || s.span_id.is_empty() {
        return Err(err("spanId", "a span needs its trace id and span id".into()));
    }
    let count = |key: &str| -> Result<i64, ItemError> {
        match s.attr(key) {
            None => Ok(0),
            Some(AttrValue::Int(v)) if *v >= 0 => Ok(*v),
            Some(AttrValue::Str(t)) => t
                .parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| err(key, format!("'{t}' is not a token count"))),
            Some(other) => Err(err(key, format!("{other:?} is not a token count"))),
        }
    };
    let mut tokens = Tokens {
        input: count("gen_ai.usage.input_tokens")?,
        cache_read: count("gen_ai.usage.cache_read.input_tokens")?,
        cache_write_5m: count("gen_ai.usage.cache_creation.input_tokens")?,
        output: count("gen_ai.usage.output_tokens")?,
        reasoning: count("gen_ai.usage.reasoning.output_tokens")?,
        ..Default::default()
    };
    // the GenAI conventions define no audio, image or web-search counts: they come as
    // `costroom.usage.<event API name>` (the JSON event's own field names)
    for field in BILLED_UNITS {
        *tokens.field_mut(field).expect("a token field") = count(&format!("costroom.usage.{field}"))?;
    }
    super::event_bounds::check_tokens(&tokens).map_err(|m| {
        let (f, r) = m.split_once(": ").unwrap_or(("gen_ai.usage", &m));
        err(f, r.to_string())
    })?;
    let end = if s.end_unix_nano > 0 { s.end_unix_nano } else { s.start_unix_nano };
    let occurred_at = DateTime::from_timestamp((end / 1_000_000_000) as i64, (end % 1_000_000_000) as u32)
        .ok_or_else(|| err("endTimeUnixNano", format!("{end} is not a time")))?;
    let requested = s.text("gen_ai.request.model");
    let model = s.text("gen_ai.response.model").or_else(|| requested.clone()).unwrap_or_default();
    let operation = s
        .text("gen_ai.operation.name")
        .or_else(|| s.name.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "chat".into());
    let cost = ["gen_ai.usage.cost", "gen_ai.usage.cost.total", "gen_ai.usage.cost_usd"]
        .iter()
        .find_map(|k| s.attr(k).map(|v| (k, v)))
        .map(|(k, v)| {
            let json = match v {
                AttrValue::Int(i) => Value::from(*i),
                AttrValue::Double(d) => Value::from(*d),
                other => Value::String(other.text()),
            };
            usd_to_nanos(&json).map_err(|m| err(k, m))
        })
        .transpose()?;
    let service_tier =
        match s.text("openai.response.service_tier").or_else(|| s.text("gen_ai.request.service_tier")) {
            Some(t) => ServiceTier::parse("service_tier", &t).unwrap_or_default(),
            None => ServiceTier::Standard,
        };
    let mut tags = vec![];
    for (tag, key) in [
        ("conversation", "gen_ai.conversation.id"),
        ("agent", "gen_ai.agent.name"),
        ("agent_id", "gen_ai.agent.id"),
        ("service", "service.name"),
    ] {
        if let Some(v) = s.either(key) {
            tags.push((tag.to_string(), v));
        }
    }
    tags.sort();
    let latency = (s.end_unix_nano > s.start_unix_nano && s.start_unix_nano > 0)
        .then(|| ((s.end_unix_nano - s.start_unix_nano) / 1_000_000) as i64);
    let event = UsageEvent {
        event_id: format!("otel:{}:{}", s.trace_id, s.span_id),
        occurred_at,
        provider: s
            .text("gen_ai.provider.name")
            .or_else(|| s.text("gen_ai.system"))
            .unwrap_or_else(|| "unknown".into()),
        requested_model: requested.filter(|r| *r != model),
        model,
        operation,
        tokens,
        request_count: i64::from(tokens != Tokens::default()),
        service_tier,
        latency_ms: latency,
        status: if s.error { s.text("error.type").unwrap_or_else(|| "error".into()) } else { "ok".into() },
        team: mapping.pick(s, &mapping.team),
        feature: mapping.pick(s, &mapping.feature),
        initiative: mapping.pick(s, &mapping.initiative),
        customer: mapping.pick(s, &mapping.customer),
        environment: mapping.pick(s, &mapping.environment),
        api_key: None,
        tags,
        trace_id: Some(s.trace_id.clone()),
        span_id: Some(s.span_id.clone()),
        parent_span_id: Some(s.parent_span_id.clone()).filter(|p| !p.is_empty()),
        depth: Some(depth),
        retry: s.attr("http.request.resend_count").and_then(|v| match v {
            AttrValue::Int(i) => Some(*i),
            _ => None,
        }),
        tool_name: s.text("gen_ai.tool.name"),
        reservation_id: s.text("costroom.reservation_id"),
        cost: cost.unwrap_or_default(),
        cost_source: if cost.is_some() { CostSource::Provider } else { CostSource::Unpriced },
        price_entry_id: None,
    };
    // the same bounds, in the same words, as the JSON API's
    super::ingest::check(index, &event)?;
    Ok(event)
}

/// The refusal of a request with more spans than a batch may hold, worded as the JSON API's.
pub fn too_many_spans() -> String {
    super::ingest::BodyError::TooManyItems { limit: super::limits::MAX_BATCH_ITEMS }.to_string()
}

/// Reads an OTLP/JSON `ExportTraceServiceRequest`. Ids are hex (the OTLP/JSON rule, unlike
/// protobuf's own JSON mapping); 64-bit integers may be strings or numbers.
pub fn parse_json(body: &[u8]) -> Result<Vec<Span>, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| format!("malformed JSON at line {}, column {}: {e}", e.line(), e.column()))?;
    let mut spans = vec![];
    let all = v.get("resourceSpans").and_then(Value::as_array);
    let count: usize = all
        .into_iter()
        .flatten()
        .flat_map(|rs| rs.get("scopeSpans").and_then(Value::as_array).into_iter().flatten())
        .map(|ss| ss.get("spans").and_then(Value::as_array).map_or(0, Vec::len))
        .sum();
    if count > super::limits::MAX_BATCH_ITEMS {
        return Err(too_many_spans());
    }
    for rs in all.into_iter().flatten() {
        let resource = std::sync::Arc::new(attributes(rs.get("resource").and_then(|r| r.get("attributes"))));
        for ss in rs.get("scopeSpans").and_then(Value::as_array).into_iter().flatten() {
            for sp in ss.get("spans").and_then(Value::as_array).into_iter().flatten() {
                let text = |k: &str| sp.get(k).and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
                let nanos = |k: &str| match sp.get(k) {
                    Some(Value::String(s)) => s.parse().unwrap_or(0),
                    Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
                    _ => 0,
                };
                let code = sp.get("status").and_then(|s| s.get("code"));
                let error = matches!(code, Some(Value::Number(n)) if n.as_u64() == Some(2))
                    || matches!(code, Some(Value::String(s)) if s == "STATUS_CODE_ERROR");
                spans.push(Span {
                    trace_id: text("traceId"),
                    span_id: text("spanId"),
                    parent_span_id: text("parentSpanId"),
                    name: sp.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
                    start_unix_nano: nanos("startTimeUnixNano"),
                    end_unix_nano: nanos("endTimeUnixNano"),
                    error,
                    attributes: attributes(sp.get("attributes")),
                    resource: resource.clone(),
                });
            }
        }
    }
    Ok(spans)
}

fn attributes(v: Option<&Value>) -> Vec<(String, AttrValue)> {
    let mut out = vec![];
    for kv in v.and_then(Value::as_array).into_iter().flatten() {
        let (Some(key), Some(value)) = (kv.get("key").and_then(Value::as_str), kv.get("value")) else {
            continue;
        };
        let parsed = if let Some(s) = value.get("stringValue").and_then(Value::as_str) {
            Some(AttrValue::Str(s.to_string()))
        } else if let Some(i) = value.get("intValue") {
            match i {
                Value::String(s) => s.parse().ok().map(AttrValue::Int),
                Value::Number(n) => n.as_i64().map(AttrValue::Int),
                _ => None,
            }
        } else if let Some(d) = value.get("doubleValue").and_then(Value::as_f64) {
            Some(AttrValue::Double(d))
        } else {
            value.get("boolValue").and_then(Value::as_bool).map(AttrValue::Bool)
        };
        if let Some(p) = parsed {
            out.push((key.to_string(), p));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, parent: &str, attrs: Vec<(&str, AttrValue)>) -> Span {
        Span {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            span_id: id.into(),
            parent_span_id: parent.into(),
            name: "chat gpt-4".into(),
            start_unix_nano: 1_763_632_800_000_000_000,
            end_unix_nano: 1_763_632_801_250_000_000,
            attributes: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            resource: std::sync::Arc::new(vec![(
                "service.name".into(),
                AttrValue::Str("weather-bot".into()),
            )]),
            ..Default::default()
        }
    }

    #[test]
    fn a_tool_calling_trace_becomes_events_with_depth_and_exact_tokens() {
        use AttrValue::*;
        let chat = |input, output| {
            vec![
                ("gen_ai.provider.name", Str("openai".into())),
                ("gen_ai.operation.name", Str("chat".into())),
                ("gen_ai.request.model", Str("gpt-4".into())),
                ("gen_ai.response.model", Str("gpt-4-0613".into())),
                ("gen_ai.usage.input_tokens", Int(input)),
                ("gen_ai.usage.output_tokens", Int(output)),
            ]
        };
        let spans = vec![
            span("a0", "", vec![("app.route", Str("/ask".into()))]),
            span("c1", "a0", chat(47, 17)),
            span(
                "t1",
                "a0",
                vec![
                    ("gen_ai.operation.name", Str("execute_tool".into())),
                    ("gen_ai.tool.name", Str("get_weather".into())),
                ],
            ),
            span("c2", "a0", chat(97, 52)),
        ];
        let m = spans_to_events(&spans, &AttributeMapping::default());
        assert_eq!((m.events.len(), m.skipped, m.errors.len()), (3, 1, 0));
        let c1 = &m.events[0].1;
        assert_eq!(c1.event_id, "otel:4bf92f3577b34da6a3ce929d0e0e4736:c1");
        assert_eq!((c1.tokens.input, c1.tokens.output), (47, 17));
        assert_eq!((c1.model.as_str(), c1.requested_model.as_deref()), ("gpt-4-0613", Some("gpt-4")));
        assert_eq!(
            (c1.depth, c1.parent_span_id.as_deref(), c1.latency_ms),
            (Some(1), Some("a0"), Some(1250))
        );
        assert_eq!(c1.feature.as_deref(), Some("weather-bot"), "service.name");
        assert_eq!(c1.request_count, 1);
        let t1 = &m.events[1].1;
        assert_eq!(
            (t1.operation.as_str(), t1.tool_name.as_deref(), t1.request_count),
            ("execute_tool", Some("get_weather"), 0)
        );
        assert_eq!((m.events[2].1.tokens.input, m.events[2].1.tokens.output), (97, 52));
    }

    #[test]
    fn cached_and_reasoning_tokens_and_reported_cost_are_read() {
        use AttrValue::*;
        let s = span(
            "x",
            "",
            vec![
                ("gen_ai.system", Str("anthropic".into())),
                ("gen_ai.request.model", Str("claude-sonnet-4-5".into())),
                ("gen_ai.usage.input_tokens", Int(1000)),
                ("gen_ai.usage.cache_read.input_tokens", Int(700)),
                ("gen_ai.usage.cache_creation.input_tokens", Str("200".into())),
                ("gen_ai.usage.output_tokens", Int(90)),
                ("gen_ai.usage.reasoning.output_tokens", Int(40)),
                ("gen_ai.usage.cost", Double(0.0123)),
                ("costroom.team", Str("support".into())),
                ("gen_ai.conversation.id", Str("conv-7".into())),
                ("gen_ai.agent.id", Str("asst_1".into())),
            ],
        );
        let e = &spans_to_events(&[s], &AttributeMapping::default()).events[0].1;
        assert_eq!(e.provider, "anthropic", "the older gen_ai.system attribute");
        assert_eq!(
            e.tokens,
            Tokens {
                input: 1000,
                cache_read: 700,
                cache_write_5m: 200,
                output: 90,
                reasoning: 40,
                ..Default::default()
            }
        );
        assert_eq!((e.cost.0, e.cost_source), (12_300_000, CostSource::Provider));
        assert_eq!(e.team.as_deref(), Some("support"));
        let tag = |k: &str| e.tags.iter().find(|(t, _)| t == k).map(|(_, v)| v.as_str());
        assert_eq!((tag("conversation"), tag("agent_id")), (Some("conv-7"), Some("asst_1")));
        let bad = span(
            "y",
            "",
            vec![("gen_ai.usage.input_tokens", Int(10)), ("gen_ai.usage.cache_read.input_tokens", Int(20))],
        );
        let m = spans_to_events(&[bad], &AttributeMapping::default());
        assert_eq!((m.errors[0].index, m.errors[0].field.as_str()), (0, "cache_read_tokens"));
    }

    #[test]
    fn an_organisations_mapping_decides_attribution() {
        use AttrValue::*;
        let s = span(
            "m",
            "",
            vec![
                ("gen_ai.provider.name", Str("openai".into())),
                ("app.team", Str("risk".into())),
                ("costroom.team", Str("ignored".into())),
                ("tenant", Str("acme".into())),
            ],
        );
        let mapping = AttributeMapping::parse("app.team, costroom.team", "", "", "tenant", "").unwrap();
        let e = &spans_to_events(std::slice::from_ref(&s), &mapping).events[0].1;
        assert_eq!(
            (e.team.as_deref(), e.customer.as_deref(), e.feature.as_deref()),
            (Some("risk"), Some("acme"), None)
        );
        let e = &spans_to_events(&[s], &AttributeMapping::default()).events[0].1;
        assert_eq!((e.team.as_deref(), e.customer.as_deref()), (Some("ignored"), None));
        assert_eq!(
            AttributeMapping::parse("a b", "", "", "", "").unwrap_err(),
            "team: 'a b' is not an attribute name (letters, digits, . _ - /)"
        );
    }

    #[test]
    fn otlp_json_is_read_with_hex_ids_and_string_integers() {
        let body = br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"deployment.environment.name","value":{"stringValue":"prod"}}]},
          "scopeSpans":[{"spans":[{"traceId":"4BF92F3577B34DA6A3CE929D0E0E4736","spanId":"00f067aa0ba902b7","name":"chat gpt-4",
          "startTimeUnixNano":"1763632800000000000","endTimeUnixNano":1763632801000000000,"status":{"code":2},
          "attributes":[{"key":"gen_ai.usage.input_tokens","value":{"intValue":"52"}},{"key":"gen_ai.provider.name","value":{"stringValue":"openai"}},
          {"key":"gen_ai.request.model","value":{"stringValue":"gpt-4"}},{"key":"gen_ai.usage.output_tokens","value":{"intValue":47}}]}]}]}]}"#;
        let spans = parse_json(body).unwrap();
        assert_eq!(spans[0].trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        let e = &spans_to_events(&spans, &AttributeMapping::default()).events[0].1;
        assert_eq!((e.tokens.input, e.tokens.output, e.status.as_str()), (52, 47, "error"));
        assert_eq!(e.environment.as_deref(), Some("prod"));
        assert_eq!(e.occurred_at.to_rfc3339(), "2025-11-20T10:00:01+00:00");
        assert!(parse_json(b"{").unwrap_err().starts_with("malformed JSON at line 1"));
    }
}
