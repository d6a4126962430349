//! Spend that does not arrive as token events: its sources, the records people send for GPU
//! usage, training runs and commitments, and how their money is spread over days so the daily
//! rollups of every source add up to the cent (to the nano-dollar, in fact).
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::limits;
use super::otlp::AttributeMapping;
use super::pricing::parse_scaled_rounded;
use super::Nanos;

/// Where a dollar of spend came from. Every view can show all of them or filter by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpendSource {
    /// Token events priced by the price book (or by the provider's stated cost).
    Tokens,
    /// Billing imports (FOCUS): cloud and provider invoices.
    Invoice,
    Gpu,
    Training,
    /// Provisioned throughput and other commitments, spread over their term.
    Commitment,
}

impl SpendSource {
    pub const ALL: [SpendSource; 5] = [
        SpendSource::Tokens,
        SpendSource::Invoice,
        SpendSource::Gpu,
        SpendSource::Training,
        SpendSource::Commitment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SpendSource::Tokens => "tokens",
            SpendSource::Invoice => "invoice",
            SpendSource::Gpu => "gpu",
            SpendSource::Training => "training",
            SpendSource::Commitment => "commitment",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SpendSource::Tokens => "Tokens",
            SpendSource::Invoice => "Invoices",
            SpendSource::Gpu => "GPU",
            SpendSource::Training => "Training",
            SpendSource::Commitment => "Commitments",
        }
    }

    pub fn parse(s: &str) -> Result<SpendSource, String> {
        SpendSource::ALL
            .into_iter()
            .find(|x| x.as_str() == s.trim())
            .ok_or_else(|| format!("source: '{s}' is not one of tokens, invoice, gpu, training, commitment"))
    }
}

/// How billing-import lines are attributed and which of them are already counted by token
/// events. Per organisation; changed on the settings page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerRules {
    /// Which tag keys (first present wins) give team, feature, initiative, customer, environment.
    pub mapping: AttributeMapping,
    /// Providers, publishers or services (FOCUS `ProviderName`, `PublisherName`, `ServiceName`;
    /// any case) whose spend Costroom already counts from token events: their invoice lines are
    /// kept for reconciliation but not added to spend a second time.
    pub covered_by_events: Vec<String>,
}

impl Default for LedgerRules {
    fn default() -> Self {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        LedgerRules {
            mapping: AttributeMapping {
                team: v(&["team", "Team", "costroom.team", "cost-center", "CostCenter"]),
                feature: v(&["feature", "Feature"]),
                initiative: v(&["initiative", "project", "Project"]),
                customer: v(&["customer", "Customer"]),
                environment: v(&["environment", "env", "Environment"]),
            },
            covered_by_events: Vec::new(),
        }
    }
}

impl LedgerRules {
    /// Whether a line of this provider / publisher / service counts in spend.
    pub fn counts(&self, names: &[Option<&str>]) -> bool {
        !names
            .iter()
            .flatten()
            .any(|n| self.covered_by_events.iter().any(|c| c.trim().eq_ignore_ascii_case(n.trim())))
    }

    /// The first tag among `keys` that the line carries.
    pub fn tag(tags: &[(String, String)], keys: &[String]) -> Option<String> {
        keys.iter().find_map(|n| tags.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()))
    }
}

/// A bad field of a record, named as the sender wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

fn err(field: &str, reason: impl Into<String>) -> FieldError {
    FieldError { field: field.into(), reason: reason.into() }
}

/// Reads a record's fields by name; empty text counts as absent.
pub trait Fields {
    fn get(&self, name: &str) -> Option<&str>;

    fn opt(&self, name: &str) -> Option<String> {
        self.get(name).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
    }

    fn req(&self, name: &str) -> Result<String, FieldError> {
        self.opt(name).ok_or_else(|| err(name, "is required"))
    }

    fn day(&self, name: &str) -> Result<NaiveDate, FieldError> {
        let v = self.req(name)?;
        let d = NaiveDate::parse_from_str(&v, "%Y-%m-%d")
            .map_err(|_| err(name, format!("'{}' is not a date (expected YYYY-MM-DD)", shown(&v))))?;
        in_years(name, d)?;
        Ok(d)
    }

    fn time(&self, name: &str) -> Result<DateTime<Utc>, FieldError> {
        let v = self.req(name)?;
        let t = DateTime::parse_from_rfc3339(&v)
            .map(|t| t.with_timezone(&Utc))
            .or_else(|_| {
                NaiveDate::parse_from_str(&v, "%Y-%m-%d").map(|d| d.and_time(Default::default()).and_utc())
            })
            .map_err(|_| {
                err(name, format!("'{}' is not an RFC 3339 time (2026-11-03T09:00:00Z) or a date", shown(&v)))
            })?;
        in_years(name, t.date_naive())?;
        Ok(t)
    }

    /// A non-negative decimal amount of US dollars (rounded to the nano-dollar), at most
    /// [`limits::MAX_LINE_COST`].
    fn usd(&self, name: &str) -> Result<Option<Nanos>, FieldError> {
        let Some(v) = self.opt(name) else { return Ok(None) };
        match Nanos::parse_usd(&v) {
            Ok(n) if n.0 >= 0 => limits::amount(name, n, limits::MAX_LINE_COST).map(Some).map_err(split),
            Ok(_) => Err(err(name, format!("'{}' is negative", shown(&v)))),
            Err(e) => Err(err(name, e)),
        }
    }

    /// A non-negative decimal number of hours, kept in thousandths, at most [`MAX_HOURS`].
    fn milli(&self, name: &str) -> Result<Option<i64>, FieldError> {
        let Some(v) = self.opt(name) else { return Ok(None) };
        match parse_scaled_rounded(&v, 3) {
            Some(n) if (0..=MAX_HOURS * 1000).contains(&n) => Ok(Some(n)),
            Some(n) if n > 0 => {
                Err(err(name, format!("'{}' is above the maximum of {MAX_HOURS} hours", shown(&v))))
            }
            _ => Err(err(name, format!("'{}' is not a non-negative number", shown(&v)))),
        }
    }

    /// A whole number in `0..=`[`MAX_COUNT`].
    fn count(&self, name: &str) -> Result<Option<i64>, FieldError> {
        let Some(v) = self.opt(name) else { return Ok(None) };
        match v.parse::<i64>() {
            Ok(n) if n >= 0 => limits::count(name, n, MAX_COUNT).map(Some).map_err(split),
            _ => Err(err(name, format!("'{}' is not a whole non-negative number", shown(&v)))),
        }
    }

    /// Every named text field within [`limits::MAX_TEXT_LEN`] bytes and free of control
    /// characters (notes may hold [`MAX_NOTE_LEN`] and line breaks).
    fn check_texts(&self, names: &[&str]) -> Result<(), FieldError> {
        for name in names {
            let Some(v) = self.get(name) else { continue };
            if *name == "note" {
                if v.len() > MAX_NOTE_LEN {
                    return Err(err(name, format!("longer than {MAX_NOTE_LEN} bytes")));
                }
                continue;
            }
            limits::text(name, v.trim(), limits::MAX_TEXT_LEN).map_err(split)?;
        }
        Ok(())
    }
}

/// GPU-hours in one record: a billion.
pub const MAX_HOURS: i64 = 1_000_000_000;
/// Units, tokens per minute and other counts of a record.
pub const MAX_COUNT: i64 = 1_000_000_000_000;
/// A commitment's free-text note.
pub const MAX_NOTE_LEN: usize = 2_000;

/// At most 40 characters of what was sent, for messages (a megabyte of text is not echoed).
fn shown(v: &str) -> String {
    if v.chars().count() > 40 {
        format!("{}…", v.chars().take(40).collect::<String>())
    } else {
        v.to_string()
    }
}

fn split(m: String) -> FieldError {
    match m.split_once(": ") {
        Some((f, r)) => err(f, r),
        None => err("record", m),
    }
}

fn in_years(name: &str, d: NaiveDate) -> Result<(), FieldError> {
    use chrono::Datelike;
    if (limits::MIN_YEAR..=limits::MAX_YEAR).contains(&d.year()) {
        Ok(())
    } else {
        Err(err(name, format!("{d} is outside the years {} to {}", limits::MIN_YEAR, limits::MAX_YEAR)))
    }
}

impl Fields for std::collections::HashMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl Fields for serde_json::Map<String, serde_json::Value> {
    fn get(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| v.as_str())
    }
}

/// A JSON object with numbers turned into their text, so one parser serves JSON, CSV and forms.
pub fn json_fields(v: &serde_json::Value) -> Result<std::collections::HashMap<String, String>, String> {
    let obj = v.as_object().ok_or("expected a JSON object")?;
    Ok(obj
        .iter()
        .filter_map(|(k, v)| {
            let s = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.clone(), s))
        })
        .collect())
}

/// GPU usage of one day for one cluster / pool / GPU type / attribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuUsage {
    pub day: NaiveDate,
    pub cluster: String,
    pub pool: String,
    pub gpu_type: String,
    pub team: String,
    pub initiative: String,
    /// Thousandths of a GPU-hour.
    pub allocated_mhours: i64,
    pub used_mhours: i64,
    /// The cost the source stated; otherwise the rate table prices the allocated hours.
    pub cost: Option<Nanos>,
}

pub const GPU_FIELDS: [&str; 9] = [
    "day",
    "cluster",
    "pool",
    "gpu_type",
    "team",
    "initiative",
    "allocated_gpu_hours",
    "used_gpu_hours",
    "cost_usd",
];

impl GpuUsage {
    pub fn parse(f: &impl Fields) -> Result<GpuUsage, FieldError> {
        f.check_texts(&GPU_FIELDS)?;
        let allocated =
            f.milli("allocated_gpu_hours")?.ok_or_else(|| err("allocated_gpu_hours", "is required"))?;
        let used = f.milli("used_gpu_hours")?.unwrap_or(0);
        if used > allocated {
            return Err(err(
                "used_gpu_hours",
                format!("{} is more than the {} allocated", milli_text(used), milli_text(allocated)),
            ));
        }
        Ok(GpuUsage {
            day: f.day("day")?,
            cluster: f.req("cluster")?,
            pool: f.opt("pool").unwrap_or_default(),
            gpu_type: f.req("gpu_type")?,
            team: f.opt("team").unwrap_or_default(),
            initiative: f.opt("initiative").unwrap_or_default(),
            allocated_mhours: allocated,
            used_mhours: used,
            cost: f.usd("cost_usd")?,
        })
    }
}

/// Thousandths as a decimal text: 1500 → "1.5".
pub fn milli_text(m: i64) -> String {
    let s = format!("{}.{:03}", m / 1000, (m % 1000).abs());
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `hours` (thousandths) at `nanos_per_hour`, rounded half up to the nano-dollar; `None` when
/// that is more than one line may cost ([`limits::MAX_LINE_COST`]).
pub fn hours_cost(mhours: i64, nanos_per_hour: i64) -> Option<Nanos> {
    let v = (i128::from(mhours) * i128::from(nanos_per_hour) + 500) / 1000;
    i64::try_from(v).ok().map(Nanos).filter(|c| *c <= limits::MAX_LINE_COST)
}

/// Cost of allocated hours that were not used: cost × (allocated − used) ÷ allocated.
pub fn idle_cost(cost: Nanos, allocated_mhours: i64, used_mhours: i64) -> Nanos {
    if allocated_mhours <= 0 {
        return Nanos(0);
    }
    let idle = i128::from(allocated_mhours - used_mhours);
    Nanos(
        ((i128::from(cost.0) * idle + i128::from(allocated_mhours) / 2) / i128::from(allocated_mhours))
            as i64,
    )
}

/// Used ÷ allocated, in percent (None without allocation).
pub fn utilization_pct(allocated_mhours: i64, used_mhours: i64) -> Option<f64> {
    (allocated_mhours > 0).then(|| used_mhours as f64 * 100.0 / allocated_mhours as f64)
}

/// One training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRun {
    pub run_id: String,
    pub initiative: Option<String>,
    pub team: Option<String>,
    pub model: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub gpu_type: Option<String>,
    pub gpu_mhours: Option<i64>,
    /// The stated cost; without one, GPU-hours × the GPU type's rate.
    pub cost: Option<Nanos>,
    pub metric_name: Option<String>,
    pub metric_score: Option<f64>,
    pub higher_is_better: bool,
}

pub const TRAINING_FIELDS: [&str; 12] = [
    "run_id",
    "initiative",
    "team",
    "model",
    "started_at",
    "ended_at",
    "gpu_type",
    "gpu_hours",
    "cost_usd",
    "metric_name",
    "metric_score",
    "higher_is_better",
];

impl TrainingRun {
    pub fn parse(f: &impl Fields) -> Result<TrainingRun, FieldError> {
        f.check_texts(&TRAINING_FIELDS)?;
        let started_at = f.time("started_at")?;
        let ended_at = f.time("ended_at")?;
        if ended_at < started_at {
            return Err(err("ended_at", "is before started_at"));
        }
        if (ended_at - started_at).num_seconds() > limits::MAX_TRAINING_DAYS * 86_400 {
            return Err(err(
                "ended_at",
                format!("a run lasts at most {} days; split longer ones", limits::MAX_TRAINING_DAYS),
            ));
        }
        let cost = f.usd("cost_usd")?;
        let gpu_mhours = f.milli("gpu_hours")?;
        let gpu_type = f.opt("gpu_type");
        if cost.is_none() && (gpu_mhours.is_none() || gpu_type.is_none()) {
            return Err(err(
                "cost_usd",
                "is required unless gpu_hours and gpu_type are given (priced by the GPU rate)",
            ));
        }
        let metric_score = match f.opt("metric_score") {
            None => None,
            Some(v) => Some(
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| err("metric_score", format!("'{v}' is not a number")))?,
            ),
        };
        let metric_name = f.opt("metric_name");
        if metric_score.is_some() && metric_name.is_none() {
            return Err(err("metric_name", "is required with metric_score"));
        }
        let higher_is_better = match f.opt("higher_is_better").as_deref() {
            None | Some("true") | Some("yes") | Some("1") => true,
            Some("false") | Some("no") | Some("0") => false,
            Some(v) => return Err(err("higher_is_better", format!("'{v}' is not true or false"))),
        };
        Ok(TrainingRun {
            run_id: f.req("run_id")?,
            initiative: f.opt("initiative"),
            team: f.opt("team"),
            model: f.req("model")?,
            started_at,
            ended_at,
            gpu_type,
            gpu_mhours,
            cost,
            metric_name,
            metric_score,
            higher_is_better,
        })
    }
}

/// Training cost efficiency: cost per point of the quality score (None without a positive
/// score), rounded half away from zero to the nano-dollar. Lower is better when a higher
/// score is better.
pub fn cost_per_score_point(cost: Nanos, score: Option<f64>) -> Option<Nanos> {
    score.filter(|s| *s > 0.0).map(|s| Nanos((cost.0 as f64 / s).round() as i64))
}

/// A provisioned-throughput (or other capacity) purchase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    pub provider: String,
    pub model: String,
    pub deployment: String,
    pub units: i64,
    pub tokens_per_minute: Option<i64>,
    /// First and last day of the term, both included.
    pub term_start: NaiveDate,
    pub term_end: NaiveDate,
    /// The price of the whole term.
    pub price: Nanos,
    pub team: Option<String>,
    pub initiative: Option<String>,
    pub note: Option<String>,
}

pub const COMMITMENT_FIELDS: [&str; 11] = [
    "provider",
    "model",
    "deployment",
    "units",
    "tokens_per_minute",
    "term_start",
    "term_end",
    "price_usd",
    "team",
    "initiative",
    "note",
];

impl Commitment {
    pub fn parse(f: &impl Fields) -> Result<Commitment, FieldError> {
        f.check_texts(&COMMITMENT_FIELDS)?;
        let term_start = f.day("term_start")?;
        let term_end = f.day("term_end")?;
        if term_end < term_start {
            return Err(err("term_end", "is before term_start"));
        }
        if (term_end - term_start).num_days() + 1 > limits::MAX_COMMITMENT_DAYS {
            return Err(err(
                "term_end",
                format!(
                    "a term lasts at most {} days (five years); record longer ones as several",
                    limits::MAX_COMMITMENT_DAYS
                ),
            ));
        }
        let units = f.count("units")?.ok_or_else(|| err("units", "is required"))?;
        if units == 0 {
            return Err(err("units", "must be at least 1"));
        }
        Ok(Commitment {
            provider: f.req("provider")?,
            model: f.req("model")?,
            deployment: f.opt("deployment").unwrap_or_default(),
            units,
            tokens_per_minute: f.count("tokens_per_minute")?,
            term_start,
            term_end,
            price: f.usd("price_usd")?.ok_or_else(|| err("price_usd", "is required"))?,
            team: f.opt("team"),
            initiative: f.opt("initiative"),
            note: f.opt("note"),
        })
    }

    pub fn days(&self) -> i64 {
        (self.term_end - self.term_start).num_days() + 1
    }
}

/// Splits `total` into integer parts proportional to `weights`, exactly: the parts add up to
/// `total`, and the units left after flooring go to the largest remainders (earliest first on
/// ties), so no part is off by more than one nano-dollar from its exact share.
pub fn split_exact(total: Nanos, weights: &[i64]) -> Vec<Nanos> {
    let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if sum <= 0 {
        return weights.iter().map(|_| Nanos(0)).collect();
    }
    let t = i128::from(total.0);
    let mut parts: Vec<i128> = Vec::with_capacity(weights.len());
    let mut rems: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let exact = t * i128::from(*w);
        parts.push(exact.div_euclid(sum));
        rems.push((exact.rem_euclid(sum), i));
    }
    let left = t - parts.iter().sum::<i128>();
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in rems.into_iter().take(left as usize) {
        parts[i] += 1;
    }
    parts.into_iter().map(|p| Nanos(p as i64)).collect()
}

/// `total` spread over the days of [first, last] in equal shares (a commitment's term).
pub fn spread_days(total: Nanos, first: NaiveDate, last: NaiveDate) -> Vec<(NaiveDate, Nanos)> {
    let days: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= last).collect();
    let parts = split_exact(total, &vec![1; days.len()]);
    days.into_iter().zip(parts).collect()
}

/// `total` spread over the UTC days [start, end) touches, in proportion to the seconds in
/// each (a training run). A run of no duration counts on its start day.
pub fn spread_time(total: Nanos, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<(NaiveDate, Nanos)> {
    if end <= start {
        return vec![(start.date_naive(), total)];
    }
    let mut days = Vec::new();
    let mut weights = Vec::new();
    let mut day = start.date_naive();
    while day.and_time(Default::default()).and_utc() < end {
        let from = day.and_time(Default::default()).and_utc().max(start);
        let next = day.checked_add_days(Days::new(1)).expect("date in range");
        let to = next.and_time(Default::default()).and_utc().min(end);
        days.push(day);
        weights.push((to - from).num_seconds());
        day = next;
    }
    days.into_iter().zip(split_exact(total, &weights)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::collections::HashMap;

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn split_is_exact_and_fair() {
        let parts = split_exact(Nanos(10), &[1, 1, 1]);
        assert_eq!(parts, vec![Nanos(4), Nanos(3), Nanos(3)]);
        let parts = split_exact(Nanos(1_000_000_007), &[3, 0, 7]);
        assert_eq!(parts.iter().copied().sum::<Nanos>(), Nanos(1_000_000_007));
        assert_eq!(parts[1], Nanos(0));
        assert_eq!(parts[0], Nanos(300_000_002));
        assert_eq!(split_exact(Nanos(5), &[0, 0]), vec![Nanos(0), Nanos(0)]);
        // negative totals (credits) split too
        assert_eq!(split_exact(Nanos(-10), &[1, 1, 1]).iter().copied().sum::<Nanos>(), Nanos(-10));
    }

    #[test]
    fn commitment_term_spreads_to_the_nano_dollar() {
        // a year of provisioned throughput at $100,000.00: 365 days
        let parts = spread_days(Nanos(100_000_000_000_000), d("2026-01-01"), d("2026-12-31"));
        assert_eq!(parts.len(), 365);
        assert_eq!(parts.iter().map(|p| p.1).sum::<Nanos>(), Nanos(100_000_000_000_000));
        let max = parts.iter().map(|p| p.1 .0).max().unwrap();
        let min = parts.iter().map(|p| p.1 .0).min().unwrap();
        assert!(max - min <= 1, "{min}..{max}");
        assert_eq!(parts[0], (d("2026-01-01"), Nanos(273_972_602_740)));
    }

    #[test]
    fn training_run_spreads_by_seconds_per_day() {
        let s = Utc.with_ymd_and_hms(2026, 11, 1, 18, 0, 0).unwrap();
        let e = Utc.with_ymd_and_hms(2026, 11, 3, 6, 0, 0).unwrap();
        // 6 h, 24 h, 6 h of 36 h
        let parts = spread_time(Nanos(3_600_000_000_000), s, e);
        assert_eq!(
            parts,
            vec![
                (d("2026-11-01"), Nanos(600_000_000_000)),
                (d("2026-11-02"), Nanos(2_400_000_000_000)),
                (d("2026-11-03"), Nanos(600_000_000_000)),
            ]
        );
        // ending at midnight touches no extra day
        let e = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap();
        assert_eq!(spread_time(Nanos(7), s, e), vec![(d("2026-11-01"), Nanos(7))]);
        assert_eq!(spread_time(Nanos(7), s, s), vec![(d("2026-11-01"), Nanos(7))]);
    }

    #[test]
    fn gpu_usage_parses_and_names_bad_fields() {
        let ok = GpuUsage::parse(&fields(&[
            ("day", "2026-11-02"),
            ("cluster", "train-east"),
            ("gpu_type", "H100"),
            ("allocated_gpu_hours", "192"),
            ("used_gpu_hours", "153.6"),
            ("team", "research"),
        ]))
        .unwrap();
        assert_eq!((ok.allocated_mhours, ok.used_mhours, ok.cost), (192_000, 153_600, None));
        assert_eq!(utilization_pct(ok.allocated_mhours, ok.used_mhours), Some(80.0));
        let e = GpuUsage::parse(&fields(&[
            ("day", "2026-11-02"),
            ("cluster", "c"),
            ("gpu_type", "H100"),
            ("allocated_gpu_hours", "10"),
            ("used_gpu_hours", "11"),
        ]))
        .unwrap_err();
        assert_eq!(e.field, "used_gpu_hours");
        assert!(e.reason.contains("more than the 10 allocated"), "{e}");
        let e = GpuUsage::parse(&fields(&[("day", "02/11/2026")])).unwrap_err();
        assert_eq!(e.field, "allocated_gpu_hours");
        let e = GpuUsage::parse(&fields(&[("day", "02/11/2026"), ("allocated_gpu_hours", "1")])).unwrap_err();
        assert_eq!(e.field, "day");
        let e = GpuUsage::parse(&fields(&[
            ("day", "2026-11-02"),
            ("cluster", "c"),
            ("gpu_type", "H100"),
            ("allocated_gpu_hours", "1"),
            ("cost_usd", "-3"),
        ]))
        .unwrap_err();
        assert_eq!((e.field.as_str(), e.reason.as_str()), ("cost_usd", "'-3' is negative"));
    }

    #[test]
    fn gpu_cost_idle_cost_and_utilization() {
        // 153.6 of 192 H100-hours at $2.49/h
        let cost = hours_cost(192_000, 2_490_000_000).unwrap();
        assert_eq!(cost, Nanos(478_080_000_000));
        assert_eq!(idle_cost(cost, 192_000, 153_600), Nanos(95_616_000_000));
        assert_eq!(idle_cost(cost, 0, 0), Nanos(0));
        assert_eq!(utilization_pct(0, 0), None);
        assert_eq!(hours_cost(1, 1), Some(Nanos(0)));
        assert_eq!(hours_cost(1, 500), Some(Nanos(1)));
        // a billion hours at $1B an hour is no line's cost
        assert_eq!(hours_cost(MAX_HOURS * 1000, limits::MAX_LINE_COST.0), None);
        assert_eq!(milli_text(153_600), "153.6");
        assert_eq!(milli_text(2_000), "2");
    }

    #[test]
    fn training_run_needs_a_cost_or_gpu_hours_and_a_rate() {
        let base = [
            ("run_id", "r1"),
            ("model", "llama-ft"),
            ("started_at", "2026-11-01T18:00:00Z"),
            ("ended_at", "2026-11-03T06:00:00Z"),
        ];
        let e = TrainingRun::parse(&fields(&base)).unwrap_err();
        assert_eq!(e.field, "cost_usd");
        let mut f = fields(&base);
        f.insert("gpu_hours".into(), "288".into());
        f.insert("gpu_type".into(), "H100".into());
        f.insert("metric_name".into(), "eval accuracy".into());
        f.insert("metric_score".into(), "0.82".into());
        let r = TrainingRun::parse(&f).unwrap();
        assert_eq!((r.gpu_mhours, r.cost, r.higher_is_better), (Some(288_000), None, true));
        f.insert("ended_at".into(), "2026-10-01T00:00:00Z".into());
        assert_eq!(TrainingRun::parse(&f).unwrap_err().field, "ended_at");
        let mut f = fields(&base);
        f.insert("cost_usd".into(), "1000".into());
        f.insert("metric_score".into(), "0.8".into());
        assert_eq!(TrainingRun::parse(&f).unwrap_err().field, "metric_name");
        assert_eq!(cost_per_score_point(Nanos(1_000_000_000_000), Some(0.8)), Some(Nanos(1_250_000_000_000)));
        assert_eq!(cost_per_score_point(Nanos(1_200_500_000_000), Some(0.8)).unwrap().usd(), "$1,500.63");
        assert_eq!(cost_per_score_point(Nanos(1), Some(0.0)), None);
    }

    #[test]
    fn commitment_parses_and_checks_its_term() {
        let f = fields(&[
            ("provider", "azure"),
            ("model", "gpt-4o"),
            ("units", "50"),
            ("tokens_per_minute", "125000"),
            ("term_start", "2026-11-01"),
            ("term_end", "2026-11-30"),
            ("price_usd", "26000"),
        ]);
        let c = Commitment::parse(&f).unwrap();
        assert_eq!((c.days(), c.price), (30, Nanos(26_000_000_000_000)));
        let mut bad = f.clone();
        bad.insert("term_end".into(), "2026-10-31".into());
        assert_eq!(Commitment::parse(&bad).unwrap_err().field, "term_end");
        let mut bad = f.clone();
        bad.insert("units".into(), "0".into());
        assert_eq!(Commitment::parse(&bad).unwrap_err().field, "units");
        let mut bad = f;
        bad.remove("price_usd");
        assert_eq!(Commitment::parse(&bad).unwrap_err().field, "price_usd");
    }

    #[test]
    fn covered_services_are_not_counted_twice() {
        let rules = LedgerRules { covered_by_events: vec!["Azure OpenAI ".into()], ..Default::default() };
        assert!(!rules.counts(&[Some("Microsoft"), None, Some("azure openai")]));
        assert!(rules.counts(&[Some("Microsoft"), Some("Microsoft"), Some("Virtual Machines")]));
        assert!(LedgerRules::default().counts(&[Some("OpenAI")]));
        let tags = vec![("cost-center".to_string(), "research".to_string())];
        assert_eq!(LedgerRules::tag(&tags, &LedgerRules::default().mapping.team), Some("research".into()));
    }

    #[test]
    fn sources_round_trip() {
        for s in SpendSource::ALL {
            assert_eq!(SpendSource::parse(s.as_str()), Ok(s));
        }
        assert!(SpendSource::parse("cloud").unwrap_err().contains("tokens, invoice"));
    }
}

/// A source that used to bring spend but has brought none for longer than it normally lags:
/// its recent days read low until its next import arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleSource {
    pub source: SpendSource,
    /// The last day it has spend for.
    pub last_day: chrono::NaiveDate,
    /// Whole days between that day and today.
    pub days_behind: i64,
}

impl SpendSource {
    /// Days a source may lag today before its silence is worth a banner: token events arrive
    /// as calls happen, provider invoices and GPU bills a day or two late. Training runs and
    /// commitments come when they happen, so a gap in them says nothing.
    pub fn normal_lag_days(self) -> Option<i64> {
        match self {
            SpendSource::Tokens => Some(1),
            SpendSource::Invoice | SpendSource::Gpu => Some(3),
            SpendSource::Training | SpendSource::Commitment => None,
        }
    }
}

/// Sources whose newest day of spend is further behind `today` than they normally lag, in
/// source order. `last_days` holds each source's newest day (sources never seen are absent).
pub fn stale_sources(
    last_days: &[(SpendSource, chrono::NaiveDate)],
    today: chrono::NaiveDate,
) -> Vec<StaleSource> {
    let mut out: Vec<StaleSource> = last_days
        .iter()
        .filter_map(|&(source, last_day)| {
            let lag = source.normal_lag_days()?;
            let days_behind = (today - last_day).num_days();
            (days_behind > lag).then_some(StaleSource { source, last_day, days_behind })
        })
        .collect();
    out.sort_by_key(|s| SpendSource::ALL.iter().position(|x| *x == s.source));
    out
}

#[cfg(test)]
mod stale_tests {
    use super::*;
    use chrono::NaiveDate;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    #[test]
    fn a_source_is_stale_only_past_its_normal_lag() {
        let today = d(20);
        let last = [
            (SpendSource::Invoice, d(17)),   // 3 days: billing lag, fine
            (SpendSource::Tokens, d(18)),    // 2 days without a call: stale
            (SpendSource::Gpu, d(16)),       // 4 days: stale
            (SpendSource::Training, d(1)),   // runs come when they come
            (SpendSource::Commitment, d(1)), // spread over its term
        ];
        let stale = stale_sources(&last, today);
        assert_eq!(
            stale,
            vec![
                StaleSource { source: SpendSource::Tokens, last_day: d(18), days_behind: 2 },
                StaleSource { source: SpendSource::Gpu, last_day: d(16), days_behind: 4 },
            ]
        );
        assert!(stale_sources(&[(SpendSource::Tokens, d(19))], today).is_empty(), "yesterday is current");
        assert!(stale_sources(&[(SpendSource::Tokens, d(20))], today).is_empty());
    }
}
