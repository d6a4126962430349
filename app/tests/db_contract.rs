//! Database contract: every `Db` function behaves the same on SQLite and PostgreSQL. Each
//! behaviour is one async fn taking a fresh `Db`; `on_both!` runs it once per backend.
#![cfg(feature = "ssr")]

use app::domain::ledger::SpendSource;
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
        tokens: app::domain::pricing::Tokens { input: 1_000, output: 200, ..Default::default() },
        request_count: 1,
        cost: Nanos(cost),
        ..Default::default()
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
    let rows = db.daily_costs(org, range, None).await.unwrap();
    let got: Vec<(NaiveDate, i64, i64)> = rows.iter().map(|r| (r.day, r.cost.0, r.requests)).collect();
    assert_eq!(got, vec![(d("2026-11-01"), 4_000_000_002, 2), (d("2026-11-03"), 123_456_789_012, 1)]);
    assert_eq!(db.cost_between(org, range, None).await.unwrap(), Nanos(127_456_789_014));
    let oct = DateRange { from: d("2026-10-31"), to: d("2026-10-31") };
    assert_eq!(db.cost_between(org, oct, None).await.unwrap(), Nanos(7));
    let empty = DateRange { from: d("2020-01-01"), to: d("2020-01-31") };
    assert_eq!(db.cost_between(org, empty, None).await.unwrap(), Nanos(0));
    assert!(db.daily_costs(org, empty, None).await.unwrap().is_empty());
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
    let by_day: i64 = db.daily_costs(org, range, None).await.unwrap().iter().map(|r| r.cost.0).sum();
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
    let o = services::overview::overview(&db, org, d("2026-11-10"), Some("2026-10-01"), None, None)
        .await
        .unwrap();
    assert_eq!(o.mtd, Nanos(200));
    assert_eq!(o.prev_mtd, Nanos(100));
    assert_eq!(o.mtd_change_pct(), Some(100.0));
    assert_eq!(o.range_total, Nanos(1_300));
    assert_eq!(o.daily.len(), 41);
    assert_eq!(o.projected_month_end, Nanos(600));
    let err =
        services::overview::overview(&db, org, d("2026-11-10"), Some("soon"), None, None).await.unwrap_err();
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
    use app::server::db::Actor;
    use app::server::services::users::{add_user, AddUser};
    let org = db.ensure_org("a", "A").await.unwrap();
    let input = AddUser {
        email: " Ana@Example.com ".into(),
        name: "Ana".into(),
        role: Role::Finance,
        password: "correct horse battery".into(),
        team: Some("Support".into()),
    };
    let ana = add_user(&db, org, &Actor::cli(), input.clone()).await.unwrap();
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

    let err =
        add_user(&db, org, &Actor::cli(), AddUser { role: Role::Viewer, ..input.clone() }).await.unwrap_err();
    assert_eq!(err.to_string(), "email: ana@example.com is already registered");
    let err = add_user(
        &db,
        org,
        &Actor::cli(),
        AddUser { email: "bo@example.com".into(), password: "short".into(), ..input.clone() },
    )
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "password: at least 12 characters are needed (got 5)");
    assert_eq!(db.count_users().await.unwrap(), 1, "refused people are not stored");

    let bo =
        add_user(&db, org, &Actor::cli(), AddUser { email: "bo@example.com".into(), team: None, ..input })
            .await
            .unwrap();
    let listed: Vec<String> = db.list_users(org).await.unwrap().into_iter().map(|u| u.email).collect();
    assert_eq!(listed, vec!["ana@example.com", "bo@example.com"]);
    assert!(db.user_teams(bo.id).await.unwrap().is_empty());
    assert_eq!(db.user_by_id(bo.id).await.unwrap().unwrap().name, "Ana");
}
on_both!(people_are_added_with_hashed_passwords_and_unique_emails);

/// Adds a person through the service (as the command line would), returning the record.
async fn person(
    db: &Db,
    org: app::server::db::OrgId,
    email: &str,
    role: app::domain::Role,
) -> app::server::db::UserRecord {
    use app::server::db::Actor;
    use app::server::services::users::{add_user, AddUser};
    let input = AddUser {
        email: email.into(),
        name: email.into(),
        role,
        password: "a long enough password".into(),
        team: None,
    };
    add_user(db, org, &Actor::cli(), input).await.unwrap()
}

async fn every_change_to_people_teams_and_keys_is_audited_with_before_and_after(db: Db) {
    use app::domain::audit::AuditFilter;
    use app::domain::Role;
    use app::server::db::Actor;
    use app::server::services::keys::{create_key, revoke_key, KeyHasher, KeyRequest};
    use app::server::services::users;
    let org = db.ensure_org("a", "A").await.unwrap();
    let admin = person(&db, org, "root@example.com", Role::Admin).await;
    let bo = person(&db, org, "bo@example.com", Role::Viewer).await;
    let actor = Actor::person(admin.id, &admin.email);

    users::change_role(&db, org, &actor, bo.id, "finance").await.unwrap();
    users::set_disabled(&db, org, &actor, bo.id, true).await.unwrap();
    users::create_team(&db, org, &actor, "search", "Search").await.unwrap();
    users::set_team_member(&db, org, &actor, "search", "bo@example.com", true).await.unwrap();
    let hasher = KeyHasher::load(&db).await.unwrap();
    let req = KeyRequest {
        name: "gateway".into(),
        team: "search".into(),
        scopes: "ingest".into(),
        initiative: None,
        expires_in_days: None,
        actor: actor.clone(),
    };
    let key = create_key(&db, &hasher, org, req).await.unwrap();
    revoke_key(&db, org, &actor, &key.key.prefix).await.unwrap();

    // refused changes leave no trace: a bad role, a no-op, the last admin demoting themselves
    assert!(users::change_role(&db, org, &actor, bo.id, "owner").await.is_err());
    users::change_role(&db, org, &actor, bo.id, "finance").await.unwrap();
    let err = users::change_role(&db, org, &actor, admin.id, "viewer").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "role: root@example.com is the last active admin; make someone else admin first"
    );
    let err = users::set_disabled(&db, org, &actor, admin.id, true).await.unwrap_err();
    assert!(err.to_string().starts_with("disabled: "), "{err}");

    let all = db.list_audit(org, &AuditFilter::default(), 100).await.unwrap();
    let actions: Vec<&str> = all.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "api_key.revoke",
            "api_key.create",
            "team.member_add",
            "team.create",
            "user.disable",
            "user.role",
            "user.create",
            "user.create"
        ],
        "newest first, one record per change"
    );
    let role = &all[5];
    assert_eq!((role.actor.as_str(), role.entity_id.as_str()), ("root@example.com", "bo@example.com"));
    let changed: Vec<_> =
        role.changes.iter().map(|c| (c.field.as_str(), c.before.as_deref(), c.after.as_deref())).collect();
    assert_eq!(changed, vec![("role", Some("viewer"), Some("finance"))]);
    assert_eq!(all[6].actor, "cli");
    let created = &all[1];
    assert!(created.changes.iter().any(|c| c.field == "scopes" && c.after.as_deref() == Some("ingest")));
    let text = format!("{all:?}");
    assert!(!text.contains(&key.token[14..]), "no secret in the trail");
    assert!(!text.contains("argon2"), "no password hash in the trail");

    let only = |actor: Option<&str>, entity: Option<&str>, action: Option<&str>, from: Option<&str>| {
        AuditFilter::parse(actor, entity, action, from, None).unwrap()
    };
    let n = |f: AuditFilter| {
        let db = db.clone();
        async move { db.list_audit(org, &f, 100).await.unwrap().len() }
    };
    assert_eq!(n(only(None, Some("user"), None, None)).await, 4);
    assert_eq!(n(only(Some("ROOT"), None, None, None)).await, 6);
    assert_eq!(n(only(None, None, Some("revoke"), None)).await, 1);
    assert_eq!(n(only(Some("100%"), None, None, None)).await, 0, "% is a literal character");
    assert_eq!(n(only(None, None, None, Some("2999-01-01"))).await, 0);
    let today = Utc::now().date_naive().to_string();
    let f = AuditFilter::parse(None, None, None, Some(&today), Some(&today)).unwrap();
    assert_eq!(n(f).await, 8, "a one-day range includes the whole day");
    assert_eq!(db.list_audit(org, &AuditFilter::default(), 3).await.unwrap().len(), 3);
}
on_both!(every_change_to_people_teams_and_keys_is_audited_with_before_and_after);

async fn two_admins_demoting_each_other_at_once_leave_one_admin(db: Db) {
    use app::domain::Role;
    use app::server::db::Actor;
    use app::server::services::users::change_role;
    let org = db.ensure_org("a", "A").await.unwrap();
    let a = person(&db, org, "a@example.com", Role::Admin).await;
    let b = person(&db, org, "b@example.com", Role::Admin).await;
    let (aa, ab) = (Actor::person(a.id, &a.email), Actor::person(b.id, &b.email));
    let (r1, r2) =
        tokio::join!(change_role(&db, org, &aa, b.id, "viewer"), change_role(&db, org, &ab, a.id, "viewer"),);
    assert!(r1.is_ok() != r2.is_ok(), "exactly one demotion wins: {r1:?} {r2:?}");
    let admins = db.list_users(org).await.unwrap().into_iter().filter(|u| u.role == Role::Admin).count();
    assert_eq!(admins, 1);
}
on_both!(two_admins_demoting_each_other_at_once_leave_one_admin);

async fn own_password_change_needs_the_current_one(db: Db) {
    use app::domain::Role;
    use app::server::services::auth::authenticate;
    use app::server::services::users::change_own_password;
    let org = db.ensure_org("a", "A").await.unwrap();
    let me = person(&db, org, "me@example.com", Role::Viewer).await;
    let err = change_own_password(&db, &me, "wrong password!!".into(), "a brand new password".into(), 100)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "current_password: that is not your current password");
    let err = change_own_password(&db, &me, "a long enough password".into(), "short".into(), 100)
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("new_password: "), "{err}");
    assert_eq!(me.sessions_valid_after, 0);
    change_own_password(&db, &me, "a long enough password".into(), "a brand new password".into(), 100)
        .await
        .unwrap();
    let after = db.user_by_id(me.id).await.unwrap().unwrap();
    assert_eq!(after.sessions_valid_after, 100, "sessions from before the change are void");
    assert!(authenticate(&db, "me@example.com", "a long enough password".into()).await.is_err());
    assert_eq!(authenticate(&db, "me@example.com", "a brand new password".into()).await.unwrap(), me.id);
    let trail = db.list_audit(org, &Default::default(), 10).await.unwrap();
    assert_eq!(trail[0].action, "user.password");
    assert!(trail[0].changes.is_empty(), "neither password nor hash is recorded");
}
on_both!(own_password_change_needs_the_current_one);

async fn demo_sign_ins_are_refused_where_real_people_exist(db: Db) {
    use app::domain::Role;
    use app::server::services::auth::ensure_demo_users;
    let org = db.ensure_org("a", "A").await.unwrap();
    person(&db, org, "real@example.com", Role::Admin).await;
    let err = ensure_demo_users(&db, org).await.unwrap_err();
    assert!(err.to_string().starts_with("demo: this database has 1 real account"), "{err}");
    assert_eq!(db.count_users().await.unwrap(), 1, "no demo sign-in was created");
}
on_both!(demo_sign_ins_are_refused_where_real_people_exist);

/// Random events sent in random batches, with resends of earlier batches and repeated ids
/// inside a batch: every rollup (each grain, each dimension, each bucket and value) equals the
/// sums of the raw events stored.
async fn rollups_equal_the_raw_events_after_random_batches_and_resends(db: Db) {
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
async fn assert_rollups_match_raw(db: &Db, org: app::server::db::OrgId) {
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

async fn a_new_price_reprices_history_exactly_and_rollups_follow(db: Db) {
    use app::domain::pricing::{ModelPrice, Tokens};
    use app::domain::usage::CostSource;
    use app::server::db::Actor;
    use app::server::services::prices::{ensure_public_list, price_events, recompute, set_price, PriceCache};
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
    let report =
        set_price(&db, &cache, org, &admin, "our-finetune", "openai", d("2026-11-01"), price).await.unwrap();
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

async fn two_overlapping_reprices_never_count_a_change_twice(db: Db) {
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
    let row =
        NewPriceEntry { model: "house", provider: "acme", effective_from: d("2026-01-01"), price: &price };
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

async fn focus_imports_replace_per_account_and_period_and_never_double_count(db: Db) {
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

async fn invoice_lines_of_services_metered_by_events_are_kept_but_not_counted(db: Db) {
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

async fn gpu_training_and_commitments_feed_the_same_rollups_exactly(db: Db) {
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

async fn focus_export_is_valid_and_reimports_to_the_same_totals(db: Db) {
    use app::server::db::Actor;
    use app::server::demo::DemoConfig;
    use app::server::focus_export::{export, Selection};
    use app::server::focus_model::Model;
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
    let checked = model.rules_for(&app::server::focus_export::COLUMNS);
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

async fn provider_reports_import_once_and_reconcile_with_events(db: Db) {
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

// ---------------------------------------------------------------- spend explorer

/// Events spread over ten days, every attribute sometimes missing, two tags, two tiers.
fn explorer_events() -> Vec<UsageEvent> {
    use app::domain::pricing::{ServiceTier, Tokens};
    let pick = |i: usize, xs: &[Option<&str>]| xs[i % xs.len()].map(str::to_string);
    (0..240)
        .map(|i| {
            let at = Utc.with_ymd_and_hms(2026, 11, 1 + (i % 10) as u32, (i * 7 % 24) as u32, 0, 0).unwrap();
            let mut tags = Vec::new();
            if i % 3 != 0 {
                tags.push(("project".to_string(), format!("p{}", i % 2)));
            }
            UsageEvent {
                event_id: format!("x{i}"),
                occurred_at: at,
                provider: if i % 5 == 0 { "anthropic".into() } else { "openai".into() },
                model: ["gpt-4o", "gpt-4o-mini", "claude-sonnet"][i % 3].into(),
                team: pick(i, &[Some("search"), Some("support"), None, Some("search")]),
                feature: pick(i / 2, &[Some("chat"), Some("summarize"), None]),
                initiative: pick(i, &[Some("bot"), None]),
                customer: pick(i / 3, &[Some("acme"), Some("globex"), Some("initech"), None]),
                environment: pick(i, &[Some("prod"), Some("staging")]),
                api_key: pick(i, &[Some("cr_live_a"), Some("cr_live_b"), None]),
                service_tier: if i % 4 == 0 { ServiceTier::Batch } else { ServiceTier::Standard },
                tags,
                tokens: Tokens {
                    input: 1_000 + i as i64,
                    output: 10 * i as i64,
                    cache_read: i as i64,
                    ..Default::default()
                },
                request_count: 1 + (i % 2) as i64,
                // odd nano amounts: any rounding anywhere shows
                cost: Nanos(1_000_000_007 * (i as i64 % 13 + 1) + i as i64),
                ..Default::default()
            }
        })
        .collect()
}

/// An attribute of an event as the explorer names it.
fn event_value(e: &UsageEvent, dim: &app::domain::explore::Dim) -> String {
    use app::domain::explore::{Dim, NOT_SET};
    let v = match dim {
        Dim::Team => e.team.clone(),
        Dim::Initiative => e.initiative.clone(),
        Dim::Feature => e.feature.clone(),
        Dim::Customer => e.customer.clone(),
        Dim::Environment => e.environment.clone(),
        Dim::Provider => Some(e.provider.clone()),
        Dim::Model => Some(e.model.clone()),
        Dim::ApiKey => e.api_key.clone(),
        Dim::ServiceTier => Some(e.service_tier.as_str().to_string()),
        Dim::Source => Some("tokens".into()),
        Dim::Tag(k) => e.tags.iter().find(|(t, _)| t == k).map(|(_, v)| v.clone()),
    };
    v.unwrap_or_else(|| NOT_SET.to_string())
}

async fn explorer_views_equal_independent_sums_of_the_raw_events(db: Db) {
    use app::domain::explore::{decode_pairs, SpendQuery};
    use app::server::db::spend::SpendPath;
    use app::server::db::Actor;
    use app::server::services::records::{parse_records, record, RecordKind};
    use app::server::services::spend;
    use std::collections::BTreeMap;
    let org = db.ensure_org("a", "A").await.unwrap();
    let events = explorer_events();
    db.insert_usage_events(org, &events).await.unwrap();
    // spend of other sources: a GPU day with a stated cost and a commitment spread over days
    let gpu = "day,cluster,pool,gpu_type,team,initiative,allocated_gpu_hours,used_gpu_hours,cost_usd\n\
        2026-11-02,c,a,A100,research,,24,6,30.000000001\n";
    let rows = parse_records(gpu.as_bytes(), true).unwrap();
    record(&db, org, &Actor::cli(), RecordKind::GpuUsage, "gpu.csv", &rows).await.unwrap();
    let c = "provider,model,deployment,units,tokens_per_minute,term_start,term_end,price_usd,team\n\
        azure,gpt-4o,ptu,1,1000,2026-11-01,2026-11-10,100,search\n";
    let rows = parse_records(c.as_bytes(), true).unwrap();
    record(&db, org, &Actor::cli(), RecordKind::Commitments, "c.csv", &rows).await.unwrap();

    let today = d("2026-11-28");
    let views = [
        ("group=team&from=2026-11-01&to=2026-11-10", true),
        ("group=model&team=search&team=(not set)&from=2026-11-01&to=2026-11-10", false),
        ("group=service_tier&gran=week&from=2026-11-01&to=2026-11-10", false),
        ("group=tag:project&model=gpt-4o&model=claude-sonnet&from=2026-11-03&to=2026-11-08", false),
        ("group=source&from=2026-11-01&to=2026-11-10&gran=month", true),
        ("group=customer&gran=hour&from=2026-11-02&to=2026-11-03", true),
        ("group=none&metric=cost_per_request&source=tokens&from=2026-11-01&to=2026-11-10", true),
        ("group=team&source=gpu&source=commitment&from=2026-11-01&to=2026-11-10", true),
        ("group=api_key&api_key=cr_live_a&api_key=(not set)&from=2026-11-01&to=2026-11-10", true),
        ("group=feature&customer=acme&environment=prod&tag.project=p1&range=30d", false),
    ];
    for (qs, rollups) in views {
        let q = SpendQuery::parse(&decode_pairs(qs), today).unwrap();
        let auto = spend::view(&db, org, q.clone(), SpendPath::Auto).await.unwrap();
        let raw = spend::view(&db, org, q.clone(), SpendPath::Raw).await.unwrap();
        assert_eq!(auto.from_rollups, rollups, "{qs}");
        assert!(!raw.from_rollups);
        assert_eq!((&auto.table, &auto.total, &auto.series), (&raw.table, &raw.total, &raw.series), "{qs}");

        // every group, bucket and total of the token part equals sums made here from the
        // events themselves; billing lines are checked per source below
        let mut tq = q.clone();
        tq.filters.retain(|f| f.dim != app::domain::explore::Dim::Source);
        tq.filters.push(app::domain::explore::Filter {
            dim: app::domain::explore::Dim::Source,
            values: vec!["tokens".into()],
        });
        let tv = spend::view(&db, org, tq.clone(), SpendPath::Auto).await.unwrap();
        let mut want: BTreeMap<String, (i64, i64, i64, i64)> = BTreeMap::new();
        let mut by_bucket: BTreeMap<i64, i64> = BTreeMap::new();
        for e in &events {
            let day = e.occurred_at.date_naive();
            let kept = q.range.from <= day
                && day <= q.range.to
                && tq.filters.iter().all(|f| f.values.contains(&event_value(e, &f.dim)));
            if kept {
                let g = q.group.as_ref().map(|g| event_value(e, g)).unwrap_or_else(|| "(not set)".into());
                let w = want.entry(g).or_default();
                w.0 += e.cost.0;
                w.1 += e.request_count;
                w.2 += e.tokens.input;
                w.3 += 1;
                *by_bucket.entry(q.granularity.bucket(e.occurred_at.timestamp())).or_default() += e.cost.0;
            }
        }
        let got: BTreeMap<String, (i64, i64, i64, i64)> = tv
            .table
            .iter()
            .map(|r| {
                (r.group.clone(), (r.sums.cost_nanos, r.sums.requests, r.sums.input_tokens, r.sums.events))
            })
            .collect();
        assert_eq!(got, want, "{qs}");
        let got_buckets: BTreeMap<i64, i64> = tv
            .buckets
            .iter()
            .enumerate()
            .map(|(i, b)| (*b, tv.series.iter().map(|s| s.values[i].cost_nanos).sum::<i64>()))
            .filter(|(_, c)| *c != 0)
            .collect();
        assert_eq!(got_buckets, by_bucket, "{qs}: per-bucket totals");
        assert_eq!(tv.total.cost_nanos, want.values().map(|w| w.0).sum::<i64>(), "{qs}");
    }

    // the GPU day and the commitment are counted once each, under their own sources
    let q = SpendQuery::parse(&decode_pairs("group=source&from=2026-11-01&to=2026-11-10"), today).unwrap();
    let v = spend::view(&db, org, q, SpendPath::Raw).await.unwrap();
    let cost = |s: &str| v.table.iter().find(|r| r.group == s).map(|r| r.sums.cost_nanos);
    assert_eq!(cost("gpu"), Some(30_000_000_001));
    assert_eq!(cost("commitment"), Some(100_000_000_000));
    assert_eq!(cost("tokens"), Some(events.iter().map(|e| e.cost.0).sum()));
}
on_both!(explorer_views_equal_independent_sums_of_the_raw_events);

async fn traces_sum_their_steps_and_the_tree_holds_every_nano(db: Db) {
    use app::domain::explore::Dim;
    use app::domain::traces::TraceLimits;
    use app::server::demo::generate;
    let org = db.ensure_org("a", "A").await.unwrap();
    let events = generate(&DemoConfig { seed: 5, end: d("2026-11-20"), days: 20, volume: 0.1 });
    db.insert_usage_events(org, &events).await.unwrap();
    let range = DateRange { from: d("2026-11-01"), to: d("2026-11-20") };
    let listed = db.traces(org, range, 1_000, None).await.unwrap();
    assert!(listed.len() > 10);
    assert!(listed.windows(2).all(|w| w[0].cost >= w[1].cost), "costliest first");
    for t in &listed {
        let mine: Vec<&UsageEvent> =
            events.iter().filter(|e| e.trace_id.as_deref() == Some(t.trace_id.as_str())).collect();
        assert_eq!(t.steps, mine.len() as i64, "{}", t.trace_id);
        assert_eq!(t.cost.0, mine.iter().map(|e| e.cost.0).sum::<i64>(), "{}", t.trace_id);
        assert_eq!(t.depth, mine.iter().filter_map(|e| e.depth).max().unwrap_or(0));
        assert_eq!(t.retries, mine.iter().filter(|e| e.retry.unwrap_or(0) > 0).count() as i64);
        assert_eq!(t.tool_calls, mine.iter().filter(|e| e.tool_name.is_some()).count() as i64);
    }
    let runaway = listed.iter().find(|t| t.trace_id.starts_with("runaway-")).expect("the loop is traced");
    assert!(!runaway.flags(&TraceLimits::default()).is_empty());
    let (nodes, total) = services::traces::detail(&db, org, &runaway.trace_id).await.unwrap();
    assert_eq!(total, runaway.cost);
    assert_eq!(nodes.len() as i64, runaway.steps);
    let roots: i64 = nodes.iter().filter(|n| n.level == 0).map(|n| n.subtree_cost.0).sum();
    assert_eq!(roots, total.0);
    assert!(matches!(
        services::traces::detail(&db, org, "no-such-trace").await,
        Err(app::error::AppError::NotFound(_))
    ));
    // scoped to a team: only traces with a step of that team
    let support = db.traces(org, range, 1_000, Some((&Dim::Team, "support"))).await.unwrap();
    assert!(!support.is_empty());
    let none = db.traces(org, range, 1_000, Some((&Dim::Team, "platform"))).await.unwrap();
    assert!(none.is_empty(), "the demo's agent belongs to support");
}
on_both!(traces_sum_their_steps_and_the_tree_holds_every_nano);

async fn coverage_and_kpis_equal_sums_of_the_raw_events(db: Db) {
    use app::server::services::kpis;
    let org = db.ensure_org("a", "A").await.unwrap();
    let events = explorer_events();
    db.insert_usage_events(org, &events).await.unwrap();
    let today = d("2026-11-10");
    let v = kpis::coverage(&db, org, today, Some("2026-11-01"), Some("2026-11-10"), Some("feature"))
        .await
        .unwrap();
    let total: i64 = events.iter().map(|e| e.cost.0).sum();
    let untagged = |f: fn(&UsageEvent) -> bool| events.iter().filter(|e| f(e)).map(|e| e.cost.0).sum::<i64>();
    assert_eq!(v.all.total, Nanos(total));
    assert_eq!(
        v.all.untagged,
        vec![
            Nanos(untagged(|e| e.team.is_none())),
            Nanos(untagged(|e| e.feature.is_none())),
            Nanos(untagged(|e| e.initiative.is_none()))
        ]
    );
    let tokens = v.by_source.iter().find(|r| r.source == SpendSource::Tokens).unwrap();
    assert_eq!(tokens.total, Nanos(total));
    // untagged features broken down by model add up to the untagged total
    let by_model = &v.untagged_by[2];
    assert_eq!(by_model.total.cost_nanos, untagged(|e| e.feature.is_none()));
    let weeks: i64 = v.weeks.iter().map(|w| w.coverage[0].total.0).sum();
    assert_eq!(weeks, total);
    assert!(kpis::coverage(&db, org, today, None, None, Some("colour"))
        .await
        .unwrap_err()
        .to_string()
        .starts_with("attribute:"));

    let (_, _, k) = kpis::page(&db, org, today, Some("2026-11-01"), Some("2026-11-10")).await.unwrap();
    let requests: i64 = events.iter().map(|e| e.request_count).sum();
    let want = app::domain::explore::Figure::Money(Nanos(
        ((total as i128 * 2 + requests as i128) / (requests as i128 * 2)) as i64,
    ));
    let per_inference = k.iter().find(|x| x.key == "cost_per_inference").unwrap();
    assert_eq!(per_inference.value, Some(want.display(app::domain::explore::Metric::CostPerRequest)));
    assert_eq!(k.len(), 11);
}
on_both!(coverage_and_kpis_equal_sums_of_the_raw_events);

async fn nested_budgets_trip_independently_and_alert_once_per_period(db: Db) {
    use app::domain::budget::parse_budget;
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
    let org_budget =
        parse_budget("All AI", "", "", "month", "", true, "2026-11-01", &usd(total), "", "finance").unwrap();
    // the team's is twice its spend: only 50 %
    let team_budget = parse_budget(
        "Search",
        "team",
        "search",
        "month",
        "",
        true,
        "2026-11-01",
        &usd(2 * search),
        "",
        "finance",
    )
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

async fn webhook_deliveries_are_queued_once_per_alert_and_claimed_by_one_worker(db: Db) {
    use app::domain::budget::parse_budget;
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
    let b = parse_budget("All AI", "", "", "month", "", true, "2026-11-01", &usd, "", "finance").unwrap();
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

async fn forecast_snapshots_are_kept_once_per_day_and_never_rewritten(db: Db) {
    use app::domain::budget::parse_budget;
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
    let b =
        parse_budget("Search", "team", "search", "month", "", true, "2026-10-01", "1000", "", "fin").unwrap();
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
    let other =
        parse_budget("Search", "team", "nobody", "month", "", true, "2026-10-01", "1000", "", "fin").unwrap();
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

async fn initiatives_value_and_zombie_flags_follow_outcomes_and_spend(db: Db) {
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
    let i = parse_initiative(
        "fraud-shield",
        "Fraud shield",
        "",
        "po@x.com",
        "risk",
        "live",
        "2026-10-01",
        "2026-10-15",
        "fraud losses prevented",
        "USD",
        "",
        "kyc",
        "",
        "",
    )
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
            parse_outcome(i, &day, "", "", "", "", &total, "", "q3", "")
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
    let err =
        initiatives::decide(&db, org, today, &admin, flag.id, "fix", "", "", "2026-11-30").await.unwrap_err();
    assert!(err.to_string().starts_with("fix_by: "), "{err}");
    initiatives::decide(&db, org, today, &admin, flag.id, "retire", "po@x.com", "no longer needed", "")
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

async fn initiative_rules_attribute_untagged_spend_once(db: Db) {
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
        parse_initiative(
            key,
            key,
            "",
            "po@x.com",
            "",
            "live",
            "2026-11-01",
            "2026-11-01",
            "m",
            "",
            "",
            features,
            keys,
            tags,
        )
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
            parse_outcome(i, day, "", "", "", "", total, "", "", "")
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

async fn anomalies_are_detected_once_with_contributors_and_counted_in_the_figures(db: Db) {
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
    assert_eq!(db.unread_anomaly_alerts(org).await.unwrap(), 1);

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

async fn a_closed_review_keeps_its_figures_and_the_next_one_shows_the_change(db: Db) {
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
    assert_eq!(db.unread_reviews(org).await.unwrap(), 1);

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
    let e = reviews::set_manual(&db, org, &finance, "objectives", true, "", "", "").await.unwrap_err();
    assert!(matches!(e, app::error::AppError::Forbidden), "admins tick items");
    assert_eq!(db.maturity_history(org).await.unwrap().len(), 1);
    // the daily job scores once a day
    assert!(!reviews::record_daily_maturity(&db, org, next).await.unwrap(), "already scored today");
    assert!(reviews::record_daily_maturity(&db, org, d("2026-11-28")).await.unwrap());
    let history = db.maturity_history(org).await.unwrap();
    assert_eq!(history.iter().map(|h| h.0).collect::<Vec<_>>(), [next, d("2026-11-28")]);
}
on_both!(a_closed_review_keeps_its_figures_and_the_next_one_shows_the_change);
