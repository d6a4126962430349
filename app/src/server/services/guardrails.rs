//! Guardrails before spend: authorize a call (every applicable rule, the worst case priced
//! from the price book and held against each spend cap), then settle it with its exact cost
//! or let it expire (see `domain::guardrail` and `db::guardrails`).
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::{mpsc, oneshot};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::prices::PriceCache;
use crate::domain::api_key::Scope as KeyScope;
use crate::domain::guardrail::{
    Call, Code, Limit, Logged, Mode, Period, ReplayReport, Rule, RuleLine, Verdict,
};
use crate::domain::price_book::PriceBook;
use crate::domain::pricing::{ServiceTier, Tokens};
use crate::domain::webhook::Notice;
use crate::domain::Nanos;
use crate::error::AppError;
use crate::server::db::guardrails::{
    Ask, CapCheck, Checks, Closed, Hold, LogFilter, RateTake, Reservation, RunCheck, Trail,
};
use crate::server::db::{Actor, NewAudit};
use crate::server::db::{ApiKeyRow, Db, OrgId};
use crate::server::services::keys::{self, KeyHasher};

/// A cap's money after this call's hold: its amount, what is used (settled and held) and
/// what is left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headroom {
    pub rule: String,
    pub window: String,
    pub amount_nanos: i64,
    pub used_nanos: i64,
    pub remaining_nanos: i64,
    pub remaining_usd: String,
}

/// A rule that denied (or, for shadow rules and soft caps, would have).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denial {
    pub rule: String,
    pub code: Code,
    pub message: String,
}

/// The answer to an authorize request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// `allow` or `deny`.
    pub decision: String,
    pub reservation_id: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The call's cost if it uses all of `max_tokens`, from the price book (`None`: no price).
    pub worst_case_nanos: Option<i64>,
    pub priced_from: Option<String>,
    /// Set when a clamping rule lowered the call's `max_tokens`: the value the call must be
    /// made with (what was priced and held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<i64>,
    pub headroom: Vec<Headroom>,
    pub denied: Vec<Denial>,
    /// What shadow rules would have denied and soft caps the call passes: logged, never denied.
    pub warnings: Vec<Denial>,
    /// For a rate limit: whole seconds until the call would fit (also the `Retry-After`).
    pub retry_after_secs: Option<i64>,
    /// Set when the database did not answer in time and the rules' failure modes decided:
    /// `fail_closed` (denied) or `fail_open` (allowed without a hold).
    pub failure_mode: Option<String>,
}

impl Decision {
    /// The HTTP status: 200 allow; 402 when a budget or run budget denied; 429 for a rate
    /// limit; 503 when only unreachable rules failing closed denied; 403 for the other
    /// denials (model, size, agent limits, unpriced model).
    pub fn status(&self) -> u16 {
        let has = |c: Code| self.denied.iter().any(|d| d.code == c);
        if self.decision == "allow" {
            200
        } else if has(Code::BudgetExhausted) || has(Code::RunBudgetExhausted) {
            402
        } else if has(Code::RateLimited) {
            429
        } else if self.denied.iter().all(|d| d.code == Code::Unavailable) {
            503
        } else {
            403
        }
    }
}

fn denial(v: Verdict) -> Denial {
    Denial { rule: v.rule, code: v.code, message: v.message }
}

/// Lowers the call's `max_tokens` to the smallest limit of the enforced clamping rules among
/// `rules` (those that apply to it): the new value (`None`: unchanged), and one warning per
/// clamping rule the call asked past, shadow rules saying what they would have done.
fn clamp<'a>(call: &mut Call, rules: impl Iterator<Item = &'a Rule>) -> (Option<i64>, Vec<Denial>) {
    let asked = call.max_tokens;
    let mut said = vec![];
    for r in rules {
        let Some(to) = r.clamp_to().filter(|to| asked > *to) else { continue };
        let message = if r.mode == Mode::Enforce {
            call.max_tokens = call.max_tokens.min(to);
            format!("rule '{}': max_tokens {asked} lowered to {to}", r.name)
        } else {
            format!("rule '{}': max_tokens {asked} would be lowered to {to} (shadow: not clamped)", r.name)
        };
        said.push(Denial { rule: r.name.clone(), code: Code::MaxTokensClamped, message });
    }
    ((call.max_tokens < asked).then_some(call.max_tokens), said)
}

fn window_name(p: Period) -> String {
    match p {
        Period::Day => "today".into(),
        Period::Week => "this week".into(),
        Period::Month => "this month".into(),
        Period::Rolling(n) => format!("the last {n} days"),
    }
}

/// How long an authorize call waits for the database before each rule's failure mode
/// answers instead (`fail_closed` denies, `fail_open` allows without a hold): the server's
/// default (`--authorize-timeout-ms`).
pub const DB_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1_000);

/// The authorize API's wait for the database, the rules each organisation had when the
/// database last answered (what the failure modes are read from when it does not), and the
/// lane that decides this process's calls in batches.
#[derive(Clone)]
pub struct Guard {
    pub timeout: std::time::Duration,
    last: Known,
    /// The keys the lane last read, by prefix: what lets the failure modes answer a key when
    /// the database does not (its secret is checked against the hash as always).
    keys: Arc<Mutex<HashMap<String, ApiKeyRow>>>,
    lane: Arc<OnceLock<mpsc::Sender<Job>>>,
}

/// Per organisation, the rules last read and their version (see `Db::guardrail_rules_version`).
type Known = Arc<Mutex<HashMap<i64, (i64, Arc<Vec<Rule>>)>>>;

/// Calls decided in one transaction at most; a batch this size is a few milliseconds of work.
const MAX_BATCH: usize = 256;

impl Guard {
    pub fn with_timeout(timeout: std::time::Duration) -> Guard {
        Guard { timeout, last: Default::default(), keys: Default::default(), lane: Default::default() }
    }

    fn recall(&self, org: OrgId) -> Option<Arc<Vec<Rule>>> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).get(&org.0).map(|(_, r)| r.clone())
    }

    /// The lane's queue, its task started on first use (on the caller's runtime).
    fn lane(&self, db: &Db, prices: &PriceCache) -> mpsc::Sender<Job> {
        self.lane
            .get_or_init(|| {
                let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
                let (known, keys) = (self.last.clone(), self.keys.clone());
                tokio::spawn(run_lane(db.clone(), prices.clone(), known, keys, self.timeout, rx));
                tx
            })
            .clone()
    }
}

/// The organisation's rules: those last read while their version is unchanged, else read
/// anew. The version is read first, so rules cached under it are never older than it.
async fn rules_of(db: &Db, known: &Known, org: OrgId) -> Result<Arc<Vec<Rule>>, AppError> {
    let version = db.guardrail_rules_version(org).await?;
    let cached = known.lock().unwrap_or_else(|e| e.into_inner()).get(&org.0).cloned();
    if let Some((_, rules)) = cached.filter(|(v, _)| *v == version) {
        return Ok(rules);
    }
    let rules = Arc::new(db.guardrail_rules(org).await?);
    known.lock().unwrap_or_else(|e| e.into_inner()).insert(org.0, (version, rules.clone()));
    Ok(rules)
}

/// A call waiting in the lane, with where its answer goes.
struct Job {
    caller: Caller,
    /// The call and its reservation's TTL; a body that did not read is answered with its
    /// error once the key passed, as if the key had been checked first.
    call: Result<(Call, i64), AppError>,
    now: DateTime<Utc>,
    reply: oneshot::Sender<Result<Decision, AppError>>,
}

/// Who makes a call: a key already checked (the gateway's), or a bearer token the lane checks
/// with the batch's other keys, in one read for the batch.
enum Caller {
    Key(ApiKeyRow),
    Bearer { prefix: String, secret: String, hasher: KeyHasher },
}

/// Fills what the key knows of the call: its team and initiative unless the call names them,
/// and the key itself.
fn attribute(call: &mut Call, key: &ApiKeyRow) {
    call.team = call.team.take().or_else(|| Some(key.team.clone()));
    call.initiative = call.initiative.take().or_else(|| key.initiative.clone());
    call.api_key = Some(key.prefix.clone());
}

/// Decides a call: fills what the key knows (team, initiative, the key itself), prices its
/// worst case, checks every rule in force for it, and holds the worst case against every
/// spend cap in one atomic step. A denial names every enforced rule that denied. When the
/// database does not answer within the guard's timeout (or fails), each applicable rule's
/// failure mode decides, from the rules last read (`failure_mode` in the answer).
///
/// The call joins this process's lane: calls that arrive while a batch is in the database
/// are decided together in the next one (group commit), each as if alone in its own
/// transaction, in arrival order (see `Db::authorize_batch`).
pub async fn authorize(
    db: &Db,
    prices: &PriceCache,
    guard: &Guard,
    key: &ApiKeyRow,
    call: Call,
    ttl_secs: i64,
    now: DateTime<Utc>,
) -> Result<Decision, AppError> {
    let mut attributed = call.clone();
    attribute(&mut attributed, key);
    let caller = Caller::Key(key.clone());
    let asked = ask(db, prices, guard, caller, Ok((call, ttl_secs)), now).await;
    answer_or_degrade(guard, asked, || Some((OrgId(key.org_id), attributed)), now)
}

/// [`authorize`] for a call that presents a bearer token (`POST /api/v1/authorize`): the lane
/// checks the key (scope `authorize`) with the batch's other keys, then the call body
/// (`call`), then decides. When the database does not answer, a key this server checked
/// before with the same secret lets the failure modes decide; an unknown one is 503.
#[allow(clippy::too_many_arguments)]
pub async fn authorize_bearer(
    db: &Db,
    prices: &PriceCache,
    guard: &Guard,
    hasher: &KeyHasher,
    prefix: &str,
    secret: &str,
    call: Result<(Call, i64), AppError>,
    now: DateTime<Utc>,
) -> Result<Decision, AppError> {
    let fallback = call.as_ref().ok().map(|(c, _)| c.clone());
    let caller =
        Caller::Bearer { prefix: prefix.to_string(), secret: secret.to_string(), hasher: hasher.clone() };
    let asked = ask(db, prices, guard, caller, call, now).await;
    let known = || {
        let key = guard.keys.lock().unwrap_or_else(|e| e.into_inner()).get(prefix).cloned();
        keys::check(hasher, key, secret, Some(KeyScope::Authorize), now).ok()
    };
    let degrade = || {
        let (mut c, key) = (fallback?, known()?);
        attribute(&mut c, &key);
        Some((OrgId(key.org_id), c))
    };
    answer_or_degrade(guard, asked, degrade, now)
}

/// Sends the call to the lane and waits for its answer at most the guard's timeout (`Err`:
/// no answer in time).
async fn ask(
    db: &Db,
    prices: &PriceCache,
    guard: &Guard,
    caller: Caller,
    call: Result<(Call, i64), AppError>,
    now: DateTime<Utc>,
) -> Result<Result<Decision, AppError>, String> {
    let lane = guard.lane(db, prices);
    let (reply, answer) = oneshot::channel();
    let job = Job { caller, call, now, reply };
    let asked = async {
        lane.send(job).await.map_err(|_| AppError::Internal)?;
        answer.await.map_err(|_| AppError::Internal)?
    };
    // the lane sees the answer is not awaited: the call is left out, or released if held
    tokio::time::timeout(guard.timeout, asked)
        .await
        .map_err(|_| format!("no answer within {} ms", guard.timeout.as_millis()))
}

/// The lane's answer, or when the database was unavailable (no answer in time, or a busy or
/// failed database), the failure modes' answer for the call. `degrade` is asked only then, for
/// the call's organisation and attributed call; `None` (nothing known to decide by) is 503.
fn answer_or_degrade(
    guard: &Guard,
    asked: Result<Result<Decision, AppError>, String>,
    degrade: impl FnOnce() -> Option<(OrgId, Call)>,
    now: DateTime<Utc>,
) -> Result<Decision, AppError> {
    let why = match asked {
        Ok(Ok(d)) => return Ok(d),
        Ok(Err(e @ (AppError::Busy | AppError::Internal))) => e.to_string(),
        Ok(Err(e)) => return Err(e),
        Err(why) => why,
    };
    let Some((org, call)) = degrade() else { return Err(AppError::Busy) };
    tracing::warn!(reason = %why, "authorize: database unavailable, failure modes decide");
    Ok(degraded(guard.recall(org), &call, now, &why))
}

/// The answer without the database: each enforced rule that applies and fails closed denies
/// (503, retry in a second); fail-open rules warn and the call is allowed without a hold.
/// Stateless limits (models, sizes, depth) still deny. With no rules known at all (the server
/// has not read them since it started), the call is denied: closed is the default.
fn degraded(rules: Option<Arc<Vec<Rule>>>, call: &Call, now: DateTime<Utc>, why: &str) -> Decision {
    use crate::domain::guardrail::FailureMode;
    let mut d = Decision {
        decision: "deny".into(),
        reservation_id: None,
        expires_at: None,
        worst_case_nanos: None,
        priced_from: None,
        max_tokens: None,
        headroom: vec![],
        denied: vec![],
        warnings: vec![],
        retry_after_secs: Some(1),
        failure_mode: Some("fail_closed".into()),
    };
    let Some(rules) = rules else {
        d.denied.push(Denial {
            rule: "(rules unknown)".into(),
            code: Code::Unavailable,
            message: format!(
                "the rules could not be read ({why}) and none are known yet; denied (fail closed)"
            ),
        });
        return d;
    };
    let today = now.date_naive();
    let applies: Vec<&Rule> = rules.iter().filter(|r| r.applies(call, today)).collect();
    let mut call = call.clone();
    (d.max_tokens, d.warnings) = clamp(&mut call, applies.iter().copied());
    for r in applies {
        for v in r.check(&call).into_iter().filter(|v| v.code != Code::Unpriced) {
            if v.shadow {
                d.warnings.push(denial(v));
            } else {
                d.denied.push(denial(v));
            }
        }
        let stateful = matches!(r.limit, Limit::Cap { .. } | Limit::Rate { .. } | Limit::Agent { .. });
        if !stateful {
            continue;
        }
        let closed = r.failure == FailureMode::FailClosed && r.mode == Mode::Enforce;
        let how = if closed { "fails closed: denied" } else { "fails open: allowed without a hold" };
        let x = Denial {
            rule: r.name.clone(),
            code: Code::Unavailable,
            message: format!("rule '{}' could not be checked ({why}); it {how}", r.name),
        };
        if closed {
            d.denied.push(x);
        } else {
            d.warnings.push(x);
        }
    }
    if d.denied.is_empty() {
        d.decision = "allow".into();
        d.failure_mode = Some("fail_open".into());
    }
    if d.status() != 503 {
        d.retry_after_secs = None;
    }
    d
}

/// Takes whatever calls are waiting (up to [`MAX_BATCH`]) and decides them in one
/// transaction, until the guard is dropped. A batch that outlasts the timeout is dropped
/// (its transaction rolls back) and its callers, who stopped waiting, are answered by the
/// failure modes; a call held after its caller stopped waiting is released at once.
async fn run_lane(
    db: Db,
    prices: PriceCache,
    known: Known,
    keys: Arc<Mutex<HashMap<String, ApiKeyRow>>>,
    timeout: std::time::Duration,
    mut rx: mpsc::Receiver<Job>,
) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        jobs.retain(|j| !j.reply.is_closed());
        if jobs.is_empty() {
            continue;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let admitted = tokio::time::timeout_at(deadline, admit(&db, &keys, &mut jobs)).await;
        let ready = match admitted.unwrap_or(Err(AppError::Busy)) {
            Ok(ready) => ready,
            Err(e) => {
                for job in jobs.drain(..) {
                    let _ = job.reply.send(Err(e.clone()));
                }
                continue;
            }
        };
        let decided = tokio::time::timeout_at(deadline, decide_batch(&db, &prices, &known, &ready))
            .await
            .unwrap_or(Err(AppError::Busy));
        let mut orphans = vec![];
        match decided {
            Ok(decisions) => {
                for (job, d) in ready.into_iter().zip(decisions) {
                    let held = d.reservation_id.clone();
                    if job.reply.send(Ok(d)).is_err() {
                        orphans.extend(held.map(|id| (job.org, id)));
                    }
                }
            }
            Err(e) => {
                for job in ready {
                    let _ = job.reply.send(Err(e.clone()));
                }
            }
        }
        if !orphans.is_empty() {
            if let Err(e) = db.release_reservations(&orphans, Utc::now()).await {
                // they expire on their own at their TTL
                tracing::warn!(error = %e, n = orphans.len(), "authorize: could not release unheard holds");
            }
        }
    }
}

/// A call admitted to a batch: its key checked and its body read, attributed to the key.
struct Ready {
    org: OrgId,
    call: Call,
    ttl_secs: i64,
    now: DateTime<Utc>,
    reply: oneshot::Sender<Result<Decision, AppError>>,
}

/// Checks the batch's bearer keys with one read, answers the calls whose key or body is bad
/// (key errors first, as a handler that checks the key before the body would), and takes the
/// others out of `jobs`. On a database error `jobs` is left whole, for the caller to answer.
async fn admit(
    db: &Db,
    memo: &Mutex<HashMap<String, ApiKeyRow>>,
    jobs: &mut Vec<Job>,
) -> Result<Vec<Ready>, AppError> {
    let mut prefixes: Vec<&str> = jobs
        .iter()
        .filter_map(|j| match &j.caller {
            Caller::Bearer { prefix, .. } => Some(prefix.as_str()),
            Caller::Key(_) => None,
        })
        .collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    let found: HashMap<String, ApiKeyRow> =
        db.api_keys_by_prefixes(&prefixes).await?.into_iter().map(|k| (k.prefix.clone(), k)).collect();
    if !found.is_empty() {
        memo.lock().unwrap_or_else(|e| e.into_inner()).extend(found.clone());
    }
    let mut ready = Vec::with_capacity(jobs.len());
    let mut touched = vec![];
    for job in jobs.drain(..) {
        let key = match job.caller {
            Caller::Key(key) => Ok(key),
            Caller::Bearer { prefix, secret, hasher } => {
                let key = keys::check(
                    &hasher,
                    found.get(&prefix).cloned(),
                    &secret,
                    Some(KeyScope::Authorize),
                    job.now,
                );
                if let Ok(k) = &key {
                    if keys::needs_touch(k, job.now) && !touched.iter().any(|(id, _)| *id == k.id) {
                        touched.push((k.id, job.now));
                    }
                }
                key
            }
        };
        match key.and_then(|k| job.call.map(|c| (k, c))) {
            Ok((key, (mut call, ttl_secs))) => {
                attribute(&mut call, &key);
                ready.push(Ready { org: OrgId(key.org_id), call, ttl_secs, now: job.now, reply: job.reply });
            }
            Err(e) => {
                let _ = job.reply.send(Err(e));
            }
        }
    }
    if !touched.is_empty() {
        // a write in the writer lane: not on the batch's path
        let db = db.clone();
        tokio::spawn(async move {
            for (id, at) in touched {
                if let Err(e) = db.touch_api_key(id, at).await {
                    tracing::debug!(error = %e, "authorize: key use not recorded");
                }
            }
        });
    }
    Ok(ready)
}

/// Reads each organisation's rules and price book once, plans every call, then decides and
/// logs them all in one transaction.
async fn decide_batch(
    db: &Db,
    prices: &PriceCache,
    known: &Known,
    jobs: &[Ready],
) -> Result<Vec<Decision>, AppError> {
    let mut orgs: HashMap<i64, (Arc<Vec<Rule>>, Arc<PriceBook>)> = HashMap::new();
    for j in jobs {
        if let std::collections::hash_map::Entry::Vacant(e) = orgs.entry(j.org.0) {
            e.insert((rules_of(db, known, j.org).await?, prices.book(db, j.org).await?));
        }
    }
    let plans: Vec<Plan> = jobs
        .iter()
        .map(|j| {
            let (rules, book) = &orgs[&j.org.0];
            plan(j.call.clone(), rules, book, j.ttl_secs, j.now)
        })
        .collect();
    let asks: Vec<Ask> =
        plans.iter().zip(jobs).map(|(p, j)| Ask { org: j.org, now: j.now, hold: p.hold() }).collect();
    let mut decisions = Vec::with_capacity(jobs.len());
    db.authorize_batch(&asks, |i, found| {
        let d = compose(&plans[i], found);
        let t = trail(&plans[i], &d, jobs[i].now);
        decisions.push(d);
        t
    })
    .await?;
    Ok(decisions)
}

/// A call made ready for the database: priced, its applicable rules, what the stateless
/// rules said, and the checks it takes to the caps, buckets and runs.
struct Plan {
    call: Call,
    rules: Vec<Rule>,
    /// The answer so far: stateless denials and warnings.
    decision: Decision,
    /// (check, index in `rules`, period)
    caps: Vec<(CapCheck, usize, Period)>,
    rates: Vec<(RateTake, usize)>,
    runs: Vec<(RunCheck, usize)>,
    cap_checks: Vec<CapCheck>,
    rate_takes: Vec<RateTake>,
    run_checks: Vec<RunCheck>,
    id: String,
    cost: Nanos,
    day: NaiveDate,
    expires_at: DateTime<Utc>,
}

impl Plan {
    /// What the call holds, unless a stateless rule denied it already.
    fn hold(&self) -> Option<(Hold<'_>, Checks<'_>, DateTime<Utc>)> {
        if !self.decision.denied.is_empty() {
            return None;
        }
        let hold = Hold {
            id: &self.id,
            provider: &self.call.provider,
            model: &self.call.model,
            cost: self.cost,
            day: self.day,
        };
        let checks = Checks { caps: &self.cap_checks, rates: &self.rate_takes, runs: &self.run_checks };
        Some((hold, checks, self.expires_at))
    }
}

fn plan(mut call: Call, all: &[Rule], book: &PriceBook, ttl_secs: i64, now: DateTime<Utc>) -> Plan {
    let today = now.date_naive();
    let rules: Vec<Rule> = all.iter().filter(|r| r.applies(&call, today)).cloned().collect();
    // clamps come first: the lowered max_tokens is what is priced, held and checked
    let (clamped, clamps) = clamp(&mut call, rules.iter());
    let found = book.explain(&call.provider, &call.model, ServiceTier::Standard, today);
    let worst = Tokens { input: call.input_tokens, output: call.max_tokens, ..Default::default() };
    call.worst_case = found.and_then(|f| f.entry.price.cost(&worst, 1, ServiceTier::Standard).ok());
    let mut decision = Decision {
        decision: "deny".into(),
        reservation_id: None,
        expires_at: None,
        worst_case_nanos: call.worst_case.map(|c| c.0),
        priced_from: found.map(|f| f.entry.model.clone()),
        max_tokens: clamped,
        headroom: vec![],
        denied: vec![],
        warnings: clamps,
        retry_after_secs: None,
        failure_mode: None,
    };
    for v in rules.iter().flat_map(|r| r.check(&call)) {
        if v.shadow {
            decision.warnings.push(denial(v));
        } else {
            decision.denied.push(denial(v));
        }
    }
    let enforced = |r: &Rule| r.mode == Mode::Enforce;
    let (mut caps, mut rates, mut runs) = (vec![], vec![], vec![]);
    for (i, r) in rules.iter().enumerate() {
        match &r.limit {
            Limit::Cap { period, amount_nanos, hard, .. } => {
                let (from, to) = period.window(today);
                let enforce = *hard && enforced(r);
                caps.push((
                    CapCheck { rule_id: r.id, from, to, amount: Nanos(*amount_nanos), enforce },
                    i,
                    *period,
                ));
            }
            Limit::Rate { requests_per_minute, tokens_per_minute, burst } => {
                let take = |unit, per_minute: i64, burst: i64, n| RateTake {
                    rule_id: r.id,
                    unit,
                    per_minute,
                    burst,
                    n,
                    enforce: enforced(r),
                };
                if let Some(rpm) = requests_per_minute {
                    rates.push((take("requests", *rpm, burst.unwrap_or(*rpm), 1), i));
                }
                if let Some(tpm) = tokens_per_minute {
                    rates.push((take("tokens", *tpm, *tpm, call.input_tokens + call.max_tokens), i));
                }
            }
            Limit::Agent { max_run_cost_nanos, max_calls, .. } => {
                // run limits need the run: a call without a trace id is not part of one
                if let (Some(trace), true) =
                    (&call.trace_id, max_run_cost_nanos.is_some() || max_calls.is_some())
                {
                    let check = RunCheck {
                        rule_id: r.id,
                        trace_id: trace.clone(),
                        max_cost: max_run_cost_nanos.map(Nanos),
                        max_calls: *max_calls,
                        enforce: enforced(r),
                    };
                    runs.push((check, i));
                }
            }
            _ => {}
        }
    }
    Plan {
        cost: call.worst_case.unwrap_or(Nanos::ZERO),
        cap_checks: caps.iter().map(|c: &(CapCheck, usize, Period)| c.0).collect(),
        rate_takes: rates.iter().map(|r: &(RateTake, usize)| r.0).collect(),
        run_checks: runs.iter().map(|r: &(RunCheck, usize)| r.0.clone()).collect(),
        call,
        rules,
        decision,
        caps,
        rates,
        runs,
        id: format!("rsv_{}", crate::server::auth::password::random_secret(24)),
        day: today,
        expires_at: now + Duration::seconds(ttl_secs),
    }
}

/// The answer to a planned call from what the database found (`None`: a stateless rule
/// denied it and nothing was read).
fn compose(plan: &Plan, found: Option<&Reservation>) -> Decision {
    let mut decision = plan.decision.clone();
    let Some(found) = found else { return decision };
    let cost = plan.cost;
    let rule = |i: usize| &plan.rules[i];
    let mut say = |rule: &Rule, code: Code, message: String, enforce: bool| {
        let d = Denial { rule: rule.name.clone(), code, message };
        if enforce {
            decision.denied.push(d);
        } else {
            decision.warnings.push(d);
        }
    };
    let not_denied =
        |r: &Rule| if r.mode == Mode::Shadow { " (shadow: not denied)" } else { " (soft cap: not denied)" };
    for ((u, over, enforce), (_, i, p)) in found.caps.iter().zip(&plan.caps) {
        let r = rule(*i);
        if *over {
            let message = format!(
                "rule '{}': {} of {} used {} ({} settled, {} held); this call may cost {}{}",
                r.name,
                Nanos(u.spent.0 + u.reserved.0).usd(),
                u.amount.usd(),
                window_name(*p),
                u.spent.usd(),
                u.reserved.usd(),
                cost.usd(),
                if *enforce { "" } else { not_denied(r) }
            );
            say(r, Code::BudgetExhausted, message, *enforce);
        }
        // the call that carries a cap past one of its thresholds warns (once: calls are
        // decided one at a time against the cap's state, so two racing calls cannot both
        // cross it)
        if let (Limit::Cap { warn_at_pct, .. }, true) = (&r.limit, found.held) {
            let before = i128::from(u.spent.0) + i128::from(u.reserved.0);
            let after = before + i128::from(cost.0);
            let amount = i128::from(u.amount.0);
            if let Some(pct) = warn_at_pct
                .iter()
                .filter(|p| {
                    before * 100 < amount * i128::from(**p) && after * 100 >= amount * i128::from(**p)
                })
                .max()
            {
                let message = format!(
                    "rule '{}': {} of {} used {} with this call, past {pct}%",
                    r.name,
                    Nanos(i64::try_from(after).unwrap_or(i64::MAX)).usd(),
                    u.amount.usd(),
                    window_name(*p)
                );
                say(r, Code::BudgetThreshold, message, false);
            }
        }
    }
    let mut retry_after: Option<i64> = None;
    for ((_, unit, wait, enforce), (take, i)) in found.rates.iter().zip(&plan.rates) {
        let Some(wait) = wait else { continue };
        let r = rule(*i);
        let message = match wait {
            Some(secs) => {
                if *enforce {
                    retry_after = Some(retry_after.unwrap_or(0).max(*secs));
                }
                format!(
                    "rule '{}': {} {unit} per minute are used up; retry in {secs} s",
                    r.name, take.per_minute
                )
            }
            None => format!(
                "rule '{}': this call needs {} {unit}, more than the {} the rule allows at once",
                r.name, take.n, take.burst
            ),
        };
        say(r, Code::RateLimited, message, *enforce);
    }
    for ((u, over_cost, over_calls, enforce), (check, i)) in found.runs.iter().zip(&plan.runs) {
        let r = rule(*i);
        if *over_cost {
            let max = check.max_cost.unwrap_or(Nanos::ZERO);
            let message = format!(
                "rule '{}': run {} has used {} of its {} ({} settled, {} held); this call may cost {}",
                r.name,
                check.trace_id,
                Nanos(u.spent.0 + u.reserved.0).usd(),
                max.usd(),
                u.spent.usd(),
                u.reserved.usd(),
                cost.usd()
            );
            say(r, Code::RunBudgetExhausted, message, *enforce);
        }
        if *over_calls {
            let message = format!(
                "rule '{}': run {} has made {} calls, the most it may make",
                r.name, check.trace_id, u.calls
            );
            say(r, Code::RunCallsExceeded, message, *enforce);
        }
    }
    decision.retry_after_secs = retry_after;
    if found.held {
        decision.decision = "allow".into();
        decision.reservation_id = Some(plan.id.clone());
        decision.expires_at = Some(plan.expires_at);
        for ((u, _, _), (_, i, p)) in found.caps.iter().zip(&plan.caps) {
            let used = u.spent.0 + u.reserved.0 + cost.0;
            decision.headroom.push(Headroom {
                rule: rule(*i).name.clone(),
                window: window_name(*p),
                amount_nanos: u.amount.0,
                used_nanos: used,
                remaining_nanos: u.amount.0 - used,
                remaining_usd: Nanos(u.amount.0 - used).usd(),
            });
        }
    }
    decision
}

/// The decision log's rows for a call some rule denied or warned on, and one notice per
/// rule, day and outcome for the webhooks (the bell reads the log itself).
fn trail(plan: &Plan, d: &Decision, now: DateTime<Utc>) -> Trail {
    let mut out = Trail::default();
    if d.denied.is_empty() && d.warnings.is_empty() {
        return out;
    }
    let call = &plan.call;
    let call_id = d
        .reservation_id
        .clone()
        .unwrap_or_else(|| format!("call_{}", crate::server::auth::password::random_secret(16)));
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    for (x, enforced) in d.denied.iter().map(|x| (x, true)).chain(d.warnings.iter().map(|x| (x, false))) {
        let rule_id = plan.rules.iter().find(|r| r.name == x.rule).map(|r| r.id).unwrap_or(0);
        out.rows.push(Logged {
            id: 0,
            call_id: call_id.clone(),
            at_ms: now.timestamp_millis(),
            decision: d.decision.clone(),
            rule_id,
            rule: x.rule.clone(),
            code: x.code,
            enforced,
            message: x.message.clone(),
            api_key: text(&call.api_key),
            team: text(&call.team),
            feature: text(&call.feature),
            provider: call.provider.clone(),
            model: call.model.clone(),
            worst_case_nanos: d.worst_case_nanos,
        });
        let outcome = if enforced { "denied" } else { "warned" };
        out.notices.push(Notice {
            key: format!("guardrail:{rule_id}:{}:{outcome}", now.date_naive()),
            event: format!("guardrail.{outcome}"),
            title: format!("Guardrail '{}' {outcome} a call ({})", x.rule, x.code.as_str()),
            message: x.message.clone(),
            path: format!("/guardrails?rule={rule_id}"),
            data: serde_json::json!({
                "rule": x.rule,
                "code": x.code.as_str(),
                "enforced": enforced,
                "api_key": call.api_key,
                "team": call.team,
                "feature": call.feature,
                "model": call.model,
            }),
        });
    }
    out
}

/// How a call ended: its exact cost, or its usage to price with the book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    Cost(Nanos),
    Usage { tokens: Tokens, requests: i64 },
}

/// Reads a settle body: `{"cost_usd": "0.0123"}`, or the usage in the event API's token fields
/// (and `request_count`). Errors name the field.
pub fn parse_settlement(v: &serde_json::Value) -> Result<Settlement, AppError> {
    let obj = v.as_object().ok_or_else(|| AppError::invalid("body: expected a JSON object"))?;
    let known = |k: &str| {
        k == "cost_usd" || k == "request_count" || crate::domain::pricing::TOKEN_FIELDS.contains(&k)
    };
    if let Some(k) = obj.keys().find(|k| !known(k)) {
        return Err(AppError::invalid(format!("{k}: unknown field")));
    }
    if let Some(cost) = obj.get("cost_usd") {
        if obj.len() > 1 {
            return Err(AppError::invalid("cost_usd: give the cost or the usage, not both"));
        }
        return crate::domain::ingest::usd_to_nanos(cost)
            .map(Settlement::Cost)
            .map_err(|m| AppError::invalid(format!("cost_usd: {m}")));
    }
    let mut tokens = Tokens::default();
    for (k, v) in obj.iter().filter(|(k, _)| *k != "request_count") {
        let n = v.as_i64().filter(|n| (0..=crate::domain::event_bounds::count_max(k)).contains(n));
        *tokens.field_mut(k).expect("a token field") =
            n.ok_or_else(|| AppError::invalid(format!("{k}: a whole number of at least 0 (got {v})")))?;
    }
    crate::domain::event_bounds::check_tokens(&tokens).map_err(AppError::invalid)?;
    let requests = match obj.get("request_count") {
        None => 1,
        Some(v) => {
            v.as_i64().filter(|n| (0..=crate::domain::limits::MAX_REQUESTS).contains(n)).ok_or_else(|| {
                AppError::invalid(format!("request_count: a whole number of at least 0 (got {v})"))
            })?
        }
    };
    Ok(Settlement::Usage { tokens, requests })
}

/// Settles a reservation of the key's organisation. Usage is priced with the reservation's
/// provider and model; a model without a price settles at its held worst case (never $0).
/// Settling twice answers the first settlement; an unknown id is `NotFound`.
pub async fn settle(
    db: &Db,
    prices: &PriceCache,
    org: OrgId,
    id: &str,
    how: Settlement,
    now: DateTime<Utc>,
) -> Result<Closed, AppError> {
    let not_found = || AppError::NotFound(format!("reservation {id}"));
    let (provider, model, day, amount) = db.reservation(org, id).await?.ok_or_else(not_found)?;
    let actual = match how {
        Settlement::Cost(c) => c,
        Settlement::Usage { tokens, requests } => {
            let book = prices.book(db, org).await?;
            book.find(&provider, &model, day)
                .and_then(|e| e.price.cost(&tokens, requests, ServiceTier::Standard).ok())
                .unwrap_or(amount)
        }
    };
    db.settle_reservation(org, id, actual, now).await?.ok_or_else(not_found)
}

/// The rules with their caps' live figures, open reservations and hits in the last 24 hours
/// and 7 days.
pub async fn lines(db: &Db, org: OrgId, now: DateTime<Utc>) -> Result<Vec<RuleLine>, AppError> {
    let rules = db.guardrail_rules(org).await?;
    let ms = now.timestamp_millis();
    let hits = db.guardrail_hits(org, ms - 86_400_000, ms - 7 * 86_400_000).await?;
    let open = db.open_reservations_per_rule(org).await?;
    let mut out = Vec::with_capacity(rules.len());
    for r in rules {
        let (h24, h7) = hits.iter().find(|h| h.0 == r.id).map(|h| (h.1, h.2)).unwrap_or_default();
        let mut line = RuleLine {
            scope: r.scope_label(),
            describe: r.describe(),
            window: None,
            amount_nanos: 0,
            spent_nanos: 0,
            reserved_nanos: 0,
            open_reservations: open.iter().find(|o| o.0 == r.id).map(|o| o.1).unwrap_or(0),
            hits_24h: h24,
            hits_7d: h7,
            rule: r,
        };
        if let Limit::Cap { period, amount_nanos, .. } = line.rule.limit {
            let (from, to) = period.window(now.date_naive());
            let (spent, reserved) = db.cap_use(line.rule.id, from, to).await?;
            line.window = Some(window_name(period));
            (line.amount_nanos, line.spent_nanos, line.reserved_nanos) = (amount_nanos, spent.0, reserved.0);
        }
        out.push(line);
    }
    Ok(out)
}

fn audit_entry(actor: &Actor, action: &'static str, rule: &Rule, before: Option<&Rule>) -> NewAudit {
    NewAudit {
        actor: actor.clone(),
        action,
        entity: "guardrail",
        entity_id: rule.name.clone(),
        summary: format!(
            "guardrail {} ({}, {}): {}",
            rule.name,
            rule.scope_label(),
            if rule.mode == Mode::Shadow { "shadow" } else { "enforce" },
            rule.describe()
        ),
        before: before.and_then(|b| serde_json::to_value(b).ok()),
        after: (action != "guardrail.delete").then(|| serde_json::to_value(rule).ok()).flatten(),
    }
}

/// Creates a rule, or changes the rule of that name (audited with before and after). The
/// rule is checked alone and beside the others.
pub async fn save_rule(
    db: &Db,
    org: OrgId,
    actor: &Actor,
    rule: Rule,
    now: DateTime<Utc>,
) -> Result<i64, AppError> {
    rule.validate().map_err(AppError::Invalid)?;
    let mut all: Vec<Rule> = db.guardrail_rules(org).await?;
    let before = all.iter().position(|r| r.name == rule.name.trim()).map(|i| all.remove(i));
    all.push(rule.clone());
    crate::domain::guardrail::contradictions(&all).map_err(AppError::Invalid)?;
    let action = if before.is_some() { "guardrail.update" } else { "guardrail.create" };
    let entry = audit_entry(actor, action, &rule, before.as_ref());
    Ok(db.save_guardrail_rule(org, &rule, &entry, now).await?)
}

async fn existing(db: &Db, org: OrgId, id: i64) -> Result<Rule, AppError> {
    db.guardrail_rules(org)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| AppError::NotFound(format!("guardrail rule {id}")))
}

/// Switches a rule between shadow and enforce (audited); its caps' money stays.
pub async fn set_mode(
    db: &Db,
    org: OrgId,
    actor: &Actor,
    id: i64,
    mode: Mode,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let before = existing(db, org, id).await?;
    if before.mode == mode {
        return Ok(());
    }
    let rule = Rule { mode, ..before.clone() };
    let entry = audit_entry(actor, "guardrail.update", &rule, Some(&before));
    db.save_guardrail_rule(org, &rule, &entry, now).await?;
    Ok(())
}

/// Deletes a rule (audited).
pub async fn delete_rule(db: &Db, org: OrgId, actor: &Actor, id: i64) -> Result<(), AppError> {
    let before = existing(db, org, id).await?;
    let entry = audit_entry(actor, "guardrail.delete", &before, Some(&before));
    if !db.delete_guardrail_rule(org, id, &entry).await? {
        return Err(AppError::NotFound(format!("guardrail rule {id}")));
    }
    Ok(())
}

/// The decision log's filter as typed on the page or in the export's query: `rule` (a rule
/// id), `key` (an API key prefix), `code`, `days` back (default 7, at most 90). Errors name
/// the field.
pub fn log_filter(
    rule: Option<&str>,
    key: Option<&str>,
    code: Option<&str>,
    days: Option<&str>,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<LogFilter, AppError> {
    fn blank(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|v| !v.is_empty())
    }
    let rule_id = blank(rule)
        .map(|r| r.parse::<i64>().map_err(|_| AppError::invalid(format!("rule: '{r}' is not a rule id"))))
        .transpose()?;
    let code = blank(code).map(|c| Code::parse("code", c).map_err(AppError::Invalid)).transpose()?;
    let days = match blank(days) {
        None => 7,
        Some(d) => d
            .parse::<i64>()
            .ok()
            .filter(|d| (1..=90).contains(d))
            .ok_or_else(|| AppError::invalid(format!("days: a whole number from 1 to 90 (got '{d}')")))?,
    };
    Ok(LogFilter {
        since_ms: now.timestamp_millis() - days * 86_400_000,
        rule_id,
        api_key: blank(key).map(str::to_string),
        code,
        limit,
    })
}

/// The decision log as CSV (RFC 4180, formula-safe), newest first.
pub fn log_csv(rows: &[Logged]) -> String {
    use crate::domain::text::csv_row;
    let mut out = csv_row(&[
        "at_utc",
        "call_id",
        "decision",
        "rule",
        "code",
        "enforced",
        "message",
        "api_key",
        "team",
        "feature",
        "provider",
        "model",
        "worst_case_usd",
    ]);
    for r in rows {
        let at = DateTime::from_timestamp_millis(r.at_ms)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            .unwrap_or_default();
        let worst = r.worst_case_nanos.map(|n| Nanos(n).decimal(9)).unwrap_or_default();
        let enforced = if r.enforced { "true" } else { "false" };
        out.push_str(&csv_row(&[
            &at,
            &r.call_id,
            &r.decision,
            &r.rule,
            r.code.as_str(),
            enforced,
            &r.message,
            &r.api_key,
            &r.team,
            &r.feature,
            &r.provider,
            &r.model,
            &worst,
        ]));
    }
    out
}

/// What `rules` would have done to the stored calls of `from`..=`to`, each rule as if in
/// force the whole time (the question is what the policy would have done, not when it was
/// written).
pub async fn replay(
    db: &Db,
    org: OrgId,
    rules: &[Rule],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<ReplayReport, AppError> {
    db.require_raw_from(org, from, "a replay", "since").await?;
    let calls = db.replay_calls(org, from, to).await?;
    let rules: Vec<Rule> =
        rules.iter().map(|r| Rule { effective_from: NaiveDate::MIN, ..r.clone() }).collect();
    let mut report = crate::domain::guardrail::replay(&rules, calls);
    (report.from, report.to) = (Some(from), Some(to));
    Ok(report)
}
