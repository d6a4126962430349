//! People, teams, keys, passwords and their audit trail.
use super::*;

/// The same seed gives the same rows on both backends, compared directly.
#[tokio::test]
pub(crate) async fn same_seed_same_rows_on_sqlite_and_postgres() {
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
pub(crate) fn migration_folders_list_the_same_steps() {
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

pub(crate) async fn people_are_added_with_hashed_passwords_and_unique_emails(db: Db) {
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
    assert!(app::server::auth::password::verify("correct horse battery".into(), Some(creds.password_hash))
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
pub(crate) async fn person(
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

pub(crate) async fn every_change_to_people_teams_and_keys_is_audited_with_before_and_after(db: Db) {
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

pub(crate) async fn two_admins_demoting_each_other_at_once_leave_one_admin(db: Db) {
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

pub(crate) async fn own_password_change_needs_the_current_one(db: Db) {
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

pub(crate) async fn demo_sign_ins_are_refused_where_real_people_exist(db: Db) {
    use app::domain::Role;
    use app::server::services::auth::ensure_demo_users;
    let org = db.ensure_org("a", "A").await.unwrap();
    person(&db, org, "real@example.com", Role::Admin).await;
    let err = ensure_demo_users(&db, org).await.unwrap_err();
    assert!(err.to_string().starts_with("demo: this database has 1 real account"), "{err}");
    assert_eq!(db.count_users().await.unwrap(), 1, "no demo sign-in was created");
}
on_both!(demo_sign_ins_are_refused_where_real_people_exist);
