//! The top navigation: one link per section of the product.
use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::whoami;

/// (path, label) of every section, in menu order.
pub const SECTIONS: [(&str, &str); 13] = [
    ("/", "Overview"),
    ("/spend", "Spend"),
    ("/traces", "Traces"),
    ("/kpis", "KPIs"),
    ("/coverage", "Coverage"),
    ("/ledger", "Ledger"),
    ("/budgets", "Budgets"),
    ("/initiatives", "Initiatives"),
    ("/anomalies", "Anomalies"),
    ("/guardrails", "Guardrails"),
    ("/reviews", "Reviews"),
    ("/maturity", "Maturity"),
    ("/settings", "Settings"),
];

#[component]
pub fn Nav() -> impl IntoView {
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Costroom"</a>
            <nav aria-label="Sections">
                <ul>
                    {SECTIONS
                        .iter()
                        .map(|(href, label)| {
                            view! {
                                <li>
                                    <A href=*href exact=true>
                                        {*label}
                                    </A>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </nav>
            <UserMenu/>
        </header>
    }
}

/// The signed-in person and a sign-out button (a form post: works without JavaScript).
#[component]
fn UserMenu() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    view! {
        <div class="user-menu">
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match me.await {
                        Ok(Some(me)) => {
                            let unread = me.unread_alerts;
                            view! {
                                <a
                                    href="/budgets#alerts"
                                    class="bell"
                                    data-testid="alert-bell"
                                    title=format!("{unread} unread alerts (budgets, anomalies, new reviews)")
                                    aria-label=format!("{unread} unread alerts")
                                >
                                    "🔔"
                                    {(unread > 0).then(|| view! { <span class="badge" data-testid="alert-count">{unread}</span> })}
                                </a>
                                <a href="/account" data-testid="whoami" title=me.email.clone()>
                                    {me.name.clone()}
                                    " · "
                                    {me.role.to_string()}
                                </a>
                                <form method="post" action="/auth/signout">
                                    <button type="submit" data-testid="signout">
                                        "Sign out"
                                    </button>
                                </form>
                            }
                                .into_any()
                        }
                        _ => view! { <a href="/signin">"Sign in"</a> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}
