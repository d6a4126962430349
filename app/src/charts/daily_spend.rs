//! Daily spend as bars. Values are rounded to cents here, at display, and nowhere earlier.
use charming::{
    component::{Axis, Grid},
    element::AxisType,
    series::Bar,
    Chart,
};

use crate::domain::DailyCost;

pub fn daily_spend(days: &[DailyCost]) -> Chart {
    let labels: Vec<String> = days.iter().map(|d| d.day.format("%Y-%m-%d").to_string()).collect();
    // cents as whole numbers divided by 100: exact two-decimal values, no float drift in labels
    let values: Vec<f64> = days.iter().map(|d| d.cost.round_to_cents() as f64 / 100.0).collect();
    Chart::new()
        .tooltip(super::money_tooltip())
        .grid(Grid::new().left("2%").right("2%").bottom("3%").top("8%").contain_label(true))
        .x_axis(Axis::new().type_(AxisType::Category).data(labels))
        .y_axis(Axis::new().type_(AxisType::Value).name("USD"))
        .series(Bar::new().name("Spend (USD)").data(values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Nanos;
    use chrono::NaiveDate;

    #[test]
    fn one_bar_per_day_in_dollars() {
        let day = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let rows = vec![
            DailyCost { day: day("2026-11-01"), cost: Nanos(1_234_567_890), requests: 3 },
            DailyCost { day: day("2026-11-02"), cost: Nanos(0), requests: 0 },
        ];
        let json: serde_json::Value = serde_json::to_value(daily_spend(&rows)).unwrap();
        assert_eq!(json["series"][0]["type"], "bar");
        assert_eq!(json["series"][0]["data"], serde_json::json!([1.23, 0.0]));
        assert_eq!(json["xAxis"]["data"], serde_json::json!(["2026-11-01", "2026-11-02"]));
    }
}
