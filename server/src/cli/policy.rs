//! `costroom policy export | check | apply | replay`: guardrails kept in git.
use anyhow::Context;
use app::domain::Nanos;
use app::server::db::Actor;
use app::server::services::{guardrails, policy as file};
use chrono::NaiveDate;

use super::{open, PolicyCommand};

fn read(path: &std::path::Path) -> anyhow::Result<Vec<app::domain::guardrail::Rule>> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    file::check(&text).with_context(|| format!("{} has mistakes", path.display()))
}

/// `30d` or `30`: whole days, 1 to 366.
fn days(since: &str) -> anyhow::Result<u64> {
    since
        .trim()
        .trim_end_matches('d')
        .parse::<u64>()
        .ok()
        .filter(|d| (1..=366).contains(d))
        .with_context(|| format!("--since: '{since}' is not a number of days such as 30d (1 to 366)"))
}

pub(super) async fn policy(url: &str, cmd: PolicyCommand) -> anyhow::Result<()> {
    // a file is checked before the database is opened: `check` needs no database at all
    match cmd {
        PolicyCommand::Check { file: path } => {
            let rules = read(&path)?;
            println!("{}: {} rules, no mistakes", path.display(), rules.len());
            Ok(())
        }
        PolicyCommand::Export => {
            let (db, org) = open(url).await?;
            print!("{}", file::export(&db.guardrail_rules(org).await?));
            db.close().await;
            Ok(())
        }
        PolicyCommand::Apply { file: path, dry_run } => {
            let rules = read(&path)?;
            let (db, org) = open(url).await?;
            let changes = if dry_run {
                file::diff(&db.guardrail_rules(org).await?, &rules)
            } else {
                file::apply(&db, org, &Actor::cli(), &rules, chrono::Utc::now()).await?
            };
            for c in &changes {
                println!("{c}");
            }
            let what = match (changes.is_empty(), dry_run) {
                (true, _) => "nothing to change".to_string(),
                (false, true) => format!("dry run: {} changes, nothing stored", changes.len()),
                (false, false) => format!("applied: {} changes", changes.len()),
            };
            println!("{what} ({} rules in {})", rules.len(), path.display());
            db.close().await;
            Ok(())
        }
        PolicyCommand::Replay { file: path, since, to } => {
            let rules = read(&path)?;
            let n = days(&since)?;
            let to: NaiveDate = to.unwrap_or_else(|| chrono::Utc::now().date_naive());
            let from = to - chrono::Days::new(n - 1);
            let (db, org) = open(url).await?;
            let r = guardrails::replay(&db, org, &rules, from, to).await?;
            println!(
                "{from} – {to}: {} calls, {}; the rules would have denied {} calls, {}",
                r.calls,
                Nanos(r.spend_nanos).usd(),
                r.denied_calls,
                Nanos(r.denied_nanos).usd()
            );
            for x in &r.rules {
                println!(
                    "\n{} ({}; {}): denied {} calls, {}; warned on {} calls, {}",
                    x.rule,
                    x.scope,
                    x.describe,
                    x.denied_calls,
                    Nanos(x.denied_nanos).usd(),
                    x.warned_calls,
                    Nanos(x.warned_nanos).usd()
                );
                for (label, rows) in [("team", &x.by_team), ("feature", &x.by_feature)] {
                    for (k, calls, nanos) in rows.iter() {
                        println!("  {label} {k}: {calls} calls, {}", Nanos(*nanos).usd());
                    }
                }
            }
            db.close().await;
            Ok(())
        }
    }
}
