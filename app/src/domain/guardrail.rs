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
    /// Limits on one call. With `clamp`, a call asking for more than `max_tokens` is not
    /// denied: its `max_tokens` is lowered to the limit before it is priced and held (the
    /// gateway rewrites the request; the authorize API answers the lowered value).
    Request {
        #[serde(default)]
        max_tokens: Option<i64>,
        #[serde(default)]
        max_input_tokens: Option<i64>,
        #[serde(default)]
        max_cost_nanos: Option<i64>,
        #[serde(default, skip_serializing_if = "is_false")]
        clamp: bool,
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

fn is_false(b: &bool) -> bool {
    !*b
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
    /// The rule could not be checked: the database did not answer in time (its failure mode
    /// decided).
    #[serde(rename = "database_unavailable")]
    Unavailable,
    /// A warning, never a denial: this call carried a cap past one of its `warn_at_pct`.
    BudgetThreshold,
    /// Not a denial: a clamping request rule lowered the call's `max_tokens` (or, in shadow
    /// mode, would have).
    MaxTokensClamped,
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
            Code::Unavailable => "database_unavailable",
            Code::BudgetThreshold => "budget_threshold",
            Code::MaxTokensClamped => "max_tokens_clamped",
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
            Limit::Request { max_tokens, max_input_tokens, max_cost_nanos, clamp } => {
                // a clamping rule lowers max_tokens instead (see `clamp_to`)
                if let Some(m) = max_tokens.filter(|m| call.max_tokens > *m && !clamp) {
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

    /// The `max_tokens` a clamping request rule lowers calls to (`None`: the rule does not
    /// clamp).
    pub fn clamp_to(&self) -> Option<i64> {
        match &self.limit {
            Limit::Request { max_tokens, clamp: true, .. } => *max_tokens,
            _ => None,
        }
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

/// One line of the decision log: a rule that denied a call (`enforced`) or warned on it (a
/// shadow rule, a soft cap). The rows of one call share its `call_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logged {
    pub id: i64,
    pub call_id: String,
    pub at_ms: i64,
    /// The call's answer: `allow` or `deny`.
    pub decision: String,
    pub rule_id: i64,
    pub rule: String,
    pub code: Code,
    pub enforced: bool,
    pub message: String,
    pub api_key: String,
    pub team: String,
    pub feature: String,
    pub provider: String,
    pub model: String,
    pub worst_case_nanos: Option<i64>,
}

impl Code {
    pub const ALL: [Code; 14] = [
        Code::BudgetExhausted,
        Code::ModelNotAllowed,
        Code::RateLimited,
        Code::MaxTokensExceeded,
        Code::InputTokensExceeded,
        Code::CostPerCallExceeded,
        Code::DepthExceeded,
        Code::RetriesExceeded,
        Code::RunBudgetExhausted,
        Code::RunCallsExceeded,
        Code::Unpriced,
        Code::Unavailable,
        Code::BudgetThreshold,
        Code::MaxTokensClamped,
    ];

    pub fn parse(field: &str, s: &str) -> Result<Code, String> {
        Code::ALL.into_iter().find(|c| c.as_str() == s.trim()).ok_or_else(|| {
            let all: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
            format!("{field}: '{s}' is not one of {}", all.join(", "))
        })
    }
}

impl Rule {
    /// The rule in a few words, for the page and the policy diff.
    pub fn describe(&self) -> String {
        let opt = |label: &str, v: &Option<i64>| v.map(|n| format!("{label} {n}"));
        let money = |label: &str, v: &Option<i64>| v.map(|n| format!("{label} {}", Nanos(n).usd()));
        match &self.limit {
            Limit::Cap { period, amount_nanos, hard, warn_at_pct } => {
                let per = match period {
                    Period::Day => "a day".to_string(),
                    Period::Week => "a week".into(),
                    Period::Month => "a month".into(),
                    Period::Rolling(n) => format!("per rolling {n} days"),
                };
                let kind = if *hard { "hard cap" } else { "soft cap" };
                let warn = if warn_at_pct.is_empty() {
                    String::new()
                } else {
                    let p: Vec<String> = warn_at_pct.iter().map(|p| format!("{p}%")).collect();
                    format!(", warns at {}", p.join(", "))
                };
                format!("{kind} {} {per}{warn}", Nanos(*amount_nanos).usd())
            }
            Limit::Models { allow, provider, models, instead } => {
                let list: Vec<&str> = models.iter().map(|m| m.0.as_str()).collect();
                let on = provider.as_ref().map(|p| format!(" on {}", p.0)).unwrap_or_default();
                let hint = instead.as_ref().map(|m| format!("; suggests {m}")).unwrap_or_default();
                let how = if *allow { "only" } else { "not" };
                format!("models: {how} {}{on}{hint}", list.join(", "))
            }
            Limit::Request { max_tokens, max_input_tokens, max_cost_nanos, clamp } => {
                let how = if *clamp { "max_tokens clamped to" } else { "max_tokens ≤" };
                let parts: Vec<String> = [
                    opt(how, max_tokens),
                    opt("input tokens ≤", max_input_tokens),
                    money("cost a call ≤", max_cost_nanos),
                ]
                .into_iter()
                .flatten()
                .collect();
                format!("per call: {}", parts.join(", "))
            }
            Limit::Rate { requests_per_minute, tokens_per_minute, burst } => {
                let parts: Vec<String> = [
                    requests_per_minute.map(|n| format!("{n} requests a minute")),
                    tokens_per_minute.map(|n| format!("{n} tokens a minute")),
                    opt("burst", burst),
                ]
                .into_iter()
                .flatten()
                .collect();
                format!("rate: {}", parts.join(", "))
            }
            Limit::Agent { max_depth, max_retries, max_run_cost_nanos, max_calls } => {
                let parts: Vec<String> = [
                    opt("depth ≤", max_depth),
                    opt("retries ≤", max_retries),
                    money("run cost ≤", max_run_cost_nanos),
                    opt("calls ≤", max_calls),
                ]
                .into_iter()
                .flatten()
                .collect();
                format!("agent run: {}", parts.join(", "))
            }
        }
    }

    /// The scope as people say it: `organisation`, `team search`.
    pub fn scope_label(&self) -> String {
        match self.scope.kind {
            ScopeKind::Org => "organisation".into(),
            k => format!("{} {}", k.as_str().replace('_', " "), self.scope.value),
        }
    }
}

/// A rule on the Guardrails page: what it is, its cap's live figures, and its hits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleLine {
    pub rule: Rule,
    pub scope: String,
    pub describe: String,
    /// A cap's window in words (`this month`), with its amount, settled spend and the money
    /// open reservations hold; `None` for other limits.
    pub window: Option<String>,
    pub amount_nanos: i64,
    pub spent_nanos: i64,
    pub reserved_nanos: i64,
    pub open_reservations: i64,
    /// Log rows (denials and warnings) in the last 24 hours and 7 days.
    pub hits_24h: i64,
    pub hits_7d: i64,
}

impl RuleLine {
    /// "$412.10 of $500.00 this month, 3 reservations open"
    pub fn headroom(&self) -> Option<String> {
        let w = self.window.as_ref()?;
        let open = match self.open_reservations {
            0 => String::new(),
            1 => ", 1 reservation open".into(),
            n => format!(", {n} reservations open"),
        };
        Some(format!(
            "{} of {} {w}{open}",
            Nanos(self.spent_nanos + self.reserved_nanos).usd(),
            Nanos(self.amount_nanos).usd()
        ))
    }
}

/// Rules that cannot stand together, named by field. Every rule that applies to a call is
/// checked and any enforced denial denies, so two caps on one scope simply both hold (the
/// smaller binds first); what is refused is a set whose meaning would surprise: two rules of
/// one name, and a model one rule allows that another rule of the same scope and mode denies
/// (the denial would win, so the allow-list entry is dead).
pub fn contradictions(rules: &[Rule]) -> Result<(), String> {
    for (i, a) in rules.iter().enumerate() {
        for b in &rules[i + 1..] {
            if a.name.trim() == b.name.trim() {
                return Err(format!("name: two rules are named '{}'", a.name.trim()));
            }
            let ((
                Limit::Models { allow: true, provider: pa, models: allowed, .. },
                Limit::Models { allow: false, provider: pd, models: denied, .. },
            )
            | (
                Limit::Models { allow: false, provider: pd, models: denied, .. },
                Limit::Models { allow: true, provider: pa, models: allowed, .. },
            )) = (&a.limit, &b.limit)
            else {
                continue;
            };
            if a.scope != b.scope || a.mode != b.mode || pa != pd {
                continue;
            }
            if let Some(m) = allowed.iter().find(|m| denied.iter().any(|d| d.matches(&m.0))) {
                let (allows, denies) = match a.limit {
                    Limit::Models { allow: true, .. } => (&a.name, &b.name),
                    _ => (&b.name, &a.name),
                };
                return Err(format!(
                    "models: rule '{allows}' allows '{}' and rule '{denies}' denies it for {}; a denial \
                     wins, so remove it from one of them",
                    m.0,
                    a.scope_label()
                ));
            }
        }
    }
    Ok(())
}

/// A rule as people write it, on the page's form and in a policy file: flat named fields,
/// money as US dollars in text (exact: no binary fractions), lists comma-separated. Empty
/// fields are absent. The one reader of both is [`rule_from_input`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleInput {
    pub name: String,
    /// org, team, initiative, feature, customer, environment, api_key
    pub scope: String,
    pub scope_value: String,
    /// enforce or shadow
    pub mode: String,
    /// fail_closed or fail_open
    pub failure: String,
    /// deny or allow: a call whose model has no price
    pub unpriced: String,
    pub effective_from: String,
    /// cap, models, request, rate, agent
    pub limit: String,
    pub period: String,
    pub rolling_days: String,
    pub amount_usd: String,
    pub hard: String,
    pub warn_at_pct: String,
    /// allow or deny
    pub list: String,
    pub provider: String,
    pub models: String,
    pub instead: String,
    pub max_tokens: String,
    /// true: a call above max_tokens is lowered to it instead of denied
    pub clamp: String,
    pub max_input_tokens: String,
    pub max_cost_usd: String,
    pub requests_per_minute: String,
    pub tokens_per_minute: String,
    pub burst: String,
    pub max_depth: String,
    pub max_retries: String,
    pub max_run_cost_usd: String,
    pub max_calls: String,
}

/// The fields of [`RuleInput`], in the order a policy file writes them.
pub const INPUT_FIELDS: [&str; 28] = [
    "name",
    "scope",
    "scope_value",
    "mode",
    "failure",
    "unpriced",
    "effective_from",
    "limit",
    "period",
    "rolling_days",
    "amount_usd",
    "hard",
    "warn_at_pct",
    "list",
    "provider",
    "models",
    "instead",
    "max_tokens",
    "clamp",
    "max_input_tokens",
    "max_cost_usd",
    "requests_per_minute",
    "tokens_per_minute",
    "burst",
    "max_depth",
    "max_retries",
    "max_run_cost_usd",
    "max_calls",
];

/// The fields each kind of limit reads, beside the common ones.
fn limit_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "cap" => &["period", "rolling_days", "amount_usd", "hard", "warn_at_pct"],
        "models" => &["list", "provider", "models", "instead"],
        "request" => &["max_tokens", "clamp", "max_input_tokens", "max_cost_usd"],
        "rate" => &["requests_per_minute", "tokens_per_minute", "burst"],
        "agent" => &["max_depth", "max_retries", "max_run_cost_usd", "max_calls"],
        _ => &[],
    }
}

impl RuleInput {
    pub fn get(&self, field: &str) -> Option<&str> {
        let v = match field {
            "name" => &self.name,
            "scope" => &self.scope,
            "scope_value" => &self.scope_value,
            "mode" => &self.mode,
            "failure" => &self.failure,
            "unpriced" => &self.unpriced,
            "effective_from" => &self.effective_from,
            "limit" => &self.limit,
            "period" => &self.period,
            "rolling_days" => &self.rolling_days,
            "amount_usd" => &self.amount_usd,
            "hard" => &self.hard,
            "warn_at_pct" => &self.warn_at_pct,
            "list" => &self.list,
            "provider" => &self.provider,
            "models" => &self.models,
            "instead" => &self.instead,
            "max_tokens" => &self.max_tokens,
            "clamp" => &self.clamp,
            "max_input_tokens" => &self.max_input_tokens,
            "max_cost_usd" => &self.max_cost_usd,
            "requests_per_minute" => &self.requests_per_minute,
            "tokens_per_minute" => &self.tokens_per_minute,
            "burst" => &self.burst,
            "max_depth" => &self.max_depth,
            "max_retries" => &self.max_retries,
            "max_run_cost_usd" => &self.max_run_cost_usd,
            "max_calls" => &self.max_calls,
            _ => return None,
        };
        Some(v.trim()).filter(|v| !v.is_empty())
    }

    /// Sets a field by name; false for a name that is not a field.
    pub fn set(&mut self, field: &str, value: String) -> bool {
        let slot = match field {
            "name" => &mut self.name,
            "scope" => &mut self.scope,
            "scope_value" => &mut self.scope_value,
            "mode" => &mut self.mode,
            "failure" => &mut self.failure,
            "unpriced" => &mut self.unpriced,
            "effective_from" => &mut self.effective_from,
            "limit" => &mut self.limit,
            "period" => &mut self.period,
            "rolling_days" => &mut self.rolling_days,
            "amount_usd" => &mut self.amount_usd,
            "hard" => &mut self.hard,
            "warn_at_pct" => &mut self.warn_at_pct,
            "list" => &mut self.list,
            "provider" => &mut self.provider,
            "models" => &mut self.models,
            "instead" => &mut self.instead,
            "max_tokens" => &mut self.max_tokens,
            "clamp" => &mut self.clamp,
            "max_input_tokens" => &mut self.max_input_tokens,
            "max_cost_usd" => &mut self.max_cost_usd,
            "requests_per_minute" => &mut self.requests_per_minute,
            "tokens_per_minute" => &mut self.tokens_per_minute,
            "burst" => &mut self.burst,
            "max_depth" => &mut self.max_depth,
            "max_retries" => &mut self.max_retries,
            "max_run_cost_usd" => &mut self.max_run_cost_usd,
            "max_calls" => &mut self.max_calls,
            _ => return false,
        };
        *slot = value;
        true
    }
}

/// US dollars written for a policy file: exact, at least two decimals, no trailing zeros
/// past them (`500.00`, `0.000125`).
pub fn usd_text(n: Nanos) -> String {
    let full = n.decimal(9);
    let (int, frac) = full.split_once('.').unwrap_or((&full, ""));
    let frac = frac.trim_end_matches('0');
    format!("{int}.{frac:0<2}")
}

/// Reads a rule as written; every mistake is `field: reason`.
pub fn rule_from_input(i: &RuleInput) -> Result<Rule, String> {
    let kind = i.get("limit").ok_or("limit: required (cap, models, request, rate or agent)")?;
    let fields = limit_fields(kind);
    if fields.is_empty() {
        return Err(format!("limit: '{kind}' is not one of cap, models, request, rate, agent"));
    }
    if let Some(f) = INPUT_FIELDS[8..].iter().find(|f| i.get(f).is_some() && !fields.contains(f)) {
        return Err(format!("{f}: not a field of a {kind} rule"));
    }
    let whole = |f: &str| -> Result<Option<i64>, String> {
        i.get(f)
            .map(|v| v.parse::<i64>().map_err(|_| format!("{f}: '{v}' is not a whole number")))
            .transpose()
    };
    let usd = |f: &str| -> Result<Option<i64>, String> {
        i.get(f)
            .map(|v| {
                let n = Nanos::parse_usd(v).map_err(|e| format!("{f}: {e}"))?;
                super::limits::amount(f, n, super::limits::MAX_EVENT_COST).map(|n| n.0)
            })
            .transpose()
    };
    let yes_no = |f: &str, default: bool| -> Result<bool, String> {
        match i.get(f).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "on" | "yes") => Ok(true),
            Some("false" | "off" | "no") => Ok(false),
            Some(v) => Err(format!("{f}: '{v}' is not true or false")),
        }
    };
    let one_of = |f: &str, options: &[&str], default: &str| -> Result<String, String> {
        let v = i.get(f).unwrap_or(default);
        if options.contains(&v) {
            Ok(v.to_string())
        } else {
            Err(format!("{f}: '{v}' is not one of {}", options.join(", ")))
        }
    };
    let limit = match kind {
        "cap" => {
            let period = match i.get("period").ok_or("period: required (day, week, month or rolling)")? {
                "day" => Period::Day,
                "week" => Period::Week,
                "month" => Period::Month,
                "rolling" => {
                    let n = whole("rolling_days")?.ok_or("rolling_days: required for a rolling period")?;
                    Period::Rolling(
                        u16::try_from(n).map_err(|_| format!("rolling_days: 1 to 366 (got {n})"))?,
                    )
                }
                p => return Err(format!("period: '{p}' is not one of day, week, month, rolling")),
            };
            if i.get("rolling_days").is_some() && !matches!(period, Period::Rolling(_)) {
                return Err("rolling_days: only a rolling period takes a number of days".into());
            }
            let mut warn_at_pct = vec![];
            for p in i.get("warn_at_pct").unwrap_or("").split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let p = p.trim_end_matches('%');
                warn_at_pct.push(
                    p.parse::<u8>()
                        .map_err(|_| format!("warn_at_pct: '{p}' is not a percent from 1 to 100"))?,
                );
            }
            Limit::Cap {
                period,
                amount_nanos: usd("amount_usd")?.ok_or("amount_usd: required")?,
                hard: yes_no("hard", true)?,
                warn_at_pct,
            }
        }
        "models" => Limit::Models {
            allow: one_of("list", &["allow", "deny"], "")? == "allow",
            provider: i.get("provider").map(|p| Pattern(p.to_string())),
            models: i
                .get("models")
                .ok_or("models: required (patterns such as claude-opus-*, comma-separated)")?
                .split(',')
                .map(|m| Pattern(m.trim().to_string()))
                .collect(),
            instead: i.get("instead").map(str::to_string),
        },
        "request" => Limit::Request {
            max_tokens: whole("max_tokens")?,
            max_input_tokens: whole("max_input_tokens")?,
            max_cost_nanos: usd("max_cost_usd")?,
            clamp: yes_no("clamp", false)?,
        },
        "rate" => Limit::Rate {
            requests_per_minute: whole("requests_per_minute")?,
            tokens_per_minute: whole("tokens_per_minute")?,
            burst: whole("burst")?,
        },
        _ => Limit::Agent {
            max_depth: whole("max_depth")?,
            max_retries: whole("max_retries")?,
            max_run_cost_nanos: usd("max_run_cost_usd")?,
            max_calls: whole("max_calls")?,
        },
    };
    let effective_from = i.get("effective_from").ok_or("effective_from: required (YYYY-MM-DD)")?;
    let rule = Rule {
        id: 0,
        name: i.get("name").ok_or("name: required")?.to_string(),
        scope: Scope {
            kind: ScopeKind::parse("scope", i.get("scope").unwrap_or("org"))?,
            value: i.get("scope_value").unwrap_or("").to_string(),
        },
        mode: match one_of("mode", &["enforce", "shadow"], "enforce")?.as_str() {
            "shadow" => Mode::Shadow,
            _ => Mode::Enforce,
        },
        failure: match one_of("failure", &["fail_closed", "fail_open"], "fail_closed")?.as_str() {
            "fail_open" => FailureMode::FailOpen,
            _ => FailureMode::FailClosed,
        },
        unpriced: match one_of("unpriced", &["deny", "allow"], "deny")?.as_str() {
            "allow" => Unpriced::Allow,
            _ => Unpriced::Deny,
        },
        effective_from: NaiveDate::parse_from_str(effective_from, "%Y-%m-%d")
            .map_err(|_| format!("effective_from: '{effective_from}' is not a date (YYYY-MM-DD)"))?,
        limit,
    };
    // the rule's own check names the stored fields; a writer knows the money in dollars
    rule.validate().map_err(|e| {
        if let Some(rest) = e.strip_prefix("scope.value") {
            return format!("scope_value{rest}");
        }
        ["amount", "max_cost", "max_run_cost"]
            .iter()
            .find_map(|f| e.strip_prefix(&format!("{f}_nanos")).map(|rest| format!("{f}_usd{rest}")))
            .unwrap_or(e)
    })?;
    Ok(rule)
}

/// A field of a rule as a policy file writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Text(String),
    Whole(i64),
    Yes(bool),
    Day(NaiveDate),
    Numbers(Vec<i64>),
}

impl Written {
    /// The value as a form field holds it (what [`rule_from_input`] reads).
    pub fn text(&self) -> String {
        match self {
            Written::Text(s) => s.clone(),
            Written::Whole(n) => n.to_string(),
            Written::Yes(b) => b.to_string(),
            Written::Day(d) => d.to_string(),
            Written::Numbers(v) => v.iter().map(i64::to_string).collect::<Vec<_>>().join(", "),
        }
    }
}

/// A rule's fields as written, in [`INPUT_FIELDS`] order, defaults left out: what
/// [`rule_from_input`] reads back to the same rule.
pub fn rule_to_fields(r: &Rule) -> Vec<(&'static str, Written)> {
    use Written::*;
    let mut out = vec![("name", Text(r.name.clone())), ("scope", Text(r.scope.kind.as_str().into()))];
    if r.scope.kind != ScopeKind::Org {
        out.push(("scope_value", Text(r.scope.value.clone())));
    }
    out.push(("mode", Text(if r.mode == Mode::Shadow { "shadow" } else { "enforce" }.into())));
    if r.failure == FailureMode::FailOpen {
        out.push(("failure", Text("fail_open".into())));
    }
    if r.unpriced == Unpriced::Allow {
        out.push(("unpriced", Text("allow".into())));
    }
    out.push(("effective_from", Day(r.effective_from)));
    let opt = |out: &mut Vec<_>, f: &'static str, v: Option<i64>| {
        if let Some(v) = v {
            out.push((f, Whole(v)));
        }
    };
    let money = |n: i64| Text(usd_text(Nanos(n)));
    match &r.limit {
        Limit::Cap { period, amount_nanos, hard, warn_at_pct } => {
            out.push(("limit", Text("cap".into())));
            let p = match period {
                Period::Day => "day",
                Period::Week => "week",
                Period::Month => "month",
                Period::Rolling(_) => "rolling",
            };
            out.push(("period", Text(p.into())));
            if let Period::Rolling(n) = period {
                out.push(("rolling_days", Whole(i64::from(*n))));
            }
            out.push(("amount_usd", money(*amount_nanos)));
            out.push(("hard", Yes(*hard)));
            if !warn_at_pct.is_empty() {
                out.push(("warn_at_pct", Numbers(warn_at_pct.iter().map(|p| i64::from(*p)).collect())));
            }
        }
        Limit::Models { allow, provider, models, instead } => {
            out.push(("limit", Text("models".into())));
            out.push(("list", Text(if *allow { "allow" } else { "deny" }.into())));
            if let Some(p) = provider {
                out.push(("provider", Text(p.0.clone())));
            }
            let m: Vec<&str> = models.iter().map(|m| m.0.as_str()).collect();
            out.push(("models", Text(m.join(", "))));
            if let Some(m) = instead {
                out.push(("instead", Text(m.clone())));
            }
        }
        Limit::Request { max_tokens, max_input_tokens, max_cost_nanos, clamp } => {
            out.push(("limit", Text("request".into())));
            opt(&mut out, "max_tokens", *max_tokens);
            if *clamp {
                out.push(("clamp", Yes(true)));
            }
            opt(&mut out, "max_input_tokens", *max_input_tokens);
            if let Some(n) = max_cost_nanos {
                out.push(("max_cost_usd", money(*n)));
            }
        }
        Limit::Rate { requests_per_minute, tokens_per_minute, burst } => {
            out.push(("limit", Text("rate".into())));
            opt(&mut out, "requests_per_minute", *requests_per_minute);
            opt(&mut out, "tokens_per_minute", *tokens_per_minute);
            opt(&mut out, "burst", *burst);
        }
        Limit::Agent { max_depth, max_retries, max_run_cost_nanos, max_calls } => {
            out.push(("limit", Text("agent".into())));
            opt(&mut out, "max_depth", *max_depth);
            opt(&mut out, "max_retries", *max_retries);
            if let Some(n) = max_run_cost_nanos {
                out.push(("max_run_cost_usd", money(*n)));
            }
            opt(&mut out, "max_calls", *max_calls);
        }
    }
    out
}

/// A stored event as the replay sees it: when, the call it was (its actual output tokens in
/// `max_tokens`, its actual cost as the worst case) and what it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    pub at_ms: i64,
    pub day: NaiveDate,
    pub call: Call,
    pub cost: Nanos,
}

/// One rule's part of a replay: calls and spend it would have denied (hard limits) or warned
/// on (soft caps), with the denied spend by team and by feature.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleReplay {
    pub rule: String,
    pub scope: String,
    pub describe: String,
    pub denied_calls: i64,
    pub denied_nanos: i64,
    pub warned_calls: i64,
    pub warned_nanos: i64,
    /// (team, calls, nanos) of what it denied, most money first.
    pub by_team: Vec<(String, i64, i64)>,
    pub by_feature: Vec<(String, i64, i64)>,
}

/// What a set of rules would have done to a period's calls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayReport {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub calls: i64,
    pub spend_nanos: i64,
    /// Calls at least one rule denied, and their spend (each call once).
    pub denied_calls: i64,
    pub denied_nanos: i64,
    pub rules: Vec<RuleReplay>,
}

fn add_to(v: &mut Vec<(String, i64, i64)>, key: &Option<String>, cost: Nanos) {
    let key = key.clone().unwrap_or_else(|| super::explore::NOT_SET.to_string());
    match v.iter_mut().find(|(k, _, _)| *k == key) {
        Some(e) => {
            e.1 += 1;
            e.2 += cost.0;
        }
        None => v.push((key, 1, cost.0)),
    }
}

/// Replays calls, in time order, against `rules` as if each were enforced (a shadow rule
/// shows what enforcing it would do; a soft cap warns). A call any rule denies would not
/// have been made: it counts for every rule that denied it, and neither its money nor its
/// rate tokens count against any rule afterwards. Caps count admitted spend per window;
/// rates are token buckets on the calls' clock (one request, and input + output tokens, per
/// call); run budgets and call counts are per trace id. Depth and retries are not stored with
/// events, so agent depth and retry limits do not deny in a replay.
pub fn replay(rules: &[Rule], calls: impl IntoIterator<Item = Replayed>) -> ReplayReport {
    use std::collections::HashMap;
    let mut report = ReplayReport {
        rules: rules
            .iter()
            .map(|r| RuleReplay {
                rule: r.name.clone(),
                scope: r.scope_label(),
                describe: r.describe(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let mut spent: HashMap<(usize, NaiveDate), Nanos> = HashMap::new();
    let mut buckets: HashMap<(usize, &str), Bucket> = HashMap::new();
    let mut runs: HashMap<(usize, String), (Nanos, i64)> = HashMap::new();
    for c in calls {
        report.calls += 1;
        report.spend_nanos += c.cost.0;
        report.from = Some(report.from.map_or(c.day, |f| f.min(c.day)));
        report.to = Some(report.to.map_or(c.day, |t| t.max(c.day)));
        let mut denied: Vec<usize> = vec![];
        let mut warned: Vec<usize> = vec![];
        let mut takes: Vec<((usize, &str), Bucket)> = vec![];
        for (i, r) in rules.iter().enumerate() {
            if !r.applies(&c.call, c.day) {
                continue;
            }
            let stateless = r
                .check(&c.call)
                .into_iter()
                .any(|v| !matches!(v.code, Code::DepthExceeded | Code::RetriesExceeded));
            let mut deny = stateless;
            match &r.limit {
                Limit::Cap { period, amount_nanos, hard, .. } => {
                    let (from, to) = period.window(c.day);
                    let used: i64 = spent
                        .iter()
                        .filter(|((j, d), _)| *j == i && *d >= from && *d <= to)
                        .map(|(_, n)| n.0)
                        .sum();
                    if used + c.cost.0 > *amount_nanos {
                        if *hard {
                            deny = true;
                        } else {
                            warned.push(i);
                        }
                    }
                }
                Limit::Rate { requests_per_minute, tokens_per_minute, burst } => {
                    for (unit, per, burst, n) in [
                        ("requests", *requests_per_minute, burst.or(*requests_per_minute), 1),
                        (
                            "tokens",
                            *tokens_per_minute,
                            *tokens_per_minute,
                            c.call.input_tokens + c.call.max_tokens,
                        ),
                    ] {
                        let (Some(per), Some(burst)) = (per, burst) else { continue };
                        let mut b =
                            *buckets.entry((i, unit)).or_insert_with(|| Bucket::new(per, burst, c.at_ms));
                        if b.take(n, c.at_ms).is_err() {
                            deny = true;
                        } else {
                            takes.push(((i, unit), b));
                        }
                    }
                }
                Limit::Agent { max_run_cost_nanos, max_calls, .. } => {
                    if let Some(trace) = &c.call.trace_id {
                        let (cost, n) = runs.get(&(i, trace.clone())).copied().unwrap_or_default();
                        if max_run_cost_nanos.is_some_and(|m| cost.0 + c.cost.0 > m)
                            || max_calls.is_some_and(|m| n + 1 > m)
                        {
                            deny = true;
                        }
                    }
                }
                _ => {}
            }
            if deny {
                denied.push(i);
            }
        }
        for i in &warned {
            let r = &mut report.rules[*i];
            r.warned_calls += 1;
            r.warned_nanos += c.cost.0;
        }
        if !denied.is_empty() {
            report.denied_calls += 1;
            report.denied_nanos += c.cost.0;
            for i in denied {
                let r = &mut report.rules[i];
                r.denied_calls += 1;
                r.denied_nanos += c.cost.0;
                add_to(&mut r.by_team, &c.call.team, c.cost);
                add_to(&mut r.by_feature, &c.call.feature, c.cost);
            }
            continue;
        }
        // admitted: it counts against every rule that applies
        for (key, b) in takes {
            buckets.insert(key, b);
        }
        for (i, r) in rules.iter().enumerate() {
            if !r.applies(&c.call, c.day) {
                continue;
            }
            match &r.limit {
                Limit::Cap { .. } => *spent.entry((i, c.day)).or_insert(Nanos::ZERO) += c.cost,
                Limit::Agent { .. } => {
                    if let Some(trace) = &c.call.trace_id {
                        let e = runs.entry((i, trace.clone())).or_default();
                        e.0 += c.cost;
                        e.1 += 1;
                    }
                }
                _ => {}
            }
        }
    }
    for r in &mut report.rules {
        for v in [&mut r.by_team, &mut r.by_feature] {
            v.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        }
    }
    report
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
            Limit::Request { max_tokens, max_input_tokens, max_cost_nanos, clamp } => {
                if *clamp && max_tokens.is_none() {
                    return Err(
                        "clamp: a clamping rule needs max_tokens, the value calls are lowered to".into()
                    );
                }
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

    fn replayed(minute: i64, team: &str, feature: &str, model: &str, cost: i64) -> Replayed {
        let at_ms = 1_795_132_800_000 + minute * 60_000; // 2026-11-20 00:00 UTC
        Replayed {
            at_ms,
            day: chrono::DateTime::from_timestamp_millis(at_ms).unwrap().date_naive(),
            call: Call {
                team: Some(team.into()),
                feature: Some(feature.into()),
                model: model.into(),
                provider: "anthropic".into(),
                input_tokens: 100,
                max_tokens: 50,
                worst_case: Some(Nanos(cost)),
                ..Default::default()
            },
            cost: Nanos(cost),
        }
    }

    #[test]
    fn a_replay_denies_past_the_cap_and_a_denied_call_spends_nothing_afterwards() {
        const K: i64 = 1_000_000_000;
        let mut cap = rule(json!({"kind": "cap", "period": "day", "amount_nanos": 10 * K}));
        cap.name = "cap".into();
        let mut opus = rule(json!({"kind": "models", "allow": false, "models": ["claude-opus-*"]}));
        opus.name = "no opus".into();
        opus.scope = Scope { kind: ScopeKind::Feature, value: "faq".into() };
        let mut soft = rule(json!({"kind": "cap", "period": "day", "amount_nanos": 5 * K, "hard": false}));
        soft.name = "soft".into();
        soft.mode = Mode::Shadow;
        let calls = vec![
            replayed(0, "search", "chat", "claude-haiku-4-5", 4 * K),
            // denied by the model rule: its $3 never reaches the cap
            replayed(1, "search", "faq", "claude-opus-4-1", 3 * K),
            replayed(2, "search", "chat", "claude-haiku-4-5", 4 * K),
            // $8 admitted + $4 > $10: denied by the cap (and the soft cap warns)
            replayed(3, "search", "chat", "claude-haiku-4-5", 4 * K),
            // $8 + $2 = $10 fits exactly
            replayed(4, "search", "chat", "claude-haiku-4-5", 2 * K),
            // another team is not in the scope
            replayed(5, "ads", "chat", "claude-haiku-4-5", 40 * K),
        ];
        let r = replay(&[cap, opus, soft], calls);
        assert_eq!((r.calls, r.spend_nanos), (6, 57 * K));
        assert_eq!((r.denied_calls, r.denied_nanos), (2, 7 * K));
        let by = |n: &str| r.rules.iter().find(|x| x.rule == n).unwrap().clone();
        assert_eq!((by("cap").denied_calls, by("cap").denied_nanos), (1, 4 * K));
        assert_eq!(by("cap").by_team, vec![("search".to_string(), 1, 4 * K)]);
        assert_eq!((by("no opus").denied_calls, by("no opus").denied_nanos), (1, 3 * K));
        assert_eq!(by("no opus").by_feature, vec![("faq".to_string(), 1, 3 * K)]);
        // the soft cap ($5 on admitted spend) warns on every call made past it, denied by
        // another rule or not: $4+3, $4+4, $8+4, $8+2
        assert_eq!((by("soft").warned_calls, by("soft").denied_calls), (4, 0));
        assert_eq!(by("soft").warned_nanos, 13 * K);
    }

    #[test]
    fn a_replay_rate_limits_on_the_calls_own_clock() {
        let r = rule(json!({"kind": "rate", "requests_per_minute": 60, "burst": 2}));
        // three calls in the same millisecond, then one a second later
        let mut calls: Vec<Replayed> = (0..3).map(|_| replayed(0, "search", "chat", "m", 1)).collect();
        let mut later = replayed(0, "search", "chat", "m", 1);
        later.at_ms += 1_000;
        calls.push(later);
        let out = replay(&[r], calls);
        assert_eq!(out.rules[0].denied_calls, 1, "burst 2, then one a second: {out:?}");
    }

    #[test]
    fn written_rules_read_back_the_same_and_mistakes_name_the_field() {
        for limit in [
            json!({"kind": "cap", "period": {"rolling": 30}, "amount_nanos": 1_500_000_001, "hard": false, "warn_at_pct": [50, 90]}),
            json!({"kind": "models", "allow": true, "provider": "openai", "models": ["gpt-4o*", "o3"], "instead": "gpt-4o-mini"}),
            json!({"kind": "request", "max_tokens": 4096, "max_cost_nanos": 250_000_000}),
            json!({"kind": "request", "max_tokens": 1024, "clamp": true}),
            json!({"kind": "rate", "requests_per_minute": 600, "tokens_per_minute": 100000, "burst": 20}),
            json!({"kind": "agent", "max_depth": 5, "max_retries": 3, "max_run_cost_nanos": 2_000_000_000, "max_calls": 40}),
        ] {
            let mut r = rule(limit);
            r.mode = Mode::Shadow;
            r.failure = FailureMode::FailOpen;
            let mut input = RuleInput::default();
            for (f, v) in rule_to_fields(&r) {
                assert!(input.set(f, v.text()), "{f}");
            }
            assert_eq!(rule_from_input(&input), Ok(r));
        }
        assert_eq!(usd_text(Nanos(500_000_000_000)), "500.00");
        assert_eq!(usd_text(Nanos(1_500_000_001)), "1.500000001");
        let base = RuleInput {
            name: "r".into(),
            effective_from: "2026-12-01".into(),
            limit: "cap".into(),
            period: "month".into(),
            amount_usd: "500".into(),
            ..Default::default()
        };
        let with = |f: &str, v: &str| {
            let mut i = base.clone();
            i.set(f, v.into());
            rule_from_input(&i).unwrap_err()
        };
        assert!(with("amount_usd", "1.000,50").starts_with("amount_usd: "));
        assert!(with("amount_usd", "0").starts_with("amount_usd: between 1"), "{}", with("amount_usd", "0"));
        assert!(with("amount_usd", "-5").starts_with("amount_usd: must not be negative"));
        assert!(with("amount_usd", "99999999999").starts_with("amount_usd: "), "absurd");
        assert!(with("models", "x").starts_with("models: not a field of a cap rule"));
        assert!(with("scope", "team").starts_with("scope_value: "));
        assert!(with("hard", "maybe").starts_with("hard: "));
        assert!(with("warn_at_pct", "150").starts_with("warn_at_pct: "));
        assert!(with("mode", "loud").starts_with("mode: 'loud' is not one of enforce, shadow"));
        assert!(with("period", "rolling").starts_with("rolling_days: required"));
        let request = RuleInput { limit: "request".into(), period: "".into(), amount_usd: "".into(), ..base };
        let with = |f: &str, v: &str| {
            let mut i = request.clone();
            i.set(f, v.into());
            rule_from_input(&i).unwrap_err()
        };
        assert!(with("clamp", "true").starts_with("clamp: a clamping rule needs max_tokens"));
        assert!(with("clamp", "sometimes").starts_with("clamp: 'sometimes' is not true or false"));
    }

    #[test]
    fn a_clamping_rule_never_denies_for_size_and_says_what_it_lowers_to() {
        let r = rule(json!({"kind": "request", "max_tokens": 400, "clamp": true}));
        assert_eq!(r.clamp_to(), Some(400));
        assert_eq!(r.check(&call()), vec![], "over the limit, yet not denied: it is clamped");
        assert_eq!(r.describe(), "per call: max_tokens clamped to 400");
        let deny = rule(json!({"kind": "request", "max_tokens": 400}));
        assert_eq!(deny.clamp_to(), None);
        assert_eq!(deny.check(&call())[0].code, Code::MaxTokensExceeded);
        // a stored rule from before clamps existed reads as one that denies
        let old: Rule = serde_json::from_value(serde_json::to_value(&deny).unwrap()).unwrap();
        assert_eq!(old, deny);
        assert!(!serde_json::to_string(&deny).unwrap().contains("clamp"));
    }

    #[test]
    fn an_allow_list_entry_another_rule_denies_is_refused_and_caps_on_one_scope_both_hold() {
        let allow =
            Rule { name: "a".into(), ..rule(json!({"kind": "models", "allow": true, "models": ["gpt-4o"]})) };
        let deny =
            Rule { name: "d".into(), ..rule(json!({"kind": "models", "allow": false, "models": ["gpt-*"]})) };
        let e = contradictions(&[allow.clone(), deny.clone()]).unwrap_err();
        assert!(
            e.starts_with("models: rule 'a' allows 'gpt-4o' and rule 'd' denies it for team search"),
            "{e}"
        );
        // in shadow, the deny-list only logs: no contradiction with an enforced allow-list
        assert_eq!(contradictions(&[allow.clone(), Rule { mode: Mode::Shadow, ..deny }]), Ok(()));
        let cap = |n: &str, a: i64| Rule {
            name: n.into(),
            ..rule(json!({"kind": "cap", "period": "month", "amount_nanos": a}))
        };
        assert_eq!(contradictions(&[cap("c1", 5), cap("c2", 9)]), Ok(()));
        assert!(contradictions(&[cap("c", 5), cap("c", 9)]).unwrap_err().starts_with("name: two rules"));
        assert_eq!(cap("c1", 500_000_000_000).describe(), "hard cap $500.00 a month");
    }

    #[test]
    fn codes_read_the_same_in_json_and_in_messages() {
        for c in Code::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), json!(c.as_str()));
            assert_eq!(Code::parse("code", c.as_str()), Ok(c));
        }
        let e = Code::parse("code", "budget").unwrap_err();
        assert!(e.starts_with("code: 'budget' is not one of budget_exhausted, "), "{e}");
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
