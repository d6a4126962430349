//! `/anomalies`: the inbox (filter by status, scope, severity), detection rate and mean time
//! to detect with their weekly trend, the report-a-missed-anomaly form and the settings;
//! `/anomalies/:id`: the series with its band, the contributors and the lifecycle.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::anomalies::{get_anomaly, list_anomalies, ActOnAnomaly, ReportAnomaly, SetAnomalySettings};
use crate::charts::ChartSpec;
use crate::components::{ActionResult, EChart, ErrorNotice, FieldError, KpiTile};
use crate::domain::anomaly::{
    duration_label, AnomaliesPage, Anomaly, AnomalyDetail, DetectionFigures, Severity, Status,
};
use crate::domain::period::utc_minute;

fn rate(f: &DetectionFigures) -> String {
    f.rate_pct.map(|p| format!("{p:.1}%")).unwrap_or_else(|| "—".into())
}

fn mttd(f: &DetectionFigures) -> String {
    f.mttd_secs.map(duration_label).unwrap_or_else(|| "—".into())
}

const SCOPES: [(&str, &str); 6] = [
    ("total", "Organisation"),
    ("team", "Team"),
    ("initiative", "Initiative"),
    ("feature", "Feature"),
    ("model", "Model"),
    ("api_key", "API key"),
];

#[component]
pub fn AnomaliesListPage() -> impl IntoView {
    let query = use_query_map();
    let report = ServerAction::<ReportAnomaly>::new();
    let settings = ServerAction::<SetAnomalySettings>::new();
    let report_saved = crate::components::saves(report);
    let settings_saved = crate::components::saves(settings);
    let page = Resource::new(
        move || {
            let q = query.read();
            (
                q.get("status").unwrap_or_else(|| "open".into()),
                q.get("scope").unwrap_or_default(),
                q.get("severity").unwrap_or_default(),
                report_saved.get(),
                settings_saved.get(),
            )
        },
        |(status, scope, severity, _, _)| list_anomalies(status, scope, severity),
    );
    view! {
        <Title text="Anomalies · Costroom"/>
        <h1>"Anomalies"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading anomalies…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! { <Inbox p report settings/> }.into_any(),
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Inbox(
    p: AnomaliesPage,
    report: ServerAction<ReportAnomaly>,
    settings: ServerAction<SetAnomalySettings>,
) -> impl IntoView {
    let query = use_query_map();
    let (status, scope, severity) = {
        let q = query.read_untracked();
        (
            q.get("status").unwrap_or_else(|| "open".into()),
            q.get("scope").unwrap_or_default(),
            q.get("severity").unwrap_or_default(),
        )
    };
    let f = p.figures.clone();
    let s = p.settings.clone();
    view! {
        <section class="kpis" aria-label="Detection">
            <KpiTile label="Detection rate (30 days)" value=rate(&f) testid="anomaly-rate" formula="detected ÷ (detected + reported), false positives left out"/>
            <KpiTile label="Mean time to detect (30 days)" value=mttd(&f) testid="anomaly-mttd" formula="mean of detection time − start of the anomalous period"/>
            <KpiTile label="Detected · reported · false positives" value=format!("{} · {} · {}", f.detected, f.reported, f.false_positives) testid="anomaly-counts" formula="anomalies that started in the last 30 days"/>
        </section>
        <section class="panel" aria-label="Trend">
            <h2>"Weekly trend"</h2>
            <table data-testid="anomaly-trend">
                <thead>
                    <tr>
                        <th scope="col">"Week of"</th>
                        <th scope="col" class="num">"Detected"</th>
                        <th scope="col" class="num">"Reported"</th>
                        <th scope="col" class="num">"Detection rate"</th>
                        <th scope="col" class="num">"MTTD"</th>
                    </tr>
                </thead>
                <tbody>
                    {p.trend
                        .iter()
                        .rev()
                        .map(|(w, f)| view! {
                            <tr>
                                <th scope="row">{w.to_string()}</th>
                                <td class="num">{f.detected}</td>
                                <td class="num">{f.reported}</td>
                                <td class="num">{rate(f)}</td>
                                <td class="num">{mttd(f)}</td>
                            </tr>
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
        <Form method="GET" action="/anomalies" attr:class="range-form" attr:aria-label="Filter anomalies">
            <label>
                "Status "
                <select name="status" data-testid="filter-status">
                    <option value="open" selected=status == "open">"open and acknowledged"</option>
                    <option value="all" selected=status == "all">"all"</option>
                    {Status::ALL
                        .iter()
                        .map(|s| view! { <option value=s.as_str() selected=status == s.as_str()>{s.label()}</option> })
                        .collect_view()}
                </select>
            </label>
            <label>
                "Scope "
                <select name="scope">
                    <option value="">"any"</option>
                    {SCOPES.iter().map(|(k, l)| view! { <option value=*k selected=scope == *k>{*l}</option> }).collect_view()}
                </select>
            </label>
            <label>
                "Severity at least "
                <select name="severity">
                    {Severity::ALL
                        .iter()
                        .map(|s| view! { <option value=s.as_str() selected=severity == s.as_str()>{s.as_str()}</option> })
                        .collect_view()}
                </select>
            </label>
            <button type="submit" data-testid="filter-apply">"Filter"</button>
        </Form>
        <section class="panel">
            {p.anomalies.is_empty().then(|| view! { <p class="muted" data-testid="no-anomalies">"No anomaly matches."</p> })}
            <table data-testid="anomalies">
                <thead>
                    <tr>
                        <th scope="col">"Started"</th>
                        <th scope="col">"Scope"</th>
                        <th scope="col">"Severity"</th>
                        <th scope="col" class="num">"Excess"</th>
                        <th scope="col">"Main contributor"</th>
                        <th scope="col">"Detected after"</th>
                        <th scope="col">"Status"</th>
                    </tr>
                </thead>
                <tbody>
                    {p.anomalies.into_iter().map(|a| view! { <Row a/> }).collect_view()}
                </tbody>
            </table>
        </section>
        {p.can_act.then(|| view! { <ReportForm report/> })}
        {p.can_act.then(|| view! { <SettingsForm s settings/> })}
    }
    .into_any()
}

#[component]
fn Row(a: Anomaly) -> impl IntoView {
    let href = format!("/anomalies/{}", a.id);
    let main = a
        .contributors
        .first()
        .map(|c| format!("{} {} (+{})", c.dim.replace('_', " "), c.value, c.increase().usd()))
        .unwrap_or_else(|| "—".into());
    let after = match a.time_to_detect() {
        Some(s) => duration_label(s),
        None => format!("reported by {}", a.reported_by.clone().unwrap_or_default()),
    };
    view! {
        <tr data-anomaly=a.id data-status=a.status.as_str() data-origin=if a.detected_at.is_some() { "detected" } else { "reported" }>
            <td><A href=href>{utc_minute(a.started_at)}</A></td>
            <td>{a.scope_label()}</td>
            <td class=format!("severity-{}", a.severity.as_str())>{a.severity.as_str()}</td>
            <td class="num">{if a.detected_at.is_some() { a.excess.usd() } else { "—".into() }}</td>
            <td>{main}</td>
            <td>{after}</td>
            <td data-testid="anomaly-status">{a.status.label()}</td>
        </tr>
    }
}

#[component]
fn ReportForm(report: ServerAction<ReportAnomaly>) -> impl IntoView {
    let err = Signal::derive(move || report.value().get().and_then(Result::err).map(|e| e.to_string()));
    view! {
        <section class="panel form-panel" id="report">
            <h2>"Report a missed anomaly"</h2>
            <p class="muted">"Something the detector did not flag: it counts against the detection rate."</p>
            <ActionForm action=report node_ref=crate::components::reset_on_success(report) attr:class="stack">
                <label>
                    "Scope "
                    <select name="scope_dim" data-testid="report-scope">
                        {SCOPES.iter().map(|(k, l)| view! { <option value=*k>{*l}</option> }).collect_view()}
                    </select>
                    <FieldError error=err field="scope_dim"/>
                </label>
                <label>"Which one (team, feature… name)" <input name="scope_value" data-testid="report-value"/> <FieldError error=err field="scope_value"/></label>
                <label>"Started (UTC)" <input type="datetime-local" name="start" required data-testid="report-start"/> <FieldError error=err field="start"/></label>
                <label>"What happened" <input name="note" data-testid="report-note"/> <FieldError error=err field="note"/></label>
                <button type="submit" data-testid="report-submit">"Report anomaly"</button>
            </ActionForm>
            <ActionResult value=move || report.value().get() testid="report-result" done=|_: &i64| "Reported.".to_string()/>
        </section>
    }
    .into_any()
}

#[component]
fn SettingsForm(
    s: crate::domain::anomaly::AnomalySettings,
    settings: ServerAction<SetAnomalySettings>,
) -> impl IntoView {
    let err = Signal::derive(move || settings.value().get().and_then(Result::err).map(|e| e.to_string()));
    let current = s.alert_severity;
    view! {
        <section class="panel form-panel">
            <h2>"Detection settings"</h2>
            <p class="muted">
                "A bucket is anomalous above its band (the seasonal median + 4 robust standard deviations) when its excess reaches the minimum impact and 50 % (hourly) or 30 % (daily) of the baseline."
            </p>
            <ActionForm action=settings attr:class="stack">
                <label>"Minimum impact (US$)" <input name="min_excess" value=s.min_excess.decimal(2) data-testid="min-excess"/> <FieldError error=err field="min_excess"/></label>
                <label>
                    "Announce (in-app and webhooks) from severity "
                    <select name="alert_severity">
                        {Severity::ALL
                            .iter()
                            .map(|x| view! { <option value=x.as_str() selected=*x == current>{x.as_str()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <button type="submit">"Save settings"</button>
            </ActionForm>
            <ActionResult value=move || settings.value().get() testid="settings-result" done=|_: &()| "Saved; detection re-run.".to_string()/>
        </section>
    }
    .into_any()
}

#[component]
pub fn AnomalyPage() -> impl IntoView {
    let params = use_params_map();
    let act = ServerAction::<ActOnAnomaly>::new();
    let act_saved = crate::components::saves(act);
    let detail = Resource::new(
        move || {
            let id = params.read().get("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
            (id, act_saved.get())
        },
        |(id, _)| get_anomaly(id),
    );
    view! {
        <p>
            <A href="/anomalies">"← All anomalies"</A>
        </p>
        <Transition fallback=|| view! { <p class="muted">"Loading the anomaly…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => {
                        let title = format!("Anomaly in {} · Costroom", d.data.anomaly.scope_label());
                        view! { <Title text=title/> <Detail chart=d.chart(0) d=d.data act/> }.into_any()
                    }
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Detail(d: AnomalyDetail, chart: ChartSpec, act: ServerAction<ActOnAnomaly>) -> impl IntoView {
    let a = d.anomaly.clone();
    let detected = match (a.detected_at, a.time_to_detect()) {
        (Some(t), Some(s)) => format!("{} (after {})", utc_minute(t), duration_label(s)),
        _ => format!("reported by {}", a.reported_by.clone().unwrap_or_default()),
    };
    let also = if a.also_in.is_empty() { "—".to_string() } else { a.also_in.join(", ") };
    let status = a.status;
    // the anomaly's days, for links into the explorer and the traces of its window
    let day = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0).map(|t| t.date_naive().to_string()).unwrap_or_default()
    };
    let (from, to) = (day(a.started_at), day(a.ended_at - 1));
    let scope = if a.scope_dim == "total" {
        String::new()
    } else {
        format!("&{}={}", a.scope_dim, crate::domain::text::encode_query_value(&a.scope_value))
    };
    let gran = if a.grain == "hour" { "&gran=hour" } else { "" };
    let traces_href = format!("/traces?from={from}&to={to}");
    view! {
        <h1 data-testid="anomaly-title">{format!("{} · {} · {}", a.scope_label(), a.severity.as_str(), a.status.label())}</h1>
        <section class="kpis" aria-label="Anomaly">
            <KpiTile label="Started" value=utc_minute(a.started_at) testid="anomaly-start" formula="start of the first bucket out of band"/>
            <KpiTile label="Detected" value=detected testid="anomaly-detected" formula="when the detector first flagged it"/>
            <KpiTile label="Actual" value=a.actual.usd() testid="anomaly-actual" formula="cost in the anomalous buckets"/>
            <KpiTile label="Expected" value=a.expected.usd() testid="anomaly-expected" formula="seasonal median of the same buckets"/>
            <KpiTile label="Excess" value=a.excess.usd() testid="anomaly-excess" formula="actual − expected"/>
        </section>
        <p class="muted">{format!("Also seen in: {also}. Series: {}ly. {}", a.grain, a.note)}</p>
        <section class="panel" aria-label="Series">
            <h2>"Series and band"</h2>
            <EChart id="chart-anomaly" chart=chart label="The series with its expected band around the anomaly"/>
        </section>
        <section class="panel" aria-label="Contributors">
            <h2>"Top contributors"</h2>
            <table data-testid="contributors">
                <thead>
                    <tr>
                        <th scope="col">"Dimension"</th>
                        <th scope="col">"Value"</th>
                        <th scope="col" class="num">"During"</th>
                        <th scope="col" class="num">"Usually"</th>
                        <th scope="col" class="num">"Increase"</th>
                    </tr>
                </thead>
                <tbody>
                    {a.contributors
                        .clone()
                        .into_iter()
                        .map(|c| {
                            let href = format!(
                                "/spend?group={}&{}={}{scope}{gran}&from={from}&to={to}",
                                c.dim,
                                c.dim,
                                crate::domain::text::encode_query_value(&c.value),
                            );
                            let (value, increase) = (c.value.clone(), c.increase().usd());
                            view! {
                            <tr>
                                <td>{c.dim.replace('_', " ")}</td>
                                <th scope="row"><A href=href>{value}</A></th>
                                <td class="num">{c.during.usd()}</td>
                                <td class="num">{c.usual.usd()}</td>
                                <td class="num">{increase}</td>
                            </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
            <p>
                <A href=traces_href>{format!("Traces of {from} – {to}")}</A>
            </p>
        </section>
        <section class="panel" aria-label="Lifecycle">
            <h2>"Lifecycle"</h2>
            <p data-testid="anomaly-assignee">{format!("Assignee: {}", if a.assignee.is_empty() { "nobody yet".to_string() } else { a.assignee.clone() })}</p>
            <ol data-testid="anomaly-events">
                {d.events
                    .iter()
                    .map(|e| view! { <li>{format!("{} · {} · {}{}", utc_minute(e.at), e.actor, e.action.replace('_', " "), if e.note.is_empty() { String::new() } else { format!(": {}", e.note) })}</li> })
                    .collect_view()}
            </ol>
            {d.can_act.then(|| view! { <ActForm id=a.id status act/> })}
        </section>
    }
    .into_any()
}

#[component]
fn ActForm(id: i64, status: Status, act: ServerAction<ActOnAnomaly>) -> impl IntoView {
    let err = Signal::derive(move || act.value().get().and_then(Result::err).map(|e| e.to_string()));
    let actions: Vec<(&str, &str)> = [
        ("acknowledge", "Acknowledge", Status::Acknowledged),
        ("resolve", "Resolve", Status::Resolved),
        ("false_positive", "False positive", Status::FalsePositive),
        ("reopen", "Reopen", Status::Open),
    ]
    .into_iter()
    .filter(|(_, _, to)| status.may_become(*to))
    .map(|(k, l, _)| (k, l))
    .chain(std::iter::once(("note", "Note only")))
    .collect();
    view! {
        <ActionForm action=act node_ref=crate::components::reset_on_success(act) attr:class="stack">
            <input type="hidden" name="id" value=id/>
            <label>
                "Action "
                <select name="action" data-testid="act-action">
                    {actions.into_iter().map(|(k, l)| view! { <option value=k>{l}</option> }).collect_view()}
                </select>
                <FieldError error=err field="action"/>
            </label>
            <label>"Assignee (email; blank keeps it)" <input name="assignee" data-testid="act-assignee"/></label>
            <label>"Note" <input name="note" data-testid="act-note"/> <FieldError error=err field="note"/></label>
            <button type="submit" data-testid="act-submit">"Record"</button>
        </ActionForm>
        <ActionResult value=move || act.value().get() testid="act-result" done=|_: &()| "Recorded.".to_string()/>
    }
    .into_any()
}
