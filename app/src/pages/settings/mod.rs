//! Settings: people, teams, API keys and the audit log (one file per page), with the tabs
//! they share. Tabs a role cannot use are hidden; the server functions check regardless.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::whoami;
use crate::components::SignedInOnly;
use crate::domain::{Right, Role};

pub mod audit;
pub mod gateway;
pub mod imports;
pub mod keys;
pub mod people;
pub mod prices;
pub mod teams;
pub mod webhooks;

pub use audit::AuditLogPage;
pub use gateway::GatewayPage;
pub use imports::BillingImportsPage;
pub use keys::ApiKeysPage;
pub use people::PeoplePage;
pub use prices::PriceBookPage;
pub use teams::TeamsPage;
pub use webhooks::WebhooksPage;

/// (path, label, right needed to see the tab at all)
const TABS: [(&str, &str, Option<Right>); 9] = [
    ("/settings/people", "People", None),
    ("/settings/teams", "Teams", None),
    ("/settings/keys", "API keys", None),
    ("/settings/prices", "Price book", None),
    ("/settings/imports", "Billing imports", None),
    ("/settings/webhooks", "Webhooks", None),
    ("/settings/gateway", "Gateway", None),
    ("/settings/audit", "Audit log", Some(Right::ManagePeople)),
    ("/account", "My account", None),
];

#[component]
pub fn SettingsTabs() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    view! {
        <nav class="tabs" aria-label="Settings">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let role = me.await.ok().flatten().map(|m| m.role).unwrap_or(Role::Viewer);
                    TABS.iter()
                        .filter(|(_, _, right)| right.is_none_or(|r| role.can(r)))
                        .map(|(href, label, _)| view! { <A href=*href>{*label}</A> })
                        .collect_view()
                })}
            </Suspense>
        </nav>
    }
}

/// `/settings`: what each tab is for.
#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <Title text="Settings · Costroom"/>
        <SignedInOnly>
            <h1>"Settings"</h1>
            <SettingsTabs/>
            <ul class="cards">
                <li><a href="/settings/people">"People"</a>" — who has an account and their role; admins add people, change roles and disable accounts."</li>
                <li><a href="/settings/teams">"Teams"</a>" — teams and their members; spend and budgets are attributed to teams."</li>
                <li><a href="/settings/keys">"API keys"</a>" — keys for apps, gateways and collectors; engineering and admins create and revoke them."</li>
                <li><a href="/settings/prices">"Price book"</a>" — prices per model and their history, models without a price, the organisation's own prices."</li>
                <li><a href="/settings/webhooks">"Webhooks"</a>" — where alerts are posted (Slack-compatible or JSON) and the log of every delivery."</li>
                <li><a href="/settings/gateway">"Gateway"</a>" — send OpenAI and Anthropic SDK calls through Costroom: checked, priced and recorded on the way."</li>
                <li><a href="/settings/audit">"Audit log"</a>" — every change, who made it and when (admins)."</li>
                <li><a href="/account">"My account"</a>" — change your password."</li>
            </ul>
        </SignedInOnly>
    }
}

/// Short UTC time for tables (`2026-11-20 14:05`).
pub(crate) fn short_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}
