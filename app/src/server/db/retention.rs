//! Raw-event retention (see `domain::retention`): the stored boundary and the purge.
use chrono::{NaiveDate, Utc};

use super::audit::insert_audit;
use super::query::{query, query_scalar};
use super::settings::{READ, UPSERT};
use super::{Actor, Db, NewAudit, OrgId, OverLimit, Tx};

/// The first day whose raw events are kept, once a purge has run (an `org_settings` key).
pub const KEPT_FROM: &str = "raw_events_kept_from";

fn parse(v: Option<String>) -> Option<NaiveDate> {
    v.and_then(|s| s.parse().ok())
}

/// What one purge round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// The first day whose raw events are kept now.
    pub kept_from: NaiveDate,
    pub deleted: u64,
    /// More events before the boundary are left for the next round.
    pub more: bool,
}

impl Db {
    /// The first day whose raw events are kept (`None`: every event is, no purge has run).
    pub async fn raw_events_kept_from(&self, org: OrgId) -> sqlx::Result<Option<NaiveDate>> {
        Ok(parse(query_scalar(READ).bind(org.0).bind(KEPT_FROM).fetch_optional(self).await?))
    }

    /// Refuses (a 422 naming `field`) a read that needs raw events from `from` when retention
    /// dropped them: answering with part of the data would show a wrong figure.
    pub async fn require_raw_from(
        &self,
        org: OrgId,
        from: NaiveDate,
        what: &str,
        field: &str,
    ) -> sqlx::Result<()> {
        match self.raw_events_kept_from(org).await? {
            Some(kept) if from < kept => {
                let why = crate::domain::retention::before_boundary(what, from, kept);
                Err(OverLimit(format!("{field}: {why}; start on {kept} or later")).into())
            }
            _ => Ok(()),
        }
    }

    /// Moves the boundary forward to `from` (never back; audited when it moves), then deletes
    /// raw events before it, `chunk` per transaction so that ingest waits for one chunk at
    /// most, until `max` are gone. The rollups, cubes and trace rollups are left as they are:
    /// they keep the totals. The boundary is committed before the first delete, so an ingest
    /// that commits after it refuses events before it (see `check_kept_from`).
    pub async fn purge_raw_events(
        &self,
        org: OrgId,
        from: NaiveDate,
        chunk: i64,
        max: u64,
    ) -> sqlx::Result<Purged> {
        // Read, move and audit in one write transaction, one purge of the organisation at a
        // time (two servers, or the CLI beside one): SQLite's `BEGIN IMMEDIATE` takes the
        // file's write lock; PostgreSQL takes an advisory lock, since under READ COMMITTED a
        // purge that waited on another's row would move the boundary back, or audit a move
        // from the value it read before the other committed.
        const PURGE_LOCK: i64 = 0x436f_0002; // "Co" + 2: a class unique to this use
        let mut tx = self.begin().await?;
        if let Tx::Postgres(_) = tx {
            query("select pg_advisory_xact_lock(cast($1 as integer), cast($2 % 2147483647 as integer))")
                .bind(PURGE_LOCK)
                .bind(org.0)
                .execute(&mut tx)
                .await?;
        }
        let stored = parse(query_scalar(READ).bind(org.0).bind(KEPT_FROM).fetch_optional(&mut tx).await?);
        let kept_from = crate::domain::retention::next_boundary(stored, from);
        if stored != Some(kept_from) {
            query(UPSERT)
                .bind(org.0)
                .bind(KEPT_FROM)
                .bind(kept_from.to_string())
                .bind(Utc::now())
                .execute(&mut tx)
                .await?;
            let entry = NewAudit {
                actor: Actor { user: None, label: "retention".into() },
                action: "retention.boundary",
                entity: "setting",
                entity_id: KEPT_FROM.into(),
                summary: format!(
                    "raw events before {kept_from} are dropped; their totals stay in the rollups"
                ),
                // one field, so the audit page shows the move as before → after
                before: stored.map(|d| serde_json::json!({ KEPT_FROM: d })),
                after: Some(serde_json::json!({ KEPT_FROM: kept_from })),
            };
            insert_audit(&mut tx, org, &entry).await?;
        }
        tx.commit().await?;
        const DELETE: &str = "delete from usage_events where id in \
            (select id from usage_events where org_id = $1 and day < $2 limit $3)";
        let mut deleted = 0u64;
        loop {
            if deleted >= max {
                let left: Option<i64> =
                    query_scalar("select id from usage_events where org_id = $1 and day < $2 limit 1")
                        .bind(org.0)
                        .bind(kept_from)
                        .fetch_optional(self)
                        .await?;
                return Ok(Purged { kept_from, deleted, more: left.is_some() });
            }
            let mut tx = self.begin().await?;
            let n =
                query(DELETE).bind(org.0).bind(kept_from).bind(chunk).execute(&mut tx).await?.rows_affected();
            tx.commit().await?;
            deleted += n;
            if n < chunk as u64 {
                return Ok(Purged { kept_from, deleted, more: false });
            }
        }
    }
}

/// Inside an event write: refuses the batch when an event falls before the boundary (read in
/// the same transaction, so a purge that moved it meanwhile is seen). Only a race with a purge
/// gets here: ingest names such events item by item before it writes.
pub(super) async fn check_kept_from(
    tx: &mut Tx,
    org: OrgId,
    first_day: Option<NaiveDate>,
) -> sqlx::Result<()> {
    let Some(first) = first_day else { return Ok(()) };
    let kept: Option<String> =
        query_scalar(READ).bind(org.0).bind(KEPT_FROM).fetch_optional(&mut *tx).await?;
    match parse(kept) {
        Some(from) if first < from => Err(OverLimit(format!(
            "timestamp: {}",
            crate::domain::retention::event_before_boundary(first, from)
        ))
        .into()),
        _ => Ok(()),
    }
}
