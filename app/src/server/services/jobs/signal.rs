//! The background loops' names and their wake-up calls: what services use to ask a loop to
//! run soon. A leaf, so services that wake a loop do not import the loops that call them.
use tokio::sync::Notify;

/// The background loops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Evaluate,
    Webhooks,
    Ledger,
    Sessions,
    Prices,
}

impl Job {
    pub const ALL: [Job; 5] = [Job::Evaluate, Job::Webhooks, Job::Ledger, Job::Sessions, Job::Prices];

    pub fn name(self) -> &'static str {
        match self {
            Job::Evaluate => "evaluate",
            Job::Webhooks => "webhooks",
            Job::Ledger => "ledger",
            Job::Sessions => "sessions",
            Job::Prices => "prices",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

static WAKES: [Notify; 5] =
    [Notify::const_new(), Notify::const_new(), Notify::const_new(), Notify::const_new(), Notify::const_new()];

/// Asks a loop to run soon instead of at its next tick (on whichever server holds its lease:
/// other servers notice at their next tick).
pub fn wake(job: Job) {
    WAKES[job.index()].notify_one();
}

/// Resolves when `job` is woken.
pub(super) async fn woken(job: Job) {
    WAKES[job.index()].notified().await
}
