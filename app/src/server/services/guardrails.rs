//! Guardrails before spend: authorize a call (every applicable rule, the worst case priced
//! from the price book and held against each spend cap), then settle it with its exact cost
//! or let it expire (see `domain::guardrail` and `db::guardrails`).
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::prices::PriceCache;
use crate::domain::guardrail::{Call, Code, Limit, Mode, Period, Rule, Verdict};
use crate::domain::pricing::{ServiceTier, Tokens};
use crate::domain::Nanos;
use crate::error::AppError;
use crate::server::db::guardrails::{CapCheck, Checks, Closed, Hold, RateTake, RunCheck};
use crate::server::db::{ApiKeyRow, Db, OrgId};

/// A cap's money after this call's hold: its amount, what is used (settled and held) and
/// what is left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headroom {
    pub rule: String,
    pub window: String,
    pub amount_nanos: i64,
    pub used_nanos: i64,
    pub remaining_nanos: i64,
    pub remaining_usd: String,
}

/// A rule that denied (or, for shadow rules and soft caps, would have).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denial {
    pub rule: String,
    pub code: Code,
    pub message: String,
}

/// The answer to an authorize request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// `allow` or `deny`.
    pub decision: String,
    pub reservation_id: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The call's cost if it uses all of `max_tokens`, from the price book (`None`: no price).
    pub worst_case_nanos: Option<i64>,
    pub priced_from: Option<String>,
    pub headroom: Vec<Headroom>,
    pub denied: Vec<Denial>,
    /// What shadow rules would have denied and soft caps the call passes: logged, never denied.
    pub warnings: Vec<Denial>,
    /// For a rate limit: whole seconds until the call would fit (also the `Retry-After`).
    pub retry_after_secs: Option<i64>,
}

impl Decision {
    /// The HTTP status: 200 allow; 402 when a budget or run budget denied; 429 for a rate
    /// limit; 403 for the other denials (model, size, agent limits, unpriced model).
    pub fn status(&self) -> u16 {
        let has = |c: Code| self.denied.iter().any(|d| d.code == c);
        if self.decision == "allow" {
            200
        } else if has(Code::BudgetExhausted) || has(Code::RunBudgetExhausted) {
            402
        } else if has(Code::RateLimited) {
            429
        } else {
            403
        }
    }
}

fn denial(v: Verdict) -> Denial {
    Denial { rule: v.rule, code: v.code, message: v.message }
}

fn window_name(p: Period) -> String {
    match p {
        Period::Day => "today".into(),
        Period::Week => "this week".into(),
        Period::Month => "this month".into(),
        Period::Rolling(n) => format!("the last {n} days"),
    }
}

/// Decides a call: fills what the key knows (team, initiative, the key itself), prices its
/// worst case, checks every rule in force for it, and holds the worst case against every
/// spend cap in one atomic step. A denial names every enforced rule that denied.
pub async fn authorize(
    db: &Db,
    prices: &PriceCache,
    key: &ApiKeyRow,
    mut call: Call,
    ttl_secs: i64,
    now: DateTime<Utc>,
) -> Result<Decision, AppError> {
    let org = OrgId(key.org_id);
    call.team = call.team.or_else(|| Some(key.team.clone()));
    call.initiative = call.initiative.or_else(|| key.initiative.clone());
    call.api_key = Some(key.prefix.clone());
    let today = now.date_naive();
    let book = prices.book(db, org).await?;
    let found = book.explain(&call.provider, &call.model, ServiceTier::Standard, today);
    let worst = Tokens { input: call.input_tokens, output: call.max_tokens, ..Default::default() };
    call.worst_case = found.and_then(|f| f.entry.price.cost(&worst, 1, ServiceTier::Standard).ok());
    let rules: Vec<Rule> =
        db.guardrail_rules(org).await?.into_iter().filter(|r| r.applies(&call, today)).collect();
    let mut decision = Decision {
        decision: "deny".into(),
        reservation_id: None,
        expires_at: None,
        worst_case_nanos: call.worst_case.map(|c| c.0),
        priced_from: found.map(|f| f.entry.model.clone()),
        headroom: vec![],
        denied: vec![],
        warnings: vec![],
        retry_after_secs: None,
    };
    for v in rules.iter().flat_map(|r| r.check(&call)) {
        if v.shadow {
            decision.warnings.push(denial(v));
        } else {
            decision.denied.push(denial(v));
        }
    }
    if !decision.denied.is_empty() {
        return Ok(decision);
    }
    let enforced = |r: &Rule| r.mode == Mode::Enforce;
    let mut caps: Vec<(CapCheck, &Rule, Period)> = vec![];
    let mut rates: Vec<(RateTake, &Rule)> = vec![];
    let mut runs: Vec<(RunCheck, &Rule)> = vec![];
    for r in &rules {
        match &r.limit {
            Limit::Cap { period, amount_nanos, hard, .. } => {
                let (from, to) = period.window(today);
                let enforce = *hard && enforced(r);
                caps.push((
                    CapCheck { rule_id: r.id, from, to, amount: Nanos(*amount_nanos), enforce },
                    r,
                    *period,
                ));
            }
            Limit::Rate { requests_per_minute, tokens_per_minute, burst } => {
                let take = |unit, per_minute: i64, burst: i64, n| RateTake {
                    rule_id: r.id,
                    unit,
                    per_minute,
                    burst,
                    n,
                    enforce: enforced(r),
                };
                if let Some(rpm) = requests_per_minute {
                    rates.push((take("requests", *rpm, burst.unwrap_or(*rpm), 1), r));
                }
                if let Some(tpm) = tokens_per_minute {
                    rates.push((take("tokens", *tpm, *tpm, call.input_tokens + call.max_tokens), r));
                }
            }
            Limit::Agent { max_run_cost_nanos, max_calls, .. } => {
                // run limits need the run: a call without a trace id is not part of one
                if let (Some(trace), true) =
                    (&call.trace_id, max_run_cost_nanos.is_some() || max_calls.is_some())
                {
                    let check = RunCheck {
                        rule_id: r.id,
                        trace_id: trace.clone(),
                        max_cost: max_run_cost_nanos.map(Nanos),
                        max_calls: *max_calls,
                        enforce: enforced(r),
                    };
                    runs.push((check, r));
                }
            }
            _ => {}
        }
    }
    let cost = call.worst_case.unwrap_or(Nanos::ZERO);
    let id = format!("rsv_{}", crate::server::auth::password::random_secret(24));
    let hold = Hold { id: &id, provider: &call.provider, model: &call.model, cost, day: today };
    let expires_at = now + Duration::seconds(ttl_secs);
    let cap_checks: Vec<CapCheck> = caps.iter().map(|c| c.0).collect();
    let rate_takes: Vec<RateTake> = rates.iter().map(|r| r.0).collect();
    let run_checks: Vec<RunCheck> = runs.iter().map(|r| r.0.clone()).collect();
    let checks = Checks { caps: &cap_checks, rates: &rate_takes, runs: &run_checks };
    let found = db.reserve(org, &hold, &checks, now, expires_at).await?;
    let mut say = |rule: &Rule, code: Code, message: String, enforce: bool| {
        let d = Denial { rule: rule.name.clone(), code, message };
        if enforce {
            decision.denied.push(d);
        } else {
            decision.warnings.push(d);
        }
    };
    let not_denied =
        |r: &Rule| if r.mode == Mode::Shadow { " (shadow: not denied)" } else { " (soft cap: not denied)" };
    for ((u, over, enforce), (_, r, p)) in found.caps.iter().zip(&caps) {
        if *over {
            let message = format!(
                "rule '{}': {} of {} used {} ({} settled, {} held); this call may cost {}{}",
                r.name,
                Nanos(u.spent.0 + u.reserved.0).usd(),
                u.amount.usd(),
                window_name(*p),
                u.spent.usd(),
                u.reserved.usd(),
                cost.usd(),
                if *enforce { "" } else { not_denied(r) }
            );
            say(r, Code::BudgetExhausted, message, *enforce);
        }
    }
    let mut retry_after: Option<i64> = None;
    for ((_, unit, wait, enforce), (take, r)) in found.rates.iter().zip(&rates) {
        let Some(wait) = wait else { continue };
        let message = match wait {
            Some(secs) => {
                if *enforce {
                    retry_after = Some(retry_after.unwrap_or(0).max(*secs));
                }
                format!(
                    "rule '{}': {} {unit} per minute are used up; retry in {secs} s",
                    r.name, take.per_minute
                )
            }
            None => format!(
                "rule '{}': this call needs {} {unit}, more than the {} the rule allows at once",
                r.name, take.n, take.burst
            ),
        };
        say(r, Code::RateLimited, message, *enforce);
    }
    for ((u, over_cost, over_calls, enforce), (check, r)) in found.runs.iter().zip(&runs) {
        if *over_cost {
            let max = check.max_cost.unwrap_or(Nanos::ZERO);
            let message = format!(
                "rule '{}': run {} has used {} of its {} ({} settled, {} held); this call may cost {}",
                r.name,
                check.trace_id,
                Nanos(u.spent.0 + u.reserved.0).usd(),
                max.usd(),
                u.spent.usd(),
                u.reserved.usd(),
                cost.usd()
            );
            say(r, Code::RunBudgetExhausted, message, *enforce);
        }
        if *over_calls {
            let message = format!(
                "rule '{}': run {} has made {} calls, the most it may make",
                r.name, check.trace_id, u.calls
            );
            say(r, Code::RunCallsExceeded, message, *enforce);
        }
    }
    decision.retry_after_secs = retry_after;
    if found.held {
        decision.decision = "allow".into();
        decision.reservation_id = Some(id.clone());
        decision.expires_at = Some(expires_at);
        for ((u, _, _), (_, r, p)) in found.caps.iter().zip(&caps) {
            let used = u.spent.0 + u.reserved.0 + cost.0;
            decision.headroom.push(Headroom {
                rule: r.name.clone(),
                window: window_name(*p),
                amount_nanos: u.amount.0,
                used_nanos: used,
                remaining_nanos: u.amount.0 - used,
                remaining_usd: Nanos(u.amount.0 - used).usd(),
            });
        }
    }
    Ok(decision)
}

/// How a call ended: its exact cost, or its usage to price with the book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    Cost(Nanos),
    Usage { tokens: Tokens, requests: i64 },
}

/// Reads a settle body: `{"cost_usd": "0.0123"}`, or the usage in the event API's token fields
/// (and `request_count`). Errors name the field.
pub fn parse_settlement(v: &serde_json::Value) -> Result<Settlement, AppError> {
    let obj = v.as_object().ok_or_else(|| AppError::invalid("body: expected a JSON object"))?;
    let known = |k: &str| {
        k == "cost_usd" || k == "request_count" || crate::domain::pricing::TOKEN_FIELDS.contains(&k)
    };
    if let Some(k) = obj.keys().find(|k| !known(k)) {
        return Err(AppError::invalid(format!("{k}: unknown field")));
    }
    if let Some(cost) = obj.get("cost_usd") {
        if obj.len() > 1 {
            return Err(AppError::invalid("cost_usd: give the cost or the usage, not both"));
        }
        return crate::domain::ingest::usd_to_nanos(cost)
            .map(Settlement::Cost)
            .map_err(|m| AppError::invalid(format!("cost_usd: {m}")));
    }
    let mut tokens = Tokens::default();
    for (k, v) in obj.iter().filter(|(k, _)| *k != "request_count") {
        let n = v.as_i64().filter(|n| (0..=crate::domain::event_bounds::count_max(k)).contains(n));
        *tokens.field_mut(k).expect("a token field") =
            n.ok_or_else(|| AppError::invalid(format!("{k}: a whole number of at least 0 (got {v})")))?;
    }
    crate::domain::event_bounds::check_tokens(&tokens).map_err(AppError::invalid)?;
    let requests = match obj.get("request_count") {
        None => 1,
        Some(v) => {
            v.as_i64().filter(|n| (0..=crate::domain::limits::MAX_REQUESTS).contains(n)).ok_or_else(|| {
                AppError::invalid(format!("request_count: a whole number of at least 0 (got {v})"))
            })?
        }
    };
    Ok(Settlement::Usage { tokens, requests })
}

/// Settles a reservation of the key's organisation. Usage is priced with the reservation's
/// provider and model; a model without a price settles at its held worst case (never $0).
/// Settling twice answers the first settlement; an unknown id is `NotFound`.
pub async fn settle(
    db: &Db,
    prices: &PriceCache,
    org: OrgId,
    id: &str,
    how: Settlement,
    now: DateTime<Utc>,
) -> Result<Closed, AppError> {
    let not_found = || AppError::NotFound(format!("reservation {id}"));
    let (provider, model, day, amount) = db.reservation(org, id).await?.ok_or_else(not_found)?;
    let actual = match how {
        Settlement::Cost(c) => c,
        Settlement::Usage { tokens, requests } => {
            let book = prices.book(db, org).await?;
            book.find(&provider, &model, day)
                .and_then(|e| e.price.cost(&tokens, requests, ServiceTier::Standard).ok())
                .unwrap_or(amount)
        }
    };
    db.settle_reservation(org, id, actual, now).await?.ok_or_else(not_found)
}
