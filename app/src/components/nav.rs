//! The top navigation: one link per section of the product.
use leptos::prelude::*;
use leptos_router::components::A;

/// (path, label) of every section, in menu order.
pub const SECTIONS: [(&str, &str); 9] = [
    ("/", "Overview"),
    ("/spend", "Spend"),
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
        </header>
    }
}
