//! Organisation settings people change from pages.
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
