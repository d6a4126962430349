//! A deterministic demo organisation: 5 teams, 10 features, 4 initiatives, 6 models from
//! 3 providers, usage with growth, weekly and daily seasonality and one injected cost spike.
//!
//! Per-request token counts are drawn from a real trace: a 1-in-10 sample of the Azure LLM
//! inference trace 2023 (conversation), CC BY 4.0, Patel et al., "Splitwise", ISCA 2024 (see
//! `azure_conv_tokens.csv`). Prices are list prices per token from LiteLLM's
//! `model_prices_and_context_window.json` (MIT), as of litellm 1.110.2.
//!
//! Same seed and end date ⇒ the same events, byte for byte, on every backend.
use chrono::{Days, NaiveDate, NaiveTime, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::domain::pricing::Tokens;
use crate::domain::usage::CostSource;
use crate::domain::{Nanos, UsageEvent};

/// Demo generation settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemoConfig {
    pub seed: u64,
    /// Last day with usage (usually today).
    pub end: NaiveDate,
    pub days: u32,
    /// Multiplies the number of requests per day (1.0 ≈ 1,200 requests on the first weekday,
    /// growing 2.5× over the period).
    pub volume: f64,
}

impl DemoConfig {
    pub fn new(seed: u64, end: NaiveDate) -> Self {
        DemoConfig { seed, end, days: 120, volume: 1.0 }
    }
}

/// A model with its list prices in nano-USD per token.
#[derive(Debug, Clone, Copy)]
pub struct DemoModel {
    pub provider: &'static str,
    pub name: &'static str,
    pub input_nanos_per_token: i64,
    pub output_nanos_per_token: i64,
}

pub const MODELS: [DemoModel; 6] = [
    DemoModel {
        provider: "openai",
        name: "gpt-4o",
        input_nanos_per_token: 2_500,
        output_nanos_per_token: 10_000,
    },
    DemoModel {
        provider: "openai",
        name: "gpt-4o-mini",
        input_nanos_per_token: 150,
        output_nanos_per_token: 600,
    },
    DemoModel {
        provider: "anthropic",
        name: "claude-sonnet-4-5",
        input_nanos_per_token: 3_000,
        output_nanos_per_token: 15_000,
    },
    DemoModel {
        provider: "anthropic",
        name: "claude-haiku-4-5",
        input_nanos_per_token: 1_000,
        output_nanos_per_token: 5_000,
    },
    DemoModel {
        provider: "gemini",
        name: "gemini-2.5-pro",
        input_nanos_per_token: 1_250,
        output_nanos_per_token: 10_000,
    },
    DemoModel {
        provider: "gemini",
        name: "gemini-2.5-flash",
        input_nanos_per_token: 300,
        output_nanos_per_token: 2_500,
    },
];
const GPT_4O: usize = 0;
const GPT_4O_MINI: usize = 1;
const SONNET: usize = 2;
const HAIKU: usize = 3;
const GEMINI_PRO: usize = 4;
const GEMINI_FLASH: usize = 5;

pub const TEAMS: [&str; 5] = ["platform", "support", "search", "growth", "risk"];
pub const INITIATIVES: [&str; 4] = ["support-copilot", "smart-search", "fraud-shield", "marketing-content"];
const CUSTOMERS: [(&str, u32); 6] =
    [("acme", 30), ("globex", 22), ("initech", 16), ("umbrella", 12), ("hooli", 11), ("stark", 9)];

/// A product feature: which team owns it, which initiative it serves, its model mix and its
/// share of traffic.
#[derive(Debug, Clone, Copy)]
pub struct DemoFeature {
    pub name: &'static str,
    pub team: &'static str,
    pub initiative: Option<&'static str>,
    models: &'static [(usize, u32)],
    share: u32,
    customer_facing: bool,
    /// Day index (0 = first day) when the feature launched.
    launch_day: u32,
}

pub const FEATURES: [DemoFeature; 10] = [
    DemoFeature {
        name: "ticket-triage",
        team: "support",
        initiative: Some("support-copilot"),
        models: &[(HAIKU, 70), (SONNET, 30)],
        share: 16,
        customer_facing: true,
        launch_day: 0,
    },
    DemoFeature {
        name: "reply-drafts",
        team: "support",
        initiative: Some("support-copilot"),
        models: &[(SONNET, 60), (GPT_4O, 40)],
        share: 12,
        customer_facing: true,
        launch_day: 0,
    },
    DemoFeature {
        name: "semantic-search",
        team: "search",
        initiative: Some("smart-search"),
        models: &[(GEMINI_FLASH, 80), (GPT_4O_MINI, 20)],
        share: 18,
        customer_facing: true,
        launch_day: 0,
    },
    DemoFeature {
        name: "query-rewrite",
        team: "search",
        initiative: Some("smart-search"),
        models: &[(GPT_4O_MINI, 100)],
        share: 14,
        customer_facing: true,
        launch_day: 0,
    },
    DemoFeature {
        name: "product-descriptions",
        team: "growth",
        initiative: Some("marketing-content"),
        models: &[(GPT_4O, 50), (GEMINI_PRO, 50)],
        share: 7,
        customer_facing: false,
        launch_day: 0,
    },
    DemoFeature {
        name: "email-campaigns",
        team: "growth",
        initiative: Some("marketing-content"),
        models: &[(GPT_4O_MINI, 60), (HAIKU, 40)],
        share: 6,
        customer_facing: false,
        launch_day: 0,
    },
    DemoFeature {
        name: "fraud-screening",
        team: "risk",
        initiative: Some("fraud-shield"),
        models: &[(GEMINI_PRO, 60), (SONNET, 40)],
        share: 9,
        customer_facing: false,
        launch_day: 0,
    },
    DemoFeature {
        name: "kyc-review",
        team: "risk",
        initiative: Some("fraud-shield"),
        models: &[(GPT_4O, 100)],
        share: 5,
        customer_facing: false,
        launch_day: 60,
    },
    DemoFeature {
        name: "internal-chat",
        team: "platform",
        initiative: None,
        models: &[(GPT_4O, 50), (SONNET, 30), (GEMINI_FLASH, 20)],
        share: 8,
        customer_facing: false,
        launch_day: 0,
    },
    DemoFeature {
        name: "code-review",
        team: "platform",
        initiative: None,
        models: &[(SONNET, 100)],
        share: 5,
        customer_facing: false,
        launch_day: 0,
    },
];

/// The injected incident: a runaway agent loop in `ticket-triage` on `claude-sonnet-4-5`,
/// `SPIKE_DAYS_BEFORE_END` days before the end, 02:00–07:59 UTC, re-sending a growing context.
pub const SPIKE_DAYS_BEFORE_END: u32 = 18;
pub const SPIKE_FEATURE: &str = "ticket-triage";
const SPIKE_HOURS: std::ops::Range<u32> = 2..8;
const SPIKE_REQUESTS_PER_HOUR: u32 = 450;
const SPIKE_CONTEXT_MULTIPLIER: i64 = 4;

/// Share of requests (in percent) sent without any attribution, as in real organisations.
const UNTAGGED_PERCENT: u32 = 4;
const TEST_ENV_PERCENT: u32 = 8;
const BASE_REQUESTS_PER_DAY: f64 = 1_200.0;
const GROWTH_OVER_PERIOD: f64 = 2.5;
/// Monday first.
const WEEKDAY_FACTOR: [f64; 7] = [1.0, 1.05, 1.05, 1.0, 0.9, 0.45, 0.4];
/// Requests per UTC hour, relative.
const HOUR_WEIGHT: [u32; 24] =
    [2, 1, 1, 1, 1, 2, 3, 5, 8, 10, 11, 11, 10, 10, 11, 11, 10, 8, 6, 5, 4, 3, 3, 2];

static TRACE_CSV: &str = include_str!("../data/azure_conv_tokens.csv");

/// (context tokens, generated tokens) per request of the sampled trace.
pub fn trace_tokens() -> Vec<(i64, i64)> {
    TRACE_CSV
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (c, g) = l.split_once(',').expect("two columns");
            (c.trim().parse().expect("context tokens"), g.trim().parse().expect("generated tokens"))
        })
        .collect()
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.gen_range(0..total);
    for (item, w) in items {
        if x < *w {
            return *item;
        }
        x -= w;
    }
    unreachable!("weights sum to total")
}

/// Generates every event of the demo, ordered by time of generation (day by day).
pub fn generate(cfg: &DemoConfig) -> Vec<UsageEvent> {
    let trace = trace_tokens();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut out = Vec::new();
    for day_idx in 0..cfg.days {
        day_events(cfg, day_idx, &trace, &mut rng, &mut out);
    }
    out
}

/// The events of one day of the demo with a generator of its own, so that a large volume
/// (the bench's ten million events) is made and stored a day at a time. Same shape as
/// [`generate`], not the same draws.
pub fn generate_day(cfg: &DemoConfig, day_idx: u32, trace: &[(i64, i64)]) -> Vec<UsageEvent> {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed.wrapping_mul(1_000_003).wrapping_add(day_idx as u64));
    let mut out = Vec::new();
    day_events(cfg, day_idx, trace, &mut rng, &mut out);
    out
}

fn day_events(
    cfg: &DemoConfig,
    day_idx: u32,
    trace: &[(i64, i64)],
    rng: &mut ChaCha8Rng,
    out: &mut Vec<UsageEvent>,
) {
    let day_start = out.len();
    let start = cfg.end - Days::new(cfg.days.saturating_sub(1) as u64);
    let hours: Vec<(u32, u32)> = HOUR_WEIGHT.iter().enumerate().map(|(h, w)| (h as u32, *w)).collect();
    {
        let day = start + Days::new(day_idx as u64);
        let t = if cfg.days > 1 { day_idx as f64 / (cfg.days - 1) as f64 } else { 1.0 };
        let growth = GROWTH_OVER_PERIOD.powf(t);
        let weekday = WEEKDAY_FACTOR[chrono::Datelike::weekday(&day).num_days_from_monday() as usize];
        let noise = 0.9 + 0.2 * rng.gen::<f64>();
        let n = (BASE_REQUESTS_PER_DAY * cfg.volume * growth * weekday * noise).round() as u32;
        let live: Vec<(DemoFeature, u32)> =
            FEATURES.iter().filter(|f| f.launch_day <= day_idx).map(|f| (*f, f.share)).collect();
        let mut ids = DaySeq { seed: cfg.seed, day, day_idx, seq: 0 };
        for _ in 0..n {
            let f = pick(rng, &live);
            let m = pick(rng, f.models);
            let (ctx, gen) = trace[rng.gen_range(0..trace.len())];
            let hour = pick(rng, &hours);
            let second = rng.gen_range(0..3600);
            let untagged = rng.gen_range(0..100) < UNTAGGED_PERCENT;
            let env = if rng.gen_range(0..100) < TEST_ENV_PERCENT { "test" } else { "prod" };
            let customer = f.customer_facing.then(|| pick(rng, &CUSTOMERS));
            out.push(event(&mut ids, Call { hour, second, f: &f, m, ctx, gen, untagged, env, customer }));
        }
        let spike_start = out.len();
        if cfg.days > SPIKE_DAYS_BEFORE_END && day_idx == cfg.days - 1 - SPIKE_DAYS_BEFORE_END {
            let f = FEATURES.iter().find(|f| f.name == SPIKE_FEATURE).expect("spike feature");
            for hour in SPIKE_HOURS {
                let per_hour = (SPIKE_REQUESTS_PER_HOUR as f64 * cfg.volume).round() as u32;
                for _ in 0..per_hour {
                    let (ctx, gen) = trace[rng.gen_range(0..trace.len())];
                    let second = rng.gen_range(0..3600);
                    let customer = Some(pick(rng, &CUSTOMERS));
                    let call = Call {
                        hour,
                        second,
                        f,
                        m: SONNET,
                        ctx: ctx * SPIKE_CONTEXT_MULTIPLIER,
                        gen,
                        untagged: false,
                        env: "prod",
                        customer,
                    };
                    out.push(event(&mut ids, call));
                }
            }
        }
        link_agent_traces(out, day_start, spike_start, day_idx);
    }
}

/// Ticket triage is an agent: its calls of a day are grouped into runs (a plan call, then
/// model calls each followed by a tool call, every third one a retry), and the runaway loop's
/// calls into runs that nest ever deeper and retry every step. Tool calls are events of their
/// own with no tokens and no cost, as OpenTelemetry's `execute_tool` spans are.
fn link_agent_traces(out: &mut Vec<UsageEvent>, day_start: usize, spike_start: usize, day_idx: u32) {
    const TOOLS: [&str; 3] = ["search_knowledge_base", "lookup_order", "update_ticket"];
    let agent = |e: &UsageEvent| e.feature.as_deref() == Some(SPIKE_FEATURE);
    let mut calm: Vec<usize> = (day_start..spike_start).filter(|i| agent(&out[*i])).collect();
    calm.sort_by_key(|i| (out[*i].occurred_at, *i));
    let mut tools = Vec::new();
    let mut at = 0;
    let mut run = 0usize;
    while at < calm.len() {
        let len = (2 + run % 5).min(calm.len() - at);
        let trace = format!("agent-d{day_idx:03}-{run:05}");
        let root = format!("{trace}-0");
        for (k, &i) in calm[at..at + len].iter().enumerate() {
            let e = &mut out[i];
            e.trace_id = Some(trace.clone());
            e.span_id = Some(format!("{trace}-{k}"));
            e.parent_span_id = (k > 0).then(|| root.clone());
            e.depth = Some(i64::from(k > 0));
            e.retry = Some(i64::from(k > 0 && k % 3 == 0));
            if k > 0 && k + 1 < len {
                let mut tool = e.clone();
                tool.event_id = format!("{}-tool", e.event_id);
                tool.occurred_at = e.occurred_at + chrono::Duration::seconds(1);
                tool.operation = "execute_tool".into();
                tool.tool_name = Some(TOOLS[(run + k) % TOOLS.len()].into());
                tool.span_id = Some(format!("{trace}-{k}t"));
                tool.parent_span_id = e.span_id.clone();
                tool.depth = Some(2);
                tool.retry = Some(0);
                tool.tokens = Tokens::default();
                tool.latency_ms = Some(120);
                tool.request_count = 0;
                tool.cost = Nanos::ZERO;
                tools.push(tool);
            }
        }
        at += len;
        run += 1;
    }
    // the runaway loop: runs of 40 calls, each nested under the one before and a retry of it
    // (in time order: a retry never starts before the call it retries)
    let mut spike: Vec<usize> = (spike_start..out.len()).collect();
    spike.sort_by_key(|i| (out[*i].occurred_at, *i));
    for (n, chunk) in spike.chunks(40).enumerate() {
        let trace = format!("runaway-d{day_idx:03}-{n:03}");
        for (k, &i) in chunk.iter().enumerate() {
            let e = &mut out[i];
            e.trace_id = Some(trace.clone());
            e.span_id = Some(format!("{trace}-{k}"));
            e.parent_span_id = (k > 0).then(|| format!("{trace}-{}", k - 1));
            e.depth = Some(k as i64);
            e.retry = Some(i64::from(k > 0));
        }
    }
    out.extend(tools);
}

/// Numbers the events of one day: `demo-s{seed}-d{day}-{seq}`.
struct DaySeq {
    seed: u64,
    day: NaiveDate,
    day_idx: u32,
    seq: u32,
}

/// One generated model call: when, for which feature and model, how many tokens, and its
/// attribution.
struct Call<'a> {
    hour: u32,
    second: u32,
    f: &'a DemoFeature,
    m: usize,
    ctx: i64,
    gen: i64,
    untagged: bool,
    env: &'a str,
    customer: Option<&'a str>,
}

fn event(ids: &mut DaySeq, call: Call<'_>) -> UsageEvent {
    let Call { hour, second, f, m, ctx, gen, untagged, env, customer } = call;
    let DaySeq { seed, day, day_idx, .. } = *ids;
    let seq = &mut ids.seq;
    let model = &MODELS[m];
    let time = NaiveTime::from_num_seconds_from_midnight_opt(hour * 3600 + second, 0).expect("valid time");
    let occurred_at = Utc.from_utc_datetime(&day.and_time(time));
    *seq += 1;
    let cost = Nanos::per_token(ctx, model.input_nanos_per_token)
        + Nanos::per_token(gen, model.output_nanos_per_token);
    let tag = |v: &str| (!untagged).then(|| v.to_string());
    UsageEvent {
        event_id: format!("demo-s{seed}-d{day_idx:03}-{:06}", *seq),
        occurred_at,
        provider: model.provider.to_string(),
        model: model.name.to_string(),
        team: tag(f.team),
        feature: tag(f.name),
        initiative: if untagged { None } else { f.initiative.map(str::to_string) },
        customer: if untagged { None } else { customer.map(str::to_string) },
        environment: Some(env.to_string()),
        operation: "chat".into(),
        tokens: Tokens { input: ctx, output: gen, ..Default::default() },
        request_count: 1,
        status: "ok".into(),
        // time to first token plus generation at ~50 tokens/s and reading the prompt
        latency_ms: Some(250 + gen * 20 + ctx / 100),
        cost,
        cost_source: CostSource::Computed,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn cfg() -> DemoConfig {
        DemoConfig::new(42, NaiveDate::from_ymd_opt(2026, 11, 28).unwrap())
    }

    #[test]
    fn agent_runs_form_traces_with_free_tool_calls_and_one_runaway_loop() {
        use crate::domain::traces::{tree, TraceLimits, TraceStep};
        let events = generate(&DemoConfig { volume: 0.2, ..cfg() });
        let mut by_trace: BTreeMap<&str, Vec<&UsageEvent>> = BTreeMap::new();
        for e in &events {
            if let Some(t) = &e.trace_id {
                by_trace.entry(t.as_str()).or_default().push(e);
            }
            if e.tool_name.is_some() {
                assert_eq!(
                    (e.cost, e.request_count, e.tokens.input),
                    (Nanos::ZERO, 0, 0),
                    "tool calls are free"
                );
            }
        }
        let tagged_agent = events.iter().filter(|e| e.feature.as_deref() == Some(SPIKE_FEATURE)).count();
        let traced: usize = by_trace.values().map(Vec::len).sum();
        assert_eq!(traced, tagged_agent, "every agent call is in exactly one trace");
        let limits = TraceLimits::default();
        let runaway: Vec<&&str> = by_trace.keys().filter(|t| t.starts_with("runaway-")).collect();
        assert!(!runaway.is_empty());
        for (id, steps) in &by_trace {
            let max_depth = steps.iter().filter_map(|e| e.depth).max().unwrap_or(0);
            assert_eq!(id.starts_with("runaway-"), max_depth > limits.max_depth, "{id}");
            let as_steps: Vec<TraceStep> = steps
                .iter()
                .map(|e| TraceStep {
                    event_id: e.event_id.clone(),
                    span_id: e.span_id.clone(),
                    parent_span_id: e.parent_span_id.clone(),
                    occurred_at: e.occurred_at,
                    operation: e.operation.clone(),
                    model: e.model.clone(),
                    tool_name: e.tool_name.clone(),
                    depth: e.depth,
                    retry: e.retry,
                    input_tokens: e.tokens.input,
                    output_tokens: e.tokens.output,
                    cost: e.cost,
                    latency_ms: e.latency_ms,
                    status: e.status.clone(),
                })
                .collect();
            let nodes = tree(as_steps);
            let roots: Vec<_> = nodes.iter().filter(|n| n.level == 0).collect();
            assert_eq!(roots.len(), 1, "{id} has one root");
            assert_eq!(roots[0].subtree_cost, steps.iter().map(|e| e.cost).sum(), "{id}");
        }
    }

    #[test]
    fn trace_sample_matches_the_published_trace() {
        let t = trace_tokens();
        assert_eq!(t.len(), 1_937); // every 10th of 19,366 requests
        assert_eq!(t[0], (374, 44)); // first request of AzureLLMInferenceTrace_conv.csv
        assert!(t.iter().all(|(c, g)| *c > 0 && *g >= 0));
    }

    #[test]
    fn same_seed_same_events_other_seed_other_events() {
        let small = DemoConfig { days: 20, volume: 0.05, ..cfg() };
        assert_eq!(generate(&small), generate(&small));
        assert_ne!(generate(&small), generate(&DemoConfig { seed: 43, ..small }));
    }

    #[test]
    fn organisation_shape_and_exact_costs() {
        let events = generate(&DemoConfig { volume: 0.2, ..cfg() });
        let teams: BTreeSet<_> = events.iter().filter_map(|e| e.team.clone()).collect();
        let features: BTreeSet<_> = events.iter().filter_map(|e| e.feature.clone()).collect();
        let initiatives: BTreeSet<_> = events.iter().filter_map(|e| e.initiative.clone()).collect();
        let models: BTreeSet<_> = events.iter().map(|e| (e.provider.clone(), e.model.clone())).collect();
        let providers: BTreeSet<_> = events.iter().map(|e| e.provider.clone()).collect();
        assert_eq!((teams.len(), features.len(), initiatives.len()), (5, 10, 4));
        assert_eq!((models.len(), providers.len()), (6, 3));
        let ids: BTreeSet<_> = events.iter().map(|e| &e.event_id).collect();
        assert_eq!(ids.len(), events.len(), "event ids are unique");
        let days: BTreeSet<_> = events.iter().map(|e| e.day()).collect();
        assert_eq!(days.len(), 120);
        assert_eq!(*days.last().unwrap(), cfg().end);
        for e in &events {
            let m = MODELS.iter().find(|m| m.name == e.model).unwrap();
            assert_eq!(
                e.cost.0,
                e.tokens.input * m.input_nanos_per_token + e.tokens.output * m.output_nanos_per_token
            );
        }
        let untagged = events.iter().filter(|e| e.team.is_none()).count() as f64 / events.len() as f64;
        assert!((0.02..0.06).contains(&untagged), "untagged share {untagged}");
    }

    #[test]
    fn growth_weekly_seasonality_and_one_spike() {
        let events = generate(&cfg());
        let mut per_day: BTreeMap<NaiveDate, (i64, i64)> = BTreeMap::new();
        for e in &events {
            let d = per_day.entry(e.day()).or_default();
            d.0 += 1;
            d.1 += e.cost.0;
        }
        let counts: Vec<i64> = per_day.values().map(|v| v.0).collect();
        let first: i64 = counts[..14].iter().sum();
        let last: i64 = counts[counts.len() - 14..].iter().sum();
        assert!(last as f64 > first as f64 * 1.8, "grows: {first} -> {last}");
        let (mut weekday, mut weekend) = (0i64, 0i64);
        for (d, (n, _)) in &per_day {
            if chrono::Datelike::weekday(d).num_days_from_monday() >= 5 {
                weekend += n
            } else {
                weekday += n
            }
        }
        assert!((weekend as f64 / 2.0) < (weekday as f64 / 5.0) * 0.6, "weekends are quieter");
        // The spike day is the costliest day relative to its neighbours by far.
        let spike_day = cfg().end - Days::new(SPIKE_DAYS_BEFORE_END as u64);
        let costs: Vec<(NaiveDate, i64)> = per_day.iter().map(|(d, v)| (*d, v.1)).collect();
        let ratio = |i: usize| costs[i].1 as f64 / ((costs[i - 7].1 + costs[i + 7].1) as f64 / 2.0);
        let idx = costs.iter().position(|(d, _)| *d == spike_day).unwrap();
        assert!(ratio(idx) > 2.0, "spike ratio {}", ratio(idx));
        let others = (7..costs.len() - 7).filter(|i| *i != idx).map(ratio).fold(0.0, f64::max);
        assert!(others < 1.6, "no other spike: {others}");
    }
}
