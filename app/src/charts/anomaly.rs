//! An anomaly's series: actual cost, the expected baseline and the top of the band, with the
//! anomalous buckets marked.
use charming::{
    component::{Axis, Grid, Legend},
    element::{AxisLabel, AxisType, LineStyle, LineStyleType, Symbol},
    series::{Line, Scatter},
    Chart,
};

use crate::domain::anomaly::Band;
use crate::domain::Nanos;

/// Points are (bucket start in unix seconds, cost, band); buckets without a band (too little
/// history) are left out. `hourly` picks the label format.
pub fn series_with_band(points: &[(i64, Nanos, Option<Band>)], hourly: bool) -> Chart {
    let dollars = |n: Nanos| n.round_to_cents() as f64 / 100.0;
    let shown: Vec<(i64, Band)> = points.iter().filter_map(|(t, _, b)| b.map(|b| (*t, b))).collect();
    let label = |t: i64| {
        let fmt = if hourly { "%m-%d %H:00" } else { "%Y-%m-%d" };
        chrono::DateTime::from_timestamp(t, 0).map(|d| d.format(fmt).to_string()).unwrap_or_default()
    };
    let marked: Vec<Vec<f64>> = shown
        .iter()
        .enumerate()
        .filter(|(_, (_, b))| b.anomalous)
        .map(|(i, (_, b))| vec![i as f64, dollars(b.actual)])
        .collect();
    Chart::new()
        .tooltip(super::money_tooltip())
        .legend(Legend::new().top("0"))
        .grid(Grid::new().left("2%").right("2%").bottom("3%").top("12%").contain_label(true))
        .x_axis(Axis::new().type_(AxisType::Category).data(shown.iter().map(|(t, _)| label(*t)).collect()))
        .y_axis(Axis::new().type_(AxisType::Value).axis_label(AxisLabel::new().formatter("${value}")))
        .series(
            Line::new()
                .name("Actual")
                .symbol(Symbol::None)
                .data(shown.iter().map(|(_, b)| dollars(b.actual)).collect()),
        )
        .series(
            Line::new()
                .name("Expected")
                .symbol(Symbol::None)
                .line_style(LineStyle::new().type_(LineStyleType::Dashed))
                .data(shown.iter().map(|(_, b)| dollars(b.expected)).collect()),
        )
        .series(
            Line::new()
                .name("Top of band")
                .symbol(Symbol::None)
                .line_style(LineStyle::new().type_(LineStyleType::Dotted))
                .data(shown.iter().map(|(_, b)| dollars(b.upper)).collect()),
        )
        .series(Scatter::new().name("Anomalous").symbol_size(10).data(marked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anomalous_buckets_are_marked_at_their_position() {
        let b = |a: i64, anomalous| {
            Some(Band {
                actual: Nanos(a * 10_000_000),
                expected: Nanos(100_000_000),
                upper: Nanos(200_000_000),
                anomalous,
            })
        };
        let c = series_with_band(
            &[(0, Nanos(0), None), (3_600, Nanos(0), b(10, false)), (7_200, Nanos(0), b(90, true))],
            true,
        );
        let json: serde_json::Value = serde_json::to_value(&c).unwrap();
        assert_eq!(json["xAxis"]["data"], serde_json::json!(["01-01 01:00", "01-01 02:00"]));
        assert_eq!(json["series"][0]["data"], serde_json::json!([0.1, 0.9]));
        assert_eq!(json["series"][2]["data"], serde_json::json!([0.2, 0.2]));
        assert_eq!(json["series"][3]["data"], serde_json::json!([[1.0, 0.9]]));
    }
}
