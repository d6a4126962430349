//! HTTP tests against the real router (`build_router`), one request at a time through
//! `tower::ServiceExt::oneshot`, on a fresh database per test.
use app::api::GetOverview;
use app::domain::{Nanos, Overview, UsageEvent};
use app::on_both;
use app::server::db::Db;
use app::server::state::{AppState, Clock};
use app::server::testing::TestDb;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{NaiveDate, TimeZone, Utc};
use http_body_util::BodyExt;
use leptos::config::LeptosOptions;
use leptos::server_fn::ServerFn;
use tower::ServiceExt;

const TODAY: &str = "2026-11-10";

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn ev(id: &str, day: &str, hour: u32, cost: i64) -> UsageEvent {
    UsageEvent {
        event_id: id.into(),
        occurred_at: Utc.from_utc_datetime(&d(day).and_hms_opt(hour, 0, 0).unwrap()),
        provider: "anthropic".into(),
        model: "claude-haiku-4-5".into(),
        team: Some("support".into()),
        feature: Some("ticket-triage".into()),
        initiative: None,
        customer: None,
        environment: Some("prod".into()),
        input_tokens: 100,
        output_tokens: 10,
        request_count: 1,
        cost: Nanos(cost),
    }
}

/// A router over a database holding known events, and a site root with one static file.
async fn app_with_events(db: &Db) -> axum::Router {
    let org = db.ensure_org("default", "Default").await.unwrap();
    db.insert_usage_events(
        org,
        &[
            ev("a", "2026-10-03", 9, 1_500_000_000), // $1.50 last month, within "same days"
            ev("b", "2026-11-01", 0, 2_000_000_001), // first instant of the month
            ev("c", "2026-11-07", 23, 10_123_456_789), // $10.12...
            ev("d", "2026-11-10", 12, 1),
        ],
    )
    .await
    .unwrap();
    let site = std::env::temp_dir().join(format!("costroom-site-{}", std::process::id()));
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    std::fs::write(site.join("pkg/costroom.css"), "body{}").unwrap();
    let leptos_options = LeptosOptions::builder()
        .output_name("costroom")
        .site_root(site.to_str().unwrap().to_string())
        .build();
    server::build_router(AppState { leptos_options, db: db.clone(), org, clock: Clock::Fixed(d(TODAY)) })
}

async fn send(app: &axum::Router, req: Request<Body>) -> (StatusCode, String) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post_form(uri: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn healthz_reports_the_backend(db: Db) {
    let app = app_with_events(&db).await;
    let (status, body) = send(&app, get("/healthz")).await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["database"], db.backend());
}
on_both!(healthz_reports_the_backend);

async fn healthz_is_503_when_the_database_is_gone(db: Db) {
    let app = app_with_events(&db).await;
    db.close().await;
    let (status, body) = send(&app, get("/healthz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("unavailable"), "{body}");
}
on_both!(healthz_is_503_when_the_database_is_gone);

async fn overview_server_fn_returns_exact_figures(db: Db) {
    let app = app_with_events(&db).await;
    let (status, body) = send(&app, post_form(GetOverview::PATH, "from=2026-11-01&to=2026-11-07")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let o: Overview = serde_json::from_str(&body).unwrap();
    assert_eq!(o.today, d(TODAY));
    assert_eq!(o.mtd, Nanos(12_123_456_791));
    assert_eq!(o.prev_mtd, Nanos(1_500_000_000));
    assert_eq!(o.range_total, Nanos(12_123_456_790), "Nov 1..=7 excludes Nov 10");
    assert_eq!(o.range_requests, 2);
    assert_eq!(o.daily.len(), 7);
    assert_eq!(o.daily[6].cost, Nanos(10_123_456_789));
    // 12.123456791 / 10 days × 30 days
    assert_eq!(o.projected_month_end, Nanos(36_370_370_373));
}
on_both!(overview_server_fn_returns_exact_figures);

async fn overview_server_fn_rejects_bad_dates_naming_the_field(db: Db) {
    let app = app_with_events(&db).await;
    let (status, body) = send(&app, post_form(GetOverview::PATH, "from=2026-11-08&to=2026-11-01")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("from: 2026-11-08 is after to: 2026-11-01"), "{body}");
    let (status, body) = send(&app, post_form(GetOverview::PATH, "to=31/12/2026")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("to: '31/12/2026' is not a date"), "{body}");
}
on_both!(overview_server_fn_rejects_bad_dates_naming_the_field);

async fn overview_page_is_server_rendered_with_figures(db: Db) {
    let app = app_with_events(&db).await;
    let (status, html) = send(&app, get("/?from=2026-11-01&to=2026-11-07")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-testid=\"kpi-mtd\""), "{html}");
    assert!(html.contains("$12.12"), "month to date in the HTML");
    assert!(html.contains("$1.50"), "last month's same days in the HTML");
    assert!(html.contains("id=\"chart-daily-spend\""));
    assert!(html.contains("value=\"2026-11-01\""), "the form shows the range");
    assert!(html.contains("/vendor/echarts.min.js"), "echarts is self-hosted");
    assert!(!html.contains("cdn"), "no CDN anywhere");
}
on_both!(overview_page_is_server_rendered_with_figures);

async fn bad_range_on_the_page_shows_the_error(db: Db) {
    let app = app_with_events(&db).await;
    let (status, html) = send(&app, get("/?from=tomorrow")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("from: &#x27;tomorrow&#x27; is not a date")
            || html.contains("from: 'tomorrow' is not a date"),
        "{html}"
    );
}
on_both!(bad_range_on_the_page_shows_the_error);

#[tokio::test]
async fn unknown_paths_are_404_and_static_files_are_served() {
    let t = TestDb::sqlite().await;
    let app = app_with_events(&t.db).await;
    let (status, html) = send(&app, get("/no/such/page")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Page not found"), "{html}");
    let (status, css) = send(&app, get("/pkg/costroom.css")).await;
    assert_eq!((status, css.as_str()), (StatusCode::OK, "body{}"));
    for section in [
        "/spend",
        "/budgets",
        "/initiatives",
        "/anomalies",
        "/guardrails",
        "/reviews",
        "/maturity",
        "/settings",
    ] {
        let (status, html) = send(&app, get(section)).await;
        assert_eq!(status, StatusCode::OK, "{section}");
        assert!(html.contains("Coming soon"), "{section}");
    }
    t.finish().await;
}

#[test]
fn server_function_urls_do_not_depend_on_the_build_directory() {
    assert_eq!(GetOverview::PATH, "/api/get_overview");
}
