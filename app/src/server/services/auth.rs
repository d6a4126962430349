//! Checking credentials and provisioning the demo's people.
use crate::domain::account::Email;
use crate::domain::throttle::{PER_ACCOUNT, PER_CLIENT};
use crate::domain::Role;
use crate::error::AppError;
use crate::server::auth::password;
use crate::server::db::Actor;
use crate::server::db::{Db, OrgId, UserId};
use crate::server::services::users::{add_user, AddUser};

/// The user id for a correct e-mail and password of an enabled account; `Unauthorized` for
/// every other case, after the same amount of hashing work (a dummy hash when the e-mail is
/// unknown or malformed), so that responses reveal nothing about which accounts exist.
pub async fn authenticate(db: &Db, email: &str, password: String) -> Result<UserId, AppError> {
    let creds = match Email::parse(email) {
        Ok(e) => db.credentials_by_email(&e).await?,
        Err(_) => None,
    };
    let matches = password::verify(password, creds.as_ref().map(|c| c.password_hash.clone())).await?;
    match creds {
        Some(c) if matches && !c.disabled => Ok(c.user_id),
        _ => {
            tracing::info!("sign-in refused");
            Err(AppError::Unauthorized)
        }
    }
}

/// Why a sign-in was refused. Both answers are the same whether or not the account exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Credentials,
    /// Too many recent failures for this e-mail or this client address.
    Throttled {
        wait_secs: i64,
    },
}

/// Sign-in with throttling per submitted e-mail and per client address (`client`): a locked
/// key is refused before any password check; every failure counts against both keys; success
/// clears the account's counter. `now` is Unix seconds.
pub async fn sign_in(
    db: &Db,
    email: &str,
    password: String,
    client: &str,
    now: i64,
) -> Result<Result<UserId, Refused>, AppError> {
    let account_key = format!("account:{}", email.trim().to_lowercase());
    let client_key = format!("client:{client}");
    // charged before the check, atomically: parallel guesses cannot all slip in under the lock
    let keys = [(account_key.as_str(), PER_ACCOUNT), (client_key.as_str(), PER_CLIENT)];
    if let Err(wait_secs) = db.reserve_sign_in(&keys, now).await? {
        tracing::info!(wait_secs, "sign-in throttled");
        return Ok(Err(Refused::Throttled { wait_secs }));
    }
    match authenticate(db, email, password).await {
        Ok(user) => {
            db.clear_sign_in_failures(&account_key).await?;
            db.refund_sign_in(&client_key, PER_CLIENT).await?;
            Ok(Ok(user))
        }
        Err(AppError::Unauthorized) => Ok(Err(Refused::Credentials)),
        Err(e) => Err(e),
    }
}

/// One demo sign-in per role. The passwords are public (printed by `costroom demo`): demo
/// data only, never a real deployment.
pub fn demo_sign_ins() -> Vec<(String, Role, String)> {
    Role::ALL.iter().map(|r| (format!("{r}{DEMO_DOMAIN}"), *r, format!("demo-{r}-password"))).collect()
}

pub const DEMO_DOMAIN: &str = "@demo.costroom.example";

/// Creates the demo people that do not exist yet; returns every demo sign-in. Refused in a
/// database that holds real accounts: the demo passwords are public, so creating them there
/// would open a real installation to anyone who read the README. (Once they exist, running
/// the demo again is fine: it creates nothing.)
pub async fn ensure_demo_users(db: &Db, org: OrgId) -> Result<Vec<(String, Role, String)>, AppError> {
    let all = demo_sign_ins();
    let mut missing = vec![];
    for (email, role, pw) in &all {
        let parsed = Email::parse(email).map_err(AppError::Invalid)?;
        if db.credentials_by_email(&parsed).await?.is_none() {
            missing.push((email, role, pw));
        }
    }
    if missing.is_empty() {
        return Ok(all);
    }
    let real = db.list_users(org).await?.into_iter().filter(|u| !u.email.ends_with(DEMO_DOMAIN)).count();
    if real > 0 {
        return Err(AppError::Invalid(format!(
            "demo: this database has {real} real account(s); demo sign-ins (public passwords) are only \
            created in a database without any — use a fresh database for the demo"
        )));
    }
    for (email, role, pw) in missing {
        let name = format!("Demo {role}");
        let team = match role {
            Role::Finance => Some("finance".to_string()),
            Role::Engineering => Some("platform".to_string()),
            Role::Product => Some("support".to_string()),
            _ => None,
        };
        let input = AddUser { email: email.clone(), name, role: *role, password: pw.clone(), team };
        add_user(db, org, &Actor::cli(), input).await?;
    }
    Ok(all)
}
