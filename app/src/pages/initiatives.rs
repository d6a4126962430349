//! `/initiatives`: the portfolio ranked by ROI with status, value, spend, payback and zombie
//! flags; `/initiatives/:id`: one initiative's value ledger, outcomes, spend, chart, flags and
//! decisions, with the outcome form one click away.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::api::initiatives::{
    get_initiative, list_initiatives, CreateInitiative, DecideFlag, InitiativesPage, RecordOutcome,
    SetZombieRules, UpdateInitiative,
};
use crate::charts;
use crate::components::{ActionResult, EChart, ErrorNotice, FieldError, KpiTile};
use crate::domain::initiative::{
    pct_label, Flag, Initiative, InitiativeDetail, InitiativeLine, Status, ZombieRules,
};
use crate::domain::Nanos;

fn roi(l: &InitiativeLine) -> String {
    l.metrics.roi_basis_points.map(pct_label).unwrap_or_else(|| "—".into())
}

fn quantity(milli: i64) -> String {
    if milli % 1000 == 0 {
        (milli / 1000).to_string()
    } else {
        format!("{}.{:03}", milli / 1000, milli % 1000).trim_end_matches('0').to_string()
    }
}

#[component]
pub fn InitiativesListPage() -> impl IntoView {
    let create = ServerAction::<CreateInitiative>::new();
    let set_rules = ServerAction::<SetZombieRules>::new();
    let page =
        Resource::new(move || (create.version().get(), set_rules.version().get()), |_| list_initiatives());
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
        <p class="muted">
            "ROI = (value − spend) ÷ spend, from the outcomes product owners record and every source of spend "
            "attributed to the initiative since its kickoff. Best first."
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
            <ActionForm action=create attr:class="stack">
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
                <label>"Features whose untagged spend counts (comma-separated)" <input name="features"/></label>
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
    let detail = Resource::new(
        move || {
            // an id that is not a number asks for initiative 0: the server answers "not found"
            // (or "sign in" first), like any other missing one
            let id = params.read().get("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
            (id, record.version().get(), decide.version().get(), update.version().get())
        },
        |(id, _, _, _)| get_initiative(id),
    );
    view! {
        <Title text="Initiative · Costroom"/>
        <p>
            <A href="/initiatives">"← All initiatives"</A>
        </p>
        <Transition fallback=|| view! { <p class="muted">"Loading the initiative…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(d) => view! { <Detail d record decide update/> }.into_any(),
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Detail(
    d: InitiativeDetail,
    record: ServerAction<RecordOutcome>,
    decide: ServerAction<DecideFlag>,
    update: ServerAction<UpdateInitiative>,
) -> impl IntoView {
    let i = d.line.initiative.clone();
    let m = d.line.metrics.clone();
    let can = d.line.can_manage;
    let chart = charts::initiative::spend_vs_value(&d.cumulative);
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
    let total = d.breakdown.total.cost_nanos;
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
        <section class="kpis" aria-label="Value">
            <KpiTile label="ROI" value=roi_text testid="kpi-roi" formula="(value − spend) ÷ spend × 100"/>
            <KpiTile label="Value" value=m.value.usd() testid="kpi-value" formula="Σ recorded outcome values"/>
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
            <EChart id="chart-initiative" chart=chart/>
        </section>
        <FlagsSection flags=d.flags.clone() today=d.today can decide/>
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
                    </tr>
                </thead>
                <tbody>
                    {d
                        .outcomes
                        .into_iter()
                        .rev()
                        .map(|o| {
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
                                    <td class="num">{quantity(o.quantity_milli)}</td>
                                    <td class="num">{o.value.usd()}</td>
                                    <td class="num">{o.baseline_cost.map(Nanos::usd).unwrap_or_default()}</td>
                                    <td>{o.note.clone()} {evidence}</td>
                                    <td>{o.recorded_by.clone()}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
        {can.then(|| view! { <OutcomeForm id=i.id metric=i.hypothesis.metric.clone() record/> })}
        {can.then(|| view! { <EditForm i=i.clone() update/> })}
        <section class="panel" aria-label="Spend by feature">
            <h2>"Spend by feature"</h2>
            <table data-testid="initiative-breakdown">
                <tbody>
                    {d
                        .breakdown
                        .table
                        .into_iter()
                        .map(|g| {
                            let share = crate::domain::explore::share_pct(g.sums.cost_nanos, total);
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
    }
    .into_any()
}

#[component]
fn OutcomeForm(id: i64, metric: String, record: ServerAction<RecordOutcome>) -> impl IntoView {
    let err = Signal::derive(move || record.value().get().and_then(Result::err).map(|e| e.to_string()));
    view! {
        <section class="panel form-panel" id="record">
            <h2>"Record an outcome"</h2>
            <ActionForm action=record attr:class="stack">
                <input type="hidden" name="initiative" value=id/>
                <label>"Day (or first day of the period)" <input type="date" name="day" required data-testid="outcome-day"/> <FieldError error=err field="day"/></label>
                <label>"Period end (optional)" <input type="date" name="period_end"/> <FieldError error=err field="period_end"/></label>
                <label>"Metric" <input name="metric" value=metric data-testid="outcome-metric"/> <FieldError error=err field="metric"/></label>
                <label>"Quantity" <input name="quantity" inputmode="decimal" data-testid="outcome-quantity"/> <FieldError error=err field="quantity"/></label>
                <label>"Value per unit (US$; blank = the hypothesis')" <input name="value_per_unit" inputmode="decimal"/> <FieldError error=err field="value_per_unit"/></label>
                <label>"Or total value (US$)" <input name="total_value" inputmode="decimal" data-testid="outcome-total"/> <FieldError error=err field="total_value"/></label>
                <label>"Pre-AI baseline cost (US$, optional)" <input name="baseline_cost" inputmode="decimal"/> <FieldError error=err field="baseline_cost"/></label>
                <label>"Note" <input name="note" data-testid="outcome-note"/></label>
                <label>"Evidence link" <input name="evidence" type="url"/> <FieldError error=err field="evidence"/></label>
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
        <ActionForm action=decide attr:class="inline decision">
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
                <label>"Features whose untagged spend counts" <input name="features" value=i.features.join(", ")/></label>
                <button type="submit" data-testid="edit-submit">"Save"</button>
            </ActionForm>
            <ActionResult value=move || update.value().get() testid="edit-result" done=|_: &()| "Saved.".to_string()/>
        </section>
    }
    .into_any()
}
