//! Money as integer nano-dollars. Token prices and FOCUS rows carry 8+ decimals, so
//! micro-dollars are too coarse; floats never hold money. Rounding happens once, at display.
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// 1 USD = 1_000_000_000 nanos. `i64` holds ±9.2 billion USD, far above any org's AI bill.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Nanos(pub i64);

pub const NANOS_PER_USD: i64 = 1_000_000_000;
const NANOS_PER_CENT: i64 = 10_000_000;

impl Nanos {
    pub const ZERO: Nanos = Nanos(0);

    /// Cost of `tokens` at a price given in nanos per token (exact; saturates instead of
    /// wrapping on absurd inputs).
    pub fn per_token(tokens: i64, nanos_per_token: i64) -> Nanos {
        Nanos(tokens.saturating_mul(nanos_per_token))
    }

    /// Rounded to whole cents, half away from zero (the usual invoice rule).
    pub fn round_to_cents(self) -> i64 {
        let q = self.0 / NANOS_PER_CENT;
        let r = self.0 % NANOS_PER_CENT;
        if r.abs() * 2 >= NANOS_PER_CENT {
            q + r.signum()
        } else {
            q
        }
    }

    /// `$1,234.56`, rounded to cents; negatives as `-$3.10`.
    pub fn usd(self) -> String {
        let cents = self.round_to_cents();
        let sign = if cents < 0 { "-" } else { "" };
        let cents = cents.unsigned_abs();
        format!("{sign}${}.{:02}", group_thousands(cents / 100), cents % 100)
    }

    /// Plain decimal USD with `dp` (0–9) decimals, rounded half away from zero: `1234.5600`.
    pub fn decimal(self, dp: u32) -> String {
        let dp = dp.min(9);
        let unit = 10i128.pow(9 - dp);
        let v = self.0 as i128;
        let (q, r) = (v / unit, v % unit);
        let q = if r.abs() * 2 >= unit { q + r.signum() } else { q };
        let sign = if q < 0 { "-" } else { "" };
        let q = q.unsigned_abs();
        let scale = 10u128.pow(dp);
        if dp == 0 {
            format!("{sign}{q}")
        } else {
            format!("{sign}{}.{:0width$}", q / scale, q % scale, width = dp as usize)
        }
    }

    /// Change from `before` to `self` in percent with one decimal, `None` when `before` is zero.
    pub fn pct_change_from(self, before: Nanos) -> Option<f64> {
        if before.0 == 0 {
            return None;
        }
        // i128 keeps the ratio exact before the single display rounding
        let permille = (self.0 as i128 - before.0 as i128) * 1000 / before.0.abs() as i128;
        Some(permille as f64 / 10.0)
    }
}

/// `1234567` -> `1,234,567`, for counts shown next to money.
pub fn group_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for Nanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.usd())
    }
}

impl Add for Nanos {
    type Output = Nanos;
    fn add(self, o: Nanos) -> Nanos {
        Nanos(self.0 + o.0)
    }
}

impl AddAssign for Nanos {
    fn add_assign(&mut self, o: Nanos) {
        self.0 += o.0;
    }
}

impl Sub for Nanos {
    type Output = Nanos;
    fn sub(self, o: Nanos) -> Nanos {
        Nanos(self.0 - o.0)
    }
}

impl std::iter::Sum for Nanos {
    fn sum<I: Iterator<Item = Nanos>>(iter: I) -> Nanos {
        iter.fold(Nanos::ZERO, |a, b| a + b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_rounds_half_away_from_zero_at_any_precision() {
        assert_eq!(Nanos(1_234_567_890).decimal(2), "1.23");
        assert_eq!(Nanos(1_235_000_000).decimal(2), "1.24");
        assert_eq!(Nanos(-1_235_000_000).decimal(2), "-1.24");
        assert_eq!(Nanos(1_234_567).decimal(6), "0.001235");
        assert_eq!(Nanos(5).decimal(9), "0.000000005");
        assert_eq!(Nanos(2_500_000_000).decimal(0), "3");
    }

    #[test]
    fn formats_usd_with_grouping_and_cents() {
        assert_eq!(Nanos(0).usd(), "$0.00");
        assert_eq!(Nanos(1_234_567_890_000).usd(), "$1,234.57");
        assert_eq!(Nanos(999_999_999_999_999).usd(), "$1,000,000.00");
        assert_eq!(Nanos(-3_100_000_000).usd(), "-$3.10");
        assert_eq!(Nanos(100_000_000_000).usd(), "$100.00");
    }

    #[test]
    fn rounds_half_away_from_zero_at_the_cent() {
        assert_eq!(Nanos(4_999_999).round_to_cents(), 0);
        assert_eq!(Nanos(5_000_000).round_to_cents(), 1);
        assert_eq!(Nanos(-5_000_000).round_to_cents(), -1);
        assert_eq!(Nanos(-4_999_999).round_to_cents(), 0);
        assert_eq!(Nanos(15_000_000).round_to_cents(), 2);
    }

    #[test]
    fn token_cost_is_exact_in_nanos() {
        // gpt-4o-mini input: $0.15 per 1M tokens = 150 nanos per token
        assert_eq!(Nanos::per_token(1_155, 150), Nanos(173_250));
        assert_eq!(Nanos::per_token(i64::MAX, 2), Nanos(i64::MAX));
    }

    #[test]
    fn sums_without_loss() {
        let parts = vec![Nanos(1); 1_000_000];
        assert_eq!(parts.into_iter().sum::<Nanos>(), Nanos(1_000_000));
    }

    #[test]
    fn percent_change() {
        assert_eq!(Nanos(150).pct_change_from(Nanos(100)), Some(50.0));
        assert_eq!(Nanos(50).pct_change_from(Nanos(100)), Some(-50.0));
        assert_eq!(Nanos(1).pct_change_from(Nanos(3)), Some(-66.6));
        assert_eq!(Nanos(5).pct_change_from(Nanos(0)), None);
    }
}
