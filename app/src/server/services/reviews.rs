//! Cost reviews: schedules make one review per meeting (announced in-app and through the
//! webhooks), the review page gathers the period's figures, people record decisions and
//! action items, and closing freezes the figures so later imports never change what was
//! discussed. The maturity checklist is scored here too, from the same sources.
use chrono::NaiveDate;

use crate::domain::budget::Status as BudgetStatus;
use crate::domain::explore::{Dim, Filter, SpendQuery};
use crate::domain::maturity::{self, Inputs, Manual, MaturityPage};
use crate::domain::overview::Coverage;
use crate::domain::review::{
    changes_since, previous, top_movers, Cadence, Figures, Review, ReviewPage, Schedule,
};
use crate::domain::webhook::Notice;
use crate::domain::{DateRange, Nanos, Right};
use crate::error::{internal, AppError};
use crate::server::db::spend::SpendPath;
use crate::server::db::{Actor, Db, NewAudit, OrgId, UserRecord};
use crate::server::services::spend::view;

fn may_take_part(user: &UserRecord) -> bool {
    user.role.can(Right::TakePartInReviews)
}

pub async fn create_schedule(
    db: &Db,
    org: OrgId,
    user: &UserRecord,
    team: &str,
    cadence: &str,
    day: &str,
    today: NaiveDate,
) -> Result<i64, AppError> {
    if !user.role.can(Right::ManageBudgets) {
        return Err(AppError::Forbidden);
    }
    let c = Cadence::parse(cadence, day)?;
    let team = Some(team.trim()).filter(|t| !t.is_empty());
    let id = db.insert_schedule(org, team, c, &user.email).await?;
    let s = Schedule { id, team: team.map(str::to_string), cadence: c };
    db.record_audit(
        org,
        &NewAudit {
            actor: Actor::person(user.id, &user.email),
            action: "review.schedule",
            entity: "review_schedule",
            entity_id: id.to_string(),
            summary: format!("cost reviews: {}", s.label()),
            before: None,
            after: Some(serde_json::to_value(&s).map_err(internal)?),
        },
    )
    .await?;
    ensure_due(db, org, today).await?;
    Ok(id)
}

/// Creates each schedule's review for its latest meeting day (the job); returns how many were
/// created now.
pub async fn ensure_due(db: &Db, org: OrgId, today: NaiveDate) -> Result<usize, AppError> {
    let mut created = 0;
    for s in db.schedules(org).await? {
        let meeting = s.cadence.last_meeting(today);
        let period = s.cadence.period(meeting);
        let title = format!(
            "{} cost review, {} to {}",
            s.team.as_deref().map(|t| format!("Team {t}")).unwrap_or_else(|| "Organisation".into()),
            period.from,
            period.to
        );
        let notice = Notice {
            key: String::new(),
            event: "review.scheduled".into(),
            title: format!("{title} is ready"),
            message: format!("The {title} for the meeting on {meeting} is ready: spend, budgets, movers, anomalies and what needs a decision."),
            path: String::new(),
            data: serde_json::json!({ "meeting": meeting, "from": period.from, "to": period.to, "schedule_id": s.id }),
        };
        if db.ensure_review(org, s.id, &title, meeting, period, &notice).await?.is_some() {
            created += 1;
        }
    }
    Ok(created)
}

async fn by_dim(
    db: &Db,
    org: OrgId,
    range: DateRange,
    dim: Option<Dim>,
    team: Option<&str>,
) -> Result<Vec<(String, Nanos)>, AppError> {
    let mut q = SpendQuery::total(range, None);
    q.group = dim;
    if let Some(t) = team {
        q.filters.push(Filter { dim: Dim::Team, values: vec![t.to_string()] });
    }
    let v = view(db, org, q, SpendPath::Auto).await?;
    Ok(v.table.into_iter().map(|r| (r.group, Nanos(r.sums.cost_nanos))).collect())
}

/// The figures of `period` as they are now (spend and movers of `team` when given).
pub async fn figures(
    db: &Db,
    org: OrgId,
    user: &UserRecord,
    today: NaiveDate,
    period: DateRange,
    team: Option<&str>,
) -> Result<Figures, AppError> {
    let before = previous(period);
    let total = |v: Vec<(String, Nanos)>| v.into_iter().map(|(_, c)| c).sum::<Nanos>();
    let spend = total(by_dim(db, org, period, None, team).await?);
    let spend_before = total(by_dim(db, org, before, None, team).await?);
    let mut movers = Vec::new();
    for dim in [Dim::Team, Dim::Feature, Dim::Model] {
        let now = by_dim(db, org, period, Some(dim.clone()), team).await?;
        let was = by_dim(db, org, before, Some(dim.clone()), team).await?;
        movers.extend(top_movers(&dim.key(), &now, &was, 3));
    }
    let mut budgets = Vec::new();
    for b in db.budgets(org).await? {
        let line = super::budgets::evaluate_one(db, org, today, &b).await?;
        if let Some(e) = line.evaluation {
            let status = match e.status {
                BudgetStatus::Over => "over",
                BudgetStatus::AtRisk => "at risk",
                BudgetStatus::OnTrack => "on track",
            };
            budgets.push((
                b.name.clone(),
                b.scope_label(),
                b.amount,
                e.actual,
                e.projected.point,
                status.to_string(),
            ));
        }
    }
    let forecasts = super::budgets::accuracy_ranking(db, org, today)
        .await?
        .into_iter()
        .map(|r| {
            (
                r.budget,
                format!("{} to {}", r.period.from, r.period.to),
                r.at_start,
                r.actual,
                Some(r.accuracy.mape_pct),
            )
        })
        .collect();
    let (lo, hi) = (
        crate::domain::explore::day_seconds(period.from),
        crate::domain::explore::day_seconds(period.to) + 86_400,
    );
    use crate::domain::anomaly::Status as A;
    let anomalies = db
        .anomalies(org, lo - 365 * 86_400)
        .await?
        .into_iter()
        .filter(|a| {
            (a.started_at >= lo && a.started_at < hi) || matches!(a.status, A::Open | A::Acknowledged)
        })
        .map(|a| {
            let start = chrono::DateTime::from_timestamp(a.started_at, 0)
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string());
            (a.id, a.scope_label(), start.unwrap_or_default(), a.excess, a.status.label().to_string())
        })
        .collect();
    // flags brought up to date once for the zombie list and both ROI columns
    super::initiatives::evaluate_flags(db, org, today).await?;
    let initiatives = db.initiatives(org).await?;
    let zombies = db
        .flags(org, None)
        .await?
        .into_iter()
        .filter(|f| f.awaiting_decision(today))
        .map(|f| {
            let name = initiatives
                .iter()
                .find(|i| i.id == f.initiative_id)
                .map(|i| i.name.clone())
                .unwrap_or_default();
            (name, f.rule.label().to_string(), f.reason.clone(), f.at_stake)
        })
        .collect();
    let roi_now = super::initiatives::lines(db, org, today, user, Some(period)).await?;
    let roi_before = super::initiatives::lines(db, org, today, user, Some(before)).await?;
    let shown = |bp: Option<i64>| bp.map(crate::domain::initiative::pct_label).unwrap_or_else(|| "—".into());
    let roi = roi_now
        .iter()
        .map(|l| {
            let was = roi_before
                .iter()
                .find(|b| b.initiative.id == l.initiative.id)
                .and_then(|b| b.metrics.roi_basis_points);
            (l.initiative.name.clone(), shown(l.metrics.roi_basis_points), shown(was))
        })
        .collect();
    let (_, _, kpis) =
        super::kpis::page(db, org, today, Some(&period.from.to_string()), Some(&period.to.to_string()))
            .await?;
    let kpis = kpis
        .into_iter()
        .map(|k| (k.name, k.value.unwrap_or_else(|| "—".into()), k.previous.unwrap_or_else(|| "—".into())))
        .collect();
    Ok(Figures {
        period,
        previous: before,
        spend,
        spend_before,
        budgets,
        movers,
        forecasts,
        anomalies,
        zombies,
        roi,
        kpis,
    })
}

async fn existing(
    db: &Db,
    org: OrgId,
    id: i64,
) -> Result<(Review, Option<String>, Option<String>), AppError> {
    let (r, frozen) = db.review(org, id).await?.ok_or_else(|| AppError::NotFound(format!("review {id}")))?;
    let team = db.schedules(org).await?.into_iter().find(|s| s.id == r.schedule_id).and_then(|s| s.team);
    Ok((r, frozen, team))
}

pub async fn page(
    db: &Db,
    org: OrgId,
    user: &UserRecord,
    today: NaiveDate,
    id: i64,
) -> Result<ReviewPage, AppError> {
    let (review, frozen, team) = existing(db, org, id).await?;
    let live = figures(db, org, user, today, review.period, team.as_deref()).await?;
    let (figures, since) = match frozen {
        Some(f) => {
            let f: Figures = serde_json::from_str(&f).map_err(internal)?;
            let since = changes_since(&f, &live);
            (f, since)
        }
        None => (live, vec![]),
    };
    let decisions = db.review_decisions(org, Some(id)).await?.into_iter().map(|(_, d)| d).collect();
    // this review's items, and the open ones of earlier reviews (they carry over)
    let earlier: Vec<i64> =
        db.reviews(org).await?.into_iter().filter(|r| r.meeting < review.meeting).map(|r| r.id).collect();
    let actions = db
        .actions(org)
        .await?
        .into_iter()
        .filter(|a| a.review_id == id || (!a.done && earlier.contains(&a.review_id)))
        .collect();
    Ok(ReviewPage {
        review,
        figures,
        since,
        decisions,
        actions,
        can_edit: may_take_part(user),
        can_close: user.role.can(Right::ManageBudgets),
    })
}

/// Freezes the review's figures (finance and admins); a second close is refused.
pub async fn close(
    db: &Db,
    org: OrgId,
    user: &UserRecord,
    today: NaiveDate,
    id: i64,
) -> Result<(), AppError> {
    if !user.role.can(Right::ManageBudgets) {
        return Err(AppError::Forbidden);
    }
    let (review, _, team) = existing(db, org, id).await?;
    let f = figures(db, org, user, today, review.period, team.as_deref()).await?;
    let json = serde_json::to_string(&f).map_err(internal)?;
    if !db.close_review(org, id, &json, &user.email).await? {
        return Err(AppError::invalid("review: it is already closed"));
    }
    db.record_audit(
        org,
        &NewAudit {
            actor: Actor::person(user.id, &user.email),
            action: "review.close",
            entity: "review",
            entity_id: id.to_string(),
            summary: format!("{} closed; spend {}", review.title, f.spend.usd()),
            before: None,
            after: None,
        },
    )
    .await?;
    Ok(())
}

async fn open_review(db: &Db, org: OrgId, user: &UserRecord, id: i64) -> Result<Review, AppError> {
    if !may_take_part(user) {
        return Err(AppError::Forbidden);
    }
    let (r, _, _) = existing(db, org, id).await?;
    if r.closed_at.is_some() {
        return Err(AppError::invalid("review: it is closed; record this in the next review"));
    }
    Ok(r)
}

pub async fn add_decision(
    db: &Db,
    org: OrgId,
    user: &UserRecord,
    id: i64,
    text: &str,
) -> Result<i64, AppError> {
    open_review(db, org, user, id).await?;
    let text = text.trim();
    if text.is_empty() {
        return Err(AppError::invalid("text: write the decision"));
    }
    Ok(db.insert_review_decision(org, id, text, &user.email).await?)
}

pub async fn add_action(
    db: &Db,
    org: OrgId,
    user: &UserRecord,
    id: i64,
    title: &str,
    owner: &str,
    due: &str,
) -> Result<i64, AppError> {
    open_review(db, org, user, id).await?;
    let title = title.trim();
    if title.is_empty() {
        return Err(AppError::invalid("title: what is to be done"));
    }
    let owner = owner.trim().to_lowercase();
    if !owner.contains('@') {
        return Err(AppError::invalid("owner: the owner's email address"));
    }
    let due = match due.trim() {
        "" => None,
        d => Some(
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| AppError::invalid(format!("due: '{d}' is not a date (YYYY-MM-DD)")))?,
        ),
    };
    Ok(db.insert_action(org, id, title, &owner, due, &user.email).await?)
}

pub async fn set_action_done(
    db: &Db,
    org: OrgId,
    user: &UserRecord,
    action: i64,
    done: bool,
) -> Result<(), AppError> {
    if !may_take_part(user) {
        return Err(AppError::Forbidden);
    }
    if !db.set_action_done(org, action, done).await? {
        return Err(AppError::NotFound(format!("action item {action}")));
    }
    Ok(())
}

/// One review as CSV: `section,item,value,previous` lines, money to the cent and in nanos.
pub fn to_csv(p: &ReviewPage) -> String {
    let f = &p.figures;
    let q = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = String::from("section,item,value,previous\n");
    let mut line =
        |a: &str, b: &str, c: &str, d: &str| out.push_str(&format!("{},{},{},{}\n", q(a), q(b), q(c), q(d)));
    line(
        "review",
        &p.review.title,
        &format!("{} to {}", f.period.from, f.period.to),
        &format!("{} to {}", f.previous.from, f.previous.to),
    );
    line("spend", "total_nanos", &f.spend.0.to_string(), &f.spend_before.0.to_string());
    for (name, scope, amount, actual, projected, status) in &f.budgets {
        line(
            "budget",
            &format!("{name} ({scope})"),
            &actual.0.to_string(),
            &format!("amount {} projected {} {status}", amount.0, projected.0),
        );
    }
    for m in &f.movers {
        line("mover", &format!("{} {}", m.dim, m.value), &m.now.0.to_string(), &m.before.0.to_string());
    }
    for (id, scope, start, excess, status) in &f.anomalies {
        line("anomaly", &format!("#{id} {scope} {start}"), &excess.0.to_string(), status);
    }
    for (name, rule, reason, at_stake) in &f.zombies {
        line("zombie", &format!("{name}: {rule}"), &at_stake.0.to_string(), reason);
    }
    for (name, now, was) in &f.roi {
        line("roi", name, now, was);
    }
    for (name, now, was) in &f.kpis {
        line("kpi", name, now, was);
    }
    for d in &p.decisions {
        line("decision", &d.text, &d.by, &d.at);
    }
    for a in &p.actions {
        line(
            "action",
            &a.title,
            &a.owner,
            &format!(
                "{} {}",
                a.due.map(|d| d.to_string()).unwrap_or_default(),
                if a.done { "done" } else { "open" }
            ),
        );
    }
    out
}

/// The maturity checklist scored now; the day's score is recorded.
pub async fn maturity(
    db: &Db,
    org: OrgId,
    user: &UserRecord,
    today: NaiveDate,
) -> Result<MaturityPage, AppError> {
    let (items, stage) = score(db, org, today).await?;
    Ok(MaturityPage {
        stage,
        history: db.maturity_history(org).await?,
        items,
        can_edit: user.role.can(Right::ManagePeople),
    })
}

/// Scores the checklist now and records it as the day's score.
async fn score(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
) -> Result<(Vec<maturity::Item>, Option<usize>), AppError> {
    let inputs = maturity_inputs(db, org, today).await?;
    let items = maturity::items(&inputs, &db.maturity_manual(org).await?);
    let stage = maturity::stage_reached(&items);
    db.record_maturity(org, today, stage, items.iter().filter(|i| i.met()).count(), items.len()).await?;
    Ok((items, stage))
}

/// The daily score for the history, once a day (the scheduled job); true when recorded now.
pub async fn record_daily_maturity(db: &Db, org: OrgId, today: NaiveDate) -> Result<bool, AppError> {
    if db.maturity_history(org).await?.last().is_some_and(|(d, ..)| *d >= today) {
        return Ok(false);
    }
    score(db, org, today).await?;
    Ok(true)
}

pub async fn set_manual(
    db: &Db,
    org: OrgId,
    user: &UserRecord,
    input: &maturity::ManualInput,
) -> Result<(), AppError> {
    let maturity::ManualInput { item, done: _, owner, evidence, date } = input;
    let item = item.as_str();
    let done = input.is_done();
    if !user.role.can(Right::ManagePeople) {
        return Err(AppError::Forbidden);
    }
    if !maturity::MANUAL.iter().any(|(k, _, _)| *k == item) {
        return Err(AppError::invalid(format!("item: '{item}' is not an item ticked by hand")));
    }
    let date = match date.trim() {
        "" => None,
        d => Some(
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| AppError::invalid(format!("date: '{d}' is not a date (YYYY-MM-DD)")))?,
        ),
    };
    let evidence = evidence.trim();
    if done && evidence.is_empty() {
        return Err(AppError::invalid("evidence: link or describe the evidence"));
    }
    let m = Manual {
        done,
        owner: owner.trim().to_string(),
        evidence: evidence.to_string(),
        date,
        updated_by: user.email.clone(),
    };
    db.set_maturity_manual(org, item, &m).await?;
    db.record_audit(
        org,
        &NewAudit {
            actor: Actor::person(user.id, &user.email),
            action: "maturity.item",
            entity: "maturity",
            entity_id: item.into(),
            summary: format!("maturity item {item}: {}", if done { "done" } else { "not done" }),
            before: None,
            after: Some(serde_json::to_value(&m).map_err(internal)?),
        },
    )
    .await?;
    Ok(())
}

fn bp(part: Nanos, total: Nanos) -> Option<i64> {
    (total.0 > 0).then(|| (part.0 as i128 * 10_000 / total.0 as i128) as i64)
}

async fn maturity_inputs(db: &Db, org: OrgId, today: NaiveDate) -> Result<Inputs, AppError> {
    let month = DateRange::last_days(today, 30);
    let quarter = DateRange::last_days(today, 90);
    let total = by_dim(db, org, month, None, None).await?.into_iter().map(|(_, c)| c).sum::<Nanos>();
    let team_coverage = Coverage::of(Dim::Team, &by_dim(db, org, month, Some(Dim::Team), None).await?);
    let project_coverage =
        Coverage::of(Dim::Initiative, &by_dim(db, org, month, Some(Dim::Initiative), None).await?);
    let (_, _, kpis) = super::kpis::page(db, org, today, None, None).await?;
    // budget coverage: an organisation-wide budget covers everything; otherwise the best one
    // dimension's budgeted values (a lower bound of the union)
    let budgets = db.budgets(org).await?;
    let covered = if budgets.iter().any(|b| b.scope.is_none()) {
        total
    } else {
        let mut best = Nanos::ZERO;
        for dim in [Dim::Team, Dim::Initiative, Dim::Feature, Dim::Model] {
            let values: Vec<String> = budgets
                .iter()
                .filter_map(|b| b.scope.as_ref())
                .filter(|(d, _)| *d == dim)
                .map(|(_, v)| v.clone())
                .collect();
            let c: Nanos = by_dim(db, org, month, Some(dim), None)
                .await?
                .into_iter()
                .filter(|(g, _)| values.contains(g))
                .map(|(_, c)| c)
                .sum();
            best = best.max(c);
        }
        best
    };
    let detection = super::anomalies::figures_in(db, org, quarter).await?;
    let ranking = super::budgets::accuracy_ranking(db, org, today).await?;
    let forecast_error_pct = (!ranking.is_empty())
        .then(|| ranking.iter().map(|r| r.accuracy.mape_pct).sum::<f64>() / ranking.len() as f64);
    // spend of initiatives with outcomes, over the last 90 days
    let outcomes = db.outcomes(org, None).await?;
    let mut with_outcomes = Nanos::ZERO;
    let quarter_total =
        by_dim(db, org, quarter, None, None).await?.into_iter().map(|(_, c)| c).sum::<Nanos>();
    let initiatives = db.initiatives(org).await?;
    let lines = super::initiatives::portfolio_spend(db, org, quarter).await?;
    for (id, spend) in lines {
        if outcomes.iter().any(|o| o.initiative_id == id) {
            with_outcomes += spend;
        }
    }
    // the last three due reviews of each schedule, closed with at least one decision
    let reviews = db.reviews(org).await?;
    let decided: Vec<i64> = db.review_decisions(org, None).await?.into_iter().map(|(r, _)| r).collect();
    let due: Vec<&Review> =
        reviews.iter().filter(|r| r.meeting <= today).take(maturity::REVIEWS_HELD).collect();
    let held = due.iter().filter(|r| r.closed_at.is_some() && decided.contains(&r.id)).count();
    Ok(Inputs {
        tag_coverage_bp: team_coverage.bp(),
        project_coverage_bp: project_coverage.bp(),
        kpis_measured: (kpis.iter().filter(|k| k.value.is_some()).count(), kpis.len()),
        budget_coverage_bp: bp(covered, total),
        mttd_secs: detection.mttd_secs,
        detection_rate_pct: detection.rate_pct,
        forecast_error_pct,
        outcome_spend_bp: bp(with_outcomes, quarter_total),
        reviews_held: (held, maturity::REVIEWS_HELD),
        roi_defined: (
            // an outcome counted in dollars states its value by itself
            initiatives
                .iter()
                .filter(|i| {
                    i.hypothesis.value_per_unit.is_some() || i.hypothesis.unit.eq_ignore_ascii_case("usd")
                })
                .count(),
            initiatives.len(),
        ),
        // chargeback statements do not exist yet: nothing to count
        chargeback_statements: 0,
        // enforced rules in force today (a shadow rule decides nothing yet)
        active_guardrails: db
            .guardrail_rules(org)
            .await?
            .iter()
            .filter(|r| r.mode == crate::domain::guardrail::Mode::Enforce && r.effective_from <= today)
            .count(),
    })
}
