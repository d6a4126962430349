//! Seeding the demo organisation.
use crate::domain::Nanos;
use crate::error::AppError;
use crate::server::db::{Db, OrgId};
use crate::server::formats::demo::{generate, DemoConfig};

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

/// What the demo adds beyond its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoExtras {
    pub budgets: usize,
    pub initiatives: usize,
    pub anomalies: usize,
    /// Whether the weekly review schedule was added now (it is added once).
    pub reviews: bool,
}

/// The demo's budgets, initiatives with outcomes, anomaly history and weekly reviews on top of
/// its events: `costroom demo` and the page benchmark build the same organisation.
pub async fn seed_extras(db: &Db, org: OrgId, cfg: &DemoConfig) -> Result<DemoExtras, AppError> {
    let end = cfg.end;
    let budgets = seed_budgets(db, org, end).await?;
    let first_day = end - chrono::Duration::days(cfg.days as i64 - 1);
    let initiatives = seed_initiatives(db, org, first_day, end, cfg.volume).await?;
    // the detector replayed over the demo's last weeks, as if it had run all along
    let now = crate::domain::explore::day_seconds(end) + 86_399;
    let anomalies = super::anomalies::run(db, org, now, now - 21 * 86_400, true).await?.new;
    // a weekly organisation review on Mondays; its latest one is ready for the meeting
    let reviews = db.schedules(org).await?.is_empty();
    if reviews {
        db.insert_schedule(org, None, crate::domain::review::Cadence::Weekly(1), "demo").await?;
        super::reviews::ensure_due(db, org, end).await?;
    }
    Ok(DemoExtras { budgets, initiatives, anomalies, reviews })
}

/// Gives the demo organisation two monthly budgets running since two months before `today`
/// (so last month's forecasts can be held against what happened): the organisation's at 140 %
/// of last month's spend (room for the demo's growth, though not for all of it), the search
/// team's at 90 % of its own (an overrun to alert on). Does
/// nothing when the organisation has budgets already.
pub async fn seed_budgets(db: &Db, org: OrgId, today: chrono::NaiveDate) -> Result<usize, AppError> {
    use crate::domain::budget::{parse_budget, BudgetInput};
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
        let b = parse_budget(&BudgetInput {
            name: name.to_string(),
            scope: scope.to_string(),
            scope_value: value.to_string(),
            period: "month".into(),
            recurring: Some("on".into()),
            start: (&start.to_string()).into(),
            amount_usd: amount.to_string(),
            owner: "Demo finance".into(),
            ..Default::default()
        })?;
        super::budgets::create(db, org, &actor, today, b).await?;
    }
    Ok(budgets.len())
}

/// Gives the demo organisation its four initiatives (the keys its events carry) and the
/// outcomes their owners recorded: support-copilot and marketing-content belong to the demo
/// product member; marketing-content records nothing and is the demo's zombie. Weekly figures
/// scale with `volume`. Does nothing when the organisation has initiatives already.
pub async fn seed_initiatives(
    db: &Db,
    org: OrgId,
    first_day: chrono::NaiveDate,
    today: chrono::NaiveDate,
    volume: f64,
) -> Result<usize, AppError> {
    use crate::domain::initiative::{parse_initiative, value_of, InitiativeInput, Outcome, ZombieRules};
    use crate::server::db::{Actor, NewAudit};
    use chrono::{Datelike, Duration};
    if !db.initiatives(org).await?.is_empty() {
        return Ok(0);
    }
    let product = "product@demo.costroom.example";
    let day = |offset: i64| (first_day + Duration::days(offset)).to_string();
    #[rustfmt::skip]
    let defs = [
        ("support-copilot", "Support copilot", "Triage and draft replies for support tickets.", product, "support", day(-90), day(0), "tickets resolved", "ticket", "4"),
        ("smart-search", "Smart search", "Semantic search and query rewriting on the store.", "search-lead@demo.costroom.example", "search", day(-60), day(7), "conversions", "order", "2"),
        ("fraud-shield", "Fraud shield", "Screens payments and KYC files for fraud.", "risk-lead@demo.costroom.example", "risk", day(-30), day(21), "fraud losses prevented", "USD", ""),
        ("marketing-content", "Marketing content", "Product descriptions and e-mail campaigns.", product, "growth", day(-20), day(14), "campaigns shipped", "campaign", "50"),
    ];
    let actor = Actor::cli();
    let audit = |action: &'static str, id: &str, summary: String| NewAudit {
        actor: actor.clone(),
        action,
        entity: "initiative",
        entity_id: id.to_string(),
        summary,
        before: None,
        after: None,
    };
    let scale = |n: f64| ((n * volume * 4.0).round() as i64).max(1);
    for (key, name, desc, owner, team, kickoff, go_live, metric, unit, per) in &defs {
        let i = parse_initiative(&InitiativeInput {
            key: key.to_string(),
            name: name.to_string(),
            description: desc.to_string(),
            owner: owner.to_string(),
            team: team.to_string(),
            status: "live".into(),
            kickoff: kickoff.to_string(),
            go_live: go_live.to_string(),
            metric: metric.to_string(),
            unit: unit.to_string(),
            value_per_unit: per.to_string(),
            ..Default::default()
        })?;
        let id = db
            .insert_initiative(org, &i, &audit("initiative.create", key, format!("demo initiative {name}")))
            .await?
            .ok_or_else(|| AppError::invalid(format!("key: '{key}' exists")))?;
        let live = i.go_live.expect("demo initiatives are live");
        let mut outcomes: Vec<Outcome> = Vec::new();
        let mut week = 0;
        // weekly figures from two weeks after go-live, on Mondays, through today
        let mut d = live + Duration::days(14);
        while d.weekday() != chrono::Weekday::Mon {
            d += Duration::days(1);
        }
        while d <= today {
            let (qty, value) = match *key {
                "support-copilot" => {
                    let q = scale(1.0 + week as f64 / 3.0) * 1000;
                    (q, value_of(q, Nanos(4_000_000_000)).unwrap_or_default())
                }
                "smart-search" => {
                    let q = scale(1.0 + week as f64 / 4.0) * 1000;
                    (q, value_of(q, Nanos(2_000_000_000)).unwrap_or_default())
                }
                // fraud prevented is reported monthly, as a total
                "fraud-shield" if d.day() <= 7 => (0, Nanos(scale(8.0) * 1_000_000_000)),
                _ => (0, Nanos::ZERO),
            };
            if value.0 > 0 {
                outcomes.push(Outcome {
                    id: 0,
                    initiative_id: id,
                    day: d,
                    period_end: Some(d + Duration::days(6)),
                    metric: metric.to_string(),
                    quantity_milli: qty,
                    value,
                    baseline_cost: None,
                    note: "weekly report".into(),
                    evidence: String::new(),
                    external_id: None,
                    recorded_by: owner.to_string(),
                    pending: false,
                    verified_by: None,
                });
            }
            d += Duration::days(7);
            week += 1;
        }
        for o in &outcomes {
            db.insert_outcome(org, o, &audit("outcome.create", key, format!("demo outcome {}", o.day)))
                .await?;
        }
    }
    // the demo's spend is small: flag any initiative spending more than $2 a month without results
    let rules = ZombieRules { min_spend: Nanos(2_000_000_000), ..ZombieRules::default() };
    super::initiatives::set_rules(db, org, &actor, rules).await?;
    super::initiatives::evaluate_flags(db, org, today).await?;
    Ok(defs.len())
}
