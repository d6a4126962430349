//! Cost reviews: a schedule (weekly on a weekday, monthly on a day of the month) makes one
//! review per period for the cost meeting; the review page gathers what changed and what
//! needs a decision, records decisions and action items, and is frozen when closed.
use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use super::{DateRange, Nanos};
use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cadence {
    /// Meets on this weekday (1 = Monday … 7 = Sunday) about the 7 days before.
    Weekly(u32),
    /// Meets on this day of the month (1–28) about the previous calendar month.
    Monthly(u32),
}

impl Cadence {
    pub fn parse(kind: &str, day: &str) -> Result<Cadence, AppError> {
        let n: u32 = day
            .trim()
            .parse()
            .map_err(|_| AppError::invalid(format!("day: '{}' is not a number", day.trim())))?;
        match kind.trim() {
            "weekly" if (1..=7).contains(&n) => Ok(Cadence::Weekly(n)),
            "weekly" => Err(AppError::invalid("day: a weekday from 1 (Monday) to 7 (Sunday)")),
            "monthly" if (1..=28).contains(&n) => Ok(Cadence::Monthly(n)),
            "monthly" => Err(AppError::invalid("day: a day of the month from 1 to 28 (every month has it)")),
            other => Err(AppError::invalid(format!("cadence: '{other}' is not weekly or monthly"))),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Cadence::Weekly(d) => format!("weekly on {}", weekday(*d)),
            Cadence::Monthly(d) => format!("monthly on day {d}"),
        }
    }

    /// The latest meeting day on or before `today`.
    pub fn last_meeting(&self, today: NaiveDate) -> NaiveDate {
        match *self {
            Cadence::Weekly(d) => {
                let back = (today.weekday().number_from_monday() + 7 - d) % 7;
                today - chrono::Duration::days(back as i64)
            }
            Cadence::Monthly(d) => {
                let this = today.with_day(d).expect("days 1-28 exist in every month");
                if this <= today {
                    this
                } else {
                    let prev = today.with_day(1).expect("day 1") - chrono::Duration::days(1);
                    prev.with_day(d).expect("days 1-28 exist in every month")
                }
            }
        }
    }

    /// The first meeting day after `today`.
    pub fn next_meeting(&self, today: NaiveDate) -> NaiveDate {
        match *self {
            Cadence::Weekly(_) => self.last_meeting(today) + chrono::Duration::days(7),
            Cadence::Monthly(d) => {
                let last = self.last_meeting(today);
                let next_month = (last.with_day(1).expect("day 1") + chrono::Duration::days(32))
                    .with_day(1)
                    .expect("day 1");
                next_month.with_day(d).expect("days 1-28 exist in every month")
            }
        }
    }

    /// The period a meeting on `meeting` reviews: the 7 days before it, or the previous
    /// calendar month.
    pub fn period(&self, meeting: NaiveDate) -> DateRange {
        match self {
            Cadence::Weekly(_) => DateRange {
                from: meeting - chrono::Duration::days(7),
                to: meeting - chrono::Duration::days(1),
            },
            Cadence::Monthly(_) => {
                let to = meeting.with_day(1).expect("day 1") - chrono::Duration::days(1);
                DateRange { from: to.with_day(1).expect("day 1"), to }
            }
        }
    }
}

fn weekday(d: u32) -> &'static str {
    match Weekday::try_from((d.clamp(1, 7) - 1) as u8).unwrap_or(Weekday::Mon) {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// The period before `p`, of the same length.
pub fn previous(p: DateRange) -> DateRange {
    let days = (p.to - p.from).num_days() + 1;
    DateRange { from: p.from - chrono::Duration::days(days), to: p.from - chrono::Duration::days(1) }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub id: i64,
    /// `None`: the whole organisation.
    pub team: Option<String>,
    pub cadence: Cadence,
}

impl Schedule {
    pub fn label(&self) -> String {
        match &self.team {
            Some(t) => format!("Team {t}, {}", self.cadence.label()),
            None => format!("Organisation, {}", self.cadence.label()),
        }
    }
}

/// A spend line that moved between the previous period and this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mover {
    pub dim: String,
    pub value: String,
    pub now: Nanos,
    pub before: Nanos,
}

impl Mover {
    pub fn change(&self) -> Nanos {
        self.now - self.before
    }

    /// Change in tenths of a percent of `before` (`None` when it was zero).
    pub fn change_pct_tenths(&self) -> Option<i64> {
        (self.before.0 != 0).then(|| (self.change().0 as i128 * 1000 / self.before.0 as i128) as i64)
    }
}

/// The largest moves (by absolute change), at most `n`.
pub fn top_movers(dim: &str, now: &[(String, Nanos)], before: &[(String, Nanos)], n: usize) -> Vec<Mover> {
    let mut keys: Vec<&String> = now.iter().chain(before).map(|(k, _)| k).collect();
    keys.sort();
    keys.dedup();
    let get =
        |v: &[(String, Nanos)], k: &str| v.iter().filter(|(x, _)| x == k).map(|(_, c)| *c).sum::<Nanos>();
    let mut out: Vec<Mover> = keys
        .into_iter()
        .map(|k| Mover { dim: dim.into(), value: k.clone(), now: get(now, k), before: get(before, k) })
        .filter(|m| m.change().0 != 0)
        .collect();
    out.sort_by(|a, b| b.change().0.abs().cmp(&a.change().0.abs()).then(a.value.cmp(&b.value)));
    out.truncate(n);
    out
}

/// What a review shows; frozen as it was when the review was closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub period: DateRange,
    pub previous: DateRange,
    pub spend: Nanos,
    pub spend_before: Nanos,
    /// (budget, scope, amount, actual, projected, status) of each budget now.
    pub budgets: Vec<(String, String, Nanos, Nanos, Nanos, String)>,
    pub movers: Vec<Mover>,
    /// (budget, period, forecast at its start, actual, error %) of completed periods.
    pub forecasts: Vec<(String, String, Nanos, Nanos, Option<f64>)>,
    /// (id, scope, started, excess, status) of anomalies that started in the period or are open.
    pub anomalies: Vec<(i64, String, String, Nanos, String)>,
    /// (initiative, rule, reason, at stake) of zombie flags awaiting a decision.
    pub zombies: Vec<(String, String, String, Nanos)>,
    /// (initiative, ROI now, ROI in the previous period), shown values.
    pub roi: Vec<(String, String, String)>,
    /// (KPI, value now, value before).
    pub kpis: Vec<(String, String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub id: i64,
    pub text: String,
    pub by: String,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionItem {
    pub id: i64,
    pub review_id: i64,
    pub title: String,
    pub owner: String,
    pub due: Option<NaiveDate>,
    pub done: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub id: i64,
    pub schedule_id: i64,
    pub title: String,
    pub meeting: NaiveDate,
    pub period: DateRange,
    pub closed_at: Option<String>,
    pub closed_by: Option<String>,
}

/// One review's page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewPage {
    pub review: Review,
    pub figures: Figures,
    /// For a closed review: what changed since it was closed (one line each).
    pub since: Vec<String>,
    pub decisions: Vec<Decision>,
    /// This review's action items and the open ones carried over from earlier reviews.
    pub actions: Vec<ActionItem>,
    pub can_edit: bool,
    /// Whether this person may close it (finance, admins): the button shows only then.
    pub can_close: bool,
}

/// What changed between frozen figures and the same figures now.
pub fn changes_since(frozen: &Figures, now: &Figures) -> Vec<String> {
    let mut out = Vec::new();
    if frozen.spend != now.spend {
        out.push(format!(
            "Spend for the period is now {} (was {} when closed, {}{}).",
            now.spend.usd(),
            frozen.spend.usd(),
            if now.spend > frozen.spend { "+" } else { "−" },
            Nanos((now.spend - frozen.spend).0.abs()).usd()
        ));
    }
    for (name, _, _, actual, _, _) in &now.budgets {
        if let Some((_, _, _, was, _, _)) = frozen.budgets.iter().find(|b| &b.0 == name) {
            if was != actual {
                out.push(format!("Budget {name}: actual now {} (was {}).", actual.usd(), was.usd()));
            }
        }
    }
    let before: Vec<i64> = frozen.anomalies.iter().map(|a| a.0).collect();
    let new = now.anomalies.iter().filter(|a| !before.contains(&a.0)).count();
    if new > 0 {
        out.push(format!("{new} anomalies of the period were found after it was closed."));
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
    fn weekly_meetings_review_the_seven_days_before() {
        let monday = Cadence::parse("weekly", "1").unwrap();
        // 2026-11-20 is a Friday: the last Monday was the 16th, the next the 23rd
        assert_eq!(monday.last_meeting(d("2026-11-20")), d("2026-11-16"));
        assert_eq!(monday.last_meeting(d("2026-11-16")), d("2026-11-16"));
        assert_eq!(monday.next_meeting(d("2026-11-20")), d("2026-11-23"));
        assert_eq!(monday.period(d("2026-11-16")), DateRange { from: d("2026-11-09"), to: d("2026-11-15") });
        assert_eq!(Cadence::parse("weekly", "5").unwrap().last_meeting(d("2026-11-20")), d("2026-11-20"));
    }

    #[test]
    fn monthly_meetings_review_the_previous_month() {
        let third = Cadence::parse("monthly", "3").unwrap();
        assert_eq!(third.last_meeting(d("2026-11-20")), d("2026-11-03"));
        assert_eq!(third.last_meeting(d("2026-11-02")), d("2026-10-03"));
        assert_eq!(third.last_meeting(d("2026-01-02")), d("2025-12-03"));
        assert_eq!(third.next_meeting(d("2026-12-20")), d("2027-01-03"));
        assert_eq!(third.period(d("2026-03-03")), DateRange { from: d("2026-02-01"), to: d("2026-02-28") });
        assert_eq!(previous(DateRange { from: d("2026-02-01"), to: d("2026-02-28") }).from, d("2026-01-04"));
    }

    #[test]
    fn bad_cadences_name_the_field() {
        assert_eq!(
            Cadence::parse("monthly", "31").unwrap_err().to_string(),
            "day: a day of the month from 1 to 28 (every month has it)"
        );
        assert!(Cadence::parse("weekly", "0").unwrap_err().to_string().starts_with("day: "));
        assert!(Cadence::parse("daily", "1").unwrap_err().to_string().starts_with("cadence: "));
    }

    #[test]
    fn movers_are_the_largest_changes_either_way() {
        let n = |v: i64| Nanos(v);
        let now = vec![("a".to_string(), n(100)), ("b".to_string(), n(5)), ("c".to_string(), n(50))];
        let before = vec![("a".to_string(), n(90)), ("b".to_string(), n(65)), ("d".to_string(), n(20))];
        let m = top_movers("team", &now, &before, 3);
        assert_eq!(
            m.iter().map(|x| (x.value.as_str(), x.change().0)).collect::<Vec<_>>(),
            [("b", -60), ("c", 50), ("d", -20)]
        );
        assert_eq!(m[0].change_pct_tenths(), Some(-923));
        assert_eq!(m[1].change_pct_tenths(), None, "new this period");
    }
}
