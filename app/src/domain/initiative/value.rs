//! Value metrics of an initiative against its spend: ROI, net value, cost per outcome,
//! payback, time to value, by month and cumulative.
use super::*;

/// An initiative's value against its spend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueMetrics {
    /// Value of the outcomes that count (everything but those pending verification).
    pub value: Nanos,
    /// Value of outcomes pending finance's verification: shown apart, in no figure below.
    #[serde(default)]
    pub unverified: Nanos,
    pub spend: Nanos,
    pub net: Nanos,
    /// (value − spend) ÷ spend × 100, in hundredths of a percent (30000 = 300.00 %); none
    /// without spend.
    pub roi_basis_points: Option<i64>,
    /// Spend ÷ quantity per metric, for metrics with a quantity.
    pub cost_per_outcome: Vec<(String, Nanos)>,
    /// First day cumulative value reached cumulative spend (≥), if it has.
    pub payback: Option<NaiveDate>,
    /// Go-live → first outcome, in days.
    pub time_to_value_days: Option<i64>,
    /// Kickoff → go-live, in days.
    pub time_to_deploy_days: Option<i64>,
    pub first_outcome: Option<NaiveDate>,
}

/// ROI in hundredths of a percent, rounded half away from zero.
pub fn roi_basis_points(value: Nanos, spend: Nanos) -> Option<i64> {
    if spend.0 <= 0 {
        return None;
    }
    let num = (value.0 as i128 - spend.0 as i128) * 10_000;
    let d = spend.0 as i128;
    let q = if num >= 0 { (num + d / 2) / d } else { (num - d / 2) / d };
    Some(q as i64)
}

/// `bp` as "300.00%".
pub fn pct_label(bp: i64) -> String {
    let sign = if bp < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}%", bp.abs() / 100, bp.abs() % 100)
}

/// Metrics from the initiative, its outcomes, and its daily spend (any order).
pub fn metrics(i: &Initiative, outcomes: &[Outcome], daily_spend: &[(NaiveDate, Nanos)]) -> ValueMetrics {
    let unverified: Nanos = outcomes.iter().filter(|o| !o.counted()).map(|o| o.value).sum();
    let counted: Vec<Outcome> = outcomes.iter().filter(|o| o.counted()).cloned().collect();
    let outcomes = counted.as_slice();
    let value: Nanos = outcomes.iter().map(|o| o.value).sum();
    let spend: Nanos = daily_spend.iter().map(|(_, c)| *c).sum();
    let mut per_metric: Vec<(String, i64)> = Vec::new();
    for o in outcomes.iter().filter(|o| o.quantity_milli > 0) {
        match per_metric.iter_mut().find(|(m, _)| *m == o.metric) {
            Some((_, q)) => *q += o.quantity_milli,
            None => per_metric.push((o.metric.clone(), o.quantity_milli)),
        }
    }
    let cost_per_outcome = per_metric
        .into_iter()
        .map(|(m, q)| {
            let per = (spend.0 as i128 * 1000 + q as i128 / 2) / q as i128;
            (m, Nanos(per as i64))
        })
        .collect();
    // payback: walk the days of spend and value together
    let mut days: Vec<NaiveDate> =
        daily_spend.iter().map(|(d, _)| *d).chain(outcomes.iter().map(|o| o.day)).collect();
    days.sort();
    days.dedup();
    let (mut cum_spend, mut cum_value, mut payback) = (Nanos::ZERO, Nanos::ZERO, None);
    for d in days {
        cum_spend += daily_spend.iter().filter(|(x, _)| *x == d).map(|(_, c)| *c).sum();
        cum_value += outcomes.iter().filter(|o| o.day == d).map(|o| o.value).sum();
        if cum_value.0 > 0 && cum_value >= cum_spend {
            payback = Some(d);
            break;
        }
    }
    let first_outcome = outcomes.iter().map(|o| o.day).min();
    ValueMetrics {
        unverified,
        value,
        spend,
        net: value - spend,
        roi_basis_points: roi_basis_points(value, spend),
        cost_per_outcome,
        payback,
        time_to_value_days: i.go_live.zip(first_outcome).map(|(g, f)| (f - g).num_days()),
        time_to_deploy_days: i.kickoff.zip(i.go_live).map(|(k, g)| (g - k).num_days()),
        first_outcome,
    }
}

/// Metrics over `period` only (outcomes dated and spend incurred in it); time to value, time
/// to deploy and payback stay lifetime figures, as a period cannot move them.
pub fn metrics_in(
    i: &Initiative,
    outcomes: &[Outcome],
    daily_spend: &[(NaiveDate, Nanos)],
    period: DateRange,
) -> ValueMetrics {
    let inside = |d: NaiveDate| d >= period.from && d <= period.to;
    let o: Vec<Outcome> = outcomes.iter().filter(|o| inside(o.day)).cloned().collect();
    let sp: Vec<(NaiveDate, Nanos)> = daily_spend.iter().filter(|(d, _)| inside(*d)).copied().collect();
    let lifetime = metrics(i, outcomes, daily_spend);
    ValueMetrics {
        payback: lifetime.payback,
        time_to_value_days: lifetime.time_to_value_days,
        time_to_deploy_days: lifetime.time_to_deploy_days,
        first_outcome: lifetime.first_outcome,
        ..metrics(i, &o, &sp)
    }
}

/// Value and spend of one calendar month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthValue {
    /// Its first day.
    pub month: NaiveDate,
    pub value: Nanos,
    pub spend: Nanos,
    pub net: Nanos,
    pub roi_basis_points: Option<i64>,
}

/// Value and spend per calendar month, oldest first, for every month from the first with
/// spend or an outcome to the last.
pub fn monthly(outcomes: &[Outcome], daily_spend: &[(NaiveDate, Nanos)]) -> Vec<MonthValue> {
    let counted: Vec<Outcome> = outcomes.iter().filter(|o| o.counted()).cloned().collect();
    let outcomes = counted.as_slice();
    use chrono::Datelike;
    let first = |d: NaiveDate| d.with_day(1).expect("day 1 exists");
    let mut months: Vec<MonthValue> = Vec::new();
    let days = daily_spend
        .iter()
        .filter(|(_, c)| c.0 != 0)
        .map(|(d, c)| (*d, *c, Nanos::ZERO))
        .chain(outcomes.iter().map(|o| (o.day, Nanos::ZERO, o.value)));
    for (d, spend, value) in days {
        let m = first(d);
        match months.iter_mut().find(|x| x.month == m) {
            Some(x) => {
                x.spend += spend;
                x.value += value;
            }
            None => {
                months.push(MonthValue { month: m, value, spend, net: Nanos::ZERO, roi_basis_points: None })
            }
        }
    }
    months.sort_by_key(|m| m.month);
    for m in &mut months {
        m.net = m.value - m.spend;
        m.roi_basis_points = roi_basis_points(m.value, m.spend);
    }
    months
}

/// Cumulative spend and value per day (days with spend or an outcome), oldest first.
pub fn cumulative(
    outcomes: &[Outcome],
    daily_spend: &[(NaiveDate, Nanos)],
) -> Vec<(NaiveDate, Nanos, Nanos)> {
    let counted: Vec<Outcome> = outcomes.iter().filter(|o| o.counted()).cloned().collect();
    let outcomes = counted.as_slice();
    let mut days: Vec<NaiveDate> = daily_spend
        .iter()
        .filter(|(_, c)| c.0 != 0)
        .map(|(d, _)| *d)
        .chain(outcomes.iter().map(|o| o.day))
        .collect();
    days.sort();
    days.dedup();
    let (mut spend, mut value) = (Nanos::ZERO, Nanos::ZERO);
    days.into_iter()
        .map(|d| {
            spend += daily_spend.iter().filter(|(x, _)| *x == d).map(|(_, c)| *c).sum();
            value += outcomes.iter().filter(|o| o.day == d).map(|o| o.value).sum();
            (d, spend, value)
        })
        .collect()
}
