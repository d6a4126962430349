//! Forms that add something empty themselves once it is saved, so that what was just added is
//! not left in the fields (looking unsaved, or sent twice by a second click).
use leptos::html::Form;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// A `node_ref` for an `ActionForm` of `action`: the form is reset after each success (an
/// error keeps what was typed, to be corrected).
pub fn reset_on_success<S>(action: ServerAction<S>) -> NodeRef<Form>
where
    S: ServerFn + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
{
    let form = NodeRef::<Form>::new();
    // Browser only (effects do not run on the server).
    Effect::new(move |_| {
        if action.value().with(|v| matches!(v, Some(Ok(_)))) {
            if let Some(f) = form.get_untracked() {
                f.reset();
            }
        }
    });
    form
}

/// How far `action` has got in saves: it moves on a success and holds still on a refusal.
/// Data reloaded after a save is keyed on this rather than on `version()`, because reloading
/// re-renders the form under it and would wipe what the person is correcting after an error.
pub fn saves<S>(action: ServerAction<S>) -> Memo<usize>
where
    S: ServerFn + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
{
    Memo::new(move |prev: Option<&usize>| {
        let version = action.version().get();
        if action.value().with(|v| matches!(v, Some(Ok(_)))) {
            version
        } else {
            prev.copied().unwrap_or(0)
        }
    })
}
