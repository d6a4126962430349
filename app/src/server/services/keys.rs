//! Creating, checking and revoking API keys. A key is checked on every machine request, so it
//! is hashed with a fast keyed hash (BLAKE2b-512 MAC with the installation's secret), not
//! argon2: the secrets are 32 random characters (~190 bits), so speed gives an attacker
//! nothing, and without the installation secret a stolen table cannot even be tested offline.
use std::sync::Arc;

use blake2::digest::{KeyInit, Mac};
use blake2::Blake2bMac512;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::domain::account::{check_name, check_slug};
use crate::domain::api_key::{format_token, split_token, Scope, PREFIX_LEN, SECRET_LEN};
use crate::error::AppError;
use crate::server::auth::password::random_secret;
use crate::server::db::{is_unique_violation, Actor, ApiKeyRow, Db, NewApiKey, NewAudit, OrgId};

/// Hashes key secrets with the installation's secret. `Debug` shows nothing of it.
#[derive(Clone)]
pub struct KeyHasher(Arc<Vec<u8>>);

impl std::fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHasher(<redacted>)")
    }
}

impl KeyHasher {
    /// Loads the installation secret, creating a random one on first use.
    pub async fn load(db: &Db) -> Result<KeyHasher, AppError> {
        let secret = db.installation_secret("api_key_hash", &random_secret(64)).await?;
        Ok(KeyHasher(Arc::new(secret.into_bytes())))
    }

    fn mac(&self) -> Blake2bMac512 {
        // at most 64 key bytes: the stored secret is exactly 64 characters
        <Blake2bMac512 as KeyInit>::new_from_slice(&self.0[..self.0.len().min(64)])
            .expect("key of valid length")
    }

    pub fn hash(&self, secret: &str) -> String {
        let mut m = self.mac();
        m.update(secret.as_bytes());
        m.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Constant-time comparison of `secret`'s MAC with the stored hex.
    pub fn verify(&self, secret: &str, stored_hex: &str) -> bool {
        let Some(stored) = decode_hex(stored_hex) else { return false };
        let mut m = self.mac();
        m.update(secret.as_bytes());
        m.verify_slice(&stored).is_ok()
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// What to create.
#[derive(Debug, Clone)]
pub struct KeyRequest {
    pub name: String,
    /// Team slug; must exist.
    pub team: String,
    /// e.g. `ingest,read`
    pub scopes: String,
    pub initiative: Option<String>,
    pub expires_in_days: Option<u32>,
    /// Who creates it (recorded on the key and in the audit trail).
    pub actor: Actor,
}

/// The stored key and the one-time token (`cr_<prefix>_<secret>`), to show once.
pub struct CreatedKey {
    pub key: ApiKeyRow,
    pub token: String,
}

// The token must never reach a log line.
impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKey").field("prefix", &self.key.prefix).field("token", &"<redacted>").finish()
    }
}

#[tracing::instrument(skip(db, hasher), err(Debug, level = "info"))]
pub async fn create_key(
    db: &Db,
    hasher: &KeyHasher,
    org: OrgId,
    req: KeyRequest,
) -> Result<CreatedKey, AppError> {
    let name = check_name("name", &req.name).map_err(AppError::Invalid)?;
    let team_slug = check_slug("team", &req.team).map_err(AppError::Invalid)?;
    let scopes = Scope::parse_list("scopes", &req.scopes).map_err(AppError::Invalid)?;
    if req.expires_in_days == Some(0) {
        return Err(AppError::invalid("expires: at least 1 day"));
    }
    let team = db
        .team_by_slug(org, &team_slug)
        .await?
        .ok_or_else(|| AppError::Invalid(format!("team: no team '{team_slug}'")))?;
    let initiative = req.initiative.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if scopes.contains(&Scope::Outcomes) {
        let key = initiative.ok_or_else(|| {
            AppError::invalid("initiative: a key with scope outcomes records for one initiative; name it")
        })?;
        may_record_outcomes(db, org, req.actor.user.map(|u| u.0), key).await?;
    }
    let expires_at = req.expires_in_days.map(|d| Utc::now() + Duration::days(d as i64));
    // a prefix collision is astronomically rare; retry rather than fail
    for _ in 0..3 {
        let prefix = random_secret(PREFIX_LEN);
        let secret = random_secret(SECRET_LEN);
        let hash = hasher.hash(&secret);
        let scopes = Scope::join(&scopes);
        let after = json!({ "name": name, "prefix": prefix, "team": team_slug, "scopes": scopes,
            "initiative": initiative, "expires_at": expires_at.map(|t| t.to_rfc3339()) });
        let record = NewAudit {
            actor: req.actor.clone(),
            action: "api_key.create",
            entity: "api_key",
            entity_id: prefix.clone(),
            summary: format!("key {name} ({prefix}) created for team {team_slug}"),
            before: None,
            after: Some(after),
        };
        let new = NewApiKey {
            name: &name,
            prefix: &prefix,
            secret_hash: &hash,
            scopes: &scopes,
            team,
            initiative,
            created_by: req.actor.user,
            expires_at,
        };
        match db.insert_api_key(org, new, &record).await {
            Ok(_) => {
                let key =
                    db.api_key_by_prefix(&prefix).await?.ok_or_else(|| AppError::NotFound("key".into()))?;
                return Ok(CreatedKey { key, token: format_token(&prefix, &secret) });
            }
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(crate::error::internal("three API-key prefix collisions in a row"))
}

/// Whether `creator` (`None`: the command line, an operator) may let a machine record outcomes
/// for initiative `key`: it must exist, and the person must manage it (admins, or its owner
/// with the product right) and still have an active account.
async fn may_record_outcomes(db: &Db, org: OrgId, creator: Option<i64>, key: &str) -> Result<(), AppError> {
    use crate::server::services::initiatives::may_manage;
    let all = db.initiatives(org).await?;
    let Some(i) = all.iter().find(|i| i.key == key) else {
        return Err(AppError::Invalid(format!("initiative: '{key}' is not an initiative here")));
    };
    let Some(id) = creator else { return Ok(()) };
    let person = db.user_by_id(crate::server::db::UserId(id)).await?;
    match person {
        Some(u) if !u.disabled && u.org_id == org && may_manage(&u, i) => Ok(()),
        _ => Err(AppError::Forbidden),
    }
}

/// The initiative an `outcomes` key records for, checked on every request: the key must hold
/// the scope and an initiative, and the person who made it must still manage that initiative
/// (a key outlives a change of role or owner, its right does not).
pub async fn outcomes_grant(db: &Db, key: &ApiKeyRow) -> Result<String, AppError> {
    let initiative = key.initiative.clone().ok_or(AppError::Forbidden)?;
    may_record_outcomes(db, OrgId(key.org_id), key.created_by_id, &initiative).await?;
    Ok(initiative)
}

/// Revokes the key with this prefix at once (the next request with it is refused).
#[tracing::instrument(skip(db), err(Debug, level = "info"))]
pub async fn revoke_key(db: &Db, org: OrgId, actor: &Actor, prefix: &str) -> Result<ApiKeyRow, AppError> {
    let prefix = prefix.trim();
    let key =
        db.api_key_in_org(org, prefix).await?.ok_or_else(|| AppError::NotFound(format!("key {prefix}")))?;
    if key.revoked_at.is_some() {
        return Err(AppError::Invalid(format!("prefix: key {prefix} is already revoked")));
    }
    let now = Utc::now();
    let record = NewAudit {
        actor: actor.clone(),
        action: "api_key.revoke",
        entity: "api_key",
        entity_id: key.prefix.clone(),
        summary: format!("key {} ({}) revoked", key.name, key.prefix),
        before: Some(json!({ "revoked_at": null })),
        after: Some(json!({ "revoked_at": now.to_rfc3339() })),
    };
    db.revoke_api_key(org, prefix, now, &record).await?;
    db.api_key_in_org(org, prefix).await?.ok_or_else(|| AppError::NotFound(format!("key {prefix}")))
}

/// The key's prefix and secret from an `Authorization: Bearer cr_…` header; `Unauthorized`
/// when there is none or it is not shaped like a key.
pub fn bearer(authorization: Option<&str>) -> Result<(&str, &str), AppError> {
    let token = authorization.and_then(|h| h.strip_prefix("Bearer ")).map(str::trim);
    token.and_then(split_token).ok_or(AppError::Unauthorized)
}

/// Checks a key read by its prefix against the secret presented: live now, the secret's hash
/// stored, and holding `scope` (`None`: any). Every kind of bad key is the same
/// `Unauthorized`; a valid key without the scope is `Forbidden`.
pub fn check(
    hasher: &KeyHasher,
    key: Option<ApiKeyRow>,
    secret: &str,
    scope: Option<Scope>,
    now: DateTime<Utc>,
) -> Result<ApiKeyRow, AppError> {
    let key = key.ok_or(AppError::Unauthorized)?;
    let live = key.revoked_at.is_none() && key.expires_at.is_none_or(|e| e > now);
    if !live || !hasher.verify(secret, &key.secret_hash) {
        tracing::info!(prefix = %key.prefix, "API key refused");
        return Err(AppError::Unauthorized);
    }
    let scopes = Scope::parse_list("scopes", &key.scopes).map_err(crate::error::internal)?;
    if scope.is_some_and(|s| !scopes.contains(&s)) {
        return Err(AppError::Forbidden);
    }
    Ok(key)
}

/// Last-used is for people (is this key still in use?), so minute resolution is enough and a
/// busy gateway does not turn every request into a database write.
pub fn needs_touch(key: &ApiKeyRow, now: DateTime<Utc>) -> bool {
    key.last_used_at.is_none_or(|t| now - t >= Duration::minutes(1))
}

/// The key behind an `Authorization: Bearer cr_…` header, if it is valid now and holds
/// `scope` (`None`: any scope, e.g. a key asking about itself); see [`check`]. Records the
/// time of use.
pub async fn authenticate(
    db: &Db,
    hasher: &KeyHasher,
    authorization: Option<&str>,
    scope: Option<Scope>,
    now: DateTime<Utc>,
) -> Result<ApiKeyRow, AppError> {
    let (prefix, secret) = bearer(authorization)?;
    let key = check(hasher, db.api_key_by_prefix(prefix).await?, secret, scope, now)?;
    if needs_touch(&key, now) {
        db.touch_api_key(key.id, now).await?;
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_hash_verifies_only_the_same_secret_under_the_same_key() {
        let a = KeyHasher(Arc::new(b"k".repeat(64)));
        let b = KeyHasher(Arc::new(b"j".repeat(64)));
        let h = a.hash("s3cret");
        assert_eq!(h.len(), 128);
        assert!(a.verify("s3cret", &h));
        assert!(!a.verify("s3cres", &h));
        assert!(!b.verify("s3cret", &h), "another installation's secret does not match");
        assert!(!a.verify("s3cret", "zz"));
        assert_eq!(format!("{a:?}"), "KeyHasher(<redacted>)");
    }
}
