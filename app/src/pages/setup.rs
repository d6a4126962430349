//! First run: while nobody has an account, create the first admin (a plain form post).
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::setup_needed;

fn error_text(code: &str) -> &'static str {
    match code {
        "email" => "email: that is not an e-mail address.",
        "name" => "name: must not be empty (at most 100 characters).",
        "password" => "password: at least 12 characters are needed.",
        "done" => "Setup is already done: someone has an account. Sign in instead.",
        _ => "Please fill in every field.",
    }
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let query = use_query_map();
    let error = query.read_untracked().get("error").map(|c| error_text(&c));
    let needed = Resource::new(|| (), |_| setup_needed());
    view! {
        <Title text="Set up · Costroom"/>
        <section class="panel signin">
            <h1>"Set up Costroom"</h1>
            {error.map(|e| view! { <p class="error" role="alert" data-testid="setup-error">{e}</p> })}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    if needed.await.unwrap_or(false) {
                        view! {
                            <p>"Nobody has an account yet. Create the first administrator."</p>
                            <form method="post" action="/auth/setup" class="stack">
                                <label>"Name" <input name="name" required autocomplete="name" data-testid="setup-name"/></label>
                                <label>
                                    "E-mail"
                                    <input type="email" name="email" required autocomplete="username" data-testid="setup-email"/>
                                </label>
                                <label>
                                    "Password (at least 12 characters)"
                                    <input type="password" name="password" required minlength="12" autocomplete="new-password" data-testid="setup-password"/>
                                </label>
                                <button type="submit" data-testid="setup-submit">"Create administrator"</button>
                            </form>
                        }
                            .into_any()
                    } else {
                        view! {
                            <p data-testid="setup-done">
                                "Setup is done. " <a href="/signin">"Sign in"</a>
                            </p>
                        }
                            .into_any()
                    }
                })}
            </Suspense>
        </section>
    }
}
