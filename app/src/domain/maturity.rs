//! The crawl / walk / run maturity checklist: stage 0 (alignment), 1 crawl (visibility),
//! 2 walk (accountability and control), 3 run (unit economics). Items are scored from the
//! organisation's own data where a figure exists — each shows its value and threshold — and by
//! hand (owner, evidence link, date) where none can. The stage reached is the highest whose
//! items, and those of every stage before it, are all met.
use serde::{Deserialize, Serialize};

use super::anomaly::duration_label;

pub const STAGES: [&str; 4] = [
    "Stage 0 · alignment",
    "Stage 1 · crawl (visibility)",
    "Stage 2 · walk (accountability and control)",
    "Stage 3 · run (unit economics)",
];

/// Thresholds of the automatic items.
pub const TAG_COVERAGE_BP: i64 = 9_000;
pub const PROJECT_COVERAGE_BP: i64 = 5_000;
pub const KPIS_MEASURED: usize = 8;
pub const BUDGET_COVERAGE_BP: i64 = 8_000;
pub const MTTD_SECS: i64 = 3_600;
pub const DETECTION_RATE_PCT: f64 = 80.0;
pub const FORECAST_ERROR_PCT: f64 = 15.0;
pub const OUTCOME_SPEND_BP: i64 = 5_000;
pub const REVIEWS_HELD: usize = 3;

/// What the automatic items read, each over the last 30 days unless said otherwise; `None`
/// where there is nothing to measure yet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    /// Share of spend with a team, in hundredths of a percent.
    pub tag_coverage_bp: Option<i64>,
    /// Share of spend with an initiative (project).
    pub project_coverage_bp: Option<i64>,
    /// KPIs with a value, of how many.
    pub kpis_measured: (usize, usize),
    /// Share of spend under at least one budget.
    pub budget_coverage_bp: Option<i64>,
    /// Anomalies of the last 90 days.
    pub mttd_secs: Option<i64>,
    pub detection_rate_pct: Option<f64>,
    /// Mean absolute percentage error of the completed budget periods' daily forecasts.
    pub forecast_error_pct: Option<f64>,
    /// Share of spend on initiatives that have recorded outcomes (last 90 days).
    pub outcome_spend_bp: Option<i64>,
    /// Of the last scheduled reviews that are due, how many were closed with a decision.
    pub reviews_held: (usize, usize),
    /// Initiatives with a value per unit (or counted in dollars), of how many.
    pub roi_defined: (usize, usize),
    pub chargeback_statements: usize,
    pub active_guardrails: usize,
}

/// A box ticked by hand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manual {
    pub done: bool,
    pub owner: String,
    pub evidence: String,
    /// The day it was done (or last confirmed).
    pub date: Option<chrono::NaiveDate>,
    pub updated_by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Check {
    Auto { value: String, threshold: String, met: bool },
    Manual(Manual),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub key: String,
    pub stage: usize,
    pub title: String,
    /// Where to look or what to do.
    pub href: String,
    pub check: Check,
}

impl Item {
    pub fn met(&self) -> bool {
        match &self.check {
            Check::Auto { met, .. } => *met,
            Check::Manual(m) => m.done,
        }
    }
}

/// The keys and titles of the items ticked by hand, by stage.
pub const MANUAL: [(&str, usize, &str); 5] = [
    ("objectives", 0, "Objectives for AI spend are written down and agreed"),
    ("ownership", 0, "Shared ownership: engineering, finance and product name an owner per team"),
    ("trained", 2, "Teams are trained on AI cost drivers and the KPIs"),
    ("automation", 3, "Compliance and efficiency checks are automated"),
    ("source_of_truth", 3, "Costroom is the one source of truth for AI cost and usage"),
];

fn pct(bp: i64) -> String {
    format!("{}.{}%", bp / 100, (bp % 100) / 10)
}

fn share(key: &str, stage: usize, title: &str, href: &str, v: Option<i64>, min_bp: i64) -> Item {
    Item {
        key: key.into(),
        stage,
        title: title.into(),
        href: href.into(),
        check: Check::Auto {
            value: v.map(pct).unwrap_or_else(|| "no spend yet".into()),
            threshold: format!("≥ {}", pct(min_bp)),
            met: v.is_some_and(|v| v >= min_bp),
        },
    }
}

fn count(
    key: &str,
    stage: usize,
    title: &str,
    href: &str,
    (n, of): (usize, usize),
    min: usize,
    what: &str,
) -> Item {
    Item {
        key: key.into(),
        stage,
        title: title.into(),
        href: href.into(),
        check: Check::Auto {
            value: format!("{n} of {of} {what}"),
            threshold: format!("≥ {min}"),
            met: n >= min,
        },
    }
}

/// Every item, the automatic ones scored from `i`, the manual ones from `manual` (by key).
pub fn items(i: &Inputs, manual: &[(String, Manual)]) -> Vec<Item> {
    let by_hand =
        |key: &str| manual.iter().find(|(k, _)| k == key).map(|(_, m)| m.clone()).unwrap_or_default();
    let hand = |idx: usize| {
        let (key, stage, title) = MANUAL[idx];
        Item {
            key: key.into(),
            stage,
            title: title.into(),
            href: String::new(),
            check: Check::Manual(by_hand(key)),
        }
    };
    let roi_all = i.roi_defined.1 > 0 && i.roi_defined.0 == i.roi_defined.1;
    vec![
        hand(0),
        hand(1),
        Item {
            key: "roi_defined".into(),
            stage: 0,
            title: "An agreed definition of good ROI: every initiative states the value of its outcome"
                .into(),
            href: "/initiatives".into(),
            check: Check::Auto {
                value: format!("{} of {} initiatives", i.roi_defined.0, i.roi_defined.1),
                threshold: "all, and at least one".into(),
                met: roi_all,
            },
        },
        share(
            "tag_coverage",
            1,
            "AI calls and resources are tagged with a team",
            "/coverage",
            i.tag_coverage_bp,
            TAG_COVERAGE_BP,
        ),
        share(
            "project_coverage",
            1,
            "Costs are connected to projects (initiatives)",
            "/coverage?attribute=initiative",
            i.project_coverage_bp,
            PROJECT_COVERAGE_BP,
        ),
        count(
            "kpis_measured",
            1,
            "The AI KPIs are measured",
            "/kpis",
            i.kpis_measured,
            KPIS_MEASURED,
            "KPIs have a value",
        ),
        count(
            "chargeback",
            2,
            "Chargeback statements make teams own what they consume",
            "/settings",
            (i.chargeback_statements, i.chargeback_statements),
            1,
            "statements produced",
        ),
        count(
            "guardrails",
            2,
            "Automated guardrails (key limits, model access, spending caps) are active",
            "/guardrails",
            (i.active_guardrails, i.active_guardrails),
            1,
            "guardrails active",
        ),
        share(
            "budget_coverage",
            2,
            "Spend is under budgets (spending caps by team or project)",
            "/budgets",
            i.budget_coverage_bp,
            BUDGET_COVERAGE_BP,
        ),
        Item {
            key: "mttd".into(),
            stage: 2,
            title: "Real-time spend tracking: anomalies are caught fast".into(),
            href: "/anomalies".into(),
            check: Check::Auto {
                value: i
                    .mttd_secs
                    .map(|s| format!("MTTD {}", duration_label(s)))
                    .unwrap_or_else(|| "no anomaly detected yet".into()),
                threshold: format!("≤ {}", duration_label(MTTD_SECS)),
                met: i.mttd_secs.is_some_and(|s| s <= MTTD_SECS),
            },
        },
        hand(2),
        share(
            "outcome_spend",
            3,
            "Spend has a cost per outcome: it goes to initiatives with recorded outcomes",
            "/initiatives",
            i.outcome_spend_bp,
            OUTCOME_SPEND_BP,
        ),
        Item {
            key: "forecast_error".into(),
            stage: 3,
            title: "Forecasts steer spend: their error is small".into(),
            href: "/budgets/accuracy".into(),
            check: Check::Auto {
                value: i
                    .forecast_error_pct
                    .map(|e| format!("MAPE {e:.1}%"))
                    .unwrap_or_else(|| "no completed budget period".into()),
                threshold: format!("≤ {FORECAST_ERROR_PCT:.0}%"),
                met: i.forecast_error_pct.is_some_and(|e| e <= FORECAST_ERROR_PCT),
            },
        },
        Item {
            key: "detection_rate".into(),
            stage: 3,
            title: "Anomaly detection finds what happens (few are reported as missed)".into(),
            href: "/anomalies".into(),
            check: Check::Auto {
                value: i
                    .detection_rate_pct
                    .map(|r| format!("{r:.1}%"))
                    .unwrap_or_else(|| "no anomaly yet".into()),
                threshold: format!("≥ {DETECTION_RATE_PCT:.0}%"),
                met: i.detection_rate_pct.is_some_and(|r| r >= DETECTION_RATE_PCT),
            },
        },
        count(
            "reviews",
            3,
            "Cost reviews are held on schedule and decide",
            "/reviews",
            i.reviews_held,
            REVIEWS_HELD,
            "due reviews closed with a decision",
        ),
        hand(3),
        hand(4),
    ]
}

/// The highest stage whose items and those of every earlier stage are all met; `None` while
/// stage 0 is incomplete.
pub fn stage_reached(items: &[Item]) -> Option<usize> {
    let mut reached = None;
    for s in 0..STAGES.len() {
        if items.iter().filter(|i| i.stage == s).all(Item::met) {
            reached = Some(s);
        } else {
            break;
        }
    }
    reached
}

/// What to do next: the unmet items of the first stage not reached.
pub fn next_steps(items: &[Item]) -> Vec<&Item> {
    let next = stage_reached(items).map(|s| s + 1).unwrap_or(0);
    items.iter().filter(|i| i.stage == next && !i.met()).collect()
}

/// The checklist as shown, with the score history (day, stage reached, items met, of).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaturityPage {
    pub items: Vec<Item>,
    pub stage: Option<usize>,
    pub history: Vec<(chrono::NaiveDate, Option<usize>, usize, usize)>,
    pub can_edit: bool,
}

/// A hand-scored checklist item as typed: `done` is a checkbox or yes/no select
/// (`yes`, `true`, `on` tick it), with owner, evidence and an optional date (YYYY-MM-DD).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ManualInput {
    pub item: String,
    pub done: String,
    pub owner: String,
    pub evidence: String,
    pub date: String,
}

impl ManualInput {
    pub fn is_done(&self) -> bool {
        matches!(self.done.as_str(), "yes" | "true" | "on")
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn all_met() -> Inputs {
        Inputs {
            tag_coverage_bp: Some(TAG_COVERAGE_BP),
            project_coverage_bp: Some(PROJECT_COVERAGE_BP),
            kpis_measured: (KPIS_MEASURED, 11),
            budget_coverage_bp: Some(BUDGET_COVERAGE_BP),
            mttd_secs: Some(MTTD_SECS),
            detection_rate_pct: Some(DETECTION_RATE_PCT),
            forecast_error_pct: Some(FORECAST_ERROR_PCT),
            outcome_spend_bp: Some(OUTCOME_SPEND_BP),
            reviews_held: (REVIEWS_HELD, REVIEWS_HELD),
            roi_defined: (4, 4),
            chargeback_statements: 1,
            active_guardrails: 1,
        }
    }

    fn done() -> Vec<(String, Manual)> {
        MANUAL.iter().map(|(k, _, _)| (k.to_string(), Manual { done: true, ..Manual::default() })).collect()
    }

    fn met(i: &Inputs, key: &str) -> bool {
        items(i, &done()).into_iter().find(|x| x.key == key).unwrap().met()
    }

    #[test]
    fn every_automatic_item_is_met_at_its_threshold_and_not_just_below() {
        let at = all_met();
        type Nudge = Box<dyn Fn(&mut Inputs)>;
        let cases: Vec<(&str, Nudge)> = vec![
            ("tag_coverage", Box::new(|i| i.tag_coverage_bp = Some(TAG_COVERAGE_BP - 1))),
            ("project_coverage", Box::new(|i| i.project_coverage_bp = Some(PROJECT_COVERAGE_BP - 1))),
            ("kpis_measured", Box::new(|i| i.kpis_measured = (KPIS_MEASURED - 1, 11))),
            ("budget_coverage", Box::new(|i| i.budget_coverage_bp = Some(BUDGET_COVERAGE_BP - 1))),
            ("mttd", Box::new(|i| i.mttd_secs = Some(MTTD_SECS + 1))),
            ("detection_rate", Box::new(|i| i.detection_rate_pct = Some(DETECTION_RATE_PCT - 0.1))),
            ("forecast_error", Box::new(|i| i.forecast_error_pct = Some(FORECAST_ERROR_PCT + 0.1))),
            ("outcome_spend", Box::new(|i| i.outcome_spend_bp = Some(OUTCOME_SPEND_BP - 1))),
            ("reviews", Box::new(|i| i.reviews_held = (REVIEWS_HELD - 1, REVIEWS_HELD))),
            ("roi_defined", Box::new(|i| i.roi_defined = (3, 4))),
            ("chargeback", Box::new(|i| i.chargeback_statements = 0)),
            ("guardrails", Box::new(|i| i.active_guardrails = 0)),
        ];
        for (key, below) in cases {
            assert!(met(&at, key), "{key} at its threshold");
            let mut b = all_met();
            below(&mut b);
            assert!(!met(&b, key), "{key} just past its threshold");
        }
        // nothing measured is never met
        let none = Inputs::default();
        for key in
            ["tag_coverage", "mttd", "forecast_error", "detection_rate", "outcome_spend", "roi_defined"]
        {
            assert!(!met(&none, key), "{key} without data");
        }
    }

    #[test]
    fn the_stage_is_the_last_one_complete_with_all_before_it() {
        let full = items(&all_met(), &done());
        assert_eq!(stage_reached(&full), Some(3));
        assert!(next_steps(&full).is_empty());
        let mut i = all_met();
        i.active_guardrails = 0;
        let walk_missing = items(&i, &done());
        assert_eq!(stage_reached(&walk_missing), Some(1));
        assert_eq!(
            next_steps(&walk_missing).iter().map(|x| x.key.as_str()).collect::<Vec<_>>(),
            ["guardrails"]
        );
        // stage 0 undone: nothing is reached, whatever else is met
        let undone: Vec<(String, Manual)> = done().into_iter().filter(|(k, _)| k != "objectives").collect();
        let no_alignment = items(&all_met(), &undone);
        assert_eq!(stage_reached(&no_alignment), None);
        assert_eq!(next_steps(&no_alignment)[0].key, "objectives");
    }

    #[test]
    fn values_are_shown_with_their_threshold() {
        let mut i = all_met();
        i.tag_coverage_bp = Some(8_734);
        let tag = items(&i, &[]).into_iter().find(|x| x.key == "tag_coverage").unwrap();
        assert_eq!(tag.check, Check::Auto { value: "87.3%".into(), threshold: "≥ 90.0%".into(), met: false });
    }
}
