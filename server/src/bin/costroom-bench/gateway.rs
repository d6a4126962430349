//! `costroom-bench gateway [rate] [seconds] [streams]`: the gateway issue's targets. A fake
//! OpenAI upstream (`app::server::testing::fake_upstream`, in this process) and a real
//! `costroom serve` (the binary beside this one) over a fresh database with the upstream set
//! and one organisation cap (so every call is authorized and held). The same calls go, open
//! loop at `rate` a second for `seconds`, once straight to the fake and once through the
//! gateway: non-streaming (latency to the whole answer) and streaming (time to the first
//! byte, and to the end). Then `streams` streams are held open at once through the gateway
//! and the server's peak RSS is read. Targets (SQLite): p99 added ≤ 1 ms non-streaming,
//! first byte added ≤ 1 ms, RSS ≤ 150 MB at 1,000 concurrent streams; a missed target exits 1.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::domain::guardrail::parse_rule;
use app::server::auth::sealer::Sealer;
use app::server::db::Actor;
use app::server::services::gateway::{save_upstream, Gateway, UpstreamInput};
use app::server::services::keys::{create_key, KeyHasher, KeyRequest};
use app::server::services::webhooks::Egress;
use app::server::testing::{fake_upstream, TestDb};
use serde_json::json;

use super::serve::Server;

const TARGET_ADDED_P99_MS: f64 = 1.0;
const TARGET_RSS_MIB: u64 = 150;

pub async fn main(rate: u64, secs: u64, streams: usize) {
    println!("costroom-bench gateway: {rate} calls/s for {secs}s, direct and through the gateway; {streams} concurrent streams");
    let mut missed = vec![];
    let sqlite = TestDb::sqlite().await;
    missed.extend(run("sqlite", &sqlite, rate, secs, streams, true).await);
    sqlite.finish().await;
    match TestDb::postgres().await {
        Some(pg) => {
            run("postgres", &pg, rate, secs, streams, false).await;
            pg.finish().await;
        }
        None => println!("postgres: skipped (set COSTROOM_TEST_PG_URL)"),
    }
    if !missed.is_empty() {
        eprintln!("gateway targets missed: {}", missed.join("; "));
        std::process::exit(1);
    }
}

/// Latencies of one series, from each call's scheduled time: to its first byte and to its end.
struct Sample {
    first: Vec<Duration>,
    whole: Vec<Duration>,
    statuses: std::collections::BTreeMap<u16, u64>,
    errors: u64,
}

async fn blast(client: &reqwest::Client, url: &str, token: &str, body: &str, rate: u64, secs: u64) -> Sample {
    let total = rate * secs;
    let out = Arc::new(Mutex::new(Sample {
        first: Vec::with_capacity(total as usize),
        whole: Vec::with_capacity(total as usize),
        statuses: Default::default(),
        errors: 0,
    }));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = start + Duration::from_nanos(i * 1_000_000_000 / rate);
        tokio::time::sleep_until(due.into()).await;
        let (client, url, token, body, out) =
            (client.clone(), url.to_string(), token.to_string(), body.to_string(), out.clone());
        tasks.spawn(async move {
            let sent = client
                .post(&url)
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(body)
                .timeout(Duration::from_secs(30))
                .send()
                .await;
            let Ok(mut res) = sent else {
                out.lock().expect("lock").errors += 1;
                return;
            };
            let status = res.status().as_u16();
            let mut first = None;
            loop {
                match res.chunk().await {
                    Ok(Some(_)) => {
                        first.get_or_insert_with(|| due.elapsed());
                    }
                    Ok(None) => break,
                    Err(_) => {
                        out.lock().expect("lock").errors += 1;
                        return;
                    }
                }
            }
            let whole = due.elapsed();
            let mut o = out.lock().expect("lock");
            o.first.push(first.unwrap_or(whole));
            o.whole.push(whole);
            *o.statuses.entry(status).or_insert(0) += 1;
        });
    }
    while tasks.join_next().await.is_some() {}
    let mut s = std::mem::replace(
        &mut *out.lock().expect("lock"),
        Sample { first: vec![], whole: vec![], statuses: Default::default(), errors: 0 },
    );
    s.first.sort();
    s.whole.sort();
    s
}

fn pct(v: &[Duration], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    v[i].as_secs_f64() * 1000.0
}

fn line(backend: &str, what: &str, s: &Sample, v: &[Duration]) {
    println!(
        "{backend}: {what:<22} {:>6} answers · p50 {:.2} ms · p99 {:.2} ms · max {:.2} ms · statuses {:?} · errors {}",
        v.len(),
        pct(v, 0.50),
        pct(v, 0.99),
        v.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(f64::NAN),
        s.statuses,
        s.errors
    );
}

async fn run(backend: &str, t: &TestDb, rate: u64, secs: u64, streams: usize, check: bool) -> Vec<String> {
    let org = t.db.ensure_org("default", "Default organisation").await.expect("org");
    app::server::services::prices::ensure_public_list(&t.db).await.expect("prices");
    t.db.ensure_team(org, "bench", "Bench").await.expect("team");
    let today = chrono::Utc::now().date_naive().format("%Y-%m-01").to_string();
    // unpriced models are allowed (held at $0): the fake's slow `drip` stream has no price
    let cap = json!({"name": "org cap", "scope": {"kind": "org"}, "effective_from": today, "unpriced": "allow",
        "limit": {"kind": "cap", "period": "month", "amount_nanos": 1_000_000_000_000_000i64}});
    t.db.put_guardrail_rule(org, &parse_rule(&cap).expect("rule"), chrono::Utc::now()).await.expect("rule");
    let hasher = KeyHasher::load(&t.db).await.expect("hasher");
    let req = KeyRequest {
        name: "bench".into(),
        team: "bench".into(),
        scopes: "gateway".into(),
        initiative: None,
        expires_in_days: None,
        actor: Actor::cli(),
    };
    let token = create_key(&t.db, &hasher, org, req).await.expect("key").token;
    let secret = Sealer::generate();
    let egress = Egress::new(app::domain::egress::AllowList::parse("127.0.0.1").expect("allow"));
    let gw = Gateway::new(&egress, Some(Sealer::new(&secret, &[]).expect("key"))).expect("gateway");
    let (fake, _log) = fake_upstream::start().await;
    let upstream =
        UpstreamInput { provider: "openai", base_url: &format!("{fake}/v1"), key: Some("sk-bench") };
    save_upstream(&t.db, &gw, &egress, org, &Actor::cli(), upstream).await.expect("upstream");
    let server =
        Server::start(&t.url(), &[("COSTROOM_SECRET_KEY", &secret), ("COSTROOM_WEBHOOK_ALLOW", "127.0.0.1")])
            .await;
    let client =
        reqwest::Client::builder().tcp_nodelay(true).pool_max_idle_per_host(4_096).build().expect("client");
    let direct = format!("{fake}/v1/chat/completions");
    let through = format!("http://{}/gateway/openai/v1/chat/completions", server.addr);
    let plain = json!({"model": "gpt-4o-mini", "max_tokens": 50, "messages": [{"role": "user", "content": "Say hello"}]})
        .to_string();
    let stream = json!({"model": "gpt-4o-mini", "max_tokens": 50, "stream": true,
        "messages": [{"role": "user", "content": "Say hello"}]})
    .to_string();
    // warm-up: connections on both sides, the key, the price book, the database's pages
    blast(&client, &through, &token, &plain, rate.min(200), 1).await;
    blast(&client, &direct, &token, &plain, rate.min(200), 1).await;
    let mut missed = vec![];
    for (what, body) in [("non-streaming", &plain), ("streaming", &stream)] {
        let d = blast(&client, &direct, &token, body, rate, secs).await;
        let g = blast(&client, &through, &token, body, rate, secs).await;
        line(backend, &format!("direct {what}"), &d, &d.whole);
        line(backend, &format!("gateway {what}"), &g, &g.whole);
        let added_p50 = pct(&g.whole, 0.5) - pct(&d.whole, 0.5);
        let added_p99 = pct(&g.whole, 0.99) - pct(&d.whole, 0.99);
        println!("{backend}: gateway adds {added_p50:.2} ms at p50 and {added_p99:.2} ms at p99 ({what}, whole answer)");
        if what == "streaming" {
            line(backend, "direct first byte", &d, &d.first);
            line(backend, "gateway first byte", &g, &g.first);
            let first_p50 = pct(&g.first, 0.5) - pct(&d.first, 0.5);
            let first_p99 = pct(&g.first, 0.99) - pct(&d.first, 0.99);
            println!("{backend}: first byte added {first_p50:.2} ms at p50, {first_p99:.2} ms at p99");
            if check && first_p99 > TARGET_ADDED_P99_MS {
                missed.push(format!(
                    "{backend}: first byte added {first_p99:.2} ms > {TARGET_ADDED_P99_MS} ms"
                ));
            }
        } else if check && added_p99 > TARGET_ADDED_P99_MS {
            missed.push(format!("{backend}: p99 added {added_p99:.2} ms > {TARGET_ADDED_P99_MS} ms"));
        }
        if g.errors > 0 || g.statuses.keys().any(|s| *s != 200) {
            missed.push(format!(
                "{backend}: gateway {what} answered {:?} with {} errors",
                g.statuses, g.errors
            ));
        }
    }
    // held open together: 50 events 20 ms apart, about a second each
    let drip = json!({"model": "drip", "max_tokens": 50, "stream": true, "messages": []}).to_string();
    let rss_before = server.rss_kib("VmRSS:");
    let mut open = tokio::task::JoinSet::new();
    let started = Instant::now();
    for _ in 0..streams {
        let (client, url, token, body) = (client.clone(), through.clone(), token.clone(), drip.clone());
        open.spawn(async move {
            let mut res = client
                .post(&url)
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(body)
                .timeout(Duration::from_secs(120))
                .send()
                .await
                .ok()?;
            if res.status() != 200 {
                return None;
            }
            // each event ends in a blank line: two newlines
            let mut newlines = 0;
            while let Ok(Some(c)) = res.chunk().await {
                newlines += c.iter().filter(|b| **b == b'\n').count();
            }
            Some(newlines / 2)
        });
    }
    let mut peak = 0;
    let (mut whole, mut short) = (0, 0);
    while !open.is_empty() {
        peak = peak.max(server.rss_kib("VmRSS:"));
        tokio::select! {
            done = open.join_next() => match done {
                // 50 content events, then the finish, usage and [DONE]
                Some(Ok(Some(n))) if n >= 50 => whole += 1,
                Some(_) => short += 1,
                None => {}
            },
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    let hwm = server.rss_kib("VmHWM:");
    println!(
        "{backend}: {streams} concurrent streams through the gateway in {:.1}s ({whole} whole, {short} refused or cut): \
         server RSS {} MiB before, {} MiB at the peak (high-water mark {} MiB)",
        started.elapsed().as_secs_f64(),
        rss_before / 1024,
        peak / 1024,
        hwm / 1024
    );
    if short > 0 {
        missed.push(format!("{backend}: {short} of {streams} concurrent streams did not arrive whole"));
    }
    if check && hwm / 1024 > TARGET_RSS_MIB {
        missed.push(format!("{backend}: RSS {} MiB > {TARGET_RSS_MIB} MiB", hwm / 1024));
    }
    drop(server);
    missed
}
