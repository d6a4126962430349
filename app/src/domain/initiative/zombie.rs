//! The rules that flag "zombie" initiatives (spending without value), the flags they raise,
//! and the decisions people take on them.
use super::*;

/// The organisation's zombie rules (every threshold editable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZombieRules {
    /// Spend above `min_spend` in the last `spend_days` days with no outcome in `outcome_days`.
    pub spend_days: i64,
    pub min_spend: Nanos,
    pub outcome_days: i64,
    /// ROI below `min_roi_bp` (hundredths of a percent) over the last `roi_days` days.
    pub roi_days: i64,
    pub min_roi_bp: i64,
    /// Requests falling by at least `usage_drop_pct` % (last `usage_days` days against the
    /// same length before) while spend continues.
    pub usage_days: i64,
    pub usage_drop_pct: i64,
    /// An outcome worth more than this share (%) of its initiative's value needs evidence and
    /// counts apart until finance verifies it.
    #[serde(default = "default_evidence_share")]
    pub evidence_share_pct: i64,
}

fn default_evidence_share() -> i64 {
    50
}

/// The evidence share from its form field (empty = the default); errors name the field.
pub fn parse_evidence_share(v: &str) -> Result<i64, AppError> {
    match v.trim().trim_end_matches('%') {
        "" => Ok(default_evidence_share()),
        t => t.parse::<i64>().ok().filter(|p| (1..=100).contains(p)).ok_or_else(|| {
            AppError::invalid(format!("evidence_share_pct: '{}' is not a percentage from 1 to 100", v.trim()))
        }),
    }
}

impl Default for ZombieRules {
    fn default() -> Self {
        ZombieRules {
            spend_days: 30,
            min_spend: Nanos(10_000_000_000),
            outcome_days: 45,
            roi_days: 90,
            min_roi_bp: 0,
            usage_days: 30,
            usage_drop_pct: 50,
            evidence_share_pct: default_evidence_share(),
        }
    }
}

/// The rules from their form; errors name the field.
pub fn parse_rules(
    spend_days: &str,
    min_spend: &str,
    outcome_days: &str,
    roi_days: &str,
    min_roi_pct: &str,
    usage_days: &str,
    usage_drop_pct: &str,
) -> Result<ZombieRules, AppError> {
    let days = |field: &str, v: &str| {
        v.trim().parse::<i64>().ok().filter(|d| (1..=730).contains(d)).ok_or_else(|| {
            AppError::invalid(format!("{field}: '{}' is not a number of days from 1 to 730", v.trim()))
        })
    };
    // a percentage with up to two decimals, as hundredths
    let roi = crate::domain::pricing::parse_scaled_rounded(min_roi_pct.trim().trim_end_matches('%'), 2)
        .filter(|bp| (-10_000..=1_000_000).contains(bp))
        .ok_or_else(|| {
            AppError::invalid(format!(
                "min_roi_pct: '{}' is not a percentage from -100 to 10000",
                min_roi_pct.trim()
            ))
        })?;
    let drop = usage_drop_pct
        .trim()
        .trim_end_matches('%')
        .parse::<i64>()
        .ok()
        .filter(|p| (1..=100).contains(p))
        .ok_or_else(|| {
            AppError::invalid(format!(
                "usage_drop_pct: '{}' is not a percentage from 1 to 100",
                usage_drop_pct.trim()
            ))
        })?;
    Ok(ZombieRules {
        spend_days: days("spend_days", spend_days)?,
        min_spend: parse_usd("min_spend", min_spend)?,
        outcome_days: days("outcome_days", outcome_days)?,
        roi_days: days("roi_days", roi_days)?,
        min_roi_bp: roi,
        usage_days: days("usage_days", usage_days)?,
        usage_drop_pct: drop,
        evidence_share_pct: default_evidence_share(),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Rule {
    NoOutcomes,
    LowRoi,
    FadingUsage,
    RetiredSpending,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::NoOutcomes => "no_outcomes",
            Rule::LowRoi => "low_roi",
            Rule::FadingUsage => "fading_usage",
            Rule::RetiredSpending => "retired_spending",
        }
    }

    pub fn parse(s: &str) -> Option<Rule> {
        [Rule::NoOutcomes, Rule::LowRoi, Rule::FadingUsage, Rule::RetiredSpending]
            .into_iter()
            .find(|r| r.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Rule::NoOutcomes => "spending without outcomes",
            Rule::LowRoi => "ROI below target",
            Rule::FadingUsage => "usage fading, spend continuing",
            Rule::RetiredSpending => "retired but still spending",
        }
    }
}

/// A rule an initiative trips today: why, and the money at stake (its spend in the rule's
/// window).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trip {
    pub rule: Rule,
    pub reason: String,
    pub at_stake: Nanos,
}

/// What the rules look at for one initiative on `today`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZombieInput {
    pub status: Status,
    /// Daily spend and requests, any order, covering at least the longest window.
    pub daily: Vec<(NaiveDate, Nanos, i64)>,
    pub outcomes: Vec<(NaiveDate, Nanos)>,
}

/// Spend and requests of the `days` days ending `today` (both ends included) ending `offset`
/// windows back.
fn window(input: &ZombieInput, today: NaiveDate, days: i64, offset: i64) -> (Nanos, i64) {
    let to = today - chrono::Duration::days(days * offset);
    let from = to - chrono::Duration::days(days - 1);
    input
        .daily
        .iter()
        .filter(|(d, _, _)| *d >= from && *d <= to)
        .fold((Nanos::ZERO, 0), |(c, r), (_, cost, req)| (c + *cost, r + req))
}

/// Every rule the initiative trips on `today`. Windows end on `today` and count whole days
/// (`spend_days` = 30 means today and the 29 days before).
pub fn zombie_trips(rules: &ZombieRules, input: &ZombieInput, today: NaiveDate) -> Vec<Trip> {
    let mut out = Vec::new();
    let since = |days: i64| today - chrono::Duration::days(days - 1);
    let (spent, _) = window(input, today, rules.spend_days, 0);
    if input.status == Status::Retired && spent.0 > 0 {
        out.push(Trip {
            rule: Rule::RetiredSpending,
            reason: format!("retired, yet {} was spent in the last {} days", spent.usd(), rules.spend_days),
            at_stake: spent,
        });
    }
    let recent_outcome = input.outcomes.iter().any(|(d, _)| *d >= since(rules.outcome_days) && *d <= today);
    if spent > rules.min_spend && !recent_outcome {
        out.push(Trip {
            rule: Rule::NoOutcomes,
            reason: format!(
                "{} spent in the last {} days (more than {}) and no outcome recorded in {} days",
                spent.usd(),
                rules.spend_days,
                rules.min_spend.usd(),
                rules.outcome_days
            ),
            at_stake: spent,
        });
    }
    let (roi_spend, _) = window(input, today, rules.roi_days, 0);
    let roi_value: Nanos = input
        .outcomes
        .iter()
        .filter(|(d, _)| *d >= since(rules.roi_days) && *d <= today)
        .map(|(_, v)| *v)
        .sum();
    // without any outcome in the window the no-outcome rule speaks; ROI is judged on results
    if roi_value.0 > 0 {
        // compared exactly: (value − spend) ÷ spend < target, cross-multiplied in i128
        let below = roi_spend.0 > 0
            && (roi_value.0 as i128 - roi_spend.0 as i128) * 10_000
                < roi_spend.0 as i128 * rules.min_roi_bp as i128;
        if let (true, Some(bp)) = (below, roi_basis_points(roi_value, roi_spend)) {
            out.push(Trip {
                rule: Rule::LowRoi,
                reason: format!(
                    "ROI {} over the last {} days ({} value for {} spend), below {}",
                    pct_label(bp),
                    rules.roi_days,
                    roi_value.usd(),
                    roi_spend.usd(),
                    pct_label(rules.min_roi_bp)
                ),
                at_stake: roi_spend,
            });
        }
    }
    let (now_spend, now_req) = window(input, today, rules.usage_days, 0);
    let (_, before_req) = window(input, today, rules.usage_days, 1);
    // "falling by at least Y %": now ≤ before × (100 − Y) / 100, exactly
    if before_req > 0
        && now_spend.0 > 0
        && (now_req as i128) * 100 <= (before_req as i128) * (100 - rules.usage_drop_pct) as i128
    {
        let drop = 100 - now_req * 100 / before_req;
        out.push(Trip {
            rule: Rule::FadingUsage,
            reason: format!(
                "requests fell {drop}% ({before_req} → {now_req}) over {} days while {} was still spent",
                rules.usage_days,
                now_spend.usd()
            ),
            at_stake: now_spend,
        });
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    Keep,
    Fix,
    Retire,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Keep => "keep",
            Decision::Fix => "fix",
            Decision::Retire => "retire",
        }
    }

    pub fn parse(s: &str) -> Result<Decision, AppError> {
        match s.trim() {
            "keep" => Ok(Decision::Keep),
            "fix" => Ok(Decision::Fix),
            "retire" => Ok(Decision::Retire),
            other => Err(AppError::invalid(format!("decision: '{other}' is not one of keep, fix, retire"))),
        }
    }
}

/// A zombie flag as kept: raised when a rule first trips, cleared when it stops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    pub id: i64,
    pub initiative_id: i64,
    pub rule: Rule,
    pub reason: String,
    pub at_stake: Nanos,
    pub raised_on: NaiveDate,
    pub cleared_on: Option<NaiveDate>,
    pub decisions: Vec<FlagDecision>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagDecision {
    pub decision: Decision,
    pub owner: String,
    pub note: String,
    pub fix_by: Option<NaiveDate>,
    pub decided_by: String,
    pub decided_on: NaiveDate,
}

impl Flag {
    /// Open and without a standing decision: a "fix" whose date has passed stands no more.
    pub fn awaiting_decision(&self, today: NaiveDate) -> bool {
        if self.cleared_on.is_some() {
            return false;
        }
        match self.decisions.last() {
            None => true,
            Some(d) => d.decision == Decision::Fix && d.fix_by.is_some_and(|f| f < today),
        }
    }
}

/// A decision on a zombie flag as typed: `keep`, `fix` (by `fix_by`) or `retire`, with an
/// owner (the person deciding when empty) and a note.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DecisionInput {
    pub decision: String,
    pub owner: String,
    pub note: String,
    pub fix_by: String,
}
