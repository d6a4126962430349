//! `costroom import …` and `costroom export …`: data in and out through files, with errors
//! naming the file and the line.
use std::time::Instant;

use anyhow::Context;
use app::server::db::Actor;
use app::server::services;

use super::open;

/// Lines per batch of `import events` (one transaction each).
const IMPORT_BATCH: usize = 5_000;

pub(super) async fn import_events(url: &str, file: &std::path::Path) -> anyhow::Result<()> {
    use app::domain::ingest::{parse_body, parse_item};
    use services::prices::{ensure_public_list, PriceCache};
    let bytes = std::fs::read(file).with_context(|| file.display().to_string())?;
    let (db, org) = open(url).await?;
    ensure_public_list(&db).await?;
    let prices = PriceCache::default();
    let text = String::from_utf8_lossy(&bytes);
    // (line number, item): NDJSON is read line by line so that errors name the line
    let items: Vec<(usize, serde_json::Value)> = if text.trim_start().starts_with('[') {
        let all = parse_body(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        all.into_iter().enumerate().map(|(i, v)| (i + 1, v)).collect()
    } else {
        let mut out = vec![];
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v = serde_json::from_str(line).map_err(|e| {
                anyhow::anyhow!("{}: line {}, column {}: {e}", file.display(), n + 1, e.column())
            })?;
            out.push((n + 1, v));
        }
        out
    };
    let unit = if text.trim_start().starts_with('[') { "item" } else { "line" };
    let (mut accepted, mut duplicates, mut rejected, mut unpriced) = (0, 0, 0, 0);
    let t = Instant::now();
    for chunk in items.chunks(IMPORT_BATCH) {
        let mut events = vec![];
        let mut errors = vec![];
        for (line, item) in chunk {
            match parse_item(*line, item) {
                Ok(e) => events.push((*line, e)),
                Err(e) => errors.push(e),
            }
        }
        let r = services::ingest::store(&db, &prices, org, None, events, errors).await?;
        for e in &r.errors {
            eprintln!("\r{}: {unit} {}: {}: {}", file.display(), e.index, e.field, e.reason);
        }
        accepted += r.accepted;
        duplicates += r.duplicates;
        rejected += r.rejected;
        unpriced += r.unpriced;
        let done = accepted + duplicates + rejected;
        eprint!(
            "\rimporting: {done}/{} ({:.0}%)",
            items.len(),
            done as f64 * 100.0 / items.len().max(1) as f64
        );
    }
    eprintln!();
    println!(
        "{}: {accepted} accepted, {duplicates} already there, {rejected} rejected, {unpriced} without a price · {:.1}s",
        file.display(),
        t.elapsed().as_secs_f64()
    );
    db.close().await;
    if rejected > 0 {
        anyhow::bail!("{rejected} {unit}s rejected (see above)");
    }
    Ok(())
}

pub(super) async fn import_focus(
    url: &str,
    file: &std::path::Path,
    all_or_nothing: bool,
) -> anyhow::Result<()> {
    use services::ledger::{import_focus, ImportMode};
    let (db, org) = open(url).await?;
    let mode = if all_or_nothing { ImportMode::AllOrNothing } else { ImportMode::ValidRows };
    let t = Instant::now();
    let rules = services::settings::ledger_rules(&db, org).await?;
    let r = import_focus(&db, org, &Actor::cli(), file, mode, &rules, |_| ())
        .await
        .with_context(|| file.display().to_string())?;
    for e in &r.errors {
        eprintln!("{}: {e}", file.display());
    }
    if r.bad_rows > r.errors.len() as u64 {
        eprintln!("{}: … and {} more bad rows", file.display(), r.bad_rows - r.errors.len() as u64);
    }
    println!(
        "{}: {} rows read, {} imported ({} billing periods; {} earlier lines replaced), {} rejected; \
         billed {}, effective {} · {:.1}s",
        file.display(),
        r.rows,
        r.imported,
        r.periods,
        r.replaced,
        r.bad_rows,
        r.billed.usd(),
        r.effective.usd(),
        t.elapsed().as_secs_f64()
    );
    db.close().await;
    match (r.bad_rows, all_or_nothing) {
        (0, _) => Ok(()),
        (n, true) => anyhow::bail!("{n} bad rows: nothing imported (--all-or-nothing)"),
        (n, false) => anyhow::bail!("{n} bad rows skipped (see above)"),
    }
}

pub(super) async fn import_provider_report(
    url: &str,
    kind: &str,
    file: &std::path::Path,
) -> anyhow::Result<()> {
    use services::reconcile::{import_report, ReportKind};
    let kind = ReportKind::parse(kind)?;
    let body = std::fs::read_to_string(file).with_context(|| file.display().to_string())?;
    let (db, org) = open(url).await?;
    let r = import_report(&db, org, &Actor::cli(), kind, &body)
        .await
        .with_context(|| file.display().to_string())?;
    println!(
        "{}: {} lines ({} stored), cost {}, {} tokens{}",
        file.display(),
        r.lines,
        r.rows,
        r.cost.usd(),
        r.tokens,
        r.next_page.map(|p| format!("; more pages follow (next_page {p})")).unwrap_or_default()
    );
    db.close().await;
    Ok(())
}

pub(super) async fn import_records(url: &str, kind: &str, file: &std::path::Path) -> anyhow::Result<()> {
    use services::records::{parse_records, record, RecordKind};
    let kind = match kind {
        "gpu-usage" => RecordKind::GpuUsage,
        "training-runs" => RecordKind::TrainingRuns,
        "commitments" => RecordKind::Commitments,
        other => anyhow::bail!("kind: '{other}' is not gpu-usage, training-runs or commitments"),
    };
    let body = std::fs::read(file).with_context(|| file.display().to_string())?;
    let rows = parse_records(&body, true).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let (db, org) = open(url).await?;
    let name = file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let r = record(&db, org, &Actor::cli(), kind, &name, &rows).await?;
    for e in &r.errors {
        eprintln!("{}: line {}, {}: {}", file.display(), e.at, e.field, e.reason);
    }
    println!("{}: {} recorded, {} rejected, cost {}", file.display(), r.accepted, r.rejected, r.cost.usd());
    db.close().await;
    if r.rejected > 0 {
        anyhow::bail!("{} bad records skipped (see above)", r.rejected);
    }
    Ok(())
}

pub(super) async fn export_focus(
    url: &str,
    from: &str,
    to: &str,
    source: Option<&str>,
) -> anyhow::Result<()> {
    use app::domain::ledger::SpendSource;
    use app::domain::DateRange;
    use app::server::formats::focus::export::{export, ChunkSink, Selection};
    use std::io::Write;
    struct Stdout(std::io::Stdout);
    impl ChunkSink for Stdout {
        async fn put(&mut self, chunk: String) -> bool {
            self.0.lock().write_all(chunk.as_bytes()).is_ok()
        }
    }
    let (db, org) = open(url).await?;
    let range = DateRange::parse(Some(from), Some(to), chrono::Utc::now().date_naive())?;
    let source = source.map(SpendSource::parse).transpose().map_err(anyhow::Error::msg)?;
    let name = db.org_name(org).await?;
    export(&db, org, &name, Selection { range, source }, &mut Stdout(std::io::stdout())).await?;
    db.close().await;
    Ok(())
}
