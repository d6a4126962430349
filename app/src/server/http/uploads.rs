//! `POST /ledger/focus`: a FOCUS file uploaded from the billing-imports page (a plain
//! multipart form, so it works without JavaScript). The file is streamed to a temporary file,
//! imported in the background as a job, and the browser is sent to the page that shows the
//! job's progress and outcome.
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use tokio::io::AsyncWriteExt;
use tower_sessions::Session;

use crate::domain::money::group_thousands;
use crate::domain::Right;
use crate::error::AppError;
use crate::server::auth::user_of;
use crate::server::db::Actor;
use crate::server::services::ledger::{import_focus, ImportMode};
use crate::server::services::settings::ledger_rules;
use crate::server::state::AppState;

/// The signed-in person if they hold `right` (checked before a byte of the body is read).
async fn signed_in_with(
    st: &AppState,
    session: &Session,
    right: Right,
) -> Result<crate::server::db::UserRecord, AppError> {
    match user_of(session, st).await? {
        Some(u) if u.role.can(right) => Ok(u),
        Some(_) => Err(AppError::Forbidden),
        None => Err(AppError::Unauthorized),
    }
}

/// Largest upload accepted (a FOCUS month of a large cloud account is a few hundred MiB).
pub const MAX_UPLOAD_BYTES: usize = 2 * 1024 * 1024 * 1024;

pub async fn focus_upload_handler(
    State(st): State<AppState>,
    session: Session,
    request: Request,
) -> Result<Response, AppError> {
    let user = signed_in_with(&st, &session, Right::ImportBilling).await?;
    Ok(focus_upload(st, user, request).await)
}

async fn focus_upload(st: AppState, user: crate::server::db::UserRecord, request: Request) -> Response {
    let back = |error: &str| Redirect::to(&format!("/settings/imports?error={error}")).into_response();
    let Ok(mut form) = Multipart::from_request(request, &st).await else { return back("form") };
    let path = std::env::temp_dir()
        .join(format!("costroom-upload-{}.csv", crate::server::auth::password::random_secret(16)));
    let (mut name, mut all_or_nothing, mut bytes) = (String::new(), false, 0usize);
    loop {
        match form.next_field().await {
            Ok(Some(mut field)) => match field.name() {
                Some("file") => {
                    name = field.file_name().unwrap_or("upload.csv").to_string();
                    let Ok(mut out) = tokio::fs::File::create(&path).await else { return back("storage") };
                    loop {
                        match field.chunk().await {
                            Ok(Some(chunk)) => {
                                bytes += chunk.len();
                                if bytes > MAX_UPLOAD_BYTES || out.write_all(&chunk).await.is_err() {
                                    let _ = tokio::fs::remove_file(&path).await;
                                    return back("too_large");
                                }
                            }
                            Ok(None) => break,
                            Err(_) => {
                                let _ = tokio::fs::remove_file(&path).await;
                                return back("form");
                            }
                        }
                    }
                    if out.flush().await.is_err() {
                        return back("storage");
                    }
                }
                Some("all_or_nothing") => all_or_nothing = true,
                _ => {}
            },
            Ok(None) => break,
            Err(_) => return back("form"),
        }
    }
    if bytes == 0 {
        let _ = tokio::fs::remove_file(&path).await;
        return back("empty");
    }
    let job = match st.jobs.start(&st.db, st.org, "focus_import").await {
        Ok(j) => j,
        Err(_) => return back("storage"),
    };
    let actor = Actor::person(user.id, &user.email);
    let mode = if all_or_nothing { ImportMode::AllOrNothing } else { ImportMode::ValidRows };
    tokio::spawn(async move {
        // the upload's own name in the ledger and the audit trail, not the temporary one
        let named = path.with_file_name(format!("costroom-upload-{job}-{}", sanitize(&name)));
        let outcome = match tokio::fs::rename(&path, &named).await {
            Err(e) => Err(format!("could not store the upload: {e}")),
            Ok(()) => match ledger_rules(&st.db, st.org).await {
                Err(e) => Err(e),
                Ok(rules) => import_focus(&st.db, st.org, &actor, &named, mode, &rules, |n| st.jobs.progress(&st.db, job, n)).await,
            }
                .map_err(|e| e.to_string())
                .map(|r| {
                    let mut text = format!(
                        "{name}: {} rows read, {} imported ({} billing periods; {} earlier lines replaced), {} rejected; billed {}, effective {}.",
                        group_thousands(r.rows),
                        group_thousands(r.imported),
                        r.periods,
                        group_thousands(r.replaced),
                        group_thousands(r.bad_rows),
                        r.billed.usd(),
                        r.effective.usd()
                    );
                    if r.bad_rows > 0 && r.imported == 0 {
                        text.push_str(" Nothing was imported (all or nothing).");
                    }
                    for e in r.errors.iter().take(20) {
                        text.push('\n');
                        text.push_str(&e.to_string());
                    }
                    text
                }),
        };
        let _ = tokio::fs::remove_file(&named).await;
        st.jobs.finish(&st.db, job, outcome).await;
        crate::server::services::jobs::signal::wake(crate::server::services::jobs::signal::Job::Evaluate);
    });
    Redirect::to(&format!("/settings/imports?job={job}")).into_response()
}

/// A file name safe to put in a path.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .take(100)
        .collect()
}

/// Largest provider-report page accepted (the APIs page at far less).
pub const MAX_REPORT_BYTES: usize = 16 * 1024 * 1024;

/// `POST /ledger/report`: one page of a provider usage or cost report uploaded from the Ledger
/// page (multipart: `kind`, `file`), imported at once; the outcome is shown as a finished job.
pub async fn report_upload_handler(
    State(st): State<AppState>,
    session: Session,
    request: Request,
) -> Result<Response, AppError> {
    let user = signed_in_with(&st, &session, Right::ImportBilling).await?;
    Ok(report_upload(st, user, request).await)
}

async fn report_upload(st: AppState, user: crate::server::db::UserRecord, request: Request) -> Response {
    use crate::server::services::reconcile::{import_report, ReportKind};
    let Ok(mut form) = Multipart::from_request(request, &st).await else {
        return Redirect::to("/ledger?error=form").into_response();
    };
    let (mut kind, mut body) = (String::new(), Vec::new());
    while let Ok(Some(field)) = form.next_field().await {
        match field.name() {
            Some("kind") => kind = field.text().await.unwrap_or_default(),
            Some("file") => match field.bytes().await {
                Ok(b) if b.len() <= MAX_REPORT_BYTES => body = b.to_vec(),
                _ => return Redirect::to("/ledger?error=too_large").into_response(),
            },
            _ => {}
        }
    }
    let job = match st.jobs.start(&st.db, st.org, "provider_report").await {
        Ok(j) => j,
        Err(_) => return Redirect::to("/ledger?error=storage").into_response(),
    };
    let actor = Actor::person(user.id, &user.email);
    let outcome = match (ReportKind::parse(&kind), String::from_utf8(body)) {
        (Err(e), _) => Err(e.to_string()),
        (_, Err(_)) => Err("file: not UTF-8 JSON".to_string()),
        (Ok(k), Ok(text)) => {
            import_report(&st.db, st.org, &actor, k, &text).await.map_err(|e| e.to_string()).map(|r| {
                format!(
                    "{}: {} lines, {} rows stored, cost {}, {} tokens.{}",
                    k.as_str(),
                    r.lines,
                    r.rows,
                    r.cost.usd(),
                    group_thousands(r.tokens.max(0) as u64),
                    if r.next_page.is_some() { " More pages follow: upload them too." } else { "" }
                )
            })
        }
    };
    st.jobs.finish(&st.db, job, outcome).await;
    crate::server::services::jobs::signal::wake(crate::server::services::jobs::signal::Job::Evaluate);
    Redirect::to(&format!("/ledger?job={job}")).into_response()
}

/// Largest outcome CSV accepted from the page (outcomes are a few lines a week).
const MAX_OUTCOMES_BYTES: usize = 4 * 1024 * 1024;

/// `POST /initiatives/{id}/outcomes`: a CSV of outcomes uploaded from an initiative's page by
/// its owner (or an admin). Answers with a redirect back to the page, which shows what was
/// recorded and each refused line.
pub async fn outcomes_upload_handler(
    State(st): State<AppState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    session: Session,
    request: Request,
) -> Result<Response, AppError> {
    let user = signed_in_with(&st, &session, Right::ManageInitiatives).await?;
    // rights first, then the path: a caller without them learns nothing from its shape
    let id = id.parse::<i64>().map_err(|_| AppError::NotFound(format!("initiative {id}")))?;
    Ok(outcomes_upload(st, user, id, request).await)
}

async fn outcomes_upload(
    st: AppState,
    user: crate::server::db::UserRecord,
    id: i64,
    request: Request,
) -> Response {
    use crate::server::services::initiatives::{import_outcomes, Importer};
    use crate::server::services::records::parse_records;
    let back = |q: String| Redirect::to(&format!("/initiatives/{id}?{q}#record")).into_response();
    let Ok(mut form) = Multipart::from_request(request, &st).await else {
        return back("import_error=form".into());
    };
    let mut bytes = Vec::new();
    while let Ok(Some(mut field)) = form.next_field().await {
        if field.name() != Some("file") {
            continue;
        }
        while let Ok(Some(chunk)) = field.chunk().await {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_OUTCOMES_BYTES {
                return back("import_error=too_large".into());
            }
        }
    }
    let records = match parse_records(&bytes, true) {
        Ok(r) => r,
        Err(e) => return back(format!("import_error={}", crate::domain::text::encode_query_value(&e))),
    };
    match import_outcomes(&st.db, st.org, &Importer::Person(&user), Some(id), &records).await {
        Ok(r) => {
            let errors: Vec<String> = r
                .errors
                .iter()
                .take(20)
                .map(|e| format!("line {}: {}: {}", e.at, e.field, e.reason))
                .collect();
            back(format!(
                "imported={}&duplicates={}&rejected={}&import_errors={}",
                r.accepted,
                r.duplicates,
                r.rejected,
                crate::domain::text::encode_query_value(&errors.join("\n"))
            ))
        }
        Err(e) => back(format!("import_error={}", crate::domain::text::encode_query_value(&e.to_string()))),
    }
}
