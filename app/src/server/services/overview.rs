//! The Overview page's figures.
use chrono::NaiveDate;

use crate::domain::ledger::SpendSource;
use crate::domain::{DateRange, Overview};
use crate::error::AppError;
use crate::server::db::{Db, OrgId};

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
    let mut o = Overview::build(today, range, &rows, mtd, prev);
    o.source = source;
    o.by_source = by_source;
    Ok(o)
}
