//! The audit trail: written in the same transaction as the change it describes (so a change
//! without its record, or a record without its change, cannot happen), read with filters.
use chrono::{DateTime, Days, Utc};
use serde_json::Value;

use super::query::Done;
use super::query::{query, query_as};
use super::{Db, OrgId, Tx, UserId};
use crate::domain::audit::{field_changes, AuditFilter, AuditRecord};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user: Option<UserId>,
    /// The person's e-mail, or `cli` / `setup`.
    pub label: String,
}

impl Actor {
    pub fn person(id: UserId, email: &str) -> Self {
        Actor { user: Some(id), label: email.to_string() }
    }
    /// The `costroom` command line (whoever runs it has the server's database credentials).
    pub fn cli() -> Self {
        Actor { user: None, label: "cli".into() }
    }
    /// The first-run setup page.
    pub fn setup() -> Self {
        Actor { user: None, label: "setup".into() }
    }
}

/// A change to record. `entity_id` is the record's natural key (e-mail, team slug, key
/// prefix), known before an insert and readable in an export.
#[derive(Debug, Clone)]
pub struct NewAudit {
    pub actor: Actor,
    pub action: &'static str,
    pub entity: &'static str,
    pub entity_id: String,
    pub summary: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

pub(super) const INSERT_AUDIT: &str = "insert into audit_log (org_id, at, actor_user_id, actor, action, \
    entity, entity_id, summary, before_json, after_json) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// Appends `e` for organisation `org` inside the transaction that makes the change.
pub(super) async fn insert_audit(tx: &mut Tx, org: OrgId, e: &NewAudit) -> sqlx::Result<Done> {
    query(INSERT_AUDIT)
        .bind(org.0)
        .bind(chrono::Utc::now())
        .bind(e.actor.user.map(|u| u.0))
        .bind(&e.actor.label)
        .bind(e.action)
        .bind(e.entity)
        .bind(&e.entity_id)
        .bind(&e.summary)
        .bind(e.before.as_ref().map(|v| v.to_string()))
        .bind(e.after.as_ref().map(|v| v.to_string()))
        .execute(tx)
        .await
}

/// Most rows one page or export returns; the page says when the filter matched more.
pub const AUDIT_LIMIT: i64 = 5_000;

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: DateTime<Utc>,
    actor: String,
    action: String,
    entity: String,
    entity_id: String,
    summary: String,
    before_json: Option<String>,
    after_json: Option<String>,
}

impl AuditRow {
    fn into_record(self) -> AuditRecord {
        // Written by us from `serde_json::Value`; a row that does not parse shows no fields
        // rather than hiding the whole record.
        let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str::<Value>(&s).ok());
        let (before, after) = (parse(self.before_json), parse(self.after_json));
        AuditRecord {
            id: self.id,
            at: self.at,
            actor: self.actor,
            action: self.action,
            entity: self.entity,
            entity_id: self.entity_id,
            summary: self.summary,
            changes: field_changes(before.as_ref(), after.as_ref()),
        }
    }
}

/// `%` and `_` typed by a person are literal characters, not wildcards.
fn like_pattern(s: &str) -> String {
    let escaped = s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

impl Db {
    /// Records a change that is not a single row's (a re-price, an import).
    pub async fn record_audit(&self, org: OrgId, entry: &NewAudit) -> sqlx::Result<()> {
        {
            let mut tx = self.begin().await?;

            insert_audit(&mut tx, org, entry).await?;
            tx.commit().await?;
        };
        Ok(())
    }

    /// Newest first, at most `limit` records.
    pub async fn list_audit(
        &self,
        org: OrgId,
        f: &AuditFilter,
        limit: i64,
    ) -> sqlx::Result<Vec<AuditRecord>> {
        const SQL: &str =
            "select id, at, actor, action, entity, entity_id, summary, before_json, after_json \
            from audit_log where org_id = $1 \
            and ($2 is null or lower(actor) like $2 escape '\\') \
            and ($3 is null or entity = $3) \
            and ($4 is null or lower(action) like $4 escape '\\') \
            and ($5 is null or at >= $5) and ($6 is null or at < $6) \
            order by at desc, id desc limit $7";
        let start = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        let from = f.from.map(start);
        let until = f.to.and_then(|d| d.checked_add_days(Days::new(1))).map(start);
        let rows: Vec<AuditRow> = query_as(SQL)
            .bind(org.0)
            .bind(f.actor.as_deref().map(like_pattern))
            .bind(f.entity.as_deref())
            .bind(f.action.as_deref().map(like_pattern))
            .bind(from)
            .bind(until)
            .bind(limit)
            .fetch_all(self)
            .await?;
        Ok(rows.into_iter().map(AuditRow::into_record).collect())
    }
}
