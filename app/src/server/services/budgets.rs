//! Budgets: create (finance, admins), evaluate every budget against actual spend and the
//! forecast, and raise each alert once per budget, period and threshold.
use chrono::NaiveDate;

use crate::domain::budget::{alert_message, alerts_due, evaluate, Budget, BudgetDetail, BudgetLine};
use crate::domain::explore::{Dim, Filter, SpendQuery};
use crate::domain::forecast::{forecast, Forecast, Method};
use crate::domain::{DateRange, Nanos};
use crate::error::{internal, AppError};
use crate::server::db::spend::SpendPath;
use crate::server::db::{Actor, Db, NewAudit, OrgId};
use crate::server::services::spend::view;

/// Days of history the forecast learns from (eight weeks: eight points per weekday).
const HISTORY_DAYS: u64 = 56;

/// Spend of the budget's scope, one figure per day of `range` (oldest first).
async fn daily(db: &Db, org: OrgId, b: &Budget, range: DateRange) -> Result<Vec<Nanos>, AppError> {
    let mut q = SpendQuery::total(range, None);
    if let Some((dim, value)) = &b.scope {
        q.filters.push(Filter { dim: dim.clone(), values: vec![value.clone()] });
    }
    let v = view(db, org, q, SpendPath::Auto).await?;
    Ok((0..v.buckets.len()).map(|i| Nanos(v.series.iter().map(|s| s.values[i].cost_nanos).sum())).collect())
}

/// A budget's evaluation on `today`, with the period's daily actuals and the forecast of the
/// days left it was made from (empty before the budget starts).
async fn evaluated(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
    b: &Budget,
) -> Result<(BudgetLine, Vec<(NaiveDate, Nanos)>, Forecast), AppError> {
    let Some(period) = b.period_for(today) else {
        let line = BudgetLine { budget: b.clone(), evaluation: None, method: None };
        return Ok((line, Vec::new(), Forecast { method: Method::Mean, points: Vec::new() }));
    };
    let range = DateRange { from: period.from, to: today.min(period.to) };
    let days: Vec<(NaiveDate, Nanos)> = range.iter_days().zip(daily(db, org, b, range).await?).collect();
    let actual: Nanos = days.iter().map(|(_, v)| *v).sum();
    let history = daily(db, org, b, DateRange::last_days(today, HISTORY_DAYS)).await?;
    let left = (period.to - today).num_days().max(0) as usize;
    let f = forecast(&history, 7, left);
    let e = evaluate(b, period, today, actual, &f);
    let line = BudgetLine { budget: b.clone(), evaluation: Some(e), method: Some(f.method.label()) };
    Ok((line, days, f))
}

/// One budget on `today`.
pub async fn evaluate_one(db: &Db, org: OrgId, today: NaiveDate, b: &Budget) -> Result<BudgetLine, AppError> {
    Ok(evaluated(db, org, today, b).await?.0)
}

/// Every budget on `today`, raising the alerts due; returns the lines and how many alerts
/// are new (each budget, period, kind and threshold alerts once).
pub async fn evaluate_all(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
) -> Result<(Vec<BudgetLine>, usize), AppError> {
    let mut lines = Vec::new();
    let mut new = 0;
    for b in db.budgets(org).await? {
        let line = evaluate_one(db, org, today, &b).await?;
        if let Some(e) = &line.evaluation {
            for kind in alerts_due(e) {
                let msg = alert_message(&b, e, kind);
                if db
                    .raise_budget_alert(
                        org,
                        b.id,
                        e.period.from,
                        kind,
                        &msg,
                        e.actual,
                        e.projected.point,
                        b.amount,
                    )
                    .await?
                {
                    new += 1;
                }
            }
        }
        lines.push(line);
    }
    Ok((lines, new))
}

/// One budget's page; `NotFound` when the organisation has no such budget.
pub async fn detail(db: &Db, org: OrgId, today: NaiveDate, id: i64) -> Result<BudgetDetail, AppError> {
    let b = existing(db, org, id).await?;
    let (line, actual_days, f) = evaluated(db, org, today, &b).await?;
    let period = b.period_for(today).unwrap_or_else(|| b.period.containing(b.start, b.fiscal_start_month));
    let through = today.min(period.to);
    let forecast_days = f
        .points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| today.checked_add_days(chrono::Days::new(i as u64 + 1)).map(|d| (d, *p)))
        .collect();
    let mut q = SpendQuery::total(DateRange { from: period.from, to: through.max(period.from) }, None);
    // what drove the spend: the team's models, or the teams of any other scope
    q.group = Some(match &b.scope {
        Some((Dim::Team, _)) => Dim::Model,
        _ => Dim::Team,
    });
    if let Some((dim, value)) = &b.scope {
        q.filters.push(Filter { dim: dim.clone(), values: vec![value.clone()] });
    }
    let breakdown = view(db, org, q, SpendPath::Auto).await?;
    let alerts = db.budget_alerts(org, 500).await?.into_iter().filter(|a| a.budget_id == id).collect();
    Ok(BudgetDetail { line, actual_days, forecast_days, breakdown, alerts })
}

/// Stores a budget (already parsed), audited, then evaluates so its alerts appear at once.
pub async fn create(
    db: &Db,
    org: OrgId,
    actor: &Actor,
    today: NaiveDate,
    b: Budget,
) -> Result<i64, AppError> {
    let entry = audit_entry(actor, "budget.create", &b, None)?;
    let id = db.insert_budget(org, &b, &entry).await?;
    evaluate_all(db, org, today).await?;
    Ok(id)
}

/// How often the server re-evaluates budgets on its own, so alerts appear without anyone
/// opening a page (and after imports land).
pub const EVALUATE_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

/// Re-evaluates every budget of `org` every `every`, for as long as the server runs.
pub fn spawn_evaluator(
    db: Db,
    org: OrgId,
    today: impl Fn() -> NaiveDate + Send + 'static,
    every: std::time::Duration,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match evaluate_all(&db, org, today()).await {
                Ok((_, 0)) => {}
                Ok((_, n)) => tracing::info!(new_alerts = n, "budgets evaluated"),
                Err(e) => tracing::warn!(error = %e, "budget evaluation failed"),
            }
        }
    });
}

fn audit_entry(
    actor: &Actor,
    action: &'static str,
    b: &Budget,
    before: Option<&Budget>,
) -> Result<NewAudit, AppError> {
    Ok(NewAudit {
        actor: actor.clone(),
        action,
        entity: "budget",
        entity_id: b.name.clone(),
        summary: format!(
            "budget {} for {}: {} per {}",
            b.name,
            b.scope_label(),
            b.amount.usd(),
            b.period.as_str()
        ),
        before: before.map(serde_json::to_value).transpose().map_err(internal)?,
        after: (action != "budget.delete").then(|| serde_json::to_value(b)).transpose().map_err(internal)?,
    })
}

async fn existing(db: &Db, org: OrgId, id: i64) -> Result<Budget, AppError> {
    db.budgets(org)
        .await?
        .into_iter()
        .find(|b| b.id == id)
        .ok_or_else(|| AppError::NotFound(format!("budget {id}")))
}

/// Changes a budget (audited with before and after), then re-evaluates.
pub async fn update(
    db: &Db,
    org: OrgId,
    actor: &Actor,
    today: NaiveDate,
    id: i64,
    b: Budget,
) -> Result<(), AppError> {
    let before = existing(db, org, id).await?;
    let entry = audit_entry(actor, "budget.update", &b, Some(&before))?;
    db.update_budget(org, id, &b, &entry).await?;
    evaluate_all(db, org, today).await?;
    Ok(())
}

/// Deletes a budget and its alerts (audited).
pub async fn delete(db: &Db, org: OrgId, actor: &Actor, id: i64) -> Result<(), AppError> {
    let before = existing(db, org, id).await?;
    let entry = audit_entry(actor, "budget.delete", &before, Some(&before))?;
    db.delete_budget(org, id, &entry).await?;
    Ok(())
}
