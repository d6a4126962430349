//! Reusable views.
pub mod data_health;
pub mod echart;
pub mod error_notice;
pub mod form;
pub mod job;
pub mod kpi_tile;
pub mod nav;
pub mod sign_in_first;

pub use data_health::DataHealth;
pub use echart::EChart;
pub use error_notice::{ActionResult, ErrorNotice, FieldError};
pub use form::{reset_on_success, saves};
pub use job::{poll_job, JobStatus};
pub use kpi_tile::KpiTile;
pub use nav::{AlertsChanged, Nav};
pub use sign_in_first::{SignInFirst, SignedInOnly};
