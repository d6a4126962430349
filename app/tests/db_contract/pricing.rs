//! Re-pricing, FOCUS and provider imports, GPU, training and commitments.
use super::*;

/// Random events sent in random batches, with resends of earlier batches and repeated ids
/// inside a batch: every rollup (each grain, each dimension, each bucket and value) equals the
/// sums of the raw events stored.
pub(crate) async fn rollups_equal_the_raw_events_after_random_batches_and_resends(db: Db) {
    use app::domain::pricing::Tokens;
    use app::domain::usage::CostSource;
    use rand::{Rng, SeedableRng};
    let org = db.ensure_org("a", "A").await.unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let start = Utc.with_ymd_and_hms(2026, 11, 18, 0, 0, 0).unwrap().timestamp();
    let pick = |rng: &mut rand_chacha::ChaCha8Rng, xs: &[&str]| -> Option<String> {
        let i = rng.gen_range(0..=xs.len());
        xs.get(i).map(|s| s.to_string())
    };
    let events: Vec<UsageEvent> = (0..700)
        .map(|i| {
            let input = rng.gen_range(0..5_000);
            let cache_read = rng.gen_range(0..=input);
            UsageEvent {
                event_id: format!("r{i}"),
                occurred_at: chrono::DateTime::from_timestamp(start + rng.gen_range(0..3 * 86_400), 0)
                    .unwrap(),
                provider: ["openai", "anthropic"][rng.gen_range(0..2)].into(),
                model: ["gpt-4o", "gpt-4o-mini", "claude-haiku-4-5"][rng.gen_range(0..3)].into(),
                team: pick(&mut rng, &["search", "support"]),
                feature: pick(&mut rng, &["triage", "summaries", "chat"]),
                initiative: pick(&mut rng, &["smart-search"]),
                customer: pick(&mut rng, &["acme", "globex"]),
                environment: pick(&mut rng, &["prod", "staging"]),
                api_key: pick(&mut rng, &["k1", "k2"]),
                tokens: Tokens { input, cache_read, output: rng.gen_range(0..800), ..Default::default() },
                request_count: 1,
                cost: Nanos(rng.gen_range(0..50_000_000)),
                cost_source: if rng.gen_bool(0.1) { CostSource::Unpriced } else { CostSource::Computed },
                ..Default::default()
            }
        })
        .collect();
    let mut sent = 0;
    let mut inserted = 0;
    while sent < events.len() {
        let n = rng.gen_range(1..120).min(events.len() - sent);
        let mut batch: Vec<UsageEvent> = events[sent..sent + n].to_vec();
        // a resend of some earlier events and a repeat inside the batch
        for _ in 0..rng.gen_range(0..20) {
            batch.push(events[rng.gen_range(0..sent + n)].clone());
        }
        inserted += db.insert_usage_events(org, &batch).await.unwrap();
        sent += n;
    }
    assert_eq!(inserted, 700, "each event counted once");
    assert_eq!(db.usage_events(org).await.unwrap().len(), 700);
    assert_rollups_match_raw(&db, org).await;
    let (n, total) = db.usage_totals(org).await.unwrap();
    let range = DateRange { from: d("2026-11-18"), to: d("2026-11-20") };
    assert_eq!((n, db.cost_between(org, range, None).await.unwrap()), (700, total));
}
on_both!(rollups_equal_the_raw_events_after_random_batches_and_resends);

/// Every rollup (each grain, each dimension, each bucket and value) equals the sums of the raw
/// events stored.
pub(crate) async fn assert_rollups_match_raw(db: &Db, org: app::server::db::OrgId) {
    use app::domain::rollup::{Grain, DIMS};
    use std::collections::BTreeMap;
    let raw = db.usage_events(org).await.unwrap();
    for grain in [Grain::Hour, Grain::Day] {
        for dim in DIMS {
            let mut expect: BTreeMap<(i64, String), (i64, i64, i64, i64)> = BTreeMap::new();
            for e in &raw {
                let v = match dim {
                    "total" => None,
                    "team" => e.team.clone(),
                    "initiative" => e.initiative.clone(),
                    "feature" => e.feature.clone(),
                    "customer" => e.customer.clone(),
                    "environment" => e.environment.clone(),
                    "model" => Some(e.model.clone()),
                    "provider" => Some(e.provider.clone()),
                    "api_key" => e.api_key.clone(),
                    other => panic!("{other}"),
                };
                let s = expect
                    .entry((grain.bucket(e.occurred_at.timestamp()), v.unwrap_or_default()))
                    .or_default();
                s.0 += e.cost_nanos;
                s.1 += e.cache_read_tokens;
                s.2 += 1;
                s.3 += i64::from(e.cost_source == "unpriced");
            }
            let got: BTreeMap<(i64, String), (i64, i64, i64, i64)> = db
                .rollups(org, grain, dim)
                .await
                .unwrap()
                .into_iter()
                .map(|(b, v, s)| ((b, v), (s.cost_nanos, s.cache_read_tokens, s.events, s.unpriced_events)))
                .collect();
            assert_eq!(got, expect, "{grain:?} {dim}");
        }
    }
}

pub(crate) async fn a_new_price_reprices_history_exactly_and_rollups_follow(db: Db) {
    use app::domain::pricing::{ModelPrice, Tokens};
    use app::domain::usage::CostSource;
    use app::server::db::Actor;
    use app::server::services::prices::{
        ensure_public_list, price_events, recompute, set_price, PriceCache, PriceChange,
    };
    let org = db.ensure_org("a", "A").await.unwrap();
    ensure_public_list(&db).await.unwrap();
    let cache = PriceCache::default();
    let ev = |id: &str, day: &str, model: &str, input: i64, output: i64| UsageEvent {
        event_id: id.into(),
        occurred_at: Utc.from_utc_datetime(&d(day).and_hms_opt(12, 0, 0).unwrap()),
        provider: "openai".into(),
        model: model.into(),
        team: Some("search".into()),
        tokens: Tokens { input, output, ..Default::default() },
        request_count: 1,
        cost_source: CostSource::Unpriced,
        ..Default::default()
    };
    let mut events = vec![
        ev("p1", "2026-11-01", "our-finetune", 1_000_000, 0),
        ev("p2", "2026-11-10", "our-finetune", 0, 1_000_000),
        ev("p3", "2026-11-10", "gpt-4o-2024-08-06", 1000, 500),
        ev("p4", "2026-10-31", "our-finetune", 10, 0),
    ];
    let book = cache.book(&db, org).await.unwrap();
    price_events(&book, &mut events);
    assert_eq!(events.iter().filter(|e| e.cost_source == CostSource::Unpriced).count(), 3);
    assert_eq!(events[2].cost, Nanos(7_500_000), "the dated name is priced like gpt-4o");
    db.insert_usage_events(org, &events).await.unwrap();

    // our own price from November: $2 / M input, $8 / M output
    let rates = serde_json::json!({"input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06});
    let price = ModelPrice::from_litellm(rates.as_object().unwrap()).unwrap();
    let admin = Actor::cli();
    let report = set_price(
        &db,
        &cache,
        org,
        &admin,
        PriceChange {
            model: "our-finetune".into(),
            provider: "openai".into(),
            effective_from: d("2026-11-01"),
            price,
        },
    )
    .await
    .unwrap();
    assert_eq!((report.examined, report.changed, report.unpriced), (3, 2, 0));
    assert_eq!(
        (report.before, report.after),
        (Nanos(7_500_000), Nanos(7_500_000 + 2_000_000_000 + 8_000_000_000))
    );
    let rows = db.usage_events(org).await.unwrap();
    let cost = |id: &str| {
        rows.iter().find(|r| r.event_id == id).map(|r| (r.cost_nanos, r.cost_source.clone())).unwrap()
    };
    assert_eq!(cost("p1"), (2_000_000_000, "computed".into()));
    assert_eq!(cost("p2"), (8_000_000_000, "computed".into()));
    assert_eq!(cost("p4"), (0, "unpriced".into()), "before the price's first day: still flagged");
    assert_rollups_match_raw(&db, org).await;

    let again = recompute(&db, org, &admin, d("2026-10-01"), &cache.book(&db, org).await.unwrap(), |_| ())
        .await
        .unwrap();
    assert_eq!((again.examined, again.changed, again.unpriced), (4, 0, 1), "idempotent");
    let trail = db.list_audit(org, &Default::default(), 10).await.unwrap();
    let actions: Vec<&str> = trail.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, vec!["price.recompute", "price.recompute", "price.set"]);
    assert!(trail[2]
        .changes
        .iter()
        .any(|c| c.field == "output_cost_per_token" && c.after.as_deref() == Some("0.000008")));
}
on_both!(a_new_price_reprices_history_exactly_and_rollups_follow);

pub(crate) async fn two_overlapping_reprices_never_count_a_change_twice(db: Db) {
    use app::domain::pricing::{ModelPrice, Tokens};
    use app::domain::usage::CostSource;
    use app::server::db::{Actor, NewPriceEntry};
    use app::server::services::prices::{recompute, PriceCache};
    let org = db.ensure_org("a", "A").await.unwrap();
    let events: Vec<UsageEvent> = (0..300)
        .map(|i| UsageEvent {
            event_id: format!("o{i}"),
            occurred_at: Utc.from_utc_datetime(&d("2026-11-10").and_hms_opt(i % 24, 0, 0).unwrap()),
            provider: "acme".into(),
            model: "house".into(),
            tokens: Tokens { input: 1000 + i as i64, ..Default::default() },
            request_count: 1,
            cost_source: CostSource::Unpriced,
            ..Default::default()
        })
        .collect();
    db.insert_usage_events(org, &events).await.unwrap();
    let rates = serde_json::json!({"input_cost_per_token": 1e-06});
    let price = ModelPrice::from_litellm(rates.as_object().unwrap()).unwrap();
    let row = NewPriceEntry {
        model: "house",
        provider: "acme",
        effective_from: d("2026-01-01"),
        price: &price,
        rule: None,
    };
    db.upsert_price_entries(org.0, &[row], "test", None, None).await.unwrap();
    let book = PriceCache::default().book(&db, org).await.unwrap();
    let cli = Actor::cli();
    let since = d("2026-11-01");
    let (a, b) = tokio::join!(
        recompute(&db, org, &cli, since, &book, |_| ()),
        recompute(&db, org, &cli, since, &book, |_| ())
    );
    assert_eq!(a.unwrap().changed + b.unwrap().changed, 300, "each event changed once");
    let expected: i64 = (0..300).map(|i| (1000 + i) * 1000).sum(); // 1e-6 $/token = 1000 nanos
    assert_eq!(db.usage_totals(org).await.unwrap().1, Nanos(expected));
    assert_rollups_match_raw(&db, org).await;
}
on_both!(two_overlapping_reprices_never_count_a_change_twice);

pub(crate) async fn focus_imports_replace_per_account_and_period_and_never_double_count(db: Db) {
    use app::server::db::Actor;
    use app::server::services::ledger::{import_focus, ImportMode, SOURCE_FOCUS};
    let org = db.ensure_org("a", "A").await.unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/focus/saas_examples/spend_agreements/saas_spend_agreements_a1.csv");
    let map = app::domain::ledger::LedgerRules::default();
    let cli = Actor::cli();
    let first = import_focus(&db, org, &cli, &fixture, ImportMode::ValidRows, &map, |_| ()).await.unwrap();
    assert_eq!((first.bad_rows, first.replaced), (0, 0));
    assert_eq!(first.billed, Nanos(1200 * 1_000_000_000), "the scenario's $1,200");
    let totals = db.ledger_totals(org, SOURCE_FOCUS).await.unwrap();
    assert_eq!((totals.0 as u64, totals.1), (first.imported, first.billed));
    // the same file again: replaced, not added
    let again = import_focus(&db, org, &cli, &fixture, ImportMode::ValidRows, &map, |_| ()).await.unwrap();
    assert_eq!(again.replaced, first.imported);
    assert_eq!(db.ledger_totals(org, SOURCE_FOCUS).await.unwrap(), totals);

    // a later export overlapping one billing period: only that period is replaced
    let dir = std::env::temp_dir().join("costroom-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let head = "BillingAccountId,BillingPeriodStart,BillingPeriodEnd,ChargeCategory,ChargePeriodStart,ChargePeriodEnd,BilledCost,EffectiveCost,BillingCurrency,Tags\n";
    let write = |name: &str, body: &str| {
        let p = dir.join(format!("{name}-{}-{}.csv", db.backend(), std::process::id()));
        std::fs::write(&p, format!("{head}{body}")).unwrap();
        p
    };
    let nov = write("nov", "acct-9,2026-11-01,2026-12-01,Usage,2026-11-03,2026-11-04,10.50,10.50,USD,\"{\"\"team\"\":\"\"search\"\"}\"\n\
        acct-9,2026-11-01,2026-12-01,Credit,2026-11-05,2026-11-06,-2.25,-2.25,USD,null\n\
        acct-9,2026-10-01,2026-11-01,Usage,2026-10-30,2026-10-31,4.00,4.00,USD,\"{\"\"Team\"\":\"\"risk\"\"}\"\n");
    import_focus(&db, org, &cli, &nov, ImportMode::ValidRows, &map, |_| ()).await.unwrap();
    let corrected = write("nov-corrected", "acct-9,2026-11-01,2026-12-01,Usage,2026-11-03,2026-11-04,11.00,11.00,USD,\"{\"\"team\"\":\"\"search\"\"}\"\n");
    let r = import_focus(&db, org, &cli, &corrected, ImportMode::ValidRows, &map, |_| ()).await.unwrap();
    assert_eq!(r.replaced, 2, "November's two lines replaced; October's kept");
    let by_team = db.ledger_by_team(org).await.unwrap();
    let team = |t: Option<&str>| by_team.iter().find(|(k, _)| k.as_deref() == t).map(|(_, c)| c.0);
    assert_eq!(team(Some("search")), Some(11_000_000_000));
    assert_eq!(team(Some("risk")), Some(4_000_000_000), "the Team tag spelling counts too");

    // bad rows: named by line and column; "all or nothing" imports nothing
    let bad = write(
        "bad",
        "acct-7,2026-11-01,2026-12-01,Usage,2026-11-03,2026-11-04,1.00,1.00,USD,\n\
        acct-7,2026-11-01,2026-12-01,Usage,2026-11-03,2026-11-04,one,1.00,USD,\n\
        acct-7,2026-11-01,2026-12-01,Usage,2026-11-03,2026-11-04,1.00,1.00,EUR,\n",
    );
    let before = db.ledger_totals(org, SOURCE_FOCUS).await.unwrap();
    let r = import_focus(&db, org, &cli, &bad, ImportMode::AllOrNothing, &map, |_| ()).await.unwrap();
    assert_eq!((r.bad_rows, r.imported), (2, 0));
    assert_eq!(r.errors[0].to_string(), "line 3, column 7 (BilledCost): 'one' is not a decimal amount");
    assert!(r.errors[1].to_string().starts_with("line 4, column BillingCurrency: 'EUR'"), "{}", r.errors[1]);
    assert_eq!(db.ledger_totals(org, SOURCE_FOCUS).await.unwrap(), before);
    let r = import_focus(&db, org, &cli, &bad, ImportMode::ValidRows, &map, |_| ()).await.unwrap();
    assert_eq!((r.bad_rows, r.imported), (2, 1));
    let after = db.ledger_totals(org, SOURCE_FOCUS).await.unwrap();
    assert_eq!((after.0 - before.0, after.1 .0 - before.1 .0), (1, 1_000_000_000));

    // the invoice rollups follow every replacement: they equal the ledger's effective cost
    let all_time = DateRange { from: d("2000-01-01"), to: d("2099-12-31") };
    let invoice = db.cost_between(org, all_time, Some(SpendSource::Invoice)).await.unwrap();
    assert_eq!(invoice, after.2);
    let by_source = db.cost_by_source(org, all_time).await.unwrap();
    assert_eq!(by_source.iter().map(|s| s.1).sum::<Nanos>(), after.2, "no tokens here: all of it is invoice");
    let nov = DateRange { from: d("2026-11-01"), to: d("2026-11-30") };
    assert_eq!(db.cost_between(org, nov, None).await.unwrap(), Nanos(11_000_000_000 + 1_000_000_000));
}
on_both!(focus_imports_replace_per_account_and_period_and_never_double_count);

pub(crate) async fn invoice_lines_of_services_metered_by_events_are_kept_but_not_counted(db: Db) {
    use app::domain::ledger::LedgerRules;
    use app::server::db::Actor;
    use app::server::services::ledger::{import_focus, ImportMode};
    use app::server::services::settings::{ledger_rules, set_ledger_rules};
    let org = db.ensure_org("a", "A").await.unwrap();
    let cli = Actor::cli();
    // token events: $3 of Azure OpenAI on 3 November, metered by the gateway
    let ev = event("e1", "2026-11-03 10:00:00", "gpt-4o", 3_000_000_000);
    db.insert_usage_events(org, &[ev]).await.unwrap();
    let dir = std::env::temp_dir().join("costroom-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("covered-{}-{}.csv", db.backend(), std::process::id()));
    std::fs::write(
        &p,
        "BillingAccountId,BillingPeriodStart,BillingPeriodEnd,ChargeCategory,ChargePeriodStart,ChargePeriodEnd,\
        BilledCost,EffectiveCost,BillingCurrency,ProviderName,ServiceName,Tags\n\
        az-1,2026-11-01,2026-12-01,Usage,2026-11-03,2026-11-04,3.10,3.10,USD,Microsoft,Azure OpenAI,\n\
        az-1,2026-11-01,2026-12-01,Usage,2026-11-03,2026-11-04,40.00,40.00,USD,Microsoft,Virtual Machines,\
        \"{\"\"cost-center\"\":\"\"research\"\"}\"\n",
    )
    .unwrap();
    let rules = ledger_rules(&db, org).await.unwrap();
    assert_eq!(rules, LedgerRules::default());
    let r = import_focus(&db, org, &cli, &p, ImportMode::ValidRows, &rules, |_| ()).await.unwrap();
    assert_eq!(r.not_counted, 0);
    let day = DateRange { from: d("2026-11-03"), to: d("2026-11-03") };
    assert_eq!(db.cost_between(org, day, None).await.unwrap(), Nanos(46_100_000_000), "counted twice so far");
    // the organisation says Azure OpenAI is metered by events: its invoice line stops counting
    let covered = LedgerRules { covered_by_events: vec!["azure openai".into()], ..rules };
    set_ledger_rules(&db, org, &cli, covered.clone()).await.unwrap();
    assert_eq!(db.cost_between(org, day, None).await.unwrap(), Nanos(43_000_000_000));
    assert_eq!(db.cost_between(org, day, Some(SpendSource::Invoice)).await.unwrap(), Nanos(40_000_000_000));
    assert_eq!(db.cost_between(org, day, Some(SpendSource::Tokens)).await.unwrap(), Nanos(3_000_000_000));
    // a re-import under the new rules keeps it that way, and says so
    let r = import_focus(&db, org, &cli, &p, ImportMode::ValidRows, &covered, |_| ()).await.unwrap();
    assert_eq!((r.not_counted, r.replaced), (1, 2));
    assert_eq!(db.cost_between(org, day, None).await.unwrap(), Nanos(43_000_000_000));
    // the cost-center tag attributed the VM line
    let teams = db.ledger_by_team(org).await.unwrap();
    assert!(teams.contains(&(Some("research".into()), Nanos(40_000_000_000))), "{teams:?}");
    let audit = db.list_audit(org, &Default::default(), 10).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "setting.ledger_rules"));
}
on_both!(invoice_lines_of_services_metered_by_events_are_kept_but_not_counted);

pub(crate) async fn gpu_training_and_commitments_feed_the_same_rollups_exactly(db: Db) {
    use app::server::db::Actor;
    use app::server::services::records::{parse_records, record, set_gpu_rate, RecordKind};
    let org = db.ensure_org("a", "A").await.unwrap();
    let cli = Actor::cli();
    let gpu_csv = "day,cluster,pool,gpu_type,team,initiative,allocated_gpu_hours,used_gpu_hours,cost_usd\n\
        2026-11-02,train-east,a,H100,research,support-bot,192,153.6,\n\
        2026-11-02,train-east,b,A100,research,,24,6,30.00\n\
        2026-11-03,train-east,a,H100,research,support-bot,10,11,\n";
    let rows = parse_records(gpu_csv.as_bytes(), true).unwrap();
    // no H100 rate yet: the rate-priced line is refused, naming its line and field
    let r = record(&db, org, &cli, RecordKind::GpuUsage, "gpu.csv", &rows).await.unwrap();
    assert_eq!((r.accepted, r.rejected), (1, 2));
    assert_eq!((r.errors[0].at, r.errors[0].field.as_str()), (2, "cost_usd"));
    assert!(
        r.errors[0].reason.contains("no hourly rate for GPU type 'H100' on 2026-11-02"),
        "{:?}",
        r.errors
    );
    assert_eq!((r.errors[1].at, r.errors[1].field.as_str()), (4, "used_gpu_hours"));
    set_gpu_rate(&db, org, &cli, "H100", d("2026-11-01"), "2.49").await.unwrap();
    let r = record(&db, org, &cli, RecordKind::GpuUsage, "gpu.csv", &rows).await.unwrap();
    assert_eq!((r.accepted, r.rejected), (2, 1));
    // 192 h × $2.49 = $478.08, plus the stated $30; sending the file again replaced, not added
    let nov2 = DateRange { from: d("2026-11-02"), to: d("2026-11-02") };
    assert_eq!(db.cost_between(org, nov2, Some(SpendSource::Gpu)).await.unwrap(), Nanos(508_080_000_000));
    let summary = db.gpu_usage_summary(org, d("2026-11-01"), d("2026-11-30")).await.unwrap();
    assert_eq!(
        summary
            .iter()
            .map(|s| (s.gpu_type.as_str(), s.allocated_mhours, s.used_mhours, s.cost_nanos))
            .collect::<Vec<_>>(),
        vec![("H100", 192_000, 153_600, 478_080_000_000), ("A100", 24_000, 6_000, 30_000_000_000)]
    );

    // a training run priced by GPU-hours × rate, spread over the days it ran
    let run = serde_json::json!([{ "run_id": "ft-7", "model": "llama-3-8b-ft", "initiative": "support-bot",
        "team": "research", "started_at": "2026-11-02T18:00:00Z", "ended_at": "2026-11-04T06:00:00Z",
        "gpu_type": "H100", "gpu_hours": 288, "metric_name": "eval accuracy", "metric_score": 0.82 }]);
    let rows = parse_records(run.to_string().as_bytes(), false).unwrap();
    let r = record(&db, org, &cli, RecordKind::TrainingRuns, "api", &rows).await.unwrap();
    assert_eq!((r.accepted, r.cost), (1, Nanos(717_120_000_000)));
    let training = |from: &str, to: &str| {
        let db = db.clone();
        let range = DateRange { from: d(from), to: d(to) };
        async move { db.cost_between(org, range, Some(SpendSource::Training)).await.unwrap() }
    };
    assert_eq!(training("2026-11-02", "2026-11-02").await, Nanos(119_520_000_000), "6 of 36 hours");
    assert_eq!(training("2026-11-01", "2026-11-30").await, Nanos(717_120_000_000));
    // a new rate from 2 November re-prices the GPU day and the run, exactly
    set_gpu_rate(&db, org, &cli, "H100", d("2026-11-02"), "2.00").await.unwrap();
    assert_eq!(training("2026-11-01", "2026-11-30").await, Nanos(576_000_000_000));
    assert_eq!(db.cost_between(org, nov2, Some(SpendSource::Gpu)).await.unwrap(), Nanos(414_000_000_000));
    let runs = db.training_runs(org).await.unwrap();
    assert_eq!(
        (runs.len(), runs[0].cost_nanos, runs[0].cost_basis.as_str()),
        (1, 576_000_000_000, "gpu_rate")
    );

    // a commitment: $26,000 over 30 days of November, $866.666666667 a day at most
    let c = "provider,model,deployment,units,tokens_per_minute,term_start,term_end,price_usd,team\n\
        azure,gpt-4o,prod-ptu,50,125000,2026-11-01,2026-11-30,26000,search\n";
    let r = record(
        &db,
        org,
        &cli,
        RecordKind::Commitments,
        "ptu.csv",
        &parse_records(c.as_bytes(), true).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(r.accepted, 1);
    let nov = DateRange { from: d("2026-11-01"), to: d("2026-11-30") };
    assert_eq!(
        db.cost_between(org, nov, Some(SpendSource::Commitment)).await.unwrap(),
        Nanos(26_000_000_000_000)
    );
    let days = db.daily_costs(org, nov, Some(SpendSource::Commitment)).await.unwrap();
    assert_eq!(days.len(), 30);
    assert!(days.iter().all(|x| (866_666_666_666..=866_666_666_667).contains(&x.cost.0)), "{days:?}");
    // every source adds up in the total
    let by_source = db.cost_by_source(org, nov).await.unwrap();
    let total: Nanos = by_source.iter().map(|s| s.1).sum();
    assert_eq!(db.cost_between(org, nov, None).await.unwrap(), total);
    // GPU: 192 h × $2.00 + the stated $30; training 288 h × $2.00; the commitment
    assert_eq!(total, Nanos(384_000_000_000 + 30_000_000_000 + 576_000_000_000 + 26_000_000_000_000));
}
on_both!(gpu_training_and_commitments_feed_the_same_rollups_exactly);

pub(crate) async fn focus_export_is_valid_and_reimports_to_the_same_totals(db: Db) {
    use app::server::db::Actor;
    use app::server::formats::demo::DemoConfig;
    use app::server::formats::focus::export::{export, Selection};
    use app::server::formats::focus::model::Model;
    use app::server::services::ledger::{import_focus, ImportMode};
    use app::server::services::records::{parse_records, record, RecordKind};
    let org = db.ensure_org("a", "A").await.unwrap();
    let cli = Actor::cli();
    app::server::services::prices::ensure_public_list(&db).await.unwrap();
    let cfg = DemoConfig { days: 5, volume: 0.1, ..DemoConfig::new(7, d("2026-11-05")) };
    services::demo::seed(&db, org, cfg, false).await.unwrap();
    let gpu = "day,cluster,gpu_type,team,allocated_gpu_hours,used_gpu_hours,cost_usd\n\
        2026-11-02,train-east,H100,research,192,153.6,478.08\n";
    record(&db, org, &cli, RecordKind::GpuUsage, "gpu.csv", &parse_records(gpu.as_bytes(), true).unwrap())
        .await
        .unwrap();
    let ptu =
        "provider,model,units,term_start,term_end,price_usd\nazure,gpt-4o,50,2026-11-01,2026-11-30,26000\n";
    record(&db, org, &cli, RecordKind::Commitments, "ptu", &parse_records(ptu.as_bytes(), true).unwrap())
        .await
        .unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/focus-model");
    let credit =
        std::env::temp_dir().join(format!("costroom-credit-{}-{}.csv", db.backend(), std::process::id()));
    std::fs::write(
        &credit,
        "BillingAccountId,BillingPeriodStart,BillingPeriodEnd,ChargeCategory,ChargePeriodStart,ChargePeriodEnd,\
        BilledCost,EffectiveCost,BillingCurrency,ServiceCategory,ServiceName,Tags\n\
        c-1,2026-11-01,2026-12-01,Credit,2026-11-03,2026-11-04,-12.345678901,-12.345678901,USD,AI and Machine Learning,Bedrock,\n",
    )
    .unwrap();
    let rules = app::domain::ledger::LedgerRules::default();
    import_focus(&db, org, &cli, &credit, ImportMode::ValidRows, &rules, |_| ()).await.unwrap();

    let range = DateRange { from: d("2026-11-01"), to: d("2026-11-30") };
    let mut text = String::new();
    export(&db, org, "A", Selection { range, source: None }, &mut text).await.unwrap();
    let rows = text.lines().count() - 1;
    assert!(rows > 100, "{rows} rows");
    assert!(text.contains(",Generative AI,") && text.contains("/output,") && text.contains(",tokens\r"));

    // valid against the FOCUS 1.2 rules for the columns written
    let model = Model::load(
        &std::fs::read_to_string(fixtures.join("model-1.2.json")).unwrap(),
        &std::fs::read_to_string(fixtures.join("currency_codes.csv")).unwrap(),
    )
    .unwrap();
    let checked = model.rules_for(&app::server::formats::focus::export::COLUMNS);
    assert!(checked >= 20, "{checked} column rules (each a composite of the column's requirements) apply");
    let violations = model.check_csv(&text).unwrap();
    let mut broken: Vec<&str> = violations.iter().map(|(_, v)| v.rule.as_str()).collect();
    broken.sort();
    broken.dedup();
    assert!(
        violations.is_empty(),
        "{} violations of {broken:?}, first: {:?}",
        violations.len(),
        violations.first()
    );

    // re-imported (into another organisation) it gives the same totals to the nano-dollar
    let expected = db.cost_between(org, range, None).await.unwrap();
    let file =
        std::env::temp_dir().join(format!("costroom-export-{}-{}.csv", db.backend(), std::process::id()));
    std::fs::write(&file, &text).unwrap();
    let other = db.ensure_org("b", "B").await.unwrap();
    let r = import_focus(&db, other, &cli, &file, ImportMode::AllOrNothing, &rules, |_| ()).await.unwrap();
    assert_eq!((r.bad_rows, r.imported as usize), (0, rows), "{:?}", r.errors.first());
    assert_eq!(r.effective, expected);
    assert_eq!(r.billed, expected);
    assert_eq!(db.cost_between(other, range, None).await.unwrap(), expected);
    // one source at a time: the tokens part is the token rollups' total
    let mut tokens_only = String::new();
    export(&db, org, "A", Selection { range, source: Some(SpendSource::Tokens) }, &mut tokens_only)
        .await
        .unwrap();
    std::fs::write(&file, &tokens_only).unwrap();
    let third = db.ensure_org("c", "C").await.unwrap();
    let r = import_focus(&db, third, &cli, &file, ImportMode::AllOrNothing, &rules, |_| ()).await.unwrap();
    assert_eq!(r.effective, db.cost_between(org, range, Some(SpendSource::Tokens)).await.unwrap());
}
on_both!(focus_export_is_valid_and_reimports_to_the_same_totals);

pub(crate) async fn provider_reports_import_once_and_reconcile_with_events(db: Db) {
    use app::server::db::Actor;
    use app::server::services::reconcile::{import_report, reconciliation, ReportKind};
    let org = db.ensure_org("a", "A").await.unwrap();
    let cli = Actor::cli();
    let fixture = |f: &str| {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/provider-reports").join(f),
        )
        .unwrap()
    };
    // Anthropic's cost report states cents: "123.78912" is $1.2378912
    let r = import_report(&db, org, &cli, ReportKind::AnthropicCosts, &fixture("example_cost_report.json"))
        .await
        .unwrap();
    assert_eq!((r.lines, r.cost), (1, Nanos(1_237_891_200)));
    assert!(r.next_page.is_some(), "the cursor for the next page is kept");
    let r = import_report(&db, org, &cli, ReportKind::OpenAiCosts, &fixture("example_response_costs.json"))
        .await
        .unwrap();
    assert_eq!(r.cost, Nanos(60_000_000), "OpenAI states dollars: 0.06");
    let u = import_report(
        &db,
        org,
        &cli,
        ReportKind::AnthropicUsage,
        &fixture("example_usage_report_messages.json"),
    )
    .await
    .unwrap();
    assert_eq!(u.tokens, 3_700, "1,500 uncached + 1,500 cache writes + 200 cache reads in, 500 out");
    let u = import_report(
        &db,
        org,
        &cli,
        ReportKind::OpenAiUsage,
        &fixture("example_response_usage_completions.json"),
    )
    .await
    .unwrap();
    assert_eq!(u.tokens, 1_500);
    // the events Costroom priced for the same day and model: $1.20 of Claude Opus 5
    let mut ev = event("e1", "2025-08-01 10:00:00", "claude-opus-5", 1_200_000_000);
    ev.provider = "anthropic".into();
    db.insert_usage_events(org, &[ev]).await.unwrap();
    let range = DateRange { from: d("2024-11-01"), to: d("2025-08-31") };
    let rec = reconciliation(&db, org, range).await.unwrap();
    let row = rec.rows.iter().find(|r| r.provider == "anthropic" && r.model == "claude-opus-5").unwrap();
    assert_eq!(
        (row.reported, row.computed, row.variance),
        (Some(Nanos(1_237_891_200)), Nanos(1_200_000_000), Nanos(37_891_200))
    );
    assert!((row.variance_pct.unwrap() - 3.1576).abs() < 1e-4, "{:?}", row.variance_pct);
    // importing the same reports again replaces: the figures do not move
    import_report(&db, org, &cli, ReportKind::AnthropicCosts, &fixture("example_cost_report.json"))
        .await
        .unwrap();
    assert_eq!(reconciliation(&db, org, range).await.unwrap(), rec);
    let anthropic = rec.totals.iter().find(|t| t.provider == "anthropic").unwrap();
    assert_eq!(anthropic.reported, Nanos(1_237_891_200));
}
on_both!(provider_reports_import_once_and_reconcile_with_events);

/// One event of the house model ($2 per million input tokens once priced), as a machine sends it.
fn house_event(id: &str, day: &str) -> (usize, UsageEvent) {
    use app::domain::pricing::Tokens;
    let e = UsageEvent {
        event_id: id.into(),
        occurred_at: Utc.from_utc_datetime(&d(day).and_hms_opt(12, 0, 0).unwrap()),
        provider: "acme".into(),
        model: "house-model".into(),
        team: Some("ml".into()),
        tokens: Tokens { input: 1_000_000, ..Default::default() },
        request_count: 1,
        ..Default::default()
    };
    (0, e)
}

const HOUSE_PRICE: &str = r#"{"house-model": {"litellm_provider": "acme", "input_cost_per_token": 2e-06}}"#;

/// A price stored by another process (the CLI, a second server) with its own cache: this
/// server's very next batch is priced with it, and an unpriced event the change's own
/// re-price did not reach (a raw entry, a date before the import's first day) is priced by the
/// sweep, exactly, with the rollups following.
pub(crate) async fn a_price_stored_elsewhere_prices_the_next_batch_and_the_sweep_prices_the_rest(db: Db) {
    use app::server::db::{Actor, NewPriceEntry};
    use app::server::services::ingest::store;
    use app::server::services::prices::{ensure_public_list, import_price_list, sweep_unpriced, PriceCache};
    let org = db.ensure_org("a", "A").await.unwrap();
    ensure_public_list(&db).await.unwrap();
    let _ = sweep_unpriced(&db, org).await.unwrap();
    let server = PriceCache::default();
    let r = store(&db, &server, org, None, vec![house_event("h1", "2026-11-05")], vec![]).await.unwrap();
    assert_eq!((r.accepted, r.unpriced), (1, 1));
    assert_eq!(sweep_unpriced(&db, org).await.unwrap(), None, "nothing changed since the last sweep");

    // the CLI beside the server: its own cache, its own re-price from Nov 10
    let cli = PriceCache::default();
    import_price_list(&db, &cli, org, &Actor::cli(), HOUSE_PRICE, d("2026-11-10")).await.unwrap();
    let r = store(&db, &server, org, None, vec![house_event("h2", "2026-11-12")], vec![]).await.unwrap();
    assert_eq!((r.accepted, r.unpriced), (1, 0), "the next batch sees the new price");
    // h1 (Nov 5) lies before the price's first day: still unpriced, and the sweep agrees
    let swept = sweep_unpriced(&db, org).await.unwrap().expect("the book moved");
    assert_eq!((swept.examined, swept.changed, swept.unpriced), (1, 0, 1));

    // a raw entry from October (no re-price of its own, as a second server's bulk load would be)
    let rates = serde_json::json!({"input_cost_per_token": 1.5e-06});
    let price = app::domain::pricing::ModelPrice::from_litellm(rates.as_object().unwrap()).unwrap();
    let row = NewPriceEntry {
        model: "house-model",
        provider: "acme",
        effective_from: d("2026-10-01"),
        price: &price,
        rule: None,
    };
    db.upsert_price_entries(org.0, &[row], "override", None, None).await.unwrap();
    let swept = sweep_unpriced(&db, org).await.unwrap().expect("the book moved again");
    assert_eq!((swept.examined, swept.changed, swept.unpriced), (1, 1, 0));
    assert_eq!((swept.before, swept.after), (Nanos(0), Nanos(1_500_000_000)));
    let rows = db.usage_events(org).await.unwrap();
    let cost = |id: &str| {
        rows.iter().find(|r| r.event_id == id).map(|r| (r.cost_nanos, r.cost_source.clone())).unwrap()
    };
    assert_eq!(cost("h1"), (1_500_000_000, "computed".into()));
    assert_eq!(cost("h2"), (2_000_000_000, "computed".into()));
    assert_rollups_match_raw(&db, org).await;
    let trail = db.list_audit(org, &Default::default(), 10).await.unwrap();
    assert_eq!(trail[0].action, "price.reprice_unpriced");
    assert_eq!(sweep_unpriced(&db, org).await.unwrap(), None, "swept once");
}
on_both!(a_price_stored_elsewhere_prices_the_next_batch_and_the_sweep_prices_the_rest);

/// Batches racing a price import from another process: each batch either lands before the
/// import commits (and the import's re-price finds it) or after (and is priced with the new
/// book). None is left unpriced or priced from the old book.
pub(crate) async fn batches_racing_a_price_import_all_end_priced_exactly(db: Db) {
    use app::server::db::Actor;
    use app::server::services::ingest::store;
    use app::server::services::prices::{ensure_public_list, import_price_list, PriceCache};
    let org = db.ensure_org("a", "A").await.unwrap();
    ensure_public_list(&db).await.unwrap();
    let server = PriceCache::default();
    // the server's book is warm (and has no house-model) before the race starts
    store(&db, &server, org, None, vec![house_event("warm", "2026-11-12")], vec![]).await.unwrap();
    let mut tasks = vec![];
    for i in 0..24 {
        let (db, server) = (db.clone(), server.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(3 * i)).await;
            let batch: Vec<_> = (0..5).map(|j| house_event(&format!("r{i}-{j}"), "2026-11-12")).collect();
            store(&db, &server, org, None, batch, vec![]).await.unwrap()
        }));
    }
    let cli = PriceCache::default();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    import_price_list(&db, &cli, org, &Actor::cli(), HOUSE_PRICE, d("2026-11-01")).await.unwrap();
    let mut accepted = 0;
    for t in tasks {
        accepted += t.await.unwrap().accepted;
    }
    assert_eq!(accepted, 24 * 5);
    let rows = db.usage_events(org).await.unwrap();
    assert_eq!(rows.len(), 24 * 5 + 1);
    let wrong: Vec<_> = rows
        .iter()
        .filter(|r| (r.cost_nanos, r.cost_source.as_str()) != (2_000_000_000, "computed"))
        .collect();
    assert!(wrong.is_empty(), "{} events priced from the old book: {:?}", wrong.len(), wrong.first());
    assert_rollups_match_raw(&db, org).await;
}
on_both!(batches_racing_a_price_import_all_end_priced_exactly);

/// The fence itself: a batch priced with the book of before a price change that committed
/// (with its re-price) before the batch's write is refused, with nothing stored, and priced
/// again from the new version.
pub(crate) async fn a_batch_priced_before_a_price_change_is_refused_at_insert(db: Db) {
    use app::domain::usage::CostSource;
    use app::server::db::Actor;
    use app::server::services::prices::{ensure_public_list, import_price_list, price_events, PriceCache};
    let org = db.ensure_org("a", "A").await.unwrap();
    ensure_public_list(&db).await.unwrap();
    let server = PriceCache::default();
    let (before, book) = server.current(&db, org).await.unwrap();
    let mut events = vec![house_event("f1", "2026-11-12").1];
    price_events(&book, &mut events);
    assert_eq!(events[0].cost_source, CostSource::Unpriced);
    import_price_list(&db, &PriceCache::default(), org, &Actor::cli(), HOUSE_PRICE, d("2026-11-01"))
        .await
        .unwrap();
    assert_eq!(db.insert_priced_events(org, &events, before).await.unwrap(), None, "stale book refused");
    assert!(db.usage_events(org).await.unwrap().is_empty(), "nothing stored");
    let (after, book) = server.current(&db, org).await.unwrap();
    assert!(after > before);
    let mut events = vec![house_event("f1", "2026-11-12").1];
    price_events(&book, &mut events);
    assert_eq!(events[0].cost, Nanos(2_000_000_000));
    let stored = db.insert_priced_events(org, &events, after).await.unwrap().expect("current book");
    assert!(stored.contains("f1"));
}
on_both!(a_batch_priced_before_a_price_change_is_refused_at_insert);
