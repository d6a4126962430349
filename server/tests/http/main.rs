//! HTTP tests against the real router (`build_router`), one request at a time through
//! `tower::ServiceExt::oneshot`, on a fresh database per test.
use app::api::GetOverview;
use app::domain::{Nanos, Overview, UsageEvent};
use app::on_both;
use app::server::db::Db;
use app::server::services::keys::KeyHasher;
use app::server::services::users::{add_user, AddUser};
use app::server::startup;
use app::server::testing::TestDb;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{NaiveDate, TimeZone, Utc};
use http_body_util::BodyExt;
use leptos::config::LeptosOptions;
use leptos::server_fn::ServerFn;
use tower::ServiceExt;

mod assets;
mod auth;
mod consistency;
mod gateway;
mod guardrails;
mod ingest;
mod openapi;
mod outcomes;
mod pages;
mod props;
mod scopes;
mod webhooks;

pub(crate) use ingest::ingest_app;
pub(crate) use pages::read_key;

const TODAY: &str = "2026-11-10";

pub(crate) fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub(crate) fn ev(id: &str, day: &str, hour: u32, cost: i64) -> UsageEvent {
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
        tokens: app::domain::pricing::Tokens { input: 100, output: 10, ..Default::default() },
        request_count: 1,
        cost: Nanos(cost),
        ..Default::default()
    }
}

const VIEWER: &str = "viewer@example.com";
const PASSWORD: &str = "a viewer's long password";

/// A router over a database holding known events and one viewer, and a site root with one
/// static file.
pub(crate) async fn app_with_events(db: &Db) -> axum::Router {
    app_with(db, false).await
}

pub(crate) async fn app_with(db: &Db, cookie_secure: bool) -> axum::Router {
    app_with_load(db, cookie_secure, server::load::Load::default()).await
}

pub(crate) async fn app_with_load(db: &Db, cookie_secure: bool, load: server::load::Load) -> axum::Router {
    app_tuned(db, load, |o| o.cookie_secure = cookie_secure).await
}

/// [`app_with`] with its start options changed by `tune`.
pub(crate) async fn app_tuned(
    db: &Db,
    load: server::load::Load,
    tune: impl FnOnce(&mut startup::Options),
) -> axum::Router {
    let org = db.ensure_org("default", "Default").await.unwrap();
    if db.count_users().await.unwrap() == 0 {
        let viewer = AddUser {
            email: VIEWER.into(),
            name: "Vi".into(),
            role: app::domain::Role::Viewer,
            password: PASSWORD.into(),
            team: None,
        };
        add_user(db, org, &app::server::db::Actor::cli(), viewer).await.unwrap();
    }
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
    let mut opts = startup::Options::for_tests(d(TODAY));
    opts.leptos_options = LeptosOptions::builder()
        .output_name("costroom")
        .site_root(site.to_str().unwrap().to_string())
        .build();
    tune(&mut opts);
    checked(server::build_router_with(startup::state(db, org, opts).await.unwrap(), load))
}

/// The router with every machine-API answer checked against `public/openapi.json`.
pub(crate) fn checked(router: axum::Router) -> axum::Router {
    router.layer(axum::middleware::from_fn(openapi::conform))
}

/// Signs in through the real form post; returns the `name=value` of the session cookie.
pub(crate) async fn sign_in(
    app: &axum::Router,
    email: &str,
    password: &str,
    cookie: Option<&str>,
) -> Option<String> {
    let body = format!(
        "email={}&password={}&next=%2F",
        email.replace('@', "%40"),
        password.replace(' ', "+").replace('\'', "%27")
    );
    let mut req = Request::post("/auth/signin").header("content-type", "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = app.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    let set = res.headers().get("set-cookie").map(|v| v.to_str().unwrap().to_string())?;
    Some(set.split(';').next().unwrap().to_string())
}

pub(crate) fn with_cookie(mut req: Request<Body>, cookie: &str) -> Request<Body> {
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    req
}

pub(crate) async fn send(app: &axum::Router, req: Request<Body>) -> (StatusCode, String) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

pub(crate) fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

pub(crate) fn post_form(uri: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

pub(crate) async fn healthz_reports_the_backend(db: Db) {
    let app = app_with_events(&db).await;
    let (status, body) = send(&app, get("/healthz")).await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["database"], db.backend());
}
on_both!(healthz_reports_the_backend);

pub(crate) async fn healthz_is_503_when_the_database_is_gone(db: Db) {
    let app = app_with_events(&db).await;
    db.close().await;
    let (status, body) = send(&app, get("/healthz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("unavailable"), "{body}");
}
on_both!(healthz_is_503_when_the_database_is_gone);

pub(crate) async fn overview_server_fn_returns_exact_figures(db: Db) {
    let app = app_with_events(&db).await;
    let cookie = sign_in(&app, VIEWER, PASSWORD, None).await.expect("signed in");
    let req = with_cookie(post_form(GetOverview::PATH, "from=2026-11-01&to=2026-11-07"), &cookie);
    let (status, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let o: Overview = serde_json::from_value(json["data"].clone()).unwrap();
    assert_eq!(o.today, d(TODAY));
    assert_eq!(o.mtd, Nanos(12_123_456_791));
    assert_eq!(o.prev_mtd, Nanos(1_500_000_000));
    assert_eq!(o.range_total, Nanos(12_123_456_790), "Nov 1..=7 excludes Nov 10");
    assert_eq!(o.range_requests, 2);
    assert_eq!(o.daily.len(), 7);
    assert_eq!(o.daily[6].cost, Nanos(10_123_456_789));
    // the whole days before today (Nov 1–9: $12.12345679) plus the forecast of the rest
    assert!(o.projected_month_end.point >= Nanos(12_123_456_790), "{:?}", o.projected_month_end);
    assert!(o.projected_month_end.low <= o.projected_month_end.point);
    // the chart comes built, beside the figures: ECharts JSON with the days' dollars
    let option: serde_json::Value =
        serde_json::from_str(json["charts"][0]["option"].as_str().unwrap()).unwrap();
    assert_eq!(option["series"][0]["data"][6], serde_json::json!(10.12));
    assert_eq!(option["xAxis"]["data"][6], "2026-11-07");
    assert_eq!(option["tooltip"]["valueFormatter"], "money");
}
on_both!(overview_server_fn_returns_exact_figures);

pub(crate) async fn overview_server_fn_rejects_bad_dates_naming_the_field(db: Db) {
    let app = app_with_events(&db).await;
    let cookie = sign_in(&app, VIEWER, PASSWORD, None).await.expect("signed in");
    let req = with_cookie(post_form(GetOverview::PATH, "from=2026-11-08&to=2026-11-01"), &cookie);
    let (status, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("from: 2026-11-08 is after to: 2026-11-01"), "{body}");
    let (status, body) =
        send(&app, with_cookie(post_form(GetOverview::PATH, "to=31/12/2026"), &cookie)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("to: '31/12/2026' is not a date"), "{body}");
}
on_both!(overview_server_fn_rejects_bad_dates_naming_the_field);

pub(crate) async fn overview_page_is_server_rendered_with_figures(db: Db) {
    let app = app_with_events(&db).await;
    let cookie = sign_in(&app, VIEWER, PASSWORD, None).await.expect("signed in");
    let (status, html) = send(&app, with_cookie(get("/?from=2026-11-01&to=2026-11-07"), &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-testid=\"kpi-mtd\""), "{html}");
    assert!(html.contains("$12.12"), "month to date in the HTML");
    // the fixture has spend on Oct 3 only: the same days of last month (Oct 1-10) hold 1 day of data
    assert!(
        html.contains("no change shown: the same days last month hold spend on 1 of 10 days"),
        "the comparison is withheld, and why: {}",
        html.split("no change shown").nth(1).map(|s| &s[..s.len().min(120)]).unwrap_or("(no note)")
    );
    assert!(html.contains("id=\"chart-daily-spend\""));
    assert!(html.contains("value=\"2026-11-01\""), "the form shows the range");
    assert!(html.contains("/vendor/echarts.min.js"), "echarts is self-hosted");
    assert!(!html.contains("cdn"), "no CDN anywhere");
}
on_both!(overview_page_is_server_rendered_with_figures);

pub(crate) async fn bad_range_on_the_page_shows_the_error(db: Db) {
    let app = app_with_events(&db).await;
    let cookie = sign_in(&app, VIEWER, PASSWORD, None).await.expect("signed in");
    let (status, html) = send(&app, with_cookie(get("/?from=tomorrow"), &cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("from: &#x27;tomorrow&#x27; is not a date")
            || html.contains("from: 'tomorrow' is not a date"),
        "{html}"
    );
}
on_both!(bad_range_on_the_page_shows_the_error);

#[tokio::test]
pub(crate) async fn unknown_paths_are_404_and_static_files_are_served() {
    let t = TestDb::sqlite().await;
    let app = app_with_events(&t.db).await;
    let (status, html) = send(&app, get("/no/such/page")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Page not found"), "{html}");
    let (status, css) = send(&app, get("/pkg/costroom.css")).await;
    assert_eq!((status, css.as_str()), (StatusCode::OK, "body{}"));
    let cookie = sign_in(&app, VIEWER, PASSWORD, None).await.expect("signed in");
    let section = "/guardrails";
    let (status, html) = send(&app, with_cookie(get(section), &cookie)).await;
    assert_eq!(status, StatusCode::OK, "{section}");
    assert!(html.contains("data-testid=\"no-rules\""), "{section}: {html}");
    assert!(!html.contains("data-testid=\"rule-form\""), "a viewer gets no form: {html}");
    let res = app.clone().oneshot(html_get(section)).await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND, "{section} needs a sign-in");
    assert_eq!(res.headers()["location"], format!("/signin?next={section}").as_str());
    t.finish().await;
}

#[test]
pub(crate) fn server_function_urls_do_not_depend_on_the_build_directory() {
    assert_eq!(GetOverview::PATH, "/api/get_overview");
}

pub(crate) fn html_get(uri: &str) -> Request<Body> {
    Request::get(uri).header("accept", "text/html").body(Body::empty()).unwrap()
}
