//! The home page: month-to-date spend, projection, and daily spend over a chosen range.
//! The range lives in the URL (`?from=&to=`): a plain GET form without JavaScript, a
//! client-side navigation (no reload) after hydration.
use chrono::Days;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::use_query_map;

use crate::api::get_overview;
use crate::charts::ChartSpec;
use crate::components::{DataHealth, EChart, KpiTile, SignInFirst};
use crate::domain::explore::Metric;
use crate::domain::ledger::SpendSource;
use crate::domain::money::group_thousands;
use crate::domain::overview::TopList;
use crate::domain::{DateRange, Overview};
use crate::error::AppError;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let query = use_query_map();
    let from = move || query.read().get("from");
    let to = move || query.read().get("to");
    let source = move || query.read().get("source");
    let overview = Resource::new(move || (from(), to(), source()), |(f, t, s)| get_overview(f, t, s));
    view! {
        <Title text="Overview · Costroom"/>
        <h1>"Overview"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading spend…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(o) => view! { <OverviewBody chart=o.chart(0) o=o.data/> }.into_any(),
                    Err(AppError::Unauthorized) => view! { <SignInFirst/> }.into_any(),
                    Err(e) => view! { <RangeError e from=from() to=to() source=source()/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn RangeError(
    e: AppError,
    from: Option<String>,
    to: Option<String>,
    source: Option<String>,
) -> impl IntoView {
    view! {
        <RangeForm from=from.unwrap_or_default() to=to.unwrap_or_default() source=source.unwrap_or_default()/>
        <p class="error" role="alert" data-testid="range-error">
            {e.to_string()}
        </p>
    }
}

#[component]
fn RangeForm(from: String, to: String, source: String) -> impl IntoView {
    view! {
        <Form method="GET" action="/" attr:class="range-form" attr:aria-label="Date range">
            <label>
                "From " <input type="date" name="from" value=from data-testid="range-from"/>
            </label>
            <label>
                "To " <input type="date" name="to" value=to data-testid="range-to"/>
            </label>
            <label>
                "Source "
                <select name="source" data-testid="range-source">
                    <option value="" selected=source.is_empty()>
                        "All sources"
                    </option>
                    {SpendSource::ALL
                        .into_iter()
                        .map(|s| {
                            view! {
                                <option value=s.as_str() selected=source == s.as_str()>
                                    {s.label()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <button type="submit" data-testid="range-apply">
                "Apply"
            </button>
        </Form>
    }
}

fn range_href(r: DateRange, source: Option<SpendSource>) -> String {
    match source {
        Some(s) => format!("/?from={}&to={}&source={}", r.from, r.to, s.as_str()),
        None => format!("/?from={}&to={}", r.from, r.to),
    }
}

fn explore(qs: &str) -> String {
    format!("/spend?{qs}")
}

/// One dimension's biggest spenders with their change; each links to the explorer filtered
/// to it.
#[component]
fn TopTile(t: TopList, range: DateRange, partial: bool) -> impl IntoView {
    let key = t.dim.key();
    let testid = format!("top-{key}");
    let title = format!("Top {}s", t.dim.label().to_lowercase());
    let list_href = explore(&format!("group={key}&from={}&to={}", range.from, range.to));
    let note = if partial {
        format!("no change shown: {} – {} is only partly covered by data", t.previous.from, t.previous.to)
    } else {
        format!("change vs {} – {}", t.previous.from, t.previous.to)
    };
    view! {
        <div class="panel top" data-testid=testid>
            <h2>
                <A href=list_href>{title}</A>
            </h2>
            <table>
                <tbody>
                    {t
                        .rows
                        .into_iter()
                        .map(move |r| {
                            let href = explore(
                                &format!(
                                    "group={key}&{key}={}&from={}&to={}",
                                    crate::domain::text::encode_query_value(&r.value),
                                    range.from,
                                    range.to,
                                ),
                            );
                            let change = match r.change_pct() {
                                _ if partial => "—".into(),
                                Some(p) => format!("{p:+.1}%"),
                                None => "new".into(),
                            };
                            let (value, cost) = (r.value.clone(), r.cost.usd());
                            view! {
                                <tr data-value=r.value>
                                    <th scope="row">
                                        <A href=href>{value}</A>
                                    </th>
                                    <td class="num">{cost}</td>
                                    <td class="num muted">{change}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
            <p class="muted">{note}</p>
        </div>
    }
}

#[component]
fn OverviewBody(o: Overview, chart: ChartSpec) -> impl IntoView {
    let today = o.today;
    let presets = [
        ("Last 7 days", DateRange::last_days(today, 7)),
        ("Last 30 days", DateRange::last_days(today, 30)),
        ("Last 90 days", DateRange::last_days(today, 90)),
        ("Month to date", DateRange::month_to_date(today)),
    ];
    let change = match o.mtd_change_pct() {
        _ if o.mtd_vs.is_partial() => format!(
            "no change shown: the same days last month hold spend on {} of {} days",
            o.mtd_vs.previous_days,
            o.mtd_vs.previous.days()
        ),
        Some(p) => format!("{p:+.1}% vs {} same days last month", o.prev_mtd.usd()),
        None => "no spend in the same days last month".to_string(),
    };
    let partial_note = o.range_vs.note();
    let partial = partial_note.is_some();
    let unpriced = o.unit.unpriced_events;
    let days = o.range.days();
    let yesterday = today - Days::new(1);
    let source = o.source;
    let scope = match source {
        Some(s) => format!("{} only", s.label().to_lowercase()),
        None => "every source".to_string(),
    };
    let range = o.range;
    let by_source_total: crate::domain::Nanos = o.by_source.iter().map(|(_, c)| *c).sum();
    // its own erased view: the page as one type overflows the compiler's query depth
    let daily = view! {
            <section class="panel" aria-label="Daily spend">
                <div class="panel-head">
                    <h2>"Daily spend"</h2>
                    <RangeForm
                        from=o.range.from.to_string()
                        to=o.range.to.to_string()
                        source=source.map(|s| s.as_str().to_string()).unwrap_or_default()
                    />
                    <ul class="presets">
                        {presets
                            .into_iter()
                            .map(|(label, r)| {
                                view! {
                                    <li>
                                        <A href=range_href(r, source)>{label}</A>
                                    </li>
                                }
                            })
                            .collect_view()}
                        <li>
                            <A href=range_href(DateRange::last_days(yesterday, 1), source)>"Yesterday"</A>
                        </li>
                    </ul>
                </div>
                <EChart id="chart-daily-spend" chart=chart label="Daily spend over the range in US dollars (figures in the table below)"/>
                <details class="daily-table">
                    <summary>"Daily figures"</summary>
                    <table>
                        <thead>
                            <tr>
                                <th scope="col">"Day"</th>
                                <th scope="col" class="num">"Spend"</th>
                                <th scope="col" class="num">"Requests"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {o
                                .daily
                                .iter()
                                .rev()
                                .map(|d| {
                                    view! {
                                        <tr>
                                            <td>{d.day.to_string()}</td>
                                            <td class="num">{d.cost.usd()}</td>
                                            <td class="num">{d.requests}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                </details>
            </section>
    }
    .into_any();
    let kpis = view! {
            <section class="kpis" aria-label="Key figures">
                <KpiTile
                    label="Month to date"
                    value=o.mtd.usd()
                    note=change
                    testid="kpi-mtd"
                    href=explore("group=team&range=mtd")
                    formula=format!(
                        "Σ spend ({scope}) dated {} … {} (UTC)",
                        DateRange::month_to_date(today).from,
                        today,
                    )
                />
                <KpiTile
                    label="Projected month end"
                    value=o.projected_month_end.point.usd()
                    note=format!("95%: {} – {}", o.projected_month_end.low.usd(), o.projected_month_end.high.usd())
                    testid="kpi-projected"
                    formula=format!(
                        "Σ spend ({scope}) of the whole days before {today} + forecast of {today} … month end ({}, learnt from the 56 days before); the same projection as budgets and their snapshots",
                        o.projection_method,
                    )
                />
                <KpiTile
                    label="Spend in range"
                    value=o.range_total.usd()
                    note=format!("{} – {} · {days} days", o.range.from, o.range.to)
                    testid="kpi-range-total"
                    formula="Σ daily spend over the selected range"
                    href=explore(&format!("group=source&from={}&to={}", range.from, range.to))
                />
                <KpiTile
                    label="Average per day"
                    value=o.range_daily_average().usd()
                    note=format!("{} requests in range", group_thousands(o.range_requests.max(0) as u64))
                    testid="kpi-range-avg"
                    formula=format!("spend in range ÷ {days} days")
                />
                <KpiTile
                    label="Cost per API call"
                    value=Metric::CostPerRequest.of(&o.unit).display(Metric::CostPerRequest)
                    testid="kpi-cost-per-request"
                    formula="token spend in range ÷ requests in range"
                    href=explore(&format!("group=model&metric=cost_per_request&source=tokens&from={}&to={}", range.from, range.to))
                />
                <KpiTile
                    label="Cost per 1K tokens"
                    value=Metric::CostPer1kTokens.of(&o.unit).display(Metric::CostPer1kTokens)
                    testid="kpi-cost-per-1k"
                    formula="token spend in range × 1,000 ÷ (input + output tokens) in range"
                    href=explore(&format!("group=model&metric=cost_per_1k_tokens&source=tokens&from={}&to={}", range.from, range.to))
                />
                {o
                    .coverage
                    .clone()
                    .into_iter()
                    .map(|c| {
                        let key = c.dim.key();
                        view! {
                            <KpiTile
                                label=format!("{} tag coverage", c.dim.label())
                                value=c.pct().map(|p| format!("{p:.1}%")).unwrap_or_else(|| "—".into())
                                note=format!("{} of {} carries a {}", c.tagged.usd(), c.total.usd(), key)
                                testid=format!("kpi-coverage-{key}")
                                formula=format!("spend with a {key} ÷ all spend in range")
                                href=explore(&format!("group={key}&{key}=(not set)&from={}&to={}", range.from, range.to))
                            />
                        }
                    })
                    .collect_view()}
            </section>
    }
    .into_any();
    view! {
        <DataHealth unpriced stale=o.stale.clone() scope="range"/>
        {partial_note.map(|n| view! { <p class="notice" role="note" data-testid="partial-period">{n}</p> })}
        {daily}
        {kpis}
        <BudgetTiles lines=o.budgets.clone()/>
        <section class="top-lists" aria-label="Top spenders">
            {o.top.clone().into_iter().map(|t| view! { <TopTile t range partial/> }).collect_view()}
        </section>
        <section class="panel" aria-label="Spend by source">
            <h2>"Spend by source"</h2>
            <table data-testid="by-source">
                <thead>
                    <tr>
                        <th scope="col">"Source"</th>
                        <th scope="col" class="num">"Spend in range"</th>
                    </tr>
                </thead>
                <tbody>
                    {o
                        .by_source
                        .clone()
                        .into_iter()
                        .map(|(s, cost)| {
                            view! {
                                <tr data-source=s.as_str()>
                                    <td>
                                        <A href=range_href(range, Some(s))>{s.label()}</A>
                                    </td>
                                    <td class="num">{cost.usd()}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
                <tfoot>
                    <tr>
                        <th scope="row">"All sources"</th>
                        <td class="num" data-testid="by-source-total">
                            {by_source_total.usd()}
                        </td>
                    </tr>
                </tfoot>
            </table>
        </section>
    }
}

/// Budget status: how many budgets are on track, at risk or over, and a tile for each budget
/// that needs attention (over first), each leading to its page.
#[component]
fn BudgetTiles(lines: Vec<crate::domain::budget::BudgetLine>) -> impl IntoView {
    use crate::domain::budget::Status;
    let count =
        |s: Status| lines.iter().filter(|l| l.evaluation.as_ref().is_some_and(|e| e.status == s)).count();
    let (on_track, at_risk, over) = (count(Status::OnTrack), count(Status::AtRisk), count(Status::Over));
    let mut attention: Vec<_> = lines
        .into_iter()
        .filter_map(|l| {
            let e = l.evaluation?;
            (e.status != Status::OnTrack).then_some((l.budget, e))
        })
        .collect();
    attention.sort_by_key(|(b, e)| (e.status != Status::Over, b.name.clone()));
    view! {
        <section class="kpis" aria-label="Budgets" data-testid="budget-tiles">
            <KpiTile
                label="Budgets"
                value=format!("{over} over · {at_risk} at risk")
                note=format!("{on_track} on track")
                testid="kpi-budgets"
                formula="each budget's spend this period against its amount; at risk when the projection reaches the amount"
                href="/budgets".to_string()
            />
            {attention
                .into_iter()
                .take(5)
                .map(|(b, e)| {
                    view! {
                        <KpiTile
                            label=format!("{} · {}", b.name, e.status.label())
                            value=format!("{} of {}", e.actual.usd(), b.amount.usd())
                            note=format!(
                                "projected {} by {}{}",
                                e.projected.point.usd(),
                                e.period.to,
                                e.run_out.map(|d| format!("; runs out {d}")).unwrap_or_default()
                            )
                            testid=format!("kpi-budget-{}", b.id)
                            formula=format!("{} · {} – {}", b.scope_label(), e.period.from, e.period.to)
                            href=format!("/budgets/{}", b.id)
                        />
                    }
                })
                .collect_view()}
        </section>
    }
    .into_any()
}
