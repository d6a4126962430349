//! Events, rollups, the demo and the overview.
use super::*;

pub(crate) async fn migrations_are_idempotent(db: Db) {
    db.migrate().await.expect("second migrate is a no-op");
    db.ping().await.unwrap();
}
on_both!(migrations_are_idempotent);

pub(crate) async fn orgs_are_created_once(db: Db) {
    let a = db.ensure_org("acme", "Acme").await.unwrap();
    let again = db.ensure_org("acme", "Acme renamed").await.unwrap();
    let b = db.ensure_org("globex", "Globex").await.unwrap();
    assert_eq!(a, again);
    assert_ne!(a, b);
}
on_both!(orgs_are_created_once);

pub(crate) async fn daily_costs_sum_exactly_per_day_and_skip_other_orgs(db: Db) {
    let org = db.ensure_org("a", "A").await.unwrap();
    let other = db.ensure_org("b", "B").await.unwrap();
    // values near i64 limits per row would overflow a sum; these sum to > 2^32 nanos
    let events = vec![
        event("e1", "2026-11-01 00:00:00", "gpt-4o", 4_000_000_001),
        event("e2", "2026-11-01 23:59:59", "gpt-4o-mini", 1),
        event("e3", "2026-11-03 12:00:00", "gpt-4o", 123_456_789_012),
        event("e4", "2026-10-31 23:59:59", "gpt-4o", 7),
    ];
    assert_eq!(db.insert_usage_events(org, &events).await.unwrap(), 4);
    db.insert_usage_events(other, &[event("e1", "2026-11-01 10:00:00", "gpt-4o", 999)]).await.unwrap();

    let range = DateRange { from: d("2026-11-01"), to: d("2026-11-30") };
    let rows = db.daily_costs(org, range, None).await.unwrap();
    let got: Vec<(NaiveDate, i64, i64)> = rows.iter().map(|r| (r.day, r.cost.0, r.requests)).collect();
    assert_eq!(got, vec![(d("2026-11-01"), 4_000_000_002, 2), (d("2026-11-03"), 123_456_789_012, 1)]);
    assert_eq!(db.cost_between(org, range, None).await.unwrap(), Nanos(127_456_789_014));
    let oct = DateRange { from: d("2026-10-31"), to: d("2026-10-31") };
    assert_eq!(db.cost_between(org, oct, None).await.unwrap(), Nanos(7));
    let empty = DateRange { from: d("2020-01-01"), to: d("2020-01-31") };
    assert_eq!(db.cost_between(org, empty, None).await.unwrap(), Nanos(0));
    assert!(db.daily_costs(org, empty, None).await.unwrap().is_empty());
}
on_both!(daily_costs_sum_exactly_per_day_and_skip_other_orgs);

pub(crate) async fn a_retried_batch_changes_no_total(db: Db) {
    let org = db.ensure_org("a", "A").await.unwrap();
    let batch = vec![
        event("r1", "2026-11-02 08:00:00", "gpt-4o", 10),
        event("r2", "2026-11-02 09:00:00", "gpt-4o", 20),
    ];
    assert_eq!(db.insert_usage_events(org, &batch).await.unwrap(), 2);
    let mut retry = batch.clone();
    retry.push(event("r3", "2026-11-02 10:00:00", "gpt-4o", 40));
    assert_eq!(db.insert_usage_events(org, &retry).await.unwrap(), 1, "only r3 is new");
    assert_eq!(db.usage_totals(org).await.unwrap(), (3, Nanos(70)));
}
on_both!(a_retried_batch_changes_no_total);

pub(crate) async fn events_round_trip_unchanged(db: Db) {
    let org = db.ensure_org("a", "A").await.unwrap();
    let mut e = event("rt", "2026-11-02 08:09:10", "gpt-4o", i64::MAX / 4);
    e.team = None;
    e.feature = Some("search: ünïcode ✓".into());
    db.insert_usage_events(org, std::slice::from_ref(&e)).await.unwrap();
    let rows = db.usage_events(org).await.unwrap();
    assert_eq!(rows, vec![UsageEventRow::from(&e)]);
}
on_both!(events_round_trip_unchanged);

pub(crate) async fn large_batches_cross_chunk_boundaries(db: Db) {
    let org = db.ensure_org("a", "A").await.unwrap();
    let events: Vec<UsageEvent> =
        (0..2_345).map(|i| event(&format!("c{i:05}"), "2026-11-05 12:00:00", "gpt-4o", i)).collect();
    assert_eq!(db.insert_usage_events(org, &events).await.unwrap(), 2_345);
    let expected: i64 = (0..2_345).sum();
    assert_eq!(db.usage_totals(org).await.unwrap(), (2_345, Nanos(expected)));
}
on_both!(large_batches_cross_chunk_boundaries);

/// A batch that repeats stored events (a retry after a timeout, partly stored) adds only its
/// new events to the rollups, cubes and trace rollups, over several insert chunks and an odd
/// tail: the sums then equal a rebuild from the raw rows.
pub(crate) async fn a_partly_stored_batch_adds_only_its_new_events_to_every_sum(db: Db) {
    use super::spend::sums_snapshot;
    let org = db.ensure_org("a", "A").await.unwrap();
    let end = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let events = generate(&DemoConfig { seed: 5, end, days: 3, volume: 0.3 });
    assert!(events.len() > 1_200, "{} events", events.len());
    let first = &events[..events.len() / 3];
    assert_eq!(db.insert_usage_events(org, first).await.unwrap(), first.len() as u64);
    // the stored third again, the rest new, in one batch of an odd length
    let n = db.insert_usage_events(org, &events).await.unwrap();
    assert_eq!(n as usize, events.len() - first.len());
    let cost: i64 = events.iter().map(|e| e.cost.0).sum();
    assert_eq!(db.usage_totals(org).await.unwrap(), (events.len() as i64, Nanos(cost)));
    let kept = sums_snapshot(&db, org).await;
    db.rebuild_event_rollups(org).await.unwrap();
    assert_eq!(sums_snapshot(&db, org).await, kept);
}
on_both!(a_partly_stored_batch_adds_only_its_new_events_to_every_sum);

pub(crate) async fn demo_seed_is_deterministic_and_reconciles(db: Db) {
    let org = db.ensure_org("demo", "Demo").await.unwrap();
    let cfg = DemoConfig { seed: 7, end: d("2026-11-20"), days: 30, volume: 0.05 };
    let first = services::demo::seed(&db, org, cfg, false).await.unwrap();
    assert_eq!(first.inserted as usize, first.generated);
    // same seed again: nothing new, nothing counted twice
    let again = services::demo::seed(&db, org, cfg, false).await.unwrap();
    assert_eq!(again.inserted, 0);
    assert_eq!(again.total_events as usize, first.generated);

    let mut expected: Vec<UsageEventRow> = generate(&cfg).iter().map(UsageEventRow::from).collect();
    expected.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    let stored = db.usage_events(org).await.unwrap();
    assert_eq!(stored, expected, "stored rows are exactly the generated ones");
    let total: i64 = expected.iter().map(|r| r.cost_nanos).sum();
    assert_eq!(first.total_cost, Nanos(total));
    let range = DateRange { from: d("2026-10-22"), to: d("2026-11-20") };
    let by_day: i64 = db.daily_costs(org, range, None).await.unwrap().iter().map(|r| r.cost.0).sum();
    assert_eq!(by_day, total, "daily totals reconcile with the rows");

    let reset = services::demo::seed(&db, org, cfg, true).await.unwrap();
    assert_eq!((reset.removed as usize, reset.inserted as usize), (first.generated, first.generated));
}
on_both!(demo_seed_is_deterministic_and_reconciles);

pub(crate) async fn overview_service_reads_month_to_date(db: Db) {
    let org = db.ensure_org("a", "A").await.unwrap();
    db.insert_usage_events(
        org,
        &[
            event("m1", "2026-10-05 10:00:00", "gpt-4o", 100),
            event("m2", "2026-10-20 10:00:00", "gpt-4o", 1_000), // after Oct 10: not "same days"
            event("m3", "2026-11-01 00:00:00", "gpt-4o", 150),
            event("m4", "2026-11-10 23:59:59", "gpt-4o", 50),
        ],
    )
    .await
    .unwrap();
    let o = services::overview::overview(&db, org, d("2026-11-10"), Some("2026-10-01"), None, None)
        .await
        .unwrap();
    assert_eq!(o.mtd, Nanos(200));
    assert_eq!(o.prev_mtd, Nanos(100));
    assert_eq!(o.mtd_change_pct(), Some(100.0));
    assert_eq!(o.range_total, Nanos(1_300));
    assert_eq!(o.daily.len(), 41);
    // the one projection budgets use too: the whole days before today plus the forecast of the rest
    let november = app::domain::DateRange { from: d("2026-11-01"), to: d("2026-11-30") };
    let (p, after, _) =
        services::budgets::projection(&db, org, None, None, november, d("2026-11-10"), o.mtd).await.unwrap();
    assert_eq!(o.projected_month_end, p);
    assert_eq!(after.len(), 20, "Nov 11–30");
    assert!(p.point >= o.mtd && p.low <= p.point && p.point <= p.high, "{p:?}");
    let err =
        services::overview::overview(&db, org, d("2026-11-10"), Some("soon"), None, None).await.unwrap_err();
    assert_eq!(err.to_string(), "from: 'soon' is not a date (expected YYYY-MM-DD)");
}
on_both!(overview_service_reads_month_to_date);
