//! Webhook delivery through a real receiver, and egress rules.
use super::*;

/// A webhook receiver on a real local port: every delivery fails its first two attempts
/// (HTTP 500), then is accepted. Records (path, delivery id, body, answer) of each request.
/// (path, delivery id, body, answer)
pub(crate) type Received = (String, String, String, u16);

#[derive(Clone, Default)]
pub(crate) struct Receiver {
    seen: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
}

pub(crate) async fn receive(
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

pub(crate) async fn start_receiver() -> (Receiver, String) {
    let r = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().fallback(receive).with_state(r.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (r, base)
}

pub(crate) async fn webhooks_deliver_each_alert_exactly_once_through_a_receiver_that_fails_twice(db: Db) {
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
pub(crate) async fn webhooks_to_internal_addresses_are_refused_unless_the_operator_allows_them(db: Db) {
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
