//! Raw-event retention: the setting, and the purge the evaluate job (or `costroom retention
//! apply`) runs. See `domain::retention` for what keeps working without the raw rows.
use chrono::NaiveDate;

use crate::domain::retention::Retention;
use crate::error::AppError;
use crate::server::db::retention::Purged;
use crate::server::db::{Actor, Db, NewAudit, OrgId};

const MONTHS: &str = "raw_retention_months";
const OFF: &str = "off";

/// Events deleted per transaction: a write waits behind one chunk at most (tens of ms).
pub const CHUNK: i64 = 10_000;
/// Events one evaluate round deletes at most; the rest go in the next rounds.
pub const PER_ROUND: u64 = 200_000;

/// The organisation's setting (`None`: raw events are kept forever, the default).
pub async fn setting(db: &Db, org: OrgId) -> Result<Option<Retention>, AppError> {
    match db.setting(org, MONTHS).await?.as_deref() {
        None | Some(OFF) => Ok(None),
        Some(v) => {
            let months: i64 = v.parse().map_err(crate::error::internal)?;
            Ok(Some(Retention::new(months).map_err(AppError::Invalid)?))
        }
    }
}

/// Stores the setting (`None`: off), audited. Nothing is deleted until the next purge.
pub async fn set(
    db: &Db,
    org: OrgId,
    actor: &Actor,
    months: Option<i64>,
) -> Result<Option<Retention>, AppError> {
    let r = months.map(Retention::new).transpose().map_err(AppError::Invalid)?;
    let before = setting(db, org).await?;
    let show = |r: Option<Retention>| r.map_or(serde_json::json!(OFF), |r| serde_json::json!(r.months));
    let entry = NewAudit {
        actor: actor.clone(),
        action: "setting.raw_retention",
        entity: "setting",
        entity_id: MONTHS.into(),
        summary: match r {
            Some(r) => format!("raw events kept for the current month and the {} before it", r.months),
            None => "raw events kept forever".into(),
        },
        before: Some(show(before)),
        after: Some(show(r)),
    };
    let value = r.map_or(OFF.to_string(), |r| r.months.to_string());
    db.set_setting(org, MONTHS, &value, &entry).await?;
    Ok(r)
}

/// Drops raw events before the setting's boundary for `today`, at most `max` of them
/// (`None`: retention is off).
pub async fn apply(db: &Db, org: OrgId, today: NaiveDate, max: u64) -> Result<Option<Purged>, AppError> {
    let Some(r) = setting(db, org).await? else { return Ok(None) };
    Ok(Some(db.purge_raw_events(org, r.kept_from(today), CHUNK, max).await?))
}
