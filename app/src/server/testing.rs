//! Fresh databases for tests: a new SQLite file, or a new PostgreSQL database created on the
//! server that `COSTROOM_TEST_PG_URL` names (any database there with CREATEDB rights, e.g.
//! `postgres://postgres@127.0.0.1:5432/test`). Each test gets its own, so tests run in
//! parallel and never see each other's rows.
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, Executor, PgConnection};

use super::db::Db;

pub mod fake_upstream;
pub mod guardrail_property;

/// Open-redirect shapes a `next=` parameter arrives in (schemes, protocol-relative and
/// backslash forms, control and invisible characters that browsers strip): the sign-in's
/// `safe_next` unit test and the HTTP test through the real form both walk this list.
pub const HOSTILE_NEXT: &[&str] = &[
    "//evil.example/",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " /evil",
    "/ /evil.example",
    "/\u{0}/evil.example",
    "/\u{7f}/evil.example",
    "/\u{a0}/evil.example",
    "/évil",
    "evil.example",
    "",
    "///evil.example",
    "/\u{2028}/evil.example",
];

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{}_{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A database for one test. Call [`TestDb::finish`] at the end to remove it; a failed test
/// leaves it behind for inspection (like `sqlx::test`).
pub struct TestDb {
    pub db: Db,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Database { admin_url: String, name: String },
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join("costroom-tests");
        std::fs::create_dir_all(&dir).expect("create temp dir");
        let path = dir.join(format!("{}.db", unique_name("t")));
        let db = Db::connect(path.to_str().expect("utf-8 path")).await.expect("open sqlite");
        TestDb { db, cleanup: Cleanup::File(path) }
    }

    /// The URL another process can open this database with.
    pub fn url(&self) -> String {
        match &self.cleanup {
            Cleanup::File(path) => format!("sqlite:{}", path.display()),
            Cleanup::Database { admin_url, name } => database_url(admin_url, name),
        }
    }

    /// `None` when no PostgreSQL URL is configured; panics when `COSTROOM_REQUIRE_PG` is set
    /// then, so that CI can never skip the PostgreSQL half silently.
    pub async fn postgres() -> Option<TestDb> {
        let Some(admin_url) = std::env::var("COSTROOM_TEST_PG_URL").ok().filter(|u| !u.is_empty()) else {
            assert!(
                std::env::var_os("COSTROOM_REQUIRE_PG").is_none(),
                "COSTROOM_REQUIRE_PG is set but COSTROOM_TEST_PG_URL is not"
            );
            eprintln!("skipped: set COSTROOM_TEST_PG_URL to run the PostgreSQL half");
            return None;
        };
        let name = unique_name("costroom_test");
        let mut admin = PgConnection::connect(&admin_url).await.expect("connect to COSTROOM_TEST_PG_URL");
        admin.execute(format!("create database {name}").as_str()).await.expect("create test database");
        admin.close().await.ok();
        let url = database_url(&admin_url, &name);
        let db = Db::connect(&url).await.expect("open test database");
        Some(TestDb { db, cleanup: Cleanup::Database { admin_url, name } })
    }

    pub async fn finish(self) {
        self.db.close().await;
        match self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Cleanup::Database { admin_url, name } => {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    let _ = admin.execute(format!("drop database if exists {name}").as_str()).await;
                }
            }
        }
    }
}

/// The same server and credentials as `admin_url`, another database.
pub fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Defines a module named after an `async fn(Db)` with two tests, `sqlite` and `postgres`,
/// each running that function on a fresh database of its own (the PostgreSQL half returns
/// early, saying so, when no server is configured).
#[macro_export]
macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let t = $crate::server::testing::TestDb::sqlite().await;
                super::$name(t.db.clone()).await;
                t.finish().await;
            }
            #[tokio::test]
            async fn postgres() {
                let Some(t) = $crate::server::testing::TestDb::postgres().await else { return };
                super::$name(t.db.clone()).await;
                t.finish().await;
            }
        }
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn swaps_the_database_name() {
        use super::database_url;
        assert_eq!(database_url("postgres://p@h:5432/test", "x"), "postgres://p@h:5432/x");
        assert_eq!(database_url("postgres://p@h", "x"), "postgres://p@h/x");
        assert_eq!(database_url("postgres://p@h/t?sslmode=disable", "x"), "postgres://p@h/x?sslmode=disable");
    }
}
