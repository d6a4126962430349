//! `build_router`: machine routes, Leptos pages and server functions, static site files.
use app::server::auth::{SESSION_COOKIE, SESSION_IDLE_HOURS};
use app::server::db::Db;
use app::server::http::{auth, authorize, exports, gateway, ingest, otlp, records, spend, uploads};
use app::server::state::AppState;
use app::{shell, App};
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, MethodRouter};
use axum::{Json, Router};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::{time::Duration, SameSite};
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// The router with the default [`Load`](crate::load::Load) limits.
pub fn build_router(state: AppState) -> Router {
    build_router_with(state, crate::load::Load::default())
}

pub fn build_router_with(state: AppState, load: crate::load::Load) -> Router {
    let routes = page_routes();
    let context_state = state.clone();
    let fallback_state = state.clone();
    let shell_options = state.leptos_options.clone();
    let secure = state.cookie_secure;
    let router =
        machine_routes().into_iter().fold(Router::new(), |r, (_, path, handler)| r.route(path, handler));
    let site_root = std::path::PathBuf::from(state.leptos_options.site_root.as_ref());
    let router = router
        .merge(crate::assets::routes(&site_root))
        // Also registers every #[server] fn under /api; the same context reaches renders and
        // server functions.
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context_state.clone()),
            move || shell(shell_options.clone()),
        )
        // Static files from the site root (WASM, CSS, ECharts), else the app's 404 page, which
        // renders the navigation (who is signed in) and so needs the same context.
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(
            move || provide_context(fallback_state.clone()),
            shell,
        ));
    // sessions in the application's database (see crate::sessions)
    let router = match &state.db {
        Db::Sqlite(s) => router.layer(sessions(
            crate::sessions::LaneStore::new(state.db.clone(), SqliteStore::new(s.pool.clone())),
            secure,
        )),
        Db::Postgres(p) => router.layer(sessions(PostgresStore::new(p.clone()), secure)),
    };
    router
        .layer(middleware::from_fn(refuse_cross_site_writes))
        .layer(middleware::map_response(crate::load::retry_after))
        // outermost after tracing: a refused request costs no session lookup, no body read
        .layer(middleware::from_fn_with_state(crate::load::Gate::new(load), crate::load::admit))
        // dynamic answers (pages, JSON, CSV) compressed as they go out, at a level that costs
        // little CPU; static files arrive precompressed and pass through untouched
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(4)))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The page routes, generated once per process. Generation renders the app with resource
/// loading suppressed through a process-wide flag (leptos_server's `SuppressResourceLoad`), so
/// generating again while other routers render (several routers in one process, as in the
/// tests) would make their pages skip their data.
fn page_routes() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Every route outside Leptos' pages and server functions. Add routes here and nowhere else:
/// the authorization test walks this list (and the registered server functions and pages) and
/// fails on any route its table does not list.
pub fn machine_routes() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    #[allow(unused_mut)]
    let mut routes = vec![
        (Method::GET, "/healthz", get(healthz)),
        (Method::POST, "/auth/signin", post(auth::sign_in_handler)),
        (Method::POST, "/auth/signout", post(auth::sign_out_handler)),
        (Method::POST, "/auth/setup", post(auth::setup_handler)),
        (Method::GET, "/api/v1/key", get(auth::key_info_handler)),
        (Method::GET, "/settings/audit.csv", get(exports::audit_csv_handler)),
        (Method::GET, "/ledger/focus.csv", get(exports::focus_csv_handler)),
        (Method::GET, "/guardrails/decisions.csv", get(exports::guardrail_decisions_csv_handler)),
        (Method::GET, "/reviews/{id}/export", get(exports::review_export_handler)),
        (Method::GET, "/api/v1/spend", get(spend::spend_handler)),
        (Method::POST, "/api/v1/events", post(ingest::events_handler)),
        (Method::POST, "/v1/traces", post(otlp::traces_handler)),
        (Method::POST, "/api/v1/ledger/gpu-usage", post(records::gpu_usage_handler)),
        (Method::POST, "/api/v1/ledger/training-runs", post(records::training_runs_handler)),
        (Method::POST, "/api/v1/ledger/commitments", post(records::commitments_handler)),
        (Method::POST, "/api/v1/outcomes", post(records::outcomes_handler)),
        (Method::POST, "/api/v1/authorize", post(authorize::authorize_handler)),
        (Method::POST, "/api/v1/authorize/{id}/settle", post(authorize::settle_handler)),
        // every method: the provider APIs also have GET and DELETE routes (models, batches)
        (Method::POST, "/gateway/openai/v1/{*path}", any(gateway::openai_handler)),
        (Method::POST, "/gateway/anthropic/v1/{*path}", any(gateway::anthropic_handler)),
        (
            Method::POST,
            "/initiatives/{id}/outcomes",
            post(uploads::outcomes_upload_handler)
                .layer(axum::extract::DefaultBodyLimit::max(8 * 1024 * 1024)),
        ),
        (
            Method::POST,
            "/ledger/report",
            post(uploads::report_upload_handler)
                .layer(axum::extract::DefaultBodyLimit::max(uploads::MAX_REPORT_BYTES + 64 * 1024)),
        ),
        (
            Method::POST,
            "/ledger/focus",
            post(uploads::focus_upload_handler)
                .layer(axum::extract::DefaultBodyLimit::max(uploads::MAX_UPLOAD_BYTES)),
        ),
    ];
    // the authorize benchmark's baseline: the same server, middleware and body, no work
    // (only in benchmark builds)
    #[cfg(feature = "bench")]
    routes.push((
        Method::POST,
        "/bench/noop",
        post(|_: axum::body::Bytes| async { axum::http::StatusCode::NO_CONTENT }),
    ));
    routes
}

/// `costroom serve --gateway-only`: the gateway's routes and the health check, nothing else
/// (no pages, sessions or other API), for a gateway tier scaled apart from the dashboards.
pub fn build_gateway_router(state: AppState) -> Router {
    machine_routes()
        .into_iter()
        .filter(|(_, path, _)| path.starts_with("/gateway/") || *path == "/healthz")
        .fold(Router::new(), |r, (_, path, handler)| r.route(path, handler))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

fn sessions<S: SessionStore + Clone>(store: S, secure: bool) -> SessionManagerLayer<S> {
    SessionManagerLayer::new(store)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(Duration::hours(SESSION_IDLE_HOURS)))
}

/// CSRF defence for cookie-authenticated writes, with `SameSite=Lax`: a state-changing request
/// whose `Origin` is another site is refused. Browsers send `Origin` on every cross-site POST;
/// machine clients authenticate with API keys, not cookies.
async fn refuse_cross_site_writes(req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let origin_host = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, h)| h);
            let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok());
            if origin_host.is_none() || origin_host != host {
                tracing::warn!(origin = ?origin, "cross-site write refused");
                return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
            }
        }
    }
    next.run(req).await
}

/// 200 when the database answers, 503 otherwise; the body says which backend.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let backend = state.db.backend();
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({ "status": "ok", "database": backend }))),
        Err(e) => {
            tracing::error!(error = ?e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "unavailable", "database": backend })),
            )
        }
    }
}
