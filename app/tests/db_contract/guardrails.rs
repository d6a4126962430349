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

pub(crate) async fn random_reserve_settle_expire_keep_every_cap_equal_to_its_reservations(db: Db) {
    use rand::{Rng, SeedableRng};
    let org = db.ensure_org("default", "Default").await.unwrap();
    let now = at("2026-11-20T12:00:00Z");
    let (from, to) = Period::Month.window(d("2026-11-20"));
    let mut caps = vec![];
    for (name, usd) in [("org", 7), ("team", 3), ("feature", 2)] {
        let scope = if name == "org" {
            serde_json::json!({"kind": "org"})
        } else {
            serde_json::json!({"kind": name, "value": "x"})
        };
        let id = db.put_guardrail_rule(org, &cap_rule(name, scope, usd), now).await.unwrap();
        caps.push(CapCheck { rule_id: id, from, to, amount: Nanos(usd * 1_000_000_000), enforce: true });
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(23);
    let mut open: Vec<String> = vec![];
    let mut clock = now;
    for step in 0..400 {
        clock += Duration::seconds(1);
        match rng.gen_range(0..10) {
            0..=5 => {
                let which: Vec<CapCheck> = caps.iter().copied().filter(|_| rng.gen_bool(0.7)).collect();
                let cost = Nanos(rng.gen_range(0..400_000_000));
                let day = d(&format!("2026-11-{:02}", rng.gen_range(1..=30)));
                let id = format!("p-{step}");
                let ttl = Duration::seconds(rng.gen_range(1..120));
                let hold = Hold { id: &id, provider: "openai", model: "gpt-4o", cost, day };
                let checks = Checks { caps: &which, ..Default::default() };
                if db.reserve(org, &hold, &checks, clock, clock + ttl).await.unwrap().held {
                    open.push(id);
                }
            }
            6..=8 if !open.is_empty() => {
                let id = open.swap_remove(rng.gen_range(0..open.len()));
                let actual = Nanos(rng.gen_range(0..400_000_000));
                db.settle_reservation(org, &id, actual, clock).await.unwrap();
            }
            _ => {
                db.expire_reservations(clock).await.unwrap();
            }
        }
    }
    // the ledger: every settled cost and open worst case, per cap, from the reservations
    let rows = db.reservations(org).await.unwrap();
    assert!(rows.iter().any(|r| r.1 == "settled") && rows.iter().any(|r| r.1 == "expired"), "{rows:?}");
    let spec: std::collections::HashMap<String, Vec<i64>> =
        db.reservation_rules(org).await.unwrap().into_iter().collect();
    for cap in &caps {
        let (spent, reserved) = db.cap_use(cap.rule_id, cap.from, cap.to).await.unwrap();
        let mine = rows.iter().filter(|r| spec[&r.0].contains(&cap.rule_id));
        let (mut s, mut o) = (0i64, 0i64);
        for (_, status, amount, actual) in mine {
            match status.as_str() {
                "settled" => s += actual.unwrap(),
                "open" => o += amount,
                _ => {}
            }
        }
        assert_eq!((spent, reserved), (Nanos(s), Nanos(o)), "cap {}", cap.rule_id);
        // held money never passed the cap (settlements may, by what they spent over their hold)
        assert!(o <= cap.amount.0, "cap {} holds {o}", cap.rule_id);
    }
}
on_both!(random_reserve_settle_expire_keep_every_cap_equal_to_its_reservations);

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
