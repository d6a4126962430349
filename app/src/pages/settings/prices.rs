//! Settings → Price book: every model's price (USD per million tokens) and its history, the
//! models whose events have no price yet, and — for engineering and admins — an organisation's
//! own price and a re-price of history with its progress.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use super::SettingsTabs;
use crate::api::{
    list_prices, recompute_status, whoami, PriceRow, PricesPage, SetModelPrice, StartRecompute,
};
use crate::components::{poll_job, ActionResult, ErrorNotice, JobStatus};
use crate::domain::money::group_thousands;
use crate::domain::text::encode_query_value;
use crate::domain::Right;

#[component]
pub fn PriceBookPage() -> impl IntoView {
    let query = use_query_map();
    let q = move |k: &str| query.read().get(k);
    let me = Resource::new(|| (), |_| whoami());
    let set = ServerAction::<SetModelPrice>::new();
    let set_saved = crate::components::saves(set);
    let page = Resource::new(move || (q("q"), q("model"), set_saved.get()), |(q, m, _)| list_prices(q, m));
    // The re-price job's resources live here, not in the form inside a Suspend: hydration
    // must create resources in the same order as the server did.
    let start = ServerAction::<StartRecompute>::new();
    let job = move || start.value().get().and_then(|r| r.ok());
    let status = poll_job(job, recompute_status);
    view! {
        <Title text="Price book · Costroom"/>
        <h1>"Price book"</h1>
        <SettingsTabs/>
        <p class="muted">
            "Public prices from LiteLLM's price map (MIT, BerriAI/litellm 1.110.2), in USD per million tokens; "
            "an organisation's own prices win from their first day. Events are priced by the version in force "
            "on their day; a provider-reported cost always wins."
        </p>
        <Transition fallback=|| view! { <p class="muted">"Loading prices…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! { <PricesBody p q=q("q").unwrap_or_default() model=q("model")/> }.into_any(),
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let engineer = me.await.ok().flatten().is_some_and(|m| m.role.can(Right::ManageEngineering));
                engineer.then(|| view! {
                    <SetPriceForm set model=q("set_model").unwrap_or_default() provider=q("set_provider").unwrap_or_default()/>
                    <RecomputeForm start status/>
                })
            })}
        </Suspense>
    }
}

#[component]
fn PricesBody(p: PricesPage, q: String, model: Option<String>) -> impl IntoView {
    let history = model.map(|m| {
        view! {
            <section class="panel">
                <h2>{format!("History of {m}")}</h2>
                <PriceTable rows=p.history.clone() testid="price-history"/>
            </section>
        }
    });
    let unpriced = (!p.unpriced.is_empty()).then(|| {
        view! {
            <section class="panel warn" data-testid="unpriced">
                <h2>"Models without a price"</h2>
                <p class="muted">"Their events count $0 until a price arrives; then they are re-priced."</p>
                <table class="grid">
                    <thead><tr><th>"Model"</th><th>"Provider"</th><th class="num">"Events"</th><th class="num">"Input tokens"</th><th class="num">"Output tokens"</th><th></th></tr></thead>
                    <tbody>
                        {p.unpriced.into_iter().map(|u| {
                            let href = format!("/settings/prices?set_model={}&set_provider={}#set-price", encode_query_value(&u.model), encode_query_value(&u.provider));
                            view! {
                                <tr data-testid=format!("unpriced-{}", u.model)>
                                    <td>{u.model.clone()}</td>
                                    <td>{u.provider.clone()}</td>
                                    <td class="num">{group_thousands(u.events as u64)}</td>
                                    <td class="num">{group_thousands(u.input_tokens as u64)}</td>
                                    <td class="num">{group_thousands(u.output_tokens as u64)}</td>
                                    <td><a href=href>"Set a price"</a></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        }
    });
    let priced_by = (!p.priced_by.is_empty()).then(|| {
        view! {
            <section class="panel" data-testid="priced-by">
                <h2>"How your calls are priced"</h2>
                <p class="muted">"The last 30 days. Each call is priced from its provider's own entry first, then from the model maker's, then from the list's unprefixed entry."</p>
                <table class="grid">
                    <thead><tr><th>"Provider"</th><th>"Model sent"</th><th>"Priced from"</th><th>"Entry's provider"</th><th>"Source"</th><th>"Rule"</th><th class="num">"Calls"</th></tr></thead>
                    <tbody>
                        {p.priced_by.into_iter().map(|r| {
                            let href = format!("/settings/prices?model={}", encode_query_value(&r.entry));
                            let testid = format!("priced-by-{}-{}", r.provider, r.model);
                            view! {
                                <tr data-testid=testid>
                                    <td>{r.provider}</td>
                                    <td>{r.model}</td>
                                    <td><a href=href>{r.entry}</a></td>
                                    <td>{r.entry_provider}</td>
                                    <td>{r.source}</td>
                                    <td>{r.rule}</td>
                                    <td class="num">{group_thousands(r.events as u64)}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        }
    });
    view! {
        {unpriced}
        <Form method="GET" action="/settings/prices" attr:class="range-form" attr:aria-label="Search prices">
            <label>"Model or provider " <input name="q" value=q placeholder="e.g. gpt-4o" data-testid="price-search"/></label>
            <button type="submit" data-testid="price-search-submit">"Search"</button>
        </Form>
        <p class="muted" data-testid="price-count">
            {format!("{} model{}", p.matches, if p.matches == 1 { "" } else { "s" })}
            {(p.matches > p.rows.len()).then(|| format!(" (the first {} shown; search to narrow)", p.rows.len()))}
        </p>
        {history}
        <div class="panel"><PriceTable rows=p.rows testid="prices"/></div>
        {priced_by}
    }
    .into_any()
}

#[component]
fn PriceTable(rows: Vec<PriceRow>, testid: &'static str) -> impl IntoView {
    let cell = |v: Option<String>| v.map(|v| format!("${v}")).unwrap_or_else(|| "—".into());
    view! {
        <table class="grid" data-testid=testid>
            <thead>
                <tr>
                    <th>"Model"</th><th>"Provider"</th><th>"From"</th><th>"Source"</th>
                    <th class="num">"Input"</th><th class="num">"Output"</th><th class="num">"Cache read"</th>
                    <th class="num">"Cache write"</th><th class="num">"Variants"</th>
                </tr>
            </thead>
            <tbody>
                {rows.into_iter().map(|r| {
                    let href = format!("/settings/prices?model={}", encode_query_value(&r.model));
                    let source = if r.own { format!("own ({})", r.source) } else { r.source.clone() };
                    view! {
                        <tr data-testid=format!("price-{}", r.model)>
                            <td><a href=href>{r.model.clone()}</a></td>
                            <td>{r.provider.clone()}</td>
                            <td>{r.effective_from.to_string()}</td>
                            <td>{source}</td>
                            <td class="num">{cell(r.input)}</td>
                            <td class="num">{cell(r.output)}</td>
                            <td class="num">{cell(r.cache_read)}</td>
                            <td class="num">{cell(r.cache_write)}</td>
                            <td class="num" title="tier and long-context rates">{r.variants}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn SetPriceForm(set: ServerAction<SetModelPrice>, model: String, provider: String) -> impl IntoView {
    view! {
        <section class="panel form-panel" id="set-price">
            <h2>"Set the organisation's own price"</h2>
            <p class="muted">"A negotiated rate, or a model the public list lacks. USD per million tokens."</p>
            <ActionForm action=set node_ref=crate::components::reset_on_success(set) attr:class="stack">
                <label>"Model (as events name it)" <input name="model" required value=model data-testid="set-model"/></label>
                <label>"Provider" <input name="provider" required value=provider data-testid="set-provider"/></label>
                <label>"In force from" <input type="date" name="effective_from" required data-testid="set-from"/></label>
                <label>"Input $ / 1M tokens" <input name="input_per_m" required inputmode="decimal" data-testid="set-input"/></label>
                <label>"Output $ / 1M tokens" <input name="output_per_m" required inputmode="decimal" data-testid="set-output"/></label>
                <label>"Cache read $ / 1M tokens (optional)" <input name="cache_read_per_m" inputmode="decimal"/></label>
                <label>"Cache write $ / 1M tokens (optional)" <input name="cache_write_per_m" inputmode="decimal"/></label>
                <button type="submit" data-testid="set-submit">"Save and re-price"</button>
            </ActionForm>
            <ActionResult value=move || set.value().get() testid="set-result" done=|s: &String| s.clone()/>
        </section>
    }
    .into_any()
}

/// Starts a re-price and shows its progress until it ends (polling while it runs).
#[component]
fn RecomputeForm(
    start: ServerAction<StartRecompute>,
    status: Resource<Option<crate::api::JobView>>,
) -> impl IntoView {
    view! {
        <section class="panel form-panel">
            <h2>"Re-price history"</h2>
            <p class="muted">"Prices every event since a day again with the current price book; totals and rollups follow exactly."</p>
            <ActionForm action=start attr:class="stack">
                <label>"Since" <input type="date" name="since" required data-testid="recompute-since"/></label>
                <button type="submit" data-testid="recompute-submit">"Re-price"</button>
            </ActionForm>
            {move || start.value().get().and_then(|r| r.err()).map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
            <JobStatus status testid="recompute" unit="events examined"/>
        </section>
    }
    .into_any()
}
