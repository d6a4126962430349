//! Initiatives, their outcomes, and zombie flags with decisions.
use chrono::{NaiveDate, Utc};

use super::audit::insert_audit;
use super::query::{query, query_as, query_scalar};
use super::{is_unique_violation, Db, NewAudit, OrgId, Tx};
use crate::domain::initiative::{
    Decision, Flag, FlagDecision, Hypothesis, Initiative, Outcome, Rule, Status, Trip,
};
use crate::domain::Nanos;

type InitiativeRow = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<NaiveDate>,
    Option<NaiveDate>,
    String,
    String,
    Option<i64>,
    String,
    String,
    String,
);

fn initiative_of(r: InitiativeRow) -> Option<Initiative> {
    Some(Initiative {
        id: r.0,
        key: r.1,
        name: r.2,
        description: r.3,
        owner: r.4,
        team: r.5,
        status: Status::parse(&r.6).ok()?,
        kickoff: r.7,
        go_live: r.8,
        hypothesis: Hypothesis { metric: r.9, unit: r.10, value_per_unit: r.11.map(Nanos) },
        features: serde_json::from_str(&r.12).ok()?,
        api_keys: serde_json::from_str(&r.13).ok()?,
        tags: serde_json::from_str(&r.14).ok()?,
    })
}

type OutcomeRow = (
    i64,
    i64,
    NaiveDate,
    Option<NaiveDate>,
    String,
    i64,
    i64,
    Option<i64>,
    String,
    String,
    String,
    Option<String>,
    bool,
    Option<String>,
);

fn rules_json(i: &Initiative) -> (String, String, String) {
    let json = |v: serde_json::Result<String>| v.unwrap_or_else(|_| "[]".into());
    (
        json(serde_json::to_string(&i.features)),
        json(serde_json::to_string(&i.api_keys)),
        json(serde_json::to_string(&i.tags)),
    )
}

/// Raises the organisation's lifetime outcome value by `$2` (value plus baseline of what is
/// stored), unless it would pass `$3`: outcome values are summed across initiatives (the
/// portfolio's ROI), so their total is bounded like spend (see `db::totals`).
const OUTCOME_GUARD: &str = "update org_totals set outcome_value_nanos = outcome_value_nanos + $2 \
    where org_id = $1 and outcome_value_nanos + $2 <= $3 and outcome_value_nanos + $2 >= 0";
const OUTCOME_WEIGHT: &str = "select value_nanos + coalesce(baseline_nanos, 0) from outcomes \
    where org_id = $1 and initiative_id = $2 and id = $3";

/// Moves the lifetime outcome value by a delta inside the caller's transaction:
/// `Err(OverLimit)` when it would leave `0..=MAX_ORG_TOTAL`.
async fn outcome_total(tx: &mut Tx, org: OrgId, delta: i64) -> sqlx::Result<()> {
    let n = query(OUTCOME_GUARD)
        .bind(org.0)
        .bind(delta)
        .bind(crate::domain::limits::MAX_ORG_TOTAL)
        .execute(tx)
        .await?
        .rows_affected();
    if n == 0 {
        Err(outcome_over_limit())
    } else {
        Ok(())
    }
}

fn outcome_weight(o: &Outcome) -> i64 {
    // each part is at most MAX_LINE_COST (checked when parsed), so the sum fits
    o.value.0 + o.baseline_cost.map_or(0, |b| b.0)
}

fn outcome_over_limit() -> sqlx::Error {
    super::OverLimit(format!(
        "value_per_unit: this would take the organisation's recorded outcome value above {}; nothing was stored",
        crate::domain::Nanos(crate::domain::limits::MAX_ORG_TOTAL).usd()
    ))
    .into()
}

impl Db {
    /// Stores a new initiative with its audit record; `Ok(None)` when its key is taken.
    pub async fn insert_initiative(
        &self,
        org: OrgId,
        i: &Initiative,
        audit: &NewAudit,
    ) -> sqlx::Result<Option<i64>> {
        const SQL: &str = "insert into initiatives (org_id, key, name, description, owner, team, status, \
            kickoff, go_live, value_metric, value_unit, value_per_unit_nanos, features, api_keys, tags, created_at, updated_at) \
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $15, $16, $14, $14) returning id";
        let (features, api_keys, tags) = rules_json(i);
        let now = Utc::now();
        let res: sqlx::Result<i64> = async {
            let mut tx = self.begin().await?;
            let out = {
                let id: i64 = query_scalar(SQL)
                    .bind(org.0)
                    .bind(&i.key)
                    .bind(&i.name)
                    .bind(&i.description)
                    .bind(&i.owner)
                    .bind(&i.team)
                    .bind(i.status.as_str())
                    .bind(i.kickoff)
                    .bind(i.go_live)
                    .bind(&i.hypothesis.metric)
                    .bind(&i.hypothesis.unit)
                    .bind(i.hypothesis.value_per_unit.map(|n| n.0))
                    .bind(&features)
                    .bind(now)
                    .bind(&api_keys)
                    .bind(&tags)
                    .fetch_one(&mut tx)
                    .await?;
                insert_audit(&mut tx, org, audit).await?;
                id
            };
            tx.commit().await?;
            Ok(out)
        }
        .await;
        match res {
            Ok(id) => Ok(Some(id)),
            Err(e) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces an initiative's definition; false when the organisation has no such one.
    pub async fn update_initiative(
        &self,
        org: OrgId,
        id: i64,
        i: &Initiative,
        audit: &NewAudit,
    ) -> sqlx::Result<bool> {
        const SQL: &str = "update initiatives set name = $3, description = $4, owner = $5, team = $6, \
            status = $7, kickoff = $8, go_live = $9, value_metric = $10, value_unit = $11, \
            value_per_unit_nanos = $12, features = $13, updated_at = $14, api_keys = $15, tags = $16 \
            where org_id = $1 and id = $2";
        let (features, api_keys, tags) = rules_json(i);
        let n = {
            let mut tx = self.begin().await?;
            let out = {
                let n = query(SQL)
                    .bind(org.0)
                    .bind(id)
                    .bind(&i.name)
                    .bind(&i.description)
                    .bind(&i.owner)
                    .bind(&i.team)
                    .bind(i.status.as_str())
                    .bind(i.kickoff)
                    .bind(i.go_live)
                    .bind(&i.hypothesis.metric)
                    .bind(&i.hypothesis.unit)
                    .bind(i.hypothesis.value_per_unit.map(|n| n.0))
                    .bind(&features)
                    .bind(Utc::now())
                    .bind(&api_keys)
                    .bind(&tags)
                    .execute(&mut tx)
                    .await?
                    .rows_affected();
                if n == 1 {
                    insert_audit(&mut tx, org, audit).await?;
                }
                n
            };
            tx.commit().await?;
            out
        };
        Ok(n == 1)
    }

    pub async fn initiatives(&self, org: OrgId) -> sqlx::Result<Vec<Initiative>> {
        const SQL: &str = "select id, key, name, description, owner, team, status, kickoff, go_live, \
            value_metric, value_unit, value_per_unit_nanos, features, api_keys, tags from initiatives where org_id = $1 \
            order by name, id";
        let rows: Vec<InitiativeRow> = query_as(SQL).bind(org.0).fetch_all(self).await?;
        Ok(rows.into_iter().filter_map(initiative_of).collect())
    }

    /// Stores an outcome with its audit record; returns its id, or `None` when the initiative
    /// already holds an outcome with the same external id (a resend: nothing is stored).
    pub async fn insert_outcome(
        &self,
        org: OrgId,
        o: &Outcome,
        audit: &NewAudit,
    ) -> sqlx::Result<Option<i64>> {
        const SQL: &str =
            "insert into outcomes (org_id, initiative_id, day, period_end, metric, quantity_milli, \
            value_nanos, baseline_nanos, note, evidence, recorded_by, recorded_at, external_id, pending) \
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
            on conflict (initiative_id, external_id) do nothing returning id";
        Ok({
            let mut tx = self.begin().await?;
            let out = {
                let id: Option<i64> = query_scalar(SQL)
                    .bind(org.0)
                    .bind(o.initiative_id)
                    .bind(o.day)
                    .bind(o.period_end)
                    .bind(&o.metric)
                    .bind(o.quantity_milli)
                    .bind(o.value.0)
                    .bind(o.baseline_cost.map(|n| n.0))
                    .bind(&o.note)
                    .bind(&o.evidence)
                    .bind(&o.recorded_by)
                    .bind(Utc::now())
                    .bind(&o.external_id)
                    .bind(o.pending)
                    .fetch_optional(&mut tx)
                    .await?;
                if id.is_some() {
                    outcome_total(&mut tx, org, outcome_weight(o)).await?;
                    insert_audit(&mut tx, org, audit).await?;
                }
                id
            };
            tx.commit().await?;
            out
        })
    }

    /// Corrects an outcome of `o.initiative_id` in place (its id, external id and recorder
    /// stay), with its audit record; false when there is no such outcome.
    pub async fn update_outcome(&self, org: OrgId, o: &Outcome, audit: &NewAudit) -> sqlx::Result<bool> {
        const SQL: &str = "update outcomes set day = $4, period_end = $5, metric = $6, quantity_milli = $7, \
            value_nanos = $8, baseline_nanos = $9, note = $10, evidence = $11 \
            where org_id = $1 and initiative_id = $2 and id = $3";
        let n = {
            let mut tx = self.begin().await?;
            let out = {
                let old: Option<i64> = query_scalar(OUTCOME_WEIGHT)
                    .bind(org.0)
                    .bind(o.initiative_id)
                    .bind(o.id)
                    .fetch_optional(&mut tx)
                    .await?;
                if let Some(old) = old {
                    outcome_total(&mut tx, org, outcome_weight(o) - old).await?;
                }
                let n = query(SQL)
                    .bind(org.0)
                    .bind(o.initiative_id)
                    .bind(o.id)
                    .bind(o.day)
                    .bind(o.period_end)
                    .bind(&o.metric)
                    .bind(o.quantity_milli)
                    .bind(o.value.0)
                    .bind(o.baseline_cost.map(|n| n.0))
                    .bind(&o.note)
                    .bind(&o.evidence)
                    .execute(&mut tx)
                    .await?
                    .rows_affected();
                if n == 1 {
                    insert_audit(&mut tx, org, audit).await?;
                }
                n
            };
            tx.commit().await?;
            out
        };
        Ok(n == 1)
    }

    /// Removes an outcome recorded in error, with its audit record (which keeps what it was).
    pub async fn delete_outcome(
        &self,
        org: OrgId,
        initiative: i64,
        id: i64,
        audit: &NewAudit,
    ) -> sqlx::Result<bool> {
        const SQL: &str = "delete from outcomes where org_id = $1 and initiative_id = $2 and id = $3";
        let n = {
            let mut tx = self.begin().await?;
            let out = {
                let old: Option<i64> = query_scalar(OUTCOME_WEIGHT)
                    .bind(org.0)
                    .bind(initiative)
                    .bind(id)
                    .fetch_optional(&mut tx)
                    .await?;
                if let Some(old) = old {
                    // lowering cannot pass the bound; a total already inconsistent must not block
                    // the deletion that would start to repair it
                    let _ = outcome_total(&mut tx, org, -old).await;
                }
                let n =
                    query(SQL).bind(org.0).bind(initiative).bind(id).execute(&mut tx).await?.rows_affected();
                if n == 1 {
                    insert_audit(&mut tx, org, audit).await?;
                }
                n
            };
            tx.commit().await?;
            out
        };
        Ok(n == 1)
    }

    /// Finance's check of an outcome that waited for verification (audited); false when there
    /// is no such outcome or it was verified already.
    pub async fn verify_outcome(
        &self,
        org: OrgId,
        initiative: i64,
        id: i64,
        by: &str,
        audit: &NewAudit,
    ) -> sqlx::Result<bool> {
        const SQL: &str = "update outcomes set verified_by = $4 \
            where org_id = $1 and initiative_id = $2 and id = $3 and verified_by is null";
        let mut tx = self.begin().await?;
        let n =
            query(SQL).bind(org.0).bind(initiative).bind(id).bind(by).execute(&mut tx).await?.rows_affected();
        if n == 1 {
            insert_audit(&mut tx, org, audit).await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Outcomes of one initiative (or all), oldest first.
    pub async fn outcomes(&self, org: OrgId, initiative: Option<i64>) -> sqlx::Result<Vec<Outcome>> {
        const SQL: &str = "select id, initiative_id, day, period_end, metric, quantity_milli, value_nanos, \
            baseline_nanos, note, evidence, recorded_by, external_id, pending, verified_by from outcomes where org_id = $1 \
            and ($2 is null or initiative_id = $2) order by day, id";
        let rows: Vec<OutcomeRow> = query_as(SQL).bind(org.0).bind(initiative).fetch_all(self).await?;
        Ok(rows
            .into_iter()
            .map(|r| Outcome {
                id: r.0,
                initiative_id: r.1,
                day: r.2,
                period_end: r.3,
                metric: r.4,
                quantity_milli: r.5,
                value: Nanos(r.6),
                baseline_cost: r.7.map(Nanos),
                note: r.8,
                evidence: r.9,
                recorded_by: r.10,
                external_id: r.11,
                pending: r.12,
                verified_by: r.13,
            })
            .collect())
    }

    /// Makes the open flags of an initiative match what trips today: new trips raise a flag,
    /// flags whose rule no longer trips are cleared, open ones get today's reason and stake.
    /// Returns how many flags were raised.
    pub async fn sync_flags(
        &self,
        org: OrgId,
        initiative: i64,
        trips: &[Trip],
        today: NaiveDate,
    ) -> sqlx::Result<usize> {
        let open = "select id, rule from zombie_flags where initiative_id = $1 and cleared_on is null";
        let insert =
            "insert into zombie_flags (org_id, initiative_id, rule, reason, at_stake_nanos, raised_on) \
            values ($1, $2, $3, $4, $5, $6)";
        let refresh = "update zombie_flags set reason = $2, at_stake_nanos = $3 where id = $1";
        let clear = "update zombie_flags set cleared_on = $2 where id = $1";
        Ok({
            let mut tx = self.begin().await?;
            let out = {
                let rows: Vec<(i64, String)> = query_as(open).bind(initiative).fetch_all(&mut tx).await?;
                let mut raised = 0;
                for t in trips {
                    match rows.iter().find(|(_, r)| r == t.rule.as_str()) {
                        Some((id, _)) => {
                            query(refresh)
                                .bind(id)
                                .bind(&t.reason)
                                .bind(t.at_stake.0)
                                .execute(&mut tx)
                                .await?;
                        }
                        None => {
                            query(insert)
                                .bind(org.0)
                                .bind(initiative)
                                .bind(t.rule.as_str())
                                .bind(&t.reason)
                                .bind(t.at_stake.0)
                                .bind(today)
                                .execute(&mut tx)
                                .await?;
                            raised += 1;
                        }
                    }
                }
                for (id, rule) in &rows {
                    if !trips.iter().any(|t| t.rule.as_str() == rule) {
                        query(clear).bind(id).bind(today).execute(&mut tx).await?;
                    }
                }
                raised
            };
            tx.commit().await?;
            out
        })
    }

    /// Flags (open and cleared) with their decisions, newest first.
    pub async fn flags(&self, org: OrgId, initiative: Option<i64>) -> sqlx::Result<Vec<Flag>> {
        const FLAGS: &str = "select id, initiative_id, rule, reason, at_stake_nanos, raised_on, cleared_on \
            from zombie_flags where org_id = $1 and ($2 is null or initiative_id = $2) \
            order by raised_on desc, id desc";
        const DECISIONS: &str = "select d.flag_id, d.decision, d.owner, d.note, d.fix_by, d.decided_by, \
            d.decided_on from zombie_decisions d join zombie_flags f on f.id = d.flag_id \
            where d.org_id = $1 and ($2 is null or f.initiative_id = $2) order by d.decided_at, d.id";
        type F = (i64, i64, String, String, i64, NaiveDate, Option<NaiveDate>);
        type D = (i64, String, String, String, Option<NaiveDate>, String, NaiveDate);
        let flags: Vec<F> = query_as(FLAGS).bind(org.0).bind(initiative).fetch_all(self).await?;
        let decisions: Vec<D> = query_as(DECISIONS).bind(org.0).bind(initiative).fetch_all(self).await?;
        Ok(flags
            .into_iter()
            .filter_map(|f| {
                Some(Flag {
                    id: f.0,
                    initiative_id: f.1,
                    rule: Rule::parse(&f.2)?,
                    reason: f.3,
                    at_stake: Nanos(f.4),
                    raised_on: f.5,
                    cleared_on: f.6,
                    decisions: decisions
                        .iter()
                        .filter(|d| d.0 == f.0)
                        .filter_map(|d| {
                            Some(FlagDecision {
                                decision: Decision::parse(&d.1).ok()?,
                                owner: d.2.clone(),
                                note: d.3.clone(),
                                fix_by: d.4,
                                decided_by: d.5.clone(),
                                decided_on: d.6,
                            })
                        })
                        .collect(),
                })
            })
            .collect())
    }

    /// Records a decision on a flag (audited); "retire" also retires the initiative, in the
    /// same transaction. False when the organisation has no such flag.
    pub async fn insert_decision(
        &self,
        org: OrgId,
        flag: i64,
        d: &FlagDecision,
        audit: &NewAudit,
    ) -> sqlx::Result<bool> {
        const SQL: &str = "insert into zombie_decisions (org_id, flag_id, decision, owner, note, fix_by, \
            decided_by, decided_on, decided_at) select org_id, id, $3, $4, $5, $6, $7, $8, $9 \
            from zombie_flags where org_id = $1 and id = $2";
        const RETIRE: &str = "update initiatives set status = 'retired', updated_at = $3 where org_id = $1 \
            and id = (select initiative_id from zombie_flags where id = $2)";
        let n = {
            let mut tx = self.begin().await?;
            let out = {
                let n = query(SQL)
                    .bind(org.0)
                    .bind(flag)
                    .bind(d.decision.as_str())
                    .bind(&d.owner)
                    .bind(&d.note)
                    .bind(d.fix_by)
                    .bind(&d.decided_by)
                    .bind(d.decided_on)
                    .bind(Utc::now())
                    .execute(&mut tx)
                    .await?
                    .rows_affected();
                if n == 1 {
                    if d.decision == Decision::Retire {
                        query(RETIRE).bind(org.0).bind(flag).bind(Utc::now()).execute(&mut tx).await?;
                    }
                    insert_audit(&mut tx, org, audit).await?;
                }
                n
            };
            tx.commit().await?;
            out
        };
        Ok(n == 1)
    }
}
