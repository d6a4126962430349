//! Database contract: every `Db` function behaves the same on SQLite and PostgreSQL. Each
//! behaviour is one async fn taking a fresh `Db`; `on_both!` runs it once per backend.
#![cfg(feature = "ssr")]

use app::domain::{DateRange, Nanos, UsageEvent};
use app::on_both;
use app::server::db::{Db, UsageEventRow};
use app::server::demo::{generate, DemoConfig};
use app::server::services;
use app::server::testing::TestDb;
use chrono::{NaiveDate, TimeZone, Utc};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn event(id: &str, at: &str, model: &str, cost: i64) -> UsageEvent {
    UsageEvent {
        event_id: id.to_string(),
        occurred_at: Utc
            .from_utc_datetime(&chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S").unwrap()),
        provider: "openai".into(),
        model: model.into(),
        team: Some("search".into()),
        feature: None,
        initiative: None,
        customer: Some("acme".into()),
        environment: Some("prod".into()),
        input_tokens: 1_000,
        output_tokens: 200,
        request_count: 1,
        cost: Nanos(cost),
    }
}

async fn migrations_are_idempotent(db: Db) {
    db.migrate().await.expect("second migrate is a no-op");
    db.ping().await.unwrap();
}
on_both!(migrations_are_idempotent);

async fn orgs_are_created_once(db: Db) {
    let a = db.ensure_org("acme", "Acme").await.unwrap();
    let again = db.ensure_org("acme", "Acme renamed").await.unwrap();
    let b = db.ensure_org("globex", "Globex").await.unwrap();
    assert_eq!(a, again);
    assert_ne!(a, b);
}
on_both!(orgs_are_created_once);

async fn daily_costs_sum_exactly_per_day_and_skip_other_orgs(db: Db) {
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
    let rows = db.daily_costs(org, range).await.unwrap();
    let got: Vec<(NaiveDate, i64, i64)> = rows.iter().map(|r| (r.day, r.cost.0, r.requests)).collect();
    assert_eq!(got, vec![(d("2026-11-01"), 4_000_000_002, 2), (d("2026-11-03"), 123_456_789_012, 1)]);
    assert_eq!(db.cost_between(org, range).await.unwrap(), Nanos(127_456_789_014));
    let oct = DateRange { from: d("2026-10-31"), to: d("2026-10-31") };
    assert_eq!(db.cost_between(org, oct).await.unwrap(), Nanos(7));
    let empty = DateRange { from: d("2020-01-01"), to: d("2020-01-31") };
    assert_eq!(db.cost_between(org, empty).await.unwrap(), Nanos(0));
    assert!(db.daily_costs(org, empty).await.unwrap().is_empty());
}
on_both!(daily_costs_sum_exactly_per_day_and_skip_other_orgs);

async fn a_retried_batch_changes_no_total(db: Db) {
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

async fn events_round_trip_unchanged(db: Db) {
    let org = db.ensure_org("a", "A").await.unwrap();
    let mut e = event("rt", "2026-11-02 08:09:10", "gpt-4o", i64::MAX / 4);
    e.team = None;
    e.feature = Some("search: ünïcode ✓".into());
    db.insert_usage_events(org, std::slice::from_ref(&e)).await.unwrap();
    let rows = db.usage_events(org).await.unwrap();
    assert_eq!(rows, vec![UsageEventRow::from(&e)]);
}
on_both!(events_round_trip_unchanged);

async fn large_batches_cross_chunk_boundaries(db: Db) {
    let org = db.ensure_org("a", "A").await.unwrap();
    let events: Vec<UsageEvent> =
        (0..2_345).map(|i| event(&format!("c{i:05}"), "2026-11-05 12:00:00", "gpt-4o", i)).collect();
    assert_eq!(db.insert_usage_events(org, &events).await.unwrap(), 2_345);
    let expected: i64 = (0..2_345).sum();
    assert_eq!(db.usage_totals(org).await.unwrap(), (2_345, Nanos(expected)));
}
on_both!(large_batches_cross_chunk_boundaries);

async fn demo_seed_is_deterministic_and_reconciles(db: Db) {
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
    let by_day: i64 = db.daily_costs(org, range).await.unwrap().iter().map(|r| r.cost.0).sum();
    assert_eq!(by_day, total, "daily totals reconcile with the rows");

    let reset = services::demo::seed(&db, org, cfg, true).await.unwrap();
    assert_eq!((reset.removed as usize, reset.inserted as usize), (first.generated, first.generated));
}
on_both!(demo_seed_is_deterministic_and_reconciles);

async fn overview_service_reads_month_to_date(db: Db) {
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
    let o = services::overview::overview(&db, org, d("2026-11-10"), Some("2026-10-01"), None).await.unwrap();
    assert_eq!(o.mtd, Nanos(200));
    assert_eq!(o.prev_mtd, Nanos(100));
    assert_eq!(o.mtd_change_pct(), Some(100.0));
    assert_eq!(o.range_total, Nanos(1_300));
    assert_eq!(o.daily.len(), 41);
    assert_eq!(o.projected_month_end, Nanos(600));
    let err = services::overview::overview(&db, org, d("2026-11-10"), Some("soon"), None).await.unwrap_err();
    assert_eq!(err.to_string(), "from: 'soon' is not a date (expected YYYY-MM-DD)");
}
on_both!(overview_service_reads_month_to_date);

/// The same seed gives the same rows on both backends, compared directly.
#[tokio::test]
async fn same_seed_same_rows_on_sqlite_and_postgres() {
    let Some(pg) = TestDb::postgres().await else { return };
    let lite = TestDb::sqlite().await;
    let cfg = DemoConfig { seed: 11, end: d("2026-11-20"), days: 21, volume: 0.05 };
    let mut rows = Vec::new();
    for db in [&lite.db, &pg.db] {
        let org = db.ensure_org("demo", "Demo").await.unwrap();
        services::demo::seed(db, org, cfg, false).await.unwrap();
        rows.push(db.usage_events(org).await.unwrap());
    }
    assert!(!rows[0].is_empty());
    assert_eq!(rows[0], rows[1]);
    lite.finish().await;
    pg.finish().await;
}

#[test]
fn migration_folders_list_the_same_steps() {
    let list = |dir: &str| {
        let mut names: Vec<String> =
            std::fs::read_dir(format!("{}/../migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
        names.sort();
        names
    };
    let (sqlite, postgres) = (list("sqlite"), list("postgres"));
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres, "migrations/sqlite and migrations/postgres must hold the same steps");
}

async fn people_are_added_with_hashed_passwords_and_unique_emails(db: Db) {
    use app::domain::Role;
    use app::server::services::users::{add_user, AddUser};
    let org = db.ensure_org("a", "A").await.unwrap();
    let input = AddUser {
        email: " Ana@Example.com ".into(),
        name: "Ana".into(),
        role: Role::Finance,
        password: "correct horse battery".into(),
        team: Some("Support".into()),
    };
    let ana = add_user(&db, org, input.clone()).await.unwrap();
    assert_eq!((ana.email.as_str(), ana.role, ana.disabled), ("ana@example.com", Role::Finance, false));
    assert_eq!(db.user_teams(ana.id).await.unwrap(), vec!["support".to_string()]);
    assert_eq!(db.count_users().await.unwrap(), 1);

    let email = app::domain::account::Email::parse("ANA@example.com").unwrap();
    let creds = db.credentials_by_email(&email).await.unwrap().expect("found case-insensitively");
    assert_eq!(creds.user_id, ana.id);
    assert!(creds.password_hash.starts_with("$argon2id$"));
    assert!(!format!("{creds:?}").contains("argon2"), "Debug redacts the hash");
    assert!(app::server::password::verify("correct horse battery".into(), Some(creds.password_hash))
        .await
        .unwrap());

    let err = add_user(&db, org, AddUser { role: Role::Viewer, ..input.clone() }).await.unwrap_err();
    assert_eq!(err.to_string(), "email: ana@example.com is already registered");
    let err = add_user(
        &db,
        org,
        AddUser { email: "bo@example.com".into(), password: "short".into(), ..input.clone() },
    )
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "password: at least 12 characters are needed (got 5)");
    assert_eq!(db.count_users().await.unwrap(), 1, "refused people are not stored");

    let bo =
        add_user(&db, org, AddUser { email: "bo@example.com".into(), team: None, ..input }).await.unwrap();
    let listed: Vec<String> = db.list_users(org).await.unwrap().into_iter().map(|u| u.email).collect();
    assert_eq!(listed, vec!["ana@example.com", "bo@example.com"]);
    assert!(db.user_teams(bo.id).await.unwrap().is_empty());
    assert_eq!(db.user_by_id(bo.id).await.unwrap().unwrap().name, "Ana");
}
on_both!(people_are_added_with_hashed_passwords_and_unique_emails);
