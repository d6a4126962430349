//! The Overview page's figures, computed from per-day totals.
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::explore::Dim;
use super::ledger::SpendSource;
use super::rollup::Sums;
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
    /// The month's end as every page projects it (see `services::budgets::projection`), with
    /// its 95 % interval.
    pub projected_month_end: crate::domain::forecast::Point,
    /// How it was projected (the forecast method).
    pub projection_method: String,
    pub range: DateRange,
    pub range_total: Nanos,
    pub range_requests: i64,
    /// One entry per day of `range`, zero-filled, oldest first.
    pub daily: Vec<DailyCost>,
    /// The one source the figures are limited to, if any.
    pub source: Option<SpendSource>,
    /// Spend in range per source (all sources, whatever `source` is).
    pub by_source: Vec<(SpendSource, Nanos)>,
    /// Top values of team, feature, model and customer, with the previous period's spend.
    pub top: Vec<TopList>,
    /// Share of spend in range carrying a team, a feature and an initiative.
    pub coverage: Vec<Coverage>,
    /// Unit costs over the range (tokens only: billing lines have no requests).
    pub unit: Sums,
    /// Every budget evaluated today (the Overview's budget status tiles).
    pub budgets: Vec<super::budget::BudgetLine>,
    /// Days holding spend in the range and in the equally long period before it.
    pub range_vs: Comparison,
    /// Days holding spend month to date and in the same days last month.
    pub mtd_vs: Comparison,
    /// Sources silent for longer than they normally lag (their recent days read low).
    pub stale: Vec<crate::domain::ledger::StaleSource>,
}

/// The biggest spenders of one dimension over the range, against the period before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopList {
    pub dim: Dim,
    pub rows: Vec<TopRow>,
    /// Spend of every value not listed.
    pub rest: Nanos,
    /// The equally long period just before the range.
    pub previous: DateRange,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopRow {
    /// As shown ([`crate::domain::explore::NOT_SET`] when missing).
    pub value: String,
    pub cost: Nanos,
    pub previous: Nanos,
}

impl TopRow {
    /// Change against the previous period in percent, `None` when it had no spend.
    pub fn change_pct(&self) -> Option<f64> {
        self.cost.pct_change_from(self.previous)
    }
}

/// How much of the spend carries one attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub dim: Dim,
    pub tagged: Nanos,
    pub total: Nanos,
}

impl Coverage {
    /// The one definition of tag coverage: spend per shown value of `dim` (as the explorer
    /// groups it), of which the [`crate::domain::explore::NOT_SET`] bucket is untagged.
    pub fn of(dim: Dim, groups: &[(String, Nanos)]) -> Coverage {
        let total: Nanos = groups.iter().map(|(_, c)| *c).sum();
        let untagged: Nanos =
            groups.iter().filter(|(v, _)| v == crate::domain::explore::NOT_SET).map(|(_, c)| *c).sum();
        Coverage { dim, tagged: total - untagged, total }
    }

    /// The shown share (one decimal, rounded half up) in basis points, so that a threshold
    /// checked on it agrees with the figure on the page; `None` without spend.
    pub fn bp(&self) -> Option<i64> {
        self.permille().map(|p| p * 10)
    }

    fn permille(&self) -> Option<i64> {
        (self.total.0 > 0).then(|| {
            ((self.tagged.0 as i128 * 1000 * 2 + self.total.0 as i128) / (self.total.0 as i128 * 2)) as i64
        })
    }

    /// Tagged share in percent with one decimal (display), `None` without spend.
    pub fn pct(&self) -> Option<f64> {
        self.permille().map(|p| p as f64 / 10.0)
    }
}

/// A period compared with the one before it, by how many days of each hold any spend: a
/// comparison against a period that holds data on far fewer days reads as growth that did not
/// happen (data that starts mid-period, an import that skipped weeks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    pub previous: DateRange,
    /// Days of `previous` with spend.
    pub previous_days: i64,
    /// Days of the compared period with spend.
    pub current_days: i64,
}

impl Comparison {
    /// Partial when the earlier period holds spend on fewer than 90 % of the days the later one
    /// does (a quiet weekend is not a gap; a month without data is).
    pub fn is_partial(&self) -> bool {
        self.previous_days * 10 < self.current_days * 9
    }

    /// Why changes against the earlier period are not shown, when they are not.
    pub fn note(&self) -> Option<String> {
        self.is_partial().then(|| {
            format!(
                "The comparison period {} – {} holds spend on {} of its {} days, against {} days in the period shown: changes against it are not shown.",
                self.previous.from,
                self.previous.to,
                self.previous_days,
                self.previous.days(),
                self.current_days
            )
        })
    }
}

/// The equally long period just before `range`.
pub fn previous_period(range: DateRange) -> DateRange {
    let len = range.days() as u64;
    let to = range.from - chrono::Days::new(1);
    DateRange { from: to - chrono::Days::new(len - 1), to }
}

/// Top `n` of `current` by cost (ties by name), each with its spend in `previous`.
pub fn top_list(
    dim: Dim,
    current: &[(String, Nanos)],
    previous: &[(String, Nanos)],
    n: usize,
    prev: DateRange,
) -> TopList {
    let mut sorted: Vec<&(String, Nanos)> = current.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let rows: Vec<TopRow> = sorted
        .iter()
        .take(n)
        .map(|(v, c)| TopRow {
            value: v.clone(),
            cost: *c,
            previous: previous.iter().find(|(p, _)| p == v).map(|(_, c)| *c).unwrap_or_default(),
        })
        .collect();
    let rest = sorted.iter().skip(n).map(|(_, c)| *c).sum();
    TopList { dim, rows, rest, previous: prev }
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
        projected: (crate::domain::forecast::Point, String),
    ) -> Overview {
        let daily = fill_days(range, rows);
        let range_total = daily.iter().map(|d| d.cost).sum();
        let range_requests = daily.iter().map(|d| d.requests).sum();
        Overview {
            today,
            mtd,
            prev_mtd,
            projected_month_end: projected.0,
            projection_method: projected.1,
            range,
            range_total,
            range_requests,
            daily,
            source: None,
            by_source: Vec::new(),
            top: Vec::new(),
            coverage: Vec::new(),
            budgets: Vec::new(),
            unit: Sums::default(),
            range_vs: Comparison { previous: previous_period(range), previous_days: 0, current_days: 0 },
            mtd_vs: Comparison {
                previous: DateRange::same_days_last_month(today),
                previous_days: 0,
                current_days: 0,
            },
            stale: Vec::new(),
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
        let p = crate::domain::forecast::Point { point: Nanos(9), low: Nanos(8), high: Nanos(10) };
        let o =
            Overview::build(today, range, &rows, Nanos(3_000_000_003), Nanos(2_000_000_002), (p, "m".into()));
        assert_eq!(o.range_total, Nanos(3_000_000_003));
        assert_eq!(o.range_requests, 15);
        assert_eq!(o.daily.len(), 10);
        assert_eq!(o.projected_month_end, p, "the projection is the one given");
        assert_eq!(o.mtd_change_pct(), Some(50.0));
        assert_eq!(o.range_daily_average(), Nanos(300_000_000));
    }

    #[test]
    fn a_comparison_period_with_far_fewer_days_of_data_is_partial() {
        let previous = DateRange { from: d("2026-08-01"), to: d("2026-10-29") };
        let c = |previous_days, current_days| Comparison { previous, previous_days, current_days };
        let note = c(30, 90).note().expect("30 of 90 days is partial");
        assert!(
            note.contains("2026-08-01 – 2026-10-29 holds spend on 30 of its 90 days, against 90 days"),
            "{note}"
        );
        // the 90 % line: 81 of 90 is full, 80 is not
        assert!(!c(81, 90).is_partial());
        assert!(c(80, 90).is_partial());
        // a sparse source (monthly invoices) compared with itself is not partial
        assert!(!c(3, 3).is_partial());
        assert!(c(0, 1).is_partial());
        assert!(!c(0, 0).is_partial(), "nothing against nothing: no change to withhold");
        assert_eq!(c(90, 90).note(), None);
    }

    #[test]
    fn top_lists_rank_by_cost_and_carry_the_previous_period() {
        let cur = vec![
            ("a".to_string(), Nanos(5)),
            ("b".into(), Nanos(9)),
            ("c".into(), Nanos(5)),
            ("d".into(), Nanos(1)),
        ];
        let prev = vec![("a".to_string(), Nanos(10)), ("z".into(), Nanos(3))];
        let range = DateRange { from: d("2026-11-01"), to: d("2026-11-30") };
        let p = previous_period(range);
        assert_eq!(p, DateRange { from: d("2026-10-02"), to: d("2026-10-31") });
        let t = top_list(Dim::Team, &cur, &prev, 3, p);
        let names: Vec<&str> = t.rows.iter().map(|r| r.value.as_str()).collect();
        assert_eq!(names, ["b", "a", "c"]);
        assert_eq!(t.rows[1].previous, Nanos(10));
        assert_eq!(t.rows[1].change_pct(), Some(-50.0));
        assert_eq!(t.rows[0].change_pct(), None);
        assert_eq!(t.rest, Nanos(1));
        let c = Coverage { dim: Dim::Team, tagged: Nanos(2), total: Nanos(3) };
        assert_eq!(c.pct(), Some(66.7));
        assert_eq!(c.bp(), Some(6_670), "the shown 66.7 %");
        // the explorer's "(not set)" bucket is the untagged part, whatever the other values are
        let groups =
            vec![("a".to_string(), Nanos(3)), ("(not set)".to_string(), Nanos(1)), ("".into(), Nanos(0))];
        assert_eq!(
            Coverage::of(Dim::Team, &groups),
            Coverage { dim: Dim::Team, tagged: Nanos(3), total: Nanos(4) }
        );
        assert_eq!(Coverage { dim: Dim::Team, tagged: Nanos(0), total: Nanos(0) }.pct(), None);
    }
}
