//! `GET /api/v1/spend`: the explorer's numbers for spreadsheets and BI tools. Takes the
//! explorer's parameters (the query string of any `/spend` URL) plus `format=json|csv` and, for
//! CSV, `shape=table|series`. Authenticated by a `read`-scoped API key (`Authorization:
//! Bearer …`) or by a signed-in session, so the page's "Export CSV" link is the same URL.
//! Answers what the explorer shows, from the same code.
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;
use tower_sessions::Session;

use crate::domain::api_key::Scope;
use crate::domain::explore::{decode_pairs, Dim, SpendView, TABLE_METRICS};
use crate::domain::money::share_pct;
use crate::error::AppError;
use crate::server::auth::user_of;
use crate::server::db::OrgId;
use crate::server::services;
use crate::server::state::AppState;

enum Format {
    Json,
    TableCsv,
    SeriesCsv,
}

pub async fn spend_handler(
    State(st): State<AppState>,
    session: Session,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let org = caller_org(&st, &session, &headers).await?;
    let mut pairs = decode_pairs(query.as_deref().unwrap_or(""));
    let take = |pairs: &mut Vec<(String, String)>, key: &str| {
        let v = pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        pairs.retain(|(k, _)| k != key);
        v
    };
    let format = take(&mut pairs, "format");
    let shape = take(&mut pairs, "shape");
    let format = match (format.as_deref().unwrap_or("json"), shape.as_deref().unwrap_or("table")) {
        ("json", _) => Format::Json,
        ("csv", "table") => Format::TableCsv,
        ("csv", "series") => Format::SeriesCsv,
        ("csv", s) => return Err(AppError::Malformed(format!("shape: '{s}' is neither table nor series"))),
        (f, _) => return Err(AppError::Malformed(format!("format: '{f}' is neither json nor csv"))),
    };
    let view = services::spend::explore(&st.db, org, st.clock.today(), &pairs).await?;
    Ok(match format {
        Format::Json => axum::Json(to_json(&view)).into_response(),
        Format::TableCsv => csv(view.table_csv(), "costroom-spend.csv"),
        Format::SeriesCsv => csv(view.series_csv(), "costroom-spend-series.csv"),
    })
}

/// The organisation of a read key, or of the signed-in person.
async fn caller_org(st: &AppState, session: &Session, headers: &HeaderMap) -> Result<OrgId, AppError> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let key =
            services::keys::authenticate(&st.db, &st.keys, auth.to_str().ok(), Some(Scope::Read), Utc::now())
                .await?;
        return Ok(OrgId(key.org_id));
    }
    user_of(session, st).await?.ok_or(AppError::Unauthorized)?;
    Ok(st.org)
}

fn csv(body: String, name: &str) -> Response {
    super::attachment(body, super::CSV, name)
}

/// Exact integers (nanos, counts) next to the shown figures, so BI tools never parse `$1,234.56`.
fn to_json(v: &SpendView) -> serde_json::Value {
    let q = &v.query;
    let figures = |s: &crate::domain::rollup::Sums| {
        let mut m = serde_json::Map::new();
        m.insert("cost_nanos".into(), json!(s.cost_nanos));
        for metric in TABLE_METRICS {
            m.insert(metric.column().into(), json!(metric.of(s).plain(metric)));
        }
        m.insert("events".into(), json!(s.events));
        m
    };
    let table: Vec<serde_json::Value> = v
        .table
        .iter()
        .map(|g| {
            let mut m = figures(&g.sums);
            m.insert("group".into(), json!(g.group));
            m.insert("share_pct".into(), json!(share_pct(g.sums.cost_nanos, v.total.cost_nanos)));
            serde_json::Value::Object(m)
        })
        .collect();
    let metric = q.metric;
    json!({
        "query": q.to_query_string(),
        "group_by": q.group.as_ref().map(Dim::key),
        "from": q.range.from,
        "to": q.range.to,
        "granularity": q.granularity.as_str(),
        "metric": metric.as_str(),
        "answered_from": if v.from_rollups { "rollups" } else { "raw" },
        "buckets": v.buckets.iter().map(|b| q.granularity.label_of(*b)).collect::<Vec<_>>(),
        "series": v.series.iter().map(|s| json!({
            "name": s.name,
            "values": s.values.iter().map(|x| metric.of(x).plain(metric)).collect::<Vec<_>>(),
            "cost_nanos": s.values.iter().map(|x| x.cost_nanos).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "table": table,
        "total": serde_json::Value::Object(figures(&v.total)),
    })
}
