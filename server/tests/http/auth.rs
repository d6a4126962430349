//! Sessions, sign-in throttling, first-run set-up, API keys and people through the router.
use super::*;

pub(crate) async fn sign_in_response(
    app: &axum::Router,
    body: &str,
) -> (StatusCode, Option<String>, Option<String>) {
    let req = Request::post("/auth/signin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body.to_string()))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let h = |n: &str| res.headers().get(n).map(|v| v.to_str().unwrap().to_string());
    (res.status(), h("location"), h("set-cookie"))
}

pub(crate) async fn anonymous_callers_are_refused_and_sent_to_sign_in(db: Db) {
    let app = app_with_events(&db).await;
    let (status, body) = send(&app, post_form(GetOverview::PATH, "")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(!body.contains("12.12"), "no figures for anonymous callers");
    let res = app.clone().oneshot(html_get("/?from=2026-11-01")).await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/signin?next=/%3Ffrom%3D2026-11-01");
}
on_both!(anonymous_callers_are_refused_and_sent_to_sign_in);

pub(crate) async fn sign_in_sets_a_strict_cookie_and_cycles_the_session_id(db: Db) {
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

pub(crate) async fn sign_out_deletes_the_session_so_a_copied_cookie_is_refused(db: Db) {
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

pub(crate) async fn unknown_user_and_wrong_password_get_identical_answers(db: Db) {
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
pub(crate) async fn cross_site_posts_are_refused_and_open_redirects_ignored() {
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

pub(crate) async fn repeated_failures_throttle_the_account_then_the_owner_gets_back_in(db: Db) {
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
pub(crate) async fn parallel_guesses_check_no_more_passwords_than_one_by_one(db: Db) {
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
pub(crate) async fn overload_is_answered_429_with_retry_after_and_nothing_accepted_is_lost(db: Db) {
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
pub(crate) async fn hostile_next_values_are_replaced_by_home_after_sign_in(db: Db) {
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
pub(crate) async fn first_run_setup_creates_one_admin_and_then_closes() {
    use app::domain::Role;
    let t = TestDb::sqlite().await;
    let org = t.db.ensure_org("default", "Default").await.unwrap();
    let state = startup::state(&t.db, org, startup::Options::for_tests(d(TODAY))).await.unwrap();
    let app = crate::checked(server::build_router(state));

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

pub(crate) async fn only_one_first_admin_even_when_several_race(db: Db) {
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

pub(crate) async fn api_keys_work_until_revoked_and_are_never_stored_in_clear(db: Db) {
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
    assert_eq!(err.to_string(), "scopes: 'admin' is not one of ingest, authorize, read, outcomes, gateway");
}
on_both!(api_keys_work_until_revoked_and_are_never_stored_in_clear);

pub(crate) async fn api_key_scope_and_expiry_are_enforced(db: Db) {
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

pub(crate) async fn admins_manage_people_through_server_functions_and_the_trail_exports_as_csv(db: Db) {
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
    // the one problem shape of every endpoint: status, code, message, and the field it names
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(
        (
            status,
            problem["field"].as_str(),
            problem["error"].as_str().is_some_and(|e| e.starts_with("entity: 'budgetz'"))
        ),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("entity"), true),
        "{body}"
    );
    let (status, html) = send(&app, with_cookie(get("/settings/audit?action=disable"), &boss)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("1 change<") && html.contains("viewer@example.com disabled"), "{html}");
}
on_both!(admins_manage_people_through_server_functions_and_the_trail_exports_as_csv);

pub(crate) async fn changing_the_password_signs_out_the_other_sessions_only(db: Db) {
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
