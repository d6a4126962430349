//! Billing imports (the ledger): the list of imports and the progress of one.
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::prices::JobView;
use crate::domain::Nanos;
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportInfo {
    pub id: i64,
    pub source: String,
    pub file_name: String,
    pub at: DateTime<Utc>,
    pub by: Option<String>,
    pub rows: i64,
    pub replaced: i64,
    pub billed: Nanos,
    pub effective: Nanos,
}

#[server(endpoint = "list_ledger_imports")]
pub async fn list_ledger_imports() -> Result<Vec<ImportInfo>, AppError> {
    use crate::server::{auth, state};
    state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    Ok(st
        .db
        .ledger_imports(st.org, 100)
        .await?
        .into_iter()
        .map(|r| ImportInfo {
            id: r.id,
            source: r.source,
            file_name: r.file_name,
            at: r.created_at,
            by: r.created_by,
            rows: r.rows_imported,
            replaced: r.rows_replaced,
            billed: Nanos(r.billed_nanos),
            effective: Nanos(r.effective_nanos),
        })
        .collect())
}

#[server(endpoint = "import_status")]
pub async fn import_status(job: u64) -> Result<JobView, AppError> {
    use crate::domain::Right;
    use crate::server::{auth, state};
    state::with_status(auth::require_right(Right::ImportBilling).await)?;
    let st = state::app_state()?;
    state::with_status(st.jobs.get(job, st.org.0).ok_or_else(|| AppError::NotFound(format!("job {job}"))))
}
