//! An ECharts chart drawn by charming in the browser after hydration. The server renders an
//! empty, fixed-id container: ids must be identical on both sides, and drawing needs `window`.
use charming::Chart;
use leptos::prelude::*;

#[component]
pub fn EChart(
    /// Fixed DOM id, e.g. `"chart-daily-spend"`; never random (hydration must match).
    #[prop(into)]
    id: String,
    chart: Chart,
    #[prop(default = 960)] width: u32,
    #[prop(default = 320)] height: u32,
) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        let dom_id = id.clone();
        // Effects never run during SSR; this one runs once the container is in the DOM.
        Effect::new(move |_| {
            if let Err(e) = charming::WasmRenderer::new(width, height).render(&dom_id, &chart) {
                leptos::logging::error!("chart {dom_id}: {e:?}");
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = chart;
    view! {
        <div
            id=id
            class="echart"
            data-testid="chart"
            style=format!("width:{width}px;height:{height}px")
        ></div>
    }
}
