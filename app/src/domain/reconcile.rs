//! Reconciliation: what a provider's cost report says against what Costroom computed from
//! token events, per provider, day and model, with the variance in money and percent.
use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::price_book::strip_date_suffix;
use super::Nanos;

/// Reports name dated snapshots (`gpt-4o-2024-08-06`), OpenAI's cost lines carry the model in
/// a line item (`gpt-4o-2024-08-06, input`), events often the family: both sides meet on the
/// lower-case family name.
pub fn model_key(model: &str) -> String {
    let m = model.split(", ").next().unwrap_or(model).trim().to_lowercase();
    strip_date_suffix(&m).map(str::to_string).unwrap_or(m)
}

/// One side's figure for a provider, day and model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    pub provider: String,
    pub day: NaiveDate,
    pub model: String,
    pub cost: Nanos,
    pub tokens: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconRow {
    pub provider: String,
    pub day: NaiveDate,
    pub model: String,
    /// What the provider's cost report says (None: the report has no line for it).
    pub reported: Option<Nanos>,
    /// What Costroom computed from events.
    pub computed: Nanos,
    /// reported − computed (a missing report line counts as zero).
    pub variance: Nanos,
    /// variance ÷ computed × 100 (None when Costroom computed nothing).
    pub variance_pct: Option<f64>,
    pub reported_tokens: Option<i64>,
    pub event_tokens: i64,
}

/// Totals of one provider over the rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconTotal {
    pub provider: String,
    pub reported: Nanos,
    pub computed: Nanos,
    pub variance: Nanos,
    pub variance_pct: Option<f64>,
}

fn pct(variance: Nanos, base: Nanos) -> Option<f64> {
    (base.0 != 0).then(|| variance.0 as f64 * 100.0 / base.0 as f64)
}

/// Joins report costs, report token counts and event figures on (provider, day, model key),
/// providers limited to those that have a report (events of providers nobody reported on are
/// not a variance). Rows are ordered by provider, day, model.
pub fn reconcile(costs: &[Figure], usage: &[Figure], events: &[Figure]) -> (Vec<ReconRow>, Vec<ReconTotal>) {
    type Key = (String, NaiveDate, String);
    #[derive(Default)]
    struct Acc {
        reported: Option<Nanos>,
        reported_tokens: Option<i64>,
        computed: Nanos,
        event_tokens: i64,
    }
    let reported_providers: std::collections::BTreeSet<&str> =
        costs.iter().chain(usage).map(|f| f.provider.as_str()).collect();
    let mut map: BTreeMap<Key, Acc> = BTreeMap::new();
    let key = |f: &Figure| (f.provider.clone(), f.day, model_key(&f.model));
    for f in costs {
        let a = map.entry(key(f)).or_default();
        a.reported = Some(a.reported.unwrap_or_default() + f.cost);
    }
    for f in usage {
        let a = map.entry(key(f)).or_default();
        a.reported_tokens = Some(a.reported_tokens.unwrap_or(0) + f.tokens);
    }
    for f in events.iter().filter(|f| reported_providers.contains(f.provider.as_str())) {
        let a = map.entry(key(f)).or_default();
        a.computed += f.cost;
        a.event_tokens += f.tokens;
    }
    let rows: Vec<ReconRow> = map
        .into_iter()
        .map(|((provider, day, model), a)| {
            let variance = a.reported.unwrap_or_default() - a.computed;
            ReconRow {
                provider,
                day,
                model,
                reported: a.reported,
                computed: a.computed,
                variance,
                variance_pct: pct(variance, a.computed),
                reported_tokens: a.reported_tokens,
                event_tokens: a.event_tokens,
            }
        })
        .collect();
    let mut totals: BTreeMap<String, (Nanos, Nanos)> = BTreeMap::new();
    for r in &rows {
        let t = totals.entry(r.provider.clone()).or_default();
        t.0 += r.reported.unwrap_or_default();
        t.1 += r.computed;
    }
    let totals = totals
        .into_iter()
        .map(|(provider, (reported, computed))| {
            let variance = reported - computed;
            ReconTotal { provider, reported, computed, variance, variance_pct: pct(variance, computed) }
        })
        .collect();
    (rows, totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(provider: &str, day: u32, model: &str, cost: i64, tokens: i64) -> Figure {
        Figure {
            provider: provider.into(),
            day: NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
            model: model.into(),
            cost: Nanos(cost),
            tokens,
        }
    }

    #[test]
    fn model_keys_meet_on_the_family() {
        assert_eq!(model_key("gpt-4o-2024-08-06, input"), "gpt-4o");
        assert_eq!(model_key("GPT-4o"), "gpt-4o");
        assert_eq!(model_key("claude-sonnet-4-5-20250929"), "claude-sonnet-4-5");
    }

    #[test]
    fn variance_per_provider_day_and_model() {
        let costs = [
            f("openai", 3, "gpt-4o-2024-08-06, input", 2_000_000_000, 0),
            f("openai", 3, "gpt-4o-2024-08-06, output", 1_300_000_000, 0),
            f("openai", 4, "gpt-4o-mini, input", 500_000_000, 0),
        ];
        let usage = [f("openai", 3, "gpt-4o-2024-08-06", 0, 120_000)];
        let events = [
            f("openai", 3, "gpt-4o", 3_000_000_000, 110_000),
            f("openai", 5, "gpt-4o", 1_000_000_000, 9_000),
            f("anthropic", 3, "claude-haiku-4-5", 7, 1),
        ];
        let (rows, totals) = reconcile(&costs, &usage, &events);
        assert_eq!(rows.len(), 3, "no anthropic row: nothing reported for it");
        let r = &rows[0];
        assert_eq!(
            (r.model.as_str(), r.reported, r.computed),
            ("gpt-4o", Some(Nanos(3_300_000_000)), Nanos(3_000_000_000))
        );
        assert_eq!((r.variance, r.variance_pct), (Nanos(300_000_000), Some(10.0)));
        assert_eq!((r.reported_tokens, r.event_tokens), (Some(120_000), 110_000));
        // reported but not seen in events: all variance, no percentage
        assert_eq!(
            (rows[1].computed, rows[1].variance, rows[1].variance_pct),
            (Nanos(0), Nanos(500_000_000), None)
        );
        // seen in events, absent from the report: a negative variance of the whole amount
        assert_eq!((rows[2].reported, rows[2].variance), (None, Nanos(-1_000_000_000)));
        assert_eq!(totals.len(), 1);
        assert_eq!(
            (totals[0].reported, totals[0].computed, totals[0].variance),
            (Nanos(3_800_000_000), Nanos(4_000_000_000), Nanos(-200_000_000))
        );
        assert_eq!(totals[0].variance_pct, Some(-5.0));
    }
}
