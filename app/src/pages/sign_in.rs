//! Sign-in: a plain HTML form posting to `/auth/signin`, the same with and without JavaScript.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::setup_needed;
use crate::domain::throttle::minutes_text;

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let q = query.read_untracked();
    let next = q.get("next").unwrap_or_else(|| "/".to_string());
    let wait = q.get("wait").and_then(|w| w.parse::<i64>().ok()).unwrap_or(60);
    let message = if q.get("error").as_deref() == Some("credentials") {
        Some(("error", "That e-mail and password do not match an account.".to_string()))
    } else if q.get("error").as_deref() == Some("throttled") {
        Some(("error", format!("Too many failed sign-ins. Try again in {}.", minutes_text(wait))))
    } else if q.get("signed_out").is_some() {
        Some(("muted", "You are signed out.".to_string()))
    } else {
        None
    };
    let needed = Resource::new(|| (), |_| setup_needed());
    view! {
        <Title text="Sign in · Costroom"/>
        <section class="panel signin">
            <h1>"Sign in"</h1>
            {message.map(|(class, text)| view! { <p class=class role="status" data-testid="signin-message">{text}</p> })}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    needed
                        .await
                        .unwrap_or(false)
                        .then(|| {
                            view! {
                                <p data-testid="setup-link">
                                    "Nobody has an account yet: " <a href="/setup">"create the first administrator"</a>
                                </p>
                            }
                        })
                })}
            </Suspense>
            <form method="post" action="/auth/signin" class="stack">
                <input type="hidden" name="next" value=next/>
                <label>
                    "E-mail" <input type="email" name="email" autocomplete="username" required data-testid="signin-email"/>
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required data-testid="signin-password"/>
                </label>
                <button type="submit" data-testid="signin-submit">"Sign in"</button>
            </form>
        </section>
    }
}
