//! Pure functions from domain rows to charming charts; unit-tested on native, rendered by
//! [`crate::components::echart::EChart`] in the browser.
pub mod anomaly;
pub mod budget;
pub mod daily_spend;
pub mod initiative;
pub mod spend;

pub use daily_spend::daily_spend;
