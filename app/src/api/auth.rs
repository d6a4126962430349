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
    /// Budget alerts nobody has marked read yet (the bell).
    pub unread_alerts: i64,
}

/// `None` for anonymous visitors (not an error: the sign-in page asks it too).
#[server(endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Me>, AppError> {
    use crate::server::auth::current_user;
    use crate::server::state::app_state;
    let Some(u) = current_user().await? else { return Ok(None) };
    let st = app_state()?;
    let unread_alerts = st.db.unread_budget_alerts(st.org).await?
        + st.db.unread_anomaly_alerts(st.org).await?
        + st.db.unread_reviews(st.org).await?;
    Ok(Some(Me { name: u.name, email: u.email, role: u.role, unread_alerts }))
}

/// True while nobody has an account (the first-run setup page is open). Anonymous callers may
/// ask: it reveals only that the installation is new.
#[server(endpoint = "setup_needed")]
pub async fn setup_needed() -> Result<bool, AppError> {
    use crate::server::state::app_state;
    Ok(app_state()?.db.count_users().await? == 0)
}
