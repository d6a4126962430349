//! My account: who I am, and changing my own password.
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{whoami, ChangePassword};
use crate::components::{ActionResult, SignInFirst};
use crate::pages::settings::SettingsTabs;

#[component]
pub fn AccountPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    let change = ServerAction::<ChangePassword>::new();
    view! {
        <Title text="My account · Costroom"/>
        <h1>"My account"</h1>
        <SettingsTabs/>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(me)) => view! {
                        <section class="panel form-panel">
                            <p data-testid="account-who">{format!("{} · {} · {}", me.name, me.email, me.role)}</p>
                            <h2>"Change password"</h2>
                            <ActionForm action=change node_ref=crate::components::reset_on_success(change) attr:class="stack">
                                <label>
                                    "Current password"
                                    <input type="password" name="current_password" required autocomplete="current-password" data-testid="current-password"/>
                                </label>
                                <label>
                                    "New password (at least 12 characters)"
                                    <input type="password" name="new_password" required minlength="12" autocomplete="new-password" data-testid="new-password"/>
                                </label>
                                <button type="submit" data-testid="password-submit">"Change password"</button>
                            </ActionForm>
                            <ActionResult value=move || change.value().get() testid="password-result" done=|_: &()| "Password changed.".to_string()/>
                        </section>
                    }
                        .into_any(),
                    _ => view! { <SignInFirst/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
