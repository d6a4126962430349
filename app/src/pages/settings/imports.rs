//! Settings → Billing imports: upload a FOCUS file (finance, engineering, admins) — a plain
//! multipart form, so it works without JavaScript — watch its progress, and see past imports.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::{short_time, SettingsTabs};
use crate::api::{import_status, list_ledger_imports, whoami, ImportInfo};
use crate::components::{poll_job, ErrorNotice, JobStatus};
use crate::domain::money::group_thousands;
use crate::domain::Right;

fn error_text(code: &str) -> &'static str {
    match code {
        "empty" => "file: choose a FOCUS CSV file to upload.",
        "too_large" => "file: larger than the 2 GiB limit.",
        "storage" => "The upload could not be stored on the server; try again.",
        _ => "The upload could not be read; try again.",
    }
}

#[component]
pub fn BillingImportsPage() -> impl IntoView {
    let query = use_query_map();
    let job = move || query.read().get("job").and_then(|j| j.parse::<u64>().ok());
    let error = query.read_untracked().get("error").map(|c| error_text(&c));
    let me = Resource::new(|| (), |_| whoami());
    let status = poll_job(job, import_status);
    let finished = move || status.get().flatten().is_some_and(|s| s.finished);
    let imports = Resource::new(finished, |_| list_ledger_imports());
    view! {
        <Title text="Billing imports · Costroom"/>
        <h1>"Billing imports"</h1>
        <SettingsTabs/>
        <p class="muted">
            "FOCUS 1.0–1.2 billing exports (cloud GPU bills, provider invoices). Each import replaces, per billing "
            "account and billing period, what earlier imports brought: importing a file again never counts twice."
        </p>
        {error.map(|e| view! { <p class="error" role="alert" data-testid="upload-error">{e}</p> })}
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let may = me.await.ok().flatten().is_some_and(|m| m.role.can(Right::ImportBilling));
                may.then(|| view! {
                    <section class="panel form-panel">
                        <h2>"Import a FOCUS file"</h2>
                        <form method="post" action="/ledger/focus" enctype="multipart/form-data" class="stack">
                            <label>"FOCUS CSV file" <input type="file" name="file" accept=".csv,text/csv" required data-testid="upload-file"/></label>
                            <label class="check"><input type="checkbox" name="all_or_nothing" data-testid="upload-all-or-nothing"/>" All or nothing: import nothing if any row is bad"</label>
                            <button type="submit" data-testid="upload-submit">"Import"</button>
                        </form>
                    </section>
                })
            })}
        </Suspense>
        <JobStatus status testid="import" unit="rows imported"/>
        <Transition fallback=|| view! { <p class="muted">"Loading imports…"</p> }>
            {move || Suspend::new(async move {
                match imports.await {
                    Ok(list) => view! { <ImportsTable list/> }.into_any(),
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ImportsTable(list: Vec<ImportInfo>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="muted" data-testid="no-imports">"No billing imports yet."</p> }.into_any();
    }
    view! {
        <div class="panel">
            <table class="grid" data-testid="imports">
                <thead>
                    <tr>
                        <th>"When (UTC)"</th><th>"File"</th><th>"By"</th><th class="num">"Rows"</th>
                        <th class="num">"Replaced"</th><th class="num">"Billed"</th><th class="num">"Effective"</th>
                    </tr>
                </thead>
                <tbody>
                    {list.into_iter().map(|i| view! {
                        <tr data-testid="import-row">
                            <td class="when">{short_time(i.at)}</td>
                            <td>{i.file_name.clone()}</td>
                            <td>{i.by.clone().unwrap_or_else(|| "command line".into())}</td>
                            <td class="num">{group_thousands(i.rows as u64)}</td>
                            <td class="num">{group_thousands(i.replaced as u64)}</td>
                            <td class="num">{i.billed.usd()}</td>
                            <td class="num">{i.effective.usd()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
