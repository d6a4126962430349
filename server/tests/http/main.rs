//! HTTP tests against the real router (`build_router`), one request at a time through
//! `tower::ServiceExt::oneshot`, on a fresh database per test.
use app::api::GetOverview;
use app::domain::{Nanos, Overview, UsageEvent};
use app::on_both;
use app::server::db::Db;
use app::server::services::keys::KeyHasher;
use app::server::services::users::{add_user, AddUser};
use app::server::state::{AppState, Clock};
use app::server::testing::TestDb;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{NaiveDate, TimeZone, Utc};
use http_body_util::BodyExt;
use leptos::config::LeptosOptions;
use leptos::server_fn::ServerFn;
use tower::ServiceExt;

mod props;

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
async fn app_with_events(db: &Db) -> axum::Router {
    app_with(db, false).await
}

async fn app_with(db: &Db, cookie_secure: bool) -> axum::Router {
    app_with_load(db, cookie_secure, server::load::Load::default()).await
}

async fn app_with_load(db: &Db, cookie_secure: bool, load: server::load::Load) -> axum::Router {
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
    let leptos_options = LeptosOptions::builder()
        .output_name("costroom")
        .site_root(site.to_str().unwrap().to_string())
        .build();
    let keys = KeyHasher::load(db).await.unwrap();
    server::build_router_with(
        AppState {
            leptos_options,
            db: db.clone(),
            org,
            clock: Clock::Fixed(d(TODAY)),
            cookie_secure,
            keys,
            prices: Default::default(),
            jobs: Default::default(),
            egress: app::server::services::webhooks::Egress::new(
                app::domain::egress::AllowList::parse("127.0.0.1").unwrap(),
            ),
        },
        load,
    )
}

/// Signs in through the real form post; returns the `name=value` of the session cookie.
async fn sign_in(app: &axum::Router, email: &str, password: &str, cookie: Option<&str>) -> Option<String> {
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

fn with_cookie(mut req: Request<Body>, cookie: &str) -> Request<Body> {
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    req
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
    let cookie = sign_in(&app, VIEWER, PASSWORD, None).await.expect("signed in");
    let req = with_cookie(post_form(GetOverview::PATH, "from=2026-11-01&to=2026-11-07"), &cookie);
    let (status, body) = send(&app, req).await;
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

async fn overview_page_is_server_rendered_with_figures(db: Db) {
    let app = app_with_events(&db).await;
    let cookie = sign_in(&app, VIEWER, PASSWORD, None).await.expect("signed in");
    let (status, html) = send(&app, with_cookie(get("/?from=2026-11-01&to=2026-11-07"), &cookie)).await;
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
async fn unknown_paths_are_404_and_static_files_are_served() {
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
    assert!(html.contains("Coming soon"), "{section}");
    let res = app.clone().oneshot(html_get(section)).await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND, "{section} needs a sign-in");
    assert_eq!(res.headers()["location"], format!("/signin?next={section}").as_str());
    t.finish().await;
}

#[test]
fn server_function_urls_do_not_depend_on_the_build_directory() {
    assert_eq!(GetOverview::PATH, "/api/get_overview");
}

fn html_get(uri: &str) -> Request<Body> {
    Request::get(uri).header("accept", "text/html").body(Body::empty()).unwrap()
}

async fn sign_in_response(app: &axum::Router, body: &str) -> (StatusCode, Option<String>, Option<String>) {
    let req = Request::post("/auth/signin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body.to_string()))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let h = |n: &str| res.headers().get(n).map(|v| v.to_str().unwrap().to_string());
    (res.status(), h("location"), h("set-cookie"))
}

async fn anonymous_callers_are_refused_and_sent_to_sign_in(db: Db) {
    let app = app_with_events(&db).await;
    let (status, body) = send(&app, post_form(GetOverview::PATH, "")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(!body.contains("12.12"), "no figures for anonymous callers");
    let res = app.clone().oneshot(html_get("/?from=2026-11-01")).await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/signin?next=/%3Ffrom%3D2026-11-01");
}
on_both!(anonymous_callers_are_refused_and_sent_to_sign_in);

async fn sign_in_sets_a_strict_cookie_and_cycles_the_session_id(db: Db) {
    let app = app_with_events(&db).await;
    let req = Request::post("/auth/signin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(
            "email=viewer%40example.com&password=a+viewer%27s+long+password&next=%2F%3Ffrom%3D2026-11-01",
        ))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/?from=2026-11-01", "back to where the person was going");
    let set = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set.starts_with("costroom_session="), "{set}");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=28800"] {
        assert!(set.contains(attr), "{attr} missing in {set}");
    }
    assert!(!set.contains("Secure"), "no Secure flag on plain-HTTP localhost: {set}");

    let first = set.split(';').next().unwrap().to_string();
    let second = sign_in(&app, VIEWER, PASSWORD, Some(&first)).await.expect("signed in again");
    assert_ne!(first, second, "a new session id at every sign-in");
    // the replaced id is dead: replaying it is refused
    let (status, _) = send(&app, with_cookie(post_form(GetOverview::PATH, ""), &first)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = send(&app, with_cookie(post_form(GetOverview::PATH, ""), &second)).await;
    assert_eq!(status, StatusCode::OK);

    let secure_app = app_with(&db, true).await;
    let (_, _, set) =
        sign_in_response(&secure_app, "email=viewer%40example.com&password=a+viewer%27s+long+password").await;
    assert!(set.unwrap().contains("Secure"), "Secure when configured");
}
on_both!(sign_in_sets_a_strict_cookie_and_cycles_the_session_id);

async fn sign_out_deletes_the_session_so_a_copied_cookie_is_refused(db: Db) {
    let app = app_with_events(&db).await;
    let cookie = sign_in(&app, VIEWER, PASSWORD, None).await.unwrap();
    let res = app
        .clone()
        .oneshot(with_cookie(Request::post("/auth/signout").body(Body::empty()).unwrap(), &cookie))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/signin?signed_out=1");
    let (status, _) = send(&app, with_cookie(post_form(GetOverview::PATH, ""), &cookie)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old cookie no longer signs anyone in");
}
on_both!(sign_out_deletes_the_session_so_a_copied_cookie_is_refused);

async fn unknown_user_and_wrong_password_get_identical_answers(db: Db) {
    let app = app_with_events(&db).await;
    let wrong_password =
        sign_in_response(&app, "email=viewer%40example.com&password=not+the+password&next=%2F").await;
    let unknown_user =
        sign_in_response(&app, "email=nobody%40example.com&password=not+the+password&next=%2F").await;
    let malformed = sign_in_response(&app, "email=nobody&password=x&next=%2F").await;
    assert_eq!(wrong_password, unknown_user);
    assert_eq!(wrong_password, malformed);
    assert_eq!(
        wrong_password,
        (StatusCode::SEE_OTHER, Some("/signin?error=credentials&next=/".to_string()), None),
        "no session for a failed sign-in"
    );
}
on_both!(unknown_user_and_wrong_password_get_identical_answers);

#[tokio::test]
async fn cross_site_posts_are_refused_and_open_redirects_ignored() {
    let t = TestDb::sqlite().await;
    let app = app_with_events(&t.db).await;
    let req = Request::post("/auth/signin")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("host", "127.0.0.1:3000")
        .header("origin", "https://evil.example")
        .body(Body::from("email=viewer%40example.com&password=a+viewer%27s+long+password"))
        .unwrap();
    let (status, _) = send(&app, req).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let req = Request::post("/auth/signin")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("host", "127.0.0.1:3000")
        .header("origin", "http://127.0.0.1:3000")
        .body(Body::from(
            "email=viewer%40example.com&password=a+viewer%27s+long+password&next=https%3A%2F%2Fevil.example",
        ))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "same-origin post accepted");
    assert_eq!(res.headers()["location"], "/", "an off-site next is replaced by /");
    t.finish().await;
}

async fn repeated_failures_throttle_the_account_then_the_owner_gets_back_in(db: Db) {
    let app = app_with_events(&db).await;
    let attempt = |email: &'static str, password: &'static str, ip: [u8; 4]| {
        let app = app.clone();
        async move {
            let body = format!(
                "email={}&password={}&next=%2F",
                email.replace('@', "%40"),
                password.replace(' ', "+")
            );
            let mut req = Request::post("/auth/signin")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body.replace('\'', "%27")))
                .unwrap();
            req.extensions_mut().insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((ip, 40000))));
            let res = app.oneshot(req).await.unwrap();
            res.headers()["location"].to_str().unwrap().to_string()
        }
    };
    for _ in 0..5 {
        assert_eq!(attempt(VIEWER, "wrong guess", [10, 0, 0, 1]).await, "/signin?error=credentials&next=/");
    }
    // the 6th failure locks the account for a minute
    assert_eq!(attempt(VIEWER, "wrong guess", [10, 0, 0, 1]).await, "/signin?error=credentials&next=/");
    let locked = attempt(VIEWER, PASSWORD, [10, 0, 0, 2]).await;
    assert!(locked.starts_with("/signin?error=throttled&wait="), "even the right password waits: {locked}");
    let wait: i64 = locked.split("wait=").nth(1).unwrap().split('&').next().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // an unknown e-mail is throttled the same way (the lock reveals nothing)
    for _ in 0..6 {
        attempt("nobody@example.com", "wrong guess", [10, 0, 0, 3]).await;
    }
    assert!(attempt("nobody@example.com", "wrong guess", [10, 0, 0, 3]).await.contains("error=throttled"));

    // once the lock has passed (simulated by ageing the stored lock) the owner signs in
    let key = format!("account:{VIEWER}");
    let mut f = db.sign_in_failures(&key).await.unwrap().unwrap();
    f.locked_until = 0;
    db.put_sign_in_failures(&key, f).await.unwrap();
    assert_eq!(attempt(VIEWER, PASSWORD, [10, 0, 0, 2]).await, "/");
    assert_eq!(db.sign_in_failures(&key).await.unwrap(), None, "success clears the account's counter");
}
on_both!(repeated_failures_throttle_the_account_then_the_owner_gets_back_in);

/// 100 guesses at once for one e-mail, each from its own address (so only the account's lock
/// can stop them), with the right password among them: no more passwords are checked than
/// the policy's free failures plus the one that sets the lock, exactly as when they come one
/// by one.
async fn parallel_guesses_check_no_more_passwords_than_one_by_one(db: Db) {
    use app::domain::throttle::PER_ACCOUNT;
    let app = app_with_events(&db).await;
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..100u8 {
        let app = app.clone();
        guesses.spawn(async move {
            let password = if i == 50 { PASSWORD.to_string() } else { format!("guess {i}") };
            let body = format!(
                "email=viewer%40example.com&password={}&next=%2F",
                password.replace(' ', "+").replace('\'', "%27")
            );
            let mut req = Request::post("/auth/signin")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap();
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from(([10, 1, 0, i], 40000))));
            let res = app.oneshot(req).await.unwrap();
            res.headers()["location"].to_str().unwrap().to_string()
        });
    }
    let answers = guesses.join_all().await;
    let checked = answers.iter().filter(|l| !l.contains("error=throttled")).count();
    let throttled = answers.len() - checked;
    assert_eq!(checked as i64, PER_ACCOUNT.free_failures + 1, "{answers:?}");
    assert_eq!(throttled, 94);
    let stored = db.sign_in_failures(&format!("account:{VIEWER}")).await.unwrap();
    if answers.iter().any(|l| l == "/") {
        assert_eq!(stored, None, "the right password was among the first six: signed in, counter cleared");
    } else {
        let f = stored.unwrap();
        assert_eq!(f.count, 6, "only checked guesses are counted");
        assert!(f.locked_until > 0);
    }
}
on_both!(parallel_guesses_check_no_more_passwords_than_one_by_one);

/// Overload is answered, not queued without end: with one ingest request at work and no
/// waiting room, the others get 429 with `Retry-After` (never a 500), every accepted event is
/// stored once, and pages still answer meanwhile.
async fn overload_is_answered_429_with_retry_after_and_nothing_accepted_is_lost(db: Db) {
    use app::server::services::keys::{create_key, KeyRequest};
    let load = server::load::Load { ingest: 1, pages: 4, queued: 0, wait: std::time::Duration::ZERO };
    let app = app_with_load(&db, false, load).await;
    app::server::services::prices::ensure_public_list(&db).await.unwrap();
    let org = db.ensure_org("default", "Default").await.unwrap();
    db.ensure_team(org, "search", "Search").await.unwrap();
    let hasher = KeyHasher::load(&db).await.unwrap();
    let req = KeyRequest {
        name: "load".into(),
        team: "search".into(),
        scopes: "ingest".into(),
        initiative: None,
        expires_in_days: None,
        actor: app::server::db::Actor::cli(),
    };
    let token = create_key(&db, &hasher, org, req).await.unwrap().token;
    let before = db.lifetime_totals(org).await.unwrap().2;
    let mut calls = tokio::task::JoinSet::new();
    for b in 0..20 {
        let (app, token) = (app.clone(), token.clone());
        calls.spawn(async move {
            let events: Vec<_> = (0..200)
                .map(|i| serde_json::json!({"event_id": format!("load-{b}-{i}"), "timestamp": "2026-11-09T10:00:00Z",
                    "provider": "openai", "model": "gpt-4o-mini", "input_tokens": 1000, "output_tokens": 10}))
                .collect();
            let req = Request::post("/api/v1/events")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&events).unwrap()))
                .unwrap();
            let res = app.oneshot(req).await.unwrap();
            let retry = res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
            let status = res.status();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            (status, retry, v["accepted"].as_u64())
        });
    }
    let answers = calls.join_all().await;
    let busy: Vec<_> = answers.iter().filter(|a| a.0 == StatusCode::TOO_MANY_REQUESTS).collect();
    assert!(!busy.is_empty(), "one lane, no waiting room: some are refused {answers:?}");
    assert!(busy.iter().all(|a| a.1.as_deref() == Some("2")), "{busy:?}");
    let accepted: u64 = answers.iter().filter(|a| a.0 == StatusCode::OK).map(|a| a.2.unwrap()).sum();
    assert_eq!(
        answers.iter().filter(|a| a.0 == StatusCode::OK).count() + busy.len(),
        20,
        "only 200 or 429: {answers:?}"
    );
    assert_eq!(
        db.lifetime_totals(org).await.unwrap().2 - before,
        accepted as i64,
        "requests counted once per stored event"
    );
    let (status, _) = send(&app, get("/healthz")).await;
    assert_eq!(status, StatusCode::OK);
}
on_both!(overload_is_answered_429_with_retry_after_and_nothing_accepted_is_lost);

/// `next` survives a sign-in only as a path on this site; the answer is a redirect, never a 500.
async fn hostile_next_values_are_replaced_by_home_after_sign_in(db: Db) {
    let app = app_with_events(&db).await;
    for next in app::server::testing::HOSTILE_NEXT {
        let body = format!(
            "email=viewer%40example.com&password=a+viewer%27s+long+password&next={}",
            app::domain::text::encode_query_value(next)
        );
        let (status, location, _) = sign_in_response(&app, &body).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(location.as_deref(), Some("/"), "{next:?}");
        let wrong = body.replace("a+viewer%27s+long+password", "wrong");
        let (status, location, _) = sign_in_response(&app, &wrong).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(location.as_deref(), Some("/signin?error=credentials&next=/"), "{next:?}");
        // the failed guesses above must not lock the account before the list ends
        db.clear_sign_in_failures(&format!("account:{VIEWER}")).await.unwrap();
    }
}
on_both!(hostile_next_values_are_replaced_by_home_after_sign_in);

#[tokio::test]
async fn first_run_setup_creates_one_admin_and_then_closes() {
    use app::domain::Role;
    let t = TestDb::sqlite().await;
    let org = t.db.ensure_org("default", "Default").await.unwrap();
    let leptos_options = LeptosOptions::builder().output_name("costroom").site_root("/nonexistent").build();
    let keys = KeyHasher::load(&t.db).await.unwrap();
    let state = AppState {
        leptos_options,
        db: t.db.clone(),
        org,
        clock: Clock::Fixed(d(TODAY)),
        cookie_secure: false,
        keys,
        prices: Default::default(),
        jobs: Default::default(),
        egress: app::server::services::webhooks::Egress::new(
            app::domain::egress::AllowList::parse("127.0.0.1").unwrap(),
        ),
    };
    let app = server::build_router(state);

    let (status, html) = send(&app, html_get("/setup")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("action=\"/auth/setup\""), "the form is open: {html}");
    let (_, html) = send(&app, html_get("/signin")).await;
    assert!(html.contains("create the first administrator"), "sign-in points to setup");

    let post = |body: &'static str| {
        Request::post("/auth/setup")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap()
    };
    let res = app.clone().oneshot(post("email=root%40example.com&name=Root&password=short")).await.unwrap();
    assert_eq!(res.headers()["location"], "/setup?error=password");
    assert_eq!(t.db.count_users().await.unwrap(), 0);

    let res = app
        .clone()
        .oneshot(post("email=Root%40Example.com&name=Root&password=a+long+admin+password"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let (status, _) = send(&app, with_cookie(post_form(GetOverview::PATH, ""), &cookie)).await;
    assert_eq!(status, StatusCode::OK, "the new admin is signed in");
    let users = t.db.list_users(org).await.unwrap();
    assert_eq!((users.len(), users[0].email.as_str(), users[0].role), (1, "root@example.com", Role::Admin));

    // closed from now on: no second admin, and the page says so
    let res = app
        .clone()
        .oneshot(post("email=eve%40example.com&name=Eve&password=a+long+admin+password"))
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/setup?error=done");
    assert_eq!(t.db.count_users().await.unwrap(), 1);
    let (_, html) = send(&app, html_get("/setup")).await;
    assert!(html.contains("Setup is done") && !html.contains("action=\"/auth/setup\""), "{html}");
    t.finish().await;
}

async fn only_one_first_admin_even_when_several_race(db: Db) {
    use app::server::services::users::create_first_admin;
    let org = db.ensure_org("default", "Default").await.unwrap();
    // Six setups at once: each passes the "nobody yet" check before any of them inserts.
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                create_first_admin(
                    &db,
                    org,
                    &format!("a{i}@example.com"),
                    "A",
                    "a long admin password".into(),
                )
                .await
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(e) => assert_eq!(e, app::error::AppError::Forbidden),
        }
    }
    assert_eq!(won, 1, "exactly one setup wins");
    assert_eq!(db.count_users().await.unwrap(), 1);
}
on_both!(only_one_first_admin_even_when_several_race);

async fn api_keys_work_until_revoked_and_are_never_stored_in_clear(db: Db) {
    use app::server::services::keys::{create_key, KeyRequest};
    let app = app_with_events(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    db.ensure_team(org, "search", "Search").await.unwrap();
    let hasher = KeyHasher::load(&db).await.unwrap();
    let req = KeyRequest {
        name: "search gateway".into(),
        team: "search".into(),
        scopes: "ingest,read".into(),
        initiative: Some("smart-search".into()),
        expires_in_days: None,
        actor: app::server::db::Actor::cli(),
    };
    let created = create_key(&db, &hasher, org, req.clone()).await.unwrap();
    let token = created.token.clone();
    let secret = token.rsplit('_').next().unwrap().to_string();
    let stored = db.api_key_by_prefix(&created.key.prefix).await.unwrap().unwrap();
    assert!(
        !stored.secret_hash.contains(&secret) && stored.secret_hash.len() == 128,
        "only a hash is stored"
    );
    assert!(!format!("{stored:?}").contains(&secret));

    let call = |auth: Option<String>| {
        let app = app.clone();
        async move {
            let mut req = Request::get("/api/v1/key");
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let res = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
            let status = res.status();
            let www = res.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
            let body =
                String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes()).into_owned();
            (status, www, body)
        }
    };
    let (status, _, body) = call(Some(format!("Bearer {token}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["team"], "search");
    assert_eq!(v["scopes"], serde_json::json!(["ingest", "read"]));
    assert_eq!(v["initiative"], "smart-search");
    assert!(!body.contains(&secret), "the secret is never echoed");
    assert!(db.api_key_by_prefix(&created.key.prefix).await.unwrap().unwrap().last_used_at.is_some());

    // a different last character (a random token may already end in 'X')
    let last = if token.ends_with('X') { 'Y' } else { 'X' };
    let wrong = format!("{}{last}", &token[..token.len() - 1]);
    for bad in
        [None, Some("Bearer nonsense".to_string()), Some(format!("Bearer {wrong}")), Some(token.clone())]
    {
        let (status, www, _) = call(bad).await;
        assert_eq!((status, www.as_deref()), (StatusCode::UNAUTHORIZED, Some("Bearer")));
    }

    let cli = app::server::db::Actor::cli();
    app::server::services::keys::revoke_key(&db, org, &cli, &created.key.prefix).await.unwrap();
    let (status, _, _) = call(Some(format!("Bearer {token}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked keys stop working at once");
    let again =
        app::server::services::keys::revoke_key(&db, org, &cli, &created.key.prefix).await.unwrap_err();
    assert!(again.to_string().contains("already revoked"), "{again}");

    let err =
        create_key(&db, &hasher, org, KeyRequest { team: "nope".into(), ..req.clone() }).await.unwrap_err();
    assert_eq!(err.to_string(), "team: no team 'nope'");
    let err =
        create_key(&db, &hasher, org, KeyRequest { scopes: "ingest,admin".into(), ..req }).await.unwrap_err();
    assert_eq!(err.to_string(), "scopes: 'admin' is not one of ingest, authorize, read, outcomes");
}
on_both!(api_keys_work_until_revoked_and_are_never_stored_in_clear);

async fn api_key_scope_and_expiry_are_enforced(db: Db) {
    use app::domain::api_key::Scope;
    use app::server::services::keys::{authenticate, create_key, KeyRequest};
    let org = db.ensure_org("default", "Default").await.unwrap();
    db.ensure_team(org, "risk", "Risk").await.unwrap();
    let hasher = KeyHasher::load(&db).await.unwrap();
    let req = KeyRequest {
        name: "risk batch".into(),
        team: "risk".into(),
        scopes: "ingest".into(),
        initiative: None,
        expires_in_days: Some(30),
        actor: app::server::db::Actor::cli(),
    };
    let created = create_key(&db, &hasher, org, req).await.unwrap();
    let header = format!("Bearer {}", created.token);
    let now = chrono::Utc::now();
    assert!(authenticate(&db, &hasher, Some(&header), Some(Scope::Ingest), now).await.is_ok());
    assert_eq!(
        authenticate(&db, &hasher, Some(&header), Some(Scope::Read), now).await.unwrap_err(),
        app::error::AppError::Forbidden
    );
    let later = now + chrono::Duration::days(31);
    assert_eq!(
        authenticate(&db, &hasher, Some(&header), Some(Scope::Ingest), later).await.unwrap_err(),
        app::error::AppError::Unauthorized,
        "expired"
    );
    // the installation secret is stable across loads: keys survive a restart
    let again = KeyHasher::load(&db).await.unwrap();
    assert!(authenticate(&db, &again, Some(&header), Some(Scope::Ingest), now).await.is_ok());
}
on_both!(api_key_scope_and_expiry_are_enforced);

async fn admins_manage_people_through_server_functions_and_the_trail_exports_as_csv(db: Db) {
    use app::server::db::Actor;
    use app::server::services::users::{add_user, AddUser};
    let app = app_with_events(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let admin = AddUser {
        email: "boss@example.com".into(),
        name: "Boss".into(),
        role: app::domain::Role::Admin,
        password: "the boss's long password".into(),
        team: None,
    };
    add_user(&db, org, &Actor::cli(), admin).await.unwrap();
    let viewer = sign_in(&app, VIEWER, PASSWORD, None).await.expect("viewer signs in");
    let boss =
        sign_in(&app, "boss@example.com", "the boss's long password", None).await.expect("admin signs in");
    let viewer_id = db.list_users(org).await.unwrap().into_iter().find(|u| u.email == VIEWER).unwrap().id.0;
    let promote = format!("user_id={viewer_id}&role=admin");

    // the viewer posting the privileged change directly is refused, and nothing changes
    let (status, body) = send(&app, with_cookie(post_form("/api/change_role", &promote), &viewer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = send(&app, post_form("/api/change_role", &promote)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, html) = send(&app, with_cookie(get("/settings/people"), &viewer)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-testid=\"person-boss@example.com\""), "everyone reads the list");
    assert!(!html.contains("Add a person") && !html.contains("save-role-"), "the viewer sees no controls");
    assert!(!html.contains("/settings/audit\""), "nor the audit tab");

    let (status, html) = send(&app, with_cookie(get("/settings/people"), &boss)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Add a person") && html.contains("save-role-viewer@example.com"));
    let (status, body) = send(
        &app,
        with_cookie(post_form("/api/change_role", &format!("user_id={viewer_id}&role=finance")), &boss),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("\"role\":\"Finance\""), "{body}");
    // the role is re-read on every request: the viewer's session now holds finance rights
    let (_, me) = send(&app, with_cookie(post_form("/api/whoami", ""), &viewer)).await;
    assert!(me.contains("Finance"), "{me}");
    let (status, body) = send(
        &app,
        with_cookie(
            post_form(
                "/api/add_person",
                "name=C&email=c%40example.com&role=chief&password=a+long+enough+password",
            ),
            &boss,
        ),
    )
    .await;
    assert_eq!(
        (status, body.contains("role: 'chief' is not one of")),
        (StatusCode::UNPROCESSABLE_ENTITY, true),
        "{body}"
    );
    // disabling cuts the person's live session at its next request
    let (status, _) = send(
        &app,
        with_cookie(post_form("/api/set_disabled", &format!("user_id={viewer_id}&disabled=true")), &boss),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(&app, with_cookie(post_form(GetOverview::PATH, ""), &viewer)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // the audit page and its CSV are for admins
    let (status, _) = send(&app, with_cookie(get("/settings/audit.csv"), &viewer)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "disabled by now");
    let res = app
        .clone()
        .oneshot(with_cookie(get("/settings/audit.csv?entity=user&action=role"), &boss))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let csv = String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "header and the one role change:\n{csv}");
    assert!(lines[1].contains(",boss@example.com,user.role,user,viewer@example.com,"), "{csv}");
    assert!(lines[1].ends_with(",role,viewer,finance"), "{csv}");
    let (status, body) = send(&app, with_cookie(get("/settings/audit.csv?entity=budgetz"), &boss)).await;
    assert_eq!(
        (status, body.starts_with("entity: 'budgetz'")),
        (StatusCode::UNPROCESSABLE_ENTITY, true),
        "{body}"
    );
    let (status, html) = send(&app, with_cookie(get("/settings/audit?action=disable"), &boss)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("1 change<") && html.contains("viewer@example.com disabled"), "{html}");
}
on_both!(admins_manage_people_through_server_functions_and_the_trail_exports_as_csv);

async fn changing_the_password_signs_out_the_other_sessions_only(db: Db) {
    let app = app_with_events(&db).await;
    let laptop = sign_in(&app, VIEWER, PASSWORD, None).await.expect("first session");
    let phone = sign_in(&app, VIEWER, PASSWORD, None).await.expect("second session");
    // sessions store their start in whole seconds; a change in the same second as a sign-in
    // would not void it, so let a second pass
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let body = format!(
        "current_password={}&new_password=a+new+long+password",
        PASSWORD.replace(' ', "+").replace('\'', "%27")
    );
    let res =
        app.clone().oneshot(with_cookie(post_form("/api/change_password", &body), &laptop)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // the laptop's session continues under a new id
    let renewed =
        res.headers().get("set-cookie").map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
    let laptop = renewed.unwrap_or(laptop);
    let (status, _) = send(&app, with_cookie(post_form(GetOverview::PATH, ""), &laptop)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(&app, with_cookie(post_form(GetOverview::PATH, ""), &phone)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the other session died with the old password");
    let fresh = sign_in(&app, VIEWER, "a new long password", None).await.expect("the new password works");
    let (status, _) = send(&app, with_cookie(post_form(GetOverview::PATH, ""), &fresh)).await;
    assert_eq!(status, StatusCode::OK);
}
on_both!(changing_the_password_signs_out_the_other_sessions_only);

/// A router over `db` with the public price list, and an `ingest`-scoped key for team
/// `search` and initiative `smart-search`, plus a `read`-only key.
async fn ingest_app(db: &Db) -> (axum::Router, String, String) {
    use app::server::services::keys::{create_key, KeyRequest};
    let app = app_with(db, false).await;
    app::server::services::prices::ensure_public_list(db).await.unwrap();
    let org = db.ensure_org("default", "Default").await.unwrap();
    db.ensure_team(org, "search", "Search").await.unwrap();
    let hasher = KeyHasher::load(db).await.unwrap();
    let req = KeyRequest {
        name: "gateway".into(),
        team: "search".into(),
        scopes: "ingest".into(),
        initiative: Some("smart-search".into()),
        expires_in_days: None,
        actor: app::server::db::Actor::cli(),
    };
    let ingest = create_key(db, &hasher, org, req.clone()).await.unwrap().token;
    let read = create_key(db, &hasher, org, KeyRequest { scopes: "read".into(), ..req }).await.unwrap().token;
    (app, ingest, read)
}

async fn post_events(
    app: &axum::Router,
    token: &str,
    body: Vec<u8>,
    gzip: bool,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::post("/api/v1/events").header("authorization", format!("Bearer {token}"));
    if gzip {
        req = req.header("content-encoding", "gzip");
    }
    let (status, text) = send(app, req.body(Body::from(body)).unwrap()).await;
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

async fn ingest_counts_good_bad_and_duplicate_items_and_a_resend_changes_nothing(db: Db) {
    use serde_json::json;
    let (app, token, _) = ingest_app(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let before = db.usage_totals(org).await.unwrap();
    let batch = json!([
        {"event_id": "i-1", "timestamp": "2026-11-20T10:00:00Z", "provider": "openai", "model": "gpt-4o",
         "input_tokens": 1000, "cache_read_tokens": 600, "output_tokens": 500, "feature": "answers"},
        {"event_id": "i-2", "timestamp": "20 Nov 2026", "provider": "openai", "model": "gpt-4o"},
        {"event_id": "i-1", "timestamp": "2026-11-20T10:00:00Z", "provider": "openai", "model": "gpt-4o",
         "input_tokens": 1000, "cache_read_tokens": 600, "output_tokens": 500, "feature": "answers"},
        {"event_id": "i-3", "timestamp": "2026-11-20T11:00:00Z", "provider": "acme", "model": "our-finetune",
         "input_tokens": 10, "cost_usd": "0.5", "team": "risk"},
        {"event_id": "i-4", "timestamp": "2026-11-20T12:00:00Z", "provider": "acme", "model": "our-finetune",
         "input_tokens": 10},
        {"event_id": "i-5", "timestamp": "2026-11-20T12:00:00Z", "provider": "openai", "model": "gpt-4o",
         "prompt": "never stored"}
    ]);
    let body = serde_json::to_vec(&batch).unwrap();
    let (status, report) = post_events(&app, &token, body.clone(), false).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (&report["accepted"], &report["duplicates"], &report["rejected"], &report["unpriced"]),
        (&json!(3), &json!(1), &json!(2), &json!(1)),
        "{report}"
    );
    assert_eq!(report["errors"][0]["index"], 1);
    assert_eq!(report["errors"][0]["field"], "timestamp");
    assert_eq!(report["errors"][1]["index"], 5);
    assert_eq!(report["errors"][1]["field"], "prompt");

    // gpt-4o: 400 × 2.5e-6 + 600 × 1.25e-6 + 500 × 1e-5 = $0.00675; the provider's $0.50
    let rows = db.usage_events(org).await.unwrap();
    let row = |id: &str| rows.iter().find(|r| r.event_id == id).unwrap().clone();
    let i1 = row("i-1");
    assert_eq!((i1.cost_nanos, i1.cost_source.as_str()), (6_750_000, "computed"));
    assert_eq!(
        (i1.team.as_deref(), i1.initiative.as_deref()),
        (Some("search"), Some("smart-search")),
        "from the key"
    );
    assert_eq!(i1.api_key.as_deref(), Some(&token[3..13]));
    let i3 = row("i-3");
    assert_eq!(
        (i3.cost_nanos, i3.cost_source.as_str(), i3.team.as_deref()),
        (500_000_000, "provider", Some("risk"))
    );
    assert_eq!((row("i-4").cost_nanos, row("i-4").cost_source.as_str()), (0, "unpriced"));
    let after = db.usage_totals(org).await.unwrap();
    assert_eq!((after.0 - before.0, after.1 .0 - before.1 .0), (3, 506_750_000));

    // the same batch again changes nothing
    let (status, report) = post_events(&app, &token, body, false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((&report["accepted"], &report["duplicates"]), (&json!(0), &json!(4)));
    assert_eq!(db.usage_totals(org).await.unwrap(), after);
    let day = app::domain::DateRange { from: d("2026-11-20"), to: d("2026-11-20") };
    let from_rollups = db.cost_between(org, day, None).await.unwrap();

    // NDJSON, gzip-compressed, with blank lines
    let ndjson = b"{\"event_id\":\"n-1\",\"timestamp\":\"2026-11-20T13:00:00Z\",\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"input_tokens\":1000000}\n\n{\"event_id\":\"n-2\",\"timestamp\":\"2026-11-20T13:00:01Z\",\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"output_tokens\":1000000}\n";
    let (status, report) = post_events(&app, &token, gzip(ndjson), true).await;
    assert_eq!((status, &report["accepted"]), (StatusCode::OK, &json!(2)), "{report}");
    // gpt-4o-mini: 1M input × 1.5e-7 = $0.15; 1M output × 6e-7 = $0.60
    assert_eq!(db.cost_between(org, day, None).await.unwrap(), Nanos(from_rollups.0 + 750_000_000));
}
on_both!(ingest_counts_good_bad_and_duplicate_items_and_a_resend_changes_nothing);

async fn ingest_refuses_bad_bodies_naming_the_position_or_the_limit(db: Db) {
    let (app, token, read_only) = ingest_app(&db).await;
    let (status, body) =
        post_events(&app, &token, b"[\n {\"event_id\": \"x\",\n  \"model\" \"gpt-4o\"}\n]".to_vec(), false)
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().starts_with("malformed JSON at line 3, column 11"), "{body}");
    let many = format!("[{}]", vec!["{}"; 10_001].join(","));
    let (status, body) = post_events(&app, &token, many.into_bytes(), false).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"], "batch: more than 10000 items; split the batch");
    // a small gzip body that inflates past 16 MiB
    let bomb = gzip(&vec![b' '; 17 * 1024 * 1024]);
    assert!(bomb.len() < 100_000);
    let (status, body) = post_events(&app, &token, bomb, true).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body["error"].as_str().unwrap().contains("16777216 bytes"), "{body}");
    let (status, body) = post_events(&app, &token, b"[{\"event_id\": 1}]".to_vec(), false).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "every item refused: {body}");
    let (status, _) = post_events(&app, &read_only, b"[]".to_vec(), false).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a read key cannot ingest");
    let (status, _) = post_events(&app, "cr_nope", b"[]".to_vec(), false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
on_both!(ingest_refuses_bad_bodies_naming_the_position_or_the_limit);

/// The "Tool calls (functions)" example of the OpenTelemetry GenAI conventions (content
/// capturing disabled): chat (47 in / 17 out), execute_tool get_weather, chat (97 / 52).
fn otel_tool_call_example() -> Vec<serde_json::Map<String, serde_json::Value>> {
    let all: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../fixtures/otel_genai_example_spans.json")).unwrap();
    all.into_iter()
        .filter(|s| {
            s["section"] == "Tool calls (functions)"
                && s["subsection"].as_str().unwrap().contains("capturing is disabled")
        })
        .map(|s| s["attributes"].as_object().unwrap().clone())
        .collect()
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

async fn otlp_json_and_protobuf_spans_become_events_with_the_examples_token_counts(db: Db) {
    use app::server::otlp_api::proto;
    use prost::Message;
    use serde_json::{json, Value};
    let (app, token, _) = ingest_app(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let spans = otel_tool_call_example();
    assert_eq!(spans.len(), 3);
    let start: u64 = 1_763_632_800_000_000_000; // 2025-11-20T10:00:00Z
    let otlp_attr = |k: &str, v: &Value| match v {
        Value::Number(n) if n.is_i64() => json!({"key": k, "value": {"intValue": n.to_string()}}),
        Value::Number(n) => json!({"key": k, "value": {"doubleValue": n.as_f64()}}),
        Value::String(s) => json!({"key": k, "value": {"stringValue": s}}),
        other => json!({"key": k, "value": {"stringValue": other.to_string()}}),
    };
    let json_spans: Vec<Value> = spans
        .iter()
        .enumerate()
        .map(|(i, a)| {
            json!({"traceId": TRACE, "spanId": format!("00f067aa0ba902b{i}"), "parentSpanId": "00f067aa0ba90200",
                "name": a["Span name"], "startTimeUnixNano": (start + i as u64 * 1_000_000_000).to_string(),
                "endTimeUnixNano": (start + i as u64 * 1_000_000_000 + 800_000_000).to_string(), "kind": 3,
                "attributes": a.iter().filter(|(k, _)| k.starts_with("gen_ai.")).map(|(k, v)| otlp_attr(k, v)).collect::<Vec<_>>()})
        })
        .collect();
    let root = json!({"traceId": TRACE, "spanId": "00f067aa0ba90200", "name": "invoke_agent weather",
        "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 3_000_000_000).to_string()});
    let all_spans: Vec<Value> = [root].into_iter().chain(json_spans).collect();
    let body = json!({"resourceSpans": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "weather-bot"}},
            {"key": "deployment.environment.name", "value": {"stringValue": "prod"}}]},
        "scopeSpans": [{"scope": {"name": "openai-instrumentation"}, "spans": all_spans}]}]});
    let req = Request::post("/v1/traces")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    let (status, text) = send(&app, req).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "{}"), "full success");
    let rows = db.usage_events(org).await.unwrap();
    let otel: Vec<_> = rows.iter().filter(|r| r.event_id.starts_with("otel:")).collect();
    let tokens: Vec<(i64, i64)> = otel.iter().map(|r| (r.input_tokens, r.output_tokens)).collect();
    assert_eq!(tokens, vec![(47, 17), (0, 0), (97, 52)], "exactly the example's counts");
    assert_eq!(otel[0].model, "gpt-4-0613");
    assert_eq!(
        (otel[0].feature.as_deref(), otel[0].environment.as_deref()),
        (Some("weather-bot"), Some("prod"))
    );
    assert_eq!(otel[0].team.as_deref(), Some("search"), "from the key");
    // gpt-4-0613 per LiteLLM: 3e-5 in, 6e-5 out → 47 × 3e-5 + 17 × 6e-5 = $0.00243
    assert_eq!((otel[0].cost_nanos, otel[0].cost_source.as_str()), (2_430_000, "computed"));

    // the same spans as protobuf (gzip, as collectors send them): duplicates, nothing new
    let to_kv = |k: &str, v: &Value| proto::KeyValue {
        key: k.to_string(),
        value: Some(proto::AnyValue {
            value: Some(match v {
                Value::Number(n) => match n.as_i64() {
                    Some(i) => proto::any_value::Value::IntValue(i),
                    None => proto::any_value::Value::DoubleValue(n.as_f64().unwrap()),
                },
                other => proto::any_value::Value::StringValue(other.as_str().unwrap_or_default().to_string()),
            }),
        }),
    };
    let unhex = |s: &str| {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<u8>>()
    };
    let pb_spans: Vec<proto::Span> = spans
        .iter()
        .enumerate()
        .map(|(i, a)| proto::Span {
            trace_id: unhex(TRACE),
            span_id: unhex(&format!("00f067aa0ba902b{i}")),
            parent_span_id: unhex("00f067aa0ba90200"),
            name: a["Span name"].as_str().unwrap().to_string(),
            start_time_unix_nano: start + i as u64 * 1_000_000_000,
            end_time_unix_nano: start + i as u64 * 1_000_000_000 + 800_000_000,
            attributes: a
                .iter()
                .filter(|(k, _)| k.starts_with("gen_ai."))
                .map(|(k, v)| to_kv(k, v))
                .collect(),
            status: None,
        })
        .collect();
    let mut extra = pb_spans[0].clone();
    extra.span_id = unhex("00f067aa0ba902c0");
    extra.attributes.push(to_kv("gen_ai.usage.cache_read.input_tokens", &json!(500)));
    let request = proto::ExportTraceServiceRequest {
        resource_spans: vec![proto::ResourceSpans {
            resource: Some(proto::Resource {
                attributes: vec![to_kv("service.name", &json!("weather-bot"))],
            }),
            scope_spans: vec![proto::ScopeSpans { spans: pb_spans.into_iter().chain([extra]).collect() }],
        }],
    };
    let req = Request::post("/v1/traces")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(Body::from(gzip(&request.encode_to_vec())))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/x-protobuf");
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let answer = proto::ExportTraceServiceResponse::decode(bytes).unwrap();
    let partial = answer.partial_success.expect("one span refused");
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("cache_read_tokens"), "{}", partial.error_message);
    let again =
        db.usage_events(org).await.unwrap().into_iter().filter(|r| r.event_id.starts_with("otel:")).count();
    assert_eq!(again, 3, "the protobuf copies of the same spans were duplicates");
}
on_both!(otlp_json_and_protobuf_spans_become_events_with_the_examples_token_counts);

#[test]
fn the_openapi_document_lists_exactly_the_fields_ingest_reads() {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../../../public/openapi.json")).expect("valid JSON");
    let props = doc["components"]["schemas"]["UsageEvent"]["properties"].as_object().expect("properties");
    let mut documented: Vec<&str> = props.keys().map(String::as_str).collect();
    let mut read: Vec<&str> = app::domain::ingest::FIELDS.to_vec();
    documented.sort();
    read.sort();
    assert_eq!(documented, read);
    for path in ["/api/v1/events", "/v1/traces", "/api/v1/key"] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    // the documented maxima are the ones enforced
    use app::domain::limits;
    for class in ["input_tokens", "cache_read_tokens", "output_tokens", "reasoning_tokens"] {
        assert_eq!(props[class]["maximum"], limits::MAX_TOKENS, "{class}");
    }
    assert_eq!(props["request_count"]["maximum"], limits::MAX_REQUESTS);
    assert_eq!(props["latency_ms"]["maximum"], limits::MAX_LATENCY_MS);
    assert_eq!(props["event_id"]["maxLength"], limits::MAX_ID_LEN);
    assert_eq!(props["feature"]["maxLength"], limits::MAX_TEXT_LEN);
    assert_eq!(props["tags"]["maxProperties"], limits::MAX_TAGS);
}

async fn an_organisations_attribute_mapping_attributes_otlp_spans(db: Db) {
    use app::domain::otlp::AttributeMapping;
    use app::server::db::Actor;
    use app::server::services::settings::{attribute_mapping, set_attribute_mapping};
    let (app, token, _) = ingest_app(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    assert_eq!(attribute_mapping(&db, org).await.unwrap(), AttributeMapping::default());
    let mapping = AttributeMapping::parse("app.team", "app.feature", "", "tenant.id", "env").unwrap();
    set_attribute_mapping(&db, org, &Actor::cli(), mapping.clone()).await.unwrap();
    assert_eq!(attribute_mapping(&db, org).await.unwrap(), mapping);
    let body = serde_json::json!({"resourceSpans": [{"resource": {"attributes": [
            {"key": "env", "value": {"stringValue": "staging"}}]},
        "scopeSpans": [{"spans": [{"traceId": TRACE, "spanId": "0000000000000abc", "name": "chat gpt-4o",
            "endTimeUnixNano": "1763632800000000000", "attributes": [
            {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "10"}},
            {"key": "app.team", "value": {"stringValue": "risk"}},
            {"key": "app.feature", "value": {"stringValue": "fraud-review"}},
            {"key": "tenant.id", "value": {"stringValue": "globex"}}]}]}]}]});
    let req = Request::post("/v1/traces")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    let (status, _) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK);
    let rows = db.usage_events(org).await.unwrap();
    let e = rows.iter().find(|r| r.event_id.ends_with(":0000000000000abc")).unwrap();
    assert_eq!(
        (e.team.as_deref(), e.feature.as_deref(), e.customer.as_deref(), e.environment.as_deref()),
        (Some("risk"), Some("fraud-review"), Some("globex"), Some("staging"))
    );
    let trail = db.list_audit(org, &Default::default(), 5).await.unwrap();
    assert_eq!(trail[0].action, "setting.otel_mapping");
    assert!(trail[0].changes.iter().any(|c| c.field == "team" && c.after.as_deref() == Some("app.team")));
}
on_both!(an_organisations_attribute_mapping_attributes_otlp_spans);

async fn post_records(
    app: &axum::Router,
    path: &str,
    token: &str,
    csv: bool,
    body: &str,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::post(path).header("authorization", format!("Bearer {token}"));
    if csv {
        req = req.header("content-type", "text/csv; charset=utf-8");
    }
    let (status, text) = send(app, req.body(Body::from(body.to_string())).unwrap()).await;
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

async fn ledger_records_api_takes_csv_and_json_and_names_bad_fields(db: Db) {
    use app::domain::ledger::SpendSource;
    use app::domain::DateRange;
    let (app, token, read) = ingest_app(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let csv = "day,cluster,gpu_type,team,allocated_gpu_hours,used_gpu_hours,cost_usd\n\
        2026-11-02,train-east,H100,research,192,153.6,478.08\n\
        2026-11-02,train-east,H100,risk,8,,ten\n";
    let (status, report) = post_records(&app, "/api/v1/ledger/gpu-usage", &token, true, csv).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((report["accepted"].as_u64(), report["rejected"].as_u64()), (Some(1), Some(1)));
    assert_eq!(report["errors"][0]["at"], 3);
    assert_eq!(report["errors"][0]["field"], "cost_usd");
    let run = r#"{"run_id": "ft-1", "model": "m", "started_at": "2026-11-02T00:00:00Z",
        "ended_at": "2026-11-02T12:00:00Z", "cost_usd": 1200.5, "metric_name": "accuracy", "metric_score": 0.9}"#;
    let (status, report) = post_records(&app, "/api/v1/ledger/training-runs", &token, false, run).await;
    assert_eq!((status, report["accepted"].as_u64()), (StatusCode::OK, Some(1)), "{report}");
    let bad = r#"[{"provider": "azure", "model": "gpt-4o", "units": 0, "term_start": "2026-11-01",
        "term_end": "2026-11-30", "price_usd": "100"}]"#;
    let (status, report) = post_records(&app, "/api/v1/ledger/commitments", &token, false, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    assert_eq!(
        (report["errors"][0]["at"].as_u64(), report["errors"][0]["field"].as_str()),
        (Some(1), Some("units"))
    );
    let (status, report) = post_records(&app, "/api/v1/ledger/commitments", &token, false, "{oops").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{report}");
    // a read-only key writes nothing
    let (status, _) = post_records(&app, "/api/v1/ledger/gpu-usage", &read, true, csv).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let day = DateRange { from: "2026-11-02".parse().unwrap(), to: "2026-11-02".parse().unwrap() };
    assert_eq!(db.cost_between(org, day, Some(SpendSource::Gpu)).await.unwrap(), Nanos(478_080_000_000));
    assert_eq!(
        db.cost_between(org, day, Some(SpendSource::Training)).await.unwrap(),
        Nanos(1_200_500_000_000)
    );
    assert_eq!(db.cost_between(org, day, None).await.unwrap(), Nanos(1_678_580_000_000));
}
on_both!(ledger_records_api_takes_csv_and_json_and_names_bad_fields);

async fn anyone_signed_in_downloads_the_ledger_as_focus(db: Db) {
    use app::domain::DateRange;
    use app::server::focus_export::{export, Selection};
    let app = app_with_events(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let viewer = sign_in(&app, VIEWER, PASSWORD, None).await.expect("viewer signs in");
    let (status, _) = send(&app, get("/ledger/focus.csv?from=2026-11-01&to=2026-11-30")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) =
        send(&app, with_cookie(get("/ledger/focus.csv?from=2026-11-01&to=2026-11-30"), &viewer)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.starts_with("BillingAccountId,BillingAccountName,BillingCurrency,"),
        "{}",
        &body[..200.min(body.len())]
    );
    let mut direct = String::new();
    let range = DateRange { from: "2026-11-01".parse().unwrap(), to: "2026-11-30".parse().unwrap() };
    export(&db, org, "Default", Selection { range, source: None }, &mut direct).await.unwrap();
    assert_eq!(body, direct, "the download is the export, byte for byte");
    assert!(body.lines().count() > 1, "the demo events are in it");
    let (status, body) = send(&app, with_cookie(get("/ledger/focus.csv?source=cloud"), &viewer)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("source: 'cloud'"), "{body}");
}
on_both!(anyone_signed_in_downloads_the_ledger_as_focus);

async fn read_key(db: &Db, scopes: &str) -> String {
    use app::server::services::keys::{create_key, KeyRequest};
    let org = db.ensure_org("default", "Default").await.unwrap();
    db.ensure_team(org, "bi", "BI").await.unwrap();
    let hasher = KeyHasher::load(db).await.unwrap();
    let req = KeyRequest {
        name: format!("bi {scopes}"),
        team: "bi".into(),
        scopes: scopes.into(),
        initiative: None,
        expires_in_days: None,
        actor: app::server::db::Actor::cli(),
    };
    format!("Bearer {}", create_key(db, &hasher, org, req).await.unwrap().token)
}

fn get_with_key(uri: &str, key: &str) -> Request<Body> {
    Request::get(uri).header("authorization", key).body(Body::empty()).unwrap()
}

async fn read_api_returns_what_the_explorer_shows_to_read_keys_and_people(db: Db) {
    use app::api::{GetSpend, SpendPage};
    let app = app_with_events(&db).await;
    let qs = "group=team&from=2026-11-01&to=2026-11-10&gran=week";
    let (status, body) = send(&app, get(&format!("/api/v1/spend?{qs}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let ingest = read_key(&db, "ingest").await;
    let (status, _) = send(&app, get_with_key(&format!("/api/v1/spend?{qs}"), &ingest)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an ingest key cannot read");
    let key = read_key(&db, "read").await;
    let (status, body) = send(&app, get_with_key(&format!("/api/v1/spend?{qs}"), &key)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    // Nov 1, 7 and 10 events: $2.000000001 + $10.123456789 + 1 nano, all team support
    assert_eq!(json["table"][0]["group"], "support");
    assert_eq!(json["table"][0]["cost_nanos"], 12_123_456_791i64);
    assert_eq!(json["total"]["cost_nanos"], 12_123_456_791i64);
    assert_eq!(json["total"]["requests"], "3");
    assert_eq!(json["buckets"], serde_json::json!(["2026-10-26", "2026-11-02", "2026-11-09"]));
    assert_eq!(json["series"][0]["cost_nanos"], serde_json::json!([2_000_000_001i64, 10_123_456_789i64, 1]));
    assert_eq!(json["answered_from"], "rollups");

    // the page's server function shows the same rows
    let viewer = sign_in(&app, VIEWER, PASSWORD, None).await.expect("viewer signs in");
    let req = with_cookie(
        post_form(GetSpend::PATH, &format!("query={}", qs.replace('&', "%26").replace('=', "%3D"))),
        &viewer,
    );
    let (status, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page: SpendPage = serde_json::from_str(&body).unwrap();
    assert_eq!(page.view.table.len(), 1);
    assert_eq!(page.view.total.cost_nanos, json["total"]["cost_nanos"].as_i64().unwrap());

    // CSV of the table, for a signed-in person (the page's Export link)
    let (status, csv) =
        send(&app, with_cookie(get(&format!("/api/v1/spend?{qs}&format=csv")), &viewer)).await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("team,cost_nanos,share_pct,cost_usd,requests"), "{csv}");
    assert!(lines[1].starts_with("support,12123456791,100.0,12.12,3,"), "{csv}");
    assert!(lines[2].starts_with("Total,12123456791,100.0,12.12,3,"), "{csv}");
    let (_, series) =
        send(&app, get_with_key(&format!("/api/v1/spend?{qs}&format=csv&shape=series"), &key)).await;
    assert_eq!(series.lines().nth(2), Some("2026-11-02,support,10.12,10123456789"), "{series}");

    // a filter that no rollup holds goes to the raw rows and gives the same total
    let (_, body) = send(
        &app,
        get_with_key(
            "/api/v1/spend?group=model&team=support&environment=prod&from=2026-11-01&to=2026-11-10",
            &key,
        ),
    )
    .await;
    let raw: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(raw["answered_from"], "raw");
    assert_eq!(raw["total"]["cost_nanos"], 12_123_456_791i64);

    // bad parameters are named
    let (status, body) = send(&app, get_with_key("/api/v1/spend?group=colour", &key)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("group: unknown dimension 'colour'"), "{body}");
    let (status, body) = send(&app, get_with_key("/api/v1/spend?format=xml", &key)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("format: 'xml'"), "{body}");
}
on_both!(read_api_returns_what_the_explorer_shows_to_read_keys_and_people);

async fn explorer_page_is_server_rendered_with_the_table(db: Db) {
    let app = app_with_events(&db).await;
    let viewer = sign_in(&app, VIEWER, PASSWORD, None).await.expect("viewer signs in");
    let (status, html) =
        send(&app, with_cookie(html_get("/spend?group=model&from=2026-11-01&to=2026-11-10"), &viewer)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-testid=\"spend-table\""), "table rendered without JavaScript");
    assert!(html.contains("data-group=\"claude-haiku-4-5\""));
    assert!(html.contains("$12.12"));
    let res = app.clone().oneshot(html_get("/spend?group=model")).await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND, "the explorer needs a sign-in");
    let (_, html) = send(&app, with_cookie(html_get("/spend?gran=minute"), &viewer)).await;
    assert!(html.contains("gran: unknown granularity"), "the error names the parameter");
}
on_both!(explorer_page_is_server_rendered_with_the_table);

async fn kpi_coverage_scope_and_trace_pages_render_on_the_server(db: Db) {
    let app = app_with_events(&db).await;
    let viewer = sign_in(&app, VIEWER, PASSWORD, None).await.expect("viewer signs in");
    let page = |uri: &str| with_cookie(html_get(uri), &viewer);
    let (status, html) = send(&app, page("/kpis?from=2026-11-01&to=2026-11-10")).await;
    assert_eq!(status, StatusCode::OK);
    // $12.123456791 over 3 requests
    assert!(html.contains("data-kpi=\"cost_per_inference\""), "{html}");
    assert!(html.contains("$4.041152"), "cost per inference in the HTML");
    assert!(
        html.contains("data-kpi=\"ai_roi\"") && !html.contains("Needs initiatives"),
        "ROI is computed now"
    );
    let (status, html) = send(&app, page("/coverage?from=2026-11-01&to=2026-11-10")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-testid=\"coverage-all\""));
    let (status, html) = send(&app, page("/spend/team/support?from=2026-11-01&to=2026-11-10")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-testid=\"scope-total\">$12.12<"), "{html}");
    let (status, _) = send(&app, page("/spend/colour/red")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, html) = send(&app, page("/traces/no-such-trace")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("trace 'no-such-trace' not found"), "{html}");
}
on_both!(kpi_coverage_scope_and_trace_pages_render_on_the_server);

async fn finance_creates_a_budget_whose_passed_threshold_alerts_and_a_viewer_cannot(db: Db) {
    use app::api::{CreateBudget, ListBudgets};
    let app = app_with_events(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let finance = AddUser {
        email: "fin@example.com".into(),
        name: "Fi".into(),
        role: app::domain::Role::Finance,
        password: "a finance long password".into(),
        team: None,
    };
    add_user(&db, org, &app::server::db::Actor::cli(), finance).await.unwrap();
    let fin =
        sign_in(&app, "fin@example.com", "a finance long password", None).await.expect("finance signs in");
    let viewer = sign_in(&app, VIEWER, PASSWORD, None).await.expect("viewer signs in");
    // November so far: $12.123456791; a $20 budget has passed 50 %
    let form =
        "name=Support+AI&scope=team&scope_value=support&period=month&fiscal_start_month=1&recurring=on\
        &start=2026-11-01&amount_usd=20&thresholds=50%2C+80&owner=Fi";
    let (status, body) = send(&app, with_cookie(post_form(CreateBudget::PATH, form), &viewer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = send(
        &app,
        with_cookie(post_form(CreateBudget::PATH, &form.replace("amount_usd=20", "amount_usd=abc")), &fin),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("amount_usd: 'abc'"), "{body}");
    let (status, body) = send(&app, with_cookie(post_form(CreateBudget::PATH, form), &fin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = send(&app, with_cookie(post_form(ListBudgets::PATH, ""), &viewer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page: app::api::BudgetsPage = serde_json::from_str(&body).unwrap();
    assert!(!page.can_edit);
    let e = page.lines[0].evaluation.clone().expect("evaluated");
    assert_eq!(e.actual, Nanos(12_123_456_791));
    assert_eq!(e.reached, vec![50]);
    assert_eq!(
        page.alerts.iter().filter(|a| a.kind == "threshold").count(),
        1,
        "one alert, however often the page loads"
    );
    assert!(
        page.alerts[0].message.contains("Budget \"Support AI\" (Team support"),
        "{}",
        page.alerts[0].message
    );
}
on_both!(finance_creates_a_budget_whose_passed_threshold_alerts_and_a_viewer_cannot);

/// A webhook receiver on a real local port: every delivery fails its first two attempts
/// (HTTP 500), then is accepted. Records (path, delivery id, body, answer) of each request.
/// (path, delivery id, body, answer)
type Received = (String, String, String, u16);

#[derive(Clone, Default)]
struct Receiver {
    seen: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
}

async fn receive(
    axum::extract::State(r): axum::extract::State<Receiver>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: String,
) -> StatusCode {
    let id = headers.get("x-costroom-delivery").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let mut seen = r.seen.lock().unwrap();
    let before = seen.iter().filter(|s| s.0 == uri.path() && s.1 == id).count();
    let answer = if before < 2 { 500 } else { 200 };
    seen.push((uri.path().to_string(), id, body, answer));
    StatusCode::from_u16(answer).unwrap()
}

async fn start_receiver() -> (Receiver, String) {
    let r = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().fallback(receive).with_state(r.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (r, base)
}

async fn webhooks_deliver_each_alert_exactly_once_through_a_receiver_that_fails_twice(db: Db) {
    use app::api::webhooks::{CreateWebhook, ListWebhooks, RetryDelivery, WebhooksPage};
    use app::api::{CreateBudget, ListBudgets};
    use app::domain::webhook::DeliveryStatus;
    use app::server::services::webhooks::{deliver_due, Sender};
    let app = app_with_events(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let finance = AddUser {
        email: "fin@example.com".into(),
        name: "Fi".into(),
        role: app::domain::Role::Finance,
        password: "a finance long password".into(),
        team: None,
    };
    add_user(&db, org, &app::server::db::Actor::cli(), finance).await.unwrap();
    let fin = sign_in(&app, "fin@example.com", "a finance long password", None).await.unwrap();
    let viewer = sign_in(&app, VIEWER, PASSWORD, None).await.unwrap();
    let (receiver, base) = start_receiver().await;
    let enc = |s: &str| s.replace(':', "%3A").replace('/', "%2F");
    let hook = |name: &str, url: &str, format: &str| format!("name={name}&url={}&format={format}", enc(url));

    let (status, _) = send(
        &app,
        with_cookie(post_form(CreateWebhook::PATH, &hook("x", &format!("{base}/json"), "json")), &viewer),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) =
        send(&app, with_cookie(post_form(CreateWebhook::PATH, &hook("x", "127.0.0.1/json", "json")), &fin))
            .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("url: "), "{body}");
    for (name, path, format) in [("programs", "/json", "json"), ("finance-channel", "/slack", "slack")] {
        let (status, body) = send(
            &app,
            with_cookie(post_form(CreateWebhook::PATH, &hook(name, &format!("{base}{path}"), format)), &fin),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // nothing listens on port 1: every attempt fails to connect
    let (status, _) = send(
        &app,
        with_cookie(post_form(CreateWebhook::PATH, &hook("dead", "http://127.0.0.1:1/x", "json")), &fin),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // November so far: $12.123456791 of $20: the 50 % threshold has passed
    let form =
        "name=Support+AI&scope=team&scope_value=support&period=month&fiscal_start_month=1&recurring=on\
        &start=2026-11-01&amount_usd=20&thresholds=50%2C+80&owner=Fi";
    let (status, body) = send(&app, with_cookie(post_form(CreateBudget::PATH, form), &fin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let alerts = db.budget_alerts(org, 100).await.unwrap();
    assert!(!alerts.is_empty());

    let egress = app::server::services::webhooks::Egress::new(
        app::domain::egress::AllowList::parse("127.0.0.1").unwrap(),
    );
    let sender =
        Sender::new(None, std::time::Duration::from_millis(5), std::time::Duration::from_millis(20), egress)
            .unwrap();
    let log = |body: &str| serde_json::from_str::<WebhooksPage>(body).unwrap().deliveries;
    let started = std::time::Instant::now();
    let deliveries = loop {
        deliver_due(&db, &sender).await.unwrap();
        let (_, body) = send(&app, with_cookie(post_form(ListWebhooks::PATH, ""), &viewer)).await;
        let d = log(&body);
        if d.iter().all(|d| d.status != DeliveryStatus::Pending) {
            break d;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "deliveries never settled: {d:?}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!(deliveries.len(), 3 * alerts.len(), "each alert once per webhook");
    for d in &deliveries {
        match d.webhook.as_str() {
            "dead" => {
                assert_eq!((d.status, d.attempts), (DeliveryStatus::Failed, 8), "{d:?}");
                assert_eq!(d.last_error.as_deref(), Some("connection failed"), "{d:?}");
            }
            _ => assert_eq!(
                (d.status, d.attempts, d.last_status),
                (DeliveryStatus::Delivered, 3, Some(200)),
                "{d:?}"
            ),
        }
    }

    // more rounds and more evaluations send nothing again
    deliver_due(&db, &sender).await.unwrap();
    send(&app, with_cookie(post_form(ListBudgets::PATH, ""), &fin)).await;
    deliver_due(&db, &sender).await.unwrap();
    let seen = receiver.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3 * 2 * alerts.len(), "three attempts per delivery, nothing after the 200");
    for a in &alerts {
        for path in ["/json", "/slack"] {
            let got: Vec<_> = seen
                .iter()
                .filter(|s| {
                    s.0 == path
                        && s.2.contains(&format!("Budget \\\"{}\\\"", "Support AI"))
                        && s.2.contains(&a.actual.usd())
                })
                .collect();
            assert!(!got.is_empty(), "{path}: {seen:?}");
        }
    }
    for id in seen.iter().map(|s| s.1.clone()).collect::<std::collections::BTreeSet<_>>() {
        let attempts: Vec<_> = seen.iter().filter(|s| s.1 == id).collect();
        assert_eq!(attempts.iter().map(|s| s.3).collect::<Vec<_>>(), [500, 500, 200], "delivery {id}");
        assert!(attempts.iter().all(|s| s.2 == attempts[0].2), "every retry sends the same body");
    }
    let json: serde_json::Value =
        serde_json::from_str(&seen.iter().find(|s| s.0 == "/json" && s.3 == 200).unwrap().2).unwrap();
    assert!(json["key"].as_str().unwrap().starts_with("budget:"));
    assert_eq!(json["data"]["amount_nanos"], 20_000_000_000i64);
    assert_eq!(json["data"]["actual_nanos"], 12_123_456_791i64);
    let slack: serde_json::Value =
        serde_json::from_str(&seen.iter().find(|s| s.0 == "/slack").unwrap().2).unwrap();
    assert!(slack["text"].as_str().unwrap().starts_with("*Budget \"Support AI\""), "{slack}");

    // a failed delivery can be queued again by finance, not by a viewer
    let dead = deliveries.iter().find(|d| d.webhook == "dead").unwrap().id;
    let (status, _) =
        send(&app, with_cookie(post_form(RetryDelivery::PATH, &format!("id={dead}")), &viewer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) =
        send(&app, with_cookie(post_form(RetryDelivery::PATH, &format!("id={dead}")), &fin)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = send(&app, with_cookie(post_form(ListWebhooks::PATH, ""), &fin)).await;
    let again = log(&body).into_iter().find(|d| d.id == dead).unwrap();
    assert_eq!((again.status, again.attempts), (DeliveryStatus::Pending, 0));
}
on_both!(webhooks_deliver_each_alert_exactly_once_through_a_receiver_that_fails_twice);

/// The server is not a port scanner: internal receivers are refused when saved (after DNS),
/// and a stored address that points inward is refused again at delivery, with a log line that
/// tells nothing about what listens there.
async fn webhooks_to_internal_addresses_are_refused_unless_the_operator_allows_them(db: Db) {
    use app::domain::egress::AllowList;
    use app::domain::webhook::DeliveryStatus;
    use app::server::services::webhooks::{create, deliver_due, Egress, Sender};
    let org = db.ensure_org("default", "Default").await.unwrap();
    let actor = app::server::db::Actor::cli();
    let strict = Egress::default();
    for (url, why) in [
        ("http://127.0.0.1:5432/x", "127.0.0.1 is a loopback address"),
        ("http://10.0.0.1/hook", "10.0.0.1 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("http://localhost:3000/hook", "localhost is a loopback address"),
        ("http://[::1]:9000/", "::1 is a loopback address"),
        ("http://[::ffff:192.168.0.1]/", "::ffff:192.168.0.1 is a private address"),
    ] {
        let e = create(&db, &strict, org, &actor, "inside", url, "json").await.unwrap_err();
        assert!(e.to_string().starts_with(&format!("url: {why}")), "{url}: {e}");
        assert!(e.to_string().contains("--webhook-allow"), "{e}");
    }
    assert!(db.webhooks(org).await.unwrap().is_empty(), "nothing refused was saved");

    // an operator allows one on-premise receiver; a delivery there is refused again once the
    // policy no longer allows it (the check is repeated on every attempt)
    let (receiver, base) = start_receiver().await;
    let allowed = Egress::new(AllowList::parse("127.0.0.1").unwrap());
    create(&db, &allowed, org, &actor, "on-prem", &format!("{base}/json"), "json").await.unwrap();
    let hook = db.webhooks(org).await.unwrap()[0].id;
    app::server::services::webhooks::send_test(&db, org, &actor, hook).await.unwrap();
    let quick = |egress| {
        Sender::new(None, std::time::Duration::from_millis(1), std::time::Duration::from_millis(1), egress)
            .unwrap()
    };
    let (mut attempts, started) = (0, std::time::Instant::now());
    while db.webhook_deliveries(org, 10).await.unwrap()[0].status == DeliveryStatus::Pending {
        attempts += deliver_due(&db, &quick(strict.clone())).await.unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    assert_eq!(attempts, 8, "every attempt made, each refused");
    assert!(receiver.seen.lock().unwrap().is_empty(), "nothing reached the receiver");
    let log = db.webhook_deliveries(org, 10).await.unwrap();
    assert_eq!(
        (log[0].status, log[0].last_error.as_deref()),
        (DeliveryStatus::Failed, Some("connection failed"))
    );
    assert_eq!(log[0].last_status, None);
    assert!(db.retry_delivery(org, log[0].id).await.unwrap());
    // and with the operator's allow-list it arrives (the test receiver fails twice, then 200)
    let started = std::time::Instant::now();
    while db.webhook_deliveries(org, 10).await.unwrap()[0].status == DeliveryStatus::Pending {
        deliver_due(&db, &quick(allowed.clone())).await.unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(db.webhook_deliveries(org, 10).await.unwrap()[0].status, DeliveryStatus::Delivered);
    assert_eq!(receiver.seen.lock().unwrap().len(), 3);
}
on_both!(webhooks_to_internal_addresses_are_refused_unless_the_operator_allows_them);

async fn product_owners_record_outcomes_for_their_own_initiatives_only(db: Db) {
    use app::api::initiatives::{
        CorrectOutcome, DecideFlag, InitiativesPage, ListInitiatives, RecordOutcome,
    };
    use app::domain::initiative::parse_initiative;
    use app::server::services::initiatives;
    let app = app_with_events(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let add = |email: &str, role| AddUser {
        email: email.into(),
        name: "P".into(),
        role,
        password: "a product long password".into(),
        team: None,
    };
    let admin =
        add_user(&db, org, &app::server::db::Actor::cli(), add("boss@example.com", app::domain::Role::Admin))
            .await
            .unwrap();
    add_user(&db, org, &app::server::db::Actor::cli(), add("po@example.com", app::domain::Role::Product))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for (key, owner) in [("copilot", "po@example.com"), ("search", "other@example.com")] {
        let i = parse_initiative(key, key, "", owner, "", "live", "", "", "tickets", "", "15", "", "", "")
            .unwrap();
        ids.push(initiatives::create(&db, org, &admin, i).await.unwrap());
    }
    let po = sign_in(&app, "po@example.com", "a product long password", None).await.unwrap();
    let viewer = sign_in(&app, VIEWER, PASSWORD, None).await.unwrap();
    let form = |id: i64, qty: &str| {
        format!(
            "initiative={id}&day=2026-11-05&period_end=&metric=&quantity={qty}&value_per_unit=&total_value=\
            &baseline_cost=&note=&evidence="
        )
    };
    let (status, body) =
        send(&app, with_cookie(post_form(RecordOutcome::PATH, &form(ids[0], "-3")), &po)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("quantity: '-3'"), "{body}");
    let (status, body) =
        send(&app, with_cookie(post_form(RecordOutcome::PATH, &form(ids[0], "2")), &po)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = send(&app, with_cookie(post_form(RecordOutcome::PATH, &form(ids[1], "2")), &po)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not their initiative");
    let (status, _) =
        send(&app, with_cookie(post_form(RecordOutcome::PATH, &form(ids[0], "2")), &viewer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "viewers record nothing");
    let list = |q: &'static str| {
        let (app, viewer) = (app.clone(), viewer.clone());
        async move { send(&app, with_cookie(post_form(ListInitiatives::PATH, q), &viewer)).await }
    };
    let (status, body) = list("from=&to=").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page: InitiativesPage = serde_json::from_str(&body).unwrap();
    let copilot = page.lines.iter().find(|l| l.initiative.key == "copilot").unwrap();
    assert_eq!(copilot.metrics.value, Nanos(30_000_000_000), "2 tickets × $15");
    assert!(!copilot.can_manage && !page.can_create, "a viewer manages nothing");
    assert_eq!(db.outcomes(org, None).await.unwrap().len(), 1, "only the owner's outcome was stored");
    // the portfolio over a period that ends before the outcome shows no value
    let (status, body) = list("from=2026-11-01&to=2026-11-04").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page: InitiativesPage = serde_json::from_str(&body).unwrap();
    let copilot = page.lines.iter().find(|l| l.initiative.key == "copilot").unwrap();
    assert_eq!(
        (copilot.metrics.value, page.period.map(|p| p.to.to_string())),
        (Nanos::ZERO, Some("2026-11-04".into()))
    );
    let (status, body) = list("from=2026-11-10&to=2026-11-01").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("from: 2026-11-10 is after to: 2026-11-01"), "{body}");
    // the owner corrects their outcome; the same correction of another's is refused
    let outcome = db.outcomes(org, None).await.unwrap()[0].id;
    let fix = |id: i64| {
        format!(
            "initiative={id}&outcome={outcome}&day=2026-11-05&period_end=&metric=tickets&quantity=3&value_per_unit=\
            &total_value=&baseline_cost=&note=recount&evidence="
        )
    };
    let (status, body) = send(&app, with_cookie(post_form(CorrectOutcome::PATH, &fix(ids[0])), &po)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(db.outcomes(org, None).await.unwrap()[0].value, Nanos(45_000_000_000), "3 tickets × $15");
    let (status, _) = send(&app, with_cookie(post_form(CorrectOutcome::PATH, &fix(ids[1])), &po)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not their initiative");
    let (status, _) = send(
        &app,
        with_cookie(post_form(DecideFlag::PATH, "flag=999&decision=keep&owner=&note=&fix_by="), &viewer),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
on_both!(product_owners_record_outcomes_for_their_own_initiatives_only);

fn multipart_csv(uri: &str, csv: &str) -> Request<Body> {
    let boundary = "costroom-test-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"outcomes.csv\"\r\n\
        Content-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    );
    Request::post(uri)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(body))
        .unwrap()
}

async fn outcomes_arrive_by_api_and_csv_upload_each_line_once_with_errors_naming_line_and_field(db: Db) {
    use app::domain::initiative::parse_initiative;
    use app::server::services::initiatives;
    let (app, ingest, _read) = ingest_app(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let add = |email: &str, role| AddUser {
        email: email.into(),
        name: "P".into(),
        role,
        password: "a product long password".into(),
        team: None,
    };
    let cli = app::server::db::Actor::cli();
    let admin = add_user(&db, org, &cli, add("boss@example.com", app::domain::Role::Admin)).await.unwrap();
    let po_user = add_user(&db, org, &cli, add("po@example.com", app::domain::Role::Product)).await.unwrap();
    let mut ids = Vec::new();
    for (key, owner) in [("smart-search", "po@example.com"), ("copilot", "other@example.com")] {
        let i = parse_initiative(key, key, "", owner, "", "live", "", "", "conversions", "", "", "", "", "")
            .unwrap();
        ids.push(initiatives::create(&db, org, &admin, i).await.unwrap());
    }
    // outcomes need their own scope: the ingest key (bound to smart-search) is refused, and only
    // someone who manages the initiative may make an outcomes key for it
    use app::server::services::keys::{create_key, KeyRequest};
    let hasher = KeyHasher::load(&db).await.unwrap();
    let eng = add_user(&db, org, &cli, add("eng@example.com", app::domain::Role::Engineering)).await.unwrap();
    let po_id = po_user.id;
    let outcomes_key = |user: app::server::db::UserId, email: &str, initiative: Option<&str>| KeyRequest {
        name: "crm".into(),
        team: "search".into(),
        scopes: "outcomes".into(),
        initiative: initiative.map(String::from),
        expires_in_days: None,
        actor: app::server::db::Actor::person(user, email),
    };
    let refused =
        create_key(&db, &hasher, org, outcomes_key(eng.id, "eng@example.com", Some("smart-search"))).await;
    assert!(
        matches!(refused, Err(app::error::AppError::Forbidden)),
        "engineering does not manage it: {refused:?}"
    );
    let refused = create_key(&db, &hasher, org, outcomes_key(po_id, "po@example.com", Some("copilot"))).await;
    assert!(matches!(refused, Err(app::error::AppError::Forbidden)), "not the owner: {refused:?}");
    let unbound =
        create_key(&db, &hasher, org, outcomes_key(po_id, "po@example.com", None)).await.unwrap_err();
    assert!(unbound.to_string().starts_with("initiative:"), "{unbound}");
    let unknown =
        create_key(&db, &hasher, org, outcomes_key(po_id, "po@example.com", Some("nope"))).await.unwrap_err();
    assert!(unknown.to_string().contains("'nope' is not an initiative"), "{unknown}");
    let outcomes = create_key(&db, &hasher, org, outcomes_key(po_id, "po@example.com", Some("smart-search")))
        .await
        .unwrap()
        .token;
    // the key was made for smart-search: copilot's line is refused
    let csv = "initiative,day,metric,quantity,value_per_unit,total_value,external_id\n\
        smart-search,2026-11-02,conversions,3,2.50,,w45\n\
        smart-search,2026-11-09,conversions,x,,,w46\n\
        copilot,2026-11-02,tickets,1,1,,c1\n\
        smart-search,2026-11-16,,,,12.345678901,w47\n";
    let post = |auth: Option<&str>| {
        let mut r = Request::post("/api/v1/outcomes").header("content-type", "text/csv");
        if let Some(t) = auth {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        r.body(Body::from(csv)).unwrap()
    };
    let (status, _) = send(&app, post(None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = send(&app, post(Some(&ingest))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an ingest key records no value: {body}");
    let (status, body) = send(&app, post(Some(&outcomes))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (r["accepted"].as_u64(), r["rejected"].as_u64(), r["duplicates"].as_u64()),
        (Some(2), Some(2), Some(0))
    );
    assert_eq!(r["value"], 7_500_000_000i64 + 12_345_678_901, "3 × $2.50 + $12.345678901, to the nano");
    let errors = r["errors"].as_array().unwrap();
    assert_eq!((errors[0]["at"].as_u64(), errors[0]["field"].as_str()), (Some(3), Some("quantity")));
    assert_eq!((errors[1]["at"].as_u64(), errors[1]["field"].as_str()), (Some(4), Some("initiative")));
    // the same file again: nothing counted twice
    let (status, body) = send(&app, post(Some(&outcomes))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((r["accepted"].as_u64(), r["duplicates"].as_u64()), (Some(0), Some(2)));
    assert_eq!(db.outcomes(org, Some(ids[0])).await.unwrap().len(), 2);

    // the owner uploads a CSV on their initiative's page; not on someone else's
    let po = sign_in(&app, "po@example.com", "a product long password", None).await.unwrap();
    let upload = "day,quantity,total_value,note,external_id\n2026-11-20,,40,campaign,p1\n2026-11-21,,,missing value,p2\n";
    let res = app
        .clone()
        .oneshot(with_cookie(multipart_csv(&format!("/initiatives/{}/outcomes", ids[0]), upload), &po))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("/initiatives/{}?imported=1&duplicates=0&rejected=1", ids[0])),
        "{location}"
    );
    assert!(location.contains("line%203%3A%20total_value"), "{location}");
    let res = app
        .clone()
        .oneshot(with_cookie(multipart_csv(&format!("/initiatives/{}/outcomes", ids[1]), upload), &po))
        .await
        .unwrap();
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("imported=0&duplicates=0&rejected=2"), "{location}");
    let viewer = sign_in(&app, VIEWER, PASSWORD, None).await.unwrap();
    let res = app
        .clone()
        .oneshot(with_cookie(multipart_csv(&format!("/initiatives/{}/outcomes", ids[0]), upload), &viewer))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let stored = db.outcomes(org, None).await.unwrap();
    assert_eq!(stored.len(), 3);
    assert_eq!(
        stored.iter().find(|o| o.external_id.as_deref() == Some("p1")).unwrap().recorded_by,
        "po@example.com"
    );
    // the key's right is its creator's right today: once the owner is no longer product, it stops
    app::server::services::users::change_role(&db, org, &cli, po_id, "viewer").await.unwrap();
    let (status, body) = send(&app, post(Some(&outcomes))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(db.outcomes(org, None).await.unwrap().len(), 3);
}
on_both!(outcomes_arrive_by_api_and_csv_upload_each_line_once_with_errors_naming_line_and_field);

async fn engineers_work_anomalies_through_the_router_and_viewers_read_them(db: Db) {
    use app::api::anomalies::{ActOnAnomaly, GetAnomaly, ListAnomalies, ReportAnomaly};
    use app::domain::anomaly::{AnomaliesPage, AnomalyDetail, Status};
    let app = app_with_events(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let eng = AddUser {
        email: "eng@example.com".into(),
        name: "E".into(),
        role: app::domain::Role::Engineering,
        password: "an engineer's long password".into(),
        team: None,
    };
    add_user(&db, org, &app::server::db::Actor::cli(), eng).await.unwrap();
    let eng = sign_in(&app, "eng@example.com", "an engineer's long password", None).await.unwrap();
    let viewer = sign_in(&app, VIEWER, PASSWORD, None).await.unwrap();
    let report = |start: &str| format!("scope_dim=total&scope_value=&start={start}&note=double+billing");
    let (status, body) =
        send(&app, with_cookie(post_form(ReportAnomaly::PATH, &report("yesterday")), &eng)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("start: 'yesterday' is not a date and time"), "{body}");
    let (status, _) =
        send(&app, with_cookie(post_form(ReportAnomaly::PATH, &report("2026-11-09T08%3A30")), &viewer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "viewers report nothing");
    let (status, body) =
        send(&app, with_cookie(post_form(ReportAnomaly::PATH, &report("2026-11-09T08%3A30")), &eng)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id: i64 = serde_json::from_str(&body).unwrap();

    // everyone signed in reads the inbox and the record; the reported one counts as missed
    let (status, body) =
        send(&app, with_cookie(post_form(ListAnomalies::PATH, "status=open&scope=&severity="), &viewer))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page: AnomaliesPage = serde_json::from_str(&body).unwrap();
    assert_eq!(page.anomalies.len(), 1);
    assert_eq!((page.figures.reported, page.figures.rate_pct), (1, Some(0.0)));
    assert!(!page.can_act);
    let (status, _) = send(
        &app,
        with_cookie(
            post_form(ActOnAnomaly::PATH, &format!("id={id}&action=acknowledge&assignee=&note=")),
            &viewer,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let act = |action: &str| format!("id={id}&action={action}&assignee=eng%40example.com&note=on+it");
    let (status, body) =
        send(&app, with_cookie(post_form(ActOnAnomaly::PATH, &act("acknowledge")), &eng)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) =
        send(&app, with_cookie(post_form(ActOnAnomaly::PATH, &act("acknowledge")), &eng)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("action: a acknowledged anomaly cannot become acknowledged"), "{body}");
    let (status, body) =
        send(&app, with_cookie(post_form(GetAnomaly::PATH, &format!("id={id}")), &viewer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let d: AnomalyDetail = serde_json::from_str(&body).unwrap();
    assert_eq!((d.anomaly.status, d.anomaly.assignee.as_str()), (Status::Acknowledged, "eng@example.com"));
    assert_eq!(d.events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["reported", "acknowledge"]);
    let (status, html) = send(&app, with_cookie(get(&format!("/anomalies/{id}")), &viewer)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("double billing") && html.contains("acknowledged"), "the page renders the record");
}
on_both!(engineers_work_anomalies_through_the_router_and_viewers_read_them);

async fn a_review_is_exported_and_only_finance_closes_it(db: Db) {
    use app::api::reviews::{CloseReview, CreateReviewSchedule, GetReview, ListReviews, ReviewsPage};
    let app = app_with_events(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let fin = AddUser {
        email: "fin@example.com".into(),
        name: "F".into(),
        role: app::domain::Role::Finance,
        password: "a finance long password".into(),
        team: None,
    };
    add_user(&db, org, &app::server::db::Actor::cli(), fin).await.unwrap();
    let fin = sign_in(&app, "fin@example.com", "a finance long password", None).await.unwrap();
    let viewer = sign_in(&app, VIEWER, PASSWORD, None).await.unwrap();
    let (status, _) = send(
        &app,
        with_cookie(post_form(CreateReviewSchedule::PATH, "team=&cadence=monthly&day=3"), &viewer),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) =
        send(&app, with_cookie(post_form(CreateReviewSchedule::PATH, "team=&cadence=monthly&day=30"), &fin))
            .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("day: a day of the month from 1 to 28"), "{body}");
    let (status, body) =
        send(&app, with_cookie(post_form(CreateReviewSchedule::PATH, "team=&cadence=monthly&day=3"), &fin))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // today is 2026-11-20: the meeting of 3 November reviews October
    let (_, body) = send(&app, with_cookie(post_form(ListReviews::PATH, ""), &viewer)).await;
    let page: ReviewsPage = serde_json::from_str(&body).unwrap();
    let r = &page.reviews[0];
    assert_eq!(
        (r.meeting.to_string(), r.period.from.to_string()),
        ("2026-11-03".into(), "2026-10-01".into())
    );
    assert_eq!(page.upcoming[0].1.to_string(), "2026-12-03");
    let (status, _) =
        send(&app, with_cookie(post_form(CloseReview::PATH, &format!("id={}", r.id)), &viewer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "viewers close nothing");
    let (status, body) =
        send(&app, with_cookie(post_form(CloseReview::PATH, &format!("id={}", r.id)), &fin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) =
        send(&app, with_cookie(post_form(GetReview::PATH, &format!("id={}", r.id)), &viewer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("\"closed_by\":\"fin@example.com\""), "{body}");
    // the export: CSV by default, JSON on request, sign-in required
    let (status, csv) = send(&app, with_cookie(get(&format!("/reviews/{}/export", r.id)), &viewer)).await;
    assert_eq!(status, StatusCode::OK);
    // October holds event a: $1.50 on 3 October
    assert!(csv.lines().any(|l| l == "spend,total_nanos,1500000000,0"), "{csv}");
    let (status, json) =
        send(&app, with_cookie(get(&format!("/reviews/{}/export?format=json", r.id)), &viewer)).await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["figures"]["spend"], serde_json::json!(1_500_000_000i64));
    let (status, _) = send(&app, get(&format!("/reviews/{}/export", r.id))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
on_both!(a_review_is_exported_and_only_finance_closes_it);
