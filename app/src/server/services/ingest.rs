//! Ingest: a batch of usage events from a machine, checked item by item, attributed from the
//! API key where the item says nothing, priced, and stored with its rollups. Valid items are
//! accepted even when others in the same batch are not (each refusal names its item, field
//! and reason), so one bad event never holds up the rest.
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::ingest::{parse_item, ItemError};
use crate::domain::UsageEvent;
use crate::error::AppError;
use crate::server::db::{ApiKeyRow, Db, OrgId};
use crate::server::services::prices::{price_events, PriceCache};

/// The answer to a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestReport {
    /// New events stored.
    pub accepted: u64,
    /// Valid events already stored (an earlier send, or earlier in this batch): not counted again.
    pub duplicates: u64,
    pub rejected: u64,
    pub errors: Vec<ItemError>,
    /// Accepted events whose model has no price yet (stored at $0 and flagged, priced later).
    pub unpriced: u64,
}

/// Fills what the item left out from the key that sent it: team, initiative, and the key
/// itself (for spend per key).
pub(crate) fn attribute(e: &mut UsageEvent, key: &ApiKeyRow) {
    if e.team.is_none() {
        e.team = Some(key.team.clone());
    }
    if e.initiative.is_none() {
        e.initiative = key.initiative.clone();
    }
    e.api_key = Some(key.prefix.clone());
}

/// A batch from `POST /api/v1/events`.
pub async fn ingest(
    db: &Db,
    prices: &PriceCache,
    key: &ApiKeyRow,
    items: &[Value],
) -> Result<IngestReport, AppError> {
    let mut events = Vec::with_capacity(items.len());
    let mut errors = vec![];
    for (i, item) in items.iter().enumerate() {
        match parse_item(i, item) {
            Ok(e) => events.push((i, e)),
            Err(err) => errors.push(err),
        }
    }
    store(db, prices, OrgId(key.org_id), Some(key), events, errors).await
}

/// Settles the guardrail reservations the stored events name, with each event's cost (an
/// event without a price settles at the reservation's worst case, never $0). An unknown or
/// already closed reservation changes nothing: a resent event settles nothing twice.
async fn settle_reservations<'a>(
    db: &Db,
    org: OrgId,
    stored: impl Iterator<Item = &'a UsageEvent>,
) -> Result<(), AppError> {
    let mut items = vec![];
    for e in stored {
        let Some(id) = &e.reservation_id else { continue };
        let cost = if e.cost_source == crate::domain::usage::CostSource::Unpriced {
            match db.reservation(org, id).await? {
                Some((_, _, _, held)) => held,
                None => continue,
            }
        } else {
            e.cost
        };
        items.push((org, id.clone(), Some(cost)));
    }
    // one transaction for the batch's reservations (one commit, however many)
    db.close_reservations(&items, chrono::Utc::now()).await?;
    Ok(())
}

/// How often a batch is priced again because the price book changed under it before the
/// error is "busy, try again" (each retry means another price change landed meanwhile).
const PRICE_ATTEMPTS: usize = 5;

/// Attributes, prices and stores events read from any source (ingest API, OTLP, the CLI),
/// each with its position in the request for errors. Every event is checked against the
/// bounds of `domain::limits` here, whatever path it came by.
pub async fn store(
    db: &Db,
    prices: &PriceCache,
    org: OrgId,
    key: Option<&ApiKeyRow>,
    events: Vec<(usize, UsageEvent)>,
    mut errors: Vec<ItemError>,
) -> Result<IngestReport, AppError> {
    let mut checked = Vec::with_capacity(events.len());
    let mut positions = Vec::with_capacity(events.len());
    let kept_from = db.raw_events_kept_from(org).await?;
    for (i, mut e) in events {
        if let Some(key) = key {
            attribute(&mut e, key);
        }
        let checked_item = crate::domain::ingest::check(i, &e).and_then(|()| match kept_from {
            Some(from) if e.day() < from => Err(ItemError {
                index: i,
                field: "timestamp".into(),
                reason: crate::domain::retention::event_before_boundary(e.day(), from),
            }),
            _ => Ok(()),
        });
        match checked_item {
            Ok(()) => {
                positions.push(i);
                checked.push(e);
            }
            Err(err) => errors.push(err),
        }
    }
    for _ in 0..PRICE_ATTEMPTS {
        let (version, book) = prices.current(db, org).await?;
        let mut events = checked.clone();
        let mut errors = errors.clone();
        let above = price_events(&book, &mut events);
        if !above.is_empty() {
            let drop: std::collections::HashSet<usize> = above.iter().map(|(at, _)| *at).collect();
            for (at, cost) in above {
                errors.push(ItemError {
                    index: positions[at],
                    field: "cost_usd".into(),
                    reason: format!(
                        "the tokens at the price book's rates cost {}, above the per-event maximum of {}; \
                        send smaller events",
                        cost.usd(),
                        crate::domain::limits::MAX_EVENT_COST.usd()
                    ),
                });
            }
            let mut at = 0;
            events.retain(|_| {
                at += 1;
                !drop.contains(&(at - 1))
            });
        }
        errors.sort_by_key(|e| e.index);
        let Some(new) = db.insert_priced_events(org, &events, version).await? else {
            continue;
        };
        if !new.is_empty() {
            // budgets, zombie flags and anomalies see the new spend within seconds
            super::jobs::wake(super::jobs::Job::Evaluate);
        }
        settle_reservations(db, org, events.iter().filter(|e| new.contains(&e.event_id))).await?;
        let unpriced = events
            .iter()
            .filter(|e| {
                e.cost_source == crate::domain::usage::CostSource::Unpriced && new.contains(&e.event_id)
            })
            .count();
        return Ok(IngestReport {
            accepted: new.len() as u64,
            duplicates: (events.len() - new.len()) as u64,
            rejected: errors.len() as u64,
            errors,
            unpriced: unpriced as u64,
        });
    }
    // a price change landed before every attempt's write: the client sends the batch again
    Err(AppError::Busy)
}
