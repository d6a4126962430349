//! Anomaly detection over the organisation's spend series, the records people work in, and
//! the detection figures.
//!
//! Each run reads the hourly series (live token usage) and the daily series (every source)
//! of the organisation total and of every team, initiative, feature, model and API key, and
//! runs the domain detector on each. One incident shows in several series at once (a runaway
//! feature also lifts its team, model and the total), so episodes that overlap in time are
//! one anomaly: its scope is the narrowest series that carries most (≥ 80 %) of the largest
//! excess, the others are listed as "also in". A re-run that sees a known anomaly again
//! updates it instead of recording it twice.
use chrono::NaiveDate;

pub use crate::domain::anomaly::AnomalySettings as Settings;
use crate::domain::anomaly::{
    bands_since, episodes, figures, top_contributors, Anomaly, AnomalyDetail, Contributor, DetectionFigures,
    DetectorConfig, Severity, Status,
};
use crate::domain::explore::{day_seconds, Dim, Filter, Granularity, SpendQuery};
use crate::domain::ledger::SpendSource;
use crate::domain::webhook::Notice;
use crate::domain::{DateRange, Nanos};
use crate::error::{internal, AppError};
use crate::server::db::spend::SpendPath;
use crate::server::db::{Actor, Db, NewAudit, OrgId, UserRecord};

const SETTINGS_KEY: &str = "anomaly_settings";
/// The dimensions with series of their own (besides the organisation total).
pub const DIMS: [Dim; 5] = [Dim::Team, Dim::Initiative, Dim::Feature, Dim::Model, Dim::ApiKey];

pub async fn settings(db: &Db, org: OrgId) -> Result<Settings, AppError> {
    Ok(match db.setting(org, SETTINGS_KEY).await? {
        Some(v) => serde_json::from_str(&v).map_err(internal)?,
        None => Settings::default(),
    })
}

pub async fn set_settings(db: &Db, org: OrgId, actor: &Actor, s: Settings) -> Result<(), AppError> {
    let before = settings(db, org).await?;
    let entry = NewAudit {
        actor: actor.clone(),
        action: "setting.anomalies",
        entity: "setting",
        entity_id: SETTINGS_KEY.into(),
        summary: format!(
            "anomalies: minimum impact {}, announced from {}",
            s.min_excess.usd(),
            s.alert_severity.as_str()
        ),
        before: Some(serde_json::to_value(&before).map_err(internal)?),
        after: Some(serde_json::to_value(&s).map_err(internal)?),
    };
    db.set_setting(org, SETTINGS_KEY, &serde_json::to_string(&s).map_err(internal)?, &entry).await?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    Hour,
    Day,
}

impl Grain {
    pub fn secs(self) -> i64 {
        match self {
            Grain::Hour => 3_600,
            Grain::Day => 86_400,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Grain::Hour => "hour",
            Grain::Day => "day",
        }
    }
    fn parse(s: &str) -> Grain {
        if s == "day" {
            Grain::Day
        } else {
            Grain::Hour
        }
    }
    pub fn config(self, min_excess: Nanos) -> DetectorConfig {
        match self {
            Grain::Hour => DetectorConfig::hourly(min_excess),
            Grain::Day => DetectorConfig::daily(min_excess),
        }
    }
    /// Days of history a judgement needs, plus one.
    fn history_days(self) -> i64 {
        match self {
            Grain::Hour => 8,
            Grain::Day => 29,
        }
    }
    /// Hourly series are live token usage; billing sources land once a day.
    fn source(self) -> Option<SpendSource> {
        match self {
            Grain::Hour => Some(SpendSource::Tokens),
            Grain::Day => None,
        }
    }
}

/// The label of a scope: "organisation", "team search".
pub fn scope_label(dim: &str, value: &str) -> String {
    if dim == "total" {
        "organisation".into()
    } else {
        format!("{} {value}", dim.replace('_', " "))
    }
}

/// One spend series: buckets from `start`, `grain` apart.
#[derive(Debug, Clone)]
pub struct Series {
    pub dim: String,
    pub value: String,
    pub start: i64,
    pub costs: Vec<Nanos>,
}

fn query(grain: Grain, range: DateRange, dim: Option<&Dim>, scope: Option<Filter>) -> SpendQuery {
    let mut q = SpendQuery::total(range, grain.source());
    q.granularity = if grain == Grain::Hour { Granularity::Hour } else { Granularity::Day };
    q.group = dim.cloned();
    q.filters.extend(scope);
    q
}

fn scope_filter(dim: &str, value: &str) -> Result<Option<Filter>, AppError> {
    if dim == "total" {
        return Ok(None);
    }
    Ok(Some(Filter { dim: Dim::parse("scope", dim)?, values: vec![value.to_string()] }))
}

/// Every series of `grain` over `range`, cut at `now` (a bucket that has begun is in).
pub async fn load_series(
    db: &Db,
    org: OrgId,
    grain: Grain,
    range: DateRange,
    now: i64,
    only: Option<(&str, &str)>,
) -> Result<Vec<Series>, AppError> {
    let start = day_seconds(range.from);
    let end = (day_seconds(range.to) + 86_400).min(now + 1);
    let n = ((end - start).max(0) + grain.secs() - 1) / grain.secs();
    let mut out: Vec<Series> = Vec::new();
    let dims: Vec<Option<Dim>> = match only {
        Some(("total", _)) => vec![None],
        Some((d, _)) => vec![Some(Dim::parse("scope", d)?)],
        None => std::iter::once(None).chain(DIMS.iter().cloned().map(Some)).collect(),
    };
    for dim in dims {
        let mut q = query(grain, range, dim.as_ref(), None);
        if let (Some((d, v)), Some(_)) = (only, &dim) {
            q.filters.extend(scope_filter(d, v)?);
        }
        let (rows, _) = db.spend_rows(org, &q, SpendPath::Auto).await?;
        let key = dim.as_ref().map(Dim::key).unwrap_or_else(|| "total".into());
        for r in rows {
            // untagged spend is in the total's series; a blank value is not a scope of its own
            if dim.is_some() && r.group.is_empty() {
                continue;
            }
            let idx = (r.bucket - start) / grain.secs();
            if idx < 0 || idx >= n {
                continue;
            }
            let value = if dim.is_some() { r.group } else { String::new() };
            let pos = match out.iter().position(|s| s.dim == key && s.value == value) {
                Some(p) => p,
                None => {
                    out.push(Series { dim: key.clone(), value, start, costs: vec![Nanos::ZERO; n as usize] });
                    out.len() - 1
                }
            };
            out[pos].costs[idx as usize] += Nanos(r.sums.cost_nanos);
        }
    }
    Ok(out)
}

/// An episode of one series.
#[derive(Debug, Clone)]
struct Candidate {
    dim: String,
    value: String,
    grain: Grain,
    start: i64,
    end: i64,
    expected: Nanos,
    actual: Nanos,
    excess: Nanos,
}

/// The first bucket with any spend of the organisation (the total series comes first).
fn data_start(series: &[Series]) -> usize {
    series.iter().find(|s| s.dim == "total").and_then(|s| s.costs.iter().position(|c| c.0 != 0)).unwrap_or(0)
}

fn candidates(series: &[Series], grain: Grain, cfg: &DetectorConfig, from: i64) -> Vec<Candidate> {
    let mut out = Vec::new();
    let first = data_start(series);
    for s in series {
        for e in episodes(&bands_since(&s.costs, first, cfg)) {
            let (start, end) =
                (s.start + e.first as i64 * grain.secs(), s.start + (e.last as i64 + 1) * grain.secs());
            if end <= from {
                continue;
            }
            out.push(Candidate {
                dim: s.dim.clone(),
                value: s.value.clone(),
                grain,
                start,
                end,
                expected: e.expected,
                actual: e.actual,
                excess: e.excess,
            });
        }
    }
    out
}

/// One incident: its primary episode and the other scopes it showed in.
struct Found {
    primary: Candidate,
    also_in: Vec<String>,
}

fn cluster(mut c: Vec<Candidate>) -> Vec<Found> {
    c.sort_by_key(|x| x.start);
    let mut groups: Vec<Vec<Candidate>> = Vec::new();
    for x in c {
        match groups.last_mut() {
            Some(g) if x.start < g.iter().map(|y| y.end).max().unwrap_or(0) => g.push(x),
            _ => groups.push(vec![x]),
        }
    }
    groups
        .into_iter()
        .map(|g| {
            // the hourly series place an incident more precisely than the daily ones
            let pool: Vec<&Candidate> = if g.iter().any(|x| x.grain == Grain::Hour) {
                g.iter().filter(|x| x.grain == Grain::Hour).collect()
            } else {
                g.iter().collect()
            };
            let max = pool.iter().map(|x| x.excess.0).max().unwrap_or(0);
            let primary = pool
                .iter()
                .filter(|x| x.excess.0 as i128 * 10 >= max as i128 * 8)
                .min_by(|a, b| a.expected.cmp(&b.expected).then(b.excess.cmp(&a.excess)))
                .copied()
                .cloned()
                .expect("a group is never empty");
            let mut also_in: Vec<String> = g
                .iter()
                .map(|x| scope_label(&x.dim, &x.value))
                .filter(|l| *l != scope_label(&primary.dim, &primary.value))
                .collect();
            also_in.sort();
            also_in.dedup();
            Found { primary, also_in }
        })
        .collect()
}

/// What drove the anomaly: per other dimension, the values whose cost rose most during its
/// buckets against the same buckets of the previous seasons.
async fn contributors(
    db: &Db,
    org: OrgId,
    c: &Candidate,
    cfg: &DetectorConfig,
) -> Result<Vec<Contributor>, AppError> {
    let season = c.grain.secs() * cfg.season.max(1) as i64;
    let k = cfg.seasons.max(1) as i64;
    let from = chrono::DateTime::from_timestamp(c.start - k * season, 0).map(|t| t.date_naive());
    let to = chrono::DateTime::from_timestamp(c.end - 1, 0).map(|t| t.date_naive());
    let (Some(from), Some(to)) = (from, to) else { return Ok(vec![]) };
    let range = DateRange { from, to };
    let mut out = Vec::new();
    for dim in [Dim::Model, Dim::ApiKey, Dim::Feature, Dim::Team, Dim::Initiative] {
        if dim.key() == c.dim {
            continue;
        }
        let q = query(c.grain, range, Some(&dim), scope_filter(&c.dim, &c.value)?);
        let (rows, _) = db.spend_rows(org, &q, SpendPath::Auto).await?;
        let mut values: Vec<(String, Nanos, Nanos)> = Vec::new();
        for r in rows {
            let during = r.bucket >= c.start && r.bucket < c.end;
            let before = (1..=k).any(|j| r.bucket >= c.start - j * season && r.bucket < c.end - j * season);
            if !during && !before {
                continue;
            }
            let name = if r.group.is_empty() { crate::domain::explore::NOT_SET.to_string() } else { r.group };
            let pos = match values.iter().position(|(v, _, _)| *v == name) {
                Some(p) => p,
                None => {
                    values.push((name, Nanos::ZERO, Nanos::ZERO));
                    values.len() - 1
                }
            };
            if during {
                values[pos].1 += Nanos(r.sums.cost_nanos);
            } else {
                values[pos].2 += Nanos(r.sums.cost_nanos);
            }
        }
        for v in &mut values {
            v.2 = Nanos((v.2 .0 + k / 2) / k);
        }
        out.extend(top_contributors(&dim.key(), &values, 3));
    }
    Ok(crate::domain::anomaly::rank_contributors(out, 6))
}

fn notice(a: &Anomaly) -> Notice {
    let main = a
        .contributors
        .first()
        .map(|c| {
            format!(" Main contributor: {} {} (+{}).", c.dim.replace('_', " "), c.value, c.increase().usd())
        })
        .unwrap_or_default();
    Notice {
        key: String::new(),
        event: "anomaly.detected".into(),
        title: format!("Cost anomaly ({}): {} +{}", a.severity.as_str(), a.scope_label(), a.excess.usd()),
        message: format!(
            "{} spent {} against {} expected since {}.{main}",
            a.scope_label(),
            a.actual.usd(),
            a.expected.usd(),
            crate::domain::period::utc_minute(a.started_at)
        ),
        path: String::new(),
        data: serde_json::json!({
            "scope_dim": a.scope_dim,
            "scope_value": a.scope_value,
            "started_at": a.started_at,
            "detected_at": a.detected_at,
            "expected_nanos": a.expected.0,
            "actual_nanos": a.actual.0,
            "excess_nanos": a.excess.0,
            "severity": a.severity.as_str(),
        }),
    }
}

/// What a detection run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    pub new: usize,
    pub updated: usize,
    pub announced: usize,
}

/// One detection run at `now` (unix seconds) over episodes that end after `from`. Live runs
/// (`replay` false) date a new anomaly's detection `now`; a replay over history dates it at
/// the end of its first anomalous bucket, when a detector running then would have seen it.
pub async fn run(db: &Db, org: OrgId, now: i64, from: i64, replay: bool) -> Result<RunReport, AppError> {
    let s = settings(db, org).await?;
    let today =
        chrono::DateTime::from_timestamp(now, 0).map(|t| t.date_naive()).ok_or_else(|| internal("time"))?;
    let first_day = chrono::DateTime::from_timestamp(from, 0).map(|t| t.date_naive()).unwrap_or(today);
    let mut found = Vec::new();
    for grain in [Grain::Hour, Grain::Day] {
        let cfg = grain.config(s.min_excess);
        let range = DateRange {
            from: first_day.min(today) - chrono::Duration::days(grain.history_days()),
            to: today,
        };
        let series = load_series(db, org, grain, range, now, None).await?;
        found.extend(candidates(&series, grain, &cfg, from));
    }
    let known: Vec<Anomaly> = db
        .anomalies(org, from - 40 * 86_400)
        .await?
        .into_iter()
        .filter(|a| a.detected_at.is_some())
        .collect();
    let mut report = RunReport::default();
    for f in cluster(found) {
        let p = &f.primary;
        let cfg = p.grain.config(s.min_excess);
        let mut a = Anomaly {
            id: 0,
            scope_dim: p.dim.clone(),
            scope_value: p.value.clone(),
            grain: p.grain.as_str().into(),
            started_at: p.start,
            ended_at: p.end,
            detected_at: Some(if replay { (p.start + p.grain.secs()).min(now) } else { now }),
            expected: p.expected,
            actual: p.actual,
            excess: p.excess,
            severity: Severity::of(p.excess, s.min_excess),
            contributors: vec![],
            also_in: f.also_in.clone(),
            status: Status::Open,
            assignee: String::new(),
            reported_by: None,
            note: String::new(),
        };
        let mine: Vec<String> = std::iter::once(scope_label(&a.scope_dim, &a.scope_value))
            .chain(a.also_in.iter().cloned())
            .collect();
        let same = known.iter().find(|k| {
            k.started_at < a.ended_at
                && a.started_at < k.ended_at
                && std::iter::once(k.scope_label())
                    .chain(k.also_in.iter().cloned())
                    .any(|l| mine.contains(&l))
        });
        match same {
            Some(k) => {
                // the record keeps its scope, start and detection time; the extent and figures
                // grow; an unchanged incident costs no query and no write
                a.id = k.id;
                a.scope_dim = k.scope_dim.clone();
                a.scope_value = k.scope_value.clone();
                a.started_at = k.started_at.min(a.started_at);
                a.ended_at = k.ended_at.max(a.ended_at);
                a.detected_at = k.detected_at;
                // a scope that showed the incident only after it was first stored (its rollup
                // landed a moment later, or another server saw part of it) joins the record
                let label = scope_label(&a.scope_dim, &a.scope_value);
                let mut also_in: Vec<String> =
                    k.also_in.iter().chain(mine.iter()).filter(|l| **l != label).cloned().collect();
                also_in.sort();
                also_in.dedup();
                let grew = also_in != k.also_in;
                a.also_in = also_in;
                if k.excess >= a.excess {
                    (a.expected, a.actual, a.excess, a.severity) =
                        (k.expected, k.actual, k.excess, k.severity);
                    a.contributors = k.contributors.clone();
                    if a.ended_at == k.ended_at && !grew {
                        continue;
                    }
                } else {
                    a.contributors = contributors(db, org, p, &cfg).await?;
                }
                let alert = (a.severity >= s.alert_severity).then(|| notice(&a));
                if db.update_detection(org, &a, alert.as_ref()).await? {
                    report.announced += 1;
                }
                report.updated += 1;
            }
            None => {
                a.contributors = contributors(db, org, p, &cfg).await?;
                let alert = (a.severity >= s.alert_severity).then(|| notice(&a));
                match db.insert_anomaly(org, &a, "detector", alert.as_ref()).await {
                    Ok(_) => {
                        report.new += 1;
                        report.announced += alert.is_some() as usize;
                    }
                    // another server's detector stored the same incident a moment ago (the
                    // unique key of detected incidents): its record and alert stand
                    Err(e) if crate::server::db::is_unique_violation(&e) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Ok(report)
}

/// The scheduled run: episodes ending in the last two days (hourly) or week (daily).
pub async fn detect_now(db: &Db, org: OrgId, now: i64) -> Result<RunReport, AppError> {
    run(db, org, now, now - 7 * 86_400, false).await
}

/// A person reports an anomaly the detector missed; it counts in the detection rate.
pub async fn report(
    db: &Db,
    org: OrgId,
    user: &UserRecord,
    scope_dim: &str,
    scope_value: &str,
    start: &str,
    note: &str,
) -> Result<i64, AppError> {
    use crate::domain::Right;
    if !user.role.can(Right::ManageAlerts) {
        return Err(AppError::Forbidden);
    }
    let dim = scope_dim.trim();
    let value = scope_value.trim();
    if dim != "total" {
        let d = Dim::parse("scope_dim", dim)?;
        if !DIMS.contains(&d) {
            return Err(AppError::invalid(format!(
                "scope_dim: '{dim}' is not a scope anomalies are kept for"
            )));
        }
        if value.is_empty() {
            return Err(AppError::invalid(format!("scope_value: which {} it was", d.label().to_lowercase())));
        }
    }
    let started = chrono::NaiveDateTime::parse_from_str(start.trim(), "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(start.trim(), "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| {
            AppError::invalid(format!("start: '{}' is not a date and time (2026-11-20T14:00)", start.trim()))
        })?
        .and_utc()
        .timestamp();
    let note = note.trim();
    if note.is_empty() {
        return Err(AppError::invalid("note: say what happened (what was seen, where)"));
    }
    let a = Anomaly {
        id: 0,
        scope_dim: dim.into(),
        scope_value: if dim == "total" { String::new() } else { value.into() },
        grain: "report".into(),
        started_at: started,
        ended_at: started + 3_600,
        detected_at: None,
        expected: Nanos::ZERO,
        actual: Nanos::ZERO,
        excess: Nanos::ZERO,
        severity: Severity::Low,
        contributors: vec![],
        also_in: vec![],
        status: Status::Open,
        assignee: String::new(),
        reported_by: Some(user.email.clone()),
        note: note.into(),
    };
    Ok(db.insert_anomaly(org, &a, &user.email, None).await?)
}

/// A lifecycle step: `acknowledge`, `resolve`, `false_positive`, `reopen`, or `note` (which
/// also changes the assignee).
pub async fn act(
    db: &Db,
    org: OrgId,
    user: &UserRecord,
    id: i64,
    action: &str,
    assignee: &str,
    note: &str,
) -> Result<(), AppError> {
    use crate::domain::Right;
    if !user.role.can(Right::ManageAlerts) {
        return Err(AppError::Forbidden);
    }
    let a = db.anomaly(org, id).await?.ok_or_else(|| AppError::NotFound(format!("anomaly {id}")))?;
    let to = match action.trim() {
        "acknowledge" => Status::Acknowledged,
        "resolve" => Status::Resolved,
        "false_positive" => Status::FalsePositive,
        "reopen" => Status::Open,
        "note" => a.status,
        other => {
            return Err(AppError::invalid(format!(
                "action: '{other}' is not one of acknowledge, resolve, false_positive, reopen, note"
            )))
        }
    };
    if action.trim() != "note" && !a.status.may_become(to) {
        return Err(AppError::invalid(format!(
            "action: a {} anomaly cannot become {}",
            a.status.label(),
            to.label()
        )));
    }
    let assignee = match assignee.trim() {
        "" => a.assignee.clone(),
        x => x.to_lowercase(),
    };
    if action.trim() == "note" && note.trim().is_empty() && assignee == a.assignee {
        return Err(AppError::invalid("note: write a note or change the assignee"));
    }
    let entry = crate::server::db::anomalies::TriageEntry {
        actor: &user.email,
        action: action.trim(),
        note: note.trim(),
    };
    let moved = db.move_anomaly(org, id, (a.status, to), &assignee, entry).await?;
    if !moved {
        return Err(AppError::invalid(
            "action: someone changed this anomaly meanwhile; reload and try again",
        ));
    }
    Ok(())
}

/// Figures over anomalies that started within `range`.
pub async fn figures_in(db: &Db, org: OrgId, range: DateRange) -> Result<DetectionFigures, AppError> {
    let (lo, hi) = (day_seconds(range.from), day_seconds(range.to) + 86_400);
    let all = db.anomalies(org, lo).await?;
    let inside: Vec<Anomaly> = all.into_iter().filter(|a| a.started_at < hi).collect();
    Ok(figures(&inside))
}

/// Weekly figures for the `weeks` weeks ending `today`, oldest first.
pub async fn trend(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
    weeks: i64,
) -> Result<Vec<(NaiveDate, DetectionFigures)>, AppError> {
    let first = today - chrono::Duration::days(7 * weeks - 1);
    let all = db.anomalies(org, day_seconds(first)).await?;
    Ok((0..weeks)
        .map(|w| {
            let from = first + chrono::Duration::days(7 * w);
            let (lo, hi) = (day_seconds(from), day_seconds(from) + 7 * 86_400);
            let inside: Vec<Anomaly> =
                all.iter().filter(|a| a.started_at >= lo && a.started_at < hi).cloned().collect();
            (from, figures(&inside))
        })
        .collect())
}

pub async fn detail(db: &Db, org: OrgId, user: &UserRecord, id: i64) -> Result<AnomalyDetail, AppError> {
    use crate::domain::Right;
    let a = db.anomaly(org, id).await?.ok_or_else(|| AppError::NotFound(format!("anomaly {id}")))?;
    let s = settings(db, org).await?;
    let grain = Grain::parse(&a.grain);
    let cfg = grain.config(s.min_excess);
    let day = |t: i64| chrono::DateTime::from_timestamp(t, 0).map(|t| t.date_naive()).unwrap_or_default();
    let (show_from, show_to) = match grain {
        Grain::Hour => {
            (day(a.started_at) - chrono::Duration::days(2), day(a.ended_at - 1) + chrono::Duration::days(1))
        }
        Grain::Day => {
            (day(a.started_at) - chrono::Duration::days(21), day(a.ended_at - 1) + chrono::Duration::days(7))
        }
    };
    let range = DateRange { from: show_from - chrono::Duration::days(grain.history_days()), to: show_to };
    let series =
        load_series(db, org, grain, range, i64::MAX / 2, Some((&a.scope_dim, &a.scope_value))).await?;
    // the organisation's first spend: the scope's own series when it is the total
    let first = if a.scope_dim == "total" {
        data_start(&series)
    } else {
        data_start(&load_series(db, org, grain, range, i64::MAX / 2, Some(("total", ""))).await?)
    };
    let lo = day_seconds(show_from);
    let points = series
        .into_iter()
        .find(|s| s.dim == a.scope_dim && s.value == a.scope_value)
        .map(|s| {
            let b = bands_since(&s.costs, first, &cfg);
            s.costs
                .iter()
                .zip(b)
                .enumerate()
                .map(|(i, (c, b))| (s.start + i as i64 * grain.secs(), *c, b))
                .filter(|(t, _, _)| *t >= lo)
                .collect()
        })
        .unwrap_or_default();
    Ok(AnomalyDetail {
        events: db.anomaly_events(org, id).await?,
        anomaly: a,
        series: points,
        can_act: user.role.can(Right::ManageAlerts),
    })
}
