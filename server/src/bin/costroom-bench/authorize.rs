//! `costroom-bench authorize [rate] [seconds] [rules]`: the guardrails issue's latency target.
//! A real server (the `costroom` binary beside this one) over a database holding `rules` rules
//! (spend caps, model lists, per-call and agent limits, rate limits; a few apply to each call,
//! the others are checked for scope and skipped) gets `rate` authorize calls a second for
//! `seconds`, open loop: each call is sent at its scheduled time whatever the answers before
//! it, and its latency counts from that time (a stalled server cannot hide its queue). Then the
//! same schedule goes to a handler that does nothing (`/bench/noop`, same server and
//! middleware). It prints p50/p99/max and throughput for both and the p99 authorize adds, per
//! backend; the target is ≤ 2 ms added at p99 on SQLite.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::domain::guardrail::parse_rule;
use app::server::db::Actor;
use app::server::services::keys::{create_key, KeyHasher, KeyRequest};
use app::server::testing::TestDb;
use serde_json::json;

use super::serve::Server;

const TARGET_ADDED_P99_MS: f64 = 2.0;
/// gpt-4o, 2,000 tokens in and 500 out at most: $0.01 held per call.
const CALL: &str = r#"{"provider": "openai", "model": "gpt-4o", "input_tokens": 2000, "max_tokens": 500, "feature": "chat"}"#;

pub async fn main(rate: u64, secs: u64, rules: usize) {
    println!("costroom-bench authorize: {rate} calls/s for {secs}s with {rules} rules, open loop");
    let mut missed = vec![];
    let sqlite = TestDb::sqlite().await;
    missed.extend(run("sqlite", &sqlite, rate, secs, rules, Some(TARGET_ADDED_P99_MS)).await);
    sqlite.finish().await;
    match TestDb::postgres().await {
        Some(pg) => {
            run("postgres", &pg, rate, secs, rules, None).await;
            pg.finish().await;
        }
        None => println!("postgres: skipped (set COSTROOM_TEST_PG_URL)"),
    }
    if !missed.is_empty() {
        // a bench prints rather than asserts, but a missed target must not look like a pass
        eprintln!("authorize targets missed: {}", missed.join("; "));
        std::process::exit(1);
    }
}

/// `n` rules of which five apply to the bench's calls (team bench, feature chat, gpt-4o):
/// an organisation cap, the team's cap, a per-call limit, an agent limit and a model
/// deny-list that does not list gpt-4o. The rest are scoped to other teams and features.
fn rule_set(n: usize, today: &str) -> Vec<serde_json::Value> {
    let big = 1_000_000_000_000_000i64; // $1,000,000: never exhausted here
    let mut out = vec![
        json!({"name": "org cap", "scope": {"kind": "org"}, "effective_from": today,
            "limit": {"kind": "cap", "period": "month", "amount_nanos": big}}),
        json!({"name": "bench cap", "scope": {"kind": "team", "value": "bench"}, "effective_from": today,
            "limit": {"kind": "cap", "period": "day", "amount_nanos": big}}),
        json!({"name": "call size", "scope": {"kind": "org"}, "effective_from": today,
            "limit": {"kind": "request", "max_tokens": 100_000, "max_cost_nanos": 5_000_000_000i64}}),
        json!({"name": "agents", "scope": {"kind": "org"}, "effective_from": today,
            "limit": {"kind": "agent", "max_depth": 10, "max_retries": 5}}),
        json!({"name": "no opus for chat", "scope": {"kind": "feature", "value": "chat"}, "effective_from": today,
            "limit": {"kind": "models", "allow": false, "models": ["claude-opus-*"]}}),
    ];
    for i in out.len()..n {
        let scope = json!({"kind": "team", "value": format!("team-{i}")});
        let limit = match i % 3 {
            0 => json!({"kind": "cap", "period": "month", "amount_nanos": 500_000_000_000i64}),
            1 => json!({"kind": "rate", "requests_per_minute": 600, "burst": 20}),
            _ => json!({"kind": "models", "allow": true, "models": ["gpt-4o-mini"]}),
        };
        out.push(
            json!({"name": format!("rule {i}"), "scope": scope, "effective_from": today, "limit": limit}),
        );
    }
    out
}

struct Sample {
    latency: Vec<Duration>,
    statuses: std::collections::BTreeMap<u16, u64>,
    errors: u64,
    elapsed: Duration,
}

/// Sends `rate × secs` requests on schedule; latency from each one's scheduled time.
async fn blast(client: &reqwest::Client, url: &str, token: &str, rate: u64, secs: u64) -> Sample {
    let total = rate * secs;
    let latency = Arc::new(Mutex::new(Vec::with_capacity(total as usize)));
    let statuses = Arc::new(Mutex::new(std::collections::BTreeMap::new()));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = start + Duration::from_nanos(i * 1_000_000_000 / rate);
        tokio::time::sleep_until(due.into()).await;
        let (client, url, token) = (client.clone(), url.to_string(), token.to_string());
        let (latency, statuses, errors) = (latency.clone(), statuses.clone(), errors.clone());
        tasks.spawn(async move {
            let sent = client
                .post(&url)
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(CALL)
                .timeout(Duration::from_secs(30))
                .send()
                .await;
            match sent {
                Ok(res) => {
                    let status = res.status().as_u16();
                    let _ = res.bytes().await;
                    latency.lock().expect("lock").push(due.elapsed());
                    *statuses.lock().expect("lock").entry(status).or_insert(0) += 1;
                }
                Err(_) => {
                    errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = start.elapsed();
    let mut latency = std::mem::take(&mut *latency.lock().expect("lock"));
    latency.sort();
    let statuses = std::mem::take(&mut *statuses.lock().expect("lock"));
    Sample { latency, statuses, errors: errors.load(std::sync::atomic::Ordering::Relaxed), elapsed }
}

fn pct(v: &[Duration], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    v[i].as_secs_f64() * 1000.0
}

fn report(backend: &str, what: &str, s: &Sample) {
    println!(
        "{backend}: {what:<9} {:>6} answers in {:.2}s = {:>5.0}/s · p50 {:.2} ms · p99 {:.2} ms · max {:.2} ms · statuses {:?} · errors {}",
        s.latency.len(),
        s.elapsed.as_secs_f64(),
        s.latency.len() as f64 / s.elapsed.as_secs_f64(),
        pct(&s.latency, 0.50),
        pct(&s.latency, 0.99),
        s.latency.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(f64::NAN),
        s.statuses,
        s.errors
    );
}

async fn run(backend: &str, t: &TestDb, rate: u64, secs: u64, n: usize, target: Option<f64>) -> Vec<String> {
    let org = t.db.ensure_org("default", "Default organisation").await.expect("org");
    app::server::services::prices::ensure_public_list(&t.db).await.expect("prices");
    t.db.ensure_team(org, "bench", "Bench").await.expect("team");
    let today = chrono::Utc::now().date_naive().format("%Y-%m-01").to_string();
    for r in rule_set(n, &today) {
        t.db.put_guardrail_rule(org, &parse_rule(&r).expect("rule"), chrono::Utc::now()).await.expect("put");
    }
    let hasher = KeyHasher::load(&t.db).await.expect("hasher");
    let req = KeyRequest {
        name: "bench".into(),
        team: "bench".into(),
        scopes: "authorize".into(),
        initiative: None,
        expires_in_days: None,
        actor: Actor::cli(),
    };
    let token = create_key(&t.db, &hasher, org, req).await.expect("key").token;
    let server = Server::start(&t.url(), &[]).await;
    let client = reqwest::Client::builder().tcp_nodelay(true).build().expect("client");
    let base = format!("http://{}", server.addr);
    // warm-up: connections, the key and price caches, SQLite's pages
    blast(&client, &format!("{base}/api/v1/authorize"), &token, rate.min(200), 1).await;
    blast(&client, &format!("{base}/bench/noop"), &token, rate.min(200), 1).await;
    let auth = blast(&client, &format!("{base}/api/v1/authorize"), &token, rate, secs).await;
    let noop = blast(&client, &format!("{base}/bench/noop"), &token, rate, secs).await;
    report(backend, "authorize", &auth);
    report(backend, "no-op", &noop);
    let added = pct(&auth.latency, 0.99) - pct(&noop.latency, 0.99);
    let allowed = auth.statuses.get(&200).copied().unwrap_or(0);
    let held = t.db.reservations(org).await.expect("reservations").len();
    println!(
        "{backend}: authorize adds {:.2} ms at p50 and {added:.2} ms at p99 over the no-op ({} rules, 5 applying); \
         {allowed} allowed, {held} reservations stored",
        pct(&auth.latency, 0.50) - pct(&noop.latency, 0.50),
        n
    );
    let mut missed = vec![];
    if let Some(t) = target {
        if added > t {
            missed.push(format!("{backend}: p99 added {added:.2} ms > {t} ms"));
        }
    }
    if auth.errors > 0 || allowed as usize != auth.latency.len() {
        missed.push(format!(
            "{backend}: not every call was allowed ({:?}, {} errors)",
            auth.statuses, auth.errors
        ));
    }
    drop(server);
    missed
}
