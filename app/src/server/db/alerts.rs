//! The alert inbox: what each person has read. The alerts themselves stay where they are
//! raised (budget_alerts, anomalies, reviews, guardrail_decisions); `alert_reads` holds one row per person and
//! alert once read, so nobody's reading changes anyone else's bell.
use chrono::{DateTime, Utc};

use super::query::{query, query_as};
use super::{Db, OrgId, UserId};
use crate::domain::inbox::{self, InboxItem, InboxKind, INBOX_DAYS};
use crate::domain::Nanos;

impl Db {
    /// The inbox of `user`: every alert raised in the last [`INBOX_DAYS`] before `now`.
    pub async fn inbox(&self, org: OrgId, user: UserId, now: DateTime<Utc>) -> sqlx::Result<Vec<InboxItem>> {
        let since = now - chrono::Duration::days(INBOX_DAYS);
        let since_s = since.timestamp();
        let reads: Vec<(String, i64)> = query_as("select kind, item_id from alert_reads where user_id = $1")
            .bind(user.0)
            .fetch_all(self)
            .await?;
        let read: std::collections::HashSet<(String, i64)> = reads.into_iter().collect();
        let is_read = |k: InboxKind, id: i64| read.contains(&(k.as_str().to_string(), id));
        let mut out = Vec::new();

        let budgets: Vec<(i64, i64, String, DateTime<Utc>)> = query_as(
            "select id, budget_id, message, created_at from budget_alerts \
             where org_id = $1 and created_at >= $2",
        )
        .bind(org.0)
        .bind(since)
        .fetch_all(self)
        .await?;
        for (id, budget, message, at) in budgets {
            out.push(InboxItem {
                kind: InboxKind::Budget,
                id,
                at_ms: at.timestamp_millis(),
                text: message,
                link: format!("/budgets/{budget}"),
                read: is_read(InboxKind::Budget, id),
            });
        }

        type AnomalyRow = (i64, String, String, i64, i64, i64, String);
        let anomalies: Vec<AnomalyRow> = query_as(
            "select id, scope_dim, scope_value, coalesce(detected_at, updated_at), actual_nanos, \
             expected_nanos, severity from anomalies \
             where org_id = $1 and alerted and coalesce(detected_at, updated_at) >= $2",
        )
        .bind(org.0)
        .bind(since_s)
        .fetch_all(self)
        .await?;
        for (id, dim, value, at, actual, expected, severity) in anomalies {
            let scope = if dim == "total" {
                "the organisation".to_string()
            } else {
                format!("{} {value}", dim.replace('_', " "))
            };
            out.push(InboxItem {
                kind: InboxKind::Anomaly,
                id,
                at_ms: at * 1000,
                text: format!(
                    "Cost anomaly ({severity}) in {scope}: {} against {} expected.",
                    Nanos(actual).usd(),
                    Nanos(expected).usd()
                ),
                link: format!("/anomalies/{id}"),
                read: is_read(InboxKind::Anomaly, id),
            });
        }

        let reviews: Vec<(i64, String, chrono::NaiveDate, i64)> = query_as(
            "select id, title, meeting_day, created_at from reviews where org_id = $1 and created_at >= $2",
        )
        .bind(org.0)
        .bind(since_s)
        .fetch_all(self)
        .await?;
        for (id, title, day, at) in reviews {
            out.push(InboxItem {
                kind: InboxKind::Review,
                id,
                at_ms: at * 1000,
                text: format!("New cost review: {title} (meeting {day})."),
                link: format!("/reviews/{id}"),
                read: is_read(InboxKind::Review, id),
            });
        }
        // a guardrail's hits of one UTC day are one item, named by the day's first log row
        type HitRow = (i64, i64, String, bool, i64, i64);
        let hits: Vec<HitRow> = query_as(
            "select min(id), rule_id, rule, enforced, min(at_ms), count(*) from guardrail_decisions \
             where org_id = $1 and at_ms >= $2 group by rule_id, rule, enforced, at_ms / 86400000",
        )
        .bind(org.0)
        .bind(since.timestamp_millis())
        .fetch_all(self)
        .await?;
        for (id, rule_id, rule, enforced, at, n) in hits {
            let day =
                DateTime::from_timestamp_millis(at).map(|t| t.date_naive().to_string()).unwrap_or_default();
            let what = if enforced { "denied" } else { "warned on (not denied)" };
            let calls = if n == 1 { "1 call".to_string() } else { format!("{n} calls") };
            out.push(InboxItem {
                kind: InboxKind::Guardrail,
                id,
                at_ms: at,
                text: format!("Guardrail '{rule}' {what} {calls} on {day}."),
                link: format!("/guardrails?rule={rule_id}"),
                read: is_read(InboxKind::Guardrail, id),
            });
        }
        inbox::sort(&mut out);
        Ok(out)
    }

    /// Marks `items` read for `user` only; returns how many were unread.
    pub async fn mark_read(&self, user: UserId, items: &[(InboxKind, i64)]) -> sqlx::Result<u64> {
        const SQL: &str =
            "insert into alert_reads (user_id, kind, item_id, read_at_ms) values ($1, $2, $3, $4) \
            on conflict (user_id, kind, item_id) do nothing";
        let now = Utc::now().timestamp_millis();
        let mut tx = self.begin().await?;
        let mut n = 0;
        for (kind, id) in items {
            n += query(SQL)
                .bind(user.0)
                .bind(kind.as_str())
                .bind(*id)
                .bind(now)
                .execute(&mut tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }
}
