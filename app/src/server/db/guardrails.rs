//! Guardrail rules and the money held against spend caps (see migration 0026).
//!
//! A reservation is checked and held in one write transaction: on PostgreSQL it first locks
//! the rows of the caps it touches (`select … for update`, in id order, so two reservations
//! never wait on each other crosswise), which also serialises servers sharing the database;
//! on SQLite the transaction is `BEGIN IMMEDIATE`, one writer for the file. Nothing is read
//! outside the transaction that decides, so parallel calls cannot both fit into the last
//! dollar of a cap.
use chrono::{DateTime, NaiveDate, Utc};

use super::audit::insert_audit;
use super::query::{query, query_as};
use super::tx::Tx;
use super::webhooks::enqueue_notice;
use super::{Db, NewAudit, OrgId};
use crate::domain::guardrail::{Bucket, Call, Code, Logged, Replayed, Rule};
use crate::domain::webhook::Notice;
use crate::domain::Nanos;

/// What part of the decision log to read: since when, optionally one rule, API key or code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    pub since_ms: i64,
    pub rule_id: Option<i64>,
    pub api_key: Option<String>,
    pub code: Option<Code>,
    pub limit: i64,
}

type LoggedRow = (
    i64,
    String,
    i64,
    String,
    i64,
    String,
    String,
    bool,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
);

/// A cap a reservation counts against: the rule, the window's first and last day, the
/// amount, and whether passing it denies (a hard cap in enforce mode) or only warns (soft or
/// shadow: the money is still held, so the cap's figures stay true).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapCheck {
    pub rule_id: i64,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub amount: Nanos,
    pub enforce: bool,
}

/// A cap's money in its window when the reservation was decided: settled spend and open
/// reservations (this one not included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapUse {
    pub rule_id: i64,
    pub spent: Nanos,
    pub reserved: Nanos,
    pub amount: Nanos,
}

impl CapUse {
    /// What is left of the cap.
    pub fn headroom(&self) -> Nanos {
        Nanos(self.amount.0 - self.spent.0 - self.reserved.0)
    }
}

/// A rate bucket a call takes from: the rule, `requests` or `tokens`, the rate, the burst,
/// how many it takes, and whether running dry denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateTake {
    pub rule_id: i64,
    pub unit: &'static str,
    pub per_minute: i64,
    pub burst: i64,
    pub n: i64,
    pub enforce: bool,
}

/// An agent run a call belongs to, under one agent rule's run limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCheck {
    pub rule_id: i64,
    pub trace_id: String,
    pub max_cost: Option<Nanos>,
    pub max_calls: Option<i64>,
    pub enforce: bool,
}

/// A run's money and calls before this call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunUse {
    pub rule_id: i64,
    pub spent: Nanos,
    pub reserved: Nanos,
    pub calls: i64,
}

/// Everything a call is checked against.
#[derive(Debug, Clone, Copy, Default)]
pub struct Checks<'a> {
    pub caps: &'a [CapCheck],
    pub rates: &'a [RateTake],
    pub runs: &'a [RunCheck],
}

/// What a reservation found and did: `held` (all or nothing), and per check its figures
/// before the call, whether the call passes it, and whether that denies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reservation {
    pub held: bool,
    /// (use, passes the amount, enforced)
    pub caps: Vec<(CapUse, bool, bool)>,
    /// (rule, unit, seconds to wait when dry — `Some(None)`: never fits —, enforced)
    pub rates: Vec<(i64, &'static str, Option<Option<i64>>, bool)>,
    /// (use, passes the run budget, passes the call limit, enforced)
    pub runs: Vec<(RunUse, bool, bool, bool)>,
}

/// What is reserved: the call's id, provider and model, its worst-case cost and the day
/// whose rows it holds money in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold<'a> {
    pub id: &'a str,
    pub provider: &'a str,
    pub model: &'a str,
    pub cost: Nanos,
    pub day: NaiveDate,
}

/// A reservation after its settlement or expiry: its status and the cost it closed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    pub status: String,
    pub amount: Nanos,
    pub actual: Option<Nanos>,
}

type ReservationRow = (NaiveDate, i64, String, String, Option<i64>, Option<String>, String);

impl Db {
    /// Stores a rule under its name (a rule of that name is replaced); answers its id.
    pub async fn put_guardrail_rule(&self, org: OrgId, rule: &Rule, now: DateTime<Utc>) -> sqlx::Result<i64> {
        let mut tx = self.begin().await?;
        let id = put_rule(&mut tx, org, rule, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Stores a rule under its name with its audit record, in one transaction; answers its id.
    pub async fn save_guardrail_rule(
        &self,
        org: OrgId,
        rule: &Rule,
        audit: &NewAudit,
        now: DateTime<Utc>,
    ) -> sqlx::Result<i64> {
        let mut tx = self.begin().await?;
        let id = put_rule(&mut tx, org, rule, now).await?;
        insert_audit(&mut tx, org, audit).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Replaces the organisation's rules with `rules` in one transaction: rules of the same
    /// name keep their id (and their caps' money), rules not named are deleted; one audit
    /// record says what changed.
    pub async fn replace_guardrail_rules(
        &self,
        org: OrgId,
        rules: &[Rule],
        audit: &NewAudit,
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        let mut tx = self.begin().await?;
        let names: Vec<(i64, String)> = query_as("select id, name from guardrail_rules where org_id = $1")
            .bind(org.0)
            .fetch_all(&mut tx)
            .await?;
        for (id, name) in names {
            if !rules.iter().any(|r| r.name.trim() == name) {
                delete_rule(&mut tx, org, id).await?;
            }
        }
        for r in rules {
            put_rule(&mut tx, org, r, now).await?;
        }
        insert_audit(&mut tx, org, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a rule (its caps' days, buckets and runs go with it) with its audit record;
    /// false when the organisation has no such rule.
    pub async fn delete_guardrail_rule(&self, org: OrgId, id: i64, audit: &NewAudit) -> sqlx::Result<bool> {
        let mut tx = self.begin().await?;
        let gone = delete_rule(&mut tx, org, id).await?;
        if gone {
            insert_audit(&mut tx, org, audit).await?;
        }
        tx.commit().await?;
        Ok(gone)
    }

    /// Writes the decision log's rows of one call and queues its notices (a notice's key
    /// makes it once per webhook), in one transaction.
    pub async fn log_guardrail_decision(
        &self,
        org: OrgId,
        rows: &[Logged],
        notices: &[Notice],
    ) -> sqlx::Result<()> {
        const SQL: &str =
            "insert into guardrail_decisions (org_id, call_id, at_ms, decision, rule_id, rule, \
            code, enforced, message, api_key, team, feature, provider, model, worst_case_nanos) \
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
        let mut tx = self.begin().await?;
        for r in rows {
            query(SQL)
                .bind(org.0)
                .bind(&r.call_id)
                .bind(r.at_ms)
                .bind(&r.decision)
                .bind(r.rule_id)
                .bind(&r.rule)
                .bind(r.code.as_str())
                .bind(r.enforced)
                .bind(&r.message)
                .bind(&r.api_key)
                .bind(&r.team)
                .bind(&r.feature)
                .bind(&r.provider)
                .bind(&r.model)
                .bind(r.worst_case_nanos)
                .execute(&mut tx)
                .await?;
        }
        for n in notices {
            enqueue_notice(&mut tx, org, n, None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The decision log, newest first.
    pub async fn guardrail_decisions(&self, org: OrgId, f: &LogFilter) -> sqlx::Result<Vec<Logged>> {
        const SQL: &str = "select id, call_id, at_ms, decision, rule_id, rule, code, enforced, message, \
            api_key, team, feature, provider, model, worst_case_nanos from guardrail_decisions \
            where org_id = $1 and at_ms >= $2 and ($3 is null or rule_id = $3) \
            and ($4 is null or api_key = $4) and ($5 is null or code = $5) \
            order by at_ms desc, id desc limit $6";
        let rows: Vec<LoggedRow> = query_as(SQL)
            .bind(org.0)
            .bind(f.since_ms)
            .bind(f.rule_id)
            .bind(f.api_key.as_deref())
            .bind(f.code.map(Code::as_str))
            .bind(f.limit)
            .fetch_all(self)
            .await?;
        rows.into_iter()
            .map(|r| {
                let code = Code::parse("code", &r.6).map_err(|e| sqlx::Error::Decode(e.into()))?;
                Ok(Logged {
                    id: r.0,
                    call_id: r.1,
                    at_ms: r.2,
                    decision: r.3,
                    rule_id: r.4,
                    rule: r.5,
                    code,
                    enforced: r.7,
                    message: r.8,
                    api_key: r.9,
                    team: r.10,
                    feature: r.11,
                    provider: r.12,
                    model: r.13,
                    worst_case_nanos: r.14,
                })
            })
            .collect()
    }

    /// Per rule, its log rows since `day_ms` and since `week_ms`: (rule id, 24 h, 7 d).
    pub async fn guardrail_hits(
        &self,
        org: OrgId,
        day_ms: i64,
        week_ms: i64,
    ) -> sqlx::Result<Vec<(i64, i64, i64)>> {
        const SQL: &str = "select rule_id, cast(sum(case when at_ms >= $2 then 1 else 0 end) as bigint), \
            cast(count(*) as bigint) from guardrail_decisions where org_id = $1 and at_ms >= $3 \
            group by rule_id order by rule_id";
        query_as(SQL).bind(org.0).bind(day_ms).bind(week_ms).fetch_all(self).await
    }

    /// Open reservations per cap rule: (rule id, how many).
    pub async fn open_reservations_per_rule(&self, org: OrgId) -> sqlx::Result<Vec<(i64, i64)>> {
        const SQL: &str = "select rules from guardrail_reservations where org_id = $1 and status = 'open'";
        let rows: Vec<(String,)> = query_as(SQL).bind(org.0).fetch_all(self).await?;
        let mut out: std::collections::BTreeMap<i64, i64> = Default::default();
        for (rules,) in rows {
            let ids: Vec<i64> = serde_json::from_str(&rules).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            for id in ids {
                *out.entry(id).or_default() += 1;
            }
        }
        Ok(out.into_iter().collect())
    }

    /// The stored calls of `from`..=`to` as a replay reads them, in time order.
    pub async fn replay_calls(
        &self,
        org: OrgId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> sqlx::Result<Vec<Replayed>> {
        const SQL: &str = "select occurred_at, day, provider, model, team, feature, initiative, customer, \
            environment, api_key, trace_id, input_tokens + cache_read_tokens, output_tokens, cost_nanos \
            from usage_events where org_id = $1 and day between $2 and $3 order by occurred_at, event_id";
        type Row = (
            DateTime<Utc>,
            NaiveDate,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            i64,
            i64,
            i64,
        );
        let rows: Vec<Row> = query_as(SQL).bind(org.0).bind(from).bind(to).fetch_all(self).await?;
        Ok(rows
            .into_iter()
            .map(|r| Replayed {
                at_ms: r.0.timestamp_millis(),
                day: r.1,
                cost: Nanos(r.13),
                call: Call {
                    provider: r.2,
                    model: r.3,
                    team: r.4,
                    feature: r.5,
                    initiative: r.6,
                    customer: r.7,
                    environment: r.8,
                    api_key: r.9,
                    trace_id: r.10,
                    input_tokens: r.11,
                    max_tokens: r.12,
                    worst_case: Some(Nanos(r.13)),
                    depth: 0,
                    retry: 0,
                },
            })
            .collect())
    }

    /// The organisation's rules, by name.
    pub async fn guardrail_rules(&self, org: OrgId) -> sqlx::Result<Vec<Rule>> {
        const SQL: &str = "select id, spec from guardrail_rules where org_id = $1 order by name";
        let rows: Vec<(i64, String)> = query_as(SQL).bind(org.0).fetch_all(self).await?;
        rows.into_iter()
            .map(|(id, spec)| {
                let rule: Rule = serde_json::from_str(&spec).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                Ok(Rule { id, ..rule })
            })
            .collect()
    }

    /// Decides and holds a call in one write transaction: takes from every rate bucket, holds
    /// the cost against every cap and every agent run, or does nothing at all when an
    /// enforced one says no (`held: false`; the answer still reports every check). A cap holds
    /// when settled spend + open reservations + this cost ≤ its amount; a run likewise for its
    /// budget, and its calls + 1 ≤ its call limit; a bucket when it has the tokens. Checks that
    /// only warn (shadow rules, soft caps) are held and taken like the others, so their
    /// figures stay true. The reservation is open until `expires_at`.
    pub async fn reserve(
        &self,
        org: OrgId,
        hold: &Hold<'_>,
        checks: &Checks<'_>,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> sqlx::Result<Reservation> {
        let Hold { id, provider, model, cost, day } = *hold;
        let mut caps = checks.caps.to_vec();
        caps.sort_by_key(|c| c.rule_id);
        caps.dedup_by_key(|c| c.rule_id);
        let mut locked: Vec<i64> = caps
            .iter()
            .map(|c| c.rule_id)
            .chain(checks.rates.iter().map(|r| r.rule_id))
            .chain(checks.runs.iter().map(|r| r.rule_id))
            .collect();
        locked.sort_unstable();
        locked.dedup();
        let mut tx = self.begin().await?;
        if let Tx::Postgres(_) = tx {
            // in id order, so two calls never wait on each other crosswise
            for rule in &locked {
                query("select id from guardrail_rules where id = $1 for update")
                    .bind(rule)
                    .execute(&mut tx)
                    .await?;
            }
        }
        let mut out = Reservation::default();
        for c in &caps {
            let (spent, reserved) = window_use(&mut tx, c.rule_id, c.from, c.to).await?;
            let u = CapUse { rule_id: c.rule_id, spent, reserved, amount: c.amount };
            let over =
                i128::from(spent.0) + i128::from(reserved.0) + i128::from(cost.0) > i128::from(c.amount.0);
            out.caps.push((u, over, c.enforce));
        }
        let mut buckets = vec![];
        for r in checks.rates {
            let sql = match tx {
                Tx::Sqlite(..) => {
                    "select milli, at_ms from guardrail_buckets where rule_id = $1 and unit = $2"
                }
                Tx::Postgres(_) => {
                    "select milli, at_ms from guardrail_buckets where rule_id = $1 and unit = $2 for update"
                }
            };
            let row: Option<(i64, i64)> =
                query_as(sql).bind(r.rule_id).bind(r.unit).fetch_optional(&mut tx).await?;
            let mut b = match row {
                Some((milli, at)) => Bucket::restore(r.per_minute, r.burst, milli, at),
                None => Bucket::new(r.per_minute, r.burst, now.timestamp_millis()),
            };
            let taken = b.take(r.n, now.timestamp_millis());
            out.rates.push((r.rule_id, r.unit, taken.err(), r.enforce));
            buckets.push((r.rule_id, r.unit, b));
        }
        for r in checks.runs {
            const SQL: &str = "select spent_nanos, reserved_nanos, calls from guardrail_runs where rule_id = $1 and trace_id = $2";
            let (spent, reserved, calls): (i64, i64, i64) = query_as(SQL)
                .bind(r.rule_id)
                .bind(&r.trace_id)
                .fetch_optional(&mut tx)
                .await?
                .unwrap_or((0, 0, 0));
            let over_cost = r.max_cost.is_some_and(|m| {
                i128::from(spent) + i128::from(reserved) + i128::from(cost.0) > i128::from(m.0)
            });
            let over_calls = r.max_calls.is_some_and(|m| calls + 1 > m);
            let u = RunUse { rule_id: r.rule_id, spent: Nanos(spent), reserved: Nanos(reserved), calls };
            out.runs.push((u, over_cost, over_calls, r.enforce));
        }
        out.held = !out.caps.iter().any(|(_, over, enforce)| *over && *enforce)
            && !out.rates.iter().any(|(_, _, wait, enforce)| wait.is_some() && *enforce)
            && !out.runs.iter().any(|(_, cost, calls, enforce)| (*cost || *calls) && *enforce);
        if !out.held {
            // dropped unfinished: rolled back, nothing taken or held
            return Ok(out);
        }
        const HOLD: &str = "insert into guardrail_days (rule_id, day, spent_nanos, reserved_nanos) values ($1, $2, 0, $3) \
            on conflict (rule_id, day) do update set reserved_nanos = guardrail_days.reserved_nanos + excluded.reserved_nanos";
        for c in &caps {
            query(HOLD).bind(c.rule_id).bind(day).bind(cost.0).execute(&mut tx).await?;
        }
        const BUCKET: &str =
            "insert into guardrail_buckets (rule_id, unit, milli, at_ms) values ($1, $2, $3, $4) \
            on conflict (rule_id, unit) do update set milli = excluded.milli, at_ms = excluded.at_ms";
        for (rule, unit, b) in &buckets {
            let (milli, at) = b.state();
            query(BUCKET).bind(rule).bind(*unit).bind(milli).bind(at).execute(&mut tx).await?;
        }
        const RUN: &str = "insert into guardrail_runs (rule_id, trace_id, spent_nanos, reserved_nanos, calls) \
            values ($1, $2, 0, $3, 1) on conflict (rule_id, trace_id) do update set \
            reserved_nanos = guardrail_runs.reserved_nanos + excluded.reserved_nanos, calls = guardrail_runs.calls + 1";
        for r in checks.runs {
            query(RUN).bind(r.rule_id).bind(&r.trace_id).bind(cost.0).execute(&mut tx).await?;
        }
        const INSERT: &str =
            "insert into guardrail_reservations (id, org_id, provider, model, day, amount_nanos, \
            rules, status, created_at, expires_at, trace_id, run_rules) \
            values ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10, $11)";
        let rules = serde_json::to_string(&caps.iter().map(|c| c.rule_id).collect::<Vec<_>>()).expect("ids");
        let run_rules =
            serde_json::to_string(&checks.runs.iter().map(|r| r.rule_id).collect::<Vec<_>>()).expect("ids");
        query(INSERT)
            .bind(id)
            .bind(org.0)
            .bind(provider)
            .bind(model)
            .bind(day)
            .bind(cost.0)
            .bind(rules)
            .bind(now)
            .bind(expires_at)
            .bind(checks.runs.first().map(|r| r.trace_id.as_str()))
            .bind(run_rules)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Settles an open reservation with the exact cost: its caps' days stop holding the worst
    /// case and count the cost spent. A reservation already closed is answered as it closed
    /// (settling twice changes nothing); an unknown id is `None`.
    pub async fn settle_reservation(
        &self,
        org: OrgId,
        id: &str,
        actual: Nanos,
        now: DateTime<Utc>,
    ) -> sqlx::Result<Option<Closed>> {
        let mut tx = self.begin().await?;
        let closed = close(&mut tx, org, id, Some(actual), now).await?;
        tx.commit().await?;
        Ok(closed)
    }

    /// Releases every reservation open past its expiry; answers how many.
    pub async fn expire_reservations(&self, now: DateTime<Utc>) -> sqlx::Result<u64> {
        const DUE: &str =
            "select org_id, id from guardrail_reservations where status = 'open' and expires_at <= $1 \
            order by expires_at limit 500";
        let due: Vec<(i64, String)> = query_as(DUE).bind(now).fetch_all(self).await?;
        let mut n = 0;
        for (org, id) in &due {
            let mut tx = self.begin().await?;
            if close(&mut tx, OrgId(*org), id, None, now).await?.is_some_and(|c| c.status == "expired") {
                n += 1;
            }
            tx.commit().await?;
        }
        Ok(n)
    }

    /// A run's settled spend, open reservations and calls under an agent rule.
    pub async fn run_use(&self, rule_id: i64, trace_id: &str) -> sqlx::Result<(Nanos, Nanos, i64)> {
        const SQL: &str = "select spent_nanos, reserved_nanos, calls from guardrail_runs where rule_id = $1 and trace_id = $2";
        let row: Option<(i64, i64, i64)> =
            query_as(SQL).bind(rule_id).bind(trace_id).fetch_optional(self).await?;
        let (s, r, c) = row.unwrap_or_default();
        Ok((Nanos(s), Nanos(r), c))
    }

    /// A cap's settled spend and open reservations over its window.
    pub async fn cap_use(
        &self,
        rule_id: i64,
        from: NaiveDate,
        to: NaiveDate,
    ) -> sqlx::Result<(Nanos, Nanos)> {
        // a read: no write transaction (on SQLite it would queue behind every reservation)
        window_use(self, rule_id, from, to).await
    }

    /// One reservation of the organisation: (provider, model, day, held amount).
    pub async fn reservation(
        &self,
        org: OrgId,
        id: &str,
    ) -> sqlx::Result<Option<(String, String, NaiveDate, Nanos)>> {
        const SQL: &str = "select provider, model, day, amount_nanos from guardrail_reservations \
            where id = $1 and org_id = $2";
        let row: Option<(String, String, NaiveDate, i64)> =
            query_as(SQL).bind(id).bind(org.0).fetch_optional(self).await?;
        Ok(row.map(|(p, m, d, a)| (p, m, d, Nanos(a))))
    }

    /// The caps each reservation of the organisation holds money against: (id, rule ids).
    pub async fn reservation_rules(&self, org: OrgId) -> sqlx::Result<Vec<(String, Vec<i64>)>> {
        const SQL: &str = "select id, rules from guardrail_reservations where org_id = $1 order by id";
        let rows: Vec<(String, String)> = query_as(SQL).bind(org.0).fetch_all(self).await?;
        rows.into_iter()
            .map(|(id, rules)| {
                Ok((id, serde_json::from_str(&rules).map_err(|e| sqlx::Error::Decode(Box::new(e)))?))
            })
            .collect()
    }

    /// Every reservation of the organisation: (id, status, amount, actual).
    pub async fn reservations(&self, org: OrgId) -> sqlx::Result<Vec<(String, String, i64, Option<i64>)>> {
        const SQL: &str = "select id, status, amount_nanos, actual_nanos from guardrail_reservations \
            where org_id = $1 order by id";
        query_as(SQL).bind(org.0).fetch_all(self).await
    }
}

async fn put_rule(tx: &mut Tx, org: OrgId, rule: &Rule, now: DateTime<Utc>) -> sqlx::Result<i64> {
    const SQL: &str = "insert into guardrail_rules (org_id, name, spec, created_at, updated_at) \
        values ($1, $2, $3, $4, $4) on conflict (org_id, name) do update set spec = excluded.spec, \
        updated_at = excluded.updated_at returning id";
    let spec = serde_json::to_string(&Rule { id: 0, ..rule.clone() }).expect("a rule serialises");
    Ok(query_as::<(i64,)>(SQL).bind(org.0).bind(rule.name.trim()).bind(spec).bind(now).fetch_one(tx).await?.0)
}

async fn delete_rule(tx: &mut Tx, org: OrgId, id: i64) -> sqlx::Result<bool> {
    let done = query("delete from guardrail_rules where org_id = $1 and id = $2")
        .bind(org.0)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    // PostgreSQL cascades; SQLite runs without foreign-key enforcement, so the state goes here
    for sql in [
        "delete from guardrail_days where rule_id = $1",
        "delete from guardrail_buckets where rule_id = $1",
        "delete from guardrail_runs where rule_id = $1",
    ] {
        query(sql).bind(id).execute(&mut *tx).await?;
    }
    Ok(true)
}

async fn window_use<'c>(
    ex: impl super::query::Executor<'c>,
    rule_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> sqlx::Result<(Nanos, Nanos)> {
    const SQL: &str = "select cast(coalesce(sum(spent_nanos), 0) as bigint), cast(coalesce(sum(reserved_nanos), 0) as bigint) \
        from guardrail_days where rule_id = $1 and day between $2 and $3";
    let (spent, reserved): (i64, i64) = query_as(SQL).bind(rule_id).bind(from).bind(to).fetch_one(ex).await?;
    Ok((Nanos(spent), Nanos(reserved)))
}

/// Closes one reservation: settled with `actual`, or expired (`None`). Its caps' days give
/// back the held amount and count what was spent, in the caller's transaction.
async fn close(
    tx: &mut Tx,
    org: OrgId,
    id: &str,
    actual: Option<Nanos>,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<Closed>> {
    let sql = match tx {
        Tx::Sqlite(..) => {
            "select day, amount_nanos, rules, status, actual_nanos, trace_id, run_rules from guardrail_reservations \
            where id = $1 and org_id = $2"
        }
        Tx::Postgres(_) => {
            "select day, amount_nanos, rules, status, actual_nanos, trace_id, run_rules from guardrail_reservations \
            where id = $1 and org_id = $2 for update"
        }
    };
    let row: Option<ReservationRow> = query_as(sql).bind(id).bind(org.0).fetch_optional(&mut *tx).await?;
    let Some((day, amount, rules, status, was, trace_id, run_rules)) = row else { return Ok(None) };
    if status != "open" {
        return Ok(Some(Closed { status, amount: Nanos(amount), actual: was.map(Nanos) }));
    }
    let spent = actual.unwrap_or(Nanos::ZERO);
    let rules: Vec<i64> = serde_json::from_str(&rules).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    const RELEASE: &str = "update guardrail_days set reserved_nanos = reserved_nanos - $1, \
        spent_nanos = spent_nanos + $2 where rule_id = $3 and day = $4";
    for rule in rules {
        query(RELEASE).bind(amount).bind(spent.0).bind(rule).bind(day).execute(&mut *tx).await?;
    }
    let run_rules: Vec<i64> =
        serde_json::from_str(&run_rules).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    const RELEASE_RUN: &str = "update guardrail_runs set reserved_nanos = reserved_nanos - $1, \
        spent_nanos = spent_nanos + $2 where rule_id = $3 and trace_id = $4";
    for rule in run_rules {
        query(RELEASE_RUN).bind(amount).bind(spent.0).bind(rule).bind(&trace_id).execute(&mut *tx).await?;
    }
    let status = if actual.is_some() { "settled" } else { "expired" };
    const CLOSE: &str =
        "update guardrail_reservations set status = $1, actual_nanos = $2, closed_at = $3 where id = $4";
    query(CLOSE).bind(status).bind(actual.map(|a| a.0)).bind(now).bind(id).execute(&mut *tx).await?;
    Ok(Some(Closed { status: status.into(), amount: Nanos(amount), actual }))
}
