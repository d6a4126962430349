//! Anomaly records and their lifecycle events. An anomaly that is announced (in-app and
//! through webhooks) is marked `alerted` in the same transaction that queues its notice, by
//! a conditional update, so it is announced exactly once however often it is re-detected.
use super::query::{query, query_as, query_scalar};
use super::webhooks::enqueue_notice;
use super::{Db, OrgId};
use crate::domain::anomaly::{Anomaly, Event, Severity, Status};
use crate::domain::webhook::Notice;
use crate::domain::Nanos;

const COLUMNS: &str =
    "id, scope_dim, scope_value, grain, started_at, ended_at, detected_at, expected_nanos, \
    actual_nanos, excess_nanos, severity, contributors, also_in, status, assignee, reported_by, note";

/// More columns than sqlx decodes into a tuple, so a row struct.
#[derive(sqlx::FromRow)]
struct FlatRow {
    id: i64,
    scope_dim: String,
    scope_value: String,
    grain: String,
    started_at: i64,
    ended_at: i64,
    detected_at: Option<i64>,
    expected_nanos: i64,
    actual_nanos: i64,
    excess_nanos: i64,
    severity: String,
    contributors: String,
    also_in: String,
    status: String,
    assignee: String,
    reported_by: Option<String>,
    note: String,
}

impl FlatRow {
    fn into_anomaly(self) -> Option<Anomaly> {
        Some(Anomaly {
            id: self.id,
            scope_dim: self.scope_dim,
            scope_value: self.scope_value,
            grain: self.grain,
            started_at: self.started_at,
            ended_at: self.ended_at,
            detected_at: self.detected_at,
            expected: Nanos(self.expected_nanos),
            actual: Nanos(self.actual_nanos),
            excess: Nanos(self.excess_nanos),
            severity: Severity::parse(&self.severity).ok()?,
            contributors: serde_json::from_str(&self.contributors).ok()?,
            also_in: serde_json::from_str(&self.also_in).ok()?,
            status: Status::parse(&self.status).ok()?,
            assignee: self.assignee,
            reported_by: self.reported_by,
            note: self.note,
        })
    }
}

/// One step of an anomaly's lifecycle, written in the transaction of the change it records.
const EVENT: &str = "insert into anomaly_events (org_id, anomaly_id, at, actor, action, note) \
    values ($1, $2, $3, $4, $5, $6)";

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// One line of an anomaly's lifecycle: who did what, with their note.
#[derive(Clone, Copy, Debug)]
pub struct TriageEntry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub note: &'a str,
}

impl Db {
    /// Stores a new anomaly with its first lifecycle event (`detected` or `reported` by
    /// `actor`); with a notice, it is announced in the same transaction.
    pub async fn insert_anomaly(
        &self,
        org: OrgId,
        a: &Anomaly,
        actor: &str,
        notice: Option<&Notice>,
    ) -> sqlx::Result<i64> {
        const SQL: &str = "insert into anomalies (org_id, scope_dim, scope_value, grain, started_at, ended_at, \
            detected_at, expected_nanos, actual_nanos, excess_nanos, severity, contributors, also_in, status, \
            assignee, reported_by, note, alerted, updated_at) \
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
            returning id";
        let action = if a.detected_at.is_some() { "detected" } else { "reported" };
        let mut tx = self.begin().await?;
        let out = {
            let id: i64 = query_scalar(SQL)
                .bind(org.0)
                .bind(&a.scope_dim)
                .bind(&a.scope_value)
                .bind(&a.grain)
                .bind(a.started_at)
                .bind(a.ended_at)
                .bind(a.detected_at)
                .bind(a.expected.0)
                .bind(a.actual.0)
                .bind(a.excess.0)
                .bind(a.severity.as_str())
                .bind(json(&a.contributors))
                .bind(json(&a.also_in))
                .bind(a.status.as_str())
                .bind(&a.assignee)
                .bind(&a.reported_by)
                .bind(&a.note)
                .bind(notice.is_some())
                .bind(now())
                .fetch_one(&mut tx)
                .await?;
            query(EVENT)
                .bind(org.0)
                .bind(id)
                .bind(a.detected_at.unwrap_or_else(now))
                .bind(actor)
                .bind(action)
                .bind(&a.note)
                .execute(&mut tx)
                .await?;
            if let Some(n) = notice {
                let mut n = n.clone();
                n.key = format!("anomaly:{id}");
                n.path = format!("/anomalies/{id}");
                enqueue_notice(&mut tx, org, &n, None).await?;
            }
            id
        };
        tx.commit().await?;
        Ok(out)
    }

    /// A re-detection of a known anomaly: its extent and figures follow the data. With a
    /// notice, it is announced now unless it already was (exactly once).
    pub async fn update_detection(
        &self,
        org: OrgId,
        a: &Anomaly,
        notice: Option<&Notice>,
    ) -> sqlx::Result<bool> {
        const SQL: &str = "update anomalies set ended_at = $3, expected_nanos = $4, actual_nanos = $5, \
            excess_nanos = $6, severity = $7, contributors = $8, also_in = $9, updated_at = $10 \
            where org_id = $1 and id = $2";
        const ALERT: &str = "update anomalies set alerted = $3 where org_id = $1 and id = $2 and not alerted";
        let mut tx = self.begin().await?;
        let out = {
            query(SQL)
                .bind(org.0)
                .bind(a.id)
                .bind(a.ended_at)
                .bind(a.expected.0)
                .bind(a.actual.0)
                .bind(a.excess.0)
                .bind(a.severity.as_str())
                .bind(json(&a.contributors))
                .bind(json(&a.also_in))
                .bind(now())
                .execute(&mut tx)
                .await?;
            let mut announced = false;
            if let Some(n) = notice {
                let won = query(ALERT).bind(org.0).bind(a.id).bind(true).execute(&mut tx).await?;
                if won.rows_affected() == 1 {
                    let mut n = n.clone();
                    n.key = format!("anomaly:{}", a.id);
                    n.path = format!("/anomalies/{}", a.id);
                    enqueue_notice(&mut tx, org, &n, None).await?;
                    announced = true;
                }
            }
            announced
        };
        tx.commit().await?;
        Ok(out)
    }

    /// Anomalies that started at or after `since` (unix seconds), newest first.
    pub async fn anomalies(&self, org: OrgId, since: i64) -> sqlx::Result<Vec<Anomaly>> {
        let sql = format!(
            "select {COLUMNS} from anomalies where org_id = $1 and started_at >= $2 \
             order by started_at desc, id desc"
        );
        let rows: Vec<FlatRow> = query_as(&sql).bind(org.0).bind(since).fetch_all(self).await?;
        Ok(rows.into_iter().filter_map(FlatRow::into_anomaly).collect())
    }

    pub async fn anomaly(&self, org: OrgId, id: i64) -> sqlx::Result<Option<Anomaly>> {
        let sql = format!("select {COLUMNS} from anomalies where org_id = $1 and id = $2");
        let row: Option<FlatRow> = query_as(&sql).bind(org.0).bind(id).fetch_optional(self).await?;
        Ok(row.and_then(FlatRow::into_anomaly))
    }

    /// Moves an anomaly from `from` to `to` (or only changes its assignee and adds a note when
    /// they are equal) with a lifecycle event; false when it was no longer in `from` (someone
    /// else moved it first).
    pub async fn move_anomaly(
        &self,
        org: OrgId,
        id: i64,
        (from, to): (Status, Status),
        assignee: &str,
        event: TriageEntry<'_>,
    ) -> sqlx::Result<bool> {
        let TriageEntry { actor, action, note } = event;
        const SQL: &str = "update anomalies set status = $4, assignee = $5, updated_at = $6 \
            where org_id = $1 and id = $2 and status = $3";
        let at = now();
        let mut tx = self.begin().await?;
        let out = {
            let n = query(SQL)
                .bind(org.0)
                .bind(id)
                .bind(from.as_str())
                .bind(to.as_str())
                .bind(assignee)
                .bind(at)
                .execute(&mut tx)
                .await?
                .rows_affected();
            if n == 1 {
                query(EVENT)
                    .bind(org.0)
                    .bind(id)
                    .bind(at)
                    .bind(actor)
                    .bind(action)
                    .bind(note)
                    .execute(&mut tx)
                    .await?;
            }
            n == 1
        };
        tx.commit().await?;
        Ok(out)
    }

    /// An anomaly's lifecycle, oldest first.
    pub async fn anomaly_events(&self, org: OrgId, id: i64) -> sqlx::Result<Vec<Event>> {
        const SQL: &str = "select at, actor, action, note from anomaly_events \
            where org_id = $1 and anomaly_id = $2 order by at, id";
        let rows: Vec<(i64, String, String, String)> =
            query_as(SQL).bind(org.0).bind(id).fetch_all(self).await?;
        Ok(rows.into_iter().map(|(at, actor, action, note)| Event { at, actor, action, note }).collect())
    }
}
