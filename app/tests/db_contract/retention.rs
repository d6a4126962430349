//! Raw-event retention: the purge drops raw rows, never a total.
use super::spend::sums_snapshot;
use super::*;

/// A purge drops exactly the raw events before the boundary (in chunks, over rounds) and
/// leaves every rollup, cube and trace rollup as it was, including a trace running across
/// the boundary; views from the rollups answer as before, views that need the raw rows before
/// the boundary are refused naming the field, events before it are refused, a rebuild keeps
/// the days it has no rows for, the boundary never moves back, and other organisations are
/// left alone.
pub(crate) async fn retention_drops_raw_events_and_every_total_stays(db: Db) {
    use app::domain::explore::{Dim, Filter, Granularity, SpendQuery};
    use app::domain::retention::Retention;
    use app::server::db::spend::SpendPath;
    use app::server::db::{Actor, OverLimit};
    use services::{retention, spend};
    let org = db.ensure_org("a", "A").await.unwrap();
    let other = db.ensure_org("b", "B").await.unwrap();
    let today = d("2026-11-20");
    let boundary = d("2026-10-01");
    let mut events = generate(&DemoConfig { seed: 7, end: today, days: 60, volume: 0.02 });
    // one run that starts before midnight of the boundary and ends after it
    for (i, at) in ["2026-09-30 23:58:00", "2026-09-30 23:59:30", "2026-10-01 00:01:00"].iter().enumerate() {
        let mut e = event(&format!("across{i}"), at, "gpt-4o", 1_000_000_007 + i as i64);
        e.trace_id = Some("run-across".into());
        e.feature = Some("agent".into());
        events.push(e);
    }
    db.insert_usage_events(org, &events).await.unwrap();
    db.insert_usage_events(other, &events[..200]).await.unwrap();
    let before_purge = events.iter().filter(|e| e.day() < boundary).count() as u64;
    assert!(before_purge > 100, "the data starts well before the boundary: {before_purge}");
    let kept = sums_snapshot(&db, org).await;
    let (n, cost) = db.usage_totals(org).await.unwrap();

    let view = |range: DateRange, granularity, filters: Vec<Filter>, group| {
        let mut q = SpendQuery::default_for(today);
        q.preset = None;
        q.range = range;
        q.granularity = granularity;
        q.filters = filters;
        q.group = group;
        q
    };
    let all = DateRange { from: d("2026-09-21"), to: today };
    let search = || vec![Filter { dim: Dim::Team, values: vec!["search".into()] }];
    let daily = [
        view(all, Granularity::Day, vec![], Some(Dim::Team)),
        view(all, Granularity::Week, search(), Some(Dim::Model)),
        view(all, Granularity::Month, search(), Some(Dim::Customer)),
    ];
    let mut answers = vec![];
    for q in &daily {
        answers.push(spend::view(&db, org, q.clone(), SpendPath::Auto).await.unwrap());
    }
    let hourly_from =
        |from| view(DateRange { from, to: today }, Granularity::Hour, search(), Some(Dim::Model));
    let hourly_kept = spend::view(&db, org, hourly_from(boundary), SpendPath::Auto).await.unwrap();
    assert!(!hourly_kept.from_rollups, "an hourly combined view sums the raw events");

    let e = retention::set(&db, org, &Actor::cli(), Some(0)).await.unwrap_err();
    assert!(e.to_string().contains("months: 0"), "{e}");
    retention::set(&db, org, &Actor::cli(), Some(1)).await.unwrap();
    assert_eq!(retention::setting(&db, org).await.unwrap(), Some(Retention { months: 1 }));
    // a round stops after the chunk that passes its maximum and says more are left
    let first = db.purge_raw_events(org, Retention { months: 1 }.kept_from(today), 7, 30).await.unwrap();
    assert_eq!((first.kept_from, first.deleted, first.more), (boundary, 35, true));
    let rest = retention::apply(&db, org, today, u64::MAX).await.unwrap().unwrap();
    assert_eq!((rest.kept_from, rest.more), (boundary, false));
    assert_eq!(first.deleted + rest.deleted, before_purge);
    assert_eq!(db.raw_events_kept_from(org).await.unwrap(), Some(boundary));
    let left = db.usage_events(org).await.unwrap();
    assert_eq!(left.len() as u64, n as u64 - before_purge);
    assert!(left.iter().all(|e| e.day >= boundary));
    assert_eq!(db.usage_events(other).await.unwrap().len(), 200, "another organisation keeps its events");
    assert_eq!(db.raw_events_kept_from(other).await.unwrap(), None);

    // every sum is where it was: the totals, the rollups, the cubes, the trace rollups
    assert_eq!(sums_snapshot(&db, org).await, kept);
    for (q, was) in daily.iter().zip(&answers) {
        let now = spend::view(&db, org, q.clone(), SpendPath::Auto).await.unwrap();
        assert!(now.from_rollups, "{}", q.to_query_string());
        assert_eq!((&now.table, &now.total, &now.series), (&was.table, &was.total, &was.series));
    }
    assert_eq!(answers[0].total.cost_nanos, cost.0, "the view over every day still holds every nano");
    let again = spend::view(&db, org, hourly_from(boundary), SpendPath::Auto).await.unwrap();
    assert_eq!((&again.table, &again.total), (&hourly_kept.table, &hourly_kept.total));
    // a view that would sum raw rows that are gone is refused, naming the field and the day
    let e = spend::view(&db, org, hourly_from(d("2026-09-30")), SpendPath::Auto).await.unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("from:") && msg.contains("2026-10-01") && msg.contains("2026-09-30"), "{msg}");

    // a rebuild keeps the sums of the days it has no rows for
    db.rebuild_event_rollups(org).await.unwrap();
    assert_eq!(sums_snapshot(&db, org).await, kept);

    // an event from before the boundary is refused whole: it could be a resent one
    let mut late = event("late-old", "2026-09-25 10:00:00", "gpt-4o", 5);
    late.team = Some("new".into());
    let err = db
        .insert_usage_events(org, &[late.clone(), event("late-new", "2026-11-19 10:00:00", "gpt-4o", 5)])
        .await;
    let err = err.unwrap_err();
    let over = OverLimit::of(&err).expect("a refusal naming the field").0.clone();
    assert!(over.starts_with("timestamp:") && over.contains("2026-09-25"), "{over}");
    let total = spend::view(&db, org, daily[0].clone(), SpendPath::Auto).await.unwrap().total.cost_nanos;
    assert_eq!(total, cost.0, "nothing of the batch was stored");
    late.occurred_at = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
    assert_eq!(db.insert_usage_events(org, &[late]).await.unwrap(), 1, "the boundary day itself is kept");

    // raising the setting cannot bring rows back: the boundary stays where the rows start
    retention::set(&db, org, &Actor::cli(), Some(12)).await.unwrap();
    let p = retention::apply(&db, org, today, u64::MAX).await.unwrap().unwrap();
    assert_eq!((p.kept_from, p.deleted), (boundary, 0));
    retention::set(&db, org, &Actor::cli(), None).await.unwrap();
    assert_eq!(retention::apply(&db, org, today, u64::MAX).await.unwrap(), None);
    assert_eq!(db.raw_events_kept_from(org).await.unwrap(), Some(boundary));

    let audit = db.list_audit(org, &app::domain::audit::AuditFilter::default(), 20).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions,
        vec!["setting.raw_retention", "setting.raw_retention", "retention.boundary", "setting.raw_retention"]
    );
}
on_both!(retention_drops_raw_events_and_every_total_stays);

/// Purges racing each other (two servers' jobs, or the CLI beside a server), asked for
/// different boundaries: the boundary ends at the latest one asked, never moves back, each
/// move is audited once and in order, no raw event before it is left and every total stays.
pub(crate) async fn racing_purges_never_move_the_boundary_back(db: Db) {
    use app::domain::audit::AuditFilter;
    let org = db.ensure_org("a", "A").await.unwrap();
    let today = d("2026-11-20");
    let events = generate(&DemoConfig { seed: 11, end: today, days: 110, volume: 0.01 });
    db.insert_usage_events(org, &events).await.unwrap();
    let kept = sums_snapshot(&db, org).await;
    let (n, _) = db.usage_totals(org).await.unwrap();
    let asked = [d("2026-09-01"), d("2026-10-01"), d("2026-08-01"), d("2026-11-01"), d("2026-10-01")];
    for round in 0..3 {
        // each round in another order, so the later boundary is sometimes asked first
        let mut order = asked.to_vec();
        order.rotate_left(round);
        let purges = order.iter().map(|from| db.purge_raw_events(org, *from, 50, u64::MAX));
        let done = futures_util::future::join_all(purges).await;
        for (p, from) in done.into_iter().zip(&order) {
            // a purge that committed before a later boundary was asked reports its own
            let kept = p.unwrap().kept_from;
            assert!(kept >= *from && kept <= d("2026-11-01"), "round {round}: asked {from}, kept {kept}");
        }
        assert_eq!(db.raw_events_kept_from(org).await.unwrap(), Some(d("2026-11-01")), "round {round}");
    }
    let left = db.usage_events(org).await.unwrap();
    assert!(left.iter().all(|e| e.day >= d("2026-11-01")));
    let dropped = events.iter().filter(|e| e.day() < d("2026-11-01")).count();
    assert_eq!(left.len(), n as usize - dropped);
    assert_eq!(sums_snapshot(&db, org).await, kept);
    let f = AuditFilter { action: Some("retention.boundary".into()), ..Default::default() };
    let moves = db.list_audit(org, &f, 50).await.unwrap();
    let to: Vec<String> =
        moves.iter().rev().map(|a| a.summary.split_whitespace().nth(3).unwrap().to_string()).collect();
    assert!(!to.is_empty() && to.len() <= 4, "{to:?}");
    assert_eq!(to.last().map(String::as_str), Some("2026-11-01"));
    let sorted = {
        let mut s = to.clone();
        s.sort();
        s.dedup();
        s
    };
    assert_eq!(to, sorted, "each move is audited once, forward only");
    // each move starts where the one before it ended: none audits a boundary read before
    // another purge committed
    let chain: Vec<(Option<String>, Option<String>)> = moves
        .iter()
        .rev()
        .map(|a| {
            assert_eq!(a.changes.len(), 1, "{a:?}");
            (a.changes[0].before.clone(), a.changes[0].after.clone())
        })
        .collect();
    assert_eq!(chain[0].0, None, "{chain:?}");
    for pair in chain.windows(2) {
        assert_eq!(pair[1].0, pair[0].1, "{chain:?}");
    }
    assert_eq!(chain.iter().filter_map(|c| c.1.clone()).collect::<Vec<_>>(), to);
}
on_both!(racing_purges_never_move_the_boundary_back);
