//! The `costroom` binary's library half: configuration, the router (also used by the HTTP
//! tests), and the CLI commands.
pub mod assets;
pub mod cli;
pub mod load;
pub mod router;
pub mod sessions;
pub mod telemetry;

pub use router::{build_router, build_router_with};
