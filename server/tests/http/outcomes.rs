//! Initiatives and outcomes by form, API and CSV upload; anomalies and reviews.
use super::*;

pub(crate) async fn product_owners_record_outcomes_for_their_own_initiatives_only(db: Db) {
    use app::api::initiatives::{
        CorrectOutcome, DecideFlag, InitiativesPage, ListInitiatives, RecordOutcome,
    };
    use app::domain::initiative::{parse_initiative, InitiativeInput};
    use app::server::services::initiatives;
    let app = app_with_events(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let add = |email: &str, role| AddUser {
        email: email.into(),
        name: "P".into(),
        role,
        password: "a product long password".into(),
        team: None,
    };
    let admin =
        add_user(&db, org, &app::server::db::Actor::cli(), add("boss@example.com", app::domain::Role::Admin))
            .await
            .unwrap();
    add_user(&db, org, &app::server::db::Actor::cli(), add("po@example.com", app::domain::Role::Product))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for (key, owner) in [("copilot", "po@example.com"), ("search", "other@example.com")] {
        let i = parse_initiative(&InitiativeInput {
            key: key.into(),
            name: key.into(),
            owner: owner.into(),
            status: "live".into(),
            metric: "tickets".into(),
            value_per_unit: "15".into(),
            ..Default::default()
        })
        .unwrap();
        ids.push(initiatives::create(&db, org, &admin, i).await.unwrap());
    }
    let po = sign_in(&app, "po@example.com", "a product long password", None).await.unwrap();
    let viewer = sign_in(&app, VIEWER, PASSWORD, None).await.unwrap();
    let form = |id: i64, qty: &str| {
        format!(
            "initiative={id}&day=2026-11-05&period_end=&metric=&quantity={qty}&value_per_unit=&total_value=\
            &baseline_cost=&note=&evidence="
        )
    };
    let (status, body) =
        send(&app, with_cookie(post_form(RecordOutcome::PATH, &form(ids[0], "-3")), &po)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("quantity: '-3'"), "{body}");
    let (status, body) =
        send(&app, with_cookie(post_form(RecordOutcome::PATH, &form(ids[0], "2")), &po)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = send(&app, with_cookie(post_form(RecordOutcome::PATH, &form(ids[1], "2")), &po)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not their initiative");
    let (status, _) =
        send(&app, with_cookie(post_form(RecordOutcome::PATH, &form(ids[0], "2")), &viewer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "viewers record nothing");
    let list = |q: &'static str| {
        let (app, viewer) = (app.clone(), viewer.clone());
        async move { send(&app, with_cookie(post_form(ListInitiatives::PATH, q), &viewer)).await }
    };
    let (status, body) = list("from=&to=").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page: InitiativesPage = serde_json::from_str(&body).unwrap();
    let copilot = page.lines.iter().find(|l| l.initiative.key == "copilot").unwrap();
    assert_eq!(copilot.metrics.value, Nanos(30_000_000_000), "2 tickets × $15");
    assert!(!copilot.can_manage && !page.can_create, "a viewer manages nothing");
    assert_eq!(db.outcomes(org, None).await.unwrap().len(), 1, "only the owner's outcome was stored");
    // the portfolio over a period that ends before the outcome shows no value
    let (status, body) = list("from=2026-11-01&to=2026-11-04").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page: InitiativesPage = serde_json::from_str(&body).unwrap();
    let copilot = page.lines.iter().find(|l| l.initiative.key == "copilot").unwrap();
    assert_eq!(
        (copilot.metrics.value, page.period.map(|p| p.to.to_string())),
        (Nanos::ZERO, Some("2026-11-04".into()))
    );
    let (status, body) = list("from=2026-11-10&to=2026-11-01").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("from: 2026-11-10 is after to: 2026-11-01"), "{body}");
    // the owner corrects their outcome; the same correction of another's is refused
    let outcome = db.outcomes(org, None).await.unwrap()[0].id;
    let fix = |id: i64| {
        format!(
            "initiative={id}&outcome={outcome}&day=2026-11-05&period_end=&metric=tickets&quantity=3&value_per_unit=\
            &total_value=&baseline_cost=&note=recount&evidence="
        )
    };
    let (status, body) = send(&app, with_cookie(post_form(CorrectOutcome::PATH, &fix(ids[0])), &po)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(db.outcomes(org, None).await.unwrap()[0].value, Nanos(45_000_000_000), "3 tickets × $15");
    let (status, _) = send(&app, with_cookie(post_form(CorrectOutcome::PATH, &fix(ids[1])), &po)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not their initiative");
    let (status, _) = send(
        &app,
        with_cookie(post_form(DecideFlag::PATH, "flag=999&decision=keep&owner=&note=&fix_by="), &viewer),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
on_both!(product_owners_record_outcomes_for_their_own_initiatives_only);

pub(crate) fn multipart_csv(uri: &str, csv: &str) -> Request<Body> {
    let boundary = "costroom-test-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"outcomes.csv\"\r\n\
        Content-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    );
    Request::post(uri)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(body))
        .unwrap()
}

pub(crate) async fn outcomes_arrive_by_api_and_csv_upload_each_line_once_with_errors_naming_line_and_field(
    db: Db,
) {
    use app::domain::initiative::{parse_initiative, InitiativeInput};
    use app::server::services::initiatives;
    let (app, ingest, _read) = ingest_app(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let add = |email: &str, role| AddUser {
        email: email.into(),
        name: "P".into(),
        role,
        password: "a product long password".into(),
        team: None,
    };
    let cli = app::server::db::Actor::cli();
    let admin = add_user(&db, org, &cli, add("boss@example.com", app::domain::Role::Admin)).await.unwrap();
    let po_user = add_user(&db, org, &cli, add("po@example.com", app::domain::Role::Product)).await.unwrap();
    let mut ids = Vec::new();
    for (key, owner) in [("smart-search", "po@example.com"), ("copilot", "other@example.com")] {
        let i = parse_initiative(&InitiativeInput {
            key: key.into(),
            name: key.into(),
            owner: owner.into(),
            status: "live".into(),
            metric: "conversions".into(),
            ..Default::default()
        })
        .unwrap();
        ids.push(initiatives::create(&db, org, &admin, i).await.unwrap());
    }
    // outcomes need their own scope: the ingest key (bound to smart-search) is refused, and only
    // someone who manages the initiative may make an outcomes key for it
    use app::server::services::keys::{create_key, KeyRequest};
    let hasher = KeyHasher::load(&db).await.unwrap();
    let eng = add_user(&db, org, &cli, add("eng@example.com", app::domain::Role::Engineering)).await.unwrap();
    let po_id = po_user.id;
    let outcomes_key = |user: app::server::db::UserId, email: &str, initiative: Option<&str>| KeyRequest {
        name: "crm".into(),
        team: "search".into(),
        scopes: "outcomes".into(),
        initiative: initiative.map(String::from),
        expires_in_days: None,
        actor: app::server::db::Actor::person(user, email),
    };
    let refused =
        create_key(&db, &hasher, org, outcomes_key(eng.id, "eng@example.com", Some("smart-search"))).await;
    assert!(
        matches!(refused, Err(app::error::AppError::Forbidden)),
        "engineering does not manage it: {refused:?}"
    );
    let refused = create_key(&db, &hasher, org, outcomes_key(po_id, "po@example.com", Some("copilot"))).await;
    assert!(matches!(refused, Err(app::error::AppError::Forbidden)), "not the owner: {refused:?}");
    let unbound =
        create_key(&db, &hasher, org, outcomes_key(po_id, "po@example.com", None)).await.unwrap_err();
    assert!(unbound.to_string().starts_with("initiative:"), "{unbound}");
    let unknown =
        create_key(&db, &hasher, org, outcomes_key(po_id, "po@example.com", Some("nope"))).await.unwrap_err();
    assert!(unknown.to_string().contains("'nope' is not an initiative"), "{unknown}");
    let outcomes = create_key(&db, &hasher, org, outcomes_key(po_id, "po@example.com", Some("smart-search")))
        .await
        .unwrap()
        .token;
    // the key was made for smart-search: copilot's line is refused
    // w47 is 62 % of smart-search's value: it carries its evidence (and waits for finance)
    let csv = "initiative,day,metric,quantity,value_per_unit,total_value,external_id,evidence\n\
        smart-search,2026-11-02,conversions,3,2.50,,w45,\n\
        smart-search,2026-11-09,conversions,x,,,w46,\n\
        copilot,2026-11-02,tickets,1,1,,c1,\n\
        smart-search,2026-11-16,,,,12.345678901,w47,https://bi.example.com/w47\n";
    let post = |auth: Option<&str>| {
        let mut r = Request::post("/api/v1/outcomes").header("content-type", "text/csv");
        if let Some(t) = auth {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        r.body(Body::from(csv)).unwrap()
    };
    let (status, _) = send(&app, post(None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = send(&app, post(Some(&ingest))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "an ingest key records no value: {body}");
    let (status, body) = send(&app, post(Some(&outcomes))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (r["accepted"].as_u64(), r["rejected"].as_u64(), r["duplicates"].as_u64()),
        (Some(2), Some(2), Some(0))
    );
    assert_eq!(r["value"], 7_500_000_000i64 + 12_345_678_901, "3 × $2.50 + $12.345678901, to the nano");
    let errors = r["errors"].as_array().unwrap();
    assert_eq!((errors[0]["at"].as_u64(), errors[0]["field"].as_str()), (Some(3), Some("quantity")));
    assert_eq!((errors[1]["at"].as_u64(), errors[1]["field"].as_str()), (Some(4), Some("initiative")));
    // the same file again: nothing counted twice
    let (status, body) = send(&app, post(Some(&outcomes))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((r["accepted"].as_u64(), r["duplicates"].as_u64()), (Some(0), Some(2)));
    let kept = db.outcomes(org, Some(ids[0])).await.unwrap();
    assert_eq!(kept.len(), 2);
    let w47 = kept.iter().find(|o| o.external_id.as_deref() == Some("w47")).unwrap();
    assert!(w47.pending && !w47.counted(), "a large line waits for finance");

    // the owner uploads a CSV on their initiative's page; not on someone else's
    let po = sign_in(&app, "po@example.com", "a product long password", None).await.unwrap();
    let upload = "day,quantity,total_value,note,external_id,evidence\n\
        2026-11-20,,40,campaign,p1,https://bi.example.com/campaign\n2026-11-21,,,missing value,p2,\n";
    let res = app
        .clone()
        .oneshot(with_cookie(multipart_csv(&format!("/initiatives/{}/outcomes", ids[0]), upload), &po))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("/initiatives/{}?imported=1&duplicates=0&rejected=1", ids[0])),
        "{location}"
    );
    assert!(location.contains("line%203%3A%20total_value"), "{location}");
    let res = app
        .clone()
        .oneshot(with_cookie(multipart_csv(&format!("/initiatives/{}/outcomes", ids[1]), upload), &po))
        .await
        .unwrap();
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("imported=0&duplicates=0&rejected=2"), "{location}");
    let viewer = sign_in(&app, VIEWER, PASSWORD, None).await.unwrap();
    let res = app
        .clone()
        .oneshot(with_cookie(multipart_csv(&format!("/initiatives/{}/outcomes", ids[0]), upload), &viewer))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let stored = db.outcomes(org, None).await.unwrap();
    assert_eq!(stored.len(), 3);
    assert_eq!(
        stored.iter().find(|o| o.external_id.as_deref() == Some("p1")).unwrap().recorded_by,
        "po@example.com"
    );
    // the key's right is its creator's right today: once the owner is no longer product, it stops
    app::server::services::users::change_role(&db, org, &cli, po_id, "viewer").await.unwrap();
    let (status, body) = send(&app, post(Some(&outcomes))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(db.outcomes(org, None).await.unwrap().len(), 3);
}
on_both!(outcomes_arrive_by_api_and_csv_upload_each_line_once_with_errors_naming_line_and_field);

pub(crate) async fn engineers_work_anomalies_through_the_router_and_viewers_read_them(db: Db) {
    use app::api::anomalies::{ActOnAnomaly, GetAnomaly, ListAnomalies, ReportAnomaly};
    use app::domain::anomaly::{AnomaliesPage, AnomalyDetail, Status};
    let app = app_with_events(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let eng = AddUser {
        email: "eng@example.com".into(),
        name: "E".into(),
        role: app::domain::Role::Engineering,
        password: "an engineer's long password".into(),
        team: None,
    };
    add_user(&db, org, &app::server::db::Actor::cli(), eng).await.unwrap();
    let eng = sign_in(&app, "eng@example.com", "an engineer's long password", None).await.unwrap();
    let viewer = sign_in(&app, VIEWER, PASSWORD, None).await.unwrap();
    let report = |start: &str| format!("scope_dim=total&scope_value=&start={start}&note=double+billing");
    let (status, body) =
        send(&app, with_cookie(post_form(ReportAnomaly::PATH, &report("yesterday")), &eng)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("start: 'yesterday' is not a date and time"), "{body}");
    let (status, _) =
        send(&app, with_cookie(post_form(ReportAnomaly::PATH, &report("2026-11-09T08%3A30")), &viewer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "viewers report nothing");
    let (status, body) =
        send(&app, with_cookie(post_form(ReportAnomaly::PATH, &report("2026-11-09T08%3A30")), &eng)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id: i64 = serde_json::from_str(&body).unwrap();

    // everyone signed in reads the inbox and the record; the reported one counts as missed
    let (status, body) =
        send(&app, with_cookie(post_form(ListAnomalies::PATH, "status=open&scope=&severity="), &viewer))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page: AnomaliesPage = serde_json::from_str(&body).unwrap();
    assert_eq!(page.anomalies.len(), 1);
    assert_eq!((page.figures.reported, page.figures.rate_pct), (1, Some(0.0)));
    assert!(!page.can_act);
    let (status, _) = send(
        &app,
        with_cookie(
            post_form(ActOnAnomaly::PATH, &format!("id={id}&action=acknowledge&assignee=&note=")),
            &viewer,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let act = |action: &str| format!("id={id}&action={action}&assignee=eng%40example.com&note=on+it");
    let (status, body) =
        send(&app, with_cookie(post_form(ActOnAnomaly::PATH, &act("acknowledge")), &eng)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) =
        send(&app, with_cookie(post_form(ActOnAnomaly::PATH, &act("acknowledge")), &eng)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("action: a acknowledged anomaly cannot become acknowledged"), "{body}");
    let (status, body) =
        send(&app, with_cookie(post_form(GetAnomaly::PATH, &format!("id={id}")), &viewer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let d: AnomalyDetail = serde_json::from_str::<app::charts::Charted<AnomalyDetail>>(&body).unwrap().data;
    assert_eq!((d.anomaly.status, d.anomaly.assignee.as_str()), (Status::Acknowledged, "eng@example.com"));
    assert_eq!(d.events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["reported", "acknowledge"]);
    let (status, html) = send(&app, with_cookie(get(&format!("/anomalies/{id}")), &viewer)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("double billing") && html.contains("acknowledged"), "the page renders the record");
}
on_both!(engineers_work_anomalies_through_the_router_and_viewers_read_them);

pub(crate) async fn a_review_is_exported_and_only_finance_closes_it(db: Db) {
    use app::api::reviews::{CloseReview, CreateReviewSchedule, GetReview, ListReviews, ReviewsPage};
    let app = app_with_events(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let fin = AddUser {
        email: "fin@example.com".into(),
        name: "F".into(),
        role: app::domain::Role::Finance,
        password: "a finance long password".into(),
        team: None,
    };
    add_user(&db, org, &app::server::db::Actor::cli(), fin).await.unwrap();
    let fin = sign_in(&app, "fin@example.com", "a finance long password", None).await.unwrap();
    let viewer = sign_in(&app, VIEWER, PASSWORD, None).await.unwrap();
    let (status, _) = send(
        &app,
        with_cookie(post_form(CreateReviewSchedule::PATH, "team=&cadence=monthly&day=3"), &viewer),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) =
        send(&app, with_cookie(post_form(CreateReviewSchedule::PATH, "team=&cadence=monthly&day=30"), &fin))
            .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("day: a day of the month from 1 to 28"), "{body}");
    let (status, body) =
        send(&app, with_cookie(post_form(CreateReviewSchedule::PATH, "team=&cadence=monthly&day=3"), &fin))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // today is 2026-11-20: the meeting of 3 November reviews October
    let (_, body) = send(&app, with_cookie(post_form(ListReviews::PATH, ""), &viewer)).await;
    let page: ReviewsPage = serde_json::from_str(&body).unwrap();
    let r = &page.reviews[0];
    assert_eq!(
        (r.meeting.to_string(), r.period.from.to_string()),
        ("2026-11-03".into(), "2026-10-01".into())
    );
    assert_eq!(page.upcoming[0].1.to_string(), "2026-12-03");
    let (status, _) =
        send(&app, with_cookie(post_form(CloseReview::PATH, &format!("id={}", r.id)), &viewer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "viewers close nothing");
    let (status, body) =
        send(&app, with_cookie(post_form(CloseReview::PATH, &format!("id={}", r.id)), &fin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) =
        send(&app, with_cookie(post_form(GetReview::PATH, &format!("id={}", r.id)), &viewer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("\"closed_by\":\"fin@example.com\""), "{body}");
    // the export: CSV by default, JSON on request, sign-in required
    let (status, csv) = send(&app, with_cookie(get(&format!("/reviews/{}/export", r.id)), &viewer)).await;
    assert_eq!(status, StatusCode::OK);
    // October holds event a: $1.50 on 3 October
    assert!(csv.lines().any(|l| l == "spend,total_nanos,1500000000,0"), "{csv}");
    let (status, json) =
        send(&app, with_cookie(get(&format!("/reviews/{}/export?format=json", r.id)), &viewer)).await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["figures"]["spend"], serde_json::json!(1_500_000_000i64));
    let (status, _) = send(&app, get(&format!("/reviews/{}/export", r.id))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
on_both!(a_review_is_exported_and_only_finance_closes_it);

pub(crate) async fn a_large_unverified_outcome_counts_apart_until_finance_verifies_it(db: Db) {
    use app::api::initiatives::{GetInitiative, RecordOutcome, VerifyOutcome};
    use app::domain::initiative::{parse_initiative, InitiativeDetail, InitiativeInput};
    use app::server::services::initiatives;
    let app = app_with_events(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let add = |email: &str, role| AddUser {
        email: email.into(),
        name: "P".into(),
        role,
        password: "a product long password".into(),
        team: None,
    };
    let cli = app::server::db::Actor::cli();
    let admin = add_user(&db, org, &cli, add("boss@example.com", app::domain::Role::Admin)).await.unwrap();
    add_user(&db, org, &cli, add("po@example.com", app::domain::Role::Product)).await.unwrap();
    add_user(&db, org, &cli, add("fin@example.com", app::domain::Role::Finance)).await.unwrap();
    let i = parse_initiative(&InitiativeInput {
        key: "copilot".into(),
        name: "Copilot".into(),
        owner: "po@example.com".into(),
        status: "live".into(),
        metric: "hours saved".into(),
        ..Default::default()
    })
    .unwrap();
    let id = initiatives::create(&db, org, &admin, i).await.unwrap();
    let po = sign_in(&app, "po@example.com", "a product long password", None).await.unwrap();
    let fin = sign_in(&app, "fin@example.com", "a product long password", None).await.unwrap();
    let record = |usd: &str, evidence: &str| {
        format!(
            "initiative={id}&day=2026-11-05&period_end=&metric=&quantity=&value_per_unit=&total_value={usd}\
            &baseline_cost=&note=&evidence={evidence}"
        )
    };
    let (status, body) =
        send(&app, with_cookie(post_form(RecordOutcome::PATH, &record("100", "")), &po)).await;
    assert_eq!(status, StatusCode::OK, "the first outcome has nothing to be compared with: {body}");
    // $900 after $100 is 90 % of the value: refused without evidence, held with it
    let (status, body) =
        send(&app, with_cookie(post_form(RecordOutcome::PATH, &record("900", "")), &po)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["Invalid"].as_str().is_some_and(|m| m.starts_with("evidence: ")), "{body}");
    assert!(body.contains("90% of Copilot's value, above the 50%"), "{body}");
    let link = "https%3A%2F%2Fbi.example.com%2Freport%2F7";
    let (status, body) =
        send(&app, with_cookie(post_form(RecordOutcome::PATH, &record("900", link)), &po)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let big: i64 = body.trim().parse().unwrap();
    let detail = |who: String| {
        let app = app.clone();
        async move {
            let (status, body) =
                send(&app, with_cookie(post_form(GetInitiative::PATH, &format!("id={id}&from=&to=")), &who))
                    .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            serde_json::from_str::<app::charts::Charted<InitiativeDetail>>(&body).unwrap().data
        }
    };
    let d = detail(po.clone()).await;
    assert_eq!(
        (d.line.metrics.value, d.line.metrics.unverified),
        (Nanos(100_000_000_000), Nanos(900_000_000_000))
    );
    assert!(!d.can_verify, "a product owner does not verify their own value");
    // only finance (and admins) verify; then it counts
    let verify = format!("initiative={id}&outcome={big}");
    let (status, _) = send(&app, with_cookie(post_form(VerifyOutcome::PATH, &verify), &po)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = send(&app, with_cookie(post_form(VerifyOutcome::PATH, &verify), &fin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let d = detail(fin.clone()).await;
    assert!(d.can_verify);
    assert_eq!((d.line.metrics.value, d.line.metrics.unverified), (Nanos(1_000_000_000_000), Nanos::ZERO));
    assert_eq!(
        d.outcomes.iter().find(|o| o.id == big).unwrap().verified_by.as_deref(),
        Some("fin@example.com")
    );
    let (status, body) = send(&app, with_cookie(post_form(VerifyOutcome::PATH, &verify), &fin)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "once: {body}");
}
on_both!(a_large_unverified_outcome_counts_apart_until_finance_verifies_it);
