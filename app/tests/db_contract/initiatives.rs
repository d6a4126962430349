//! Initiatives, outcomes and zombie flags.
use super::*;

pub(crate) async fn initiatives_value_and_zombie_flags_follow_outcomes_and_spend(db: Db) {
    use app::domain::initiative::{parse_initiative, parse_outcome, Rule, Status, ZombieRules};
    use app::domain::Role;
    use app::server::db::Actor;
    use app::server::services::initiatives;
    let org = db.ensure_org("a", "A").await.unwrap();
    // $10 a day tagged fraud-shield, plus $1 a day untagged on its feature kyc, through 30 November
    let days = DateRange { from: d("2026-10-01"), to: d("2026-11-30") };
    let mut events = Vec::new();
    for day in days.iter_days() {
        let mut e = event(&format!("f-{day}"), &format!("{day} 10:00:00"), "gpt-4o", 10_000_000_000);
        e.initiative = Some("fraud-shield".into());
        e.feature = Some("screening".into());
        events.push(e);
        let mut u = event(&format!("u-{day}"), &format!("{day} 11:00:00"), "gpt-4o", 1_000_000_000);
        u.feature = Some("kyc".into());
        events.push(u);
    }
    db.insert_usage_events(org, &events).await.unwrap();
    let admin = services::users::add_user(
        &db,
        org,
        &Actor::cli(),
        services::users::AddUser {
            email: "boss@x.com".into(),
            name: "Boss".into(),
            role: Role::Admin,
            password: "a long enough password".into(),
            team: None,
        },
    )
    .await
    .unwrap();
    let i = parse_initiative(&InitiativeInput {
        key: "fraud-shield".into(),
        name: "Fraud shield".into(),
        owner: "po@x.com".into(),
        team: "risk".into(),
        status: "live".into(),
        kickoff: "2026-10-01".into(),
        go_live: "2026-10-15".into(),
        metric: "fraud losses prevented".into(),
        unit: "USD".into(),
        features: "kyc".into(),
        ..Default::default()
    })
    .unwrap();
    let id = initiatives::create(&db, org, &admin, i.clone()).await.unwrap();
    let dup = initiatives::create(&db, org, &admin, i).await.unwrap_err();
    assert!(dup.to_string().starts_with("key: "), "{dup}");
    let today = d("2026-11-30");
    let rules = ZombieRules { min_spend: Nanos(100_000_000_000), ..ZombieRules::default() };
    initiatives::set_rules(&db, org, &Actor::cli(), rules).await.unwrap();

    // 61 days × $11 and no outcome: the no-outcome rule trips with the last 30 days at stake
    let line = &initiatives::portfolio(&db, org, today, &admin, None).await.unwrap()[0];
    assert_eq!(line.metrics.spend, Nanos(61 * 11_000_000_000), "tagged spend plus untagged kyc spend");
    assert_eq!(line.open_flags.len(), 1);
    assert_eq!(line.open_flags[0].rule, Rule::NoOutcomes);
    assert_eq!(line.open_flags[0].at_stake, Nanos(30 * 11_000_000_000));
    // evaluating again neither repeats nor clears it
    assert_eq!(initiatives::evaluate_flags(&db, org, today).await.unwrap(), 0);
    assert_eq!(db.flags(org, Some(id)).await.unwrap().len(), 1);

    // an outcome worth $2,684 makes ROI exactly 300 % and clears the flag
    let outcome = |total: &str, day: &str| {
        let total = total.to_string();
        let day = day.to_string();
        move |i: &app::domain::initiative::Initiative| {
            parse_outcome(
                i,
                &OutcomeInput {
                    day: (&day).into(),
                    total_value: (&total).into(),
                    note: "q3".into(),
                    ..Default::default()
                },
            )
        }
    };
    initiatives::record_outcome(&db, org, &admin, id, outcome("2684", "2026-11-20")).await.unwrap();
    let detail = initiatives::detail(&db, org, today, &admin, id, None).await.unwrap();
    assert_eq!(detail.line.metrics.value, Nanos(2_684_000_000_000));
    assert_eq!(detail.line.metrics.roi_basis_points, Some(30_000));
    assert_eq!(detail.line.metrics.time_to_value_days, Some(36));
    assert_eq!(detail.line.metrics.time_to_deploy_days, Some(14));
    assert_eq!(detail.line.metrics.payback, Some(d("2026-11-20")));
    assert!(detail.line.open_flags.is_empty());
    let flags = &detail.flags;
    assert_eq!((flags.len(), flags[0].cleared_on), (1, Some(today)), "the history keeps the cleared flag");
    assert_eq!(detail.cumulative.last().unwrap().1, Nanos(61 * 11_000_000_000));
    assert_eq!(detail.outcomes[0].recorded_by, "boss@x.com");

    // a decision to retire retires it; spending on, it is flagged again under the retired rule
    let _ = initiatives::record_outcome(&db, org, &admin, id, outcome("1", "2026-11-21")).await.unwrap();
    db.sync_flags(
        org,
        id,
        &[app::domain::initiative::Trip { rule: Rule::LowRoi, reason: "r".into(), at_stake: Nanos(1) }],
        today,
    )
    .await
    .unwrap();
    let flag = db.flags(org, Some(id)).await.unwrap().into_iter().find(|f| f.cleared_on.is_none()).unwrap();
    let err = initiatives::decide(
        &db,
        org,
        today,
        &admin,
        flag.id,
        &DecisionInput { decision: "fix".into(), fix_by: "2026-11-30".into(), ..Default::default() },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().starts_with("fix_by: "), "{err}");
    initiatives::decide(
        &db,
        org,
        today,
        &admin,
        flag.id,
        &DecisionInput {
            decision: "retire".into(),
            owner: "po@x.com".into(),
            note: "no longer needed".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let now = db.initiatives(org).await.unwrap().remove(0);
    assert_eq!(now.status, Status::Retired);
    let all = db.flags(org, Some(id)).await.unwrap();
    let decided = all.iter().find(|f| f.id == flag.id).unwrap();
    assert_eq!(decided.decisions.len(), 1);
    assert_eq!(decided.decisions[0].note, "no longer needed");
    assert!(all.iter().any(|f| f.rule == Rule::RetiredSpending && f.cleared_on.is_none()));
    let audit = db.list_audit(org, &Default::default(), 100).await.unwrap();
    for action in ["initiative.create", "outcome.create", "zombie.decision", "setting.zombie_rules"] {
        assert!(audit.iter().any(|a| a.action == action), "{action} audited");
    }
}
on_both!(initiatives_value_and_zombie_flags_follow_outcomes_and_spend);

pub(crate) async fn initiative_rules_attribute_untagged_spend_once(db: Db) {
    use app::domain::initiative::{parse_initiative, parse_outcome};
    use app::server::db::Actor;
    use app::server::services::{initiatives, users};
    let org = db.ensure_org("a", "A").await.unwrap();
    let admin = users::add_user(
        &db,
        org,
        &Actor::cli(),
        users::AddUser {
            email: "boss@x.com".into(),
            name: "Boss".into(),
            role: app::domain::Role::Admin,
            password: "a long enough password".into(),
            team: None,
        },
    )
    .await
    .unwrap();
    const K: i64 = 1_000_000_000;
    // per day: $10 tagged "a"; untagged: $1 feature kyc + key k1 (features come first: a),
    // $2 key k1 + project=x (keys before tags: b), $3 project=x (c), $4 project=x + cc=9
    // (tag keys in order, cc before project: d), $5 matching no rule (nobody's)
    let days = DateRange { from: d("2026-11-01"), to: d("2026-11-10") };
    let mut events = Vec::new();
    for day in days.iter_days() {
        let mut add = |n: &str, cost: i64, f: &dyn Fn(&mut UsageEvent)| {
            let mut e = event(&format!("{n}-{day}"), &format!("{day} 10:00:00"), "gpt-4o", cost * K);
            f(&mut e);
            events.push(e);
        };
        add("t", 10, &|e| e.initiative = Some("a".into()));
        add("f", 1, &|e| {
            e.feature = Some("kyc".into());
            e.api_key = Some("k1".into());
        });
        add("k", 2, &|e| {
            e.api_key = Some("k1".into());
            e.tags = vec![("project".into(), "x".into())];
        });
        add("p", 3, &|e| e.tags = vec![("project".into(), "x".into())]);
        add("c", 4, &|e| e.tags = vec![("cc".into(), "9".into()), ("project".into(), "x".into())]);
        add("n", 5, &|_| {});
    }
    db.insert_usage_events(org, &events).await.unwrap();
    let make = |key: &str, features: &str, keys: &str, tags: &str| {
        parse_initiative(&InitiativeInput {
            key: key.into(),
            name: key.into(),
            owner: "po@x.com".into(),
            status: "live".into(),
            kickoff: "2026-11-01".into(),
            go_live: "2026-11-01".into(),
            metric: "m".into(),
            features: features.into(),
            api_keys: keys.into(),
            tags: tags.into(),
            ..Default::default()
        })
        .unwrap()
    };
    for (k, f, a, t) in
        [("a", "kyc", "", ""), ("b", "", "k1", ""), ("c", "", "", "project=x"), ("d", "", "", "cc=9")]
    {
        initiatives::create(&db, org, &admin, make(k, f, a, t)).await.unwrap();
    }
    // a value claimed twice is refused, naming the field and who has it
    let taken = initiatives::create(&db, org, &admin, make("e", "", "", "project = x")).await.unwrap_err();
    assert_eq!(taken.to_string(), "tags: 'project=x' already counts for the initiative 'c'");
    let today = d("2026-11-10");
    let lines = initiatives::portfolio(&db, org, today, &admin, None).await.unwrap();
    let spend = |k: &str| lines.iter().find(|l| l.initiative.key == k).unwrap().metrics.spend;
    assert_eq!(
        [spend("a"), spend("b"), spend("c"), spend("d")],
        [Nanos(110 * K), Nanos(20 * K), Nanos(30 * K), Nanos(40 * K)]
    );
    assert_eq!(
        initiatives::attributed_spend(&db, org, days).await.unwrap(),
        Nanos(200 * K),
        "$5 a day is nobody's"
    );

    // the page's breakdowns add up to the initiative's spend, by rule, feature and model
    let a_id = lines.iter().find(|l| l.initiative.key == "a").unwrap().initiative.id;
    let detail = initiatives::detail(&db, org, today, &admin, a_id, None).await.unwrap();
    let by_rule = &detail.breakdowns[0].rows;
    assert_eq!(
        by_rule,
        &vec![
            ("initiative = a".to_string(), Nanos(100 * K)),
            ("untagged, feature ∈ {kyc}".to_string(), Nanos(10 * K))
        ]
    );
    for b in &detail.breakdowns {
        assert_eq!(b.rows.iter().map(|(_, c)| *c).sum::<Nanos>(), Nanos(110 * K), "{}", b.title);
    }

    // metrics over a chosen period: two days of spend, the outcome dated in it
    let record = |total: &'static str, day: &'static str| {
        move |i: &app::domain::initiative::Initiative| {
            parse_outcome(
                i,
                &OutcomeInput { day: day.into(), total_value: total.into(), ..Default::default() },
            )
        }
    };
    let o = initiatives::record_outcome(&db, org, &admin, a_id, record("33", "2026-11-05")).await.unwrap();
    let period = DateRange { from: d("2026-11-05"), to: d("2026-11-06") };
    let p = initiatives::detail(&db, org, today, &admin, a_id, Some(period)).await.unwrap();
    assert_eq!((p.period_metrics.spend, p.period_metrics.value), (Nanos(22 * K), Nanos(33 * K)));
    assert_eq!(p.period_metrics.roi_basis_points, Some(5_000));
    assert_eq!(p.months.len(), 1);
    assert_eq!((p.months[0].spend, p.months[0].value), (Nanos(110 * K), Nanos(33 * K)));

    // a correction changes the figures and keeps the old ones in the outcome's history
    initiatives::correct_outcome(&db, org, &admin, a_id, o, record("44.5", "2026-11-05")).await.unwrap();
    let c = initiatives::detail(&db, org, today, &admin, a_id, None).await.unwrap();
    assert_eq!(c.line.metrics.value, Nanos(44_500_000_000));
    let (id, history) = &c.corrections[0];
    assert_eq!(*id, o);
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].summary, "corrected: value $33.00 → $44.50");
    assert_eq!(history[0].by, "boss@x.com");
    // removing needs a reason; the removed outcome stays in the history
    let e = initiatives::remove_outcome(&db, org, &admin, a_id, o, " ").await.unwrap_err();
    assert!(e.to_string().starts_with("reason: "), "{e}");
    initiatives::remove_outcome(&db, org, &admin, a_id, o, "double entry").await.unwrap();
    let r = initiatives::detail(&db, org, today, &admin, a_id, None).await.unwrap();
    assert!(r.outcomes.is_empty());
    assert_eq!(r.line.metrics.value, Nanos::ZERO);
    let history = &r.corrections.iter().find(|(x, _)| *x == o).unwrap().1;
    assert_eq!(history.len(), 2);
    assert!(history[0].summary.contains("double entry"), "{}", history[0].summary);
}
on_both!(initiative_rules_attribute_untagged_spend_once);
