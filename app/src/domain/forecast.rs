//! Spend forecasting: a point forecast and an interval per future bucket, from a series with
//! trend and seasonality (weekly for daily spend, daily for hourly spend).
//!
//! Two methods compete and the one with the lower error on the series' own recent past wins
//! (rolling-origin backtest):
//! - **seasonal naive + drift**: the value one season ago plus the average change per bucket
//!   between the last two seasons — robust on short or noisy series;
//! - **additive Holt-Winters** (level, trend, seasonal index), smoothing weights chosen by grid
//!   search on one-step-ahead squared error — follows trend changes and a shifting pattern.
//!
//! The interval is ±1.96 σ √h, σ being the standard deviation of the winning method's
//! one-step-ahead errors on the history (a normal approximation, widening with the horizon).
//!
//! Forecasts are estimates, so the arithmetic is `f64` on nano-dollar values, rounded to the
//! nano once at the end; actual spend stays integer everywhere else.
use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use super::Nanos;

/// Which method produced a forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    SeasonalNaiveDrift,
    HoltWinters {
        alpha_pct: u8,
        beta_pct: u8,
        gamma_pct: u8,
    },
    /// Too little history for a season: the mean of what there is, flat.
    Mean,
}

impl Method {
    pub fn label(&self) -> String {
        match self {
            Method::SeasonalNaiveDrift => "seasonal naive + drift".into(),
            Method::HoltWinters { alpha_pct, beta_pct, gamma_pct } => format!(
                "Holt-Winters additive (α {:.2}, β {:.2}, γ {:.2})",
                *alpha_pct as f64 / 100.0,
                *beta_pct as f64 / 100.0,
                *gamma_pct as f64 / 100.0
            ),
            Method::Mean => "mean (short history)".into(),
        }
    }
}

/// One future bucket: point forecast and 95 % interval (never below zero: spend is not
/// negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    pub point: Nanos,
    pub low: Nanos,
    pub high: Nanos,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forecast {
    pub method: Method,
    pub points: Vec<Point>,
}

impl Forecast {
    /// Sum of the point forecasts and of the interval ends over the first `n` buckets. The
    /// ends are summed as if errors moved together, a deliberately wide total interval.
    pub fn total(&self, n: usize) -> Point {
        let take = || self.points.iter().take(n);
        Point {
            point: take().map(|p| p.point).sum(),
            low: take().map(|p| p.low).sum(),
            high: take().map(|p| p.high).sum(),
        }
    }
}

const Z95: f64 = 1.96;

fn to_nanos(x: f64) -> Nanos {
    Nanos(x.max(0.0).round() as i64)
}

/// The history with one-off outliers (an incident, a runaway loop) replaced by the median of
/// the same position in the previous seasons, when they sit more than six median absolute
/// deviations away from it. A spike is an anomaly to alert on, not a level to extrapolate.
pub fn clean(y: &[f64], m: usize) -> Vec<f64> {
    if m == 0 || y.len() < 3 * m {
        return y.to_vec();
    }
    let median = |v: &mut Vec<f64>| -> f64 {
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    let baseline: Vec<Option<f64>> = (0..y.len())
        .map(|i| {
            let mut past: Vec<f64> = (1..=4).filter_map(|k| i.checked_sub(k * m).map(|j| y[j])).collect();
            (past.len() >= 2).then(|| median(&mut past))
        })
        .collect();
    let mut resid: Vec<f64> = y.iter().zip(&baseline).filter_map(|(v, b)| b.map(|b| (v - b).abs())).collect();
    if resid.is_empty() {
        return y.to_vec();
    }
    let mad = median(&mut resid);
    if mad <= 0.0 {
        return y.to_vec();
    }
    y.iter()
        .zip(&baseline)
        .map(|(v, b)| match b {
            Some(b) if (v - b).abs() > 6.0 * mad => *b,
            _ => *v,
        })
        .collect()
}

/// One-step-ahead predictions over the history (index i predicts `y[i]`), from index `start`.
type Fitted = (Vec<f64>, usize);

fn seasonal_naive_fit(y: &[f64], m: usize) -> Fitted {
    // predicting y[i] needs two seasons before it
    let start = 2 * m;
    let mut pred = vec![0.0; y.len()];
    for i in start..y.len() {
        pred[i] = seasonal_naive_step(&y[..i], m, 1);
    }
    (pred, start)
}

/// The forecast `h` buckets after the end of `y` (needs `y.len() >= 2m`).
fn seasonal_naive_step(y: &[f64], m: usize, h: usize) -> f64 {
    let n = y.len();
    let last: f64 = y[n - m..].iter().sum::<f64>() / m as f64;
    let before: f64 = y[n - 2 * m..n - m].iter().sum::<f64>() / m as f64;
    let drift = (last - before) / m as f64;
    let base = y[n - m + (h - 1) % m];
    base + drift * (m * ((h - 1) / m + 1)) as f64
}

/// Additive Holt-Winters state after running through `y`, and its one-step predictions.
struct HwRun {
    level: f64,
    trend: f64,
    season: Vec<f64>,
    pred: Vec<f64>,
}

fn holt_winters(y: &[f64], m: usize, a: f64, b: f64, g: f64) -> HwRun {
    // initial state from the first two seasons
    let s1: f64 = y[..m].iter().sum::<f64>() / m as f64;
    let s2: f64 = y[m..2 * m].iter().sum::<f64>() / m as f64;
    let mut level = s1;
    let mut trend = (s2 - s1) / m as f64;
    let mut season: Vec<f64> = y[..m].iter().map(|v| v - s1).collect();
    let mut pred = vec![0.0; y.len()];
    for (i, &v) in y.iter().enumerate().skip(m) {
        let s = season[i % m];
        pred[i] = level + trend + s;
        let prev_level = level;
        level = a * (v - s) + (1.0 - a) * (level + trend);
        trend = b * (level - prev_level) + (1.0 - b) * trend;
        season[i % m] = g * (v - level) + (1.0 - g) * s;
    }
    HwRun { level, trend, season, pred }
}

fn sse(y: &[f64], pred: &[f64], start: usize) -> f64 {
    y.iter().zip(pred).skip(start).map(|(a, p)| (a - p) * (a - p)).sum()
}

const GRID: [u8; 6] = [5, 15, 30, 50, 70, 90];

/// The weights with the least one-step squared error after the first two seasons.
fn fit_holt_winters(y: &[f64], m: usize) -> (u8, u8, u8) {
    let mut best = (f64::INFINITY, (30, 5, 15));
    for a in GRID {
        for b in [1u8, 5, 15, 30] {
            for g in GRID {
                let run = holt_winters(y, m, a as f64 / 100.0, b as f64 / 100.0, g as f64 / 100.0);
                let e = sse(y, &run.pred, 2 * m);
                if e < best.0 {
                    best = (e, (a, b, g));
                }
            }
        }
    }
    best.1
}

fn forecast_with(y: &[f64], m: usize, method: Method, horizon: usize) -> Vec<f64> {
    match method {
        Method::Mean => {
            let mean = if y.is_empty() { 0.0 } else { y.iter().sum::<f64>() / y.len() as f64 };
            vec![mean; horizon]
        }
        Method::SeasonalNaiveDrift => (1..=horizon).map(|h| seasonal_naive_step(y, m, h)).collect(),
        Method::HoltWinters { alpha_pct, beta_pct, gamma_pct } => {
            let r = holt_winters(
                y,
                m,
                alpha_pct as f64 / 100.0,
                beta_pct as f64 / 100.0,
                gamma_pct as f64 / 100.0,
            );
            let n = y.len();
            (1..=horizon).map(|h| r.level + h as f64 * r.trend + r.season[(n + h - 1) % m]).collect()
        }
    }
}

fn one_step(y: &[f64], m: usize, method: Method) -> Fitted {
    match method {
        Method::Mean => {
            let mean = y.iter().sum::<f64>() / y.len().max(1) as f64;
            (vec![mean; y.len()], 0)
        }
        Method::SeasonalNaiveDrift => seasonal_naive_fit(y, m),
        Method::HoltWinters { alpha_pct, beta_pct, gamma_pct } => {
            let r = holt_winters(
                y,
                m,
                alpha_pct as f64 / 100.0,
                beta_pct as f64 / 100.0,
                gamma_pct as f64 / 100.0,
            );
            (r.pred, 2 * m)
        }
    }
}

/// The candidate methods for a history: Holt-Winters with weights fitted on it, and the
/// seasonal naive with drift; only the mean below two seasons.
fn candidates(y: &[f64], m: usize) -> Vec<Method> {
    if m == 0 || y.len() < 2 * m {
        return vec![Method::Mean];
    }
    let (a, b, g) = fit_holt_winters(y, m);
    vec![Method::SeasonalNaiveDrift, Method::HoltWinters { alpha_pct: a, beta_pct: b, gamma_pct: g }]
}

/// Mean absolute percentage error of `method` forecasting `horizon` buckets from rolling
/// origins over the last `window` buckets; buckets whose actual is zero are skipped (MAPE
/// is undefined there). Per horizon 1..=horizon.
pub fn backtest(
    y: &[f64],
    m: usize,
    horizon: usize,
    window: usize,
    method: Option<Method>,
) -> Vec<Option<f64>> {
    let mut sums = vec![(0.0, 0usize); horizon];
    let first = y.len().saturating_sub(window).max(2 * m.max(1));
    for origin in first..y.len() {
        let cleaned = clean(&y[..origin], m);
        let past = &cleaned[..];
        let chosen = match method {
            Some(Method::HoltWinters { .. }) if past.len() >= 2 * m => {
                let (a, b, g) = fit_holt_winters(past, m);
                Method::HoltWinters { alpha_pct: a, beta_pct: b, gamma_pct: g }
            }
            Some(x) => x,
            None => choose(past, m),
        };
        let f = forecast_with(past, m, chosen, horizon);
        for h in 1..=horizon {
            let Some(actual) = y.get(origin + h - 1) else { break };
            if *actual != 0.0 {
                sums[h - 1].0 += ((actual - f[h - 1]) / actual).abs();
                sums[h - 1].1 += 1;
            }
        }
    }
    sums.into_iter().map(|(s, n)| (n > 0).then(|| s / n as f64 * 100.0)).collect()
}

/// The method with the least one-step error over the last season and a half of the history
/// (at least 14 buckets, so that a short season does not pick on one lucky bucket).
fn choose(y: &[f64], m: usize) -> Method {
    let c = candidates(y, m);
    if c.len() == 1 {
        return c[0];
    }
    let window = (m * 3 / 2).max(14);
    let score = |method: Method| {
        let (pred, start) = one_step(y, m, method);
        let from = start.max(y.len().saturating_sub(window));
        sse(y, &pred, from)
    };
    let mut best = c[0];
    let mut best_score = score(best);
    for &x in &c[1..] {
        let s = score(x);
        if s < best_score {
            best = x;
            best_score = s;
        }
    }
    best
}

/// Forecast `horizon` buckets after `history` (oldest first) with season length `season`
/// (7 for daily spend, 24 for hourly).
pub fn forecast(history: &[Nanos], season: usize, horizon: usize) -> Forecast {
    let raw: Vec<f64> = history.iter().map(|n| n.0 as f64).collect();
    let y = clean(&raw, season);
    let method = choose(&y, season);
    let points = forecast_with(&y, season, method, horizon);
    let (pred, start) = one_step(&y, season, method);
    let errors: Vec<f64> = y.iter().zip(&pred).skip(start).map(|(a, p)| a - p).collect();
    let sigma = if errors.len() > 1 {
        let mean = errors.iter().sum::<f64>() / errors.len() as f64;
        (errors.iter().map(|e| (e - mean) * (e - mean)).sum::<f64>() / (errors.len() - 1) as f64).sqrt()
    } else {
        0.0
    };
    let points = points
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let w = Z95 * sigma * ((i + 1) as f64).sqrt();
            Point { point: to_nanos(p), low: to_nanos(p - w), high: to_nanos(p + w) }
        })
        .collect();
    Forecast { method, points }
}

/// The first day on which cumulative spend reaches `budget` ("reached" is ≥), given what is
/// spent through `today` and a daily forecast starting the day after; `None` if not within
/// the forecast.
pub fn run_out_date(spent: Nanos, budget: Nanos, today: NaiveDate, daily: &[Nanos]) -> Option<NaiveDate> {
    if spent >= budget {
        return Some(today);
    }
    let mut total = spent;
    for (i, d) in daily.iter().enumerate() {
        total += *d;
        if total >= budget {
            return today.checked_add_days(Days::new(i as u64 + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trend + weekly pattern + a small deterministic wobble, in nanos.
    fn weekly(days: usize, base: f64, slope: f64, wobble: f64) -> Vec<Nanos> {
        let pattern = [1.0, 1.05, 1.05, 1.0, 0.9, 0.45, 0.4];
        (0..days)
            .map(|d| {
                let noise = 1.0 + wobble * (((d * 7919) % 13) as f64 / 6.0 - 1.0);
                Nanos(((base + slope * d as f64) * pattern[d % 7] * noise) as i64)
            })
            .collect()
    }

    fn mape(actual: &[Nanos], f: &[Point]) -> f64 {
        actual.iter().zip(f).map(|(a, p)| ((a.0 - p.point.0) as f64 / a.0 as f64).abs()).sum::<f64>()
            / actual.len() as f64
            * 100.0
    }

    #[test]
    fn trend_and_weekly_seasonality_are_forecast_within_five_percent() {
        let series = weekly(120, 100e9, 1e9, 0.02);
        let (history, future) = series.split_at(106);
        let f = forecast(history, 7, 14);
        let err = mape(future, &f.points);
        assert!(err < 5.0, "MAPE {err:.2}% with {}", f.method.label());
        // the actuals lie inside the interval
        let inside = future.iter().zip(&f.points).filter(|(a, p)| p.low <= **a && **a <= p.high).count();
        assert!(inside >= 12, "{inside} of 14 inside");
    }

    #[test]
    fn a_flat_series_has_a_narrow_interval() {
        let flat = vec![Nanos(50_000_000_000); 60];
        let f = forecast(&flat, 7, 7);
        for p in &f.points {
            assert_eq!(p.point, Nanos(50_000_000_000));
            assert!(p.high.0 - p.low.0 <= 2, "{p:?}");
        }
    }

    #[test]
    fn run_out_is_exact_for_a_linear_series() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 10).unwrap();
        // $10 a day against $1,000 with $900 spent: the 10th day after today reaches it
        let daily = vec![Nanos(10_000_000_000); 30];
        let d = run_out_date(Nanos(900_000_000_000), Nanos(1_000_000_000_000), today, &daily);
        assert_eq!(d, NaiveDate::from_ymd_opt(2026, 11, 20));
        // one nano short of the budget after 10 days: the 11th
        let d = run_out_date(Nanos(899_999_999_999), Nanos(1_000_000_000_000), today, &daily);
        assert_eq!(d, NaiveDate::from_ymd_opt(2026, 11, 21));
        assert_eq!(run_out_date(Nanos(5), Nanos(5), today, &[]), Some(today), "reached means ≥");
        assert_eq!(run_out_date(Nanos(0), Nanos(5), today, &[Nanos(1)]), None);
    }

    #[test]
    fn short_history_falls_back_to_the_mean() {
        let f = forecast(&[Nanos(10), Nanos(20)], 7, 3);
        assert_eq!(f.method, Method::Mean);
        assert_eq!(f.points[2].point, Nanos(15));
    }

    #[test]
    fn a_one_day_spike_does_not_lift_the_forecast() {
        let mut series = weekly(70, 100e9, 0.0, 0.02);
        let calm = forecast(&series, 7, 7);
        series[60] = Nanos(series[60].0 * 20);
        let spiked = forecast(&series, 7, 7);
        for (a, b) in calm.points.iter().zip(&spiked.points) {
            let diff = (a.point.0 - b.point.0).abs() as f64 / a.point.0 as f64;
            assert!(diff < 0.03, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn backtest_reports_error_by_horizon() {
        let series: Vec<f64> = weekly(120, 100e9, 1e9, 0.02).iter().map(|n| n.0 as f64).collect();
        let by_h = backtest(&series, 7, 7, 28, None);
        assert_eq!(by_h.len(), 7);
        assert!(by_h.iter().all(|e| e.is_some_and(|e| e < 6.0)), "{by_h:?}");
    }
}
