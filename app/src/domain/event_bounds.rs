//! The one check of a usage event against the bounds of `limits`. Every path that brings
//! events (JSON/NDJSON, OTLP protobuf and JSON, `costroom import events`, the demo) goes
//! through [`check_event`], so the same input is refused with the same words wherever it
//! arrives.
use super::limits::*;
use super::pricing::Tokens;
use super::UsageEvent;

/// Every bound of one event, as `(field, reason)`: the first one broken.
pub fn check_event(e: &UsageEvent) -> Result<(), (String, String)> {
    let split = |m: String| match m.split_once(": ") {
        Some((f, r)) => (f.to_string(), r.to_string()),
        None => ("item".to_string(), m),
    };
    use chrono::Datelike;
    let year = e.occurred_at.year();
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return Err((
            "timestamp".into(),
            format!("{} is outside the years {MIN_YEAR} to {MAX_YEAR}", e.occurred_at.format("%Y-%m-%d")),
        ));
    }
    check_tokens(&e.tokens).map_err(split)?;
    let texts: [(&str, Option<&str>, usize); 15] = [
        ("event_id", Some(&e.event_id), MAX_ID_LEN),
        ("provider", Some(&e.provider), MAX_TEXT_LEN),
        ("model", Some(&e.model), MAX_TEXT_LEN),
        ("requested_model", e.requested_model.as_deref(), MAX_TEXT_LEN),
        ("operation", Some(&e.operation), MAX_CODE_LEN),
        ("status", Some(&e.status), MAX_CODE_LEN),
        ("team", e.team.as_deref(), MAX_TEXT_LEN),
        ("feature", e.feature.as_deref(), MAX_TEXT_LEN),
        ("initiative", e.initiative.as_deref(), MAX_TEXT_LEN),
        ("customer", e.customer.as_deref(), MAX_TEXT_LEN),
        ("environment", e.environment.as_deref(), MAX_TEXT_LEN),
        ("trace_id", e.trace_id.as_deref(), MAX_ID_LEN),
        ("span_id", e.span_id.as_deref(), MAX_ID_LEN),
        ("parent_span_id", e.parent_span_id.as_deref(), MAX_ID_LEN),
        ("tool_name", e.tool_name.as_deref(), MAX_TEXT_LEN),
    ];
    for (field, v, max) in texts {
        if let Some(v) = v {
            text(field, v, max).map_err(split)?;
        }
    }
    if e.event_id.is_empty() {
        return Err(("event_id".into(), "required".into()));
    }
    if e.tags.len() > MAX_TAGS {
        return Err(("tags".into(), format!("at most {MAX_TAGS} tags")));
    }
    for (k, v) in &e.tags {
        let field = format!("tags.{}", k.chars().take(40).collect::<String>());
        if k.is_empty() || k.len() > MAX_TEXT_LEN || v.len() > MAX_TEXT_LEN {
            return Err((field, format!("keys and values hold 1 to {MAX_TEXT_LEN} bytes")));
        }
        text(&field, k, MAX_TEXT_LEN).and_then(|_| text(&field, v, MAX_TEXT_LEN)).map_err(split)?;
    }
    count("request_count", e.request_count, MAX_REQUESTS).map_err(split)?;
    for (field, v, max) in [
        ("latency_ms", e.latency_ms, MAX_LATENCY_MS),
        ("depth", e.depth, MAX_DEPTH),
        ("retry", e.retry, MAX_RETRY),
    ] {
        if let Some(v) = v {
            count(field, v, max).map_err(split)?;
        }
    }
    amount("cost_usd", e.cost, MAX_EVENT_COST).map_err(split)?;
    Ok(())
}

/// The largest value a count of [`Tokens`] takes: tokens per class, or calls.
pub fn count_max(field: &str) -> i64 {
    if field == "web_search_calls" {
        MAX_REQUESTS
    } else {
        MAX_TOKENS
    }
}

/// Token counts within [`MAX_TOKENS`] per class (web searches within [`MAX_REQUESTS`]), and
/// consistent (cached ⊆ input, reasoning ⊆ output, and so on: [`Tokens::check`]).
pub fn check_tokens(t: &Tokens) -> Result<(), String> {
    for (field, v) in t.fields() {
        count(field, v, count_max(field))?;
    }
    t.check()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Nanos;

    fn ev() -> UsageEvent {
        UsageEvent {
            event_id: "e".into(),
            occurred_at: chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap(),
            provider: "openai".into(),
            model: "gpt-4o".into(),
            operation: "chat".into(),
            status: "ok".into(),
            request_count: 1,
            ..Default::default()
        }
    }

    fn field_of(e: &UsageEvent) -> String {
        check_event(e).unwrap_err().0
    }

    #[test]
    fn each_bound_is_inclusive_and_the_next_value_is_refused_naming_the_field() {
        let mut e = ev();
        e.tokens =
            Tokens { input: MAX_TOKENS, output: MAX_TOKENS, reasoning: MAX_TOKENS, ..Default::default() };
        e.request_count = MAX_REQUESTS;
        e.latency_ms = Some(MAX_LATENCY_MS);
        e.depth = Some(MAX_DEPTH);
        e.retry = Some(MAX_RETRY);
        e.cost = MAX_EVENT_COST;
        e.feature = Some("f".repeat(MAX_TEXT_LEN));
        assert_eq!(check_event(&e), Ok(()));

        let over = |patch: &dyn Fn(&mut UsageEvent)| {
            let mut x = e.clone();
            patch(&mut x);
            field_of(&x)
        };
        assert_eq!(over(&|x| x.tokens.input = MAX_TOKENS + 1), "input_tokens");
        assert_eq!(over(&|x| x.occurred_at = chrono::DateTime::UNIX_EPOCH), "timestamp");
        assert_eq!(
            over(&|x| x.occurred_at = chrono::DateTime::from_timestamp(4_102_444_800, 0).unwrap()),
            "timestamp",
            "2100-01-01"
        );
        assert_eq!(over(&|x| x.tokens.output = i64::MAX), "output_tokens");
        assert_eq!(over(&|x| x.request_count = MAX_REQUESTS + 1), "request_count");
        assert_eq!(over(&|x| x.request_count = -1), "request_count");
        assert_eq!(over(&|x| x.latency_ms = Some(MAX_LATENCY_MS + 1)), "latency_ms");
        assert_eq!(over(&|x| x.depth = Some(MAX_DEPTH + 1)), "depth");
        assert_eq!(over(&|x| x.retry = Some(-1)), "retry");
        assert_eq!(over(&|x| x.cost = Nanos(MAX_EVENT_COST.0 + 1)), "cost_usd");
        assert_eq!(over(&|x| x.feature = Some("f".repeat(MAX_TEXT_LEN + 1))), "feature");
        assert_eq!(over(&|x| x.team = Some("a\nb".into())), "team");
        assert_eq!(over(&|x| x.event_id = "x\u{7}".into()), "event_id");
        assert_eq!(over(&|x| x.tags = vec![("k".into(), "v\t".into())]), "tags.k");
        assert_eq!(over(&|x| x.tags = (0..=MAX_TAGS).map(|i| (i.to_string(), "v".into())).collect()), "tags");
    }

    #[test]
    fn the_bounds_leave_room_for_every_sum_the_server_makes() {
        let batch = MAX_BATCH_ITEMS as i128;
        // tokens of a whole batch (input + output of every event) fit an i64 ...
        assert!(batch * i128::from(MAX_TOKENS) * 2 < i128::from(i64::MAX));
        // ... its cost may not (10¹⁹ nanos), which is why batches are summed in i128 first
        assert!(batch * i128::from(MAX_EVENT_COST.0) > i128::from(i64::MAX));
        // the guard adds stored total + delta + ledger, each at most MAX_ORG_TOTAL
        assert!(i128::from(MAX_ORG_TOTAL) * 3 <= i128::from(i64::MAX));
    }

    #[test]
    fn messages_name_the_value_and_the_limit() {
        assert_eq!(count("depth", 1001, 1000).unwrap_err(), "depth: 1001 is above the maximum of 1000");
        assert_eq!(
            amount("cost_usd", Nanos(2_000_000 * 1_000_000_000), MAX_EVENT_COST).unwrap_err(),
            "cost_usd: $2,000,000.00 is above the maximum of $1,000,000.00"
        );
        assert_eq!(text("team", "a\u{1b}", 10).unwrap_err(), "team: contains the control character U+001B");
    }
}
