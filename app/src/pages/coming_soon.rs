//! Placeholder for sections whose issues have not landed yet.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::SignedInOnly;

#[component]
pub fn ComingSoonPage(#[prop(into)] title: String) -> impl IntoView {
    view! {
        <Title text=format!("{title} · Costroom")/>
        <SignedInOnly>
            <h1>{title.clone()}</h1>
            <p class="muted">"Coming soon. The Overview already shows live spend."</p>
        </SignedInOnly>
    }
}
