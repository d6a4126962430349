use super::*;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

const K: i64 = 1_000_000_000; // one dollar

fn fraud() -> Initiative {
    parse_initiative(&InitiativeInput {
        key: "fraud-shield".into(),
        name: "Fraud shield".into(),
        owner: "po@x.com".into(),
        team: "risk".into(),
        status: "live".into(),
        kickoff: "2026-03-03".into(),
        go_live: "2026-06-01".into(),
        metric: "fraud losses prevented".into(),
        unit: "USD".into(),
        value_per_unit: "1".into(),
        ..Default::default()
    })
    .unwrap()
}

fn outcome(day: &str, metric: &str, qty_milli: i64, value: i64) -> Outcome {
    Outcome {
        id: 0,
        initiative_id: 1,
        day: d(day),
        period_end: None,
        metric: metric.into(),
        quantity_milli: qty_milli,
        value: Nanos(value),
        baseline_cost: None,
        note: String::new(),
        evidence: String::new(),
        external_id: None,
        recorded_by: String::new(),
        pending: false,
        verified_by: None,
    }
}

#[test]
fn a_large_outcome_after_others_needs_evidence_and_counts_apart_until_verified() {
    // the first outcome has nothing to be compared with
    assert!(!needs_evidence(Nanos::ZERO, Nanos(1_000 * K), 50));
    // equal to everything before it: exactly half, not above
    assert!(!needs_evidence(Nanos(100 * K), Nanos(100 * K), 50));
    assert!(needs_evidence(Nanos(100 * K), Nanos(100 * K + 1), 50));
    assert!(needs_evidence(Nanos(100 * K), Nanos(40 * K), 25), "40 of 140 is above 25 %");
    assert_eq!(parse_evidence_share("").unwrap(), 50);
    assert!(parse_evidence_share("0").unwrap_err().to_string().starts_with("evidence_share_pct: '0'"));
    // ROI counts the verified and the ordinary; a pending one is shown apart
    let i = fraud();
    let mut big = outcome("2026-11-05", "orders", 0, 900 * K);
    big.pending = true;
    let outcomes = vec![outcome("2026-11-01", "orders", 0, 100 * K), big.clone()];
    let spend = vec![(d("2026-11-01"), Nanos(100 * K))];
    let m = metrics(&i, &outcomes, &spend);
    assert_eq!((m.value, m.unverified), (Nanos(100 * K), Nanos(900 * K)));
    assert_eq!(m.roi_basis_points, Some(0));
    big.verified_by = Some("fin@x.com".into());
    let m = metrics(&i, &[outcomes[0].clone(), big], &spend);
    assert_eq!((m.value, m.unverified), (Nanos(1_000 * K), Nanos::ZERO));
    assert_eq!(m.roi_basis_points, Some(90_000));
}

#[test]
fn the_seeds_worked_examples_hold_exactly() {
    // $800K of fraud losses prevented at $200K of cost ⇒ ROI 300 %
    assert_eq!(roi_basis_points(Nanos(800_000 * K), Nanos(200_000 * K)), Some(30_000));
    assert_eq!(pct_label(30_000), "300.00%");
    // go-live in week 3 (Monday 2026-01-12), first measurable outcome in week 5 (2026-01-26)
    let mut i = fraud();
    i.kickoff = None;
    i.go_live = Some(d("2026-01-12"));
    let m = metrics(&i, &[outcome("2026-01-26", "x", 0, K)], &[(d("2026-01-12"), Nanos(K))]);
    assert_eq!(m.time_to_value_days, Some(14), "two weeks");
    // kickoff in March (the 3rd), go-live 1 June ⇒ 90 days to deploy
    let m = metrics(&fraud(), &[], &[]);
    assert_eq!(m.time_to_deploy_days, Some(90));
}

#[test]
fn metrics_sum_value_and_spend_and_find_payback() {
    let spend = [
        (d("2026-06-01"), Nanos(100 * K)),
        (d("2026-06-02"), Nanos(100 * K)),
        (d("2026-06-03"), Nanos(100 * K)),
    ];
    let outcomes =
        [outcome("2026-06-02", "cases", 2_000, 150 * K), outcome("2026-06-03", "cases", 1_000, 200 * K)];
    let m = metrics(&fraud(), &outcomes, &spend);
    assert_eq!((m.value, m.spend, m.net), (Nanos(350 * K), Nanos(300 * K), Nanos(50 * K)));
    assert_eq!(m.roi_basis_points, Some(1_667), "50 / 300 = 16.67 %");
    assert_eq!(m.cost_per_outcome, vec![("cases".to_string(), Nanos(100 * K))]);
    assert_eq!(m.payback, Some(d("2026-06-03")), "350 ≥ 300 on the 3rd, 150 < 200 on the 2nd");
    assert_eq!(m.first_outcome, Some(d("2026-06-02")));
    let none = metrics(&fraud(), &[], &spend);
    assert_eq!((none.payback, none.roi_basis_points), (None, Some(-10_000)));
    assert_eq!(metrics(&fraud(), &outcomes, &[]).roi_basis_points, None, "no spend, no ROI");
}

#[test]
fn outcome_value_is_quantity_times_unit_value_to_the_nano() {
    let mut i = fraud();
    i.hypothesis.value_per_unit = Some(parse_usd("v", "15").unwrap());
    let o = parse_outcome(
        &i,
        &OutcomeInput {
            day: "2026-11-02".into(),
            metric: "tickets resolved".into(),
            quantity: "1,200".into(),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!((o.quantity_milli, o.value), (1_200_000, Nanos(18_000 * K)));
    let o = parse_outcome(
        &i,
        &OutcomeInput {
            day: "2026-11-02".into(),
            metric: "hours saved".into(),
            quantity: "2.5".into(),
            value_per_unit: "$40.10".into(),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(o.value, Nanos(100_250_000_000));
    let o = parse_outcome(
        &i,
        &OutcomeInput {
            day: "2026-11-02".into(),
            total_value: "800,000".into(),
            evidence: "https://x/y".into(),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!((o.value, o.metric.as_str()), (Nanos(800_000 * K), "fraud losses prevented"));
    assert_eq!(value_of(1, Nanos(1)), Some(Nanos(0)));
    assert_eq!(value_of(MAX_QUANTITY * 1000, crate::domain::limits::MAX_LINE_COST), None);
    assert_eq!(value_of(500, Nanos(1)), Some(Nanos(1)), "half a nano rounds away from zero");
}

#[test]
fn form_errors_name_the_field() {
    let i = fraud();
    let cases = [
        (parse_outcome(&i, &OutcomeInput { quantity: "1".into(), ..Default::default() }), "day: "),
        (
            parse_outcome(
                &i,
                &OutcomeInput {
                    day: "2026-11-02".into(),
                    period_end: "2026-11-01".into(),
                    quantity: "1".into(),
                    ..Default::default()
                },
            ),
            "period_end: ",
        ),
        (
            parse_outcome(
                &i,
                &OutcomeInput { day: "2026-11-02".into(), quantity: "-1".into(), ..Default::default() },
            ),
            "quantity: ",
        ),
        (
            parse_outcome(
                &i,
                &OutcomeInput {
                    day: "2026-11-02".into(),
                    quantity: "1".into(),
                    total_value: "lots".into(),
                    ..Default::default()
                },
            ),
            "total_value: ",
        ),
        (
            parse_outcome(
                &i,
                &OutcomeInput { day: "2026-11-02".into(), value_per_unit: "3".into(), ..Default::default() },
            ),
            "quantity: ",
        ),
        (
            parse_outcome(
                &i,
                &OutcomeInput {
                    day: "2026-11-02".into(),
                    quantity: "1".into(),
                    total_value: "5".into(),
                    evidence: "ftp://x".into(),
                    ..Default::default()
                },
            ),
            "evidence: ",
        ),
    ];
    for (r, field) in cases {
        let e = r.unwrap_err().to_string();
        assert!(e.starts_with(field), "{e}");
    }
    let e = parse_initiative(&InitiativeInput {
        key: "a b".into(),
        name: "n".into(),
        owner: "o@x".into(),
        status: "live".into(),
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.to_string().starts_with("key: "));
    let e = parse_initiative(&InitiativeInput {
        key: "a".into(),
        name: "n".into(),
        owner: "o@x".into(),
        status: "live".into(),
        kickoff: "2026-02-01".into(),
        go_live: "2026-01-01".into(),
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.to_string().starts_with("go_live: "));
    let e = parse_initiative(&InitiativeInput {
        key: "a".into(),
        name: "n".into(),
        owner: "o@x".into(),
        status: "dead".into(),
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.to_string().starts_with("status: "));
}

fn input(status: Status, daily: &[(&str, i64, i64)], outcomes: &[(&str, i64)]) -> ZombieInput {
    ZombieInput {
        status,
        daily: daily.iter().map(|(day, c, r)| (d(day), Nanos(*c), *r)).collect(),
        outcomes: outcomes.iter().map(|(day, v)| (d(day), Nanos(*v))).collect(),
    }
}

fn rules() -> ZombieRules {
    ZombieRules {
        spend_days: 30,
        min_spend: Nanos(100 * K),
        outcome_days: 60,
        roi_days: 90,
        min_roi_bp: 0,
        usage_days: 30,
        usage_drop_pct: 50,
        evidence_share_pct: 50,
    }
}

fn rules_tripped(i: &ZombieInput, today: &str) -> Vec<Rule> {
    zombie_trips(&rules(), i, d(today)).into_iter().map(|t| t.rule).collect()
}

#[test]
fn no_outcomes_trips_above_the_spend_and_outside_the_outcome_window_only() {
    let today = "2026-11-30";
    // the spend window is 1–30 November: $100 is not above $100, $100.000000001 is
    let at = input(Status::Live, &[("2026-11-01", 100 * K, 10)], &[]);
    assert_eq!(rules_tripped(&at, today), vec![]);
    let above = input(Status::Live, &[("2026-11-01", 100 * K + 1, 10)], &[]);
    assert_eq!(rules_tripped(&above, today), vec![Rule::NoOutcomes]);
    let t = &zombie_trips(&rules(), &above, d(today))[0];
    assert_eq!(t.at_stake, Nanos(100 * K + 1));
    assert!(t.reason.contains("no outcome recorded in 60 days"), "{}", t.reason);
    // 31 October is outside the 30-day window
    let before = input(Status::Live, &[("2026-10-31", 500 * K, 10)], &[]);
    assert_eq!(rules_tripped(&before, today), vec![]);
    // an outcome 59 days ago (2 October) is within 60 days; 61 days ago (30 September) is not
    let recent = input(Status::Live, &[("2026-11-01", 500 * K, 10)], &[("2026-10-02", 1_000 * K)]);
    assert_eq!(rules_tripped(&recent, today), vec![]);
    let old = input(Status::Live, &[("2026-11-01", 500 * K, 10)], &[("2026-09-30", 1_000 * K)]);
    assert_eq!(rules_tripped(&old, today), vec![Rule::NoOutcomes]);
}

#[test]
fn low_roi_trips_strictly_below_the_target() {
    let today = "2026-11-30";
    // value equals spend: ROI 0 %, not below 0 %
    let even = input(Status::Live, &[("2026-11-01", 100 * K, 10)], &[("2026-11-02", 100 * K)]);
    assert_eq!(rules_tripped(&even, today), vec![]);
    let short = input(Status::Live, &[("2026-11-01", 100 * K, 10)], &[("2026-11-02", 100 * K - 1)]);
    assert_eq!(rules_tripped(&short, today), vec![Rule::LowRoi]);
    let reason = &zombie_trips(&rules(), &short, d(today))[0].reason;
    assert!(reason.contains("below 0.00%"), "{reason}");
}

#[test]
fn fading_usage_trips_at_the_drop_and_only_while_spend_continues() {
    let today = "2026-11-30";
    let outcomes = [("2026-11-15", 10_000 * K)];
    // 100 requests in October's window, 50 in November's: exactly a 50 % drop
    let half = input(Status::Live, &[("2026-10-15", K, 100), ("2026-11-15", K, 50)], &outcomes);
    assert_eq!(rules_tripped(&half, today), vec![Rule::FadingUsage]);
    let less = input(Status::Live, &[("2026-10-15", K, 100), ("2026-11-15", K, 51)], &outcomes);
    assert_eq!(rules_tripped(&less, today), vec![]);
    let stopped = input(Status::Live, &[("2026-10-15", K, 100), ("2026-11-15", 0, 0)], &outcomes);
    assert_eq!(rules_tripped(&stopped, today), vec![], "no spend: nothing at stake");
}

#[test]
fn a_retired_initiative_that_still_spends_stays_flagged() {
    let today = "2026-11-30";
    let spends = input(Status::Retired, &[("2026-11-29", 1, 1)], &[("2026-11-20", 10 * K)]);
    assert_eq!(rules_tripped(&spends, today), vec![Rule::RetiredSpending]);
    let quiet = input(Status::Retired, &[("2026-10-01", 1, 1)], &[]);
    assert_eq!(rules_tripped(&quiet, today), vec![]);
}

#[test]
fn cumulative_spend_and_value_end_at_the_totals() {
    let spend = [(d("2026-06-01"), Nanos(3)), (d("2026-06-02"), Nanos::ZERO), (d("2026-06-04"), Nanos(4))];
    let outcomes = [outcome("2026-06-03", "x", 0, 10)];
    assert_eq!(
        cumulative(&outcomes, &spend),
        vec![
            (d("2026-06-01"), Nanos(3), Nanos(0)),
            (d("2026-06-03"), Nanos(3), Nanos(10)),
            (d("2026-06-04"), Nanos(7), Nanos(10))
        ]
    );
}

#[test]
fn rules_come_from_their_form_and_errors_name_the_field() {
    let r = parse_rules("30", "$100", "60", "90", "-12.5%", "30", "50").unwrap();
    assert_eq!((r.min_spend, r.min_roi_bp, r.usage_drop_pct), (Nanos(100 * K), -1_250, 50));
    for (args, field) in [
        (["0", "1", "1", "1", "0", "1", "1"], "spend_days: "),
        (["1", "x", "1", "1", "0", "1", "1"], "min_spend: "),
        (["1", "1", "1", "1", "-101", "1", "1"], "min_roi_pct: "),
        (["1", "1", "1", "1", "0", "1", "101"], "usage_drop_pct: "),
    ] {
        let e = parse_rules(args[0], args[1], args[2], args[3], args[4], args[5], args[6]).unwrap_err();
        assert!(e.to_string().starts_with(field), "{e}");
    }
}

#[test]
fn a_fix_decision_stands_until_its_date() {
    let mut f = Flag {
        id: 1,
        initiative_id: 1,
        rule: Rule::NoOutcomes,
        reason: String::new(),
        at_stake: Nanos::ZERO,
        raised_on: d("2026-11-01"),
        cleared_on: None,
        decisions: vec![],
    };
    assert!(f.awaiting_decision(d("2026-11-02")));
    f.decisions.push(FlagDecision {
        decision: Decision::Fix,
        owner: "po".into(),
        note: String::new(),
        fix_by: Some(d("2026-11-15")),
        decided_by: "po".into(),
        decided_on: d("2026-11-02"),
    });
    assert!(!f.awaiting_decision(d("2026-11-15")));
    assert!(f.awaiting_decision(d("2026-11-16")));
    f.cleared_on = Some(d("2026-11-16"));
    assert!(!f.awaiting_decision(d("2026-11-17")));
}

fn with_rules(key: &str, features: &str, keys: &str, tags: &str) -> Initiative {
    let mut i = parse_initiative(&InitiativeInput {
        key: key.into(),
        name: key.into(),
        owner: "o@x.com".into(),
        status: "live".into(),
        features: features.into(),
        api_keys: keys.into(),
        tags: tags.into(),
        ..Default::default()
    })
    .unwrap();
    i.id = key.bytes().map(i64::from).sum();
    i
}

#[test]
fn attribution_gives_untagged_spend_to_the_first_rule_of_anyone() {
    let a = with_rules("a", "kyc", "", "");
    let b = with_rules("bb", "", "k1", "");
    let c = with_rules("ccc", "", "", "project=x");
    let d4 = with_rules("dddd", "", "", "cc=9, cc=9");
    let all = [a.clone(), b.clone(), c.clone(), d4.clone()];
    let f = |dim: Dim, v: &[&str]| Filter { dim, values: v.iter().map(|x| x.to_string()).collect() };
    let untagged = f(Dim::Initiative, &[NOT_SET]);
    assert_eq!(attribution(&a, &all).len(), 2);
    assert_eq!(attribution(&a, &all)[0].include, vec![f(Dim::Initiative, &["a"])]);
    assert!(attribution(&a, &all)[1].exclude.is_empty(), "features come first");
    let sb = &attribution(&b, &all)[1];
    assert_eq!(sb.include, vec![untagged.clone(), f(Dim::ApiKey, &["k1"])]);
    assert_eq!(sb.exclude, vec![f(Dim::Feature, &["kyc"])]);
    // tag keys in order: cc before project, so project=x gives way to cc=9
    let sd = &attribution(&d4, &all)[1];
    assert_eq!(sd.include[1], f(Dim::Tag("cc".into()), &["9"]));
    assert_eq!(sd.exclude, vec![f(Dim::Feature, &["kyc"]), f(Dim::ApiKey, &["k1"])]);
    let sc = &attribution(&c, &all)[1];
    assert_eq!(sc.label, "untagged, tag project ∈ {x}");
    assert_eq!(
        sc.exclude,
        vec![f(Dim::Feature, &["kyc"]), f(Dim::ApiKey, &["k1"]), f(Dim::Tag("cc".into()), &["9"])]
    );
    assert_eq!(d4.tags, vec![("cc".to_string(), "9".to_string())], "a repeated pair is kept once");
}

#[test]
fn a_value_claimed_twice_is_refused_with_the_field() {
    let all = [with_rules("a", "kyc", "k1", "p=x")];
    let e = |i: Initiative| check_claims(&i, &all).unwrap_err().to_string();
    assert_eq!(e(with_rules("b", "kyc", "", "")), "features: 'kyc' already counts for the initiative 'a'");
    assert_eq!(e(with_rules("b", "", "k1", "")), "api_keys: 'k1' already counts for the initiative 'a'");
    assert_eq!(e(with_rules("b", "", "", "p=x")), "tags: 'p=x' already counts for the initiative 'a'");
    assert!(check_claims(&with_rules("b", "kyc2", "k2", "p=y"), &all).is_ok());
    assert!(check_claims(&all[0], &all).is_ok(), "an initiative does not conflict with itself");
    let bad = parse_initiative(&InitiativeInput {
        key: "b".into(),
        name: "b".into(),
        owner: "o@x".into(),
        status: "live".into(),
        tags: "p".into(),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(bad.to_string(), "tags: 'p' is not key=value");
}

#[test]
fn metrics_in_a_period_count_only_what_falls_in_it() {
    let i = fraud();
    let spend: Vec<(NaiveDate, Nanos)> =
        [("2026-06-30", 100), ("2026-07-01", 10), ("2026-07-31", 20), ("2026-08-01", 40)]
            .iter()
            .map(|(day, c)| (d(day), Nanos(c * K)))
            .collect();
    let outcomes = [outcome("2026-06-20", "x", 0, 5 * K), outcome("2026-07-15", "x", 2_000, 60 * K)];
    let july = DateRange { from: d("2026-07-01"), to: d("2026-07-31") };
    let m = metrics_in(&i, &outcomes, &spend, july);
    assert_eq!((m.spend, m.value, m.net), (Nanos(30 * K), Nanos(60 * K), Nanos(30 * K)));
    assert_eq!(m.roi_basis_points, Some(10_000));
    assert_eq!(m.cost_per_outcome, vec![("x".to_string(), Nanos(15 * K))]);
    assert_eq!(m.first_outcome, Some(d("2026-06-20")), "lifetime figures stay lifetime");
    let months = monthly(&outcomes, &spend);
    let row = |m: &MonthValue| (m.month, m.spend, m.value, m.roi_basis_points);
    assert_eq!(
        months.iter().map(row).collect::<Vec<_>>(),
        vec![
            (d("2026-06-01"), Nanos(100 * K), Nanos(5 * K), Some(-9_500)),
            (d("2026-07-01"), Nanos(30 * K), Nanos(60 * K), Some(10_000)),
            (d("2026-08-01"), Nanos(40 * K), Nanos::ZERO, Some(-10_000)),
        ]
    );
}
