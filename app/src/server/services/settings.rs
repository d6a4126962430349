//! Organisation settings people change from pages.
use crate::domain::ledger::LedgerRules;
use crate::domain::otlp::AttributeMapping;
use crate::error::{internal, AppError};
use crate::server::db::{Actor, Db, NewAudit, OrgId};

const OTEL_MAPPING: &str = "otel_attribute_mapping";

/// Which span attributes give attribution for OTLP ingest (the default until changed).
pub async fn attribute_mapping(db: &Db, org: OrgId) -> Result<AttributeMapping, AppError> {
    match db.setting(org, OTEL_MAPPING).await? {
        Some(json) => serde_json::from_str(&json).map_err(internal),
        None => Ok(AttributeMapping::default()),
    }
}

pub async fn set_attribute_mapping(
    db: &Db,
    org: OrgId,
    actor: &Actor,
    mapping: AttributeMapping,
) -> Result<AttributeMapping, AppError> {
    let before = attribute_mapping(db, org).await?;
    let json = |m: &AttributeMapping| serde_json::to_value(m).map_err(internal);
    let entry = NewAudit {
        actor: actor.clone(),
        action: "setting.otel_mapping",
        entity: "setting",
        entity_id: OTEL_MAPPING.into(),
        summary: "OpenTelemetry attribute mapping changed".into(),
        before: Some(json(&before)?),
        after: Some(json(&mapping)?),
    };
    let value = serde_json::to_string(&mapping).map_err(internal)?;
    db.set_setting(org, OTEL_MAPPING, &value, &entry).await?;
    Ok(mapping)
}

const LEDGER_RULES: &str = "ledger_rules";

/// How billing-import lines are attributed and which are already counted by token events.
pub async fn ledger_rules(db: &Db, org: OrgId) -> Result<LedgerRules, AppError> {
    match db.setting(org, LEDGER_RULES).await? {
        Some(json) => serde_json::from_str(&json).map_err(internal),
        None => Ok(LedgerRules::default()),
    }
}

/// Stores the rules and, in the same transaction, re-marks which invoice lines count and
/// rebuilds the ledger's rollups, so totals follow the rules at once. Tag mapping applies to
/// imports from now on (re-importing a file re-attributes its lines: it replaces them).
pub async fn set_ledger_rules(
    db: &Db,
    org: OrgId,
    actor: &Actor,
    rules: LedgerRules,
) -> Result<LedgerRules, AppError> {
    let before = ledger_rules(db, org).await?;
    let json = |m: &LedgerRules| serde_json::to_value(m).map_err(internal);
    let entry = NewAudit {
        actor: actor.clone(),
        action: "setting.ledger_rules",
        entity: "setting",
        entity_id: LEDGER_RULES.into(),
        summary: "Billing-import rules changed (tag mapping, services metered by token events)".into(),
        before: Some(json(&before)?),
        after: Some(json(&rules)?),
    };
    let value = serde_json::to_string(&rules).map_err(internal)?;
    let mut tx = db.begin_ledger().await?;
    tx.set_setting(org, LEDGER_RULES, &value, &entry).await?;
    if before.covered_by_events != rules.covered_by_events {
        tx.set_covered(org, &rules.covered_by_events).await?;
        tx.rebuild_rollups(org, i64::MIN, i64::MAX).await?;
    }
    tx.commit().await?;
    Ok(rules)
}
