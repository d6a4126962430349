//! The ledger: spend by source, reconciliation of provider reports with events, GPU usage
//! (utilization and idle cost), training runs (cost efficiency) and commitments, with forms
//! for the people who keep it (finance, engineering, admins). The range lives in the URL.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::api::import_status;
use crate::api::ledger::{CommitmentInfo, GpuRow, TrainingRow};
use crate::api::{
    get_ledger, get_ledger_rules, AddCommitment, AddTrainingRun, LedgerView, SetGpuRate, SetLedgerRules,
};
use crate::components::{poll_job, ActionResult, ErrorNotice, JobStatus, SignInFirst};
use crate::domain::ledger::LedgerRules;
use crate::domain::reconcile::{ReconRow, ReconTotal};
use crate::domain::Nanos;
use crate::error::AppError;

fn pct(p: Option<f64>) -> String {
    p.map(|p| format!("{p:+.2}%")).unwrap_or_else(|| "—".into())
}

#[component]
pub fn LedgerPage() -> impl IntoView {
    let query = use_query_map();
    let from = move || query.read().get("from");
    let to = move || query.read().get("to");
    let rate = ServerAction::<SetGpuRate>::new();
    let run = ServerAction::<AddTrainingRun>::new();
    let commit = ServerAction::<AddCommitment>::new();
    let set_rules = ServerAction::<SetLedgerRules>::new();
    let rate_saved = crate::components::saves(rate);
    let run_saved = crate::components::saves(run);
    let commit_saved = crate::components::saves(commit);
    let set_rules_saved = crate::components::saves(set_rules);
    let ledger = Resource::new(
        move || {
            let versions = (rate_saved.get(), run_saved.get(), commit_saved.get(), set_rules_saved.get());
            (from(), to(), versions)
        },
        |(f, t, _)| get_ledger(f, t),
    );
    let rules = Resource::new(move || set_rules_saved.get(), |_| get_ledger_rules());
    let job = move || query.read().get("job").and_then(|j| j.parse::<u64>().ok());
    let report = poll_job(job, import_status);
    let upload_error = query.read_untracked().get("error").map(|c| match c.as_str() {
        "too_large" => "file: larger than the 16 MiB limit for one report page.",
        _ => "The upload could not be read; try again.",
    });
    view! {
        <Title text="Ledger · Costroom"/>
        <h1>"Ledger"</h1>
        <p class="muted">
            "All AI spend in one ledger: token events, billing imports, GPU usage, training runs and commitments. "
            "Machines send records to " <code>"/api/v1/ledger/…"</code> " (CSV or JSON); the FOCUS export takes it all back out."
        </p>
        {upload_error.map(|e| view! { <p class="error" role="alert" data-testid="report-error">{e}</p> })}
        <JobStatus status=report testid="report" unit="lines"/>
        <Transition fallback=|| view! { <p class="muted">"Loading the ledger…"</p> }>
            {move || Suspend::new(async move {
                match ledger.await {
                    Ok(v) => {
                        let rules = rules.await.ok();
                        view! { <LedgerBody v rate run commit set_rules rules/> }.into_any()
                    }
                    Err(AppError::Unauthorized) => view! { <SignInFirst/> }.into_any(),
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn LedgerBody(
    v: LedgerView,
    rate: ServerAction<SetGpuRate>,
    run: ServerAction<AddTrainingRun>,
    commit: ServerAction<AddCommitment>,
    set_rules: ServerAction<SetLedgerRules>,
    rules: Option<LedgerRules>,
) -> impl IntoView {
    let total: Nanos = v.by_source.iter().map(|(_, c)| *c).sum();
    let export = format!("/ledger/focus.csv?from={}&to={}", v.range.from, v.range.to);
    let can_write = v.can_write;
    view! {
        <section class="panel" aria-label="Range">
            <Form method="GET" action="/ledger" attr:class="range-form">
                <label>"From " <input type="date" name="from" value=v.range.from.to_string()/></label>
                <label>"To " <input type="date" name="to" value=v.range.to.to_string() data-testid="ledger-to"/></label>
                <button type="submit">"Apply"</button>
            </Form>
            <p>
                <a href=export rel="external" data-testid="focus-export">"Download as FOCUS 1.2 (CSV)"</a>
            </p>
        </section>
        <section class="panel" aria-label="Spend by source">
            <h2>"Spend by source"</h2>
            <table class="grid" data-testid="ledger-sources">
                <tbody>
                    {v.by_source.iter().map(|(s, c)| view! {
                        <tr data-source=s.as_str()><th scope="row">{s.label()}</th><td class="num">{c.usd()}</td></tr>
                    }).collect_view()}
                </tbody>
                <tfoot>
                    <tr><th scope="row">"Total"</th><td class="num" data-testid="ledger-total">{total.usd()}</td></tr>
                </tfoot>
            </table>
        </section>
        <Reconciliation rows=v.reconciliation totals=v.reconciliation_totals/>
        {can_write.then(|| view! {
            <section class="panel form-panel">
                <h2>"Import a provider report"</h2>
                <p class="muted">"One page of a report as the provider's API returned it (JSON). Importing a page again replaces it."</p>
                <form method="post" action="/ledger/report" enctype="multipart/form-data" class="stack">
                    <label>
                        "Report"
                        <select name="kind" data-testid="report-kind">
                            <option value="openai-costs">"OpenAI — organization costs"</option>
                            <option value="openai-usage">"OpenAI — completions usage"</option>
                            <option value="anthropic-costs">"Anthropic — cost report (amounts in cents)"</option>
                            <option value="anthropic-usage">"Anthropic — messages usage report"</option>
                        </select>
                    </label>
                    <label>"JSON file" <input type="file" name="file" accept=".json,application/json" required data-testid="report-file"/></label>
                    <button type="submit" data-testid="report-submit">"Import report"</button>
                </form>
            </section>
        })}
        <GpuTable rows=v.gpu/>
        <TrainingTable rows=v.training/>
        <CommitmentsTable rows=v.commitments/>
        {can_write.then(|| view! { <Forms rate run commit/> })}
        {rules.filter(|_| can_write).map(|rules| view! { <RulesForm set_rules rules/> })}
    }
}

#[component]
fn Reconciliation(rows: Vec<ReconRow>, totals: Vec<ReconTotal>) -> impl IntoView {
    view! {
        <section class="panel" aria-label="Reconciliation">
            <h2>"Reconciliation with provider reports"</h2>
            <p class="muted">
                "What each provider's cost report says against what Costroom computed from events, per day and model. "
                "Variance = reported − computed; percent of computed."
            </p>
            {if totals.is_empty() {
                view! { <p class="muted" data-testid="recon-empty">"No provider reports in this range yet."</p> }.into_any()
            } else {
                view! {
                    <table class="grid" data-testid="recon-totals">
                        <thead><tr><th>"Provider"</th><th class="num">"Reported"</th><th class="num">"Computed"</th><th class="num">"Variance"</th><th class="num">"%"</th></tr></thead>
                        <tbody>
                            {totals.into_iter().map(|t| view! {
                                <tr data-provider=t.provider.clone()>
                                    <td>{t.provider.clone()}</td><td class="num">{t.reported.usd()}</td><td class="num">{t.computed.usd()}</td>
                                    <td class="num">{t.variance.usd()}</td><td class="num">{pct(t.variance_pct)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    <table class="grid" data-testid="recon-rows">
                        <thead><tr><th>"Provider"</th><th>"Day"</th><th>"Model"</th><th class="num">"Reported"</th><th class="num">"Computed"</th><th class="num">"Variance"</th><th class="num">"%"</th><th class="num">"Tokens (report / events)"</th></tr></thead>
                        <tbody>
                            {rows.into_iter().map(|r| view! {
                                <tr>
                                    <td>{r.provider.clone()}</td><td>{r.day.to_string()}</td><td>{r.model.clone()}</td>
                                    <td class="num">{r.reported.map(|c| c.usd()).unwrap_or_else(|| "—".into())}</td>
                                    <td class="num">{r.computed.usd()}</td><td class="num">{r.variance.usd()}</td><td class="num">{pct(r.variance_pct)}</td>
                                    <td class="num">{format!("{} / {}", r.reported_tokens.map(|t| t.to_string()).unwrap_or_else(|| "—".into()), r.event_tokens)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn GpuTable(rows: Vec<GpuRow>) -> impl IntoView {
    view! {
        <section class="panel" aria-label="GPU usage">
            <h2>"GPU usage"</h2>
            <p class="muted">"Utilization = used ÷ allocated GPU-hours; idle cost = cost × unused share of the allocation."</p>
            <table class="grid" data-testid="gpu-usage">
                <thead><tr><th>"Cluster"</th><th>"Pool"</th><th>"GPU"</th><th>"Team"</th><th class="num">"Allocated h"</th><th class="num">"Used h"</th><th class="num">"Utilization"</th><th class="num">"Cost"</th><th class="num">"Idle cost"</th></tr></thead>
                <tbody>
                    {rows.into_iter().map(|g| view! {
                        <tr>
                            <td>{g.cluster}</td><td>{g.pool}</td><td>{g.gpu_type}</td><td>{g.team}</td>
                            <td class="num">{g.allocated_hours}</td><td class="num">{g.used_hours}</td>
                            <td class="num">{g.utilization_pct.map(|p| format!("{p:.1}%")).unwrap_or_else(|| "—".into())}</td>
                            <td class="num">{g.cost.usd()}</td><td class="num">{g.idle_cost.usd()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn TrainingTable(rows: Vec<TrainingRow>) -> impl IntoView {
    view! {
        <section class="panel" aria-label="Training runs">
            <h2>"Training runs"</h2>
            <p class="muted">"Training cost efficiency = cost ÷ quality score (cost per point)."</p>
            <table class="grid" data-testid="training-runs">
                <thead><tr><th>"Run"</th><th>"Model"</th><th>"Initiative"</th><th>"Ran"</th><th class="num">"Cost"</th><th>"Priced by"</th><th>"Metric"</th><th class="num">"Score"</th><th class="num">"Cost per point"</th></tr></thead>
                <tbody>
                    {rows.into_iter().map(|r| view! {
                        <tr data-run=r.run_id.clone()>
                            <td>{r.run_id.clone()}</td><td>{r.model}</td><td>{r.initiative.unwrap_or_default()}</td>
                            <td>{format!("{} → {}", r.started_at.format("%Y-%m-%d %H:%M"), r.ended_at.format("%Y-%m-%d %H:%M"))}</td>
                            <td class="num">{r.cost.usd()}</td>
                            <td>{if r.basis == "gpu_rate" { "GPU-hours × rate" } else { "stated cost" }}</td>
                            <td>{r.metric.unwrap_or_default()}</td>
                            <td class="num">{r.score.map(|s| s.to_string()).unwrap_or_default()}</td>
                            <td class="num">{r.cost_per_point.map(|c| c.usd()).unwrap_or_else(|| "—".into())}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn CommitmentsTable(rows: Vec<CommitmentInfo>) -> impl IntoView {
    view! {
        <section class="panel" aria-label="Commitments">
            <h2>"Commitments"</h2>
            <p class="muted">"Provisioned throughput, its price spread over the term in equal daily shares."</p>
            <table class="grid" data-testid="commitments">
                <thead><tr><th>"Provider"</th><th>"Model"</th><th>"Deployment"</th><th class="num">"Units"</th><th class="num">"Tokens/min"</th><th>"Term"</th><th class="num">"Price"</th><th class="num">"Per day"</th></tr></thead>
                <tbody>
                    {rows.into_iter().map(|c| view! {
                        <tr>
                            <td>{c.provider}</td><td>{c.model}</td><td>{c.deployment}</td><td class="num">{c.units}</td>
                            <td class="num">{c.tokens_per_minute.map(|t| t.to_string()).unwrap_or_default()}</td>
                            <td>{c.term}</td><td class="num">{c.price.usd()}</td><td class="num">{c.per_day.usd()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
fn Forms(
    rate: ServerAction<SetGpuRate>,
    run: ServerAction<AddTrainingRun>,
    commit: ServerAction<AddCommitment>,
) -> impl IntoView {
    view! {
        <section class="panel form-panel">
            <h2>"GPU rate"</h2>
            <ActionForm action=rate attr:class="stack">
                <label>"GPU type" <input name="gpu_type" required data-testid="rate-gpu"/></label>
                <label>"From" <input type="date" name="effective_from" required data-testid="rate-from"/></label>
                <label>"US$ per GPU-hour" <input name="usd_per_hour" required inputmode="decimal" data-testid="rate-usd"/></label>
                <button type="submit" data-testid="rate-submit">"Set rate"</button>
            </ActionForm>
            <ActionResult value=move || rate.value().get() testid="rate-result" done=|n: &u64| format!("Rate saved; {n} records re-priced.")/>
        </section>
        <section class="panel form-panel">
            <h2>"Record a training run"</h2>
            <ActionForm action=run node_ref=crate::components::reset_on_success(run) attr:class="stack">
                <label>"Run id" <input name="run_id" required data-testid="run-id"/></label>
                <label>"Model" <input name="model" required data-testid="run-model"/></label>
                <label>"Initiative" <input name="initiative" data-testid="run-initiative"/></label>
                <label>"Team" <input name="team"/></label>
                <label>"Started (RFC 3339 or date)" <input name="started_at" required placeholder="2026-11-02T18:00:00Z" data-testid="run-start"/></label>
                <label>"Ended" <input name="ended_at" required placeholder="2026-11-04T06:00:00Z" data-testid="run-end"/></label>
                <label>"Cost (US$) — or GPU type and hours below" <input name="cost_usd" inputmode="decimal" data-testid="run-cost"/></label>
                <label>"GPU type" <input name="gpu_type" data-testid="run-gpu"/></label>
                <label>"GPU-hours" <input name="gpu_hours" inputmode="decimal" data-testid="run-hours"/></label>
                <label>"Quality metric" <input name="metric_name" data-testid="run-metric"/></label>
                <label>"Score" <input name="metric_score" inputmode="decimal" data-testid="run-score"/></label>
                <button type="submit" data-testid="run-submit">"Record run"</button>
            </ActionForm>
            <ActionResult value=move || run.value().get() testid="run-result" done=|m: &String| m.clone()/>
        </section>
        <section class="panel form-panel">
            <h2>"Record a commitment"</h2>
            <ActionForm action=commit node_ref=crate::components::reset_on_success(commit) attr:class="stack">
                <label>"Provider" <input name="provider" required data-testid="ptu-provider"/></label>
                <label>"Model" <input name="model" required data-testid="ptu-model"/></label>
                <label>"Deployment" <input name="deployment"/></label>
                <label>"Units" <input name="units" required inputmode="numeric" data-testid="ptu-units"/></label>
                <label>"Capacity (tokens per minute)" <input name="tokens_per_minute" inputmode="numeric"/></label>
                <label>"Term start" <input type="date" name="term_start" required data-testid="ptu-start"/></label>
                <label>"Term end (included)" <input type="date" name="term_end" required data-testid="ptu-end"/></label>
                <label>"Price of the term (US$)" <input name="price_usd" required inputmode="decimal" data-testid="ptu-price"/></label>
                <label>"Team" <input name="team"/></label>
                <label>"Initiative" <input name="initiative"/></label>
                <button type="submit" data-testid="ptu-submit">"Record commitment"</button>
            </ActionForm>
            <ActionResult value=move || commit.value().get() testid="ptu-result" done=|m: &String| m.clone()/>
        </section>
    }
}

#[component]
fn RulesForm(set_rules: ServerAction<SetLedgerRules>, rules: LedgerRules) -> impl IntoView {
    let m = rules.mapping;
    let join = |v: &Vec<String>| v.join(", ");
    view! {
        <section class="panel form-panel">
            <h2>"Billing-import rules"</h2>
            <p class="muted">
                "Which FOCUS tags attribute an invoice line (comma-separated, first present wins; applies to imports "
                "from now on — re-import a file to re-attribute it), and which providers or services Costroom already "
                "counts from token events: their invoice lines are kept for reconciliation but not counted twice."
            </p>
            <ActionForm action=set_rules attr:class="stack">
                <label>"Team tags" <input name="team" value=join(&m.team) data-testid="rules-team"/></label>
                <label>"Feature tags" <input name="feature" value=join(&m.feature)/></label>
                <label>"Initiative tags" <input name="initiative" value=join(&m.initiative)/></label>
                <label>"Customer tags" <input name="customer" value=join(&m.customer)/></label>
                <label>"Environment tags" <input name="environment" value=join(&m.environment)/></label>
                <label>
                    "Metered by token events (provider, publisher or service names)"
                    <input name="covered_by_events" value=rules.covered_by_events.join(", ") data-testid="rules-covered"/>
                </label>
                <button type="submit" data-testid="rules-submit">"Save rules"</button>
            </ActionForm>
            <ActionResult value=move || set_rules.value().get() testid="rules-result" done=|_: &LedgerRules| "Rules saved; totals follow.".to_string()/>
        </section>
    }
}
