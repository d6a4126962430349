//! How a page shows a refused or failed read: anonymous visitors go to sign-in, a role without
//! the right gets a 403 page that says who may see it, anything else its (safe) message.
use leptos::prelude::*;

use super::SignInFirst;
use crate::error::AppError;

#[component]
pub fn ErrorNotice(e: AppError, #[prop(into)] who_may: String) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        if e != AppError::Unauthorized {
            resp.set_status(e.status());
        }
    }
    match e {
        AppError::Unauthorized => view! { <SignInFirst/> }.into_any(),
        AppError::Forbidden => view! {
            <p class="error" role="alert" data-testid="forbidden">
                {format!("Only {who_may} can see this page.")}
            </p>
        }
        .into_any(),
        other => view! { <p class="error" role="alert">{other.to_string()}</p> }.into_any(),
    }
}

/// The outcome of the last submit of a form: its error (naming the field) or `done`.
#[component]
pub fn ActionResult<T: 'static, F: Fn() -> Option<Result<T, AppError>> + Send + Sync + 'static>(
    value: F,
    #[prop(into)] testid: String,
    done: fn(&T) -> String,
) -> impl IntoView {
    move || {
        value().map(|r| match r {
            Ok(v) => {
                view! { <p class="ok" role="status" data-testid=testid.clone()>{done(&v)}</p> }.into_any()
            }
            Err(e) => view! { <p class="error" role="alert" data-testid=testid.clone()>{e.to_string()}</p> }
                .into_any(),
        })
    }
}

/// The last submission's error shown beside the field it names (every validation message
/// starts with `field: `), so people see what to fix where they fix it.
#[component]
pub fn FieldError(#[prop(into)] error: Signal<Option<String>>, field: &'static str) -> impl IntoView {
    let prefix = format!("{field}: ");
    move || {
        error.get().and_then(|e| e.strip_prefix(&prefix).map(str::to_string)).map(|msg| {
            view! { <span class="field-error" role="alert" data-testid=format!("error-{field}")>{msg}</span> }
        })
    }
}
