//! Settings: people, teams, API keys, the audit log, and one's own password. Reading people,
//! teams and keys is open to every signed-in role (who owns what is shared knowledge; key
//! secrets are never readable); each change checks its right here, on the server.
// create_api_key takes one plain-HTML checkbox per scope (the #[server] macro copies the
// arguments into the browser's function too, so an item-level allow does not reach it)
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::audit::AuditRecord;
use crate::domain::Role;
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    pub teams: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamInfo {
    pub slug: String,
    pub name: String,
    pub members: Vec<String>,
    /// A team that spend names but nobody has created: listed so that it can be created
    /// (explicitly) and given keys and members.
    pub spend_only: bool,
}

/// A key as people see it: never the secret, nor its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub prefix: String,
    pub name: String,
    pub team: String,
    pub scopes: String,
    pub initiative: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// `active`, `expired` or `revoked`, decided by the server's clock (the page never reads
    /// the browser's: it may be wrong, and would differ between render and hydration).
    pub status: String,
}

/// A key just created, with its token: the only time the token leaves the server.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewKey {
    pub key: KeyInfo,
    pub token: String,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey").field("prefix", &self.key.prefix).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub records: Vec<AuditRecord>,
    /// More records matched than the page holds.
    pub truncated: bool,
    /// The filter as a query string (for the CSV link).
    pub query: String,
}

#[cfg(feature = "ssr")]
mod convert {
    use super::*;
    use crate::server::db::{ApiKeyRow, UserRecord};

    pub fn person(u: UserRecord, teams: Vec<String>) -> Person {
        Person { id: u.id.0, name: u.name, email: u.email, role: u.role, disabled: u.disabled, teams }
    }

    pub fn key(k: ApiKeyRow) -> KeyInfo {
        let status = if k.revoked_at.is_some() {
            "revoked"
        } else if k.expires_at.is_some_and(|e| e <= Utc::now()) {
            "expired"
        } else {
            "active"
        };
        KeyInfo {
            status: status.to_string(),
            prefix: k.prefix,
            name: k.name,
            team: k.team,
            scopes: k.scopes,
            initiative: k.initiative,
            created_at: k.created_at,
            created_by: k.created_by,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// `Some(n)` from a form field that may be empty; the error names the field.
#[cfg(feature = "ssr")]
fn optional_number(field: &str, v: Option<String>) -> Result<Option<u32>, AppError> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| AppError::Invalid(format!("{field}: '{s}' is not a whole number"))),
    }
}

#[server(endpoint = "list_people")]
pub async fn list_people() -> Result<Vec<Person>, AppError> {
    use crate::server::{auth, state};
    state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let memberships = st.db.team_memberships(st.org).await?;
    let people = st.db.list_users(st.org).await?;
    Ok(people
        .into_iter()
        .map(|u| {
            let teams = memberships.iter().filter(|(id, _)| *id == u.id).map(|(_, t)| t.clone()).collect();
            convert::person(u, teams)
        })
        .collect())
}

/// Adds a person with an initial password the admin passes on; they change it on their
/// account page.
#[server(endpoint = "add_person")]
pub async fn add_person(
    name: String,
    email: String,
    role: String,
    password: String,
    team: Option<String>,
    /// Ticked to create `team` when it does not exist (never silently).
    #[server(default)]
    create_team: Option<String>,
) -> Result<Person, AppError> {
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::services::users::{add_user, AddUser};
    use crate::server::{auth, state};
    let me = state::with_status(auth::require_right(Right::ManagePeople).await)?;
    let st = state::app_state()?;
    let run = async {
        let role: Role = role.parse().map_err(AppError::Invalid)?;
        let team = team.map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty());
        if let Some(t) = &team {
            if create_team.is_none() && st.db.team_by_slug(st.org, t).await?.is_none() {
                return Err(AppError::invalid(format!(
                    "team: there is no team '{t}'; pick an existing team, or tick \"Create this team\""
                )));
            }
        }
        let input = AddUser { email, name, role, password, team };
        let u = add_user(&st.db, st.org, &Actor::person(me.id, &me.email), input).await?;
        let teams = st.db.user_teams(u.id).await?;
        Ok(convert::person(u, teams))
    };
    state::with_status(run.await)
}

#[server(endpoint = "change_role")]
pub async fn change_role(user_id: i64, role: String) -> Result<Person, AppError> {
    use crate::domain::Right;
    use crate::server::db::{Actor, UserId};
    use crate::server::{auth, services, state};
    let me = state::with_status(auth::require_right(Right::ManagePeople).await)?;
    let st = state::app_state()?;
    let run = async {
        let actor = Actor::person(me.id, &me.email);
        let u = services::users::change_role(&st.db, st.org, &actor, UserId(user_id), &role).await?;
        let teams = st.db.user_teams(u.id).await?;
        Ok(convert::person(u, teams))
    };
    state::with_status(run.await)
}

#[server(endpoint = "set_disabled")]
pub async fn set_disabled(user_id: i64, disabled: bool) -> Result<Person, AppError> {
    use crate::domain::Right;
    use crate::server::db::{Actor, UserId};
    use crate::server::{auth, services, state};
    let me = state::with_status(auth::require_right(Right::ManagePeople).await)?;
    let st = state::app_state()?;
    let run = async {
        let actor = Actor::person(me.id, &me.email);
        let u = services::users::set_disabled(&st.db, st.org, &actor, UserId(user_id), disabled).await?;
        let teams = st.db.user_teams(u.id).await?;
        Ok(convert::person(u, teams))
    };
    state::with_status(run.await)
}

#[server(endpoint = "list_teams")]
pub async fn list_teams() -> Result<Vec<TeamInfo>, AppError> {
    use crate::server::{auth, state};
    state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let teams = st.db.list_teams(st.org).await?;
    let mut out: Vec<TeamInfo> = teams
        .into_iter()
        .map(|t| TeamInfo { slug: t.slug, name: t.name, members: t.members, spend_only: false })
        .collect();
    let range = crate::domain::DateRange::last_days(st.clock.today(), 400);
    let seen =
        state::with_status(crate::server::services::spend::filter_options(&st.db, st.org, range).await)?;
    let team_key = crate::domain::explore::Dim::Team.key();
    for (_, values) in seen.into_iter().filter(|(k, _)| *k == team_key) {
        for v in values.into_iter().filter(|v| v != crate::domain::explore::NOT_SET) {
            if !out.iter().any(|t| t.slug == v) {
                out.push(TeamInfo { name: v.clone(), slug: v, members: Vec::new(), spend_only: true });
            }
        }
    }
    out.sort_by(|a, b| a.slug.cmp(&b.slug));
    Ok(out)
}

#[server(endpoint = "create_team")]
pub async fn create_team(slug: String, name: String) -> Result<(), AppError> {
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let me = state::with_status(auth::require_right(Right::ManagePeople).await)?;
    let st = state::app_state()?;
    let actor = Actor::person(me.id, &me.email);
    state::with_status(services::users::create_team(&st.db, st.org, &actor, &slug, &name).await.map(|_| ()))
}

/// `member`: true adds, false removes.
#[server(endpoint = "set_team_member")]
pub async fn set_team_member(team: String, email: String, member: bool) -> Result<(), AppError> {
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let me = state::with_status(auth::require_right(Right::ManagePeople).await)?;
    let st = state::app_state()?;
    let actor = Actor::person(me.id, &me.email);
    state::with_status(services::users::set_team_member(&st.db, st.org, &actor, &team, &email, member).await)
}

#[server(endpoint = "list_api_keys")]
pub async fn list_api_keys() -> Result<Vec<KeyInfo>, AppError> {
    use crate::server::{auth, state};
    state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    Ok(st.db.list_api_keys(st.org).await?.into_iter().map(convert::key).collect())
}

/// The new-key form as typed. Scopes come as one checkbox each (`scope_ingest=on`), so the
/// form works as plain HTML.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyInput {
    pub name: String,
    pub team: String,
    pub scope_ingest: Option<String>,
    pub scope_authorize: Option<String>,
    pub scope_read: Option<String>,
    pub scope_outcomes: Option<String>,
    pub scope_gateway: Option<String>,
    pub initiative: Option<String>,
    pub expires_in_days: Option<String>,
}

#[server(endpoint = "create_api_key")]
pub async fn create_api_key(#[server(flatten)] input: ApiKeyInput) -> Result<NewKey, AppError> {
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::services::keys::{create_key, KeyRequest};
    use crate::server::{auth, state};
    let ApiKeyInput {
        name,
        team,
        scope_ingest,
        scope_authorize,
        scope_read,
        scope_outcomes,
        scope_gateway,
        initiative,
        expires_in_days,
    } = input;
    let scopes = [
        ("ingest", scope_ingest),
        ("authorize", scope_authorize),
        ("read", scope_read),
        ("outcomes", scope_outcomes),
        ("gateway", scope_gateway),
    ]
    .into_iter()
    .filter(|(_, on)| on.is_some())
    .map(|(s, _)| s)
    .collect::<Vec<_>>()
    .join(",");
    // a product owner may make an outcomes-only key for an initiative they manage (checked
    // in create_key); every other key is engineering's
    let right = if scopes == "outcomes" { Right::ManageInitiatives } else { Right::ManageEngineering };
    let me = state::with_status(auth::require_right(right).await)?;
    let st = state::app_state()?;
    let run = async {
        let req = KeyRequest {
            name,
            team,
            scopes,
            initiative,
            expires_in_days: optional_number("expires_in_days", expires_in_days)?,
            actor: Actor::person(me.id, &me.email),
        };
        let created = create_key(&st.db, &st.keys, st.org, req).await?;
        Ok(NewKey { key: convert::key(created.key), token: created.token })
    };
    state::with_status(run.await)
}

#[server(endpoint = "revoke_api_key")]
pub async fn revoke_api_key(prefix: String) -> Result<KeyInfo, AppError> {
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let me = state::with_status(auth::require_right(Right::ManageEngineering).await)?;
    let st = state::app_state()?;
    let actor = Actor::person(me.id, &me.email);
    state::with_status(services::keys::revoke_key(&st.db, st.org, &actor, &prefix).await.map(convert::key))
}

#[server(endpoint = "list_audit")]
pub async fn list_audit(
    actor: Option<String>,
    entity: Option<String>,
    action: Option<String>,
    from: Option<String>,
    to: Option<String>,
) -> Result<AuditPage, AppError> {
    use crate::domain::audit::AuditFilter;
    use crate::domain::Right;
    use crate::server::db::AUDIT_LIMIT;
    use crate::server::{auth, state};
    state::with_status(auth::require_right(Right::ManagePeople).await)?;
    let st = state::app_state()?;
    let run = async {
        let f = AuditFilter::parse(
            actor.as_deref(),
            entity.as_deref(),
            action.as_deref(),
            from.as_deref(),
            to.as_deref(),
        )?;
        let mut records = st.db.list_audit(st.org, &f, AUDIT_LIMIT + 1).await?;
        let truncated = records.len() as i64 > AUDIT_LIMIT;
        records.truncate(AUDIT_LIMIT as usize);
        Ok(AuditPage { records, truncated, query: f.to_query() })
    };
    state::with_status(run.await)
}

/// Any signed-in person, for their own account only. Signs out their other sessions; this
/// one continues (under a new id).
#[server(endpoint = "change_password")]
pub async fn change_password(current_password: String, new_password: String) -> Result<(), AppError> {
    use crate::server::{auth, services, state};
    let me = state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let now = chrono::Utc::now().timestamp();
    let run = async {
        services::users::change_own_password(&st.db, &me, current_password, new_password, now).await?;
        auth::renew_current_session(me.id, now).await
    };
    state::with_status(run.await)
}

/// Which span attributes give attribution to OpenTelemetry spans.
#[server(endpoint = "get_attribute_mapping")]
pub async fn get_attribute_mapping() -> Result<crate::domain::otlp::AttributeMapping, AppError> {
    use crate::server::{auth, services, state};
    state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    state::with_status(services::settings::attribute_mapping(&st.db, st.org).await)
}

/// Each field: comma-separated attribute names, first present wins.
#[server(endpoint = "set_attribute_mapping")]
pub async fn set_attribute_mapping(
    team: String,
    feature: String,
    initiative: String,
    customer: String,
    environment: String,
) -> Result<crate::domain::otlp::AttributeMapping, AppError> {
    use crate::domain::otlp::AttributeMapping;
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let me = state::with_status(auth::require_right(Right::ManageEngineering).await)?;
    let st = state::app_state()?;
    let run = async {
        let m = AttributeMapping::parse(&team, &feature, &initiative, &customer, &environment)
            .map_err(AppError::Invalid)?;
        services::settings::set_attribute_mapping(&st.db, st.org, &Actor::person(me.id, &me.email), m).await
    };
    state::with_status(run.await)
}
