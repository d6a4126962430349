//! GPU usage, GPU rates, training runs and commitments into the ledger.
//!
//! Each record is stored in its own table and projected into ledger lines of its source (one
//! per day: GPU usage on its day, a training run over the days it ran in proportion to the
//! seconds, a commitment's price over its term in equal daily shares), in one transaction that
//! also rebuilds the rollups of the days touched. Sending a record again (same GPU day and
//! keys, same `run_id`) replaces its lines: nothing is counted twice.
use std::collections::HashMap;

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ledger::{
    hours_cost, milli_text, spread_days, spread_time, Commitment, FieldError, Fields, GpuUsage, SpendSource,
    TrainingRun,
};
use crate::domain::Nanos;
use crate::error::{internal, AppError};
use crate::server::db::ledger::{LedgerLine, LedgerRollups, LedgerTx};
use crate::server::db::records::{Pending, TrainingRunRow};
use crate::server::db::{Actor, Db, NewAudit, OrgId};
use crate::server::formats::focus::{ChargeCategory, FocusRow};

/// What a batch of records did. `errors` name the record (its 1-based position, or its CSV
/// line) and the field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordReport {
    pub accepted: u64,
    pub rejected: u64,
    pub cost: Nanos,
    pub errors: Vec<RecordError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordError {
    /// 1-based record number (JSON) or file line (CSV).
    pub at: u64,
    pub field: String,
    pub reason: String,
}

/// One record as sent: where it was (record number or line) and its fields by name.
pub type RawRecord = (u64, HashMap<String, String>);

/// Reads a body of records: CSV with a header row (`csv`), or a JSON array / object / NDJSON.
/// Numbers in JSON are read from their text, so `"cost_usd": 12.5` and `"12.5"` are the same.
pub fn parse_records(body: &[u8], csv: bool) -> Result<Vec<RawRecord>, String> {
    if csv {
        let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(body);
        let headers: Vec<String> = rdr
            .headers()
            .map_err(|e| format!("line 1: not a CSV header ({e})"))?
            .iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
            .collect();
        let mut out = Vec::new();
        for r in rdr.records() {
            let r = r.map_err(|e| format!("not CSV ({e})"))?;
            let line = r.position().map_or(0, |p| p.line());
            if r.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            out.push((line, headers.iter().cloned().zip(r.iter().map(str::to_string)).collect()));
        }
        return Ok(out);
    }
    let text = std::str::from_utf8(body).map_err(|_| "body: not UTF-8".to_string())?;
    let values: Vec<serde_json::Value> = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(a)) => a,
        Ok(v) => vec![v],
        Err(whole) => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: not JSON ({e})", i + 1)))
            .collect::<Result<_, _>>()
            .map_err(|e| if text.lines().count() <= 1 { format!("body: not JSON ({whole})") } else { e })?,
    };
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            crate::domain::ledger::json_fields(v)
                .map(|f| (i as u64 + 1, f))
                .map_err(|e| format!("record {}: {e}", i + 1))
        })
        .collect()
}

fn day_start(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(Default::default()).and_utc()
}

fn month_start(d: NaiveDate) -> DateTime<Utc> {
    day_start(d.with_day(1).expect("day 1"))
}

fn next_day(d: NaiveDate) -> DateTime<Utc> {
    day_start(d.checked_add_days(Days::new(1)).expect("date in range"))
}

fn tags(pairs: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k.to_string(), v.to_string())))
        .collect()
}

struct Derived<'a> {
    source: SpendSource,
    ref_id: i64,
    team: Option<&'a str>,
    initiative: Option<&'a str>,
    model: Option<&'a str>,
}

/// Replaces the ledger lines of one record with `rows`.
async fn write_lines(
    tx: &mut LedgerTx,
    org: OrgId,
    import: i64,
    d: Derived<'_>,
    rows: &[FocusRow],
    rollups: &mut LedgerRollups,
) -> Result<(), AppError> {
    clear_lines(tx, org, d.source, d.ref_id).await?;
    append_lines(tx, org, import, d, rows, rollups).await
}

/// Takes a record's lines out of the ledger and its rollups (before it is re-derived).
async fn clear_lines(
    tx: &mut LedgerTx,
    org: OrgId,
    source: SpendSource,
    ref_id: i64,
) -> Result<(), AppError> {
    tx.subtract_derived(org, source.as_str(), ref_id).await?;
    tx.delete_derived(org, source.as_str(), ref_id).await?;
    Ok(())
}

/// Adds lines of one record (a whole GPU day, or the next days of a run or commitment).
async fn append_lines(
    tx: &mut LedgerTx,
    org: OrgId,
    import: i64,
    d: Derived<'_>,
    rows: &[FocusRow],
    rollups: &mut LedgerRollups,
) -> Result<(), AppError> {
    let account = format!("costroom-{}", d.source.as_str());
    let lines: Vec<LedgerLine<'_>> = rows
        .iter()
        .map(|r| LedgerLine {
            row: r,
            billing_account: &account,
            billing_period_start: month_start(r.charge_period_start.date_naive()),
            spend_source: d.source,
            counted: true,
            model: d.model.map(str::to_string),
            ref_id: Some(d.ref_id),
            team: d.team.map(str::to_string),
            initiative: d.initiative.map(str::to_string),
            feature: None,
            customer: None,
            environment: None,
        })
        .collect();
    tx.insert_lines(org, import, d.source.as_str(), &lines).await?;
    lines.iter().for_each(|l| rollups.add(l));
    Ok(())
}

fn gpu_row(u: &GpuUsage, cost: Nanos, rate: Option<i64>) -> FocusRow {
    let mut r = FocusRow::new(1, ChargeCategory::Usage, day_start(u.day), next_day(u.day), cost);
    r.billing_account_id = Some("costroom-gpu".into());
    r.service_name = Some("GPU compute".into());
    r.service_category = Some("AI and Machine Learning".into());
    r.service_subcategory = Some("AI Platforms".into());
    r.provider = Some(u.cluster.clone());
    r.resource_id =
        Some(if u.pool.is_empty() { u.cluster.clone() } else { format!("{}/{}", u.cluster, u.pool) });
    r.sku_id = Some(u.gpu_type.clone());
    r.charge_description = Some(match rate {
        Some(n) => {
            format!("{} GPU-hours of {} at {}/h", milli_text(u.allocated_mhours), u.gpu_type, Nanos(n).usd())
        }
        None => format!("{} GPU-hours of {}", milli_text(u.allocated_mhours), u.gpu_type),
    });
    r.consumed_quantity = Some(milli_text(u.used_mhours));
    r.consumed_unit = Some("Hours".into());
    r.pricing_quantity = Some(milli_text(u.allocated_mhours));
    r.pricing_unit = Some("Hours".into());
    r.tags = tags(&[("initiative", Some(&u.initiative)), ("team", Some(&u.team))]);
    r
}

fn too_costly(field: &str) -> FieldError {
    FieldError {
        field: field.into(),
        reason: format!(
            "the hours at the GPU rate cost more than one record may ({})",
            crate::domain::limits::MAX_LINE_COST.usd()
        ),
    }
}

fn no_rate(gpu_type: &str, day: NaiveDate) -> FieldError {
    FieldError {
        field: "cost_usd".into(),
        reason: format!(
            "no cost given and no hourly rate for GPU type '{gpu_type}' on {day} (add one under GPU rates)"
        ),
    }
}

/// Prices and writes one GPU-usage record; a record the rate table cannot price is refused.
async fn put_gpu(
    tx: &mut LedgerTx,
    org: OrgId,
    import: i64,
    u: &GpuUsage,
    rollups: &mut LedgerRollups,
) -> Result<Result<Nanos, FieldError>, AppError> {
    let (cost, rate) = match u.cost {
        Some(c) => (c, None),
        None => match tx.gpu_rate_on(org, &u.gpu_type, u.day).await? {
            Some(rate) => match hours_cost(u.allocated_mhours, rate) {
                Some(cost) => (cost, Some(rate)),
                None => return Ok(Err(too_costly("allocated_gpu_hours"))),
            },
            None => return Ok(Err(no_rate(&u.gpu_type, u.day))),
        },
    };
    let id = tx.upsert_gpu_usage(org, u).await?;
    let d = Derived {
        source: SpendSource::Gpu,
        ref_id: id,
        team: Some(u.team.as_str()).filter(|s| !s.is_empty()),
        initiative: Some(u.initiative.as_str()).filter(|s| !s.is_empty()),
        model: None,
    };
    write_lines(tx, org, import, d, &[gpu_row(u, cost, rate)], rollups).await?;
    Ok(Ok(cost))
}

fn training_rows(r: &TrainingRun, cost: Nanos) -> Vec<FocusRow> {
    spread_time(cost, r.started_at, r.ended_at)
        .into_iter()
        .enumerate()
        .map(|(i, (day, part))| {
            let start = day_start(day).max(r.started_at);
            let end = next_day(day).min(r.ended_at).max(start);
            let mut f = FocusRow::new(i as u64 + 1, ChargeCategory::Usage, start, end, part);
            f.billing_account_id = Some("costroom-training".into());
            f.service_name = Some("Model training".into());
            f.service_category = Some("AI and Machine Learning".into());
            f.service_subcategory = Some("Machine Learning".into());
            f.resource_id = Some(r.run_id.clone());
            f.resource_name = Some(r.model.clone());
            f.sku_id = r.gpu_type.clone();
            f.charge_description = Some(format!("training run {} of {}", r.run_id, r.model));
            f.tags = tags(&[("initiative", r.initiative.as_deref()), ("team", r.team.as_deref())]);
            f
        })
        .collect()
}

async fn put_training(
    tx: &mut LedgerTx,
    org: OrgId,
    import: i64,
    r: &TrainingRun,
) -> Result<Result<Nanos, FieldError>, AppError> {
    let (cost, basis) = match (r.cost, &r.gpu_type, r.gpu_mhours) {
        (Some(c), _, _) => (c, "given"),
        (None, Some(t), Some(h)) => match tx.gpu_rate_on(org, t, r.started_at.date_naive()).await? {
            Some(rate) => match hours_cost(h, rate) {
                Some(cost) => (cost, "gpu_rate"),
                None => return Ok(Err(too_costly("gpu_hours"))),
            },
            None => return Ok(Err(no_rate(t, r.started_at.date_naive()))),
        },
        // parse() guarantees a cost or GPU-hours with a type
        _ => return Err(AppError::Invalid("cost_usd: required".into())),
    };
    // the record now, its daily lines lazily (see expand_pending); a run sent again loses its
    // old lines here, in the same transaction
    let id = tx.upsert_training_run(org, r, cost, basis, import).await?;
    clear_lines(tx, org, SpendSource::Training, id).await?;
    Ok(Ok(cost))
}

fn commitment_rows(c: &Commitment) -> Vec<FocusRow> {
    spread_days(c.price, c.term_start, c.term_end)
        .into_iter()
        .enumerate()
        .map(|(i, (day, part))| {
            // the day's amortized share of the capacity: a Usage row at committed pricing, as
            // FOCUS carries amortized commitments (a Purchase row's EffectiveCost must be 0)
            let mut f =
                FocusRow::new(i as u64 + 1, ChargeCategory::Usage, day_start(day), next_day(day), part);
            f.billing_account_id = Some("costroom-commitment".into());
            f.pricing_category = Some("Committed".into());
            f.sku_id = Some(format!("{}/provisioned-throughput", c.model));
            f.provider = Some(c.provider.clone());
            f.service_name = Some("Provisioned throughput".into());
            f.service_category = Some("AI and Machine Learning".into());
            f.service_subcategory = Some("Generative AI".into());
            f.resource_id =
                Some(if c.deployment.is_empty() { c.model.clone() } else { c.deployment.clone() });
            f.resource_name = Some(c.model.clone());
            f.pricing_quantity = Some(c.units.to_string());
            f.pricing_unit = Some("Units".into());
            f.charge_description = Some(format!(
                "{} units of {} provisioned throughput, {} to {} ({} days)",
                c.units,
                c.model,
                c.term_start,
                c.term_end,
                c.days()
            ));
            f.tags = tags(&[("initiative", c.initiative.as_deref()), ("team", c.team.as_deref())]);
            f
        })
        .collect()
}

/// Which kind of record a batch holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    GpuUsage,
    TrainingRuns,
    Commitments,
}

impl RecordKind {
    pub fn source(self) -> SpendSource {
        match self {
            RecordKind::GpuUsage => SpendSource::Gpu,
            RecordKind::TrainingRuns => SpendSource::Training,
            RecordKind::Commitments => SpendSource::Commitment,
        }
    }
}

/// Validates and stores a batch: valid records are kept, each invalid one is reported by its
/// position (or line) and field. `label` names the batch in the imports list and audit log.
#[tracing::instrument(skip(db, records), fields(n = records.len()), err(Debug, level = "info"))]
pub async fn record(
    db: &Db,
    org: OrgId,
    actor: &Actor,
    kind: RecordKind,
    label: &str,
    records: &[RawRecord],
) -> Result<RecordReport, AppError> {
    let mut report = RecordReport::default();
    let source = kind.source();
    let mut tx = db.begin_ledger().await?;
    let import = tx.start_import(org, source.as_str(), label, actor.user).await?;
    let mut rollups = LedgerRollups::default();
    // summed wide: records may add up past i64 before the organisation's totals refuse them
    let mut total: i128 = 0;
    for (at, fields) in records {
        let outcome = match kind {
            RecordKind::GpuUsage => match GpuUsage::parse(fields) {
                Ok(u) => put_gpu(&mut tx, org, import, &u, &mut rollups).await?,
                Err(e) => Err(e),
            },
            RecordKind::TrainingRuns => match TrainingRun::parse(fields) {
                Ok(r) => put_training(&mut tx, org, import, &r).await?,
                Err(e) => Err(e),
            },
            RecordKind::Commitments => match Commitment::parse(fields) {
                Ok(c) => {
                    tx.insert_commitment(org, &c, import).await?;
                    Ok(c.price)
                }
                Err(e) => Err(e),
            },
        };
        match outcome {
            Ok(cost) => {
                report.accepted += 1;
                total += i128::from(cost.0);
            }
            Err(e) => {
                report.rejected += 1;
                report.errors.push(RecordError { at: *at, field: e.field, reason: e.reason });
            }
        }
    }
    report.cost = Nanos(i64::try_from(total).map_err(|_| {
        AppError::invalid(format!(
            "totals: the records add up to more than {}; send fewer at a time",
            Nanos(i64::MAX).usd()
        ))
    })?);
    tx.add_rollups(org, rollups).await?;
    tx.finish_import(import, report.accepted, 0, report.cost, report.cost).await?;
    tx.commit().await?;
    if kind != RecordKind::GpuUsage && report.accepted > 0 {
        write_pending(db, org).await?;
    }
    if report.accepted > 0 {
        let entry = NewAudit {
            actor: actor.clone(),
            action: "ledger.record",
            entity: "ledger",
            entity_id: label.to_string(),
            summary: format!(
                "{} {} record(s) from {label}, {}",
                report.accepted,
                source.as_str(),
                report.cost.usd()
            ),
            before: None,
            after: Some(serde_json::json!({ "source": source.as_str(), "accepted": report.accepted,
                "rejected": report.rejected, "cost": report.cost.usd() })),
        };
        db.record_audit(org, &entry).await?;
    }
    Ok(report)
}

fn run_of(row: TrainingRunRow) -> TrainingRun {
    TrainingRun {
        run_id: row.run_id,
        initiative: row.initiative,
        team: row.team,
        model: row.model,
        started_at: row.started_at,
        ended_at: row.ended_at,
        gpu_type: row.gpu_type,
        gpu_mhours: row.gpu_hours_milli,
        cost: None,
        metric_name: row.metric_name,
        metric_score: row.metric_score,
        higher_is_better: row.higher_is_better,
    }
}

/// Sets a GPU type's hourly rate from a day on, and re-prices in the same transaction every
/// GPU-usage record and training run it prices (those without a stated cost) from that day on.
/// Answers how many records were re-priced.
pub async fn set_gpu_rate(
    db: &Db,
    org: OrgId,
    actor: &Actor,
    gpu_type: &str,
    from: NaiveDate,
    usd_per_hour: &str,
) -> Result<u64, AppError> {
    let gpu_type = gpu_type.trim();
    if gpu_type.is_empty() {
        return Err(AppError::invalid("gpu_type: required"));
    }
    let mut f = HashMap::new();
    f.insert("usd_per_hour".to_string(), usd_per_hour.to_string());
    let rate = f
        .usd("usd_per_hour")
        .map_err(|e| AppError::Invalid(e.to_string()))?
        .ok_or_else(|| AppError::invalid("usd_per_hour: required"))?;
    let mut tx = db.begin_ledger().await?;
    tx.set_gpu_rate(org, gpu_type, from, rate.0).await?;
    let import =
        tx.start_import(org, SpendSource::Gpu.as_str(), &format!("rate {gpu_type}"), actor.user).await?;
    let mut rollups = LedgerRollups::default();
    let mut n = 0;
    for (_, u) in tx.rate_priced_gpu_usage(org, gpu_type, from).await? {
        put_gpu(&mut tx, org, import, &u, &mut rollups)
            .await?
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        n += 1;
    }
    for id in tx.rate_priced_runs(org, gpu_type, from).await? {
        let run = run_of(tx.training_run(org, id).await?);
        put_training(&mut tx, org, import, &run).await?.map_err(|e| AppError::Invalid(e.to_string()))?;
        n += 1;
    }
    tx.add_rollups(org, rollups).await?;
    tx.finish_import(import, n, n, Nanos(0), Nanos(0)).await?;
    let entry = NewAudit {
        actor: actor.clone(),
        action: "gpu_rate.set",
        entity: "setting",
        entity_id: gpu_type.to_string(),
        summary: format!("GPU rate {gpu_type} from {from}: {}/h ({n} records re-priced)", rate.usd()),
        before: None,
        after: Some(
            serde_json::json!({ "gpu_type": gpu_type, "from": from.to_string(), "usd_per_hour": rate.usd() }),
        ),
    };
    tx.audit(org, &entry).await.map_err(internal)?;
    tx.commit().await?;
    write_pending(db, org).await?;
    Ok(n)
}

/// Daily lines one expansion transaction writes: short enough that other writers wait
/// milliseconds for it.
pub const EXPAND_CHUNK: usize = 500;
/// Daily lines a request writes itself before leaving the rest to the ledger job (a year's
/// commitment fits; a batch of five-year terms does not hold the request).
pub const EXPAND_INLINE: usize = 1_000;

/// After a request: writes up to [`EXPAND_INLINE`] pending lines, and wakes the ledger job
/// when more remain.
async fn write_pending(db: &Db, org: OrgId) -> Result<(), AppError> {
    if expand_pending(db, org, EXPAND_INLINE).await? {
        crate::server::services::jobs::signal::wake(crate::server::services::jobs::signal::Job::Ledger);
    }
    Ok(())
}

/// Writes the daily ledger lines of training runs and commitments that are not all written
/// yet, at most `budget` of them, [`EXPAND_CHUNK`] per transaction (each with its rollups).
/// Answers whether lines remain. Safe to run on several servers at once: each chunk re-reads
/// what is pending inside its own write transaction.
pub async fn expand_pending(db: &Db, org: OrgId, budget: usize) -> Result<bool, AppError> {
    let mut written = 0;
    while written < budget {
        let mut tx = db.begin_ledger().await?;
        let Some(p) = tx.next_pending(org).await? else {
            tx.commit().await?;
            return Ok(false);
        };
        let (source, rows) = match &p.kind {
            Pending::Training(run) => {
                (SpendSource::Training, training_rows(&run_of(run.clone()), Nanos(run.cost_nanos)))
            }
            Pending::Commitment(c) => (SpendSource::Commitment, commitment_rows(c)),
        };
        let from = usize::try_from(p.from).unwrap_or(0).min(rows.len());
        let to = (from + EXPAND_CHUNK.min(budget - written)).min(rows.len());
        let d = match &p.kind {
            Pending::Training(run) => Derived {
                source,
                ref_id: p.id,
                team: run.team.as_deref(),
                initiative: run.initiative.as_deref(),
                model: Some(&run.model),
            },
            Pending::Commitment(c) => Derived {
                source,
                ref_id: p.id,
                team: c.team.as_deref(),
                initiative: c.initiative.as_deref(),
                model: Some(&c.model),
            },
        };
        let mut rollups = LedgerRollups::default();
        append_lines(&mut tx, org, p.import, d, &rows[from..to], &mut rollups).await?;
        tx.add_rollups(org, rollups).await?;
        tx.set_pending(source.as_str(), p.id, (to < rows.len()).then_some(to as i64)).await?;
        tx.commit().await?;
        written += to - from;
    }
    Ok(db.has_pending_lines(org).await?)
}
