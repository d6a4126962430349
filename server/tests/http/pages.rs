//! The read API and the server-rendered pages, budgets.
use super::*;

pub(crate) async fn read_key(db: &Db, scopes: &str) -> String {
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

pub(crate) fn get_with_key(uri: &str, key: &str) -> Request<Body> {
    Request::get(uri).header("authorization", key).body(Body::empty()).unwrap()
}

pub(crate) async fn read_api_returns_what_the_explorer_shows_to_read_keys_and_people(db: Db) {
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
    let page: SpendPage = serde_json::from_str::<app::charts::Charted<SpendPage>>(&body).unwrap().data;
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

    // combined filters are answered from a cube, hourly ones from the raw rows, with the same total
    for (gran, from) in [("day", "rollups"), ("hour", "raw")] {
        let uri = format!(
            "/api/v1/spend?group=model&team=support&environment=prod&from=2026-11-01&to=2026-11-10&gran={gran}"
        );
        let (_, body) = send(&app, get_with_key(&uri, &key)).await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["answered_from"], from, "{gran}");
        assert_eq!(v["total"]["cost_nanos"], 12_123_456_791i64, "{gran}");
    }

    // bad parameters are named
    let (status, body) = send(&app, get_with_key("/api/v1/spend?group=colour", &key)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("group: unknown dimension 'colour'"), "{body}");
    let (status, body) = send(&app, get_with_key("/api/v1/spend?format=xml", &key)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("format: 'xml'"), "{body}");
}
on_both!(read_api_returns_what_the_explorer_shows_to_read_keys_and_people);

pub(crate) async fn explorer_page_is_server_rendered_with_the_table(db: Db) {
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

pub(crate) async fn kpi_coverage_scope_and_trace_pages_render_on_the_server(db: Db) {
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

pub(crate) async fn finance_creates_a_budget_whose_passed_threshold_alerts_and_a_viewer_cannot(db: Db) {
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
