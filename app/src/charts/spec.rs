//! A chart as the browser receives it: the ECharts option as JSON, built on the server, and
//! its figures as a table. The browser never builds a chart: drawing is `echarts.setOption`
//! on this JSON, which keeps the chart model (charming and its serde code) out of the WASM.
use serde::{Deserialize, Serialize};

use super::ChartTable;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartSpec {
    /// The ECharts option object, as JSON.
    pub option: String,
    /// The chart's figures, where the page shows them as a table under the chart.
    pub table: Option<ChartTable>,
}

/// A page's figures and the charts drawn from them, in the order the page draws them. Not
/// `#[serde(flatten)]`: that would compile a second deserializer of every page's figures
/// into the WASM (about 116 KB of code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Charted<T> {
    pub data: T,
    pub charts: Vec<ChartSpec>,
}

impl<T> Charted<T> {
    /// The `i`-th chart; an empty one (drawn as nothing) if the server sent fewer.
    pub fn chart(&self, i: usize) -> ChartSpec {
        self.charts.get(i).cloned().unwrap_or_default()
    }
}

/// What the browser's `costroomChart` turns into its money formatter (a function cannot
/// travel in JSON).
pub const MONEY_FORMATTER: &str = "money";

#[cfg(feature = "ssr")]
impl ChartSpec {
    /// The chart's option JSON and, when `with_table`, its figures as a table.
    pub fn new(chart: &charming::Chart, with_table: bool) -> ChartSpec {
        let mut json = serde_json::to_value(chart).unwrap_or_default();
        let table = if with_table { ChartTable::from_json(&json) } else { None };
        if json["tooltip"]["valueFormatter"].is_string() {
            json["tooltip"]["valueFormatter"] = MONEY_FORMATTER.into();
        }
        ChartSpec { option: json.to_string(), table }
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use crate::domain::{DailyCost, Nanos};

    #[test]
    fn the_money_tooltip_travels_as_a_name_and_the_figures_as_a_table() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let c = crate::charts::daily_spend(&[DailyCost { day, cost: Nanos(1_234_567_890), requests: 1 }]);
        let s = ChartSpec::new(&c, true);
        let json: serde_json::Value = serde_json::from_str(&s.option).unwrap();
        assert_eq!(json["tooltip"]["valueFormatter"], MONEY_FORMATTER);
        assert_eq!(json["series"][0]["data"], serde_json::json!([1.23]));
        assert_eq!(s.table.unwrap().rows, vec![vec!["2026-11-01", "$1.23"]]);
        assert_eq!(ChartSpec::new(&c, false).table, None);
    }

    #[test]
    fn charted_figures_travel_beside_their_charts() {
        #[derive(Serialize, Deserialize, PartialEq, Debug, Clone)]
        struct Figures {
            total: i64,
        }
        let c = Charted { data: Figures { total: 7 }, charts: vec![ChartSpec::default()] };
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["data"]["total"], 7);
        assert_eq!(serde_json::from_value::<Charted<Figures>>(json).unwrap(), c);
        assert_eq!(c.chart(5), ChartSpec::default());
    }
}
