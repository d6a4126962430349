//! Rollups: hourly and daily sums per attribution key. Computed here from the events a write
//! actually inserted, and added to the stored sums in the same transaction, so that a rollup
//! always equals the sum of its raw events.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::usage::CostSource;
use super::UsageEvent;

/// The attribution keys rollups are kept for; `total` sums everything (its value is `''`).
pub const DIMS: [&str; 9] =
    ["total", "team", "initiative", "feature", "customer", "environment", "model", "provider", "api_key"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grain {
    Hour,
    Day,
}

impl Grain {
    pub fn as_str(self) -> &'static str {
        match self {
            Grain::Hour => "hour",
            Grain::Day => "day",
        }
    }

    pub fn seconds(self) -> i64 {
        match self {
            Grain::Hour => 3600,
            Grain::Day => 86_400,
        }
    }

    /// Unix seconds of the start of the bucket holding `t`.
    pub fn bucket(self, unix_seconds: i64) -> i64 {
        unix_seconds.div_euclid(self.seconds()) * self.seconds()
    }
}

/// The sums one rollup row holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sums {
    pub cost_nanos: i64,
    pub input_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_5m_tokens: i64,
    pub cache_write_1h_tokens: i64,
    pub output_tokens: i64,
    pub reasoning_tokens: i64,
    pub requests: i64,
    pub events: i64,
    pub unpriced_events: i64,
}

impl Sums {
    pub fn of(e: &UsageEvent) -> Sums {
        Sums {
            cost_nanos: e.cost.0,
            input_tokens: e.tokens.input,
            cache_read_tokens: e.tokens.cache_read,
            cache_write_5m_tokens: e.tokens.cache_write_5m,
            cache_write_1h_tokens: e.tokens.cache_write_1h,
            output_tokens: e.tokens.output,
            reasoning_tokens: e.tokens.reasoning,
            requests: e.request_count,
            events: 1,
            unpriced_events: i64::from(e.cost_source == CostSource::Unpriced),
        }
    }

    pub fn add(&mut self, o: &Sums) {
        self.cost_nanos += o.cost_nanos;
        self.input_tokens += o.input_tokens;
        self.cache_read_tokens += o.cache_read_tokens;
        self.cache_write_5m_tokens += o.cache_write_5m_tokens;
        self.cache_write_1h_tokens += o.cache_write_1h_tokens;
        self.output_tokens += o.output_tokens;
        self.reasoning_tokens += o.reasoning_tokens;
        self.requests += o.requests;
        self.events += o.events;
        self.unpriced_events += o.unpriced_events;
    }
}

impl Sums {
    fn negate(&self) -> Sums {
        Sums {
            cost_nanos: -self.cost_nanos,
            input_tokens: -self.input_tokens,
            cache_read_tokens: -self.cache_read_tokens,
            cache_write_5m_tokens: -self.cache_write_5m_tokens,
            cache_write_1h_tokens: -self.cache_write_1h_tokens,
            output_tokens: -self.output_tokens,
            reasoning_tokens: -self.reasoning_tokens,
            requests: -self.requests,
            events: -self.events,
            unpriced_events: -self.unpriced_events,
        }
    }
}

/// (grain, dim, bucket, value)
pub type RollupKey = (Grain, &'static str, i64, String);

fn dim_value(e: &UsageEvent, dim: &str) -> String {
    let v = match dim {
        "team" => e.team.as_deref(),
        "initiative" => e.initiative.as_deref(),
        "feature" => e.feature.as_deref(),
        "customer" => e.customer.as_deref(),
        "environment" => e.environment.as_deref(),
        "model" => Some(e.model.as_str()),
        "provider" => Some(e.provider.as_str()),
        "api_key" => e.api_key.as_deref(),
        "service_tier" => Some(e.service_tier.as_str()),
        _ => None,
    };
    v.unwrap_or("").to_string()
}

/// A daily rollup keyed by a whole attribution tuple (migration 0030): a view combining
/// dimensions reads the narrowest one holding every dimension it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cube {
    /// Without customer and API key, whose values may run to thousands.
    Narrow,
    Wide,
}

const NARROW_DIMS: [&str; 7] =
    ["team", "initiative", "feature", "environment", "model", "provider", "service_tier"];
const WIDE_DIMS: [&str; 9] = [
    "team",
    "initiative",
    "feature",
    "environment",
    "model",
    "provider",
    "service_tier",
    "customer",
    "api_key",
];

impl Cube {
    pub const ALL: [Cube; 2] = [Cube::Narrow, Cube::Wide];

    pub fn table(self) -> &'static str {
        match self {
            Cube::Narrow => "usage_cube",
            Cube::Wide => "usage_cube_wide",
        }
    }

    /// Its key columns after `org_id` and `bucket`, in key order.
    pub fn dims(self) -> &'static [&'static str] {
        match self {
            Cube::Narrow => &NARROW_DIMS,
            Cube::Wide => &WIDE_DIMS,
        }
    }

    /// The narrowest cube holding every one of these dimensions; `None` when one is in neither.
    pub fn covering<'a>(dims: impl IntoIterator<Item = &'a str>) -> Option<Cube> {
        let mut out = Cube::Narrow;
        for d in dims {
            if !WIDE_DIMS.contains(&d) {
                return None;
            }
            if !NARROW_DIMS.contains(&d) {
                out = Cube::Wide;
            }
        }
        Some(out)
    }
}

/// (cube, day bucket, the values of [`Cube::dims`] in order)
pub type CubeKey = (Cube, i64, Vec<String>);

/// The dimensions trace rollups are kept for; '' sums the whole trace.
pub const TRACE_DIMS: [&str; 6] = ["", "team", "feature", "initiative", "customer", "model"];

/// (trace id, dimension of [`TRACE_DIMS`], value)
pub type TraceKey = (String, &'static str, String);

/// What one row of a trace's list shows, summed over its steps (or over the steps of one
/// attribution value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceSums {
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub steps: i64,
    pub depth: i64,
    pub retries: i64,
    pub tool_calls: i64,
    pub cost_nanos: i64,
    pub tokens: i64,
    /// The smallest team and feature among the steps (as SQL's `min`).
    pub team: Option<String>,
    pub feature: Option<String>,
}

impl TraceSums {
    fn of(e: &UsageEvent, cost_nanos: i64) -> TraceSums {
        TraceSums {
            first_at: e.occurred_at,
            last_at: e.occurred_at,
            steps: 1,
            depth: e.depth.unwrap_or(0),
            retries: i64::from(e.retry.unwrap_or(0) > 0),
            tool_calls: i64::from(e.tool_name.is_some() || e.operation == "execute_tool"),
            cost_nanos,
            tokens: e.tokens.input + e.tokens.output,
            team: e.team.clone(),
            feature: e.feature.clone(),
        }
    }

    fn merge(&mut self, o: TraceSums) {
        let least = |a: &mut Option<String>, b: Option<String>| {
            if let Some(b) = b {
                if a.as_ref().is_none_or(|x| b < *x) {
                    *a = Some(b);
                }
            }
        };
        self.first_at = self.first_at.min(o.first_at);
        self.last_at = self.last_at.max(o.last_at);
        self.steps += o.steps;
        self.depth = self.depth.max(o.depth);
        self.retries += o.retries;
        self.tool_calls += o.tool_calls;
        self.cost_nanos += o.cost_nanos;
        self.tokens += o.tokens;
        least(&mut self.team, o.team);
        least(&mut self.feature, o.feature);
    }

    /// Unix seconds of the UTC day the first step happened on.
    pub fn first_day(&self) -> i64 {
        Grain::Day.bucket(self.first_at.timestamp())
    }
}

/// Everything a write adds to the stored sums: the per-dimension rollups, the cubes and the
/// trace rollups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Increments {
    pub rollups: BTreeMap<RollupKey, Sums>,
    pub cubes: BTreeMap<CubeKey, Sums>,
    pub traces: BTreeMap<TraceKey, TraceSums>,
}

impl Increments {
    fn add(&mut self, e: &UsageEvent, s: &Sums) {
        let t = e.occurred_at.timestamp();
        for grain in [Grain::Hour, Grain::Day] {
            for dim in DIMS {
                self.rollups.entry((grain, dim, grain.bucket(t), dim_value(e, dim))).or_default().add(s);
            }
        }
        let day = Grain::Day.bucket(t);
        for cube in Cube::ALL {
            let values = cube.dims().iter().map(|d| dim_value(e, d)).collect();
            self.cubes.entry((cube, day, values)).or_default().add(s);
        }
        if let Some(trace) = &e.trace_id {
            for dim in TRACE_DIMS {
                let sums = TraceSums::of(e, s.cost_nanos);
                match self.traces.entry((trace.clone(), dim, dim_value(e, dim))) {
                    std::collections::btree_map::Entry::Vacant(v) => {
                        v.insert(sums);
                    }
                    std::collections::btree_map::Entry::Occupied(mut o) => o.get_mut().merge(sums),
                }
            }
        }
    }
}

/// The rollup increments for these events, in key order (a stable order keeps concurrent
/// writers' row locks in the same order on PostgreSQL).
pub fn increments<'a>(events: impl IntoIterator<Item = &'a UsageEvent>) -> Increments {
    let mut out = Increments::default();
    for e in events {
        out.add(e, &Sums::of(e));
    }
    out
}

/// What the rollups must change by when `before` events are replaced by `after` (a re-price):
/// the increments of `after` minus those of `before`, without the keys that net to zero.
pub fn deltas<'a>(
    before: impl IntoIterator<Item = &'a UsageEvent>,
    after: impl IntoIterator<Item = &'a UsageEvent>,
) -> Increments {
    let mut out = increments(after);
    for e in before {
        out.add(e, &Sums::of(e).negate());
    }
    out.rollups.retain(|_, s| *s != Sums::default());
    out.cubes.retain(|_, s| *s != Sums::default());
    // a re-price moves only a trace's cost: the same steps were added twice above, once
    // negated, so every count is cleared and the times are the steps' own
    out.traces.retain(|_, t| t.cost_nanos != 0);
    for t in out.traces.values_mut() {
        (t.steps, t.retries, t.tool_calls, t.tokens) = (0, 0, 0, 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pricing::Tokens;
    use crate::domain::Nanos;
    use chrono::{TimeZone, Utc};

    fn ev(id: &str, h: u32, m: u32, team: Option<&str>, cost: i64) -> UsageEvent {
        UsageEvent {
            event_id: id.into(),
            occurred_at: Utc.with_ymd_and_hms(2026, 11, 20, h, m, 59).unwrap(),
            provider: "openai".into(),
            model: "gpt-4o".into(),
            team: team.map(Into::into),
            tokens: Tokens { input: 100, cache_read: 40, output: 10, ..Default::default() },
            request_count: 1,
            cost: Nanos(cost),
            ..Default::default()
        }
    }

    #[test]
    fn a_reprice_moves_only_the_cost_and_the_unpriced_count() {
        let before = [ev("a", 9, 0, Some("search"), 0)];
        let mut after = before.clone();
        after[0].cost = Nanos(40);
        let mut flagged = before.clone();
        flagged[0].cost_source = CostSource::Unpriced;
        let d = deltas(&flagged, &after);
        assert_eq!(d.rollups.len(), 2 * DIMS.len(), "one row per grain and dimension");
        assert_eq!(d.cubes.len(), Cube::ALL.len(), "one row per cube");
        let moved = Sums { cost_nanos: 40, unpriced_events: -1, ..Default::default() };
        assert!(d.rollups.values().chain(d.cubes.values()).all(|s| *s == moved));
        assert_eq!(deltas(&before, &before), Increments::default());
    }

    #[test]
    fn buckets_start_at_the_hour_and_the_utc_day() {
        let t = Utc.with_ymd_and_hms(2026, 11, 20, 14, 59, 59).unwrap().timestamp();
        assert_eq!(Grain::Hour.bucket(t), Utc.with_ymd_and_hms(2026, 11, 20, 14, 0, 0).unwrap().timestamp());
        assert_eq!(Grain::Day.bucket(t), Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap().timestamp());
    }

    #[test]
    fn every_dimension_sums_to_the_total() {
        let events =
            [ev("a", 9, 0, Some("search"), 5), ev("b", 9, 30, None, 7), ev("c", 10, 0, Some("search"), 11)];
        let inc = increments(&events).rollups;
        let day = Grain::Day.bucket(events[0].occurred_at.timestamp());
        let get = |g, d: &'static str, b, v: &str| inc[&(g, d, b, v.to_string())];
        assert_eq!(get(Grain::Day, "total", day, "").cost_nanos, 23);
        assert_eq!(get(Grain::Day, "team", day, "search").cost_nanos, 16);
        assert_eq!(get(Grain::Day, "team", day, "").cost_nanos, 7, "unattributed spend is kept, under ''");
        assert_eq!(get(Grain::Day, "total", day, "").cache_read_tokens, 120);
        let nine = Grain::Hour.bucket(events[0].occurred_at.timestamp());
        assert_eq!(get(Grain::Hour, "total", nine, "").events, 2);
        for grain in [Grain::Hour, Grain::Day] {
            for dim in DIMS {
                let sum: i64 =
                    inc.iter().filter(|(k, _)| k.0 == grain && k.1 == dim).map(|(_, s)| s.cost_nanos).sum();
                assert_eq!(sum, 23, "{grain:?} {dim}");
            }
        }
    }

    #[test]
    fn cubes_sum_each_tuple_and_the_narrow_one_folds_customers() {
        let mut events =
            [ev("a", 9, 0, Some("search"), 5), ev("b", 9, 30, Some("search"), 7), ev("c", 10, 0, None, 11)];
        events[0].customer = Some("acme".into());
        events[1].customer = Some("globex".into());
        let cubes = increments(&events).cubes;
        let day = Grain::Day.bucket(events[0].occurred_at.timestamp());
        let narrow: Vec<_> = cubes.iter().filter(|(k, _)| k.0 == Cube::Narrow).collect();
        let wide: Vec<_> = cubes.iter().filter(|(k, _)| k.0 == Cube::Wide).collect();
        assert_eq!(narrow.len(), 2, "search and no team; the two customers share a row");
        assert_eq!(wide.len(), 3, "the wide cube keeps each customer");
        let search: Vec<String> =
            ["search", "", "", "", "gpt-4o", "openai", "standard"].map(String::from).to_vec();
        assert_eq!(cubes[&(Cube::Narrow, day, search)].cost_nanos, 12);
        for c in Cube::ALL {
            let sum: i64 = cubes.iter().filter(|(k, _)| k.0 == c).map(|(_, s)| s.cost_nanos).sum();
            assert_eq!(sum, 23, "{c:?} holds every nano");
            assert!(cubes.keys().filter(|k| k.0 == c).all(|k| k.2.len() == c.dims().len()));
        }
    }

    #[test]
    fn the_narrowest_covering_cube_is_chosen() {
        assert_eq!(Cube::covering(["team", "model"]), Some(Cube::Narrow));
        assert_eq!(Cube::covering(["team", "service_tier"]), Some(Cube::Narrow));
        assert_eq!(Cube::covering(["feature", "customer"]), Some(Cube::Wide));
        assert_eq!(Cube::covering(["api_key"]), Some(Cube::Wide));
        assert_eq!(Cube::covering(["team", "tag"]), None);
        assert_eq!(Cube::covering([]), Some(Cube::Narrow));
    }
}
