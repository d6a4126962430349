//! Placeholder for sections whose issues have not landed yet.
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ComingSoonPage(#[prop(into)] title: String) -> impl IntoView {
    view! {
        <Title text=format!("{title} · Costroom")/>
        <h1>{title}</h1>
        <p class="muted">"Coming soon. The Overview already shows live spend."</p>
    }
}
