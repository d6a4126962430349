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

impl Nanos {
    /// US dollars as people and files write them, to the nano-dollar: `1.5`, `-3`, `$1,234.50`,
    /// `1e-3`; digits past the ninth decimal are rounded half away from zero (one rounding,
    /// at the source). Ambiguous text is refused with a reason, never guessed: a comma is a
    /// thousands separator only in groups of three (`1,5` is not one and a half, nor fifteen),
    /// and there is one sign, one `$`, one point. Callers bound the value (e.g. `limits::amount`).
    /// The one money parser of forms, importers and the CLI.
    pub fn parse_usd(text: &str) -> Result<Nanos, String> {
        let shown: String = text.trim().chars().take(40).collect();
        let bad = |why: &str| Err(format!("'{shown}' is not an amount of US dollars ({why})"));
        let t = text.trim();
        if t.is_empty() {
            return bad("empty");
        }
        if t.len() > 64 {
            return Err(format!("'{shown}…' is not an amount of US dollars (too long)"));
        }
        let (neg, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let t = t.strip_prefix('$').unwrap_or(t).trim_start();
        if !t.bytes().all(|b| b.is_ascii_digit() || b".,eE+-".contains(&b)) {
            return bad("digits, one point, and an optional $ and sign only");
        }
        let (mantissa, exp) = match t.split_once(['e', 'E']) {
            Some((m, e)) => match e.parse::<i32>() {
                Ok(e) if (-30..=30).contains(&e) => (m, e),
                _ => return bad("its exponent"),
            },
            None => (t, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let int: String = if int.contains(',') {
            let groups: Vec<&str> = int.split(',').collect();
            let grouped = !groups[0].is_empty()
                && groups[0].len() <= 3
                && groups[1..].iter().all(|g| g.len() == 3)
                && exp == 0;
            if !grouped {
                return bad("a comma only separates thousands, as in 1,500; decimals take a point");
            }
            groups.concat()
        } else {
            int.to_string()
        };
        if int.is_empty() && frac.is_empty() {
            return bad("no digits");
        }
        if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return bad("digits, one point, and an optional $ and sign only");
        }
        // value = digits × 10^(exp − |frac|) dollars = digits × 10^(exp − |frac| + 9) nanos
        let digits = format!("{int}{frac}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 38 {
            return Err(format!("'{shown}' is larger than any amount Costroom holds"));
        }
        let v: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| format!("'{shown}' is not a number"))?
        };
        let shift = i64::from(exp) - frac.len() as i64 + 9;
        let nanos = if shift >= 0 {
            10i128.checked_pow(shift as u32).and_then(|m| v.checked_mul(m))
        } else {
            10i128.checked_pow((-shift) as u32).map(|d| (v + d / 2) / d).or(Some(0))
        };
        let nanos = nanos.and_then(|n| i64::try_from(n).ok()).ok_or_else(|| {
            format!("'{shown}' is larger than the largest amount, {}", Nanos(i64::MAX).usd())
        })?;
        Ok(Nanos(if neg { -nanos } else { nanos }))
    }
}

/// A group's share of the total cost in percent, one decimal (display only).
pub fn share_pct(part: i64, total: i64) -> String {
    if total == 0 {
        return String::new();
    }
    let permille = (part as i128 * 1000 * 2 + total as i128) / (total as i128 * 2);
    format!("{}.{}", permille / 10, (permille % 10).abs())
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
    fn one_parser_reads_dollars_as_people_and_files_write_them() {
        const USD: i64 = 1_000_000_000;
        let ok = |t: &str| Nanos::parse_usd(t).unwrap_or_else(|e| panic!("{t}: {e}"));
        let table: &[(&str, i64)] = &[
            ("1.5", 1_500_000_000),
            ("$1.50", 1_500_000_000),
            ("$1,234.50", 1_234_500_000_000),
            ("1,234,567", 1_234_567 * USD),
            ("1e3", 1_000 * USD),
            ("1.5E-3", 1_500_000),
            ("-0", 0),
            ("-$3.10", -3_100_000_000),
            ("  12  ", 12 * USD),
            (".5", 500_000_000),
            ("7.", 7 * USD),
            ("0.000000001", 1),
            // past the nano: rounded once, half away from zero
            ("0.0000000015", 2),
            ("0.0000000001", 0),
            ("-0.0000000005", -1),
            ("999999999", 999_999_999 * USD),
            ("9223372036.854775807", i64::MAX),
        ];
        for (text, nanos) in table {
            assert_eq!(ok(text), Nanos(*nanos), "{text}");
        }
        let refused: &[(&str, &str)] = &[
            ("1,5", "a comma only separates thousands"),
            ("1,50", "a comma only separates thousands"),
            (",500", "a comma only separates thousands"),
            ("1.2.3", "digits, one point"),
            ("12,5 USD", "digits, one point"),
            ("ten", "digits, one point"),
            ("$", "no digits"),
            ("", "empty"),
            ("--1", "digits, one point"),
            ("1e99", "its exponent"),
            ("9223372037", "larger than the largest amount"),
            // a trillion dollars is more than a 64-bit count of nano-dollars holds
            ("999999999999", "larger than the largest amount"),
            ("99999999999999999999999999999999999999999", "larger than any amount"),
            ("NaN", "digits, one point"),
            ("inf", "digits, one point"),
        ];
        for (text, why) in refused {
            let e = Nanos::parse_usd(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn percent_change() {
        assert_eq!(Nanos(150).pct_change_from(Nanos(100)), Some(50.0));
        assert_eq!(Nanos(50).pct_change_from(Nanos(100)), Some(-50.0));
        assert_eq!(Nanos(1).pct_change_from(Nanos(3)), Some(-66.6));
        assert_eq!(Nanos(5).pct_change_from(Nanos(0)), None);
    }
}
