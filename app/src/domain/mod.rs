//! Pure calculations shared by server and browser: no I/O, no leptos. Exhaustively unit-tested.
pub mod money;
pub mod overview;
pub mod period;
pub mod usage;

pub use money::Nanos;
pub use overview::{DailyCost, Overview};
pub use period::DateRange;
pub use usage::UsageEvent;
