//! `costroom demo`: the deterministic demo organisation, with budgets, initiatives, anomalies,
//! a review schedule and demo sign-ins.
use std::time::Instant;

use anyhow::Context;
use app::server::services;

use super::open;
use app::server::formats::demo::DemoConfig;

use super::DemoArgs;

pub(super) async fn demo(url: &str, args: DemoArgs) -> anyhow::Result<()> {
    if !(args.volume > 0.0 && args.volume <= 50.0) {
        anyhow::bail!("--volume: {} is outside 0 < volume ≤ 50", args.volume);
    }
    if args.days == 0 || args.days > 3 * 366 {
        anyhow::bail!("--days: {} is outside 1..=1098", args.days);
    }
    let (db, org) = open(url).await?;
    let end = args.end_date.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let cfg = DemoConfig { seed: args.seed, end, days: args.days, volume: args.volume };
    let t = Instant::now();
    let r = services::demo::seed(&db, org, cfg, args.reset).await.context("demo")?;
    println!(
        "demo: seed {} · {} days ending {end} · {} events generated, {} new{} · {:.1}s",
        args.seed,
        args.days,
        r.generated,
        r.inserted,
        if args.reset { format!(", {} removed first", r.removed) } else { String::new() },
        t.elapsed().as_secs_f64()
    );
    println!("demo: organisation now holds {} events, {} in total", r.total_events, r.total_cost.usd());
    let budgets = services::demo::seed_budgets(&db, org, end).await.context("demo budgets")?;
    if budgets > 0 {
        println!("demo: {budgets} monthly budgets added (see /budgets)");
    }
    let first_day = end - chrono::Duration::days(args.days as i64 - 1);
    let initiatives = services::demo::seed_initiatives(&db, org, first_day, end, args.volume)
        .await
        .context("demo initiatives")?;
    if initiatives > 0 {
        println!("demo: {initiatives} initiatives with their outcomes added (see /initiatives)");
    }
    // the detector replayed over the demo's last weeks, as if it had run all along
    let now = app::domain::explore::day_seconds(end) + 86_399;
    let found =
        services::anomalies::run(&db, org, now, now - 21 * 86_400, true).await.context("demo anomalies")?;
    if found.new > 0 {
        println!("demo: {} anomalies detected in the last 21 days (see /anomalies)", found.new);
    }
    // a weekly organisation review on Mondays; its latest one is ready for the meeting
    if db.schedules(org).await?.is_empty() {
        db.insert_schedule(org, None, app::domain::review::Cadence::Weekly(1), "demo")
            .await
            .context("demo reviews")?;
        services::reviews::ensure_due(&db, org, end).await.context("demo reviews")?;
        println!("demo: weekly cost reviews on Mondays (see /reviews)");
    }
    let sign_ins = services::auth::ensure_demo_users(&db, org).await.context("demo users")?;
    println!("demo sign-ins (demo data only; these passwords are public):");
    for (email, role, password) in sign_ins {
        println!("  {role:<12} {email:<36} {password}");
    }
    db.close().await;
    Ok(())
}
