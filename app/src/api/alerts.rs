//! The alert inbox behind the bell: read and unread per person.
use leptos::prelude::*;

use crate::domain::inbox::InboxItem;
use crate::error::AppError;

/// This person's inbox, newest first (anyone signed in).
#[server(endpoint = "get_inbox")]
pub async fn get_inbox() -> Result<Vec<InboxItem>, AppError> {
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    state::with_status(services::alerts::inbox(&st, &user).await)
}

/// Marks alerts read for the person asking only: one (`kind` and `id`) or, without them, every
/// alert in their inbox. Returns how many changed.
#[server(endpoint = "mark_alerts_read")]
pub async fn mark_alerts_read(kind: Option<String>, id: Option<i64>) -> Result<u64, AppError> {
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    state::with_status(services::alerts::mark_read(&st, &user, kind.as_deref(), id).await)
}
