//! The explorer's chart: stacked bars for amounts (the stack is the total), lines for unit
//! costs (per request, per 1K tokens), which do not add up.
use charming::{
    component::{Axis, Grid, Legend},
    element::{AxisLabel, AxisPointer, AxisPointerType, AxisType, Tooltip, Trigger},
    series::{Bar, Line, Sunburst, SunburstNode},
    Chart,
};

use crate::domain::explore::{Metric, SpendView};

pub fn spend(view: &SpendView) -> Chart {
    let m = view.query.metric;
    let g = view.query.granularity;
    let labels: Vec<String> = view.buckets.iter().map(|b| g.label_of(*b)).collect();
    let stacked = !matches!(m, Metric::CostPerRequest | Metric::CostPer1kTokens);
    let unit = if m.is_money() { "USD" } else { "" };
    let mut chart = Chart::new()
        .tooltip(if m.is_money() {
            super::money_tooltip()
        } else {
            Tooltip::new()
                .trigger(Trigger::Axis)
                .axis_pointer(AxisPointer::new().type_(AxisPointerType::Shadow))
        })
        .legend(Legend::new().top("0"))
        .grid(Grid::new().left("2%").right("2%").bottom("3%").top("14%").contain_label(true))
        .x_axis(Axis::new().type_(AxisType::Category).data(labels))
        .y_axis(
            Axis::new()
                .type_(AxisType::Value)
                .name(format!("{} {unit}", m.label()).trim().to_string())
                .axis_label(AxisLabel::new().formatter(if m.is_money() { "${value}" } else { "{value}" })),
        );
    for s in &view.series {
        // the same rounding as the table (cents, or 6 decimals for unit costs): display only
        let values: Vec<f64> =
            s.values.iter().map(|v| m.of(v).plain(m).parse::<f64>().unwrap_or(0.0)).collect();
        chart = if stacked {
            chart.series(Bar::new().name(s.name.as_str()).stack("spend").data(values))
        } else {
            chart.series(Line::new().name(s.name.as_str()).data(values))
        };
    }
    chart
}

/// The table's groups as one ring, sized by cost (a breakdown at a glance; the table under it
/// has the exact figures). Groups without cost are left out: a ring cannot show them.
pub fn breakdown(view: &SpendView) -> Chart {
    let nodes: Vec<SunburstNode> = view
        .table
        .iter()
        .filter(|g| g.sums.cost_nanos > 0)
        .map(|g| {
            SunburstNode::new(g.group.as_str())
                .value(Metric::Cost.of(&g.sums).plain(Metric::Cost).parse().unwrap_or(0.0))
        })
        .collect();
    Chart::new()
        .tooltip(Tooltip::new().formatter("{b}: ${c}"))
        .series(Sunburst::new().radius(("25%", "90%")).data(nodes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::explore::{day_seconds, decode_pairs, SpendQuery, SpendRow};
    use crate::domain::rollup::Sums;
    use chrono::NaiveDate;

    fn view(qs: &str) -> SpendView {
        let today = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let q = SpendQuery::parse(&decode_pairs(qs), today).unwrap();
        let row = |g: &str, cost, requests| SpendRow {
            bucket: day_seconds(today),
            group: g.into(),
            sums: Sums { cost_nanos: cost, requests, ..Sums::default() },
        };
        SpendView::build(q, &[row("a", 1_234_567_890, 3), row("b", 5_000_000, 1)], true)
    }

    #[test]
    fn amounts_stack_per_group_in_dollars() {
        let json: serde_json::Value = serde_json::to_value(spend(&view("range=7d"))).unwrap();
        assert_eq!(json["series"][0]["type"], "bar");
        assert_eq!(json["series"][0]["stack"], "spend");
        assert_eq!(json["series"][0]["name"], "a");
        assert_eq!(json["series"][0]["data"][6], 1.23);
        assert_eq!(json["series"][1]["data"][6], 0.01);
        assert_eq!(json["xAxis"]["data"][6], "2026-11-28");
    }

    #[test]
    fn breakdown_ring_sizes_groups_by_cost() {
        let json: serde_json::Value = serde_json::to_value(breakdown(&view("range=7d"))).unwrap();
        assert_eq!(json["series"][0]["type"], "sunburst");
        assert_eq!(json["series"][0]["data"][0]["name"], "a");
        assert_eq!(json["series"][0]["data"][0]["value"], 1.23);
        assert_eq!(json["series"][0]["data"][1]["value"], 0.01);
    }

    #[test]
    fn unit_costs_are_lines_with_more_decimals() {
        let v = view("range=7d&metric=cost_per_request");
        let json: serde_json::Value = serde_json::to_value(spend(&v)).unwrap();
        assert_eq!(json["series"][0]["type"], "line");
        assert_eq!(json["series"][0]["data"][6], 0.411523);
    }
}
