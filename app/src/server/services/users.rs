//! People and teams: adding, roles, disabling, passwords, team membership. Every change is
//! written with its audit record in one transaction (see `db::audit`).
use serde_json::{json, Value};

use crate::domain::account::{check_name, check_password, check_slug, Email};
use crate::domain::Role;
use crate::error::AppError;
use crate::server::auth::password;
use crate::server::db::{
    is_unique_violation, Actor, Db, NewAudit, NewUser, OrgId, TeamId, UserId, UserRecord,
};

/// A person to add; `team` is a team slug, created if it does not exist yet.
#[derive(Clone)]
pub struct AddUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password: String,
    pub team: Option<String>,
}

// Never print the password.
impl std::fmt::Debug for AddUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddUser")
            .field("email", &self.email)
            .field("role", &self.role)
            .field("team", &self.team)
            .finish_non_exhaustive()
    }
}

/// The fields of a person the audit trail compares (never the password hash).
fn snapshot(u: &UserRecord, teams: &[String]) -> Value {
    json!({ "email": u.email, "name": u.name, "role": u.role.as_str(), "disabled": u.disabled, "teams": teams })
}

fn audit(actor: &Actor, action: &'static str, entity: &'static str, id: &str, summary: String) -> NewAudit {
    NewAudit {
        actor: actor.clone(),
        action,
        entity,
        entity_id: id.to_string(),
        summary,
        before: None,
        after: None,
    }
}

/// Validates every field (errors name it), hashes the password off the async workers, and
/// inserts. A taken e-mail is `Invalid("email: … is already registered")`.
#[tracing::instrument(skip(db), err(Debug, level = "info"))]
pub async fn add_user(db: &Db, org: OrgId, actor: &Actor, input: AddUser) -> Result<UserRecord, AppError> {
    let team = input.team.as_deref().map(|t| check_slug("team", t)).transpose().map_err(AppError::Invalid)?;
    let (email, name, hash) = validate_and_hash(&input.email, &input.name, input.password).await?;
    let team_id = match &team {
        Some(slug) => Some(team_or_create(db, org, actor, slug).await?),
        None => None,
    };
    let after = json!({ "email": email.as_str(), "name": name, "role": input.role.as_str(), "disabled": false,
        "teams": team.iter().collect::<Vec<_>>() });
    let record = NewAudit {
        after: Some(after),
        ..audit(
            actor,
            "user.create",
            "user",
            email.as_str(),
            format!("{} added as {}", email.as_str(), input.role.as_str()),
        )
    };
    let new = NewUser { email: &email, name: &name, role: input.role, password_hash: &hash };
    let id = db.create_user(org, new, team_id, &record).await.map_err(|e| {
        if is_unique_violation(&e) {
            AppError::Invalid(format!("email: {} is already registered", email.as_str()))
        } else {
            e.into()
        }
    })?;
    db.user_by_id(id).await?.ok_or_else(|| AppError::NotFound("user".into()))
}

async fn team_or_create(db: &Db, org: OrgId, actor: &Actor, slug: &str) -> Result<TeamId, AppError> {
    if let Some(id) = db.team_by_slug(org, slug).await? {
        return Ok(id);
    }
    match create_team(db, org, actor, slug, slug).await {
        // someone else created it meanwhile
        Err(AppError::Invalid(_)) => db.team_by_slug(org, slug).await?.ok_or(AppError::Internal),
        other => other,
    }
}

/// First-run setup: creates the first admin while nobody has an account; `Forbidden` once
/// anyone does (including a concurrent setup that won).
#[tracing::instrument(skip(db, password), err(Debug, level = "info"))]
pub async fn create_first_admin(
    db: &Db,
    org: OrgId,
    email: &str,
    name: &str,
    password: String,
) -> Result<UserRecord, AppError> {
    if db.count_users().await? > 0 {
        return Err(AppError::Forbidden);
    }
    let (email, name, hash) = validate_and_hash(email, name, password).await?;
    let after =
        json!({ "email": email.as_str(), "name": name, "role": "admin", "disabled": false, "teams": [] });
    let record = NewAudit {
        after: Some(after),
        ..audit(
            &Actor::setup(),
            "user.create",
            "user",
            email.as_str(),
            format!("{} set up as the first admin", email.as_str()),
        )
    };
    let new = NewUser { email: &email, name: &name, role: Role::Admin, password_hash: &hash };
    let id = db.create_first_user(org, new, &record).await?.ok_or(AppError::Forbidden)?;
    db.user_by_id(id).await?.ok_or_else(|| AppError::NotFound("user".into()))
}

/// The rules every new person passes (errors name the field), then the argon2id hash.
async fn validate_and_hash(
    email: &str,
    name: &str,
    password: String,
) -> Result<(Email, String, String), AppError> {
    let email = Email::parse(email).map_err(AppError::Invalid)?;
    let name = check_name("name", name).map_err(AppError::Invalid)?;
    check_password("password", &password).map_err(AppError::Invalid)?;
    Ok((email, name, password::hash(password).await?))
}

/// A person of this organisation (another organisation's people are "not found").
async fn person(db: &Db, org: OrgId, id: UserId) -> Result<UserRecord, AppError> {
    db.user_by_id(id).await?.filter(|u| u.org_id == org).ok_or_else(|| AppError::NotFound("person".into()))
}

const LAST_ADMIN: &str = "is the last active admin; make someone else admin first";

#[tracing::instrument(skip(db), err(Debug, level = "info"))]
pub async fn change_role(
    db: &Db,
    org: OrgId,
    actor: &Actor,
    id: UserId,
    role: &str,
) -> Result<UserRecord, AppError> {
    let role: Role = role.parse().map_err(AppError::Invalid)?;
    let before = person(db, org, id).await?;
    if before.role == role {
        return Ok(before);
    }
    let teams = db.user_teams(id).await?;
    let after = UserRecord { role, ..before.clone() };
    let record = NewAudit {
        before: Some(snapshot(&before, &teams)),
        after: Some(snapshot(&after, &teams)),
        ..audit(
            actor,
            "user.role",
            "user",
            &before.email,
            format!("{}: {} → {}", before.email, before.role.as_str(), role.as_str()),
        )
    };
    if !db.set_user_role(org, id, role, &record).await? {
        return Err(AppError::Invalid(format!("role: {} {LAST_ADMIN}", before.email)));
    }
    person(db, org, id).await
}

/// Disabling signs the person out everywhere at their next request (the session check
/// re-reads the account) and refuses their sign-ins; nothing of theirs is deleted.
#[tracing::instrument(skip(db), err(Debug, level = "info"))]
pub async fn set_disabled(
    db: &Db,
    org: OrgId,
    actor: &Actor,
    id: UserId,
    disabled: bool,
) -> Result<UserRecord, AppError> {
    let before = person(db, org, id).await?;
    if disabled && actor.user == Some(id) {
        return Err(AppError::invalid("disabled: you cannot disable your own account"));
    }
    if before.disabled == disabled {
        return Ok(before);
    }
    let teams = db.user_teams(id).await?;
    let after = UserRecord { disabled, ..before.clone() };
    let (action, verb) = if disabled { ("user.disable", "disabled") } else { ("user.enable", "enabled") };
    let record = NewAudit {
        before: Some(snapshot(&before, &teams)),
        after: Some(snapshot(&after, &teams)),
        ..audit(actor, action, "user", &before.email, format!("{} {verb}", before.email))
    };
    if !db.set_user_disabled(org, id, disabled, &record).await? {
        return Err(AppError::Invalid(format!("disabled: {} {LAST_ADMIN}", before.email)));
    }
    person(db, org, id).await
}

/// A person changes their own password: the current one must be right (a session left open
/// on a shared screen is not enough), the new one follows the same rules as at creation. Every
/// session started before `now` (Unix seconds) is void afterwards; the caller renews the one
/// it keeps.
#[tracing::instrument(skip(db, current, new), fields(user = %user.email), err(Debug, level = "info"))]
pub async fn change_own_password(
    db: &Db,
    user: &UserRecord,
    current: String,
    new: String,
    now: i64,
) -> Result<(), AppError> {
    check_password("new_password", &new).map_err(AppError::Invalid)?;
    if new == current {
        return Err(AppError::invalid("new_password: must differ from the current password"));
    }
    let stored = db.password_hash(user.id).await?;
    if !password::verify(current, Some(stored)).await? {
        return Err(AppError::invalid("current_password: that is not your current password"));
    }
    let hash = password::hash(new).await?;
    let record = audit(
        &Actor::person(user.id, &user.email),
        "user.password",
        "user",
        &user.email,
        format!("{} changed their password", user.email),
    );
    db.set_password_hash(user.id, &hash, now, user.org_id, &record).await?;
    Ok(())
}

/// A new team; a taken slug is `Invalid` naming the field.
#[tracing::instrument(skip(db), err(Debug, level = "info"))]
pub async fn create_team(
    db: &Db,
    org: OrgId,
    actor: &Actor,
    slug: &str,
    name: &str,
) -> Result<TeamId, AppError> {
    let slug = check_slug("slug", slug).map_err(AppError::Invalid)?;
    let name = if name.trim().is_empty() {
        slug.clone()
    } else {
        check_name("name", name).map_err(AppError::Invalid)?
    };
    let record = NewAudit {
        after: Some(json!({ "slug": slug, "name": name })),
        ..audit(actor, "team.create", "team", &slug, format!("team {slug} created"))
    };
    db.create_team(org, &slug, &name, &record).await.map_err(|e| {
        if is_unique_violation(&e) {
            AppError::Invalid(format!("slug: team '{slug}' already exists"))
        } else {
            e.into()
        }
    })
}

/// Adds (`member`) or removes the person with `email` to/from team `slug`.
#[tracing::instrument(skip(db), err(Debug, level = "info"))]
pub async fn set_team_member(
    db: &Db,
    org: OrgId,
    actor: &Actor,
    slug: &str,
    email: &str,
    member: bool,
) -> Result<(), AppError> {
    let team = db
        .team_by_slug(org, slug.trim())
        .await?
        .ok_or_else(|| AppError::Invalid(format!("team: no team '{slug}'")))?;
    let email = Email::parse(email).map_err(AppError::Invalid)?;
    let nobody = || AppError::Invalid(format!("email: nobody here has the e-mail {}", email.as_str()));
    let id = db.credentials_by_email(&email).await?.ok_or_else(nobody)?.user_id;
    let user = match person(db, org, id).await {
        Err(AppError::NotFound(_)) => Err(nobody()),
        other => other,
    }?;
    let (action, summary) = if member {
        ("team.member_add", format!("{} joined team {slug}", user.email))
    } else {
        ("team.member_remove", format!("{} left team {slug}", user.email))
    };
    let (before, after) = if member {
        (None, Some(json!({ "member": user.email })))
    } else {
        (Some(json!({ "member": user.email })), None)
    };
    let record = NewAudit { before, after, ..audit(actor, action, "team", slug.trim(), summary) };
    db.set_team_member(org, team, user.id, member, &record).await?;
    Ok(())
}
