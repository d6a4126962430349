//! Guardrail reservations: checked and held in one step, so racing calls never overshoot a
//! cap; settled and expired exactly once; a cap's days always equal its reservations.
use super::*;
use app::domain::guardrail::{parse_rule, Period, Rule};
use app::server::db::guardrails::{CapCheck, Checks, Hold, Reservation, RunCheck};
use app::server::db::OrgId;
use chrono::{DateTime, Duration};

fn cap_rule(name: &str, scope: serde_json::Value, usd: i64) -> Rule {
    parse_rule(&serde_json::json!({"name": name, "scope": scope, "effective_from": "2026-11-01",
        "limit": {"kind": "cap", "period": "month", "amount_nanos": usd * 1_000_000_000}}))
    .unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn setup(db: &Db, usd: i64) -> (OrgId, CapCheck) {
    let org = db.ensure_org("default", "Default").await.unwrap();
    let rule = cap_rule("team search", serde_json::json!({"kind": "team", "value": "search"}), usd);
    let id = db.put_guardrail_rule(org, &rule, at("2026-11-01T00:00:00Z")).await.unwrap();
    let (from, to) = Period::Month.window(d("2026-11-20"));
    (org, CapCheck { rule_id: id, from, to, amount: Nanos(usd * 1_000_000_000), enforce: true })
}

pub(crate) async fn a_thousand_racing_reservations_of_ten_cents_fit_fifty_under_five_dollars(db: Db) {
    let (org, cap) = setup(&db, 5).await;
    let now = at("2026-11-20T12:00:00Z");
    // 32 at a time: more than the pool's connections, as a busy server's would be
    let turns = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..1_000 {
        let (db, turns) = (db.clone(), turns.clone());
        calls.spawn(async move {
            let _turn = turns.acquire().await.unwrap();
            let id = format!("race-{i:04}");
            let hold = Hold {
                id: &id,
                provider: "openai",
                model: "gpt-4o",
                cost: Nanos(100_000_000),
                day: d("2026-11-20"),
            };
            let caps = [cap];
            db.reserve(
                org,
                &hold,
                &Checks { caps: &caps, ..Default::default() },
                now,
                now + Duration::minutes(5),
            )
            .await
        });
    }
    let answers = calls.join_all().await;
    let held = answers.iter().filter(|a| matches!(a, Ok(Reservation { held: true, .. }))).count();
    let denied = answers.iter().filter(|a| matches!(a, Ok(Reservation { held: false, .. }))).count();
    assert_eq!((held, denied), (50, 950), "{:?}", answers.iter().find(|a| a.is_err()));
    assert_eq!(db.cap_use(cap.rule_id, cap.from, cap.to).await.unwrap(), (Nanos(0), Nanos(5_000_000_000)));
    let open = db.reservations(org).await.unwrap();
    assert_eq!(open.len(), 50, "denied calls leave nothing behind");
}
on_both!(a_thousand_racing_reservations_of_ten_cents_fit_fifty_under_five_dollars);

pub(crate) async fn settling_and_expiring_close_a_reservation_once_and_free_its_money(db: Db) {
    let (org, cap) = setup(&db, 1).await;
    let now = at("2026-11-20T12:00:00Z");
    let hold = |id: &'static str, usd_cents: i64, ttl: i64| {
        let db = db.clone();
        async move {
            let hold = Hold {
                id,
                provider: "openai",
                model: "gpt-4o",
                cost: Nanos(usd_cents * 10_000_000),
                day: d("2026-11-20"),
            };
            let caps = [cap];
            db.reserve(
                org,
                &hold,
                &Checks { caps: &caps, ..Default::default() },
                now,
                now + Duration::seconds(ttl),
            )
            .await
            .unwrap()
        }
    };
    assert!(hold("a", 40, 300).await.held);
    assert!(hold("b", 40, 60).await.held);
    // $0.40 + $0.40 held: $0.30 more would pass $1.00, and the answer says by how much
    let c = hold("c", 30, 300).await;
    assert!(!c.held);
    let (u, over, enforced) = c.caps[0];
    assert!(over && enforced);
    assert_eq!((u.spent, u.reserved, u.headroom()), (Nanos(0), Nanos(800_000_000), Nanos(200_000_000)));
    // a settles for less than its worst case; settling again changes nothing
    let s = db.settle_reservation(org, "a", Nanos(120_000_000), now).await.unwrap().unwrap();
    assert_eq!((s.status.as_str(), s.actual), ("settled", Some(Nanos(120_000_000))));
    let again = db.settle_reservation(org, "a", Nanos(999_000_000), now).await.unwrap().unwrap();
    assert_eq!(again.actual, Some(Nanos(120_000_000)), "the first settlement stands");
    assert_eq!(
        db.cap_use(cap.rule_id, cap.from, cap.to).await.unwrap(),
        (Nanos(120_000_000), Nanos(400_000_000))
    );
    // b expires after its minute; an expired reservation cannot be settled afterwards
    assert_eq!(db.expire_reservations(now + Duration::seconds(59)).await.unwrap(), 0);
    assert_eq!(db.expire_reservations(now + Duration::seconds(60)).await.unwrap(), 1);
    assert_eq!(db.settle_reservation(org, "b", Nanos(1), now).await.unwrap().unwrap().status, "expired");
    assert_eq!(db.cap_use(cap.rule_id, cap.from, cap.to).await.unwrap(), (Nanos(120_000_000), Nanos(0)));
    assert!(hold("c", 30, 300).await.held, "the freed money fits c now");
    assert!(db.settle_reservation(org, "nope", Nanos(1), now).await.unwrap().is_none());
    // another organisation cannot settle this one's reservation
    let other = db.ensure_org("other", "Other").await.unwrap();
    assert!(db.settle_reservation(other, "c", Nanos(1), now).await.unwrap().is_none());
}
on_both!(settling_and_expiring_close_a_reservation_once_and_free_its_money);

/// Group commit: a batch of calls in one transaction answers as the same calls would one
/// transaction each, writes only what the held ones hold, and logs what each call said.
pub(crate) async fn a_batch_answers_as_one_transaction_per_call_would(db: Db) {
    use app::domain::guardrail::{Code, Logged};
    use app::server::db::guardrails::{Ask, LogFilter, Trail};
    let (org, cap) = setup(&db, 1).await;
    let twin = cap_rule("twin", serde_json::json!({"kind": "org"}), 1);
    let twin = CapCheck {
        rule_id: db.put_guardrail_rule(org, &twin, at("2026-11-01T00:00:00Z")).await.unwrap(),
        ..cap
    };
    let now = at("2026-11-20T12:00:00Z");
    let cents = [30, 30, 0, 25, 20, 30, 15, 5, 1, 40];
    let ids: Vec<String> = (0..cents.len()).map(|i| format!("batch-{i}")).collect();
    let holds: Vec<Hold> = ids
        .iter()
        .zip(cents)
        .map(|(id, c)| Hold {
            id,
            provider: "openai",
            model: "gpt-4o",
            cost: Nanos(c * 10_000_000),
            day: d("2026-11-20"),
        })
        .collect();
    let caps = [cap];
    let checks = Checks { caps: &caps, ..Default::default() };
    // the third call was denied by a stateless rule: it reads nothing and holds nothing
    let asks: Vec<Ask> = holds
        .iter()
        .enumerate()
        .map(|(i, h)| Ask {
            org,
            now,
            hold: (i != 2).then(|| (h.clone(), checks, now + Duration::minutes(5))),
        })
        .collect();
    let mut seen = vec![];
    let answers = db
        .authorize_batch(&asks, |i, found| {
            seen.push((i, found.map(|f| f.held)));
            let rows = match found {
                Some(f) if f.held => vec![],
                _ => vec![Logged {
                    id: 0,
                    call_id: ids[i].clone(),
                    at_ms: now.timestamp_millis(),
                    decision: "deny".into(),
                    rule_id: cap.rule_id,
                    rule: "team search".into(),
                    code: Code::BudgetExhausted,
                    enforced: true,
                    message: format!("call {i}"),
                    api_key: "k".into(),
                    team: "search".into(),
                    feature: String::new(),
                    provider: "openai".into(),
                    model: "gpt-4o".into(),
                    worst_case_nanos: Some(holds[i].cost.0),
                }],
            };
            Trail { rows, notices: vec![] }
        })
        .await
        .unwrap();
    let held: Vec<Option<bool>> = answers.iter().map(|a| a.as_ref().map(|r| r.held)).collect();
    // held $0.30, $0.60, (denied before), $0.85; $0.20 and $0.30 would pass $1; $0.15 fits exactly
    let expected = [
        Some(true),
        Some(true),
        None,
        Some(true),
        Some(false),
        Some(false),
        Some(true),
        Some(false),
        Some(false),
        Some(false),
    ];
    assert_eq!(held, expected);
    assert_eq!(seen.iter().map(|s| s.1).collect::<Vec<_>>(), expected, "the trail is asked in order");
    // the same calls, one transaction each, against a twin cap
    let twins = [twin];
    let mut one_by_one = vec![];
    for (i, h) in holds.iter().enumerate().filter(|(i, _)| *i != 2) {
        let h = Hold { id: &format!("single-{i}"), ..h.clone() };
        let r = db.reserve(org, &h, &Checks { caps: &twins, ..Default::default() }, now, now).await.unwrap();
        one_by_one.push(r.held);
    }
    let batched: Vec<bool> = held.iter().flatten().copied().collect();
    assert_eq!(batched, one_by_one);
    assert_eq!(db.cap_use(cap.rule_id, cap.from, cap.to).await.unwrap(), (Nanos(0), Nanos(1_000_000_000)));
    assert_eq!(db.cap_use(twin.rule_id, cap.from, cap.to).await.unwrap(), (Nanos(0), Nanos(1_000_000_000)));
    let stored = db.reservations(org).await.unwrap();
    let mine: Vec<&str> = stored.iter().map(|r| r.0.as_str()).filter(|id| id.starts_with("batch-")).collect();
    assert_eq!(mine, ["batch-0", "batch-1", "batch-3", "batch-6"]);
    let log = db.guardrail_decisions(org, &LogFilter { limit: 100, ..Default::default() }).await.unwrap();
    let mut logged: Vec<&str> = log.iter().map(|l| l.call_id.as_str()).collect();
    logged.sort_unstable();
    assert_eq!(logged, ["batch-2", "batch-4", "batch-5", "batch-7", "batch-8", "batch-9"]);
}
on_both!(a_batch_answers_as_one_transaction_per_call_would);

/// The ledger property over random authorize / settle / ingest / expire sequences (the bench
/// runs 100,000 of them in a release build: `costroom-bench guardrails`).
pub(crate) async fn random_sequences_keep_every_cap_equal_to_its_ledger(db: Db) {
    let r = app::server::testing::guardrail_property::run(&db, 23, 600, 50).await;
    // every kind of step happened, and the caps were full often enough to refuse
    assert!(r.held > 0 && r.refused > 0 && r.settled > 0 && r.ingested > 0 && r.expired > 0, "{r:?}");
    assert_eq!(r.checks, 12);
}
on_both!(random_sequences_keep_every_cap_equal_to_its_ledger);

pub(crate) async fn parallel_children_of_one_run_share_its_budget(db: Db) {
    let org = db.ensure_org("default", "Default").await.unwrap();
    let rule = parse_rule(
        &serde_json::json!({"name": "runs", "scope": {"kind": "org"}, "effective_from": "2026-11-01",
        "limit": {"kind": "agent", "max_run_cost_nanos": 300_000_000i64, "max_calls": 5}}),
    )
    .unwrap();
    let rule_id = db.put_guardrail_rule(org, &rule, at("2026-11-01T00:00:00Z")).await.unwrap();
    let now = at("2026-11-20T12:00:00Z");
    let child = |trace: &'static str, i: usize| {
        let db = db.clone();
        async move {
            let id = format!("{trace}-{i}");
            let hold = Hold {
                id: &id,
                provider: "openai",
                model: "gpt-4o",
                cost: Nanos(100_000_000),
                day: d("2026-11-20"),
            };
            let runs = [RunCheck {
                rule_id,
                trace_id: trace.into(),
                max_cost: Some(Nanos(300_000_000)),
                max_calls: Some(5),
                enforce: true,
            }];
            db.reserve(
                org,
                &hold,
                &Checks { runs: &runs, ..Default::default() },
                now,
                now + Duration::minutes(5),
            )
            .await
            .unwrap()
        }
    };
    // ten children of run r1 at once, $0.10 each, under a $0.30 run budget: three fit
    let mut kids = tokio::task::JoinSet::new();
    for i in 0..10 {
        let c = child("r1", i);
        kids.spawn(async move { (i, c.await) });
    }
    // join_all answers in the order the children finished: each carries its number
    let (numbers, answers): (Vec<usize>, Vec<_>) = kids.join_all().await.into_iter().unzip();
    assert_eq!(answers.iter().filter(|a| a.held).count(), 3);
    assert!(answers.iter().filter(|a| !a.held).all(|a| a.runs[0].1 && !a.runs[0].2), "denied for the budget");
    assert_eq!(db.run_use(rule_id, "r1").await.unwrap(), (Nanos(0), Nanos(300_000_000), 3));
    // another run has its own budget; settling frees r1's held money but not its calls
    assert!(child("r2", 0).await.held);
    for (i, _) in numbers.iter().zip(&answers).filter(|(_, a)| a.held) {
        db.settle_reservation(org, &format!("r1-{i}"), Nanos(0), now).await.unwrap().unwrap();
    }
    assert_eq!(db.run_use(rule_id, "r1").await.unwrap(), (Nanos(0), Nanos(0), 3));
    // the call limit: calls 4 and 5 fit (money freed), the 6th does not
    assert!(child("r1", 20).await.held);
    assert!(child("r1", 21).await.held);
    let sixth = child("r1", 22).await;
    assert!(!sixth.held && sixth.runs[0].2 && !sixth.runs[0].1, "denied for its calls, not money: {sixth:?}");
}
on_both!(parallel_children_of_one_run_share_its_budget);

fn logged(
    rule_id: i64,
    rule: &str,
    code: app::domain::guardrail::Code,
    enforced: bool,
    key: &str,
    at_ms: i64,
) -> app::domain::guardrail::Logged {
    app::domain::guardrail::Logged {
        id: 0,
        call_id: format!("call-{at_ms}-{rule_id}"),
        at_ms,
        decision: if enforced { "deny" } else { "allow" }.into(),
        rule_id,
        rule: rule.into(),
        code,
        enforced,
        message: format!("{rule} said no"),
        api_key: key.into(),
        team: "search".into(),
        feature: "faq".into(),
        provider: "openai".into(),
        model: "gpt-4o".into(),
        worst_case_nanos: Some(125_000_000),
    }
}

pub(crate) async fn the_decision_log_filters_counts_hits_and_rings_the_bell_once_a_day(db: Db) {
    use app::domain::guardrail::Code;
    use app::domain::inbox::InboxKind;
    use app::server::db::guardrails::LogFilter;
    let (org, cap) = setup(&db, 5).await;
    let now = at("2026-11-20T12:00:00Z");
    let ms = now.timestamp_millis();
    let hour = 3_600_000;
    let rows = [
        logged(cap.rule_id, "team search", Code::BudgetExhausted, true, "k1", ms - hour),
        logged(cap.rule_id, "team search", Code::BudgetExhausted, true, "k2", ms - 2 * hour),
        logged(cap.rule_id, "team search", Code::BudgetExhausted, true, "k1", ms - 3 * 24 * hour),
        logged(77, "opus", Code::ModelNotAllowed, false, "k1", ms - 5 * hour),
        logged(77, "opus", Code::ModelNotAllowed, false, "k1", ms - 30 * 24 * hour),
    ];
    for r in &rows {
        db.log_guardrail_decision(org, std::slice::from_ref(r), &[]).await.unwrap();
    }
    let week = LogFilter { since_ms: ms - 7 * 24 * hour, limit: 100, ..Default::default() };
    let all = db.guardrail_decisions(org, &week).await.unwrap();
    assert_eq!(all.len(), 4, "the 30-day-old row is outside the week");
    assert_eq!(all[0].at_ms, ms - hour, "newest first");
    assert_eq!(
        (all[0].code, all[0].worst_case_nanos, all[0].enforced),
        (Code::BudgetExhausted, Some(125_000_000), true)
    );
    // two filters at once: one rule and one key
    let f = LogFilter { rule_id: Some(cap.rule_id), api_key: Some("k1".into()), ..week.clone() };
    let both = db.guardrail_decisions(org, &f).await.unwrap();
    assert_eq!(both.iter().map(|r| r.at_ms).collect::<Vec<_>>(), vec![ms - hour, ms - 3 * 24 * hour]);
    let f = LogFilter { code: Some(Code::ModelNotAllowed), ..week.clone() };
    assert_eq!(db.guardrail_decisions(org, &f).await.unwrap().len(), 1);
    let hits = db.guardrail_hits(org, ms - 24 * hour, ms - 7 * 24 * hour).await.unwrap();
    assert_eq!(hits, vec![(cap.rule_id, 2, 3), (77, 1, 1)]);

    // the bell: one item per rule, day and outcome, however many calls
    let person = services::users::AddUser {
        email: "eng@x.com".into(),
        name: "E".into(),
        role: app::domain::Role::Engineering,
        password: "a long enough password".into(),
        team: None,
    };
    let user = services::users::add_user(&db, org, &app::server::db::Actor::cli(), person).await.unwrap().id;
    let inbox = db.inbox(org, user, now).await.unwrap();
    let mut guard: Vec<String> =
        inbox.iter().filter(|i| i.kind == InboxKind::Guardrail).map(|i| i.text.clone()).collect();
    guard.sort();
    assert_eq!(
        guard,
        vec![
            "Guardrail 'opus' warned on (not denied) 1 call on 2026-10-21.".to_string(),
            "Guardrail 'opus' warned on (not denied) 1 call on 2026-11-20.".into(),
            "Guardrail 'team search' denied 1 call on 2026-11-17.".into(),
            "Guardrail 'team search' denied 2 calls on 2026-11-20.".into(),
        ]
    );
    let item = inbox.iter().find(|i| i.text.contains("2 calls")).unwrap();
    assert_eq!(item.link, format!("/guardrails?rule={}", cap.rule_id));
    assert_eq!(db.mark_read(user, &[(InboxKind::Guardrail, item.id)]).await.unwrap(), 1);
    assert!(
        db.inbox(org, user, now)
            .await
            .unwrap()
            .iter()
            .find(|i| i.id == item.id && i.kind == InboxKind::Guardrail)
            .unwrap()
            .read
    );
}
on_both!(the_decision_log_filters_counts_hits_and_rings_the_bell_once_a_day);

/// Every kind of rule, as a file: exported from one organisation and applied to an empty one,
/// it exports the same text; applying it again changes nothing; deleting by omission frees
/// the rule's state.
pub(crate) async fn a_policy_exported_and_applied_to_an_empty_organisation_exports_the_same(db: Db) {
    use app::server::db::Actor;
    use app::server::services::policy;
    const FILE: &str = r#"
[[rule]]
name = "search monthly"
scope = "team"
scope_value = "search"
mode = "shadow"
effective_from = 2026-11-01
limit = "cap"
period = "month"
amount_usd = "500.000000001"
warn_at_pct = [50, 80]

[[rule]]
name = "no opus for faq"
scope = "feature"
scope_value = "faq"
effective_from = 2026-11-01
limit = "models"
list = "deny"
models = "claude-opus-*"
instead = "claude-haiku-4-5"

[[rule]]
name = "small calls"
effective_from = 2026-11-01
limit = "request"
max_tokens = 4096
max_cost_usd = "0.25"

[[rule]]
name = "key rate"
scope = "api_key"
scope_value = "cr_abc"
failure = "fail_open"
effective_from = 2026-11-01
limit = "rate"
requests_per_minute = 60
burst = 10

[[rule]]
name = "agents"
unpriced = "allow"
effective_from = 2026-11-01
limit = "agent"
max_depth = 5
max_retries = 3
max_run_cost_usd = "2"
max_calls = 40
"#;
    let a = db.ensure_org("a", "A").await.unwrap();
    let b = db.ensure_org("b", "B").await.unwrap();
    let now = at("2026-11-20T12:00:00Z");
    let rules = policy::check(FILE).unwrap();
    let changes = policy::apply(&db, a, &Actor::cli(), &rules, now).await.unwrap();
    assert_eq!(changes.len(), 5, "{changes:?}");
    let first = policy::export(&db.guardrail_rules(a).await.unwrap());
    assert!(first.contains("amount_usd = \"500.000000001\"\n"), "exact to the nano: {first}");
    let applied = policy::apply(&db, b, &Actor::cli(), &policy::check(&first).unwrap(), now).await.unwrap();
    assert_eq!(applied.len(), 5);
    assert_eq!(policy::export(&db.guardrail_rules(b).await.unwrap()), first);
    assert!(policy::apply(&db, b, &Actor::cli(), &rules, now).await.unwrap().is_empty(), "nothing to change");

    // a rule left out of the file is deleted with its money; a changed one keeps its id
    let ids: Vec<(String, i64)> =
        db.guardrail_rules(b).await.unwrap().into_iter().map(|r| (r.name, r.id)).collect();
    let cap_id = ids.iter().find(|x| x.0 == "search monthly").unwrap().1;
    let hold = Hold { id: "p1", provider: "openai", model: "gpt-4o", cost: Nanos(7), day: d("2026-11-20") };
    let (from, to) = Period::Month.window(d("2026-11-20"));
    let cap = CapCheck { rule_id: cap_id, from, to, amount: Nanos(500_000_000_001), enforce: false };
    let checks = Checks { caps: &[cap], rates: &[], runs: &[] };
    assert!(db.reserve(b, &hold, &checks, now, now + Duration::minutes(5)).await.unwrap().held);
    let mut fewer: Vec<Rule> = rules.iter().filter(|r| r.name != "agents").cloned().collect();
    fewer[0].mode = app::domain::guardrail::Mode::Enforce;
    let d2 = policy::apply(&db, b, &Actor::cli(), &fewer, now).await.unwrap();
    assert_eq!(d2.len(), 2, "{d2:?}");
    assert!(d2.iter().any(|l| l.starts_with("- agents")));
    let after = db.guardrail_rules(b).await.unwrap();
    assert_eq!(after.iter().find(|r| r.name == "search monthly").unwrap().id, cap_id, "same id");
    assert_eq!(db.cap_use(cap_id, from, to).await.unwrap(), (Nanos(0), Nanos(7)), "its money stays");
    assert_eq!(after.len(), 4);
    let audit = db.list_audit(b, &app::domain::audit::AuditFilter::default(), 10).await.unwrap();
    assert_eq!(audit.iter().filter(|r| r.action == "guardrail.policy_apply").count(), 2);
    // the other organisation's rules are untouched
    assert_eq!(db.guardrail_rules(a).await.unwrap().len(), 5);
}
on_both!(a_policy_exported_and_applied_to_an_empty_organisation_exports_the_same);

/// The replay on the demo data against an oracle written out by hand: a daily cap on team
/// support and a deny-list on one model of one of its features, walked in time order.
pub(crate) async fn a_replay_of_the_demo_data_matches_a_hand_computed_oracle(db: Db) {
    use app::domain::guardrail::usd_text;
    use app::server::services::{guardrails, policy};
    use std::collections::BTreeMap;
    let org = db.ensure_org("demo", "Demo").await.unwrap();
    let cfg = DemoConfig { seed: 5, end: d("2026-11-20"), days: 30, volume: 0.05 };
    services::demo::seed(&db, org, cfg, false).await.unwrap();
    let mut events = db.usage_events(org).await.unwrap();
    events.sort_by(|a, b| a.occurred_at.cmp(&b.occurred_at).then(a.event_id.cmp(&b.event_id)));
    // the cap is support's median day, so about half its days run into it
    let mut per_day: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for e in events.iter().filter(|e| e.team.as_deref() == Some("support")) {
        *per_day.entry(e.day).or_default() += e.cost_nanos;
    }
    let mut days: Vec<i64> = per_day.values().copied().collect();
    days.sort();
    let cap = days[days.len() / 2];
    let file = format!(
        "[[rule]]\nname = \"support daily\"\nscope = \"team\"\nscope_value = \"support\"\neffective_from = 2026-11-20\n\
         limit = \"cap\"\nperiod = \"day\"\namount_usd = \"{}\"\n\n[[rule]]\nname = \"no gpt-4o drafts\"\n\
         scope = \"feature\"\nscope_value = \"reply-drafts\"\nmode = \"shadow\"\neffective_from = 2026-11-20\n\
         limit = \"models\"\nlist = \"deny\"\nmodels = \"gpt-4o\"\n",
        usd_text(Nanos(cap))
    );
    let rules = policy::check(&file).unwrap();
    let report = guardrails::replay(&db, org, &rules, d("2026-10-22"), d("2026-11-20")).await.unwrap();

    // the oracle
    let (mut calls, mut spend, mut denied, mut denied_nanos) = (0i64, 0i64, 0i64, 0i64);
    let (mut cap_n, mut cap_nanos, mut model_n, mut model_nanos) = (0i64, 0i64, 0i64, 0i64);
    let mut spent: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for e in &events {
        calls += 1;
        spend += e.cost_nanos;
        let by_model = e.feature.as_deref() == Some("reply-drafts") && e.model == "gpt-4o";
        let support = e.team.as_deref() == Some("support");
        let by_cap = support && spent.get(&e.day).copied().unwrap_or(0) + e.cost_nanos > cap;
        if by_model {
            model_n += 1;
            model_nanos += e.cost_nanos;
        }
        if by_cap {
            cap_n += 1;
            cap_nanos += e.cost_nanos;
        }
        if by_model || by_cap {
            denied += 1;
            denied_nanos += e.cost_nanos;
        } else if support {
            *spent.entry(e.day).or_default() += e.cost_nanos;
        }
    }
    assert!(cap_n > 0 && model_n > 0, "both rules bite: {cap_n} {model_n}");
    assert_eq!((report.calls, report.spend_nanos), (calls, spend));
    assert_eq!((report.denied_calls, report.denied_nanos), (denied, denied_nanos));
    let r = &report.rules;
    assert_eq!(
        (r[0].rule.as_str(), r[0].denied_calls, r[0].denied_nanos),
        ("support daily", cap_n, cap_nanos)
    );
    assert_eq!(r[0].by_team, vec![("support".to_string(), cap_n, cap_nanos)]);
    assert_eq!((r[1].denied_calls, r[1].denied_nanos), (model_n, model_nanos));
    assert_eq!(r[1].by_feature, vec![("reply-drafts".to_string(), model_n, model_nanos)]);
    println!(
        "replay of {calls} demo calls: cap denied {cap_n} ({}), model rule {model_n} ({})",
        Nanos(cap_nanos).usd(),
        Nanos(model_nanos).usd()
    );
}
on_both!(a_replay_of_the_demo_data_matches_a_hand_computed_oracle);
