//! A KPI tile: label, value, and the formula on hover (every figure states how it is made).
use leptos::prelude::*;

#[component]
pub fn KpiTile(
    #[prop(into)] label: String,
    #[prop(into)] value: String,
    /// Shown on hover and to screen readers.
    #[prop(into)]
    formula: String,
    #[prop(into)] testid: String,
    #[prop(optional, into)] note: Option<String>,
    /// The view that explains the figure; the label links there.
    #[prop(optional, into)]
    href: Option<String>,
) -> impl IntoView {
    let formula_text = formula.clone();
    let label = match href {
        Some(h) => view! { <a href=h>{label}</a> }.into_any(),
        None => view! { <span>{label}</span> }.into_any(),
    };
    view! {
        <div class="kpi" title=formula.clone() data-testid=testid>
            <div class="kpi-label">{label}</div>
            <div class="kpi-value">{value}</div>
            {note.map(|n| view! { <div class="kpi-note">{n}</div> })}
            <div class="kpi-formula">{formula_text}</div>
        </div>
    }
}
