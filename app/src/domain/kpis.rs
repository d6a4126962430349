//! The eleven AI FinOps KPIs of the product brief, each with its formula, its value for a
//! period and the period before, and the view holding its rows. A KPI whose inputs Costroom
//! does not have yet says what is missing instead of showing a number.
use serde::{Deserialize, Serialize};

use super::explore::{Figure, Metric};
use super::ledger::{cost_per_score_point, utilization_pct};
use super::rollup::Sums;
use super::{DateRange, Nanos};

/// What the KPIs are computed from, for one period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KpiInputs {
    pub range: Option<DateRange>,
    /// Token events only (requests, tokens, their cost).
    pub tokens: Sums,
    /// Spend of every source.
    pub all_cost: Nanos,
    /// Allocated and used GPU milli-hours.
    pub gpu_allocated_mh: i64,
    pub gpu_used_mh: i64,
    /// Training runs that started in the period: (cost, quality score if reported).
    pub training: Vec<(Nanos, Option<f64>)>,
    /// Outcome value dated in the period and the spend attributed to initiatives in it.
    pub initiative_value: Nanos,
    pub initiative_spend: Nanos,
    /// Go-live → first outcome, per initiative with both by the period's end (days).
    pub time_to_value_days: Vec<i64>,
    /// Kickoff → go-live, per initiative live by the period's end (days).
    pub time_to_deploy_days: Vec<i64>,
    /// Anomalies that started in the period: detection rate and mean time to detect.
    #[serde(default)]
    pub anomalies: Option<super::anomaly::DetectionFigures>,
}

/// Mean of whole days, rounded, with how many it covers.
fn mean_days(days: &[i64]) -> Option<String> {
    if days.is_empty() {
        return None;
    }
    let n = days.len() as i64;
    let mean = (days.iter().sum::<i64>() * 2 + n) / (2 * n);
    Some(format!("{mean} days (mean of {n})"))
}

/// One KPI as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kpi {
    pub key: String,
    pub name: String,
    pub formula: String,
    /// Shown value this period and the one before; `None` when there is nothing to divide.
    pub value: Option<String>,
    pub previous: Option<String>,
    /// What Costroom needs before it can compute this KPI (no value is shown then).
    pub missing: Option<String>,
    /// Where the underlying rows are.
    pub href: Option<String>,
}

fn shown(f: Figure, m: Metric) -> Option<String> {
    (f != Figure::None).then(|| f.display(m))
}

fn range_qs(r: Option<DateRange>) -> String {
    r.map(|r| format!("from={}&to={}", r.from, r.to)).unwrap_or_default()
}

/// Σ cost ÷ Σ score over the runs with a score (a score of 0 cannot divide).
pub fn training_efficiency(runs: &[(Nanos, Option<f64>)]) -> Option<Nanos> {
    let scored: Vec<&(Nanos, Option<f64>)> =
        runs.iter().filter(|(_, s)| s.is_some_and(|s| s > 0.0)).collect();
    if scored.is_empty() {
        return None;
    }
    let cost: Nanos = scored.iter().map(|(c, _)| *c).sum();
    let score: f64 = scored.iter().filter_map(|(_, s)| *s).sum();
    cost_per_score_point(cost, Some(score))
}

/// The eleven KPIs for `now`, with `before` (the previous period of the same length) as trend.
pub fn kpis(now: &KpiInputs, before: &KpiInputs) -> Vec<Kpi> {
    let qs = range_qs(now.range);
    let per_request = |i: &KpiInputs| shown(Metric::CostPerRequest.of(&i.tokens), Metric::CostPerRequest);
    let loaded = |i: &KpiInputs| {
        let s = Sums { cost_nanos: i.all_cost.0, requests: i.tokens.requests, ..Sums::default() };
        shown(Metric::CostPerRequest.of(&s), Metric::CostPerRequest)
    };
    let per_1k = |i: &KpiInputs| shown(Metric::CostPer1kTokens.of(&i.tokens), Metric::CostPer1kTokens);
    let gpu = |i: &KpiInputs| utilization_pct(i.gpu_allocated_mh, i.gpu_used_mh).map(|p| format!("{p:.1}%"));
    let training =
        |i: &KpiInputs| training_efficiency(&i.training).map(|n| format!("${} per point", n.decimal(2)));
    let roi = |i: &KpiInputs| {
        super::initiative::roi_basis_points(i.initiative_value, i.initiative_spend)
            .map(super::initiative::pct_label)
    };
    let ttv = |i: &KpiInputs| mean_days(&i.time_to_value_days);
    let ttd = |i: &KpiInputs| mean_days(&i.time_to_deploy_days);
    let rate = |i: &KpiInputs| {
        let f = i.anomalies.as_ref()?;
        f.rate_pct.map(|p| format!("{p:.1}% ({} of {})", f.detected, f.detected + f.reported))
    };
    let mttd = |i: &KpiInputs| {
        let f = i.anomalies.as_ref()?;
        f.mttd_secs.map(|s| format!("{} (mean of {})", super::anomaly::duration_label(s), f.detected))
    };
    let kpi =
        |key: &str, name: &str, formula: &str, f: &dyn Fn(&KpiInputs) -> Option<String>, href: String| Kpi {
            key: key.into(),
            name: name.into(),
            formula: formula.into(),
            value: f(now),
            previous: f(before),
            missing: None,
            href: Some(href),
        };
    let missing = |key: &str, name: &str, formula: &str, what: &str| Kpi {
        key: key.into(),
        name: name.into(),
        formula: formula.into(),
        value: None,
        previous: None,
        missing: Some(what.into()),
        href: None,
    };
    vec![
        kpi(
            "cost_per_inference",
            "Cost per inference",
            "token spend ÷ model requests",
            &per_request,
            format!("/spend?group=model&metric=cost_per_request&source=tokens&{qs}"),
        ),
        kpi(
            "cost_per_api_call",
            "Cost per API call (fully loaded)",
            "spend of every source (tokens, invoices, GPU, training, commitments) ÷ requests",
            &loaded,
            format!("/spend?group=source&{qs}"),
        ),
        kpi(
            "cost_per_1k_tokens",
            "Cost per 1K tokens",
            "token spend × 1,000 ÷ (input + output tokens)",
            &per_1k,
            format!("/spend?group=model&metric=cost_per_1k_tokens&source=tokens&{qs}"),
        ),
        kpi(
            "gpu_utilization",
            "GPU utilization",
            "used GPU-hours ÷ allocated GPU-hours",
            &gpu,
            "/ledger".into(),
        ),
        kpi(
            "anomaly_detection_rate",
            "Anomaly detection rate",
            "anomalies detected automatically ÷ all anomalies (detected + reported), false positives left out",
            &rate,
            "/anomalies".into(),
        ),
        kpi(
            "mttd",
            "Mean time to detect",
            "average of (detection time − start of the anomalous period) over detected anomalies",
            &mttd,
            "/anomalies".into(),
        ),
        kpi(
            "ai_roi",
            "AI ROI",
            "(value of outcomes recorded in the period − spend attributed to initiatives in it) ÷ that spend × 100",
            &roi,
            "/initiatives".into(),
        ),
        kpi(
            "time_to_value",
            "Time to value",
            "go-live date → first recorded outcome, mean over initiatives with both",
            &ttv,
            "/initiatives".into(),
        ),
        kpi(
            "training_cost_efficiency",
            "Training cost efficiency",
            "training cost ÷ quality score, over runs that report a score",
            &training,
            "/ledger".into(),
        ),
        missing(
            "model_fit",
            "Model fit",
            "cost and quality per feature vs the cheapest model meeting the feature's quality bar",
            "Needs quality scores per feature and model, and each feature's quality bar (evaluations are not recorded yet).",
        ),
        kpi(
            "time_to_first_deployment",
            "Time to first model deployment",
            "initiative kickoff → go-live, mean over initiatives live by the period's end",
            &ttd,
            "/initiatives".into(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(cost: i64, requests: i64, tokens: i64, all: i64) -> KpiInputs {
        KpiInputs {
            range: None,
            tokens: Sums { cost_nanos: cost, requests, input_tokens: tokens, ..Sums::default() },
            all_cost: Nanos(all),
            gpu_allocated_mh: 192_000,
            gpu_used_mh: 153_600,
            training: vec![(Nanos(800_000_000_000), Some(0.8)), (Nanos(1), None)],
            initiative_value: Nanos(800_000_000_000_000),
            initiative_spend: Nanos(200_000_000_000_000),
            time_to_value_days: vec![14, 15],
            time_to_deploy_days: vec![90],
            anomalies: Some(crate::domain::anomaly::DetectionFigures {
                detected: 2,
                reported: 1,
                false_positives: 1,
                rate_pct: Some(200.0 / 3.0),
                mttd_secs: Some(2_700),
            }),
        }
    }

    #[test]
    fn eleven_kpis_with_values_where_inputs_exist_and_reasons_where_not() {
        let now = inputs(3_000_000_000, 1_000, 2_000_000, 5_000_000_000);
        let k = kpis(&now, &KpiInputs::default());
        assert_eq!(k.len(), 11);
        let get = |key: &str| k.iter().find(|x| x.key == key).unwrap();
        assert_eq!(get("cost_per_inference").value.as_deref(), Some("$0.003000"));
        assert_eq!(get("cost_per_api_call").value.as_deref(), Some("$0.005000"));
        assert_eq!(get("cost_per_1k_tokens").value.as_deref(), Some("$0.001500"));
        assert_eq!(get("gpu_utilization").value.as_deref(), Some("80.0%"));
        // $800 over a score of 0.8; the unscored run is left out
        assert_eq!(get("training_cost_efficiency").value.as_deref(), Some("$1000.00 per point"));
        assert_eq!(get("cost_per_inference").previous, None, "no requests before: no number");
        // $800K of value for $200K of spend
        assert_eq!(get("ai_roi").value.as_deref(), Some("300.00%"));
        assert_eq!(get("ai_roi").previous, None, "no spend before: no ROI");
        assert_eq!(get("time_to_value").value.as_deref(), Some("15 days (mean of 2)"), "14.5 rounds up");
        assert_eq!(get("time_to_first_deployment").value.as_deref(), Some("90 days (mean of 1)"));
        assert_eq!(get("anomaly_detection_rate").value.as_deref(), Some("66.7% (2 of 3)"));
        assert_eq!(get("mttd").value.as_deref(), Some("45 min (mean of 2)"));
        assert_eq!(get("mttd").previous, None, "no anomaly before: no number");
        let fit = get("model_fit");
        assert!(fit.value.is_none() && fit.missing.is_some(), "model fit shows no fake number");
    }

    #[test]
    fn training_efficiency_ignores_runs_without_a_positive_score() {
        assert_eq!(training_efficiency(&[(Nanos(5), None), (Nanos(7), Some(0.0))]), None);
        assert_eq!(training_efficiency(&[(Nanos(10), Some(0.5)), (Nanos(20), Some(1.5))]), Some(Nanos(15)));
    }
}
