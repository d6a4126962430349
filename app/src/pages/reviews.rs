//! `/reviews`: schedules, past and upcoming reviews, open action items; `/reviews/:id`: one
//! review for the cost meeting (printable, exportable), with its decisions and action items;
//! `/maturity`: the crawl / walk / run checklist with its evidence and history.
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::api::reviews::{
    get_maturity, get_review, list_reviews, AddActionItem, AddReviewDecision, CloseReview,
    CreateReviewSchedule, ReviewsPage, SetActionDone, SetMaturityItem,
};
use crate::components::{ActionResult, ErrorNotice, FieldError};
use crate::domain::maturity::{next_steps, Check, Item, MaturityPage, STAGES};
use crate::domain::review::ReviewPage;
use crate::domain::Nanos;

fn stage_name(s: Option<usize>) -> String {
    match s {
        Some(s) => STAGES[s].to_string(),
        None => "Not started (stage 0 incomplete)".into(),
    }
}

#[component]
pub fn ReviewsListPage() -> impl IntoView {
    let schedule = ServerAction::<CreateReviewSchedule>::new();
    let schedule_saved = crate::components::saves(schedule);
    let page = Resource::new(move || schedule_saved.get(), |_| list_reviews());
    view! {
        <Title text="Reviews · Costroom"/>
        <h1>"Cost reviews"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading reviews…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! { <ReviewsList p schedule/> }.into_any(),
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ReviewsList(p: ReviewsPage, schedule: ServerAction<CreateReviewSchedule>) -> impl IntoView {
    let err = Signal::derive(move || schedule.value().get().and_then(Result::err).map(|e| e.to_string()));
    view! {
        <section class="panel" aria-label="Upcoming">
            <h2>"Upcoming"</h2>
            {p.upcoming.is_empty().then(|| view! { <p class="muted">"No schedule yet."</p> })}
            <ul data-testid="upcoming">
                {p.upcoming.iter().map(|(s, d)| view! { <li>{format!("{s}: next meeting {d}")}</li> }).collect_view()}
            </ul>
        </section>
        <section class="panel" aria-label="Reviews">
            <h2>"Reviews"</h2>
            <table data-testid="reviews">
                <thead>
                    <tr>
                        <th scope="col">"Meeting"</th>
                        <th scope="col">"Review"</th>
                        <th scope="col">"State"</th>
                    </tr>
                </thead>
                <tbody>
                    {p.reviews
                        .into_iter()
                        .map(|r| {
                            let href = format!("/reviews/{}", r.id);
                            let state = match &r.closed_at {
                                Some(at) => format!("closed {at}"),
                                None => "open".into(),
                            };
                            view! {
                                <tr data-review=r.id>
                                    <td>{r.meeting.to_string()}</td>
                                    <th scope="row"><A href=href>{r.title.clone()}</A></th>
                                    <td>{state}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
        <section class="panel" aria-label="Open action items">
            <h2>"Open action items"</h2>
            <ul data-testid="open-actions">
                {p.open_actions
                    .into_iter()
                    .map(|(a, review)| view! {
                        <li>{format!("{} — {} (due {}) · from {review}", a.title, a.owner, a.due.map(|d| d.to_string()).unwrap_or_else(|| "—".into()))}</li>
                    })
                    .collect_view()}
            </ul>
        </section>
        {p.can_schedule.then(|| view! {
            <section class="panel form-panel">
                <h2>"Schedule reviews"</h2>
                <ActionForm action=schedule node_ref=crate::components::reset_on_success(schedule) attr:class="stack">
                    <label>"Team (blank: the whole organisation)" <input name="team"/></label>
                    <label>
                        "Cadence "
                        <select name="cadence">
                            <option value="weekly">"weekly"</option>
                            <option value="monthly">"monthly"</option>
                        </select>
                        <FieldError error=err field="cadence"/>
                    </label>
                    <label>"Day (weekday 1 = Monday … 7; or day of the month 1–28)" <input name="day" value="1"/> <FieldError error=err field="day"/></label>
                    <button type="submit" data-testid="schedule-submit">"Add schedule"</button>
                </ActionForm>
                <ActionResult value=move || schedule.value().get() testid="schedule-result" done=|_: &i64| "Scheduled.".to_string()/>
            </section>
        })}
    }
    .into_any()
}

#[component]
pub fn ReviewDetailPage() -> impl IntoView {
    let params = use_params_map();
    let decide = ServerAction::<AddReviewDecision>::new();
    let action = ServerAction::<AddActionItem>::new();
    let done = ServerAction::<SetActionDone>::new();
    let close = ServerAction::<CloseReview>::new();
    let decide_saved = crate::components::saves(decide);
    let action_saved = crate::components::saves(action);
    let done_saved = crate::components::saves(done);
    let close_saved = crate::components::saves(close);
    let page = Resource::new(
        move || {
            let id = params.read().get("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
            (id, decide_saved.get(), action_saved.get(), done_saved.get(), close_saved.get())
        },
        |(id, _, _, _, _)| get_review(id),
    );
    view! {
        <p class="no-print">
            <A href="/reviews">"← All reviews"</A>
        </p>
        <Transition fallback=|| view! { <p class="muted">"Loading the review…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => {
                        let title = format!("{} · Costroom", p.review.title);
                        view! { <Title text=title/> <ReviewDoc p decide action done close/> }.into_any()
                    }
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn change(now: Nanos, before: Nanos) -> String {
    let d = now - before;
    let pct = if before.0 != 0 {
        format!(" ({:+.1}%)", d.0 as f64 * 100.0 / before.0 as f64)
    } else {
        String::new()
    };
    format!("{}{}{pct}", if d.0 >= 0 { "+" } else { "−" }, Nanos(d.0.abs()).usd())
}

#[component]
fn ReviewDoc(
    p: ReviewPage,
    decide: ServerAction<AddReviewDecision>,
    action: ServerAction<AddActionItem>,
    done: ServerAction<SetActionDone>,
    close: ServerAction<CloseReview>,
) -> impl IntoView {
    let f = p.figures.clone();
    let r = p.review.clone();
    let id = r.id;
    let open = r.closed_at.is_none();
    let editable = open && p.can_edit;
    let state = match (&r.closed_at, &r.closed_by) {
        (Some(at), Some(by)) => format!("Closed {at} by {by}: the figures below are as they were then."),
        _ => "Open: the figures follow the data until the review is closed.".into(),
    };
    let decide_err =
        Signal::derive(move || decide.value().get().and_then(Result::err).map(|e| e.to_string()));
    let action_err =
        Signal::derive(move || action.value().get().and_then(Result::err).map(|e| e.to_string()));
    let print = move |_| {
        let _ = window().print();
    };
    view! {
        <article class="review" data-testid="review" data-closed=(!open).to_string()>
            <h1 data-testid="review-title">{r.title.clone()}</h1>
            <p data-testid="review-state">{format!("Meeting {} · period {} to {} (against {} to {}). {state}", r.meeting, f.period.from, f.period.to, f.previous.from, f.previous.to)}</p>
            {(!p.since.is_empty()).then(|| view! {
                <div class="notice" data-testid="review-since">
                    <strong>"Changed since it was closed: "</strong>
                    <ul>{p.since.iter().map(|s| view! { <li>{s.clone()}</li> }).collect_view()}</ul>
                </div>
            })}
            <p class="no-print">
                <button type="button" data-testid="review-print" on:click=print>"Print"</button>
                " "
                <a href=format!("/reviews/{id}/export?format=csv") data-testid="review-csv">"CSV"</a>
                " · "
                <a href=format!("/reviews/{id}/export?format=json")>"JSON"</a>
            </p>
            <section aria-label="Spend">
                <h2>"Spend"</h2>
                <p data-testid="review-spend">{format!("{} this period, {} before: {}", f.spend.usd(), f.spend_before.usd(), change(f.spend, f.spend_before))}</p>
            </section>
            <section aria-label="Budgets">
                <h2>"Spend against budgets"</h2>
                <table data-testid="review-budgets">
                    <thead><tr><th scope="col">"Budget"</th><th scope="col" class="num">"Amount"</th><th scope="col" class="num">"Actual"</th><th scope="col" class="num">"Projected"</th><th scope="col">"Status"</th></tr></thead>
                    <tbody>
                        {f.budgets.iter().map(|(name, scope, amount, actual, projected, status)| view! {
                            <tr><th scope="row">{format!("{name} ({scope})")}</th><td class="num">{amount.usd()}</td><td class="num">{actual.usd()}</td><td class="num">{projected.usd()}</td><td>{status.clone()}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
            <section aria-label="Top movers">
                <h2>"Top movers"</h2>
                <table data-testid="review-movers">
                    <tbody>
                        {f.movers.iter().map(|m| view! {
                            <tr><td>{m.dim.clone()}</td><th scope="row">{m.value.clone()}</th><td class="num">{m.now.usd()}</td><td class="num">{change(m.now, m.before)}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
            <section aria-label="Forecast vs actual">
                <h2>"Forecast vs actual"</h2>
                <ul data-testid="review-forecasts">
                    {f.forecasts.iter().map(|(b, period, at_start, actual, mape)| view! {
                        <li>{format!("{b}, {period}: forecast at the start {}, actual {}, mean error {}", at_start.usd(), actual.usd(), mape.map(|m| format!("{m:.1}%")).unwrap_or_else(|| "—".into()))}</li>
                    }).collect_view()}
                </ul>
            </section>
            <section aria-label="Anomalies">
                <h2>"Anomalies: new in the period and open"</h2>
                <ul data-testid="review-anomalies">
                    {f.anomalies.iter().map(|(aid, scope, start, excess, status)| view! {
                        <li><a href=format!("/anomalies/{aid}")>{format!("{scope} from {start}")}</a>{format!(": excess {}, {status}", excess.usd())}</li>
                    }).collect_view()}
                </ul>
            </section>
            <section aria-label="Zombie flags">
                <h2>"Zombie flags awaiting a decision"</h2>
                <ul data-testid="review-zombies">
                    {f.zombies.iter().map(|(name, rule, reason, at_stake)| view! { <li>{format!("{name} — {rule}: {reason} (at stake {})", at_stake.usd())}</li> }).collect_view()}
                </ul>
            </section>
            <section aria-label="ROI">
                <h2>"ROI per initiative"</h2>
                <table data-testid="review-roi">
                    <thead><tr><th scope="col">"Initiative"</th><th scope="col" class="num">"This period"</th><th scope="col" class="num">"Before"</th></tr></thead>
                    <tbody>
                        {f.roi.iter().map(|(n, now, was)| view! { <tr><th scope="row">{n.clone()}</th><td class="num">{now.clone()}</td><td class="num">{was.clone()}</td></tr> }).collect_view()}
                    </tbody>
                </table>
            </section>
            <section aria-label="KPIs">
                <h2>"KPIs against the previous period"</h2>
                <table data-testid="review-kpis">
                    <tbody>
                        {f.kpis.iter().map(|(n, now, was)| view! { <tr><th scope="row">{n.clone()}</th><td class="num">{now.clone()}</td><td class="num muted">{was.clone()}</td></tr> }).collect_view()}
                    </tbody>
                </table>
            </section>
            <section aria-label="Decisions">
                <h2>"Decisions"</h2>
                <ol data-testid="review-decisions">
                    {p.decisions.iter().map(|d| view! { <li>{format!("{} — {} ({})", d.text, d.by, d.at)}</li> }).collect_view()}
                </ol>
                {editable.then(|| view! {
                    <ActionForm action=decide node_ref=crate::components::reset_on_success(decide) attr:class="stack no-print">
                        <input type="hidden" name="review" value=id/>
                        <label>"Decision" <input name="text" data-testid="decision-text"/> <FieldError error=decide_err field="text"/></label>
                        <button type="submit" data-testid="decision-submit">"Record decision"</button>
                    </ActionForm>
                })}
            </section>
            <section aria-label="Action items">
                <h2>"Action items"</h2>
                <ul data-testid="review-actions">
                    {p.actions.iter().map(|a| {
                        let carried = a.review_id != id;
                        let toggle = (p.can_edit && open).then(|| {
                            let aid = a.id;
                            let to = !a.done;
                            view! {
                                <ActionForm action=done attr:class="inline no-print">
                                    <input type="hidden" name="id" value=aid/>
                                    <input type="hidden" name="done" value=to.to_string()/>
                                    <button type="submit">{if to { "Mark done" } else { "Reopen" }}</button>
                                </ActionForm>
                            }
                        });
                        view! {
                            <li data-done=a.done.to_string()>
                                {format!("{} — {} (due {}){}{}", a.title, a.owner, a.due.map(|d| d.to_string()).unwrap_or_else(|| "—".into()), if a.done { " · done" } else { "" }, if carried { " · carried over" } else { "" })}
                                " "
                                {toggle}
                            </li>
                        }
                    }).collect_view()}
                </ul>
                {editable.then(|| view! {
                    <ActionForm action=action node_ref=crate::components::reset_on_success(action) attr:class="stack no-print">
                        <input type="hidden" name="review" value=id/>
                        <label>"Action" <input name="title" data-testid="action-title"/> <FieldError error=action_err field="title"/></label>
                        <label>"Owner's email" <input name="owner" data-testid="action-owner"/> <FieldError error=action_err field="owner"/></label>
                        <label>"Due" <input type="date" name="due" data-testid="action-due"/> <FieldError error=action_err field="due"/></label>
                        <button type="submit" data-testid="action-submit">"Add action item"</button>
                    </ActionForm>
                })}
            </section>
            {(open && p.can_close).then(|| view! {
                <ActionForm action=close attr:class="no-print">
                    <input type="hidden" name="id" value=id/>
                    <button type="submit" data-testid="review-close">"Close the review (freeze its figures)"</button>
                </ActionForm>
                <ActionResult value=move || close.value().get() testid="close-result" done=|_: &()| "Closed.".to_string()/>
            })}
        </article>
    }
    .into_any()
}

#[component]
pub fn MaturityChecklistPage() -> impl IntoView {
    let set = ServerAction::<SetMaturityItem>::new();
    let set_saved = crate::components::saves(set);
    let page = Resource::new(move || set_saved.get(), |_| get_maturity());
    view! {
        <Title text="Maturity · Costroom"/>
        <h1>"Maturity"</h1>
        <Transition fallback=|| view! { <p class="muted">"Scoring…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(p) => view! { <Checklist p set/> }.into_any(),
                    Err(e) => view! { <ErrorNotice e who_may="signed-in people"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Checklist(p: MaturityPage, set: ServerAction<SetMaturityItem>) -> impl IntoView {
    let next: Vec<String> = next_steps(&p.items).iter().map(|i| i.title.clone()).collect();
    let can = p.can_edit;
    view! {
        <p class="kpi-value" data-testid="maturity-stage">{stage_name(p.stage)}</p>
        <section class="panel" aria-label="Next steps">
            <h2>"Next steps"</h2>
            <ul data-testid="next-steps">{next.into_iter().map(|t| view! { <li>{t}</li> }).collect_view()}</ul>
        </section>
        {(0..STAGES.len()).map(|s| {
            let items: Vec<Item> = p.items.iter().filter(|i| i.stage == s).cloned().collect();
            view! {
                <section class="panel" aria-label=STAGES[s]>
                    <h2>{STAGES[s]}</h2>
                    <table data-testid=format!("stage-{s}")>
                        <tbody>
                            {items.into_iter().map(|i| view! { <ItemRow i can set/> }).collect_view()}
                        </tbody>
                    </table>
                </section>
            }
        }).collect_view()}
        <section class="panel" aria-label="History">
            <h2>"Score over time"</h2>
            <table data-testid="maturity-history">
                <tbody>
                    {p.history.iter().rev().map(|(d, s, met, total)| view! {
                        <tr><td>{d.to_string()}</td><td>{stage_name(*s)}</td><td class="num">{format!("{met} of {total} items")}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
    .into_any()
}

#[component]
fn ItemRow(i: Item, can: bool, set: ServerAction<SetMaturityItem>) -> impl IntoView {
    let met = i.met();
    let key = i.key.clone();
    let evidence = match &i.check {
        Check::Auto { value, threshold, .. } => format!("{value} (needs {threshold})"),
        Check::Manual(m) if m.done => format!(
            "done{}{} — {}",
            if m.owner.is_empty() { String::new() } else { format!(", owner {}", m.owner) },
            m.date.map(|d| format!(", {d}")).unwrap_or_default(),
            m.evidence
        ),
        Check::Manual(_) => "ticked by hand: not yet".into(),
    };
    let form = match (i.check.clone(), can) {
        (Check::Manual(m), true) => {
            let err = Signal::derive(move || set.value().get().and_then(Result::err).map(|e| e.to_string()));
            Some(view! {
                <details class="no-print">
                    <summary>"Update"</summary>
                    <ActionForm action=set attr:class="stack">
                        <input type="hidden" name="item" value=key.clone()/>
                        <label>"Done " <select name="done" data-testid=format!("done-{key}")><option value="yes">"yes"</option><option value="no">"no"</option></select></label>
                        <label>"Owner" <input name="owner" value=m.owner.clone()/></label>
                        <label>"Evidence (link or note)" <input name="evidence" value=m.evidence.clone() data-testid=format!("evidence-{key}")/> <FieldError error=err field="evidence"/></label>
                        <label>"Date" <input type="date" name="date" value=m.date.map(|d| d.to_string()).unwrap_or_default()/></label>
                        <button type="submit" data-testid=format!("save-{key}")>"Save"</button>
                    </ActionForm>
                </details>
            })
        }
        _ => None,
    };
    let href = i.href.clone();
    view! {
        <tr data-item=i.key.clone() data-met=met.to_string()>
            <td>{if met { "✔" } else { "✗" }}</td>
            <th scope="row">
                {if href.is_empty() { view! { <span>{i.title.clone()}</span> }.into_any() } else { view! { <A href=href>{i.title.clone()}</A> }.into_any() }}
            </th>
            <td data-testid="evidence">{evidence}</td>
            <td>{form}</td>
        </tr>
    }
}
