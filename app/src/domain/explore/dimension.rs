//! What spend is grouped by and measured in: dimensions, time granularity, metrics.
use super::*;

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

    pub(super) fn fixed_key(&self) -> &'static str {
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

    /// The metric's name as a column of the CSV export and a key of the spend API's JSON: money
    /// carries its unit (`cost_usd`), so a figure in dollars is never read as nanos.
    pub fn column(self) -> &'static str {
        match self {
            Metric::Cost => "cost_usd",
            Metric::CostPerRequest => "cost_per_request_usd",
            Metric::CostPer1kTokens => "cost_per_1k_tokens_usd",
            m => m.as_str(),
        }
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
            Figure::Count(c) => crate::domain::money::group_thousands(c.max(0) as u64),
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
