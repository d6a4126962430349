//! `/initiatives`: the portfolio ranked by ROI with status, value, spend, payback and zombie
//! flags; `/initiatives/:id`: one initiative's value ledger, outcomes, spend, chart, flags and
//! decisions, with the outcome form one click away.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::api::initiatives::{
    get_initiative, list_initiatives, CorrectOutcome, CreateInitiative, DecideFlag, InitiativesPage,
    RecordOutcome, RemoveOutcome, SetZombieRules, UpdateInitiative, VerifyOutcome,
};
use crate::charts::ChartSpec;
use crate::components::{ActionResult, EChart, ErrorNotice, FieldError, KpiTile};
use crate::domain::initiative::{
    pct_label, quantity_text, Breakdown, Flag, Initiative, InitiativeDetail, InitiativeLine, MonthValue,
    Outcome, OutcomeChange, Status, ZombieRules,
};
use crate::domain::{DateRange, Nanos};
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

/// The period the metrics cover: blank for the lifetime.
#[component]
fn PeriodForm(action: String, period: Option<DateRange>) -> impl IntoView {
    let (from, to) = period.map(|p| (p.from.to_string(), p.to.to_string())).unwrap_or_default();
    let all_time = action.clone();
    view! {
        <Form method="GET" action=action attr:class="range-form" attr:aria-label="Period">
            <label>"From " <input type="date" name="from" value=from data-testid="period-from"/></label>
            <label>"To " <input type="date" name="to" value=to data-testid="period-to"/></label>
            <button type="submit" data-testid="period-apply">"Show period"</button>
            " " <A href=all_time>"Lifetime"</A>
        </Form>
    }
}

fn period_label(p: Option<DateRange>) -> String {
    match p {
        Some(p) => format!("{} to {}", p.from, p.to),
        None => "lifetime (since kickoff)".into(),
    }
}

fn roi(l: &InitiativeLine) -> String {
    l.metrics.roi_basis_points.map(pct_label).unwrap_or_else(|| "—".into())
}

#[component]
pub fn InitiativesListPage() -> impl IntoView {
    let create = ServerAction::<CreateInitiative>::new();
    let set_rules = ServerAction::<SetZombieRules>::new();
    let query = use_query_map();
    let create_saved = crate::components::saves(create);
    let set_rules_saved = crate::components::saves(set_rules);
    let page = Resource::new(
        move || {
            let q = query.read();
            (
                q.get("from").unwrap_or_default(),
                q.get("to").unwrap_or_default(),
                create_saved.get(),
                set_rules_saved.get(),
            )
        },
        |(from, to, _, _)| list_initiatives(from, to),
    );
    view! {
        <Title text="Initiatives · Costroom"/>
        <h1>"Initiatives"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading initiatives…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! { <Portfolio p create set_rules/> }.into_any(),
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Portfolio(
    p: InitiativesPage,
    create: ServerAction<CreateInitiative>,
    set_rules: ServerAction<SetZombieRules>,
) -> impl IntoView {
    let flagged: Vec<(String, i64, Flag)> = p
        .lines
        .iter()
        .flat_map(|l| l.open_flags.iter().map(|f| (l.initiative.name.clone(), l.initiative.id, f.clone())))
        .collect();
    let r = p.rules.clone();
    view! {
        <PeriodForm action="/initiatives".into() period=p.period/>
        <p class="muted" data-testid="portfolio-period">
            {format!(
                "Metrics over {}. ROI = (value − spend) ÷ spend, from the outcomes product owners record and every source of spend attributed to the initiative. Best first.",
                period_label(p.period)
            )}
        </p>
        <section class="panel">
            <table data-testid="initiatives">
                <thead>
                    <tr>
                        <th scope="col">"Initiative"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Owner"</th>
                        <th scope="col" class="num">"Spend"</th>
                        <th scope="col" class="num">"Value"</th>
                        <th scope="col" class="num">"Net value"</th>
                        <th scope="col" class="num">"ROI"</th>
                        <th scope="col">"Payback"</th>
                        <th scope="col">"Flags"</th>
                    </tr>
                </thead>
                <tbody>
                    {p
                        .lines
                        .into_iter()
                        .map(|l| {
                            let (name, href) = (l.initiative.name.clone(), format!("/initiatives/{}", l.initiative.id));
                            let flags = l.open_flags.iter().map(|f| f.rule.label()).collect::<Vec<_>>().join("; ");
                            view! {
                                <tr data-initiative=l.initiative.key.clone() data-flagged=(!l.open_flags.is_empty()).to_string()>
                                    <th scope="row"><A href=href>{name}</A></th>
                                    <td>{l.initiative.status.as_str()}</td>
                                    <td>{l.initiative.owner.clone()}</td>
                                    <td class="num">{l.metrics.spend.usd()}</td>
                                    <td class="num">{l.metrics.value.usd()}</td>
                                    <td class="num">{l.metrics.net.usd()}</td>
                                    <td class="num" data-testid="roi">{roi(&l)}</td>
                                    <td>{l.metrics.payback.map(|d| d.to_string()).unwrap_or_else(|| "—".into())}</td>
                                    <td class="flag">{flags}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
        <section class="panel" aria-label="Zombie flags">
            <h2>"Zombie flags"</h2>
            <p class="muted">
                {format!(
                    "Flagged: more than {} spent in {} days with no outcome in {}; ROI below {} over {} days; requests down {}% or more over {} days while spend continues; retired but spending.",
                    r.min_spend.usd(),
                    r.spend_days,
                    r.outcome_days,
                    pct_label(r.min_roi_bp),
                    r.roi_days,
                    r.usage_drop_pct,
                    r.usage_days,
                )}
            </p>
            <ul data-testid="zombie-flags" class="alerts">
                {flagged
                    .into_iter()
                    .map(|(name, id, f)| {
                        let href = format!("/initiatives/{id}#flags");
                        view! {
                            <li data-rule=f.rule.as_str()>
                                <A href=href>{name}</A>
                                {format!(" — {}: {} (at stake {})", f.rule.label(), f.reason, f.at_stake.usd())}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
        {p.can_set_rules.then(|| view! { <RulesForm r=p.rules.clone() set_rules/> })}
        {p.can_create.then(|| view! { <CreateForm create/> })}
    }
    .into_any()
}

#[component]
fn RulesForm(r: ZombieRules, set_rules: ServerAction<SetZombieRules>) -> impl IntoView {
    let err = Signal::derive(move || set_rules.value().get().and_then(Result::err).map(|e| e.to_string()));
    let roi = format!("{}", r.min_roi_bp as f64 / 100.0);
    view! {
        <section class="panel form-panel">
            <h2>"Zombie rules"</h2>
            <ActionForm action=set_rules attr:class="stack">
                <label>"Spend window (days)" <input name="spend_days" value=r.spend_days.to_string()/> <FieldError error=err field="spend_days"/></label>
                <label>"…flag when spend in it is above (US$)" <input name="min_spend" value=r.min_spend.decimal(2) data-testid="rules-min-spend"/> <FieldError error=err field="min_spend"/></label>
                <label>"…and no outcome in (days)" <input name="outcome_days" value=r.outcome_days.to_string()/> <FieldError error=err field="outcome_days"/></label>
                <label>"ROI window (days)" <input name="roi_days" value=r.roi_days.to_string()/> <FieldError error=err field="roi_days"/></label>
                <label>"…flag when ROI is below (%)" <input name="min_roi_pct" value=roi/> <FieldError error=err field="min_roi_pct"/></label>
                <label>"Usage window (days)" <input name="usage_days" value=r.usage_days.to_string()/> <FieldError error=err field="usage_days"/></label>
                <label>"…flag when requests fall by at least (%)" <input name="usage_drop_pct" value=r.usage_drop_pct.to_string()/> <FieldError error=err field="usage_drop_pct"/></label>
                <label>"An outcome above this share of its initiative's value needs evidence and finance's verification (%)" <input name="evidence_share_pct" value=r.evidence_share_pct.to_string() data-testid="rules-evidence-share"/> <FieldError error=err field="evidence_share_pct"/></label>
                <button type="submit" data-testid="rules-submit">"Save rules"</button>
            </ActionForm>
            <ActionResult value=move || set_rules.value().get() testid="rules-result" done=|_: &()| "Rules saved; flags re-evaluated.".to_string()/>
        </section>
    }
    .into_any()
}

#[component]
fn CreateForm(create: ServerAction<CreateInitiative>) -> impl IntoView {
    let err = Signal::derive(move || create.value().get().and_then(Result::err).map(|e| e.to_string()));
    view! {
        <section class="panel form-panel">
            <h2>"New initiative"</h2>
            <ActionForm action=create node_ref=crate::components::reset_on_success(create) attr:class="stack">
                <label>"Key (the initiative attribute its spend carries)" <input name="key" required data-testid="init-key"/> <FieldError error=err field="key"/></label>
                <label>"Name" <input name="name" required data-testid="init-name"/> <FieldError error=err field="name"/></label>
                <label>"Description" <input name="description"/></label>
                <label>"Owner's email (admins; product members own what they create)" <input name="owner" type="email"/> <FieldError error=err field="owner"/></label>
                <label>"Team" <input name="team"/></label>
                <label>
                    "Status "
                    <select name="status">
                        {Status::ALL.iter().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Kickoff" <input type="date" name="kickoff"/> <FieldError error=err field="kickoff"/></label>
                <label>"Go-live" <input type="date" name="go_live"/> <FieldError error=err field="go_live"/></label>
                <label>"Outcome measured (e.g. tickets resolved)" <input name="metric"/></label>
                <label>"Unit" <input name="unit"/></label>
                <label>"Value per unit (US$)" <input name="value_per_unit" inputmode="decimal"/> <FieldError error=err field="value_per_unit"/></label>
                <label>"Features whose untagged spend counts (comma-separated)" <input name="features"/> <FieldError error=err field="features"/></label>
                <label>"API keys whose untagged spend counts (comma-separated)" <input name="api_keys"/> <FieldError error=err field="api_keys"/></label>
                <label>"Tags whose untagged spend counts (key=value, comma-separated)" <input name="tags" placeholder="project=search"/> <FieldError error=err field="tags"/></label>
                <button type="submit" data-testid="init-submit">"Create initiative"</button>
            </ActionForm>
            <ActionResult value=move || create.value().get() testid="init-result" done=|_: &i64| "Initiative created.".to_string()/>
        </section>
    }
    .into_any()
}

#[component]
pub fn InitiativePage() -> impl IntoView {
    let params = use_params_map();
    let record = ServerAction::<RecordOutcome>::new();
    let decide = ServerAction::<DecideFlag>::new();
    let update = ServerAction::<UpdateInitiative>::new();
    let correct = ServerAction::<CorrectOutcome>::new();
    let remove = ServerAction::<RemoveOutcome>::new();
    let verify = ServerAction::<VerifyOutcome>::new();
    let query = use_query_map();
    let record_saved = crate::components::saves(record);
    let decide_saved = crate::components::saves(decide);
    let update_saved = crate::components::saves(update);
    let correct_saved = crate::components::saves(correct);
    let remove_saved = crate::components::saves(remove);
    let verify_saved = crate::components::saves(verify);
    let detail = Resource::new(
        move || {
            // an id that is not a number asks for initiative 0: the server answers "not found"
            // (or "sign in" first), like any other missing one
            let id = params.read().get("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
            let q = query.read();
            let versions = (
                record_saved.get(),
                decide_saved.get(),
                update_saved.get(),
                correct_saved.get(),
                remove_saved.get(),
                verify_saved.get(),
            );
            (id, q.get("from").unwrap_or_default(), q.get("to").unwrap_or_default(), versions)
        },
        |(id, from, to, _)| get_initiative(id, from, to),
    );
    view! {
        <p>
            <A href="/initiatives">"← All initiatives"</A>
        </p>
        <Transition fallback=|| view! { <p class="muted">"Loading the initiative…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => {
                        let title = format!("{} · Initiative · Costroom", d.data.line.initiative.name);
                        view! { <Title text=title/> <Detail chart=d.chart(0) d=d.data record decide update correct remove verify/> }.into_any()
                    }
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Detail(
    d: InitiativeDetail,
    chart: ChartSpec,
    record: ServerAction<RecordOutcome>,
    decide: ServerAction<DecideFlag>,
    update: ServerAction<UpdateInitiative>,
    correct: ServerAction<CorrectOutcome>,
    remove: ServerAction<RemoveOutcome>,
    verify: ServerAction<VerifyOutcome>,
) -> impl IntoView {
    let i = d.line.initiative.clone();
    let can_verify = d.can_verify;
    let pending_note = if d.period_metrics.unverified.0 > 0 {
        format!("+ {} pending verification, not counted", d.period_metrics.unverified.usd())
    } else {
        String::new()
    };
    let initiative_id = i.id;
    let m = d.period_metrics.clone();
    let period = d.period;
    let can = d.line.can_manage;
    let days = |n: Option<i64>| n.map(|n| format!("{n} days")).unwrap_or_else(|| "—".into());
    let hypothesis = match i.hypothesis.value_per_unit {
        Some(v) => format!("{} ({}) worth {} each", i.hypothesis.metric, i.hypothesis.unit, v.usd()),
        None => i.hypothesis.metric.clone(),
    };
    let per_outcome = m
        .cost_per_outcome
        .iter()
        .map(|(metric, c)| format!("{} per {metric}", c.decimal(4)))
        .collect::<Vec<_>>()
        .join("; ");
    let roi_text = roi(&d.line);
    let here = format!("/initiatives/{}", i.id);
    let corrections = d.corrections.clone();
    let changes_of = move |id: i64| -> Vec<OutcomeChange> {
        corrections.iter().find(|(x, _)| *x == id).map(|(_, v)| v.clone()).unwrap_or_default()
    };
    let removed: Vec<OutcomeChange> = d
        .corrections
        .iter()
        .filter(|(id, _)| !d.outcomes.iter().any(|o| o.id == *id))
        .flat_map(|(_, v)| v.clone())
        .collect();
    view! {
        <h1 data-testid="initiative-title">{format!("{} · {}", i.name, i.status.as_str())}</h1>
        <p>
            {format!(
                "Owner {} · team {} · key {} · kickoff {} · go-live {}",
                i.owner,
                i.team.clone().unwrap_or_else(|| "—".into()),
                i.key,
                i.kickoff.map(|d| d.to_string()).unwrap_or_else(|| "—".into()),
                i.go_live.map(|d| d.to_string()).unwrap_or_else(|| "—".into()),
            )}
        </p>
        <p class="muted">{format!("Value hypothesis: {hypothesis}. {}", i.description)}</p>
        {can.then(|| view! { <p><a href="#record" data-testid="record-link">"Record an outcome"</a></p> })}
        <PeriodForm action=here period=Some(period)/>
        <p class="muted" data-testid="detail-period">{format!("Value, spend, net, ROI and cost per outcome over {} to {}; payback and times are lifetime.", period.from, period.to)}</p>
        <section class="kpis" aria-label="Value">
            <KpiTile label="ROI" value=roi_text testid="kpi-roi" formula="(value − spend) ÷ spend × 100, outcomes pending verification left out"/>
            <KpiTile
                label="Value"
                value=m.value.usd()
                note=pending_note
                testid="kpi-value"
                formula="Σ recorded outcome values, except outcomes pending finance's verification"
            />
            <KpiTile label="Spend" value=m.spend.usd() testid="kpi-spend" formula="every source of spend attributed to the initiative since kickoff"/>
            <KpiTile label="Net value" value=m.net.usd() testid="kpi-net" formula="value − spend"/>
            <KpiTile
                label="Cost per outcome"
                value=if per_outcome.is_empty() { "—".to_string() } else { per_outcome }
                testid="kpi-cost-per-outcome"
                formula="spend ÷ quantity, per outcome metric"
            />
            <KpiTile
                label="Payback"
                value=m.payback.map(|d| d.to_string()).unwrap_or_else(|| "not yet".into())
                testid="kpi-payback"
                formula="first day cumulative value reached cumulative spend"
            />
            <KpiTile label="Time to value" value=days(m.time_to_value_days) testid="kpi-ttv" formula="go-live → first recorded outcome"/>
            <KpiTile label="Time to first deployment" value=days(m.time_to_deploy_days) testid="kpi-ttd" formula="kickoff → go-live"/>
        </section>
        <section class="panel" aria-label="Spend and value">
            <h2>"Cumulative spend vs value"</h2>
            <EChart id="chart-initiative" chart=chart label="The initiative's cost and value over time"/>
        </section>
        <FlagsSection flags=d.flags.clone() today=d.today can decide/>
        <Months months=d.months.clone()/>
        <section class="panel" aria-label="Outcomes">
            <h2>"Value ledger"</h2>
            <table data-testid="outcomes">
                <thead>
                    <tr>
                        <th scope="col">"Day"</th>
                        <th scope="col">"Metric"</th>
                        <th scope="col" class="num">"Quantity"</th>
                        <th scope="col" class="num">"Value"</th>
                        <th scope="col" class="num">"Baseline cost"</th>
                        <th scope="col">"Note"</th>
                        <th scope="col">"Recorded by"</th>
                        <th scope="col">"Trust"</th>
                        <th scope="col">"History"</th>
                    </tr>
                </thead>
                <tbody>
                    {d
                        .outcomes
                        .into_iter()
                        .rev()
                        .map(|o| {
                            let history = changes_of(o.id);
                            let evidence = (!o.evidence.is_empty()).then(|| {
                                let href = o.evidence.clone();
                                view! { " " <a href=href rel="noopener noreferrer">"evidence"</a> }
                            });
                            view! {
                                <tr>
                                    <td>
                                        {match o.period_end {
                                            Some(e) => format!("{} – {e}", o.day),
                                            None => o.day.to_string(),
                                        }}
                                    </td>
                                    <td>{o.metric.clone()}</td>
                                    <td class="num">{quantity_text(o.quantity_milli)}</td>
                                    <td class="num">{o.value.usd()}</td>
                                    <td class="num">{o.baseline_cost.map(Nanos::usd).unwrap_or_default()}</td>
                                    <td>{o.note.clone()} {evidence}</td>
                                    <td>{o.recorded_by.clone()}</td>
                                    <td data-testid="outcome-trust" data-counted=o.counted().to_string()>
                                        {match (&o.verified_by, o.pending) {
                                            (Some(by), _) => format!("verified by {by}"),
                                            (None, true) => "pending verification (not counted)".to_string(),
                                            (None, false) => "counted".to_string(),
                                        }}
                                        {(can_verify && !o.counted()).then(|| view! {
                                            <ActionForm action=verify attr:class="inline">
                                                <input type="hidden" name="initiative" value=initiative_id.to_string()/>
                                                <input type="hidden" name="outcome" value=o.id.to_string()/>
                                                <button type="submit" data-testid="verify-outcome">"Verify"</button>
                                            </ActionForm>
                                        })}
                                    </td>
                                    <td>
                                        <History changes=history/>
                                        {can.then(|| view! { <CorrectForm o=o.clone() correct remove/> })}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
        {can.then(|| view! { <OutcomeForm id=i.id metric=i.hypothesis.metric.clone() record/> })}
        {can.then(|| view! { <EditForm i=i.clone() update/> })}
        {(!removed.is_empty()).then(|| view! {
            <section class="panel" aria-label="Removed outcomes">
                <h2>"Removed outcomes"</h2>
                <History changes=removed/>
            </section>
        })}
        {d.breakdowns.into_iter().map(|b| view! { <BreakdownTable b/> }).collect_view()}
    }
    .into_any()
}

#[component]
fn OutcomeForm(id: i64, metric: String, record: ServerAction<RecordOutcome>) -> impl IntoView {
    let err = Signal::derive(move || record.value().get().and_then(Result::err).map(|e| e.to_string()));
    view! {
        <section class="panel form-panel" id="record">
            <h2>"Record an outcome"</h2>
            <ActionForm action=record node_ref=crate::components::reset_on_success(record) attr:class="stack">
                <input type="hidden" name="initiative" value=id/>
                <label>"Day (or first day of the period)" <input type="date" name="day" required data-testid="outcome-day"/> <FieldError error=err field="day"/></label>
                <label>"Period end (optional)" <input type="date" name="period_end"/> <FieldError error=err field="period_end"/></label>
                <label>"Metric" <input name="metric" value=metric data-testid="outcome-metric"/> <FieldError error=err field="metric"/></label>
                <label>"Quantity" <input name="quantity" inputmode="decimal" data-testid="outcome-quantity"/> <FieldError error=err field="quantity"/></label>
                <label>"Value per unit (US$; blank = the hypothesis')" <input name="value_per_unit" inputmode="decimal"/> <FieldError error=err field="value_per_unit"/></label>
                <label>"Or total value (US$)" <input name="total_value" inputmode="decimal" data-testid="outcome-total"/> <FieldError error=err field="total_value"/></label>
                <label>"Pre-AI baseline cost (US$, optional)" <input name="baseline_cost" inputmode="decimal"/> <FieldError error=err field="baseline_cost"/></label>
                <label>"Note" <input name="note" data-testid="outcome-note"/></label>
                <label>"Evidence link" <input name="evidence" type="url" data-testid="outcome-evidence"/> <FieldError error=err field="evidence"/></label>
                <button type="submit" data-testid="outcome-submit">"Record outcome"</button>
            </ActionForm>
            <ActionResult value=move || record.value().get() testid="outcome-result" done=|_: &i64| "Outcome recorded.".to_string()/>
            <h3>"Or upload a CSV"</h3>
            <p class="muted">
                "One outcome per line, with a header: " <code>"day,period_end,metric,quantity,value_per_unit,total_value,baseline_cost,note,evidence,external_id"</code>
                " (any subset; " <code>"external_id"</code> " makes a re-upload skip lines already recorded)."
            </p>
            <form method="post" action=format!("/initiatives/{id}/outcomes") enctype="multipart/form-data" class="stack">
                <input type="file" name="file" accept=".csv,text/csv" required data-testid="outcome-file"/>
                <button type="submit" data-testid="outcome-upload">"Upload outcomes"</button>
            </form>
            <ImportResult/>
        </section>
    }
    .into_any()
}

#[component]
fn FlagsSection(
    flags: Vec<Flag>,
    today: chrono::NaiveDate,
    can: bool,
    decide: ServerAction<DecideFlag>,
) -> impl IntoView {
    view! {
        <section class="panel" aria-label="Zombie flags" id="flags">
            <h2>"Zombie flags and decisions"</h2>
            {flags.is_empty().then(|| view! { <p class="muted" data-testid="no-flags">"Never flagged."</p> })}
            <ul class="alerts" data-testid="initiative-flags">
                {flags
                    .into_iter()
                    .map(|f| {
                        let open = f.cleared_on.is_none();
                        let awaiting = f.awaiting_decision(today);
                        let id = f.id;
                        let state = match f.cleared_on {
                            Some(c) => format!("cleared {c}"),
                            None if awaiting => "open · awaiting a decision".into(),
                            None => "open".into(),
                        };
                        let form = (can && open).then(|| view! { <DecisionForm flag=id decide/> });
                        view! {
                            <li data-rule=f.rule.as_str() data-open=open.to_string()>
                                <strong>{f.rule.label()}</strong>
                                {format!(" — {} (at stake {}; raised {}; {state})", f.reason, f.at_stake.usd(), f.raised_on)}
                                <ul data-testid="decisions">
                                    {f
                                        .decisions
                                        .into_iter()
                                        .map(|d| {
                                            view! {
                                                <li>
                                                    {format!(
                                                        "{}: {}{} — owner {}, decided by {} on {}",
                                                        d.decision.as_str(),
                                                        d.note,
                                                        d.fix_by.map(|f| format!(" (fix by {f})")).unwrap_or_default(),
                                                        d.owner,
                                                        d.decided_by,
                                                        d.decided_on
                                                    )}
                                                </li>
                                            }
                                        })
                                        .collect_view()}
                                </ul>
                                {form}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
    .into_any()
}

#[component]
fn DecisionForm(flag: i64, decide: ServerAction<DecideFlag>) -> impl IntoView {
    let err = Signal::derive(move || decide.value().get().and_then(Result::err).map(|e| e.to_string()));
    view! {
        <ActionForm action=decide node_ref=crate::components::reset_on_success(decide) attr:class="inline decision">
            <input type="hidden" name="flag" value=flag/>
            <select name="decision" data-testid=format!("decision-{flag}")>
                <option value="keep">"keep"</option>
                <option value="fix">"fix by…"</option>
                <option value="retire">"retire"</option>
            </select>
            " "
            <input type="date" name="fix_by" aria-label="fix by" data-testid=format!("fix-by-{flag}")/>
            " "
            <input name="owner" placeholder="owner (you)" aria-label="owner"/>
            " "
            <input name="note" placeholder="why" aria-label="note" data-testid=format!("decision-note-{flag}")/>
            " "
            <button type="submit" data-testid=format!("decide-{flag}")>"Record decision"</button>
            <FieldError error=err field="fix_by"/>
            <FieldError error=err field="decision"/>
        </ActionForm>
    }
    .into_any()
}

/// What the last CSV upload did (the upload answers with a redirect carrying it).
#[component]
fn ImportResult() -> impl IntoView {
    let q = leptos_router::hooks::use_query_map();
    move || {
        let q = q.read();
        if let Some(e) = q.get("import_error") {
            return Some(view! { <p class="error" role="alert" data-testid="import-result">{format!("Upload refused: {e}")}</p> }.into_any());
        }
        let imported = q.get("imported")?;
        let summary = format!(
            "{imported} outcomes recorded, {} already recorded, {} refused.",
            q.get("duplicates").unwrap_or_default(),
            q.get("rejected").unwrap_or_default()
        );
        let errors: Vec<String> = q
            .get("import_errors")
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect();
        Some(
            view! {
                <div role="status" data-testid="import-result">
                    <p>{summary}</p>
                    <ul class="errors">{errors.into_iter().map(|e| view! { <li class="error">{e}</li> }).collect_view()}</ul>
                </div>
            }
            .into_any(),
        )
    }
}

/// The initiative's fields, prefilled, for its owner and admins (the key stays: spend is
/// attributed by it).
#[component]
fn EditForm(i: Initiative, update: ServerAction<UpdateInitiative>) -> impl IntoView {
    let err = Signal::derive(move || update.value().get().and_then(Result::err).map(|e| e.to_string()));
    let day = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    let status = i.status;
    let tags = i.tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
    view! {
        <section class="panel form-panel">
            <h2>"Change this initiative"</h2>
            <ActionForm action=update attr:class="stack">
                <input type="hidden" name="id" value=i.id/>
                <label>"Name" <input name="name" value=i.name.clone() required/> <FieldError error=err field="name"/></label>
                <label>"Description" <input name="description" value=i.description.clone()/></label>
                <label>"Owner's email" <input name="owner" value=i.owner.clone()/> <FieldError error=err field="owner"/></label>
                <label>"Team" <input name="team" value=i.team.clone().unwrap_or_default()/></label>
                <label>
                    "Status "
                    <select name="status" data-testid="edit-status">
                        {Status::ALL
                            .iter()
                            .map(|s| view! { <option value=s.as_str() selected=*s == status>{s.as_str()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label>"Kickoff" <input type="date" name="kickoff" value=day(i.kickoff)/> <FieldError error=err field="kickoff"/></label>
                <label>"Go-live" <input type="date" name="go_live" value=day(i.go_live)/> <FieldError error=err field="go_live"/></label>
                <label>"Outcome measured" <input name="metric" value=i.hypothesis.metric.clone()/></label>
                <label>"Unit" <input name="unit" value=i.hypothesis.unit.clone()/></label>
                <label>
                    "Value per unit (US$)"
                    <input name="value_per_unit" value=i.hypothesis.value_per_unit.map(|v| v.decimal(2)).unwrap_or_default()/>
                    <FieldError error=err field="value_per_unit"/>
                </label>
                <label>"Features whose untagged spend counts" <input name="features" value=i.features.join(", ")/> <FieldError error=err field="features"/></label>
                <label>"API keys whose untagged spend counts" <input name="api_keys" value=i.api_keys.join(", ")/> <FieldError error=err field="api_keys"/></label>
                <label>
                    "Tags whose untagged spend counts (key=value)"
                    <input name="tags" value=tags data-testid="edit-tags"/>
                    <FieldError error=err field="tags"/>
                </label>
                <button type="submit" data-testid="edit-submit">"Save"</button>
            </ActionForm>
            <ActionResult value=move || update.value().get() testid="edit-result" done=|_: &()| "Saved.".to_string()/>
        </section>
    }
    .into_any()
}

#[component]
fn BreakdownTable(b: Breakdown) -> impl IntoView {
    let total: i64 = b.rows.iter().map(|(_, c)| c.0).sum();
    view! {
        <section class="panel" aria-label=b.title.clone()>
            <h2>{b.title.clone()}</h2>
            <table data-testid=b.testid.clone()>
                <tbody>
                    {b.rows
                        .into_iter()
                        .map(|(k, c)| {
                            let share = crate::domain::money::share_pct(c.0, total);
                            view! {
                                <tr>
                                    <th scope="row">{k}</th>
                                    <td class="num">{c.usd()}</td>
                                    <td class="num muted">{format!("{share}%")}</td>
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

/// Value against spend per calendar month.
#[component]
fn Months(months: Vec<MonthValue>) -> impl IntoView {
    view! {
        <section class="panel" aria-label="By month">
            <h2>"By month"</h2>
            <table data-testid="months">
                <thead>
                    <tr>
                        <th scope="col">"Month"</th>
                        <th scope="col" class="num">"Spend"</th>
                        <th scope="col" class="num">"Value"</th>
                        <th scope="col" class="num">"Net value"</th>
                        <th scope="col" class="num">"ROI"</th>
                    </tr>
                </thead>
                <tbody>
                    {months
                        .into_iter()
                        .rev()
                        .map(|m| view! {
                            <tr data-month=m.month.format("%Y-%m").to_string()>
                                <th scope="row">{m.month.format("%B %Y").to_string()}</th>
                                <td class="num">{m.spend.usd()}</td>
                                <td class="num">{m.value.usd()}</td>
                                <td class="num">{m.net.usd()}</td>
                                <td class="num">{m.roi_basis_points.map(pct_label).unwrap_or_else(|| "—".into())}</td>
                            </tr>
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
    }
    .into_any()
}

#[component]
fn History(changes: Vec<OutcomeChange>) -> impl IntoView {
    (!changes.is_empty()).then(|| {
        view! {
            <ul class="history" data-testid="outcome-history">
                {changes
                    .into_iter()
                    .map(|c| view! { <li>{format!("{} · {}: {}", c.at, c.by, c.summary)}</li> })
                    .collect_view()}
            </ul>
        }
    })
}

/// Correct or remove one recorded outcome; both keep the old figures in its history.
#[component]
fn CorrectForm(
    o: Outcome,
    correct: ServerAction<CorrectOutcome>,
    remove: ServerAction<RemoveOutcome>,
) -> impl IntoView {
    let id = o.id;
    let err = Signal::derive(move || correct.value().get().and_then(Result::err).map(|e| e.to_string()));
    let remove_err =
        Signal::derive(move || remove.value().get().and_then(Result::err).map(|e| e.to_string()));
    view! {
        <details data-testid=format!("correct-{id}")>
            <summary>"Correct"</summary>
            <ActionForm action=correct attr:class="stack">
                <input type="hidden" name="initiative" value=o.initiative_id/>
                <input type="hidden" name="outcome" value=id/>
                <label>"Day" <input type="date" name="day" value=o.day.to_string() required/> <FieldError error=err field="day"/></label>
                <label>"Period end" <input type="date" name="period_end" value=o.period_end.map(|d| d.to_string()).unwrap_or_default()/> <FieldError error=err field="period_end"/></label>
                <label>"Metric" <input name="metric" value=o.metric.clone()/></label>
                <label>"Quantity" <input name="quantity" value=quantity_text(o.quantity_milli) data-testid="correct-quantity"/> <FieldError error=err field="quantity"/></label>
                <input type="hidden" name="value_per_unit" value=""/>
                <label>"Total value (US$)" <input name="total_value" value=o.value.decimal(9) data-testid="correct-total"/> <FieldError error=err field="total_value"/></label>
                <label>"Pre-AI baseline cost (US$)" <input name="baseline_cost" value=o.baseline_cost.map(|b| b.decimal(9)).unwrap_or_default()/> <FieldError error=err field="baseline_cost"/></label>
                <label>"Note" <input name="note" value=o.note.clone()/></label>
                <label>"Evidence link" <input name="evidence" value=o.evidence.clone()/> <FieldError error=err field="evidence"/></label>
                <button type="submit" data-testid=format!("correct-submit-{id}")>"Save correction"</button>
            </ActionForm>
            <ActionForm action=remove attr:class="stack">
                <input type="hidden" name="initiative" value=o.initiative_id/>
                <input type="hidden" name="outcome" value=id/>
                <label>"Or remove it, because…" <input name="reason" data-testid=format!("remove-reason-{id}")/> <FieldError error=remove_err field="reason"/></label>
                <button type="submit" data-testid=format!("remove-submit-{id}")>"Remove outcome"</button>
            </ActionForm>
        </details>
    }
    .into_any()
}
