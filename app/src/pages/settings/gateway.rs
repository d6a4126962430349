//! Settings → Gateway: where the gateway sends each provider's calls (the provider key is
//! encrypted at rest and never shown again), the keys applications use, and the lines to
//! change in an application's SDK set-up. Everyone reads; engineering and admins change.
use leptos::prelude::*;
use leptos_meta::Title;

use super::{short_time, SettingsTabs};
use crate::api::gateway::{gateway_page, DeleteUpstream, GatewayKey, GatewaySettings, SaveUpstream};
use crate::components::{ActionResult, ErrorNotice, FieldError};
use crate::domain::gateway::UpstreamView;

#[component]
pub fn GatewayPage() -> impl IntoView {
    let save = ServerAction::<SaveUpstream>::new();
    let delete = ServerAction::<DeleteUpstream>::new();
    let saved = crate::components::saves(save);
    let deleted = crate::components::saves(delete);
    let page = Resource::new(move || (saved.get(), deleted.get()), |_| gateway_page());
    view! {
        <Title text="Gateway · Costroom"/>
        <h1>"Gateway"</h1>
        <SettingsTabs/>
        <p class="muted">
            "Point an OpenAI or Anthropic SDK at Costroom instead of the provider: every call is checked "
            "against the guardrails before it is sent, passed through unchanged (streams included), priced "
            "from the usage the provider reports, and recorded with who made it. Prompts and answers are "
            "never stored. Attribution comes from the key (team, initiative) and optional "
            <code>"x-costroom-feature"</code>", " <code>"-customer"</code>", " <code>"-environment"</code>", "
            <code>"-trace-id"</code>", " <code>"-parent-span-id"</code>", " <code>"-depth"</code>", "
            <code>"-retry"</code>" and " <code>"-tags"</code>" headers (" <code>"k=v,k2=v2"</code>
            "), which the provider never sees."
        </p>
        <Transition fallback=|| view! { <p class="muted">"Loading the gateway…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! { <GatewayBody p save delete/> }.into_any(),
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
        <ActionResult value=move || delete.value().get() testid="upstream-delete-result" done=|_: &()| "Upstream removed.".to_string()/>
    }
    .into_any()
}

#[component]
fn GatewayBody(
    p: GatewaySettings,
    save: ServerAction<SaveUpstream>,
    delete: ServerAction<DeleteUpstream>,
) -> impl IntoView {
    let GatewaySettings { upstreams, keys, origin, can_store_keys, can_manage } = p;
    let key = keys.first().map(|k| format!("cr_{}_…", k.prefix)).unwrap_or_else(|| "cr_…".into());
    view! {
        <h2>"Upstreams"</h2>
        <Upstreams list=upstreams can=can_manage delete/>
        {(can_manage && !can_store_keys).then(|| view! {
            <p class="notice warn" data-testid="no-secret-key">
                "This server has no secret key, so provider keys cannot be stored. Start it with "
                <code>"COSTROOM_SECRET_KEY_FILE"</code>" pointing at a file made by "
                <code>"costroom secret generate"</code>"."
            </p>
        })}
        {can_manage.then(|| view! { <UpstreamForm save/> })}
        <h2>"Keys for applications"</h2>
        <GatewayKeys keys/>
        <h2>"In your application"</h2>
        <Snippets origin key/>
    }
}

#[component]
fn Upstreams(list: Vec<UpstreamView>, can: bool, delete: ServerAction<DeleteUpstream>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="muted" data-testid="no-upstreams">"No upstream yet: gateway calls are refused until one is set."</p> }
            .into_any();
    }
    view! {
        <div class="panel">
            <table class="grid" data-testid="upstreams">
                <thead>
                    <tr><th>"Provider"</th><th>"Address"</th><th>"Key"</th><th>"State"</th><th>"Changed"</th><th></th></tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|u| {
                            let provider = u.provider.clone();
                            let remove = can.then(|| view! {
                                <ActionForm action=delete attr:class="inline">
                                    <input type="hidden" name="provider" value=provider.clone()/>
                                    <button type="submit" class="danger" data-testid=format!("remove-{provider}")>"Remove"</button>
                                </ActionForm>
                            });
                            let state = if u.usable { "ready" } else { "key cannot be opened: set it again" };
                            view! {
                                <tr data-testid=format!("upstream-{}", u.provider)>
                                    <td>{u.provider.clone()}</td>
                                    <td><code>{u.base_url.clone()}</code></td>
                                    <td data-testid="key-hint"><code>{u.key_hint.clone()}</code></td>
                                    <td>{state}</td>
                                    <td>{short_time(u.updated_at)} " " {u.updated_by.clone().unwrap_or_else(|| "command line".into())}</td>
                                    <td>{remove}</td>
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
fn UpstreamForm(save: ServerAction<SaveUpstream>) -> impl IntoView {
    let err = Signal::derive(move || save.value().get().and_then(Result::err).map(|e| e.to_string()));
    view! {
        <section class="panel form-panel">
            <h2>"Set an upstream"</h2>
            <ActionForm action=save node_ref=crate::components::reset_on_success(save) attr:class="stack">
                <label>
                    "Provider"
                    <select name="provider" data-testid="upstream-provider">
                        <option value="openai">"OpenAI (or an OpenAI-compatible API)"</option>
                        <option value="anthropic">"Anthropic"</option>
                    </select>
                    <FieldError error=err field="provider"/>
                </label>
                <label>
                    "Base URL (empty: the provider's public API)"
                    <input name="base_url" placeholder="https://api.openai.com/v1" data-testid="upstream-url"/>
                    <FieldError error=err field="base_url"/>
                </label>
                <label>
                    "Provider API key (encrypted before it is stored, never shown again; empty keeps the stored key)"
                    <input name="api_key" type="password" autocomplete="off" data-testid="upstream-key"/>
                    <FieldError error=err field="api_key"/>
                </label>
                <button type="submit" data-testid="upstream-submit">"Save upstream"</button>
            </ActionForm>
            <ActionResult value=move || save.value().get() testid="upstream-result"
                done=|u: &UpstreamView| format!("{} upstream saved (key {}).", u.provider, u.key_hint)/>
        </section>
    }
}

#[component]
fn GatewayKeys(keys: Vec<GatewayKey>) -> impl IntoView {
    if keys.is_empty() {
        return view! {
            <p class="muted" data-testid="no-gateway-keys">
                "No key with scope gateway yet: create one under " <a href="/settings/keys">"API keys"</a>
                " (tick gateway). A gateway key sends calls only; it cannot read spend."
            </p>
        }
        .into_any();
    }
    view! {
        <ul data-testid="gateway-keys">
            {keys.into_iter().map(|k| view! { <li><code>{format!("cr_{}_…", k.prefix)}</code>" " {k.name} " (team " {k.team} ")"</li> }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn Snippets(origin: String, key: String) -> impl IntoView {
    let openai = format!("{origin}/gateway/openai/v1");
    let anthropic = format!("{origin}/gateway/anthropic");
    let py_openai = format!(
        "from openai import OpenAI\n\nclient = OpenAI(\n    base_url=\"{openai}\",\n    api_key=\"{key}\",  # a Costroom key with scope gateway\n    default_headers={{\"x-costroom-feature\": \"faq\"}},\n)\nclient.chat.completions.create(model=\"gpt-4o-mini\", messages=[{{\"role\": \"user\", \"content\": \"Hello\"}}])"
    );
    let py_anthropic = format!(
        "from anthropic import Anthropic\n\nclient = Anthropic(\n    base_url=\"{anthropic}\",\n    api_key=\"{key}\",\n    default_headers={{\"x-costroom-feature\": \"faq\"}},\n)\nclient.messages.create(model=\"claude-haiku-4-5\", max_tokens=256, messages=[{{\"role\": \"user\", \"content\": \"Hello\"}}])"
    );
    let ts_openai = format!(
        "import OpenAI from \"openai\";\n\nconst client = new OpenAI({{\n  baseURL: \"{openai}\",\n  apiKey: process.env.COSTROOM_KEY, // {key}\n  defaultHeaders: {{ \"x-costroom-feature\": \"faq\" }},\n}});"
    );
    let ts_anthropic = format!(
        "import Anthropic from \"@anthropic-ai/sdk\";\n\nconst client = new Anthropic({{\n  baseURL: \"{anthropic}\",\n  apiKey: process.env.COSTROOM_KEY, // {key}\n  defaultHeaders: {{ \"x-costroom-feature\": \"faq\" }},\n}});"
    );
    view! {
        <div class="snippets" data-testid="snippets">
            <h3>"Python · OpenAI"</h3><pre data-testid="snippet-py-openai"><code>{py_openai}</code></pre>
            <h3>"Python · Anthropic"</h3><pre data-testid="snippet-py-anthropic"><code>{py_anthropic}</code></pre>
            <h3>"TypeScript · OpenAI"</h3><pre data-testid="snippet-ts-openai"><code>{ts_openai}</code></pre>
            <h3>"TypeScript · Anthropic"</h3><pre data-testid="snippet-ts-anthropic"><code>{ts_anthropic}</code></pre>
        </div>
    }
}
