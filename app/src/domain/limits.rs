//! The documented bounds of every count and amount Costroom accepts, and the one check of a
//! usage event against them. Every path that brings events (JSON/NDJSON, OTLP protobuf and
//! JSON, `costroom import events`, the demo) goes through [`check_event`], so the same input
//! is refused with the same words wherever it arrives.
//!
//! Why these numbers: they sit far above anything a real provider reports, yet low enough that
//! no sum of accepted values can leave a 64-bit integer:
//! - one event: ≤ 10¹² tokens per class and ≤ $1,000,000; a batch of 10,000 such events sums
//!   to ≤ 10¹⁶ tokens and ≤ 10¹⁹ nanos, which is summed in `i128` before anything is stored;
//! - one organisation, over its whole life: ≤ [`MAX_ORG_TOTAL`] nanos of spend (token events
//!   plus the absolute value of every ledger line) and as many tokens and requests. Every
//!   stored rollup row and every range a page sums is part of that total, so no figure the
//!   database or Rust adds up can overflow; [`MAX_ORG_TOTAL`] × 3 still fits in an `i64`, so
//!   the guard's own `total + delta + ledger` comparison cannot overflow either.
use super::pricing::Tokens;
use super::{Nanos, UsageEvent};

/// Tokens in one class of one event: a trillion.
pub const MAX_TOKENS: i64 = 1_000_000_000_000;
/// Requests one event may stand for (an aggregated event counts several).
pub const MAX_REQUESTS: i64 = 1_000_000_000;
/// The largest cost of one event, reported or computed: $1,000,000.
pub const MAX_EVENT_COST: Nanos = Nanos(1_000_000 * super::money::NANOS_PER_USD);
/// Latency of one call: a week (batch APIs may take a day).
pub const MAX_LATENCY_MS: i64 = 7 * 86_400_000;
/// Depth of a step in an agent trace, and retries of one step.
pub const MAX_DEPTH: i64 = 1_000;
pub const MAX_RETRY: i64 = 1_000;
/// Ids (`event_id`, trace and span ids) and names (provider, model, team, tags, …), in bytes.
pub const MAX_ID_LEN: usize = 200;
pub const MAX_TEXT_LEN: usize = 200;
/// Short codes: operation, status, service tier.
pub const MAX_CODE_LEN: usize = 64;
pub const MAX_TAGS: usize = 50;
/// Items (events, spans, records) in one request or file batch.
pub const MAX_BATCH_ITEMS: usize = 10_000;
/// A request body after gzip decompression.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// One ledger line (FOCUS row, GPU day, training run, commitment): ±$1,000,000,000.
pub const MAX_LINE_COST: Nanos = Nanos(1_000_000_000 * super::money::NANOS_PER_USD);
/// An organisation's lifetime spend in nanos ($3,000,000,000), and its lifetime tokens and
/// requests. See the module comment for why three of them still fit in an `i64`.
pub const MAX_ORG_TOTAL: i64 = 3_000_000_000_000_000_000;
/// A commitment's term: five years.
pub const MAX_COMMITMENT_DAYS: i64 = 1_827;
/// A training run: one year.
pub const MAX_TRAINING_DAYS: i64 = 366;
/// Events happen in 2000-01-01 ..= 2099-12-31 (UTC): daily series that start at the first
/// event stay within 36,525 days, however a clock or a client is set.
pub const MIN_YEAR: i32 = 2000;
pub const MAX_YEAR: i32 = 2099;
/// A price-book rate: $1 per token (femto-USD), a thousand times any list price.
pub const MAX_RATE_FEMTO: i64 = 1_000_000_000_000_000;

/// `"field: reason"` for a count outside `0..=max`.
pub fn count(field: &str, v: i64, max: i64) -> Result<i64, String> {
    if v < 0 {
        Err(format!("{field}: must not be negative (got {v})"))
    } else if v > max {
        Err(format!("{field}: {v} is above the maximum of {max}"))
    } else {
        Ok(v)
    }
}

/// `"field: reason"` for text that is too long or holds a control character (a tab or a
/// newline in a name would break CSV exports and log lines).
pub fn text(field: &str, v: &str, max: usize) -> Result<(), String> {
    if v.len() > max {
        return Err(format!("{field}: longer than {max} bytes"));
    }
    if let Some(c) = v.chars().find(|c| c.is_control()) {
        return Err(format!("{field}: contains the control character U+{:04X}", c as u32));
    }
    Ok(())
}

/// `"field: reason"` for an amount of money outside `0..=max`.
pub fn amount(field: &str, v: Nanos, max: Nanos) -> Result<Nanos, String> {
    if v.0 < 0 {
        Err(format!("{field}: must not be negative ({})", v.usd()))
    } else if v > max {
        Err(format!("{field}: {} is above the maximum of {}", v.usd(), max.usd()))
    } else {
        Ok(v)
    }
}

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

/// Token counts within [`MAX_TOKENS`] per class, and consistent (cached ⊆ input, reasoning ⊆
/// output).
pub fn check_tokens(t: &Tokens) -> Result<(), String> {
    for (field, v) in [
        ("input_tokens", t.input),
        ("cache_read_tokens", t.cache_read),
        ("cache_write_5m_tokens", t.cache_write_5m),
        ("cache_write_1h_tokens", t.cache_write_1h),
        ("output_tokens", t.output),
        ("reasoning_tokens", t.reasoning),
    ] {
        count(field, v, MAX_TOKENS)?;
    }
    t.check()
}

#[cfg(test)]
mod tests {
    use super::*;

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
