//! Server functions only, one file per resource. Bodies stay thin: authorize, delegate to a
//! service, return a DTO.
pub mod auth;
pub mod overview;

pub use auth::{setup_needed, whoami, Me, SetupNeeded, Whoami};
pub use overview::{get_overview, GetOverview};
