//! Who is signed in (for the navigation). Signing in and out are plain form posts to
//! `/auth/signin` and `/auth/signout`, so they work without JavaScript.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::Role;
use crate::error::AppError;

/// The signed-in person as the UI shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub name: String,
    pub email: String,
    pub role: Role,
    /// Alerts in this person's inbox they have not read (the bell).
    pub unread_alerts: i64,
}

/// `None` for anonymous visitors (not an error: the sign-in page asks it too).
#[server(endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Me>, AppError> {
    use crate::server::auth::current_user;
    use crate::server::state::app_state;
    let Some(u) = current_user().await? else { return Ok(None) };
    let st = app_state()?;
    let inbox = crate::server::services::alerts::inbox(&st, &u).await?;
    let unread_alerts = crate::domain::inbox::unread(&inbox) as i64;
    Ok(Some(Me { name: u.name, email: u.email, role: u.role, unread_alerts }))
}

/// True while nobody has an account (the first-run setup page is open). Anonymous callers may
/// ask: it reveals only that the installation is new.
#[server(endpoint = "setup_needed")]
pub async fn setup_needed() -> Result<bool, AppError> {
    use crate::server::state::app_state;
    Ok(app_state()?.db.count_users().await? == 0)
}
