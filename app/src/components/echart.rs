//! An ECharts chart, drawn in the browser after hydration from the option JSON the server
//! built ([`ChartSpec`]). The server renders an empty, fixed-id container: ids must be
//! identical on both sides, and drawing needs `window`.
use leptos::prelude::*;

use crate::charts::ChartSpec;

/// Draws through the shell's `costroomChart(id, optionJson, height)`, which answers false
/// while the container is not in the document yet.
#[cfg(feature = "hydrate")]
fn draw(id: String, option: String, height: u32, tries: u32) {
    use leptos::wasm_bindgen::{JsCast, JsValue};
    use leptos::web_sys::js_sys::{Function, Reflect};
    let drawn = Reflect::get(&window(), &JsValue::from_str("costroomChart"))
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .map(|f| {
            f.call3(&JsValue::NULL, &JsValue::from_str(&id), &JsValue::from_str(&option), &height.into())
        });
    match drawn {
        Some(Ok(v)) if v.as_bool() == Some(true) => {}
        _ if tries > 0 => request_animation_frame(move || draw(id, option, height, tries - 1)),
        Some(Err(e)) => leptos::logging::error!("chart {id}: {e:?}"),
        _ => leptos::logging::error!("chart {id}: no container or no ECharts"),
    }
}

#[component]
pub fn EChart(
    /// Fixed DOM id, e.g. `"chart-daily-spend"`; never random (hydration must match).
    #[prop(into)]
    id: String,
    chart: ChartSpec,
    /// The widest it is drawn; narrower containers get a narrower chart.
    #[prop(default = 960)]
    width: u32,
    #[prop(default = 320)] height: u32,
    /// What the chart shows, for screen readers (the figures are in the table beside it).
    #[prop(into)]
    label: String,
) -> impl IntoView {
    let ChartSpec { option, table } = chart;
    let figures = table.map(|t| {
        view! {
            <details class="chart-table" data-testid="chart-table">
                <summary>"Chart figures as a table"</summary>
                <div class="table-scroll">
                    <table>
                        <thead>
                            <tr>{t.headers.into_iter().map(|h| view! { <th scope="col">{h}</th> }).collect_view()}</tr>
                        </thead>
                        <tbody>
                            {t.rows.into_iter().map(|r| {
                                let mut cells = r.into_iter();
                                let head = cells.next().unwrap_or_default();
                                view! {
                                    <tr>
                                        <th scope="row">{head}</th>
                                        {cells.map(|c| view! { <td class="num">{c}</td> }).collect_view()}
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            </details>
        }
    });
    #[cfg(feature = "hydrate")]
    {
        let dom_id = id.clone();
        // Effects never run during SSR. After a client-side navigation to a new route the
        // effect can run before the new page is attached to the document, so drawing waits a
        // few frames for its container.
        Effect::new(move |_| draw(dom_id.clone(), option.clone(), height, 60));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = option;
    view! {
        <div
            id=id
            class="echart"
            data-testid="chart"
            role="img"
            aria-label=label
            style=format!("width:100%;max-width:{width}px;height:{height}px")
        ></div>
        {figures}
    }
    // erased: with its table the chart's view type is deep enough to overflow the compiler's
    // query depth on pages that hold several
    .into_any()
}
