//! Webhooks and the delivery log (an outbox: a delivery row is written in the same
//! transaction as the event it tells about, then a worker sends it).
use super::audit::insert_audit;
use super::query::{query, query_as, query_scalar};
use super::{Db, NewAudit, OrgId, Tx};
use crate::domain::webhook::{redact_url, Delivery, DeliveryStatus, Notice, Webhook, WebhookFormat};

/// One delivery row per enabled webhook of the organisation (or only `$5` when given),
/// skipped where that webhook already has the key.
pub(crate) const ENQUEUE: &str = "insert into webhook_deliveries (org_id, webhook_id, event_key, \
    notice, status, attempts, next_attempt_at_ms, created_at_ms) \
    select org_id, id, $2, $3, 'pending', 0, $4, $4 from webhooks \
    where org_id = $1 and enabled and ($5 is null or id = $5) \
    on conflict (webhook_id, event_key) do nothing";

/// Queues `notice` for the organisation's webhooks (or only webhook `only`) inside the
/// transaction that records the event; the number of deliveries created.
pub(crate) async fn enqueue_notice(
    tx: &mut Tx,
    org: OrgId,
    notice: &Notice,
    only: Option<i64>,
) -> sqlx::Result<u64> {
    Ok(query(ENQUEUE)
        .bind(org.0)
        .bind(&notice.key)
        .bind(serde_json::to_string(notice).unwrap_or_default())
        .bind(now_ms())
        .bind(only)
        .execute(tx)
        .await?
        .rows_affected())
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A delivery the worker should send now.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: i64,
    pub url: String,
    pub format: WebhookFormat,
    pub notice: Notice,
    pub attempts: i64,
}

type DeliveryRow = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    i64,
);

impl Db {
    pub async fn insert_webhook(
        &self,
        org: OrgId,
        name: &str,
        url: &str,
        format: WebhookFormat,
        audit: &NewAudit,
    ) -> sqlx::Result<i64> {
        const SQL: &str = "insert into webhooks (org_id, name, url, format, enabled, created_at_ms) \
            values ($1, $2, $3, $4, $5, $6) returning id";
        let mut tx = self.begin().await?;
        let out = {
            let id: i64 = query_scalar(SQL)
                .bind(org.0)
                .bind(name)
                .bind(url)
                .bind(format.as_str())
                .bind(true)
                .bind(now_ms())
                .fetch_one(&mut tx)
                .await?;
            insert_audit(&mut tx, org, audit).await?;
            id
        };
        tx.commit().await?;
        Ok(out)
    }

    /// Deletes a webhook and its delivery log; false when the organisation has no such one.
    pub async fn delete_webhook(&self, org: OrgId, id: i64, audit: &NewAudit) -> sqlx::Result<bool> {
        let mut tx = self.begin().await?;
        let n = {
            query("delete from webhook_deliveries where org_id = $1 and webhook_id = $2")
                .bind(org.0)
                .bind(id)
                .execute(&mut tx)
                .await?;
            let n = query("delete from webhooks where org_id = $1 and id = $2")
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

    pub async fn webhooks(&self, org: OrgId) -> sqlx::Result<Vec<Webhook>> {
        const SQL: &str =
            "select id, name, url, format, enabled from webhooks where org_id = $1 order by name, id";
        let rows: Vec<(i64, String, String, String, bool)> =
            query_as(SQL).bind(org.0).fetch_all(self).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, name, url, format, enabled)| {
                Some(Webhook {
                    id,
                    name,
                    url_shown: redact_url(&url),
                    format: WebhookFormat::parse(&format).ok()?,
                    enabled,
                })
            })
            .collect())
    }

    /// Queues `notice` for every enabled webhook (or only `only`); returns how many
    /// deliveries are new.
    pub async fn enqueue_notice(&self, org: OrgId, notice: &Notice, only: Option<i64>) -> sqlx::Result<u64> {
        Ok({
            let mut tx = self.begin().await?;
            let out = enqueue_notice(&mut tx, org, notice, only).await?;
            tx.commit().await?;
            out
        })
    }

    /// Pending deliveries whose time has come, oldest first, across organisations.
    pub async fn due_deliveries(&self, now_ms: i64, limit: i64) -> sqlx::Result<Vec<DueDelivery>> {
        const SQL: &str = "select d.id, w.url, w.format, d.notice, d.attempts from webhook_deliveries d \
            join webhooks w on w.id = d.webhook_id \
            where d.status = 'pending' and d.next_attempt_at_ms <= $1 \
            order by d.next_attempt_at_ms, d.id limit $2";
        let rows: Vec<(i64, String, String, String, i64)> =
            query_as(SQL).bind(now_ms).bind(limit).fetch_all(self).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, url, format, notice, attempts)| {
                Some(DueDelivery {
                    id,
                    url,
                    format: WebhookFormat::parse(&format).ok()?,
                    notice: serde_json::from_str(&notice).ok()?,
                    attempts,
                })
            })
            .collect())
    }

    /// Takes a due delivery for one attempt: counts the attempt and moves its next time to
    /// `lease_until_ms`, so another worker (or a second server) passes it by. False when
    /// someone else took it first.
    pub async fn claim_delivery(
        &self,
        id: i64,
        attempts: i64,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> sqlx::Result<bool> {
        const SQL: &str = "update webhook_deliveries set attempts = attempts + 1, last_attempt_at_ms = $3, \
            next_attempt_at_ms = $4 where id = $1 and status = 'pending' and attempts = $2 \
            and next_attempt_at_ms <= $3";
        let n = query(SQL)
            .bind(id)
            .bind(attempts)
            .bind(now_ms)
            .bind(lease_until_ms)
            .execute(self)
            .await
            .map(|r| r.rows_affected())?;
        Ok(n == 1)
    }

    /// Records an attempt's outcome: delivered, tried again at `retry_at_ms`, or (without a
    /// retry time) failed for good.
    pub async fn record_delivery(
        &self,
        id: i64,
        delivered: bool,
        http_status: Option<i64>,
        error: Option<&str>,
        retry_at_ms: Option<i64>,
    ) -> sqlx::Result<()> {
        const SQL: &str = "update webhook_deliveries set status = $2, last_status = $3, last_error = $4, \
            next_attempt_at_ms = $5, delivered_at_ms = $6 where id = $1";
        let status = match (delivered, retry_at_ms) {
            (true, _) => DeliveryStatus::Delivered,
            (false, Some(_)) => DeliveryStatus::Pending,
            (false, None) => DeliveryStatus::Failed,
        };
        let retry = if delivered { None } else { retry_at_ms };
        query(SQL)
            .bind(id)
            .bind(status.as_str())
            .bind(http_status)
            .bind(error)
            .bind(retry)
            .bind(delivered.then(now_ms))
            .execute(self)
            .await
            .map(|_| ())
    }

    /// Puts a failed delivery back in the queue for now, with a fresh set of attempts; false
    /// when the organisation has no failed delivery of that id.
    pub async fn retry_delivery(&self, org: OrgId, id: i64) -> sqlx::Result<bool> {
        const SQL: &str = "update webhook_deliveries set status = 'pending', attempts = 0, \
            next_attempt_at_ms = $3 where org_id = $1 and id = $2 and status = 'failed'";
        let n =
            query(SQL).bind(org.0).bind(id).bind(now_ms()).execute(self).await.map(|r| r.rows_affected())?;
        Ok(n == 1)
    }

    /// The delivery log, newest first.
    pub async fn webhook_deliveries(&self, org: OrgId, limit: i64) -> sqlx::Result<Vec<Delivery>> {
        const SQL: &str = "select d.id, d.webhook_id, w.name, d.event_key, d.notice, d.status, d.attempts, \
            d.next_attempt_at_ms, d.last_attempt_at_ms, d.last_status, d.last_error, d.delivered_at_ms, \
            d.created_at_ms from webhook_deliveries d join webhooks w on w.id = d.webhook_id \
            where d.org_id = $1 order by d.created_at_ms desc, d.id desc limit $2";
        let rows: Vec<DeliveryRow> = query_as(SQL).bind(org.0).bind(limit).fetch_all(self).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let status = DeliveryStatus::parse(&r.5)?;
                let title = serde_json::from_str::<Notice>(&r.4).map(|n| n.title).unwrap_or_default();
                Some(Delivery {
                    id: r.0,
                    webhook_id: r.1,
                    webhook: r.2,
                    key: r.3,
                    title,
                    status,
                    attempts: r.6,
                    next_attempt_at: if status == DeliveryStatus::Pending { r.7 } else { None },
                    last_attempt_at: r.8,
                    last_status: r.9,
                    last_error: r.10,
                    delivered_at: r.11,
                    created_at: r.12,
                })
            })
            .collect())
    }
}
