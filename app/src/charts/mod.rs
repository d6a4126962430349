//! Charts are built on the server, as pure functions from domain rows to charming charts
//! (unit-tested on native), and reach the browser as [`ChartSpec`]s: the ECharts option JSON
//! and the chart's figures as a table, which the `EChart` component draws and lays out.
#[cfg(feature = "ssr")]
pub mod anomaly;
#[cfg(feature = "ssr")]
pub mod budget;
#[cfg(feature = "ssr")]
pub mod daily_spend;
#[cfg(feature = "ssr")]
pub mod initiative;
pub mod spec;
#[cfg(feature = "ssr")]
pub mod spend;
pub mod table;

#[cfg(feature = "ssr")]
pub use daily_spend::daily_spend;
pub use spec::{ChartSpec, Charted};
pub use table::ChartTable;

/// The axis tooltip of a money chart: every value in dollars with cents, as the axis and the
/// tables show it (ECharts would print a bare `12.5`). The formatter itself lives in the
/// browser (`costroomChart` in the page shell); [`ChartSpec::new`] names it.
#[cfg(feature = "ssr")]
pub fn money_tooltip() -> charming::element::Tooltip {
    use charming::element::js_function::JsFunction;
    use charming::element::{AxisPointer, AxisPointerType, Tooltip, Trigger};
    Tooltip::new()
        .trigger(Trigger::Axis)
        .axis_pointer(AxisPointer::new().type_(AxisPointerType::Shadow))
        .value_formatter(JsFunction::new_with_args("v", "return v;"))
}
