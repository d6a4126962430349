//! Budgets: a scope (the organisation, or one value of a dimension), a period (month, quarter
//! or year, with a configurable fiscal-year start), an amount and alert thresholds; and their
//! evaluation against actual spend and the forecast. Comparisons use "reached" (≥) throughout.
use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use super::explore::Dim;
use super::forecast::{run_out_date, Point};
use super::{DateRange, Nanos};
use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BudgetPeriod {
    Month,
    Quarter,
    Year,
}

impl BudgetPeriod {
    pub const ALL: [BudgetPeriod; 3] = [BudgetPeriod::Month, BudgetPeriod::Quarter, BudgetPeriod::Year];

    pub fn as_str(self) -> &'static str {
        match self {
            BudgetPeriod::Month => "month",
            BudgetPeriod::Quarter => "quarter",
            BudgetPeriod::Year => "year",
        }
    }

    fn months(self) -> u32 {
        match self {
            BudgetPeriod::Month => 1,
            BudgetPeriod::Quarter => 3,
            BudgetPeriod::Year => 12,
        }
    }

    pub fn parse(s: &str) -> Result<BudgetPeriod, AppError> {
        BudgetPeriod::ALL
            .into_iter()
            .find(|p| p.as_str() == s.trim())
            .ok_or_else(|| AppError::invalid(format!("period: '{s}' is not month, quarter or year")))
    }

    /// The period holding `day`. Quarters and years start from the fiscal year's first month
    /// (1 = January).
    pub fn containing(self, day: NaiveDate, fiscal_start_month: u32) -> DateRange {
        let step = self.months();
        let anchor = if self == BudgetPeriod::Month { 1 } else { fiscal_start_month.clamp(1, 12) };
        // months since the anchor month, rounded down to a whole period
        let offset = (day.month() + 12 - anchor) % 12;
        let back = offset % step;
        let first_of_month = day.with_day(1).unwrap_or(day);
        let from = first_of_month - Months::new(back);
        let to = from + Months::new(step) - chrono::Days::new(1);
        DateRange { from, to }
    }
}

/// The default alert thresholds, in percent of the amount.
pub const DEFAULT_THRESHOLDS: [u32; 3] = [50, 80, 100];

/// A budget as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    pub id: i64,
    pub name: String,
    /// `None`: the whole organisation.
    pub scope: Option<(Dim, String)>,
    pub period: BudgetPeriod,
    pub fiscal_start_month: u32,
    /// Whether the budget applies to every period from `start` on, or only the one holding it.
    pub recurring: bool,
    pub start: NaiveDate,
    pub amount: Nanos,
    /// Ascending percentages.
    pub thresholds: Vec<u32>,
    pub owner: String,
}

/// The budget form as typed (every field text; `recurring` is a checkbox: present or not).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BudgetInput {
    pub name: String,
    pub scope: String,
    pub scope_value: String,
    pub period: String,
    pub fiscal_start_month: String,
    pub recurring: Option<String>,
    pub start: String,
    pub amount_usd: String,
    pub thresholds: String,
    pub owner: String,
    /// Ticked to keep a scope that matches no spend yet (otherwise refused as a likely typo).
    #[serde(default)]
    pub save_unmatched: Option<String>,
}

/// A budget from its form, every field checked; errors name the field.
pub fn parse_budget(f: &BudgetInput) -> Result<Budget, AppError> {
    let BudgetInput {
        name,
        scope,
        scope_value,
        period,
        fiscal_start_month,
        recurring,
        start,
        amount_usd,
        thresholds,
        owner,
        save_unmatched: _,
    } = f;
    let name = name.trim();
    if name.is_empty() || name.len() > 120 {
        return Err(AppError::invalid("name: give the budget a name of at most 120 characters"));
    }
    let scope = match scope.trim() {
        "" | "organisation" => None,
        s => {
            let dim = Dim::parse("scope", s)?;
            if matches!(dim, Dim::Source | Dim::ServiceTier | Dim::ApiKey | Dim::Environment) {
                return Err(AppError::invalid(format!(
                    "scope: budgets are not kept per {}",
                    dim.label().to_lowercase()
                )));
            }
            let v = scope_value.trim();
            if v.is_empty() {
                return Err(AppError::invalid(format!(
                    "scope_value: name the {} this budget is for",
                    dim.label().to_lowercase()
                )));
            }
            Some((dim, v.to_string()))
        }
    };
    let period = BudgetPeriod::parse(period)?;
    let fiscal_start_month = match fiscal_start_month.trim() {
        "" => 1,
        m => m.parse::<u32>().ok().filter(|m| (1..=12).contains(m)).ok_or_else(|| {
            AppError::invalid(format!("fiscal_start_month: '{m}' is not a month from 1 to 12"))
        })?,
    };
    let start = super::period::required_day("start", start)?;
    // people type "$1,000.50"; the amount is held to the nano like every figure
    let amount = Nanos::parse_usd(amount_usd).map_err(|e| AppError::invalid(format!("amount_usd: {e}")))?;
    if amount.0 <= 0 {
        return Err(AppError::invalid("amount_usd: a budget is more than $0"));
    }
    // no budget is larger than all the spend an organisation may hold
    super::limits::amount("amount_usd", amount, Nanos(super::limits::MAX_ORG_TOTAL))
        .map_err(AppError::Invalid)?;
    let mut ts: Vec<u32> = if thresholds.trim().is_empty() {
        DEFAULT_THRESHOLDS.to_vec()
    } else {
        thresholds
            .split(',')
            .map(|t| {
                let t = t.trim().trim_end_matches('%');
                t.parse::<u32>().ok().filter(|p| (1..=1000).contains(p)).ok_or_else(|| {
                    AppError::invalid(format!("thresholds: '{t}' is not a percentage from 1 to 1000"))
                })
            })
            .collect::<Result<_, _>>()?
    };
    ts.sort_unstable();
    ts.dedup();
    let owner = owner.trim();
    if owner.is_empty() {
        return Err(AppError::invalid("owner: name who owns this budget"));
    }
    Ok(Budget {
        id: 0,
        name: name.to_string(),
        scope,
        period,
        fiscal_start_month,
        recurring: recurring.is_some(),
        start,
        amount,
        thresholds: ts,
        owner: owner.to_string(),
    })
}

impl Budget {
    /// The period evaluated on `today`: the current one for a recurring budget (from its start
    /// on), the one holding `start` otherwise; `None` before the budget starts.
    pub fn period_for(&self, today: NaiveDate) -> Option<DateRange> {
        let first = self.period.containing(self.start, self.fiscal_start_month);
        if today < first.from {
            return None;
        }
        if self.recurring {
            Some(self.period.containing(today, self.fiscal_start_month))
        } else {
            Some(first)
        }
    }

    /// The period before `p`, if the budget ran then (recurring, and not before its start).
    pub fn previous_period(&self, p: DateRange) -> Option<DateRange> {
        let first = self.period.containing(self.start, self.fiscal_start_month);
        let prev = self.period.containing(p.from.pred_opt()?, self.fiscal_start_month);
        (self.recurring && prev.from >= first.from).then_some(prev)
    }

    pub fn scope_label(&self) -> String {
        match &self.scope {
            None => "Organisation".into(),
            Some((d, v)) => format!("{} {v}", d.label()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    OnTrack,
    AtRisk,
    Over,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::OnTrack => "on track",
            Status::AtRisk => "at risk",
            Status::Over => "over",
        }
    }
}

/// A budget in its period on a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    pub period: DateRange,
    pub actual: Nanos,
    /// Actual plus the forecast of the days left (with the forecast's interval).
    pub projected: Point,
    pub run_out: Option<NaiveDate>,
    pub status: Status,
    /// Thresholds the actual has reached (≥).
    pub reached: Vec<u32>,
}

/// `actual` is the spend of the period through `today`; `projected` the period's end as
/// [`crate::domain::snapshot::project_as_of`] projects it (raised to `actual` when below);
/// `after_today` the forecast of each day after `today`.
pub fn evaluate(
    b: &Budget,
    period: DateRange,
    today: NaiveDate,
    actual: Nanos,
    projected: Point,
    after_today: &[Nanos],
) -> Evaluation {
    let days_left = (period.to - today).num_days().max(0) as usize;
    let projected = crate::domain::snapshot::at_least(projected, actual);
    let daily: Vec<Nanos> = after_today.iter().take(days_left).copied().collect();
    let run_out = run_out_date(actual, b.amount, today.min(period.to), &daily);
    let status = if actual >= b.amount {
        Status::Over
    } else if projected.point >= b.amount {
        Status::AtRisk
    } else {
        Status::OnTrack
    };
    let reached = b.thresholds.iter().copied().filter(|t| reached(actual, b.amount, *t)).collect();
    Evaluation { period, actual, projected, run_out, status, reached }
}

/// Whether `actual` has reached `pct` percent of `amount`, exactly (integer arithmetic).
pub fn reached(actual: Nanos, amount: Nanos, pct: u32) -> bool {
    actual.0 as i128 * 100 >= amount.0 as i128 * pct as i128
}

/// An alert to raise once per budget, period and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlertKind {
    /// A threshold (percent) was reached.
    Threshold(u32),
    /// The projection says the amount will be reached before the period ends.
    Projected,
}

/// The alerts an evaluation calls for (the store keeps each once per period).
pub fn alerts_due(e: &Evaluation) -> Vec<AlertKind> {
    let mut out: Vec<AlertKind> = e.reached.iter().map(|t| AlertKind::Threshold(*t)).collect();
    if e.status == Status::AtRisk {
        out.push(AlertKind::Projected);
    }
    out
}

/// The alert's text: which budget, scope, amount, actual, projection and threshold.
pub fn alert_message(b: &Budget, e: &Evaluation, kind: AlertKind) -> String {
    let what = match kind {
        AlertKind::Threshold(t) => format!("reached {t}% of"),
        AlertKind::Projected => "is projected to exceed".to_string(),
    };
    format!(
        "Budget \"{}\" ({}, {} – {}): spend {} {what} {}; projected {} by {}.",
        b.name,
        b.scope_label(),
        e.period.from,
        e.period.to,
        e.actual.usd(),
        b.amount.usd(),
        e.projected.point.usd(),
        e.period.to
    )
}

/// The alert as told to webhooks: same text as in the app, plus the exact figures. The key is
/// the alert's identity (budget, period, kind, threshold), so a delivery is queued once.
pub fn alert_notice(b: &Budget, e: &Evaluation, kind: AlertKind) -> super::webhook::Notice {
    let (event, what, threshold) = match kind {
        AlertKind::Threshold(t) => ("budget.threshold", format!("reached {t}%"), Some(t)),
        AlertKind::Projected => ("budget.projected", "is projected to exceed its amount".to_string(), None),
    };
    super::webhook::Notice {
        key: format!("budget:{}:{}:{}:{}", b.id, e.period.from, event, threshold.unwrap_or(0)),
        event: event.into(),
        title: format!("Budget \"{}\" {what}", b.name),
        message: alert_message(b, e, kind),
        path: format!("/budgets/{}", b.id),
        data: serde_json::json!({
            "budget_id": b.id,
            "budget": b.name,
            "scope": b.scope_label(),
            "period_from": e.period.from,
            "period_to": e.period.to,
            "amount_nanos": b.amount.0,
            "actual_nanos": e.actual.0,
            "projected_nanos": e.projected.point.0,
            "projected_low_nanos": e.projected.low.0,
            "projected_high_nanos": e.projected.high.0,
            "threshold_pct": threshold,
            "run_out": e.run_out,
            "status": e.status.label(),
        }),
    }
}

/// An alert as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetAlert {
    pub id: i64,
    pub budget_id: i64,
    pub period_start: NaiveDate,
    pub kind: String,
    pub threshold: i64,
    pub message: String,
    pub actual: Nanos,
    pub projected: Nanos,
    pub amount: Nanos,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A budget with its evaluation today (`None` before the budget starts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetLine {
    pub budget: Budget,
    pub evaluation: Option<Evaluation>,
    pub method: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn budget(amount: i64) -> Budget {
        Budget {
            id: 1,
            name: "AI".into(),
            scope: Some((Dim::Team, "search".into())),
            period: BudgetPeriod::Month,
            fiscal_start_month: 1,
            recurring: true,
            start: d("2026-01-01"),
            amount: Nanos(amount),
            thresholds: DEFAULT_THRESHOLDS.to_vec(),
            owner: "fin".into(),
        }
    }

    #[test]
    fn periods_follow_the_fiscal_year() {
        assert_eq!(
            BudgetPeriod::Month.containing(d("2026-02-14"), 4),
            DateRange { from: d("2026-02-01"), to: d("2026-02-28") }
        );
        // fiscal year from April: Q4 is January–March
        assert_eq!(
            BudgetPeriod::Quarter.containing(d("2026-02-14"), 4),
            DateRange { from: d("2026-01-01"), to: d("2026-03-31") }
        );
        assert_eq!(
            BudgetPeriod::Year.containing(d("2026-02-14"), 4),
            DateRange { from: d("2025-04-01"), to: d("2026-03-31") }
        );
        assert_eq!(
            BudgetPeriod::Quarter.containing(d("2026-11-28"), 1),
            DateRange { from: d("2026-10-01"), to: d("2026-12-31") }
        );
    }

    #[test]
    fn form_errors_name_the_field() {
        let e = |r: Result<Budget, AppError>| r.unwrap_err().to_string();
        assert!(e(parse_budget(&BudgetInput {
            period: "month".into(),
            recurring: Some("on".into()),
            start: "2026-11-01".into(),
            amount_usd: "10".into(),
            owner: "x".into(),
            ..Default::default()
        }))
        .starts_with("name:"));
        assert!(e(parse_budget(&BudgetInput {
            name: "a".into(),
            scope: "team".into(),
            period: "month".into(),
            recurring: Some("on".into()),
            start: "2026-11-01".into(),
            amount_usd: "10".into(),
            owner: "x".into(),
            ..Default::default()
        }))
        .starts_with("scope_value:"));
        assert!(e(parse_budget(&BudgetInput {
            name: "a".into(),
            scope: "source".into(),
            scope_value: "gpu".into(),
            period: "month".into(),
            recurring: Some("on".into()),
            start: "2026-11-01".into(),
            amount_usd: "10".into(),
            owner: "x".into(),
            ..Default::default()
        }))
        .starts_with("scope:"));
        assert!(e(parse_budget(&BudgetInput {
            name: "a".into(),
            period: "week".into(),
            recurring: Some("on".into()),
            start: "2026-11-01".into(),
            amount_usd: "10".into(),
            owner: "x".into(),
            ..Default::default()
        }))
        .starts_with("period:"));
        assert!(e(parse_budget(&BudgetInput {
            name: "a".into(),
            period: "month".into(),
            fiscal_start_month: "13".into(),
            recurring: Some("on".into()),
            start: "2026-11-01".into(),
            amount_usd: "10".into(),
            owner: "x".into(),
            ..Default::default()
        }))
        .starts_with("fiscal_start_month:"));
        assert!(e(parse_budget(&BudgetInput {
            name: "a".into(),
            period: "month".into(),
            recurring: Some("on".into()),
            start: "2026-11-01".into(),
            amount_usd: "0".into(),
            owner: "x".into(),
            ..Default::default()
        }))
        .starts_with("amount_usd:"));
        assert!(e(parse_budget(&BudgetInput {
            name: "a".into(),
            period: "month".into(),
            recurring: Some("on".into()),
            start: "2026-11-01".into(),
            amount_usd: "10".into(),
            thresholds: "50,x".into(),
            owner: "x".into(),
            ..Default::default()
        }))
        .starts_with("thresholds:"));
        let b = parse_budget(&BudgetInput {
            name: "a".into(),
            scope: "tag:project".into(),
            scope_value: "p1".into(),
            period: "quarter".into(),
            fiscal_start_month: "4".into(),
            start: "2026-11-01".into(),
            amount_usd: "1,000.50".into(),
            thresholds: "100, 80%,80".into(),
            owner: "fin".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(b.thresholds, vec![80, 100]);
        assert_eq!(b.amount, Nanos(1_000_500_000_000));
        assert_eq!(b.scope, Some((Dim::Tag("project".into()), "p1".into())));
    }

    #[test]
    fn thresholds_are_reached_at_exactly_their_percentage() {
        assert!(reached(Nanos(50), Nanos(100), 50));
        assert!(!reached(Nanos(49), Nanos(100), 50));
        assert!(reached(Nanos(1_000_000_000), Nanos(1_000_000_000), 100));
        assert!(!reached(Nanos(999_999_999), Nanos(1_000_000_000), 100));
    }

    #[test]
    fn evaluation_projects_runs_out_and_sets_status() {
        let b = budget(1_000);
        let period = DateRange { from: d("2026-11-01"), to: d("2026-11-30") };
        // 600 spent by the 20th, 30 a day for the 10 days left: 900 projected, on track
        let p = |v: i64| Point { point: Nanos(v), low: Nanos(v), high: Nanos(v) };
        let e = evaluate(&b, period, d("2026-11-20"), Nanos(600), p(900), &[Nanos(30); 10]);
        assert_eq!((e.projected.point, e.status, e.run_out), (Nanos(900), Status::OnTrack, None));
        assert_eq!(e.reached, vec![50]);
        assert!(alerts_due(&e).contains(&AlertKind::Threshold(50)));
        // 50 a day: 1,100 projected, runs out on the 28th (600 + 8 × 50 = 1,000, reached)
        let e = evaluate(&b, period, d("2026-11-20"), Nanos(600), p(1_100), &[Nanos(50); 10]);
        assert_eq!((e.status, e.run_out), (Status::AtRisk, Some(d("2026-11-28"))));
        assert!(alerts_due(&e).contains(&AlertKind::Projected));
        let e = evaluate(&b, period, d("2026-11-20"), Nanos(1_000), p(990), &[Nanos(0); 10]);
        assert_eq!((e.status, e.reached.clone()), (Status::Over, vec![50, 80, 100]));
        assert_eq!(e.projected.point, Nanos(1_000), "never projected below what is spent");
        assert!(alert_message(&b, &e, AlertKind::Threshold(100)).contains("reached 100% of"));
    }

    #[test]
    fn a_one_off_budget_keeps_its_period_and_a_recurring_one_moves_on() {
        let mut b = budget(1);
        b.start = d("2026-10-15");
        assert_eq!(b.period_for(d("2026-09-30")), None);
        assert_eq!(b.period_for(d("2026-11-28")).unwrap().from, d("2026-11-01"));
        b.recurring = false;
        assert_eq!(b.period_for(d("2026-11-28")).unwrap().from, d("2026-10-01"));
    }

    #[test]
    fn the_previous_period_exists_only_for_a_recurring_budget_that_ran_then() {
        let mut b = budget(1);
        b.start = d("2026-10-15");
        let nov = b.period_for(d("2026-11-28")).unwrap();
        let oct = b.previous_period(nov).unwrap();
        assert_eq!((oct.from, oct.to), (d("2026-10-01"), d("2026-10-31")));
        assert_eq!(b.previous_period(oct), None, "September is before the budget");
        b.recurring = false;
        assert_eq!(b.previous_period(nov), None);
    }
}

/// One budget's page: its evaluation, the daily actuals of the period so far, the daily
/// forecast of the days left, what contributed, and its alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetDetail {
    pub line: BudgetLine,
    pub actual_days: Vec<(NaiveDate, Nanos)>,
    pub forecast_days: Vec<(NaiveDate, Point)>,
    pub breakdown: super::explore::SpendView,
    pub alerts: Vec<BudgetAlert>,
    /// Forecast vs actual: the current period and the one before (when the budget ran then).
    pub history: Vec<PeriodForecast>,
}

/// One line of the forecast accuracy ranking: a budget's completed period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyRow {
    pub budget_id: i64,
    pub budget: String,
    pub scope: String,
    pub period: DateRange,
    pub actual: Nanos,
    /// The forecast made at the period's start (its first snapshot).
    #[serde(default)]
    pub at_start: Nanos,
    pub accuracy: super::snapshot::Accuracy,
}

/// What was forecast for one period along the way, against what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodForecast {
    pub period: DateRange,
    pub snapshots: Vec<super::snapshot::Snapshot>,
    /// Spend of the whole period once it is over; of the days so far while it runs.
    pub actual: Nanos,
    pub complete: bool,
    /// Only for a complete period.
    pub accuracy: Option<super::snapshot::Accuracy>,
}

impl BudgetDetail {
    /// (day, cumulative actual, cumulative projection) over the whole period: the projection
    /// starts from the last actual and adds the forecast day by day.
    pub fn cumulative(&self) -> Vec<(NaiveDate, Option<Nanos>, Option<Nanos>)> {
        let mut out = Vec::new();
        let mut total = Nanos::ZERO;
        for (d, v) in &self.actual_days {
            total += *v;
            out.push((*d, Some(total), None));
        }
        if let Some(last) = out.last_mut() {
            last.2 = last.1;
        }
        let mut projected = total;
        for (d, p) in &self.forecast_days {
            projected += p.point;
            out.push((*d, None, Some(projected)));
        }
        out
    }
}
