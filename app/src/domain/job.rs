//! A background job's progress as pages show it (re-pricing, billing imports).
use serde::{Deserialize, Serialize};

/// A background job's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    pub id: u64,
    pub org: i64,
    pub kind: String,
    /// Items (events, rows) handled so far.
    pub done: u64,
    pub finished: bool,
    /// What it did, or why it failed.
    pub outcome: Option<String>,
    pub failed: bool,
}
