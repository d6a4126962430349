//! Budgets and their alerts.
use chrono::{DateTime, NaiveDate, Utc};

use super::audit::insert_audit;
use super::query::{query, query_as, query_scalar};
use super::webhooks::enqueue_notice;
use super::{Db, NewAudit, OrgId};
use crate::domain::budget::{AlertKind, Budget, BudgetAlert, BudgetPeriod};
use crate::domain::explore::Dim;
use crate::domain::forecast::Point;
use crate::domain::snapshot::Snapshot;
use crate::domain::webhook::Notice;
use crate::domain::Nanos;

type BudgetRow =
    (i64, String, Option<String>, Option<String>, String, i64, bool, NaiveDate, i64, String, String);

type AlertRow = (i64, i64, NaiveDate, String, i64, String, i64, i64, i64, DateTime<Utc>);

fn budget_of(r: BudgetRow) -> Option<Budget> {
    let scope = match (r.2, r.3) {
        (Some(d), Some(v)) => Some((Dim::parse("scope", &d).ok()?, v)),
        _ => None,
    };
    Some(Budget {
        id: r.0,
        name: r.1,
        scope,
        period: BudgetPeriod::parse(&r.4).ok()?,
        fiscal_start_month: r.5 as u32,
        recurring: r.6,
        start: r.7,
        amount: Nanos(r.8),
        thresholds: serde_json::from_str(&r.9).ok()?,
        owner: r.10,
    })
}

/// A budget alert to raise (once per budget, period, kind and threshold).
#[derive(Clone, Copy, Debug)]
pub struct NewBudgetAlert<'a> {
    pub budget: i64,
    pub period_start: NaiveDate,
    pub kind: AlertKind,
    pub message: &'a str,
    pub actual: Nanos,
    pub projected: Nanos,
    pub amount: Nanos,
}

impl Db {
    /// Stores a new budget with its audit record; returns its id.
    pub async fn insert_budget(&self, org: OrgId, b: &Budget, audit: &NewAudit) -> sqlx::Result<i64> {
        const SQL: &str = "insert into budgets (org_id, name, scope_dim, scope_value, period, \
            fiscal_start_month, recurring, start_day, amount_nanos, thresholds, owner, created_at, updated_at) \
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) returning id";
        let now = Utc::now();
        let thresholds = serde_json::to_string(&b.thresholds).unwrap_or_else(|_| "[]".into());
        let mut tx = self.begin().await?;
        let id = {
            let id: i64 = query_scalar(SQL)
                .bind(org.0)
                .bind(&b.name)
                .bind(b.scope.as_ref().map(|(d, _)| d.key()))
                .bind(b.scope.as_ref().map(|(_, v)| v.clone()))
                .bind(b.period.as_str())
                .bind(b.fiscal_start_month as i64)
                .bind(b.recurring)
                .bind(b.start)
                .bind(b.amount.0)
                .bind(&thresholds)
                .bind(&b.owner)
                .bind(now)
                .fetch_one(&mut tx)
                .await?;
            insert_audit(&mut tx, org, audit).await?;
            id
        };
        tx.commit().await?;
        Ok(id)
    }

    /// Replaces a budget's definition (its alerts stay: they were true when raised); false
    /// when the organisation has no such budget.
    pub async fn update_budget(
        &self,
        org: OrgId,
        id: i64,
        b: &Budget,
        audit: &NewAudit,
    ) -> sqlx::Result<bool> {
        const SQL: &str = "update budgets set name = $3, scope_dim = $4, scope_value = $5, period = $6, \
            fiscal_start_month = $7, recurring = $8, start_day = $9, amount_nanos = $10, thresholds = $11, \
            owner = $12, updated_at = $13 where org_id = $1 and id = $2";
        let thresholds = serde_json::to_string(&b.thresholds).unwrap_or_else(|_| "[]".into());
        let mut tx = self.begin().await?;
        let n = {
            let n = query(SQL)
                .bind(org.0)
                .bind(id)
                .bind(&b.name)
                .bind(b.scope.as_ref().map(|(d, _)| d.key()))
                .bind(b.scope.as_ref().map(|(_, v)| v.clone()))
                .bind(b.period.as_str())
                .bind(b.fiscal_start_month as i64)
                .bind(b.recurring)
                .bind(b.start)
                .bind(b.amount.0)
                .bind(&thresholds)
                .bind(&b.owner)
                .bind(Utc::now())
                .execute(&mut tx)
                .await?
                .rows_affected();
            if n == 1 {
                insert_audit(&mut tx, org, audit).await?;
            }
            n
        };
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Deletes a budget and its alerts; false when the organisation has no such budget.
    pub async fn delete_budget(&self, org: OrgId, id: i64, audit: &NewAudit) -> sqlx::Result<bool> {
        let mut tx = self.begin().await?;
        let n = {
            query("delete from budget_alerts where org_id = $1 and budget_id = $2")
                .bind(org.0)
                .bind(id)
                .execute(&mut tx)
                .await?;
            query("delete from forecast_snapshots where org_id = $1 and budget_id = $2")
                .bind(org.0)
                .bind(id)
                .execute(&mut tx)
                .await?;
            let n = query("delete from budgets where org_id = $1 and id = $2")
                .bind(org.0)
                .bind(id)
                .execute(&mut tx)
                .await?
                .rows_affected();
            if n == 1 {
                insert_audit(&mut tx, org, audit).await?;
            }
            n
        };
        tx.commit().await?;
        Ok(n == 1)
    }

    pub async fn budgets(&self, org: OrgId) -> sqlx::Result<Vec<Budget>> {
        const SQL: &str = "select id, name, scope_dim, scope_value, period, fiscal_start_month, recurring, \
            start_day, amount_nanos, thresholds, owner from budgets where org_id = $1 order by name, id";
        let rows: Vec<BudgetRow> = query_as(SQL).bind(org.0).fetch_all(self).await?;
        Ok(rows.into_iter().filter_map(budget_of).collect())
    }

    /// Records an alert unless the same budget, period, kind and threshold has one already;
    /// true when this call created it.
    pub async fn raise_budget_alert(
        &self,
        org: OrgId,
        alert: &NewBudgetAlert<'_>,
        notice: &Notice,
    ) -> sqlx::Result<bool> {
        let NewBudgetAlert { budget, period_start, kind, message, actual, projected, amount } = *alert;
        const SQL: &str = "insert into budget_alerts (org_id, budget_id, period_start, kind, threshold, \
            message, actual_nanos, projected_nanos, amount_nanos, created_at) \
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
            on conflict (budget_id, period_start, kind, threshold) do nothing";
        let (k, t) = match kind {
            AlertKind::Threshold(t) => ("threshold", t as i64),
            AlertKind::Projected => ("projected", 0),
        };
        // the alert and its webhook deliveries commit together: an alert is never raised
        // without being queued for delivery, nor queued twice
        let mut tx = self.begin().await?;
        let n = {
            let n = query(SQL)
                .bind(org.0)
                .bind(budget)
                .bind(period_start)
                .bind(k)
                .bind(t)
                .bind(message)
                .bind(actual.0)
                .bind(projected.0)
                .bind(amount.0)
                .bind(Utc::now())
                .execute(&mut tx)
                .await?
                .rows_affected();
            if n == 1 {
                enqueue_notice(&mut tx, org, notice, None).await?;
            }
            n
        };
        tx.commit().await?;
        Ok(n == 1)
    }

    /// The newest alerts first.
    pub async fn budget_alerts(&self, org: OrgId, limit: i64) -> sqlx::Result<Vec<BudgetAlert>> {
        const SQL: &str = "select id, budget_id, period_start, kind, threshold, message, actual_nanos, \
            projected_nanos, amount_nanos, created_at from budget_alerts where org_id = $1 \
            order by created_at desc, id desc limit $2";
        let rows: Vec<AlertRow> = query_as(SQL).bind(org.0).bind(limit).fetch_all(self).await?;
        Ok(rows
            .into_iter()
            .map(|r| BudgetAlert {
                id: r.0,
                budget_id: r.1,
                period_start: r.2,
                kind: r.3,
                threshold: r.4,
                message: r.5,
                actual: Nanos(r.6),
                projected: Nanos(r.7),
                amount: Nanos(r.8),
                created_at: r.9,
            })
            .collect())
    }
}

type SnapshotRow = (NaiveDate, NaiveDate, i64, i64, i64, i64, String, bool);

impl Db {
    /// Stores snapshots not yet kept (an existing one for the same budget, period and day is
    /// left as it was); returns how many are new.
    pub async fn insert_snapshots(&self, org: OrgId, budget: i64, snaps: &[Snapshot]) -> sqlx::Result<u64> {
        const SQL: &str = "insert into forecast_snapshots (org_id, budget_id, period_start, as_of, \
            actual_nanos, projected_nanos, low_nanos, high_nanos, method, reconstructed, created_at) \
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
            on conflict (budget_id, period_start, as_of) do nothing";
        let now = Utc::now();
        let mut tx = self.begin().await?;
        let out = {
            let mut n = 0;
            for s in snaps {
                n += query(SQL)
                    .bind(org.0)
                    .bind(budget)
                    .bind(s.period_start)
                    .bind(s.as_of)
                    .bind(s.actual.0)
                    .bind(s.projected.point.0)
                    .bind(s.projected.low.0)
                    .bind(s.projected.high.0)
                    .bind(&s.method)
                    .bind(s.reconstructed)
                    .bind(now)
                    .execute(&mut tx)
                    .await?
                    .rows_affected();
            }
            n
        };
        tx.commit().await?;
        Ok(out)
    }

    /// A budget's snapshots, by period then day.
    pub async fn snapshots(&self, org: OrgId, budget: i64) -> sqlx::Result<Vec<Snapshot>> {
        const SQL: &str =
            "select period_start, as_of, actual_nanos, projected_nanos, low_nanos, high_nanos, \
            method, reconstructed from forecast_snapshots where org_id = $1 and budget_id = $2 \
            order by period_start, as_of";
        let rows: Vec<SnapshotRow> = query_as(SQL).bind(org.0).bind(budget).fetch_all(self).await?;
        Ok(rows
            .into_iter()
            .map(|r| Snapshot {
                period_start: r.0,
                as_of: r.1,
                actual: Nanos(r.2),
                projected: Point { point: Nanos(r.3), low: Nanos(r.4), high: Nanos(r.5) },
                method: r.6,
                reconstructed: r.7,
            })
            .collect())
    }

    /// Forgets a budget's snapshots (its scope or period changed: they forecast something else).
    pub async fn delete_snapshots(&self, org: OrgId, budget: i64) -> sqlx::Result<u64> {
        const SQL: &str = "delete from forecast_snapshots where org_id = $1 and budget_id = $2";
        query(SQL).bind(org.0).bind(budget).execute(self).await.map(|r| r.rows_affected())
    }
}
