//! The spend explorer (`/spend`): group by any dimension, filter by several, pick range,
//! granularity and metric; a stacked chart, a sortable table with totals, CSV of exactly what
//! is shown. The whole view lives in the URL: a plain GET form without JavaScript, a
//! client-side navigation after hydration, and a link a colleague can open.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::use_location;

use super::links::{scope_href, spend_href};
use crate::api::{get_spend, SpendPage};
use crate::charts::ChartSpec;
use crate::components::{DataHealth, EChart, SignInFirst};
use crate::domain::explore::{
    Dim, Granularity, Metric, SortKey, SpendQuery, SpendView, PRESETS, TABLE_METRICS,
};
use crate::domain::money::share_pct;
use crate::error::AppError;

#[component]
pub fn SpendPage() -> impl IntoView {
    let location = use_location();
    let search = move || location.search.get();
    let page = Resource::new(search, get_spend);
    view! {
        <Title text="Spend explorer · Costroom"/>
        <h1>"Spend explorer"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading spend…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! { <Explorer chart=p.chart(0) ring=p.chart(1) p=p.data/> }.into_any(),
                    Err(AppError::Unauthorized) => view! { <SignInFirst/> }.into_any(),
                    Err(e) => {
                        view! {
                            <p class="error" role="alert" data-testid="spend-error">
                                {e.to_string()}
                            </p>
                            <p>
                                <A href="/spend">"Start again from the default view"</A>
                            </p>
                        }
                            .into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn Explorer(p: SpendPage, chart: ChartSpec, ring: ChartSpec) -> impl IntoView {
    let SpendPage { view, options, stale, .. } = p;
    let q = view.query.clone();
    let qs = q.to_query_string();
    let csv = format!("/api/v1/spend?{qs}&format=csv");
    let series_csv = format!("/api/v1/spend?{qs}&format=csv&shape=series");
    let source_note = if view.from_rollups {
        "Answered from the pre-aggregated hourly and daily rollups."
    } else {
        "Answered by summing the raw events and billing lines (hourly combined views and tags have no rollup)."
    };
    let unpriced = view.total.unpriced_events;
    view! {
        <QueryForm q=q.clone() options/>
        <DataHealth unpriced stale scope="view"/>
        <section class="panel" aria-label="Spend chart">
            <div class="panel-head">
                <h2 data-testid="spend-title">
                    {format!(
                        "{} by {} · {} – {} · {}",
                        q.metric.label(),
                        q.group.as_ref().map(Dim::label).unwrap_or_else(|| "total".into()).to_lowercase(),
                        q.range.from,
                        q.range.to,
                        q.granularity.label().to_lowercase(),
                    )}
                </h2>
                <p class="actions">
                    <a href=csv download="costroom-spend.csv" data-testid="spend-csv">
                        "Export CSV"
                    </a>
                    " · "
                    <a href=series_csv download="costroom-spend-series.csv">
                        "Series CSV"
                    </a>
                </p>
            </div>
            <div class="charts">
                <EChart id="chart-spend" chart=chart width=760 label="Spend over time by group (figures in the table below)"/>
                <EChart id="chart-spend-ring" chart=ring width=320 height=320 label="Share of each group (figures in the table below)"/>
            </div>
            <p class="muted">{source_note}</p>
        </section>
        <SpendTable view/>
    }
    .into_any()
}

#[component]
fn QueryForm(q: SpendQuery, options: Vec<(String, Vec<String>)>) -> impl IntoView {
    let group_key = q.group.as_ref().map(Dim::key).unwrap_or_else(|| "none".into());
    let group_tag = match &q.group {
        Some(Dim::Tag(k)) => k.clone(),
        _ => String::new(),
    };
    let is_tag = !group_tag.is_empty();
    let preset = q.preset.clone().unwrap_or_else(|| "custom".into());
    let sort = match q.sort {
        SortKey::Group => "group".to_string(),
        SortKey::Metric(m) => m.as_str().to_string(),
    };
    let tag_filters: Vec<(String, String)> = q
        .filters
        .iter()
        .filter(|f| matches!(f.dim, Dim::Tag(_)))
        .flat_map(|f| f.values.iter().map(move |v| (f.dim.filter_param(), v.clone())))
        .collect();
    let active = q.filters.iter().map(|f| f.values.len()).sum::<usize>();
    let filters_open = active > 0;
    view! {
        <Form method="GET" action="/spend" attr:class="explore-form" attr:aria-label="Explorer view">
            <div class="row">
                <label>
                    "Group by "
                    <select name="group" data-testid="spend-group">
                        <option value="none" selected=group_key == "none">
                            "Nothing (total)"
                        </option>
                        {Dim::FIXED
                            .iter()
                            .map(|d| {
                                let k = d.key();
                                view! {
                                    <option value=k.clone() selected=group_key == k>
                                        {d.label()}
                                    </option>
                                }
                            })
                            .collect_view()}
                        <option value="tag" selected=is_tag>
                            "Tag…"
                        </option>
                    </select>
                </label>
                <label>
                    "Tag key " <input name="group_tag" value=group_tag placeholder="e.g. project" size="12"/>
                </label>
                <label>
                    "Range "
                    <select name="range" data-testid="spend-range">
                        {PRESETS
                            .iter()
                            .map(|(k, label)| {
                                view! {
                                    <option value=*k selected=preset == *k>
                                        {*label}
                                    </option>
                                }
                            })
                            .collect_view()}
                        <option value="custom" selected=preset == "custom">
                            "Custom dates"
                        </option>
                    </select>
                </label>
                <label>
                    "From " <input type="date" name="from" value=q.range.from.to_string() data-testid="spend-from"/>
                </label>
                <label>
                    "To " <input type="date" name="to" value=q.range.to.to_string() data-testid="spend-to"/>
                </label>
                <label>
                    "Granularity "
                    <select name="gran" data-testid="spend-gran">
                        {Granularity::ALL
                            .iter()
                            .map(|g| {
                                view! {
                                    <option value=g.as_str() selected=*g == q.granularity>
                                        {g.label()}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    "Metric "
                    <select name="metric" data-testid="spend-metric">
                        {Metric::ALL
                            .iter()
                            .map(|m| {
                                view! {
                                    <option value=m.as_str() selected=*m == q.metric>
                                        {m.label()}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
                <input type="hidden" name="sort" value=sort/>
                <input type="hidden" name="dir" value=if q.descending { "desc" } else { "asc" }/>
                <button type="submit" data-testid="spend-apply">
                    "Apply"
                </button>
            </div>
            <details class="filters" open=filters_open>
                <summary>{format!("Filters ({active} values selected)")}</summary>
                <p class="muted">"Several values of one dimension: any of them. Several dimensions: all of them."</p>
                <div class="filter-grid">
                    {options
                        .into_iter()
                        .map(|(key, values)| {
                            let chosen = q
                                .filters
                                .iter()
                                .find(|f| f.dim.key() == key)
                                .map(|f| f.values.clone())
                                .unwrap_or_default();
                            let label = Dim::parse("group", &key).map(|d| d.label()).unwrap_or(key.clone());
                            view! {
                                <label>
                                    {label}
                                    <select
                                        name=key.clone()
                                        multiple
                                        size="4"
                                        data-testid=format!("filter-{key}")
                                    >
                                        {values
                                            .into_iter()
                                            .map(|v| {
                                                let on = chosen.contains(&v);
                                                view! {
                                                    <option value=v.clone() selected=on>
                                                        {v.clone()}
                                                    </option>
                                                }
                                            })
                                            .collect_view()}
                                    </select>
                                </label>
                            }
                        })
                        .collect_view()}
                    <fieldset>
                        <legend>"Tags"</legend>
                        {tag_filters
                            .into_iter()
                            .map(|(name, v)| {
                                let text = format!("{}={v}", name.trim_start_matches("tag."));
                                view! {
                                    <label>
                                        <input type="checkbox" name=name value=v checked/>
                                        {text}
                                    </label>
                                }
                            })
                            .collect_view()}
                        <label>
                            "Add " <input name="tag_filter" placeholder="key=value" size="16"/>
                        </label>
                    </fieldset>
                </div>
            </details>
        </Form>
    }
    .into_any()
}

#[component]
fn SpendTable(view: SpendView) -> impl IntoView {
    let q = view.query.clone();
    let group_label = q.group.as_ref().map(Dim::label).unwrap_or_else(|| "Total".into());
    let total_cost = view.total.cost_nanos;
    let total = view.total;
    let sort_href = |key: SortKey| {
        let mut s = q.clone();
        s.descending = if s.sort == key { !q.descending } else { key != SortKey::Group };
        s.sort = key;
        spend_href(&s)
    };
    let (cur, desc) = (q.sort, q.descending);
    let arrow = move |key: SortKey| {
        if cur == key {
            if desc {
                " ▼"
            } else {
                " ▲"
            }
        } else {
            ""
        }
    };
    let aria = move |key: SortKey| {
        if cur == key {
            if desc {
                "descending"
            } else {
                "ascending"
            }
        } else {
            "none"
        }
    };
    // drilling: a group's row filters the view to it and groups by the next natural dimension
    let next = match &q.group {
        Some(Dim::Model) => Dim::Feature,
        Some(Dim::Team) => Dim::Model,
        _ => Dim::Model,
    };
    let rows = view
        .table
        .clone()
        .into_iter()
        .map(|g| {
            let drill = q.group.as_ref().map(|_| spend_href(&q.drilled(&g.group, next.clone())));
            let share = share_pct(g.sums.cost_nanos, total_cost);
            let sums = g.sums;
            let name = g.group.clone();
            let detail = q.group.as_ref().and_then(|d| scope_href(d, &g.group));
            view! {
                <tr data-group=g.group.clone()>
                    <th scope="row">
                        {match drill {
                            Some(href) => view! { <A href=href>{name}</A> }.into_any(),
                            None => view! { <span>{name}</span> }.into_any(),
                        }}
                        {detail
                            .map(|h| {
                                view! {
                                    " "
                                    <A href=h attr:class="detail-link" attr:title="Details">
                                        "↗"
                                    </A>
                                }
                                    .into_any()
                            })}
                    </th>
                    {TABLE_METRICS
                        .iter()
                        .map(move |m| view! { <td class="num">{m.of(&sums).display(*m)}</td> })
                        .collect_view()}
                    <td class="num">{format!("{share}%")}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="panel" aria-label="Spend table">
            <table data-testid="spend-table" class="sortable">
                <thead>
                    <tr>
                        <th scope="col" aria-sort=aria(SortKey::Group)>
                            <A href=sort_href(SortKey::Group)>{group_label.clone()} {arrow(SortKey::Group)}</A>
                        </th>
                        {TABLE_METRICS
                            .iter()
                            .map(|m| {
                                let key = SortKey::Metric(*m);
                                view! {
                                    <th scope="col" class="num" aria-sort=aria(key)>
                                        <A href=sort_href(key)>{m.label()} {arrow(key)}</A>
                                    </th>
                                }
                            })
                            .collect_view()}
                        <th scope="col" class="num">
                            "Share of cost"
                        </th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
                <tfoot>
                    <tr data-testid="spend-total">
                        <th scope="row">"Total"</th>
                        {TABLE_METRICS
                            .iter()
                            .map(move |m| view! { <td class="num">{m.of(&total).display(*m)}</td> })
                            .collect_view()}
                        <td class="num">{if total_cost == 0 { "" } else { "100.0%" }}</td>
                    </tr>
                </tfoot>
            </table>
        </section>
    }
    .into_any()
}
