//! An initiative's cumulative spend against its cumulative recorded value.
use charming::{
    component::{Axis, Grid, Legend},
    element::{AxisLabel, AxisType},
    series::Line,
    Chart,
};

use crate::domain::Nanos;

pub fn spend_vs_value(points: &[(chrono::NaiveDate, Nanos, Nanos)]) -> Chart {
    // cents for the drawing; the tables carry the exact figures
    let dollars = |n: Nanos| n.round_to_cents() as f64 / 100.0;
    Chart::new()
        .tooltip(super::money_tooltip())
        .legend(Legend::new().top("0"))
        .grid(Grid::new().left("2%").right("2%").bottom("3%").top("12%").contain_label(true))
        .x_axis(Axis::new().type_(AxisType::Category).data(points.iter().map(|p| p.0.to_string()).collect()))
        .y_axis(Axis::new().type_(AxisType::Value).axis_label(AxisLabel::new().formatter("${value}")))
        .series(Line::new().name("Spend (cumulative)").data(points.iter().map(|p| dollars(p.1)).collect()))
        .series(Line::new().name("Value (cumulative)").data(points.iter().map(|p| dollars(p.2)).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spend_and_value_in_dollars_per_day() {
        let d = |n| chrono::NaiveDate::from_ymd_opt(2026, 6, n).unwrap();
        let c = spend_vs_value(&[
            (d(1), Nanos(1_500_000_000), Nanos::ZERO),
            (d(2), Nanos(2_000_000_000), Nanos(9_000_000_000)),
        ]);
        let json: serde_json::Value = serde_json::to_value(&c).unwrap();
        assert_eq!(json["xAxis"]["data"], serde_json::json!(["2026-06-01", "2026-06-02"]));
        assert_eq!(json["series"][0]["data"], serde_json::json!([1.5, 2.0]));
        assert_eq!(json["series"][1]["data"], serde_json::json!([0.0, 9.0]));
    }
}
