//! Date ranges as people pick them on pages (inclusive days, UTC), parsed at the edge with
//! errors that name the field.
use chrono::{Datelike, Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Longest range a page may ask for; longer ranges are almost always a typo in the year.
pub const MAX_RANGE_DAYS: i64 = 3 * 366;
/// The default view: the last 90 days including today.
pub const DEFAULT_RANGE_DAYS: u64 = 90;

/// A `YYYY-MM-DD` form value; `None` when empty. The error names the field.
pub fn parse_day(field: &str, v: Option<&str>) -> Result<Option<NaiveDate>, AppError> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| AppError::invalid(format!("{field}: '{s}' is not a date (expected YYYY-MM-DD)"))),
    }
}

/// [`parse_day`] for a field that must be given.
pub fn required_day(field: &str, v: &str) -> Result<NaiveDate, AppError> {
    parse_day(field, Some(v))?.ok_or_else(|| AppError::invalid(format!("{field}: required")))
}

/// Unix seconds as a person reads them: `2026-11-02 03:00 UTC`.
pub fn utc_minute(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// Inclusive on both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateRange {
    /// The last `days` days ending on `today`, inclusive.
    pub fn last_days(today: NaiveDate, days: u64) -> Self {
        let from = today - Days::new(days.saturating_sub(1));
        DateRange { from, to: today }
    }

    /// Parses the `from` / `to` query values of a page. Missing values fall back to the
    /// default range ending today; a lone `from` runs to today, a lone `to` reaches back the
    /// default length.
    pub fn parse(from: Option<&str>, to: Option<&str>, today: NaiveDate) -> Result<Self, AppError> {
        let from = parse_day("from", from)?;
        let to = parse_day("to", to)?;
        let range = match (from, to) {
            (None, None) => Self::last_days(today, DEFAULT_RANGE_DAYS),
            (Some(f), None) => DateRange { from: f, to: today.max(f) },
            (None, Some(t)) => Self::last_days(t, DEFAULT_RANGE_DAYS),
            (Some(f), Some(t)) => DateRange { from: f, to: t },
        };
        if range.from > range.to {
            return Err(AppError::invalid(format!("from: {} is after to: {}", range.from, range.to)));
        }
        if range.days() > MAX_RANGE_DAYS {
            return Err(AppError::invalid(format!(
                "to: the range spans {} days; at most {MAX_RANGE_DAYS} are allowed",
                range.days()
            )));
        }
        Ok(range)
    }

    /// Number of days, both ends included.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    pub fn iter_days(&self) -> impl Iterator<Item = NaiveDate> {
        let to = self.to;
        self.from.iter_days().take_while(move |d| *d <= to)
    }

    /// The first of `today`'s month through `today`.
    pub fn month_to_date(today: NaiveDate) -> Self {
        DateRange { from: today.with_day(1).expect("day 1 exists"), to: today }
    }

    /// The same days of the previous month (1st .. same day-of-month, clamped to that month's
    /// length), so "month to date vs last month" compares like with like.
    pub fn same_days_last_month(today: NaiveDate) -> Self {
        let first = today.with_day(1).expect("day 1 exists");
        let prev_first = first - Months::new(1);
        let prev_last = first - Days::new(1);
        let to = prev_first.with_day(today.day()).unwrap_or(prev_last).min(prev_last);
        DateRange { from: prev_first, to }
    }

    /// Number of days in `today`'s month.
    pub fn days_in_month(today: NaiveDate) -> i64 {
        let first = today.with_day(1).expect("day 1 exists");
        ((first + Months::new(1)) - first).num_days()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn default_is_last_90_days_inclusive() {
        let r = DateRange::parse(None, None, d("2026-11-28")).unwrap();
        assert_eq!(r.to, d("2026-11-28"));
        assert_eq!(r.from, d("2026-08-31"));
        assert_eq!(r.days(), 90);
        assert_eq!(r.iter_days().count(), 90);
    }

    #[test]
    fn explicit_and_partial_ranges() {
        let t = d("2026-11-28");
        let r = DateRange::parse(Some("2026-11-01"), Some("2026-11-07"), t).unwrap();
        assert_eq!((r.from, r.to, r.days()), (d("2026-11-01"), d("2026-11-07"), 7));
        let r = DateRange::parse(Some("2026-11-20"), Some(""), t).unwrap();
        assert_eq!((r.from, r.to), (d("2026-11-20"), t));
        let r = DateRange::parse(None, Some("2026-10-31"), t).unwrap();
        assert_eq!((r.from, r.to), (d("2026-08-03"), d("2026-10-31")));
    }

    #[test]
    fn bad_input_names_the_field() {
        let t = d("2026-11-28");
        let e = DateRange::parse(Some("yesterday"), None, t).unwrap_err();
        assert_eq!(e, AppError::Invalid("from: 'yesterday' is not a date (expected YYYY-MM-DD)".into()));
        let e = DateRange::parse(None, Some("2026-13-01"), t).unwrap_err();
        assert!(e.to_string().starts_with("to: '2026-13-01'"), "{e}");
        let e = DateRange::parse(Some("2026-11-10"), Some("2026-11-09"), t).unwrap_err();
        assert_eq!(e.to_string(), "from: 2026-11-10 is after to: 2026-11-09");
        let e = DateRange::parse(Some("2020-01-01"), Some("2026-01-01"), t).unwrap_err();
        assert!(e.to_string().starts_with("to: the range spans 2193 days"), "{e}");
    }

    #[test]
    fn month_to_date_and_same_days_last_month() {
        let r = DateRange::month_to_date(d("2026-11-28"));
        assert_eq!((r.from, r.to), (d("2026-11-01"), d("2026-11-28")));
        let r = DateRange::same_days_last_month(d("2026-11-28"));
        assert_eq!((r.from, r.to), (d("2026-10-01"), d("2026-10-28")));
        // March 31st compares with the whole of February
        let r = DateRange::same_days_last_month(d("2026-03-31"));
        assert_eq!((r.from, r.to), (d("2026-02-01"), d("2026-02-28")));
        let r = DateRange::same_days_last_month(d("2026-01-15"));
        assert_eq!((r.from, r.to), (d("2025-12-01"), d("2025-12-15")));
        assert_eq!(DateRange::days_in_month(d("2028-02-10")), 29);
        assert_eq!(DateRange::days_in_month(d("2026-12-31")), 31);
    }
}
