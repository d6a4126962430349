//! `costroom-bench load [seconds] [ingest connections] [page connections]`: the overload test
//! of the hardening issue. The real server, over a database holding 120 days of demo spend,
//! gets `ingest` connections each posting batches of new events as fast as it answers and
//! `page` connections each loading the Overview as a signed-in person, for `seconds`.
//!
//! It prints, per backend: answers by status (a 500 or a timeout is a failure; 429/503 with
//! `Retry-After` is the server saying "later", as it should), the Overview's p50/p95 under
//! load, the server's resident memory before, at its peak and after a quiet spell, and
//! whether every accepted event was stored exactly once (count and cost to the nano-dollar).
//! The last line per backend says which targets were missed, if any.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::domain::ingest::to_item;
use app::domain::usage::CostSource;
use app::domain::{Nanos, UsageEvent};
use app::server::db::Actor;
use app::server::formats::demo::{generate, DemoConfig};
use app::server::services;
use app::server::services::users::{add_user, AddUser};
use app::server::testing::TestDb;

use super::serve::{ingest_key, rss_kib, sign_in, Conn, Server};

const BATCH: usize = 100;
const TIMEOUT: Duration = Duration::from_secs(30);
const EMAIL: &str = "load@example.com";
const PASSWORD: &str = "a long load-test password";
/// The memory targets.
const PEAK_RSS_MIB: u64 = 500;
const SETTLED_WITHIN: f64 = 0.20;
/// Quiet time before the "after" reading (the background jobs run on what just arrived).
const SETTLE_SECS: u64 = 15;

pub async fn main(secs: u64, ingest: usize, pages: usize) {
    println!(
        "costroom-bench load: {ingest} ingest + {pages} page connections for {secs}s (batches of {BATCH} events, \
         request timeout {}s)",
        TIMEOUT.as_secs()
    );
    let mut missed = vec![];
    let sqlite = TestDb::sqlite().await;
    missed.extend(run("sqlite", &sqlite, secs, ingest, pages).await);
    sqlite.finish().await;
    match TestDb::postgres().await {
        Some(pg) => {
            missed.extend(run("postgres", &pg, secs, ingest, pages).await);
            pg.finish().await;
        }
        None => println!("postgres: skipped (set COSTROOM_TEST_PG_URL)"),
    }
    if !missed.is_empty() {
        // a bench prints rather than asserts, but a missed target must not look like a pass
        eprintln!("load targets missed: {}", missed.join("; "));
        std::process::exit(1);
    }
}

#[derive(Default)]
struct Tally {
    /// (lane, status) → answers; status 0 = timeout, 1 = connection error
    answers: BTreeMap<(&'static str, u16), u64>,
    /// 429/503 answers without Retry-After
    no_retry_after: u64,
    page_ok: Vec<Duration>,
    accepted_events: u64,
    accepted_cost: i128,
}

/// Demo events ending yesterday, with their provider cost, so the stored total of the
/// accepted ones is known exactly.
fn event_pool() -> Vec<UsageEvent> {
    let end = chrono::Utc::now().date_naive() - chrono::Days::new(1);
    let mut pool = generate(&DemoConfig { seed: 7, end, days: 14, volume: 1.0 });
    pool.truncate(50_000);
    for e in &mut pool {
        e.cost_source = CostSource::Provider;
    }
    pool
}

async fn run(backend: &str, t: &TestDb, secs: u64, ingest: usize, pages: usize) -> Vec<String> {
    let org = t.db.ensure_org("default", "Default organisation").await.expect("org");
    let end = chrono::Utc::now().date_naive();
    services::demo::seed(&t.db, org, DemoConfig { seed: 42, end, days: 120, volume: 1.0 }, false)
        .await
        .expect("seed");
    let user = AddUser {
        email: EMAIL.into(),
        name: "Load".into(),
        role: app::domain::Role::Viewer,
        password: PASSWORD.into(),
        team: None,
    };
    add_user(&t.db, org, &Actor::cli(), user).await.expect("user");
    let (_, token) = ingest_key(&t.db).await;
    let (events_before, cost_before) = t.db.usage_totals(org).await.expect("totals");

    let server = Server::start(&t.url(), &[]).await;
    let cookie = sign_in(&server.addr, EMAIL, PASSWORD).await;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let clients = Clients {
        addr: server.addr.clone(),
        cookie,
        token,
        pool: Arc::new(event_pool()),
        seq: Arc::new(AtomicU64::new(0)),
        tally: tally.clone(),
    };

    // warm up at a tenth of the load for five seconds (every pooled connection, its page
    // cache and the allocator's arenas in use) before the "before" reading
    clients.run((ingest / 10).max(1), (pages / 10).max(1), 5).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before = server.rss_kib("VmRSS:");
    let before_parts = (server.rss_kib("RssAnon:"), server.rss_kib("RssFile:"));

    let pid = server.pid();
    let until = Instant::now() + Duration::from_secs(secs);
    let sampler = tokio::spawn(async move {
        let mut peak = 0;
        while Instant::now() < until {
            peak = peak.max(rss_kib(pid, "VmRSS:"));
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        peak
    });
    let warm = std::mem::take(&mut *tally.lock().expect("tally"));
    clients.run(ingest, pages, secs).await;
    let _ = sampler.await;
    {
        // the warm-up's events were accepted too: the stored totals include them
        let mut t = tally.lock().expect("tally");
        t.accepted_events += warm.accepted_events;
        t.accepted_cost += warm.accepted_cost;
    }
    let peak = server.rss_kib("VmHWM:");
    let at_end = server.rss_kib("VmRSS:");
    tokio::time::sleep(Duration::from_secs(SETTLE_SECS)).await;
    let after = server.rss_kib("VmRSS:");
    let after_parts = (server.rss_kib("RssAnon:"), server.rss_kib("RssFile:"));
    drop(server);

    let tally = std::mem::take(&mut *tally.lock().expect("tally"));
    let (events_after, cost_after) = t.db.usage_totals(org).await.expect("totals");
    let mut missed = vec![];
    let answers: Vec<String> =
        tally.answers.iter().map(|((lane, s), n)| format!("{lane} {}: {n}", label(*s))).collect();
    println!("{backend}: answers {}", answers.join(", "));
    let failures: u64 =
        tally.answers.iter().filter(|((_, s), _)| *s <= 1 || *s >= 500 && *s != 503).map(|(_, n)| n).sum();
    if failures > 0 {
        missed.push(format!(
            "{backend}: {failures} answers were 5xx (other than 503), timeouts or connection errors"
        ));
    }
    if tally.no_retry_after > 0 {
        missed.push(format!("{backend}: {} refusals without Retry-After", tally.no_retry_after));
    }
    let mut lat = tally.page_ok.clone();
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    if lat.is_empty() {
        missed.push(format!("{backend}: no Overview load succeeded under load"));
    } else {
        println!(
            "{backend}: Overview under load: {} loads, p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
            lat.len(),
            ms(lat[lat.len() / 2]),
            ms(lat[lat.len() * 95 / 100]),
            ms(*lat.last().expect("loads"))
        );
    }
    let mib = |k: u64| k / 1024;
    println!(
        "{backend}: server RSS before {} MiB, peak {} MiB, at the end {} MiB, {SETTLE_SECS} s later {} MiB ({:+.0}% of before)",
        mib(before),
        mib(peak),
        mib(at_end),
        mib(after),
        (after as f64 / before.max(1) as f64 - 1.0) * 100.0
    );
    println!(
        "{backend}: of which heap and stacks (RssAnon) {} → {} MiB, mapped files (RssFile: the binary's code, \
         SQLite's memory map) {} → {} MiB",
        mib(before_parts.0),
        mib(after_parts.0),
        mib(before_parts.1),
        mib(after_parts.1)
    );
    if mib(peak) > PEAK_RSS_MIB {
        missed.push(format!("{backend}: peak RSS {} MiB > {PEAK_RSS_MIB} MiB", mib(peak)));
    }
    if after as f64 > before as f64 * (1.0 + SETTLED_WITHIN) {
        missed.push(format!(
            "{backend}: RSS after {} MiB is over 120% of before {} MiB",
            mib(after),
            mib(before)
        ));
    }
    let stored = (events_after - events_before) as u64;
    let stored_cost = (cost_after.0 - cost_before.0) as i128;
    println!(
        "{backend}: accepted {} events worth {}; stored {} worth {}",
        tally.accepted_events,
        Nanos(tally.accepted_cost as i64).usd(),
        stored,
        Nanos(stored_cost as i64).usd()
    );
    if stored != tally.accepted_events || stored_cost != tally.accepted_cost {
        missed.push(format!("{backend}: accepted and stored events differ"));
    }
    println!(
        "{backend}: {}",
        if missed.is_empty() { "all load targets met".to_string() } else { missed.join("; ") }
    );
    missed
}

/// What every client shares.
#[derive(Clone)]
struct Clients {
    addr: String,
    cookie: String,
    token: String,
    pool: Arc<Vec<UsageEvent>>,
    seq: Arc<AtomicU64>,
    tally: Arc<Mutex<Tally>>,
}

impl Clients {
    /// `ingest` + `pages` clients for `secs`, each on its own keep-alive connection
    /// (reopened after a refusal or an error).
    async fn run(&self, ingest: usize, pages: usize, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut tasks = vec![];
        for i in 0..ingest + pages {
            let c = self.clone();
            tasks.push(tokio::spawn(async move {
                let lane = if i < ingest { "ingest" } else { "page" };
                let mut conn: Option<Conn> = None;
                while Instant::now() < deadline {
                    let mut open = match conn.take() {
                        Some(open) => open,
                        None => match Conn::open(&c.addr).await {
                            Ok(open) => open,
                            Err(_) => {
                                count(&c.tally, lane, 1);
                                tokio::time::sleep(Duration::from_millis(100)).await;
                                continue;
                            }
                        },
                    };
                    let kept = if i < ingest {
                        post_batch(&mut open, &c.token, &c.pool, &c.seq, &c.tally).await
                    } else {
                        page(&mut open, &c.cookie, &c.tally).await
                    };
                    if kept {
                        conn = Some(open);
                    }
                }
            }));
        }
        for task in tasks {
            task.await.expect("client task");
        }
    }
}

fn label(status: u16) -> String {
    match status {
        0 => "timeout".into(),
        1 => "connection error".into(),
        s => s.to_string(),
    }
}

fn count(tally: &Mutex<Tally>, lane: &'static str, status: u16) {
    *tally.lock().expect("tally").answers.entry((lane, status)).or_default() += 1;
}

/// Loads the Overview; false when the connection should not be reused.
async fn page(conn: &mut Conn, cookie: &str, tally: &Mutex<Tally>) -> bool {
    let started = Instant::now();
    let headers = format!("Cookie: {cookie}\r\nAccept: text/html\r\n");
    match tokio::time::timeout(TIMEOUT, conn.request("GET", "/", &headers, b"")).await {
        Err(_) => {
            count(tally, "page", 0);
            false
        }
        Ok(Err(_)) => {
            count(tally, "page", 1);
            false
        }
        Ok(Ok(res)) => {
            let mut t = tally.lock().expect("tally");
            *t.answers.entry(("page", res.status)).or_default() += 1;
            if res.status == 200 {
                t.page_ok.push(started.elapsed());
            } else if matches!(res.status, 429 | 503) && res.header("retry-after").is_none() {
                t.no_retry_after += 1;
            }
            // after a refusal the server may not have read the body; start clean
            res.status == 200 && res.header("connection") != Some("close")
        }
    }
}

/// Posts one batch of new events; false when the connection should not be reused.
async fn post_batch(
    conn: &mut Conn,
    token: &str,
    pool: &[UsageEvent],
    seq: &AtomicU64,
    tally: &Mutex<Tally>,
) -> bool {
    let n = seq.fetch_add(1, Ordering::Relaxed);
    let start = (n as usize * BATCH) % pool.len();
    let batch: Vec<UsageEvent> = (0..BATCH)
        .map(|i| {
            let mut e = pool[(start + i) % pool.len()].clone();
            e.event_id = format!("load-{n}-{i}");
            e
        })
        .collect();
    let cost: i128 = batch.iter().map(|e| e.cost.0 as i128).sum();
    let body = serde_json::to_vec(&batch.iter().map(to_item).collect::<Vec<_>>()).expect("json");
    let headers = format!("Authorization: Bearer {token}\r\nContent-Type: application/json\r\n");
    match tokio::time::timeout(TIMEOUT, conn.request("POST", "/api/v1/events", &headers, &body)).await {
        Err(_) => {
            // the server may still store it: a timeout makes the exact-count check unknowable,
            // and it is counted as a failure anyway
            count(tally, "ingest", 0);
            false
        }
        Ok(Err(_)) => {
            count(tally, "ingest", 1);
            false
        }
        Ok(Ok(res)) => {
            let mut t = tally.lock().expect("tally");
            *t.answers.entry(("ingest", res.status)).or_default() += 1;
            if res.status == 200 {
                t.accepted_events += BATCH as u64;
                t.accepted_cost += cost;
            } else if matches!(res.status, 429 | 503) && res.header("retry-after").is_none() {
                t.no_retry_after += 1;
            }
            // after a refusal the server may not have read the body; start clean
            res.status == 200 && res.header("connection") != Some("close")
        }
    }
}
