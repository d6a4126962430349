//! Pricing one usage event from a price-book entry, exactly.
//!
//! Rates are integer femto-USD (1e-15) per token, so every price in LiteLLM's map (e.g.
//! 7.5e-08, 1.65e-05) is held without rounding; an event's cost is the exact sum over token
//! classes, rounded once (half up) to the nano-dollar it is stored in.
//!
//! Token counts follow the OpenTelemetry GenAI convention: `input` includes cached tokens
//! (cache reads and cache writes) and `output` includes reasoning tokens. Each token is billed
//! once, in its own class: uncached input = input − cache read − cache writes; plain output =
//! output − reasoning. (Billing `input` at the input rate *and* the cache reads at the cache
//! rate is the double count other tools make.)
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Nanos;

pub const FEMTO_PER_NANO: i128 = 1_000_000;
/// Decimal places of a femto-USD rate.
const RATE_SCALE: u32 = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TokenClass {
    Input,
    CacheRead,
    CacheWrite5m,
    CacheWrite1h,
    Output,
    Reasoning,
}

impl TokenClass {
    pub const ALL: [TokenClass; 6] = [
        TokenClass::Input,
        TokenClass::CacheRead,
        TokenClass::CacheWrite5m,
        TokenClass::CacheWrite1h,
        TokenClass::Output,
        TokenClass::Reasoning,
    ];

    /// The LiteLLM field that prices this class at standard tier and context.
    pub fn litellm_field(self) -> &'static str {
        match self {
            TokenClass::Input => "input_cost_per_token",
            TokenClass::CacheRead => "cache_read_input_token_cost",
            TokenClass::CacheWrite5m => "cache_creation_input_token_cost",
            TokenClass::CacheWrite1h => "cache_creation_input_token_cost_above_1hr",
            TokenClass::Output => "output_cost_per_token",
            TokenClass::Reasoning => "output_cost_per_reasoning_token",
        }
    }

    /// Where the price comes from when a model lists none for this class: cache reads and
    /// writes the provider does not discount cost the input rate, a one-hour write without its
    /// own rate the five-minute one, reasoning the output rate (as OpenAI bills it).
    fn fallback(self) -> Option<TokenClass> {
        match self {
            TokenClass::CacheRead | TokenClass::CacheWrite5m => Some(TokenClass::Input),
            TokenClass::CacheWrite1h => Some(TokenClass::CacheWrite5m),
            TokenClass::Reasoning => Some(TokenClass::Output),
            TokenClass::Input | TokenClass::Output => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenClass::Input => "input",
            TokenClass::CacheRead => "cache_read",
            TokenClass::CacheWrite5m => "cache_write_5m",
            TokenClass::CacheWrite1h => "cache_write_1h",
            TokenClass::Output => "output",
            TokenClass::Reasoning => "reasoning",
        }
    }
}

/// OpenAI's and Google's processing tiers (Anthropic's batch API is `batch`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ServiceTier {
    #[default]
    Standard,
    Batch,
    Flex,
    Priority,
}

impl ServiceTier {
    pub const ALL: [ServiceTier; 4] =
        [ServiceTier::Standard, ServiceTier::Batch, ServiceTier::Flex, ServiceTier::Priority];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceTier::Standard => "standard",
            ServiceTier::Batch => "batch",
            ServiceTier::Flex => "flex",
            ServiceTier::Priority => "priority",
        }
    }

    /// The suffix of LiteLLM's field names for this tier.
    fn litellm_suffix(self) -> Option<&'static str> {
        match self {
            ServiceTier::Standard => None,
            ServiceTier::Batch => Some("_batches"),
            ServiceTier::Flex => Some("_flex"),
            ServiceTier::Priority => Some("_priority"),
        }
    }

    /// Accepts the names providers report (`default` and `auto` are OpenAI's standard tier,
    /// `scale` its reserved one, billed at standard rates).
    pub fn parse(field: &str, s: &str) -> Result<ServiceTier, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "standard" | "default" | "auto" | "scale" | "on_demand" => Ok(ServiceTier::Standard),
            "batch" | "batches" => Ok(ServiceTier::Batch),
            "flex" => Ok(ServiceTier::Flex),
            "priority" => Ok(ServiceTier::Priority),
            other => Err(format!("{field}: '{other}' is not one of standard, batch, flex, priority")),
        }
    }
}

/// Token counts of one event (OTel convention: `input` includes cache reads and writes,
/// `output` includes reasoning).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub input: i64,
    pub cache_read: i64,
    pub cache_write_5m: i64,
    pub cache_write_1h: i64,
    pub output: i64,
    pub reasoning: i64,
}

impl Tokens {
    /// Rejects counts no provider can report; the error names the field.
    pub fn check(&self) -> Result<(), String> {
        for (field, v) in [
            ("input_tokens", self.input),
            ("cache_read_tokens", self.cache_read),
            ("cache_write_5m_tokens", self.cache_write_5m),
            ("cache_write_1h_tokens", self.cache_write_1h),
            ("output_tokens", self.output),
            ("reasoning_tokens", self.reasoning),
        ] {
            if v < 0 {
                return Err(format!("{field}: must not be negative (got {v})"));
            }
        }
        let cached = self.cache_read.saturating_add(self.cache_write_5m).saturating_add(self.cache_write_1h);
        if cached > self.input {
            return Err(format!(
                "cache_read_tokens: cache reads and writes ({cached}) exceed input_tokens ({}), which include them",
                self.input
            ));
        }
        if self.reasoning > self.output {
            return Err(format!(
                "reasoning_tokens: {} exceed output_tokens ({}), which include them",
                self.reasoning, self.output
            ));
        }
        Ok(())
    }

    /// Tokens billed in `class` (each token in exactly one class).
    pub fn billable(&self, class: TokenClass) -> i64 {
        match class {
            TokenClass::Input => self.input - self.cache_read - self.cache_write_5m - self.cache_write_1h,
            TokenClass::CacheRead => self.cache_read,
            TokenClass::CacheWrite5m => self.cache_write_5m,
            TokenClass::CacheWrite1h => self.cache_write_1h,
            TokenClass::Output => self.output - self.reasoning,
            TokenClass::Reasoning => self.reasoning,
        }
    }
}

/// One model's rates: LiteLLM field name → femto-USD per token. Keeping LiteLLM's names means
/// its tier and long-context variants (`_batches`, `_above_200k_tokens_priority`, …) need no
/// translation, and an imported negotiated price list uses the same format.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelPrice {
    pub rates: BTreeMap<String, i64>,
}

/// Why an event could not be priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unpriced {
    /// The model lists no rate for a class the event has tokens in.
    NoRate(TokenClass),
    /// The tokens at these rates cost more than one event may
    /// ([`super::limits::MAX_EVENT_COST`]); ingest refuses such an event, a re-price flags it.
    AboveMaximum(Nanos),
}

impl ModelPrice {
    /// The token-rate fields of a LiteLLM map entry (other fields, such as per-image or
    /// per-second prices, are not token prices and are left out: see [`unbilled_keys`]). A
    /// rate is a JSON number or a decimal string (`"0.0000025"`, `"2.5e-6"`), the exact way to
    /// write one: a string is taken to the femto-dollar exactly or refused. Errors name the
    /// field.
    pub fn from_litellm(entry: &serde_json::Map<String, serde_json::Value>) -> Result<ModelPrice, String> {
        let mut rates = BTreeMap::new();
        for (field, v) in entry {
            if !is_token_rate_field(field) {
                continue;
            }
            let rate = match v {
                serde_json::Value::Number(n) => rate_from_f64(field, n.as_f64().unwrap_or(f64::NAN))?,
                serde_json::Value::String(s) => rate_from_decimal(field, s)?,
                v => return Err(format!("{field}: expected a number or a decimal string, got {v}")),
            };
            rates.insert(field.clone(), rate);
        }
        Ok(ModelPrice { rates })
    }

    /// The rate for `class` at `tier` for a request with `input_total` input tokens, and the
    /// field it came from. Order: tier and long context together, the tier alone, long
    /// context alone, the standard rate, then the class's fallback. A missing combination
    /// keeps the tier the client chose (a contractual discount) over the context surcharge.
    pub fn rate(&self, class: TokenClass, tier: ServiceTier, input_total: i64) -> Option<(i64, String)> {
        let base = class.litellm_field();
        let long = self.long_context_threshold(base, input_total);
        let mut names = vec![];
        if let (Some(k), Some(t)) = (long, tier.litellm_suffix()) {
            names.push(format!("{base}_above_{k}k_tokens{t}"));
        }
        if let Some(t) = tier.litellm_suffix() {
            names.push(format!("{base}{t}"));
        }
        if let Some(k) = long {
            names.push(format!("{base}_above_{k}k_tokens"));
        }
        names.push(base.to_string());
        for n in names {
            if let Some(r) = self.rates.get(&n) {
                return Some((*r, n));
            }
        }
        class.fallback().and_then(|f| self.rate(f, tier, input_total))
    }

    /// The largest `N` such that a `{base}_above_{N}k_tokens…` rate exists and the request's
    /// input exceeds N thousand tokens (the whole request is then billed at that rate, as
    /// Google and OpenAI do).
    fn long_context_threshold(&self, base: &str, input_total: i64) -> Option<u32> {
        let prefix = format!("{base}_above_");
        self.rates
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter_map(|rest| rest.split_once("k_tokens").and_then(|(n, _)| n.parse::<u32>().ok()))
            .filter(|n| input_total > i64::from(*n) * 1000)
            .max()
    }

    /// The exact cost of `tokens` at `tier`, in femto-USD, or the class that has no rate.
    pub fn cost_femto(&self, tokens: &Tokens, tier: ServiceTier) -> Result<i128, Unpriced> {
        let mut total: i128 = 0;
        for class in TokenClass::ALL {
            let n = tokens.billable(class);
            if n == 0 {
                continue;
            }
            let (rate, _) = self.rate(class, tier, tokens.input).ok_or(Unpriced::NoRate(class))?;
            total += i128::from(n) * i128::from(rate);
        }
        Ok(total)
    }

    /// [`ModelPrice::cost_femto`] rounded half up to the stored nano-dollar, at most
    /// [`super::limits::MAX_EVENT_COST`].
    pub fn cost(&self, tokens: &Tokens, tier: ServiceTier) -> Result<Nanos, Unpriced> {
        let cost = femto_to_nanos(self.cost_femto(tokens, tier)?);
        if cost > super::limits::MAX_EVENT_COST {
            return Err(Unpriced::AboveMaximum(cost));
        }
        Ok(cost)
    }
}

/// Half up (costs are not negative; a negative input rounds half away from zero).
pub fn femto_to_nanos(femto: i128) -> Nanos {
    let half = FEMTO_PER_NANO / 2;
    let n = if femto >= 0 { (femto + half) / FEMTO_PER_NANO } else { (femto - half) / FEMTO_PER_NANO };
    Nanos(i64::try_from(n).unwrap_or(if n > 0 { i64::MAX } else { i64::MIN }))
}

fn is_token_rate_field(field: &str) -> bool {
    let bases = TokenClass::ALL.map(TokenClass::litellm_field);
    bases.iter().any(|b| {
        let Some(rest) = field.strip_prefix(b) else { return false };
        // the one-hour write is its own base; don't read it as a variant of the 5-minute one
        if *b == "cache_creation_input_token_cost" && rest.starts_with("_above_1hr") {
            return false;
        }
        let rest =
            ["_batches", "_flex", "_priority"].iter().find_map(|t| rest.strip_suffix(t)).unwrap_or(rest);
        rest.is_empty()
            || rest
                .strip_prefix("_above_")
                .and_then(|r| r.strip_suffix("k_tokens"))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
    })
}

/// A USD-per-token number as femto-USD. Goes through the shortest decimal text that reads
/// back as the same `f64` (what the JSON file says, e.g. `1.65e-5`), so `1.65e-05` is
/// 16_500_000_000 exactly rather than `1.65e-05 * 1e15` = 16_500_000_000.000002. A rate with
/// more decimals (list prices converted from other currencies, e.g. 2.857142857142857e-07)
/// is rounded half up to the femto-dollar: over a billion tokens that is under a micro-dollar.
pub fn rate_from_f64(field: &str, usd_per_token: f64) -> Result<i64, String> {
    if !usd_per_token.is_finite() || usd_per_token < 0.0 {
        return Err(format!("{field}: {usd_per_token} is not a price"));
    }
    scaled(&format!("{usd_per_token:e}"), RATE_SCALE, true)
        .filter(|r| *r <= super::limits::MAX_RATE_FEMTO)
        .ok_or_else(|| format!("{field}: {usd_per_token} is above the maximum of $1 per token"))
}

/// A USD-per-token rate written as a decimal string (`"0.0000025"`, `"2.5e-6"`) as femto-USD,
/// exactly: more than 15 decimals of a dollar, a negative rate or one above $1 per token is
/// refused naming `field` (a number in a file may be rounded to the femto-dollar; a string
/// says exactly what it means, so it is never rounded).
pub fn rate_from_decimal(field: &str, text: &str) -> Result<i64, String> {
    let t = text.trim();
    exact_rate(
        field,
        t,
        t,
        RATE_SCALE,
        "",
        "a decimal number of US dollars per token with at most 15 decimals",
    )
}

/// Keys of a LiteLLM price map entry that say something other than a price, ignored by the
/// importer (LiteLLM's model metadata, and a free comment). Every other key that is not a
/// token rate is named in the import's answer, so a price the book cannot bill yet (per
/// image, per second, per search) or a misspelt rate never disappears silently.
pub const NON_PRICE_KEYS: &[&str] = &[
    "litellm_provider",
    "mode",
    "max_tokens",
    "max_input_tokens",
    "max_output_tokens",
    "max_images_per_prompt",
    "max_videos_per_prompt",
    "max_video_length",
    "max_audio_length_hours",
    "max_audio_per_prompt",
    "max_pdf_size_mb",
    "output_vector_size",
    "tool_use_system_prompt_tokens",
    "deprecation_date",
    "source",
    "metadata",
    "rpm",
    "tpm",
    "comment",
    "_comment",
    "notes",
];

/// Whether a key of a price map entry is documented metadata (see [`NON_PRICE_KEYS`]; also
/// LiteLLM's `supports_*` and `supported_*` capability flags).
pub fn is_non_price_key(key: &str) -> bool {
    NON_PRICE_KEYS.contains(&key) || key.starts_with("supports_") || key.starts_with("supported_")
}

/// The keys of an entry that are neither token rates nor documented metadata.
pub fn unbilled_keys(entry: &serde_json::Map<String, serde_json::Value>) -> Vec<&str> {
    entry.keys().map(String::as_str).filter(|k| !is_token_rate_field(k) && !is_non_price_key(k)).collect()
}

/// A rate typed by a person in US dollars per million tokens (`$3`, `0.075`, `15.00`) as
/// femto-dollars per token, the unit the price book holds: exact to nine decimals of a dollar
/// per million (a femto-dollar per token), never rounded; a comma, a negative rate or a rate
/// above [`super::limits::MAX_RATE_FEMTO`] is refused naming `field`. The one rate parser of
/// forms (files carry USD per token, read by [`rate_from_f64`]).
pub fn parse_rate_per_million(field: &str, text: &str) -> Result<i64, String> {
    let t = text.trim();
    let digits = t.strip_prefix('$').unwrap_or(t).trim_start();
    exact_rate(
        field,
        t,
        digits,
        9,
        " ($1,000,000 per million)",
        "an amount of US dollars per million tokens (digits and one point, at most 9 decimals)",
    )
}

/// `digits` as an exact rate in femto-dollars per token at `scale` decimals, or the refusal
/// naming `field` and the text as typed (`shown`): negative, above $1 per token (`per` says
/// it in the typed unit) or not `what`.
fn exact_rate(
    field: &str,
    shown: &str,
    digits: &str,
    scale: u32,
    per: &str,
    what: &str,
) -> Result<i64, String> {
    let shown: String = shown.chars().take(40).collect();
    match parse_scaled(digits, scale) {
        Some(f) if f < 0 => Err(format!("{field}: '{shown}' is negative")),
        Some(f) if f > super::limits::MAX_RATE_FEMTO => {
            Err(format!("{field}: '{shown}' is above the maximum of $1 per token{per}"))
        }
        Some(f) => Ok(f),
        None => Err(format!("{field}: '{shown}' is not {what}")),
    }
}

/// `d.ddd e±x` or `ddd.ddd` → the integer `value × 10^scale`, if exact and in range.
pub fn parse_scaled(s: &str, scale: u32) -> Option<i64> {
    scaled_i128(s, scale, false).and_then(|v| i64::try_from(v).ok())
}

/// As [`parse_scaled`], into an `i128`, for amounts whose scaled value may pass `i64` before
/// their own bound is checked (a provider cost of $9,224 is 9.2e18 femto-dollars).
pub fn parse_scaled_i128(s: &str, scale: u32) -> Option<i128> {
    scaled_i128(s, scale, false)
}

/// As [`parse_scaled`], rounding digits past the scale half away from zero (for amounts files
/// state with more decimals than they are stored with).
pub fn parse_scaled_rounded(s: &str, scale: u32) -> Option<i64> {
    scaled(s, scale, true)
}

fn scaled(s: &str, scale: u32, round: bool) -> Option<i64> {
    scaled_i128(s, scale, round).and_then(|v| i64::try_from(v).ok())
}

/// As [`parse_scaled`]; with `round`, digits past the scale are rounded half away from zero
/// instead of refused. Texts longer than 64 bytes are refused before any arithmetic (no
/// number Costroom accepts needs more).
fn scaled_i128(s: &str, scale: u32, round: bool) -> Option<i128> {
    let s = s.trim();
    if s.len() > 64 {
        return None;
    }
    let (mantissa, exp) = match s.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() || !(int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit())) {
        return None;
    }
    let digits: String = format!("{int}{frac}");
    // value = digits × 10^(exp − frac_len); scaled = digits × 10^(exp − frac_len + scale),
    // in i64 so that an exponent near i32::MAX cannot overflow the shift itself
    let shift = i64::from(exp) - frac.len() as i64 + i64::from(scale);
    let mut v: i128 = digits.parse().ok()?;
    if shift >= 0 {
        v = v.checked_mul(10i128.checked_pow(u32::try_from(shift).ok()?)?)?;
    } else {
        let d = 10i128.checked_pow(u32::try_from(-shift).ok()?)?;
        if v % d != 0 && !round {
            return None;
        }
        v = if round { v.checked_add(d / 2)? / d } else { v / d };
    }
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn price(v: serde_json::Value) -> ModelPrice {
        ModelPrice::from_litellm(v.as_object().unwrap()).unwrap()
    }

    /// gpt-4o as LiteLLM 1.110.2 lists it.
    fn gpt_4o() -> ModelPrice {
        price(json!({
            "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05,
            "cache_read_input_token_cost": 1.25e-06,
            "input_cost_per_token_batches": 1.25e-06, "output_cost_per_token_batches": 5e-06,
            "input_cost_per_token_priority": 4.25e-06, "output_cost_per_token_priority": 1.7e-05,
            "cache_read_input_token_cost_priority": 2.125e-06,
            "litellm_provider": "openai", "mode": "chat", "max_tokens": 16384
        }))
    }

    #[test]
    fn rates_per_million_typed_by_people() {
        for (text, femto) in [
            ("3", 3_000_000_000),
            ("$3", 3_000_000_000),
            (" 0.075 ", 75_000_000),
            ("15.00", 15_000_000_000),
            ("0.000000001", 1),
            ("1e-3", 1_000_000),
            ("0", 0),
            ("1000000", 1_000_000_000_000_000),
        ] {
            assert_eq!(parse_rate_per_million("input_per_m", text), Ok(femto), "{text}");
        }
        for (text, why) in [
            ("1,5", "not an amount"),
            ("-1", "negative"),
            ("0.0000000001", "at most 9 decimals"),
            ("1000001", "above the maximum"),
            ("three", "not an amount"),
            ("", "not an amount"),
        ] {
            let e = parse_rate_per_million("input_per_m", text).unwrap_err();
            assert!(e.starts_with("input_per_m: ") && e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn rates_are_exact_femto_dollars() {
        assert_eq!(rate_from_f64("f", 2.5e-06), Ok(2_500_000_000));
        assert_eq!(rate_from_f64("f", 1.65e-05), Ok(16_500_000_000));
        assert_eq!(rate_from_f64("f", 7.5e-08), Ok(75_000_000));
        assert_eq!(rate_from_f64("f", 2e-08), Ok(20_000_000));
        assert_eq!(rate_from_f64("f", 0.0), Ok(0));
        // more decimals than a femto-dollar: rounded half up
        assert_eq!(rate_from_f64("f", 2.857142857142857e-07), Ok(285_714_286));
        assert_eq!(rate_from_f64("f", 4e-16), Ok(0));
        assert_eq!(rate_from_f64("f", 5e-16), Ok(1));
        assert!(rate_from_f64("input_cost_per_token", f64::NAN)
            .unwrap_err()
            .starts_with("input_cost_per_token: "));
        assert!(rate_from_f64("f", -1.0).is_err());
        assert_eq!(parse_scaled("0.000001", 15), Some(1_000_000_000));
        assert_eq!(parse_scaled("12.5", 2), Some(1250));
        assert_eq!(parse_scaled("-3e-2", 2), Some(-3));
        assert_eq!(parse_scaled("1.2.3", 2), None);
        assert_eq!(parse_scaled("abc", 2), None);
        // extreme texts are refused, never a panic or a wrapped value
        assert_eq!(parse_scaled("1e2147483647", 15), None);
        assert_eq!(parse_scaled("1e-2147483648", 15), None);
        assert_eq!(parse_scaled("9223372036854775808", 0), None);
        assert_eq!(parse_scaled_i128("9224", 15), Some(9_224_000_000_000_000_000));
        assert_eq!(parse_scaled(&"1".repeat(65), 0), None);
        assert!(rate_from_f64("f", 2.0).unwrap_err().contains("maximum of $1 per token"));
    }

    #[test]
    fn only_token_rates_are_read_from_a_litellm_entry() {
        let p = gpt_4o();
        assert_eq!(p.rates.len(), 8);
        assert!(!p.rates.contains_key("max_tokens"));
        let p = price(json!({"cache_creation_input_token_cost_above_1hr": 6e-06,
            "cache_creation_input_token_cost_above_1hr_above_200k_tokens": 1.2e-05,
            "input_cost_per_token_above_200k_tokens_priority": 1e-06, "output_cost_per_image": 0.04,
            "input_cost_per_token_cache_hit": 1e-07}));
        let keys: Vec<_> = p.rates.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            vec![
                "cache_creation_input_token_cost_above_1hr",
                "cache_creation_input_token_cost_above_1hr_above_200k_tokens",
                "input_cost_per_token_above_200k_tokens_priority"
            ]
        );
        let bad = ModelPrice::from_litellm(json!({"input_cost_per_token": "cheap"}).as_object().unwrap());
        assert_eq!(
            bad.unwrap_err(),
            "input_cost_per_token: 'cheap' is not a decimal number of US dollars per token with at most 15 decimals"
        );
        let bad = ModelPrice::from_litellm(json!({"input_cost_per_token": null}).as_object().unwrap());
        assert_eq!(bad.unwrap_err(), "input_cost_per_token: expected a number or a decimal string, got null");
    }

    #[test]
    fn gpt_4o_standard_call_is_priced_to_the_nano() {
        // 1,000 input at 2.5e-6 + 500 output at 1e-5 = 0.0025 + 0.005 = $0.0075
        let t = Tokens { input: 1000, output: 500, ..Default::default() };
        assert_eq!(gpt_4o().cost(&t, ServiceTier::Standard), Ok(Nanos(7_500_000)));
    }

    #[test]
    fn cached_tokens_are_billed_once_at_the_cache_rate() {
        // 1,000 input of which 600 cache reads: 400 × 2.5e-6 + 600 × 1.25e-6 = 0.001 + 0.00075
        let t = Tokens { input: 1000, cache_read: 600, ..Default::default() };
        assert_eq!(gpt_4o().cost(&t, ServiceTier::Standard), Ok(Nanos(1_750_000)));
    }

    #[test]
    fn tiers_use_their_own_rates() {
        let t = Tokens { input: 1000, cache_read: 600, output: 500, ..Default::default() };
        // batch: 400 × 1.25e-6 + 600 × 1.25e-6 (no batch cache rate: the standard cache rate)
        // + 500 × 5e-6 = 0.0005 + 0.00075 + 0.0025
        assert_eq!(gpt_4o().cost(&t, ServiceTier::Batch), Ok(Nanos(3_750_000)));
        // priority: 400 × 4.25e-6 + 600 × 2.125e-6 + 500 × 1.7e-5 = 0.0017 + 0.001275 + 0.0085
        assert_eq!(gpt_4o().cost(&t, ServiceTier::Priority), Ok(Nanos(11_475_000)));
        // flex is not offered for gpt-4o: standard rates
        assert_eq!(gpt_4o().cost(&t, ServiceTier::Flex), gpt_4o().cost(&t, ServiceTier::Standard));
    }

    #[test]
    fn long_context_rates_apply_to_the_whole_request_above_the_threshold() {
        // gemini/gemini-2.5-pro: 1.25e-6 / 1e-5, above 200k input 2.5e-6 / 1.5e-5
        let p = price(json!({"input_cost_per_token": 1.25e-06, "output_cost_per_token": 1e-05,
            "input_cost_per_token_above_200k_tokens": 2.5e-06, "output_cost_per_token_above_200k_tokens": 1.5e-05,
            "input_cost_per_token_above_200k_tokens_batches": 1.25e-06, "input_cost_per_token_batches": 6.25e-07,
            "output_cost_per_token_batches": 5e-06}));
        let at = |input| Tokens { input, output: 1000, ..Default::default() };
        // exactly 200,000 is not above: 200000 × 1.25e-6 + 1000 × 1e-5 = 0.25 + 0.01
        assert_eq!(p.cost(&at(200_000), ServiceTier::Standard), Ok(Nanos(260_000_000)));
        // 200,001: 200001 × 2.5e-6 + 1000 × 1.5e-5 = 0.5000025 + 0.015
        assert_eq!(p.cost(&at(200_001), ServiceTier::Standard), Ok(Nanos(515_002_500)));
        // batch above 200k: the combined input rate 1.25e-6; output has no combined rate, the
        // batch rate 5e-6 wins over the long-context one: 250.00125 ... = 0.25000125 + 0.005
        assert_eq!(p.cost(&at(200_001), ServiceTier::Batch), Ok(Nanos(255_001_250)));
    }

    #[test]
    fn cache_writes_and_reasoning_have_their_own_rates_or_documented_fallbacks() {
        // Anthropic claude-sonnet-4-5: input 3e-6, output 1.5e-5, read 3e-7, write 3.75e-6, 1h 6e-6
        let claude = price(json!({"input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05,
            "cache_read_input_token_cost": 3e-07, "cache_creation_input_token_cost": 3.75e-06,
            "cache_creation_input_token_cost_above_1hr": 6e-06}));
        let t = Tokens {
            input: 10_000,
            cache_read: 4_000,
            cache_write_5m: 2_000,
            cache_write_1h: 1_000,
            output: 800,
            reasoning: 300,
        };
        // 3000 × 3e-6 + 4000 × 3e-7 + 2000 × 3.75e-6 + 1000 × 6e-6 + 500 × 1.5e-5 + 300 × 1.5e-5
        // = 0.009 + 0.0012 + 0.0075 + 0.006 + 0.0075 + 0.0045 = 0.0357
        assert_eq!(claude.cost(&t, ServiceTier::Standard), Ok(Nanos(35_700_000)));
        let (rate, field) = claude.rate(TokenClass::Reasoning, ServiceTier::Standard, 0).unwrap();
        assert_eq!((rate, field.as_str()), (15_000_000_000, "output_cost_per_token"));
        let no_1h =
            price(json!({"input_cost_per_token": 3e-06, "cache_creation_input_token_cost": 3.75e-06}));
        assert_eq!(no_1h.rate(TokenClass::CacheWrite1h, ServiceTier::Standard, 0).unwrap().0, 3_750_000_000);
    }

    #[test]
    fn sub_nano_costs_round_half_up_once_per_event() {
        // text-embedding-3-small at 2e-8 is 20 nano-dollars a token; a negotiated 2e-11 is
        // 0.02 nano-dollars: 24 tokens = 0.48 → 0, 25 tokens = 0.5 → 1
        let small = price(json!({"input_cost_per_token": 2e-08}));
        let emb = |input| Tokens { input, ..Default::default() };
        assert_eq!(small.cost(&emb(1), ServiceTier::Standard), Ok(Nanos(20)));
        let tiny = price(json!({"input_cost_per_token": 2e-11}));
        assert_eq!(tiny.cost(&emb(24), ServiceTier::Standard), Ok(Nanos(0)));
        assert_eq!(tiny.cost(&emb(25), ServiceTier::Standard), Ok(Nanos(1)));
        assert_eq!(tiny.cost_femto(&emb(1_000_000), ServiceTier::Standard), Ok(20_000_000_000));
    }

    #[test]
    fn a_class_without_any_rate_leaves_the_event_unpriced() {
        let embedding_only = price(json!({"input_cost_per_token": 2e-08}));
        let t = Tokens { input: 10, output: 5, ..Default::default() };
        assert_eq!(embedding_only.cost(&t, ServiceTier::Standard), Err(Unpriced::NoRate(TokenClass::Output)));
        assert_eq!(ModelPrice::default().cost(&Tokens::default(), ServiceTier::Standard), Ok(Nanos(0)));
    }

    #[test]
    fn a_cost_above_the_per_event_maximum_is_not_a_price() {
        // 10¹² output tokens of gpt-4o at $10 per million: $10,000,000
        let t = Tokens { input: 0, output: 1_000_000_000_000, ..Default::default() };
        assert_eq!(
            gpt_4o().cost(&t, ServiceTier::Standard),
            Err(Unpriced::AboveMaximum(Nanos(10_000_000 * 1_000_000_000)))
        );
        // the largest counts at the largest rate still fit the femto-dollar sum
        let max = ModelPrice {
            rates: TokenClass::ALL
                .iter()
                .map(|c| (c.litellm_field().to_string(), super::super::limits::MAX_RATE_FEMTO))
                .collect(),
        };
        let all = Tokens { input: 1_000_000_000_000, output: 1_000_000_000_000, ..Default::default() };
        assert_eq!(max.cost_femto(&all, ServiceTier::Standard), Ok(2_000_000_000_000_000_000_000_000_000));
    }

    #[test]
    fn impossible_token_counts_are_refused_naming_the_field() {
        let t = Tokens { input: 10, cache_read: 8, cache_write_5m: 3, ..Default::default() };
        assert!(t.check().unwrap_err().starts_with("cache_read_tokens: cache reads and writes (11) exceed"));
        let t = Tokens { output: 1, reasoning: 2, ..Default::default() };
        assert!(t.check().unwrap_err().starts_with("reasoning_tokens: "));
        let t = Tokens { input: -1, ..Default::default() };
        assert_eq!(t.check().unwrap_err(), "input_tokens: must not be negative (got -1)");
        assert_eq!(ServiceTier::parse("service_tier", "default"), Ok(ServiceTier::Standard));
        assert!(ServiceTier::parse("service_tier", "gold").unwrap_err().starts_with("service_tier: 'gold'"));
    }
}
