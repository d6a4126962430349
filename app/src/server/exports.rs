//! File downloads for people (session-authenticated GET routes, so a plain link works and the
//! browser saves the file).
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::auth::user_of;
use super::db::AUDIT_LIMIT;
use super::state::AppState;
use crate::domain::audit::{to_csv, AuditFilter};
use crate::domain::Right;
use crate::error::AppError;

#[derive(Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    entity: Option<String>,
    action: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// `GET /settings/audit.csv?…`: the audit log with the page's filter, newest first, for
/// admins. Larger than a page (no row limit but a sanity cap), since an auditor wants it all.
pub async fn audit_csv_handler(
    State(st): State<AppState>,
    session: Session,
    Query(q): Query<AuditQuery>,
) -> Response {
    match audit_csv(&st, &session, q).await {
        Ok(csv) => {
            let mut res = csv.into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"costroom-audit-log.csv\""),
            );
            res
        }
        Err(e) => (e.status(), e.to_string()).into_response(),
    }
}

/// Enough for years of changes by people; past it the export says so rather than silently
/// dropping the oldest rows.
const EXPORT_LIMIT: i64 = 100 * AUDIT_LIMIT;

async fn audit_csv(st: &AppState, session: &Session, q: AuditQuery) -> Result<String, AppError> {
    let user = user_of(session, st).await?.ok_or(AppError::Unauthorized)?;
    if !user.role.can(Right::ManagePeople) {
        return Err(AppError::Forbidden);
    }
    let f = AuditFilter::parse(
        q.actor.as_deref(),
        q.entity.as_deref(),
        q.action.as_deref(),
        q.from.as_deref(),
        q.to.as_deref(),
    )?;
    let records = st.db.list_audit(st.org, &f, EXPORT_LIMIT + 1).await?;
    if records.len() as i64 > EXPORT_LIMIT {
        return Err(AppError::Invalid(format!(
            "from: more than {EXPORT_LIMIT} records match; narrow the date range"
        )));
    }
    Ok(to_csv(&records))
}
