//! `/budgets`: every budget with actual to date, progress, projection with its interval,
//! run-out date and status; the alerts they raised; a form for finance and admins.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::api::{
    forecast_accuracy, get_budget, list_budgets, BudgetsPage, CreateBudget, DeleteBudget, UpdateBudget,
};
use crate::charts::ChartSpec;
use crate::components::{ActionResult, EChart, ErrorNotice, FieldError};
use crate::domain::budget::{
    AccuracyRow, Budget, BudgetDetail, BudgetLine, BudgetPeriod, PeriodForecast, Status,
};
use crate::domain::money::share_pct;
use crate::domain::Nanos;

#[component]
pub fn BudgetsListPage() -> impl IntoView {
    let create = ServerAction::<CreateBudget>::new();
    let create_saved = crate::components::saves(create);
    let page = Resource::new(move || create_saved.get(), |_| list_budgets());
    view! {
        <Title text="Budgets · Costroom"/>
        <h1>"Budgets"</h1>
        <p>
            <A href="/budgets/accuracy">"Forecast accuracy"</A>
            " · "
            <A href="/settings/webhooks">"Where alerts are sent"</A>
        </p>
        <Transition fallback=|| view! { <p class="muted">"Loading budgets…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! { <Budgets p create/> }.into_any(),
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn line_row(l: BudgetLine) -> impl IntoView {
    let b = l.budget;
    let (actual, pct, projected, run_out, status, period) = match &l.evaluation {
        Some(e) => (
            e.actual.usd(),
            share_pct(e.actual.0, b.amount.0),
            format!("{} ({} – {})", e.projected.point.usd(), e.projected.low.usd(), e.projected.high.usd()),
            e.run_out.map(|d| d.to_string()).unwrap_or_else(|| "—".into()),
            e.status,
            format!("{} – {}", e.period.from, e.period.to),
        ),
        None => ("—".into(), "0.0".into(), "—".into(), "—".into(), Status::OnTrack, "not started".into()),
    };
    let width = pct.parse::<f64>().unwrap_or(0.0).min(100.0);
    let status_label = if l.evaluation.is_some() { status.label() } else { "not started" };
    let (row_name, link_name, href) = (b.name.clone(), b.name.clone(), format!("/budgets/{}", b.id));
    view! {
        <tr data-budget=row_name data-status=status_label>
            <th scope="row" title=l.method.unwrap_or_default()>
                <A href=href>{link_name}</A>
            </th>
            <td>{b.scope_label()}</td>
            <td>{format!("{} · {period}", b.period.as_str())}</td>
            <td class="num">{b.amount.usd()}</td>
            <td class="num">{actual}</td>
            <td>
                <div class="bar" role="progressbar" aria-valuenow=pct.clone() aria-valuemin="0" aria-valuemax="100">
                    <span class=format!("fill {}", status_label.replace(' ', "-")) style=format!("width:{width}%")></span>
                </div>
                {format!("{pct}%")}
            </td>
            <td class="num">{projected}</td>
            <td>{run_out}</td>
            <td class=format!("status {}", status_label.replace(' ', "-"))>{status_label}</td>
        </tr>
    }
}

#[component]
fn Budgets(p: BudgetsPage, create: ServerAction<CreateBudget>) -> impl IntoView {
    view! {
        <section class="panel">
            <table data-testid="budgets">
                <thead>
                    <tr>
                        <th scope="col">"Budget"</th>
                        <th scope="col">"Scope"</th>
                        <th scope="col">"Period"</th>
                        <th scope="col" class="num">"Amount"</th>
                        <th scope="col" class="num">"Actual"</th>
                        <th scope="col">"Used"</th>
                        <th scope="col" class="num">"Projected (95% interval)"</th>
                        <th scope="col">"Runs out"</th>
                        <th scope="col">"Status"</th>
                    </tr>
                </thead>
                <tbody>{p.lines.into_iter().map(line_row).collect_view()}</tbody>
            </table>
        </section>
        <section class="panel" aria-label="Alerts" id="alerts">
            <div class="panel-head">
                <h2>"Budget alerts"</h2>
                <A href="/alerts">"Your inbox (read and unread)"</A>
            </div>
            <ul data-testid="budget-alerts" class="alerts">
                {p
                    .alerts
                    .into_iter()
                    .map(|a| {
                        view! {
                            <li data-kind=a.kind.clone() data-threshold=a.threshold.to_string()>
                                <time>{a.created_at.format("%Y-%m-%d %H:%M UTC").to_string()}</time>
                                " "
                                {a.message}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
        {p
            .can_edit
            .then(|| {
                let err = Signal::derive(move || create.value().get().and_then(Result::err).map(|e| e.to_string()));
                let dim = RwSignal::new("organisation".to_string());
                let known = p.known.clone();
                view! {
                    <section class="panel form-panel">
                        <h2>"New budget"</h2>
                        <ScopeLists known/>
                        <ActionForm action=create node_ref=crate::components::reset_on_success(create) attr:class="stack">
                            <label>"Name" <input name="name" required data-testid="budget-name"/> <FieldError error=err field="name"/></label>
                            <label>
                                "Scope "
                                <select name="scope" data-testid="budget-scope" on:change=move |ev| dim.set(event_target_value(&ev))>
                                    <option value="organisation">"Whole organisation"</option>
                                    <option value="team">"Team"</option>
                                    <option value="initiative">"Initiative"</option>
                                    <option value="feature">"Feature"</option>
                                    <option value="model">"Model"</option>
                                    <option value="provider">"Provider"</option>
                                    <option value="customer">"Customer"</option>
                                </select>
                                <FieldError error=err field="scope"/>
                            </label>
                            <label>
                                "Scope value (type to search the known ones)"
                                <input name="scope_value" data-testid="budget-scope-value" autocomplete="off" list=move || format!("known-{}", dim.get())/>
                                <FieldError error=err field="scope_value"/>
                            </label>
                            <label><input type="checkbox" name="save_unmatched" value="on" data-testid="budget-save-unmatched"/> " No spend yet: save anyway"</label>
                            <label>
                                "Period "
                                <select name="period" data-testid="budget-period">
                                    {BudgetPeriod::ALL.iter().map(|p| view! { <option value=p.as_str()>{p.as_str()}</option> }).collect_view()}
                                </select>
                            </label>
                            <label>"Fiscal year starts in month (1–12)" <input name="fiscal_start_month" value="1" inputmode="numeric" size="3"/> <FieldError error=err field="fiscal_start_month"/></label>
                            <label><input type="checkbox" name="recurring" value="on" checked/> " Recurring"</label>
                            <label>"From" <input type="date" name="start" required data-testid="budget-start"/> <FieldError error=err field="start"/></label>
                            <label>"Amount (US$)" <input name="amount_usd" required inputmode="decimal" data-testid="budget-amount"/> <FieldError error=err field="amount_usd"/></label>
                            <label>"Alert at (% of amount)" <input name="thresholds" value="50, 80, 100" data-testid="budget-thresholds"/> <FieldError error=err field="thresholds"/></label>
                            <label>"Owner" <input name="owner" required data-testid="budget-owner"/> <FieldError error=err field="owner"/></label>
                            <button type="submit" data-testid="budget-submit">"Create budget"</button>
                        </ActionForm>
                        <ActionResult value=move || create.value().get() testid="budget-result" done=|_: &i64| "Budget created.".to_string()/>
                    </section>
                }
            })}
    }
}

/// One `<datalist>` per scope dimension (`known-<dim>`): the browser's own search over the
/// values a scope can name.
#[component]
pub fn ScopeLists(known: Vec<(String, Vec<String>)>) -> impl IntoView {
    known
        .into_iter()
        .map(|(dim, values)| {
            view! {
                <datalist id=format!("known-{dim}")>
                    {values.into_iter().map(|v| view! { <option value=v/> }).collect_view()}
                </datalist>
            }
        })
        .collect_view()
}

/// `/budgets/:id`: burn-up chart (actual, projection, amount) with its table, what drove the
/// spend, and the budget's alerts.
#[component]
pub fn BudgetPage() -> impl IntoView {
    let params = use_params_map();
    let update = ServerAction::<UpdateBudget>::new();
    let delete = ServerAction::<DeleteBudget>::new();
    let update_saved = crate::components::saves(update);
    let detail = Resource::new(
        move || {
            (params.read().get("id").and_then(|i| i.parse::<i64>().ok()).unwrap_or(0), update_saved.get())
        },
        |(id, _)| get_budget(id),
    );
    view! {
        <p>
            <A href="/budgets">"← All budgets"</A>
        </p>
        <Transition fallback=|| view! { <p class="muted">"Loading the budget…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok((d, can_edit)) => {
                        let title = format!("{} · Budget · Costroom", d.data.line.budget.name);
                        view! { <Title text=title/> <Detail charts=d.charts d=d.data can_edit update delete/> }.into_any()
                    }
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Detail(
    d: BudgetDetail,
    /// The burn-up, then one per period of `d.history` (see `get_budget`).
    charts: Vec<ChartSpec>,
    can_edit: bool,
    update: ServerAction<UpdateBudget>,
    delete: ServerAction<DeleteBudget>,
) -> impl IntoView {
    let edit = can_edit.then(|| edit_form(d.line.budget.clone(), update, delete));
    let mut charts = charts.into_iter();
    let chart = charts.next().unwrap_or_default();
    let history: Vec<_> =
        d.history.clone().into_iter().zip(charts.chain(std::iter::repeat_with(ChartSpec::default))).collect();
    let history = history.into_iter().rev().map(move |(h, c)| forecast_section(h, c)).collect_view();
    let rows = d.cumulative();
    let b = d.line.budget.clone();
    let summary = match &d.line.evaluation {
        Some(e) => format!(
            "{} of {} spent ({} – {}); projected {} (95%: {} – {}); {}",
            e.actual.usd(),
            b.amount.usd(),
            e.period.from,
            e.period.to,
            e.projected.point.usd(),
            e.projected.low.usd(),
            e.projected.high.usd(),
            e.status.label()
        ),
        None => "Not started yet.".into(),
    };
    let total = d.breakdown.total.cost_nanos;
    let group = d.breakdown.query.group.clone().map(|g| g.label()).unwrap_or_default();
    view! {
        <h1 data-testid="budget-title">{format!("{} · {}", b.name, b.scope_label())}</h1>
        <p data-testid="budget-summary">{summary}</p>
        <section class="panel" aria-label="Burn-up">
            <h2>"Actual vs forecast vs budget"</h2>
            <EChart id="chart-budget" chart=chart label="Burn-up: actual spend, projection and the budget amount by day"/>
            <details>
                <summary>"Daily figures"</summary>
                <table data-testid="budget-days">
                    <thead>
                        <tr>
                            <th scope="col">"Day"</th>
                            <th scope="col" class="num">"Actual (cumulative)"</th>
                            <th scope="col" class="num">"Projected (cumulative)"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {rows
                            .into_iter()
                            .map(|(day, a, p)| {
                                view! {
                                    <tr>
                                        <td>{day.to_string()}</td>
                                        <td class="num">{a.map(Nanos::usd).unwrap_or_default()}</td>
                                        <td class="num">{p.map(Nanos::usd).unwrap_or_default()}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </details>
        </section>
        <section class="panel" aria-label="What drove the spend">
            <h2>{format!("By {}", group.to_lowercase())}</h2>
            <table data-testid="budget-breakdown">
                <tbody>
                    {d
                        .breakdown
                        .table
                        .into_iter()
                        .take(10)
                        .map(|g| {
                            let share = share_pct(g.sums.cost_nanos, total);
                            view! {
                                <tr>
                                    <th scope="row">{g.group}</th>
                                    <td class="num">{Nanos(g.sums.cost_nanos).usd()}</td>
                                    <td class="num muted">{format!("{share}%")}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
        {history}
        {edit}
        <section class="panel" aria-label="Alert history">
            <h2>"Alert history"</h2>
            <ul class="alerts" data-testid="budget-alert-history">
                {d
                    .alerts
                    .into_iter()
                    .map(|a| {
                        view! {
                            <li>
                                <time>{a.created_at.format("%Y-%m-%d %H:%M UTC").to_string()}</time>
                                " "
                                {a.message}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}

/// The budget's fields, prefilled, for finance and admins; a delete button beside them.
fn edit_form(
    b: Budget,
    update: ServerAction<UpdateBudget>,
    delete: ServerAction<DeleteBudget>,
) -> impl IntoView {
    let scope = b.scope.as_ref().map(|(d, _)| d.key()).unwrap_or_else(|| "organisation".into());
    let scope_value = b.scope.as_ref().map(|(_, v)| v.clone()).unwrap_or_default();
    let thresholds = b.thresholds.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    let period = b.period;
    let (id, id2, name, fiscal, recurring, start, amount, owner) = (
        b.id.to_string(),
        b.id.to_string(),
        b.name.clone(),
        b.fiscal_start_month.to_string(),
        b.recurring,
        b.start.to_string(),
        b.amount.decimal(2),
        b.owner.clone(),
    );
    let err = Signal::derive(move || update.value().get().and_then(Result::err).map(|e| e.to_string()));
    view! {
        <section class="panel form-panel">
            <h2>"Change this budget"</h2>
            <ActionForm action=update attr:class="stack">
                <input type="hidden" name="id" value=id/>
                <label>"Name" <input name="name" value=name required data-testid="edit-name"/> <FieldError error=err field="name"/></label>
                <label>"Scope (organisation, team, initiative, feature, model, provider, customer, tag:KEY)" <input name="scope" value=scope/> <FieldError error=err field="scope"/></label>
                <label>"Scope value" <input name="scope_value" value=scope_value/> <FieldError error=err field="scope_value"/></label>
                <label><input type="checkbox" name="save_unmatched" value="on"/> " No spend yet: save anyway"</label>
                <label>
                    "Period "
                    <select name="period">
                        {BudgetPeriod::ALL.iter().map(|p| view! { <option value=p.as_str() selected=*p == period>{p.as_str()}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Fiscal year starts in month (1–12)" <input name="fiscal_start_month" value=fiscal size="3"/> <FieldError error=err field="fiscal_start_month"/></label>
                <label><input type="checkbox" name="recurring" value="on" checked=recurring/> " Recurring"</label>
                <label>"From" <input type="date" name="start" value=start required/> <FieldError error=err field="start"/></label>
                <label>"Amount (US$)" <input name="amount_usd" value=amount required data-testid="edit-amount"/> <FieldError error=err field="amount_usd"/></label>
                <label>"Alert at (% of amount)" <input name="thresholds" value=thresholds/> <FieldError error=err field="thresholds"/></label>
                <label>"Owner" <input name="owner" value=owner required/> <FieldError error=err field="owner"/></label>
                <button type="submit" data-testid="edit-submit">"Save"</button>
            </ActionForm>
            <ActionResult value=move || update.value().get() testid="edit-result" done=|_: &()| "Saved.".to_string()/>
            <ActionForm action=delete>
                <input type="hidden" name="id" value=id2/>
                <button type="submit" class="danger" data-testid="delete-budget">"Delete budget and its alerts"</button>
            </ActionForm>
            <ActionResult value=move || delete.value().get() testid="delete-result" done=|_: &()| "Deleted.".to_string()/>
        </section>
    }
}

/// Signed percentage with one decimal (`+4.2%`).
fn signed_pct(x: f64) -> String {
    format!("{x:+.1}%")
}

/// What was forecast for one period along the way, against what happened.
fn forecast_section(h: PeriodForecast, chart: ChartSpec) -> impl IntoView {
    let id = format!("chart-forecast-{}", h.period.from);
    let title = format!(
        "Forecast vs actual · {} – {}{}",
        h.period.from,
        h.period.to,
        if h.complete { "" } else { " (running)" }
    );
    let summary = match (&h.accuracy, h.snapshots.first()) {
        (Some(a), Some(first)) => format!(
            "Forecast at the start: {} ({}); actual {}. Error at the start {}, mid-period {}; mean absolute error {:.1}% over {} daily forecasts; the 95% interval held the actual in {:.0}% of them.",
            first.projected.point.usd(),
            first.as_of,
            h.actual.usd(),
            signed_pct(a.at_start_pct),
            signed_pct(a.at_middle_pct),
            a.mape_pct,
            a.snapshots,
            a.covered_pct
        ),
        (None, Some(first)) => format!(
            "Forecast at the start: {} ({}); latest {} ({}); spent so far {}.",
            first.projected.point.usd(),
            first.as_of,
            h.snapshots.last().map(|s| s.projected.point.usd()).unwrap_or_default(),
            h.snapshots.last().map(|s| s.as_of.to_string()).unwrap_or_default(),
            h.actual.usd()
        ),
        (_, None) => "No forecast was kept for this period.".into(),
    };
    let actual = h.actual;
    let complete = h.complete;
    let testid = format!("forecast-{}", h.period.from);
    let label = title.clone();
    view! {
        <section class="panel" aria-label=label data-testid=testid>
            <h2>{title}</h2>
            <p data-testid="forecast-summary">{summary}</p>
            <EChart id=id chart=chart label="Forecast made on each day against the final actual"/>
            <details>
                <summary>"Each day's forecast"</summary>
                <table data-testid="snapshots">
                    <thead>
                        <tr>
                            <th scope="col">"As of"</th>
                            <th scope="col" class="num">"Spent before"</th>
                            <th scope="col" class="num">"Forecast for the period"</th>
                            <th scope="col" class="num">"95% interval"</th>
                            <th scope="col" class="num">"Error"</th>
                            <th scope="col">"Kept"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {h
                            .snapshots
                            .into_iter()
                            .map(|s| {
                                let err = if complete && actual.0 > 0 {
                                    signed_pct((s.projected.point.0 - actual.0) as f64 * 100.0 / actual.0 as f64)
                                } else {
                                    String::new()
                                };
                                view! {
                                    <tr>
                                        <td>{s.as_of.to_string()}</td>
                                        <td class="num">{s.actual.usd()}</td>
                                        <td class="num">{s.projected.point.usd()}</td>
                                        <td class="num">{format!("{} – {}", s.projected.low.usd(), s.projected.high.usd())}</td>
                                        <td class="num">{err}</td>
                                        <td title=s.method>{if s.reconstructed { "reconstructed" } else { "on the day" }}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </details>
        </section>
    }
    .into_any()
}

/// `/budgets/accuracy`: every budget's completed periods ranked by forecast error.
#[component]
pub fn ForecastAccuracyPage() -> impl IntoView {
    let rows = Resource::new(|| (), |_| forecast_accuracy());
    view! {
        <Title text="Forecast accuracy · Costroom"/>
        <h1>"Forecast accuracy"</h1>
        <p>
            <A href="/budgets">"← All budgets"</A>
        </p>
        <p class="muted">
            "Each day Costroom keeps its forecast of every budget's period. Once a period is over, each of "
            "those forecasts is held against what was spent. Worst first; the error is the mean of "
            "|forecast − actual| ÷ actual over the period's daily forecasts."
        </p>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match rows.await {
                    Ok(rows) if rows.is_empty() => view! {
                        <p class="muted" data-testid="no-accuracy">"No budget has a completed period with forecasts yet."</p>
                    }
                        .into_any(),
                    Ok(rows) => view! { <AccuracyTable rows/> }.into_any(),
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AccuracyTable(rows: Vec<AccuracyRow>) -> impl IntoView {
    view! {
        <section class="panel">
            <table data-testid="accuracy">
                <thead>
                    <tr>
                        <th scope="col">"Budget"</th>
                        <th scope="col">"Scope"</th>
                        <th scope="col">"Period"</th>
                        <th scope="col" class="num">"Actual"</th>
                        <th scope="col" class="num">"Mean abs. error"</th>
                        <th scope="col" class="num">"Error at start"</th>
                        <th scope="col" class="num">"Error mid-period"</th>
                        <th scope="col" class="num">"Bias"</th>
                        <th scope="col" class="num">"Interval held"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|r| {
                            let a = r.accuracy;
                            let (name, href) = (r.budget.clone(), format!("/budgets/{}", r.budget_id));
                            view! {
                                <tr data-budget=r.budget.clone()>
                                    <th scope="row"><A href=href>{name}</A></th>
                                    <td>{r.scope}</td>
                                    <td>{format!("{} – {}", r.period.from, r.period.to)}</td>
                                    <td class="num">{r.actual.usd()}</td>
                                    <td class="num" data-testid="mape">{format!("{:.1}%", a.mape_pct)}</td>
                                    <td class="num">{signed_pct(a.at_start_pct)}</td>
                                    <td class="num">{signed_pct(a.at_middle_pct)}</td>
                                    <td class="num">{signed_pct(a.bias_pct)}</td>
                                    <td class="num">{format!("{:.0}%", a.covered_pct)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
    }
    .into_any()
}
