//! Settings → Webhooks: where alerts go outside Costroom (Slack-compatible or generic JSON),
//! and the delivery log with every failure and retry. Everyone reads; admins, finance and
//! engineering change them.
use leptos::prelude::*;
use leptos_meta::Title;

use super::SettingsTabs;
use crate::api::webhooks::{list_webhooks, CreateWebhook, DeleteWebhook, RetryDelivery, TestWebhook};
use crate::components::{ActionResult, ErrorNotice, FieldError};
use crate::domain::webhook::{Delivery, DeliveryStatus, Webhook};

/// Unix milliseconds as a short UTC time, with seconds (retries are seconds apart).
fn at(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let create = ServerAction::<CreateWebhook>::new();
    let delete = ServerAction::<DeleteWebhook>::new();
    let test = ServerAction::<TestWebhook>::new();
    let retry = ServerAction::<RetryDelivery>::new();
    let refresh = RwSignal::new(0u32);
    let create_saved = crate::components::saves(create);
    let delete_saved = crate::components::saves(delete);
    let test_saved = crate::components::saves(test);
    let retry_saved = crate::components::saves(retry);
    let page = Resource::new(
        move || (create_saved.get(), delete_saved.get(), test_saved.get(), retry_saved.get(), refresh.get()),
        |_| list_webhooks(),
    );
    view! {
        <Title text="Webhooks · Costroom"/>
        <h1>"Webhooks"</h1>
        <SettingsTabs/>
        <p class="muted">
            "Budget alerts are posted to every webhook below, once each. A failed delivery is tried again "
            "after 30 s, then twice as long each time (8 attempts, about an hour and a half); every attempt "
            "carries the same " <code>"X-Costroom-Delivery"</code> " id so a receiver can ignore a repeat."
        </p>
        <Transition fallback=|| view! { <p class="muted">"Loading webhooks…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => {
                        let can = p.can_manage;
                        view! {
                            <HooksTable list=p.webhooks can delete test/>
                            <div class="panel-head">
                                <h2>"Delivery log"</h2>
                                <button type="button" data-testid="refresh-log" on:click=move |_| refresh.update(|n| *n += 1)>"Refresh"</button>
                            </div>
                            <DeliveryLog list=p.deliveries can retry/>
                            {can.then(|| view! { <CreateHookForm create/> })}
                        }
                            .into_any()
                    }
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
        <ActionResult value=move || test.value().get() testid="test-result" done=|_: &()| "Test message queued: watch the delivery log.".to_string()/>
        <ActionResult value=move || retry.value().get() testid="retry-result" done=|_: &()| "Delivery queued again.".to_string()/>
        <ActionResult value=move || delete.value().get() testid="delete-result" done=|_: &()| "Webhook deleted.".to_string()/>
    }
    .into_any()
}

#[component]
fn HooksTable(
    list: Vec<Webhook>,
    can: bool,
    delete: ServerAction<DeleteWebhook>,
    test: ServerAction<TestWebhook>,
) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="muted" data-testid="no-webhooks">"No webhooks yet: alerts are shown in the app only."</p> }
            .into_any();
    }
    view! {
        <div class="panel">
            <table class="grid" data-testid="webhooks">
                <thead>
                    <tr><th>"Name"</th><th>"Address"</th><th>"Body"</th><th></th></tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|w| {
                            let id = w.id;
                            let actions = can.then(move || view! {
                                <ActionForm action=test attr:class="inline">
                                    <input type="hidden" name="id" value=id/>
                                    <button type="submit" data-testid=format!("test-{id}")>"Send test"</button>
                                </ActionForm>
                                " "
                                <ActionForm action=delete attr:class="inline">
                                    <input type="hidden" name="id" value=id/>
                                    <button type="submit" class="danger" data-testid=format!("delete-{id}")>"Delete"</button>
                                </ActionForm>
                            });
                            let body = match w.format {
                                crate::domain::webhook::WebhookFormat::Slack => "Slack-compatible",
                                crate::domain::webhook::WebhookFormat::Json => "JSON",
                            };
                            view! {
                                <tr data-testid=format!("webhook-{}", w.name)>
                                    <td>{w.name.clone()}</td>
                                    <td><code>{w.url_shown.clone()}</code></td>
                                    <td>{body}</td>
                                    <td>{actions}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn DeliveryLog(list: Vec<Delivery>, can: bool, retry: ServerAction<RetryDelivery>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="muted" data-testid="no-deliveries">"Nothing sent yet."</p> }.into_any();
    }
    view! {
        <div class="panel">
            <table class="grid" data-testid="deliveries">
                <thead>
                    <tr>
                        <th>"Queued"</th>
                        <th>"Webhook"</th>
                        <th>"Message"</th>
                        <th>"Status"</th>
                        <th class="num">"Attempts"</th>
                        <th>"Last result"</th>
                        <th>"Delivered / next try"</th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|d| {
                            let id = d.id;
                            let status = d.status;
                            let retry_form = (can && status == DeliveryStatus::Failed).then(move || view! {
                                <ActionForm action=retry attr:class="inline">
                                    <input type="hidden" name="id" value=id/>
                                    " "
                                    <button type="submit" data-testid=format!("retry-{id}")>"Retry"</button>
                                </ActionForm>
                            });
                            let last = match (d.last_status, d.last_error.clone()) {
                                (_, Some(e)) => e,
                                (Some(s), None) => format!("HTTP {s}"),
                                (None, None) => "—".into(),
                            };
                            let when = match (d.delivered_at, d.next_attempt_at) {
                                (Some(t), _) => at(t),
                                (None, Some(t)) => format!("next {}", at(t)),
                                (None, None) => "—".into(),
                            };
                            view! {
                                <tr data-testid=format!("delivery-{id}") class=format!("delivery-{}", status.as_str())>
                                    <td>{at(d.created_at)}</td>
                                    <td>{d.webhook.clone()}</td>
                                    <td>{d.title.clone()}</td>
                                    <td data-testid="delivery-status">{status.as_str()} {retry_form}</td>
                                    <td class="num" data-testid="delivery-attempts">{d.attempts}</td>
                                    <td>{last}</td>
                                    <td>{when}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn CreateHookForm(create: ServerAction<CreateWebhook>) -> impl IntoView {
    let err = Signal::derive(move || create.value().get().and_then(Result::err).map(|e| e.to_string()));
    view! {
        <section class="panel form-panel">
            <h2>"Add a webhook"</h2>
            <ActionForm action=create node_ref=crate::components::reset_on_success(create) attr:class="stack">
                <label>"Name" <input name="name" required data-testid="hook-name"/> <FieldError error=err field="name"/></label>
                <label>
                    "Address (kept whole on the server, shown without its path)"
                    <input name="url" type="url" required placeholder="https://hooks.slack.com/services/…" data-testid="hook-url"/> <FieldError error=err field="url"/>
                </label>
                <label>
                    "Body"
                    <select name="format" data-testid="hook-format">
                        <option value="slack">"Slack-compatible (text)"</option>
                        <option value="json">"JSON (every figure, exact)"</option>
                    </select>
                    <FieldError error=err field="format"/>
                </label>
                <button type="submit" data-testid="hook-submit">"Add webhook"</button>
            </ActionForm>
            <ActionResult value=move || create.value().get() testid="hook-result" done=|_: &i64| "Webhook added.".to_string()/>
        </section>
    }
    .into_any()
}
