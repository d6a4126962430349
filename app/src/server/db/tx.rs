//! Write transactions on either backend, and the SQLite writer lane.
//!
//! SQLite has one writer at a time. Left to itself, every writer would hold a pooled
//! connection while it waits on the file lock, so a storm of ingest batches would take every
//! connection and the pages' reads (which WAL lets run beside a writer) would queue behind
//! them for a connection. So each process sends SQLite writes through one lane: a fair
//! semaphore taken *before* a connection is, then `BEGIN IMMEDIATE`, which takes the file's
//! write lock at once (a deferred transaction that reads first fails with "database is
//! locked" without waiting when another writer commits in between). Another process on the
//! same file (the CLI beside the server) waits on the lock through `busy_timeout`.
use std::sync::Arc;
use std::time::Duration;

use sqlx::{Postgres, Sqlite, Transaction};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Db;

/// How long a writer waits for its turn before the request is answered 503.
pub const WRITE_WAIT: Duration = Duration::from_secs(10);

/// A SQLite pool and the process's writer lane for its file.
#[derive(Clone, Debug)]
pub struct SqliteDb {
    /// For transactions (and the session store, which opens its own): a connection handed
    /// back is checked for a transaction left open by a cancelled `BEGIN` (see `sqlite_pool`).
    pub pool: sqlx::SqlitePool,
    /// For single statements (every read, and writes that need no transaction): no check on
    /// the way back, which would cost a round trip to the connection's thread per statement,
    /// the largest part of a short read's time (an authorize call's key, a batch's rules).
    pub reads: sqlx::SqlitePool,
    /// One connection with `synchronous = NORMAL`, for authorize holds (see [`Db::begin_hold`]).
    holds: sqlx::SqlitePool,
    writer: Arc<Semaphore>,
}

impl SqliteDb {
    pub fn new(pool: sqlx::SqlitePool, reads: sqlx::SqlitePool, holds: sqlx::SqlitePool) -> Self {
        SqliteDb { pool, reads, holds, writer: Arc::new(Semaphore::new(1)) }
    }

    pub async fn close(&self) {
        self.holds.close().await;
        self.reads.close().await;
        self.pool.close().await;
    }

    /// This process's turn to write, or `PoolTimedOut` (answered 503) after [`WRITE_WAIT`].
    pub async fn write_turn(&self) -> sqlx::Result<OwnedSemaphorePermit> {
        match tokio::time::timeout(WRITE_WAIT, self.writer.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(sqlx::Error::PoolClosed),
            Err(_) => Err(sqlx::Error::PoolTimedOut),
        }
    }
}

/// One write transaction. Dropping it without [`Tx::commit`] rolls it back.
pub enum Tx {
    /// The permit keeps this process's SQLite writer lane until the transaction ends.
    Sqlite(Transaction<'static, Sqlite>, OwnedSemaphorePermit),
    Postgres(Transaction<'static, Postgres>),
}

impl Db {
    /// Starts a write transaction (SQLite: in this process's writer lane, `BEGIN IMMEDIATE`).
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        match self {
            Db::Sqlite(s) => {
                let turn = s.write_turn().await?;
                Ok(Tx::Sqlite(s.pool.begin_with("BEGIN IMMEDIATE").await?, turn))
            }
            Db::Postgres(p) => Ok(Tx::Postgres(p.begin().await?)),
        }
    }

    /// Starts the write transaction of an authorize batch, whose commit does not wait for the
    /// disk to flush. The holds and decision-log rows it writes survive a crash of Costroom
    /// (the database has them once it answers) but not a power loss or OS crash of the
    /// database's machine within its flush interval: SQLite (WAL, `synchronous = NORMAL`)
    /// flushes at the next fully synced commit or checkpoint (the checkpoint task runs every
    /// 250 ms), PostgreSQL (`synchronous_commit = off` for this transaction) within three
    /// `wal_writer_delay`s (600 ms by default). A hold is a worst case kept for a few minutes
    /// at most; losing one means a cap forgets a call in flight, whose spend still counts
    /// when its event is ingested (ingest and every other write keep waiting for the disk).
    /// Waiting for the flush is most of an authorize call's time (SQLite: p99 5.8 ms against
    /// 0.1 ms on this machine), and the answer is on the path of every model call.
    pub async fn begin_hold(&self) -> sqlx::Result<Tx> {
        match self {
            Db::Sqlite(s) => {
                let turn = s.write_turn().await?;
                Ok(Tx::Sqlite(s.holds.begin_with("BEGIN IMMEDIATE").await?, turn))
            }
            Db::Postgres(p) => {
                let mut t = p.begin().await?;
                sqlx::query("set local synchronous_commit = off").execute(&mut *t).await?;
                Ok(Tx::Postgres(t))
            }
        }
    }

    /// Runs a single-statement write in the writer lane on SQLite (hot writes such as a key's
    /// last use, which would otherwise hold a connection while waiting on the file lock).
    pub async fn write_lane(&self) -> sqlx::Result<Option<OwnedSemaphorePermit>> {
        match self {
            Db::Sqlite(s) => s.write_turn().await.map(Some),
            Db::Postgres(_) => Ok(None),
        }
    }
}

impl Tx {
    pub async fn commit(self) -> sqlx::Result<()> {
        match self {
            Tx::Sqlite(t, _turn) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }
}
