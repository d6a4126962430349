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
    Reservations,
}

impl Job {
    pub const ALL: [Job; 6] =
        [Job::Evaluate, Job::Webhooks, Job::Ledger, Job::Sessions, Job::Prices, Job::Reservations];

    pub fn name(self) -> &'static str {
        match self {
            Job::Evaluate => "evaluate",
            Job::Webhooks => "webhooks",
            Job::Ledger => "ledger",
            Job::Sessions => "sessions",
            Job::Prices => "prices",
            Job::Reservations => "reservations",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

// one per job: sized by `Job::ALL`, so a new job cannot index past the end
static WAKES: [Notify; Job::ALL.len()] = [const { Notify::const_new() }; Job::ALL.len()];

/// Asks a loop to run soon instead of at its next tick (on whichever server holds its lease:
/// other servers notice at their next tick).
pub fn wake(job: Job) {
    WAKES[job.index()].notify_one();
}

/// Resolves when `job` is woken.
pub(super) async fn woken(job: Job) {
    WAKES[job.index()].notified().await
}
