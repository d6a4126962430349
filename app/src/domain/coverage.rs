//! Tag coverage: how much spend carries a team, a feature and an initiative, per source and
//! week, and where the untagged spend comes from, so that people can fix attribution.
use serde::{Deserialize, Serialize};

use super::explore::{Dim, SpendView};
use super::ledger::SpendSource;
use super::overview::Coverage;
use super::{DateRange, Nanos};

/// The attributes whose coverage is measured, in column order.
pub const ATTRIBUTES: [Dim; 3] = [Dim::Team, Dim::Feature, Dim::Initiative];

/// One source's spend and its untagged part per attribute (in [`ATTRIBUTES`] order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageRow {
    pub source: SpendSource,
    pub total: Nanos,
    pub untagged: Vec<Nanos>,
}

impl CoverageRow {
    /// Coverage of each attribute (tagged = total − untagged).
    pub fn coverage(&self) -> Vec<Coverage> {
        ATTRIBUTES
            .iter()
            .zip(&self.untagged)
            .map(|(d, u)| Coverage { dim: d.clone(), tagged: self.total - *u, total: self.total })
            .collect()
    }
}

/// One week's coverage per attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageWeek {
    pub week: String,
    pub coverage: Vec<Coverage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageView {
    pub range: DateRange,
    /// The attribute whose untagged spend is broken down.
    pub attribute: Dim,
    pub by_source: Vec<CoverageRow>,
    /// Every source together (the sum of `by_source`).
    pub all: CoverageRow,
    pub weeks: Vec<CoverageWeek>,
    /// Untagged spend of `attribute` by API key, provider and model.
    pub untagged_by: Vec<SpendView>,
}

impl CoverageView {
    /// `weeks` is the weekly total; `weekly_untagged` the weekly untagged spend per attribute.
    pub fn build(
        range: DateRange,
        attribute: Dim,
        by_source: Vec<CoverageRow>,
        weeks: &SpendView,
        weekly_untagged: &[SpendView],
        untagged_by: Vec<SpendView>,
    ) -> CoverageView {
        let all = CoverageRow {
            source: SpendSource::Tokens,
            total: by_source.iter().map(|r| r.total).sum(),
            untagged: (0..ATTRIBUTES.len()).map(|i| by_source.iter().map(|r| r.untagged[i]).sum()).collect(),
        };
        let series_total = |v: &SpendView, i: usize| -> Nanos {
            Nanos(v.series.iter().map(|s| s.values[i].cost_nanos).sum())
        };
        let g = weeks.query.granularity;
        let weeks_out = weeks
            .buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let total = series_total(weeks, i);
                CoverageWeek {
                    week: g.label_of(*b),
                    coverage: ATTRIBUTES
                        .iter()
                        .zip(weekly_untagged)
                        .map(|(d, u)| Coverage { dim: d.clone(), tagged: total - series_total(u, i), total })
                        .collect(),
                }
            })
            .collect();
        CoverageView { range, attribute, by_source, all, weeks: weeks_out, untagged_by }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_is_the_tagged_share_per_attribute_and_sums_over_sources() {
        let rows = vec![
            CoverageRow {
                source: SpendSource::Tokens,
                total: Nanos(100),
                untagged: vec![Nanos(4), Nanos(10), Nanos(100)],
            },
            CoverageRow {
                source: SpendSource::Gpu,
                total: Nanos(300),
                untagged: vec![Nanos(0), Nanos(300), Nanos(300)],
            },
        ];
        let c = rows[0].coverage();
        assert_eq!(c[0].pct(), Some(96.0));
        assert_eq!(c[2].pct(), Some(0.0));
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let q = crate::domain::explore::SpendQuery::total(DateRange::last_days(today, 7), None);
        let empty = SpendView::build(q, &[], true);
        let v = CoverageView::build(
            empty.query.range,
            Dim::Team,
            rows,
            &empty,
            &[empty.clone(), empty.clone(), empty.clone()],
            vec![],
        );
        assert_eq!(v.all.total, Nanos(400));
        assert_eq!(v.all.untagged, vec![Nanos(4), Nanos(310), Nanos(400)]);
        assert_eq!(v.all.coverage()[0].pct(), Some(99.0));
        assert!(v.weeks.iter().all(|w| w.coverage[0].pct().is_none()), "no spend, no percentage");
    }
}
