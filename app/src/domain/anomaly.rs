//! Cost anomalies: a detector for hourly and daily spend series, the records people work in
//! (open → acknowledged → resolved, or false positive) and the figures that say how well
//! detection works: detection rate and mean time to detect.
//!
//! The detector compares each bucket with a seasonal baseline: the median of the same phase
//! (hour of day, day of week) over the previous few seasons, which follows weekly and daily
//! patterns and, being a median, ignores one earlier spike. The band is that median plus `z`
//! robust standard deviations (1.4826 × the median absolute deviation of the same values),
//! never narrower than a share of the baseline, so a flat history does not make every wiggle
//! an anomaly. A bucket is anomalous only when it is above the band *and* its excess clears
//! both minimum-impact filters (absolute dollars, percentage of the baseline). Costs stay
//! integer nanos; only the band's width is a statistic.
use serde::{Deserialize, Serialize};

use super::Nanos;
use crate::error::AppError;

/// How the detector reads one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorConfig {
    /// Buckets per season: 24 for hourly series (daily pattern), 7 for daily (weekly), 1 for
    /// none (the baseline is then the last `seasons` buckets).
    pub season: usize,
    /// How many past seasons the baseline reads.
    pub seasons: usize,
    /// At least this many past values before a bucket is judged.
    pub min_history: usize,
    /// Width of the band in robust standard deviations.
    pub z: f64,
    /// The band is never narrower than this share of the baseline (percent).
    pub floor_pct: i64,
    /// Minimum impact: the excess must reach this many dollars…
    pub min_excess: Nanos,
    /// …and this percentage of the baseline.
    pub min_excess_pct: i64,
}

impl DetectorConfig {
    /// Hourly series: hour of day over the last 7 days.
    pub fn hourly(min_excess: Nanos) -> Self {
        DetectorConfig {
            season: 24,
            seasons: 7,
            min_history: 4,
            z: 4.0,
            floor_pct: 20,
            min_excess,
            min_excess_pct: 50,
        }
    }

    /// Daily series: day of week over the last 4 weeks.
    pub fn daily(min_excess: Nanos) -> Self {
        DetectorConfig {
            season: 7,
            seasons: 4,
            min_history: 3,
            z: 4.0,
            floor_pct: 15,
            min_excess,
            min_excess_pct: 30,
        }
    }
}

/// What the detector made of one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub actual: Nanos,
    pub expected: Nanos,
    pub upper: Nanos,
    pub anomalous: bool,
}

fn median(v: &mut [i64]) -> i64 {
    v.sort_unstable();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        // the mean of the middle two, rounded down: exact in integers
        ((v[n / 2 - 1] as i128 + v[n / 2] as i128) / 2) as i64
    }
}

/// The band of bucket `t` from the buckets before it, none before `first` (`None` without
/// enough history).
pub fn band_at(series: &[Nanos], t: usize, first: usize, cfg: &DetectorConfig) -> Option<Band> {
    let mut past: Vec<i64> = if cfg.season <= 1 {
        series[t.saturating_sub(cfg.seasons).max(first).min(t)..t].iter().map(|c| c.0).collect()
    } else {
        (1..=cfg.seasons)
            .filter_map(|k| t.checked_sub(k * cfg.season))
            .filter(|i| *i >= first)
            .map(|i| series[i].0)
            .collect()
    };
    if past.len() < cfg.min_history.max(1) {
        return None;
    }
    let expected = median(&mut past);
    let mut dev: Vec<i64> = past.iter().map(|v| (v - expected).abs()).collect();
    let sigma = 1.4826 * median(&mut dev) as f64;
    let floor = expected.max(0) as f64 * cfg.floor_pct as f64 / 100.0;
    let width = (cfg.z * sigma).max(floor);
    let upper = Nanos(expected.saturating_add(width.round() as i64));
    let actual = series[t];
    let excess = actual.0 - expected;
    let anomalous = actual > upper
        && excess >= cfg.min_excess.0
        && excess as i128 * 100 >= cfg.min_excess_pct as i128 * expected.max(0) as i128;
    Some(Band { actual, expected: Nanos(expected), upper, anomalous })
}

/// Bands for every bucket (`None` where there is not enough history yet).
pub fn bands(series: &[Nanos], cfg: &DetectorConfig) -> Vec<Option<Band>> {
    bands_since(series, 0, cfg)
}

/// Bands where history starts at bucket `first`: the buckets before the organisation had any
/// data are not a history of zeros (everything would look like a spike after them), while a
/// series that starts later than the organisation's data does have a history of zeros.
pub fn bands_since(series: &[Nanos], first: usize, cfg: &DetectorConfig) -> Vec<Option<Band>> {
    (0..series.len()).map(|t| band_at(series, t, first, cfg)).collect()
}

/// A run of consecutive anomalous buckets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Episode {
    /// Index of the first and last anomalous bucket.
    pub first: usize,
    pub last: usize,
    pub expected: Nanos,
    pub actual: Nanos,
    /// Σ (actual − expected) over its buckets.
    pub excess: Nanos,
}

/// The runs of anomalous buckets, oldest first.
pub fn episodes(bands: &[Option<Band>]) -> Vec<Episode> {
    let mut out: Vec<Episode> = Vec::new();
    for (i, b) in bands.iter().enumerate() {
        let Some(b) = b.filter(|b| b.anomalous) else { continue };
        match out.last_mut() {
            Some(e) if e.last + 1 == i => {
                e.last = i;
                e.expected += b.expected;
                e.actual += b.actual;
                e.excess += b.actual - b.expected;
            }
            _ => out.push(Episode {
                first: i,
                last: i,
                expected: b.expected,
                actual: b.actual,
                excess: b.actual - b.expected,
            }),
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Result<Severity, AppError> {
        Severity::ALL.into_iter().find(|x| x.as_str() == s.trim()).ok_or_else(|| {
            AppError::invalid(format!("severity: '{}' is not one of low, medium, high, critical", s.trim()))
        })
    }

    /// From the excess cost, in multiples of the minimum impact: under 5× low, under 25×
    /// medium, under 100× high, else critical.
    pub fn of(excess: Nanos, min_excess: Nanos) -> Severity {
        let unit = min_excess.0.max(1) as i128;
        match excess.0 as i128 {
            x if x < 5 * unit => Severity::Low,
            x if x < 25 * unit => Severity::Medium,
            x if x < 100 * unit => Severity::High,
            _ => Severity::Critical,
        }
    }
}

/// Where an anomaly record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Open,
    Acknowledged,
    Resolved,
    FalsePositive,
}

impl Status {
    pub const ALL: [Status; 4] =
        [Status::Open, Status::Acknowledged, Status::Resolved, Status::FalsePositive];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
            Status::FalsePositive => "false_positive",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::FalsePositive => "false positive",
            s => s.as_str(),
        }
    }

    pub fn parse(s: &str) -> Result<Status, AppError> {
        Status::ALL.into_iter().find(|x| x.as_str() == s.trim()).ok_or_else(|| {
            AppError::invalid(format!(
                "status: '{}' is not one of open, acknowledged, resolved, false_positive",
                s.trim()
            ))
        })
    }

    /// Whether a person may move a record from `self` to `to`: forward through the
    /// lifecycle, or reopened; never to the same state.
    pub fn may_become(self, to: Status) -> bool {
        use Status::*;
        matches!(
            (self, to),
            (Open, Acknowledged)
                | (Open, Resolved)
                | (Open, FalsePositive)
                | (Acknowledged, Resolved)
                | (Acknowledged, FalsePositive)
                | (Resolved, Open)
                | (FalsePositive, Open)
        )
    }
}

/// What drove an anomaly: one value of a dimension, its cost during the anomalous buckets
/// and as usual (the same buckets' average over the previous seasons).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contributor {
    pub dim: String,
    pub value: String,
    pub during: Nanos,
    pub usual: Nanos,
}

impl Contributor {
    pub fn increase(&self) -> Nanos {
        self.during - self.usual
    }
}

/// The values whose cost rose most, per dimension (`during`, `usual` per value), best first,
/// at most `per_dim` each; only values that rose.
pub fn top_contributors(dim: &str, values: &[(String, Nanos, Nanos)], per_dim: usize) -> Vec<Contributor> {
    let mut out: Vec<Contributor> = values
        .iter()
        .map(|(v, during, usual)| Contributor {
            dim: dim.into(),
            value: v.clone(),
            during: *during,
            usual: *usual,
        })
        .filter(|c| c.increase().0 > 0)
        .collect();
    out.sort_by(|a, b| b.increase().cmp(&a.increase()).then(a.value.cmp(&b.value)));
    out.truncate(per_dim);
    out
}

/// Dimensions in the order a tie is broken: the most actionable driver first (a model or a
/// feature can be changed; a key or a team only says who).
pub const CONTRIBUTOR_DIMS: [&str; 5] = ["model", "feature", "api_key", "team", "initiative"];

/// The anomaly's contributors across dimensions, best first, at most `n`: ranked by increase
/// (the excess each explains), ties by [`CONTRIBUTOR_DIMS`]. A missing-value bucket
/// ("(not set)") is dropped whenever a named value rose: that every call lacks an API key says
/// nothing about what drove the spend.
pub fn rank_contributors(mut all: Vec<Contributor>, n: usize) -> Vec<Contributor> {
    let not_set = |c: &Contributor| c.value == crate::domain::explore::NOT_SET;
    if all.iter().any(|c| !not_set(c)) {
        all.retain(|c| !not_set(c));
    }
    let order = |d: &str| CONTRIBUTOR_DIMS.iter().position(|x| *x == d).unwrap_or(CONTRIBUTOR_DIMS.len());
    all.sort_by(|a, b| {
        b.increase().cmp(&a.increase()).then(order(&a.dim).cmp(&order(&b.dim))).then(a.value.cmp(&b.value))
    });
    all.truncate(n);
    all
}

/// One anomaly, detected or reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    pub id: i64,
    /// `total`, or a dimension key (`team`, `feature`, …).
    pub scope_dim: String,
    pub scope_value: String,
    /// `hour` or `day`: the series it was found on (`report` when a person reported it).
    pub grain: String,
    /// Unix seconds: start of the first anomalous bucket, and end of the last.
    pub started_at: i64,
    pub ended_at: i64,
    /// Unix seconds when the detector first flagged it; `None` for a reported one.
    pub detected_at: Option<i64>,
    pub expected: Nanos,
    pub actual: Nanos,
    pub excess: Nanos,
    pub severity: Severity,
    pub contributors: Vec<Contributor>,
    /// Other scopes whose series showed the same anomaly ("team search", "model x").
    pub also_in: Vec<String>,
    pub status: Status,
    pub assignee: String,
    pub reported_by: Option<String>,
    pub note: String,
}

impl Anomaly {
    pub fn scope_label(&self) -> String {
        if self.scope_dim == "total" {
            "organisation".into()
        } else {
            format!("{} {}", self.scope_dim.replace('_', " "), self.scope_value)
        }
    }

    /// Detection time − start, in seconds.
    pub fn time_to_detect(&self) -> Option<i64> {
        self.detected_at.map(|d| (d - self.started_at).max(0))
    }
}

/// One step of an anomaly's lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub note: String,
}

/// Detection rate and mean time to detect over the anomalies that started in a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionFigures {
    pub detected: i64,
    pub reported: i64,
    pub false_positives: i64,
    /// detected ÷ (detected + reported), in percent; `None` without anomalies.
    pub rate_pct: Option<f64>,
    /// Mean of detection time − start over detected anomalies, in seconds.
    pub mttd_secs: Option<i64>,
}

/// Figures over `anomalies` (the caller picks those that started in the period). False
/// positives are not anomalies: they count in neither figure.
pub fn figures(anomalies: &[Anomaly]) -> DetectionFigures {
    let real: Vec<&Anomaly> = anomalies.iter().filter(|a| a.status != Status::FalsePositive).collect();
    let detected: Vec<&Anomaly> = real.iter().copied().filter(|a| a.detected_at.is_some()).collect();
    let reported = real.len() as i64 - detected.len() as i64;
    let n = detected.len() as i64;
    let ttd: i64 = detected.iter().filter_map(|a| a.time_to_detect()).sum();
    DetectionFigures {
        detected: n,
        reported,
        false_positives: (anomalies.len() - real.len()) as i64,
        rate_pct: (!real.is_empty()).then(|| n as f64 * 100.0 / real.len() as f64),
        mttd_secs: (n > 0).then(|| (ttd + n / 2) / n),
    }
}

/// The organisation's minimum impact and from which severity anomalies are announced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnomalySettings {
    pub min_excess: Nanos,
    pub alert_severity: Severity,
}

impl Default for AnomalySettings {
    fn default() -> Self {
        AnomalySettings { min_excess: Nanos(1_000_000_000), alert_severity: Severity::Medium }
    }
}

/// One anomaly with its series around it (and the band), its lifecycle and whether the
/// person may act on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyDetail {
    pub anomaly: Anomaly,
    pub events: Vec<Event>,
    /// (bucket start, cost, band) for the buckets around it (no band: not enough history).
    pub series: Vec<(i64, Nanos, Option<Band>)>,
    pub can_act: bool,
}

/// The anomalies inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomaliesPage {
    pub anomalies: Vec<Anomaly>,
    /// Over the last 30 days, and per week for the last 8 (week start, figures).
    pub figures: DetectionFigures,
    pub trend: Vec<(chrono::NaiveDate, DetectionFigures)>,
    pub settings: AnomalySettings,
    pub can_act: bool,
}

/// "1 h 05 min", "12 min", "3 d 2 h".
pub fn duration_label(secs: i64) -> String {
    let m = (secs + 30) / 60;
    match m {
        m if m < 60 => format!("{m} min"),
        m if m < 24 * 60 => format!("{} h {:02} min", m / 60, m % 60),
        m => format!("{} d {} h", m / 1440, (m % 1440) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: i64 = 1_000_000_000;

    /// A clean hourly series with a daily shape (night low, afternoon high), a weekly shape
    /// (weekends at 60 %), slow growth and deterministic noise of ±8 %.
    fn seasonal(days: usize) -> Vec<Nanos> {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        (0..days * 24)
            .map(|t| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let hour = (t % 24) as f64;
                let daily = 1.0 + 0.8 * ((hour - 8.0) / 24.0 * std::f64::consts::TAU).sin();
                let weekly = if (t / 24) % 7 >= 5 { 0.6 } else { 1.0 };
                let growth = 1.0 + t as f64 / (24.0 * 365.0);
                let noise = 1.0 + ((state % 1601) as f64 - 800.0) / 10_000.0;
                Nanos((2.0 * D as f64 * daily * weekly * growth * noise) as i64)
            })
            .collect()
    }

    #[test]
    fn no_false_positives_on_a_clean_seasonal_series_of_eight_weeks() {
        let y = seasonal(56);
        let b = bands(&y, &DetectorConfig::hourly(Nanos(D)));
        assert_eq!(b.iter().filter(|b| b.is_none()).count(), 4 * 24, "judged from the fifth day on");
        assert!(episodes(&b).is_empty(), "{:?}", episodes(&b).first());
    }

    #[test]
    fn every_spike_above_the_minimum_is_found_at_its_start() {
        let base = seasonal(56);
        // spikes of known size and time: (first hour, hours, extra dollars per hour)
        let spikes = [(24 * 10 + 3, 1, 3), (24 * 17 + 14, 3, 8), (24 * 30 + 20, 2, 2), (24 * 45, 6, 5)];
        let mut y = base.clone();
        for (at, len, extra) in spikes {
            for v in &mut y[at..at + len] {
                *v += Nanos(extra * D);
            }
        }
        let found = episodes(&bands(&y, &DetectorConfig::hourly(Nanos(D))));
        assert_eq!(found.len(), spikes.len(), "{found:?}");
        for ((at, len, extra), e) in spikes.iter().zip(&found) {
            assert_eq!(e.first, *at, "detected in the hour it started: delay = the bucket");
            assert_eq!(e.last, at + len - 1);
            let injected = Nanos(extra * *len as i64 * D);
            // the excess is measured against the baseline, not the exact clean value: within 15 %
            let off = (e.excess.0 - injected.0).abs() as f64 / injected.0 as f64;
            assert!(off < 0.15, "excess {} vs injected {}", e.excess.usd(), injected.usd());
        }
    }

    #[test]
    fn spikes_under_the_minimum_impact_are_ignored() {
        let mut y = vec![Nanos(D / 100); 24 * 10];
        // a tenfold jump of a one-cent hour is +$0.09: under the $1 minimum
        y[24 * 8 + 5] = Nanos(D / 10);
        assert!(episodes(&bands(&y, &DetectorConfig::hourly(Nanos(D)))).is_empty());
        // the same dollars on a large baseline are under the relative minimum (50 %)
        let mut big = vec![Nanos(100 * D); 24 * 10];
        big[24 * 8 + 5] = Nanos(140 * D);
        let cfg = DetectorConfig::hourly(Nanos(D));
        assert!(episodes(&bands(&big, &cfg)).is_empty());
        big[24 * 8 + 5] = Nanos(150 * D);
        let e = episodes(&bands(&big, &cfg));
        assert_eq!((e.len(), e[0].excess), (1, Nanos(50 * D)), "exactly at both minimums");
    }

    #[test]
    fn the_start_of_the_data_is_not_a_spike_but_a_new_series_is() {
        let mut y = vec![Nanos::ZERO; 24 * 3];
        y.extend(vec![Nanos(2 * D); 24 * 10]);
        let cfg = DetectorConfig::hourly(Nanos(D));
        assert!(!episodes(&bands(&y, &cfg)).is_empty(), "zeros taken for history");
        let b = bands_since(&y, 24 * 3, &cfg);
        assert!(episodes(&b).is_empty());
        assert!(b[24 * 3 + 24 * 4 - 1].is_none() && b[24 * 7].is_some(), "judged after four days of data");
    }

    #[test]
    fn daily_series_follow_the_day_of_week() {
        // weekdays $10, weekends $2: a Saturday of $9 is anomalous, a Monday of $11 is not
        let mut y: Vec<Nanos> = (0..49).map(|d| Nanos(if d % 7 >= 5 { 2 * D } else { 10 * D })).collect();
        y[47] = Nanos(9 * D); // day 47 is a Saturday in this series (47 % 7 == 5)
        y[42] = Nanos(11 * D);
        let e = episodes(&bands(&y, &DetectorConfig::daily(Nanos(D))));
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].first, e[0].excess), (47, Nanos(7 * D)));
    }

    #[test]
    fn severity_grows_with_the_excess() {
        let m = Nanos(D);
        assert_eq!(Severity::of(Nanos(D), m), Severity::Low);
        assert_eq!(Severity::of(Nanos(5 * D - 1), m), Severity::Low);
        assert_eq!(Severity::of(Nanos(5 * D), m), Severity::Medium);
        assert_eq!(Severity::of(Nanos(25 * D), m), Severity::High);
        assert_eq!(Severity::of(Nanos(100 * D), m), Severity::Critical);
    }

    #[test]
    fn figures_count_reported_anomalies_and_ignore_false_positives() {
        let a = |detected: Option<i64>, status| Anomaly {
            id: 0,
            scope_dim: "total".into(),
            scope_value: String::new(),
            grain: "hour".into(),
            started_at: 1_000,
            ended_at: 4_600,
            detected_at: detected,
            expected: Nanos::ZERO,
            actual: Nanos::ZERO,
            excess: Nanos::ZERO,
            severity: Severity::Low,
            contributors: vec![],
            also_in: vec![],
            status,
            assignee: String::new(),
            reported_by: None,
            note: String::new(),
        };
        let all = [
            a(Some(1_000 + 3_600), Status::Resolved),
            a(Some(1_000 + 1_800), Status::Open),
            a(Some(1_000 + 60), Status::FalsePositive),
            a(None, Status::Open),
        ];
        let f = figures(&all);
        assert_eq!((f.detected, f.reported, f.false_positives), (2, 1, 1));
        assert_eq!(f.rate_pct, Some(200.0 / 3.0));
        assert_eq!(f.mttd_secs, Some(2_700));
        assert_eq!(duration_label(2_700), "45 min");
        assert_eq!(duration_label(3_900), "1 h 05 min");
        assert_eq!(figures(&[]).rate_pct, None);
    }

    #[test]
    fn the_lifecycle_moves_forward_or_reopens() {
        use Status::*;
        assert!(Open.may_become(Acknowledged) && Acknowledged.may_become(Resolved));
        assert!(Resolved.may_become(Open) && FalsePositive.may_become(Open));
        assert!(!Resolved.may_become(Acknowledged) && !Open.may_become(Open));
    }

    #[test]
    fn a_named_driver_outranks_a_missing_value_and_ties_go_to_the_model() {
        let c = |dim: &str, value: &str, during: i64| Contributor {
            dim: dim.into(),
            value: value.into(),
            during: Nanos(during * D),
            usual: Nanos::ZERO,
        };
        let all = vec![
            c("api_key", "(not set)", 50),
            c("team", "a", 50),
            c("model", "m2", 50),
            c("feature", "runaway", 40),
            c("initiative", "(not set)", 50),
        ];
        let top = rank_contributors(all, 3);
        let names: Vec<(&str, &str)> = top.iter().map(|c| (c.dim.as_str(), c.value.as_str())).collect();
        assert_eq!(names, [("model", "m2"), ("team", "a"), ("feature", "runaway")]);
        // only missing values rose: they are all there is to show
        let only = rank_contributors(vec![c("api_key", "(not set)", 5)], 3);
        assert_eq!(only.len(), 1);
    }

    #[test]
    fn contributors_are_the_values_that_rose_most() {
        let v = vec![
            ("a".to_string(), Nanos(10 * D), Nanos(2 * D)),
            ("b".to_string(), Nanos(3 * D), Nanos(3 * D)),
            ("c".to_string(), Nanos(20 * D), Nanos(D)),
        ];
        let top = top_contributors("model", &v, 5);
        assert_eq!(top.iter().map(|c| c.value.as_str()).collect::<Vec<_>>(), ["c", "a"]);
        assert_eq!(top[0].increase(), Nanos(19 * D));
    }
}
