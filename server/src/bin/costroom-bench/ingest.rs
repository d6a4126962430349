use std::sync::Arc;
use std::time::{Duration, Instant};

use app::domain::ingest::to_item;
use app::domain::UsageEvent;
use app::server::formats::demo::{generate, DemoConfig};
use app::server::testing::TestDb;
use chrono::NaiveDate;
use tokio::sync::Mutex;

use super::serve::{ingest_key, rss_kib, Conn, Server};

const BATCH: usize = 1_000;

pub async fn main(n: usize, conns: usize) {
    println!("costroom-bench ingest: {n} events in batches of {BATCH} over {conns} connection(s)");
    let events = events(n);
    let sqlite = TestDb::sqlite().await;
    run("sqlite", &sqlite, &events, conns).await;
    sqlite.finish().await;
    match TestDb::postgres().await {
        Some(pg) => {
            run("postgres", &pg, &events, conns).await;
            pg.finish().await;
        }
        None => println!("postgres: skipped (set COSTROOM_TEST_PG_URL)"),
    }
}

/// `n` demo events (the generator's realistic mix), repeated under new ids if the demo
/// holds fewer.
fn events(n: usize) -> Vec<UsageEvent> {
    let end = NaiveDate::from_ymd_opt(2026, 11, 20).expect("date");
    let base = generate(&DemoConfig { seed: 42, end, days: 120, volume: 4.0 });
    (0..n)
        .map(|i| {
            let mut e = base[i % base.len()].clone();
            if i >= base.len() {
                e.event_id = format!("{}-r{}", e.event_id, i / base.len());
            }
            // the server prices them from its price book, like real traffic
            e.cost_source = app::domain::usage::CostSource::Unpriced;
            e
        })
        .collect()
}

async fn run(backend: &str, t: &TestDb, events: &[UsageEvent], conns: usize) {
    let (org, token) = ingest_key(&t.db).await;
    let server = Server::start(&t.url(), &[]).await;
    let addr = server.addr.clone();
    let pid = server.pid();
    let bodies: Vec<Vec<u8>> = events
        .chunks(BATCH)
        .map(|c| serde_json::to_vec(&c.iter().map(to_item).collect::<Vec<_>>()).expect("json"))
        .collect();
    let queue = Arc::new(Mutex::new(bodies.into_iter().enumerate().collect::<Vec<_>>().into_iter()));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let mut tasks = vec![];
    for _ in 0..conns {
        let (queue, latencies, samples, addr, token) =
            (queue.clone(), latencies.clone(), samples.clone(), addr.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&addr).await.expect("connect");
            let auth = format!("Authorization: Bearer {token}\r\nContent-Type: application/json\r\n");
            loop {
                let Some((i, body)) = queue.lock().await.next() else { break };
                let t = Instant::now();
                let res = conn.request("POST", "/api/v1/events", &auth, &body).await.expect("answer");
                assert_eq!(res.status, 200, "batch {i}: {}", res.text());
                latencies.lock().await.push(t.elapsed());
                if (i + 1) % 500 == 0 {
                    samples.lock().await.push(((i + 1) * BATCH, rss_kib(pid, "VmRSS:")));
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
    let secs = started.elapsed().as_secs_f64();
    let mut lat = latencies.lock().await.clone();
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (n, total) = t.db.usage_totals(org).await.expect("totals");
    assert_eq!(n as usize, events.len(), "every event stored once");
    let rate = events.len() as f64 / secs;
    println!(
        "{backend}: HTTP ingest {} events in {secs:.1}s = {rate:.0} events/s; batch p50 {:.1} ms, p99 {:.1} ms; \
         priced total {}",
        events.len(),
        ms(lat[lat.len() / 2]),
        ms(lat[lat.len() * 99 / 100]),
        total.usd()
    );
    let series: Vec<String> =
        samples.lock().await.iter().map(|(n, kib)| format!("{}k:{}MiB", n / 1000, kib / 1024)).collect();
    println!(
        "{backend}: server RSS while ingesting [{}]; peak {} MiB",
        series.join(" "),
        server.rss_kib("VmHWM:") / 1024
    );
    drop(server);

    // the baseline: the same rows, one multi-row insert per batch, same database
    let plain = t.db.ensure_org("plain", "Plain").await.expect("org");
    let started = Instant::now();
    for chunk in events.chunks(BATCH) {
        t.db.bulk_insert_events_only(plain, chunk).await.expect("bulk insert");
    }
    let plain_rate = events.len() as f64 / started.elapsed().as_secs_f64();
    println!(
        "{backend}: plain bulk insert {plain_rate:.0} events/s; HTTP ingest reaches {:.0}% of it",
        rate * 100.0 / plain_rate
    );
}
