//! Agent traces: the list by cost with flags, one trace's step tree, and the organisation's
//! limits.
use chrono::NaiveDate;

use crate::domain::traces::{tree, TraceFilter, TraceLimits, TraceSummary, TreeNode, TRACES_PER_PAGE};
use crate::domain::{DateRange, Nanos};
use crate::error::{internal, AppError};
use crate::server::db::{Actor, Db, NewAudit, OrgId};

const LIMITS_KEY: &str = "trace_limits";

pub async fn limits(db: &Db, org: OrgId) -> Result<TraceLimits, AppError> {
    Ok(match db.setting(org, LIMITS_KEY).await? {
        Some(v) => serde_json::from_str(&v).map_err(internal)?,
        None => TraceLimits::default(),
    })
}

pub async fn set_limits(db: &Db, org: OrgId, actor: &Actor, limits: TraceLimits) -> Result<(), AppError> {
    let before = self::limits(db, org).await?;
    let json = |l: &TraceLimits| serde_json::to_value(l).map_err(internal);
    let entry = NewAudit {
        actor: actor.clone(),
        action: "setting.trace_limits",
        entity: "setting",
        entity_id: LIMITS_KEY.into(),
        summary: format!("trace limits: depth {}, retries {}", limits.max_depth, limits.max_retries),
        before: Some(json(&before)?),
        after: Some(json(&limits)?),
    };
    let value = serde_json::to_string(&limits).map_err(internal)?;
    db.set_setting(org, LIMITS_KEY, &value, &entry).await?;
    Ok(())
}

/// One page of the costliest traces with a step in the range (the page's `from`/`to`) that
/// pass `filter`, and how many pass in all.
pub async fn list(
    db: &Db,
    org: OrgId,
    today: NaiveDate,
    from: Option<&str>,
    to: Option<&str>,
    filter: &TraceFilter,
) -> Result<(DateRange, Vec<TraceSummary>, i64), AppError> {
    let range = match (from, to) {
        (None, None) => DateRange::last_days(today, 7),
        _ => DateRange::parse(from, to, today)?,
    };
    let (traces, total) = db.trace_page(org, range, filter, TRACES_PER_PAGE, None).await?;
    Ok((range, traces, total))
}

/// One trace's tree and total; `NotFound` when the organisation has no such trace.
pub async fn detail(db: &Db, org: OrgId, trace_id: &str) -> Result<(Vec<TreeNode>, Nanos), AppError> {
    let steps = db.trace_steps(org, trace_id).await?;
    if steps.is_empty() {
        if let Some(from) = db.raw_events_kept_from(org).await? {
            return Err(AppError::NotFound(format!(
                "trace '{trace_id}' (raw events before {from} were dropped by the retention setting; \
                 a trace that began earlier is listed with its sums, its steps are gone)"
            )));
        }
        return Err(AppError::NotFound(format!("trace '{trace_id}'")));
    }
    let total = steps.iter().map(|s| s.cost).sum();
    Ok((tree(steps), total))
}
