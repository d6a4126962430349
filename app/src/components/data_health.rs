//! The banners that say a page's figures are incomplete: calls without a price (counted as
//! $0.00) and sources that stopped sending. Shown on the Overview and the explorer alike so
//! the two pages can never disagree about it.
use leptos::prelude::*;
use leptos_router::components::A;

use crate::domain::ledger::StaleSource;
use crate::domain::money::group_thousands;

#[component]
pub fn DataHealth(
    /// Calls in the shown range that had no price.
    unpriced: i64,
    /// Sources silent longer than they normally lag.
    stale: Vec<StaleSource>,
    /// What the figures cover, for the sentence ("range", "view").
    scope: &'static str,
) -> impl IntoView {
    let unpriced = (unpriced > 0).then(|| {
        view! {
            <p class="notice warn" role="status" data-testid="unpriced-banner">
                {format!(
                    "{} {} in this {scope} had no price and count as $0.00. ",
                    group_thousands(unpriced as u64),
                    if unpriced == 1 { "call" } else { "calls" },
                )}
                <A href="/settings/prices">"Add their prices"</A>
                " — they are re-priced when a price arrives."
            </p>
        }
    });
    let stale = (!stale.is_empty()).then(|| {
        let parts: Vec<String> = stale
            .iter()
            .map(|s| {
                format!(
                    "{} last brought spend for {} ({} {} ago)",
                    s.source.label(),
                    s.last_day,
                    s.days_behind,
                    if s.days_behind == 1 { "day" } else { "days" }
                )
            })
            .collect();
        view! {
            <p class="notice warn" role="status" data-testid="stale-banner">
                {format!("{}; the latest days read low until the next import. ", parts.join("; "))}
                <A href="/settings/imports">"Check the imports"</A>
            </p>
        }
    });
    view! { {unpriced} {stale} }.into_any()
}
