//! Pure calculations shared by server and browser: no I/O, no leptos. Exhaustively unit-tested.
pub mod account;
pub mod api_key;
pub mod audit;
pub mod coverage;
pub mod explore;
pub mod forecast;
pub mod ingest;
pub mod kpis;
pub mod ledger;
pub mod money;
pub mod otlp;
pub mod overview;
pub mod period;
pub mod price_book;
pub mod pricing;
pub mod reconcile;
pub mod role;
pub mod rollup;
pub mod text;
pub mod throttle;
pub mod traces;
pub mod usage;

pub use money::Nanos;
pub use overview::{DailyCost, Overview};
pub use period::DateRange;
pub use role::{Right, Role};
pub use usage::UsageEvent;
