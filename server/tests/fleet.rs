//! Two real `costroom serve` processes on one PostgreSQL database, with every background job
//! running (time compressed 300×: an evaluation round a second), as a fleet behind a load
//! balancer sees them: spikes and budget crossings arrive through either server, one server
//! is killed halfway, and parallel sign-in guesses are spread over both.
//!
//! Each anomaly, budget alert and webhook delivery must happen exactly once, and the two
//! servers together must check no more passwords than one server would.
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::domain::{Nanos, UsageEvent};
use app::server::db::{Actor, Db, OrgId};
use app::server::services;
use app::server::testing::TestDb;
use chrono::{DateTime, Timelike, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_costroom");
const K: i64 = 1_000_000_000;
const EMAIL: &str = "fin@example.com";
const PASSWORD: &str = "a finance long password";
const TEAMS: [&str; 4] = ["t1", "t2", "t3", "t4"];

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(url: &str) -> Server {
    let mut child = Command::new(BIN)
        .args(["--database-url", url, "--log-level", "warn", "serve", "--addr", "127.0.0.1:0"])
        .env("COSTROOM_JOB_SPEEDUP", "300")
        .env("COSTROOM_WEBHOOK_ALLOW", "127.0.0.1")
        // a thousand calls queue on one cap's row lock in a debug build: the test is about one
        // cap across servers, not about the failure modes (server/tests/http/guardrails.rs)
        .env("COSTROOM_AUTHORIZE_TIMEOUT_MS", "30000")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start costroom serve");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    while !line.contains("http://") {
        line.clear();
        assert!(stdout.read_line(&mut line).expect("read") > 0, "server exited before printing its address");
    }
    let addr =
        line.split("http://").nth(1).and_then(|s| s.split('/').next()).expect("addr").trim().to_string();
    // keep draining its output so the server never blocks on a full pipe
    std::thread::spawn(move || for _ in stdout.lines() {});
    Server { child, addr }
}

/// One request on a fresh connection (`Connection: close`): status, headers, body.
async fn request(addr: &str, method: &str, path: &str, headers: &str, body: &str) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.expect("write");
    s.write_all(body.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

fn event(id: &str, at: DateTime<Utc>, team: &str, feature: &str, cost: i64) -> UsageEvent {
    UsageEvent {
        event_id: id.into(),
        occurred_at: at,
        provider: "anthropic".into(),
        model: "claude-haiku-4-5".into(),
        team: Some(team.into()),
        feature: Some(feature.into()),
        environment: Some("prod".into()),
        tokens: app::domain::pricing::Tokens { input: 100, output: 10, ..Default::default() },
        request_count: 1,
        cost: Nanos(cost),
        cost_source: app::domain::usage::CostSource::Provider,
        ..Default::default()
    }
}

/// Posts events through a server's ingest API.
async fn ingest(addr: &str, token: &str, events: &[UsageEvent]) {
    let items: Vec<_> = events.iter().map(app::domain::ingest::to_item).collect();
    let body = serde_json::to_string(&items).expect("json");
    let headers = format!("Authorization: Bearer {token}\r\nContent-Type: application/json\r\n");
    let (status, _, answer) = request(addr, "POST", "/api/v1/events", &headers, &body).await;
    assert_eq!(status, 200, "{answer}");
}

#[derive(Clone, Default)]
struct Receiver {
    /// event key → times received
    keys: Arc<Mutex<BTreeMap<String, usize>>>,
}

async fn receive(axum::extract::State(r): axum::extract::State<Receiver>, body: String) -> &'static str {
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let key = v["key"].as_str().unwrap_or("?").to_string();
    *r.keys.lock().expect("lock").entry(key).or_default() += 1;
    "ok"
}

async fn setup(db: &Db, receiver_url: &str) -> (OrgId, String, DateTime<Utc>) {
    use app::server::services::keys::{create_key, KeyHasher, KeyRequest};
    let org = db.ensure_org("default", "Default organisation").await.expect("org");
    for team in TEAMS.iter().chain(["b"].iter()) {
        db.ensure_team(org, team, team).await.expect("team");
    }
    let person = services::users::AddUser {
        email: EMAIL.into(),
        name: "Fi".into(),
        role: app::domain::Role::Finance,
        password: PASSWORD.into(),
        team: None,
    };
    services::users::add_user(db, org, &Actor::cli(), person).await.expect("user");
    // ten days of $1 an hour on each team, up to the last full hour
    let hour = Utc::now()
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .expect("hour");
    let mut history = vec![];
    for h in 1..=240 {
        let at = hour - chrono::Duration::hours(h) + chrono::Duration::minutes(10);
        for team in TEAMS {
            history.push(event(&format!("base-{team}-{h}"), at, team, "chat", K));
        }
    }
    db.insert_usage_events(org, &history).await.expect("history");
    let egress =
        services::webhooks::Egress::new(app::domain::egress::AllowList::parse("127.0.0.1").expect("allow"));
    services::webhooks::create(db, &egress, org, &Actor::cli(), "ops", receiver_url, "json")
        .await
        .expect("webhook");
    // team b has no spend yet: a $100 monthly budget whose four thresholds the test crosses one by one
    let today = Utc::now().date_naive();
    let month = today.format("%Y-%m-01").to_string();
    let b = app::domain::budget::parse_budget(&app::domain::budget::BudgetInput {
        name: "Team b".into(),
        scope: "team".into(),
        scope_value: "b".into(),
        period: "month".into(),
        fiscal_start_month: "1".into(),
        recurring: Some("on".into()),
        start: (&month).into(),
        amount_usd: "100".into(),
        thresholds: "25, 50, 75, 100".into(),
        owner: "Fi".into(),
        save_unmatched: None,
    })
    .expect("budget");
    services::budgets::create(db, org, &Actor::cli(), today, b).await.expect("create budget");
    let hasher = KeyHasher::load(db).await.expect("hasher");
    let req = KeyRequest {
        name: "fleet".into(),
        team: "t1".into(),
        scopes: "ingest".into(),
        initiative: None,
        expires_in_days: None,
        actor: Actor::cli(),
    };
    let token = create_key(db, &hasher, org, req).await.expect("key").token;
    (org, token, hour)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_detect_alert_and_deliver_exactly_once() {
    let Some(t) = TestDb::postgres().await else { return };
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let receiver_url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let router = axum::Router::new().fallback(receive).with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.expect("receiver") });
    let (org, token, hour) = setup(&t.db, &receiver_url).await;
    let url = t.url();
    let mut a = Some(start(&url));
    let b = start(&url);
    let (addr_a, addr_b) = (a.as_ref().expect("a").addr.clone(), b.addr.clone());

    // 100 guesses at once for one e-mail, half through each server
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..100 {
        let addr = if i % 2 == 0 { addr_a.clone() } else { addr_b.clone() };
        guesses.spawn(async move {
            let password = if i == 51 { PASSWORD.to_string() } else { format!("guess {i}") };
            let body = format!("email=fin%40example.com&password={}&next=%2F", password.replace(' ', "+"));
            let (status, head, _) = request(
                &addr,
                "POST",
                "/auth/signin",
                "Content-Type: application/x-www-form-urlencoded\r\n",
                &body,
            )
            .await;
            let location = head.lines().find(|l| l.to_ascii_lowercase().starts_with("location:"));
            (status, location.unwrap_or("").to_string())
        });
    }
    let answers = guesses.join_all().await;
    // a busy server may answer 503 (back-pressure) instead of looking at the guess: that is
    // not a check; anything else must be a redirect
    for (status, location) in &answers {
        assert!(*status == 503 || (*status == 303 && !location.is_empty()), "{status} {location}");
    }
    let checked = answers
        .iter()
        .filter(|(_, l)| l.contains("error=credentials") || l.trim_end().ends_with(": /"))
        .count() as i64;
    // as if they came one by one: the free failures plus the one that sets the lock; when the
    // right password is checked before the lock, the owner is in and the account's counter
    // starts again, so at most that many more (each reservation waits its turn, so a success
    // can land between them)
    let signed_in = answers.iter().any(|(_, l)| l.trim_end().ends_with(": /"));
    let per_lock = app::domain::throttle::PER_ACCOUNT.free_failures + 1;
    let most = if signed_in { 2 * per_lock } else { per_lock };
    assert!((1..=most).contains(&checked), "two servers checked {checked} passwords: {answers:?}");

    // spikes (team k: $20 an hour more for three hours, a different past hour each) and budget
    // crossings ($30 each on team b), alternating servers; server a stops halfway
    let started = Instant::now();
    for (k, team) in TEAMS.iter().enumerate() {
        let addr = if k % 2 == 0 { &addr_a } else { &addr_b };
        let addr = if a.is_some() { addr.clone() } else { addr_b.clone() };
        let first = hour - chrono::Duration::hours(22 - 6 * k as i64);
        let spike: Vec<UsageEvent> = (0..3)
            .map(|h| {
                let at = first + chrono::Duration::hours(h) + chrono::Duration::minutes(20);
                event(&format!("spike-{team}-{h}"), at, team, "runaway", 20 * K)
            })
            .collect();
        ingest(&addr, &token, &spike).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let spend = event(&format!("b-{k}"), Utc::now() - chrono::Duration::minutes(1), "b", "batch", 30 * K);
        ingest(&addr, &token, &[spend]).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        if k == 1 {
            drop(a.take()); // killed: its leases lapse and server b takes its jobs over
        }
    }

    // wait until all four spikes are found and every alert delivered, then a little longer
    // to see that nothing arrives twice late
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let anomalies = t.db.anomalies(org, 0).await.expect("anomalies");
        let alerts = t.db.budget_alerts(org, 100).await.expect("alerts");
        let deliveries = t.db.webhook_deliveries(org, 1000).await.expect("deliveries");
        let found = TEAMS.iter().all(|team| {
            anomalies.iter().any(|a| a.scope_value == *team || a.also_in.iter().any(|l| l.ends_with(team)))
        });
        let settled = !deliveries.is_empty()
            && deliveries.iter().all(|d| d.status == app::domain::webhook::DeliveryStatus::Delivered);
        if found
            && alerts.len() >= 4
            && settled
            && deliveries.len() == receiver.keys.lock().expect("lock").len()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not settled after {:?}: anomalies {anomalies:?}, alerts {alerts:?}, deliveries {deliveries:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    let anomalies = t.db.anomalies(org, 0).await.expect("anomalies");
    let alerts = t.db.budget_alerts(org, 100).await.expect("alerts");
    let deliveries = t.db.webhook_deliveries(org, 1000).await.expect("deliveries");
    let received = receiver.keys.lock().expect("lock").clone();
    let thresholds: Vec<_> =
        alerts.iter().map(|a| (a.budget_id, a.period_start, a.kind.clone(), a.threshold)).collect();
    let mut unique = thresholds.clone();
    unique.sort_by(|x, y| format!("{x:?}").cmp(&format!("{y:?}")));
    unique.dedup();
    assert_eq!(unique.len(), thresholds.len(), "one alert per budget, period and threshold: {alerts:?}");
    assert_eq!(
        alerts.iter().filter(|a| a.kind == "threshold").count(),
        4,
        "team b crossed 25, 50, 75 and 100 %: {alerts:?}"
    );
    for (key, n) in &received {
        assert_eq!(*n, 1, "{key} was delivered {n} times: {received:?}");
    }
    let mut keys: Vec<&str> = deliveries.iter().map(|d| d.key.as_str()).collect();
    keys.sort();
    assert_eq!(keys, received.keys().map(String::as_str).collect::<Vec<_>>(), "every queued notice arrived");
    for a in &alerts {
        let event = if a.kind == "threshold" { "budget.threshold" } else { "budget.projected" };
        let key = format!("budget:{}:{}:{event}:{}", a.budget_id, a.period_start, a.threshold);
        assert!(received.contains_key(&key), "alert {a:?} not delivered as {key}: {received:?}");
    }
    let mut spans: Vec<_> =
        anomalies.iter().map(|a| (a.scope_dim.clone(), a.scope_value.clone(), a.started_at)).collect();
    spans.sort();
    spans.dedup();
    assert_eq!(spans.len(), anomalies.len(), "one anomaly per scope and start: {anomalies:?}");
    assert!(
        anomalies.iter().all(|a| received.contains_key(&format!("anomaly:{}", a.id))
            || a.severity < app::domain::anomaly::Severity::Medium),
        "every alerting anomaly was delivered: {anomalies:?} {received:?}"
    );
    println!(
        "two servers: {checked} of 100 passwords checked; {} anomalies, {} budget alerts, {} deliveries, each \
         received once, in {:?}",
        anomalies.len(),
        alerts.len(),
        deliveries.len(),
        started.elapsed()
    );
    drop(b);
    t.finish().await;
}

/// A price set through one server is used by the other for its very next batch (both read
/// the price book's version per batch), and the call stored unpriced before is priced
/// without any command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_set_on_one_server_prices_the_next_batch_on_the_other() {
    use app::server::services::keys::{create_key, KeyHasher, KeyRequest};
    use leptos::server_fn::ServerFn;
    let Some(t) = TestDb::postgres().await else { return };
    let org = t.db.ensure_org("default", "Default organisation").await.expect("org");
    t.db.ensure_team(org, "t1", "t1").await.expect("team");
    let admin = services::users::AddUser {
        email: EMAIL.into(),
        name: "Ad".into(),
        role: app::domain::Role::Admin,
        password: PASSWORD.into(),
        team: None,
    };
    services::users::add_user(&t.db, org, &Actor::cli(), admin).await.expect("user");
    let hasher = KeyHasher::load(&t.db).await.expect("hasher");
    let req = KeyRequest {
        name: "gw".into(),
        team: "t1".into(),
        scopes: "ingest".into(),
        initiative: None,
        expires_in_days: None,
        actor: Actor::cli(),
    };
    let token = create_key(&t.db, &hasher, org, req).await.expect("key").token;
    let url = t.url();
    let (a, b) = (start(&url), start(&url));
    let call = |id: &str| {
        let mut e = event(id, Utc::now() - chrono::Duration::minutes(5), "t1", "chat", 0);
        e.provider = "acme".into();
        e.model = "house-model".into();
        e.cost_source = app::domain::usage::CostSource::Unpriced;
        e.tokens.input = 1_000_000;
        e
    };
    let send = |addr: String, e: UsageEvent| {
        let token = token.clone();
        async move {
            let body = serde_json::to_string(&[app::domain::ingest::to_item(&e)]).expect("json");
            let headers = format!("Authorization: Bearer {token}\r\nContent-Type: application/json\r\n");
            let (status, _, answer) = request(&addr, "POST", "/api/v1/events", &headers, &body).await;
            assert_eq!(status, 200, "{answer}");
            serde_json::from_str::<serde_json::Value>(&answer).expect("json")
        }
    };
    let first = send(a.addr.clone(), call("p-1")).await;
    assert_eq!((first["accepted"].as_i64(), first["unpriced"].as_i64()), (Some(1), Some(1)), "{first}");

    // an admin sets the price through server b
    let body = format!("email=fin%40example.com&password={}&next=%2F", PASSWORD.replace(' ', "+"));
    let form = "Content-Type: application/x-www-form-urlencoded\r\n";
    let (status, head, _) = request(&b.addr, "POST", "/auth/signin", form, &body).await;
    assert_eq!(status, 303, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_string();
    let headers = format!("{form}Accept: application/json\r\nCookie: {cookie}\r\n");
    let price = "model=house-model&provider=acme&effective_from=2026-01-01&input_per_m=0.15&output_per_m=0";
    let path = app::api::prices::SetModelPrice::PATH;
    let (status, _, answer) = request(&b.addr, "POST", path, &headers, price).await;
    assert_eq!(status, 200, "{answer}");

    // server a's very next batch: 1M tokens × $0.15/M
    let second = send(a.addr.clone(), call("p-2")).await;
    assert_eq!((second["accepted"].as_i64(), second["unpriced"].as_i64()), (Some(1), Some(0)), "{second}");
    let stored = t.db.usage_events(org).await.expect("events");
    let cost =
        |id: &str| stored.iter().find(|e| e.event_id == id).map(|e| (e.cost_nanos, e.cost_source.clone()));
    assert_eq!(cost("p-2"), Some((150_000_000, "computed".to_string())));
    assert_eq!(cost("p-1"), Some((150_000_000, "computed".to_string())), "the earlier call, re-priced");
    let (event_cost, ..) = t.db.lifetime_totals(org).await.expect("totals");
    assert_eq!(event_cost, 300_000_000, "the totals moved by exactly the difference");
    let today = Utc::now().date_naive();
    let range = app::domain::period::DateRange { from: today - chrono::Days::new(1), to: today };
    assert_eq!(
        t.db.cost_between(org, range, None).await.expect("rollups"),
        Nanos(300_000_000),
        "and the rollups"
    );
    drop((a, b));
}

/// Two servers enforce one cap: 1,000 ten-cent authorizations spread over both, 32 in flight
/// at a time, admit exactly fifty under $5.00.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_enforce_one_spend_cap() {
    use app::server::services::keys::{create_key, KeyHasher, KeyRequest};
    let Some(t) = TestDb::postgres().await else { return };
    let org = t.db.ensure_org("default", "Default organisation").await.expect("org");
    t.db.ensure_team(org, "t1", "t1").await.expect("team");
    let month = Utc::now().date_naive().format("%Y-%m-01").to_string();
    let cap = app::domain::guardrail::parse_rule(&serde_json::json!({"name": "t1 monthly",
        "scope": {"kind": "team", "value": "t1"}, "effective_from": month,
        "limit": {"kind": "cap", "period": "month", "amount_nanos": 5 * K}}))
    .expect("rule");
    t.db.put_guardrail_rule(org, &cap, Utc::now()).await.expect("rule stored");
    let hasher = KeyHasher::load(&t.db).await.expect("hasher");
    let req = KeyRequest {
        name: "gw".into(),
        team: "t1".into(),
        scopes: "authorize".into(),
        initiative: None,
        expires_in_days: None,
        actor: Actor::cli(),
    };
    let token = create_key(&t.db, &hasher, org, req).await.expect("key").token;
    let url = t.url();
    let (a, b) = (start(&url), start(&url));
    let turns = Arc::new(tokio::sync::Semaphore::new(32));
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..1_000 {
        let addr = if i % 2 == 0 { a.addr.clone() } else { b.addr.clone() };
        let (token, turns) = (token.clone(), turns.clone());
        calls.spawn(async move {
            let _turn = turns.acquire().await.expect("turn");
            let headers = format!("Authorization: Bearer {token}\r\nContent-Type: application/json\r\n");
            // gpt-4o: 20,000 in and 5,000 out at most = $0.10
            let body = r#"{"provider":"openai","model":"gpt-4o","input_tokens":20000,"max_tokens":5000}"#;
            request(&addr, "POST", "/api/v1/authorize", &headers, body).await.0
        });
    }
    let statuses = calls.join_all().await;
    let allowed = statuses.iter().filter(|s| **s == 200).count();
    let denied = statuses.iter().filter(|s| **s == 402).count();
    assert_eq!((allowed, denied), (50, 950), "{:?}", statuses.iter().find(|s| !matches!(s, 200 | 402)));
    let (from, to) = app::domain::guardrail::Period::Month.window(Utc::now().date_naive());
    let rule_id = t.db.guardrail_rules(org).await.expect("rules")[0].id;
    assert_eq!(t.db.cap_use(rule_id, from, to).await.expect("use"), (Nanos(0), Nanos(5 * K)));
    drop((a, b));
}
