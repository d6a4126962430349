//! The spend explorer and the read API: parse the view from URL parameters, read its rows,
//! build what is shown. One function serves the page, its CSV export and `GET /api/v1/spend`.
use chrono::NaiveDate;

use crate::domain::explore::{shown, stored, Dim, Filter, ScopeView, SpendQuery, SpendView, SCOPE_DIMS};
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

/// Days of spend whose values count as known scopes (a budget or key for a value seen in the
/// last year is not a typo).
const KNOWN_DAYS: u64 = 400;

/// The values a scope can name, per dimension key: every value with spend in the last
/// [`KNOWN_DAYS`], plus the teams and initiatives created before their first spend.
pub async fn known_scopes(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
) -> Result<Vec<(String, Vec<String>)>, AppError> {
    let mut out = filter_options(db, org, DateRange::last_days(today, KNOWN_DAYS)).await?;
    let teams: Vec<String> = db.list_teams(org).await?.into_iter().map(|t| t.slug).collect();
    let initiatives: Vec<String> = db.initiatives(org).await?.into_iter().map(|i| i.key).collect();
    for (key, values) in out.iter_mut() {
        if *key == Dim::Team.key() {
            values.extend(teams.iter().cloned());
        } else if *key == Dim::Initiative.key() {
            values.extend(initiatives.iter().cloned());
        }
        values.retain(|v| v != crate::domain::explore::NOT_SET);
        values.sort();
        values.dedup();
    }
    Ok(out)
}

/// Refuses a scope that names a value nothing knows (no spend in the last year, no such team
/// or initiative), naming the likely intended one: a typo would otherwise give a budget or
/// limit that matches nothing and reads "$0.00, on track" for ever.
pub async fn check_scope(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
    dim: &Dim,
    value: &str,
) -> Result<(), AppError> {
    let known = known_scopes(db, org, today).await?;
    let values = known.iter().find(|(k, _)| *k == dim.key()).map(|(_, v)| v.as_slice()).unwrap_or(&[]);
    if values.iter().any(|v| v == value) {
        return Ok(());
    }
    let what = dim.label().to_lowercase();
    let hint = match crate::domain::text::closest(value, values) {
        Some(k) => format!("did you mean '{k}'? "),
        None => String::new(),
    };
    Err(AppError::invalid(format!(
        "scope_value: no spend in the last {KNOWN_DAYS} days has {what} '{value}' and no such {what} exists; \
         {hint}check the spelling, or tick \"No spend yet: save anyway\""
    )))
}

/// A team's, initiative's, feature's, model's or customer's page: its daily trend, its spend
/// broken down by the other dimensions, and its costliest traces.
#[tracing::instrument(skip(db), err(Debug, level = "info"))]
pub async fn scope(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
    dim: &str,
    value: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<ScopeView, AppError> {
    let dim = Dim::parse("dimension", dim)?;
    if !SCOPE_DIMS.contains(&dim) {
        return Err(AppError::NotFound(format!("a page for {}", dim.label().to_lowercase())));
    }
    let range = match (from, to) {
        (None, None) => DateRange::last_days(today, 90),
        _ => DateRange::parse(from, to, today)?,
    };
    let (q, breakdowns) = scope_queries(today, &dim, value, range);
    // one page's reads run together: each answers from rollups or a cube in milliseconds,
    // and one after another they would add up
    let breakdowns = breakdowns.into_iter().map(|b| view(db, org, b, SpendPath::Auto));
    let value_stored = stored(value);
    let (trend, breakdowns, traces) = futures_util::try_join!(
        view(db, org, q, SpendPath::Auto),
        futures_util::future::try_join_all(breakdowns),
        async { Ok::<_, AppError>(db.traces(org, range, 10, Some((&dim, &value_stored))).await?) },
    )?;
    Ok(ScopeView { dim, value: value.to_string(), trend, breakdowns, traces })
}

/// The views of a scope page: its daily trend, and its spend by each other dimension.
pub fn scope_queries(
    today: NaiveDate,
    dim: &Dim,
    value: &str,
    range: DateRange,
) -> (SpendQuery, Vec<SpendQuery>) {
    let mut q = SpendQuery::default_for(today);
    q.range = range;
    q.preset = None;
    q.group = None;
    q.filters = vec![Filter { dim: dim.clone(), values: vec![value.to_string()] }];
    let others = [Dim::Team, Dim::Feature, Dim::Model, Dim::Customer, Dim::Initiative, Dim::Source];
    let breakdowns = others
        .into_iter()
        .filter(|o| o != dim)
        .map(|other| {
            let mut b = q.clone();
            b.group = Some(other);
            b
        })
        .collect();
    (q, breakdowns)
}
