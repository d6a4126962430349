//! Raw-event retention: how long each usage event is kept beside the rollups that sum it.
//!
//! The rollups, cubes and trace rollups hold every figure the pages show, so raw events can be
//! dropped after a while without changing any total. What needs the raw rows — hourly and
//! tag views, a trace's steps, the FOCUS export, a re-price, telling a resent event from a
//! new one — is available only from the boundary on, and those paths say so instead of
//! answering with part of the data.
use chrono::{Datelike, Months, NaiveDate};

/// The fewest months a setting may keep: the current month's raw rows are always kept.
pub const MIN_MONTHS: u32 = 1;
/// The most (100 years): past it "forever" (no setting) says the same thing.
pub const MAX_MONTHS: u32 = 1_200;

/// The setting: keep raw events of the current month and the `months` before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub months: u32,
}

impl Retention {
    /// Checks a requested number of months, naming the field when it is out of range.
    pub fn new(months: i64) -> Result<Retention, String> {
        match u32::try_from(months) {
            Ok(m) if (MIN_MONTHS..=MAX_MONTHS).contains(&m) => Ok(Retention { months: m }),
            _ => Err(format!(
                "months: {months} is out of range; keep raw events {MIN_MONTHS} to {MAX_MONTHS} months \
                 (or turn retention off to keep them forever)"
            )),
        }
    }

    /// The first day whose raw events are kept on `today`: the first of the month `months`
    /// before today's. Whole months, so a boundary moves once a month and a month's
    /// hourly view is either all there or not at all.
    pub fn kept_from(self, today: NaiveDate) -> NaiveDate {
        let first = today.with_day(1).unwrap_or(today);
        first.checked_sub_months(Months::new(self.months)).unwrap_or(NaiveDate::MIN)
    }
}

/// The boundary after a purge: it only moves forward (raising the setting cannot bring rows
/// back, so the stored boundary stays where the rows really start).
pub fn next_boundary(stored: Option<NaiveDate>, wanted: NaiveDate) -> NaiveDate {
    stored.map_or(wanted, |s| s.max(wanted))
}

/// Why a view or an event needs raw rows from before the boundary, for the error a person
/// reads.
pub fn before_boundary(what: &str, day: NaiveDate, kept_from: NaiveDate) -> String {
    format!(
        "{what} needs raw events from {day}, but raw events are kept from {kept_from} on (the retention \
         setting dropped earlier ones; their totals stay in the rollups)"
    )
}

/// Why an event from before the boundary is refused.
pub fn event_before_boundary(day: NaiveDate, kept_from: NaiveDate) -> String {
    format!(
        "the event is from {day}, before {kept_from}: raw events before that day were dropped by the \
         retention setting, so a resent event could not be told from a new one and would be counted twice"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_boundary_is_the_first_of_the_month_so_many_months_back() {
        let r = Retention::new(6).unwrap();
        assert_eq!(r.kept_from(d("2026-12-07")), d("2026-06-01"));
        assert_eq!(r.kept_from(d("2026-12-01")), d("2026-06-01"));
        assert_eq!(r.kept_from(d("2026-12-31")), d("2026-06-01"));
        // across a year and from a month's last day
        assert_eq!(Retention::new(1).unwrap().kept_from(d("2027-01-31")), d("2026-12-01"));
        assert_eq!(Retention::new(14).unwrap().kept_from(d("2026-03-15")), d("2025-01-01"));
        assert_eq!(Retention::new(1_200).unwrap().kept_from(d("2026-03-15")), d("1926-03-01"));
    }

    #[test]
    fn months_outside_the_range_are_refused_naming_the_field() {
        for bad in [0, -1, 1_201, i64::MAX, i64::MIN] {
            let e = Retention::new(bad).unwrap_err();
            assert!(e.starts_with("months:"), "{e}");
            assert!(e.contains(&bad.to_string()), "{e}");
        }
        assert_eq!(Retention::new(1).unwrap().months, 1);
        assert_eq!(Retention::new(1_200).unwrap().months, 1_200);
    }

    #[test]
    fn the_stored_boundary_never_moves_back() {
        assert_eq!(next_boundary(None, d("2026-06-01")), d("2026-06-01"));
        assert_eq!(next_boundary(Some(d("2026-06-01")), d("2026-03-01")), d("2026-06-01"));
        assert_eq!(next_boundary(Some(d("2026-06-01")), d("2026-07-01")), d("2026-07-01"));
    }
}
