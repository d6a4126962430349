//! Adding people and teams.
use crate::domain::account::{check_name, check_password, check_slug, Email};
use crate::domain::Role;
use crate::error::AppError;
use crate::server::db::{is_unique_violation, Db, NewUser, OrgId, UserRecord};
use crate::server::password;

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

/// Validates every field (errors name it), hashes the password off the async workers, and
/// inserts. A taken e-mail is `Invalid("email: … is already registered")`.
#[tracing::instrument(skip(db), err(Debug, level = "info"))]
pub async fn add_user(db: &Db, org: OrgId, input: AddUser) -> Result<UserRecord, AppError> {
    let team = input.team.as_deref().map(|t| check_slug("team", t)).transpose().map_err(AppError::Invalid)?;
    let (email, name, hash) = validate_and_hash(&input.email, &input.name, input.password).await?;
    let new = NewUser { email: &email, name: &name, role: input.role, password_hash: &hash };
    let id = db.create_user(org, new).await.map_err(|e| {
        if is_unique_violation(&e) {
            AppError::Invalid(format!("email: {} is already registered", email.as_str()))
        } else {
            e.into()
        }
    })?;
    if let Some(slug) = team {
        let team = db.ensure_team(org, &slug, &slug).await?;
        db.add_team_member(team, id).await?;
    }
    db.user_by_id(id).await?.ok_or_else(|| AppError::NotFound("user".into()))
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
    let new = NewUser { email: &email, name: &name, role: Role::Admin, password_hash: &hash };
    let id = db.create_first_user(org, new).await?.ok_or(AppError::Forbidden)?;
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
