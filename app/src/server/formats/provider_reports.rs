//! Reading providers' own usage and cost reports (OpenAI's Usage and Costs API, Anthropic's
//! Admin API usage and cost reports) into one shape, for reconciling what a provider bills
//! with what Costroom computed from events. Token counts are put in the OpenTelemetry
//! convention Costroom uses everywhere (input includes cached, output includes reasoning).
//!
//! The trap: Anthropic's cost report states `amount` as a decimal string in the *lowest
//! currency unit* (cents for USD), so "123.78912" is $1.2378912, not $123.79.
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::domain::ingest::usd_to_nanos;
use crate::domain::limits;
use crate::domain::pricing::{parse_scaled, Tokens};
use crate::domain::Nanos;

/// One result of a report bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportLine {
    pub provider: &'static str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub model: Option<String>,
    /// A cost report's amount (USD).
    pub cost: Option<Nanos>,
    /// A usage report's tokens.
    pub tokens: Option<Tokens>,
    pub requests: Option<i64>,
    pub service_tier: Option<String>,
    /// What the provider calls the line (`Claude Opus 5 Usage - Input Tokens`, a line item…).
    pub description: Option<String>,
    /// Project (OpenAI) or workspace (Anthropic).
    pub project: Option<String>,
    pub api_key: Option<String>,
}

/// A report and the cursor for its next page, if any.
#[derive(Debug)]
pub struct Report {
    pub lines: Vec<ReportLine>,
    pub next_page: Option<String>,
}

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

/// A token or request count: absent is 0; anything else must be a whole number in
/// `0..=`[`limits::MAX_TOKENS`].
fn count(v: &Value, k: &str) -> Result<i64, String> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(0),
        Some(n) => match n.as_i64() {
            Some(c) => limits::count(k, c, limits::MAX_TOKENS),
            None => Err(format!("{k}: {} is not a whole number", shown(&n.to_string()))),
        },
    }
}

fn shown(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Each line within the bounds every other source has: its time in the accepted years, its
/// names short and free of control characters, its cost within [`limits::MAX_LINE_COST`].
pub fn check_lines(report: &Report) -> Result<(), String> {
    use chrono::Datelike;
    for (i, l) in report.lines.iter().enumerate() {
        let at = |m: String| format!("line {}: {m}", i + 1);
        for t in [l.start, l.end] {
            if !(limits::MIN_YEAR..=limits::MAX_YEAR).contains(&t.year()) {
                return Err(at(format!(
                    "{} is outside the years {} to {}",
                    t.date_naive(),
                    limits::MIN_YEAR,
                    limits::MAX_YEAR
                )));
            }
        }
        for (field, v, max) in [
            ("model", &l.model, limits::MAX_TEXT_LEN),
            ("service_tier", &l.service_tier, limits::MAX_CODE_LEN),
            ("description", &l.description, 2_048),
            ("project", &l.project, limits::MAX_TEXT_LEN),
            ("api_key", &l.api_key, limits::MAX_TEXT_LEN),
        ] {
            if let Some(v) = v {
                limits::text(field, v, max).map_err(at)?;
            }
        }
        if let Some(c) = l.cost {
            limits::amount("cost", c, limits::MAX_LINE_COST).map_err(at)?;
        }
        if let Some(r) = l.requests {
            limits::count("requests", r, limits::MAX_REQUESTS).map_err(at)?;
        }
    }
    Ok(())
}

fn unix(v: &Value, k: &str) -> Result<DateTime<Utc>, String> {
    v.get(k)
        .and_then(Value::as_i64)
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or_else(|| format!("data[].{k}: expected Unix seconds"))
}

fn rfc3339(v: &Value, k: &str) -> Result<DateTime<Utc>, String> {
    let s = v.get(k).and_then(Value::as_str).ok_or_else(|| format!("data[].{k}: expected a time"))?;
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("data[].{k}: '{s}' is not RFC 3339"))
}

fn parse(body: &str) -> Result<Value, String> {
    serde_json::from_str(body).map_err(|e| format!("line {}, column {}: {e}", e.line(), e.column()))
}

fn buckets(v: &Value) -> Result<&Vec<Value>, String> {
    v.get("data").and_then(Value::as_array).ok_or_else(|| "data: expected a list of buckets".to_string())
}

/// OpenAI `GET /v1/organization/costs`: `amount.value` in USD (a number).
pub fn openai_costs(body: &str) -> Result<Report, String> {
    let v = parse(body)?;
    let mut lines = vec![];
    for (b, bucket) in buckets(&v)?.iter().enumerate() {
        let (start, end) = (unix(bucket, "start_time")?, unix(bucket, "end_time")?);
        for (r, res) in bucket.get("results").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let amount =
                res.get("amount").ok_or_else(|| format!("data[{b}].results[{r}].amount: missing"))?;
            let currency = text(amount, "currency").unwrap_or_default();
            if !currency.eq_ignore_ascii_case("usd") {
                return Err(format!("data[{b}].results[{r}].amount.currency: '{currency}' is not USD"));
            }
            let value =
                amount.get("value").ok_or_else(|| format!("data[{b}].results[{r}].amount.value: missing"))?;
            let cost =
                usd_to_nanos(value).map_err(|e| format!("data[{b}].results[{r}].amount.value: {e}"))?;
            lines.push(ReportLine {
                provider: "openai",
                start,
                end,
                model: None,
                cost: Some(cost),
                tokens: None,
                requests: None,
                service_tier: None,
                description: text(res, "line_item"),
                project: text(res, "project_id"),
                api_key: text(res, "api_key_id"),
            });
        }
    }
    Ok(Report { lines, next_page: text(&v, "next_page") })
}

/// OpenAI `GET /v1/organization/usage/completions`: `input_tokens` already include cached
/// tokens (`input_cached_tokens`) and cache writes (`input_cache_write_tokens`).
pub fn openai_completions_usage(body: &str) -> Result<Report, String> {
    let v = parse(body)?;
    let mut lines = vec![];
    for bucket in buckets(&v)? {
        let (start, end) = (unix(bucket, "start_time")?, unix(bucket, "end_time")?);
        for res in bucket.get("results").and_then(Value::as_array).into_iter().flatten() {
            let tokens = Tokens {
                input: count(res, "input_tokens")?,
                cache_read: count(res, "input_cached_tokens")?,
                cache_write_5m: count(res, "input_cache_write_tokens")?,
                output: count(res, "output_tokens")?,
                input_audio: count(res, "input_audio_tokens")?,
                cache_read_audio: count(res, "input_cached_audio_tokens")?,
                // cached image tokens stay in the cache reads, billed at the cache rate
                input_image: count(res, "input_image_tokens")? - count(res, "input_cached_image_tokens")?,
                output_audio: count(res, "output_audio_tokens")?,
                output_image: count(res, "output_image_tokens")?,
                ..Default::default()
            };
            tokens.check()?;
            let tier = match res.get("batch").and_then(Value::as_bool) {
                Some(true) => Some("batch".to_string()),
                _ => text(res, "service_tier"),
            };
            lines.push(ReportLine {
                provider: "openai",
                start,
                end,
                model: text(res, "model"),
                cost: None,
                tokens: Some(tokens),
                requests: Some(count(res, "num_model_requests")?),
                service_tier: tier,
                description: None,
                project: text(res, "project_id"),
                api_key: text(res, "api_key_id"),
            });
        }
    }
    Ok(Report { lines, next_page: text(&v, "next_page") })
}

/// Anthropic `GET /v1/organizations/cost_report`: `amount` in cents, as a decimal string.
pub fn anthropic_costs(body: &str) -> Result<Report, String> {
    let v = parse(body)?;
    let mut lines = vec![];
    for (b, bucket) in buckets(&v)?.iter().enumerate() {
        let (start, end) = (rfc3339(bucket, "starting_at")?, rfc3339(bucket, "ending_at")?);
        for (r, res) in bucket.get("results").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let field = format!("data[{b}].results[{r}].amount");
            let currency = text(res, "currency").unwrap_or_default();
            if !currency.eq_ignore_ascii_case("USD") {
                return Err(format!("data[{b}].results[{r}].currency: '{currency}' is not USD"));
            }
            let cents = text(res, "amount").ok_or_else(|| format!("{field}: missing"))?;
            // 1 cent = 10,000,000 nano-dollars: exact up to 7 decimals of a cent
            let cost = parse_scaled(&cents, 7)
                .ok_or_else(|| format!("{field}: '{}' is not a decimal number of cents", shown(&cents)))?;
            lines.push(ReportLine {
                provider: "anthropic",
                start,
                end,
                model: text(res, "model"),
                cost: Some(Nanos(cost)),
                tokens: None,
                requests: None,
                service_tier: text(res, "service_tier"),
                description: text(res, "description"),
                project: text(res, "workspace_id"),
                api_key: None,
            });
        }
    }
    Ok(Report { lines, next_page: text(&v, "next_page") })
}

/// Anthropic `GET /v1/organizations/usage_report/messages`: `uncached_input_tokens` exclude
/// cache reads and writes, which Costroom's `input` includes.
pub fn anthropic_messages_usage(body: &str) -> Result<Report, String> {
    let v = parse(body)?;
    let mut lines = vec![];
    for bucket in buckets(&v)? {
        let (start, end) = (rfc3339(bucket, "starting_at")?, rfc3339(bucket, "ending_at")?);
        for res in bucket.get("results").and_then(Value::as_array).into_iter().flatten() {
            let creation = res.get("cache_creation").cloned().unwrap_or(Value::Null);
            let (w5, w1) = (
                count(&creation, "ephemeral_5m_input_tokens")?,
                count(&creation, "ephemeral_1h_input_tokens")?,
            );
            let read = count(res, "cache_read_input_tokens")?;
            let tools = res.get("server_tool_use").cloned().unwrap_or(Value::Null);
            let tokens = Tokens {
                input: count(res, "uncached_input_tokens")? + read + w5 + w1,
                cache_read: read,
                cache_write_5m: w5,
                cache_write_1h: w1,
                output: count(res, "output_tokens")?,
                web_search_calls: count(&tools, "web_search_requests")?,
                ..Default::default()
            };
            lines.push(ReportLine {
                provider: "anthropic",
                start,
                end,
                model: text(res, "model"),
                cost: None,
                tokens: Some(tokens),
                requests: None,
                service_tier: text(res, "service_tier"),
                description: None,
                project: text(res, "workspace_id"),
                api_key: text(res, "api_key_id"),
            });
        }
    }
    Ok(Report { lines, next_page: text(&v, "next_page") })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/provider-reports")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn anthropic_cost_amounts_are_cents() {
        let r = anthropic_costs(&fixture("example_cost_report.json")).unwrap();
        let l = &r.lines[0];
        // "123.78912" cents = $1.2378912, not $123.79
        assert_eq!(l.cost, Some(Nanos(1_237_891_200)));
        assert_eq!(l.cost.unwrap().usd(), "$1.24");
        assert_eq!(
            (l.model.as_deref(), l.service_tier.as_deref()),
            (Some("claude-opus-5"), Some("standard"))
        );
        assert_eq!(l.start.to_rfc3339(), "2025-08-01T00:00:00+00:00");
        assert_eq!(r.next_page.as_deref(), Some("page_MjAyNS0wNS0xNFQwMDowMDowMFo="));
        let eur = r#"{"data":[{"starting_at":"2025-08-01T00:00:00Z","ending_at":"2025-08-02T00:00:00Z","results":[{"amount":"1","currency":"EUR"}]}]}"#;
        assert!(anthropic_costs(eur).unwrap_err().contains("'EUR' is not USD"));
    }

    #[test]
    fn anthropic_usage_tokens_in_costrooms_convention() {
        let r = anthropic_messages_usage(&fixture("example_usage_report_messages.json")).unwrap();
        let t = r.lines[0].tokens.unwrap();
        // uncached 1500 + cache read 200 + writes 500 (5 min) and 1000 (1 h)
        assert_eq!(
            t,
            Tokens {
                input: 3200,
                cache_read: 200,
                cache_write_5m: 500,
                cache_write_1h: 1000,
                output: 500,
                web_search_calls: 10,
                ..Default::default()
            }
        );
        assert_eq!(t.billable(crate::domain::pricing::TokenClass::Input), 1500);
        assert_eq!(r.lines[0].model.as_deref(), Some("claude-sonnet-4-20250514"));
    }

    #[test]
    fn openai_costs_and_completions_usage() {
        let c = openai_costs(&fixture("example_response_costs.json")).unwrap();
        assert_eq!(c.lines.len(), 1);
        assert_eq!(c.lines[0].cost, Some(Nanos(60_000_000)), "$0.06");
        assert_eq!(c.lines[0].start.timestamp(), 1_730_419_200);
        let u = openai_completions_usage(&fixture("example_response_usage_completions.json")).unwrap();
        let l = &u.lines[0];
        assert_eq!(
            l.tokens,
            Some(Tokens {
                input: 1000,
                cache_read: 400,
                cache_write_5m: 100,
                output: 500,
                input_audio: 50,
                cache_read_audio: 50,
                input_image: 0,
                output_audio: 50,
                output_image: 50,
                ..Default::default()
            })
        );
        assert_eq!(
            l.tokens.unwrap().billable(crate::domain::pricing::TokenClass::Input),
            500,
            "= input_uncached_tokens"
        );
        assert_eq!(l.requests, Some(5));
        assert!(openai_costs("{").unwrap_err().starts_with("line 1, column 1"));
    }
}
