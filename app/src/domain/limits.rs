//! The documented bounds of every count and amount Costroom accepts, and the checks of single
//! values against them (a leaf: it imports no domain type but money). The check of a whole
//! usage event is `event_bounds::check_event`.
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
use super::Nanos;

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
