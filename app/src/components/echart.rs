//! An ECharts chart drawn by charming in the browser after hydration. The server renders an
//! empty, fixed-id container: ids must be identical on both sides, and drawing needs `window`.
use charming::Chart;
use leptos::prelude::*;

/// Drawn at its container's width (ECharts measures it when no width is given), so a chart
/// fits a phone as well as a wide screen; the shell's resize listener redraws it to size.
#[cfg(feature = "hydrate")]
fn draw(id: String, chart: Chart, height: u32, tries: u32) {
    match charming::WasmRenderer::new_opt(None, Some(height)).render(&id, &chart) {
        Ok(_) => {}
        Err(_) if tries > 0 => request_animation_frame(move || draw(id, chart, height, tries - 1)),
        Err(e) => leptos::logging::error!("chart {id}: {e:?}"),
    }
}

#[component]
pub fn EChart(
    /// Fixed DOM id, e.g. `"chart-daily-spend"`; never random (hydration must match).
    #[prop(into)]
    id: String,
    chart: Chart,
    /// The widest it is drawn; narrower containers get a narrower chart.
    #[prop(default = 960)]
    width: u32,
    #[prop(default = 320)] height: u32,
    /// What the chart shows, for screen readers (the figures are in the table beside it).
    #[prop(into)]
    label: String,
    /// Whether to add the chart's figures as a folded table (off where the page already has
    /// a table of the same figures next to it).
    #[prop(default = true)]
    table: bool,
) -> impl IntoView {
    let figures = table.then(|| crate::charts::ChartTable::from_chart(&chart)).flatten().map(|t| {
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
        Effect::new(move |_| draw(dom_id.clone(), chart.clone(), height, 60));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = chart;
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
