//! Every chart's text alternative, read from the chart itself (its category axis and series),
//! so the table can never show other figures than the drawing.
#[cfg(feature = "ssr")]
use serde_json::Value;

/// A chart's figures as rows: the first column is the category (day, hour, group), then one
/// column per series.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChartTable {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

#[cfg(feature = "ssr")]
impl ChartTable {
    /// Read from the chart's ECharts option (as serialised by charming).
    pub fn from_json(json: &Value) -> Option<ChartTable> {
        let money = first(&json["yAxis"])["axisLabel"]["formatter"].as_str().is_some_and(|f| f.starts_with('$'))
                || json["tooltip"]["formatter"].as_str().is_some_and(|f| f.contains("${c}"))
                // the money tooltip (see `charts::money_tooltip`)
                || json["tooltip"]["valueFormatter"].is_string();
        let fmt = |v: &Value| match v.as_f64() {
            Some(x) if money => dollars(x),
            Some(x) => trim_float(x),
            None => "—".to_string(),
        };
        let series = json["series"].as_array().cloned().unwrap_or_default();
        let categories: Vec<String> = first(&json["xAxis"])["data"]
            .as_array()
            .map(|a| {
                a.iter().map(|c| c.as_str().map(str::to_string).unwrap_or_else(|| c.to_string())).collect()
            })
            .unwrap_or_default();
        if categories.is_empty() {
            // a ring or pie: its nodes are the rows
            let nodes = series.first()?["data"].as_array()?.clone();
            let rows: Vec<Vec<String>> = nodes
                .iter()
                .map(|n| vec![n["name"].as_str().unwrap_or("").to_string(), fmt(&n["value"])])
                .collect();
            return (!rows.is_empty())
                .then(|| ChartTable { headers: vec!["Group".into(), "Value".into()], rows });
        }
        let mut headers = vec![first(&json["xAxis"])["name"].as_str().unwrap_or("").to_string()];
        let mut columns: Vec<Vec<String>> = Vec::new();
        for s in &series {
            headers.push(s["name"].as_str().unwrap_or("").to_string());
            let mut col = vec![String::new(); categories.len()];
            for (i, point) in s["data"].as_array().into_iter().flatten().enumerate() {
                // a scatter point is [category index, value]; a line or bar value sits at its index
                let (at, v) = match point.as_array() {
                    Some(pair) if pair.len() == 2 => (pair[0].as_f64().unwrap_or(-1.0) as usize, &pair[1]),
                    _ => (i, point),
                };
                if let Some(cell) = col.get_mut(at) {
                    *cell = fmt(v);
                }
            }
            columns.push(col);
        }
        let rows = categories
            .into_iter()
            .enumerate()
            .map(|(i, c)| std::iter::once(c).chain(columns.iter().map(|col| col[i].clone())).collect())
            .collect();
        Some(ChartTable { headers, rows })
    }
}

/// ECharts allows an axis or a list of axes.
#[cfg(feature = "ssr")]
fn first(v: &Value) -> &Value {
    match v {
        Value::Array(a) => a.first().unwrap_or(&Value::Null),
        other => other,
    }
}

/// The chart's dollars (already rounded to cents for drawing) as the pages write money.
#[cfg(feature = "ssr")]
fn dollars(x: f64) -> String {
    let cents = (x * 100.0).round() as i64;
    let sign = if cents < 0 { "−" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}${}.{:02}", crate::domain::money::group_thousands(c / 100), c % 100)
}

#[cfg(feature = "ssr")]
fn trim_float(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use crate::domain::anomaly::Band;
    use crate::domain::Nanos;

    #[test]
    fn a_line_chart_becomes_one_row_per_category_in_dollars() {
        let d = |n| chrono::NaiveDate::from_ymd_opt(2026, 6, n).unwrap();
        let c = crate::charts::initiative::spend_vs_value(&[
            (d(1), Nanos(1_500_000_000), Nanos::ZERO),
            (d(2), Nanos(123_456_780_000_000), Nanos(9_000_000_000)),
        ]);
        let t = ChartTable::from_json(&serde_json::to_value(&c).unwrap()).unwrap();
        assert_eq!(t.headers[1..], ["Spend (cumulative)", "Value (cumulative)"]);
        assert_eq!(
            t.rows,
            vec![vec!["2026-06-01", "$1.50", "$0.00"], vec!["2026-06-02", "$123,456.78", "$9.00"]]
        );
    }

    #[test]
    fn scatter_marks_land_on_their_category_and_others_stay_empty() {
        let b = |a: i64, anomalous| {
            Some(Band {
                actual: Nanos(a * 10_000_000),
                expected: Nanos(100_000_000),
                upper: Nanos(200_000_000),
                anomalous,
            })
        };
        let c = crate::charts::anomaly::series_with_band(
            &[(0, Nanos(0), b(10, false)), (86_400, Nanos(0), b(90, true))],
            false,
        );
        let t = ChartTable::from_json(&serde_json::to_value(&c).unwrap()).unwrap();
        assert_eq!(t.headers[1..], ["Actual", "Expected", "Top of band", "Anomalous"]);
        assert_eq!(t.rows[0], ["1970-01-01", "$0.10", "$0.10", "$0.20", ""]);
        assert_eq!(t.rows[1], ["1970-01-02", "$0.90", "$0.10", "$0.20", "$0.90"]);
    }
}
