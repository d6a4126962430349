//! `costroom-bench`: prints the figures we track for the foundation, on SQLite and (when
//! `COSTROOM_TEST_PG_URL` is set) PostgreSQL, each in a fresh database:
//! demo seeding throughput, Overview latency (90-day range, p50/p95 over repeated calls) and
//! the process's peak memory. Run with `make bench` (release build). It prints; it asserts
//! nothing, so it is not part of `make test`.
use std::time::{Duration, Instant};

use app::server::demo::DemoConfig;
use app::server::services;
use app::server::testing::TestDb;
use chrono::NaiveDate;

const OVERVIEW_CALLS: usize = 40;

#[tokio::main]
async fn main() {
    let end = NaiveDate::from_ymd_opt(2026, 11, 20).expect("valid date");
    let volume: f64 = std::env::args().nth(1).and_then(|v| v.parse().ok()).unwrap_or(1.0);
    println!("costroom-bench: demo seed 42, 120 days ending {end}, volume {volume}");
    let sqlite = TestDb::sqlite().await;
    run("sqlite", &sqlite, end, volume).await;
    sqlite.finish().await;
    match TestDb::postgres().await {
        Some(pg) => {
            run("postgres", &pg, end, volume).await;
            pg.finish().await;
        }
        None => println!("postgres: skipped (set COSTROOM_TEST_PG_URL)"),
    }
    println!("peak RSS of this process: {} MiB", peak_rss_kib() / 1024);
}

async fn run(backend: &str, t: &TestDb, end: NaiveDate, volume: f64) {
    let org = t.db.ensure_org("bench", "Bench").await.expect("org");
    let cfg = DemoConfig { seed: 42, end, days: 120, volume };
    let started = Instant::now();
    let r = services::demo::seed(&t.db, org, cfg, false).await.expect("seed");
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{backend}: seeded {} events ({}) in {secs:.2}s = {:.0} events/s",
        r.inserted,
        r.total_cost.usd(),
        r.inserted as f64 / secs
    );
    let mut times: Vec<Duration> = Vec::with_capacity(OVERVIEW_CALLS);
    for _ in 0..OVERVIEW_CALLS {
        let s = Instant::now();
        let o = services::overview::overview(&t.db, org, end, None, None).await.expect("overview");
        times.push(s.elapsed());
        assert_eq!(o.daily.len(), 90);
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{backend}: overview (90-day range, {} events stored) p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        r.total_events,
        ms(times[times.len() / 2]),
        ms(times[times.len() * 95 / 100]),
        ms(*times.last().expect("calls"))
    );
}

/// VmHWM from /proc (Linux); 0 elsewhere.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}
