//! Forecast snapshots: what Costroom predicted for a budget's period, as of each day, kept so
//! that once the period is over the prediction can be held against what happened.
//!
//! A snapshot "as of D" sees only whole days before D: actual = the period's spend before D,
//! projection = that actual plus the forecast of D through the period's last day, learnt from
//! the 56 days before D. The daily job and a reconstruction after the fact therefore compute
//! the same figure from the same data; a reconstructed snapshot is marked as such because
//! spend imported later (an invoice) may have changed what those days held.
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::forecast::{forecast, Forecast, Point};
use super::{DateRange, Nanos};

/// Days of history a forecast learns from (eight points per weekday), as in budget evaluation.
pub const HISTORY_DAYS: i64 = 56;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub period_start: NaiveDate,
    pub as_of: NaiveDate,
    /// Spend of the period before `as_of`.
    pub actual: Nanos,
    /// Projected spend of the whole period, with its interval.
    pub projected: Point,
    pub method: String,
    /// Computed after the day it stands for (not by the daily job on the day).
    pub reconstructed: bool,
}

/// The snapshot of `period` as of `as_of` (within the period), from `daily`: one figure per
/// day starting on `series_from`, covering at least the 56 days before `as_of`; days missing
/// from the series count as zero.
pub fn snapshot_as_of(
    period: DateRange,
    as_of: NaiveDate,
    series_from: NaiveDate,
    daily: &[Nanos],
    reconstructed: bool,
) -> Snapshot {
    project_as_of(period, as_of, series_from, daily, reconstructed).0
}

/// The one projection of a period's end that every page shows (a budget's header and its
/// snapshots, the Overview's month end): the whole days of the period before `as_of`, plus
/// the forecast of `as_of` through the period's last day. Also returns that forecast (its
/// first point is `as_of` itself), for run-out dates and charts.
pub fn project_as_of(
    period: DateRange,
    as_of: NaiveDate,
    series_from: NaiveDate,
    daily: &[Nanos],
    reconstructed: bool,
) -> (Snapshot, Forecast) {
    let at = |d: NaiveDate| -> Nanos {
        let i = (d - series_from).num_days();
        if i < 0 {
            return Nanos::ZERO;
        }
        daily.get(i as usize).copied().unwrap_or(Nanos::ZERO)
    };
    let actual: Nanos = DateRange { from: period.from, to: as_of.pred_opt().unwrap_or(as_of) }
        .iter_days()
        .filter(|d| *d < as_of)
        .map(at)
        .sum();
    let history: Vec<Nanos> =
        (1..=HISTORY_DAYS).rev().map(|k| at(as_of - chrono::Duration::days(k))).collect();
    let horizon = ((period.to - as_of).num_days() + 1).max(0) as usize;
    let f = forecast(&history, 7, horizon);
    let rest = f.total(horizon);
    let snapshot = Snapshot {
        period_start: period.from,
        as_of,
        actual,
        projected: Point { point: actual + rest.point, low: actual + rest.low, high: actual + rest.high },
        method: f.method.label(),
        reconstructed,
    };
    (snapshot, f)
}

/// A projection seen during its first day: never below what is already spent (today's spend
/// so far can outrun today's forecast).
pub fn at_least(p: Point, spent: Nanos) -> Point {
    Point { point: p.point.max(spent), low: p.low.max(spent), high: p.high.max(spent) }
}

/// How far a period's snapshots were from its final actual spend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accuracy {
    pub snapshots: usize,
    /// Mean of |projected − actual| ÷ actual over every snapshot, in percent.
    pub mape_pct: f64,
    /// Signed error of the first snapshot (made at the period's start), percent.
    pub at_start_pct: f64,
    /// Signed error of the snapshot closest to the period's middle, percent.
    pub at_middle_pct: f64,
    /// Mean signed error: positive when Costroom over-forecast.
    pub bias_pct: f64,
    /// Share of snapshots whose interval held the final actual, percent.
    pub covered_pct: f64,
}

/// `None` without snapshots or when nothing was spent (a percentage of zero is undefined).
pub fn accuracy(period: DateRange, snapshots: &[Snapshot], final_actual: Nanos) -> Option<Accuracy> {
    if snapshots.is_empty() || final_actual.0 <= 0 {
        return None;
    }
    let actual = final_actual.0 as f64;
    let err = |s: &Snapshot| (s.projected.point.0 as f64 - actual) / actual * 100.0;
    let n = snapshots.len() as f64;
    let first = snapshots.iter().min_by_key(|s| s.as_of).expect("not empty");
    let middle_day = period.from + chrono::Duration::days((period.to - period.from).num_days() / 2);
    let middle = snapshots
        .iter()
        .min_by_key(|s| ((s.as_of - middle_day).num_days().abs(), s.as_of))
        .expect("not empty");
    let covered = snapshots
        .iter()
        .filter(|s| s.projected.low <= final_actual && final_actual <= s.projected.high)
        .count();
    Some(Accuracy {
        snapshots: snapshots.len(),
        mape_pct: snapshots.iter().map(|s| err(s).abs()).sum::<f64>() / n,
        at_start_pct: err(first),
        at_middle_pct: err(middle),
        bias_pct: snapshots.iter().map(err).sum::<f64>() / n,
        covered_pct: covered as f64 * 100.0 / n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn november() -> DateRange {
        DateRange { from: d("2026-11-01"), to: d("2026-11-30") }
    }

    #[test]
    fn a_snapshot_sees_only_whole_days_before_its_date() {
        // $10 a day from 1 September; a spike on 20 November must not be in the 20th's snapshot
        let from = d("2026-09-01");
        let mut daily = vec![Nanos(10_000_000_000); 91];
        daily[80] = Nanos(1_000_000_000_000); // 2026-11-20
        let s = snapshot_as_of(november(), d("2026-11-20"), from, &daily, false);
        assert_eq!(s.actual, Nanos(19 * 10_000_000_000));
        // a flat history forecasts the same $10 for the 11 days left, with no width
        assert_eq!(s.projected.point, Nanos(30 * 10_000_000_000));
        assert_eq!((s.projected.low, s.projected.high), (s.projected.point, s.projected.point));
        // as of the 1st nothing of the period is spent yet
        let first = snapshot_as_of(november(), d("2026-11-01"), from, &daily, true);
        assert_eq!(first.actual, Nanos::ZERO);
        assert_eq!(first.projected.point, Nanos(300_000_000_000));
        assert!(first.reconstructed);
    }

    #[test]
    fn days_before_the_series_count_as_nothing() {
        let s = snapshot_as_of(november(), d("2026-11-03"), d("2026-11-01"), &[Nanos(5), Nanos(7)], false);
        assert_eq!(s.actual, Nanos(12));
    }

    fn snap(as_of: &str, point: i64, low: i64, high: i64) -> Snapshot {
        Snapshot {
            period_start: d("2026-11-01"),
            as_of: d(as_of),
            actual: Nanos::ZERO,
            projected: Point { point: Nanos(point), low: Nanos(low), high: Nanos(high) },
            method: "m".into(),
            reconstructed: false,
        }
    }

    #[test]
    fn accuracy_measures_error_bias_and_coverage_against_the_final_actual() {
        let snaps = [
            snap("2026-11-01", 120, 100, 140),
            snap("2026-11-15", 90, 80, 99),
            snap("2026-11-29", 100, 95, 105),
        ];
        let a = accuracy(november(), &snaps, Nanos(100)).unwrap();
        assert_eq!(a.snapshots, 3);
        assert!((a.mape_pct - 10.0).abs() < 1e-9, "{a:?}"); // (20 + 10 + 0) / 3
        assert!((a.at_start_pct - 20.0).abs() < 1e-9);
        assert!((a.at_middle_pct + 10.0).abs() < 1e-9, "the 15th is the middle of November");
        assert!((a.bias_pct - 10.0 / 3.0).abs() < 1e-9);
        assert!((a.covered_pct - 200.0 / 3.0).abs() < 1e-9, "the 15th's interval missed");
        assert_eq!(accuracy(november(), &snaps, Nanos::ZERO), None);
        assert_eq!(accuracy(november(), &[], Nanos(1)), None);
    }
}
