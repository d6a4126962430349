//! Server functions only, one file per resource. Bodies stay thin: authorize, delegate to a
//! service, return a DTO.
pub mod overview;

pub use overview::{get_overview, GetOverview};
