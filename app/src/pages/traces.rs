//! Agent and workflow traces: `/traces` lists traces by cost with their depth, steps,
//! retries, tool calls and duration, flagging those over the organisation's limits;
//! `/traces/:id` shows one trace's step tree with tokens, cost and share per step.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{get_trace, list_traces, SetTraceLimits, TraceView, TracesPage};
use crate::components::{ActionResult, ErrorNotice};
use crate::domain::money::group_thousands;
use crate::domain::text::encode_query_value;

#[component]
pub fn TracesListPage() -> impl IntoView {
    let query = use_query_map();
    let save = ServerAction::<SetTraceLimits>::new();
    let page = Resource::new(
        move || (query.read().get("from"), query.read().get("to"), save.version().get()),
        |(f, t, _)| list_traces(f, t),
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
    view! {
        <Form method="GET" action="/traces" attr:class="range-form" attr:aria-label="Date range">
            <label>"From " <input type="date" name="from" value=p.range.from.to_string()/></label>
            <label>"To " <input type="date" name="to" value=p.range.to.to_string()/></label>
            <button type="submit">"Apply"</button>
        </Form>
        <p class="muted" data-testid="traces-summary">
            {format!(
                "{} traces with a step between {} and {}, costliest first; {flagged} over the limits (depth > {}, retries > {}).",
                p.traces.len(),
                p.range.from,
                p.range.to,
                limits.max_depth,
                limits.max_retries,
            )}
        </p>
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
        <Title text="Trace · Costroom"/>
        <p>
            <A href="/traces">"← All traces"</A>
        </p>
        <Transition fallback=|| view! { <p class="muted">"Loading the trace…"</p> }>
            {move || Suspend::new(async move {
                match trace.await {
                    Ok(t) => view! { <TraceTree t/> }.into_any(),
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
    view! {
        <h1>"Trace " <code>{t.trace_id.clone()}</code></h1>
        <p data-testid="trace-summary">
            {format!("{steps} steps, {tools} tool calls, {retries} retries, tree depth {depth}; total ")}
            <strong data-testid="trace-total">{t.total.usd()}</strong>
        </p>
        <section class="panel">
            <table data-testid="trace-steps" class="tree">
                <thead>
                    <tr>
                        <th scope="col">"Step"</th>
                        <th scope="col">"Started"</th>
                        <th scope="col">"Model / tool"</th>
                        <th scope="col" class="num">"Input tokens"</th>
                        <th scope="col" class="num">"Output tokens"</th>
                        <th scope="col" class="num">"Cost"</th>
                        <th scope="col" class="num">"Share of trace"</th>
                        <th scope="col" class="num">"With sub-steps"</th>
                        <th scope="col" class="num">"Latency"</th>
                    </tr>
                </thead>
                <tbody>
                    {t
                        .nodes
                        .into_iter()
                        .map(|n| {
                            let s = n.step;
                            let kind = if s.is_tool_call() {
                                "tool call"
                            } else if s.is_retry() {
                                "retry"
                            } else {
                                s.operation.as_str()
                            }
                                .to_string();
                            let what = s.tool_name.clone().unwrap_or_else(|| s.model.clone());
                            let indent = format!("padding-left:{}rem", 0.3 + 1.2 * n.level as f64);
                            view! {
                                <tr data-step=s.event_id.clone() data-level=n.level.to_string() data-cost=s.cost.0.to_string()>
                                    <th scope="row" style=indent>
                                        {if n.level > 0 { "└ " } else { "" }}
                                        {kind}
                                        {(s.status != "ok").then(|| format!(" ({})", s.status))}
                                    </th>
                                    <td>{s.occurred_at.format("%H:%M:%S").to_string()}</td>
                                    <td>{what}</td>
                                    <td class="num">{group_thousands(s.input_tokens.max(0) as u64)}</td>
                                    <td class="num">{group_thousands(s.output_tokens.max(0) as u64)}</td>
                                    <td class="num">{format!("${}", s.cost.decimal(6))}</td>
                                    <td class="num">{format!("{}%", n.share_pct)}</td>
                                    <td class="num">{n.subtree_cost.usd()}</td>
                                    <td class="num">{s.latency_ms.map(|l| format!("{l} ms")).unwrap_or_default()}</td>
                                </tr>
                            }
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
        </section>
    }
}
