//! Guardrails: rules checked before a model call is made (`POST /api/v1/authorize`), so a cost
//! boundary holds before it is crossed rather than being reported after.
//!
//! A rule has a scope (the organisation, or one team, initiative, feature, customer,
//! environment or API key), a mode (`enforce` denies; `shadow` decides and logs, never denies),
//! a failure mode (what to answer when the database cannot be reached in time) and one limit:
//! a spend cap per window, a model allow- or deny-list, per-request limits, a rate limit, or
//! agent-run limits. Every rule that applies to a call is checked; the call is denied when any
//! enforced rule denies, and the answer names every rule that did.
//!
//! This module is pure: it reads rules, decides what the stateless limits say, keeps token
//! buckets exactly (integer milli-tokens, a caller-supplied clock) and says which window a
//! spend cap counts in. Reserving money against caps is the database's job (atomic there).
use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

use super::Nanos;

/// Who a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    Org,
    Team,
    Initiative,
    Feature,
    Customer,
    Environment,
    ApiKey,
}

impl ScopeKind {
    pub const ALL: [ScopeKind; 7] = [
        ScopeKind::Org,
        ScopeKind::Team,
        ScopeKind::Initiative,
        ScopeKind::Feature,
        ScopeKind::Customer,
        ScopeKind::Environment,
        ScopeKind::ApiKey,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Org => "org",
            ScopeKind::Team => "team",
            ScopeKind::Initiative => "initiative",
            ScopeKind::Feature => "feature",
            ScopeKind::Customer => "customer",
            ScopeKind::Environment => "environment",
            ScopeKind::ApiKey => "api_key",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<ScopeKind, String> {
        ScopeKind::ALL.into_iter().find(|k| k.as_str() == s.trim()).ok_or_else(|| {
            format!(
                "{field}: '{s}' is not one of org, team, initiative, feature, customer, environment, api_key"
            )
        })
    }
}

/// A rule's scope: the kind and, except for the organisation, the value it names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    pub kind: ScopeKind,
    #[serde(default)]
    pub value: String,
}

impl Scope {
    /// Whether a call of these attributes is in the scope.
    pub fn covers(&self, call: &Call) -> bool {
        let v = match self.kind {
            ScopeKind::Org => return true,
            ScopeKind::Team => &call.team,
            ScopeKind::Initiative => &call.initiative,
            ScopeKind::Feature => &call.feature,
            ScopeKind::Customer => &call.customer,
            ScopeKind::Environment => &call.environment,
            ScopeKind::ApiKey => &call.api_key,
        };
        v.as_deref() == Some(self.value.as_str())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Enforce,
    /// Decide and log what enforcing would have done; never deny.
    Shadow,
}

/// What a rule answers when its state cannot be read in time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    #[default]
    FailClosed,
    FailOpen,
}

/// The window a spend cap counts in (UTC days; weeks start on Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Week,
    Month,
    /// The last N days, today included.
    Rolling(u16),
}

impl Period {
    /// The first and last day of the window that holds `day`.
    pub fn window(self, day: NaiveDate) -> (NaiveDate, NaiveDate) {
        match self {
            Period::Day => (day, day),
            Period::Week => {
                let start = day - Days::new(u64::from(day.weekday().num_days_from_monday()));
                (start, start + Days::new(6))
            }
            Period::Month => {
                let start = day.with_day(1).expect("day 1 exists");
                let next = start.checked_add_months(chrono::Months::new(1)).expect("in range");
                (start, next - Days::new(1))
            }
            Period::Rolling(n) => (day - Days::new(u64::from(n.max(1)) - 1), day),
        }
    }
}

/// A model name pattern: `*` matches any run of characters, compared without case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pattern(pub String);

impl Pattern {
    pub fn matches(&self, name: &str) -> bool {
        glob(&self.0.to_lowercase(), &name.to_lowercase())
    }
}

/// `*` as any run, everything else literal; linear in the text for patterns with few stars.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// What a rule limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Limit {
    /// Spend per window. Hard: deny when the call's worst case would pass it. Soft: allow,
    /// with a warning once spend passes each threshold (percent of the amount).
    Cap {
        period: Period,
        amount_nanos: i64,
        #[serde(default = "yes")]
        hard: bool,
        #[serde(default)]
        warn_at_pct: Vec<u8>,
    },
    /// Models a scope may call: with `allow`, only those matching; without, none matching.
    Models {
        allow: bool,
        #[serde(default)]
        provider: Option<Pattern>,
        models: Vec<Pattern>,
        /// A model to suggest in the denial.
        #[serde(default)]
        instead: Option<String>,
    },
    /// Limits on one call.
    Request {
        #[serde(default)]
        max_tokens: Option<i64>,
        #[serde(default)]
        max_input_tokens: Option<i64>,
        #[serde(default)]
        max_cost_nanos: Option<i64>,
    },
    /// Token buckets: `per_minute` refills, up to `burst` at once (default: a minute's worth).
    Rate {
        #[serde(default)]
        requests_per_minute: Option<i64>,
        #[serde(default)]
        tokens_per_minute: Option<i64>,
        #[serde(default)]
        burst: Option<i64>,
    },
    /// Limits on one agent run (all calls with the same trace id).
    Agent {
        #[serde(default)]
        max_depth: Option<i64>,
        #[serde(default)]
        max_retries: Option<i64>,
        #[serde(default)]
        max_run_cost_nanos: Option<i64>,
        #[serde(default)]
        max_calls: Option<i64>,
    },
}

fn yes() -> bool {
    true
}

/// What to do with a call whose model has no price (its worst case cannot be known).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unpriced {
    #[default]
    Deny,
    Allow,
}

/// One guardrail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub id: i64,
    pub name: String,
    pub scope: Scope,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub failure: FailureMode,
    #[serde(default)]
    pub unpriced: Unpriced,
    pub effective_from: NaiveDate,
    pub limit: Limit,
}

/// Why a call was denied (the answer's `code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    BudgetExhausted,
    ModelNotAllowed,
    RateLimited,
    MaxTokensExceeded,
    InputTokensExceeded,
    CostPerCallExceeded,
    DepthExceeded,
    RetriesExceeded,
    RunBudgetExhausted,
    RunCallsExceeded,
    #[serde(rename = "unpriced_model")]
    Unpriced,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BudgetExhausted => "budget_exhausted",
            Code::ModelNotAllowed => "model_not_allowed",
            Code::RateLimited => "rate_limited",
            Code::MaxTokensExceeded => "max_tokens_exceeded",
            Code::InputTokensExceeded => "input_tokens_exceeded",
            Code::CostPerCallExceeded => "cost_per_call_exceeded",
            Code::DepthExceeded => "depth_exceeded",
            Code::RetriesExceeded => "retries_exceeded",
            Code::RunBudgetExhausted => "run_budget_exhausted",
            Code::RunCallsExceeded => "run_calls_exceeded",
            Code::Unpriced => "unpriced_model",
        }
    }
}

/// A call about to be made, as the caller states it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    pub team: Option<String>,
    pub feature: Option<String>,
    pub initiative: Option<String>,
    pub customer: Option<String>,
    pub environment: Option<String>,
    pub api_key: Option<String>,
    pub trace_id: Option<String>,
    pub depth: i64,
    pub retry: i64,
    pub provider: String,
    pub model: String,
    pub input_tokens: i64,
    pub max_tokens: i64,
    /// The worst case priced from the book (`input_tokens` in, `max_tokens` out); `None` when
    /// the model has no price.
    pub worst_case: Option<Nanos>,
}

/// One rule's verdict on a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub rule_id: i64,
    pub rule: String,
    pub code: Code,
    pub message: String,
    /// Shadow rules report what they would have done.
    pub shadow: bool,
}

impl Rule {
    /// Whether the rule is in force on `day` for this call.
    pub fn applies(&self, call: &Call, day: NaiveDate) -> bool {
        self.effective_from <= day && self.scope.covers(call)
    }

    /// The verdicts of the rule's stateless limits (models, per-request, agent depth and
    /// retries; and an unpriced model under a cost limit). Caps, rates and run budgets need
    /// state: see [`Bucket`] and the database's reservations.
    pub fn check(&self, call: &Call) -> Vec<Verdict> {
        let mut out = vec![];
        let mut deny = |code: Code, message: String| {
            out.push(Verdict {
                rule_id: self.id,
                rule: self.name.clone(),
                code,
                message,
                shadow: self.mode == Mode::Shadow,
            });
        };
        match &self.limit {
            Limit::Models { allow, provider, models, instead } => {
                let provider_ok = provider.as_ref().is_none_or(|p| p.matches(&call.provider));
                let listed = provider_ok && models.iter().any(|m| m.matches(&call.model));
                if listed != *allow {
                    let how = if *allow { "is not on the allow-list" } else { "is on the deny-list" };
                    let hint = instead.as_ref().map(|m| format!("; use {m} instead")).unwrap_or_default();
                    deny(
                        Code::ModelNotAllowed,
                        format!("{} {how} of rule '{}'{hint}", call.model, self.name),
                    );
                }
            }
            Limit::Request { max_tokens, max_input_tokens, max_cost_nanos } => {
                if let Some(m) = max_tokens.filter(|m| call.max_tokens > *m) {
                    deny(
                        Code::MaxTokensExceeded,
                        format!("max_tokens {} is above the limit of {m}", call.max_tokens),
                    );
                }
                if let Some(m) = max_input_tokens.filter(|m| call.input_tokens > *m) {
                    deny(
                        Code::InputTokensExceeded,
                        format!("{} estimated input tokens are above the limit of {m}", call.input_tokens),
                    );
                }
                if let Some(m) = max_cost_nanos {
                    match call.worst_case {
                        Some(c) if c.0 > *m => deny(
                            Code::CostPerCallExceeded,
                            format!(
                                "the call may cost {}, above the limit of {} a call",
                                c.usd(),
                                Nanos(*m).usd()
                            ),
                        ),
                        None if self.unpriced == Unpriced::Deny => {
                            deny(Code::Unpriced, self.unpriced_message(call))
                        }
                        _ => {}
                    }
                }
            }
            Limit::Agent { max_depth, max_retries, .. } => {
                if let Some(m) = max_depth.filter(|m| call.depth > *m) {
                    deny(
                        Code::DepthExceeded,
                        format!("depth {} is beyond the run's limit of {m}", call.depth),
                    );
                }
                if let Some(m) = max_retries.filter(|m| call.retry > *m) {
                    deny(
                        Code::RetriesExceeded,
                        format!("retry {} is beyond the run's limit of {m}", call.retry),
                    );
                }
            }
            Limit::Cap { .. } | Limit::Rate { .. } => {
                if call.worst_case.is_none()
                    && self.unpriced == Unpriced::Deny
                    && matches!(self.limit, Limit::Cap { .. })
                {
                    deny(Code::Unpriced, self.unpriced_message(call));
                }
            }
        }
        out
    }

    fn unpriced_message(&self, call: &Call) -> String {
        format!(
            "{} has no price, so its cost cannot be held against rule '{}' (the rule denies unpriced models)",
            call.model, self.name
        )
    }
}

/// A token bucket, exact: milli-tokens, refilled per elapsed millisecond, never above the
/// burst. `at_ms` is the caller's clock (Unix milliseconds), so tests control time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub per_minute: i64,
    pub burst: i64,
    milli: i128,
    at_ms: i64,
}

impl Bucket {
    /// A full bucket at `now_ms`.
    pub fn new(per_minute: i64, burst: i64, now_ms: i64) -> Bucket {
        Bucket { per_minute, burst, milli: i128::from(burst) * 1000, at_ms: now_ms }
    }

    /// A bucket as stored: `milli` milli-tokens at `at_ms`.
    pub fn restore(per_minute: i64, burst: i64, milli: i64, at_ms: i64) -> Bucket {
        Bucket { per_minute, burst, milli: i128::from(milli), at_ms }
    }

    /// (milli-tokens, at_ms), to store.
    pub fn state(&self) -> (i64, i64) {
        (i64::try_from(self.milli).unwrap_or(i64::MAX), self.at_ms)
    }

    fn refill(&mut self, now_ms: i64) {
        let elapsed = i128::from((now_ms - self.at_ms).max(0));
        // per_minute tokens per 60,000 ms = per_minute milli-tokens per 60 ms
        self.milli =
            (self.milli + elapsed * i128::from(self.per_minute) / 60).min(i128::from(self.burst) * 1000);
        self.at_ms = self.at_ms.max(now_ms);
    }

    /// Takes `n` tokens at `now_ms`, or answers the whole seconds to wait until they are there
    /// (rounded up, so a retry after that many seconds succeeds). A take larger than the burst
    /// can never succeed: `Err(None)`.
    pub fn take(&mut self, n: i64, now_ms: i64) -> Result<(), Option<i64>> {
        if n > self.burst || self.per_minute <= 0 {
            return Err(None);
        }
        self.refill(now_ms);
        let need = i128::from(n) * 1000;
        if self.milli >= need {
            self.milli -= need;
            return Ok(());
        }
        // ms until the deficit refills: deficit × 60 / per_minute, rounded up
        let deficit = need - self.milli;
        let per = i128::from(self.per_minute);
        let ms = (deficit * 60 + per - 1) / per;
        Err(Some(((ms + 999) / 1000) as i64))
    }
}

/// Seconds a reservation is held when the request names no `ttl_seconds`.
pub const DEFAULT_TTL_SECS: i64 = 300;
/// The longest hold a caller may ask for.
pub const MAX_TTL_SECS: i64 = 3_600;

/// The fields of an authorize request.
pub const CALL_FIELDS: [&str; 13] = [
    "provider",
    "model",
    "input_tokens",
    "max_tokens",
    "team",
    "feature",
    "initiative",
    "customer",
    "environment",
    "trace_id",
    "depth",
    "retry",
    "ttl_seconds",
];

/// Reads an authorize request (`{"provider", "model", "input_tokens", "max_tokens", …}`):
/// the call and the seconds to hold its reservation. Errors are (field, reason).
pub fn parse_call(v: &serde_json::Value) -> Result<(Call, i64), (String, String)> {
    let err = |f: &str, r: String| (f.to_string(), r);
    let obj = v.as_object().ok_or_else(|| err("body", "expected a JSON object".into()))?;
    if let Some(k) = obj.keys().find(|k| !CALL_FIELDS.contains(&k.as_str())) {
        return Err(err(k, "unknown field".into()));
    }
    let text = |f: &str, required: bool| -> Result<Option<String>, (String, String)> {
        match obj.get(f) {
            None | Some(serde_json::Value::Null) if required => Err(err(f, "required".into())),
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) if s.trim().is_empty() && required => {
                Err(err(f, "required".into()))
            }
            Some(serde_json::Value::String(s)) if s.len() > super::limits::MAX_TEXT_LEN => {
                Err(err(f, format!("at most {} bytes", super::limits::MAX_TEXT_LEN)))
            }
            Some(serde_json::Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
            Some(other) => Err(err(f, format!("expected a string, got {other}"))),
        }
    };
    let count = |f: &str, min: i64, max: i64, default: Option<i64>| -> Result<i64, (String, String)> {
        match obj.get(f) {
            None | Some(serde_json::Value::Null) => default.ok_or_else(|| err(f, "required".into())),
            Some(serde_json::Value::Number(n)) => match n.as_i64() {
                Some(i) if (min..=max).contains(&i) => Ok(i),
                _ => Err(err(f, format!("a whole number from {min} to {max} (got {n})"))),
            },
            Some(other) => Err(err(f, format!("expected a whole number, got {other}"))),
        }
    };
    let tokens = super::limits::MAX_TOKENS;
    let call = Call {
        provider: text("provider", true)?.unwrap_or_default(),
        model: text("model", true)?.unwrap_or_default(),
        input_tokens: count("input_tokens", 0, tokens, None)?,
        max_tokens: count("max_tokens", 1, tokens, None)?,
        team: text("team", false)?,
        feature: text("feature", false)?,
        initiative: text("initiative", false)?,
        customer: text("customer", false)?,
        environment: text("environment", false)?,
        trace_id: text("trace_id", false)?,
        depth: count("depth", 0, super::limits::MAX_DEPTH, Some(0))?,
        retry: count("retry", 0, super::limits::MAX_RETRY, Some(0))?,
        api_key: None,
        worst_case: None,
    };
    let ttl = count("ttl_seconds", 1, MAX_TTL_SECS, Some(DEFAULT_TTL_SECS))?;
    Ok((call, ttl))
}

/// Reads a rule written as JSON (a policy file's entry, a page's form), every mistake named
/// by its field.
pub fn parse_rule(v: &serde_json::Value) -> Result<Rule, String> {
    let rule: Rule = serde_json::from_value(v.clone()).map_err(|e| {
        let m = e.to_string();
        // serde names the field in its message ("missing field `scope`", "unknown variant …")
        match m.split('`').nth(1) {
            Some(field) if m.starts_with("missing field") => format!("{field}: required"),
            _ => format!("rule: {m}"),
        }
    })?;
    rule.validate()?;
    Ok(rule)
}

impl Rule {
    /// Checks what the types cannot: names, scope values, positive amounts and limits.
    pub fn validate(&self) -> Result<(), String> {
        let name = self.name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err("name: 1 to 100 characters".into());
        }
        match (self.scope.kind, self.scope.value.trim().is_empty()) {
            (ScopeKind::Org, false) => {
                return Err("scope.value: the organisation scope takes no value".into())
            }
            (k, true) if k != ScopeKind::Org => {
                return Err(format!("scope.value: a {} scope names its {}", k.as_str(), k.as_str()))
            }
            _ => {}
        }
        let positive = |field: &str, v: Option<i64>| match v {
            Some(n) if n <= 0 => Err(format!("{field}: must be above 0 (got {n})")),
            Some(n) if n > super::limits::MAX_TOKENS => {
                Err(format!("{field}: at most {} (got {n})", super::limits::MAX_TOKENS))
            }
            _ => Ok(()),
        };
        match &self.limit {
            Limit::Cap { period, amount_nanos, warn_at_pct, .. } => {
                if *amount_nanos <= 0 || *amount_nanos > super::limits::MAX_EVENT_COST.0 {
                    return Err(format!(
                        "amount_nanos: between 1 and {} (got {amount_nanos})",
                        super::limits::MAX_EVENT_COST.0
                    ));
                }
                if let Period::Rolling(n) = period {
                    if !(1..=366).contains(n) {
                        return Err(format!("period: a rolling window of 1 to 366 days (got {n})"));
                    }
                }
                if let Some(p) = warn_at_pct.iter().find(|p| **p == 0 || **p > 100) {
                    return Err(format!("warn_at_pct: thresholds are 1 to 100 percent (got {p})"));
                }
            }
            Limit::Models { models, .. } => {
                if models.is_empty() || models.iter().any(|m| m.0.trim().is_empty()) {
                    return Err("models: at least one non-empty model pattern".into());
                }
            }
            Limit::Request { max_tokens, max_input_tokens, max_cost_nanos } => {
                if max_tokens.is_none() && max_input_tokens.is_none() && max_cost_nanos.is_none() {
                    return Err(
                        "max_tokens: a request rule needs max_tokens, max_input_tokens or max_cost_nanos"
                            .into(),
                    );
                }
                positive("max_tokens", *max_tokens)?;
                positive("max_input_tokens", *max_input_tokens)?;
                positive("max_cost_nanos", *max_cost_nanos)?;
            }
            Limit::Rate { requests_per_minute, tokens_per_minute, burst } => {
                if requests_per_minute.is_none() && tokens_per_minute.is_none() {
                    return Err(
                        "requests_per_minute: a rate rule needs requests_per_minute or tokens_per_minute"
                            .into(),
                    );
                }
                positive("requests_per_minute", *requests_per_minute)?;
                positive("tokens_per_minute", *tokens_per_minute)?;
                positive("burst", *burst)?;
            }
            Limit::Agent { max_depth, max_retries, max_run_cost_nanos, max_calls } => {
                if [max_depth, max_retries, max_run_cost_nanos, max_calls].iter().all(|v| v.is_none()) {
                    return Err(
                        "max_depth: an agent rule needs max_depth, max_retries, max_run_cost_nanos or max_calls".into()
                    );
                }
                for (f, v) in [("max_depth", max_depth), ("max_retries", max_retries)] {
                    if let Some(n) = v.filter(|n| *n < 0) {
                        return Err(format!("{f}: must not be negative (got {n})"));
                    }
                }
                positive("max_run_cost_nanos", *max_run_cost_nanos)?;
                positive("max_calls", *max_calls)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn rule(limit: serde_json::Value) -> Rule {
        parse_rule(
            &json!({"name": "r", "scope": {"kind": "team", "value": "search"}, "effective_from": "2026-11-01",
            "limit": limit}),
        )
        .unwrap()
    }

    fn call() -> Call {
        Call {
            team: Some("search".into()),
            feature: Some("faq".into()),
            provider: "anthropic".into(),
            model: "claude-opus-4-1".into(),
            input_tokens: 1_000,
            max_tokens: 500,
            worst_case: Some(Nanos(50_000_000)),
            ..Default::default()
        }
    }

    #[test]
    fn codes_read_the_same_in_json_and_in_messages() {
        for c in [Code::BudgetExhausted, Code::Unpriced, Code::RunCallsExceeded, Code::CostPerCallExceeded] {
            assert_eq!(serde_json::to_value(c).unwrap(), json!(c.as_str()));
        }
    }

    #[test]
    fn windows_are_utc_days_monday_weeks_calendar_months_and_rolling_days() {
        let day = d("2026-11-20"); // a Friday
        assert_eq!(Period::Day.window(day), (day, day));
        assert_eq!(Period::Week.window(day), (d("2026-11-16"), d("2026-11-22")));
        assert_eq!(Period::Month.window(day), (d("2026-11-01"), d("2026-11-30")));
        assert_eq!(Period::Month.window(d("2028-02-29")), (d("2028-02-01"), d("2028-02-29")));
        assert_eq!(Period::Rolling(7).window(day), (d("2026-11-14"), day));
    }

    #[test]
    fn model_rules_allow_or_deny_by_pattern_and_suggest_another() {
        let deny = rule(
            json!({"kind": "models", "allow": false, "models": ["claude-opus-*"], "instead": "claude-sonnet-4-5"}),
        );
        let v = deny.check(&call());
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].code, Code::ModelNotAllowed);
        assert_eq!(
            v[0].message,
            "claude-opus-4-1 is on the deny-list of rule 'r'; use claude-sonnet-4-5 instead"
        );
        assert!(deny.check(&Call { model: "Claude-Sonnet-4-5".into(), ..call() }).is_empty());
        let allow =
            rule(json!({"kind": "models", "allow": true, "provider": "openai", "models": ["gpt-4o*", "o3"]}));
        assert_eq!(allow.check(&call())[0].code, Code::ModelNotAllowed, "another provider");
        let ok = Call { provider: "openai".into(), model: "gpt-4o-mini".into(), ..call() };
        assert!(allow.check(&ok).is_empty());
        assert!(glob("a*b*c", "axxbyyc") && !glob("a*b*c", "axxc") && glob("*", "") && !glob("ab*ba", "aba"));
    }

    #[test]
    fn per_request_and_agent_limits_name_what_they_exceeded() {
        let r = rule(
            json!({"kind": "request", "max_tokens": 400, "max_input_tokens": 999, "max_cost_nanos": 10_000_000}),
        );
        let codes: Vec<Code> = r.check(&call()).iter().map(|v| v.code).collect();
        assert_eq!(
            codes,
            vec![Code::MaxTokensExceeded, Code::InputTokensExceeded, Code::CostPerCallExceeded]
        );
        assert_eq!(r.check(&call())[2].message, "the call may cost $0.05, above the limit of $0.01 a call");
        assert_eq!(
            r.check(&Call { worst_case: None, input_tokens: 1, max_tokens: 1, ..call() })[0].code,
            Code::Unpriced
        );
        let agent = rule(json!({"kind": "agent", "max_depth": 5, "max_retries": 3}));
        // a run 6 deep with 4 retries: the 6th level and the 4th retry are denied, not before
        let at = |depth, retry| {
            agent.check(&Call { depth, retry, ..call() }).iter().map(|v| v.code).collect::<Vec<_>>()
        };
        assert_eq!(at(5, 3), vec![]);
        assert_eq!(at(6, 3), vec![Code::DepthExceeded]);
        assert_eq!(at(5, 4), vec![Code::RetriesExceeded]);
        let shadow = Rule { mode: Mode::Shadow, ..agent };
        assert!(
            shadow.check(&Call { depth: 9, ..call() })[0].shadow,
            "shadow rules say what they would deny"
        );
    }

    #[test]
    fn scopes_cover_only_their_calls() {
        let mut r = rule(json!({"kind": "agent", "max_depth": 1}));
        assert!(r.applies(&call(), d("2026-11-01")));
        assert!(!r.applies(&call(), d("2026-10-31")), "not before it is in force");
        assert!(!r.applies(&Call { team: Some("ads".into()), ..call() }, d("2026-11-20")));
        r.scope = Scope { kind: ScopeKind::Org, value: String::new() };
        assert!(r.applies(&Call { team: None, ..call() }, d("2026-11-20")));
    }

    #[test]
    fn a_60_rpm_bucket_with_burst_10_admits_10_then_one_a_second() {
        let t0 = 1_800_000_000_000;
        let mut b = Bucket::new(60, 10, t0);
        for _ in 0..10 {
            assert_eq!(b.take(1, t0), Ok(()));
        }
        assert_eq!(b.take(1, t0), Err(Some(1)), "the 11th waits a second");
        assert_eq!(b.take(1, t0 + 999), Err(Some(1)), "1 ms short: still a second (rounded up)");
        assert_eq!(b.take(1, t0 + 1_000), Ok(()));
        assert_eq!(b.take(1, t0 + 1_500), Err(Some(1)));
        assert_eq!(b.take(1, t0 + 2_000), Ok(()));
        // an idle minute refills to the burst, never above it
        for _ in 0..10 {
            assert_eq!(b.take(1, t0 + 120_000), Ok(()));
        }
        assert_eq!(b.take(1, t0 + 120_000), Err(Some(1)));
        assert_eq!(b.take(3, t0 + 120_000), Err(Some(3)), "three tokens take three seconds");
        assert_eq!(b.take(11, t0 + 999_999), Err(None), "more than the burst never fits");
        let mut tokens = Bucket::new(90_000, 90_000, t0);
        assert_eq!(tokens.take(90_000, t0), Ok(()));
        assert_eq!(tokens.take(1_500, t0), Err(Some(1)), "1,500 tokens refill in exactly a second");
    }

    #[test]
    fn authorize_requests_are_read_with_every_mistake_named() {
        let ok = json!({"provider": "openai", "model": "gpt-4o", "input_tokens": 1200, "max_tokens": 800,
            "team": "search", "trace_id": "t1", "depth": 2});
        let (c, ttl) = parse_call(&ok).unwrap();
        assert_eq!(
            (c.model.as_str(), c.input_tokens, c.max_tokens, c.depth, ttl),
            ("gpt-4o", 1200, 800, 2, 300)
        );
        let bad = |patch: serde_json::Value| {
            let mut v = ok.clone();
            for (k, x) in patch.as_object().unwrap() {
                v[k] = x.clone();
            }
            parse_call(&v).unwrap_err()
        };
        assert_eq!(bad(json!({"max_tokens": 0})).0, "max_tokens");
        assert_eq!(
            bad(json!({"input_tokens": -1})),
            (
                "input_tokens".into(),
                format!("a whole number from 0 to {} (got -1)", crate::domain::limits::MAX_TOKENS)
            )
        );
        assert_eq!(bad(json!({"input_tokens": 1.5})).0, "input_tokens");
        assert_eq!(
            bad(json!({"input_tokens": "12"})),
            ("input_tokens".into(), "expected a whole number, got \"12\"".into())
        );
        assert_eq!(bad(json!({"model": ""})), ("model".into(), "required".into()));
        assert_eq!(bad(json!({"ttl_seconds": 86_400})).0, "ttl_seconds");
        assert_eq!(bad(json!({"prompt": "hello"})), ("prompt".into(), "unknown field".into()));
        assert_eq!(parse_call(&json!([1])).unwrap_err().0, "body");
        let mut missing = ok.clone();
        missing.as_object_mut().unwrap().remove("max_tokens");
        assert_eq!(parse_call(&missing).unwrap_err(), ("max_tokens".into(), "required".into()));
    }

    #[test]
    fn rules_with_mistakes_are_refused_naming_the_field() {
        let base = json!({"name": "r", "scope": {"kind": "team", "value": "search"}, "effective_from": "2026-11-01",
            "limit": {"kind": "cap", "period": "month", "amount_nanos": 500_000_000_000i64}});
        assert!(parse_rule(&base).is_ok());
        let with = |path: &[&str], v: serde_json::Value| {
            let mut r = base.clone();
            let mut at = &mut r;
            for p in &path[..path.len() - 1] {
                at = &mut at[*p];
            }
            at[path[path.len() - 1]] = v;
            parse_rule(&r).unwrap_err()
        };
        assert_eq!(with(&["name"], json!("")), "name: 1 to 100 characters");
        assert_eq!(with(&["scope", "value"], json!("")), "scope.value: a team scope names its team");
        assert!(with(&["limit", "amount_nanos"], json!(0)).starts_with("amount_nanos: between 1 and"));
        assert!(with(&["limit", "amount_nanos"], json!(-5)).starts_with("amount_nanos: between 1 and"));
        assert_eq!(
            with(&["limit", "period"], json!({"rolling": 0})),
            "period: a rolling window of 1 to 366 days (got 0)"
        );
        assert_eq!(
            with(&["limit", "warn_at_pct"], json!([50, 120])),
            "warn_at_pct: thresholds are 1 to 100 percent (got 120)"
        );
        assert!(with(&["limit", "kind"], json!("quota")).contains("unknown variant `quota`"));
        assert!(with(&["mode"], json!("loud")).contains("unknown variant `loud`"));
        assert!(with(&["limit", "amount_usd"], json!(5)).contains("unknown field `amount_usd`"));
        assert!(with(&["colour"], json!("red")).contains("unknown field `colour`"));
        let mut missing = base.clone();
        missing.as_object_mut().unwrap().remove("scope");
        assert_eq!(parse_rule(&missing).unwrap_err(), "scope: required");
        let rate = json!({"name": "r", "scope": {"kind": "org"}, "effective_from": "2026-11-01",
            "limit": {"kind": "rate", "burst": 5}});
        assert_eq!(
            parse_rule(&rate).unwrap_err(),
            "requests_per_minute: a rate rule needs requests_per_minute or tokens_per_minute"
        );
    }
}
