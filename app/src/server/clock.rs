//! The server's "today": the system clock, or a fixed day for demos and tests. Its own module
//! so that background jobs can read it without depending on the whole server state.
use chrono::NaiveDate;

/// "Today" for month-to-date figures. Fixed in tests and demos so that figures are
/// reproducible; the system clock (UTC) otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    System,
    Fixed(NaiveDate),
}

impl Clock {
    pub fn today(&self) -> NaiveDate {
        match self {
            Clock::System => chrono::Utc::now().date_naive(),
            Clock::Fixed(d) => *d,
        }
    }

    /// Unix seconds now; a fixed day's clock stands at that day's last second (its data is
    /// all in, as in the demo and the end-to-end tests).
    pub fn now_ts(&self) -> i64 {
        match self {
            Clock::System => chrono::Utc::now().timestamp(),
            Clock::Fixed(d) => crate::domain::explore::day_seconds(*d) + 86_399,
        }
    }
}
