//! Sign-in failure counters (see `domain::throttle`).
//!
//! An attempt is charged as a failure *before* its password is checked, in one transaction
//! that locks the counters' rows (SQLite: `BEGIN IMMEDIATE`, one writer for the file;
//! PostgreSQL: `select … for update`, which also holds across servers). Parallel guesses
//! therefore see each other's charges, and no more passwords are checked than the policy
//! allows however many arrive at once. A success refunds its charge afterwards.
//!
//! A burst of guesses at one account would otherwise hold a pooled connection each while
//! waiting for that row's lock, and starve everything else of connections (a CI run saw the
//! one right password's session save time out: a bare 500). So each process lets at most
//! [`SIGN_IN_TURNS`] reservations hold a connection at once; the rest wait for a turn without
//! one, and past [`super::tx::WRITE_WAIT`] are answered 503.
use super::query::{query, query_as};
use super::tx::Tx;
use super::Db;
use crate::domain::throttle::{Failures, Policy};

async fn locked_row(tx: &mut Tx, key: &str) -> sqlx::Result<Option<Failures>> {
    let sql = match tx {
        Tx::Sqlite(..) => {
            "select failures, last_failure_at, locked_until from sign_in_failures where key = $1"
        }
        Tx::Postgres(_) => {
            "select failures, last_failure_at, locked_until from sign_in_failures where key = $1 for update"
        }
    };
    let row: Option<(i64, i64, i64)> = query_as(sql).bind(key).fetch_optional(&mut *tx).await?;
    Ok(row.map(|(count, last_at, locked_until)| Failures { count, last_at, locked_until }))
}

async fn put_row(tx: &mut Tx, key: &str, f: Failures) -> sqlx::Result<()> {
    const SQL: &str = "insert into sign_in_failures (key, failures, last_failure_at, locked_until) \
        values ($1, $2, $3, $4) on conflict (key) do update set failures = excluded.failures, \
        last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until";
    query(SQL)
        .bind(key)
        .bind(f.count)
        .bind(f.last_at)
        .bind(f.locked_until)
        .execute(&mut *tx)
        .await
        .map(|_| ())
}

async fn seed_rows(tx: &mut Tx, keys: &[(&str, Policy)]) -> sqlx::Result<()> {
    // rows must exist before `for update` can lock them; a fresh row counts nothing
    const SQL: &str = "insert into sign_in_failures (key, failures, last_failure_at, locked_until) \
        values ($1, 0, 0, 0) on conflict (key) do nothing";
    for (key, _) in keys {
        query(SQL).bind(*key).execute(&mut *tx).await.map(|_| ())?;
    }
    Ok(())
}

/// Reservations of one process that may hold a connection at once.
pub const SIGN_IN_TURNS: usize = 2;
static TURNS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(SIGN_IN_TURNS);

async fn sign_in_turn() -> sqlx::Result<tokio::sync::SemaphorePermit<'static>> {
    match tokio::time::timeout(super::tx::WRITE_WAIT, TURNS.acquire()).await {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(_)) => Err(sqlx::Error::PoolClosed),
        Err(_) => Err(sqlx::Error::PoolTimedOut),
    }
}

impl Db {
    pub async fn sign_in_failures(&self, key: &str) -> sqlx::Result<Option<Failures>> {
        const SQL: &str =
            "select failures, last_failure_at, locked_until from sign_in_failures where key = $1";
        let row: Option<(i64, i64, i64)> = query_as(SQL).bind(key).fetch_optional(self).await?;
        // a cleared counter is kept as zeros (see `clear_sign_in_failures`): nothing recorded
        Ok(row.filter(|r| *r != (0, 0, 0)).map(|(count, last_at, locked_until)| Failures {
            count,
            last_at,
            locked_until,
        }))
    }

    /// Charges one attempt against every key, atomically. `Err(wait)` when a key is locked at
    /// `now` (nothing is charged then); `Ok(())` when the password may be checked.
    pub async fn reserve_sign_in(&self, keys: &[(&str, Policy)], now: i64) -> sqlx::Result<Result<(), i64>> {
        let _turn = sign_in_turn().await?;
        let mut tx = self.begin().await?;
        seed_rows(&mut tx, keys).await?;
        let mut states = Vec::with_capacity(keys.len());
        let mut wait = None;
        for (key, policy) in keys {
            let state = locked_row(&mut tx, key).await?;
            wait = wait.max(policy.wait(state.as_ref(), now));
            states.push(state);
        }
        if let Some(wait) = wait {
            tx.commit().await?;
            return Ok(Err(wait));
        }
        for ((key, policy), state) in keys.iter().zip(states) {
            put_row(&mut tx, key, policy.record_failure(state, now)).await?;
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Sets a key's counter (operators and tests age a lock with it).
    pub async fn put_sign_in_failures(&self, key: &str, f: Failures) -> sqlx::Result<()> {
        let mut tx = self.begin().await?;
        put_row(&mut tx, key, f).await?;
        tx.commit().await
    }

    /// Gives back one charged attempt on `key` (a success from that client).
    pub async fn refund_sign_in(&self, key: &str, policy: Policy) -> sqlx::Result<()> {
        let _turn = sign_in_turn().await?;
        let mut tx = self.begin().await?;
        if let Some(state) = locked_row(&mut tx, key).await? {
            put_row(&mut tx, key, policy.refund(state)).await?;
        }
        tx.commit().await
    }

    /// Starts the key's counter again (a success). The row is zeroed, never deleted: a
    /// reservation waiting on its lock must find it there. Deleting it let a waiting
    /// reservation read "no failures" and insert a fresh row over another's concurrent charge,
    /// and two servers checked 14 passwords where one-by-one allows 12 (fleet test).
    pub async fn clear_sign_in_failures(&self, key: &str) -> sqlx::Result<()> {
        const SQL: &str = "update sign_in_failures set failures = 0, last_failure_at = 0, locked_until = 0 \
            where key = $1";
        let _turn = sign_in_turn().await?;
        let mut tx = self.begin().await?;
        query(SQL).bind(key).execute(&mut tx).await?;
        tx.commit().await
    }
}
