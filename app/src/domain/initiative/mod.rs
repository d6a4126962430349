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

mod outcome;
mod value;
mod zombie;
pub use outcome::*;
pub use value::*;
pub use zombie::*;

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

/// The initiative form as typed (every field text).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InitiativeInput {
    /// Absent on the edit form: a key never changes.
    #[serde(default)]
    pub key: String,
    pub name: String,
    pub description: String,
    pub owner: String,
    pub team: String,
    pub status: String,
    pub kickoff: String,
    pub go_live: String,
    pub metric: String,
    pub unit: String,
    pub value_per_unit: String,
    pub features: String,
    pub api_keys: String,
    pub tags: String,
}

/// An initiative from its form, every field checked; errors name the field.
pub fn parse_initiative(f: &InitiativeInput) -> Result<Initiative, AppError> {
    let InitiativeInput {
        key,
        name,
        description,
        owner,
        team,
        status,
        kickoff,
        go_live,
        metric,
        unit,
        value_per_unit,
        features,
        api_keys,
        tags,
    } = f;
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
    /// Whether the person may verify outcomes pending verification (finance, admins).
    pub can_verify: bool,
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

#[cfg(test)]
mod tests;
