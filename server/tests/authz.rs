//! The authorization table: every server function, machine route and page, with what each
//! kind of caller (anonymous, and each role) gets. It fails when something exists that the
//! table does not list, so a new endpoint cannot ship without a decision about who may call it.
use std::collections::BTreeSet;

use app::domain::Role;
use app::server::services::auth::ensure_demo_users;
use app::server::services::keys::KeyHasher;
use app::server::state::{AppState, Clock};
use app::server::testing::TestDb;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::NaiveDate;
use leptos::config::LeptosOptions;
use tower::ServiceExt;

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Anyone, signed in or not (sign-in itself, health, setup status).
    Public,
    /// Any signed-in role; anonymous callers are refused (401, or a redirect to sign-in for pages).
    SignedIn,
    /// Only with an API key (`Authorization: Bearer`); a browser session is not enough.
    ApiKey,
}
use Access::*;

/// (method, path, access). Server functions are POST under /api, pages GET.
const TABLE: &[(&str, &str, Access)] = &[
    // server functions
    ("POST", "/api/get_overview", SignedIn),
    ("POST", "/api/whoami", Public),
    ("POST", "/api/setup_needed", Public),
    // machine routes
    ("GET", "/healthz", Public),
    ("POST", "/auth/signin", Public),
    ("POST", "/auth/signout", Public),
    ("POST", "/auth/setup", Public),
    ("GET", "/api/v1/key", ApiKey),
    // pages
    ("GET", "/", SignedIn),
    ("GET", "/signin", Public),
    ("GET", "/setup", Public),
    ("GET", "/spend", SignedIn),
    ("GET", "/budgets", SignedIn),
    ("GET", "/initiatives", SignedIn),
    ("GET", "/anomalies", SignedIn),
    ("GET", "/guardrails", SignedIn),
    ("GET", "/reviews", SignedIn),
    ("GET", "/maturity", SignedIn),
    ("GET", "/settings", SignedIn),
];

/// Listing the pages renders the app in route-generation mode; run it before, not beside, the
/// requests of the other check (one test, so the two never overlap).
fn the_table_lists_every_server_function_route_and_page() {
    let listed: BTreeSet<(String, String)> =
        TABLE.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
    let mut existing = BTreeSet::new();
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        existing.insert((method.to_string(), path.to_string()));
    }
    for (method, path, _) in server::router::machine_routes() {
        existing.insert((method.to_string(), path.to_string()));
    }
    for route in leptos_axum::generate_route_list(app::App) {
        existing.insert(("GET".to_string(), route.path().to_string()));
    }
    let missing: Vec<_> = existing.difference(&listed).collect();
    assert!(missing.is_empty(), "endpoints without an authorization decision: {missing:?}");
    let stale: Vec<_> = listed.difference(&existing).collect();
    assert!(stale.is_empty(), "table rows for endpoints that no longer exist: {stale:?}");
}

async fn cookie_for(app: &axum::Router, role: Role) -> String {
    let body = format!("email={role}%40demo.costroom.example&password=demo-{role}-password");
    let req = Request::post("/auth/signin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let set = res.headers().get("set-cookie").unwrap_or_else(|| panic!("{role} signs in")).to_str().unwrap();
    set.split(';').next().unwrap().to_string()
}

/// Whether the answer let the caller in: 401/403 and redirects to sign-in mean no.
fn admitted(status: StatusCode, location: Option<&str>) -> bool {
    let to_sign_in = location.is_some_and(|l| l.starts_with("/signin?next="));
    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN && !to_sign_in
}

#[tokio::test]
async fn the_table_is_complete_and_every_caller_gets_what_it_says() {
    the_table_lists_every_server_function_route_and_page();
    let t = TestDb::sqlite().await;
    let org = t.db.ensure_org("default", "Default").await.unwrap();
    ensure_demo_users(&t.db, org).await.unwrap();
    let keys = KeyHasher::load(&t.db).await.unwrap();
    let leptos_options = LeptosOptions::builder().output_name("costroom").site_root("/nonexistent").build();
    let today = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let state = AppState {
        leptos_options,
        db: t.db.clone(),
        org,
        clock: Clock::Fixed(today),
        cookie_secure: false,
        keys,
    };
    let app = server::build_router(state);

    let mut callers: Vec<(String, Option<String>)> = vec![("anonymous".into(), None)];
    for role in Role::ALL {
        callers.push((role.to_string(), Some(cookie_for(&app, role).await)));
    }
    let mut failures = vec![];
    for (method, path, access) in TABLE {
        // sign-out would end the caller's session for the rows after it
        if *path == "/auth/signout" {
            continue;
        }
        for (who, cookie) in &callers {
            let mut req = Request::builder()
                .method(Method::from_bytes(method.as_bytes()).unwrap())
                .uri(*path)
                .header("accept", "text/html")
                .header("content-type", "application/x-www-form-urlencoded");
            if let Some(c) = cookie {
                req = req.header("cookie", c);
            }
            let res = app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
            let location = res.headers().get("location").map(|l| l.to_str().unwrap().to_string());
            let got = admitted(res.status(), location.as_deref());
            let expected = match access {
                Public => true,
                SignedIn => cookie.is_some(),
                ApiKey => false, // no browser session opens a machine route
            };
            if got != expected {
                failures
                    .push(format!("{method} {path} as {who}: status {} location {location:?}", res.status()));
            }
        }
    }
    assert!(failures.is_empty(), "authorization table violated:\n{}", failures.join("\n"));
    t.finish().await;
}
