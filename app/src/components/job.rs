//! Background jobs on pages (a re-price, a billing import): poll the status while the job
//! runs, and show its progress, then its outcome.
use std::future::Future;
use std::time::Duration;

use leptos::prelude::*;

use crate::api::JobView;
use crate::domain::money::group_thousands;
use crate::error::AppError;

/// The status of `job()` (none while there is no job), refetched every 300 ms until it
/// finishes. Create it at the top of a page, not inside a `Suspend`: hydration must create
/// resources in the server's order.
pub fn poll_job<J, F, Fut>(job: J, fetch: F) -> Resource<Option<JobView>>
where
    J: Fn() -> Option<u64> + Copy + Send + Sync + 'static,
    F: Fn(u64) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<JobView, AppError>> + Send + 'static,
{
    let tick = RwSignal::new(0u32);
    let status = Resource::new(
        move || (job(), tick.get()),
        move |(job, _)| async move {
            match job {
                Some(j) => fetch(j).await.ok(),
                None => None,
            }
        },
    );
    // Browser only (effects do not run on the server).
    Effect::new(move |_| {
        let running = job().is_some() && !status.get().flatten().is_some_and(|s| s.finished);
        if running {
            if let Ok(h) =
                set_interval_with_handle(move || tick.update(|t| *t += 1), Duration::from_millis(300))
            {
                on_cleanup(move || h.clear());
            }
        }
    });
    status
}

/// Progress (`<testid>-progress`, "N `unit`…") while the job runs, then its outcome
/// (`<testid>-result`).
#[component]
pub fn JobStatus(
    status: Resource<Option<JobView>>,
    testid: &'static str,
    unit: &'static str,
) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                status.await.map(|s| {
                    if s.finished {
                        let class = if s.failed { "error pre" } else { "ok pre" };
                        view! {
                            <p class=class role="status" data-testid=format!("{testid}-result")>
                                {s.outcome.unwrap_or_default()}
                            </p>
                        }
                        .into_any()
                    } else {
                        view! {
                            <p role="status" data-testid=format!("{testid}-progress")>
                                <progress></progress>
                                {format!(" {} {unit}…", group_thousands(s.done))}
                            </p>
                        }
                        .into_any()
                    }
                })
            })}
        </Transition>
    }
}
