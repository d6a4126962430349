//! People and teams.
use chrono::Utc;

use super::{Db, OrgId};
use crate::domain::account::Email;
use crate::domain::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct UserId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TeamId(pub i64);

/// A person as the server sees them on every request (the role is re-read each time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: UserId,
    pub org_id: OrgId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
}

/// What sign-in needs. `Debug` leaves the hash out.
#[derive(Clone)]
pub struct Credentials {
    pub user_id: UserId,
    pub password_hash: String,
    pub disabled: bool,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user_id", &self.user_id)
            .field("password_hash", &"<redacted>")
            .finish()
    }
}

pub struct NewUser<'a> {
    pub email: &'a Email,
    pub name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
}

/// Binds a [`NewUser`] in column order (org_id, email, name, role, password_hash, created_at);
/// a macro because the query type differs per backend.
macro_rules! bind_new_user {
    ($q:expr, $org:expr, $u:expr, $now:expr) => {
        $q.bind($org.0)
            .bind($u.email.as_str())
            .bind($u.name)
            .bind($u.role.as_str())
            .bind($u.password_hash)
            .bind($now)
    };
}

type UserTuple = (i64, i64, String, String, String, bool);

fn to_record((id, org, email, name, role, disabled): UserTuple) -> sqlx::Result<UserRecord> {
    let role = role.parse::<Role>().map_err(|e| sqlx::Error::Decode(e.into()))?;
    Ok(UserRecord { id: UserId(id), org_id: OrgId(org), email, name, role, disabled })
}

impl Db {
    /// Fails with a unique violation when the e-mail is taken (see [`super::is_unique_violation`]).
    pub async fn create_user(&self, org: OrgId, u: NewUser<'_>) -> sqlx::Result<UserId> {
        const SQL: &str =
            "insert into users (org_id, email, name, role, password_hash, disabled, created_at) \
            values ($1, $2, $3, $4, $5, false, $6) returning id";
        let now = Utc::now();
        let id: i64 =
            on_pool!(self, |p| bind_new_user!(sqlx::query_scalar(SQL), org, u, now).fetch_one(p).await)?;
        Ok(UserId(id))
    }

    /// Inserts an admin only while no user exists at all (first-run setup); `None` when someone
    /// was first. SQLite runs the statement under its single write lock; PostgreSQL's READ
    /// COMMITTED would let two concurrent setups both see an empty table (a test caught it), so
    /// there the statement runs under a transaction-scoped advisory lock.
    pub async fn create_first_user(&self, org: OrgId, u: NewUser<'_>) -> sqlx::Result<Option<UserId>> {
        const SQL: &str =
            "insert into users (org_id, email, name, role, password_hash, disabled, created_at) \
            select $1, $2, $3, $4, $5, false, $6 where not exists (select 1 from users) returning id";
        const FIRST_USER_LOCK: i64 = 0x436f_7374_0001; // "Cost" + 1: any constant unique to this use
        let now = Utc::now();
        let id: Option<i64> = match self {
            Db::Sqlite(p) => bind_new_user!(sqlx::query_scalar(SQL), org, u, now).fetch_optional(p).await?,
            Db::Postgres(p) => {
                let mut tx = p.begin().await?;
                sqlx::query("select pg_advisory_xact_lock($1)")
                    .bind(FIRST_USER_LOCK)
                    .execute(&mut *tx)
                    .await?;
                let id =
                    bind_new_user!(sqlx::query_scalar(SQL), org, u, now).fetch_optional(&mut *tx).await?;
                tx.commit().await?;
                id
            }
        };
        Ok(id.map(UserId))
    }

    pub async fn credentials_by_email(&self, email: &Email) -> sqlx::Result<Option<Credentials>> {
        const SQL: &str = "select id, password_hash, disabled from users where email = $1";
        let row: Option<(i64, String, bool)> =
            on_pool!(self, |p| sqlx::query_as(SQL).bind(email.as_str()).fetch_optional(p).await)?;
        Ok(row.map(|(id, password_hash, disabled)| Credentials {
            user_id: UserId(id),
            password_hash,
            disabled,
        }))
    }

    pub async fn user_by_id(&self, id: UserId) -> sqlx::Result<Option<UserRecord>> {
        const SQL: &str = "select id, org_id, email, name, role, disabled from users where id = $1";
        let row: Option<UserTuple> =
            on_pool!(self, |p| sqlx::query_as(SQL).bind(id.0).fetch_optional(p).await)?;
        row.map(to_record).transpose()
    }

    pub async fn list_users(&self, org: OrgId) -> sqlx::Result<Vec<UserRecord>> {
        const SQL: &str =
            "select id, org_id, email, name, role, disabled from users where org_id = $1 order by email";
        let rows: Vec<UserTuple> = on_pool!(self, |p| sqlx::query_as(SQL).bind(org.0).fetch_all(p).await)?;
        rows.into_iter().map(to_record).collect()
    }

    pub async fn count_users(&self) -> sqlx::Result<i64> {
        on_pool!(self, |p| sqlx::query_scalar("select count(*) from users").fetch_one(p).await)
    }

    /// Returns the team with this slug, creating it on first use.
    pub async fn ensure_team(&self, org: OrgId, slug: &str, name: &str) -> sqlx::Result<TeamId> {
        const INSERT: &str = "insert into teams (org_id, slug, name, created_at) values ($1, $2, $3, $4) \
            on conflict (org_id, slug) do nothing";
        const SELECT: &str = "select id from teams where org_id = $1 and slug = $2";
        let now = Utc::now();
        on_pool!(self, |p| {
            sqlx::query(INSERT).bind(org.0).bind(slug).bind(name).bind(now).execute(p).await?;
            sqlx::query_scalar(SELECT).bind(org.0).bind(slug).fetch_one(p).await.map(TeamId)
        })
    }

    pub async fn team_by_slug(&self, org: OrgId, slug: &str) -> sqlx::Result<Option<TeamId>> {
        const SQL: &str = "select id from teams where org_id = $1 and slug = $2";
        let id: Option<i64> =
            on_pool!(self, |p| sqlx::query_scalar(SQL).bind(org.0).bind(slug).fetch_optional(p).await)?;
        Ok(id.map(TeamId))
    }

    pub async fn add_team_member(&self, team: TeamId, user: UserId) -> sqlx::Result<()> {
        const SQL: &str =
            "insert into team_members (team_id, user_id) values ($1, $2) on conflict (team_id, user_id) do nothing";
        on_pool!(self, |p| sqlx::query(SQL).bind(team.0).bind(user.0).execute(p).await.map(|_| ()))
    }

    /// Slugs of the user's teams, sorted.
    pub async fn user_teams(&self, user: UserId) -> sqlx::Result<Vec<String>> {
        const SQL: &str = "select t.slug from teams t join team_members m on m.team_id = t.id \
            where m.user_id = $1 order by t.slug";
        on_pool!(self, |p| sqlx::query_scalar(SQL).bind(user.0).fetch_all(p).await)
    }
}
