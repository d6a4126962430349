//! Guardrails as code: the organisation's rules as a TOML file kept in git
//! (`costroom policy export | check | apply | replay`). A file is a list of `[[rule]]` tables
//! with the fields of [`RuleInput`] (money as quoted US dollars, exact). Checking reports
//! every mistake with its line and field and applies nothing; applying replaces the rules in
//! one transaction (rules keep their id, and their caps' money, by name), audited.
use std::fmt;

use chrono::{DateTime, Utc};
use toml::de::{DeTable, DeValue};

use crate::domain::guardrail::{
    contradictions, rule_from_input, rule_to_fields, Rule, RuleInput, Written, INPUT_FIELDS,
};
use crate::error::AppError;
use crate::server::db::{Actor, Db, NewAudit, OrgId};

/// One mistake in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mistake {
    pub line: usize,
    pub field: String,
    pub message: String,
}

impl fmt::Display for Mistake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.field, self.message)
    }
}

const HEADER: &str = "# Costroom guardrails policy. Check with `costroom policy check FILE`, apply with\n\
# `costroom policy apply FILE`, see what it would have done with `costroom policy replay FILE`.\n\
# One [[rule]] table per rule; money is US dollars in quotes (exact).\n";

fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The rules as a policy file, by name; reading it back gives the same rules.
pub fn export(rules: &[Rule]) -> String {
    let mut rules: Vec<&Rule> = rules.iter().collect();
    rules.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = HEADER.to_string();
    for r in rules {
        out.push_str("\n[[rule]]\n");
        for (field, v) in rule_to_fields(r) {
            let v = match v {
                Written::Text(s) => toml_string(&s),
                Written::Whole(n) => n.to_string(),
                Written::Yes(b) => b.to_string(),
                Written::Day(d) => d.to_string(),
                Written::Numbers(v) => {
                    format!("[{}]", v.iter().map(i64::to_string).collect::<Vec<_>>().join(", "))
                }
            };
            out.push_str(&format!("{field} = {v}\n"));
        }
    }
    out
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

/// A value as the field's text, or why it cannot be one.
fn text_of(v: &DeValue<'_>) -> Result<String, String> {
    match v {
        DeValue::String(s) => Ok(s.to_string()),
        DeValue::Integer(i) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix())
            .map(|n| n.to_string())
            .map_err(|_| format!("'{}' is not a whole number Costroom holds", i.as_str())),
        DeValue::Float(f) => Err(format!(
            "{} is a TOML float, which is not exact: write money in quotes (\"{}\")",
            f.as_str(),
            f.as_str()
        )),
        DeValue::Boolean(b) => Ok(b.to_string()),
        DeValue::Datetime(d) => Ok(d.to_string()),
        DeValue::Array(a) => {
            let parts: Result<Vec<String>, String> = a.iter().map(|x| text_of(x.get_ref())).collect();
            Ok(parts?.join(", "))
        }
        DeValue::Table(_) => Err("a table is not a field's value".into()),
    }
}

/// Reads a policy file: its rules, or every mistake (line, field, reason).
pub fn parse(text: &str) -> Result<Vec<Rule>, Vec<Mistake>> {
    let doc = match DeTable::parse(text) {
        Ok(d) => d,
        Err(e) => {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
            let message = e.message().trim().to_string();
            return Err(vec![Mistake { line, field: "file".into(), message }]);
        }
    };
    let mut mistakes = vec![];
    // each rule read, its table's first line, and the line of each of its fields
    type Read = (Rule, usize, Vec<(String, usize)>);
    let mut rules: Vec<Read> = vec![];
    for (key, value) in doc.get_ref().iter() {
        let line = line_of(text, key.span().start);
        let tables = match (key.get_ref().as_ref(), value.get_ref()) {
            ("rule", DeValue::Array(a)) => a,
            ("rule", _) => {
                mistakes.push(Mistake {
                    line,
                    field: "rule".into(),
                    message: "rules are written as [[rule]] tables".into(),
                });
                continue;
            }
            (k, _) => {
                mistakes.push(Mistake {
                    line,
                    field: k.to_string(),
                    message: "unknown: a policy file holds only [[rule]] tables".into(),
                });
                continue;
            }
        };
        for t in tables.iter() {
            let header = line_of(text, t.span().start);
            let DeValue::Table(table) = t.get_ref() else {
                mistakes.push(Mistake {
                    line: header,
                    field: "rule".into(),
                    message: "expected a table".into(),
                });
                continue;
            };
            let mut input = RuleInput::default();
            let mut lines: Vec<(String, usize)> = vec![];
            let mut bad = false;
            for (k, v) in table.iter() {
                let (field, at) = (k.get_ref().to_string(), line_of(text, k.span().start));
                lines.push((field.clone(), at));
                if !INPUT_FIELDS.contains(&field.as_str()) {
                    let message = format!("unknown field (fields: {})", INPUT_FIELDS.join(", "));
                    mistakes.push(Mistake { line: at, field, message });
                    bad = true;
                    continue;
                }
                match text_of(v.get_ref()) {
                    Ok(s) => {
                        input.set(&field, s);
                    }
                    Err(message) => {
                        mistakes.push(Mistake { line: at, field, message });
                        bad = true;
                    }
                }
            }
            if bad {
                continue;
            }
            let first_line = lines.iter().map(|l| l.1).min().unwrap_or(header);
            match rule_from_input(&input) {
                Ok(rule) => rules.push((rule, first_line, lines)),
                Err(e) => mistakes.push(located(&e, &lines, first_line)),
            }
        }
    }
    // contradictions are named at the later rule, where the reader added the second half
    for j in 1..rules.len() {
        let set: Vec<Rule> = rules[..=j].iter().map(|r| r.0.clone()).collect();
        let before: Vec<Rule> = rules[..j].iter().map(|r| r.0.clone()).collect();
        if contradictions(&before).is_ok() {
            if let Err(e) = contradictions(&set) {
                mistakes.push(located(&e, &rules[j].2, rules[j].1));
            }
        }
    }
    if mistakes.is_empty() {
        Ok(rules.into_iter().map(|r| r.0).collect())
    } else {
        mistakes.sort_by_key(|m| m.line);
        Err(mistakes)
    }
}

/// `field: reason` placed at the field's line in its table (or the table's first line).
fn located(e: &str, lines: &[(String, usize)], first: usize) -> Mistake {
    let (field, message) = e.split_once(": ").unwrap_or(("rule", e));
    // a missing field is placed at the field it belongs to (scope_value at scope)
    let line = lines
        .iter()
        .find(|l| l.0 == field)
        .or_else(|| lines.iter().filter(|l| field.starts_with(&l.0)).max_by_key(|l| l.0.len()))
        .map(|l| l.1)
        .unwrap_or(first);
    Mistake { line, field: field.to_string(), message: message.to_string() }
}

/// Reads a policy file for the command line: every mistake on its own line.
pub fn check(text: &str) -> Result<Vec<Rule>, AppError> {
    parse(text)
        .map_err(|m| AppError::Invalid(m.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")))
}

/// What applying `new` over `current` changes, one line each: `+ name: …` added,
/// `- name: …` removed, `~ name: field before → after` changed. Empty: nothing changes.
pub fn diff(current: &[Rule], new: &[Rule]) -> Vec<String> {
    let fields = |r: &Rule| -> Vec<(&'static str, String)> {
        rule_to_fields(r).into_iter().map(|(f, v)| (f, v.text())).collect()
    };
    let mut out = vec![];
    for r in new {
        match current.iter().find(|c| c.name == r.name) {
            None => out.push(format!("+ {}: {} ({})", r.name, r.describe(), r.scope_label())),
            Some(c) => {
                let (before, after) = (fields(c), fields(r));
                for f in INPUT_FIELDS {
                    let b = before.iter().find(|x| x.0 == f).map(|x| x.1.clone());
                    let a = after.iter().find(|x| x.0 == f).map(|x| x.1.clone());
                    if a != b {
                        let b = b.unwrap_or_else(|| "(none)".into());
                        let a = a.unwrap_or_else(|| "(none)".into());
                        out.push(format!("~ {}: {f} {b} → {a}", r.name));
                    }
                }
            }
        }
    }
    for c in current.iter().filter(|c| !new.iter().any(|r| r.name == c.name)) {
        out.push(format!("- {}: {} ({})", c.name, c.describe(), c.scope_label()));
    }
    out
}

/// Replaces the organisation's rules with the file's, in one transaction, audited with the
/// diff; answers the diff (empty: nothing was written).
pub async fn apply(
    db: &Db,
    org: OrgId,
    actor: &Actor,
    rules: &[Rule],
    now: DateTime<Utc>,
) -> Result<Vec<String>, AppError> {
    let current = db.guardrail_rules(org).await?;
    let changes = diff(&current, rules);
    if changes.is_empty() {
        return Ok(changes);
    }
    let entry = NewAudit {
        actor: actor.clone(),
        action: "guardrail.policy_apply",
        entity: "guardrail",
        entity_id: "policy".into(),
        summary: format!("policy applied: {}", changes.join("; ")),
        before: serde_json::to_value(&current).ok(),
        after: serde_json::to_value(rules).ok(),
    };
    db.replace_guardrail_rules(org, rules, &entry, now).await?;
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[rule]]
name = "search monthly"
scope = "team"
scope_value = "search"
mode = "shadow"
effective_from = 2026-12-01
limit = "cap"
period = "month"
amount_usd = "500.00"
hard = true
warn_at_pct = [50, 80]

[[rule]]
name = "no opus for faq"
scope = "feature"
scope_value = "faq"
effective_from = "2026-12-01"
limit = "models"
list = "deny"
models = ["claude-opus-*"]
instead = "claude-haiku-4-5"
"#;

    #[test]
    fn a_file_reads_to_rules_and_exports_back_to_the_same_text() {
        let rules = parse(GOOD).expect("reads");
        assert_eq!(rules.len(), 2);
        let text = export(&rules);
        assert!(text.contains("amount_usd = \"500.00\"\n"), "{text}");
        assert!(text.contains("warn_at_pct = [50, 80]\n"), "{text}");
        let again = parse(&text).expect("its own export reads");
        let mut by_name = rules.clone();
        by_name.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(again, by_name, "the export lists the rules by name");
        assert_eq!(export(&again), text, "export → read → export is stable");
        assert!(diff(&rules, &again).is_empty());
    }

    /// Each mistake is named by line and field, nothing else is reported for it.
    #[test]
    fn ten_kinds_of_mistakes_are_named_by_line_and_field() {
        let rule = |body: &str| format!("[[rule]]\nname = \"r\"\neffective_from = 2026-12-01\n{body}");
        let cases: Vec<(String, usize, &str, &str)> = vec![
            ("[[rule]\nname = 1".into(), 1, "file", ""),
            (rule("limit = \"cap\"\nperiod = \"month\"\namount_usd = 500.1"), 6, "amount_usd", "not exact"),
            (rule("limit = \"cap\"\nperiod = \"month\"\namount_usd = \"1,5\""), 6, "amount_usd", "comma"),
            (rule("limit = \"cap\"\nperiod = \"fortnight\"\namount_usd = \"5\""), 5, "period", "fortnight"),
            (rule("limit = \"cap\"\nperiod = \"month\"\namount_usd = \"5\"\ncolour = \"red\""), 7, "colour", "unknown field"),
            (rule("limit = \"budget\""), 4, "limit", "not one of"),
            (rule("limit = \"rate\"\nrequests_per_minute = -5"), 5, "requests_per_minute", "above 0"),
            (rule("limit = \"cap\"\nscope = \"team\"\nperiod = \"day\"\namount_usd = \"5\""), 5, "scope_value", "names its team"),
            (rule("limit = \"models\"\nlist = \"deny\"\nmodels = \"x\"\namount_usd = \"5\""), 7, "amount_usd", "not a field of a models rule"),
            ("[[rule]]\nname = \"r\"\neffective_from = \"12/01/2026\"\nlimit = \"request\"\nmax_tokens = 5".into(), 3, "effective_from", "not a date"),
            (
                format!("{}\n{}", rule("limit = \"request\"\nmax_tokens = 5"), rule("limit = \"request\"\nmax_tokens = 6")),
                7,
                "name",
                "two rules are named 'r'",
            ),
            (
                "[[rule]]\nname = \"a\"\neffective_from = 2026-12-01\nlimit = \"models\"\nlist = \"allow\"\nmodels = \"gpt-4o\"\n\
                 [[rule]]\nname = \"b\"\neffective_from = 2026-12-01\nlimit = \"models\"\nlist = \"deny\"\nmodels = \"gpt-*\""
                    .into(),
                12,
                "models",
                "a denial wins",
            ),
            ("colour = \"red\"".into(), 1, "colour", "only [[rule]] tables"),
        ];
        for (text, line, field, says) in cases {
            let m = parse(&text).expect_err(&text);
            assert_eq!(m.len(), 1, "{text}: {m:?}");
            assert_eq!((m[0].line, m[0].field.as_str()), (line, field), "{text}: {m:?}");
            assert!(m[0].message.contains(says), "{text}: {}", m[0]);
        }
    }

    #[test]
    fn the_diff_says_what_is_added_changed_and_removed() {
        let rules = parse(GOOD).unwrap();
        let mut changed = rules.clone();
        changed[0].mode = crate::domain::guardrail::Mode::Enforce;
        changed.remove(1);
        let d = diff(&rules, &changed);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0], "~ search monthly: mode shadow → enforce");
        assert!(d[1].starts_with("- no opus for faq: models: not claude-opus-*"), "{d:?}");
    }
}
