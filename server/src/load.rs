//! Back-pressure: a bounded number of requests at work, a bounded wait for a turn, then a
//! clear "come back later" instead of a pile-up that times everything out (and holds the
//! memory of every queued body). Machine ingest and people's pages have separate lanes, so
//! an ingest storm cannot starve the dashboards, nor a crowd of dashboards the ingest.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use app::error::AppError;
use app::server::http::problem::RETRY_AFTER_SECS;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Semaphore;

/// The limits, from the environment (`COSTROOM_MAX_INGEST`, `COSTROOM_MAX_PAGES`,
/// `COSTROOM_MAX_QUEUED`, `COSTROOM_QUEUE_WAIT_MS`); see the README.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Load {
    /// Ingest requests at work at once (each parses and writes a batch of up to 10,000 events).
    pub ingest: usize,
    /// Page renders and server-function calls at work at once.
    pub pages: usize,
    /// Requests waiting for a turn, per lane; beyond this they are answered at once.
    pub queued: usize,
    /// How long a request waits for a turn before it is answered 429 (ingest) or 503 (pages).
    pub wait: Duration,
}

impl Default for Load {
    fn default() -> Self {
        // two cores: four ingest batches keep the single SQLite writer busy without queueing
        // bodies in memory; pages are mostly reads that WAL runs beside the writer
        Load { ingest: 4, pages: 16, queued: 256, wait: Duration::from_secs(5) }
    }
}

impl Load {
    pub fn from_env() -> Result<Load, String> {
        let d = Load::default();
        let num = |name: &str, default: usize| -> Result<usize, String> {
            match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => v
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| format!("{name}: '{v}' is not a whole number of at least 1")),
                _ => Ok(default),
            }
        };
        Ok(Load {
            ingest: num("COSTROOM_MAX_INGEST", d.ingest)?,
            pages: num("COSTROOM_MAX_PAGES", d.pages)?,
            queued: num("COSTROOM_MAX_QUEUED", d.queued)?,
            wait: Duration::from_millis(num("COSTROOM_QUEUE_WAIT_MS", d.wait.as_millis() as usize)? as u64),
        })
    }
}

struct Lane {
    at_work: Arc<Semaphore>,
    waiting: AtomicUsize,
    queued: usize,
    refusal: StatusCode,
}

/// The lanes of one router.
#[derive(Clone)]
pub struct Gate {
    ingest: Arc<Lane>,
    pages: Arc<Lane>,
    wait: Duration,
}

impl Gate {
    pub fn new(load: Load) -> Gate {
        let lane = |n, refusal| {
            Arc::new(Lane {
                at_work: Arc::new(Semaphore::new(n)),
                waiting: AtomicUsize::new(0),
                queued: load.queued,
                refusal,
            })
        };
        Gate {
            ingest: lane(load.ingest, StatusCode::TOO_MANY_REQUESTS),
            pages: lane(load.pages, StatusCode::SERVICE_UNAVAILABLE),
            wait: load.wait,
        }
    }

    fn lane(&self, path: &str) -> Option<&Lane> {
        // authorize calls are not gated: a few at work at once would keep the guard's lane from
        // deciding them in batches (it queues and bounds them itself, and answers by the
        // rules' failure modes when the database is slow)
        const INGEST: [&str; 4] = ["/api/v1/events", "/v1/traces", "/api/v1/ledger/", "/api/v1/outcomes"];
        // health checks and static files are cheap and must answer even under load; gateway
        // calls mostly wait on their upstream (a lane of a few would refuse a busy gateway),
        // and their database work goes through the guard's and the writer's own queues
        if path == "/healthz"
            || path.starts_with("/gateway/")
            || path.starts_with("/api/v1/authorize")
            || path.starts_with("/pkg/")
            || path.starts_with("/vendor/")
            || path == "/favicon.ico"
        {
            None
        } else if INGEST.iter().any(|p| path.starts_with(p)) {
            Some(&self.ingest)
        } else {
            Some(&self.pages)
        }
    }
}

/// The busy answer (JSON problem with `Retry-After`), as 429 for ingest and 503 for pages.
fn refused(status: StatusCode) -> Response {
    app::server::http::problem::answer(AppError::Busy, status)
}

pub async fn admit(State(gate): State<Gate>, req: Request, next: Next) -> Response {
    let Some(lane) = gate.lane(req.uri().path()) else { return next.run(req).await };
    let permit = match lane.at_work.clone().try_acquire_owned() {
        Ok(p) => p,
        Err(_) => {
            if lane.waiting.fetch_add(1, Ordering::SeqCst) >= lane.queued {
                lane.waiting.fetch_sub(1, Ordering::SeqCst);
                return refused(lane.refusal);
            }
            let turn = tokio::time::timeout(gate.wait, lane.at_work.clone().acquire_owned()).await;
            lane.waiting.fetch_sub(1, Ordering::SeqCst);
            match turn {
                Ok(Ok(p)) => p,
                _ => return refused(lane.refusal),
            }
        }
    };
    let res = next.run(req).await;
    drop(permit);
    res
}

/// Every 503 (a busy database inside a handler included) tells the client when to retry.
pub async fn retry_after(mut res: Response) -> Response {
    if res.status() == StatusCode::SERVICE_UNAVAILABLE && !res.headers().contains_key(header::RETRY_AFTER) {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
    }
    res
}
