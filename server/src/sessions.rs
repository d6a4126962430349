//! Sessions live in the application's own database: they survive restarts and are shared by
//! several servers on PostgreSQL. On SQLite a session write (sign-in, rotation, the idle
//! expiry's refresh, sign-out) takes its turn in the process's writer lane like every other
//! write, so a burst of ingest never makes it wait on the file lock and fail "database is
//! locked"; reads go straight to the pool.
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions_sqlx_store::SqliteStore;

use app::server::db::Db;

#[derive(Debug, Clone)]
pub struct LaneStore {
    inner: SqliteStore,
    db: Db,
}

impl LaneStore {
    pub fn new(db: Db, inner: SqliteStore) -> LaneStore {
        LaneStore { inner, db }
    }

    async fn turn(&self) -> session_store::Result<Option<tokio::sync::OwnedSemaphorePermit>> {
        self.db.write_lane().await.map_err(|e| session_store::Error::Backend(e.to_string()))
    }
}

#[async_trait::async_trait]
impl SessionStore for LaneStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let _turn = self.turn().await?;
        self.inner.create(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let _turn = self.turn().await?;
        self.inner.save(record).await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.inner.load(id).await
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let _turn = self.turn().await?;
        self.inner.delete(id).await
    }
}
