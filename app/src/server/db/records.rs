//! GPU usage, GPU rates, training runs and commitments: each kept in its own table and
//! projected into ledger lines (in the same transaction) by the records service.
use chrono::{NaiveDate, Utc};

use super::ledger::LedgerTx;
use super::query::{query, query_as, query_scalar};
use super::{Db, OrgId};
use crate::domain::ledger::{Commitment, GpuUsage, TrainingRun};
use crate::domain::Nanos;

impl LedgerTx {
    /// Inserts or replaces the usage of one (day, cluster, pool, GPU type, team, initiative);
    /// answers its id.
    pub async fn upsert_gpu_usage(&mut self, org: OrgId, u: &GpuUsage) -> sqlx::Result<i64> {
        const SQL: &str = "insert into gpu_usage (org_id, day, cluster, pool, gpu_type, team, initiative, \
            allocated_mhours, used_mhours, cost_nanos, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
            on conflict (org_id, day, cluster, pool, gpu_type, team, initiative) do update set \
            allocated_mhours = excluded.allocated_mhours, used_mhours = excluded.used_mhours, \
            cost_nanos = excluded.cost_nanos, updated_at = excluded.updated_at returning id";
        query_scalar(SQL)
            .bind(org.0)
            .bind(u.day)
            .bind(&u.cluster)
            .bind(&u.pool)
            .bind(&u.gpu_type)
            .bind(&u.team)
            .bind(&u.initiative)
            .bind(u.allocated_mhours)
            .bind(u.used_mhours)
            .bind(u.cost.map(|c| c.0))
            .bind(Utc::now())
            .fetch_one(&mut *self)
            .await
    }

    /// The hourly rate of a GPU type in force on a day (the newest from that day or before).
    pub async fn gpu_rate_on(
        &mut self,
        org: OrgId,
        gpu_type: &str,
        day: NaiveDate,
    ) -> sqlx::Result<Option<i64>> {
        const SQL: &str = "select nanos_per_hour from gpu_rates where org_id = $1 and gpu_type = $2 \
            and effective_from <= $3 order by effective_from desc limit 1";
        query_scalar(SQL).bind(org.0).bind(gpu_type).bind(day).fetch_optional(&mut *self).await
    }

    pub async fn set_gpu_rate(
        &mut self,
        org: OrgId,
        gpu_type: &str,
        from: NaiveDate,
        nanos_per_hour: i64,
    ) -> sqlx::Result<()> {
        const SQL: &str =
            "insert into gpu_rates (org_id, gpu_type, effective_from, nanos_per_hour, updated_at) \
            values ($1, $2, $3, $4, $5) on conflict (org_id, gpu_type, effective_from) do update set \
            nanos_per_hour = excluded.nanos_per_hour, updated_at = excluded.updated_at";
        query(SQL)
            .bind(org.0)
            .bind(gpu_type)
            .bind(from)
            .bind(nanos_per_hour)
            .bind(Utc::now())
            .execute(&mut *self)
            .await
            .map(|_| ())
    }

    /// GPU usage of a type priced by the rate table (no stated cost) from a day on.
    pub async fn rate_priced_gpu_usage(
        &mut self,
        org: OrgId,
        gpu_type: &str,
        from: NaiveDate,
    ) -> sqlx::Result<Vec<(i64, GpuUsage)>> {
        const SQL: &str = "select id, day, cluster, pool, gpu_type, team, initiative, allocated_mhours, used_mhours \
            from gpu_usage where org_id = $1 and gpu_type = $2 and day >= $3 and cost_nanos is null order by id";
        type Row = (i64, NaiveDate, String, String, String, String, String, i64, i64);
        let rows: Vec<Row> =
            query_as(SQL).bind(org.0).bind(gpu_type).bind(from).fetch_all(&mut *self).await?;
        Ok(rows
            .into_iter()
            .map(|(id, day, cluster, pool, gpu_type, team, initiative, allocated_mhours, used_mhours)| {
                let u = GpuUsage {
                    day,
                    cluster,
                    pool,
                    gpu_type,
                    team,
                    initiative,
                    allocated_mhours,
                    used_mhours,
                    cost: None,
                };
                (id, u)
            })
            .collect())
    }

    /// Training runs of a type priced by the rate table from a day on: (id, run).
    pub async fn rate_priced_runs(
        &mut self,
        org: OrgId,
        gpu_type: &str,
        from: NaiveDate,
    ) -> sqlx::Result<Vec<i64>> {
        const SQL: &str = "select id from training_runs where org_id = $1 and gpu_type = $2 \
            and cost_basis = 'gpu_rate' and started_at >= $3 order by id";
        let from = from.and_time(Default::default()).and_utc();
        query_scalar(SQL).bind(org.0).bind(gpu_type).bind(from).fetch_all(&mut *self).await
    }

    /// Inserts or replaces a run (by its `run_id`); answers its id.
    /// Its daily lines are left pending (written by [`LedgerTx::next_pending`]'s caller).
    pub async fn upsert_training_run(
        &mut self,
        org: OrgId,
        r: &TrainingRun,
        cost: Nanos,
        basis: &str,
        import: i64,
    ) -> sqlx::Result<i64> {
        const SQL: &str = "insert into training_runs (org_id, run_id, initiative, team, model, started_at, ended_at, \
            gpu_type, gpu_hours_milli, cost_nanos, cost_basis, metric_name, metric_score, higher_is_better, updated_at, \
            pending_from, pending_import) \
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 0, $16) \
            on conflict (org_id, run_id) do update set initiative = excluded.initiative, team = excluded.team, \
            model = excluded.model, started_at = excluded.started_at, ended_at = excluded.ended_at, \
            gpu_type = excluded.gpu_type, gpu_hours_milli = excluded.gpu_hours_milli, cost_nanos = excluded.cost_nanos, \
            cost_basis = excluded.cost_basis, metric_name = excluded.metric_name, metric_score = excluded.metric_score, \
            higher_is_better = excluded.higher_is_better, updated_at = excluded.updated_at, \
            pending_from = 0, pending_import = excluded.pending_import returning id";
        query_scalar(SQL)
            .bind(org.0)
            .bind(&r.run_id)
            .bind(&r.initiative)
            .bind(&r.team)
            .bind(&r.model)
            .bind(r.started_at)
            .bind(r.ended_at)
            .bind(&r.gpu_type)
            .bind(r.gpu_mhours)
            .bind(cost.0)
            .bind(basis)
            .bind(&r.metric_name)
            .bind(r.metric_score)
            .bind(r.higher_is_better)
            .bind(Utc::now())
            .bind(import)
            .fetch_one(&mut *self)
            .await
    }

    pub async fn training_run(&mut self, org: OrgId, id: i64) -> sqlx::Result<TrainingRunRow> {
        let sql = format!("{TRAINING_SELECT} where org_id = $1 and id = $2");
        query_as(&sql).bind(org.0).bind(id).fetch_one(&mut *self).await
    }

    /// Its daily lines are left pending, as a training run's.
    pub async fn insert_commitment(&mut self, org: OrgId, c: &Commitment, import: i64) -> sqlx::Result<i64> {
        const SQL: &str =
            "insert into commitments (org_id, provider, model, deployment, units, tokens_per_minute, \
            term_start, term_end, price_nanos, team, initiative, note, updated_at, pending_from, pending_import) \
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, $14) returning id";
        query_scalar(SQL)
            .bind(org.0)
            .bind(&c.provider)
            .bind(&c.model)
            .bind(&c.deployment)
            .bind(c.units)
            .bind(c.tokens_per_minute)
            .bind(c.term_start)
            .bind(c.term_end)
            .bind(c.price.0)
            .bind(&c.team)
            .bind(&c.initiative)
            .bind(&c.note)
            .bind(Utc::now())
            .bind(import)
            .fetch_one(&mut *self)
            .await
    }

    /// The oldest record whose daily lines are not all written yet, if any.
    pub async fn next_pending(&mut self, org: OrgId) -> sqlx::Result<Option<PendingRecord>> {
        const COMMITMENT: &str =
            "select id, provider, model, deployment, units, tokens_per_minute, term_start, \
            term_end, price_nanos, team, initiative, note, pending_from, pending_import from commitments \
            where org_id = $1 and pending_from is not null order by id limit 1";
        type Row = (
            i64,
            String,
            String,
            String,
            i64,
            Option<i64>,
            NaiveDate,
            NaiveDate,
            i64,
            Option<String>,
            Option<String>,
            Option<String>,
            i64,
            i64,
        );
        let row: Option<Row> = query_as(COMMITMENT).bind(org.0).fetch_optional(&mut *self).await?;
        if let Some((
            id,
            provider,
            model,
            deployment,
            units,
            tpm,
            start,
            end,
            price,
            team,
            initiative,
            note,
            from,
            import,
        )) = row
        {
            let c = Commitment {
                provider,
                model,
                deployment,
                units,
                tokens_per_minute: tpm,
                term_start: start,
                term_end: end,
                price: Nanos(price),
                team,
                initiative,
                note,
            };
            return Ok(Some(PendingRecord { id, from, import, kind: Pending::Commitment(c) }));
        }
        let sql = format!(
            "{TRAINING_SELECT_PENDING} where org_id = $1 and pending_from is not null order by id limit 1"
        );
        #[derive(sqlx::FromRow)]
        struct PendingRun {
            #[sqlx(flatten)]
            run: TrainingRunRow,
            pending_from: i64,
            pending_import: i64,
        }
        let row: Option<PendingRun> = query_as(&sql).bind(org.0).fetch_optional(&mut *self).await?;
        Ok(row.map(|PendingRun { run, pending_from: from, pending_import: import }| PendingRecord {
            id: run.id,
            from,
            import,
            kind: Pending::Training(run),
        }))
    }

    /// Records that the daily lines before `next` are written (`None`: all of them).
    pub async fn set_pending(&mut self, source: &str, id: i64, next: Option<i64>) -> sqlx::Result<()> {
        let sql = match source {
            "commitment" => "update commitments set pending_from = $1 where id = $2",
            _ => "update training_runs set pending_from = $1 where id = $2",
        };
        query(sql).bind(next).bind(id).execute(&mut *self).await.map(|_| ())
    }
}

/// A training run or commitment whose daily lines are still to be written from `from` on.
pub struct PendingRecord {
    pub id: i64,
    pub from: i64,
    pub import: i64,
    pub kind: Pending,
}

pub enum Pending {
    Training(TrainingRunRow),
    Commitment(Commitment),
}

impl Db {
    /// Whether any training run or commitment still has daily lines to write.
    pub async fn has_pending_lines(&self, org: OrgId) -> sqlx::Result<bool> {
        const SQL: &str =
            "select (select count(*) from commitments where org_id = $1 and pending_from is not null) \
            + (select count(*) from training_runs where org_id = $1 and pending_from is not null)";
        let n: i64 = query_scalar(SQL).bind(org.0).fetch_one(self).await?;
        Ok(n > 0)
    }
}

const TRAINING_SELECT: &str = "select id, run_id, initiative, team, model, started_at, ended_at, gpu_type, \
    gpu_hours_milli, cost_nanos, cost_basis, metric_name, metric_score, higher_is_better from training_runs";
const TRAINING_SELECT_PENDING: &str =
    "select id, run_id, initiative, team, model, started_at, ended_at, gpu_type, \
    gpu_hours_milli, cost_nanos, cost_basis, metric_name, metric_score, higher_is_better, pending_from, \
    pending_import from training_runs";

/// A training run as stored, with the cost it was given or priced at.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct TrainingRunRow {
    pub id: i64,
    pub run_id: String,
    pub initiative: Option<String>,
    pub team: Option<String>,
    pub model: String,
    pub started_at: chrono::DateTime<Utc>,
    pub ended_at: chrono::DateTime<Utc>,
    pub gpu_type: Option<String>,
    pub gpu_hours_milli: Option<i64>,
    pub cost_nanos: i64,
    pub cost_basis: String,
    pub metric_name: Option<String>,
    pub metric_score: Option<f64>,
    pub higher_is_better: bool,
}

/// GPU usage summed per cluster / pool / GPU type / team over a range, with its cost from the
/// ledger (stated or rate-priced).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct GpuUsageSummary {
    pub cluster: String,
    pub pool: String,
    pub gpu_type: String,
    pub team: String,
    pub allocated_mhours: i64,
    pub used_mhours: i64,
    pub cost_nanos: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct CommitmentRow {
    pub id: i64,
    pub provider: String,
    pub model: String,
    pub deployment: String,
    pub units: i64,
    pub tokens_per_minute: Option<i64>,
    pub term_start: NaiveDate,
    pub term_end: NaiveDate,
    pub price_nanos: i64,
    pub team: Option<String>,
    pub initiative: Option<String>,
}

impl Db {
    /// GPU usage per cluster / pool / type / team over `from..=to`, largest cost first.
    pub async fn gpu_usage_summary(
        &self,
        org: OrgId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> sqlx::Result<Vec<GpuUsageSummary>> {
        // cast: PostgreSQL's sum(bigint) is numeric
        const SQL: &str = "select g.cluster, g.pool, g.gpu_type, g.team, \
            cast(sum(g.allocated_mhours) as bigint) as allocated_mhours, \
            cast(sum(g.used_mhours) as bigint) as used_mhours, \
            cast(coalesce(sum(l.effective_nanos), 0) as bigint) as cost_nanos \
            from gpu_usage g left join ledger_lines l on l.org_id = g.org_id and l.source = 'gpu' and l.ref_id = g.id \
            where g.org_id = $1 and g.day between $2 and $3 \
            group by g.cluster, g.pool, g.gpu_type, g.team order by cost_nanos desc, g.cluster, g.gpu_type";
        query_as(SQL).bind(org.0).bind(from).bind(to).fetch_all(self).await
    }

    pub async fn training_runs(&self, org: OrgId) -> sqlx::Result<Vec<TrainingRunRow>> {
        let sql = format!("{TRAINING_SELECT} where org_id = $1 order by started_at desc, id desc");
        query_as(&sql).bind(org.0).fetch_all(self).await
    }

    pub async fn commitments(&self, org: OrgId) -> sqlx::Result<Vec<CommitmentRow>> {
        const SQL: &str = "select id, provider, model, deployment, units, tokens_per_minute, term_start, term_end, \
            price_nanos, team, initiative from commitments where org_id = $1 order by term_start desc, id desc";
        query_as(SQL).bind(org.0).fetch_all(self).await
    }
}
