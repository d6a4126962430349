//! Transactions survive cancellation: a request dropped while its `BEGIN` is in flight (a
//! client that disconnects, a timeout) must not hand a pooled connection back inside a
//! transaction. On SQLite that connection would keep the file's write lock for ever and every
//! later write would answer "database is locked".
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use app::on_both;
use app::server::db::{Actor, Db, NewAudit};

fn audit() -> NewAudit {
    NewAudit {
        actor: Actor::cli(),
        action: "settings.update",
        entity: "setting",
        entity_id: "probe".into(),
        summary: "probe".into(),
        before: None,
        after: None,
    }
}

/// Polls `db.begin()` `polls` times, letting the driver work between polls, then drops it —
/// at some `polls` the drop lands after the database ran `BEGIN` but before the caller saw it.
async fn cancel_begin_after(db: &Db, polls: usize) {
    let mut fut = pin!(db.begin());
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..polls {
        if let Poll::Ready(tx) = fut.as_mut().poll(&mut cx) {
            drop(tx);
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub(crate) async fn a_begin_cancelled_at_any_point_leaves_every_connection_usable(db: Db) {
    let org = db.ensure_org("default", "Default").await.unwrap();
    for polls in 0..12 {
        cancel_begin_after(&db, polls).await;
        // Every pooled connection in turn: a poisoned one would fail its own BEGIN, a healthy
        // one would wait on the poisoned one's write lock.
        for i in 0..10 {
            let (value, audit) = (format!("{polls}-{i}"), audit());
            match tokio::time::timeout(Duration::from_secs(3), db.set_setting(org, "probe", &value, &audit))
                .await
            {
                Ok(r) => {
                    r.unwrap_or_else(|e| panic!("write {i} after a begin cancelled at poll {polls}: {e}"))
                }
                Err(_) => panic!("write {i} after a begin cancelled at poll {polls} waited 3 s for a lock"),
            }
        }
    }
    assert_eq!(db.setting(org, "probe").await.unwrap().as_deref(), Some("11-9"));
}
on_both!(a_begin_cancelled_at_any_point_leaves_every_connection_usable);

/// The background checkpoint copies what was committed into the database file while writers
/// go on, and loses nothing: every write is read back after it.
pub(crate) async fn a_checkpoint_copies_the_log_while_writes_go_on(db: Db) {
    let org = db.ensure_org("default", "Default").await.unwrap();
    db.spawn_checkpointer(Duration::from_millis(5));
    for i in 0..200 {
        db.set_setting(org, "probe", &i.to_string(), &audit()).await.unwrap();
    }
    // The background checkpoint may be running at this very moment; SQLite then answers busy
    // (-1, -1) to this one, so ask again until it ran.
    let mut answer = db.checkpoint().await.unwrap();
    for _ in 0..200 {
        if answer.0 >= 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        answer = db.checkpoint().await.unwrap();
    }
    let (log, copied) = answer;
    assert_eq!(log, copied, "nothing is reading an old snapshot, so all of the log is copied");
    if db.backend() == "sqlite" {
        assert!(log > 0, "200 commits wrote to the log");
    }
    assert_eq!(db.setting(org, "probe").await.unwrap().as_deref(), Some("199"));
}
on_both!(a_checkpoint_copies_the_log_while_writes_go_on);
