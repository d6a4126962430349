//! A team's, initiative's, feature's, model's or customer's page (`/spend/:dim/:value`): its
//! daily trend, its spend by the other dimensions and its costliest traces. Every block is an
//! explorer view and links to it.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::links::{scope_href, spend_href};
use crate::api::get_scope;
use crate::charts::ChartSpec;
use crate::components::{EChart, ErrorNotice};
use crate::domain::explore::{Dim, ScopeView, SpendView};
use crate::domain::money::share_pct;
use crate::domain::text::encode_query_value;

#[component]
pub fn ScopePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let page = Resource::new(
        move || {
            let p = params.read();
            let q = query.read();
            (p.get("dim").unwrap_or_default(), p.get("value").unwrap_or_default(), q.get("from"), q.get("to"))
        },
        |(d, v, f, t)| get_scope(d, v, f, t),
    );
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(s) => {
                        let title = format!("{} {} · Spend · Costroom", s.data.dim.label(), s.data.value);
                        view! { <Title text=title/> <Scope chart=s.chart(0) s=s.data/> }.into_any()
                    }
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Scope(s: ScopeView, chart: ChartSpec) -> impl IntoView {
    let total = s.trend.total;
    let range = s.trend.query.range;
    view! {
        <h1 data-testid="scope-title">{format!("{} {}", s.dim.label(), s.value)}</h1>
        <p>
            <strong data-testid="scope-total">{crate::domain::Nanos(total.cost_nanos).usd()}</strong>
            {format!(" from {} to {} · ", range.from, range.to)}
            <A href=spend_href(&s.trend.query)>"Open in the explorer"</A>
        </p>
        <section class="panel" aria-label="Daily spend">
            <h2>"Daily spend"</h2>
            <EChart id="chart-scope" chart=chart label="Daily spend of this scope (figures in the tables below)"/>
        </section>
        <section class="top-lists" aria-label="Breakdowns">
            {s.breakdowns.into_iter().map(|v| view! { <Breakdown v/> }).collect_view()}
        </section>
        <section class="panel" aria-label="Costliest traces">
            <h2>"Costliest workflows (traces)"</h2>
            {if s.traces.is_empty() {
                view! { <p class="muted">"No traced agent runs in this scope and range."</p> }.into_any()
            } else {
                view! {
                    <table data-testid="scope-traces">
                        <tbody>
                            {s
                                .traces
                                .into_iter()
                                .map(|t| {
                                    let href = format!("/traces/{}", encode_query_value(&t.trace_id));
                                    let (name, cost, steps) = (t.trace_id, t.cost.usd(), format!("{} steps", t.steps));
                                    view! {
                                        <tr>
                                            <th scope="row">
                                                <A href=href>{name}</A>
                                            </th>
                                            <td class="num">{cost}</td>
                                            <td class="num">{steps}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                }
                    .into_any()
            }}
        </section>
    }
}

/// Up to ten values of another dimension within the scope, with their share.
#[component]
fn Breakdown(v: SpendView) -> impl IntoView {
    let dim = v.query.group.clone().unwrap_or(Dim::Team);
    let testid = format!("breakdown-{}", dim.key());
    let title = format!("By {}", dim.label().to_lowercase());
    let total = v.total.cost_nanos;
    let more = v.table.len().saturating_sub(10);
    view! {
        <div class="panel" data-testid=testid>
            <h2>
                <A href=spend_href(&v.query)>{title}</A>
            </h2>
            <table>
                <tbody>
                    {v
                        .table
                        .into_iter()
                        .take(10)
                        .map(|g| {
                            let name = g.group.clone();
                            let link = scope_href(&dim, &g.group);
                            view! {
                                <tr>
                                    <th scope="row">
                                        {match link {
                                            Some(h) => view! { <A href=h>{name}</A> }.into_any(),
                                            None => view! { <span>{name}</span> }.into_any(),
                                        }}
                                    </th>
                                    <td class="num">{crate::domain::Nanos(g.sums.cost_nanos).usd()}</td>
                                    <td class="num muted">{format!("{}%", share_pct(g.sums.cost_nanos, total))}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
            {(more > 0).then(|| view! { <p class="muted">{format!("and {more} more")}</p> })}
        </div>
    }
}
