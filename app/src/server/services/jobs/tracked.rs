//! Jobs people start from a page (re-pricing, imports), tracked in the database, and the
//! holder id that names this server in leases and jobs.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::job::JobView;
use crate::error::AppError;
use crate::server::db::{Db, OrgId};

/// A name for this process in leases and job records: host, process and a random part.
pub fn holder_id() -> Arc<str> {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    let mut r = [0u8; 4];
    OsRng.fill_bytes(&mut r);
    format!("{host}:{}:{:08x}", std::process::id(), u32::from_le_bytes(r)).into()
}

/// Jobs people start from a page: their progress lives in the database, so whichever server
/// a poll reaches answers it, and a job whose server stopped shows as failed.
#[derive(Clone)]
pub struct Tracked {
    holder: Arc<str>,
    /// When each running job last wrote its progress (written at most twice a second).
    flushed: Arc<Mutex<HashMap<u64, Instant>>>,
}

impl Default for Tracked {
    fn default() -> Self {
        Tracked { holder: holder_id(), flushed: Default::default() }
    }
}

impl Tracked {
    pub async fn start(&self, db: &Db, org: OrgId, kind: &str) -> Result<u64, AppError> {
        let id = db.start_job(org, kind, &self.holder, chrono::Utc::now().timestamp_millis()).await?;
        Ok(id as u64)
    }

    /// Records progress (from synchronous callbacks: the write happens in the background).
    pub fn progress(&self, db: &Db, id: u64, done: u64) {
        {
            let mut flushed = self.flushed.lock().expect("not poisoned");
            let now = Instant::now();
            if flushed.get(&id).is_some_and(|t| now.duration_since(*t) < Duration::from_millis(500)) {
                return;
            }
            flushed.insert(id, now);
        }
        let db = db.clone();
        tokio::spawn(async move {
            let now = chrono::Utc::now().timestamp_millis();
            if let Err(e) = db.job_progress(id as i64, done as i64, now).await {
                tracing::debug!(error = %e, "job progress not recorded");
            }
        });
    }

    pub async fn finish(&self, db: &Db, id: u64, outcome: Result<String, String>) {
        self.flushed.lock().expect("not poisoned").remove(&id);
        let now = chrono::Utc::now().timestamp_millis();
        if let Err(e) = db.finish_job(id as i64, None, &outcome, now).await {
            tracing::warn!(error = %e, job = id, "job outcome not recorded");
        }
    }

    /// The job, if it exists and belongs to `org`.
    pub async fn get(&self, db: &Db, id: u64, org: OrgId) -> Result<Option<JobView>, AppError> {
        let id = i64::try_from(id).map_err(|_| AppError::NotFound(format!("job {id}")))?;
        Ok(db.job(id, org, chrono::Utc::now().timestamp_millis()).await?)
    }
}
