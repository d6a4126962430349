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

/// Bumped by a page that changes this person's alerts (marking read), so the bell recounts at
/// once instead of at its next poll.
#[derive(Clone, Copy)]
pub struct AlertsChanged(pub RwSignal<u64>);

impl AlertsChanged {
    pub fn bump() {
        if let Some(AlertsChanged(s)) = use_context::<AlertsChanged>() {
            s.update(|v| *v += 1);
        }
    }
}

/// How often an open page recounts the bell (alerts are raised by background jobs).
const BELL_POLL: std::time::Duration = std::time::Duration::from_secs(30);

/// A bell outline: drawn, not an emoji, so it shows where no emoji font is installed.
fn bell_icon() -> impl IntoView {
    view! {
        <svg class="icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
            <path
                d="M12 3a6 6 0 0 0-6 6v3.6L4.3 15.5A1 1 0 0 0 5.2 17h13.6a1 1 0 0 0 .9-1.5L18 12.6V9a6 6 0 0 0-6-6zm-2.5 15a2.5 2.5 0 0 0 5 0z"
                fill="currentColor"
            />
        </svg>
    }
}

/// The signed-in person and a sign-out button (a form post: works without JavaScript).
#[component]
fn UserMenu() -> impl IntoView {
    let changed = use_context::<AlertsChanged>().map(|c| c.0).unwrap_or_else(|| RwSignal::new(0));
    let tick = RwSignal::new(0u64);
    // Browser only (effects do not run on the server).
    Effect::new(move |_| {
        if let Ok(h) = set_interval_with_handle(move || tick.update(|t| *t += 1), BELL_POLL) {
            on_cleanup(move || h.clear());
        }
    });
    let me = Resource::new(move || (changed.get(), tick.get()), |_| whoami());
    view! {
        <div class="user-menu">
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match me.await {
                        Ok(Some(me)) => {
                            let unread = me.unread_alerts;
                            view! {
                                <a
                                    href="/alerts"
                                    class="bell"
                                    data-testid="alert-bell"
                                    title=format!("{unread} unread alerts (budgets, anomalies, new reviews)")
                                    aria-label=format!("{unread} unread alerts")
                                >
                                    {bell_icon()}
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
