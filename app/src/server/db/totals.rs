//! Each organisation's lifetime totals: the guard that keeps every sum Costroom makes inside
//! an `i64` (see `domain::limits`). Every write that changes spend raises them in its own
//! transaction, by what it adds, and is refused as a whole when a total would pass
//! [`MAX_ORG_TOTAL`]. On PostgreSQL the update takes the row's lock, so concurrent writers
//! (on one server or several) are checked one after the other against committed totals.
use super::query::{query, query_as};
use super::tx::Tx;
use super::{Db, OrgId};
use crate::domain::limits::MAX_ORG_TOTAL;
use crate::domain::money::group_thousands;
use crate::domain::Nanos;

/// A write that would take an organisation past a lifetime bound; the text says which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverLimit(pub String);

impl std::fmt::Display for OverLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OverLimit {}

/// Carried through `sqlx::Result` as a driver error of its own type (the `Any` driver, whose
/// variant this is, is not used here), so every write path can refuse with it; `AppError`
/// turns it back into a 422 naming the bound.
impl From<OverLimit> for sqlx::Error {
    fn from(o: OverLimit) -> Self {
        sqlx::Error::AnyDriverError(Box::new(o))
    }
}

impl OverLimit {
    /// The refusal inside a database error, if that is what it is.
    pub fn of(e: &sqlx::Error) -> Option<&OverLimit> {
        match e {
            sqlx::Error::AnyDriverError(b) => b.downcast_ref::<OverLimit>(),
            _ => None,
        }
    }
}

/// What a write adds to the totals, in `i128`: a batch may sum past `i64` before it is refused.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TotalsDelta {
    /// Cost of token events.
    pub event_cost: i128,
    /// Input plus output tokens (every other class is part of one of them).
    pub tokens: i128,
    pub requests: i128,
    /// Σ |line| over ledger lines (a line's largest amount of billed, effective, list,
    /// contracted): credits cannot hide a large subset sum behind a small net total.
    pub ledger_abs: i128,
}

impl TotalsDelta {
    /// What new token events add.
    pub fn of_events(events: &[&crate::domain::UsageEvent]) -> TotalsDelta {
        let mut d = TotalsDelta::default();
        for e in events {
            d.event_cost += i128::from(e.cost.0);
            d.tokens += i128::from(e.tokens.input) + i128::from(e.tokens.output);
            d.requests += i128::from(e.request_count);
        }
        d
    }

    pub fn is_zero(&self) -> bool {
        *self == TotalsDelta::default()
    }

    /// The first bound this change breaks when the organisation is at `now`.
    fn broken(&self, now: (i64, i64, i64, i64)) -> OverLimit {
        let max = i128::from(MAX_ORG_TOTAL);
        let spend = i128::from(now.0) + self.event_cost + i128::from(now.3) + self.ledger_abs;
        let what = if spend > max || spend < 0 {
            format!("lifetime spend above the maximum of {}", Nanos(MAX_ORG_TOTAL).usd())
        } else if i128::from(now.1) + self.tokens > max {
            format!("lifetime tokens above the maximum of {}", group_thousands(MAX_ORG_TOTAL as u64))
        } else {
            format!("lifetime requests above the maximum of {}", group_thousands(MAX_ORG_TOTAL as u64))
        };
        OverLimit(format!("totals: this would take the organisation's {what}; nothing of it was stored"))
    }
}

const RAISE: &str = "update org_totals set event_cost_nanos = event_cost_nanos + $2, tokens = tokens + $3, \
    requests = requests + $4, ledger_abs_nanos = ledger_abs_nanos + $5 where org_id = $1 \
    and event_cost_nanos + $2 + ledger_abs_nanos + $5 <= $6 and event_cost_nanos + $2 + ledger_abs_nanos + $5 >= 0 \
    and tokens + $3 <= $6 and requests + $4 <= $6";
const READ: &str =
    "select event_cost_nanos, tokens, requests, ledger_abs_nanos from org_totals where org_id = $1";
const CREATE: &str = "insert into org_totals (org_id, event_cost_nanos, tokens, requests, ledger_abs_nanos) \
    values ($1, 0, 0, 0, 0) on conflict (org_id) do nothing";

impl Tx {
    /// Raises the organisation's totals by `d`, or fails with the [`OverLimit`] it would
    /// break (the caller's `?` then drops the transaction: nothing of the write is kept).
    pub async fn raise_totals(&mut self, org: OrgId, d: TotalsDelta) -> sqlx::Result<()> {
        if d.is_zero() {
            return Ok(());
        }
        let max = i128::from(MAX_ORG_TOTAL);
        let fits = |v: i128| (-max..=max).contains(&v);
        if ![d.event_cost, d.tokens, d.requests, d.ledger_abs].into_iter().all(fits) {
            // larger than any organisation may hold: no statement needed (nor could bind it)
            return Err(d.broken((0, 0, 0, 0)).into());
        }
        // Stored totals are ≤ MAX and each delta is within ±MAX, so the statement's own sums
        // stay below 3 × MAX, inside an i64 (checked in domain::limits' tests).
        let args = [d.event_cost, d.tokens, d.requests, d.ledger_abs].map(|v| v as i64);
        for _ in 0..2 {
            let n = query(RAISE)
                .bind(org.0)
                .bind(args[0])
                .bind(args[1])
                .bind(args[2])
                .bind(args[3])
                .bind(MAX_ORG_TOTAL)
                .execute(&mut *self)
                .await?
                .rows_affected();
            if n == 1 {
                return Ok(());
            }
            let now: Option<(i64, i64, i64, i64)> =
                query_as(READ).bind(org.0).fetch_optional(&mut *self).await?;
            match now {
                Some(now) => return Err(d.broken(now).into()),
                // an organisation created before its totals row: start it at zero, then retry
                None => {
                    query(CREATE).bind(org.0).execute(&mut *self).await.map(|_| ())?;
                }
            }
        }
        Err(sqlx::Error::RowNotFound)
    }
}

impl Db {
    /// The organisation's lifetime totals: (event cost, tokens, requests, Σ|ledger line|).
    pub async fn lifetime_totals(&self, org: OrgId) -> sqlx::Result<(i64, i64, i64, i64)> {
        let row: Option<(i64, i64, i64, i64)> = query_as(READ).bind(org.0).fetch_optional(self).await?;
        Ok(row.unwrap_or_default())
    }
}
