//! A budget's burn-up: cumulative actual spend, the projection from today to the period's
//! end, and the amount as a flat line.
use charming::{
    component::{Axis, Grid, Legend},
    element::{AxisLabel, AxisType, LineStyle, LineStyleType},
    series::Line,
    Chart,
};

use crate::domain::budget::{BudgetDetail, PeriodForecast};
use crate::domain::Nanos;

fn dollars(n: Option<Nanos>) -> Option<f64> {
    // cents for the drawing; the table beside it carries the exact figures
    n.map(|n| n.round_to_cents() as f64 / 100.0)
}

pub fn burn_up(d: &BudgetDetail) -> Chart {
    let rows = d.cumulative();
    let labels: Vec<String> = rows.iter().map(|r| r.0.to_string()).collect();
    let actual: Vec<Option<f64>> = rows.iter().map(|r| dollars(r.1)).collect();
    let projected: Vec<Option<f64>> = rows.iter().map(|r| dollars(r.2)).collect();
    let amount = d.line.budget.amount.round_to_cents() as f64 / 100.0;
    Chart::new()
        .tooltip(super::money_tooltip())
        .legend(Legend::new().top("0"))
        .grid(Grid::new().left("2%").right("2%").bottom("3%").top("12%").contain_label(true))
        .x_axis(Axis::new().type_(AxisType::Category).data(labels))
        .y_axis(Axis::new().type_(AxisType::Value).axis_label(AxisLabel::new().formatter("${value}")))
        .series(Line::new().name("Actual (cumulative)").data(actual))
        .series(
            Line::new()
                .name("Projected")
                .line_style(LineStyle::new().type_(LineStyleType::Dashed))
                .data(projected),
        )
        .series(Line::new().name("Budget").data(vec![amount; rows.len()]))
}

/// What was forecast for the period as of each day (point and 95 % interval) against the
/// period's actual spend and the budget amount.
pub fn forecast_vs_actual(h: &PeriodForecast, amount: Nanos) -> Chart {
    let labels: Vec<String> = h.snapshots.iter().map(|s| s.as_of.to_string()).collect();
    let series = |f: fn(&crate::domain::snapshot::Snapshot) -> Nanos| -> Vec<Option<f64>> {
        h.snapshots.iter().map(|s| dollars(Some(f(s)))).collect()
    };
    let flat = |n: Nanos| vec![dollars(Some(n)); labels.len()];
    let actual_name = if h.complete { "Actual for the period" } else { "Actual so far" };
    Chart::new()
        .tooltip(super::money_tooltip())
        .legend(Legend::new().top("0"))
        .grid(Grid::new().left("2%").right("2%").bottom("3%").top("14%").contain_label(true))
        .x_axis(Axis::new().type_(AxisType::Category).data(labels.clone()))
        .y_axis(Axis::new().type_(AxisType::Value).axis_label(AxisLabel::new().formatter("${value}")))
        .series(
            Line::new().name("Forecast for the period (as of the day)").data(series(|s| s.projected.point)),
        )
        .series(
            Line::new()
                .name("95% low")
                .line_style(LineStyle::new().type_(LineStyleType::Dotted))
                .data(series(|s| s.projected.low)),
        )
        .series(
            Line::new()
                .name("95% high")
                .line_style(LineStyle::new().type_(LineStyleType::Dotted))
                .data(series(|s| s.projected.high)),
        )
        .series(Line::new().name(actual_name).data(flat(h.actual)))
        .series(
            Line::new()
                .name("Budget")
                .line_style(LineStyle::new().type_(LineStyleType::Dashed))
                .data(flat(amount)),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::budget::{Budget, BudgetDetail, BudgetLine, BudgetPeriod};
    use crate::domain::explore::{SpendQuery, SpendView};
    use crate::domain::forecast::Point;
    use chrono::NaiveDate;

    #[test]
    fn actual_then_projection_then_the_flat_budget() {
        let day = |n| NaiveDate::from_ymd_opt(2026, 11, n).unwrap();
        let budget = Budget {
            id: 1,
            name: "b".into(),
            scope: None,
            period: BudgetPeriod::Month,
            fiscal_start_month: 1,
            recurring: true,
            start: day(1),
            amount: Nanos(10_000_000_000),
            thresholds: vec![100],
            owner: "o".into(),
        };
        let p = Point { point: Nanos(2_000_000_000), low: Nanos(0), high: Nanos(0) };
        let d = BudgetDetail {
            line: BudgetLine { budget, evaluation: None, method: None },
            actual_days: vec![(day(1), Nanos(1_000_000_000)), (day(2), Nanos(1_500_000_000))],
            forecast_days: vec![(day(3), p)],
            breakdown: SpendView::build(SpendQuery::default_for(day(2)), &[], true),
            alerts: vec![],
            history: vec![],
        };
        let json: serde_json::Value = serde_json::to_value(burn_up(&d)).unwrap();
        assert_eq!(json["series"][0]["data"], serde_json::json!([1.0, 2.5, null]));
        assert_eq!(json["series"][1]["data"], serde_json::json!([null, 2.5, 4.5]));
        assert_eq!(json["series"][2]["data"], serde_json::json!([10.0, 10.0, 10.0]));
    }

    #[test]
    fn each_days_forecast_against_the_actual_and_the_budget() {
        use crate::domain::budget::PeriodForecast;
        use crate::domain::snapshot::Snapshot;
        use crate::domain::DateRange;
        let day = |n| NaiveDate::from_ymd_opt(2026, 10, n).unwrap();
        let snap = |n, point| Snapshot {
            period_start: day(1),
            as_of: day(n),
            actual: Nanos::ZERO,
            projected: Point {
                point: Nanos(point),
                low: Nanos(point - 1_000_000_000),
                high: Nanos(point + 1_000_000_000),
            },
            method: "m".into(),
            reconstructed: true,
        };
        let h = PeriodForecast {
            period: DateRange { from: day(1), to: day(31) },
            snapshots: vec![snap(1, 12_000_000_000), snap(2, 11_000_000_000)],
            actual: Nanos(11_500_000_000),
            complete: true,
            accuracy: None,
        };
        let json: serde_json::Value =
            serde_json::to_value(forecast_vs_actual(&h, Nanos(20_000_000_000))).unwrap();
        assert_eq!(json["xAxis"]["data"], serde_json::json!(["2026-10-01", "2026-10-02"]));
        assert_eq!(json["series"][0]["data"], serde_json::json!([12.0, 11.0]));
        assert_eq!(json["series"][1]["data"], serde_json::json!([11.0, 10.0]));
        assert_eq!(json["series"][2]["data"], serde_json::json!([13.0, 12.0]));
        assert_eq!(json["series"][3]["name"], "Actual for the period");
        assert_eq!(json["series"][3]["data"], serde_json::json!([11.5, 11.5]));
        assert_eq!(json["series"][4]["data"], serde_json::json!([20.0, 20.0]));
    }
}
