//! Budgets, alerts, webhooks and forecast snapshots.
use super::*;
use crate::spend::explorer_events;

pub(crate) async fn nested_budgets_trip_independently_and_alert_once_per_period(db: Db) {
    use app::domain::budget::{parse_budget, BudgetInput};
    use app::server::db::Actor;
    use app::server::services::budgets;
    let org = db.ensure_org("a", "A").await.unwrap();
    let events = explorer_events();
    db.insert_usage_events(org, &events).await.unwrap();
    let total: i64 = events.iter().map(|e| e.cost.0).sum();
    let search: i64 = events.iter().filter(|e| e.team.as_deref() == Some("search")).map(|e| e.cost.0).sum();
    let usd = |n: i64| format!("{}.{:09}", n / 1_000_000_000, n % 1_000_000_000);
    let today = d("2026-11-10");
    // the organisation's budget is exactly what was spent: 50, 80 and 100 % reached (≥)
    let org_budget = parse_budget(&BudgetInput {
        name: "All AI".into(),
        period: "month".into(),
        recurring: Some("on".into()),
        start: "2026-11-01".into(),
        amount_usd: (&usd(total)).into(),
        owner: "finance".into(),
        ..Default::default()
    })
    .unwrap();
    // the team's is twice its spend: only 50 %
    let team_budget = parse_budget(&BudgetInput {
        name: "Search".into(),
        scope: "team".into(),
        scope_value: "search".into(),
        period: "month".into(),
        recurring: Some("on".into()),
        start: "2026-11-01".into(),
        amount_usd: (&usd(2 * search)).into(),
        owner: "finance".into(),
        ..Default::default()
    })
    .unwrap();
    budgets::create(&db, org, &Actor::cli(), today, org_budget).await.unwrap();
    budgets::create(&db, org, &Actor::cli(), today, team_budget).await.unwrap();
    let (lines, new) = budgets::evaluate_all(&db, org, today).await.unwrap();
    assert_eq!(new, 0, "creating evaluated already; nothing repeats");
    let line = |name: &str| lines.iter().find(|l| l.budget.name == name).unwrap().evaluation.clone().unwrap();
    assert_eq!(line("All AI").actual, Nanos(total));
    assert_eq!(line("All AI").reached, vec![50, 80, 100]);
    assert_eq!(line("Search").actual, Nanos(search));
    assert_eq!(line("Search").reached, vec![50]);
    let alerts = db.budget_alerts(org, 100).await.unwrap();
    let thresholds = |budget: &str| {
        let id = lines.iter().find(|l| l.budget.name == budget).unwrap().budget.id;
        let mut t: Vec<i64> = alerts
            .iter()
            .filter(|a| a.budget_id == id && a.kind == "threshold")
            .map(|a| a.threshold)
            .collect();
        t.sort();
        t
    };
    assert_eq!(thresholds("All AI"), vec![50, 80, 100]);
    assert_eq!(thresholds("Search"), vec![50]);
    assert!(alerts
        .iter()
        .any(|a| a.message.contains("Budget \"All AI\" (Organisation")
            && a.message.contains("reached 100% of")));

    // December: the same spend again trips every threshold again, for the new period only
    let december: Vec<UsageEvent> = events
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.event_id = format!("dec-{}", e.event_id);
            e.occurred_at += chrono::Duration::days(30);
            e
        })
        .collect();
    db.insert_usage_events(org, &december).await.unwrap();
    let (_, new) = budgets::evaluate_all(&db, org, d("2026-12-10")).await.unwrap();
    let after = db.budget_alerts(org, 100).await.unwrap();
    let dec: Vec<_> =
        after.iter().filter(|a| a.period_start == d("2026-12-01") && a.kind == "threshold").collect();
    assert_eq!(dec.len(), 4, "three for the organisation, one for the team");
    assert!(new >= 4);
    let (_, again) = budgets::evaluate_all(&db, org, d("2026-12-10")).await.unwrap();
    assert_eq!(again, 0);
}
on_both!(nested_budgets_trip_independently_and_alert_once_per_period);

pub(crate) async fn webhook_deliveries_are_queued_once_per_alert_and_claimed_by_one_worker(db: Db) {
    use app::domain::budget::{parse_budget, BudgetInput};
    use app::domain::webhook::DeliveryStatus;
    use app::server::db::webhooks::now_ms;
    use app::server::db::Actor;
    use app::server::services::{budgets, webhooks};
    let org = db.ensure_org("a", "A").await.unwrap();
    let other = db.ensure_org("b", "B").await.unwrap();
    let events = explorer_events();
    db.insert_usage_events(org, &events).await.unwrap();
    let total: i64 = events.iter().map(|e| e.cost.0).sum();
    let actor = Actor::cli();
    let egress =
        webhooks::Egress::new(app::domain::egress::AllowList::parse("127.0.0.1,hooks.slack.test").unwrap());
    let slack = webhooks::create(
        &db,
        &egress,
        org,
        &actor,
        "finance",
        "https://hooks.slack.test/services/T/B/s3cret",
        "slack",
    )
    .await
    .unwrap();
    let json = webhooks::create(&db, &egress, org, &actor, "pager", "http://127.0.0.1:9/hook", "json")
        .await
        .unwrap();
    webhooks::create(&db, &egress, other, &actor, "theirs", "http://127.0.0.1:9/other", "json")
        .await
        .unwrap();
    let err =
        webhooks::create(&db, &egress, org, &actor, "bad", "hooks.slack.test/x", "slack").await.unwrap_err();
    assert!(err.to_string().starts_with("url: "), "{err}");
    // listed without the secret path; the audit log never holds it either
    let listed = db.webhooks(org).await.unwrap();
    assert_eq!(
        listed.iter().map(|w| w.url_shown.as_str()).collect::<Vec<_>>(),
        ["https://hooks.slack.test/…", "http://127.0.0.1:9/…"]
    );
    let audit = db.list_audit(org, &Default::default(), 100).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "webhook.create").count(), 2);
    assert!(audit.iter().all(|a| !format!("{a:?}").contains("s3cret")));

    let usd = format!("{}.{:09}", total / 1_000_000_000, total % 1_000_000_000);
    let b = parse_budget(&BudgetInput {
        name: "All AI".into(),
        period: "month".into(),
        recurring: Some("on".into()),
        start: "2026-11-01".into(),
        amount_usd: (&usd).into(),
        owner: "finance".into(),
        ..Default::default()
    })
    .unwrap();
    budgets::create(&db, org, &actor, d("2026-11-10"), b).await.unwrap();
    let alerts = db.budget_alerts(org, 100).await.unwrap();
    assert_eq!(alerts.len(), 3, "50, 80 and 100 %");
    let log = db.webhook_deliveries(org, 100).await.unwrap();
    assert_eq!(log.len(), 6, "each alert once to each of the organisation's two webhooks");
    assert!(log.iter().all(|l| l.status == DeliveryStatus::Pending && l.attempts == 0));
    assert!(log.iter().any(|l| l.title == "Budget \"All AI\" reached 80%"));
    assert!(db.webhook_deliveries(other, 100).await.unwrap().is_empty());
    // evaluating again raises nothing and queues nothing
    budgets::evaluate_all(&db, org, d("2026-11-10")).await.unwrap();
    assert_eq!(db.webhook_deliveries(org, 100).await.unwrap().len(), 6);

    let now = now_ms();
    let due = db.due_deliveries(now, 100).await.unwrap();
    assert_eq!(due.len(), 6);
    let first = &due[0];
    assert!(db.claim_delivery(first.id, 0, now, now + 60_000).await.unwrap());
    assert!(
        !db.claim_delivery(first.id, 0, now, now + 60_000).await.unwrap(),
        "a second worker passes it by"
    );
    assert!(db.due_deliveries(now, 100).await.unwrap().iter().all(|d| d.id != first.id), "leased");
    // a failure with a retry time waits for it; without one it is failed for good
    db.record_delivery(first.id, false, Some(500), Some("HTTP 500"), Some(now + 30_000)).await.unwrap();
    assert!(db.due_deliveries(now, 100).await.unwrap().iter().all(|d| d.id != first.id));
    assert!(db
        .due_deliveries(now + 30_000, 100)
        .await
        .unwrap()
        .iter()
        .any(|d| d.id == first.id && d.attempts == 1));
    assert!(db.claim_delivery(first.id, 1, now + 30_000, now + 90_000).await.unwrap());
    db.record_delivery(first.id, false, None, Some("could not connect"), None).await.unwrap();
    let row = |log: Vec<app::domain::webhook::Delivery>| log.into_iter().find(|l| l.id == first.id).unwrap();
    let failed = row(db.webhook_deliveries(org, 100).await.unwrap());
    assert_eq!(
        (failed.status, failed.attempts, failed.last_error.as_deref()),
        (DeliveryStatus::Failed, 2, Some("could not connect"))
    );
    assert!(db.retry_delivery(org, first.id).await.unwrap());
    assert!(!db.retry_delivery(other, first.id).await.unwrap(), "another organisation cannot touch it");
    let again = row(db.webhook_deliveries(org, 100).await.unwrap());
    assert_eq!((again.status, again.attempts), (DeliveryStatus::Pending, 0));
    let now2 = now_ms();
    assert!(db.claim_delivery(first.id, 0, now2, now2 + 60_000).await.unwrap());
    db.record_delivery(first.id, true, Some(200), None, None).await.unwrap();
    let done = row(db.webhook_deliveries(org, 100).await.unwrap());
    assert_eq!(
        (done.status, done.last_status, done.next_attempt_at),
        (DeliveryStatus::Delivered, Some(200), None)
    );
    assert!(done.delivered_at.is_some());
    assert!(!db.retry_delivery(org, first.id).await.unwrap(), "only failed deliveries are retried");

    // deleting a webhook takes its log with it
    webhooks::delete(&db, org, &actor, json).await.unwrap();
    let left = db.webhook_deliveries(org, 100).await.unwrap();
    assert_eq!(left.len(), 3);
    assert!(left.iter().all(|l| l.webhook_id == slack));
}
on_both!(webhook_deliveries_are_queued_once_per_alert_and_claimed_by_one_worker);

pub(crate) async fn forecast_snapshots_are_kept_once_per_day_and_never_rewritten(db: Db) {
    use app::domain::budget::{parse_budget, BudgetInput};
    use app::server::db::Actor;
    use app::server::services::budgets;
    let org = db.ensure_org("a", "A").await.unwrap();
    // $10 a day for team search from 1 August (56 days of history before 1 October) to 9 November
    let days = DateRange { from: d("2026-08-01"), to: d("2026-11-09") };
    let events: Vec<UsageEvent> = days
        .iter_days()
        .map(|day| event(&format!("e-{day}"), &format!("{day} 12:00:00"), "gpt-4o", 10_000_000_000))
        .collect();
    db.insert_usage_events(org, &events).await.unwrap();
    let today = d("2026-11-10");
    let b = parse_budget(&BudgetInput {
        name: "Search".into(),
        scope: "team".into(),
        scope_value: "search".into(),
        period: "month".into(),
        recurring: Some("on".into()),
        start: "2026-10-01".into(),
        amount_usd: "1000".into(),
        owner: "fin".into(),
        ..Default::default()
    })
    .unwrap();
    let id = budgets::create(&db, org, &Actor::cli(), today, b).await.unwrap();
    let snaps = db.snapshots(org, id).await.unwrap();
    let october: Vec<_> = snaps.iter().filter(|s| s.period_start == d("2026-10-01")).collect();
    let november: Vec<_> = snaps.iter().filter(|s| s.period_start == d("2026-11-01")).collect();
    assert_eq!((october.len(), november.len()), (31, 10), "every day of October, 1–10 November");
    assert!(october.iter().all(|s| s.reconstructed));
    let tenth = november.last().unwrap();
    assert_eq!((tenth.as_of, tenth.reconstructed), (today, false), "today's is the daily job's own");
    assert_eq!(tenth.actual, Nanos(90_000_000_000), "whole days before the 10th");
    assert_eq!(tenth.projected.point, Nanos(300_000_000_000), "a flat $10 a day for 30 days");
    // every October forecast of a flat series was exact
    assert!(october.iter().all(|s| s.projected.point == Nanos(310_000_000_000)), "{october:?}");
    let ranking = budgets::accuracy_ranking(&db, org, today).await.unwrap();
    assert_eq!(ranking.len(), 1, "October is the only completed period");
    assert_eq!(ranking[0].actual, Nanos(310_000_000_000));
    assert_eq!(ranking[0].accuracy.mape_pct, 0.0);
    assert_eq!(ranking[0].accuracy.covered_pct, 100.0);

    // the job again stores nothing; a late import changes the actual, not what was forecast
    assert_eq!(budgets::record_snapshots(&db, org, today).await.unwrap(), 0);
    db.insert_usage_events(org, &[event("late", "2026-10-20 08:00:00", "gpt-4o", 31_000_000_000)])
        .await
        .unwrap();
    assert_eq!(budgets::record_snapshots(&db, org, today).await.unwrap(), 0);
    assert_eq!(db.snapshots(org, id).await.unwrap(), snaps);
    let ranking = budgets::accuracy_ranking(&db, org, today).await.unwrap();
    assert_eq!(ranking[0].actual, Nanos(341_000_000_000));
    // each forecast of $310 missed $341 by 9.09…%
    assert!((ranking[0].accuracy.mape_pct - 31.0 / 341.0 * 100.0).abs() < 1e-9, "{:?}", ranking[0].accuracy);
    assert!(ranking[0].accuracy.bias_pct < 0.0, "under-forecast");
    // the next day adds exactly one snapshot
    assert_eq!(budgets::record_snapshots(&db, org, d("2026-11-11")).await.unwrap(), 1);

    // the detail page carries both periods, the running one without accuracy
    let detail = budgets::detail(&db, org, today, id).await.unwrap();
    assert_eq!(detail.history.len(), 2);
    assert!(detail.history[0].complete && detail.history[0].accuracy.is_some());
    assert!(!detail.history[1].complete && detail.history[1].accuracy.is_none());
    assert_eq!(detail.history[1].actual, Nanos(90_000_000_000));

    // another scope forecasts something else: the old snapshots go, new ones are made
    let other = parse_budget(&BudgetInput {
        name: "Search".into(),
        scope: "team".into(),
        scope_value: "nobody".into(),
        period: "month".into(),
        recurring: Some("on".into()),
        start: "2026-10-01".into(),
        amount_usd: "1000".into(),
        owner: "fin".into(),
        ..Default::default()
    })
    .unwrap();
    budgets::update(&db, org, &Actor::cli(), today, id, other).await.unwrap();
    let after = db.snapshots(org, id).await.unwrap();
    assert_eq!(after.len(), 41);
    assert!(after.iter().all(|s| s.projected.point == Nanos::ZERO));
    assert!(
        budgets::accuracy_ranking(&db, org, today).await.unwrap().is_empty(),
        "nothing spent: no percentage"
    );
    // deleting the budget deletes its snapshots
    budgets::delete(&db, org, &Actor::cli(), id).await.unwrap();
    assert!(db.snapshots(org, id).await.unwrap().is_empty());
}
on_both!(forecast_snapshots_are_kept_once_per_day_and_never_rewritten);
