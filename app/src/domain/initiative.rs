//! Initiatives (AI projects), the outcomes product owners record for them, the value metrics
//! computed from both (ROI, net value, cost per outcome, payback, time to value) and the rules
//! that flag "zombie" initiatives: spending without value.
//!
//! Money is integer nanos; quantities are integer thousandths (2.5 hours saved = 2,500), so a
//! value of quantity × value per unit is exact to the nano before one final rounding.
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::explore::{Dim, Filter, NOT_SET};
use super::{DateRange, Nanos};
use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Exploring,
    Building,
    Live,
    Paused,
    Retired,
}

impl Status {
    pub const ALL: [Status; 5] =
        [Status::Exploring, Status::Building, Status::Live, Status::Paused, Status::Retired];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Exploring => "exploring",
            Status::Building => "building",
            Status::Live => "live",
            Status::Paused => "paused",
            Status::Retired => "retired",
        }
    }

    pub fn parse(s: &str) -> Result<Status, AppError> {
        Status::ALL.into_iter().find(|x| x.as_str() == s.trim()).ok_or_else(|| {
            AppError::invalid(format!(
                "status: '{}' is not one of exploring, building, live, paused, retired",
                s.trim()
            ))
        })
    }
}

/// What an initiative is expected to deliver: "tickets resolved, worth $15 each".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hypothesis {
    pub metric: String,
    pub unit: String,
    pub value_per_unit: Option<Nanos>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Initiative {
    pub id: i64,
    /// The `initiative` attribute its spend carries in events and imports.
    pub key: String,
    pub name: String,
    pub description: String,
    /// Email of the product member who owns it (records its outcomes).
    pub owner: String,
    pub team: Option<String>,
    pub status: Status,
    pub kickoff: Option<NaiveDate>,
    pub go_live: Option<NaiveDate>,
    pub hypothesis: Hypothesis,
    /// Features whose spend without an initiative attribute counts as this initiative's.
    pub features: Vec<String>,
    /// API keys whose untagged spend counts as this initiative's.
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// Tags (key, value) whose untagged spend counts as this initiative's.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

/// One slice of an initiative's spend: the events and lines matching every `include` filter
/// and no `exclude` filter. See [`attribution`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// How it reads on the page: "initiative = search", "feature ∈ {faq}".
    pub label: String,
    pub include: Vec<Filter>,
    pub exclude: Vec<Filter>,
}

fn list(values: &[String]) -> String {
    values.join(", ")
}

/// The slices that make up `i`'s spend, given every initiative of the organisation (`all`,
/// `i` among them). Spend carrying an initiative attribute belongs to that initiative only;
/// untagged spend goes to the first rule that claims it, in a fixed order that is the same
/// for everyone: features, then API keys, then tags by key. So each slice excludes what an
/// earlier rule of *any* initiative claims, and no cost is counted for two initiatives or
/// twice for one, provided no value is claimed twice ([`check_claims`]).
pub fn attribution(i: &Initiative, all: &[Initiative]) -> Vec<Scope> {
    let untagged = || Filter { dim: Dim::Initiative, values: vec![NOT_SET.into()] };
    let mut out = vec![Scope {
        label: format!("initiative = {}", i.key),
        include: vec![Filter { dim: Dim::Initiative, values: vec![i.key.clone()] }],
        exclude: vec![],
    }];
    let claimed = |f: &dyn Fn(&Initiative) -> Vec<String>| -> Vec<String> {
        let mut v: Vec<String> = all.iter().flat_map(f).collect();
        v.sort();
        v.dedup();
        v
    };
    let all_features = claimed(&|x| x.features.clone());
    let all_keys = claimed(&|x| x.api_keys.clone());
    let mut earlier: Vec<Filter> = Vec::new();
    if !i.features.is_empty() {
        out.push(Scope {
            label: format!("untagged, feature ∈ {{{}}}", list(&i.features)),
            include: vec![untagged(), Filter { dim: Dim::Feature, values: i.features.clone() }],
            exclude: vec![],
        });
    }
    if !all_features.is_empty() {
        earlier.push(Filter { dim: Dim::Feature, values: all_features });
    }
    if !i.api_keys.is_empty() {
        out.push(Scope {
            label: format!("untagged, API key ∈ {{{}}}", list(&i.api_keys)),
            include: vec![untagged(), Filter { dim: Dim::ApiKey, values: i.api_keys.clone() }],
            exclude: earlier.clone(),
        });
    }
    if !all_keys.is_empty() {
        earlier.push(Filter { dim: Dim::ApiKey, values: all_keys });
    }
    let mut tag_keys: Vec<String> = all.iter().flat_map(|x| x.tags.iter().map(|(k, _)| k.clone())).collect();
    tag_keys.sort();
    tag_keys.dedup();
    for k in tag_keys {
        let mine: Vec<String> = i.tags.iter().filter(|(tk, _)| *tk == k).map(|(_, v)| v.clone()).collect();
        if !mine.is_empty() {
            out.push(Scope {
                label: format!("untagged, tag {k} ∈ {{{}}}", list(&mine)),
                include: vec![untagged(), Filter { dim: Dim::Tag(k.clone()), values: mine }],
                exclude: earlier.clone(),
            });
        }
        let theirs = claimed(&|x| x.tags.iter().filter(|(tk, _)| *tk == k).map(|(_, v)| v.clone()).collect());
        earlier.push(Filter { dim: Dim::Tag(k), values: theirs });
    }
    out
}

/// Refuses a definition of `i` that claims a feature, API key or tag value another
/// initiative of `all` already claims (the field and the other initiative are named).
pub fn check_claims(i: &Initiative, all: &[Initiative]) -> Result<(), AppError> {
    for other in all.iter().filter(|o| o.id != i.id && o.key != i.key) {
        if let Some(f) = i.features.iter().find(|f| other.features.contains(f)) {
            return Err(AppError::invalid(format!(
                "features: '{f}' already counts for the initiative '{}'",
                other.name
            )));
        }
        if let Some(k) = i.api_keys.iter().find(|k| other.api_keys.contains(k)) {
            return Err(AppError::invalid(format!(
                "api_keys: '{k}' already counts for the initiative '{}'",
                other.name
            )));
        }
        if let Some((k, v)) = i.tags.iter().find(|t| other.tags.contains(t)) {
            return Err(AppError::invalid(format!(
                "tags: '{k}={v}' already counts for the initiative '{}'",
                other.name
            )));
        }
    }
    Ok(())
}

fn names(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.split(',').map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect();
    v.dedup();
    v
}

/// `key=value` pairs separated by commas; errors name the field and the pair.
fn parse_tags(s: &str) -> Result<Vec<(String, String)>, AppError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in names(s) {
        let (k, v) = pair
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            .ok_or_else(|| AppError::invalid(format!("tags: '{pair}' is not key=value")))?;
        let k = super::explore::tag_key("tags", k)?;
        if !out.iter().any(|(a, b)| *a == k && b == v) {
            out.push((k, v.to_string()));
        }
    }
    Ok(out)
}

/// The largest quantity of one outcome: a trillion units.
pub const MAX_QUANTITY: i64 = 1_000_000_000_000;

/// Thousandths from a typed quantity ("1,200", "2.5"); errors name `field`. Commas separate
/// thousands only, as in money (`1,5` is refused).
pub fn parse_milli(field: &str, s: &str) -> Result<i64, AppError> {
    let shown: String = s.trim().chars().take(40).collect();
    // the money parser's grammar, read in thousandths instead of nanos
    let n = Nanos::parse_usd(s.trim().trim_start_matches('$'))
        .map_err(|_| AppError::invalid(format!("{field}: '{shown}' is not a number of 0 or more")))?;
    let milli = (i128::from(n.0) + 500_000) / 1_000_000;
    if n.0 < 0 {
        return Err(AppError::invalid(format!("{field}: '{shown}' is not a number of 0 or more")));
    }
    if milli > i128::from(MAX_QUANTITY) * 1000 {
        return Err(AppError::invalid(format!("{field}: '{shown}' is above the maximum of {MAX_QUANTITY}")));
    }
    Ok(milli as i64)
}

/// US dollars typed by a person ("$1,000.50") to nanos, 0 to [`limits::MAX_LINE_COST`];
/// errors name `field`.
pub fn parse_usd(field: &str, s: &str) -> Result<Nanos, AppError> {
    let v = Nanos::parse_usd(s).map_err(|e| AppError::invalid(format!("{field}: {e}")))?;
    super::limits::amount(field, v, super::limits::MAX_LINE_COST).map_err(AppError::Invalid)
}

fn optional_day(field: &str, s: &str) -> Result<Option<NaiveDate>, AppError> {
    super::period::parse_day(field, Some(s.trim()).filter(|s| !s.is_empty()))
}

/// An initiative from its form, every field checked; errors name the field.
#[allow(clippy::too_many_arguments)]
pub fn parse_initiative(
    key: &str,
    name: &str,
    description: &str,
    owner: &str,
    team: &str,
    status: &str,
    kickoff: &str,
    go_live: &str,
    metric: &str,
    unit: &str,
    value_per_unit: &str,
    features: &str,
    api_keys: &str,
    tags: &str,
) -> Result<Initiative, AppError> {
    let key = key.trim();
    if key.is_empty()
        || key.len() > 80
        || !key.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(AppError::invalid(format!(
            "key: '{key}' is not a key (letters, digits, - _ . ; at most 80): it is the initiative attribute of its spend"
        )));
    }
    let name = name.trim();
    if name.is_empty() || name.len() > 120 {
        return Err(AppError::invalid("name: give the initiative a name of at most 120 characters"));
    }
    let owner = owner.trim().to_lowercase();
    if !owner.contains('@') {
        return Err(AppError::invalid("owner: the owner's email address"));
    }
    let kickoff = optional_day("kickoff", kickoff)?;
    let go_live = optional_day("go_live", go_live)?;
    if let (Some(k), Some(g)) = (kickoff, go_live) {
        if g < k {
            return Err(AppError::invalid(format!("go_live: {g} is before the kickoff on {k}")));
        }
    }
    let value_per_unit = match value_per_unit.trim() {
        "" => None,
        v => Some(parse_usd("value_per_unit", v)?),
    };
    let tags = parse_tags(tags)?;
    Ok(Initiative {
        id: 0,
        key: key.to_string(),
        name: name.to_string(),
        description: description.trim().to_string(),
        owner,
        team: Some(team.trim().to_string()).filter(|t| !t.is_empty()),
        status: Status::parse(status)?,
        kickoff,
        go_live,
        hypothesis: Hypothesis {
            metric: metric.trim().to_string(),
            unit: unit.trim().to_string(),
            value_per_unit,
        },
        features: names(features),
        api_keys: names(api_keys),
        tags,
    })
}

/// A business outcome recorded for an initiative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub id: i64,
    pub initiative_id: i64,
    /// The day it happened, or the first day of the period it covers.
    pub day: NaiveDate,
    pub period_end: Option<NaiveDate>,
    pub metric: String,
    /// Thousandths of a unit.
    pub quantity_milli: i64,
    pub value: Nanos,
    /// What the same work cost before AI, when known.
    pub baseline_cost: Option<Nanos>,
    pub note: String,
    pub evidence: String,
    /// The sender's id (API, CSV): the same id again is a resend.
    pub external_id: Option<String>,
    pub recorded_by: String,
}

/// A quantity in thousandths as a person reads it: 12, 2.5, 0.125.
pub fn quantity_text(milli: i64) -> String {
    if milli % 1000 == 0 {
        (milli / 1000).to_string()
    } else {
        format!("{}.{:03}", milli / 1000, milli % 1000).trim_end_matches('0').to_string()
    }
}

/// `quantity × value_per_unit`, both as typed, to the nano (half away from zero); `None`
/// above what one outcome may be worth ([`super::limits::MAX_LINE_COST`]).
pub fn value_of(quantity_milli: i64, per_unit: Nanos) -> Option<Nanos> {
    let v = (quantity_milli as i128 * per_unit.0 as i128 + 500) / 1000;
    i64::try_from(v).ok().map(Nanos).filter(|v| *v <= super::limits::MAX_LINE_COST)
}

fn valued(quantity_milli: i64, per_unit: Nanos) -> Result<Nanos, AppError> {
    value_of(quantity_milli, per_unit).ok_or_else(|| {
        AppError::invalid(format!(
            "quantity: quantity × value per unit is above what one outcome may be worth ({})",
            super::limits::MAX_LINE_COST.usd()
        ))
    })
}

/// An outcome from its form: the value is the total when given, else quantity × value per
/// unit (the form's, or the initiative's hypothesis); errors name the field.
#[allow(clippy::too_many_arguments)]
pub fn parse_outcome(
    i: &Initiative,
    day: &str,
    period_end: &str,
    metric: &str,
    quantity: &str,
    value_per_unit: &str,
    total_value: &str,
    baseline_cost: &str,
    note: &str,
    evidence: &str,
) -> Result<Outcome, AppError> {
    let day = super::period::required_day("day", day)?;
    let period_end = optional_day("period_end", period_end)?;
    if period_end.is_some_and(|e| e < day) {
        return Err(AppError::invalid("period_end: the period ends before it starts"));
    }
    let metric = match metric.trim() {
        "" => i.hypothesis.metric.clone(),
        m => m.to_string(),
    };
    if metric.is_empty() {
        return Err(AppError::invalid("metric: what was achieved (tickets resolved, hours saved, …)"));
    }
    let quantity_milli = match quantity.trim() {
        "" => 0,
        q => parse_milli("quantity", q)?,
    };
    let value = match (total_value.trim(), value_per_unit.trim()) {
        ("", "") => match i.hypothesis.value_per_unit {
            Some(per) if quantity_milli > 0 => valued(quantity_milli, per)?,
            _ => {
                return Err(AppError::invalid(
                    "total_value: give the total value, or a quantity and its value per unit",
                ))
            }
        },
        ("", per) => {
            if quantity_milli == 0 {
                return Err(AppError::invalid("quantity: how many units the value per unit applies to"));
            }
            valued(quantity_milli, parse_usd("value_per_unit", per)?)?
        }
        (total, _) => parse_usd("total_value", total)?,
    };
    let evidence = evidence.trim();
    if !(evidence.is_empty() || evidence.starts_with("https://") || evidence.starts_with("http://")) {
        return Err(AppError::invalid("evidence: a link starting with https:// or http://"));
    }
    let baseline_cost = match baseline_cost.trim() {
        "" => None,
        b => Some(parse_usd("baseline_cost", b)?),
    };
    Ok(Outcome {
        id: 0,
        initiative_id: i.id,
        day,
        period_end,
        metric,
        quantity_milli,
        value,
        baseline_cost,
        note: note.trim().to_string(),
        evidence: evidence.to_string(),
        external_id: None,
        recorded_by: String::new(),
    })
}

/// An initiative's value against its spend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueMetrics {
    pub value: Nanos,
    pub spend: Nanos,
    pub net: Nanos,
    /// (value − spend) ÷ spend × 100, in hundredths of a percent (30000 = 300.00 %); none
    /// without spend.
    pub roi_basis_points: Option<i64>,
    /// Spend ÷ quantity per metric, for metrics with a quantity.
    pub cost_per_outcome: Vec<(String, Nanos)>,
    /// First day cumulative value reached cumulative spend (≥), if it has.
    pub payback: Option<NaiveDate>,
    /// Go-live → first outcome, in days.
    pub time_to_value_days: Option<i64>,
    /// Kickoff → go-live, in days.
    pub time_to_deploy_days: Option<i64>,
    pub first_outcome: Option<NaiveDate>,
}

/// ROI in hundredths of a percent, rounded half away from zero.
pub fn roi_basis_points(value: Nanos, spend: Nanos) -> Option<i64> {
    if spend.0 <= 0 {
        return None;
    }
    let num = (value.0 as i128 - spend.0 as i128) * 10_000;
    let d = spend.0 as i128;
    let q = if num >= 0 { (num + d / 2) / d } else { (num - d / 2) / d };
    Some(q as i64)
}

/// `bp` as "300.00%".
pub fn pct_label(bp: i64) -> String {
    let sign = if bp < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}%", bp.abs() / 100, bp.abs() % 100)
}

/// Metrics from the initiative, its outcomes, and its daily spend (any order).
pub fn metrics(i: &Initiative, outcomes: &[Outcome], daily_spend: &[(NaiveDate, Nanos)]) -> ValueMetrics {
    let value: Nanos = outcomes.iter().map(|o| o.value).sum();
    let spend: Nanos = daily_spend.iter().map(|(_, c)| *c).sum();
    let mut per_metric: Vec<(String, i64)> = Vec::new();
    for o in outcomes.iter().filter(|o| o.quantity_milli > 0) {
        match per_metric.iter_mut().find(|(m, _)| *m == o.metric) {
            Some((_, q)) => *q += o.quantity_milli,
            None => per_metric.push((o.metric.clone(), o.quantity_milli)),
        }
    }
    let cost_per_outcome = per_metric
        .into_iter()
        .map(|(m, q)| {
            let per = (spend.0 as i128 * 1000 + q as i128 / 2) / q as i128;
            (m, Nanos(per as i64))
        })
        .collect();
    // payback: walk the days of spend and value together
    let mut days: Vec<NaiveDate> =
        daily_spend.iter().map(|(d, _)| *d).chain(outcomes.iter().map(|o| o.day)).collect();
    days.sort();
    days.dedup();
    let (mut cum_spend, mut cum_value, mut payback) = (Nanos::ZERO, Nanos::ZERO, None);
    for d in days {
        cum_spend += daily_spend.iter().filter(|(x, _)| *x == d).map(|(_, c)| *c).sum();
        cum_value += outcomes.iter().filter(|o| o.day == d).map(|o| o.value).sum();
        if cum_value.0 > 0 && cum_value >= cum_spend {
            payback = Some(d);
            break;
        }
    }
    let first_outcome = outcomes.iter().map(|o| o.day).min();
    ValueMetrics {
        value,
        spend,
        net: value - spend,
        roi_basis_points: roi_basis_points(value, spend),
        cost_per_outcome,
        payback,
        time_to_value_days: i.go_live.zip(first_outcome).map(|(g, f)| (f - g).num_days()),
        time_to_deploy_days: i.kickoff.zip(i.go_live).map(|(k, g)| (g - k).num_days()),
        first_outcome,
    }
}

/// Metrics over `period` only (outcomes dated and spend incurred in it); time to value, time
/// to deploy and payback stay lifetime figures, as a period cannot move them.
pub fn metrics_in(
    i: &Initiative,
    outcomes: &[Outcome],
    daily_spend: &[(NaiveDate, Nanos)],
    period: DateRange,
) -> ValueMetrics {
    let inside = |d: NaiveDate| d >= period.from && d <= period.to;
    let o: Vec<Outcome> = outcomes.iter().filter(|o| inside(o.day)).cloned().collect();
    let sp: Vec<(NaiveDate, Nanos)> = daily_spend.iter().filter(|(d, _)| inside(*d)).copied().collect();
    let lifetime = metrics(i, outcomes, daily_spend);
    ValueMetrics {
        payback: lifetime.payback,
        time_to_value_days: lifetime.time_to_value_days,
        time_to_deploy_days: lifetime.time_to_deploy_days,
        first_outcome: lifetime.first_outcome,
        ..metrics(i, &o, &sp)
    }
}

/// Value and spend of one calendar month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthValue {
    /// Its first day.
    pub month: NaiveDate,
    pub value: Nanos,
    pub spend: Nanos,
    pub net: Nanos,
    pub roi_basis_points: Option<i64>,
}

/// Value and spend per calendar month, oldest first, for every month from the first with
/// spend or an outcome to the last.
pub fn monthly(outcomes: &[Outcome], daily_spend: &[(NaiveDate, Nanos)]) -> Vec<MonthValue> {
    use chrono::Datelike;
    let first = |d: NaiveDate| d.with_day(1).expect("day 1 exists");
    let mut months: Vec<MonthValue> = Vec::new();
    let days = daily_spend
        .iter()
        .filter(|(_, c)| c.0 != 0)
        .map(|(d, c)| (*d, *c, Nanos::ZERO))
        .chain(outcomes.iter().map(|o| (o.day, Nanos::ZERO, o.value)));
    for (d, spend, value) in days {
        let m = first(d);
        match months.iter_mut().find(|x| x.month == m) {
            Some(x) => {
                x.spend += spend;
                x.value += value;
            }
            None => {
                months.push(MonthValue { month: m, value, spend, net: Nanos::ZERO, roi_basis_points: None })
            }
        }
    }
    months.sort_by_key(|m| m.month);
    for m in &mut months {
        m.net = m.value - m.spend;
        m.roi_basis_points = roi_basis_points(m.value, m.spend);
    }
    months
}

/// The organisation's zombie rules (every threshold editable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZombieRules {
    /// Spend above `min_spend` in the last `spend_days` days with no outcome in `outcome_days`.
    pub spend_days: i64,
    pub min_spend: Nanos,
    pub outcome_days: i64,
    /// ROI below `min_roi_bp` (hundredths of a percent) over the last `roi_days` days.
    pub roi_days: i64,
    pub min_roi_bp: i64,
    /// Requests falling by at least `usage_drop_pct` % (last `usage_days` days against the
    /// same length before) while spend continues.
    pub usage_days: i64,
    pub usage_drop_pct: i64,
}

impl Default for ZombieRules {
    fn default() -> Self {
        ZombieRules {
            spend_days: 30,
            min_spend: Nanos(10_000_000_000),
            outcome_days: 45,
            roi_days: 90,
            min_roi_bp: 0,
            usage_days: 30,
            usage_drop_pct: 50,
        }
    }
}

/// The rules from their form; errors name the field.
pub fn parse_rules(
    spend_days: &str,
    min_spend: &str,
    outcome_days: &str,
    roi_days: &str,
    min_roi_pct: &str,
    usage_days: &str,
    usage_drop_pct: &str,
) -> Result<ZombieRules, AppError> {
    let days = |field: &str, v: &str| {
        v.trim().parse::<i64>().ok().filter(|d| (1..=730).contains(d)).ok_or_else(|| {
            AppError::invalid(format!("{field}: '{}' is not a number of days from 1 to 730", v.trim()))
        })
    };
    // a percentage with up to two decimals, as hundredths
    let roi = super::pricing::parse_scaled_rounded(min_roi_pct.trim().trim_end_matches('%'), 2)
        .filter(|bp| (-10_000..=1_000_000).contains(bp))
        .ok_or_else(|| {
            AppError::invalid(format!(
                "min_roi_pct: '{}' is not a percentage from -100 to 10000",
                min_roi_pct.trim()
            ))
        })?;
    let drop = usage_drop_pct
        .trim()
        .trim_end_matches('%')
        .parse::<i64>()
        .ok()
        .filter(|p| (1..=100).contains(p))
        .ok_or_else(|| {
            AppError::invalid(format!(
                "usage_drop_pct: '{}' is not a percentage from 1 to 100",
                usage_drop_pct.trim()
            ))
        })?;
    Ok(ZombieRules {
        spend_days: days("spend_days", spend_days)?,
        min_spend: parse_usd("min_spend", min_spend)?,
        outcome_days: days("outcome_days", outcome_days)?,
        roi_days: days("roi_days", roi_days)?,
        min_roi_bp: roi,
        usage_days: days("usage_days", usage_days)?,
        usage_drop_pct: drop,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Rule {
    NoOutcomes,
    LowRoi,
    FadingUsage,
    RetiredSpending,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::NoOutcomes => "no_outcomes",
            Rule::LowRoi => "low_roi",
            Rule::FadingUsage => "fading_usage",
            Rule::RetiredSpending => "retired_spending",
        }
    }

    pub fn parse(s: &str) -> Option<Rule> {
        [Rule::NoOutcomes, Rule::LowRoi, Rule::FadingUsage, Rule::RetiredSpending]
            .into_iter()
            .find(|r| r.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Rule::NoOutcomes => "spending without outcomes",
            Rule::LowRoi => "ROI below target",
            Rule::FadingUsage => "usage fading, spend continuing",
            Rule::RetiredSpending => "retired but still spending",
        }
    }
}

/// A rule an initiative trips today: why, and the money at stake (its spend in the rule's
/// window).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trip {
    pub rule: Rule,
    pub reason: String,
    pub at_stake: Nanos,
}

/// What the rules look at for one initiative on `today`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZombieInput {
    pub status: Status,
    /// Daily spend and requests, any order, covering at least the longest window.
    pub daily: Vec<(NaiveDate, Nanos, i64)>,
    pub outcomes: Vec<(NaiveDate, Nanos)>,
}

/// Spend and requests of the `days` days ending `today` (both ends included) ending `offset`
/// windows back.
fn window(input: &ZombieInput, today: NaiveDate, days: i64, offset: i64) -> (Nanos, i64) {
    let to = today - chrono::Duration::days(days * offset);
    let from = to - chrono::Duration::days(days - 1);
    input
        .daily
        .iter()
        .filter(|(d, _, _)| *d >= from && *d <= to)
        .fold((Nanos::ZERO, 0), |(c, r), (_, cost, req)| (c + *cost, r + req))
}

/// Every rule the initiative trips on `today`. Windows end on `today` and count whole days
/// (`spend_days` = 30 means today and the 29 days before).
pub fn zombie_trips(rules: &ZombieRules, input: &ZombieInput, today: NaiveDate) -> Vec<Trip> {
    let mut out = Vec::new();
    let since = |days: i64| today - chrono::Duration::days(days - 1);
    let (spent, _) = window(input, today, rules.spend_days, 0);
    if input.status == Status::Retired && spent.0 > 0 {
        out.push(Trip {
            rule: Rule::RetiredSpending,
            reason: format!("retired, yet {} was spent in the last {} days", spent.usd(), rules.spend_days),
            at_stake: spent,
        });
    }
    let recent_outcome = input.outcomes.iter().any(|(d, _)| *d >= since(rules.outcome_days) && *d <= today);
    if spent > rules.min_spend && !recent_outcome {
        out.push(Trip {
            rule: Rule::NoOutcomes,
            reason: format!(
                "{} spent in the last {} days (more than {}) and no outcome recorded in {} days",
                spent.usd(),
                rules.spend_days,
                rules.min_spend.usd(),
                rules.outcome_days
            ),
            at_stake: spent,
        });
    }
    let (roi_spend, _) = window(input, today, rules.roi_days, 0);
    let roi_value: Nanos = input
        .outcomes
        .iter()
        .filter(|(d, _)| *d >= since(rules.roi_days) && *d <= today)
        .map(|(_, v)| *v)
        .sum();
    // without any outcome in the window the no-outcome rule speaks; ROI is judged on results
    if roi_value.0 > 0 {
        // compared exactly: (value − spend) ÷ spend < target, cross-multiplied in i128
        let below = roi_spend.0 > 0
            && (roi_value.0 as i128 - roi_spend.0 as i128) * 10_000
                < roi_spend.0 as i128 * rules.min_roi_bp as i128;
        if let (true, Some(bp)) = (below, roi_basis_points(roi_value, roi_spend)) {
            out.push(Trip {
                rule: Rule::LowRoi,
                reason: format!(
                    "ROI {} over the last {} days ({} value for {} spend), below {}",
                    pct_label(bp),
                    rules.roi_days,
                    roi_value.usd(),
                    roi_spend.usd(),
                    pct_label(rules.min_roi_bp)
                ),
                at_stake: roi_spend,
            });
        }
    }
    let (now_spend, now_req) = window(input, today, rules.usage_days, 0);
    let (_, before_req) = window(input, today, rules.usage_days, 1);
    // "falling by at least Y %": now ≤ before × (100 − Y) / 100, exactly
    if before_req > 0
        && now_spend.0 > 0
        && (now_req as i128) * 100 <= (before_req as i128) * (100 - rules.usage_drop_pct) as i128
    {
        let drop = 100 - now_req * 100 / before_req;
        out.push(Trip {
            rule: Rule::FadingUsage,
            reason: format!(
                "requests fell {drop}% ({before_req} → {now_req}) over {} days while {} was still spent",
                rules.usage_days,
                now_spend.usd()
            ),
            at_stake: now_spend,
        });
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    Keep,
    Fix,
    Retire,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Keep => "keep",
            Decision::Fix => "fix",
            Decision::Retire => "retire",
        }
    }

    pub fn parse(s: &str) -> Result<Decision, AppError> {
        match s.trim() {
            "keep" => Ok(Decision::Keep),
            "fix" => Ok(Decision::Fix),
            "retire" => Ok(Decision::Retire),
            other => Err(AppError::invalid(format!("decision: '{other}' is not one of keep, fix, retire"))),
        }
    }
}

/// A zombie flag as kept: raised when a rule first trips, cleared when it stops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    pub id: i64,
    pub initiative_id: i64,
    pub rule: Rule,
    pub reason: String,
    pub at_stake: Nanos,
    pub raised_on: NaiveDate,
    pub cleared_on: Option<NaiveDate>,
    pub decisions: Vec<FlagDecision>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagDecision {
    pub decision: Decision,
    pub owner: String,
    pub note: String,
    pub fix_by: Option<NaiveDate>,
    pub decided_by: String,
    pub decided_on: NaiveDate,
}

impl Flag {
    /// Open and without a standing decision: a "fix" whose date has passed stands no more.
    pub fn awaiting_decision(&self, today: NaiveDate) -> bool {
        if self.cleared_on.is_some() {
            return false;
        }
        match self.decisions.last() {
            None => true,
            Some(d) => d.decision == Decision::Fix && d.fix_by.is_some_and(|f| f < today),
        }
    }
}

/// An initiative with its value metrics and open flags, as the portfolio lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiativeLine {
    pub initiative: Initiative,
    pub metrics: ValueMetrics,
    pub open_flags: Vec<Flag>,
    /// Whether the person looking may record outcomes and decide on its flags.
    pub can_manage: bool,
}

/// One initiative's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiativeDetail {
    pub line: InitiativeLine,
    /// The chosen period and the metrics over it (`line.metrics` are lifetime).
    pub period: DateRange,
    pub period_metrics: ValueMetrics,
    pub months: Vec<MonthValue>,
    pub outcomes: Vec<Outcome>,
    /// (day, cumulative spend, cumulative value) for every day with either.
    pub cumulative: Vec<(NaiveDate, Nanos, Nanos)>,
    /// Lifetime spend by attribution rule, by feature and by model.
    pub breakdowns: Vec<Breakdown>,
    /// Each outcome's corrections (audit records, newest first), by outcome id.
    pub corrections: Vec<(i64, Vec<OutcomeChange>)>,
    /// Every flag, open and cleared, newest first, with its decisions.
    pub flags: Vec<Flag>,
    pub rules: ZombieRules,
    pub today: NaiveDate,
}

/// Spend split one way, costliest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breakdown {
    pub title: String,
    pub testid: String,
    pub rows: Vec<(String, Nanos)>,
}

/// A correction or removal of an outcome, as its audit record tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeChange {
    pub at: String,
    pub by: String,
    pub summary: String,
}

/// Cumulative spend and value per day (days with spend or an outcome), oldest first.
pub fn cumulative(
    outcomes: &[Outcome],
    daily_spend: &[(NaiveDate, Nanos)],
) -> Vec<(NaiveDate, Nanos, Nanos)> {
    let mut days: Vec<NaiveDate> = daily_spend
        .iter()
        .filter(|(_, c)| c.0 != 0)
        .map(|(d, _)| *d)
        .chain(outcomes.iter().map(|o| o.day))
        .collect();
    days.sort();
    days.dedup();
    let (mut spend, mut value) = (Nanos::ZERO, Nanos::ZERO);
    days.into_iter()
        .map(|d| {
            spend += daily_spend.iter().filter(|(x, _)| *x == d).map(|(_, c)| *c).sum();
            value += outcomes.iter().filter(|o| o.day == d).map(|o| o.value).sum();
            (d, spend, value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    const K: i64 = 1_000_000_000; // one dollar

    fn fraud() -> Initiative {
        parse_initiative(
            "fraud-shield",
            "Fraud shield",
            "",
            "po@x.com",
            "risk",
            "live",
            "2026-03-03",
            "2026-06-01",
            "fraud losses prevented",
            "USD",
            "1",
            "",
            "",
            "",
        )
        .unwrap()
    }

    fn outcome(day: &str, metric: &str, qty_milli: i64, value: i64) -> Outcome {
        Outcome {
            id: 0,
            initiative_id: 1,
            day: d(day),
            period_end: None,
            metric: metric.into(),
            quantity_milli: qty_milli,
            value: Nanos(value),
            baseline_cost: None,
            note: String::new(),
            evidence: String::new(),
            external_id: None,
            recorded_by: String::new(),
        }
    }

    #[test]
    fn the_seeds_worked_examples_hold_exactly() {
        // $800K of fraud losses prevented at $200K of cost ⇒ ROI 300 %
        assert_eq!(roi_basis_points(Nanos(800_000 * K), Nanos(200_000 * K)), Some(30_000));
        assert_eq!(pct_label(30_000), "300.00%");
        // go-live in week 3 (Monday 2026-01-12), first measurable outcome in week 5 (2026-01-26)
        let mut i = fraud();
        i.kickoff = None;
        i.go_live = Some(d("2026-01-12"));
        let m = metrics(&i, &[outcome("2026-01-26", "x", 0, K)], &[(d("2026-01-12"), Nanos(K))]);
        assert_eq!(m.time_to_value_days, Some(14), "two weeks");
        // kickoff in March (the 3rd), go-live 1 June ⇒ 90 days to deploy
        let m = metrics(&fraud(), &[], &[]);
        assert_eq!(m.time_to_deploy_days, Some(90));
    }

    #[test]
    fn metrics_sum_value_and_spend_and_find_payback() {
        let spend = [
            (d("2026-06-01"), Nanos(100 * K)),
            (d("2026-06-02"), Nanos(100 * K)),
            (d("2026-06-03"), Nanos(100 * K)),
        ];
        let outcomes =
            [outcome("2026-06-02", "cases", 2_000, 150 * K), outcome("2026-06-03", "cases", 1_000, 200 * K)];
        let m = metrics(&fraud(), &outcomes, &spend);
        assert_eq!((m.value, m.spend, m.net), (Nanos(350 * K), Nanos(300 * K), Nanos(50 * K)));
        assert_eq!(m.roi_basis_points, Some(1_667), "50 / 300 = 16.67 %");
        assert_eq!(m.cost_per_outcome, vec![("cases".to_string(), Nanos(100 * K))]);
        assert_eq!(m.payback, Some(d("2026-06-03")), "350 ≥ 300 on the 3rd, 150 < 200 on the 2nd");
        assert_eq!(m.first_outcome, Some(d("2026-06-02")));
        let none = metrics(&fraud(), &[], &spend);
        assert_eq!((none.payback, none.roi_basis_points), (None, Some(-10_000)));
        assert_eq!(metrics(&fraud(), &outcomes, &[]).roi_basis_points, None, "no spend, no ROI");
    }

    #[test]
    fn outcome_value_is_quantity_times_unit_value_to_the_nano() {
        let mut i = fraud();
        i.hypothesis.value_per_unit = Some(parse_usd("v", "15").unwrap());
        let o = parse_outcome(&i, "2026-11-02", "", "tickets resolved", "1,200", "", "", "", "", "").unwrap();
        assert_eq!((o.quantity_milli, o.value), (1_200_000, Nanos(18_000 * K)));
        let o = parse_outcome(&i, "2026-11-02", "", "hours saved", "2.5", "$40.10", "", "", "", "").unwrap();
        assert_eq!(o.value, Nanos(100_250_000_000));
        let o = parse_outcome(&i, "2026-11-02", "", "", "", "", "800,000", "", "", "https://x/y").unwrap();
        assert_eq!((o.value, o.metric.as_str()), (Nanos(800_000 * K), "fraud losses prevented"));
        assert_eq!(value_of(1, Nanos(1)), Some(Nanos(0)));
        assert_eq!(value_of(MAX_QUANTITY * 1000, crate::domain::limits::MAX_LINE_COST), None);
        assert_eq!(value_of(500, Nanos(1)), Some(Nanos(1)), "half a nano rounds away from zero");
    }

    #[test]
    fn form_errors_name_the_field() {
        let i = fraud();
        let cases = [
            (parse_outcome(&i, "", "", "", "1", "", "", "", "", ""), "day: "),
            (parse_outcome(&i, "2026-11-02", "2026-11-01", "", "1", "", "", "", "", ""), "period_end: "),
            (parse_outcome(&i, "2026-11-02", "", "", "-1", "", "", "", "", ""), "quantity: "),
            (parse_outcome(&i, "2026-11-02", "", "", "1", "", "lots", "", "", ""), "total_value: "),
            (parse_outcome(&i, "2026-11-02", "", "", "", "3", "", "", "", ""), "quantity: "),
            (parse_outcome(&i, "2026-11-02", "", "", "1", "", "5", "", "", "ftp://x"), "evidence: "),
        ];
        for (r, field) in cases {
            let e = r.unwrap_err().to_string();
            assert!(e.starts_with(field), "{e}");
        }
        let e =
            parse_initiative("a b", "n", "", "o@x", "", "live", "", "", "", "", "", "", "", "").unwrap_err();
        assert!(e.to_string().starts_with("key: "));
        let e = parse_initiative(
            "a",
            "n",
            "",
            "o@x",
            "",
            "live",
            "2026-02-01",
            "2026-01-01",
            "",
            "",
            "",
            "",
            "",
            "",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("go_live: "));
        let e =
            parse_initiative("a", "n", "", "o@x", "", "dead", "", "", "", "", "", "", "", "").unwrap_err();
        assert!(e.to_string().starts_with("status: "));
    }

    fn input(status: Status, daily: &[(&str, i64, i64)], outcomes: &[(&str, i64)]) -> ZombieInput {
        ZombieInput {
            status,
            daily: daily.iter().map(|(day, c, r)| (d(day), Nanos(*c), *r)).collect(),
            outcomes: outcomes.iter().map(|(day, v)| (d(day), Nanos(*v))).collect(),
        }
    }

    fn rules() -> ZombieRules {
        ZombieRules {
            spend_days: 30,
            min_spend: Nanos(100 * K),
            outcome_days: 60,
            roi_days: 90,
            min_roi_bp: 0,
            usage_days: 30,
            usage_drop_pct: 50,
        }
    }

    fn rules_tripped(i: &ZombieInput, today: &str) -> Vec<Rule> {
        zombie_trips(&rules(), i, d(today)).into_iter().map(|t| t.rule).collect()
    }

    #[test]
    fn no_outcomes_trips_above_the_spend_and_outside_the_outcome_window_only() {
        let today = "2026-11-30";
        // the spend window is 1–30 November: $100 is not above $100, $100.000000001 is
        let at = input(Status::Live, &[("2026-11-01", 100 * K, 10)], &[]);
        assert_eq!(rules_tripped(&at, today), vec![]);
        let above = input(Status::Live, &[("2026-11-01", 100 * K + 1, 10)], &[]);
        assert_eq!(rules_tripped(&above, today), vec![Rule::NoOutcomes]);
        let t = &zombie_trips(&rules(), &above, d(today))[0];
        assert_eq!(t.at_stake, Nanos(100 * K + 1));
        assert!(t.reason.contains("no outcome recorded in 60 days"), "{}", t.reason);
        // 31 October is outside the 30-day window
        let before = input(Status::Live, &[("2026-10-31", 500 * K, 10)], &[]);
        assert_eq!(rules_tripped(&before, today), vec![]);
        // an outcome 59 days ago (2 October) is within 60 days; 61 days ago (30 September) is not
        let recent = input(Status::Live, &[("2026-11-01", 500 * K, 10)], &[("2026-10-02", 1_000 * K)]);
        assert_eq!(rules_tripped(&recent, today), vec![]);
        let old = input(Status::Live, &[("2026-11-01", 500 * K, 10)], &[("2026-09-30", 1_000 * K)]);
        assert_eq!(rules_tripped(&old, today), vec![Rule::NoOutcomes]);
    }

    #[test]
    fn low_roi_trips_strictly_below_the_target() {
        let today = "2026-11-30";
        // value equals spend: ROI 0 %, not below 0 %
        let even = input(Status::Live, &[("2026-11-01", 100 * K, 10)], &[("2026-11-02", 100 * K)]);
        assert_eq!(rules_tripped(&even, today), vec![]);
        let short = input(Status::Live, &[("2026-11-01", 100 * K, 10)], &[("2026-11-02", 100 * K - 1)]);
        assert_eq!(rules_tripped(&short, today), vec![Rule::LowRoi]);
        let reason = &zombie_trips(&rules(), &short, d(today))[0].reason;
        assert!(reason.contains("below 0.00%"), "{reason}");
    }

    #[test]
    fn fading_usage_trips_at_the_drop_and_only_while_spend_continues() {
        let today = "2026-11-30";
        let outcomes = [("2026-11-15", 10_000 * K)];
        // 100 requests in October's window, 50 in November's: exactly a 50 % drop
        let half = input(Status::Live, &[("2026-10-15", K, 100), ("2026-11-15", K, 50)], &outcomes);
        assert_eq!(rules_tripped(&half, today), vec![Rule::FadingUsage]);
        let less = input(Status::Live, &[("2026-10-15", K, 100), ("2026-11-15", K, 51)], &outcomes);
        assert_eq!(rules_tripped(&less, today), vec![]);
        let stopped = input(Status::Live, &[("2026-10-15", K, 100), ("2026-11-15", 0, 0)], &outcomes);
        assert_eq!(rules_tripped(&stopped, today), vec![], "no spend: nothing at stake");
    }

    #[test]
    fn a_retired_initiative_that_still_spends_stays_flagged() {
        let today = "2026-11-30";
        let spends = input(Status::Retired, &[("2026-11-29", 1, 1)], &[("2026-11-20", 10 * K)]);
        assert_eq!(rules_tripped(&spends, today), vec![Rule::RetiredSpending]);
        let quiet = input(Status::Retired, &[("2026-10-01", 1, 1)], &[]);
        assert_eq!(rules_tripped(&quiet, today), vec![]);
    }

    #[test]
    fn cumulative_spend_and_value_end_at_the_totals() {
        let spend =
            [(d("2026-06-01"), Nanos(3)), (d("2026-06-02"), Nanos::ZERO), (d("2026-06-04"), Nanos(4))];
        let outcomes = [outcome("2026-06-03", "x", 0, 10)];
        assert_eq!(
            cumulative(&outcomes, &spend),
            vec![
                (d("2026-06-01"), Nanos(3), Nanos(0)),
                (d("2026-06-03"), Nanos(3), Nanos(10)),
                (d("2026-06-04"), Nanos(7), Nanos(10))
            ]
        );
    }

    #[test]
    fn rules_come_from_their_form_and_errors_name_the_field() {
        let r = parse_rules("30", "$100", "60", "90", "-12.5%", "30", "50").unwrap();
        assert_eq!((r.min_spend, r.min_roi_bp, r.usage_drop_pct), (Nanos(100 * K), -1_250, 50));
        for (args, field) in [
            (["0", "1", "1", "1", "0", "1", "1"], "spend_days: "),
            (["1", "x", "1", "1", "0", "1", "1"], "min_spend: "),
            (["1", "1", "1", "1", "-101", "1", "1"], "min_roi_pct: "),
            (["1", "1", "1", "1", "0", "1", "101"], "usage_drop_pct: "),
        ] {
            let e = parse_rules(args[0], args[1], args[2], args[3], args[4], args[5], args[6]).unwrap_err();
            assert!(e.to_string().starts_with(field), "{e}");
        }
    }

    #[test]
    fn a_fix_decision_stands_until_its_date() {
        let mut f = Flag {
            id: 1,
            initiative_id: 1,
            rule: Rule::NoOutcomes,
            reason: String::new(),
            at_stake: Nanos::ZERO,
            raised_on: d("2026-11-01"),
            cleared_on: None,
            decisions: vec![],
        };
        assert!(f.awaiting_decision(d("2026-11-02")));
        f.decisions.push(FlagDecision {
            decision: Decision::Fix,
            owner: "po".into(),
            note: String::new(),
            fix_by: Some(d("2026-11-15")),
            decided_by: "po".into(),
            decided_on: d("2026-11-02"),
        });
        assert!(!f.awaiting_decision(d("2026-11-15")));
        assert!(f.awaiting_decision(d("2026-11-16")));
        f.cleared_on = Some(d("2026-11-16"));
        assert!(!f.awaiting_decision(d("2026-11-17")));
    }

    fn with_rules(key: &str, features: &str, keys: &str, tags: &str) -> Initiative {
        let mut i =
            parse_initiative(key, key, "", "o@x.com", "", "live", "", "", "", "", "", features, keys, tags)
                .unwrap();
        i.id = key.bytes().map(i64::from).sum();
        i
    }

    #[test]
    fn attribution_gives_untagged_spend_to_the_first_rule_of_anyone() {
        let a = with_rules("a", "kyc", "", "");
        let b = with_rules("bb", "", "k1", "");
        let c = with_rules("ccc", "", "", "project=x");
        let d4 = with_rules("dddd", "", "", "cc=9, cc=9");
        let all = [a.clone(), b.clone(), c.clone(), d4.clone()];
        let f = |dim: Dim, v: &[&str]| Filter { dim, values: v.iter().map(|x| x.to_string()).collect() };
        let untagged = f(Dim::Initiative, &[NOT_SET]);
        assert_eq!(attribution(&a, &all).len(), 2);
        assert_eq!(attribution(&a, &all)[0].include, vec![f(Dim::Initiative, &["a"])]);
        assert!(attribution(&a, &all)[1].exclude.is_empty(), "features come first");
        let sb = &attribution(&b, &all)[1];
        assert_eq!(sb.include, vec![untagged.clone(), f(Dim::ApiKey, &["k1"])]);
        assert_eq!(sb.exclude, vec![f(Dim::Feature, &["kyc"])]);
        // tag keys in order: cc before project, so project=x gives way to cc=9
        let sd = &attribution(&d4, &all)[1];
        assert_eq!(sd.include[1], f(Dim::Tag("cc".into()), &["9"]));
        assert_eq!(sd.exclude, vec![f(Dim::Feature, &["kyc"]), f(Dim::ApiKey, &["k1"])]);
        let sc = &attribution(&c, &all)[1];
        assert_eq!(sc.label, "untagged, tag project ∈ {x}");
        assert_eq!(
            sc.exclude,
            vec![f(Dim::Feature, &["kyc"]), f(Dim::ApiKey, &["k1"]), f(Dim::Tag("cc".into()), &["9"])]
        );
        assert_eq!(d4.tags, vec![("cc".to_string(), "9".to_string())], "a repeated pair is kept once");
    }

    #[test]
    fn a_value_claimed_twice_is_refused_with_the_field() {
        let all = [with_rules("a", "kyc", "k1", "p=x")];
        let e = |i: Initiative| check_claims(&i, &all).unwrap_err().to_string();
        assert_eq!(
            e(with_rules("b", "kyc", "", "")),
            "features: 'kyc' already counts for the initiative 'a'"
        );
        assert_eq!(e(with_rules("b", "", "k1", "")), "api_keys: 'k1' already counts for the initiative 'a'");
        assert_eq!(e(with_rules("b", "", "", "p=x")), "tags: 'p=x' already counts for the initiative 'a'");
        assert!(check_claims(&with_rules("b", "kyc2", "k2", "p=y"), &all).is_ok());
        assert!(check_claims(&all[0], &all).is_ok(), "an initiative does not conflict with itself");
        let bad =
            parse_initiative("b", "b", "", "o@x", "", "live", "", "", "", "", "", "", "", "p").unwrap_err();
        assert_eq!(bad.to_string(), "tags: 'p' is not key=value");
    }

    #[test]
    fn metrics_in_a_period_count_only_what_falls_in_it() {
        let i = fraud();
        let spend: Vec<(NaiveDate, Nanos)> =
            [("2026-06-30", 100), ("2026-07-01", 10), ("2026-07-31", 20), ("2026-08-01", 40)]
                .iter()
                .map(|(day, c)| (d(day), Nanos(c * K)))
                .collect();
        let outcomes = [outcome("2026-06-20", "x", 0, 5 * K), outcome("2026-07-15", "x", 2_000, 60 * K)];
        let july = DateRange { from: d("2026-07-01"), to: d("2026-07-31") };
        let m = metrics_in(&i, &outcomes, &spend, july);
        assert_eq!((m.spend, m.value, m.net), (Nanos(30 * K), Nanos(60 * K), Nanos(30 * K)));
        assert_eq!(m.roi_basis_points, Some(10_000));
        assert_eq!(m.cost_per_outcome, vec![("x".to_string(), Nanos(15 * K))]);
        assert_eq!(m.first_outcome, Some(d("2026-06-20")), "lifetime figures stay lifetime");
        let months = monthly(&outcomes, &spend);
        let row = |m: &MonthValue| (m.month, m.spend, m.value, m.roi_basis_points);
        assert_eq!(
            months.iter().map(row).collect::<Vec<_>>(),
            vec![
                (d("2026-06-01"), Nanos(100 * K), Nanos(5 * K), Some(-9_500)),
                (d("2026-07-01"), Nanos(30 * K), Nanos(60 * K), Some(10_000)),
                (d("2026-08-01"), Nanos(40 * K), Nanos::ZERO, Some(-10_000)),
            ]
        );
    }
}
