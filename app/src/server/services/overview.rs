//! The Overview page's figures.
use chrono::NaiveDate;

use crate::domain::explore::{Dim, SpendQuery};
use crate::domain::ledger::{SpendSource, StaleSource};
use crate::domain::overview::{previous_period, top_list, Comparison, Coverage};
use crate::domain::{DateRange, Nanos, Overview};
use crate::error::AppError;
use crate::server::db::spend::SpendPath;
use crate::server::db::{Db, OrgId};
use crate::server::services::spend;

/// Parses the page's `from`/`to`/`source` (errors name the field), then reads the totals.
#[tracing::instrument(skip(db), err(Debug, level = "info"))]
pub async fn overview(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
    from: Option<&str>,
    to: Option<&str>,
    source: Option<&str>,
) -> Result<Overview, AppError> {
    let range = DateRange::parse(from, to, today)?;
    let source = match source.map(str::trim).filter(|s| !s.is_empty() && *s != "all") {
        Some(s) => Some(SpendSource::parse(s).map_err(AppError::Invalid)?),
        None => None,
    };
    let rows = db.daily_costs(org, range, source).await?;
    let mtd = db.cost_between(org, DateRange::month_to_date(today), source).await?;
    let prev = db.cost_between(org, DateRange::same_days_last_month(today), source).await?;
    let by_source = db.cost_by_source(org, range).await?;
    let month = crate::domain::budget::BudgetPeriod::Month.containing(today, 1);
    let (projected, _, method) = super::budgets::projection(db, org, None, source, month, today, mtd).await?;
    let mut o = Overview::build(today, range, &rows, mtd, prev, (projected, method));
    o.source = source;
    let previous = previous_period(range);
    let same_days = DateRange::same_days_last_month(today);
    o.range_vs = Comparison {
        previous,
        previous_days: db.days_with_spend(org, previous, source).await?,
        current_days: db.days_with_spend(org, range, source).await?,
    };
    o.mtd_vs = Comparison {
        previous: same_days,
        previous_days: db.days_with_spend(org, same_days, source).await?,
        current_days: db.days_with_spend(org, DateRange::month_to_date(today), source).await?,
    };
    o.stale = stale_sources(db, org, today).await?;
    o.by_source = by_source;
    for dim in [Dim::Team, Dim::Feature, Dim::Model, Dim::Customer, Dim::Initiative] {
        let now = by_value(db, org, &dim, range, source).await?;
        let before = by_value(db, org, &dim, previous, source).await?;
        if dim != Dim::Model && dim != Dim::Customer {
            o.coverage.push(Coverage::of(dim.clone(), &now));
        }
        if dim != Dim::Initiative {
            o.top.push(top_list(dim, &now, &before, TOP_N, previous));
        }
    }
    let tokens =
        spend::view(db, org, SpendQuery::total(range, Some(SpendSource::Tokens)), SpendPath::Auto).await?;
    o.unit = tokens.total;
    // budgets are about today, whatever range the page shows
    for b in db.budgets(org).await? {
        o.budgets.push(super::budgets::evaluate_one(db, org, today, &b).await?);
    }
    Ok(o)
}

/// Sources that have gone quiet for longer than they normally lag (the stale-import banner on
/// the Overview and the explorer).
pub async fn stale_sources(db: &Db, org: OrgId, today: NaiveDate) -> Result<Vec<StaleSource>, AppError> {
    Ok(crate::domain::ledger::stale_sources(&db.last_spend_day_by_source(org).await?, today))
}

/// Values listed per dimension on the Overview.
const TOP_N: usize = 5;

/// Spend per value of `dim` over `range`, through the explorer (so the Overview and the
/// explorer can never disagree).
async fn by_value(
    db: &Db,
    org: OrgId,
    dim: &Dim,
    range: DateRange,
    source: Option<SpendSource>,
) -> Result<Vec<(String, Nanos)>, AppError> {
    let mut q = SpendQuery::total(range, source);
    q.group = Some(dim.clone());
    let v = spend::view(db, org, q, SpendPath::Auto).await?;
    Ok(v.table.into_iter().map(|g| (g.group, Nanos(g.sums.cost_nanos))).collect())
}
