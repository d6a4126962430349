//! FOCUS (FinOps Open Cost and Usage Specification): reading files (`import`), checking rows
//! against the specification's machine-readable rules (`model`), writing the ledger (`export`).
pub mod export;
pub mod import;
pub mod model;
pub use import::*;
