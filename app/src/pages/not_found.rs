//! 404 for unknown paths; the status is set during SSR so that clients and crawlers see it.
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found · Costroom"/>
        <h1>"Page not found"</h1>
        <p>
            "There is no page at this address. "
            <a href="/">"Back to the Overview"</a>
        </p>
    }
}
