//! `/kpis`: the eleven AI FinOps KPIs with formula, value, the previous period and a link to
//! the rows; `/coverage`: tag coverage per source and week, and where untagged spend comes from.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::use_query_map;

use super::links::spend_href;
use crate::api::{get_coverage, get_kpis, KpisPage};
use crate::components::ErrorNotice;
use crate::domain::coverage::{CoverageRow, CoverageView, ATTRIBUTES};
use crate::domain::explore::{Dim, NOT_SET};
use crate::domain::money::share_pct;
use crate::domain::overview::Coverage;
use crate::domain::{DateRange, Nanos};

#[component]
fn RangeForm(action: &'static str, range: DateRange) -> impl IntoView {
    view! {
        <Form method="GET" action=action attr:class="range-form" attr:aria-label="Date range">
            <label>"From " <input type="date" name="from" value=range.from.to_string()/></label>
            <label>"To " <input type="date" name="to" value=range.to.to_string()/></label>
            <button type="submit">"Apply"</button>
        </Form>
    }
}

#[component]
pub fn KpisPage() -> impl IntoView {
    let query = use_query_map();
    let page =
        Resource::new(move || (query.read().get("from"), query.read().get("to")), |(f, t)| get_kpis(f, t));
    view! {
        <Title text="KPIs · Costroom"/>
        <h1>"AI FinOps KPIs"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! { <KpiTable p/> }.into_any(),
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn KpiTable(p: KpisPage) -> impl IntoView {
    view! {
        <RangeForm action="/kpis" range=p.range/>
        <section class="panel">
            <table data-testid="kpis">
                <thead>
                    <tr>
                        <th scope="col">"KPI"</th>
                        <th scope="col">"Formula"</th>
                        <th scope="col" class="num">{format!("{} – {}", p.range.from, p.range.to)}</th>
                        <th scope="col" class="num">{format!("{} – {}", p.previous.from, p.previous.to)}</th>
                        <th scope="col">"Rows"</th>
                    </tr>
                </thead>
                <tbody>
                    {p
                        .kpis
                        .into_iter()
                        .map(|k| {
                            let value = match (&k.value, &k.missing) {
                                (Some(v), _) => v.clone(),
                                (None, Some(_)) => "not available".into(),
                                (None, None) => "—".into(),
                            };
                            view! {
                                <tr data-kpi=k.key.clone()>
                                    <th scope="row">{k.name.clone()}</th>
                                    <td>
                                        <code>{k.formula.clone()}</code>
                                        {k.missing.clone().map(|m| view! { <p class="muted missing">{m}</p> })}
                                    </td>
                                    <td class="num value">{value}</td>
                                    <td class="num muted">{k.previous.clone().unwrap_or_else(|| "—".into())}</td>
                                    <td>{k.href.clone().map(|h| view! { <A href=h>"rows"</A> })}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
pub fn CoveragePage() -> impl IntoView {
    let query = use_query_map();
    let page = Resource::new(
        move || (query.read().get("from"), query.read().get("to"), query.read().get("attribute")),
        |(f, t, a)| get_coverage(f, t, a),
    );
    view! {
        <Title text="Tag coverage · Costroom"/>
        <h1>"Tag coverage"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(v) => view! { <CoverageBody v/> }.into_any(),
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn pct(c: &Coverage) -> String {
    c.pct().map(|p| format!("{p:.1}%")).unwrap_or_else(|| "—".into())
}

fn coverage_cells(r: &CoverageRow) -> impl IntoView {
    r.coverage()
        .into_iter()
        .map(|c| {
            let title = format!("{} of {} untagged", (c.total - c.tagged).usd(), c.total.usd());
            view! { <td class="num" title=title>{pct(&c)}</td> }
        })
        .collect_view()
}

#[component]
fn CoverageBody(v: CoverageView) -> impl IntoView {
    let range = v.range;
    let attr = v.attribute.key();
    let headers =
        || ATTRIBUTES.iter().map(|d| view! { <th scope="col" class="num">{d.label()}</th> }).collect_view();
    view! {
        <RangeForm action="/coverage" range/>
        <section class="panel" aria-label="Coverage by source">
            <h2>"Share of spend carrying each attribute"</h2>
            <table data-testid="coverage-sources">
                <thead>
                    <tr>
                        <th scope="col">"Source"</th>
                        <th scope="col" class="num">"Spend"</th>
                        {headers()}
                    </tr>
                </thead>
                <tbody>
                    {v
                        .by_source
                        .iter()
                        .map(|r| {
                            view! {
                                <tr data-source=r.source.as_str()>
                                    <th scope="row">{r.source.label()}</th>
                                    <td class="num">{r.total.usd()}</td>
                                    {coverage_cells(r)}
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
                <tfoot>
                    <tr data-testid="coverage-all">
                        <th scope="row">"All sources"</th>
                        <td class="num">{v.all.total.usd()}</td>
                        {coverage_cells(&v.all)}
                    </tr>
                </tfoot>
            </table>
        </section>
        <section class="panel" aria-label="Coverage by week">
            <h2>"By week"</h2>
            <table data-testid="coverage-weeks">
                <thead>
                    <tr>
                        <th scope="col">"Week of"</th>
                        {headers()}
                    </tr>
                </thead>
                <tbody>
                    {v
                        .weeks
                        .iter()
                        .map(|w| {
                            view! {
                                <tr>
                                    <th scope="row">{w.week.clone()}</th>
                                    {w.coverage.iter().map(|c| view! { <td class="num">{pct(c)}</td> }).collect_view()}
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
        <section class="panel" aria-label="Untagged spend">
            <h2>{format!("Where spend without a {attr} comes from")}</h2>
            <p>
                {ATTRIBUTES
                    .iter()
                    .map(|d| {
                        let k = d.key();
                        let href = format!("/coverage?from={}&to={}&attribute={k}", range.from, range.to);
                        view! { <A href=href>{format!("without {k}")}</A> " " }
                    })
                    .collect_view()}
            </p>
            <div class="top-lists">
                {v
                    .untagged_by
                    .into_iter()
                    .map(|u| {
                        let dim = u.query.group.clone().unwrap_or(Dim::Model);
                        let total = u.total.cost_nanos;
                        let href = spend_href(&u.query);
                        view! {
                            <div class="panel" data-testid=format!("untagged-{}", dim.key())>
                                <h3>
                                    <A href=href>{format!("By {}", dim.label().to_lowercase())}</A>
                                </h3>
                                <table>
                                    <tbody>
                                        {u
                                            .table
                                            .into_iter()
                                            .take(10)
                                            .map(|g| {
                                                let share = share_pct(g.sums.cost_nanos, total);
                                                let name = if g.group == NOT_SET { "(none)".to_string() } else { g.group.clone() };
                                                view! {
                                                    <tr>
                                                        <th scope="row">{name}</th>
                                                        <td class="num">{Nanos(g.sums.cost_nanos).usd()}</td>
                                                        <td class="num muted">{format!("{share}%")}</td>
                                                    </tr>
                                                }
                                            })
                                            .collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }
                    })
                    .collect_view()}
            </div>
        </section>
    }
}
