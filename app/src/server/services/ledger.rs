//! Importing FOCUS billing exports into the ledger.
//!
//! Two passes over the file keep memory flat however long it is: the first checks every row and
//! collects the (billing account, billing period) pairs it covers; the second, in one
//! transaction, deletes what earlier imports brought for those pairs and inserts the file's
//! rows in chunks. Re-importing a file, or importing an export that overlaps an earlier one,
//! therefore replaces instead of adding: nothing is counted twice.
use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Datelike, Utc};

use crate::domain::ledger::{LedgerRules, SpendSource};
use crate::domain::Nanos;
use crate::error::{internal, AppError};
use crate::server::db::ledger::{LedgerLine, LedgerRollups, LEDGER_CHUNK};
use crate::server::db::{Actor, Db, NewAudit, OrgId};
use crate::server::formats::focus::{self, FocusRow, RowError};

pub const SOURCE_FOCUS: &str = "focus";
/// Row errors kept for the report (all are counted).
const MAX_ERRORS: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Import the valid rows, report the others.
    ValidRows,
    /// Import nothing if any row is bad.
    AllOrNothing,
}

#[derive(Debug, Default)]
pub struct FocusImportReport {
    pub rows: u64,
    pub imported: u64,
    /// Lines of earlier imports replaced (same billing account and period).
    pub replaced: u64,
    pub billed: Nanos,
    pub effective: Nanos,
    pub bad_rows: u64,
    /// The first [`MAX_ERRORS`] bad rows.
    pub errors: Vec<RowError>,
    pub periods: usize,
    /// Lines of services metered by token events: kept for reconciliation, not added to spend.
    pub not_counted: u64,
}

/// The billing period a row belongs to; a row without one counts in its charge's month.
fn period_start(row: &FocusRow) -> DateTime<Utc> {
    row.billing_period_start.unwrap_or_else(|| {
        let d = row.charge_period_start.date_naive().with_day(1).expect("day 1");
        d.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
    })
}

/// Checks beyond the format: the ledger holds one currency for now.
fn check(row: FocusRow) -> Result<FocusRow, RowError> {
    match &row.billing_currency {
        Some(c) if !c.eq_ignore_ascii_case("USD") => Err(RowError {
            line: row.line,
            column: "BillingCurrency".into(),
            column_number: 0,
            reason: format!("'{c}': only USD billing is supported so far"),
        }),
        _ => Ok(row),
    }
}

fn read_file(path: &Path, each: impl FnMut(Result<FocusRow, RowError>)) -> Result<u64, AppError> {
    let file =
        std::fs::File::open(path).map_err(|e| AppError::Invalid(format!("file: {}: {e}", path.display())))?;
    let mut each = each;
    focus::read(std::io::BufReader::new(file), |r| each(r.and_then(check))).map_err(AppError::Invalid)
}

#[tracing::instrument(skip(db, rules, progress), err(Debug, level = "info"))]
pub async fn import_focus(
    db: &Db,
    org: OrgId,
    actor: &Actor,
    path: &Path,
    mode: ImportMode,
    rules: &LedgerRules,
    progress: impl Fn(u64),
) -> Result<FocusImportReport, AppError> {
    let mut report = FocusImportReport::default();
    let mut periods: BTreeSet<(String, DateTime<Utc>)> = BTreeSet::new();
    report.rows = read_file(path, |r| match r {
        Ok(row) => {
            periods.insert((row.billing_account_id.clone().unwrap_or_default(), period_start(&row)));
        }
        Err(e) => {
            report.bad_rows += 1;
            if report.errors.len() < MAX_ERRORS {
                report.errors.push(e);
            }
        }
    })?;
    report.periods = periods.len();
    if mode == ImportMode::AllOrNothing && report.bad_rows > 0 {
        return Ok(report);
    }
    let file_name = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let mut tx = db.begin_ledger().await?;
    let import = tx.start_import(org, SOURCE_FOCUS, &file_name, actor.user).await?;
    // the rollups lose exactly the replaced lines and gain exactly the new ones
    for (account, start) in &periods {
        tx.subtract_period(org, SOURCE_FOCUS, account, *start).await?;
        report.replaced += tx.replace_period(org, SOURCE_FOCUS, account, *start).await?;
    }
    let mut rollups = LedgerRollups::default();
    // summed wide: a file may add up past i64 before the organisation's totals refuse it
    let (mut billed, mut effective) = (0i128, 0i128);
    // Second pass: rows in chunks. The reader calls back synchronously, so rows are collected
    // per chunk and written between reads of the next chunk.
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<FocusRow>>(2);
    let path = path.to_path_buf();
    let reader = tokio::task::spawn_blocking(move || {
        let mut chunk = Vec::with_capacity(LEDGER_CHUNK);
        let result = read_file(&path, |r| {
            if let Ok(row) = r {
                chunk.push(row);
                if chunk.len() == LEDGER_CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(LEDGER_CHUNK));
                    // the receiver only stops early on a database error; then the rows don't matter
                    let _ = sender.blocking_send(full);
                }
            }
        });
        if !chunk.is_empty() {
            let _ = sender.blocking_send(chunk);
        }
        result
    });
    while let Some(rows) = receiver.recv().await {
        let lines: Vec<LedgerLine<'_>> = rows
            .iter()
            .map(|r| {
                let m = &rules.mapping;
                let counted =
                    rules.counts(&[r.provider.as_deref(), r.publisher.as_deref(), r.service_name.as_deref()]);
                LedgerLine {
                    row: r,
                    billing_account: r.billing_account_id.as_deref().unwrap_or(""),
                    billing_period_start: period_start(r),
                    spend_source: SpendSource::Invoice,
                    counted,
                    model: None,
                    ref_id: None,
                    team: LedgerRules::tag(&r.tags, &m.team),
                    initiative: LedgerRules::tag(&r.tags, &m.initiative),
                    feature: LedgerRules::tag(&r.tags, &m.feature),
                    customer: LedgerRules::tag(&r.tags, &m.customer),
                    environment: LedgerRules::tag(&r.tags, &m.environment),
                }
            })
            .collect();
        tx.insert_lines(org, import, SOURCE_FOCUS, &lines).await?;
        for l in &lines {
            let r = l.row;
            rollups.add(l);
            report.not_counted += u64::from(!l.counted);
            report.imported += 1;
            billed += i128::from(r.billed_cost.0);
            effective += i128::from(r.effective_cost.0);
        }
        progress(report.imported);
    }
    reader.await.map_err(internal)??;
    // the totals guard runs first: past it, every sum of the file fits an i64
    tx.add_rollups(org, rollups).await?;
    let fit = |v: i128| {
        i64::try_from(v)
            .map(Nanos)
            .map_err(|_| AppError::invalid("totals: the file adds up beyond what can be stored"))
    };
    report.billed = fit(billed)?;
    report.effective = fit(effective)?;
    tx.finish_import(import, report.imported, report.replaced, report.billed, report.effective).await?;
    tx.commit().await?;
    let entry = NewAudit {
        actor: actor.clone(),
        action: "ledger.import",
        entity: "ledger",
        entity_id: file_name.clone(),
        summary: format!(
            "FOCUS {file_name}: {} rows imported, {} replaced, billed {}",
            report.imported,
            report.replaced,
            report.billed.usd()
        ),
        before: None,
        after: Some(serde_json::json!({ "rows": report.imported, "replaced": report.replaced,
            "billed": report.billed.usd(), "effective": report.effective.usd(), "bad_rows": report.bad_rows })),
    };
    db.record_audit(org, &entry).await?;
    Ok(report)
}
