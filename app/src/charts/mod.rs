//! Pure functions from domain rows to charming charts; unit-tested on native, rendered by
//! the `EChart` component in the browser (which also lays each chart out as a table).
pub mod anomaly;
pub mod budget;
pub mod daily_spend;
pub mod initiative;
pub mod spend;
pub mod table;

pub use daily_spend::daily_spend;
pub use table::ChartTable;

use charming::element::js_function::JsFunction;
use charming::element::{AxisPointer, AxisPointerType, Tooltip, Trigger};

/// The axis tooltip of a money chart: every value in dollars with cents, as the axis and the
/// tables show it (ECharts would print a bare `12.5`).
pub fn money_tooltip() -> Tooltip {
    Tooltip::new()
        .trigger(Trigger::Axis)
        .axis_pointer(AxisPointer::new().type_(AxisPointerType::Shadow))
        .value_formatter(JsFunction::new_with_args(
            "v",
            "return v == null ? '—' : (v < 0 ? '−$' : '$') + Math.abs(Number(v)).toLocaleString('en-US', \
             { minimumFractionDigits: 2, maximumFractionDigits: 2 });",
        ))
}
