//! The audit trail as people read it: which fields a change touched (before → after), the
//! filters of the audit page, and the CSV export. Records store whole before/after snapshots
//! (flat JSON objects); the field-level difference is computed here, so the trail never depends
//! on each writer remembering to list what it changed.
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::period::parse_day;
use super::text::csv_row;
use super::DateRange;
use crate::error::AppError;

/// Kinds of record the trail covers. Budgets, outcomes, initiatives and policies join as they
/// are built; the page's filter lists exactly these.
pub const ENTITIES: [&str; 6] = ["user", "team", "api_key", "price", "setting", "ledger"];

/// One change, as shown on the audit page and exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// E-mail of the person, or `cli` / `setup` for changes made outside a session.
    pub actor: String,
    /// `entity.verb`, e.g. `user.role`, `api_key.revoke`.
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    /// A one-line description (`alice@example.com: finance → admin`).
    pub summary: String,
    pub changes: Vec<FieldChange>,
}

/// One field's value before and after (`None`: the record did not exist / no longer exists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Fields whose value differs between two snapshots, by field name (a creation lists every
/// field of `after` that has a value; a deletion every such field of `before`).
pub fn field_changes(before: Option<&Value>, after: Option<&Value>) -> Vec<FieldChange> {
    let empty = serde_json::Map::new();
    let b = before.and_then(Value::as_object).unwrap_or(&empty);
    let a = after.and_then(Value::as_object).unwrap_or(&empty);
    let mut fields: Vec<&String> = b.keys().collect();
    fields.extend(a.keys().filter(|k| !b.contains_key(*k)));
    fields
        .into_iter()
        .filter(|f| b.get(*f) != a.get(*f))
        // "nothing → empty" says nothing
        .filter(|f| !(before.is_none() && a.get(*f).is_none_or(is_empty)))
        .filter(|f| !(after.is_none() && b.get(*f).is_none_or(is_empty)))
        .map(|f| FieldChange {
            field: f.clone(),
            before: before.and(b.get(f)).map(show_value),
            after: after.and(a.get(f)).map(show_value),
        })
        .collect()
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

fn show_value(v: &Value) -> String {
    match v {
        Value::Null => "—".to_string(),
        Value::Array(items) if items.is_empty() => "—".to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(show_value).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// What the audit page asks for; every part optional. Parsed at the edge, errors name the field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Substring of the actor's e-mail (case-insensitive).
    pub actor: Option<String>,
    pub entity: Option<String>,
    /// Substring of the action, e.g. `revoke`.
    pub action: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl AuditFilter {
    pub fn parse(
        actor: Option<&str>,
        entity: Option<&str>,
        action: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Self, AppError> {
        let clean = |v: Option<&str>| v.map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
        let entity = clean(entity);
        if let Some(e) = &entity {
            if !ENTITIES.contains(&e.as_str()) {
                return Err(AppError::invalid(format!(
                    "entity: '{e}' is not one of {}",
                    ENTITIES.join(", ")
                )));
            }
        }
        // Reuse the page-wide date rules (format, order, maximum span) only when both ends are
        // given; one open end means "since" / "until".
        let (from, to) = (parse_day("from", from)?, parse_day("to", to)?);
        if let (Some(f), Some(t)) = (from, to) {
            DateRange::parse(Some(&f.to_string()), Some(&t.to_string()), t)?;
        }
        Ok(AuditFilter { actor: clean(actor), entity, action: clean(action), from, to })
    }

    /// The same filter as query-string pairs (for the CSV link of the current view).
    pub fn to_query(&self) -> String {
        let mut parts = vec![];
        let mut push = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                parts.push(format!("{k}={}", super::text::encode_query_value(&v)));
            }
        };
        push("actor", self.actor.clone());
        push("entity", self.entity.clone());
        push("action", self.action.clone());
        push("from", self.from.map(|d| d.to_string()));
        push("to", self.to.map(|d| d.to_string()));
        parts.join("&")
    }
}

/// The export: one line per changed field (a record without field changes still gets one
/// line), so a spreadsheet can filter on field as well as on record.
pub fn to_csv(records: &[AuditRecord]) -> String {
    let mut out = csv_row(&[
        "id",
        "at_utc",
        "actor",
        "action",
        "entity",
        "entity_id",
        "summary",
        "field",
        "before",
        "after",
    ]);
    for r in records {
        let id = r.id.to_string();
        let at = r.at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let head = [id.as_str(), &at, &r.actor, &r.action, &r.entity, &r.entity_id, &r.summary];
        if r.changes.is_empty() {
            out.push_str(&csv_row(&[&head[..], &["", "", ""]].concat()));
        }
        for c in &r.changes {
            let tail =
                [c.field.as_str(), c.before.as_deref().unwrap_or(""), c.after.as_deref().unwrap_or("")];
            out.push_str(&csv_row(&[&head[..], &tail[..]].concat()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes_list_only_fields_that_differ() {
        let before = json!({"email": "a@x.io", "role": "finance", "disabled": false, "teams": ["ml"]});
        let after = json!({"email": "a@x.io", "role": "admin", "disabled": true, "teams": ["ml", "search"]});
        let got = field_changes(Some(&before), Some(&after));
        let show: Vec<_> =
            got.iter().map(|c| (c.field.as_str(), c.before.as_deref(), c.after.as_deref())).collect();
        assert_eq!(
            show,
            vec![
                ("disabled", Some("false"), Some("true")),
                ("role", Some("finance"), Some("admin")),
                ("teams", Some("ml"), Some("ml, search")),
            ]
        );
    }

    #[test]
    fn creation_and_deletion_show_every_field_against_nothing() {
        let rec = json!({"name": "ci", "expires_at": null, "teams": []});
        let created = field_changes(None, Some(&rec));
        assert_eq!(created.len(), 1, "empty fields of a new record are left out: {created:?}");
        assert_eq!(
            (created[0].field.as_str(), created[0].before.as_deref(), created[0].after.as_deref()),
            ("name", None, Some("ci"))
        );
        let deleted = field_changes(Some(&rec), None);
        assert_eq!(deleted.len(), 1);
        assert_eq!((deleted[0].before.as_deref(), deleted[0].after.as_deref()), (Some("ci"), None));
        assert!(field_changes(Some(&rec), Some(&rec)).is_empty());
        let emptied = field_changes(Some(&json!({"teams": ["ml"]})), Some(&json!({"teams": []})));
        assert_eq!((emptied[0].before.as_deref(), emptied[0].after.as_deref()), (Some("ml"), Some("—")));
    }

    #[test]
    fn filter_parsing_names_the_bad_field() {
        let f = AuditFilter::parse(Some(" Alice "), Some("user"), None, Some("2026-11-01"), None).unwrap();
        assert_eq!(f.actor.as_deref(), Some("alice"));
        assert_eq!(f.from, NaiveDate::from_ymd_opt(2026, 11, 1));
        assert_eq!(f.to_query(), "actor=alice&entity=user&from=2026-11-01");
        let e = AuditFilter::parse(None, Some("budgetz"), None, None, None).unwrap_err();
        assert!(e.to_string().starts_with("entity: 'budgetz'"), "{e}");
        let e = AuditFilter::parse(None, None, None, Some("2026-13-01"), None).unwrap_err();
        assert!(e.to_string().starts_with("from: "), "{e}");
        let e = AuditFilter::parse(None, None, None, Some("2026-11-02"), Some("2026-11-01")).unwrap_err();
        assert!(e.to_string().contains("after"), "{e}");
    }

    #[test]
    fn csv_has_one_line_per_changed_field_and_escapes_cells() {
        let at = DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z").unwrap().with_timezone(&Utc);
        let r = AuditRecord {
            id: 7,
            at,
            actor: "admin@x.io".into(),
            action: "user.role".into(),
            entity: "user".into(),
            entity_id: "3".into(),
            summary: "b@x.io, \"Bob\"".into(),
            changes: vec![
                FieldChange {
                    field: "role".into(),
                    before: Some("viewer".into()),
                    after: Some("finance".into()),
                },
                FieldChange { field: "name".into(), before: Some("=1+1".into()), after: Some("Bob".into()) },
            ],
        };
        let csv = to_csv(&[r]);
        let lines: Vec<_> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], "id,at_utc,actor,action,entity,entity_id,summary,field,before,after");
        assert_eq!(
            lines[1],
            "7,2026-11-20T10:00:00Z,admin@x.io,user.role,user,3,\"b@x.io, \"\"Bob\"\"\",role,viewer,finance"
        );
        assert!(lines[2].ends_with(",name,'=1+1,Bob"), "formula cells are defused: {}", lines[2]);
    }
}
