//! The explorer, traces, coverage and KPIs against sums of the raw events.
use super::*;

// ---------------------------------------------------------------- spend explorer

/// Events spread over ten days, every attribute sometimes missing, two tags, two tiers.
pub(crate) fn explorer_events() -> Vec<UsageEvent> {
    use app::domain::pricing::{ServiceTier, Tokens};
    let pick = |i: usize, xs: &[Option<&str>]| xs[i % xs.len()].map(str::to_string);
    (0..240)
        .map(|i| {
            let at = Utc.with_ymd_and_hms(2026, 11, 1 + (i % 10) as u32, (i * 7 % 24) as u32, 0, 0).unwrap();
            let mut tags = Vec::new();
            if i % 3 != 0 {
                tags.push(("project".to_string(), format!("p{}", i % 2)));
            }
            UsageEvent {
                event_id: format!("x{i}"),
                occurred_at: at,
                provider: if i % 5 == 0 { "anthropic".into() } else { "openai".into() },
                model: ["gpt-4o", "gpt-4o-mini", "claude-sonnet"][i % 3].into(),
                team: pick(i, &[Some("search"), Some("support"), None, Some("search")]),
                feature: pick(i / 2, &[Some("chat"), Some("summarize"), None]),
                initiative: pick(i, &[Some("bot"), None]),
                customer: pick(i / 3, &[Some("acme"), Some("globex"), Some("initech"), None]),
                environment: pick(i, &[Some("prod"), Some("staging")]),
                api_key: pick(i, &[Some("cr_live_a"), Some("cr_live_b"), None]),
                service_tier: if i % 4 == 0 { ServiceTier::Batch } else { ServiceTier::Standard },
                tags,
                tokens: Tokens {
                    input: 1_000 + i as i64,
                    output: 10 * i as i64,
                    cache_read: i as i64,
                    ..Default::default()
                },
                request_count: 1 + (i % 2) as i64,
                // odd nano amounts: any rounding anywhere shows
                cost: Nanos(1_000_000_007 * (i as i64 % 13 + 1) + i as i64),
                ..Default::default()
            }
        })
        .collect()
}

/// An attribute of an event as the explorer names it.
pub(crate) fn event_value(e: &UsageEvent, dim: &app::domain::explore::Dim) -> String {
    use app::domain::explore::{Dim, NOT_SET};
    let v = match dim {
        Dim::Team => e.team.clone(),
        Dim::Initiative => e.initiative.clone(),
        Dim::Feature => e.feature.clone(),
        Dim::Customer => e.customer.clone(),
        Dim::Environment => e.environment.clone(),
        Dim::Provider => Some(e.provider.clone()),
        Dim::Model => Some(e.model.clone()),
        Dim::ApiKey => e.api_key.clone(),
        Dim::ServiceTier => Some(e.service_tier.as_str().to_string()),
        Dim::Source => Some("tokens".into()),
        Dim::Tag(k) => e.tags.iter().find(|(t, _)| t == k).map(|(_, v)| v.clone()),
    };
    v.unwrap_or_else(|| NOT_SET.to_string())
}

pub(crate) async fn explorer_views_equal_independent_sums_of_the_raw_events(db: Db) {
    use app::domain::explore::{decode_pairs, SpendQuery};
    use app::server::db::spend::SpendPath;
    use app::server::db::Actor;
    use app::server::services::records::{parse_records, record, RecordKind};
    use app::server::services::spend;
    use std::collections::BTreeMap;
    let org = db.ensure_org("a", "A").await.unwrap();
    let events = explorer_events();
    db.insert_usage_events(org, &events).await.unwrap();
    // spend of other sources: a GPU day with a stated cost and a commitment spread over days
    let gpu = "day,cluster,pool,gpu_type,team,initiative,allocated_gpu_hours,used_gpu_hours,cost_usd\n\
        2026-11-02,c,a,A100,research,,24,6,30.000000001\n";
    let rows = parse_records(gpu.as_bytes(), true).unwrap();
    record(&db, org, &Actor::cli(), RecordKind::GpuUsage, "gpu.csv", &rows).await.unwrap();
    let c = "provider,model,deployment,units,tokens_per_minute,term_start,term_end,price_usd,team\n\
        azure,gpt-4o,ptu,1,1000,2026-11-01,2026-11-10,100,search\n";
    let rows = parse_records(c.as_bytes(), true).unwrap();
    record(&db, org, &Actor::cli(), RecordKind::Commitments, "c.csv", &rows).await.unwrap();

    let today = d("2026-11-28");
    let views = [
        ("group=team&from=2026-11-01&to=2026-11-10", true),
        ("group=model&team=search&team=(not set)&from=2026-11-01&to=2026-11-10", true),
        ("group=model&team=search&gran=hour&from=2026-11-01&to=2026-11-02", false),
        ("group=service_tier&gran=week&from=2026-11-01&to=2026-11-10", true),
        (
            "group=customer&team=search&model=gpt-4o&source=tokens&source=gpu&from=2026-11-01&to=2026-11-10",
            true,
        ),
        ("group=tag:project&model=gpt-4o&model=claude-sonnet&from=2026-11-03&to=2026-11-08", false),
        ("group=source&from=2026-11-01&to=2026-11-10&gran=month", true),
        ("group=customer&gran=hour&from=2026-11-02&to=2026-11-03", true),
        ("group=none&metric=cost_per_request&source=tokens&from=2026-11-01&to=2026-11-10", true),
        ("group=team&source=gpu&source=commitment&from=2026-11-01&to=2026-11-10", true),
        ("group=api_key&api_key=cr_live_a&api_key=(not set)&from=2026-11-01&to=2026-11-10", true),
        ("group=feature&customer=acme&environment=prod&tag.project=p1&range=30d", false),
    ];
    for (qs, rollups) in views {
        let q = SpendQuery::parse(&decode_pairs(qs), today).unwrap();
        let auto = spend::view(&db, org, q.clone(), SpendPath::Auto).await.unwrap();
        let raw = spend::view(&db, org, q.clone(), SpendPath::Raw).await.unwrap();
        assert_eq!(auto.from_rollups, rollups, "{qs}");
        assert!(!raw.from_rollups);
        assert_eq!((&auto.table, &auto.total, &auto.series), (&raw.table, &raw.total, &raw.series), "{qs}");

        // every group, bucket and total of the token part equals sums made here from the
        // events themselves; billing lines are checked per source below
        let mut tq = q.clone();
        tq.filters.retain(|f| f.dim != app::domain::explore::Dim::Source);
        tq.filters.push(app::domain::explore::Filter {
            dim: app::domain::explore::Dim::Source,
            values: vec!["tokens".into()],
        });
        let tv = spend::view(&db, org, tq.clone(), SpendPath::Auto).await.unwrap();
        let mut want: BTreeMap<String, (i64, i64, i64, i64)> = BTreeMap::new();
        let mut by_bucket: BTreeMap<i64, i64> = BTreeMap::new();
        for e in &events {
            let day = e.occurred_at.date_naive();
            let kept = q.range.from <= day
                && day <= q.range.to
                && tq.filters.iter().all(|f| f.values.contains(&event_value(e, &f.dim)));
            if kept {
                let g = q.group.as_ref().map(|g| event_value(e, g)).unwrap_or_else(|| "(not set)".into());
                let w = want.entry(g).or_default();
                w.0 += e.cost.0;
                w.1 += e.request_count;
                w.2 += e.tokens.input;
                w.3 += 1;
                *by_bucket.entry(q.granularity.bucket(e.occurred_at.timestamp())).or_default() += e.cost.0;
            }
        }
        let got: BTreeMap<String, (i64, i64, i64, i64)> = tv
            .table
            .iter()
            .map(|r| {
                (r.group.clone(), (r.sums.cost_nanos, r.sums.requests, r.sums.input_tokens, r.sums.events))
            })
            .collect();
        assert_eq!(got, want, "{qs}");
        let got_buckets: BTreeMap<i64, i64> = tv
            .buckets
            .iter()
            .enumerate()
            .map(|(i, b)| (*b, tv.series.iter().map(|s| s.values[i].cost_nanos).sum::<i64>()))
            .filter(|(_, c)| *c != 0)
            .collect();
        assert_eq!(got_buckets, by_bucket, "{qs}: per-bucket totals");
        assert_eq!(tv.total.cost_nanos, want.values().map(|w| w.0).sum::<i64>(), "{qs}");
    }

    // the GPU day and the commitment are counted once each, under their own sources
    let q = SpendQuery::parse(&decode_pairs("group=source&from=2026-11-01&to=2026-11-10"), today).unwrap();
    let v = spend::view(&db, org, q, SpendPath::Raw).await.unwrap();
    let cost = |s: &str| v.table.iter().find(|r| r.group == s).map(|r| r.sums.cost_nanos);
    assert_eq!(cost("gpu"), Some(30_000_000_001));
    assert_eq!(cost("commitment"), Some(100_000_000_000));
    assert_eq!(cost("tokens"), Some(events.iter().map(|e| e.cost.0).sum()));
}
on_both!(explorer_views_equal_independent_sums_of_the_raw_events);

/// Random views with up to three filters, an exclusion and a group, each answered through
/// the automatic path (rollups or a cube) and by the raw GROUP BY, on the same data: before
/// and after a re-price, and after events arrive late for days already summed.
pub(crate) async fn combined_views_from_cubes_equal_the_raw_group_by(db: Db) {
    use app::domain::explore::{Dim, Filter, Granularity, SpendQuery, NOT_SET};
    use app::server::db::spend::SpendPath;
    use app::server::db::Actor;
    use app::server::services::records::{parse_records, record, RecordKind};
    use app::server::services::spend;
    use rand::{Rng, SeedableRng};
    let org = db.ensure_org("a", "A").await.unwrap();
    let mut events = explorer_events();
    db.insert_usage_events(org, &events).await.unwrap();
    let gpu = "day,cluster,pool,gpu_type,team,initiative,allocated_gpu_hours,used_gpu_hours,cost_usd\n\
        2026-11-02,c,a,A100,search,,24,6,30.000000001\n2026-11-04,c,a,A100,research,bot,24,6,7.5\n";
    let rows = parse_records(gpu.as_bytes(), true).unwrap();
    record(&db, org, &Actor::cli(), RecordKind::GpuUsage, "gpu.csv", &rows).await.unwrap();
    let today = d("2026-11-28");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(25);
    let mut from_cubes = 0;
    for phase in ["first import", "after a re-price", "after a late import"] {
        match phase {
            "after a re-price" => {
                let since = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
                let page = db.events_for_repricing(org, since, 0, 10_000, false).await.unwrap();
                let changes: Vec<_> = page
                    .into_iter()
                    .filter(|(id, _)| id % 3 == 0)
                    .map(|(id, old)| {
                        let mut new = old.clone();
                        new.cost = Nanos(old.cost.0 * 2 + id);
                        (id, old, new)
                    })
                    .collect();
                assert!(db.apply_repricing(org, &changes).await.unwrap() > 50);
            }
            "after a late import" => {
                let mut late = explorer_events();
                for (i, e) in late.iter_mut().enumerate().take(60) {
                    e.event_id = format!("late{i}");
                    e.team = Some(if i % 2 == 0 { "late".into() } else { "search".into() });
                    e.cost = Nanos(e.cost.0 + 17);
                }
                late.truncate(60);
                db.insert_usage_events(org, &late).await.unwrap();
                events.extend(late);
            }
            _ => {}
        }
        let total: i64 = db.usage_totals(org).await.unwrap().1 .0;
        for round in 0..60 {
            let dims: Vec<Dim> = Dim::FIXED.to_vec();
            let pick_dim = |rng: &mut rand_chacha::ChaCha8Rng| dims[rng.gen_range(0..dims.len())].clone();
            let values_of = |dim: &Dim| -> Vec<String> {
                let mut v: Vec<String> = events.iter().map(|e| event_value(e, dim)).collect();
                if *dim == Dim::Source {
                    v = vec!["tokens".into(), "gpu".into()];
                }
                v.push(NOT_SET.into());
                v.push("no-such-value".into());
                v.sort();
                v.dedup();
                v
            };
            let mut q = SpendQuery::default_for(today);
            q.preset = None;
            let (a, b) = (rng.gen_range(1..=10u32), rng.gen_range(1..=10u32));
            q.range = DateRange {
                from: NaiveDate::from_ymd_opt(2026, 11, a.min(b)).unwrap(),
                to: NaiveDate::from_ymd_opt(2026, 11, a.max(b)).unwrap(),
            };
            q.granularity = [Granularity::Day, Granularity::Week, Granularity::Month][rng.gen_range(0..3)];
            q.group = if rng.gen_bool(0.85) { Some(pick_dim(&mut rng)) } else { None };
            let n = round % 4;
            let mut used: Vec<Dim> = Vec::new();
            while q.filters.len() < n {
                let dim = pick_dim(&mut rng);
                if used.contains(&dim) {
                    continue;
                }
                used.push(dim.clone());
                let all = values_of(&dim);
                let k = rng.gen_range(1..=2.min(all.len()));
                let values = (0..k).map(|_| all[rng.gen_range(0..all.len())].clone()).collect();
                q.filters.push(Filter { dim, values });
            }
            if rng.gen_bool(0.2) {
                let dim = pick_dim(&mut rng);
                let all = values_of(&dim);
                q.excluded.push(Filter { dim, values: vec![all[rng.gen_range(0..all.len())].clone()] });
            }
            let auto = spend::view(&db, org, q.clone(), SpendPath::Auto).await.unwrap();
            let raw = spend::view(&db, org, q.clone(), SpendPath::Raw).await.unwrap();
            let label = format!("{phase}, round {round}: {} excluded {:?}", q.to_query_string(), q.excluded);
            assert_eq!(
                (&auto.table, &auto.total, &auto.series),
                (&raw.table, &raw.total, &raw.series),
                "{label}"
            );
            if q.cube().is_some() && q.rollup_plan().is_none() {
                assert!(auto.from_rollups, "{label}");
                from_cubes += 1;
            }
        }
        // the cubes hold every nano of the events, whichever way they are cut
        let mut q = SpendQuery::default_for(today);
        q.preset = None;
        q.range = DateRange { from: d("2026-10-01"), to: d("2026-11-30") };
        q.filters = vec![Filter { dim: Dim::Source, values: vec!["tokens".into()] }];
        for group in [Dim::Customer, Dim::ServiceTier] {
            q.group = Some(group);
            q.filters.push(Filter {
                dim: Dim::Team,
                values: vec!["search".into(), NOT_SET.into(), "late".into(), "support".into()],
            });
            let v = spend::view(&db, org, q.clone(), SpendPath::Auto).await.unwrap();
            assert!(v.from_rollups);
            assert_eq!(v.total.cost_nanos, total, "{phase}: {:?}", q.group);
            q.filters.pop();
        }
    }
    assert!(from_cubes >= 60, "the random views exercised the cubes {from_cubes} times");
}
on_both!(combined_views_from_cubes_equal_the_raw_group_by);

/// A rebuild from the raw events gives back exactly the sums kept at every write (and so
/// repairs sums changed behind Costroom's back).
pub(crate) async fn rebuilt_rollups_and_cubes_equal_the_ones_kept_at_each_write(db: Db) {
    use app::server::db::query::query;
    let org = db.ensure_org("a", "A").await.unwrap();
    let other = db.ensure_org("b", "B").await.unwrap();
    db.insert_usage_events(org, &explorer_events()).await.unwrap();
    db.insert_usage_events(other, &explorer_events()[..50]).await.unwrap();
    let agents = generate(&DemoConfig { seed: 3, end: d("2026-11-20"), days: 4, volume: 0.05 });
    db.insert_usage_events(org, &agents).await.unwrap();
    let since = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let page = db.events_for_repricing(org, since, 0, 10_000, false).await.unwrap();
    let changes: Vec<_> = page
        .into_iter()
        .step_by(4)
        .map(|(id, old)| {
            let mut new = old.clone();
            new.cost = Nanos(old.cost.0 / 3 + 1);
            (id, old, new)
        })
        .collect();
    db.apply_repricing(org, &changes).await.unwrap();
    let snapshot = |org| sums_snapshot(&db, org);
    let kept = snapshot(org).await;
    let kept_other = snapshot(other).await;
    assert!(kept.1.iter().all(|c| c.len() > 20), "the cubes hold rows");
    assert!(kept.2.len() > 50, "the trace rollups hold rows");
    assert_eq!(kept.1[1].iter().map(|r| r.2).sum::<i64>(), db.usage_totals(org).await.unwrap().1 .0);
    // sums changed behind Costroom's back are repaired, and only this organisation's rebuilt
    query("update usage_cube set cost_nanos = cost_nanos + 1").execute(&db).await.unwrap();
    query("update usage_rollups set events = events + 1 where grain = 'hour'").execute(&db).await.unwrap();
    query("update trace_rollups set steps = steps + 1, team = 'x'").execute(&db).await.unwrap();
    db.rebuild_event_rollups(org).await.unwrap();
    assert_eq!(snapshot(org).await, kept);
    assert_ne!(snapshot(other).await, kept_other, "the other organisation was left alone");
    db.rebuild_event_rollups(other).await.unwrap();
    assert_eq!(snapshot(other).await, kept_other);
}
on_both!(rebuilt_rollups_and_cubes_equal_the_ones_kept_at_each_write);

/// Every token rollup (hour and day, each dimension), every cube row and every trace rollup
/// row of an organisation.
#[allow(clippy::type_complexity)]
pub(crate) async fn sums_snapshot(
    db: &Db,
    org: app::server::db::OrgId,
) -> (
    Vec<Vec<(i64, String, app::domain::rollup::Sums)>>,
    Vec<Vec<(i64, String, i64, i64, i64)>>,
    Vec<(String, String, String, i64, i64, i64, i64, i64, Option<String>)>,
) {
    use app::domain::rollup::{Cube, Grain, DIMS};
    let mut rollups = Vec::new();
    for grain in [Grain::Hour, Grain::Day] {
        for dim in DIMS {
            rollups.push(db.rollups(org, grain, dim).await.unwrap());
        }
    }
    let mut cubes = Vec::new();
    for cube in Cube::ALL {
        cubes.push(db.cube_rows(org, cube).await.unwrap());
    }
    (rollups, cubes, db.trace_rollup_rows(org).await.unwrap())
}

/// The trace lists read from trace rollups equal the raw steps' GROUP BY (for traces within
/// the range), for every scope and filter, after a re-price and after a late step; a trace
/// running over midnight is listed whole under the day it began.
pub(crate) async fn trace_rollups_list_what_the_raw_steps_give(db: Db) {
    use app::domain::explore::Dim;
    use app::domain::traces::TraceFilter;
    let org = db.ensure_org("a", "A").await.unwrap();
    let mut events = generate(&DemoConfig { seed: 5, end: d("2026-11-20"), days: 12, volume: 0.1 });
    // a step without a team, and one with another team, in one trace
    let first = events.iter().position(|e| e.trace_id.is_some()).unwrap();
    events[first].team = None;
    events[first + 1].team = Some("aaa".into());
    db.insert_usage_events(org, &events).await.unwrap();
    let range = DateRange { from: d("2026-11-01"), to: d("2026-11-30") };
    let filters = [
        TraceFilter { page: 1, ..Default::default() },
        TraceFilter { page: 1, min_depth: 3, min_retries: 2, ..Default::default() },
        TraceFilter { page: 2, min_cost: Nanos(1_000), ..Default::default() },
        TraceFilter {
            page: 1,
            feature: "ticket-triage".into(),
            model: "claude-haiku-4-5".into(),
            ..Default::default()
        },
    ];
    let scopes = [
        None,
        Some((Dim::Team, "support")),
        Some((Dim::Team, "")),
        Some((Dim::Feature, "ticket-triage")),
        Some((Dim::Model, "claude-sonnet-4-5")),
        Some((Dim::Customer, "acme")),
    ];
    let check = |label: &'static str| {
        let db = db.clone();
        let filters = filters.clone();
        let scopes = scopes.clone();
        async move {
            let mut listed = 0;
            for f in &filters {
                for scope in &scopes {
                    let sc = scope.as_ref().map(|(d, v)| (d, *v));
                    // filters by feature or model apply to whole traces, as on the traces page
                    if sc.is_some() && !(f.feature.is_empty() && f.model.is_empty()) {
                        continue;
                    }
                    let fast = db.trace_page(org, range, f, 20, sc).await.unwrap();
                    let raw = db.trace_page_raw(org, range, f, 20, sc).await.unwrap();
                    assert_eq!(fast, raw, "{label}: {f:?} {scope:?}");
                    listed += fast.0.len();
                }
            }
            assert!(listed > 100, "{label}: the lists are not empty ({listed})");
        }
    };
    check("first import").await;
    // a range longer than the per-day walks: one ORDER BY, the same list
    let long = DateRange { from: d("2025-06-01"), to: d("2026-12-31") };
    let all = TraceFilter { page: 2, ..Default::default() };
    let fast = db.trace_page(org, long, &all, 15, None).await.unwrap();
    assert_eq!(fast, db.trace_page_raw(org, long, &all, 15, None).await.unwrap());
    assert_eq!(fast.0.len(), 15);
    let since = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let page = db.events_for_repricing(org, since, 0, 100_000, false).await.unwrap();
    let changes: Vec<_> = page
        .into_iter()
        .filter(|(id, e)| e.trace_id.is_some() && id % 2 == 0)
        .map(|(id, old)| {
            let mut new = old.clone();
            new.cost = Nanos(old.cost.0 * 3 + 7);
            (id, old, new)
        })
        .collect();
    assert!(db.apply_repricing(org, &changes).await.unwrap() > 20);
    check("after a re-price").await;
    // a late step of a stored trace, earlier than its first one
    let mut late = events[first].clone();
    late.event_id = "late-step".into();
    let started = events.iter().filter(|e| e.trace_id == late.trace_id).map(|e| e.occurred_at).min().unwrap();
    late.occurred_at = started - chrono::Duration::minutes(5);
    late.depth = Some(9);
    late.cost = Nanos(123_456_789_012);
    db.insert_usage_events(org, &[late.clone()]).await.unwrap();
    check("after a late step").await;
    let all = TraceFilter { page: 1, ..Default::default() };
    let top = db.trace_page(org, range, &all, 1, None).await.unwrap().0;
    assert_eq!(top[0].trace_id, late.trace_id.clone().unwrap());
    assert_eq!((top[0].first_at, top[0].depth), (late.occurred_at, 9));

    // over midnight: listed under the first day, with both steps
    let night = |id: &str, at: &str| {
        let mut e = event(id, at, "gpt-4o", 5_000_000_000);
        e.trace_id = Some("night".into());
        e
    };
    db.insert_usage_events(org, &[night("n1", "2026-11-25 23:59:30"), night("n2", "2026-11-26 00:00:30")])
        .await
        .unwrap();
    let day = |s| DateRange { from: d(s), to: d(s) };
    let on_25 = db.trace_page(org, day("2026-11-25"), &all, 10, None).await.unwrap();
    assert_eq!(
        (on_25.0[0].trace_id.as_str(), on_25.0[0].steps, on_25.0[0].cost),
        ("night", 2, Nanos(10_000_000_000))
    );
    assert_eq!(on_25.1, 1);
    assert_eq!(db.trace_page(org, day("2026-11-26"), &all, 10, None).await.unwrap().1, 0);
}
on_both!(trace_rollups_list_what_the_raw_steps_give);

pub(crate) async fn traces_sum_their_steps_and_the_tree_holds_every_nano(db: Db) {
    use app::domain::explore::Dim;
    use app::domain::traces::TraceLimits;
    use app::server::formats::demo::generate;
    let org = db.ensure_org("a", "A").await.unwrap();
    let events = generate(&DemoConfig { seed: 5, end: d("2026-11-20"), days: 20, volume: 0.1 });
    db.insert_usage_events(org, &events).await.unwrap();
    let range = DateRange { from: d("2026-11-01"), to: d("2026-11-20") };
    let listed = db.traces(org, range, 1_000, None).await.unwrap();
    assert!(listed.len() > 10);
    assert!(listed.windows(2).all(|w| w[0].cost >= w[1].cost), "costliest first");
    for t in &listed {
        let mine: Vec<&UsageEvent> =
            events.iter().filter(|e| e.trace_id.as_deref() == Some(t.trace_id.as_str())).collect();
        assert_eq!(t.steps, mine.len() as i64, "{}", t.trace_id);
        assert_eq!(t.cost.0, mine.iter().map(|e| e.cost.0).sum::<i64>(), "{}", t.trace_id);
        assert_eq!(t.depth, mine.iter().filter_map(|e| e.depth).max().unwrap_or(0));
        assert_eq!(t.retries, mine.iter().filter(|e| e.retry.unwrap_or(0) > 0).count() as i64);
        assert_eq!(t.tool_calls, mine.iter().filter(|e| e.tool_name.is_some()).count() as i64);
    }
    let runaway = listed.iter().find(|t| t.trace_id.starts_with("runaway-")).expect("the loop is traced");
    assert!(!runaway.flags(&TraceLimits::default()).is_empty());
    let (nodes, total) = services::traces::detail(&db, org, &runaway.trace_id).await.unwrap();
    assert_eq!(total, runaway.cost);
    assert_eq!(nodes.len() as i64, runaway.steps);
    let roots: i64 = nodes.iter().filter(|n| n.level == 0).map(|n| n.subtree_cost.0).sum();
    assert_eq!(roots, total.0);
    assert!(matches!(
        services::traces::detail(&db, org, "no-such-trace").await,
        Err(app::error::AppError::NotFound(_))
    ));
    // scoped to a team: only traces with a step of that team
    let support = db.traces(org, range, 1_000, Some((&Dim::Team, "support"))).await.unwrap();
    assert!(!support.is_empty());
    let none = db.traces(org, range, 1_000, Some((&Dim::Team, "platform"))).await.unwrap();
    assert!(none.is_empty(), "the demo's agent belongs to support");
}
on_both!(traces_sum_their_steps_and_the_tree_holds_every_nano);

pub(crate) async fn coverage_and_kpis_equal_sums_of_the_raw_events(db: Db) {
    use app::server::services::kpis;
    let org = db.ensure_org("a", "A").await.unwrap();
    let events = explorer_events();
    db.insert_usage_events(org, &events).await.unwrap();
    let today = d("2026-11-10");
    let v = kpis::coverage(&db, org, today, Some("2026-11-01"), Some("2026-11-10"), Some("feature"))
        .await
        .unwrap();
    let total: i64 = events.iter().map(|e| e.cost.0).sum();
    let untagged = |f: fn(&UsageEvent) -> bool| events.iter().filter(|e| f(e)).map(|e| e.cost.0).sum::<i64>();
    assert_eq!(v.all.total, Nanos(total));
    assert_eq!(
        v.all.untagged,
        vec![
            Nanos(untagged(|e| e.team.is_none())),
            Nanos(untagged(|e| e.feature.is_none())),
            Nanos(untagged(|e| e.initiative.is_none()))
        ]
    );
    let tokens = v.by_source.iter().find(|r| r.source == SpendSource::Tokens).unwrap();
    assert_eq!(tokens.total, Nanos(total));
    // untagged features broken down by model add up to the untagged total
    let by_model = &v.untagged_by[2];
    assert_eq!(by_model.total.cost_nanos, untagged(|e| e.feature.is_none()));
    let weeks: i64 = v.weeks.iter().map(|w| w.coverage[0].total.0).sum();
    assert_eq!(weeks, total);
    assert!(kpis::coverage(&db, org, today, None, None, Some("colour"))
        .await
        .unwrap_err()
        .to_string()
        .starts_with("attribute:"));

    let (_, _, k) = kpis::page(&db, org, today, Some("2026-11-01"), Some("2026-11-10")).await.unwrap();
    let requests: i64 = events.iter().map(|e| e.request_count).sum();
    let want = app::domain::explore::Figure::Money(Nanos(
        ((total as i128 * 2 + requests as i128) / (requests as i128 * 2)) as i64,
    ));
    let per_inference = k.iter().find(|x| x.key == "cost_per_inference").unwrap();
    assert_eq!(per_inference.value, Some(want.display(app::domain::explore::Metric::CostPerRequest)));
    assert_eq!(k.len(), 11);
}
on_both!(coverage_and_kpis_equal_sums_of_the_raw_events);
