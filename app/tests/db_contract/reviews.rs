//! Anomalies and cost reviews.
use super::*;

pub(crate) async fn anomalies_are_detected_once_with_contributors_and_counted_in_the_figures(db: Db) {
    use app::domain::anomaly::Status;
    use app::domain::explore::day_seconds;
    use app::domain::Role;
    use app::server::db::Actor;
    use app::server::services::{anomalies, users, webhooks};
    let org = db.ensure_org("a", "A").await.unwrap();
    const K: i64 = 1_000_000_000;
    // ten days of $1 an hour on team a; on the tenth, 03:00–05:59, a runaway feature adds
    // $20 an hour on another model and API key
    let days = DateRange { from: d("2026-11-01"), to: d("2026-11-10") };
    let mut events = Vec::new();
    for day in days.iter_days() {
        for h in 0..24 {
            let mut e = event(&format!("b-{day}-{h}"), &format!("{day} {h:02}:10:00"), "m1", K);
            e.team = Some("a".into());
            e.feature = Some("chat".into());
            events.push(e);
            if day == d("2026-11-10") && (3..6).contains(&h) {
                let mut s = event(&format!("s-{day}-{h}"), &format!("{day} {h:02}:20:00"), "m2", 20 * K);
                s.team = Some("a".into());
                s.feature = Some("runaway".into());
                s.api_key = Some("k9".into());
                events.push(s);
            }
        }
    }
    db.insert_usage_events(org, &events).await.unwrap();
    let person = |email: &str, role| users::AddUser {
        email: email.into(),
        name: "P".into(),
        role,
        password: "a long enough password".into(),
        team: None,
    };
    let eng = users::add_user(&db, org, &Actor::cli(), person("eng@x.com", Role::Engineering)).await.unwrap();
    let viewer = users::add_user(&db, org, &Actor::cli(), person("v@x.com", Role::Viewer)).await.unwrap();
    webhooks::create(
        &db,
        &webhooks::Egress::new(app::domain::egress::AllowList::parse("127.0.0.1").unwrap()),
        org,
        &Actor::cli(),
        "ops",
        "http://127.0.0.1:1/hook",
        "json",
    )
    .await
    .unwrap();

    let end = day_seconds(d("2026-11-10")) + 86_399;
    let r = anomalies::run(&db, org, end, end - 3 * 86_400, true).await.unwrap();
    assert_eq!((r.new, r.announced), (1, 1));
    let all = db.anomalies(org, 0).await.unwrap();
    assert_eq!(all.len(), 1, "one incident, not one per series: {all:?}");
    let a = &all[0];
    let start = day_seconds(d("2026-11-10")) + 3 * 3_600;
    assert_eq!(
        (a.scope_dim.as_str(), a.scope_value.as_str(), a.grain.as_str()),
        ("feature", "runaway", "hour")
    );
    assert_eq!((a.started_at, a.ended_at), (start, start + 3 * 3_600));
    assert_eq!(a.detected_at, Some(start + 3_600), "a replay dates detection at the end of the first bucket");
    assert_eq!((a.actual, a.expected, a.excess), (Nanos(60 * K), Nanos::ZERO, Nanos(60 * K)));
    for scope in ["organisation", "team a", "model m2", "api key k9"] {
        assert!(a.also_in.iter().any(|x| x == scope), "{scope} in {:?}", a.also_in);
    }
    let top = &a.contributors[0];
    assert_eq!((top.during, top.usual), (Nanos(60 * K), Nanos::ZERO));
    assert!(a.contributors.iter().any(|c| c.dim == "model" && c.value == "m2"), "{:?}", a.contributors);

    // a live run later sees the same incident: nothing new, rewritten or announced twice
    let again = anomalies::run(&db, org, end, end - 7 * 86_400, false).await.unwrap();
    assert_eq!(
        (again.new, again.updated, again.announced),
        (0, 0, 0),
        "{:?}",
        db.anomalies(org, 0).await.unwrap()
    );
    // a run that read the team's and the total's series before the spike's rows committed
    // (each dimension is its own query) stored the incident without them; the next run adds
    // those scopes to the record and announces nothing again
    let mut partial = db.anomaly(org, a.id).await.unwrap().unwrap();
    partial.also_in.retain(|s| s != "team a" && s != "organisation");
    db.update_detection(org, &partial, None).await.unwrap();
    let healed = anomalies::run(&db, org, end, end - 7 * 86_400, false).await.unwrap();
    assert_eq!((healed.new, healed.updated, healed.announced), (0, 1, 0));
    let also = db.anomaly(org, a.id).await.unwrap().unwrap().also_in;
    assert_eq!(also, a.also_in, "the scopes seen later join the record");
    // it goes on for another hour: the same record grows, still announced once
    let mut more = event("s-late", "2026-11-10 06:20:00", "m2", 20 * K);
    more.team = Some("a".into());
    more.feature = Some("runaway".into());
    more.api_key = Some("k9".into());
    db.insert_usage_events(org, &[more]).await.unwrap();
    let grown = anomalies::run(&db, org, end, end - 7 * 86_400, false).await.unwrap();
    assert_eq!((grown.new, grown.updated, grown.announced), (0, 1, 0));
    let all = db.anomalies(org, 0).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].ended_at, all[0].excess), (start + 4 * 3_600, Nanos(80 * K)));
    assert_eq!(all[0].detected_at, Some(start + 3_600), "detection time is the first one");
    let sent: Vec<_> = db
        .webhook_deliveries(org, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|x| x.key.starts_with("anomaly:"))
        .collect();
    assert_eq!(sent.len(), 1, "one delivery per anomaly");
    // the inbox is per person: the viewer reading it leaves the engineer's bell as it was
    let at = chrono::DateTime::from_timestamp(end, 0).unwrap();
    let unread = |v: Vec<app::domain::inbox::InboxItem>| v.iter().filter(|i| !i.read).count();
    let inbox = db.inbox(org, viewer.id, at).await.unwrap();
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!((inbox[0].kind, inbox[0].id), (app::domain::inbox::InboxKind::Anomaly, a.id));
    assert_eq!(db.mark_read(viewer.id, &[(inbox[0].kind, a.id)]).await.unwrap(), 1);
    assert_eq!(db.mark_read(viewer.id, &[(inbox[0].kind, a.id)]).await.unwrap(), 0, "once");
    assert_eq!(unread(db.inbox(org, viewer.id, at).await.unwrap()), 0);
    assert_eq!(unread(db.inbox(org, eng.id, at).await.unwrap()), 1);
    let later = at + chrono::Duration::days(app::domain::inbox::INBOX_DAYS + 1);
    assert!(
        db.inbox(org, eng.id, later).await.unwrap().is_empty(),
        "old alerts leave the inbox and the bell"
    );

    // the lifecycle: viewers may not act; steps must follow the lifecycle
    assert!(matches!(
        anomalies::act(&db, org, &viewer, a.id, "acknowledge", "", "").await,
        Err(app::error::AppError::Forbidden)
    ));
    anomalies::act(&db, org, &eng, a.id, "acknowledge", "eng@x.com", "looking").await.unwrap();
    let e = anomalies::act(&db, org, &eng, a.id, "acknowledge", "", "").await.unwrap_err();
    assert!(e.to_string().starts_with("action: "), "{e}");
    anomalies::act(&db, org, &eng, a.id, "resolve", "", "loop fixed").await.unwrap();
    let now = db.anomaly(org, a.id).await.unwrap().unwrap();
    assert_eq!((now.status, now.assignee.as_str()), (Status::Resolved, "eng@x.com"));
    let steps: Vec<String> =
        db.anomaly_events(org, a.id).await.unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(steps, ["detected", "acknowledge", "resolve"]);

    // a missed one is reported: the rate falls to one in two; as a false positive the
    // detected one leaves both figures
    let e = anomalies::report(&db, org, &eng, "team", "", "2026-11-05T10:00", "x").await.unwrap_err();
    assert!(e.to_string().starts_with("scope_value: "), "{e}");
    anomalies::report(&db, org, &eng, "team", "a", "2026-11-05T10:00", "batch job ran twice").await.unwrap();
    let f = anomalies::figures_in(&db, org, days).await.unwrap();
    assert_eq!((f.detected, f.reported, f.rate_pct, f.mttd_secs), (1, 1, Some(50.0), Some(3_600)));
    anomalies::act(&db, org, &eng, a.id, "reopen", "", "").await.unwrap();
    anomalies::act(&db, org, &eng, a.id, "false_positive", "", "planned load test").await.unwrap();
    let f = anomalies::figures_in(&db, org, days).await.unwrap();
    assert_eq!(
        (f.detected, f.reported, f.false_positives, f.rate_pct, f.mttd_secs),
        (0, 1, 1, Some(0.0), None)
    );
}
on_both!(anomalies_are_detected_once_with_contributors_and_counted_in_the_figures);

pub(crate) async fn a_closed_review_keeps_its_figures_and_the_next_one_shows_the_change(db: Db) {
    use app::domain::Role;
    use app::server::db::Actor;
    use app::server::services::{reviews, users};
    let org = db.ensure_org("a", "A").await.unwrap();
    let person = |email: &str, role| users::AddUser {
        email: email.into(),
        name: "P".into(),
        role,
        password: "a long enough password".into(),
        team: None,
    };
    let finance = users::add_user(&db, org, &Actor::cli(), person("fin@x.com", Role::Finance)).await.unwrap();
    let viewer = users::add_user(&db, org, &Actor::cli(), person("v@x.com", Role::Viewer)).await.unwrap();
    const K: i64 = 1_000_000_000;
    // $10 a day from 1 to 15 November
    let days = DateRange { from: d("2026-11-01"), to: d("2026-11-15") };
    let events: Vec<UsageEvent> = days
        .iter_days()
        .map(|day| event(&format!("e-{day}"), &format!("{day} 12:00:00"), "m", 10 * K))
        .collect();
    db.insert_usage_events(org, &events).await.unwrap();

    // weekly on Mondays: on Friday 20 November the review of the 16th covers 9–15 November
    let today = d("2026-11-20");
    let e = reviews::create_schedule(&db, org, &viewer, "", "weekly", "1", today).await.unwrap_err();
    assert!(matches!(e, app::error::AppError::Forbidden));
    let e = reviews::create_schedule(&db, org, &finance, "", "weekly", "9", today).await.unwrap_err();
    assert!(e.to_string().starts_with("day: "), "{e}");
    reviews::create_schedule(&db, org, &finance, "", "weekly", "1", today).await.unwrap();
    assert_eq!(reviews::ensure_due(&db, org, today).await.unwrap(), 0, "created once");
    let r1 = db.reviews(org).await.unwrap().remove(0);
    assert_eq!(
        (r1.meeting, r1.period),
        (d("2026-11-16"), DateRange { from: d("2026-11-09"), to: d("2026-11-15") })
    );
    let inbox = db.inbox(org, finance.id, chrono::Utc::now()).await.unwrap();
    assert_eq!(
        inbox.iter().filter(|i| !i.read).map(|i| (i.kind, i.id)).collect::<Vec<_>>(),
        vec![(app::domain::inbox::InboxKind::Review, r1.id)],
        "a new review is in the inbox"
    );

    let page = reviews::page(&db, org, &finance, today, r1.id).await.unwrap();
    assert_eq!(
        (page.figures.spend, page.figures.spend_before),
        (Nanos(70 * K), Nanos(70 * K)),
        "2–8 November before"
    );
    assert!(reviews::add_decision(&db, org, &viewer, r1.id, "x").await.is_err(), "viewers record nothing");
    reviews::add_decision(&db, org, &finance, r1.id, "cap model m at $60 a week").await.unwrap();
    let e = reviews::add_action(&db, org, &finance, r1.id, "switch to a smaller model", "ops", "")
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("owner: "), "{e}");
    reviews::add_action(&db, org, &finance, r1.id, "switch to a smaller model", "ops@x.com", "2026-11-27")
        .await
        .unwrap();
    reviews::close(&db, org, &finance, today, r1.id).await.unwrap();
    assert!(reviews::close(&db, org, &finance, today, r1.id)
        .await
        .unwrap_err()
        .to_string()
        .starts_with("review: "));
    assert!(reviews::add_decision(&db, org, &finance, r1.id, "late")
        .await
        .unwrap_err()
        .to_string()
        .starts_with("review: "));

    // an import lands $5 more on 12 November: the closed review keeps its figures and says so
    db.insert_usage_events(org, &[event("late", "2026-11-12 18:00:00", "m", 5 * K)]).await.unwrap();
    let closed = reviews::page(&db, org, &finance, today, r1.id).await.unwrap();
    assert_eq!(closed.figures.spend, Nanos(70 * K), "frozen");
    assert_eq!(
        closed.since,
        vec!["Spend for the period is now $75.00 (was $70.00 when closed, +$5.00).".to_string()]
    );
    assert_eq!(closed.decisions.len(), 1);

    // the next week's review compares with the week that changed; the open action carries over
    let next = d("2026-11-27");
    assert_eq!(reviews::ensure_due(&db, org, next).await.unwrap(), 1);
    let r2 = db.reviews(org).await.unwrap().remove(0);
    let p2 = reviews::page(&db, org, &finance, next, r2.id).await.unwrap();
    assert_eq!((p2.figures.previous.from, p2.figures.spend_before), (d("2026-11-09"), Nanos(75 * K)));
    assert_eq!(p2.actions.len(), 1, "carried over from the closed review");
    assert_eq!(p2.actions[0].review_id, r1.id);
    let csv = reviews::to_csv(&p2);
    assert!(csv.lines().any(|l| l == "spend,total_nanos,0,75000000000"), "{csv}");
    assert!(csv.contains("action,switch to a smaller model,ops@x.com,2026-11-27 open"), "{csv}");
    reviews::set_action_done(&db, org, &finance, p2.actions[0].id, true).await.unwrap();
    assert!(reviews::page(&db, org, &finance, next, r2.id).await.unwrap().actions.is_empty());

    // maturity: the spend has no team; one review held (of three due) with a decision
    let m = reviews::maturity(&db, org, &finance, next).await.unwrap();
    let item = |k: &str| m.items.iter().find(|i| i.key == k).unwrap().clone();
    assert!(item("tag_coverage").met(), "every test event has a team");
    assert_eq!(
        item("reviews").check,
        app::domain::maturity::Check::Auto {
            value: "1 of 3 due reviews closed with a decision".into(),
            threshold: "≥ 3".into(),
            met: false
        }
    );
    assert_eq!(m.stage, None, "stage 0 needs its items ticked by hand");
    assert!(!item("guardrails").met(), "no guardrail yet");
    // an enforced rule in force makes guardrails active; a shadow one does not count
    for (name, mode) in [("shadow cap", "shadow"), ("opus for nobody", "enforce")] {
        let rule = app::domain::guardrail::parse_rule(&serde_json::json!({"name": name, "mode": mode,
            "scope": {"kind": "org"}, "effective_from": "2026-11-01",
            "limit": {"kind": "models", "allow": false, "models": ["claude-opus-*"]}}))
        .unwrap();
        db.put_guardrail_rule(org, &rule, chrono::Utc::now()).await.unwrap();
    }
    let m = reviews::maturity(&db, org, &finance, next).await.unwrap();
    let item = |k: &str| m.items.iter().find(|i| i.key == k).unwrap().clone();
    assert_eq!(
        item("guardrails").check,
        app::domain::maturity::Check::Auto {
            value: "1 of 1 guardrails active".into(),
            threshold: "≥ 1".into(),
            met: true
        }
    );
    let e = reviews::set_manual(
        &db,
        org,
        &finance,
        &app::domain::maturity::ManualInput {
            item: "objectives".into(),
            done: "yes".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(e, app::error::AppError::Forbidden), "admins tick items");
    assert_eq!(db.maturity_history(org).await.unwrap().len(), 1);
    // the daily job scores once a day
    assert!(!reviews::record_daily_maturity(&db, org, next).await.unwrap(), "already scored today");
    assert!(reviews::record_daily_maturity(&db, org, d("2026-11-28")).await.unwrap());
    let history = db.maturity_history(org).await.unwrap();
    assert_eq!(history.iter().map(|h| h.0).collect::<Vec<_>>(), [next, d("2026-11-28")]);
}
on_both!(a_closed_review_keeps_its_figures_and_the_next_one_shows_the_change);
