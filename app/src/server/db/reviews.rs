//! Review schedules, reviews (frozen when closed), decisions and action items; the maturity
//! checklist's manual items and daily scores.
use chrono::NaiveDate;

use super::query::{query, query_as, query_scalar};
use super::webhooks::enqueue_notice;
use super::{Db, OrgId};
use crate::domain::maturity::Manual;
use crate::domain::review::{ActionItem, Cadence, Decision, Review, Schedule};
use crate::domain::webhook::Notice;
use crate::domain::DateRange;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

type ReviewRow = (i64, i64, String, NaiveDate, NaiveDate, NaiveDate, Option<i64>, Option<String>);
/// A review row and its frozen figures.
type FrozenRow =
    (i64, i64, String, NaiveDate, NaiveDate, NaiveDate, Option<i64>, Option<String>, Option<String>);

fn review_of(r: ReviewRow) -> Review {
    Review {
        id: r.0,
        schedule_id: r.1,
        title: r.2,
        meeting: r.3,
        period: DateRange { from: r.4, to: r.5 },
        closed_at: r.6.map(crate::domain::period::utc_minute),
        closed_by: r.7,
    }
}

const REVIEW_COLUMNS: &str =
    "id, schedule_id, title, meeting_day, period_from, period_to, closed_at, closed_by";

impl Db {
    pub async fn insert_schedule(
        &self,
        org: OrgId,
        team: Option<&str>,
        c: Cadence,
        by: &str,
    ) -> sqlx::Result<i64> {
        const SQL: &str =
            "insert into review_schedules (org_id, team, cadence, day, created_by, created_at) \
            values ($1, $2, $3, $4, $5, $6) returning id";
        let (kind, day) = match c {
            Cadence::Weekly(d) => ("weekly", d),
            Cadence::Monthly(d) => ("monthly", d),
        };
        query_scalar(SQL)
            .bind(org.0)
            .bind(team)
            .bind(kind)
            .bind(day as i64)
            .bind(by)
            .bind(now())
            .fetch_one(self)
            .await
    }

    pub async fn schedules(&self, org: OrgId) -> sqlx::Result<Vec<Schedule>> {
        const SQL: &str = "select id, team, cadence, day from review_schedules where org_id = $1 order by id";
        let rows: Vec<(i64, Option<String>, String, i64)> = query_as(SQL).bind(org.0).fetch_all(self).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, team, kind, day)| {
                Some(Schedule { id, team, cadence: Cadence::parse(&kind, &day.to_string()).ok()? })
            })
            .collect())
    }

    /// Creates the review of `schedule` for `meeting` unless it exists, announcing it (webhooks)
    /// in the same transaction; `Some(id)` when it was created now.
    pub async fn ensure_review(
        &self,
        org: OrgId,
        schedule: i64,
        title: &str,
        meeting: NaiveDate,
        period: DateRange,
        notice: &Notice,
    ) -> sqlx::Result<Option<i64>> {
        const SQL: &str = "insert into reviews (org_id, schedule_id, title, meeting_day, period_from, period_to, \
            created_at) values ($1, $2, $3, $4, $5, $6, $7) on conflict (schedule_id, meeting_day) do nothing returning id";
        let mut tx = self.begin().await?;
        let out = {
            let id: Option<i64> = query_scalar(SQL)
                .bind(org.0)
                .bind(schedule)
                .bind(title)
                .bind(meeting)
                .bind(period.from)
                .bind(period.to)
                .bind(now())
                .fetch_optional(&mut tx)
                .await?;
            if let Some(id) = id {
                let mut n = notice.clone();
                n.key = format!("review:{id}");
                n.path = format!("/reviews/{id}");
                enqueue_notice(&mut tx, org, &n, None).await?;
            }
            id
        };
        tx.commit().await?;
        Ok(out)
    }

    pub async fn reviews(&self, org: OrgId) -> sqlx::Result<Vec<Review>> {
        let sql = format!(
            "select {REVIEW_COLUMNS} from reviews where org_id = $1 order by meeting_day desc, id desc"
        );
        let rows: Vec<ReviewRow> = query_as(&sql).bind(org.0).fetch_all(self).await?;
        Ok(rows.into_iter().map(review_of).collect())
    }

    /// A review with its frozen figures (JSON) when closed.
    pub async fn review(&self, org: OrgId, id: i64) -> sqlx::Result<Option<(Review, Option<String>)>> {
        let sql = format!("select {REVIEW_COLUMNS}, frozen from reviews where org_id = $1 and id = $2");
        let row: Option<FrozenRow> = query_as(&sql).bind(org.0).bind(id).fetch_optional(self).await?;
        Ok(row.map(|r| (review_of((r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7)), r.8)))
    }

    /// Freezes a review's figures; false when it was already closed (the first close wins).
    pub async fn close_review(&self, org: OrgId, id: i64, frozen: &str, by: &str) -> sqlx::Result<bool> {
        const SQL: &str = "update reviews set frozen = $3, closed_at = $4, closed_by = $5 \
            where org_id = $1 and id = $2 and closed_at is null";
        let n = query(SQL)
            .bind(org.0)
            .bind(id)
            .bind(frozen)
            .bind(now())
            .bind(by)
            .execute(self)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    pub async fn insert_review_decision(
        &self,
        org: OrgId,
        review: i64,
        text: &str,
        by: &str,
    ) -> sqlx::Result<i64> {
        const SQL: &str = "insert into review_decisions (org_id, review_id, text, decided_by, at) \
            values ($1, $2, $3, $4, $5) returning id";
        query_scalar(SQL).bind(org.0).bind(review).bind(text).bind(by).bind(now()).fetch_one(self).await
    }

    pub async fn review_decisions(
        &self,
        org: OrgId,
        review: Option<i64>,
    ) -> sqlx::Result<Vec<(i64, Decision)>> {
        const SQL: &str = "select review_id, id, text, decided_by, at from review_decisions \
            where org_id = $1 and ($2 is null or review_id = $2) order by at, id";
        let rows: Vec<(i64, i64, String, String, i64)> =
            query_as(SQL).bind(org.0).bind(review).fetch_all(self).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (r.0, Decision { id: r.1, text: r.2, by: r.3, at: crate::domain::period::utc_minute(r.4) })
            })
            .collect())
    }

    pub async fn insert_action(
        &self,
        org: OrgId,
        review: i64,
        title: &str,
        owner: &str,
        due: Option<NaiveDate>,
        by: &str,
    ) -> sqlx::Result<i64> {
        const SQL: &str =
            "insert into action_items (org_id, review_id, title, owner, due, done, created_by, updated_at) \
            values ($1, $2, $3, $4, $5, $6, $7, $8) returning id";
        query_scalar(SQL)
            .bind(org.0)
            .bind(review)
            .bind(title)
            .bind(owner)
            .bind(due)
            .bind(false)
            .bind(by)
            .bind(now())
            .fetch_one(self)
            .await
    }

    pub async fn set_action_done(&self, org: OrgId, id: i64, done: bool) -> sqlx::Result<bool> {
        const SQL: &str = "update action_items set done = $3, updated_at = $4 where org_id = $1 and id = $2";
        let n = query(SQL).bind(org.0).bind(id).bind(done).bind(now()).execute(self).await?.rows_affected();
        Ok(n == 1)
    }

    /// Every action item, oldest first.
    pub async fn actions(&self, org: OrgId) -> sqlx::Result<Vec<ActionItem>> {
        const SQL: &str =
            "select id, review_id, title, owner, due, done from action_items where org_id = $1 order by id";
        let rows: Vec<(i64, i64, String, String, Option<NaiveDate>, bool)> =
            query_as(SQL).bind(org.0).fetch_all(self).await?;
        Ok(rows
            .into_iter()
            .map(|r| ActionItem { id: r.0, review_id: r.1, title: r.2, owner: r.3, due: r.4, done: r.5 })
            .collect())
    }

    pub async fn maturity_manual(&self, org: OrgId) -> sqlx::Result<Vec<(String, Manual)>> {
        const SQL: &str =
            "select item, done, owner, evidence, done_on, updated_by from maturity_manual where org_id = $1";
        let rows: Vec<(String, bool, String, String, Option<NaiveDate>, String)> =
            query_as(SQL).bind(org.0).fetch_all(self).await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.0, Manual { done: r.1, owner: r.2, evidence: r.3, date: r.4, updated_by: r.5 }))
            .collect())
    }

    pub async fn set_maturity_manual(&self, org: OrgId, item: &str, m: &Manual) -> sqlx::Result<()> {
        const SQL: &str = "insert into maturity_manual (org_id, item, done, owner, evidence, done_on, updated_by, updated_at) \
            values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (org_id, item) do update set done = excluded.done, \
            owner = excluded.owner, evidence = excluded.evidence, done_on = excluded.done_on, \
            updated_by = excluded.updated_by, updated_at = excluded.updated_at";
        query(SQL)
            .bind(org.0)
            .bind(item)
            .bind(m.done)
            .bind(&m.owner)
            .bind(&m.evidence)
            .bind(m.date)
            .bind(&m.updated_by)
            .bind(now())
            .execute(self)
            .await
            .map(|_| ())?;
        Ok(())
    }

    /// Records the day's score (the latest of the day wins).
    pub async fn record_maturity(
        &self,
        org: OrgId,
        day: NaiveDate,
        stage: Option<usize>,
        met: usize,
        total: usize,
    ) -> sqlx::Result<()> {
        const SQL: &str = "insert into maturity_scores (org_id, day, stage, met, total) values ($1, $2, $3, $4, $5) \
            on conflict (org_id, day) do update set stage = excluded.stage, met = excluded.met, total = excluded.total";
        query(SQL)
            .bind(org.0)
            .bind(day)
            .bind(stage.map(|s| s as i64))
            .bind(met as i64)
            .bind(total as i64)
            .execute(self)
            .await
            .map(|_| ())?;
        Ok(())
    }

    pub async fn maturity_history(
        &self,
        org: OrgId,
    ) -> sqlx::Result<Vec<(NaiveDate, Option<usize>, usize, usize)>> {
        const SQL: &str = "select day, stage, met, total from maturity_scores where org_id = $1 order by day";
        let rows: Vec<(NaiveDate, Option<i64>, i64, i64)> = query_as(SQL).bind(org.0).fetch_all(self).await?;
        Ok(rows.into_iter().map(|r| (r.0, r.1.map(|s| s as usize), r.2 as usize, r.3 as usize)).collect())
    }
}
