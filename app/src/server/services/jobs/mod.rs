//! Every background loop of the server, in one place: what runs, how often, and under which
//! lease. No other module spawns a loop.
//!
//! | job | every | wakes early on | lease |
//! |---|---|---|---|
//! | `evaluate`: budgets, forecast snapshots, zombie flags, anomalies, scheduled reviews, maturity | 5 min | events or an import landing (at most every 30 s) | `evaluate` |
//! | `webhooks`: due deliveries | 5 s | a notice queued | `webhooks` |
//! | `ledger`: daily lines of training runs and commitments left pending by requests | 1 min | records stored | `ledger` |
//! | `sessions`: expired sessions deleted | 1 h | — | `sessions` |
//! | `prices`: stored unpriced events re-priced once the price book changed (anywhere) | 15 s | a price change on this server | `prices` |
//!
//! With several servers on one PostgreSQL database, each loop runs on the server that holds
//! its lease (a row in `job_leases`, renewed at every run and taken over by another server
//! when it lapses). Running twice by accident still changes nothing: every record a job
//! writes has a unique key (alerts per budget, period and threshold; one anomaly per scope and
//! start; one delivery per webhook and event, claimed before it is sent; one review per
//! schedule and day; one snapshot per budget and day; one maturity score per day).
//!
//! Jobs people start from a page (re-pricing, billing imports) keep their progress in
//! `background_jobs`, so any server answers for them ([`Tracked`]).
use std::sync::Arc;
use std::time::Duration;

pub mod signal;
pub mod tracked;
pub use signal::{wake, Job};
pub use tracked::{holder_id, Tracked};

use crate::error::AppError;
use crate::server::clock::Clock;
use crate::server::db::{Db, OrgId};

/// How often each loop runs. [`Timing::standard`] in production; tests compress time with
/// `COSTROOM_JOB_SPEEDUP` (a divisor) so that many rounds fit in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub evaluate: Duration,
    /// Least time between two `evaluate` rounds, however often it is woken.
    pub min_gap: Duration,
    pub webhooks: Duration,
    pub ledger: Duration,
    pub sessions: Duration,
    pub prices: Duration,
    /// Guardrail reservations past their expiry are released this often.
    pub reservations: Duration,
}

impl Timing {
    pub fn standard() -> Timing {
        Timing {
            evaluate: Duration::from_secs(300),
            min_gap: Duration::from_secs(30),
            webhooks: Duration::from_secs(5),
            ledger: Duration::from_secs(60),
            sessions: Duration::from_secs(3600),
            prices: Duration::from_secs(15),
            reservations: Duration::from_secs(5),
        }
    }

    /// Standard timing divided by `COSTROOM_JOB_SPEEDUP` when it is set (tests).
    pub fn from_env() -> Timing {
        let t = Timing::standard();
        match std::env::var("COSTROOM_JOB_SPEEDUP").ok().and_then(|v| v.parse::<u32>().ok()) {
            Some(n) if n > 1 => Timing {
                evaluate: t.evaluate / n,
                min_gap: t.min_gap / n,
                webhooks: t.webhooks / n,
                ledger: t.ledger / n,
                sessions: t.sessions / n,
                prices: t.prices / n,
                reservations: t.reservations / n,
            },
            _ => t,
        }
    }

    fn every(&self, job: Job) -> Duration {
        match job {
            Job::Evaluate => self.evaluate,
            Job::Webhooks => self.webhooks,
            Job::Ledger => self.ledger,
            Job::Sessions => self.sessions,
            Job::Prices => self.prices,
            Job::Reservations => self.reservations,
        }
    }

    /// A lease lasts three rounds: a holder that stops is replaced within that time.
    fn lease(&self, job: Job) -> Duration {
        (self.every(job) * 3).max(Duration::from_millis(300))
    }
}

/// What the loops need.
#[derive(Clone)]
pub struct Context {
    pub db: Db,
    pub org: OrgId,
    pub clock: Clock,
    pub sender: super::webhooks::Sender,
    pub timing: Timing,
    /// This server's name in leases.
    pub holder: Arc<str>,
}

/// Starts every loop; they run for as long as the process does.
pub fn spawn_all(ctx: Context) {
    for job in Job::ALL {
        let ctx = ctx.clone();
        tokio::spawn(async move { run_loop(job, ctx).await });
    }
}

async fn run_loop(job: Job, ctx: Context) {
    let every = ctx.timing.every(job);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = signal::woken(job) => {}
        }
        let now = chrono::Utc::now().timestamp_millis();
        let until = now + ctx.timing.lease(job).as_millis() as i64;
        match ctx.db.take_lease(job.name(), &ctx.holder, now, until).await {
            Ok(true) => {}
            Ok(false) => continue, // another server runs it
            Err(e) => {
                tracing::warn!(job = job.name(), error = %e, "could not take the job's lease");
                continue;
            }
        }
        if let Err(e) = run_once(job, &ctx).await {
            tracing::warn!(job = job.name(), error = %e, "background job failed");
        }
        if job == Job::Evaluate {
            // a steady stream of ingest batches wakes it at most this often
            tokio::time::sleep(ctx.timing.min_gap).await;
        }
    }
}

/// One round of a job (also what tests call to run a job now).
pub async fn run_once(job: Job, ctx: &Context) -> Result<(), AppError> {
    let (db, org) = (&ctx.db, ctx.org);
    match job {
        Job::Evaluate => evaluate(db, org, ctx.clock).await,
        Job::Webhooks => super::webhooks::deliver_due(db, &ctx.sender).await.map(|n| {
            if n > 0 {
                tracing::debug!(attempts = n, "webhook deliveries sent");
            }
        }),
        Job::Ledger => super::records::expand_pending(db, org, usize::MAX).await.map(|_| ()),
        Job::Sessions => delete_expired_sessions(db).await,
        Job::Prices => match super::prices::sweep_unpriced(db, org).await? {
            Some(r) if r.changed > 0 => {
                tracing::info!(repriced = r.changed, unpriced = r.unpriced, "unpriced events re-priced");
                Ok(())
            }
            _ => Ok(()),
        },
        // every organisation's at once: the expiry is a property of the reservation
        Job::Reservations => db.expire_reservations(chrono::Utc::now()).await.map(|_| ()).map_err(Into::into),
    }
}

/// Everything that follows spend: each step logs its own failure and the rest still run.
async fn evaluate(db: &Db, org: OrgId, clock: Clock) -> Result<(), AppError> {
    let today = clock.today();
    match super::budgets::evaluate_all(db, org, today).await {
        Ok((_, 0)) => {}
        Ok((_, n)) => tracing::info!(new_alerts = n, "budgets evaluated"),
        Err(e) => tracing::warn!(error = %e, "budget evaluation failed"),
    }
    // the daily forecast snapshot (a no-op until the day changes or a budget is new)
    match super::budgets::record_snapshots(db, org, today).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(snapshots = n, "forecast snapshots recorded"),
        Err(e) => tracing::warn!(error = %e, "forecast snapshots failed"),
    }
    // zombie flags follow spend that lands while nobody opens the initiatives pages
    match super::initiatives::evaluate_flags(db, org, today).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(zombie_flags = n, "initiatives evaluated"),
        Err(e) => tracing::warn!(error = %e, "zombie flag evaluation failed"),
    }
    match super::anomalies::detect_now(db, org, clock.now_ts()).await {
        Ok(r) if r.new + r.announced == 0 => {}
        Ok(r) => tracing::info!(new = r.new, announced = r.announced, "anomalies detected"),
        Err(e) => tracing::warn!(error = %e, "anomaly detection failed"),
    }
    match super::reviews::ensure_due(db, org, today).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(reviews = n, "cost reviews scheduled"),
        Err(e) => tracing::warn!(error = %e, "review scheduling failed"),
    }
    if let Err(e) = super::reviews::record_daily_maturity(db, org, today).await {
        tracing::warn!(error = %e, "maturity scoring failed");
    }
    // raw events past the retention setting; a large first purge spreads over rounds
    match super::retention::apply(db, org, today, super::retention::PER_ROUND).await {
        Ok(Some(p)) if p.deleted > 0 => {
            tracing::info!(deleted = p.deleted, kept_from = %p.kept_from, more = p.more, "raw events dropped (retention)")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "retention purge failed"),
    }
    // alerts raised above go out now rather than at the deliverer's next tick
    wake(Job::Webhooks);
    Ok(())
}

async fn delete_expired_sessions(db: &Db) -> Result<(), AppError> {
    use tower_sessions::ExpiredDeletion;
    let deleted = match db {
        Db::Sqlite(s) => tower_sessions_sqlx_store::SqliteStore::new(s.pool.clone()).delete_expired().await,
        Db::Postgres(p) => tower_sessions_sqlx_store::PostgresStore::new(p.clone()).delete_expired().await,
    };
    deleted.map_err(crate::error::internal)
}
