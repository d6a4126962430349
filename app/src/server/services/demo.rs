//! Seeding the demo organisation.
use crate::domain::Nanos;
use crate::error::AppError;
use crate::server::db::{Db, OrgId};
use crate::server::demo::{generate, DemoConfig};

/// What a seeding run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub generated: usize,
    pub inserted: u64,
    pub removed: u64,
    pub total_events: i64,
    pub total_cost: Nanos,
}

/// Inserts the demo events into `org`, priced by the price book like real traffic (so each
/// carries the price-book entry that produced its cost). Idempotent: a second run with the
/// same seed inserts nothing (event ids repeat). With `reset`, the organisation's usage is
/// removed first.
#[tracing::instrument(skip(db), err(Debug, level = "info"))]
pub async fn seed(db: &Db, org: OrgId, cfg: DemoConfig, reset: bool) -> Result<SeedReport, AppError> {
    let removed = if reset { db.delete_usage_events(org).await? } else { 0 };
    let mut events = generate(&cfg);
    super::prices::ensure_public_list(db).await?;
    let book = crate::domain::price_book::PriceBook::new(db.price_entries(org).await?);
    super::prices::price_events(&book, &mut events);
    let inserted = db.insert_usage_events(org, &events).await?;
    let (total_events, total_cost) = db.usage_totals(org).await?;
    Ok(SeedReport { generated: events.len(), inserted, removed, total_events, total_cost })
}
