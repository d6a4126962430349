//! An ECharts chart drawn by charming in the browser after hydration. The server renders an
//! empty, fixed-id container: ids must be identical on both sides, and drawing needs `window`.
use charming::Chart;
use leptos::prelude::*;

#[cfg(feature = "hydrate")]
fn draw(id: String, chart: Chart, width: u32, height: u32, tries: u32) {
    match charming::WasmRenderer::new(width, height).render(&id, &chart) {
        Ok(_) => {}
        Err(_) if tries > 0 => request_animation_frame(move || draw(id, chart, width, height, tries - 1)),
        Err(e) => leptos::logging::error!("chart {id}: {e:?}"),
    }
}

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
        // Effects never run during SSR. After a client-side navigation to a new route the
        // effect can run before the new page is attached to the document, so drawing waits a
        // few frames for its container.
        Effect::new(move |_| draw(dom_id.clone(), chart.clone(), width, height, 60));
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
