//! The Overview page's figures.
use chrono::NaiveDate;

use crate::domain::{DateRange, Overview};
use crate::error::AppError;
use crate::server::db::{Db, OrgId};

/// Parses the page's `from`/`to` (errors name the field), then reads three totals.
#[tracing::instrument(skip(db), err(Debug, level = "info"))]
pub async fn overview(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Overview, AppError> {
    let range = DateRange::parse(from, to, today)?;
    let rows = db.daily_costs(org, range).await?;
    let mtd = db.cost_between(org, DateRange::month_to_date(today)).await?;
    let prev = db.cost_between(org, DateRange::same_days_last_month(today)).await?;
    Ok(Overview::build(today, range, &rows, mtd, prev))
}
