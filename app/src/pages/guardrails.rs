//! `/guardrails`: the rules checked before spend, with each cap's live headroom and hits, the
//! shadow → enforce switch, the replay ("what would these rules have done to the last 30
//! days"), and the decision log with its filters and CSV export. Everyone reads; engineering
//! and admins change rules.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::api::guardrails::{
    guardrails_page, CreateGuardrail, DeleteGuardrail, GuardrailsView, ReplayGuardrails, SetGuardrailMode,
};
use crate::components::{ActionResult, ErrorNotice, FieldError};
use crate::domain::guardrail::{Code, Logged, Mode, ReplayReport, RuleLine, ScopeKind};
use crate::domain::Nanos;

fn at(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

#[component]
pub fn GuardrailsPage() -> impl IntoView {
    let query = use_query_map();
    let create = ServerAction::<CreateGuardrail>::new();
    let switch = ServerAction::<SetGuardrailMode>::new();
    let delete = ServerAction::<DeleteGuardrail>::new();
    let replay = ServerAction::<ReplayGuardrails>::new();
    let (c, s, d) = (
        crate::components::saves(create),
        crate::components::saves(switch),
        crate::components::saves(delete),
    );
    let page = Resource::new(
        move || {
            let q = query.read();
            (q.get("rule"), q.get("key"), q.get("code"), q.get("days"), c.get(), s.get(), d.get())
        },
        |(rule, key, code, days, ..)| guardrails_page(rule, key, code, days),
    );
    view! {
        <Title text="Guardrails · Costroom"/>
        <h1>"Guardrails"</h1>
        <p class="muted">
            "Rules checked before a model call is made (" <code>"POST /api/v1/authorize"</code> "): every rule that "
            "applies is checked and any enforced denial denies. A shadow rule decides and logs but never denies. "
            "A cap holds each call's worst case until the call is settled with its exact cost or the hold expires."
        </p>
        <Transition fallback=|| view! { <p class="muted">"Loading guardrails…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! { <Body p switch delete create replay/> }.into_any(),
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
        <ActionResult value=move || switch.value().get() testid="mode-result" done=|_: &()| "Mode changed.".to_string()/>
        <ActionResult value=move || delete.value().get() testid="delete-result" done=|_: &()| "Rule deleted.".to_string()/>
    }
}

#[component]
fn Body(
    p: GuardrailsView,
    switch: ServerAction<SetGuardrailMode>,
    delete: ServerAction<DeleteGuardrail>,
    create: ServerAction<CreateGuardrail>,
    replay: ServerAction<ReplayGuardrails>,
) -> impl IntoView {
    let can = p.can_edit;
    let rules: Vec<(i64, String)> = p.lines.iter().map(|l| (l.rule.id, l.rule.name.clone())).collect();
    view! {
        <RulesTable lines=p.lines can switch delete/>
        <section class="panel" data-testid="replay">
            <div class="panel-head">
                <h2>"Replay"</h2>
                <ActionForm action=replay attr:class="inline">
                    <input type="hidden" name="days" value="30"/>
                    <button type="submit" data-testid="replay-run">"Replay the rules over the last 30 days"</button>
                </ActionForm>
            </div>
            <p class="muted">
                "Each rule as if enforced and in force the whole time: a call any rule denies is not made, so its "
                "money does not count against the caps afterwards."
            </p>
            {move || replay.value().get().map(|r| match r {
                Ok(r) => view! { <ReplayTable r/> }.into_any(),
                Err(e) => view! { <p class="error" role="alert" data-testid="replay-error">{e.to_string()}</p> }.into_any(),
            })}
        </section>
        <DecisionLog log=p.log rules/>
        {can.then(|| view! { <CreateRuleForm create today=p.today.clone()/> })}
    }
}

#[component]
fn RulesTable(
    lines: Vec<RuleLine>,
    can: bool,
    switch: ServerAction<SetGuardrailMode>,
    delete: ServerAction<DeleteGuardrail>,
) -> impl IntoView {
    if lines.is_empty() {
        return view! {
            <p class="muted" data-testid="no-rules">"No rules yet: every call is allowed. Add one below, in shadow mode first to see what it would deny."</p>
        }
        .into_any();
    }
    view! {
        <div class="panel">
            <table class="grid" data-testid="rules">
                <thead>
                    <tr>
                        <th>"Rule"</th>
                        <th>"Scope"</th>
                        <th>"Limit"</th>
                        <th>"Mode"</th>
                        <th>"Headroom"</th>
                        <th class="num">"Hits 24 h"</th>
                        <th class="num">"Hits 7 d"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>
                    {lines
                        .into_iter()
                        .map(|l| {
                            let id = l.rule.id;
                            let shadow = l.rule.mode == Mode::Shadow;
                            let (mode, other, label) = if shadow {
                                ("shadow", "enforce", "Enforce")
                            } else {
                                ("enforce", "shadow", "Back to shadow")
                            };
                            let actions = can.then(move || view! {
                                <ActionForm action=switch attr:class="inline">
                                    <input type="hidden" name="id" value=id/>
                                    <input type="hidden" name="mode" value=other/>
                                    <button type="submit" data-testid=format!("mode-{id}")>{label}</button>
                                </ActionForm>
                                " "
                                <ActionForm action=delete attr:class="inline">
                                    <input type="hidden" name="id" value=id/>
                                    <button type="submit" class="danger" data-testid=format!("delete-{id}")>"Delete"</button>
                                </ActionForm>
                            });
                            let headroom = l.headroom().unwrap_or_else(|| "—".into());
                            let name = l.rule.name.clone();
                            view! {
                                <tr data-testid=format!("rule-{name}") data-rule-id=id>
                                    <td>{name.clone()}</td>
                                    <td>{l.scope.clone()}</td>
                                    <td>{l.describe.clone()}</td>
                                    <td data-testid="rule-mode"><span class=format!("badge mode-{mode}")>{mode}</span></td>
                                    <td data-testid="rule-headroom">{headroom}</td>
                                    <td class="num" data-testid="hits-24h">{l.hits_24h}</td>
                                    <td class="num" data-testid="hits-7d">{l.hits_7d}</td>
                                    <td>{actions}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn ReplayTable(r: ReplayReport) -> impl IntoView {
    let range = match (r.from, r.to) {
        (Some(f), Some(t)) => format!("{f} – {t}"),
        _ => "no calls".into(),
    };
    let top = |v: &[(String, i64, i64)]| {
        v.first()
            .map(|(k, n, c)| format!("{k}: {n} calls, {}", Nanos(*c).usd()))
            .unwrap_or_else(|| "—".into())
    };
    view! {
        <p data-testid="replay-total">
            {format!(
                "{range}: {} calls, {}; the rules would have denied {} calls, {}.",
                r.calls,
                Nanos(r.spend_nanos).usd(),
                r.denied_calls,
                Nanos(r.denied_nanos).usd()
            )}
        </p>
        <table class="grid" data-testid="replay-rules">
            <thead>
                <tr>
                    <th>"Rule"</th>
                    <th class="num">"Denied calls"</th>
                    <th class="num">"Denied spend"</th>
                    <th class="num">"Warned calls"</th>
                    <th class="num">"Warned spend"</th>
                    <th>"Most denied team"</th>
                    <th>"Most denied feature"</th>
                </tr>
            </thead>
            <tbody>
                {r.rules
                    .iter()
                    .map(|x| view! {
                        <tr data-testid=format!("replay-{}", x.rule)>
                            <td>{x.rule.clone()}</td>
                            <td class="num" data-testid="replay-denied">{x.denied_calls}</td>
                            <td class="num" data-testid="replay-denied-usd">{Nanos(x.denied_nanos).usd()}</td>
                            <td class="num">{x.warned_calls}</td>
                            <td class="num">{Nanos(x.warned_nanos).usd()}</td>
                            <td>{top(&x.by_team)}</td>
                            <td>{top(&x.by_feature)}</td>
                        </tr>
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn DecisionLog(log: Vec<Logged>, rules: Vec<(i64, String)>) -> impl IntoView {
    let query = use_query_map();
    let q = move |k: &str| query.read_untracked().get(k).unwrap_or_default();
    let (rule, key, code, days) = (q("rule"), q("key"), q("code"), q("days"));
    let csv = format!(
        "/guardrails/decisions.csv?rule={}&key={}&code={}&days={}",
        crate::domain::text::encode_query_value(&rule),
        crate::domain::text::encode_query_value(&key),
        crate::domain::text::encode_query_value(&code),
        crate::domain::text::encode_query_value(&days)
    );
    let body = if log.is_empty() {
        view! { <p class="muted" data-testid="no-decisions">"No denials or warnings under this filter."</p> }
            .into_any()
    } else {
        view! {
            <table class="grid" data-testid="decisions">
                <thead>
                    <tr>
                        <th>"When (UTC)"</th>
                        <th>"Rule"</th>
                        <th>"Code"</th>
                        <th>"Outcome"</th>
                        <th>"API key"</th>
                        <th>"Team"</th>
                        <th>"Feature"</th>
                        <th>"Model"</th>
                        <th>"Why"</th>
                    </tr>
                </thead>
                <tbody>
                    {log
                        .into_iter()
                        .map(|l| {
                            let outcome = if l.enforced { "denied" } else { "warned (not denied)" };
                            view! {
                                <tr class=format!("decision-{}", if l.enforced { "denied" } else { "warned" }) data-testid="decision">
                                    <td>{at(l.at_ms)}</td>
                                    <td>{l.rule.clone()}</td>
                                    <td><code>{l.code.as_str()}</code></td>
                                    <td>{outcome}</td>
                                    <td><code>{l.api_key.clone()}</code></td>
                                    <td>{l.team.clone()}</td>
                                    <td>{l.feature.clone()}</td>
                                    <td>{l.model.clone()}</td>
                                    <td>{l.message.clone()}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <section class="panel" data-testid="decision-log">
            <div class="panel-head">
                <h2>"Decision log"</h2>
                <a href=csv data-testid="decisions-csv" rel="external" download>"Export CSV"</a>
            </div>
            <Form method="GET" action="/guardrails" attr:class="range-form" attr:aria-label="Filter the decision log">
                <label>
                    "Rule "
                    <select name="rule" data-testid="filter-rule">
                        <option value="" selected=rule.is_empty()>"any"</option>
                        {rules
                            .into_iter()
                            .map(|(id, name)| {
                                let selected = rule == id.to_string();
                                view! { <option value=id selected=selected>{name}</option> }
                            })
                            .collect_view()}
                    </select>
                </label>
                <label>"API key " <input name="key" value=key.clone() placeholder="prefix" data-testid="filter-key"/></label>
                <label>
                    "Code "
                    <select name="code" data-testid="filter-code">
                        <option value="" selected=code.is_empty()>"any"</option>
                        {Code::ALL
                            .into_iter()
                            .map(|c| {
                                let selected = code == c.as_str();
                                view! { <option value=c.as_str() selected=selected>{c.as_str()}</option> }
                            })
                            .collect_view()}
                    </select>
                </label>
                <label>"Days " <input type="number" name="days" min="1" max="90" value=if days.is_empty() { "7".to_string() } else { days.clone() } data-testid="filter-days"/></label>
                <button type="submit" data-testid="filter-apply">"Filter"</button>
            </Form>
            {body}
        </section>
    }
}

#[component]
fn CreateRuleForm(create: ServerAction<CreateGuardrail>, today: String) -> impl IntoView {
    let err = Signal::derive(move || create.value().get().and_then(Result::err).map(|e| e.to_string()));
    let kind = RwSignal::new("cap".to_string());
    let off = move |k: &'static str| move || kind.get() != k;
    view! {
        <section class="panel form-panel" data-testid="rule-form">
            <h2>"Add or change a rule"</h2>
            <p class="muted">"A rule with the name of an existing rule replaces it (its cap's money stays). Money in US dollars."</p>
            <ActionForm action=create attr:class="stack">
                <label>"Name" <input name="name" required data-testid="rule-name"/> <FieldError error=err field="name"/></label>
                <label>
                    "Scope"
                    <select name="scope" data-testid="rule-scope">
                        {ScopeKind::ALL
                            .into_iter()
                            .map(|k| view! { <option value=k.as_str()>{k.as_str().replace('_', " ")}</option> })
                            .collect_view()}
                    </select>
                    <FieldError error=err field="scope"/>
                </label>
                <label>"Scope value (the team, feature, key…)" <input name="scope_value" data-testid="rule-scope-value"/> <FieldError error=err field="scope_value"/></label>
                <label>
                    "Mode"
                    <select name="mode" data-testid="rule-mode-input">
                        <option value="shadow">"shadow (log what it would deny)"</option>
                        <option value="enforce">"enforce"</option>
                    </select>
                </label>
                <label>"In force from" <input type="date" name="effective_from" value=today required data-testid="rule-from"/> <FieldError error=err field="effective_from"/></label>
                <label>
                    "Limit"
                    <select name="limit" data-testid="rule-limit" on:change=move |ev| kind.set(event_target_value(&ev))>
                        <option value="cap">"spend cap"</option>
                        <option value="models">"model allow- or deny-list"</option>
                        <option value="request">"per-call limits"</option>
                        <option value="rate">"rate limit"</option>
                        <option value="agent">"agent-run limits"</option>
                    </select>
                    <FieldError error=err field="limit"/>
                </label>
                <fieldset disabled=off("cap") hidden=off("cap")>
                    <legend>"Spend cap"</legend>
                    <label>
                        "Per"
                        <select name="period" data-testid="rule-period">
                            <option value="month">"month"</option>
                            <option value="week">"week"</option>
                            <option value="day">"day"</option>
                            <option value="rolling">"rolling days"</option>
                        </select>
                        <FieldError error=err field="period"/>
                    </label>
                    <label>"Rolling days" <input type="number" name="rolling_days" min="1" max="366"/> <FieldError error=err field="rolling_days"/></label>
                    <label>"Amount (USD)" <input name="amount_usd" inputmode="decimal" data-testid="rule-amount"/> <FieldError error=err field="amount_usd"/></label>
                    <label>
                        "When passed"
                        <select name="hard" data-testid="rule-hard">
                            <option value="true">"deny (hard cap)"</option>
                            <option value="false">"warn only (soft cap)"</option>
                        </select>
                    </label>
                </fieldset>
                <fieldset disabled=off("models") hidden=off("models")>
                    <legend>"Models"</legend>
                    <label>
                        "List"
                        <select name="list">
                            <option value="deny">"deny these"</option>
                            <option value="allow">"allow only these"</option>
                        </select>
                    </label>
                    <label>"Model patterns (comma-separated, * for any text)" <input name="models" data-testid="rule-models"/> <FieldError error=err field="models"/></label>
                    <label>"Suggest instead" <input name="instead"/></label>
                </fieldset>
                <fieldset disabled=off("request") hidden=off("request")>
                    <legend>"Per call"</legend>
                    <label>"Max max_tokens" <input type="number" name="max_tokens" min="1"/> <FieldError error=err field="max_tokens"/></label>
                    <label>
                        "A call asking for more"
                        <select name="clamp" data-testid="rule-clamp">
                            <option value="false">"is denied"</option>
                            <option value="true">"is lowered to this max_tokens (clamp)"</option>
                        </select>
                        <FieldError error=err field="clamp"/>
                    </label>
                    <label>"Max estimated input tokens" <input type="number" name="max_input_tokens" min="1"/></label>
                    <label>"Max cost of one call (USD)" <input name="max_cost_usd" inputmode="decimal"/> <FieldError error=err field="max_cost_usd"/></label>
                </fieldset>
                <fieldset disabled=off("rate") hidden=off("rate")>
                    <legend>"Rate"</legend>
                    <label>"Requests per minute" <input type="number" name="requests_per_minute" min="1"/> <FieldError error=err field="requests_per_minute"/></label>
                    <label>"Tokens per minute" <input type="number" name="tokens_per_minute" min="1"/></label>
                    <label>"Burst (requests at once)" <input type="number" name="burst" min="1"/> <FieldError error=err field="burst"/></label>
                </fieldset>
                <fieldset disabled=off("agent") hidden=off("agent")>
                    <legend>"Agent run (one trace id)"</legend>
                    <label>"Max depth" <input type="number" name="max_depth" min="0"/> <FieldError error=err field="max_depth"/></label>
                    <label>"Max retries" <input type="number" name="max_retries" min="0"/></label>
                    <label>"Max cost of the run (USD)" <input name="max_run_cost_usd" inputmode="decimal"/></label>
                    <label>"Max calls" <input type="number" name="max_calls" min="1"/></label>
                </fieldset>
                <button type="submit" data-testid="rule-submit">"Save rule"</button>
            </ActionForm>
            <ActionResult value=move || create.value().get() testid="rule-result" done=|_: &i64| "Rule saved.".to_string()/>
        </section>
    }
}
