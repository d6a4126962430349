//! File downloads for people (session-authenticated GET routes, so a plain link works and the
//! browser saves the file).
use axum::extract::{Query, State};
use axum::response::Response;
use futures_util::StreamExt;
use serde::Deserialize;
use tower_sessions::Session;

use crate::domain::audit::{to_csv, AuditFilter};
use crate::domain::Right;
use crate::error::AppError;
use crate::server::auth::user_of;
use crate::server::db::AUDIT_LIMIT;
use crate::server::http::{attachment, CSV};
use crate::server::state::AppState;

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
) -> Result<Response, AppError> {
    let csv = audit_csv(&st, &session, q).await?;
    Ok(attachment(csv, CSV, "costroom-audit-log.csv"))
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

#[derive(Deserialize)]
pub struct FocusQuery {
    from: Option<String>,
    to: Option<String>,
    source: Option<String>,
}

/// `GET /ledger/focus.csv?from=&to=&source=`: the ledger of the range (default: the last 90
/// days) as FOCUS 1.2, for anyone signed in (everyone reads spend). Streamed day by day, so a
/// long range costs no memory.
pub async fn focus_csv_handler(
    State(st): State<AppState>,
    session: Session,
    Query(q): Query<FocusQuery>,
) -> Result<Response, AppError> {
    use crate::domain::ledger::SpendSource;
    use crate::domain::DateRange;
    use crate::server::formats::focus::export::{export, Selection};
    let parsed = async {
        user_of(&session, &st).await?.ok_or(AppError::Unauthorized)?;
        let range = DateRange::parse(q.from.as_deref(), q.to.as_deref(), st.clock.today())?;
        let source = match q.source.as_deref().map(str::trim).filter(|s| !s.is_empty() && *s != "all") {
            Some(s) => Some(SpendSource::parse(s).map_err(AppError::Invalid)?),
            None => None,
        };
        if source.is_none_or(|s| s == SpendSource::Tokens) {
            // asked here too, so the refusal is a 422 and not a broken download
            st.db.require_raw_from(st.org, range.from, "the FOCUS export of token spend", "from").await?;
        }
        let name = st.db.org_name(st.org).await?;
        Ok::<_, AppError>((Selection { range, source }, name))
    };
    let (sel, name) = parsed.await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(4);
    let db = st.db.clone();
    let org = st.org;
    tokio::spawn(async move {
        let mut out = tx.clone();
        if let Err(e) = export(&db, org, &name, sel, &mut out).await {
            tracing::error!(error = %e, "FOCUS export failed");
            let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
        }
    });
    // fused: the compression layer polls once more after the end, and a bare unfold panics then
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) }).fuse();
    let file = format!(
        "costroom-focus-{}-{}{}.csv",
        sel.range.from,
        sel.range.to,
        sel.source.map(|s| format!("-{}", s.as_str())).unwrap_or_default()
    );
    Ok(attachment(axum::body::Body::from_stream(stream), CSV, &file))
}

/// `GET /reviews/{id}/export?format=csv|json`: one review as shown (frozen figures once
/// closed), for anyone signed in.
pub async fn review_export_handler(
    State(st): State<AppState>,
    session: Session,
    axum::extract::Path(id): axum::extract::Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<Response, AppError> {
    use crate::server::services::reviews;
    let user = user_of(&session, &st).await?.ok_or(AppError::Unauthorized)?;
    let id: i64 = id.parse().map_err(|_| AppError::NotFound(format!("review {id}")))?;
    let page = reviews::page(&st.db, st.org, &user, st.clock.today(), id).await?;
    let (body, kind, ext) = match q.get("format").map(String::as_str) {
        Some("json") => (serde_json::to_string_pretty(&page).unwrap_or_default(), "application/json", "json"),
        _ => (reviews::to_csv(&page), CSV, "csv"),
    };
    Ok(attachment(body, kind, &format!("costroom-review-{}.{ext}", page.review.id)))
}

#[derive(Deserialize)]
pub struct DecisionsQuery {
    rule: Option<String>,
    key: Option<String>,
    code: Option<String>,
    days: Option<String>,
}

/// Past this many rows the export asks for a narrower filter instead of cutting rows off.
const DECISIONS_EXPORT_LIMIT: i64 = 1_000_000;

/// `GET /guardrails/decisions.csv?rule=&key=&code=&days=`: the guardrails' decision log under
/// the page's filter, newest first, for anyone signed in (everyone reads the page).
pub async fn guardrail_decisions_csv_handler(
    State(st): State<AppState>,
    session: Session,
    Query(q): Query<DecisionsQuery>,
) -> Result<Response, AppError> {
    use crate::server::services::guardrails::{log_csv, log_filter};
    user_of(&session, &st).await?.ok_or(AppError::Unauthorized)?;
    let f = log_filter(
        q.rule.as_deref(),
        q.key.as_deref(),
        q.code.as_deref(),
        q.days.as_deref(),
        chrono::Utc::now(),
        DECISIONS_EXPORT_LIMIT + 1,
    )?;
    let rows = st.db.guardrail_decisions(st.org, &f).await?;
    if rows.len() as i64 > DECISIONS_EXPORT_LIMIT {
        return Err(AppError::Invalid(format!(
            "days: more than {DECISIONS_EXPORT_LIMIT} rows match; narrow the filter"
        )));
    }
    Ok(attachment(log_csv(&rows), CSV, "costroom-guardrail-decisions.csv"))
}
