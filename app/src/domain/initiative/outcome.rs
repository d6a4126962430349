//! Outcomes product owners record for an initiative, and their reading from a form or a CSV row.
use super::*;

/// A business outcome recorded for an initiative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub id: i64,
    pub initiative_id: i64,
    /// The day it happened, or the first day of the period it covers.
    pub day: NaiveDate,
    pub period_end: Option<NaiveDate>,
    pub metric: String,
    /// Thousandths of a unit.
    pub quantity_milli: i64,
    pub value: Nanos,
    /// What the same work cost before AI, when known.
    pub baseline_cost: Option<Nanos>,
    pub note: String,
    pub evidence: String,
    /// The sender's id (API, CSV): the same id again is a resend.
    pub external_id: Option<String>,
    pub recorded_by: String,
    /// Worth more than the evidence share of its initiative's value when recorded: counted
    /// apart until finance verifies it.
    #[serde(default)]
    pub pending: bool,
    /// Who in finance verified it.
    #[serde(default)]
    pub verified_by: Option<String>,
}

impl Outcome {
    /// Whether its value counts in value, ROI, payback and the zombie rules (everything but a
    /// pending, unverified outcome).
    pub fn counted(&self) -> bool {
        !self.pending || self.verified_by.is_some()
    }
}

/// Whether an outcome worth `value` needs evidence and verification: more than `share_pct` %
/// of its initiative's value with it (`before` = the value recorded so far). The first
/// outcome has nothing to be compared with and is not held.
pub fn needs_evidence(before: Nanos, value: Nanos, share_pct: i64) -> bool {
    before.0 > 0 && value.0 as i128 * 100 > share_pct as i128 * (before.0 as i128 + value.0 as i128)
}

/// A quantity in thousandths as a person reads it: 12, 2.5, 0.125.
pub fn quantity_text(milli: i64) -> String {
    if milli % 1000 == 0 {
        (milli / 1000).to_string()
    } else {
        format!("{}.{:03}", milli / 1000, milli % 1000).trim_end_matches('0').to_string()
    }
}

/// `quantity × value_per_unit`, both as typed, to the nano (half away from zero); `None`
/// above what one outcome may be worth ([`crate::domain::limits::MAX_LINE_COST`]).
pub fn value_of(quantity_milli: i64, per_unit: Nanos) -> Option<Nanos> {
    let v = (quantity_milli as i128 * per_unit.0 as i128 + 500) / 1000;
    i64::try_from(v).ok().map(Nanos).filter(|v| *v <= crate::domain::limits::MAX_LINE_COST)
}

fn valued(quantity_milli: i64, per_unit: Nanos) -> Result<Nanos, AppError> {
    value_of(quantity_milli, per_unit).ok_or_else(|| {
        AppError::invalid(format!(
            "quantity: quantity × value per unit is above what one outcome may be worth ({})",
            crate::domain::limits::MAX_LINE_COST.usd()
        ))
    })
}

/// The outcome form as typed (every field text), as people enter it or a CSV row holds it.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutcomeInput {
    pub day: String,
    pub period_end: String,
    pub metric: String,
    pub quantity: String,
    pub value_per_unit: String,
    pub total_value: String,
    pub baseline_cost: String,
    pub note: String,
    pub evidence: String,
}

/// An outcome from its form: the value is the total when given, else quantity × value per
/// unit (the form's, or the initiative's hypothesis); errors name the field.
pub fn parse_outcome(i: &Initiative, f: &OutcomeInput) -> Result<Outcome, AppError> {
    let OutcomeInput {
        day,
        period_end,
        metric,
        quantity,
        value_per_unit,
        total_value,
        baseline_cost,
        note,
        evidence,
    } = f;
    let day = crate::domain::period::required_day("day", day)?;
    let period_end = optional_day("period_end", period_end)?;
    if period_end.is_some_and(|e| e < day) {
        return Err(AppError::invalid("period_end: the period ends before it starts"));
    }
    let metric = match metric.trim() {
        "" => i.hypothesis.metric.clone(),
        m => m.to_string(),
    };
    if metric.is_empty() {
        return Err(AppError::invalid("metric: what was achieved (tickets resolved, hours saved, …)"));
    }
    let quantity_milli = match quantity.trim() {
        "" => 0,
        q => parse_milli("quantity", q)?,
    };
    let value = match (total_value.trim(), value_per_unit.trim()) {
        ("", "") => match i.hypothesis.value_per_unit {
            Some(per) if quantity_milli > 0 => valued(quantity_milli, per)?,
            _ => {
                return Err(AppError::invalid(
                    "total_value: give the total value, or a quantity and its value per unit",
                ))
            }
        },
        ("", per) => {
            if quantity_milli == 0 {
                return Err(AppError::invalid("quantity: how many units the value per unit applies to"));
            }
            valued(quantity_milli, parse_usd("value_per_unit", per)?)?
        }
        (total, _) => parse_usd("total_value", total)?,
    };
    let evidence = evidence.trim();
    if !(evidence.is_empty() || evidence.starts_with("https://") || evidence.starts_with("http://")) {
        return Err(AppError::invalid("evidence: a link starting with https:// or http://"));
    }
    let baseline_cost = match baseline_cost.trim() {
        "" => None,
        b => Some(parse_usd("baseline_cost", b)?),
    };
    Ok(Outcome {
        id: 0,
        initiative_id: i.id,
        day,
        period_end,
        metric,
        quantity_milli,
        value,
        baseline_cost,
        note: note.trim().to_string(),
        evidence: evidence.to_string(),
        external_id: None,
        recorded_by: String::new(),
        pending: false,
        verified_by: None,
    })
}
