//! Settings → API keys: everyone sees which keys exist (never a secret); engineering and
//! admins create and revoke them. A new key's token is shown once, right here.
use leptos::prelude::*;
use leptos_meta::Title;

use super::{short_time, SettingsTabs};
use crate::api::{
    get_attribute_mapping, list_api_keys, list_teams, whoami, CreateApiKey, KeyInfo, RevokeApiKey,
    SetAttributeMapping,
};
use crate::components::{ActionResult, ErrorNotice};
use crate::domain::Right;

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let create_saved = crate::components::saves(create);
    let revoke_saved = crate::components::saves(revoke);
    let keys = Resource::new(move || (create_saved.get(), revoke_saved.get()), |_| list_api_keys());
    // Created here, not inside the form's Suspend: resources must be created in the same order
    // during hydration as on the server, and an async block resolves in no fixed order.
    let teams = Resource::new(|| (), |_| list_teams());
    view! {
        <Title text="API keys · Costroom"/>
        <h1>"API keys"</h1>
        <SettingsTabs/>
        <p class="muted">
            "Machines send " <code>"Authorization: Bearer cr_…"</code>
            ". Costroom keeps only a keyed hash of each secret: a lost key cannot be shown again, only replaced."
        </p>
        <NewKeyNotice create/>
        <Transition fallback=|| view! { <p class="muted">"Loading keys…"</p> }>
            {move || Suspend::new(async move {
                let engineer = me.await.ok().flatten().is_some_and(|m| m.role.can(Right::ManageEngineering));
                match keys.await {
                    Ok(list) => view! { <KeysTable list engineer revoke/> }.into_any(),
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
        <ActionResult value=move || revoke.value().get() testid="revoke-result" done=|k: &KeyInfo| format!("Key {} ({}) revoked.", k.name, k.prefix)/>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let engineer = me.await.ok().flatten().is_some_and(|m| m.role.can(Right::ManageEngineering));
                engineer.then(|| view! { <CreateKeyForm create teams/> })
            })}
        </Suspense>
        <OtelMapping me/>
    }
}

/// Which OpenTelemetry span attributes fill attribution (`POST /v1/traces`).
#[component]
fn OtelMapping(me: Resource<Result<Option<crate::api::Me>, crate::error::AppError>>) -> impl IntoView {
    let save = ServerAction::<SetAttributeMapping>::new();
    let save_saved = crate::components::saves(save);
    let mapping = Resource::new(move || save_saved.get(), |_| get_attribute_mapping());
    view! {
        <section class="panel form-panel" data-testid="otel-mapping">
            <h2>"OpenTelemetry attribution"</h2>
            <p class="muted">
                "Spans sent to " <code>"/v1/traces"</code> " are attributed from these span or resource attributes; "
                "the first one present wins. The key's team and initiative fill what is still missing."
            </p>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let engineer = me.await.ok().flatten().is_some_and(|m| m.role.can(Right::ManageEngineering));
                    let Ok(m) = mapping.await else { return ().into_any() };
                    let rows = [
                        ("team", m.team.join(", ")),
                        ("feature", m.feature.join(", ")),
                        ("initiative", m.initiative.join(", ")),
                        ("customer", m.customer.join(", ")),
                        ("environment", m.environment.join(", ")),
                    ];
                    if engineer {
                        view! {
                            <ActionForm action=save attr:class="stack">
                                {rows
                                    .into_iter()
                                    .map(|(dim, v)| view! {
                                        <label>{dim} <input name=dim value=v data-testid=format!("map-{dim}")/></label>
                                    })
                                    .collect_view()}
                                <button type="submit" data-testid="map-submit">"Save mapping"</button>
                            </ActionForm>
                        }
                            .into_any()
                    } else {
                        view! {
                            <table class="grid">
                                <tbody>
                                    {rows.into_iter().map(|(dim, v)| view! { <tr><th>{dim}</th><td>{v}</td></tr> }).collect_view()}
                                </tbody>
                            </table>
                        }
                            .into_any()
                    }
                })}
            </Transition>
            <ActionResult value=move || save.value().get() testid="map-result" done=|_: &crate::domain::otlp::AttributeMapping| "Mapping saved.".to_string()/>
        </section>
    }
    .into_any()
}

/// The token of the key just created, or the error of the attempt.
#[component]
fn NewKeyNotice(create: ServerAction<CreateApiKey>) -> impl IntoView {
    move || {
        create.value().get().map(|r| match r {
            Ok(k) => view! {
                <section class="panel notice" role="status">
                    <h2>{format!("Key {} created", k.key.name)}</h2>
                    <p>"Copy the token now. It will not be shown again."</p>
                    <code class="token" data-testid="new-key-token">{k.token.clone()}</code>
                </section>
            }
            .into_any(),
            Err(e) => {
                view! { <p class="error" role="alert" data-testid="key-error">{e.to_string()}</p> }.into_any()
            }
        })
    }
}

#[component]
fn KeysTable(list: Vec<KeyInfo>, engineer: bool, revoke: ServerAction<RevokeApiKey>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="muted" data-testid="no-keys">"No API keys yet."</p> }.into_any();
    }
    view! {
        <div class="panel">
            <table class="grid" data-testid="keys">
                <thead>
                    <tr>
                        <th>"Name"</th>
                        <th>"Prefix"</th>
                        <th>"Team"</th>
                        <th>"Scopes"</th>
                        <th>"Created"</th>
                        <th>"Expires"</th>
                        <th>"Last used"</th>
                        <th>"Status"</th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|k| {
                            let status = k.status.clone();
                            let prefix = k.prefix.clone();
                            let revoke_form = (engineer && status == "active").then(move || view! {
                                <ActionForm action=revoke attr:class="inline">
                                    <input type="hidden" name="prefix" value=prefix.clone()/>
                                    " "
                                    <button type="submit" data-testid=format!("revoke-{prefix}")>"Revoke"</button>
                                </ActionForm>
                            });
                            let created = format!(
                                "{} by {}",
                                short_time(k.created_at),
                                k.created_by.clone().unwrap_or_else(|| "command line".into())
                            );
                            view! {
                                <tr data-testid=format!("key-{}", k.name)>
                                    <td>{k.name.clone()}</td>
                                    <td><code>{k.prefix.clone()}</code></td>
                                    <td>{k.team.clone()}</td>
                                    <td>{k.scopes.replace(',', ", ")}</td>
                                    <td>{created}</td>
                                    <td>{k.expires_at.map(short_time).unwrap_or_else(|| "never".into())}</td>
                                    <td>{k.last_used_at.map(short_time).unwrap_or_else(|| "never".into())}</td>
                                    <td data-testid="key-status">{status} {revoke_form}</td>
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
fn CreateKeyForm(
    create: ServerAction<CreateApiKey>,
    teams: Resource<Result<Vec<crate::api::TeamInfo>, crate::error::AppError>>,
) -> impl IntoView {
    view! {
        <section class="panel form-panel">
            <h2>"Create a key"</h2>
            <ActionForm action=create node_ref=crate::components::reset_on_success(create) attr:class="stack">
                <label>"Name (what uses it)" <input name="name" required data-testid="key-name"/></label>
                <label>
                    "Team"
                    <Suspense fallback=|| view! { <select name="team" required></select> }>
                        {move || Suspend::new(async move {
                            let teams = teams.await.unwrap_or_default();
                            view! {
                                <select name="team" required data-testid="key-team">
                                    {teams
                                        .into_iter()
                                        .filter(|t| !t.spend_only)
                                        .map(|t| view! { <option value=t.slug.clone()>{format!("{} ({})", t.name, t.slug)}</option> })
                                        .collect_view()}
                                </select>
                            }
                        })}
                    </Suspense>
                </label>
                <fieldset class="scopes">
                    <legend>"Scopes"</legend>
                    <label class="check"><input type="checkbox" name="scope_ingest" checked data-testid="scope-ingest"/>" ingest (send usage)"</label>
                    <label class="check"><input type="checkbox" name="scope_authorize" data-testid="scope-authorize"/>" authorize (guardrail checks)"</label>
                    <label class="check"><input type="checkbox" name="scope_read" data-testid="scope-read"/>" read (figures)"</label>
                    <label class="check"><input type="checkbox" name="scope_outcomes" data-testid="scope-outcomes"/>" outcomes (one initiative's value; you must manage it)"</label>
                    <label class="check"><input type="checkbox" name="scope_gateway" data-testid="scope-gateway"/>" gateway (model calls through Costroom's gateway)"</label>
                </fieldset>
                <label>"Initiative key (required for outcomes)" <input name="initiative" data-testid="key-initiative"/></label>
                <label>"Expires in days (optional)" <input type="number" min="1" name="expires_in_days" data-testid="key-expires"/></label>
                <button type="submit" data-testid="key-submit">"Create key"</button>
            </ActionForm>
        </section>
    }
    .into_any()
}
