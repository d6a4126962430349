//! Scopes that exist: a typo in a budget's scope is refused until confirmed, teams seen in
//! spend are listed, and a team is created only when someone asks for it.
use super::*;
use app::api::{CreateBudget, TeamInfo};

async fn admin(app: &axum::Router, db: &Db) -> String {
    let org = db.ensure_org("default", "Default").await.unwrap();
    let boss = AddUser {
        email: "boss@example.com".into(),
        name: "Bo".into(),
        role: app::domain::Role::Admin,
        password: "an admin long password".into(),
        team: None,
    };
    add_user(db, org, &app::server::db::Actor::cli(), boss).await.unwrap();
    sign_in(app, "boss@example.com", "an admin long password", None).await.expect("admin signs in")
}

pub(crate) async fn a_budget_scope_nothing_knows_is_refused_until_confirmed(db: Db) {
    let app = app_with_events(&db).await;
    let boss = admin(&app, &db).await;
    let form = "name=Typo&scope=team&scope_value=suport&period=month&fiscal_start_month=1&recurring=on\
        &start=2026-11-01&amount_usd=100&thresholds=80&owner=Bo";
    let (status, body) = send(&app, with_cookie(post_form(CreateBudget::PATH, form), &boss)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["Invalid"].as_str().is_some_and(|m| m.starts_with("scope_value: ")), "{body}");
    assert!(body.contains("did you mean 'support'?"), "{body}");
    // a known value and a confirmed unknown one are both saved
    let (status, body) =
        send(&app, with_cookie(post_form(CreateBudget::PATH, &form.replace("suport", "support")), &boss))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let confirmed = format!("{}&save_unmatched=on", form.replace("name=Typo", "name=Later"));
    let (status, body) = send(&app, with_cookie(post_form(CreateBudget::PATH, &confirmed), &boss)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let org = db.ensure_org("default", "Default").await.unwrap();
    let names: Vec<String> = db.budgets(org).await.unwrap().into_iter().map(|b| b.name).collect();
    assert_eq!(names, vec!["Later".to_string(), "Typo".to_string()], "ordered by name");
}
on_both!(a_budget_scope_nothing_knows_is_refused_until_confirmed);

pub(crate) async fn teams_seen_in_spend_are_listed_and_created_only_when_asked(db: Db) {
    let app = app_with_events(&db).await;
    let boss = admin(&app, &db).await;
    let teams = |app: axum::Router, boss: String| async move {
        let (status, body) = send(&app, with_cookie(post_form("/api/list_teams", ""), &boss)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_str::<Vec<TeamInfo>>(&body).unwrap()
    };
    let list = teams(app.clone(), boss.clone()).await;
    assert_eq!(
        list.iter().map(|t| (t.slug.as_str(), t.spend_only)).collect::<Vec<_>>(),
        vec![("support", true)],
        "the events' team is listed though nobody created it"
    );
    let person = "name=N&email=n%40example.com&role=viewer&password=a+long+enough+password&team=support";
    let (status, body) = send(&app, with_cookie(post_form("/api/add_person", person), &boss)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("team: there is no team 'support'"), "{body}");
    let org = db.ensure_org("default", "Default").await.unwrap();
    assert_eq!(db.team_by_slug(org, "support").await.unwrap(), None, "not created by the refusal");
    let (status, body) =
        send(&app, with_cookie(post_form("/api/add_person", &format!("{person}&create_team=on")), &boss))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = teams(app.clone(), boss.clone()).await;
    assert_eq!(list.len(), 1, "one team, not the created one beside the seen one: {list:?}");
    assert_eq!((list[0].slug.as_str(), list[0].spend_only), ("support", false));
    assert_eq!(list[0].members, vec!["n@example.com".to_string()]);
}
on_both!(teams_seen_in_spend_are_listed_and_created_only_when_asked);
