//! Settings → Gateway: the upstreams (provider, address, key hint), the keys with scope
//! `gateway`, and what an application changes to send its calls through Costroom.
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::gateway::UpstreamView;
use crate::error::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayKey {
    pub prefix: String,
    pub name: String,
    pub team: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewaySettings {
    pub upstreams: Vec<UpstreamView>,
    /// Live keys holding scope `gateway`.
    pub keys: Vec<GatewayKey>,
    /// Where this Costroom answers (`http://host:port`), for the snippets.
    pub origin: String,
    /// Whether the server has a secret key to encrypt provider keys with.
    pub can_store_keys: bool,
    /// Engineering and admins change upstreams.
    pub can_manage: bool,
}

#[server(endpoint = "gateway_page")]
pub async fn gateway_page() -> Result<GatewaySettings, AppError> {
    use crate::domain::api_key::Scope;
    use crate::domain::Right;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let upstreams = state::with_status(services::gateway::upstreams(&st.db, &st.gateway, st.org).await)?;
    let keys = st
        .db
        .list_api_keys(st.org)
        .await?
        .into_iter()
        .filter(|k| k.revoked_at.is_none() && k.scopes.split(',').any(|s| s == Scope::Gateway.as_str()))
        .map(|k| GatewayKey { prefix: k.prefix, name: k.name, team: k.team })
        .collect();
    let host = use_context::<http::request::Parts>()
        .and_then(|p| p.headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string))
        .unwrap_or_else(|| "localhost:3000".into());
    let scheme = if st.cookie_secure { "https" } else { "http" };
    Ok(GatewaySettings {
        upstreams,
        keys,
        origin: format!("{scheme}://{host}"),
        can_store_keys: st.gateway.sealer().is_some(),
        can_manage: user.role.can(Right::ManageEngineering),
    })
}

/// Creates or changes an upstream (engineering, admins). The key is encrypted before it is
/// stored, never shown again; an empty key keeps the stored one.
#[server(endpoint = "save_upstream")]
pub async fn save_upstream(
    provider: String,
    base_url: String,
    api_key: String,
) -> Result<UpstreamView, AppError> {
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageEngineering).await)?;
    let st = state::app_state()?;
    let actor = Actor::person(user.id, &user.email);
    let key = Some(api_key.as_str()).filter(|k| !k.trim().is_empty());
    state::with_status(
        services::gateway::save_upstream(
            &st.db,
            &st.gateway,
            &st.egress,
            st.org,
            &actor,
            services::gateway::UpstreamInput { provider: &provider, base_url: &base_url, key },
        )
        .await,
    )
}

#[server(endpoint = "delete_upstream")]
pub async fn delete_upstream(provider: String) -> Result<(), AppError> {
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let user = state::with_status(auth::require_right(Right::ManageEngineering).await)?;
    let st = state::app_state()?;
    let actor = Actor::person(user.id, &user.email);
    state::with_status(services::gateway::delete_upstream(&st.db, st.org, &actor, &provider).await)
}
