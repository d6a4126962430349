//! `costroom-bench`: prints the figures we track, on SQLite and (when `COSTROOM_TEST_PG_URL` is
//! set) PostgreSQL, each in a fresh database. It prints; it asserts nothing, so it is not part
//! of `make test`. Run with `make bench` (release build).
//!
//! - `costroom-bench [demo [volume]]`: demo seeding throughput, Overview latency (90-day range,
//!   p50/p95 over repeated calls) and this process's peak memory.
//! - `costroom-bench ingest [events] [connections]`: starts the real `costroom serve` binary,
//!   sends realistic events (the demo generator's) through `POST /api/v1/events` in batches of
//!   1,000 over keep-alive HTTP/1.1 connections, and prints events/s, p50/p99 batch latency,
//!   the server's resident memory as it goes and at its peak, and the rate of a plain bulk
//!   insert of the same rows into the same database (no HTTP, pricing or rollups) with the
//!   ratio.
//! - `costroom-bench focus [rows]`: writes a FOCUS CSV of that many rows (10 accounts × 12
//!   billing periods, tags, many decimals), imports it into the ledger, and prints rows/s and
//!   this process's resident memory sampled during the import.
//! - `costroom-bench load [seconds] [ingest] [pages]`: the overload test (see load.rs): 200
//!   ingest and 200 page connections for 60 s by default; exits non-zero when a target is
//!   missed (a 500, a timeout, a refusal without Retry-After, memory, a lost event).
//! - `costroom-bench forecast [trace.csv]`: backtests the spend forecast (rolling origin) and
//!   prints MAPE by horizon for each method: on the demo's daily spend (120 days, weekly
//!   season) and on the Azure LLM inference conversation trace (CC BY 4.0, Patel et al.,
//!   Splitwise, ISCA 2024) bucketed per minute and priced at gpt-4o list rates.
//! - `costroom-bench anomalies [trace.csv]`: injects spikes of known size and time into the
//!   demo's hourly spend and into the Azure trace per 15 s, runs the anomaly detector and
//!   prints precision, recall, detection delay and false alarms on the clean series.
//! - `costroom-bench spend [events]`: stores that many demo-shaped events (default ten
//!   million, 120 days) through the ingest path (rollups kept as they arrive), then times the
//!   Overview and explorer views over 90 days (p50/p95) side by side with the same view
//!   answered by a plain GROUP BY over the raw events, and prints the speed-up.
use std::time::{Duration, Instant};

use app::server::formats::demo::DemoConfig;
use app::server::services;
use app::server::testing::TestDb;
use chrono::NaiveDate;

const OVERVIEW_CALLS: usize = 40;

/// The bench's modes; each prints its figures (see the module documentation).
#[derive(clap::Parser)]
#[command(name = "costroom-bench", about = "Prints the figures Costroom tracks")]
struct Args {
    #[command(subcommand)]
    mode: Option<Mode>,
}

#[derive(clap::Subcommand)]
enum Mode {
    /// Demo seeding throughput and Overview latency (the default mode).
    Demo {
        #[arg(default_value_t = 1.0)]
        volume: f64,
    },
    /// Events through `POST /api/v1/events` of a real server.
    Ingest {
        #[arg(default_value_t = 1_000_000)]
        events: usize,
        #[arg(default_value_t = 2)]
        connections: usize,
    },
    /// The overload test; exits non-zero when a target is missed.
    Load {
        #[arg(default_value_t = 60)]
        seconds: u64,
        #[arg(default_value_t = 200)]
        ingest: usize,
        #[arg(default_value_t = 200)]
        pages: usize,
    },
    /// Forecast backtest on the demo and on a trace.
    Forecast {
        #[arg(
            default_value = "../shared/data/traces/azure-llm-inference-2023/AzureLLMInferenceTrace_conv.csv"
        )]
        trace: String,
    },
    /// Anomaly detection against injected spikes.
    Anomalies {
        #[arg(
            default_value = "../shared/data/traces/azure-llm-inference-2023/AzureLLMInferenceTrace_conv.csv"
        )]
        trace: String,
    },
    /// Explorer views at scale against a plain GROUP BY.
    Spend {
        #[arg(default_value_t = 10_000_000)]
        events: usize,
    },
    /// FOCUS import throughput and memory.
    Focus {
        #[arg(default_value_t = 1_000_000)]
        rows: u64,
    },
    /// Every page's server response time over the demo organisation.
    Pages {
        #[arg(default_value_t = 20)]
        rounds: usize,
    },
    /// The guardrails' ledger property over random sequences, on both backends.
    Guardrails {
        #[arg(default_value_t = 100_000)]
        sequences: u64,
    },
    /// Authorize latency against a no-op handler of the same server; exits non-zero when the
    /// SQLite target is missed.
    Authorize {
        #[arg(default_value_t = 2_000)]
        rate: u64,
        #[arg(default_value_t = 10)]
        seconds: u64,
        #[arg(default_value_t = 50)]
        rules: usize,
    },
    /// The gateway's added latency against the fake upstream called directly, and its memory
    /// with many streams open; exits non-zero when a SQLite target is missed.
    Gateway {
        #[arg(default_value_t = 1_000)]
        rate: u64,
        #[arg(default_value_t = 10)]
        seconds: u64,
        #[arg(default_value_t = 1_000)]
        streams: usize,
    },
}

#[tokio::main]
async fn main() {
    let volume = match <Args as clap::Parser>::parse().mode {
        None => 1.0,
        Some(Mode::Demo { volume }) => volume,
        Some(Mode::Ingest { events, connections }) => return ingest::main(events, connections).await,
        Some(Mode::Load { seconds, ingest, pages }) => return load::main(seconds, ingest, pages).await,
        Some(Mode::Forecast { trace }) => return forecast::main(&trace),
        Some(Mode::Anomalies { trace }) => return anomalies::main(&trace),
        Some(Mode::Spend { events }) => return spend::main(events).await,
        Some(Mode::Focus { rows }) => return focus::main(rows).await,
        Some(Mode::Pages { rounds }) => return pages::main(rounds).await,
        Some(Mode::Authorize { rate, seconds, rules }) => return authorize::main(rate, seconds, rules).await,
        Some(Mode::Guardrails { sequences }) => return property(sequences).await,
        Some(Mode::Gateway { rate, seconds, streams }) => return gateway::main(rate, seconds, streams).await,
    };
    let end = NaiveDate::from_ymd_opt(2026, 11, 20).expect("valid date");
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

/// The ledger property of the guardrails issue at full size (the DB contract test runs a few
/// hundred sequences of the same code).
async fn property(sequences: u64) {
    use app::server::testing::guardrail_property::run;
    println!("costroom-bench guardrails: {sequences} random sequences of reserve / settle / ingest / expire");
    let mut backends = vec![("sqlite", TestDb::sqlite().await)];
    match TestDb::postgres().await {
        Some(pg) => backends.push(("postgres", pg)),
        None => println!("postgres: skipped (set COSTROOM_TEST_PG_URL)"),
    }
    for (name, t) in backends {
        let started = Instant::now();
        // panics naming the sequence on any breach of the ledger
        let r = run(&t.db, 2026, sequences, 1_000).await;
        println!(
            "{name}: {} sequences, {} operations in {:.1}s ({:.0} ops/s): {} held, {} refused at a cap, {} settled, \
             {} settled by ingest, {} expired; {} ledger checks, every cap equal to its ledger to the nano, \
             no hold past a hard cap, largest overrun of a hard cap by settlements {}",
            r.sequences,
            r.operations,
            started.elapsed().as_secs_f64(),
            r.operations as f64 / started.elapsed().as_secs_f64(),
            r.held,
            r.refused,
            r.settled,
            r.ingested,
            r.expired,
            r.checks,
            app::domain::Nanos(r.largest_overrun).usd()
        );
        t.finish().await;
    }
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
        let o = services::overview::overview(&t.db, org, end, None, None, None).await.expect("overview");
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

mod authorize;
mod gateway;
mod ingest;
mod load;
mod pages;
mod serve;

mod focus {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use app::server::db::Actor;
    use app::server::services::ledger::{import_focus, ImportMode, SOURCE_FOCUS};
    use app::server::testing::TestDb;

    fn rss_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }

    pub async fn main(rows: u64) {
        let path = std::env::temp_dir().join(format!("costroom-bench-focus-{}.csv", std::process::id()));
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path).expect("temp file"));
        writeln!(w, "BillingAccountId,BillingPeriodStart,BillingPeriodEnd,ChargeCategory,ChargePeriodStart,ChargePeriodEnd,\
            BilledCost,EffectiveCost,ListCost,BillingCurrency,ServiceName,ServiceCategory,ProviderName,SkuId,\
            ConsumedQuantity,ConsumedUnit,Tags").expect("write");
        for i in 0..rows {
            let account = i % 10;
            let month = (i / 10) % 12 + 1;
            let day = i % 28 + 1;
            writeln!(
                w,
                "acct-{account},2026-{month:02}-01T00:00:00Z,{},Usage,2026-{month:02}-{day:02}T00:00:00Z,\
                 2026-{month:02}-{day:02}T01:00:00Z,{}.{:012},{}.{:012},{}.{:012},USD,GPU VMs,AI and Machine Learning,\
                 Cloud,sku-{},{}.5,Hours,\"{{\"\"team\"\":\"\"team-{}\"\"}}\"",
                if month == 12 { "2027-01-01T00:00:00Z".to_string() } else { format!("2026-{:02}-01T00:00:00Z", month + 1) },
                i % 100,
                i % 999_999_999_999,
                i % 100,
                i % 999_999_999_999,
                (i * 2) % 100,
                (i * 2) % 999_999_999_999,
                i % 50,
                i % 7,
                i % 5
            )
            .expect("write");
        }
        w.flush().expect("flush");
        drop(w);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        println!("costroom-bench focus: {rows} rows, {} MiB file", size / (1024 * 1024));
        let sqlite = TestDb::sqlite().await;
        run("sqlite", &sqlite, &path, rows).await;
        sqlite.finish().await;
        match TestDb::postgres().await {
            Some(pg) => {
                run("postgres", &pg, &path, rows).await;
                pg.finish().await;
            }
            None => println!("postgres: skipped (set COSTROOM_TEST_PG_URL)"),
        }
        let _ = std::fs::remove_file(&path);
    }

    async fn run(backend: &str, t: &TestDb, path: &std::path::Path, rows: u64) {
        let org = t.db.ensure_org("bench", "Bench").await.expect("org");
        let done = Arc::new(AtomicBool::new(false));
        let sampler = {
            let done = done.clone();
            tokio::spawn(async move {
                let mut samples = vec![];
                while !done.load(Ordering::Relaxed) {
                    samples.push(rss_kib());
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                samples
            })
        };
        let before = rss_kib();
        let started = Instant::now();
        let r = import_focus(
            &t.db,
            org,
            &Actor::cli(),
            path,
            ImportMode::ValidRows,
            &app::domain::ledger::LedgerRules::default(),
            |_| (),
        )
        .await
        .expect("import");
        let secs = started.elapsed().as_secs_f64();
        done.store(true, Ordering::Relaxed);
        let samples = sampler.await.expect("sampler");
        assert_eq!((r.imported, r.bad_rows), (rows, 0));
        let (n, billed, _) = t.db.ledger_totals(org, SOURCE_FOCUS).await.expect("totals");
        assert_eq!(n as u64, rows);
        let step = (samples.len() / 10).max(1);
        let series: Vec<String> = samples.iter().step_by(step).map(|k| format!("{}", k / 1024)).collect();
        println!(
            "{backend}: imported {rows} FOCUS rows in {secs:.1}s = {:.0} rows/s (billed {}); RSS before {} MiB, \
             during [{}] MiB, max {} MiB",
            rows as f64 / secs,
            billed.usd(),
            before / 1024,
            series.join(" "),
            samples.iter().max().copied().unwrap_or(0) / 1024
        );
    }
}

mod spend {
    use std::time::{Duration, Instant};

    use app::domain::explore::{decode_pairs, SpendQuery};
    use app::server::db::spend::SpendPath;
    use app::server::db::{Db, OrgId};
    use app::server::formats::demo::{generate_day, trace_tokens, DemoConfig};
    use app::server::services;
    use app::server::testing::TestDb;
    use chrono::NaiveDate;

    const DAYS: u32 = 120;
    const CALLS: usize = 40;
    const RAW_CALLS: usize = 5;
    const BATCH: usize = 5_000;

    pub async fn main(n: usize) {
        let end = NaiveDate::from_ymd_opt(2026, 11, 20).expect("valid date");
        let trace = trace_tokens();
        // the volume that makes `n` events over the period, from one pass at volume 1
        let unit: usize = (0..DAYS)
            .map(|d| generate_day(&DemoConfig { seed: 7, end, days: DAYS, volume: 1.0 }, d, &trace).len())
            .sum();
        let volume = n as f64 / unit as f64;
        let cfg = DemoConfig { seed: 7, end, days: DAYS, volume };
        println!("costroom-bench spend: ~{n} events over {DAYS} days ending {end} (demo volume {volume:.1})");
        // one backend at 10M events takes most of an hour on 2 cores: COSTROOM_BENCH_ONLY picks one
        let only = std::env::var("COSTROOM_BENCH_ONLY").ok();
        let wanted = |b: &str| only.as_deref().is_none_or(|o| o == b);
        if wanted("sqlite") {
            let sqlite = TestDb::sqlite().await;
            run("sqlite", &sqlite.db, &cfg, &trace).await;
            sqlite.finish().await;
        }
        if !wanted("postgres") {
            println!("postgres: skipped (COSTROOM_BENCH_ONLY)");
        } else if let Some(pg) = TestDb::postgres().await {
            run("postgres", &pg.db, &cfg, &trace).await;
            pg.finish().await;
        } else {
            println!("postgres: skipped (set COSTROOM_TEST_PG_URL)");
        }
        println!("peak RSS of this process: {} MiB", super::peak_rss_kib() / 1024);
    }

    async fn run(backend: &str, db: &Db, cfg: &DemoConfig, trace: &[(i64, i64)]) {
        let org = db.ensure_org("bench", "Bench").await.expect("org");
        let started = Instant::now();
        let mut stored = 0usize;
        for d in 0..cfg.days {
            let events = generate_day(cfg, d, trace);
            for chunk in events.chunks(BATCH) {
                stored += db.insert_usage_events(org, chunk).await.expect("insert") as usize;
            }
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{backend}: stored {stored} events with their rollups in {secs:.0}s ({:.0} events/s)",
            stored as f64 / secs
        );
        db.analyze().await.expect("analyze");
        let today = cfg.end;
        let overview = time(CALLS, || async {
            services::overview::overview(db, org, today, None, None, None).await.expect("overview");
        })
        .await;
        report(backend, "overview (90 days, all tiles)", &overview, None);
        let views = [
            ("explorer, 0 filters: cost by team, daily, 90 days", "group=team&range=90d"),
            ("explorer, 0 filters: cost by model, weekly, 90 days", "group=model&range=90d&gran=week"),
            ("explorer, 1 filter: team=search by model, daily, 90 days", "group=model&team=search&range=90d"),
            (
                "explorer, 2 filters: team=search, model=gpt-4o-mini by customer, daily, 90 days",
                "group=customer&team=search&model=gpt-4o-mini&range=90d",
            ),
            (
                "explorer, 3 filters: team=support, env=prod, customer=acme by feature, daily, 90 days",
                "group=feature&team=support&environment=prod&customer=acme&range=90d",
            ),
        ];
        for (label, qs) in views {
            let q = SpendQuery::parse(&decode_pairs(qs), today).expect("query");
            let fast = time(CALLS, || view(db, org, &q, SpendPath::Auto)).await;
            let raw = time(RAW_CALLS, || view(db, org, &q, SpendPath::Raw)).await;
            report(backend, label, &fast, Some(&raw));
        }
        // the detail pages: every read of the page, next to the same views over the raw events
        let range = app::domain::DateRange::last_days(today, 90);
        let scopes = [
            ("team", "search"),
            ("feature", "ticket-triage"),
            ("customer", "acme"),
            ("model", "claude-sonnet-4-5"),
            ("initiative", "support-copilot"),
        ];
        for (dim, value) in scopes {
            let fast = time(CALLS, || async {
                services::spend::scope(db, org, today, dim, value, None, None).await.expect("scope page");
            })
            .await;
            let d = app::domain::explore::Dim::parse("dim", dim).expect("dim");
            let (trend, breakdowns) = services::spend::scope_queries(today, &d, value, range);
            // each raw page is six GROUP BYs over the events: fewer rounds keep the bench short
            let raw = time(2, || async {
                for q in std::iter::once(&trend).chain(&breakdowns) {
                    view(db, org, q, SpendPath::Raw).await;
                }
                let all = app::domain::traces::TraceFilter { page: 1, ..Default::default() };
                db.trace_page_raw(org, range, &all, 10, Some((&d, value))).await.expect("traces");
            })
            .await;
            report(backend, &format!("{dim} page ({dim}={value}, 90 days)"), &fast, Some(&raw));
        }
        let started = Instant::now();
        db.rebuild_event_rollups(org).await.expect("rebuild");
        println!(
            "{backend}: rebuilt every rollup and cube from the {stored} raw events in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        let per_million = |bytes: i64| bytes as f64 / (stored as f64 / 1e6) / (1024.0 * 1024.0);
        let mut sizes = Vec::new();
        for table in ["usage_events", "usage_rollups", "usage_cube", "usage_cube_wide", "trace_rollups"] {
            let bytes = db.table_bytes(table).await.expect("size");
            sizes.push(format!("{table} {:.1} MiB", per_million(bytes)));
        }
        println!("{backend}: size per million events (with indexes): {}", sizes.join(", "));
    }

    async fn view(db: &Db, org: OrgId, q: &SpendQuery, path: SpendPath) {
        services::spend::view(db, org, q.clone(), path).await.expect("view");
    }

    async fn time<F, Fut>(calls: usize, f: F) -> Vec<Duration>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        f().await; // warm the caches once, as a page someone keeps open would
        let mut out = Vec::with_capacity(calls);
        for _ in 0..calls {
            let s = Instant::now();
            f().await;
            out.push(s.elapsed());
        }
        out.sort();
        out
    }

    fn report(backend: &str, label: &str, t: &[Duration], raw: Option<&[Duration]>) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let p = |t: &[Duration], q: usize| t[(t.len() * q / 100).min(t.len() - 1)];
        let mut line = format!("{backend}: {label}: p50 {:.1} ms, p95 {:.1} ms", ms(p(t, 50)), ms(p(t, 95)));
        if let Some(raw) = raw {
            line.push_str(&format!(
                " | raw GROUP BY p50 {:.1} ms, p95 {:.1} ms | {:.0}x faster (p50)",
                ms(p(raw, 50)),
                ms(p(raw, 95)),
                p(raw, 50).as_secs_f64() / p(t, 50).as_secs_f64().max(1e-9)
            ));
        }
        println!("{line}");
    }
}

mod forecast {
    use app::domain::forecast::{backtest, Method};
    use app::server::formats::demo::{generate, DemoConfig};
    use chrono::NaiveDate;
    use std::collections::BTreeMap;

    fn print(label: &str, by_h: &[Option<f64>]) {
        let cells: Vec<String> = by_h
            .iter()
            .enumerate()
            .map(|(i, e)| {
                format!("h{}: {}", i + 1, e.map(|e| format!("{e:.1}%")).unwrap_or_else(|| "-".into()))
            })
            .collect();
        println!("  {label}: {}", cells.join("  "));
    }

    fn run(name: &str, y: &[f64], season: usize, horizon: usize, window: usize) {
        println!("{name}: {} buckets, season {season}, origins over the last {window}", y.len());
        print("chosen per origin", &backtest(y, season, horizon, window, None));
        print(
            "seasonal naive + drift",
            &backtest(y, season, horizon, window, Some(Method::SeasonalNaiveDrift)),
        );
        let hw = Method::HoltWinters { alpha_pct: 0, beta_pct: 0, gamma_pct: 0 };
        print("Holt-Winters (refitted per origin)", &backtest(y, season, horizon, window, Some(hw)));
    }

    pub fn main(trace: &str) {
        let end = NaiveDate::from_ymd_opt(2026, 11, 20).expect("valid date");
        let events = generate(&DemoConfig { seed: 42, end, days: 120, volume: 1.0 });
        let mut daily: BTreeMap<NaiveDate, i64> = BTreeMap::new();
        for e in &events {
            *daily.entry(e.occurred_at.date_naive()).or_default() += e.cost.0;
        }
        let y: Vec<f64> = daily.values().map(|v| *v as f64).collect();
        run("demo daily spend", &y, 7, 14, 42);

        let Ok(text) = std::fs::read_to_string(trace) else {
            println!("azure trace: skipped ({trace} not found)");
            return;
        };
        let y: Vec<f64> = super::trace_buckets(&text, 60).iter().map(|v| *v as f64).collect();
        let y = &y[..];
        // one hour shows no daily or weekly pattern: season 1 makes both methods trend models
        run("azure conversation trace, per minute", y, 1, 10, 30);
    }
}

/// The Azure LLM inference trace's cost per `secs`-second bucket (whole buckets only), priced
/// at gpt-4o list rates: $2.50 per 1M input tokens, $10 per 1M output tokens, in nanos.
fn trace_buckets(text: &str, secs: i64) -> Vec<i64> {
    let mut buckets: std::collections::BTreeMap<i64, i64> = std::collections::BTreeMap::new();
    for line in text.lines().skip(1) {
        let mut f = line.split(',');
        let (Some(ts), Some(ctx), Some(gen)) = (f.next(), f.next(), f.next()) else { continue };
        let Ok(t) = chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%d %H:%M:%S%.f") else { continue };
        let (Ok(ctx), Ok(gen)) = (ctx.trim().parse::<i64>(), gen.trim().parse::<i64>()) else { continue };
        *buckets.entry(t.and_utc().timestamp() / secs).or_default() += ctx * 2_500 / 1_000 + gen * 10;
    }
    // the first and last buckets are partial
    let y: Vec<i64> = buckets.values().copied().collect();
    y[1.min(y.len())..y.len().saturating_sub(1).max(1.min(y.len()))].to_vec()
}

/// Precision, recall and detection delay of the anomaly detector on real series with spikes
/// of known size and time injected (a deterministic generator, 30 rounds per series).
mod anomalies {
    use app::domain::anomaly::{bands, episodes, DetectorConfig};
    use app::domain::Nanos;
    use app::server::formats::demo::{generate, DemoConfig};
    use chrono::NaiveDate;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// What `evaluate` injects: `count` spikes after `warmup` buckets, each 1–`max_len` buckets
    /// long and `times_median` (lo, hi) × the series' median per bucket.
    struct Spikes {
        warmup: usize,
        count: usize,
        max_len: usize,
        times_median: (u64, u64),
    }

    /// Injects `spikes` spikes (length 1–`max_len` buckets, `lo`–`hi` × the series' median
    /// per bucket) after the first `warmup` buckets, runs the detector and tallies. Alarms the
    /// series raises as it is (the demo's own incident) are counted apart, not as false.
    fn evaluate(name: &str, bucket: &str, y: &[i64], cfg: &DetectorConfig, inject: Spikes) {
        let Spikes { warmup, count: spikes, max_len, times_median: (lo, hi) } = inject;
        let mut sorted = y.to_vec();
        sorted.sort_unstable();
        let median = sorted[sorted.len() / 2];
        let clean: Vec<Nanos> = y.iter().map(|v| Nanos(*v)).collect();
        let known: Vec<(usize, usize)> =
            episodes(&bands(&clean, cfg)).iter().map(|e| (e.first, e.last)).collect();
        let overlaps =
            |a: usize, b: usize, spans: &[(usize, usize)]| spans.iter().any(|(x, y)| a <= *y && b >= *x);
        let (mut tp, mut fn_, mut fp, mut delays) = (0usize, 0usize, 0usize, Vec::new());
        let (mut big, mut big_found) = (0usize, 0usize);
        let mut rng = ChaCha8Rng::seed_from_u64(0x9e37_79b9_7f4a_7c15);
        for _round in 0..30 {
            let mut s = clean.clone();
            // (first, last, above the stated minimum: extra ≥ the minimum impact and ≥ the
            // relative minimum of the bucket's own cost)
            let mut injected: Vec<(usize, usize, bool)> = Vec::new();
            let room = (y.len() - warmup) / spikes;
            for k in 0..spikes {
                let len = rng.gen_range(1..=max_len);
                let at = warmup + k * room + rng.gen_range(0..(room - len - 1).max(1));
                let size = median * rng.gen_range(lo..=hi) as i64;
                for v in &mut s[at..at + len] {
                    *v += Nanos(size);
                }
                let above = size >= cfg.min_excess.0
                    && size as i128 * 100 >= cfg.min_excess_pct as i128 * y[at] as i128;
                injected.push((at, at + len - 1, above));
            }
            let found = episodes(&bands(&s, cfg));
            for (a, b, above) in &injected {
                big += usize::from(*above);
                match found.iter().find(|e| e.first <= *b && e.last >= *a) {
                    Some(e) => {
                        tp += 1;
                        big_found += usize::from(*above);
                        delays.push(e.first.saturating_sub(*a) + 1);
                    }
                    None => fn_ += 1,
                }
            }
            let spans: Vec<(usize, usize)> = injected.iter().map(|(a, b, _)| (*a, *b)).collect();
            fp += found
                .iter()
                .filter(|e| !overlaps(e.first, e.last, &spans) && !overlaps(e.first, e.last, &known))
                .count();
        }
        let precision = tp as f64 * 100.0 / (tp + fp).max(1) as f64;
        let recall = tp as f64 * 100.0 / (tp + fn_).max(1) as f64;
        let mean_delay = delays.iter().sum::<usize>() as f64 / delays.len().max(1) as f64;
        println!(
            "{name}: {} buckets of {bucket}, 30 rounds × {spikes} spikes ({lo}–{hi}× the median bucket, 1–{max_len} buckets long)",
            y.len()
        );
        println!(
            "  precision {precision:.1}% · recall {recall:.1}% ({tp} found, {fn_} missed, {fp} false alarms) · \
             recall of spikes above the minimum impact {:.1}% ({big_found} of {big}) · mean delay {mean_delay:.2} \
             buckets (1 = at the end of the spike's first bucket) · alarms on the series as it is: {}",
            big_found as f64 * 100.0 / big.max(1) as f64,
            known.len()
        );
    }

    pub fn main(trace: &str) {
        let end = NaiveDate::from_ymd_opt(2026, 11, 20).expect("valid date");
        let events = generate(&DemoConfig { seed: 42, end, days: 120, volume: 1.0 });
        let start = events.iter().map(|e| e.occurred_at.timestamp() / 3600).min().unwrap_or(0);
        let mut hourly = vec![0i64; 120 * 24];
        for e in &events {
            let i = (e.occurred_at.timestamp() / 3600 - start) as usize;
            if i < hourly.len() {
                hourly[i] += e.cost.0;
            }
        }
        // the demo's own injected incident is left in: it should be the only clean alarm
        let cfg = DetectorConfig::hourly(Nanos(1_000_000_000));
        let inject = Spikes { warmup: 24 * 8, count: 20, max_len: 4, times_median: (2, 8) };
        evaluate("demo hourly spend (volume 1, min impact $1)", "1 h", &hourly, &cfg, inject);
        let Ok(text) = std::fs::read_to_string(trace) else {
            println!("azure trace: skipped ({trace} not found)");
            return;
        };
        let y = super::trace_buckets(&text, 15);
        let mut sorted = y.clone();
        sorted.sort_unstable();
        let median = sorted[sorted.len() / 2];
        // one hour of a production trace: no daily season, so the baseline is the last 5 minutes
        let cfg = DetectorConfig {
            season: 1,
            seasons: 20,
            min_history: 8,
            z: 4.0,
            floor_pct: 20,
            min_excess: Nanos(median / 2),
            min_excess_pct: 50,
        };
        evaluate(
            "azure conversation trace, per 15 s (min impact half the median bucket)",
            "15 s",
            &y,
            &cfg,
            Spikes { warmup: 20, count: 8, max_len: 3, times_median: (2, 6) },
        );
    }
}
