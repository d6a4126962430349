//! The KPIs page and the tag-coverage page: figures computed through the explorer's views and
//! the ledger's records, so they agree with every other page.
use chrono::NaiveDate;

use crate::domain::coverage::{CoverageRow, CoverageView, ATTRIBUTES};
use crate::domain::explore::{Dim, Filter, Granularity, SpendQuery, NOT_SET};
use crate::domain::kpis::{kpis, Kpi, KpiInputs};
use crate::domain::ledger::SpendSource;
use crate::domain::overview::previous_period;
use crate::domain::{DateRange, Nanos};
use crate::error::AppError;
use crate::server::db::spend::SpendPath;
use crate::server::db::{Db, OrgId};
use crate::server::services::spend::view;

fn range_of(today: NaiveDate, from: Option<&str>, to: Option<&str>) -> Result<DateRange, AppError> {
    match (from, to) {
        (None, None) => Ok(DateRange::last_days(today, 30)),
        _ => DateRange::parse(from, to, today),
    }
}

async fn inputs(db: &Db, org: OrgId, range: DateRange) -> Result<KpiInputs, AppError> {
    let tokens = view(db, org, SpendQuery::total(range, Some(SpendSource::Tokens)), SpendPath::Auto).await?;
    let lifecycle = super::initiatives::lifecycle_days(db, org, range.to).await?;
    let all_cost = db.cost_between(org, range, None).await?;
    let gpu = db.gpu_usage_summary(org, range.from, range.to).await?;
    let training = db
        .training_runs(org)
        .await?
        .into_iter()
        .filter(|r| (range.from..=range.to).contains(&r.started_at.date_naive()))
        .map(|r| (Nanos(r.cost_nanos), r.metric_score))
        .collect();
    Ok(KpiInputs {
        range: Some(range),
        tokens: tokens.total,
        all_cost,
        gpu_allocated_mh: gpu.iter().map(|g| g.allocated_mhours).sum(),
        gpu_used_mh: gpu.iter().map(|g| g.used_mhours).sum(),
        training,
        initiative_value: db
            .outcomes(org, None)
            .await?
            .iter()
            .filter(|o| o.counted() && (range.from..=range.to).contains(&o.day))
            .map(|o| o.value)
            .sum(),
        initiative_spend: super::initiatives::attributed_spend(db, org, range).await?,
        time_to_value_days: lifecycle.iter().filter_map(|(_, ttv)| *ttv).collect(),
        time_to_deploy_days: lifecycle.iter().filter_map(|(ttd, _)| *ttd).collect(),
        anomalies: Some(super::anomalies::figures_in(db, org, range).await?),
    })
}

/// The eleven KPIs for the range (default: the last 30 days) and the period before it.
pub async fn page(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(DateRange, DateRange, Vec<Kpi>), AppError> {
    let range = range_of(today, from, to)?;
    let previous = previous_period(range);
    let now = inputs(db, org, range).await?;
    let before = inputs(db, org, previous).await?;
    Ok((range, previous, kpis(&now, &before)))
}

/// How much spend carries a team, a feature and an initiative: per source, per week, and
/// where the untagged spend of `attribute` comes from (API key, provider, model).
pub async fn coverage(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
    from: Option<&str>,
    to: Option<&str>,
    attribute: Option<&str>,
) -> Result<CoverageView, AppError> {
    let range = range_of(today, from, to)?;
    let attribute = match attribute.filter(|a| !a.is_empty()) {
        Some(a) => ATTRIBUTES.iter().find(|d| d.key() == a).cloned().ok_or_else(|| {
            AppError::invalid(format!("attribute: '{a}' is not team, feature or initiative"))
        })?,
        None => Dim::Team,
    };
    let untagged = |dim: &Dim| Filter { dim: dim.clone(), values: vec![NOT_SET.to_string()] };
    let by_source = db.cost_by_source(org, range).await?;
    let mut rows: Vec<CoverageRow> = by_source
        .iter()
        .map(|(s, total)| CoverageRow { source: *s, total: *total, untagged: Vec::new() })
        .collect();
    let mut weekly_total = SpendQuery::total(range, None);
    weekly_total.granularity = Granularity::Week;
    let weeks = view(db, org, weekly_total.clone(), SpendPath::Auto).await?;
    let mut weekly_untagged = Vec::new();
    for dim in ATTRIBUTES {
        let mut q = SpendQuery::total(range, None);
        q.group = Some(Dim::Source);
        q.filters.push(untagged(&dim));
        let v = view(db, org, q, SpendPath::Auto).await?;
        for r in rows.iter_mut() {
            let cost = v.table.iter().find(|g| g.group == r.source.as_str()).map(|g| g.sums.cost_nanos);
            r.untagged.push(Nanos(cost.unwrap_or(0)));
        }
        let mut w = weekly_total.clone();
        w.filters.push(untagged(&dim));
        weekly_untagged.push(view(db, org, w, SpendPath::Auto).await?);
    }
    let mut sources = Vec::new();
    for group in [Dim::ApiKey, Dim::Provider, Dim::Model] {
        let mut q = SpendQuery::total(range, None);
        q.group = Some(group);
        q.filters.push(untagged(&attribute));
        sources.push(view(db, org, q, SpendPath::Auto).await?);
    }
    Ok(CoverageView::build(range, attribute, rows, &weeks, &weekly_untagged, sources))
}
