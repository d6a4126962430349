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
use crate::server::db::guardrails::{CapCheck, CapUse, Closed, Hold, Reserved};
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
}

impl Decision {
    /// The HTTP status: 200 allow; 402 when a budget denied; 429 for a rate limit; 403 for
    /// the other denials (model, size, agent limits, unpriced model).
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
    let caps: Vec<(CapCheck, &Rule, Period)> = rules
        .iter()
        .filter_map(|r| match &r.limit {
            Limit::Cap { period, amount_nanos, hard, .. } => {
                let (from, to) = period.window(today);
                let enforce = *hard && r.mode == Mode::Enforce;
                Some((
                    CapCheck { rule_id: r.id, from, to, amount: Nanos(*amount_nanos), enforce },
                    r,
                    *period,
                ))
            }
            _ => None,
        })
        .collect();
    let cost = call.worst_case.unwrap_or(Nanos::ZERO);
    let id = format!("rsv_{}", crate::server::auth::password::random_secret(24));
    let hold = Hold { id: &id, provider: &call.provider, model: &call.model, cost, day: today };
    let expires_at = now + Duration::seconds(ttl_secs);
    let checks: Vec<CapCheck> = caps.iter().map(|c| c.0).collect();
    let rule_of = |u: &CapUse| caps.iter().find(|c| c.0.rule_id == u.rule_id).expect("a cap of this call");
    let over_message = |u: &CapUse, would: &str| {
        let (_, r, p) = rule_of(u);
        format!(
            "rule '{}': {} of {} used {} ({} settled, {} held); this call may cost {}{would}",
            r.name,
            Nanos(u.spent.0 + u.reserved.0).usd(),
            u.amount.usd(),
            window_name(*p),
            u.spent.usd(),
            u.reserved.usd(),
            cost.usd()
        )
    };
    match db.reserve(org, &hold, &checks, now, expires_at).await? {
        Reserved::Denied(over) => {
            for u in &over {
                let r = rule_of(u).1;
                decision.denied.push(Denial {
                    rule: r.name.clone(),
                    code: Code::BudgetExhausted,
                    message: over_message(u, ""),
                });
            }
        }
        Reserved::Held { uses, passed } => {
            decision.decision = "allow".into();
            decision.reservation_id = Some(id.clone());
            decision.expires_at = Some(expires_at);
            for u in &passed {
                let r = rule_of(u).1;
                let why =
                    if r.mode == Mode::Shadow { " (shadow: not denied)" } else { " (soft cap: not denied)" };
                decision.warnings.push(Denial {
                    rule: r.name.clone(),
                    code: Code::BudgetExhausted,
                    message: over_message(u, why),
                });
            }
            for u in &uses {
                let (_, r, p) = rule_of(u);
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
