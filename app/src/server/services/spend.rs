//! The spend explorer and the read API: parse the view from URL parameters, read its rows,
//! build what is shown. One function serves the page, its CSV export and `GET /api/v1/spend`.
use chrono::NaiveDate;

use crate::domain::explore::{shown, Dim, SpendQuery, SpendView};
use crate::domain::ledger::SpendSource;
use crate::domain::pricing::ServiceTier;
use crate::domain::DateRange;
use crate::error::AppError;
use crate::server::db::spend::SpendPath;
use crate::server::db::{Db, OrgId};

/// The view for these URL parameters (errors name the parameter).
#[tracing::instrument(skip(db, pairs), err(Debug, level = "info"))]
pub async fn explore(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
    pairs: &[(String, String)],
) -> Result<SpendView, AppError> {
    let q = SpendQuery::parse(pairs, today)?;
    view(db, org, q, SpendPath::Auto).await
}

/// The view for a parsed query, through the chosen path.
pub async fn view(db: &Db, org: OrgId, q: SpendQuery, path: SpendPath) -> Result<SpendView, AppError> {
    let (rows, from_rollups) = db.spend_rows(org, &q, path).await?;
    Ok(SpendView::build(q, &rows, from_rollups))
}

/// The values each filter offers over `range`: (dimension key, shown values). Tags are typed
/// in by key, so they are not listed.
pub async fn filter_options(
    db: &Db,
    org: OrgId,
    range: DateRange,
) -> Result<Vec<(String, Vec<String>)>, AppError> {
    let stored = db.dim_values(org, range).await?;
    Ok(Dim::FIXED
        .iter()
        .map(|d| {
            let values: Vec<String> = match d {
                Dim::Source => SpendSource::ALL.iter().map(|s| s.as_str().to_string()).collect(),
                Dim::ServiceTier => ServiceTier::ALL.iter().map(|t| t.as_str().to_string()).collect(),
                d => {
                    let key = d.rollup_dim().unwrap_or_default();
                    stored.iter().filter(|(k, _)| k == key).map(|(_, v)| shown(v)).collect()
                }
            };
            (d.key(), values)
        })
        .collect())
}
