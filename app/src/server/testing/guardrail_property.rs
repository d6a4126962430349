//! The guardrails' ledger property, shared by the DB contract test (a few thousand steps on
//! both backends) and `costroom-bench guardrails` (100,000 sequences in a release build):
//! random sequences of authorize (reserve against hard and soft caps), settle with a cost
//! other than the hold, expire, and ingest an event that names its reservation (sometimes
//! twice). After every sequence each cap's counters must equal the ledger, settled spend plus
//! open holds, to the nano; held money must never pass a hard cap; and what a hard cap counts
//! may pass it only by what settlements spent over their holds.
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rand::{Rng, SeedableRng};

use crate::domain::guardrail::{parse_rule, Period};
use crate::domain::usage::CostSource;
use crate::domain::{Nanos, UsageEvent};
use crate::server::db::guardrails::{CapCheck, Checks, Hold};
use crate::server::db::{Db, OrgId};
use crate::server::services::ingest::store;
use crate::server::services::prices::PriceCache;

/// What a run did, for the test's and the bench's report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub sequences: u64,
    pub operations: u64,
    pub held: u64,
    pub refused: u64,
    pub settled: u64,
    pub ingested: u64,
    pub expired: u64,
    pub checks: u64,
    /// The most a hard cap's counted money passed it (settlements over their holds), nanos.
    pub largest_overrun: i64,
}

struct Cap {
    check: CapCheck,
    hard: bool,
}

/// Runs `sequences` sequences of one to five operations from `seed`, checking the ledger
/// every `check_every` sequences and at the end. Panics naming the sequence on a breach.
pub async fn run(db: &Db, seed: u64, sequences: u64, check_every: u64) -> Report {
    let org = db.ensure_org("property", "Property").await.expect("org");
    let start: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-20T00:00:00Z").expect("time").into();
    let day = start.date_naive();
    let (from, to) = Period::Month.window(day);
    let mut caps = vec![];
    for (name, usd, hard) in [("org", 40, true), ("team", 15, true), ("feature", 6, true), ("soft", 3, false)]
    {
        let scope = if name == "org" {
            serde_json::json!({"kind": "org"})
        } else {
            serde_json::json!({"kind": "team", "value": name})
        };
        let rule = parse_rule(&serde_json::json!({"name": name, "scope": scope, "effective_from": "2026-11-01",
            "limit": {"kind": "cap", "period": "month", "amount_nanos": usd * 1_000_000_000i64, "hard": hard}}))
        .expect("rule");
        let id = db.put_guardrail_rule(org, &rule, start).await.expect("rule stored");
        let check = CapCheck { rule_id: id, from, to, amount: Nanos(usd * 1_000_000_000), enforce: hard };
        caps.push(Cap { check, hard });
    }
    let prices = PriceCache::default();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut report = Report::default();
    let mut open: Vec<(String, Nanos)> = vec![];
    let mut ingested: Vec<UsageEvent> = vec![];
    let mut clock = start;
    for seq in 0..sequences {
        report.sequences += 1;
        for _ in 0..rng.gen_range(1..=5) {
            report.operations += 1;
            clock += Duration::milliseconds(rng.gen_range(1..2_000));
            match rng.gen_range(0..20) {
                0..=9 => {
                    let which: Vec<CapCheck> =
                        caps.iter().map(|c| c.check).filter(|_| rng.gen_bool(0.6)).collect();
                    let cost = Nanos(rng.gen_range(0..300_000_000));
                    let id = format!("s{seq}-{}", report.operations);
                    let hold = Hold {
                        id: &id,
                        provider: "openai",
                        model: "gpt-4o",
                        cost,
                        day: pick_day(&mut rng, day),
                    };
                    let checks = Checks { caps: &which, ..Default::default() };
                    let ttl = Duration::seconds(rng.gen_range(1..90));
                    if db.reserve(org, &hold, &checks, clock, clock + ttl).await.expect("reserve").held {
                        report.held += 1;
                        open.push((id, cost));
                    } else {
                        report.refused += 1;
                    }
                }
                10..=13 if !open.is_empty() => {
                    // the exact cost differs from the hold: less, or up to half as much again
                    let (id, held) = open.swap_remove(rng.gen_range(0..open.len()));
                    let actual = Nanos(rng.gen_range(0..=held.0 + held.0 / 2));
                    // a hold that expired meanwhile answers as it closed, and counts nothing
                    let closed = db.settle_reservation(org, &id, actual, clock).await.expect("settle");
                    if closed.is_some_and(|c| c.status == "settled" && c.actual == Some(actual)) {
                        report.settled += 1;
                    }
                }
                14..=16 if !open.is_empty() => {
                    let (id, held) = open.swap_remove(rng.gen_range(0..open.len()));
                    let e = UsageEvent {
                        event_id: format!("ev-{id}"),
                        occurred_at: clock,
                        provider: "openai".into(),
                        model: "gpt-4o".into(),
                        request_count: 1,
                        status: "ok".into(),
                        cost: Nanos(rng.gen_range(0..=held.0 + held.0 / 3)),
                        cost_source: CostSource::Provider,
                        reservation_id: Some(id),
                        ..Default::default()
                    };
                    store(db, &prices, org, None, vec![(0, e.clone())], vec![]).await.expect("ingest");
                    report.ingested += 1;
                    ingested.push(e);
                }
                17 if !ingested.is_empty() => {
                    // a resent event: stored once, settles nothing twice
                    let e = ingested[rng.gen_range(0..ingested.len())].clone();
                    store(db, &prices, org, None, vec![(0, e)], vec![]).await.expect("resend");
                }
                _ => {
                    report.expired += db.expire_reservations(clock).await.expect("expire");
                }
            }
        }
        if (seq + 1) % check_every == 0 || seq + 1 == sequences {
            check(db, org, &caps, seq, &mut report).await;
        }
    }
    report
}

fn pick_day(rng: &mut rand_chacha::ChaCha8Rng, day: NaiveDate) -> NaiveDate {
    day.with_day0(rng.gen_range(0..30)).unwrap_or(day)
}

/// Every cap's counters against the ledger of reservations.
async fn check(db: &Db, org: OrgId, caps: &[Cap], seq: u64, report: &mut Report) {
    report.checks += 1;
    let rows = db.reservations(org).await.expect("reservations");
    let rules: std::collections::HashMap<String, Vec<i64>> =
        db.reservation_rules(org).await.expect("rules").into_iter().collect();
    for cap in caps {
        let id = cap.check.rule_id;
        let (spent, reserved) = db.cap_use(id, cap.check.from, cap.check.to).await.expect("cap use");
        let (mut s, mut o, mut over) = (0i64, 0i64, 0i64);
        for (rid, status, amount, actual) in rows.iter().filter(|r| rules[&r.0].contains(&id)) {
            match status.as_str() {
                "settled" => {
                    let a = actual.expect("a settled reservation has its cost");
                    s += a;
                    over += (a - amount).max(0);
                }
                "open" => o += amount,
                "expired" => {}
                other => panic!("sequence {seq}: reservation {rid} is '{other}'"),
            }
        }
        assert_eq!((spent, reserved), (Nanos(s), Nanos(o)), "sequence {seq}: cap {id} against its ledger");
        if cap.hard {
            assert!(o <= cap.check.amount.0, "sequence {seq}: cap {id} holds {o} over its amount");
            // counted money passes a hard cap only by what settlements spent over their holds
            let past = (s + o - cap.check.amount.0).max(0);
            assert!(
                past <= over,
                "sequence {seq}: cap {id} is {past} past its amount, settlements explain {over}"
            );
            report.largest_overrun = report.largest_overrun.max(past);
        }
    }
}
