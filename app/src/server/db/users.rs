//! People and teams.
use chrono::{DateTime, Utc};

use super::audit::insert_audit;
use super::query::{query, query_as, query_scalar, BothRow, QueryScalar};
use super::{Db, NewAudit, OrgId, Tx};
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
    /// Sessions started before this instant (Unix seconds) are void: set when the password
    /// changes, so a stolen session dies with the old password.
    pub sessions_valid_after: i64,
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

impl<'a> NewUser<'a> {
    /// Binds the user in column order (org_id, email, name, role, password_hash, created_at).
    fn bind_to<T>(&self, q: QueryScalar<'a, T>, org: OrgId, now: DateTime<Utc>) -> QueryScalar<'a, T>
    where
        (T,): BothRow,
        T: Send + Unpin,
    {
        q.bind(org.0)
            .bind(self.email.as_str())
            .bind(self.name)
            .bind(self.role.as_str())
            .bind(self.password_hash)
            .bind(now)
    }
}

type UserTuple = (i64, i64, String, String, String, bool, i64);

fn to_record(
    (id, org, email, name, role, disabled, sessions_valid_after): UserTuple,
) -> sqlx::Result<UserRecord> {
    let role = role.parse::<Role>().map_err(|e| sqlx::Error::Decode(e.into()))?;
    Ok(UserRecord { id: UserId(id), org_id: OrgId(org), email, name, role, disabled, sessions_valid_after })
}

/// A team and the e-mails of its members (sorted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRecord {
    pub id: TeamId,
    pub slug: String,
    pub name: String,
    pub members: Vec<String>,
}

/// Serializes changes to an organisation's people. An UPDATE row-locks the organisation's row
/// on PostgreSQL until commit (SQLite serializes all writers anyway), so a check such as "at
/// least one admin remains" and the change it guards cannot interleave with another's.
const LOCK_ORG: &str = "update orgs set name = name where id = $1";

/// "Is anyone else still an active admin?" for the guard on demoting or disabling `$2`.
const OTHER_ADMINS: &str =
    "select count(*) from users where org_id = $1 and role = 'admin' and not disabled and id <> $2";

impl Db {
    /// Inserts the person (and their team membership) with its audit record, in one
    /// transaction. Fails with a unique violation when the e-mail is taken.
    pub async fn create_user(
        &self,
        org: OrgId,
        u: NewUser<'_>,
        team: Option<TeamId>,
        audit: &NewAudit,
    ) -> sqlx::Result<UserId> {
        const SQL: &str =
            "insert into users (org_id, email, name, role, password_hash, disabled, created_at) \
            values ($1, $2, $3, $4, $5, false, $6) returning id";
        const MEMBER: &str = "insert into team_members (team_id, user_id) values ($1, $2)";
        let now = Utc::now();
        let mut tx = self.begin().await?;
        let id: i64 = {
            let id: i64 = u.bind_to(query_scalar(SQL), org, now).fetch_one(&mut tx).await?;
            if let Some(t) = team {
                query(MEMBER).bind(t.0).bind(id).execute(&mut tx).await?;
            }
            insert_audit(&mut tx, org, audit).await?;
            id
        };
        tx.commit().await?;
        Ok(UserId(id))
    }

    /// Inserts an admin only while no user exists at all (first-run setup); `None` when someone
    /// was first. SQLite runs the statement under its single write lock; PostgreSQL's READ
    /// COMMITTED would let two concurrent setups both see an empty table (a test caught it), so
    /// there the statement runs under a transaction-scoped advisory lock.
    pub async fn create_first_user(
        &self,
        org: OrgId,
        u: NewUser<'_>,
        audit: &NewAudit,
    ) -> sqlx::Result<Option<UserId>> {
        const SQL: &str =
            "insert into users (org_id, email, name, role, password_hash, disabled, created_at) \
            select $1, $2, $3, $4, $5, false, $6 where not exists (select 1 from users) returning id";
        const FIRST_USER_LOCK: i64 = 0x436f_7374_0001; // "Cost" + 1: any constant unique to this use
        let now = Utc::now();
        let mut tx = self.begin().await?;
        if let Tx::Postgres(_) = tx {
            query("select pg_advisory_xact_lock($1)").bind(FIRST_USER_LOCK).execute(&mut tx).await?;
        }
        let id: Option<i64> = u.bind_to(query_scalar(SQL), org, now).fetch_optional(&mut tx).await?;
        if id.is_some() {
            insert_audit(&mut tx, org, audit).await?;
        }
        tx.commit().await?;
        Ok(id.map(UserId))
    }

    /// Changes a person's role; `Ok(false)` when no such person is in the organisation, or
    /// when the change would leave it without an active admin (nothing is written then).
    pub async fn set_user_role(
        &self,
        org: OrgId,
        id: UserId,
        role: Role,
        audit: &NewAudit,
    ) -> sqlx::Result<bool> {
        const SQL: &str = "update users set role = $1 where id = $2 and org_id = $3";
        let mut tx = self.begin().await?;
        let out = {
            query(LOCK_ORG).bind(org.0).execute(&mut tx).await?;
            let others: i64 = query_scalar(OTHER_ADMINS).bind(org.0).bind(id.0).fetch_one(&mut tx).await?;
            if role != Role::Admin && others == 0 {
                false
            } else {
                let n = query(SQL).bind(role.as_str()).bind(id.0).bind(org.0).execute(&mut tx).await?;
                if n.rows_affected() == 1 {
                    insert_audit(&mut tx, org, audit).await?;
                }
                n.rows_affected() == 1
            }
        };
        tx.commit().await?;
        Ok(out)
    }

    /// Disables (or enables) a person; same answers and guard as [`Db::set_user_role`].
    pub async fn set_user_disabled(
        &self,
        org: OrgId,
        id: UserId,
        disabled: bool,
        audit: &NewAudit,
    ) -> sqlx::Result<bool> {
        const SQL: &str = "update users set disabled = $1 where id = $2 and org_id = $3";
        let mut tx = self.begin().await?;
        let out = {
            query(LOCK_ORG).bind(org.0).execute(&mut tx).await?;
            let others: i64 = query_scalar(OTHER_ADMINS).bind(org.0).bind(id.0).fetch_one(&mut tx).await?;
            let target_is_admin: bool = query_scalar("select role = 'admin' from users where id = $1")
                .bind(id.0)
                .fetch_optional(&mut tx)
                .await?
                .unwrap_or(false);
            if disabled && target_is_admin && others == 0 {
                false
            } else {
                let n = query(SQL).bind(disabled).bind(id.0).bind(org.0).execute(&mut tx).await?;
                if n.rows_affected() == 1 {
                    insert_audit(&mut tx, org, audit).await?;
                }
                n.rows_affected() == 1
            }
        };
        tx.commit().await?;
        Ok(out)
    }

    /// Stores the new hash and voids every session started before `now` (Unix seconds).
    pub async fn set_password_hash(
        &self,
        id: UserId,
        hash: &str,
        now: i64,
        org: OrgId,
        audit: &NewAudit,
    ) -> sqlx::Result<()> {
        const SQL: &str = "update users set password_hash = $1, sessions_valid_after = $2 where id = $3";
        {
            let mut tx = self.begin().await?;

            query(SQL).bind(hash).bind(now).bind(id.0).execute(&mut tx).await?;
            insert_audit(&mut tx, org, audit).await?;
            tx.commit().await?;
        };
        Ok(())
    }

    pub async fn password_hash(&self, id: UserId) -> sqlx::Result<String> {
        query_scalar("select password_hash from users where id = $1").bind(id.0).fetch_one(self).await
    }

    pub async fn credentials_by_email(&self, email: &Email) -> sqlx::Result<Option<Credentials>> {
        const SQL: &str = "select id, password_hash, disabled from users where email = $1";
        let row: Option<(i64, String, bool)> =
            query_as(SQL).bind(email.as_str()).fetch_optional(self).await?;
        Ok(row.map(|(id, password_hash, disabled)| Credentials {
            user_id: UserId(id),
            password_hash,
            disabled,
        }))
    }

    pub async fn user_by_id(&self, id: UserId) -> sqlx::Result<Option<UserRecord>> {
        const SQL: &str =
            "select id, org_id, email, name, role, disabled, sessions_valid_after from users where id = $1";
        let row: Option<UserTuple> = query_as(SQL).bind(id.0).fetch_optional(self).await?;
        row.map(to_record).transpose()
    }

    pub async fn list_users(&self, org: OrgId) -> sqlx::Result<Vec<UserRecord>> {
        const SQL: &str =
            "select id, org_id, email, name, role, disabled, sessions_valid_after from users where org_id = $1 order by email";
        let rows: Vec<UserTuple> = query_as(SQL).bind(org.0).fetch_all(self).await?;
        rows.into_iter().map(to_record).collect()
    }

    pub async fn count_users(&self) -> sqlx::Result<i64> {
        query_scalar("select count(*) from users").fetch_one(self).await
    }

    /// Returns the team with this slug, creating it on first use.
    pub async fn ensure_team(&self, org: OrgId, slug: &str, name: &str) -> sqlx::Result<TeamId> {
        const INSERT: &str = "insert into teams (org_id, slug, name, created_at) values ($1, $2, $3, $4) \
            on conflict (org_id, slug) do nothing";
        const SELECT: &str = "select id from teams where org_id = $1 and slug = $2";
        let now = Utc::now();
        {
            query(INSERT).bind(org.0).bind(slug).bind(name).bind(now).execute(self).await?;
            query_scalar(SELECT).bind(org.0).bind(slug).fetch_one(self).await.map(TeamId)
        }
    }

    pub async fn team_by_slug(&self, org: OrgId, slug: &str) -> sqlx::Result<Option<TeamId>> {
        const SQL: &str = "select id from teams where org_id = $1 and slug = $2";
        let id: Option<i64> = query_scalar(SQL).bind(org.0).bind(slug).fetch_optional(self).await?;
        Ok(id.map(TeamId))
    }

    /// Creates a team with its audit record; a unique violation when the slug is taken.
    pub async fn create_team(
        &self,
        org: OrgId,
        slug: &str,
        name: &str,
        audit: &NewAudit,
    ) -> sqlx::Result<TeamId> {
        const SQL: &str =
            "insert into teams (org_id, slug, name, created_at) values ($1, $2, $3, $4) returning id";
        let now = Utc::now();
        let mut tx = self.begin().await?;
        let id: i64 = {
            let id: i64 =
                query_scalar(SQL).bind(org.0).bind(slug).bind(name).bind(now).fetch_one(&mut tx).await?;
            insert_audit(&mut tx, org, audit).await?;
            id
        };
        tx.commit().await?;
        Ok(TeamId(id))
    }

    /// Adds (`member`) or removes a person from a team; `Ok(false)` and no record when that
    /// changes nothing.
    pub async fn set_team_member(
        &self,
        org: OrgId,
        team: TeamId,
        user: UserId,
        member: bool,
        audit: &NewAudit,
    ) -> sqlx::Result<bool> {
        const ADD: &str =
            "insert into team_members (team_id, user_id) values ($1, $2) on conflict (team_id, user_id) do nothing";
        const REMOVE: &str = "delete from team_members where team_id = $1 and user_id = $2";
        let mut tx = self.begin().await?;
        let out = {
            let sql = if member { ADD } else { REMOVE };
            let n = query(sql).bind(team.0).bind(user.0).execute(&mut tx).await?.rows_affected();
            if n == 1 {
                insert_audit(&mut tx, org, audit).await?;
            }
            n == 1
        };
        tx.commit().await?;
        Ok(out)
    }

    /// Every team of the organisation with its members' e-mails.
    pub async fn list_teams(&self, org: OrgId) -> sqlx::Result<Vec<TeamRecord>> {
        const TEAMS: &str = "select id, slug, name from teams where org_id = $1 order by slug";
        const MEMBERS: &str =
            "select m.team_id, u.email from team_members m join users u on u.id = m.user_id \
            join teams t on t.id = m.team_id where t.org_id = $1 order by u.email";
        type Rows = (Vec<(i64, String, String)>, Vec<(i64, String)>);
        let (teams, members): Rows = {
            let teams = query_as(TEAMS).bind(org.0).fetch_all(self).await?;
            (teams, query_as(MEMBERS).bind(org.0).fetch_all(self).await?)
        };
        Ok(teams
            .into_iter()
            .map(|(id, slug, name)| TeamRecord {
                id: TeamId(id),
                slug,
                name,
                members: members.iter().filter(|(t, _)| *t == id).map(|(_, e)| e.clone()).collect(),
            })
            .collect())
    }

    /// (user id, team slug) for everyone in the organisation, for listing people with teams.
    pub async fn team_memberships(&self, org: OrgId) -> sqlx::Result<Vec<(UserId, String)>> {
        const SQL: &str = "select m.user_id, t.slug from team_members m join teams t on t.id = m.team_id \
            where t.org_id = $1 order by t.slug";
        let rows: Vec<(i64, String)> = query_as(SQL).bind(org.0).fetch_all(self).await?;
        Ok(rows.into_iter().map(|(u, t)| (UserId(u), t)).collect())
    }

    /// Slugs of the user's teams, sorted.
    pub async fn user_teams(&self, user: UserId) -> sqlx::Result<Vec<String>> {
        const SQL: &str = "select t.slug from teams t join team_members m on m.team_id = t.id \
            where m.user_id = $1 order by t.slug";
        query_scalar(SQL).bind(user.0).fetch_all(self).await
    }
}
