//! Agent and workflow traces: `/traces` lists traces by cost with their depth, steps,
//! retries, tool calls and duration, flagging those over the organisation's limits;
//! `/traces/:id` shows one trace's step tree with tokens, cost and share per step.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::traces::TraceQuery;
use crate::api::{get_trace, list_traces, SetTraceLimits, TraceView, TracesPage};
use crate::components::{ActionResult, ErrorNotice};
use crate::domain::money::group_thousands;
use crate::domain::text::encode_query_value;
use crate::domain::traces::{span_ms, TRACES_PER_PAGE};

#[component]
pub fn TracesListPage() -> impl IntoView {
    let query = use_query_map();
    let save = ServerAction::<SetTraceLimits>::new();
    let save_saved = crate::components::saves(save);
    let page = Resource::new(
        move || {
            let q = query.read();
            let tq = TraceQuery {
                from: q.get("from"),
                to: q.get("to"),
                min_cost: q.get("min_cost"),
                min_depth: q.get("min_depth"),
                min_retries: q.get("min_retries"),
                feature: q.get("feature"),
                model: q.get("model"),
                page: q.get("page"),
            };
            (tq, save_saved.get())
        },
        |(q, _)| list_traces(q),
    );
    view! {
        <Title text="Traces · Costroom"/>
        <h1>"Agent and workflow traces"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading traces…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! { <TraceList p save/> }.into_any(),
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[component]
fn TraceList(p: TracesPage, save: ServerAction<SetTraceLimits>) -> impl IntoView {
    let limits = p.limits;
    let flagged = p.traces.iter().filter(|t| !t.flags(&limits).is_empty()).count();
    let f = p.filter.clone();
    let range = p.range;
    let total = p.total;
    let shown = p.traces.len() as i64;
    let first = f.offset();
    let pages = (total + TRACES_PER_PAGE - 1) / TRACES_PER_PAGE;
    let filtered = f.min_cost.0 > 0
        || f.min_depth > 0
        || f.min_retries > 0
        || !f.feature.is_empty()
        || !f.model.is_empty();
    let page = f.page;
    let prev = (page > 1).then(|| format!("/traces?{}", f.query_for(&range, page - 1)));
    let next = (page < pages).then(|| format!("/traces?{}", f.query_for(&range, page + 1)));
    let blank_zero = |n: i64| if n > 0 { n.to_string() } else { String::new() };
    let min_cost = if f.min_cost.0 > 0 { f.min_cost.decimal(6) } else { String::new() };
    let (min_depth, min_retries) = (blank_zero(f.min_depth), blank_zero(f.min_retries));
    let (feature, model) = (f.feature.clone(), f.model.clone());
    view! {
        <Form method="GET" action="/traces" attr:class="range-form" attr:aria-label="Date range and filters">
            <label>"From " <input type="date" name="from" value=p.range.from.to_string()/></label>
            <label>"To " <input type="date" name="to" value=p.range.to.to_string()/></label>
            <label>"Cost ≥ $" <input name="min_cost" size="7" inputmode="decimal" value=min_cost data-testid="filter-min-cost"/></label>
            <label>"Depth ≥ " <input name="min_depth" size="3" inputmode="numeric" value=min_depth data-testid="filter-min-depth"/></label>
            <label>"Retries ≥ " <input name="min_retries" size="3" inputmode="numeric" value=min_retries data-testid="filter-min-retries"/></label>
            <label>"Feature " <input name="feature" size="12" value=feature data-testid="filter-feature"/></label>
            <label>"Model " <input name="model" size="14" value=model data-testid="filter-model"/></label>
            <button type="submit" data-testid="traces-apply">"Apply"</button>
        </Form>
        <p class="muted" data-testid="traces-summary">
            {format!(
                "{} traces with a step between {} and {}{}, costliest first; showing {} – {}; {flagged} on this page over the limits (depth > {}, retries > {}).",
                group_thousands(total.max(0) as u64),
                p.range.from,
                p.range.to,
                if filtered { " that pass the filters" } else { "" },
                if shown == 0 { 0 } else { first + 1 },
                first + shown,
                limits.max_depth,
                limits.max_retries,
            )}
        </p>
        <nav class="pager" aria-label="Pages of traces">
            {prev.map(|href| view! { <A href=href attr:data-testid="traces-prev">"← Previous"</A> })}
            " "
            <span data-testid="traces-page">{format!("page {page} of {}", pages.max(1))}</span>
            " "
            {next.map(|href| view! { <A href=href attr:data-testid="traces-next">"Next →"</A> })}
        </nav>
        <section class="panel">
            <table data-testid="traces">
                <thead>
                    <tr>
                        <th scope="col">"Trace"</th>
                        <th scope="col">"Team / feature"</th>
                        <th scope="col" class="num">"Cost"</th>
                        <th scope="col" class="num">"Steps"</th>
                        <th scope="col" class="num">"Depth"</th>
                        <th scope="col" class="num">"Retries"</th>
                        <th scope="col" class="num">"Tool calls"</th>
                        <th scope="col" class="num">"Tokens"</th>
                        <th scope="col" class="num">"Duration"</th>
                        <th scope="col">"Flags"</th>
                    </tr>
                </thead>
                <tbody>
                    {p
                        .traces
                        .into_iter()
                        .map(|t| {
                            let flags = t.flags(&limits).join("; ");
                            let href = format!("/traces/{}", encode_query_value(&t.trace_id));
                            let who = format!(
                                "{} / {}",
                                t.team.clone().unwrap_or_else(|| "—".into()),
                                t.feature.clone().unwrap_or_else(|| "—".into()),
                            );
                            let (row_id, name, flagged) = (t.trace_id.clone(), t.trace_id.clone(), !flags.is_empty());
                            view! {
                                <tr data-trace=row_id class:flagged=flagged>
                                    <th scope="row">
                                        <A href=href>{name}</A>
                                    </th>
                                    <td>{who}</td>
                                    <td class="num">{t.cost.usd()}</td>
                                    <td class="num">{t.steps}</td>
                                    <td class="num">{t.depth}</td>
                                    <td class="num">{t.retries}</td>
                                    <td class="num">{t.tool_calls}</td>
                                    <td class="num">{group_thousands(t.tokens.max(0) as u64)}</td>
                                    <td class="num">{duration(t.duration_s())}</td>
                                    <td class="flag">{flags}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
        {p
            .can_edit
            .then(|| {
                view! {
                    <section class="panel form-panel">
                        <h2>"Limits"</h2>
                        <ActionForm action=save attr:class="stack">
                            <label>
                                "Flag traces deeper than "
                                <input name="max_depth" value=limits.max_depth.to_string() inputmode="numeric" size="4" data-testid="limit-depth"/>
                            </label>
                            <label>
                                "Flag traces with more retries than "
                                <input name="max_retries" value=limits.max_retries.to_string() inputmode="numeric" size="4" data-testid="limit-retries"/>
                            </label>
                            <button type="submit" data-testid="limits-submit">"Save limits"</button>
                        </ActionForm>
                        <ActionResult value=move || save.value().get() testid="limits-result" done=|_: &()| "Limits saved.".to_string()/>
                    </section>
                }
            })}
    }
}

#[component]
pub fn TracePage() -> impl IntoView {
    let params = use_params_map();
    let trace = Resource::new(move || params.read().get("id").unwrap_or_default(), get_trace);
    view! {
        <p>
            <A href="/traces">"← All traces"</A>
        </p>
        <Transition fallback=|| view! { <p class="muted">"Loading the trace…"</p> }>
            {move || Suspend::new(async move {
                match trace.await {
                    Ok(t) => {
                        let title = format!("Trace {} · Costroom", t.trace_id);
                        view! { <Title text=title/> <TraceTree t/> }.into_any()
                    }
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn TraceTree(t: TraceView) -> impl IntoView {
    let steps = t.nodes.len();
    let retries = t.nodes.iter().filter(|n| n.step.is_retry()).count();
    let tools = t.nodes.iter().filter(|n| n.step.is_tool_call()).count();
    let depth = t.nodes.iter().map(|n| n.level).max().unwrap_or(0);
    let sum: crate::domain::Nanos = t.nodes.iter().map(|n| n.step.cost).sum();
    let span = span_ms(&t.nodes);
    let parents: Vec<Option<usize>> = t.nodes.iter().map(|n| n.parent).collect();
    let mut ancestors: Vec<Vec<usize>> = vec![Vec::new(); steps];
    let mut below = vec![0usize; steps];
    for (i, up) in ancestors.iter_mut().enumerate() {
        let mut at = parents[i];
        while let Some(p) = at {
            below[p] += 1;
            up.push(p);
            at = parents[p];
        }
    }
    // rows whose subtree is folded away (browser only: the server sends every row)
    let folded = RwSignal::new(std::collections::BTreeSet::<usize>::new());
    view! {
        <h1>"Trace " <code>{t.trace_id.clone()}</code></h1>
        <p data-testid="trace-summary">
            {format!("{steps} steps, {tools} tool calls, {retries} retries, tree depth {depth}, {}; total ", duration_ms(span))}
            <strong data-testid="trace-total">{t.total.usd()}</strong>
        </p>
        <section class="panel">
            <div class="table-wrap">
            <table data-testid="trace-steps" class="tree data">
                <thead>
                    <tr>
                        <th scope="col">"Step"</th>
                        <th scope="col">"Model / tool"</th>
                        <th scope="col" class="waterfall-head">{format!("Timeline (0 – {})", duration_ms(span))}</th>
                        <th scope="col" class="num">"Latency"</th>
                        <th scope="col" class="num">"Tokens in / out"</th>
                        <th scope="col" class="num">"Cost"</th>
                        <th scope="col" class="num">"Share"</th>
                        <th scope="col" class="num">"Running total"</th>
                        <th scope="col" class="num">"With sub-steps"</th>
                    </tr>
                </thead>
                <tbody>
                    {t
                        .nodes
                        .into_iter()
                        .enumerate()
                        .map(|(i, n)| {
                            let up = std::mem::take(&mut ancestors[i]);
                            let hidden = move || {
                                let f = folded.read();
                                up.iter().any(|p| f.contains(p))
                            };
                            let s = n.step;
                            let kind = if s.is_tool_call() {
                                "tool call".to_string()
                            } else if s.is_retry() {
                                format!("retry {}", s.retry.unwrap_or(1))
                            } else {
                                s.operation.clone()
                            };
                            let what = s.tool_name.clone().unwrap_or_else(|| s.model.clone());
                            let indent = format!("padding-left:{}rem", 0.4 + 1.1 * n.shown_level.min(12) as f64);
                            let left = n.offset_ms as f64 * 100.0 / span as f64;
                            let width = (s.latency_ms.unwrap_or(0).max(0) as f64 * 100.0 / span as f64).max(0.4);
                            let bar = format!("left:{left:.2}%;width:{:.2}%", width.min(100.0 - left).max(0.4));
                            let under = below[i];
                            let toggle = (under > 0).then(|| {
                                let label = move || {
                                    if folded.read().contains(&i) { format!("▸ {under}") } else { format!("▾ {under}") }
                                };
                                view! {
                                    <button
                                        type="button"
                                        class="fold"
                                        data-testid="fold"
                                        aria-expanded=move || (!folded.read().contains(&i)).to_string()
                                        aria-label=format!("Fold or unfold the {under} steps under this one")
                                        on:click=move |_| folded.update(|f| if !f.remove(&i) { f.insert(i); })
                                    >
                                        {label}
                                    </button>
                                }
                            });
                            view! {
                                <tr
                                    data-step=s.event_id.clone()
                                    data-level=n.level.to_string()
                                    data-parent=n.parent.map(|p| p.to_string()).unwrap_or_default()
                                    data-at=s.occurred_at.timestamp_millis().to_string()
                                    data-cost=s.cost.0.to_string()
                                    hidden=hidden
                                >
                                    <th scope="row" style=indent title=format!("level {} of the tree", n.level)>
                                        {toggle}
                                        {(n.shown_level > 0 && !s.is_retry()).then_some("└ ")}
                                        {kind}
                                        {(s.status != "ok").then(|| format!(" ({})", s.status))}
                                    </th>
                                    <td>{what}</td>
                                    <td class="waterfall" title=format!("starts at +{}", duration_ms(n.offset_ms))>
                                        <span class="span-bar" class:retry=s.is_retry() class:tool=s.is_tool_call() style=bar></span>
                                    </td>
                                    <td class="num">{s.latency_ms.map(duration_ms).unwrap_or_else(|| "—".into())}</td>
                                    <td class="num">{format!("{} / {}", group_thousands(s.input_tokens.max(0) as u64), group_thousands(s.output_tokens.max(0) as u64))}</td>
                                    <td class="num">{format!("${}", s.cost.decimal(6))}</td>
                                    <td class="num">{format!("{}%", n.share_pct)}</td>
                                    <td class="num">{n.cumulative.usd()}</td>
                                    <td class="num">{n.subtree_cost.usd()}</td>
                                </tr>
                            }
                            // erased: the row's full type overflows the compiler's query depth
                            // when hydrating
                            .into_any()
                        })
                        .collect_view()}
                </tbody>
                <tfoot>
                    <tr>
                        <th scope="row" colspan="5">"Sum of the steps"</th>
                        <td class="num" data-testid="trace-steps-sum">{format!("${}", sum.decimal(6))}</td>
                        <td class="num">"100%"</td>
                        <td></td>
                        <td></td>
                    </tr>
                </tfoot>
            </table>
            </div>
        </section>
    }
}

/// `850 ms`, `12.4 s`, `3 min 5 s`.
fn duration_ms(ms: i64) -> String {
    match ms {
        m if m < 1_000 => format!("{m} ms"),
        m if m < 60_000 => format!("{:.1} s", m as f64 / 1_000.0),
        m => duration(m / 1_000),
    }
}
