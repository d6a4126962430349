//! A budget's burn-up: cumulative actual spend, the projection from today to the period's
//! end, and the amount as a flat line.
use charming::{
    component::{Axis, Grid, Legend},
    element::{AxisLabel, AxisType, LineStyle, LineStyleType, Tooltip, Trigger},
    series::Line,
    Chart,
};

use crate::domain::budget::BudgetDetail;
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
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
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
        };
        let json: serde_json::Value = serde_json::from_str(&burn_up(&d).to_string()).unwrap();
        assert_eq!(json["series"][0]["data"], serde_json::json!([1.0, 2.5, null]));
        assert_eq!(json["series"][1]["data"], serde_json::json!([null, 2.5, 4.5]));
        assert_eq!(json["series"][2]["data"], serde_json::json!([10.0, 10.0, 10.0]));
    }
}
