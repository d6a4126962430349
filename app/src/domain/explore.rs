//! The spend explorer: a query (group by, filters, range, granularity, metric, sort) that
//! round-trips through a URL query string, and the view built from summed rows. The page, its
//! CSV export and the read API (`GET /api/v1/spend`) all go through [`SpendQuery`] and
//! [`SpendView`], so they show the same numbers.
use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

use super::ledger::SpendSource;
use super::money::share_pct;
use super::rollup::Sums;
use super::text::{csv_row, encode_query_value};
use super::{DateRange, Nanos};
use crate::error::AppError;

/// How a missing attribute (no team, no tag value, …) is named in tables and filters.
pub const NOT_SET: &str = "(not set)";
/// Hourly buckets are offered for short ranges only: 14 days are 336 bars already.
pub const MAX_HOURLY_DAYS: i64 = 14;
/// Series drawn in the chart; the rest are summed into "Other" (the table lists every group).
pub const CHART_SERIES: usize = 8;

/// A dimension spend can be grouped and filtered by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Dim {
    Team,
    Initiative,
    Feature,
    Customer,
    Environment,
    Provider,
    Model,
    ApiKey,
    ServiceTier,
    Source,
    /// A free-form tag key of events and billing lines.
    Tag(String),
}

impl Dim {
    /// Every dimension but tags, in menu order.
    pub const FIXED: [Dim; 10] = [
        Dim::Team,
        Dim::Initiative,
        Dim::Feature,
        Dim::Customer,
        Dim::Environment,
        Dim::Provider,
        Dim::Model,
        Dim::ApiKey,
        Dim::ServiceTier,
        Dim::Source,
    ];

    /// The URL name: `team`, `api_key`, `tag:cost-center`.
    pub fn key(&self) -> String {
        match self {
            Dim::Tag(k) => format!("tag:{k}"),
            d => d.fixed_key().to_string(),
        }
    }

    fn fixed_key(&self) -> &'static str {
        match self {
            Dim::Team => "team",
            Dim::Initiative => "initiative",
            Dim::Feature => "feature",
            Dim::Customer => "customer",
            Dim::Environment => "environment",
            Dim::Provider => "provider",
            Dim::Model => "model",
            Dim::ApiKey => "api_key",
            Dim::ServiceTier => "service_tier",
            Dim::Source => "source",
            Dim::Tag(_) => "tag",
        }
    }

    pub fn label(&self) -> String {
        match self {
            Dim::Team => "Team".into(),
            Dim::Initiative => "Initiative".into(),
            Dim::Feature => "Feature".into(),
            Dim::Customer => "Customer".into(),
            Dim::Environment => "Environment".into(),
            Dim::Provider => "Provider".into(),
            Dim::Model => "Model".into(),
            Dim::ApiKey => "API key".into(),
            Dim::ServiceTier => "Service tier".into(),
            Dim::Source => "Source".into(),
            Dim::Tag(k) => format!("Tag {k}"),
        }
    }

    /// Parses a URL name; `field` names the parameter in the error.
    pub fn parse(field: &str, s: &str) -> Result<Dim, AppError> {
        if let Some(k) = s.strip_prefix("tag:") {
            return Ok(Dim::Tag(tag_key(field, k)?));
        }
        Dim::FIXED.into_iter().find(|d| d.fixed_key() == s).ok_or_else(|| {
            let names: Vec<&str> = Dim::FIXED.iter().map(Dim::fixed_key).collect();
            AppError::invalid(format!(
                "{field}: unknown dimension '{s}'; use {} or tag:KEY",
                names.join(", ")
            ))
        })
    }

    /// The `usage_rollups.dim` holding this dimension, for the ones rollups are kept for.
    pub fn rollup_dim(&self) -> Option<&'static str> {
        match self {
            Dim::Team
            | Dim::Initiative
            | Dim::Feature
            | Dim::Customer
            | Dim::Environment
            | Dim::Provider
            | Dim::Model
            | Dim::ApiKey => Some(self.fixed_key()),
            _ => None,
        }
    }

    /// The URL parameter a filter on this dimension uses: `team`, `tag.cost-center`.
    pub fn filter_param(&self) -> String {
        match self {
            Dim::Tag(k) => format!("tag.{k}"),
            d => d.fixed_key().to_string(),
        }
    }
}

pub(crate) fn tag_key(field: &str, k: &str) -> Result<String, AppError> {
    let k = k.trim();
    // the key goes into a JSON path; quotes and backslashes would break out of it
    if k.is_empty() || k.len() > 64 || k.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        return Err(AppError::invalid(format!(
            "{field}: a tag key is 1–64 characters without quotes or backslashes"
        )));
    }
    Ok(k.to_string())
}

/// Bucket size of the chart and the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Granularity {
    Hour,
    Day,
    Week,
    Month,
}

impl Granularity {
    pub const ALL: [Granularity; 4] =
        [Granularity::Hour, Granularity::Day, Granularity::Week, Granularity::Month];

    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
            Granularity::Week => "week",
            Granularity::Month => "month",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Granularity::Hour => "Hourly",
            Granularity::Day => "Daily",
            Granularity::Week => "Weekly (from Monday)",
            Granularity::Month => "Monthly",
        }
    }

    /// Unix seconds of the start of the bucket holding `t` (UTC; weeks start on Monday).
    pub fn bucket(self, unix_seconds: i64) -> i64 {
        let hour = unix_seconds.div_euclid(3600) * 3600;
        if self == Granularity::Hour {
            return hour;
        }
        let day = DateTime::from_timestamp(unix_seconds, 0).map(|t| t.date_naive()).unwrap_or_default();
        let start = match self {
            Granularity::Week => day - Days::new(u64::from(day.weekday().num_days_from_monday())),
            Granularity::Month => day.with_day(1).unwrap_or(day),
            _ => day,
        };
        day_seconds(start)
    }

    /// The bucket starts covering `range`, oldest first (the first may begin before it).
    pub fn buckets(self, range: DateRange) -> Vec<i64> {
        let mut out: Vec<i64> = Vec::new();
        for d in range.iter_days() {
            if self == Granularity::Hour {
                out.extend((0..24).map(|h| day_seconds(d) + h * 3600));
            } else {
                let b = self.bucket(day_seconds(d));
                if out.last() != Some(&b) {
                    out.push(b);
                }
            }
        }
        out
    }

    /// How a bucket start is written in tables, charts and CSV.
    pub fn label_of(self, bucket: i64) -> String {
        let t = DateTime::from_timestamp(bucket, 0).unwrap_or_default();
        match self {
            Granularity::Hour => t.format("%Y-%m-%d %H:00").to_string(),
            Granularity::Month => t.format("%Y-%m").to_string(),
            _ => t.format("%Y-%m-%d").to_string(),
        }
    }
}

/// Unix seconds of a day's midnight (UTC).
pub fn day_seconds(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp()).unwrap_or_default()
}

/// What the chart plots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Metric {
    Cost,
    /// Input + output tokens (OpenTelemetry counts cache in input, reasoning in output).
    Tokens,
    InputTokens,
    CachedTokens,
    OutputTokens,
    ReasoningTokens,
    Requests,
    CostPerRequest,
    CostPer1kTokens,
}

/// One figure: money (exact nanos) or a count; `None` where a ratio has no denominator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Figure {
    Money(Nanos),
    Count(i64),
    None,
}

impl Metric {
    pub const ALL: [Metric; 9] = [
        Metric::Cost,
        Metric::Tokens,
        Metric::InputTokens,
        Metric::CachedTokens,
        Metric::OutputTokens,
        Metric::ReasoningTokens,
        Metric::Requests,
        Metric::CostPerRequest,
        Metric::CostPer1kTokens,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Cost => "cost",
            Metric::Tokens => "tokens",
            Metric::InputTokens => "input_tokens",
            Metric::CachedTokens => "cached_tokens",
            Metric::OutputTokens => "output_tokens",
            Metric::ReasoningTokens => "reasoning_tokens",
            Metric::Requests => "requests",
            Metric::CostPerRequest => "cost_per_request",
            Metric::CostPer1kTokens => "cost_per_1k_tokens",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Metric::Cost => "Cost",
            Metric::Tokens => "Tokens (input + output)",
            Metric::InputTokens => "Input tokens",
            Metric::CachedTokens => "Cached input tokens (read + write)",
            Metric::OutputTokens => "Output tokens",
            Metric::ReasoningTokens => "Reasoning tokens",
            Metric::Requests => "Requests",
            Metric::CostPerRequest => "Cost per request",
            Metric::CostPer1kTokens => "Cost per 1K tokens",
        }
    }

    pub fn parse(s: &str) -> Result<Metric, AppError> {
        Metric::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = Metric::ALL.iter().map(|m| m.as_str()).collect();
            AppError::invalid(format!("metric: unknown metric '{s}'; use one of {}", names.join(", ")))
        })
    }

    /// The metric's value for summed usage. Ratios divide sums (never average averages) and
    /// round half away from zero to the nano.
    pub fn of(self, s: &Sums) -> Figure {
        let tokens = s.input_tokens + s.output_tokens;
        match self {
            Metric::Cost => Figure::Money(Nanos(s.cost_nanos)),
            Metric::Tokens => Figure::Count(tokens),
            Metric::InputTokens => Figure::Count(s.input_tokens),
            Metric::CachedTokens => {
                Figure::Count(s.cache_read_tokens + s.cache_write_5m_tokens + s.cache_write_1h_tokens)
            }
            Metric::OutputTokens => Figure::Count(s.output_tokens),
            Metric::ReasoningTokens => Figure::Count(s.reasoning_tokens),
            Metric::Requests => Figure::Count(s.requests),
            Metric::CostPerRequest => ratio(s.cost_nanos as i128, s.requests as i128),
            Metric::CostPer1kTokens => ratio(s.cost_nanos as i128 * 1000, tokens as i128),
        }
    }

    /// Money metrics are drawn in USD; counts as plain numbers.
    pub fn is_money(self) -> bool {
        matches!(self, Metric::Cost | Metric::CostPerRequest | Metric::CostPer1kTokens)
    }
}

fn ratio(num: i128, den: i128) -> Figure {
    if den <= 0 {
        return Figure::None;
    }
    let q = num / den;
    let r = num % den;
    let q = if r.abs() * 2 >= den { q + num.signum() } else { q };
    Figure::Money(Nanos(q as i64))
}

/// Money for display: totals to cents, unit costs (per request, per 1K tokens) to 6 decimals.
impl Figure {
    pub fn display(self, metric: Metric) -> String {
        match self {
            Figure::Money(n) if matches!(metric, Metric::Cost) => n.usd(),
            Figure::Money(n) => format!("${}", n.decimal(6)),
            Figure::Count(c) => super::money::group_thousands(c.max(0) as u64),
            Figure::None => "—".into(),
        }
    }

    /// The plain number for CSV and charts (no `$`, no thousands separators), at the same
    /// precision as [`Figure::display`].
    pub fn plain(self, metric: Metric) -> String {
        match self {
            Figure::Money(n) if matches!(metric, Metric::Cost) => n.decimal(2),
            Figure::Money(n) => n.decimal(6),
            Figure::Count(c) => c.to_string(),
            Figure::None => String::new(),
        }
    }
}

/// Table columns, in order; each can sort the table.
pub const TABLE_METRICS: [Metric; 7] = [
    Metric::Cost,
    Metric::Requests,
    Metric::InputTokens,
    Metric::OutputTokens,
    Metric::CachedTokens,
    Metric::CostPerRequest,
    Metric::CostPer1kTokens,
];

/// Date range presets, resolved against today when the query runs.
pub const PRESETS: [(&str, &str); 6] = [
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
    ("mtd", "Month to date"),
    ("last_month", "Last month"),
    ("ytd", "Year to date"),
];

fn preset_range(p: &str, today: NaiveDate) -> Option<DateRange> {
    Some(match p {
        "7d" => DateRange::last_days(today, 7),
        "30d" => DateRange::last_days(today, 30),
        "90d" => DateRange::last_days(today, 90),
        "mtd" => DateRange::month_to_date(today),
        "last_month" => {
            let first = today.with_day(1)?;
            let to = first.pred_opt()?;
            DateRange { from: to.with_day(1)?, to }
        }
        "ytd" => DateRange { from: NaiveDate::from_ymd_opt(today.year(), 1, 1)?, to: today },
        _ => return None,
    })
}

/// One filter: spend whose `dim` is one of `values` ([`NOT_SET`] matches a missing value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub dim: Dim,
    pub values: Vec<String>,
}

/// Table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortKey {
    Group,
    Metric(Metric),
}

/// Everything that defines an explorer view; [`SpendQuery::to_query_string`] and
/// [`SpendQuery::parse`] round-trip, so a URL reproduces the view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendQuery {
    /// `None`: one series, the total.
    pub group: Option<Dim>,
    /// One per dimension, in the order given.
    pub filters: Vec<Filter>,
    pub range: DateRange,
    /// The preset the range came from, kept so a shared link stays relative ("last 30 days").
    pub preset: Option<String>,
    pub granularity: Granularity,
    pub metric: Metric,
    pub sort: SortKey,
    pub descending: bool,
    /// Spend matching any of these is left out. Not part of the URL: attribution rules use it
    /// to keep the slices of initiatives apart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<Filter>,
}

impl SpendQuery {
    /// The default view: cost by team, daily, last 30 days.
    pub fn default_for(today: NaiveDate) -> SpendQuery {
        SpendQuery {
            group: Some(Dim::Team),
            filters: Vec::new(),
            range: DateRange::last_days(today, 30),
            preset: Some("30d".into()),
            granularity: Granularity::Day,
            metric: Metric::Cost,
            sort: SortKey::Metric(Metric::Cost),
            descending: true,
            excluded: Vec::new(),
        }
    }

    /// Everything of one source (or all) over `range`, as one total per day.
    pub fn total(range: DateRange, source: Option<SpendSource>) -> SpendQuery {
        let mut q = SpendQuery::default_for(range.to);
        q.group = None;
        q.range = range;
        q.preset = None;
        if let Some(s) = source {
            q.filters.push(Filter { dim: Dim::Source, values: vec![s.as_str().to_string()] });
        }
        q
    }

    /// Parses URL parameters (repeated keys are multi-select values; blank values are
    /// ignored, as a GET form sends them). Errors name the parameter.
    pub fn parse(pairs: &[(String, String)], today: NaiveDate) -> Result<SpendQuery, AppError> {
        let mut q = SpendQuery::default_for(today);
        let (mut from, mut to, mut preset, mut group_tag) = (None, None, None, None);
        let mut sort = None;
        let mut filters: Vec<Filter> = Vec::new();
        let mut add_filter = |dim: Dim, v: &str| {
            match filters.iter_mut().find(|f| f.dim == dim) {
                Some(f) if !f.values.iter().any(|x| x == v) => f.values.push(v.to_string()),
                Some(_) => {}
                None => filters.push(Filter { dim, values: vec![v.to_string()] }),
            };
        };
        for (k, v) in pairs {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            match k.as_str() {
                "group" if v == "none" => q.group = None,
                // the form's "Tag…" choice comes with the key in its own box
                "group" if v == "tag" => q.group = None,
                "group" => q.group = Some(Dim::parse("group", v)?),
                "group_tag" => group_tag = Some(tag_key("group_tag", v)?),
                "from" => from = Some(v.to_string()),
                "to" => to = Some(v.to_string()),
                "range" if v == "custom" => {}
                "range" => preset = Some(v.to_string()),
                "gran" => {
                    q.granularity =
                        Granularity::ALL.into_iter().find(|g| g.as_str() == v).ok_or_else(|| {
                            AppError::invalid(format!(
                                "gran: unknown granularity '{v}'; use hour, day, week or month"
                            ))
                        })?
                }
                "metric" => q.metric = Metric::parse(v)?,
                "sort" => sort = Some(v.to_string()),
                "dir" => {
                    q.descending = match v {
                        "desc" => true,
                        "asc" => false,
                        _ => return Err(AppError::invalid(format!("dir: '{v}' is neither asc nor desc"))),
                    }
                }
                // "key=value" from the form's free-text tag filter
                "tag_filter" => {
                    let (key, value) = v
                        .split_once('=')
                        .ok_or_else(|| AppError::invalid(format!("tag_filter: '{v}' is not KEY=VALUE")))?;
                    add_filter(Dim::Tag(tag_key("tag_filter", key)?), value.trim());
                }
                k if k.starts_with("tag.") => add_filter(Dim::Tag(tag_key(k, &k[4..])?), v),
                k => match Dim::FIXED.into_iter().find(|d| d.fixed_key() == k) {
                    Some(Dim::Source) => {
                        SpendSource::parse(v).map_err(|e| AppError::invalid(format!("source: {e}")))?;
                        add_filter(Dim::Source, v)
                    }
                    Some(d) => add_filter(d, v),
                    None => return Err(AppError::invalid(format!("{k}: unknown parameter"))),
                },
            }
        }
        if let Some(k) = group_tag {
            if pairs.iter().any(|(k, v)| k == "group" && v.trim() == "tag") {
                q.group = Some(Dim::Tag(k));
            }
        } else if pairs.iter().any(|(k, v)| k == "group" && v.trim() == "tag") {
            return Err(AppError::invalid("group_tag: name the tag key to group by"));
        }
        q.filters = filters;
        // the form sends the preset select and the date boxes together: a preset wins, and
        // "custom" (or no preset) takes the dates
        match preset {
            Some(p) => {
                q.range = preset_range(&p, today).ok_or_else(|| {
                    let names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
                    AppError::invalid(format!(
                        "range: unknown preset '{p}'; use {} or custom",
                        names.join(", ")
                    ))
                })?;
                q.preset = Some(p);
            }
            _ => {
                q.range = DateRange::parse(from.as_deref(), to.as_deref(), today)?;
                q.preset = None;
                if from.is_none() && to.is_none() {
                    q.range = DateRange::last_days(today, 30);
                    q.preset = Some("30d".into());
                }
            }
        }
        if q.granularity == Granularity::Hour && q.range.days() > MAX_HOURLY_DAYS {
            return Err(AppError::invalid(format!(
                "gran: hourly buckets cover at most {MAX_HOURLY_DAYS} days; this range has {} (pick day or a shorter range)",
                q.range.days()
            )));
        }
        q.sort = match sort.as_deref() {
            None => SortKey::Metric(q.metric),
            Some("group") => SortKey::Group,
            Some(s) => SortKey::Metric(
                Metric::parse(s).map_err(|_| AppError::invalid(format!("sort: cannot sort by '{s}'")))?,
            ),
        };
        Ok(q)
    }

    /// The canonical URL parameters of this view.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut out =
            vec![("group".to_string(), self.group.as_ref().map(Dim::key).unwrap_or_else(|| "none".into()))];
        for f in &self.filters {
            for v in &f.values {
                out.push((f.dim.filter_param(), v.clone()));
            }
        }
        match &self.preset {
            Some(p) => out.push(("range".into(), p.clone())),
            None => {
                out.push(("from".into(), self.range.from.to_string()));
                out.push(("to".into(), self.range.to.to_string()));
            }
        }
        out.push(("gran".into(), self.granularity.as_str().into()));
        out.push(("metric".into(), self.metric.as_str().into()));
        let sort = match self.sort {
            SortKey::Group => "group",
            SortKey::Metric(m) => m.as_str(),
        };
        out.push(("sort".into(), sort.into()));
        out.push(("dir".into(), if self.descending { "desc" } else { "asc" }.into()));
        out
    }

    pub fn to_query_string(&self) -> String {
        encode_pairs(&self.to_pairs())
    }

    /// The values a filter keeps for `dim`, if it is filtered.
    pub fn filter_values(&self, dim: &Dim) -> Option<&[String]> {
        self.filters.iter().find(|f| &f.dim == dim).map(|f| f.values.as_slice())
    }

    /// This view with `dim` grouped (and one of its filters turned into a value), for drilling.
    pub fn drilled(&self, group_value: &str, next: Dim) -> SpendQuery {
        let mut q = self.clone();
        if let Some(g) = &self.group {
            q.filters.retain(|f| &f.dim != g);
            q.filters.push(Filter { dim: g.clone(), values: vec![group_value.to_string()] });
        }
        q.group = Some(next);
        q
    }

    /// Where each row comes from. Rollups hold one dimension at a time (plus the source), so
    /// they serve a view whose grouping and filters touch at most one rollup dimension.
    pub fn rollup_plan(&self) -> Option<RollupPlan> {
        if !self.excluded.is_empty() {
            return None;
        }
        let mut dim: Option<&Dim> = None;
        let touched = self.group.iter().chain(self.filters.iter().map(|f| &f.dim));
        for d in touched {
            if *d == Dim::Source {
                continue;
            }
            d.rollup_dim()?;
            match dim {
                Some(x) if x != d => return None,
                _ => dim = Some(d),
            }
        }
        Some(RollupPlan {
            dim: dim.and_then(Dim::rollup_dim).unwrap_or("total"),
            values: dim.and_then(|d| self.filter_values(d)).map(|v| v.iter().map(|s| stored(s)).collect()),
            sources: self.filter_values(&Dim::Source).map(|v| v.to_vec()),
        })
    }
}

/// How a view reads `usage_rollups`: one dimension, optionally some of its values and sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupPlan {
    pub dim: &'static str,
    pub values: Option<Vec<String>>,
    pub sources: Option<Vec<String>>,
}

/// The stored form of a shown value: [`NOT_SET`] is the empty string.
pub fn stored(v: &str) -> String {
    if v == NOT_SET {
        String::new()
    } else {
        v.to_string()
    }
}

/// The shown form of a stored value.
pub fn shown(v: &str) -> String {
    if v.is_empty() {
        NOT_SET.to_string()
    } else {
        v.to_string()
    }
}

/// `application/x-www-form-urlencoded`, the encoding browsers use for GET forms.
pub fn encode_pairs(pairs: &[(String, String)]) -> String {
    let mut s = String::new();
    for (k, v) in pairs {
        if !s.is_empty() {
            s.push('&');
        }
        s.push_str(&encode_query_value(k));
        s.push('=');
        s.push_str(&encode_query_value(v));
    }
    s
}

/// Decodes a query string (without the `?`); malformed escapes are kept literally.
pub fn decode_pairs(qs: &str) -> Vec<(String, String)> {
    qs.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(x) => {
                        out.push(x);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Sums of one group in one bucket, as a query returns them (buckets at hour or day grain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendRow {
    pub bucket: i64,
    /// The stored value ('' when not set).
    pub group: String,
    pub sums: Sums,
}

/// One group's line of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupTotal {
    /// Shown value ([`NOT_SET`] when missing).
    pub group: String,
    pub sums: Sums,
}

/// One drawn series: a group (or "Other") and its metric per bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    pub values: Vec<Sums>,
}

/// What the explorer shows for a query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendView {
    pub query: SpendQuery,
    pub buckets: Vec<i64>,
    /// Every group, in the query's sort order.
    pub table: Vec<GroupTotal>,
    pub total: Sums,
    /// The top [`CHART_SERIES`] groups by the metric and "Other".
    pub series: Vec<Series>,
    /// Whether rollups answered (else the raw events and lines were summed).
    pub from_rollups: bool,
}

impl SpendView {
    pub fn build(query: SpendQuery, rows: &[SpendRow], from_rollups: bool) -> SpendView {
        let buckets = query.granularity.buckets(query.range);
        let index: BTreeMap<i64, usize> = buckets.iter().enumerate().map(|(i, b)| (*b, i)).collect();
        let mut groups: BTreeMap<String, Vec<Sums>> = BTreeMap::new();
        for r in rows {
            let b = query.granularity.bucket(r.bucket);
            let Some(&i) = index.get(&b) else { continue };
            let cells = groups.entry(shown(&r.group)).or_insert_with(|| vec![Sums::default(); buckets.len()]);
            cells[i].add(&r.sums);
        }
        let mut total = Sums::default();
        let mut table: Vec<GroupTotal> = groups
            .iter()
            .map(|(g, cells)| {
                let mut s = Sums::default();
                cells.iter().for_each(|c| s.add(c));
                total.add(&s);
                GroupTotal { group: g.clone(), sums: s }
            })
            .collect();
        sort_table(&mut table, query.sort, query.descending);
        let mut by_metric = table.clone();
        sort_table(&mut by_metric, SortKey::Metric(query.metric), true);
        let mut series: Vec<Series> = by_metric
            .iter()
            .take(CHART_SERIES)
            .map(|g| Series { name: g.group.clone(), values: groups[&g.group].clone() })
            .collect();
        if by_metric.len() > CHART_SERIES {
            let mut other = vec![Sums::default(); buckets.len()];
            for g in &by_metric[CHART_SERIES..] {
                for (o, c) in other.iter_mut().zip(&groups[&g.group]) {
                    o.add(c);
                }
            }
            series.push(Series {
                name: format!("Other ({} groups)", by_metric.len() - CHART_SERIES),
                values: other,
            });
        }
        SpendView { query, buckets, table, total, series, from_rollups }
    }

    /// The table as CSV, exactly as shown: one line per group in table order, then the total.
    pub fn table_csv(&self) -> String {
        let group = self.query.group.as_ref().map(Dim::key).unwrap_or_else(|| "total".into());
        let mut out = csv_line(
            std::iter::once(group)
                .chain(["cost_nanos".into(), "share_pct".into()])
                .chain(TABLE_METRICS.iter().map(|m| csv_header(*m))),
        );
        let total_cost = self.total.cost_nanos;
        let line = |name: &str, s: &Sums| {
            csv_line(
                [name.to_string(), s.cost_nanos.to_string(), share_pct(s.cost_nanos, total_cost)]
                    .into_iter()
                    .chain(TABLE_METRICS.iter().map(|m| m.of(s).plain(*m))),
            )
        };
        for g in &self.table {
            out.push_str(&line(&g.group, &g.sums));
        }
        out.push_str(&line("Total", &self.total));
        out
    }

    /// The series as CSV, one line per bucket and group (long format, for BI tools).
    pub fn series_csv(&self) -> String {
        let m = self.query.metric;
        let mut out = csv_line(["bucket".to_string(), "group".into(), csv_header(m), "cost_nanos".into()]);
        for s in &self.series {
            for (b, v) in self.buckets.iter().zip(&s.values) {
                out.push_str(&csv_line([
                    self.query.granularity.label_of(*b),
                    s.name.clone(),
                    m.of(v).plain(m),
                    v.cost_nanos.to_string(),
                ]));
            }
        }
        out
    }
}

/// The dimensions a detail page exists for.
pub const SCOPE_DIMS: [Dim; 5] = [Dim::Team, Dim::Initiative, Dim::Feature, Dim::Model, Dim::Customer];

/// What a detail page shows; every view is an explorer view (and links to it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeView {
    pub dim: Dim,
    pub value: String,
    pub trend: SpendView,
    pub breakdowns: Vec<SpendView>,
    pub traces: Vec<super::traces::TraceSummary>,
}

fn csv_header(m: Metric) -> String {
    if m.is_money() {
        format!("{}_usd", m.as_str())
    } else {
        m.as_str().to_string()
    }
}

fn csv_line(fields: impl IntoIterator<Item = String>) -> String {
    let cells: Vec<String> = fields.into_iter().collect();
    csv_row(&cells.iter().map(String::as_str).collect::<Vec<_>>())
}

fn sort_table(t: &mut [GroupTotal], key: SortKey, descending: bool) {
    t.sort_by(|a, b| {
        let o = match key {
            SortKey::Group => a.group.cmp(&b.group),
            SortKey::Metric(m) => figure_key(m.of(&a.sums)).cmp(&figure_key(m.of(&b.sums))),
        };
        let o = if descending { o.reverse() } else { o };
        // ties in name order, so equal rows never swap between runs
        o.then_with(|| a.group.cmp(&b.group))
    });
}

fn figure_key(f: Figure) -> i64 {
    match f {
        Figure::Money(n) => n.0,
        Figure::Count(c) => c,
        Figure::None => i64::MIN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn pairs(qs: &str) -> Vec<(String, String)> {
        decode_pairs(qs)
    }

    fn sums(cost: i64, requests: i64, input: i64, output: i64) -> Sums {
        Sums {
            cost_nanos: cost,
            requests,
            input_tokens: input,
            output_tokens: output,
            events: 1,
            ..Sums::default()
        }
    }

    #[test]
    fn query_round_trips_through_the_url() {
        let today = day("2026-11-28");
        let qs = "group=model&team=search&team=support&tag.cost-center=cc+1&from=2026-09-01&to=2026-11-28&gran=week&metric=cost_per_request&sort=group&dir=asc";
        let q = SpendQuery::parse(&pairs(qs), today).unwrap();
        assert_eq!(q.group, Some(Dim::Model));
        assert_eq!(q.filter_values(&Dim::Team).unwrap(), ["search", "support"]);
        assert_eq!(q.filter_values(&Dim::Tag("cost-center".into())).unwrap(), ["cc 1"]);
        assert_eq!(q.range, DateRange { from: day("2026-09-01"), to: today });
        assert_eq!(q.granularity, Granularity::Week);
        assert_eq!(q.sort, SortKey::Group);
        assert!(!q.descending);
        let again = SpendQuery::parse(&decode_pairs(&q.to_query_string()), today).unwrap();
        assert_eq!(again, q);
    }

    #[test]
    fn presets_stay_relative_and_blank_form_values_are_ignored() {
        let q = SpendQuery::parse(&pairs("range=mtd&team=&group=team"), day("2026-11-28")).unwrap();
        assert_eq!(q.range, DateRange { from: day("2026-11-01"), to: day("2026-11-28") });
        assert!(q.filters.is_empty());
        assert!(q.to_query_string().contains("range=mtd"));
        let lm = SpendQuery::parse(&pairs("range=last_month"), day("2026-03-15")).unwrap();
        assert_eq!(lm.range, DateRange { from: day("2026-02-01"), to: day("2026-02-28") });
        let custom =
            SpendQuery::parse(&pairs("range=custom&from=2026-11-01&to=2026-11-02"), day("2026-11-28"));
        assert_eq!(custom.unwrap().preset, None);
    }

    #[test]
    fn form_tag_inputs_become_canonical_parameters() {
        let q =
            SpendQuery::parse(&pairs("group=tag&group_tag=project&tag_filter=env%3Dprod"), day("2026-11-28"))
                .unwrap();
        assert_eq!(q.group, Some(Dim::Tag("project".into())));
        assert_eq!(q.filter_values(&Dim::Tag("env".into())).unwrap(), ["prod"]);
        let qs = q.to_query_string();
        assert!(qs.contains("group=tag%3Aproject") && qs.contains("tag.env=prod"), "{qs}");
    }

    #[test]
    fn bad_parameters_are_named() {
        let today = day("2026-11-28");
        let err = |qs: &str| SpendQuery::parse(&pairs(qs), today).unwrap_err().to_string();
        assert!(err("group=colour").starts_with("group: unknown dimension 'colour'"));
        assert!(err("metric=vibes").starts_with("metric: unknown metric"));
        assert!(err("gran=minute").starts_with("gran: unknown granularity"));
        assert!(err("colour=red").starts_with("colour: unknown parameter"));
        assert!(err("source=cash").starts_with("source:"));
        assert!(err("range=fortnight").starts_with("range: unknown preset"));
        assert!(err("from=2026-13-01").starts_with("from:"));
        assert!(err("gran=hour&range=30d").starts_with("gran: hourly buckets cover at most 14 days"));
        assert!(err("group=tag%3Aa%22b").starts_with("group: a tag key"));
        assert!(err("group=tag").starts_with("group_tag:"));
        assert!(err("tag_filter=novalue").starts_with("tag_filter:"));
        assert!(err("sort=colour").starts_with("sort: cannot sort by 'colour'"));
    }

    #[test]
    fn rollups_serve_views_that_touch_one_dimension() {
        let today = day("2026-11-28");
        let plan = |qs: &str| SpendQuery::parse(&pairs(qs), today).unwrap().rollup_plan();
        let p = plan("group=team&team=a&team=(not set)&source=tokens").unwrap();
        assert_eq!(p.dim, "team");
        assert_eq!(p.values, Some(vec!["a".to_string(), String::new()]));
        assert_eq!(p.sources, Some(vec!["tokens".to_string()]));
        assert_eq!(plan("group=source").unwrap().dim, "total");
        assert_eq!(plan("group=none&model=gpt-4o").unwrap().dim, "model");
        assert_eq!(plan("group=model&team=a"), None);
        assert_eq!(plan("group=service_tier"), None);
        assert_eq!(plan("group=tag:x"), None);
    }

    #[test]
    fn buckets_follow_the_granularity() {
        let r = DateRange { from: day("2026-11-01"), to: day("2026-11-30") };
        assert_eq!(Granularity::Day.buckets(r).len(), 30);
        // 1 Nov 2026 is a Sunday: its week starts on Monday 26 Oct
        let weeks = Granularity::Week.buckets(r);
        assert_eq!(Granularity::Week.label_of(weeks[0]), "2026-10-26");
        assert_eq!(weeks.len(), 6);
        let months = Granularity::Month.buckets(DateRange { from: day("2026-10-15"), to: day("2026-11-02") });
        assert_eq!(
            months.iter().map(|b| Granularity::Month.label_of(*b)).collect::<Vec<_>>(),
            ["2026-10", "2026-11"]
        );
        let hours = Granularity::Hour.buckets(DateRange { from: day("2026-11-01"), to: day("2026-11-01") });
        assert_eq!(hours.len(), 24);
        assert_eq!(Granularity::Hour.label_of(hours[23]), "2026-11-01 23:00");
    }

    #[test]
    fn view_sums_rows_into_buckets_groups_and_total_exactly() {
        let today = day("2026-11-28");
        let q =
            SpendQuery::parse(&pairs("group=team&from=2026-11-02&to=2026-11-15&gran=week"), today).unwrap();
        let d = |s| day_seconds(day(s));
        let rows = vec![
            SpendRow { bucket: d("2026-11-02"), group: "a".into(), sums: sums(1_000_000_001, 2, 10, 5) },
            SpendRow { bucket: d("2026-11-08"), group: "a".into(), sums: sums(2, 1, 1, 1) },
            SpendRow { bucket: d("2026-11-09"), group: "".into(), sums: sums(7, 0, 0, 0) },
            // outside the range: ignored
            SpendRow { bucket: d("2026-11-20"), group: "a".into(), sums: sums(99, 1, 1, 1) },
        ];
        let v = SpendView::build(q, &rows, true);
        assert_eq!(v.buckets.len(), 2);
        assert_eq!(v.table[0].group, "a");
        assert_eq!(v.table[0].sums.cost_nanos, 1_000_000_003);
        assert_eq!(v.table[1].group, NOT_SET);
        assert_eq!(v.total.cost_nanos, 1_000_000_010);
        assert_eq!(v.series[0].values[0].cost_nanos, 1_000_000_003);
        assert_eq!(v.series[1].values[1].cost_nanos, 7);
        let csv = v.table_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "team,cost_nanos,share_pct,cost_usd,requests,input_tokens,output_tokens,cached_tokens,cost_per_request_usd,cost_per_1k_tokens_usd"
        );
        assert_eq!(lines[1], "a,1000000003,100.0,1.00,3,11,6,0,0.333333,58.823530");
        assert_eq!(lines[2], "(not set),7,0.0,0.00,0,0,0,0,,");
        assert_eq!(lines[3], "Total,1000000010,100.0,1.00,3,11,6,0,0.333333,58.823530");
    }

    #[test]
    fn chart_keeps_the_top_groups_and_sums_the_rest_into_other() {
        let q = SpendQuery::parse(&pairs("group=customer&range=7d"), day("2026-11-28")).unwrap();
        let rows: Vec<SpendRow> = (0..12)
            .map(|i| SpendRow {
                bucket: day_seconds(day("2026-11-27")),
                group: format!("c{i:02}"),
                sums: sums(i + 1, 1, 0, 0),
            })
            .collect();
        let v = SpendView::build(q, &rows, false);
        assert_eq!(v.table.len(), 12);
        assert_eq!(v.series.len(), CHART_SERIES + 1);
        assert_eq!(v.series[0].name, "c11");
        let other: i64 = v.series[CHART_SERIES].values.iter().map(|s| s.cost_nanos).sum();
        assert_eq!(other, 1 + 2 + 3 + 4);
        assert_eq!(v.series[CHART_SERIES].name, "Other (4 groups)");
    }

    #[test]
    fn ratios_round_half_away_from_zero_and_have_no_value_without_a_denominator() {
        assert_eq!(Metric::CostPerRequest.of(&sums(5, 2, 0, 0)), Figure::Money(Nanos(3)));
        assert_eq!(Metric::CostPerRequest.of(&sums(5, 0, 0, 0)), Figure::None);
        assert_eq!(Metric::CostPer1kTokens.of(&sums(1, 0, 1500, 500)), Figure::Money(Nanos(1)));
        assert_eq!(Figure::Money(Nanos(1_234_567)).display(Metric::CostPerRequest), "$0.001235");
        assert_eq!(Figure::Money(Nanos(1_234_567_890)).display(Metric::Cost), "$1.23");
    }

    #[test]
    fn encoding_round_trips() {
        let p = vec![("tag.a b".to_string(), "x&y=z%ü".to_string())];
        assert_eq!(decode_pairs(&encode_pairs(&p)), p);
    }
}
