//! Background jobs people start from a page (a re-price of history), with progress they can
//! watch. Kept in memory: a job belongs to the server that runs it, and a restart ends it —
//! harmlessly, since a re-price is idempotent and can simply be started again.
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::api::prices::JobView;

#[derive(Clone, Default)]
pub struct Jobs {
    jobs: Arc<Mutex<HashMap<u64, JobView>>>,
    next: Arc<AtomicU64>,
}

impl Jobs {
    pub fn start(&self, org: i64, kind: &str) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let job =
            JobView { id, org, kind: kind.into(), done: 0, finished: false, outcome: None, failed: false };
        self.jobs.lock().expect("not poisoned").insert(id, job);
        id
    }

    pub fn progress(&self, id: u64, done: u64) {
        if let Some(j) = self.jobs.lock().expect("not poisoned").get_mut(&id) {
            j.done = done;
        }
    }

    pub fn finish(&self, id: u64, outcome: Result<String, String>) {
        if let Some(j) = self.jobs.lock().expect("not poisoned").get_mut(&id) {
            j.finished = true;
            j.failed = outcome.is_err();
            j.outcome = Some(outcome.unwrap_or_else(|e| e));
        }
    }

    /// The job, if it exists and belongs to `org`.
    pub fn get(&self, id: u64, org: i64) -> Option<JobView> {
        self.jobs.lock().expect("not poisoned").get(&id).filter(|j| j.org == org).cloned()
    }
}
