//! Guardrail rules and the money held against spend caps (see migration 0026).
//!
//! A reservation is checked and held in one write transaction: on PostgreSQL it first locks
//! the rows of the caps it touches (`select … for update`, in id order, so two reservations
//! never wait on each other crosswise), which also serialises servers sharing the database;
//! on SQLite the transaction is `BEGIN IMMEDIATE`, one writer for the file. Nothing is read
//! outside the transaction that decides, so parallel calls cannot both fit into the last
//! dollar of a cap.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};

use super::audit::insert_audit;
use super::query::{query, query_as, query_scalar, QueryBuilder};
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

/// One call of an authorize batch: its organisation and, unless a stateless rule already
/// denied it, what it would hold (hold, checks, expiry).
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    pub org: OrgId,
    /// The call's time: its buckets' clock and its reservation's creation.
    pub now: DateTime<Utc>,
    pub hold: Option<(Hold<'a>, Checks<'a>, DateTime<Utc>)>,
}

/// What the decision log keeps of one call: its rows and the notices it queues.
#[derive(Debug, Clone, Default)]
pub struct Trail {
    pub rows: Vec<Logged>,
    pub notices: Vec<Notice>,
}

/// The state a batch of calls is decided against, read once under the batch's locks, and
/// what the batch changes in it. Deciding is pure: the same state and calls give the same
/// answers, whatever the database.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    /// (rule, day) → (settled, held)
    days: BTreeMap<(i64, NaiveDate), (i64, i64)>,
    /// (rule, unit) → (milli-tokens, at_ms)
    buckets: HashMap<(i64, String), (i64, i64)>,
    /// (rule, trace) → (settled, held, calls)
    runs: HashMap<(i64, String), (i64, i64, i64)>,
    held_days: BTreeMap<(i64, NaiveDate), i64>,
    taken: BTreeSet<(i64, String)>,
    run_holds: BTreeMap<(i64, String), (i64, i64)>,
}

impl Ledger {
    /// A ledger over given rows (days, buckets, runs), as the database holds them.
    pub fn with_rows(
        days: Vec<(i64, NaiveDate, i64, i64)>,
        buckets: Vec<(i64, String, i64, i64)>,
        runs: Vec<(i64, String, i64, i64, i64)>,
    ) -> Ledger {
        Ledger {
            days: days.into_iter().map(|(r, d, s, h)| ((r, d), (s, h))).collect(),
            buckets: buckets.into_iter().map(|(r, u, m, a)| ((r, u), (m, a))).collect(),
            runs: runs.into_iter().map(|(r, t, s, h, c)| ((r, t), (s, h, c))).collect(),
            ..Ledger::default()
        }
    }

    async fn load(&mut self, tx: &mut Tx, asks: &[Ask<'_>], rules: &[i64]) -> sqlx::Result<()> {
        let checks: Vec<&Checks> = asks.iter().filter_map(|a| a.hold.as_ref().map(|h| &h.1)).collect();
        let in_list = |qb: &mut QueryBuilder<'_>, ids: &[i64]| {
            let mut list = qb.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
        };
        let caps: Vec<&CapCheck> = checks.iter().flat_map(|c| c.caps).collect();
        if let (Some(from), Some(to)) = (caps.iter().map(|c| c.from).min(), caps.iter().map(|c| c.to).max()) {
            let mut qb = QueryBuilder::new(
                "select rule_id, day, spent_nanos, reserved_nanos from guardrail_days where rule_id in (",
            );
            in_list(&mut qb, rules);
            qb.push(") and day >= ").push_bind(from).push(" and day <= ").push_bind(to);
            let rows: Vec<(i64, NaiveDate, i64, i64)> = qb.build_query_as().fetch_all(&mut *tx).await?;
            self.days.extend(rows.into_iter().map(|(r, d, s, h)| ((r, d), (s, h))));
        }
        if checks.iter().any(|c| !c.rates.is_empty()) {
            let mut qb = QueryBuilder::new(
                "select rule_id, unit, milli, at_ms from guardrail_buckets where rule_id in (",
            );
            in_list(&mut qb, rules);
            qb.push(")");
            let rows: Vec<(i64, String, i64, i64)> = qb.build_query_as().fetch_all(&mut *tx).await?;
            self.buckets.extend(rows.into_iter().map(|(r, u, m, a)| ((r, u), (m, a))));
        }
        let mut traces: Vec<&str> =
            checks.iter().flat_map(|c| c.runs.iter().map(|r| r.trace_id.as_str())).collect();
        traces.sort_unstable();
        traces.dedup();
        if !traces.is_empty() {
            let mut qb = QueryBuilder::new(
                "select rule_id, trace_id, spent_nanos, reserved_nanos, calls from guardrail_runs where rule_id in (",
            );
            in_list(&mut qb, rules);
            qb.push(") and trace_id in (");
            let mut list = qb.separated(", ");
            for t in &traces {
                list.push_bind(*t);
            }
            qb.push(")");
            let rows: Vec<(i64, String, i64, i64, i64)> = qb.build_query_as().fetch_all(&mut *tx).await?;
            self.runs.extend(rows.into_iter().map(|(r, t, s, h, c)| ((r, t), (s, h, c))));
        }
        Ok(())
    }

    /// Decides one call against the state and, when it is held, changes the state as its
    /// hold would: all of it or nothing.
    pub fn reserve(&mut self, hold: &Hold<'_>, checks: &Checks<'_>, now: DateTime<Utc>) -> Reservation {
        let cost = hold.cost;
        let mut out = Reservation::default();
        for c in checks.caps {
            let (mut spent, mut reserved) = (0i128, 0i128);
            for (_, (s, h)) in self.days.range((c.rule_id, c.from)..=(c.rule_id, c.to)) {
                spent += i128::from(*s);
                reserved += i128::from(*h);
            }
            let clamp = |v: i128| Nanos(i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX }));
            let u = CapUse {
                rule_id: c.rule_id,
                spent: clamp(spent),
                reserved: clamp(reserved),
                amount: c.amount,
            };
            let over = spent + reserved + i128::from(cost.0) > i128::from(c.amount.0);
            out.caps.push((u, over, c.enforce));
        }
        let now_ms = now.timestamp_millis();
        let mut buckets = vec![];
        for r in checks.rates {
            let key = (r.rule_id, r.unit.to_string());
            let mut b = match self.buckets.get(&key) {
                Some((milli, at)) => Bucket::restore(r.per_minute, r.burst, *milli, *at),
                None => Bucket::new(r.per_minute, r.burst, now_ms),
            };
            let taken = b.take(r.n, now_ms);
            out.rates.push((r.rule_id, r.unit, taken.err(), r.enforce));
            buckets.push((key, b));
        }
        for r in checks.runs {
            let (spent, reserved, calls) =
                self.runs.get(&(r.rule_id, r.trace_id.clone())).copied().unwrap_or((0, 0, 0));
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
            return out;
        }
        for c in checks.caps {
            let day = self.days.entry((c.rule_id, hold.day)).or_default();
            day.1 = day.1.saturating_add(cost.0);
            *self.held_days.entry((c.rule_id, hold.day)).or_default() += cost.0;
        }
        for (key, b) in buckets {
            self.buckets.insert(key.clone(), b.state());
            self.taken.insert(key);
        }
        for r in checks.runs {
            let key = (r.rule_id, r.trace_id.clone());
            let run = self.runs.entry(key.clone()).or_default();
            run.1 = run.1.saturating_add(cost.0);
            run.2 += 1;
            let d = self.run_holds.entry(key).or_default();
            d.0 += cost.0;
            d.1 += 1;
        }
        out
    }

    /// Writes what the batch changed: holds add to the days and runs (so a settlement that
    /// committed meanwhile is kept), buckets are set to their new state.
    async fn store(&self, tx: &mut Tx) -> sqlx::Result<()> {
        for chunk in self.held_days.iter().collect::<Vec<_>>().chunks(CHUNK) {
            let mut qb =
                QueryBuilder::new("insert into guardrail_days (rule_id, day, spent_nanos, reserved_nanos) ");
            qb.push_values(chunk, |mut b, ((rule, day), held)| {
                b.push_bind(*rule).push_bind(*day).push_bind(0i64).push_bind(**held);
            });
            qb.push(
                " on conflict (rule_id, day) do update set \
                reserved_nanos = guardrail_days.reserved_nanos + excluded.reserved_nanos",
            );
            qb.build().execute(&mut *tx).await?;
        }
        let buckets: Vec<_> = self.taken.iter().filter_map(|k| Some((k, self.buckets.get(k)?))).collect();
        for chunk in buckets.chunks(CHUNK) {
            let mut qb = QueryBuilder::new("insert into guardrail_buckets (rule_id, unit, milli, at_ms) ");
            qb.push_values(chunk, |mut b, ((rule, unit), (milli, at))| {
                b.push_bind(*rule).push_bind(unit.as_str()).push_bind(*milli).push_bind(*at);
            });
            qb.push(
                " on conflict (rule_id, unit) do update set milli = excluded.milli, at_ms = excluded.at_ms",
            );
            qb.build().execute(&mut *tx).await?;
        }
        for chunk in self.run_holds.iter().collect::<Vec<_>>().chunks(CHUNK) {
            let mut qb = QueryBuilder::new(
                "insert into guardrail_runs (rule_id, trace_id, spent_nanos, reserved_nanos, calls) ",
            );
            qb.push_values(chunk, |mut b, ((rule, trace), (held, calls))| {
                b.push_bind(*rule)
                    .push_bind(trace.as_str())
                    .push_bind(0i64)
                    .push_bind(*held)
                    .push_bind(*calls);
            });
            qb.push(
                " on conflict (rule_id, trace_id) do update set \
                reserved_nanos = guardrail_runs.reserved_nanos + excluded.reserved_nanos, \
                calls = guardrail_runs.calls + excluded.calls",
            );
            qb.build().execute(&mut *tx).await?;
        }
        Ok(())
    }
}

/// Rows per multi-row statement: well under both databases' limits on bound values.
const CHUNK: usize = 200;

/// Stores the reservations of the held calls (`asks` whose hold was taken).
async fn insert_reservations(tx: &mut Tx, held: &[&Ask<'_>]) -> sqlx::Result<()> {
    let ids = |v: Vec<i64>| serde_json::to_string(&v).expect("ids");
    for chunk in held.chunks(CHUNK) {
        let mut qb = QueryBuilder::new(
            "insert into guardrail_reservations (id, org_id, provider, model, day, amount_nanos, \
            rules, status, created_at, expires_at, trace_id, run_rules) ",
        );
        qb.push_values(
            chunk.iter().filter_map(|a| Some((a, a.hold.as_ref()?))),
            |mut b, (a, (hold, checks, expires))| {
                b.push_bind(hold.id)
                    .push_bind(a.org.0)
                    .push_bind(hold.provider)
                    .push_bind(hold.model)
                    .push_bind(hold.day)
                    .push_bind(hold.cost.0)
                    .push_bind(ids(checks.caps.iter().map(|c| c.rule_id).collect()))
                    .push_bind("open")
                    .push_bind(a.now)
                    .push_bind(*expires)
                    .push_bind(checks.runs.first().map(|r| r.trace_id.as_str()))
                    .push_bind(ids(checks.runs.iter().map(|r| r.rule_id).collect()));
            },
        );
        qb.build().execute(&mut *tx).await?;
    }
    Ok(())
}

async fn insert_decisions(tx: &mut Tx, rows: &[(OrgId, Logged)]) -> sqlx::Result<()> {
    for chunk in rows.chunks(CHUNK) {
        let mut qb = QueryBuilder::new(
            "insert into guardrail_decisions (org_id, call_id, at_ms, decision, rule_id, rule, \
            code, enforced, message, api_key, team, feature, provider, model, worst_case_nanos) ",
        );
        qb.push_values(chunk, |mut b, (org, r)| {
            b.push_bind(org.0)
                .push_bind(r.call_id.as_str())
                .push_bind(r.at_ms)
                .push_bind(r.decision.as_str())
                .push_bind(r.rule_id)
                .push_bind(r.rule.as_str())
                .push_bind(r.code.as_str())
                .push_bind(r.enforced)
                .push_bind(r.message.as_str())
                .push_bind(r.api_key.as_str())
                .push_bind(r.team.as_str())
                .push_bind(r.feature.as_str())
                .push_bind(r.provider.as_str())
                .push_bind(r.model.as_str())
                .push_bind(r.worst_case_nanos);
        });
        qb.build().execute(&mut *tx).await?;
    }
    Ok(())
}

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
        let mut tx = self.begin().await?;
        let rows: Vec<(OrgId, Logged)> = rows.iter().map(|r| (org, r.clone())).collect();
        insert_decisions(&mut tx, &rows).await?;
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

    /// A number that changes with every change to the organisation's rules, committed with
    /// it: rules read after this number are at least as new as it (0: no rule was ever stored).
    pub async fn guardrail_rules_version(&self, org: OrgId) -> sqlx::Result<i64> {
        const SQL: &str = "select version from guardrail_rule_versions where org_id = $1";
        Ok(query_scalar(SQL).bind(org.0).fetch_optional(self).await?.unwrap_or(0))
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

    /// Decides and holds one call (see [`Db::authorize_batch`]).
    pub async fn reserve(
        &self,
        org: OrgId,
        hold: &Hold<'_>,
        checks: &Checks<'_>,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> sqlx::Result<Reservation> {
        let ask = Ask { org, now, hold: Some((hold.clone(), *checks, expires_at)) };
        let mut out = self.authorize_batch(&[ask], |_, _| Trail::default()).await?;
        Ok(out.pop().flatten().unwrap_or_default())
    }

    /// Decides a batch of calls in one write transaction (group commit: one lock, one read of
    /// the state, one commit for however many calls arrived together). The calls are decided
    /// one after another in the order given, each against the state the ones before it left,
    /// so the answers are those of one transaction per call. Each call takes from every rate
    /// bucket, holds its cost against every cap and agent run, or does nothing at all when an
    /// enforced one says no (`held: false`; the answer still reports every check). A cap holds
    /// when settled spend + open reservations + this cost ≤ its amount; a run likewise for its
    /// budget, and its calls + 1 ≤ its call limit; a bucket when it has the tokens. Checks
    /// that only warn (shadow rules, soft caps) are held and taken like the others, so their
    /// figures stay true. `trail` is asked, per call in order, what the decision log keeps of
    /// it; it is written in the same transaction. A call without a hold (`None`: denied
    /// before any state is read) answers `None`.
    ///
    /// On PostgreSQL the transaction first locks the rows of every rule the batch touches
    /// (`select … for update`, in id order, so two batches never wait on each other
    /// crosswise), which also serialises servers sharing the database; on SQLite it is
    /// `BEGIN IMMEDIATE`, one writer for the file. Nothing is read outside the transaction
    /// that decides, so parallel calls cannot both fit into the last dollar of a cap.
    pub async fn authorize_batch<F>(
        &self,
        asks: &[Ask<'_>],
        mut trail: F,
    ) -> sqlx::Result<Vec<Option<Reservation>>>
    where
        F: FnMut(usize, Option<&Reservation>) -> Trail,
    {
        let checks = || asks.iter().filter_map(|a| a.hold.as_ref().map(|h| &h.1));
        let mut locked: Vec<i64> = checks()
            .flat_map(|c| {
                c.caps
                    .iter()
                    .map(|c| c.rule_id)
                    .chain(c.rates.iter().map(|r| r.rule_id))
                    .chain(c.runs.iter().map(|r| r.rule_id))
            })
            .collect();
        locked.sort_unstable();
        locked.dedup();
        let mut tx = self.begin_hold().await?;
        let mut ledger = Ledger::default();
        if !locked.is_empty() {
            if let Tx::Postgres(_) = tx {
                let mut qb = QueryBuilder::new("select id from guardrail_rules where id in (");
                let mut ids = qb.separated(", ");
                for id in &locked {
                    ids.push_bind(*id);
                }
                qb.push(") order by id for update");
                qb.build().execute(&mut tx).await?;
            }
            ledger.load(&mut tx, asks, &locked).await?;
        }
        let mut out = Vec::with_capacity(asks.len());
        let mut rows = vec![];
        let mut notices: Vec<(OrgId, Notice)> = vec![];
        let mut held = vec![];
        for (i, ask) in asks.iter().enumerate() {
            let found = ask.hold.as_ref().map(|(hold, checks, _)| {
                let r = ledger.reserve(hold, checks, ask.now);
                if r.held {
                    held.push(ask);
                }
                r
            });
            let t = trail(i, found.as_ref());
            rows.extend(t.rows.into_iter().map(|r| (ask.org, r)));
            for n in t.notices {
                // a denial storm queues each notice once, not once per call
                if !notices.iter().any(|(o, m)| *o == ask.org && m.key == n.key) {
                    notices.push((ask.org, n));
                }
            }
            out.push(found);
        }
        ledger.store(&mut tx).await?;
        insert_reservations(&mut tx, &held).await?;
        insert_decisions(&mut tx, &rows).await?;
        for (org, n) in &notices {
            enqueue_notice(&mut tx, *org, n, None).await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Releases open reservations at once (their caller never heard of them): the caps and
    /// runs give back what they held, as at expiry.
    pub async fn release_reservations(
        &self,
        held: &[(OrgId, String)],
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        let items: Vec<_> = held.iter().map(|(org, id)| (*org, id.clone(), None)).collect();
        self.close_reservations(&items, now).await.map(|_| ())
    }

    /// Settles (`Some(cost)`) or releases (`None`) reservations in one transaction, each
    /// answered as [`Db::settle_reservation`] answers (`None`: unknown).
    pub async fn close_reservations(
        &self,
        items: &[(OrgId, String, Option<Nanos>)],
        now: DateTime<Utc>,
    ) -> sqlx::Result<Vec<Option<Closed>>> {
        if items.is_empty() {
            return Ok(vec![]);
        }
        let mut tx = self.begin().await?;
        let out = close_many(&mut tx, items, now).await?;
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
        let items: Vec<_> = due.into_iter().map(|(org, id)| (OrgId(org), id, None)).collect();
        // one transaction for the lot; a reservation settled meanwhile stays settled
        let closed = self.close_reservations(&items, now).await?;
        Ok(closed.iter().flatten().filter(|c| c.status == "expired" && c.actual.is_none()).count() as u64)
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
    let id = query_as::<(i64,)>(SQL)
        .bind(org.0)
        .bind(rule.name.trim())
        .bind(spec)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .0;
    bump_rules_version(tx, org).await?;
    Ok(id)
}

/// Raises the organisation's rules version (see [`Db::guardrail_rules_version`]).
async fn bump_rules_version(tx: &mut Tx, org: OrgId) -> sqlx::Result<()> {
    const SQL: &str = "insert into guardrail_rule_versions (org_id, version) values ($1, 1) \
        on conflict (org_id) do update set version = guardrail_rule_versions.version + 1";
    query(SQL).bind(org.0).execute(tx).await.map(|_| ())
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
    bump_rules_version(tx, org).await?;
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
    Ok(close_many(tx, &[(org, id.to_string(), actual)], now).await?.pop().flatten())
}

/// Closes reservations (settled at the cost given, released with `None`) in the caller's
/// transaction; each answer as [`Db::settle_reservation`]'s. Every row is locked in one
/// order whatever the batch: the reservations by id, then each cap's day and each run by
/// (rule, day or trace), their changes summed first — the order authorizing takes — so two
/// batches on PostgreSQL never wait on each other crosswise.
async fn close_many(
    tx: &mut Tx,
    items: &[(OrgId, String, Option<Nanos>)],
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<Option<Closed>>> {
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
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|a, b| items[*a].1.cmp(&items[*b].1));
    let mut out: Vec<Option<Closed>> = vec![None; items.len()];
    // (rule, day) → (held to give back, spent to add); (rule, trace) likewise
    let mut days: BTreeMap<(i64, NaiveDate), (i64, i64)> = BTreeMap::new();
    let mut runs: BTreeMap<(i64, String), (i64, i64)> = BTreeMap::new();
    let mut closing: Vec<(&str, &'static str, Option<i64>)> = vec![];
    let mut seen = std::collections::HashSet::new();
    for i in order {
        let (org, id, actual) = &items[i];
        let row: Option<ReservationRow> = query_as(sql).bind(id).bind(org.0).fetch_optional(&mut *tx).await?;
        let Some((day, amount, rules, status, was, trace_id, run_rules)) = row else { continue };
        if status != "open" || !seen.insert((org.0, id.as_str())) {
            // closed before (or earlier in this batch): answered as it closed
            let (status, was) = match closing.iter().find(|c| c.0 == id.as_str()) {
                Some((_, st, a)) => (st.to_string(), *a),
                None => (status, was),
            };
            out[i] = Some(Closed { status, amount: Nanos(amount), actual: was.map(Nanos) });
            continue;
        }
        let spent = actual.unwrap_or(Nanos::ZERO).0;
        let rules: Vec<i64> = serde_json::from_str(&rules).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        for rule in rules {
            let d = days.entry((rule, day)).or_default();
            d.0 += amount;
            d.1 += spent;
        }
        let run_rules: Vec<i64> =
            serde_json::from_str(&run_rules).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        for rule in run_rules {
            let r = runs.entry((rule, trace_id.clone().unwrap_or_default())).or_default();
            r.0 += amount;
            r.1 += spent;
        }
        let status = if actual.is_some() { "settled" } else { "expired" };
        closing.push((id.as_str(), status, actual.map(|a| a.0)));
        out[i] = Some(Closed { status: status.into(), amount: Nanos(amount), actual: *actual });
    }
    const RELEASE: &str = "update guardrail_days set reserved_nanos = reserved_nanos - $1, \
        spent_nanos = spent_nanos + $2 where rule_id = $3 and day = $4";
    for ((rule, day), (held, spent)) in &days {
        query(RELEASE).bind(held).bind(spent).bind(rule).bind(day).execute(&mut *tx).await?;
    }
    const RELEASE_RUN: &str = "update guardrail_runs set reserved_nanos = reserved_nanos - $1, \
        spent_nanos = spent_nanos + $2 where rule_id = $3 and trace_id = $4";
    for ((rule, trace), (held, spent)) in &runs {
        query(RELEASE_RUN).bind(held).bind(spent).bind(rule).bind(trace).execute(&mut *tx).await?;
    }
    const CLOSE: &str =
        "update guardrail_reservations set status = $1, actual_nanos = $2, closed_at = $3 where id = $4";
    for (id, status, actual) in &closing {
        query(CLOSE).bind(*status).bind(*actual).bind(now).bind(*id).execute(&mut *tx).await?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn at_ms(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    fn cap(rule_id: i64, usd_cents: i64) -> CapCheck {
        let (from, to) = (day("2026-11-01"), day("2026-11-30"));
        CapCheck { rule_id, from, to, amount: Nanos(usd_cents * 10_000_000), enforce: true }
    }

    fn hold(cents: i64) -> Hold<'static> {
        Hold {
            id: "r",
            provider: "openai",
            model: "gpt-4o",
            cost: Nanos(cents * 10_000_000),
            day: day("2026-11-20"),
        }
    }

    #[test]
    fn calls_of_one_batch_see_the_holds_of_the_calls_before_them() {
        // $0.30 settled earlier this month and $0.10 held from a call on another day
        let mut l = Ledger::with_rows(
            vec![(7, day("2026-11-02"), 30 * 10_000_000, 0), (7, day("2026-11-19"), 0, 10 * 10_000_000)],
            vec![],
            vec![],
        );
        let caps = [cap(7, 100)];
        let checks = Checks { caps: &caps, ..Default::default() };
        let held: Vec<bool> = (0..4).map(|_| l.reserve(&hold(25), &checks, at_ms(0)).held).collect();
        // 0.40 + 0.25 + 0.25 = 0.90; a third would be 1.15
        assert_eq!(held, [true, true, false, false]);
        let last = l.reserve(&hold(10), &checks, at_ms(0));
        assert!(last.held, "the last ten cents still fit");
        assert_eq!(last.caps[0].0.reserved, Nanos(60 * 10_000_000), "what it saw: 0.10 + 0.25 + 0.25 held");
        // only this batch's holds are written, on the call's day
        assert_eq!(l.held_days.into_iter().collect::<Vec<_>>(), [((7, day("2026-11-20")), 60 * 10_000_000)]);
    }

    #[test]
    fn a_denied_call_takes_no_tokens_and_answers_in_the_order_of_its_checks() {
        let mut l = Ledger::default();
        // a cap denies the second call: its request token must stay in the bucket
        let caps = [cap(9, 15), cap(3, 1_000)];
        let rates =
            [RateTake { rule_id: 4, unit: "requests", per_minute: 60, burst: 2, n: 1, enforce: true }];
        let checks = Checks { caps: &caps, rates: &rates, runs: &[] };
        let a = l.reserve(&hold(10), &checks, at_ms(1_000));
        assert!(a.held);
        assert_eq!(a.caps.iter().map(|c| c.0.rule_id).collect::<Vec<_>>(), [9, 3], "as the rules were given");
        let b = l.reserve(&hold(10), &checks, at_ms(1_000));
        assert!(!b.held && b.caps[0].1 && !b.caps[1].1);
        assert_eq!(b.rates[0].2, None, "the bucket had the token; the cap denied");
        // the token b did not take is there for c (a $0.01 call)
        let c = l.reserve(&hold(1), &checks, at_ms(1_000));
        assert!(c.held);
        let d = l.reserve(&hold(1), &checks, at_ms(1_000));
        assert_eq!((d.held, d.rates[0].2), (false, Some(Some(1))), "burst of 2 spent; a token a second");
        assert_eq!(l.buckets[&(4, "requests".to_string())], (0, 1_000));
        assert!(l.taken.contains(&(4, "requests".to_string())));
    }

    #[test]
    fn run_limits_count_the_calls_held_before_in_the_same_batch() {
        let mut l = Ledger::with_rows(vec![], vec![], vec![(5, "t1".into(), 0, 0, 2)]);
        let runs = [RunCheck {
            rule_id: 5,
            trace_id: "t1".into(),
            max_cost: Some(Nanos(25 * 10_000_000)),
            max_calls: Some(4),
            enforce: true,
        }];
        let checks = Checks { runs: &runs, ..Default::default() };
        let a = l.reserve(&hold(10), &checks, at_ms(0));
        let b = l.reserve(&hold(10), &checks, at_ms(0));
        let c = l.reserve(&hold(1), &checks, at_ms(0));
        assert!(a.held && b.held);
        assert_eq!((c.held, c.runs[0].0.calls, c.runs[0].2), (false, 4, true), "the fifth call");
        assert_eq!(l.run_holds[&(5, "t1".to_string())], (20 * 10_000_000, 2));
    }
}
