//! Budgets: create (finance, admins), evaluate every budget against actual spend and the
//! forecast, and raise each alert once per budget, period and threshold.
use chrono::NaiveDate;

use crate::domain::budget::{
    alert_message, alert_notice, alerts_due, evaluate, AccuracyRow, Budget, BudgetDetail, BudgetLine,
    PeriodForecast,
};
use crate::domain::explore::{Dim, Filter, SpendQuery};
use crate::domain::forecast::Point;
use crate::domain::ledger::SpendSource;
use crate::domain::snapshot::{accuracy, at_least, project_as_of, snapshot_as_of, Snapshot, HISTORY_DAYS};
use crate::domain::{DateRange, Nanos};
use crate::error::{internal, AppError};
use crate::server::db::spend::SpendPath;
use crate::server::db::{Actor, Db, NewAudit, OrgId};
use crate::server::services::spend::view;

/// Spend of the budget's scope, one figure per day of `range` (oldest first).
async fn daily(db: &Db, org: OrgId, b: &Budget, range: DateRange) -> Result<Vec<Nanos>, AppError> {
    daily_of(db, org, b.scope.as_ref(), None, range).await
}

/// Spend of `scope` (everything when `None`) from `source` (all when `None`), one figure per day.
async fn daily_of(
    db: &Db,
    org: OrgId,
    scope: Option<&(Dim, String)>,
    source: Option<SpendSource>,
    range: DateRange,
) -> Result<Vec<Nanos>, AppError> {
    let mut q = SpendQuery::total(range, source);
    if let Some((dim, value)) = scope {
        q.filters.push(Filter { dim: dim.clone(), values: vec![value.clone()] });
    }
    let v = view(db, org, q, SpendPath::Auto).await?;
    Ok((0..v.buckets.len()).map(|i| Nanos(v.series.iter().map(|s| s.values[i].cost_nanos).sum())).collect())
}

/// The projected end of `period` seen on `today`: the one definition behind a budget's header,
/// its snapshots and the Overview's month end ([`project_as_of`], never below what is spent).
/// Returns the projection, the forecast of each day after `today`, and the method's name.
pub async fn projection(
    db: &Db,
    org: OrgId,
    scope: Option<&(Dim, String)>,
    source: Option<SpendSource>,
    period: DateRange,
    today: NaiveDate,
    spent: Nanos,
) -> Result<(Point, Vec<Point>, String), AppError> {
    if today > period.to {
        let p = Point { point: spent, low: spent, high: spent };
        return Ok((p, Vec::new(), "actual (the period is over)".into()));
    }
    let from = today - chrono::Duration::days(HISTORY_DAYS);
    let series = daily_of(db, org, scope, source, DateRange { from, to: today }).await?;
    let (snap, f) = project_as_of(period, today, from, &series, false);
    let after_today = f.points.into_iter().skip(1).collect();
    Ok((at_least(snap.projected, spent), after_today, snap.method))
}

/// A budget's evaluation on `today`, with the period's daily actuals and the forecast of the
/// days after today it was made from (empty before the budget starts).
async fn evaluated(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
    b: &Budget,
) -> Result<(BudgetLine, Vec<(NaiveDate, Nanos)>, Vec<Point>), AppError> {
    let Some(period) = b.period_for(today) else {
        let line = BudgetLine { budget: b.clone(), evaluation: None, method: None };
        return Ok((line, Vec::new(), Vec::new()));
    };
    let range = DateRange { from: period.from, to: today.min(period.to) };
    let days: Vec<(NaiveDate, Nanos)> = range.iter_days().zip(daily(db, org, b, range).await?).collect();
    let actual: Nanos = days.iter().map(|(_, v)| *v).sum();
    let (projected, after_today, method) =
        projection(db, org, b.scope.as_ref(), None, period, today, actual).await?;
    let daily: Vec<Nanos> = after_today.iter().map(|p| p.point).collect();
    let e = evaluate(b, period, today, actual, projected, &daily);
    let line = BudgetLine { budget: b.clone(), evaluation: Some(e), method: Some(method) };
    Ok((line, days, after_today))
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
                let notice = alert_notice(&b, e, kind);
                let alert = crate::server::db::budgets::NewBudgetAlert {
                    budget: b.id,
                    period_start: e.period.from,
                    kind,
                    message: &msg,
                    actual: e.actual,
                    projected: e.projected.point,
                    amount: b.amount,
                };
                if db.raise_budget_alert(org, &alert, &notice).await? {
                    new += 1;
                }
            }
        }
        lines.push(line);
    }
    if new > 0 {
        super::jobs::signal::wake(super::jobs::signal::Job::Webhooks);
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
    let history = forecast_history(db, org, today, &b).await?;
    Ok(BudgetDetail { line, actual_days, forecast_days, breakdown, alerts, history })
}

/// Refuses a scope that matches nothing known unless `confirmed` (see
/// [`super::spend::check_scope`]); a budget keeping the scope it had is not asked again.
pub async fn check_scope(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
    b: &Budget,
    id: Option<i64>,
    confirmed: bool,
) -> Result<(), AppError> {
    let Some((dim, value)) = &b.scope else { return Ok(()) };
    if confirmed {
        return Ok(());
    }
    if let Some(id) = id {
        if existing(db, org, id).await?.scope == b.scope {
            return Ok(());
        }
    }
    super::spend::check_scope(db, org, today, dim, value).await
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
    record_snapshots(db, org, today).await?;
    Ok(id)
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
    // snapshots forecast the old scope and periods; an amount or a name changes none of them
    let same_forecast = before.scope == b.scope
        && before.period == b.period
        && before.fiscal_start_month == b.fiscal_start_month
        && before.start == b.start
        && before.recurring == b.recurring;
    if !same_forecast {
        db.delete_snapshots(org, id).await?;
    }
    evaluate_all(db, org, today).await?;
    record_snapshots(db, org, today).await?;
    Ok(())
}

/// Deletes a budget and its alerts (audited).
pub async fn delete(db: &Db, org: OrgId, actor: &Actor, id: i64) -> Result<(), AppError> {
    let before = existing(db, org, id).await?;
    let entry = audit_entry(actor, "budget.delete", &before, Some(&before))?;
    db.delete_budget(org, id, &entry).await?;
    Ok(())
}

/// The periods whose forecasts are kept: the current one and the one before.
fn snapshot_periods(b: &Budget, today: NaiveDate) -> Vec<DateRange> {
    let Some(current) = b.period_for(today) else { return Vec::new() };
    let mut out: Vec<DateRange> = b.previous_period(current).into_iter().collect();
    out.push(current);
    out
}

/// Records the forecast snapshots each budget is missing, through `today`: today's by the
/// daily job itself, earlier days of the current and previous period reconstructed from the
/// data as it is now (marked so). Returns how many were stored.
pub async fn record_snapshots(db: &Db, org: OrgId, today: NaiveDate) -> Result<u64, AppError> {
    let mut stored = 0;
    for b in db.budgets(org).await? {
        let kept = db.snapshots(org, b.id).await?;
        for period in snapshot_periods(&b, today) {
            let last = today.min(period.to);
            let missing: Vec<NaiveDate> = DateRange { from: period.from, to: last }
                .iter_days()
                .filter(|d| !kept.iter().any(|s| s.period_start == period.from && s.as_of == *d))
                .collect();
            let Some(first) = missing.first() else { continue };
            // one read: the 56 days before the first missing day through the day before the last
            let from = *first - chrono::Duration::days(HISTORY_DAYS);
            let to = (*missing.last().expect("not empty")).pred_opt().unwrap_or(from).max(from);
            let series = daily(db, org, &b, DateRange { from, to }).await?;
            let snaps: Vec<Snapshot> =
                missing.iter().map(|d| snapshot_as_of(period, *d, from, &series, *d < today)).collect();
            stored += db.insert_snapshots(org, b.id, &snaps).await?;
        }
    }
    Ok(stored)
}

/// Forecast vs actual for a budget's current and previous period.
async fn forecast_history(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
    b: &Budget,
) -> Result<Vec<PeriodForecast>, AppError> {
    let kept = db.snapshots(org, b.id).await?;
    let mut out = Vec::new();
    for period in snapshot_periods(b, today) {
        let complete = period.to < today;
        let through = if complete { period.to } else { today.min(period.to) };
        let actual: Nanos =
            daily(db, org, b, DateRange { from: period.from, to: through }).await?.into_iter().sum();
        let snapshots: Vec<Snapshot> =
            kept.iter().filter(|s| s.period_start == period.from).cloned().collect();
        let accuracy = if complete { accuracy(period, &snapshots, actual) } else { None };
        out.push(PeriodForecast { period, snapshots, actual, complete, accuracy });
    }
    Ok(out)
}

/// Every budget's completed periods with their forecast error, worst first: the forecast
/// accuracy ranking.
pub async fn accuracy_ranking(db: &Db, org: OrgId, today: NaiveDate) -> Result<Vec<AccuracyRow>, AppError> {
    let mut rows = Vec::new();
    for b in db.budgets(org).await? {
        for h in forecast_history(db, org, today, &b).await? {
            if let Some(a) = h.accuracy {
                rows.push(AccuracyRow {
                    budget_id: b.id,
                    budget: b.name.clone(),
                    scope: b.scope_label(),
                    period: h.period,
                    actual: h.actual,
                    at_start: h
                        .snapshots
                        .iter()
                        .min_by_key(|s| s.as_of)
                        .map(|s| s.projected.point)
                        .unwrap_or_default(),
                    accuracy: a,
                });
            }
        }
    }
    rows.sort_by(|a, b| b.accuracy.mape_pct.total_cmp(&a.accuracy.mape_pct).then(a.budget.cmp(&b.budget)));
    Ok(rows)
}
