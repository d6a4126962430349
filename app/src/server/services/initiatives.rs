//! Initiatives: the portfolio with value metrics, each initiative's page, outcomes recorded by
//! their owners, zombie flags kept in step with the rules, and decisions on them.
use chrono::NaiveDate;

use crate::domain::audit::AuditFilter;
use crate::domain::explore::{Dim, SpendQuery};
use crate::domain::initiative::{
    attribution, check_claims, cumulative, metrics, metrics_in, monthly, zombie_trips, Breakdown, Decision,
    DecisionInput, FlagDecision, Initiative, InitiativeDetail, InitiativeLine, Outcome, OutcomeChange,
    ZombieInput, ZombieRules,
};
use crate::domain::{DateRange, Nanos, Right, Role};
use crate::error::{internal, AppError};
use crate::server::db::spend::SpendPath;
use crate::server::db::{Actor, Db, NewAudit, OrgId, UserRecord};
use crate::server::services::spend::view;

const RULES_KEY: &str = "zombie_rules";
/// Value metrics look back at most this far (from the kickoff when there is one).
const MAX_DAYS: i64 = 730;

pub async fn rules(db: &Db, org: OrgId) -> Result<ZombieRules, AppError> {
    Ok(match db.setting(org, RULES_KEY).await? {
        Some(v) => serde_json::from_str(&v).map_err(internal)?,
        None => ZombieRules::default(),
    })
}

/// Admins manage every initiative; product members the ones they own.
pub fn may_manage(user: &UserRecord, i: &Initiative) -> bool {
    user.role == Role::Admin
        || (user.role.can(Right::ManageInitiatives) && user.email.eq_ignore_ascii_case(&i.owner))
}

/// The queries that add up to an initiative's spend over `range` (see [`attribution`]).
fn scope_queries(i: &Initiative, all: &[Initiative], range: DateRange) -> Vec<(String, SpendQuery)> {
    attribution(i, all)
        .into_iter()
        .map(|sc| {
            let mut q = SpendQuery::total(range, None);
            q.filters = sc.include;
            q.excluded = sc.exclude;
            (sc.label, q)
        })
        .collect()
}

/// Daily (day, spend, requests) of the initiative over `range`, every source.
async fn daily(
    db: &Db,
    org: OrgId,
    i: &Initiative,
    all: &[Initiative],
    range: DateRange,
) -> Result<Vec<(NaiveDate, Nanos, i64)>, AppError> {
    let mut out: Vec<(NaiveDate, Nanos, i64)> = range.iter_days().map(|d| (d, Nanos::ZERO, 0)).collect();
    for (_, q) in scope_queries(i, all, range) {
        let v = view(db, org, q, SpendPath::Auto).await?;
        for s in &v.series {
            for (slot, sums) in out.iter_mut().zip(&s.values) {
                slot.1 += Nanos(sums.cost_nanos);
                slot.2 += sums.requests;
            }
        }
    }
    Ok(out)
}

/// Lifetime spend by rule, by feature and by model; each adds up to the initiative's spend.
async fn breakdowns(
    db: &Db,
    org: OrgId,
    i: &Initiative,
    all: &[Initiative],
    range: DateRange,
) -> Result<Vec<Breakdown>, AppError> {
    let mut by_rule =
        Breakdown { title: "Spend by attribution rule".into(), testid: "by-rule".into(), rows: vec![] };
    let mut by_feature =
        Breakdown { title: "Spend by feature".into(), testid: "by-feature".into(), rows: vec![] };
    let mut by_model = Breakdown { title: "Spend by model".into(), testid: "by-model".into(), rows: vec![] };
    fn add(rows: &mut Vec<(String, Nanos)>, key: &str, c: Nanos) {
        match rows.iter_mut().find(|(k, _)| k == key) {
            Some((_, x)) => *x += c,
            None => rows.push((key.to_string(), c)),
        }
    }
    for (label, q) in scope_queries(i, all, range) {
        for (dim, b) in [(Dim::Feature, &mut by_feature), (Dim::Model, &mut by_model)] {
            let mut g = q.clone();
            g.group = Some(dim);
            let v = view(db, org, g, SpendPath::Auto).await?;
            for row in v.table {
                add(&mut b.rows, &row.group, Nanos(row.sums.cost_nanos));
            }
            if b.testid == "by-feature" {
                add(&mut by_rule.rows, &label, Nanos(v.total.cost_nanos));
            }
        }
    }
    let mut out = vec![by_rule, by_feature, by_model];
    for b in &mut out {
        b.rows.retain(|(_, c)| c.0 != 0);
        b.rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    }
    Ok(out)
}

fn value_range(i: &Initiative, today: NaiveDate) -> DateRange {
    let earliest = today - chrono::Duration::days(MAX_DAYS - 1);
    let from = i.kickoff.unwrap_or(today - chrono::Duration::days(364)).clamp(earliest, today);
    DateRange { from, to: today }
}

/// Brings every initiative's zombie flags in step with the rules on `today`; returns how
/// many flags were raised.
pub async fn evaluate_flags(db: &Db, org: OrgId, today: NaiveDate) -> Result<usize, AppError> {
    let rules = rules(db, org).await?;
    let days = rules.spend_days.max(rules.roi_days).max(2 * rules.usage_days).max(1);
    let range = DateRange { from: today - chrono::Duration::days(days - 1), to: today };
    let mut raised = 0;
    let outcomes = db.outcomes(org, None).await?;
    let all = db.initiatives(org).await?;
    for i in &all {
        let input = ZombieInput {
            status: i.status,
            daily: daily(db, org, i, &all, range).await?,
            // an outcome pending verification cannot clear a flag
            outcomes: outcomes
                .iter()
                .filter(|o| o.initiative_id == i.id && o.counted())
                .map(|o| (o.day, o.value))
                .collect(),
        };
        raised += db.sync_flags(org, i.id, &zombie_trips(&rules, &input, today), today).await?;
    }
    Ok(raised)
}

/// Every initiative of the organisation and every outcome: what one initiative's figures are
/// read against (shared spend, attribution).
#[derive(Clone, Copy)]
struct Portfolio<'a> {
    all: &'a [Initiative],
    outcomes: &'a [Outcome],
}

/// The initiative's line with metrics over `period` (lifetime when `None`) and its lifetime
/// daily spend.
async fn line(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
    user: &UserRecord,
    i: Initiative,
    portfolio: Portfolio<'_>,
    period: Option<DateRange>,
) -> Result<(InitiativeLine, Vec<(NaiveDate, Nanos)>), AppError> {
    let Portfolio { all, outcomes } = portfolio;
    let mut range = value_range(&i, today);
    if let Some(p) = period {
        range = DateRange { from: range.from.min(p.from), to: range.to.max(p.to) };
    }
    let spend: Vec<(NaiveDate, Nanos)> =
        daily(db, org, &i, all, range).await?.into_iter().map(|(d, c, _)| (d, c)).collect();
    let mine: Vec<Outcome> = outcomes.iter().filter(|o| o.initiative_id == i.id).cloned().collect();
    let m = match period {
        Some(p) => metrics_in(&i, &mine, &spend, p),
        None => metrics(&i, &mine, &spend),
    };
    let open_flags =
        db.flags(org, Some(i.id)).await?.into_iter().filter(|f| f.cleared_on.is_none()).collect();
    let can_manage = may_manage(user, &i);
    Ok((InitiativeLine { initiative: i, metrics: m, open_flags, can_manage }, spend))
}

/// Every initiative with its metrics, best ROI first (those without spend last).
pub async fn portfolio(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
    user: &UserRecord,
    period: Option<DateRange>,
) -> Result<Vec<InitiativeLine>, AppError> {
    evaluate_flags(db, org, today).await?;
    lines(db, org, today, user, period).await
}

/// The portfolio's lines as the flags stand (callers that evaluated them already).
pub async fn lines(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
    user: &UserRecord,
    period: Option<DateRange>,
) -> Result<Vec<InitiativeLine>, AppError> {
    let outcomes = db.outcomes(org, None).await?;
    let all = db.initiatives(org).await?;
    let mut out = Vec::new();
    for i in all.clone() {
        out.push(
            line(db, org, today, user, i, Portfolio { all: &all, outcomes: &outcomes }, period).await?.0,
        );
    }
    out.sort_by(|a, b| {
        let key = |l: &InitiativeLine| {
            (l.metrics.roi_basis_points.is_none(), -l.metrics.roi_basis_points.unwrap_or(0))
        };
        key(a)
            .cmp(&key(b))
            .then(b.metrics.net.cmp(&a.metrics.net))
            .then(a.initiative.name.cmp(&b.initiative.name))
    });
    Ok(out)
}

async fn existing(db: &Db, org: OrgId, id: i64) -> Result<Initiative, AppError> {
    db.initiatives(org)
        .await?
        .into_iter()
        .find(|i| i.id == id)
        .ok_or_else(|| AppError::NotFound(format!("initiative {id}")))
}

pub async fn detail(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
    user: &UserRecord,
    id: i64,
    period: Option<DateRange>,
) -> Result<InitiativeDetail, AppError> {
    let i = existing(db, org, id).await?;
    evaluate_flags(db, org, today).await?;
    let outcomes = db.outcomes(org, Some(id)).await?;
    let all = db.initiatives(org).await?;
    let (line, spend) =
        line(db, org, today, user, i.clone(), Portfolio { all: &all, outcomes: &outcomes }, period).await?;
    let lifetime = value_range(&i, today);
    let period = period.unwrap_or(lifetime);
    let lifetime_spend: Vec<(NaiveDate, Nanos)> =
        spend.iter().filter(|(d, _)| *d >= lifetime.from && *d <= lifetime.to).copied().collect();
    Ok(InitiativeDetail {
        cumulative: cumulative(&outcomes, &lifetime_spend),
        period_metrics: metrics_in(&i, &outcomes, &spend, period),
        months: monthly(&outcomes, &spend),
        period,
        corrections: corrections(db, org, &i).await?,
        breakdowns: breakdowns(db, org, &i, &all, lifetime).await?,
        line,
        outcomes,
        flags: db.flags(org, Some(id)).await?,
        rules: rules(db, org).await?,
        today,
        can_verify: user.role.can(Right::ManageBudgets),
    })
}

/// Creates an initiative (admins; product members for themselves: they become its owner).
pub async fn create(db: &Db, org: OrgId, user: &UserRecord, mut i: Initiative) -> Result<i64, AppError> {
    if !user.role.can(Right::ManageInitiatives) {
        return Err(AppError::Forbidden);
    }
    if user.role != Role::Admin {
        i.owner = user.email.to_lowercase();
    }
    check_claims(&i, &db.initiatives(org).await?)?;
    let entry = NewAudit {
        actor: Actor::person(user.id, &user.email),
        action: "initiative.create",
        entity: "initiative",
        entity_id: i.key.clone(),
        summary: format!("initiative {} ({}) owned by {}", i.name, i.key, i.owner),
        before: None,
        after: Some(serde_json::to_value(&i).map_err(internal)?),
    };
    db.insert_initiative(org, &i, &entry)
        .await?
        .ok_or_else(|| AppError::invalid(format!("key: '{}' is already another initiative's key", i.key)))
}

/// Records an outcome for an initiative the person may manage (audited).
pub async fn record_outcome(
    db: &Db,
    org: OrgId,
    user: &UserRecord,
    id: i64,
    parse: impl FnOnce(&Initiative) -> Result<Outcome, AppError>,
) -> Result<i64, AppError> {
    let i = existing(db, org, id).await?;
    if !may_manage(user, &i) {
        return Err(AppError::Forbidden);
    }
    let mut o = parse(&i)?;
    o.recorded_by = user.email.clone();
    let share = rules(db, org).await?.evidence_share_pct;
    let before: Nanos = db.outcomes(org, Some(i.id)).await?.iter().map(|x| x.value).sum();
    hold_if_large(&i, &mut o, before, share)?;
    let entry = NewAudit {
        actor: Actor::person(user.id, &user.email),
        action: "outcome.create",
        entity: "outcome",
        entity_id: outcome_entity(&i, None),
        summary: format!("outcome for {}: {} worth {} on {}", i.name, o.metric, o.value.usd(), o.day),
        before: None,
        after: Some(serde_json::to_value(&o).map_err(internal)?),
    };
    db.insert_outcome(org, &o, &entry)
        .await?
        .ok_or_else(|| AppError::invalid("external_id: already recorded"))
}

/// An outcome worth more than the evidence share of its initiative's value (`before` = the
/// value recorded so far) must carry evidence, and counts apart until finance verifies it.
fn hold_if_large(i: &Initiative, o: &mut Outcome, before: Nanos, share_pct: i64) -> Result<(), AppError> {
    if !crate::domain::initiative::needs_evidence(before, o.value, share_pct) {
        return Ok(());
    }
    if o.evidence.trim().is_empty() {
        let pct = o.value.0 as i128 * 100 / (before.0 as i128 + o.value.0 as i128);
        return Err(AppError::invalid(format!(
            "evidence: {} would be {pct}% of {}'s value, above the {share_pct}% that needs evidence; \
             link the report that shows it (finance verifies it before it counts)",
            o.value.usd(),
            i.name
        )));
    }
    o.pending = true;
    Ok(())
}

/// Finance (or an admin) verifies an outcome that waited: from now on it counts (audited).
pub async fn verify_outcome(
    db: &Db,
    org: OrgId,
    user: &UserRecord,
    initiative: i64,
    id: i64,
) -> Result<(), AppError> {
    if !user.role.can(Right::ManageBudgets) {
        return Err(AppError::Forbidden);
    }
    let i = existing(db, org, initiative).await?;
    let o = db
        .outcomes(org, Some(initiative))
        .await?
        .into_iter()
        .find(|o| o.id == id)
        .ok_or_else(|| AppError::NotFound(format!("outcome {id}")))?;
    let entry = NewAudit {
        actor: Actor::person(user.id, &user.email),
        action: "outcome.verify",
        entity: "outcome",
        entity_id: outcome_entity(&i, Some(id)),
        summary: format!(
            "outcome for {} verified: {} worth {} on {}",
            i.name,
            o.metric,
            o.value.usd(),
            o.day
        ),
        before: Some(serde_json::to_value(&o).map_err(internal)?),
        after: None,
    };
    if !db.verify_outcome(org, initiative, id, &user.email, &entry).await? {
        return Err(AppError::invalid(format!("id: outcome {id} is verified already")));
    }
    Ok(())
}

/// A decision on a zombie flag, by someone who may manage its initiative.
pub async fn decide(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
    user: &UserRecord,
    flag: i64,
    input: &DecisionInput,
) -> Result<(), AppError> {
    let DecisionInput { decision, owner, note, fix_by } = input;
    let f = db
        .flags(org, None)
        .await?
        .into_iter()
        .find(|f| f.id == flag)
        .ok_or_else(|| AppError::NotFound(format!("flag {flag}")))?;
    let i = existing(db, org, f.initiative_id).await?;
    if !may_manage(user, &i) {
        return Err(AppError::Forbidden);
    }
    let decision = Decision::parse(decision)?;
    let fix_by = crate::domain::period::parse_day("fix_by", Some(fix_by.trim()).filter(|s| !s.is_empty()))?;
    if decision == Decision::Fix && fix_by.is_none_or(|d| d <= today) {
        return Err(AppError::invalid("fix_by: a fix needs a date after today"));
    }
    let owner = match owner.trim() {
        "" => user.email.clone(),
        o => o.to_string(),
    };
    let d = FlagDecision {
        decision,
        owner,
        note: note.trim().to_string(),
        fix_by: if decision == Decision::Fix { fix_by } else { None },
        decided_by: user.email.clone(),
        decided_on: today,
    };
    let entry = NewAudit {
        actor: Actor::person(user.id, &user.email),
        action: "zombie.decision",
        entity: "initiative",
        entity_id: i.key.clone(),
        summary: format!("{} on \"{}\" flag of {}: {}", d.decision.as_str(), f.rule.label(), i.name, d.note),
        before: None,
        after: Some(serde_json::to_value(&d).map_err(internal)?),
    };
    db.insert_decision(org, flag, &d, &entry).await?;
    // a retired initiative that still spends is flagged at once
    evaluate_flags(db, org, today).await?;
    Ok(())
}

/// Changes the organisation's zombie rules (audited with before and after).
pub async fn set_rules(db: &Db, org: OrgId, actor: &Actor, r: ZombieRules) -> Result<(), AppError> {
    let before = rules(db, org).await?;
    let json = |r: &ZombieRules| serde_json::to_value(r).map_err(internal);
    let entry = NewAudit {
        actor: actor.clone(),
        action: "setting.zombie_rules",
        entity: "setting",
        entity_id: RULES_KEY.into(),
        summary: format!(
            "zombie rules: > {} in {} d without outcome in {} d; ROI < {} bp over {} d; usage −{}% over {} d",
            r.min_spend.usd(),
            r.spend_days,
            r.outcome_days,
            r.min_roi_bp,
            r.roi_days,
            r.usage_drop_pct,
            r.usage_days
        ),
        before: Some(json(&before)?),
        after: Some(json(&r)?),
    };
    db.set_setting(org, RULES_KEY, &serde_json::to_string(&r).map_err(internal)?, &entry).await?;
    Ok(())
}

/// Spend attributed to any initiative over `range` (each by its key and attribution rules).
pub async fn attributed_spend(db: &Db, org: OrgId, range: DateRange) -> Result<Nanos, AppError> {
    Ok(portfolio_spend(db, org, range).await?.into_iter().map(|(_, c)| c).sum())
}

/// Per initiative live by `by`: (kickoff → go-live days, go-live → first outcome days when
/// that outcome is dated by `by`).
pub async fn lifecycle_days(
    db: &Db,
    org: OrgId,
    by: NaiveDate,
) -> Result<Vec<(Option<i64>, Option<i64>)>, AppError> {
    let outcomes = db.outcomes(org, None).await?;
    Ok(db
        .initiatives(org)
        .await?
        .into_iter()
        .filter_map(|i| {
            let live = i.go_live.filter(|g| *g <= by)?;
            let first =
                outcomes.iter().filter(|o| o.initiative_id == i.id && o.day <= by).map(|o| o.day).min();
            Some((i.kickoff.map(|k| (live - k).num_days()), first.map(|f| (f - live).num_days())))
        })
        .collect())
}

/// Who is importing outcomes, and which initiatives they may record for.
pub enum Importer<'a> {
    /// A person signed in: admins for any initiative, product members for their own.
    Person(&'a UserRecord),
    /// An API key with scope `outcomes`, for the one initiative it is bound to.
    Key { label: String, initiative: String },
}

impl Importer<'_> {
    fn may(&self, i: &Initiative) -> bool {
        match self {
            Importer::Person(u) => may_manage(u, i),
            Importer::Key { initiative, .. } => *initiative == i.key,
        }
    }

    fn actor(&self) -> Actor {
        match self {
            Importer::Person(u) => Actor::person(u.id, &u.email),
            Importer::Key { label, .. } => Actor { user: None, label: label.clone() },
        }
    }
}

/// What an outcome import did: stored, skipped as resends (same `external_id`), refused with
/// the record (number or CSV line), field and reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutcomeImport {
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub value: Nanos,
    pub errors: Vec<super::records::RecordError>,
}

/// Records outcomes from CSV or JSON records (fields as on the form, plus `initiative` — the
/// initiative's key, optional when `only` names one — and `external_id`). Each record stands
/// alone: a refused one does not stop the others.
pub async fn import_outcomes(
    db: &Db,
    org: OrgId,
    who: &Importer<'_>,
    only: Option<i64>,
    records: &[super::records::RawRecord],
) -> Result<OutcomeImport, AppError> {
    use super::records::RecordError;
    let all = db.initiatives(org).await?;
    let mut report = OutcomeImport::default();
    let actor = who.actor();
    let share = rules(db, org).await?.evidence_share_pct;
    // each initiative's value so far, kept up to date row by row
    let mut recorded: Vec<(i64, Nanos)> = Vec::new();
    for o in db.outcomes(org, None).await? {
        match recorded.iter_mut().find(|(id, _)| *id == o.initiative_id) {
            Some((_, v)) => *v += o.value,
            None => recorded.push((o.initiative_id, o.value)),
        }
    }
    for (at, fields) in records {
        let get = |k: &str| fields.get(k).map(|v| v.trim()).unwrap_or("");
        let refuse = |field: &str, reason: String| RecordError { at: *at, field: field.into(), reason };
        let found = match (only, get("initiative")) {
            (Some(id), "") => all.iter().find(|i| i.id == id),
            (Some(id), key) => all.iter().find(|i| i.id == id && i.key == key),
            (None, key) => all.iter().find(|i| i.key == key),
        };
        let Some(i) = found else {
            report.rejected += 1;
            report
                .errors
                .push(refuse("initiative", format!("'{}' is not an initiative here", get("initiative"))));
            continue;
        };
        if !who.may(i) {
            report.rejected += 1;
            report.errors.push(refuse("initiative", format!("'{}' is not yours to record for", i.key)));
            continue;
        }
        let parsed = crate::domain::initiative::parse_outcome(
            i,
            &crate::domain::initiative::OutcomeInput {
                day: (get("day")).into(),
                period_end: (get("period_end")).into(),
                metric: (get("metric")).into(),
                quantity: (get("quantity")).into(),
                value_per_unit: (get("value_per_unit")).into(),
                total_value: (get("total_value")).into(),
                baseline_cost: (get("baseline_cost")).into(),
                note: (get("note")).into(),
                evidence: (get("evidence")).into(),
            },
        );
        let mut o = match parsed {
            Ok(o) => o,
            Err(e) => {
                let text = e.to_string();
                let (field, reason) = text.split_once(": ").unwrap_or(("", &text));
                report.rejected += 1;
                report.errors.push(refuse(field, reason.to_string()));
                continue;
            }
        };
        o.external_id = Some(get("external_id").to_string()).filter(|s| !s.is_empty());
        o.recorded_by = actor.label.clone();
        let before = recorded.iter().find(|(id, _)| *id == i.id).map(|(_, v)| *v).unwrap_or_default();
        if let Err(e) = hold_if_large(i, &mut o, before, share) {
            let text = e.to_string();
            let (field, reason) = text.split_once(": ").unwrap_or(("", &text));
            report.rejected += 1;
            report.errors.push(refuse(field, reason.to_string()));
            continue;
        }
        let entry = NewAudit {
            actor: actor.clone(),
            action: "outcome.create",
            entity: "initiative",
            entity_id: i.key.clone(),
            summary: format!("outcome for {}: {} worth {} on {}", i.name, o.metric, o.value.usd(), o.day),
            before: None,
            after: Some(serde_json::to_value(&o).map_err(internal)?),
        };
        match db.insert_outcome(org, &o, &entry).await? {
            Some(_) => {
                report.accepted += 1;
                report.value += o.value;
                match recorded.iter_mut().find(|(id, _)| *id == i.id) {
                    Some((_, v)) => *v += o.value,
                    None => recorded.push((i.id, o.value)),
                }
            }
            None => report.duplicates += 1,
        }
    }
    Ok(report)
}

/// Changes an initiative (its owner or an admin; a product member cannot hand it to someone
/// else), audited with before and after. Its key stays: spend is attributed by it.
pub async fn update(
    db: &Db,
    org: OrgId,
    user: &UserRecord,
    id: i64,
    mut i: Initiative,
) -> Result<(), AppError> {
    let before = existing(db, org, id).await?;
    if !may_manage(user, &before) {
        return Err(AppError::Forbidden);
    }
    if user.role != Role::Admin {
        i.owner = before.owner.clone();
    }
    i.id = id;
    i.key = before.key.clone();
    check_claims(&i, &db.initiatives(org).await?)?;
    let entry = NewAudit {
        actor: Actor::person(user.id, &user.email),
        action: "initiative.update",
        entity: "initiative",
        entity_id: before.key.clone(),
        summary: format!("initiative {} ({}) changed", i.name, i.status.as_str()),
        before: Some(serde_json::to_value(&before).map_err(internal)?),
        after: Some(serde_json::to_value(&i).map_err(internal)?),
    };
    db.update_initiative(org, id, &i, &entry).await?;
    Ok(())
}

/// The audit entity id of an outcome: `initiative key/outcome id` (`key/new` before it has
/// one), so an initiative's corrections, removed outcomes included, are found by prefix.
fn outcome_entity(i: &Initiative, id: Option<i64>) -> String {
    match id {
        Some(id) => format!("{}/{id}", i.key),
        None => format!("{}/new", i.key),
    }
}

/// Corrections and removals of `i`'s outcomes from the audit log, by outcome id.
async fn corrections(
    db: &Db,
    org: OrgId,
    i: &Initiative,
) -> Result<Vec<(i64, Vec<OutcomeChange>)>, AppError> {
    let f = AuditFilter { entity: Some("outcome".into()), ..AuditFilter::default() };
    let prefix = format!("{}/", i.key);
    let mut out: Vec<(i64, Vec<OutcomeChange>)> = Vec::new();
    for r in db.list_audit(org, &f, 10_000).await? {
        let Some(id) = r.entity_id.strip_prefix(&prefix).and_then(|x| x.parse::<i64>().ok()) else {
            continue;
        };
        if r.action == "outcome.create" {
            continue;
        }
        let change = OutcomeChange {
            at: r.at.format("%Y-%m-%d %H:%M UTC").to_string(),
            by: r.actor,
            summary: r.summary,
        };
        match out.iter_mut().find(|(x, _)| *x == id) {
            Some((_, v)) => v.push(change),
            None => out.push((id, vec![change])),
        }
    }
    Ok(out)
}

/// What a correction changed, as a person reads it: "value $150.00 → $180.00; note … → …".
fn outcome_changes(a: &Outcome, b: &Outcome) -> String {
    use crate::domain::initiative::quantity_text;
    let opt = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_else(|| "—".into());
    let money = |n: Option<Nanos>| n.map(Nanos::usd).unwrap_or_else(|| "—".into());
    let fields = [
        ("day", a.day.to_string(), b.day.to_string()),
        ("period end", opt(a.period_end), opt(b.period_end)),
        ("metric", a.metric.clone(), b.metric.clone()),
        ("quantity", quantity_text(a.quantity_milli), quantity_text(b.quantity_milli)),
        ("value", a.value.usd(), b.value.usd()),
        ("baseline cost", money(a.baseline_cost), money(b.baseline_cost)),
        ("note", a.note.clone(), b.note.clone()),
        ("evidence", a.evidence.clone(), b.evidence.clone()),
    ];
    let changed: Vec<String> =
        fields.into_iter().filter(|(_, x, y)| x != y).map(|(f, x, y)| format!("{f} {x} → {y}")).collect();
    if changed.is_empty() {
        "nothing changed".into()
    } else {
        changed.join("; ")
    }
}

/// Corrects an outcome (the initiative's owner or an admin), keeping the old figures in the
/// audit log.
pub async fn correct_outcome(
    db: &Db,
    org: OrgId,
    user: &UserRecord,
    initiative: i64,
    outcome: i64,
    parse: impl FnOnce(&Initiative) -> Result<Outcome, AppError>,
) -> Result<(), AppError> {
    let i = existing(db, org, initiative).await?;
    if !may_manage(user, &i) {
        return Err(AppError::Forbidden);
    }
    let before = db
        .outcomes(org, Some(initiative))
        .await?
        .into_iter()
        .find(|o| o.id == outcome)
        .ok_or_else(|| AppError::NotFound(format!("outcome {outcome}")))?;
    let mut o = parse(&i)?;
    o.id = before.id;
    o.initiative_id = initiative;
    o.external_id = before.external_id.clone();
    o.recorded_by = before.recorded_by.clone();
    let entry = NewAudit {
        actor: Actor::person(user.id, &user.email),
        action: "outcome.update",
        entity: "outcome",
        entity_id: outcome_entity(&i, Some(outcome)),
        summary: format!("corrected: {}", outcome_changes(&before, &o)),
        before: Some(serde_json::to_value(&before).map_err(internal)?),
        after: Some(serde_json::to_value(&o).map_err(internal)?),
    };
    db.update_outcome(org, &o, &entry).await?;
    Ok(())
}

/// Removes an outcome recorded in error (owner or admin); the audit log keeps it, with why.
pub async fn remove_outcome(
    db: &Db,
    org: OrgId,
    user: &UserRecord,
    initiative: i64,
    outcome: i64,
    reason: &str,
) -> Result<(), AppError> {
    let i = existing(db, org, initiative).await?;
    if !may_manage(user, &i) {
        return Err(AppError::Forbidden);
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::invalid("reason: say why the outcome is removed (it stays in the history)"));
    }
    let before = db
        .outcomes(org, Some(initiative))
        .await?
        .into_iter()
        .find(|o| o.id == outcome)
        .ok_or_else(|| AppError::NotFound(format!("outcome {outcome}")))?;
    let entry = NewAudit {
        actor: Actor::person(user.id, &user.email),
        action: "outcome.delete",
        entity: "outcome",
        entity_id: outcome_entity(&i, Some(outcome)),
        summary: format!(
            "removed: {} {} worth {} on {} ({reason})",
            crate::domain::initiative::quantity_text(before.quantity_milli),
            before.metric,
            before.value.usd(),
            before.day
        ),
        before: Some(serde_json::to_value(&before).map_err(internal)?),
        after: None,
    };
    db.delete_outcome(org, initiative, outcome, &entry).await?;
    Ok(())
}

/// Each initiative's spend over `range` (by its key and attribution rules): (id, spend).
pub async fn portfolio_spend(db: &Db, org: OrgId, range: DateRange) -> Result<Vec<(i64, Nanos)>, AppError> {
    let all = db.initiatives(org).await?;
    let mut out = Vec::new();
    for i in &all {
        out.push((i.id, daily(db, org, i, &all, range).await?.iter().map(|(_, c, _)| *c).sum()));
    }
    Ok(out)
}
