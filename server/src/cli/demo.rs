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
    let x = services::demo::seed_extras(&db, org, &cfg)
        .await
        .context("demo budgets, initiatives, anomalies, reviews")?;
    if x.budgets > 0 {
        println!("demo: {} monthly budgets added (see /budgets)", x.budgets);
    }
    if x.initiatives > 0 {
        println!("demo: {} initiatives with their outcomes added (see /initiatives)", x.initiatives);
    }
    if x.anomalies > 0 {
        println!("demo: {} anomalies detected in the last 21 days (see /anomalies)", x.anomalies);
    }
    if x.reviews {
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
