//! Agent and workflow traces: the events sharing a `trace_id` (an agent run, a
//! conversation), summed per trace, and the step tree of one trace (model calls, tool calls,
//! retries) with each step's cost and share of the trace.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::money::share_pct;
use super::Nanos;
use crate::error::AppError;

/// When a trace is flagged. Agents that nest deeper or retry more than this are the runaway
/// loops that burn money; the organisation sets its own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceLimits {
    pub max_depth: i64,
    pub max_retries: i64,
}

impl Default for TraceLimits {
    fn default() -> Self {
        TraceLimits { max_depth: 4, max_retries: 3 }
    }
}

impl TraceLimits {
    /// Parses the settings form; errors name the field.
    pub fn parse(max_depth: &str, max_retries: &str) -> Result<TraceLimits, AppError> {
        let n = |field: &str, v: &str| -> Result<i64, AppError> {
            v.trim().parse::<i64>().ok().filter(|n| (0..=1000).contains(n)).ok_or_else(|| {
                AppError::invalid(format!("{field}: '{v}' is not a whole number from 0 to 1000"))
            })
        };
        Ok(TraceLimits { max_depth: n("max_depth", max_depth)?, max_retries: n("max_retries", max_retries)? })
    }
}

/// Which traces the list shows: thresholds on the whole trace, and traces with at least one
/// step of a feature or model. `page` counts from 1.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceFilter {
    pub min_cost: Nanos,
    pub min_depth: i64,
    pub min_retries: i64,
    pub feature: String,
    pub model: String,
    pub page: i64,
}

/// Traces per page of the list.
pub const TRACES_PER_PAGE: i64 = 50;

impl TraceFilter {
    /// From the page's query values (empty = no condition); errors name the field.
    pub fn parse(
        min_cost: &str,
        min_depth: &str,
        min_retries: &str,
        feature: &str,
        model: &str,
        page: &str,
    ) -> Result<TraceFilter, AppError> {
        let count = |field: &str, v: &str, min: i64| -> Result<i64, AppError> {
            match v.trim() {
                "" => Ok(if field == "page" { 1 } else { 0 }),
                t => t.parse::<i64>().ok().filter(|n| (min..=1_000_000).contains(n)).ok_or_else(|| {
                    AppError::invalid(format!("{field}: '{v}' is not a whole number from {min} to 1000000"))
                }),
            }
        };
        let min_cost = match min_cost.trim() {
            "" => Nanos::ZERO,
            t => Nanos::parse_usd(t).ok().filter(|n| n.0 >= 0).ok_or_else(|| {
                AppError::invalid(format!("min_cost: '{t}' is not an amount of US dollars"))
            })?,
        };
        Ok(TraceFilter {
            min_cost,
            min_depth: count("min_depth", min_depth, 0)?,
            min_retries: count("min_retries", min_retries, 0)?,
            feature: feature.trim().to_string(),
            model: model.trim().to_string(),
            page: count("page", page, 1)?,
        })
    }

    /// Rows to skip for this page.
    pub fn offset(&self) -> i64 {
        (self.page.max(1) - 1) * TRACES_PER_PAGE
    }

    /// The list's query string for `page` (the other values kept).
    pub fn query_for(&self, range: &super::DateRange, page: i64) -> String {
        let mut q = format!("from={}&to={}", range.from, range.to);
        let enc = super::text::encode_query_value;
        if self.min_cost.0 > 0 {
            q.push_str(&format!("&min_cost={}", self.min_cost.decimal(6)));
        }
        for (k, v) in [("min_depth", self.min_depth), ("min_retries", self.min_retries)] {
            if v > 0 {
                q.push_str(&format!("&{k}={v}"));
            }
        }
        for (k, v) in [("feature", &self.feature), ("model", &self.model)] {
            if !v.is_empty() {
                q.push_str(&format!("&{k}={}", enc(v)));
            }
        }
        if page > 1 {
            q.push_str(&format!("&page={page}"));
        }
        q
    }
}

/// One trace, summed over its steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceSummary {
    pub trace_id: String,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub steps: i64,
    /// Deepest nesting (0 = the top-level call).
    pub depth: i64,
    /// Steps that were retries of an earlier call.
    pub retries: i64,
    pub tool_calls: i64,
    pub cost: Nanos,
    pub tokens: i64,
    pub team: Option<String>,
    pub feature: Option<String>,
}

impl TraceSummary {
    /// First step's start to last step's start, in seconds.
    pub fn duration_s(&self) -> i64 {
        (self.last_at - self.first_at).num_seconds()
    }

    /// Why the trace is flagged under `limits` (empty when it is not).
    pub fn flags(&self, limits: &TraceLimits) -> Vec<String> {
        let mut out = Vec::new();
        if self.depth > limits.max_depth {
            out.push(format!("depth {} > {}", self.depth, limits.max_depth));
        }
        if self.retries > limits.max_retries {
            out.push(format!("{} retries > {}", self.retries, limits.max_retries));
        }
        out
    }
}

/// One step (one event) of a trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceStep {
    pub event_id: String,
    pub span_id: Option<String>,
    pub parent_span_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub operation: String,
    pub model: String,
    pub tool_name: Option<String>,
    pub depth: Option<i64>,
    pub retry: Option<i64>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost: Nanos,
    pub latency_ms: Option<i64>,
    pub status: String,
}

impl TraceStep {
    pub fn is_tool_call(&self) -> bool {
        self.tool_name.is_some() || self.operation == "execute_tool"
    }

    pub fn is_retry(&self) -> bool {
        self.retry.unwrap_or(0) > 0
    }
}

/// A step placed in the tree: its nesting level, its own cost's share of the trace, and the
/// cost of its whole subtree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeNode {
    pub step: TraceStep,
    pub level: usize,
    /// The level it is drawn at: a retry of its parent stays at its parent's level, so a chain
    /// of 40 retries reads as one flat, collapsible run instead of a staircase 40 deep.
    pub shown_level: usize,
    /// Position of its parent in the list (parents always come first).
    pub parent: Option<usize>,
    pub subtree_cost: Nanos,
    /// Own costs of this row and every row above it.
    pub cumulative: Nanos,
    /// Own cost ÷ trace cost, percent with one decimal (display).
    pub share_pct: String,
    /// Start after the trace's first step, milliseconds (the waterfall's time axis).
    pub offset_ms: i64,
}

/// The steps in tree order (depth-first, children by time). A step whose parent is not in the
/// trace is a root; parent links that loop back are cut, so every step appears exactly once.
pub fn tree(mut steps: Vec<TraceStep>) -> Vec<TreeNode> {
    steps.sort_by(|a, b| a.occurred_at.cmp(&b.occurred_at).then_with(|| a.event_id.cmp(&b.event_id)));
    let total: i64 = steps.iter().map(|s| s.cost.0).sum();
    let index_of = |span: &Option<String>| -> Option<usize> {
        let span = span.as_ref()?;
        steps.iter().position(|s| s.span_id.as_ref() == Some(span))
    };
    // links are kept one by one unless they would close a loop with the ones already kept
    let mut kept: Vec<Option<usize>> = vec![None; steps.len()];
    for (i, s) in steps.iter().enumerate() {
        let p = index_of(&s.parent_span_id).filter(|p| !reaches(&kept, *p, i));
        kept[i] = p;
    }
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    let mut roots = Vec::new();
    for (i, p) in kept.iter().enumerate() {
        match p {
            Some(p) => children[*p].push(i),
            None => roots.push(i),
        }
    }
    let mut subtree = vec![0i64; steps.len()];
    fn sum(i: usize, steps: &[TraceStep], children: &[Vec<usize>], out: &mut [i64]) -> i64 {
        let s = steps[i].cost.0 + children[i].iter().map(|c| sum(*c, steps, children, out)).sum::<i64>();
        out[i] = s;
        s
    }
    for r in &roots {
        sum(*r, &steps, &children, &mut subtree);
    }
    let start = steps.first().map(|s| s.occurred_at);
    let mut out: Vec<TreeNode> = Vec::with_capacity(steps.len());
    let mut running = 0i64;
    // (step, level, position of the parent in `out`)
    let mut stack: Vec<(usize, usize, Option<usize>)> = roots.iter().rev().map(|r| (*r, 0, None)).collect();
    while let Some((i, level, parent)) = stack.pop() {
        running += steps[i].cost.0;
        let shown_level = match parent {
            Some(p) if steps[i].is_retry() && !out[p].step.is_tool_call() => out[p].shown_level,
            Some(p) => out[p].shown_level + 1,
            None => 0,
        };
        let at = out.len();
        out.push(TreeNode {
            step: steps[i].clone(),
            level,
            shown_level,
            parent,
            subtree_cost: Nanos(subtree[i]),
            cumulative: Nanos(running),
            share_pct: share_pct(steps[i].cost.0, total),
            offset_ms: start.map(|t0| (steps[i].occurred_at - t0).num_milliseconds()).unwrap_or(0),
        });
        stack.extend(children[i].iter().rev().map(|c| (*c, level + 1, Some(at))));
    }
    out
}

/// The waterfall's time axis: the first start to the last end (start + latency), at least 1 ms.
pub fn span_ms(nodes: &[TreeNode]) -> i64 {
    nodes.iter().map(|n| n.offset_ms + n.step.latency_ms.unwrap_or(0).max(0)).max().unwrap_or(0).max(1)
}

/// Whether following kept parents from `from` reaches `target` (the link would close a loop).
fn reaches(parents: &[Option<usize>], from: usize, target: usize) -> bool {
    let mut at = Some(from);
    for _ in 0..parents.len() {
        match at {
            Some(i) if i == target => return true,
            Some(i) => at = parents[i],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_list_filter_parses_its_fields_and_pages() {
        let f = TraceFilter::parse("0.5", "3", "", " summarize ", "", "2").unwrap();
        assert_eq!((f.min_cost, f.min_depth, f.min_retries, f.page), (Nanos(500_000_000), 3, 0, 2));
        assert_eq!(f.feature, "summarize");
        assert_eq!(f.offset(), TRACES_PER_PAGE);
        let range = crate::domain::DateRange {
            from: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            to: chrono::NaiveDate::from_ymd_opt(2026, 11, 7).unwrap(),
        };
        assert_eq!(
            f.query_for(&range, 3),
            "from=2026-11-01&to=2026-11-07&min_cost=0.500000&min_depth=3&feature=summarize&page=3"
        );
        assert_eq!(TraceFilter::parse("", "", "", "", "", "").unwrap().page, 1);
        let e = |r: Result<TraceFilter, AppError>| r.unwrap_err().to_string();
        assert!(e(TraceFilter::parse("", "deep", "", "", "", "")).starts_with("min_depth: 'deep'"));
        assert!(e(TraceFilter::parse("lots", "", "", "", "", "")).starts_with("min_cost: 'lots'"));
        assert!(e(TraceFilter::parse("", "", "", "", "", "0")).starts_with("page: '0'"));
    }

    fn step(id: &str, span: &str, parent: Option<&str>, sec: u32, cost: i64) -> TraceStep {
        TraceStep {
            event_id: id.into(),
            span_id: Some(span.into()),
            parent_span_id: parent.map(str::to_string),
            occurred_at: Utc.with_ymd_and_hms(2026, 11, 1, 10, 0, sec).unwrap(),
            operation: "chat".into(),
            model: "m".into(),
            tool_name: None,
            depth: None,
            retry: None,
            input_tokens: 0,
            output_tokens: 0,
            cost: Nanos(cost),
            latency_ms: None,
            status: "ok".into(),
        }
    }

    #[test]
    fn steps_form_a_tree_with_subtree_costs_summing_to_the_trace() {
        let steps = vec![
            step("e3", "c", Some("b"), 3, 5),
            step("e1", "a", None, 1, 10),
            step("e2", "b", Some("a"), 2, 20),
            step("e4", "d", Some("a"), 4, 65),
            step("e5", "x", Some("nowhere"), 0, 0),
        ];
        let t = tree(steps);
        let order: Vec<(&str, usize)> = t.iter().map(|n| (n.step.event_id.as_str(), n.level)).collect();
        assert_eq!(order, [("e5", 0), ("e1", 0), ("e2", 1), ("e3", 2), ("e4", 1)]);
        assert_eq!(t[1].subtree_cost, Nanos(100));
        assert_eq!(t[2].subtree_cost, Nanos(25));
        assert_eq!(t[4].share_pct, "65.0");
        let roots: i64 = t.iter().filter(|n| n.level == 0).map(|n| n.subtree_cost.0).sum();
        assert_eq!(roots, 100, "the roots' subtrees hold every nano of the trace");
        // parents come first; the running total ends at the trace's total
        let parents: Vec<Option<usize>> = t.iter().map(|n| n.parent).collect();
        assert_eq!(parents, [None, None, Some(1), Some(2), Some(1)]);
        let running: Vec<i64> = t.iter().map(|n| n.cumulative.0).collect();
        assert_eq!(running, [0, 10, 30, 35, 100]);
        assert_eq!(t.iter().map(|n| n.offset_ms).collect::<Vec<_>>(), [0, 1_000, 2_000, 3_000, 4_000]);
        assert_eq!(span_ms(&t), 4_000);
    }

    #[test]
    fn a_retry_chain_is_drawn_flat_at_its_head_level_in_time_order() {
        let mut steps: Vec<TraceStep> = (0..40u32)
            .map(|k| {
                let parent = (k > 0).then(|| format!("s{}", k - 1));
                let mut s = step(&format!("e{k:02}"), &format!("s{k}"), parent.as_deref(), k, 1);
                s.retry = Some(i64::from(k > 0));
                s.depth = Some(k as i64);
                s.latency_ms = Some(800);
                s
            })
            .collect();
        steps.reverse();
        let t = tree(steps);
        assert_eq!(t.len(), 40);
        assert!(
            t.iter().enumerate().all(|(i, n)| n.level == i && n.shown_level == 0),
            "nested 39 deep, drawn flat"
        );
        assert!(t.windows(2).all(|w| w[0].step.occurred_at <= w[1].step.occurred_at), "time order");
        assert!(
            t.iter().enumerate().skip(1).all(|(i, n)| n.parent == Some(i - 1)),
            "each under the one before"
        );
        assert_eq!(span_ms(&t), 39_800);
    }

    #[test]
    fn looping_parent_links_still_show_every_step_once() {
        let t = tree(vec![step("e1", "a", Some("b"), 1, 1), step("e2", "b", Some("a"), 2, 2)]);
        assert_eq!(t.len(), 2);
        assert_eq!(t.iter().map(|n| n.subtree_cost.0).max(), Some(3));
    }

    #[test]
    fn limits_flag_deep_or_retrying_traces_strictly_above_the_limit() {
        let at = Utc.with_ymd_and_hms(2026, 11, 1, 10, 0, 0).unwrap();
        let mut s = TraceSummary {
            trace_id: "t".into(),
            first_at: at,
            last_at: at + chrono::Duration::seconds(90),
            steps: 9,
            depth: 4,
            retries: 3,
            tool_calls: 2,
            cost: Nanos(1),
            tokens: 10,
            team: None,
            feature: None,
        };
        let limits = TraceLimits::default();
        assert!(s.flags(&limits).is_empty(), "at the limit is fine");
        s.depth = 5;
        s.retries = 4;
        assert_eq!(s.flags(&limits), ["depth 5 > 4", "4 retries > 3"]);
        assert_eq!(s.duration_s(), 90);
        assert_eq!(TraceLimits::parse("6", "0").unwrap(), TraceLimits { max_depth: 6, max_retries: 0 });
        assert!(TraceLimits::parse("x", "1").unwrap_err().to_string().starts_with("max_depth:"));
        assert!(TraceLimits::parse("1", "-1").unwrap_err().to_string().starts_with("max_retries:"));
    }
}
