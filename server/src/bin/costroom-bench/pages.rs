//! `costroom-bench pages [rounds]`: every page's server response time. The real server over
//! the demo organisation (120 days, volume 1), a signed-in person, each page loaded `rounds`
//! times one after another (after one warm-up load); prints p50 / p95 / max and the HTML size
//! per page, and the pages over the 150 ms p95 target.
use std::time::{Duration, Instant};

use app::domain::DateRange;
use app::server::db::Actor;
use app::server::formats::demo::DemoConfig;
use app::server::services;
use app::server::services::users::{add_user, AddUser};
use app::server::testing::TestDb;

use super::serve::{sign_in, Conn, Server};

const EMAIL: &str = "pages@example.com";
const PASSWORD: &str = "a long page-bench password";
/// The target for every page's server response (p95).
const TARGET_MS: f64 = 150.0;

pub async fn main(rounds: usize) {
    println!(
        "costroom-bench pages: demo seed 42, 120 days, volume 1; {rounds} loads per page after a warm-up"
    );
    let sqlite = TestDb::sqlite().await;
    run("sqlite", &sqlite, rounds).await;
    sqlite.finish().await;
    match TestDb::postgres().await {
        Some(pg) => {
            run("postgres", &pg, rounds).await;
            pg.finish().await;
        }
        None => println!("postgres: skipped (set COSTROOM_TEST_PG_URL)"),
    }
}

async fn run(backend: &str, t: &TestDb, rounds: usize) {
    let org = t.db.ensure_org("default", "Default organisation").await.expect("org");
    let today = chrono::Utc::now().date_naive();
    let cfg = DemoConfig { seed: 42, end: today, days: 120, volume: 1.0 };
    services::demo::seed(&t.db, org, cfg, false).await.expect("seed");
    // the whole demo, so the budget, initiative, anomaly and review pages have something to show
    services::demo::seed_extras(&t.db, org, &cfg).await.expect("demo extras");
    let user = AddUser {
        email: EMAIL.into(),
        name: "Pages".into(),
        role: app::domain::Role::Finance,
        password: PASSWORD.into(),
        team: None,
    };
    add_user(&t.db, org, &Actor::cli(), user).await.expect("user");
    let server = Server::start(&t.url(), &[]).await;
    let cookie = sign_in(&server.addr, EMAIL, PASSWORD).await;
    let mut conn = Conn::open(&server.addr).await.expect("connect");
    let headers = format!("Cookie: {cookie}\r\nAccept: text/html\r\n");
    // due reviews are created when the reviews page is first opened
    conn.request("GET", "/reviews", &headers, b"").await.expect("reviews");
    let budget = t.db.budgets(org).await.expect("budgets").first().map(|b| b.id).unwrap_or(0);
    let initiative = t.db.initiatives(org).await.expect("initiatives").first().map(|i| i.id).unwrap_or(0);
    let review = t.db.reviews(org).await.expect("reviews").first().map(|r| r.id).unwrap_or(0);
    let anomaly = t.db.anomalies(org, 0).await.expect("anomalies").first().map(|a| a.id).unwrap_or(0);
    let trace =
        t.db.traces(org, DateRange::last_days(today, 30), 1, None)
            .await
            .expect("traces")
            .first()
            .map(|t| t.trace_id.clone())
            .unwrap_or_default();
    let paths = [
        "/".to_string(),
        "/spend?group=team".into(),
        "/spend?group=model&team=search".into(),
        "/spend/team/search".into(),
        "/spend/feature/ticket-triage".into(),
        "/spend/model/claude-sonnet-4-5".into(),
        "/kpis".into(),
        "/coverage".into(),
        "/budgets".into(),
        format!("/budgets/{budget}"),
        "/initiatives".into(),
        format!("/initiatives/{initiative}"),
        "/traces".into(),
        format!("/traces/{trace}"),
        "/anomalies".into(),
        format!("/anomalies/{anomaly}"),
        "/reviews".into(),
        format!("/reviews/{review}"),
        "/maturity".into(),
        "/alerts".into(),
    ];
    let mut over = Vec::new();
    println!("{backend}: {:<34} {:>9} {:>9} {:>9} {:>9}", "page", "p50 ms", "p95 ms", "max ms", "HTML KiB");
    for path in &paths {
        conn.request("GET", path, &headers, b"").await.expect("warm-up");
        let mut times: Vec<Duration> = Vec::with_capacity(rounds);
        let mut size = 0;
        for _ in 0..rounds {
            let started = Instant::now();
            let res = conn.request("GET", path, &headers, b"").await.expect("page");
            times.push(started.elapsed());
            assert_eq!(res.status, 200, "{path}: {}", res.text());
            size = res.body.len();
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let at = |q: f64| ms(times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1]);
        let p95 = at(0.95);
        println!(
            "{backend}: {path:<34} {:>9.1} {p95:>9.1} {:>9.1} {:>9.1}",
            at(0.50),
            ms(*times.last().expect("one")),
            size as f64 / 1024.0
        );
        if p95 > TARGET_MS {
            over.push(format!("{path} ({p95:.0} ms)"));
        }
    }
    if over.is_empty() {
        println!("{backend}: every page under the {TARGET_MS} ms p95 target");
    } else {
        println!("{backend}: over the {TARGET_MS} ms p95 target: {}", over.join(", "));
    }
}
