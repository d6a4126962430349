//! Checks rows against the FinOps Foundation's machine-readable FOCUS rules (`model-1.2.json`):
//! the column rules of the columns a file has, row by row. Used to prove Costroom's export
//! valid; dataset-wide checks (distinct counts) and rules that apply only to providers with
//! particular capabilities (`ApplicabilityCriteria`) are out of its scope, and so are rules
//! that only recommend (`SHOULD`, `MAY`).
use std::collections::HashMap;

use serde_json::{Map, Value};

pub struct Model {
    rules: Map<String, Value>,
    currencies: Vec<String>,
}

/// A rule a row breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: String,
    pub text: String,
}

type Row<'a> = HashMap<&'a str, &'a str>;

fn get<'a>(row: &Row<'a>, col: &str) -> Option<&'a str> {
    row.get(col).copied().filter(|v| !v.is_empty())
}

fn same(cell: Option<&str>, v: &Value) -> bool {
    match (cell, v) {
        (None, Value::Null) => true,
        (None, _) | (Some(_), Value::Null) => false,
        (Some(c), Value::String(s)) => c == s,
        (Some(c), Value::Number(n)) => c.parse::<f64>().ok() == n.as_f64(),
        (Some(c), Value::Bool(b)) => c.eq_ignore_ascii_case(&b.to_string()),
        _ => false,
    }
}

fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (i, f) = s.split_once('.').unwrap_or((s, "0"));
    !i.is_empty()
        && i.bytes().all(|b| b.is_ascii_digit())
        && !f.is_empty()
        && f.bytes().all(|b| b.is_ascii_digit())
}

fn is_datetime(s: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ").is_ok()
}

impl Model {
    /// `model` is model-1.2.json; `currencies` the ISO 4217 codes (currency_codes.csv).
    pub fn load(model: &str, currency_csv: &str) -> Result<Model, String> {
        let v: Value = serde_json::from_str(model).map_err(|e| e.to_string())?;
        let rules = v.get("ModelRules").and_then(Value::as_object).ok_or("no ModelRules")?.clone();
        let currencies = currency_csv
            .lines()
            .skip(1)
            .filter_map(|l| l.rsplit(',').next())
            .map(|c| c.trim().to_string())
            .collect();
        Ok(Model { rules, currencies })
    }

    /// The mandatory column rules that apply to these columns: the roots only, since a rule
    /// another one refers to applies under that one's conditions (e.g. allowed values "when
    /// not null").
    fn applicable<'m>(&'m self, columns: &[&str]) -> Vec<(&'m String, &'m Value)> {
        let mut referenced = std::collections::HashSet::new();
        fn refs<'a>(v: &'a Value, out: &mut std::collections::HashSet<&'a str>) {
            match v {
                Value::Object(o) => {
                    if let Some(id) = o.get("ModelRuleId").and_then(Value::as_str) {
                        out.insert(id);
                    }
                    o.values().for_each(|x| refs(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
                _ => {}
            }
        }
        // (dataset rules refer to every column's composite; only column rules nest)
        for r in self.rules.values().filter(|r| r["EntityType"] == "Column") {
            refs(&r["ValidationCriteria"], &mut referenced);
        }
        self.rules
            .iter()
            .filter(|(id, _)| !referenced.contains(id.as_str()))
            .filter(|(_, r)| {
                r["EntityType"] == "Column"
                    && r["Status"] == "Active"
                    && r["ApplicabilityCriteria"].as_array().is_none_or(|a| a.is_empty())
                    && columns.contains(&r["Reference"].as_str().unwrap_or(""))
                    && matches!(r["ValidationCriteria"]["Keyword"].as_str(), Some("MUST") | Some("MUST NOT"))
            })
            .collect()
    }

    fn rule_holds(&self, id: &str, row: &Row<'_>) -> bool {
        let Some(r) = self.rules.get(id) else { return true };
        if r["ApplicabilityCriteria"].as_array().is_some_and(|a| !a.is_empty()) {
            return true;
        }
        let vc = &r["ValidationCriteria"];
        let cond = &vc["Condition"];
        if cond.as_object().is_some_and(|o| !o.is_empty()) && !self.eval(cond, row) {
            return true;
        }
        // recommendations referenced by a composite do not make it fail
        if !matches!(vc["Keyword"].as_str(), Some("MUST") | Some("MUST NOT")) {
            return true;
        }
        self.eval(&vc["Requirement"], row)
    }

    fn eval(&self, c: &Value, row: &Row<'_>) -> bool {
        let col = |k: &str| c[k].as_str().unwrap_or("");
        let cell = |k: &str| get(row, col(k));
        match c["CheckFunction"].as_str().unwrap_or("") {
            "AND" => c["Items"].as_array().into_iter().flatten().all(|i| self.eval(i, row)),
            "OR" => c["Items"].as_array().into_iter().flatten().any(|i| self.eval(i, row)),
            "CheckModelRule" => self.rule_holds(c["ModelRuleId"].as_str().unwrap_or(""), row),
            "ColumnPresent" => row.contains_key(col("ColumnName")),
            "CheckValue" => same(cell("ColumnName"), &c["Value"]),
            "CheckNotValue" => !same(cell("ColumnName"), &c["Value"]),
            "CheckSameValue" => cell("ColumnAName") == cell("ColumnBName"),
            "CheckNotSameValue" => cell("ColumnAName") != cell("ColumnBName"),
            "CheckGreaterOrEqualThanValue" => match (cell("ColumnName"), c["Value"].as_f64()) {
                (Some(v), Some(min)) => v.parse::<f64>().is_ok_and(|x| x >= min),
                (None, _) => true,
                _ => false,
            },
            "TypeDecimal" | "FormatNumeric" | "CheckDecimalValue" => {
                cell("ColumnName").is_none_or(is_decimal)
            }
            "TypeDateTime" | "FormatDateTime" => cell("ColumnName").is_none_or(is_datetime),
            "TypeString" | "FormatString" => true,
            "FormatUnit" => cell("ColumnName").is_none_or(|u| !u.trim().is_empty() && u.trim() == u),
            "FormatCurrency" | "CheckNationalCurrency" => {
                cell("ColumnName").is_none_or(|v| self.currencies.iter().any(|c| c == v))
            }
            "FormatKeyValue" => cell("ColumnName")
                .is_none_or(|v| serde_json::from_str::<Value>(v).is_ok_and(|j| j.is_object())),
            "ColumnByColumnEqualsColumnValue" => {
                let n = |k: &str| cell(k).and_then(|v| v.parse::<f64>().ok());
                match (n("ColumnAName"), n("ColumnBName"), n("ResultColumnName")) {
                    (Some(a), Some(b), Some(r)) => ((a * b) - r).abs() <= 1e-6 * r.abs().max(1.0),
                    _ => true,
                }
            }
            // dataset-wide: not a row property; and prose-only requirements (no check function)
            "CheckDistinctCount" | "" => true,
            other => panic!("unknown FOCUS check function {other}"),
        }
    }

    /// Every mandatory column rule each row breaks: (1-based data row, violation).
    pub fn check_csv(&self, csv_text: &str) -> Result<Vec<(usize, Violation)>, String> {
        let mut rdr = csv::Reader::from_reader(csv_text.as_bytes());
        let headers: Vec<String> =
            rdr.headers().map_err(|e| e.to_string())?.iter().map(str::to_string).collect();
        let cols: Vec<&str> = headers.iter().map(String::as_str).collect();
        let rules = self.applicable(&cols);
        let mut out = Vec::new();
        for (i, rec) in rdr.records().enumerate() {
            let rec = rec.map_err(|e| e.to_string())?;
            let row: Row<'_> = cols.iter().copied().zip(rec.iter()).collect();
            for (id, _) in &rules {
                if !self.rule_holds(id, &row) {
                    let text = self.rules[id.as_str()]["ValidationCriteria"]["MustSatisfy"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    out.push((i + 1, Violation { rule: id.to_string(), text }));
                }
            }
        }
        Ok(out)
    }

    /// How many rules were checked for these columns (to show the check is not empty).
    pub fn rules_for(&self, columns: &[&str]) -> usize {
        self.applicable(columns).len()
    }
}
