//! Sign-in throttling: after a number of free failures, each further failure locks the key
//! (an account's e-mail, or a client address) for a doubling time, capped, so that guessing is
//! slow but the real owner is never locked out for more than the cap.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failures allowed before the first lock.
    pub free_failures: i64,
    pub base_lock_secs: i64,
    pub max_lock_secs: i64,
    /// A key whose last failure is older than this starts afresh.
    pub forget_after_secs: i64,
}

/// Per submitted e-mail (known or not, so the lock reveals nothing about accounts).
pub const PER_ACCOUNT: Policy =
    Policy { free_failures: 5, base_lock_secs: 60, max_lock_secs: 900, forget_after_secs: 3600 };
/// Per client address: more room, since offices share addresses.
pub const PER_CLIENT: Policy =
    Policy { free_failures: 20, base_lock_secs: 60, max_lock_secs: 900, forget_after_secs: 3600 };

/// What is stored per key (times in Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failures {
    pub count: i64,
    pub last_at: i64,
    pub locked_until: i64,
}

impl Policy {
    /// Seconds to wait before the next attempt, if the key is locked now.
    pub fn wait(&self, state: Option<&Failures>, now: i64) -> Option<i64> {
        state.map(|s| s.locked_until - now).filter(|w| *w > 0)
    }

    /// The state after one more failure at `now`.
    pub fn record_failure(&self, state: Option<Failures>, now: i64) -> Failures {
        let previous =
            state.filter(|s| now - s.last_at < self.forget_after_secs).map(|s| s.count).unwrap_or(0);
        let count = previous + 1;
        let over = count - self.free_failures;
        let locked_until = if over > 0 {
            // 2^(over-1) × base, capped; the exponent is bounded before shifting
            let lock = self.base_lock_secs.saturating_mul(1i64 << (over - 1).min(20));
            now + lock.min(self.max_lock_secs)
        } else {
            0
        };
        Failures { count, last_at: now, locked_until }
    }

    /// The state after a charged attempt turned out to be a success: one failure fewer, and no
    /// lock once the count is back within the free failures (a lock that other failures earned
    /// stays).
    pub fn refund(&self, state: Failures) -> Failures {
        let count = (state.count - 1).max(0);
        let locked_until = if count > self.free_failures { state.locked_until } else { 0 };
        Failures { count, locked_until, ..state }
    }
}

/// "2 minutes", "1 minute": the wait as people read it (rounded up).
pub fn minutes_text(secs: i64) -> String {
    let m = (secs.max(1) + 59) / 60;
    if m == 1 {
        "1 minute".into()
    } else {
        format!("{m} minutes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_free_failures_doubling_up_to_the_cap() {
        let p = PER_ACCOUNT;
        let mut s = None;
        let mut locks = vec![];
        for i in 0..12 {
            let now = 1_000 + i;
            let next = p.record_failure(s, now);
            locks.push(p.wait(Some(&next), now).unwrap_or(0));
            s = Some(next);
        }
        assert_eq!(locks, vec![0, 0, 0, 0, 0, 60, 120, 240, 480, 900, 900, 900]);
    }

    #[test]
    fn a_refund_gives_back_one_charge_and_only_its_own_lock() {
        let p = PER_ACCOUNT;
        let charged = Failures { count: 6, last_at: 1_000, locked_until: 1_060 };
        assert_eq!(p.refund(charged), Failures { count: 5, last_at: 1_000, locked_until: 0 });
        let earned = Failures { count: 8, last_at: 1_000, locked_until: 1_240 };
        assert_eq!(p.refund(earned), Failures { count: 7, last_at: 1_000, locked_until: 1_240 });
        let empty = Failures { count: 0, last_at: 0, locked_until: 0 };
        assert_eq!(p.refund(empty).count, 0);
    }

    #[test]
    fn the_lock_expires_and_old_failures_are_forgotten() {
        let p = PER_ACCOUNT;
        let s = Failures { count: 6, last_at: 1_000, locked_until: 1_060 };
        assert_eq!(p.wait(Some(&s), 1_059), Some(1));
        assert_eq!(p.wait(Some(&s), 1_060), None, "the owner can try again when it ends");
        let fresh = p.record_failure(Some(s), 1_000 + 3_600);
        assert_eq!(fresh, Failures { count: 1, last_at: 4_600, locked_until: 0 });
        assert_eq!(p.wait(None, 0), None);
    }

    #[test]
    fn wait_reads_in_whole_minutes() {
        assert_eq!(minutes_text(1), "1 minute");
        assert_eq!(minutes_text(60), "1 minute");
        assert_eq!(minutes_text(61), "2 minutes");
        assert_eq!(minutes_text(900), "15 minutes");
    }
}
