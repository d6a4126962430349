//! The authorization table: every server function, machine route and page, with what each
//! kind of caller (anonymous, and each role) gets. It fails when something exists that the
//! table does not list, so a new endpoint cannot ship without a decision about who may call it.
use std::collections::BTreeSet;

use app::domain::{Right, Role};
use app::server::db::Actor;
use app::server::services::auth::ensure_demo_users;
use app::server::services::keys::{create_key, KeyHasher, KeyRequest};
use app::server::services::users::{add_user, AddUser};
use app::server::startup;
use app::server::testing::TestDb;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::NaiveDate;
use tower::ServiceExt;

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Anyone, signed in or not (sign-in itself, health, setup status).
    Public,
    /// Any signed-in role; anonymous callers are refused (401, or a redirect to sign-in for pages).
    SignedIn,
    /// Signed-in roles that hold the right; others get 403, anonymous callers 401 / sign-in.
    Needs(Right),
    /// Only with an API key (`Authorization: Bearer`); a browser session is not enough.
    ApiKey,
}
use Access::*;

const PEOPLE: Access = Needs(Right::ManagePeople);
const ENGINEERING: Access = Needs(Right::ManageEngineering);

/// (method, path, form body, access). Server functions are POST under /api, pages GET. Bodies
/// are valid calls, so that a refusal can only come from the authorization check; `{target}`
/// is a person who is not one of the callers, `{prefix}` an API key's prefix.
const TABLE: &[(&str, &str, &str, Access)] = &[
    // server functions
    ("POST", "/api/get_overview", "", SignedIn),
    ("POST", "/api/get_spend", "query=group%3Dmodel", SignedIn),
    ("POST", "/api/list_traces", "", SignedIn),
    ("POST", "/api/list_budgets", "", SignedIn),
    ("POST", "/api/mark_alerts_read", "", SignedIn),
    ("POST", "/api/get_inbox", "", SignedIn),
    ("POST", "/api/verify_outcome", "initiative=999&outcome=1", Needs(Right::ManageBudgets)),
    ("POST", "/api/get_budget", "id=999", SignedIn),
    (
        "POST",
        "/api/update_budget",
        "id=999&name=b&scope=organisation&scope_value=&period=month&fiscal_start_month=1&start=2026-11-01&amount_usd=100&thresholds=&owner=x",
        Needs(Right::ManageBudgets),
    ),
    ("POST", "/api/delete_budget", "id=999", Needs(Right::ManageBudgets)),
    (
        "POST",
        "/api/create_budget",
        "name=b&scope=organisation&scope_value=&period=month&fiscal_start_month=1&start=2026-11-01&amount_usd=100&thresholds=&owner=x",
        Needs(Right::ManageBudgets),
    ),
    ("POST", "/api/list_webhooks", "", SignedIn),
    ("POST", "/api/list_initiatives", "from=&to=", SignedIn),
    ("POST", "/api/get_initiative", "id=999&from=&to=", SignedIn),
    (
        "POST",
        "/api/create_initiative",
        "key=k&name=n&description=&owner=o%40x.com&team=&status=live&kickoff=&go_live=&metric=m&unit=&value_per_unit=&features=&api_keys=&tags=",
        Needs(Right::ManageInitiatives),
    ),
    (
        "POST",
        "/api/record_outcome",
        "initiative=999&day=2026-11-01&period_end=&metric=m&quantity=1&value_per_unit=1&total_value=&baseline_cost=&note=&evidence=",
        Needs(Right::ManageInitiatives),
    ),
    (
        "POST",
        "/api/set_zombie_rules",
        "spend_days=30&min_spend=10&outcome_days=45&roi_days=90&min_roi_pct=0&usage_days=30&usage_drop_pct=50",
        PEOPLE,
    ),
    (
        "POST",
        "/api/update_initiative",
        "id=999&name=n&description=&owner=o%40x.com&team=&status=live&kickoff=&go_live=&metric=m&unit=&value_per_unit=&features=&api_keys=&tags=",
        Needs(Right::ManageInitiatives),
    ),
    (
        "POST",
        "/api/correct_outcome",
        "initiative=999&outcome=1&day=2026-11-01&period_end=&metric=m&quantity=1&value_per_unit=1&total_value=&baseline_cost=&note=&evidence=",
        Needs(Right::ManageInitiatives),
    ),
    ("POST", "/api/remove_outcome", "initiative=999&outcome=1&reason=x", Needs(Right::ManageInitiatives)),
    ("POST", "/api/decide_flag", "flag=999&decision=keep&owner=&note=&fix_by=", Needs(Right::ManageInitiatives)),
    ("POST", "/api/forecast_accuracy", "", SignedIn),
    ("POST", "/api/list_anomalies", "status=&scope=&severity=", SignedIn),
    ("POST", "/api/list_reviews", "", SignedIn),
    ("POST", "/api/get_review", "id=999", SignedIn),
    ("POST", "/api/create_review_schedule", "team=&cadence=weekly&day=1", Needs(Right::ManageBudgets)),
    ("POST", "/api/close_review", "id=999", Needs(Right::ManageBudgets)),
    ("POST", "/api/add_review_decision", "review=999&text=x", Needs(Right::TakePartInReviews)),
    ("POST", "/api/add_action_item", "review=999&title=x&owner=a%40b.c&due=", Needs(Right::TakePartInReviews)),
    ("POST", "/api/set_action_done", "id=999&done=true", Needs(Right::TakePartInReviews)),
    ("POST", "/api/get_maturity", "", SignedIn),
    (
        "POST",
        "/api/set_maturity_item",
        "item=objectives&done=yes&owner=&evidence=x&date=",
        PEOPLE,
    ),
    ("POST", "/api/get_anomaly", "id=999", SignedIn),
    ("POST", "/api/act_on_anomaly", "id=999&action=acknowledge&assignee=&note=", Needs(Right::ManageAlerts)),
    (
        "POST",
        "/api/report_anomaly",
        "scope_dim=total&scope_value=&start=2026-11-01T10%3A00&note=x",
        Needs(Right::ManageAlerts),
    ),
    ("POST", "/api/set_anomaly_settings", "min_excess=1&alert_severity=medium", Needs(Right::ManageAlerts)),
    ("POST", "/api/create_webhook", "name=w&url=http%3A%2F%2F127.0.0.1%3A1%2Fx&format=json", Needs(Right::ManageAlerts)),
    ("POST", "/api/delete_webhook", "id=999", Needs(Right::ManageAlerts)),
    ("POST", "/api/test_webhook", "id=999", Needs(Right::ManageAlerts)),
    ("POST", "/api/retry_delivery", "id=999", Needs(Right::ManageAlerts)),
    ("POST", "/api/get_kpis", "", SignedIn),
    ("POST", "/api/get_coverage", "", SignedIn),
    ("POST", "/api/get_scope", "dim=team&value=search", SignedIn),
    ("POST", "/api/get_trace", "trace_id=none", SignedIn),
    ("POST", "/api/set_trace_limits", "max_depth=4&max_retries=3", ENGINEERING),
    ("POST", "/api/get_ledger", "", SignedIn),
    ("POST", "/api/get_ledger_rules", "", SignedIn),
    (
        "POST",
        "/api/set_ledger_rules",
        "team=team&feature=&initiative=&customer=&environment=&covered_by_events=",
        Needs(Right::ImportBilling),
    ),
    (
        "POST",
        "/api/set_gpu_rate",
        "gpu_type=H100&effective_from=2026-11-01&usd_per_hour=2",
        Needs(Right::ImportBilling),
    ),
    (
        "POST",
        "/api/add_training_run",
        "run_id=r&model=m&started_at=2026-11-01&ended_at=2026-11-02&cost_usd=1",
        Needs(Right::ImportBilling),
    ),
    (
        "POST",
        "/api/add_commitment",
        "provider=p&model=m&units=1&term_start=2026-11-01&term_end=2026-11-02&price_usd=2",
        Needs(Right::ImportBilling),
    ),
    ("POST", "/api/whoami", "", Public),
    ("POST", "/api/setup_needed", "", Public),
    ("POST", "/api/list_people", "", SignedIn),
    (
        "POST",
        "/api/add_person",
        "name=N&email=new%40example.com&role=viewer&password=a+long+enough+password",
        PEOPLE,
    ),
    ("POST", "/api/change_role", "user_id={target}&role=finance", PEOPLE),
    ("POST", "/api/set_disabled", "user_id={target}&disabled=false", PEOPLE),
    ("POST", "/api/list_teams", "", SignedIn),
    ("POST", "/api/create_team", "slug=authz-new&name=N", PEOPLE),
    ("POST", "/api/set_team_member", "team=authz&email=target%40example.com&member=true", PEOPLE),
    ("POST", "/api/list_api_keys", "", SignedIn),
    ("POST", "/api/create_api_key", "name=k&team=authz&scope_read=on", ENGINEERING),
    ("POST", "/api/revoke_api_key", "prefix={prefix}", ENGINEERING),
    ("POST", "/api/list_audit", "", PEOPLE),
    ("POST", "/api/list_prices", "", SignedIn),
    ("POST", "/api/list_ledger_imports", "", SignedIn),
    ("POST", "/api/import_status", "job=999", Needs(Right::ImportBilling)),
    ("POST", "/api/get_attribute_mapping", "", SignedIn),
    (
        "POST",
        "/api/set_attribute_mapping",
        "team=costroom.team&feature=service.name&initiative=&customer=&environment=",
        ENGINEERING,
    ),
    (
        "POST",
        "/api/set_model_price",
        "model=m&provider=p&effective_from=2026-01-01&input_per_m=1&output_per_m=2",
        ENGINEERING,
    ),
    ("POST", "/api/start_recompute", "since=2026-11-01", ENGINEERING),
    ("POST", "/api/recompute_status", "job=999", ENGINEERING),
    ("POST", "/api/guardrails_page", "", SignedIn),
    (
        "POST",
        "/api/create_guardrail",
        "name=authz+cap&scope=org&effective_from=2026-11-01&limit=cap&period=month&amount_usd=5",
        ENGINEERING,
    ),
    ("POST", "/api/set_guardrail_mode", "id=999&mode=shadow", ENGINEERING),
    ("POST", "/api/delete_guardrail", "id=999", ENGINEERING),
    ("POST", "/api/replay_guardrails", "", SignedIn),
    ("POST", "/api/gateway_page", "", SignedIn),
    ("POST", "/api/save_upstream", "provider=openai&base_url=&api_key=", ENGINEERING),
    ("POST", "/api/delete_upstream", "provider=openai", ENGINEERING),
    (
        "POST",
        "/api/change_password",
        "current_password=not+the+password&new_password=another+long+password",
        SignedIn,
    ),
    // machine routes
    ("GET", "/healthz", "", Public),
    ("POST", "/auth/signin", "", Public),
    ("POST", "/auth/signout", "", Public),
    ("POST", "/auth/setup", "", Public),
    ("GET", "/api/v1/key", "", ApiKey),
    ("GET", "/settings/audit.csv", "", PEOPLE),
    ("GET", "/ledger/focus.csv", "", SignedIn),
    ("GET", "/guardrails/decisions.csv", "", SignedIn),
    // also a read-scoped key (server/tests/http/main.rs)
    ("GET", "/api/v1/spend", "", SignedIn),
    ("POST", "/api/v1/events", "[]", ApiKey),
    ("POST", "/v1/traces", "", ApiKey),
    ("POST", "/api/v1/ledger/gpu-usage", "[]", ApiKey),
    ("POST", "/api/v1/ledger/training-runs", "[]", ApiKey),
    ("POST", "/api/v1/ledger/commitments", "[]", ApiKey),
    ("POST", "/ledger/focus", "", Needs(Right::ImportBilling)),
    ("POST", "/api/v1/outcomes", "[]", ApiKey),
    ("POST", "/api/v1/authorize", "{}", ApiKey),
    ("POST", "/api/v1/authorize/{id}/settle", "{}", ApiKey),
    ("POST", "/gateway/openai/v1/{*path}", "{}", ApiKey),
    ("POST", "/gateway/anthropic/v1/{*path}", "{}", ApiKey),
    ("POST", "/initiatives/{id}/outcomes", "", Needs(Right::ManageInitiatives)),
    ("POST", "/ledger/report", "", Needs(Right::ImportBilling)),
    // pages
    ("GET", "/", "", SignedIn),
    ("GET", "/signin", "", Public),
    ("GET", "/setup", "", Public),
    ("GET", "/spend", "", SignedIn),
    ("GET", "/traces", "", SignedIn),
    ("GET", "/budgets/{id}", "", SignedIn),
    ("GET", "/budgets/accuracy", "", SignedIn),
    ("GET", "/kpis", "", SignedIn),
    ("GET", "/coverage", "", SignedIn),
    ("GET", "/spend/{dim}/{value}", "", SignedIn),
    ("GET", "/traces/{id}", "", SignedIn),
    ("GET", "/budgets", "", SignedIn),
    ("GET", "/alerts", "", SignedIn),
    ("GET", "/initiatives", "", SignedIn),
    ("GET", "/initiatives/{id}", "", SignedIn),
    ("GET", "/anomalies", "", SignedIn),
    ("GET", "/anomalies/{id}", "", SignedIn),
    ("GET", "/guardrails", "", SignedIn),
    ("GET", "/reviews", "", SignedIn),
    ("GET", "/reviews/{id}", "", SignedIn),
    ("GET", "/reviews/{id}/export", "", SignedIn),
    ("GET", "/maturity", "", SignedIn),
    ("GET", "/settings", "", SignedIn),
    ("GET", "/settings/people", "", SignedIn),
    ("GET", "/settings/teams", "", SignedIn),
    ("GET", "/settings/keys", "", SignedIn),
    ("GET", "/settings/audit", "", PEOPLE),
    ("GET", "/settings/prices", "", SignedIn),
    ("GET", "/settings/imports", "", SignedIn),
    ("GET", "/settings/webhooks", "", SignedIn),
    ("GET", "/settings/gateway", "", SignedIn),
    ("GET", "/account", "", SignedIn),
    ("GET", "/ledger", "", SignedIn),
];

/// Listing the pages renders the app in route-generation mode; run it before, not beside, the
/// requests of the other check (one test, so the two never overlap).
fn the_table_lists_every_server_function_route_and_page() {
    let listed: BTreeSet<(String, String)> =
        TABLE.iter().map(|(m, p, _, _)| (m.to_string(), p.to_string())).collect();
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
    let today = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let state = startup::state(&t.db, org, startup::Options::for_tests(today)).await.unwrap();
    let app = server::build_router(state);
    let cli = Actor::cli();
    let target = AddUser {
        email: "target@example.com".into(),
        name: "Target".into(),
        role: Role::Viewer,
        password: "a long enough password".into(),
        team: Some("authz".into()),
    };
    let target = add_user(&t.db, org, &cli, target).await.unwrap();
    let req = KeyRequest {
        name: "authz".into(),
        team: "authz".into(),
        scopes: "read".into(),
        initiative: None,
        expires_in_days: None,
        actor: cli,
    };
    let key = create_key(&t.db, &keys, org, req).await.unwrap();

    let mut callers: Vec<(String, Option<Role>, Option<String>)> = vec![("anonymous".into(), None, None)];
    for role in Role::ALL {
        callers.push((role.to_string(), Some(role), Some(cookie_for(&app, role).await)));
    }
    let mut failures = vec![];
    for (method, path, body, access) in TABLE {
        // sign-out would end the caller's session for the rows after it
        if *path == "/auth/signout" {
            continue;
        }
        let body = body.replace("{target}", &target.id.0.to_string()).replace("{prefix}", &key.key.prefix);
        for (who, role, cookie) in &callers {
            let mut req = Request::builder()
                .method(Method::from_bytes(method.as_bytes()).unwrap())
                .uri(*path)
                .header("accept", "text/html")
                .header("content-type", "application/x-www-form-urlencoded");
            if let Some(c) = cookie {
                req = req.header("cookie", c);
            }
            let res = app.clone().oneshot(req.body(Body::from(body.clone())).unwrap()).await.unwrap();
            let location = res.headers().get("location").map(|l| l.to_str().unwrap().to_string());
            let got = admitted(res.status(), location.as_deref());
            let expected = match access {
                Public => true,
                SignedIn => cookie.is_some(),
                Needs(right) => role.is_some_and(|r| r.can(*right)),
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
