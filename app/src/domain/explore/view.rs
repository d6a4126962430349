//! The view built from summed rows: table, chart series, totals and CSV.
use super::*;

/// Sums of one group in one bucket, as a query returns them (buckets at hour or day grain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendRow {
    pub bucket: i64,
    /// The stored value ('' when not set).
    pub group: String,
    pub sums: Sums,
}

/// One group's line of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupTotal {
    /// Shown value ([`NOT_SET`] when missing).
    pub group: String,
    pub sums: Sums,
}

/// One drawn series: a group (or "Other") and its metric per bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    pub values: Vec<Sums>,
}

/// What the explorer shows for a query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendView {
    pub query: SpendQuery,
    pub buckets: Vec<i64>,
    /// Every group, in the query's sort order.
    pub table: Vec<GroupTotal>,
    pub total: Sums,
    /// The top [`CHART_SERIES`] groups by the metric and "Other".
    pub series: Vec<Series>,
    /// Whether rollups answered (else the raw events and lines were summed).
    pub from_rollups: bool,
}

impl SpendView {
    pub fn build(query: SpendQuery, rows: &[SpendRow], from_rollups: bool) -> SpendView {
        let buckets = query.granularity.buckets(query.range);
        let index: BTreeMap<i64, usize> = buckets.iter().enumerate().map(|(i, b)| (*b, i)).collect();
        let mut groups: BTreeMap<String, Vec<Sums>> = BTreeMap::new();
        for r in rows {
            let b = query.granularity.bucket(r.bucket);
            let Some(&i) = index.get(&b) else { continue };
            let cells = groups.entry(shown(&r.group)).or_insert_with(|| vec![Sums::default(); buckets.len()]);
            cells[i].add(&r.sums);
        }
        let mut total = Sums::default();
        let mut table: Vec<GroupTotal> = groups
            .iter()
            .map(|(g, cells)| {
                let mut s = Sums::default();
                cells.iter().for_each(|c| s.add(c));
                total.add(&s);
                GroupTotal { group: g.clone(), sums: s }
            })
            .collect();
        sort_table(&mut table, query.sort, query.descending);
        let mut by_metric = table.clone();
        sort_table(&mut by_metric, SortKey::Metric(query.metric), true);
        let mut series: Vec<Series> = by_metric
            .iter()
            .take(CHART_SERIES)
            .map(|g| Series { name: g.group.clone(), values: groups[&g.group].clone() })
            .collect();
        if by_metric.len() > CHART_SERIES {
            let mut other = vec![Sums::default(); buckets.len()];
            for g in &by_metric[CHART_SERIES..] {
                for (o, c) in other.iter_mut().zip(&groups[&g.group]) {
                    o.add(c);
                }
            }
            series.push(Series {
                name: format!("Other ({} groups)", by_metric.len() - CHART_SERIES),
                values: other,
            });
        }
        SpendView { query, buckets, table, total, series, from_rollups }
    }

    /// The table as CSV, exactly as shown: one line per group in table order, then the total.
    pub fn table_csv(&self) -> String {
        let group = self.query.group.as_ref().map(Dim::key).unwrap_or_else(|| "total".into());
        let mut out = csv_line(
            std::iter::once(group)
                .chain(["cost_nanos".into(), "share_pct".into()])
                .chain(TABLE_METRICS.iter().map(|m| m.column().to_string())),
        );
        let total_cost = self.total.cost_nanos;
        let line = |name: &str, s: &Sums| {
            csv_line(
                [name.to_string(), s.cost_nanos.to_string(), share_pct(s.cost_nanos, total_cost)]
                    .into_iter()
                    .chain(TABLE_METRICS.iter().map(|m| m.of(s).plain(*m))),
            )
        };
        for g in &self.table {
            out.push_str(&line(&g.group, &g.sums));
        }
        out.push_str(&line("Total", &self.total));
        out
    }

    /// The series as CSV, one line per bucket and group (long format, for BI tools).
    pub fn series_csv(&self) -> String {
        let m = self.query.metric;
        let mut out =
            csv_line(["bucket".to_string(), "group".into(), m.column().into(), "cost_nanos".into()]);
        for s in &self.series {
            for (b, v) in self.buckets.iter().zip(&s.values) {
                out.push_str(&csv_line([
                    self.query.granularity.label_of(*b),
                    s.name.clone(),
                    m.of(v).plain(m),
                    v.cost_nanos.to_string(),
                ]));
            }
        }
        out
    }
}

/// The dimensions a detail page exists for.
pub const SCOPE_DIMS: [Dim; 5] = [Dim::Team, Dim::Initiative, Dim::Feature, Dim::Model, Dim::Customer];

/// What a detail page shows; every view is an explorer view (and links to it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeView {
    pub dim: Dim,
    pub value: String,
    pub trend: SpendView,
    pub breakdowns: Vec<SpendView>,
    pub traces: Vec<crate::domain::traces::TraceSummary>,
}

fn csv_line(fields: impl IntoIterator<Item = String>) -> String {
    let cells: Vec<String> = fields.into_iter().collect();
    csv_row(&cells.iter().map(String::as_str).collect::<Vec<_>>())
}

fn sort_table(t: &mut [GroupTotal], key: SortKey, descending: bool) {
    t.sort_by(|a, b| {
        let o = match key {
            SortKey::Group => a.group.cmp(&b.group),
            SortKey::Metric(m) => figure_key(m.of(&a.sums)).cmp(&figure_key(m.of(&b.sums))),
        };
        let o = if descending { o.reverse() } else { o };
        // ties in name order, so equal rows never swap between runs
        o.then_with(|| a.group.cmp(&b.group))
    });
}

fn figure_key(f: Figure) -> i64 {
    match f {
        Figure::Money(n) => n.0,
        Figure::Count(c) => c,
        Figure::None => i64::MIN,
    }
}
