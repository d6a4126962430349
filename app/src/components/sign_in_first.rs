//! Server-side gate for pages: anonymous visitors are sent to the sign-in page (a 302 during
//! SSR on `Async` routes, whose headers are still open), with a link if a session ends later.
use leptos::prelude::*;

use crate::api::whoami;
use crate::domain::text::encode_query_value;

/// Anonymous visitors are sent to the sign-in page (a 302 during SSR; the route renders in
/// `Async` mode, so headers are still open), and shown a link if the session ends later.
#[component]
pub fn SignInFirst() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let search = location.search.get_untracked();
    let here = if search.is_empty() {
        location.pathname.get_untracked()
    } else {
        format!("{}?{search}", location.pathname.get_untracked())
    };
    let href = format!("/signin?next={}", encode_query_value(&here));
    #[cfg(feature = "ssr")]
    leptos_axum::redirect(&href);
    view! {
        <p role="alert">
            "Please " <a href=href>"sign in"</a> " to see spend."
        </p>
    }
}

/// Renders `children` only for a signed-in person (the server functions behind them check again).
#[component]
pub fn SignedInOnly(children: ChildrenFn) -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let children = children.clone();
                Suspend::new(async move {
                    match me.await {
                        Ok(Some(_)) => children().into_any(),
                        _ => view! { <SignInFirst/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}
