//! The alert inbox: one list per person, which the bell counts and the alerts page shows.
use chrono::{DateTime, Utc};

use crate::domain::inbox::{InboxItem, InboxKind};
use crate::error::AppError;
use crate::server::db::UserRecord;
use crate::server::state::AppState;

fn now(st: &AppState) -> DateTime<Utc> {
    DateTime::from_timestamp(st.clock.now_ts(), 0).unwrap_or_else(Utc::now)
}

pub async fn inbox(st: &AppState, user: &UserRecord) -> Result<Vec<InboxItem>, AppError> {
    Ok(st.db.inbox(st.org, user.id, now(st)).await?)
}

/// One alert (`kind` and `id`) or every alert of the inbox, for `user` alone.
pub async fn mark_read(
    st: &AppState,
    user: &UserRecord,
    kind: Option<&str>,
    id: Option<i64>,
) -> Result<u64, AppError> {
    let items = inbox(st, user).await?;
    let chosen: Vec<(InboxKind, i64)> = match (kind.map(str::trim).filter(|k| !k.is_empty()), id) {
        (None, None) => items.iter().filter(|i| !i.read).map(|i| (i.kind, i.id)).collect(),
        (Some(k), Some(id)) => {
            let k = InboxKind::parse(k).ok_or_else(|| {
                AppError::invalid(format!("kind: '{k}' is not budget, anomaly, review or guardrail"))
            })?;
            if !items.iter().any(|i| i.kind == k && i.id == id) {
                return Err(AppError::NotFound(format!("alert {} {id}", k.as_str())));
            }
            vec![(k, id)]
        }
        (Some(_), None) => return Err(AppError::invalid("id: name the alert to mark read")),
        (None, Some(_)) => return Err(AppError::invalid("kind: name the kind of alert to mark read")),
    };
    Ok(st.db.mark_read(user.id, &chosen).await?)
}
