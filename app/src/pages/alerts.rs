//! `/alerts`: the inbox behind the bell. It lists exactly what the bell counts (the same list,
//! read per person); marking read changes only the reader's own bell.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::{get_inbox, MarkAlertsRead};
use crate::components::{ActionResult, AlertsChanged, ErrorNotice};
use crate::domain::inbox::{unread, InboxItem};

#[component]
pub fn AlertsPage() -> impl IntoView {
    let read = ServerAction::<MarkAlertsRead>::new();
    let read_saved = crate::components::saves(read);
    let page = Resource::new(move || read_saved.get(), |_| get_inbox());
    Effect::new(move |_| {
        if read.value().get().is_some_and(|r| r.is_ok()) {
            AlertsChanged::bump();
        }
    });
    view! {
        <Title text="Alerts · Costroom"/>
        <h1>"Alerts"</h1>
        <p class="muted">
            "Budget thresholds and projections, announced cost anomalies and new cost reviews of the last 90 days. "
            "Read and unread are yours alone: marking read does not change anyone else's bell."
        </p>
        <ActionResult value=move || read.value().get() testid="alerts-read-result" done=|n: &u64| format!("{n} marked read.")/>
        <Transition fallback=|| view! { <p class="muted">"Loading alerts…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(items) => view! { <Inbox items read/> }.into_any(),
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Inbox(items: Vec<InboxItem>, read: ServerAction<MarkAlertsRead>) -> impl IntoView {
    let count = unread(&items);
    let empty = items.is_empty();
    view! {
        <section class="panel" aria-label="Inbox">
            <div class="panel-head">
                <h2 data-testid="inbox-unread">{format!("{count} unread of {}", items.len())}</h2>
                {(count > 0)
                    .then(|| {
                        view! {
                            <ActionForm action=read>
                                <button type="submit" data-testid="alerts-read">"Mark all read"</button>
                            </ActionForm>
                        }
                    })}
            </div>
            {empty.then(|| view! { <p class="muted">"No alerts in the last 90 days."</p> })}
            <ul data-testid="inbox" class="alerts">
                {items
                    .into_iter()
                    .map(|i| {
                        let at = chrono::DateTime::from_timestamp_millis(i.at_ms)
                            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                            .unwrap_or_default();
                        let (kind, id) = (i.kind.as_str(), i.id);
                        view! {
                            <li class:unread=!i.read data-kind=kind data-read=i.read.to_string()>
                                <span class="tag">{i.kind.label()}</span>
                                " "
                                <time>{at}</time>
                                " "
                                <A href=i.link>{i.text}</A>
                                {(!i.read)
                                    .then(|| {
                                        view! {
                                            <ActionForm action=read attr:class="inline">
                                                <input type="hidden" name="kind" value=kind/>
                                                <input type="hidden" name="id" value=id.to_string()/>
                                                <button type="submit" class="link" data-testid="alert-read-one">
                                                    "Mark read"
                                                </button>
                                            </ActionForm>
                                        }
                                    })}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}
