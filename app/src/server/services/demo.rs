//! Seeding the demo organisation.
use crate::domain::Nanos;
use crate::error::AppError;
use crate::server::db::{Db, OrgId};
use crate::server::demo::{generate, DemoConfig};

/// What a seeding run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub generated: usize,
    pub inserted: u64,
    pub removed: u64,
    pub total_events: i64,
    pub total_cost: Nanos,
}

/// Inserts the demo events into `org`, priced by the price book like real traffic (so each
/// carries the price-book entry that produced its cost). Idempotent: a second run with the
/// same seed inserts nothing (event ids repeat). With `reset`, the organisation's usage is
/// removed first.
#[tracing::instrument(skip(db), err(Debug, level = "info"))]
pub async fn seed(db: &Db, org: OrgId, cfg: DemoConfig, reset: bool) -> Result<SeedReport, AppError> {
    let removed = if reset { db.delete_usage_events(org).await? } else { 0 };
    let mut events = generate(&cfg);
    super::prices::ensure_public_list(db).await?;
    let book = crate::domain::price_book::PriceBook::new(db.price_entries(org).await?);
    super::prices::price_events(&book, &mut events);
    let inserted = db.insert_usage_events(org, &events).await?;
    let (total_events, total_cost) = db.usage_totals(org).await?;
    Ok(SeedReport { generated: events.len(), inserted, removed, total_events, total_cost })
}

/// Gives the demo organisation two monthly budgets running since two months before `today`
/// (so last month's forecasts can be held against what happened): the organisation's at 140 %
/// of last month's spend (room for the demo's growth, though not for all of it), the search
/// team's at 90 % of its own (an overrun to alert on). Does
/// nothing when the organisation has budgets already.
pub async fn seed_budgets(db: &Db, org: OrgId, today: chrono::NaiveDate) -> Result<usize, AppError> {
    use crate::domain::budget::parse_budget;
    use crate::domain::explore::{Dim, Filter, SpendQuery};
    use crate::domain::{DateRange, Nanos};
    use crate::server::db::spend::SpendPath;
    use chrono::{Datelike, Months};
    if !db.budgets(org).await?.is_empty() {
        return Ok(0);
    }
    let this_month = today.with_day(1).expect("day 1");
    let last_month = this_month - Months::new(1);
    let start = this_month - Months::new(2);
    let last = DateRange { from: last_month, to: this_month.pred_opt().expect("a day before") };
    let spent = |team: Option<&'static str>| async move {
        let mut q = SpendQuery::total(last, None);
        if let Some(t) = team {
            q.filters.push(Filter { dim: Dim::Team, values: vec![t.into()] });
        }
        super::spend::view(db, org, q, SpendPath::Auto).await.map(|v| Nanos(v.total.cost_nanos))
    };
    // to the cent, at least one
    let dollars = |n: Nanos, pct: i64| Nanos((n.0 / 10_000_000 * pct / 100).max(1) * 10_000_000).decimal(2);
    let budgets = [
        ("All AI", "", "", dollars(spent(None).await?, 140)),
        ("Search", "team", "search", dollars(spent(Some("search")).await?, 90)),
    ];
    let actor = crate::server::db::Actor::cli();
    for (name, scope, value, amount) in &budgets {
        let b = parse_budget(
            name,
            scope,
            value,
            "month",
            "",
            true,
            &start.to_string(),
            amount,
            "",
            "Demo finance",
        )?;
        super::budgets::create(db, org, &actor, today, b).await?;
    }
    Ok(budgets.len())
}
