//! Webhooks (where alerts go) and their delivery log.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::webhook::{Delivery, Webhook};
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhooksPage {
    pub webhooks: Vec<Webhook>,
    pub deliveries: Vec<Delivery>,
    /// Whether the person may add, test and delete webhooks and retry deliveries.
    pub can_manage: bool,
}

/// Webhooks and the latest deliveries (everyone signed in reads; addresses are shown
/// without their secret path).
#[server(endpoint = "list_webhooks")]
pub async fn list_webhooks() -> Result<WebhooksPage, AppError> {
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let (webhooks, deliveries) = state::with_status(services::webhooks::overview(&st.db, st.org).await)?;
    Ok(WebhooksPage { webhooks, deliveries, can_manage: user.role.can(Right::ManageAlerts) })
}

/// Adds a webhook (admins, finance, engineering); errors name the field.
#[server(endpoint = "create_webhook")]
pub async fn create_webhook(name: String, url: String, format: String) -> Result<i64, AppError> {
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageAlerts).await)?;
    let st = state::app_state()?;
    let actor = Actor::person(user.id, &user.email);
    state::with_status(
        services::webhooks::create(&st.db, &st.egress, st.org, &actor, &name, &url, &format).await,
    )
}

#[server(endpoint = "delete_webhook")]
pub async fn delete_webhook(id: i64) -> Result<(), AppError> {
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageAlerts).await)?;
    let st = state::app_state()?;
    let actor = Actor::person(user.id, &user.email);
    state::with_status(services::webhooks::delete(&st.db, st.org, &actor, id).await)
}

/// Queues a test message to one webhook.
#[server(endpoint = "test_webhook")]
pub async fn test_webhook(id: i64) -> Result<(), AppError> {
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageAlerts).await)?;
    let st = state::app_state()?;
    let actor = Actor::person(user.id, &user.email);
    state::with_status(services::webhooks::send_test(&st.db, st.org, &actor, id).await)
}

/// Puts a delivery that failed for good back in the queue.
#[server(endpoint = "retry_delivery")]
pub async fn retry_delivery(id: i64) -> Result<(), AppError> {
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    state::with_status(auth::require_right(Right::ManageAlerts).await)?;
    let st = state::app_state()?;
    state::with_status(services::webhooks::retry(&st.db, st.org, id).await)
}
