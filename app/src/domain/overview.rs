//! The Overview page's figures, computed from per-day totals.
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::ledger::SpendSource;
use super::{DateRange, Nanos};

/// Spend of one day (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyCost {
    pub day: NaiveDate,
    pub cost: Nanos,
    pub requests: i64,
}

/// Everything the Overview page shows; every figure traces to [`DailyCost`] rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub today: NaiveDate,
    /// Month to date, 1st of this month through today.
    pub mtd: Nanos,
    /// The same days of last month, for a like-for-like comparison.
    pub prev_mtd: Nanos,
    /// Linear run-rate projection: mtd ÷ days elapsed × days in month.
    pub projected_month_end: Nanos,
    pub range: DateRange,
    pub range_total: Nanos,
    pub range_requests: i64,
    /// One entry per day of `range`, zero-filled, oldest first.
    pub daily: Vec<DailyCost>,
    /// The one source the figures are limited to, if any.
    pub source: Option<SpendSource>,
    /// Spend in range per source (all sources, whatever `source` is).
    pub by_source: Vec<(SpendSource, Nanos)>,
}

impl Overview {
    /// `rows` may miss days (no spend) and must lie within `range`; `mtd` and `prev_mtd` are
    /// totals over [`DateRange::month_to_date`] and [`DateRange::same_days_last_month`].
    pub fn build(
        today: NaiveDate,
        range: DateRange,
        rows: &[DailyCost],
        mtd: Nanos,
        prev_mtd: Nanos,
    ) -> Overview {
        let daily = fill_days(range, rows);
        let range_total = daily.iter().map(|d| d.cost).sum();
        let range_requests = daily.iter().map(|d| d.requests).sum();
        Overview {
            today,
            mtd,
            prev_mtd,
            projected_month_end: project_month_end(today, mtd),
            range,
            range_total,
            range_requests,
            daily,
            source: None,
            by_source: Vec::new(),
        }
    }

    /// Change of month-to-date spend against the same days last month, in percent.
    pub fn mtd_change_pct(&self) -> Option<f64> {
        self.mtd.pct_change_from(self.prev_mtd)
    }

    /// Average spend per day over the range (integer division; sub-nano remainders dropped).
    pub fn range_daily_average(&self) -> Nanos {
        Nanos(self.range_total.0 / self.range.days().max(1))
    }
}

/// Linear run rate; rounds down to the nano.
pub fn project_month_end(today: NaiveDate, mtd: Nanos) -> Nanos {
    use chrono::Datelike;
    let elapsed = today.day() as i128;
    let month = DateRange::days_in_month(today) as i128;
    Nanos((mtd.0 as i128 * month / elapsed) as i64)
}

/// One row per day of `range`, zero where `rows` has none; rows outside the range are ignored
/// and duplicate days are added up.
pub fn fill_days(range: DateRange, rows: &[DailyCost]) -> Vec<DailyCost> {
    let mut out: Vec<DailyCost> =
        range.iter_days().map(|day| DailyCost { day, cost: Nanos::ZERO, requests: 0 }).collect();
    for r in rows {
        if r.day < range.from || r.day > range.to {
            continue;
        }
        let i = (r.day - range.from).num_days() as usize;
        out[i].cost += r.cost;
        out[i].requests += r.requests;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn fills_missing_days_with_zero_and_ignores_outside_rows() {
        let range = DateRange { from: d("2026-11-01"), to: d("2026-11-05") };
        let rows = vec![
            DailyCost { day: d("2026-10-31"), cost: Nanos(99), requests: 9 },
            DailyCost { day: d("2026-11-02"), cost: Nanos(7), requests: 1 },
            DailyCost { day: d("2026-11-02"), cost: Nanos(3), requests: 2 },
            DailyCost { day: d("2026-11-05"), cost: Nanos(11), requests: 4 },
        ];
        let days = fill_days(range, &rows);
        let costs: Vec<i64> = days.iter().map(|x| x.cost.0).collect();
        assert_eq!(costs, vec![0, 10, 0, 0, 11]);
        assert_eq!(days[1].requests, 3);
        assert_eq!(days[0].day, d("2026-11-01"));
    }

    #[test]
    fn builds_totals_projection_and_change() {
        let today = d("2026-11-10");
        let range = DateRange { from: d("2026-11-01"), to: d("2026-11-10") };
        let rows = vec![
            DailyCost { day: d("2026-11-01"), cost: Nanos(1_000_000_001), requests: 10 },
            DailyCost { day: d("2026-11-10"), cost: Nanos(2_000_000_002), requests: 5 },
        ];
        let o = Overview::build(today, range, &rows, Nanos(3_000_000_003), Nanos(2_000_000_002));
        assert_eq!(o.range_total, Nanos(3_000_000_003));
        assert_eq!(o.range_requests, 15);
        assert_eq!(o.daily.len(), 10);
        // 3.000000003 / 10 days * 30 days
        assert_eq!(o.projected_month_end, Nanos(9_000_000_009));
        assert_eq!(o.mtd_change_pct(), Some(50.0));
        assert_eq!(o.range_daily_average(), Nanos(300_000_000));
    }

    #[test]
    fn projection_on_the_first_and_last_day() {
        assert_eq!(project_month_end(d("2026-02-01"), Nanos(10)), Nanos(280));
        assert_eq!(project_month_end(d("2026-02-28"), Nanos(10)), Nanos(10));
    }
}
