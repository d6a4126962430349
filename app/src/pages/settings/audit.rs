//! Settings → Audit log (admins): every change with who, when, and each field before → after;
//! filters live in the URL (a GET form), and the CSV link exports exactly the filtered view.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use super::{short_time, SettingsTabs};
use crate::api::{list_audit, AuditPage};
use crate::components::ErrorNotice;
use crate::domain::audit::ENTITIES;

#[component]
pub fn AuditLogPage() -> impl IntoView {
    let query = use_query_map();
    let q = move |k: &str| query.read().get(k);
    let page = Resource::new(
        move || (q("actor"), q("entity"), q("action"), q("from"), q("to")),
        |(actor, entity, action, from, to)| list_audit(actor, entity, action, from, to),
    );
    view! {
        <Title text="Audit log · Costroom"/>
        <h1>"Audit log"</h1>
        <SettingsTabs/>
        <Transition fallback=|| view! { <p class="muted">"Loading the audit log…"</p> }>
            {move || Suspend::new(async move {
                let filters = view! {
                    <AuditFilters
                        actor=q("actor").unwrap_or_default()
                        entity=q("entity").unwrap_or_default()
                        action=q("action").unwrap_or_default()
                        from=q("from").unwrap_or_default()
                        to=q("to").unwrap_or_default()
                    />
                };
                match page.await {
                    Ok(p) => view! { {filters} <AuditTable p/> }.into_any(),
                    Err(crate::error::AppError::Invalid(m)) => view! {
                        {filters}
                        <p class="error" role="alert" data-testid="audit-error">{m}</p>
                    }
                        .into_any(),
                    Err(e) => view! { <ErrorNotice e who_may="admins"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AuditFilters(actor: String, entity: String, action: String, from: String, to: String) -> impl IntoView {
    view! {
        <Form method="GET" action="/settings/audit" attr:class="range-form" attr:aria-label="Filter the audit log">
            <label>"Who " <input name="actor" value=actor placeholder="e-mail contains" data-testid="audit-actor"/></label>
            <label>
                "What "
                <select name="entity" data-testid="audit-entity">
                    <option value="">"everything"</option>
                    {ENTITIES
                        .into_iter()
                        .map(|e| view! { <option value=e selected=e == entity>{e.replace('_', " ")}</option> })
                        .collect_view()}
                </select>
            </label>
            <label>"Action " <input name="action" value=action placeholder="e.g. revoke" data-testid="audit-action"/></label>
            <label>"From " <input type="date" name="from" value=from data-testid="audit-from"/></label>
            <label>"To " <input type="date" name="to" value=to data-testid="audit-to"/></label>
            <button type="submit" data-testid="audit-apply">"Filter"</button>
        </Form>
    }
    .into_any()
}

#[component]
fn AuditTable(p: AuditPage) -> impl IntoView {
    let csv = if p.query.is_empty() {
        "/settings/audit.csv".to_string()
    } else {
        format!("/settings/audit.csv?{}", p.query)
    };
    let count = p.records.len();
    view! {
        <p class="panel-head">
            <span data-testid="audit-count">
                {format!("{count} change{}", if count == 1 { "" } else { "s" })}
                {p.truncated.then_some(" (the newest; narrow the filter to see older ones)")}
            </span>
            <a href=csv rel="external" download="costroom-audit-log.csv" data-testid="audit-csv">"Export CSV"</a>
        </p>
        <div class="panel">
            <table class="grid" data-testid="audit">
                <thead>
                    <tr>
                        <th>"When (UTC)"</th>
                        <th>"Who"</th>
                        <th>"Action"</th>
                        <th>"What"</th>
                        <th>"Before → after"</th>
                    </tr>
                </thead>
                <tbody>
                    {p.records
                        .into_iter()
                        .map(|r| {
                            let changes = r
                                .changes
                                .iter()
                                .map(|c| {
                                    let before = c.before.clone().unwrap_or_else(|| "∅".into());
                                    let after = c.after.clone().unwrap_or_else(|| "∅".into());
                                    view! { <li><b>{c.field.clone()}</b>": " {before} " → " {after}</li> }
                                })
                                .collect_view();
                            view! {
                                <tr data-testid="audit-row">
                                    <td class="when">{short_time(r.at)}</td>
                                    <td class="who">{r.actor.clone()}</td>
                                    <td><code>{r.action.clone()}</code></td>
                                    <td class="what">{r.summary.clone()}</td>
                                    <td class="changes"><ul class="plain">{changes}</ul></td>
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
