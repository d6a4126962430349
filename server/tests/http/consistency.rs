//! One number, one definition: the same data rendered on the Overview, Coverage, Budgets,
//! Maturity and a review page shows the same tag coverage and the same projected month end.
use super::*;
use app::api::{CreateBudget, ListBudgets};
use app::domain::ledger::SpendSource;
use app::domain::DateRange;

fn pct(tagged: i64, total: i64) -> String {
    format!("{:.1}%", tagged as f64 * 100.0 / total as f64)
}

pub(crate) async fn every_page_shows_the_same_coverage_and_projection(db: Db) {
    let app = app_with_events(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    // besides the support team's events: spend without a team, and spend with an initiative
    let mut no_team = ev("u1", "2026-11-05", 10, 3_333_333_333);
    no_team.team = None;
    no_team.initiative = Some("assistant".into());
    let mut search = ev("u2", "2026-11-08", 10, 777_777_777);
    search.team = Some("search".into());
    search.initiative = Some("assistant".into());
    db.insert_usage_events(org, &[no_team, search]).await.unwrap();
    let finance = AddUser {
        email: "fin@example.com".into(),
        name: "Fi".into(),
        role: app::domain::Role::Finance,
        password: "a finance long password".into(),
        team: None,
    };
    let fin_user = add_user(&db, org, &app::server::db::Actor::cli(), finance).await.unwrap();
    let fin = sign_in(&app, "fin@example.com", "a finance long password", None).await.expect("finance");
    let form = "name=All+AI&scope=&scope_value=&period=month&fiscal_start_month=1&recurring=on\
        &start=2026-11-01&amount_usd=1000&thresholds=80&owner=Fi";
    let (status, body) = send(&app, with_cookie(post_form(CreateBudget::PATH, form), &fin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let today = d(TODAY);
    app::server::services::reviews::create_schedule(&db, org, &fin_user, "", "weekly", "1", today)
        .await
        .unwrap();
    app::server::services::reviews::ensure_due(&db, org, today).await.unwrap();
    let review = db.reviews(org).await.unwrap().remove(0).id;

    // the last 30 days: what Maturity scores (Oct 3 lies before them)
    let month = DateRange::last_days(today, 30);
    let total = 2_000_000_001 + 10_123_456_789 + 1 + 3_333_333_333 + 777_777_777;
    let team = pct(total - 3_333_333_333, total);
    let initiative = pct(3_333_333_333 + 777_777_777, total);
    assert_eq!((team.as_str(), initiative.as_str()), ("79.5%", "25.3%"), "the test's own arithmetic");

    let html = |uri: String| {
        let app = app.clone();
        let fin = fin.clone();
        async move {
            let (status, body) = send(&app, with_cookie(html_get(&uri), &fin)).await;
            assert_eq!(status, StatusCode::OK, "{uri}: {body}");
            body
        }
    };
    let range = format!("from={}&to={}", month.from, month.to);
    let overview = html(format!("/?{range}")).await;
    let coverage = html(format!("/coverage?{range}")).await;
    let maturity = html("/maturity".into()).await;
    for (page, body) in [("overview", &overview), ("coverage", &coverage), ("maturity", &maturity)] {
        assert!(body.contains(&team), "{page} shows team coverage {team}");
        assert!(body.contains(&initiative), "{page} shows initiative coverage {initiative}");
    }

    // the projected month end: the Overview's, the budget's and the review's are one figure
    let (_, body) = send(&app, with_cookie(post_form(GetOverview::PATH, &range), &fin)).await;
    let o: Overview = serde_json::from_str::<app::charts::Charted<Overview>>(&body).unwrap().data;
    let (_, body) = send(&app, with_cookie(post_form(ListBudgets::PATH, ""), &fin)).await;
    let budgets: app::api::BudgetsPage = serde_json::from_str(&body).unwrap();
    let e = budgets.lines[0].evaluation.clone().expect("evaluated");
    assert_eq!(e.actual, o.mtd, "an organisation-wide monthly budget spends the month to date");
    assert_eq!(e.projected, o.projected_month_end);
    assert!(o.projected_month_end.point >= o.mtd, "never projected below what is spent");
    let projected = o.projected_month_end.point.usd();
    let budget_page = html("/budgets".into()).await;
    let review_page = html(format!("/reviews/{review}")).await;
    for (page, body) in [("overview", &overview), ("budgets", &budget_page), ("review", &review_page)] {
        assert!(body.contains(&projected), "{page} shows the projected month end {projected}");
    }
}
on_both!(every_page_shows_the_same_coverage_and_projection);

/// A source gone quiet is said on the Overview and the explorer alike, with a link to the
/// imports; while it is current, neither page says anything.
pub(crate) async fn a_quiet_source_shows_the_same_banner_on_overview_and_explorer(db: Db) {
    let current = app_with_events(&db).await; // token events through today, Nov 10
    let viewer = sign_in(&current, VIEWER, PASSWORD, None).await.expect("viewer");
    let (_, body) = send(&current, with_cookie(post_form(GetOverview::PATH, ""), &viewer)).await;
    let o: Overview = serde_json::from_str::<app::charts::Charted<Overview>>(&body).unwrap().data;
    assert!(o.stale.is_empty(), "yesterday's and today's calls are current: {:?}", o.stale);
    let (_, page) = send(&current, with_cookie(html_get("/"), &viewer)).await;
    assert!(!page.contains("stale-banner"));

    // five days later nothing more has arrived
    let org = db.ensure_org("default", "Default").await.unwrap();
    let later = crate::checked(server::build_router(
        startup::state(&db, org, startup::Options::for_tests(d("2026-11-15"))).await.unwrap(),
    ));
    let viewer = sign_in(&later, VIEWER, PASSWORD, None).await.expect("viewer");
    let (_, body) = send(&later, with_cookie(post_form(GetOverview::PATH, ""), &viewer)).await;
    let o: Overview = serde_json::from_str::<app::charts::Charted<Overview>>(&body).unwrap().data;
    assert_eq!(o.stale.len(), 1, "{:?}", o.stale);
    assert_eq!(
        (o.stale[0].source, o.stale[0].last_day, o.stale[0].days_behind),
        (SpendSource::Tokens, d("2026-11-10"), 5)
    );
    let said = "Tokens last brought spend for 2026-11-10 (5 days ago)";
    for uri in ["/", "/spend?group=team"] {
        let (status, page) = send(&later, with_cookie(html_get(uri), &viewer)).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(page.contains("data-testid=\"stale-banner\""), "{uri} shows the banner");
        assert!(page.contains(said), "{uri} says which source and since when");
        assert!(page.contains("href=\"/settings/imports\""), "{uri} links to the imports");
    }
}
on_both!(a_quiet_source_shows_the_same_banner_on_overview_and_explorer);
