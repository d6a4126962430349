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
//!
//! Audio and image tokens are parts of `input` and `output` too, billed at their own rates
//! (cached audio reads at theirs, as part of both the cache reads and the audio input); web
//! searches and requests are counts with a per-call and a per-request fee. A class with
//! tokens and no rate falls back as documented on [`TokenClass::fallback`]; web searches
//! without a rate leave the event unpriced (flagged), never silently free.
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
    AudioInput,
    AudioCacheRead,
    ImageInput,
    AudioOutput,
    ImageOutput,
    /// Web-search (grounding) calls: a fee per call.
    WebSearch,
    /// A fee per request, where a model has one (absent: no fee).
    Request,
}

impl TokenClass {
    pub const ALL: [TokenClass; 13] = [
        TokenClass::Input,
        TokenClass::CacheRead,
        TokenClass::CacheWrite5m,
        TokenClass::CacheWrite1h,
        TokenClass::Output,
        TokenClass::Reasoning,
        TokenClass::AudioInput,
        TokenClass::AudioCacheRead,
        TokenClass::ImageInput,
        TokenClass::AudioOutput,
        TokenClass::ImageOutput,
        TokenClass::WebSearch,
        TokenClass::Request,
    ];

    /// The LiteLLM field that prices this class at standard tier and context (web searches
    /// and requests: femto-USD per call and per request).
    pub fn litellm_field(self) -> &'static str {
        match self {
            TokenClass::Input => "input_cost_per_token",
            TokenClass::CacheRead => "cache_read_input_token_cost",
            TokenClass::CacheWrite5m => "cache_creation_input_token_cost",
            TokenClass::CacheWrite1h => "cache_creation_input_token_cost_above_1hr",
            TokenClass::Output => "output_cost_per_token",
            TokenClass::Reasoning => "output_cost_per_reasoning_token",
            TokenClass::AudioInput => "input_cost_per_audio_token",
            TokenClass::AudioCacheRead => "cache_read_input_audio_token_cost",
            TokenClass::ImageInput => "input_cost_per_image_token",
            TokenClass::AudioOutput => "output_cost_per_audio_token",
            TokenClass::ImageOutput => "output_cost_per_image_token",
            TokenClass::WebSearch => "web_search_cost_per_call",
            TokenClass::Request => "input_cost_per_request",
        }
    }

    /// Where the price comes from when a model lists none for this class: cache reads and
    /// writes the provider does not discount cost the input rate, a one-hour write without its
    /// own rate the five-minute one, reasoning the output rate (as OpenAI bills it), audio and
    /// image tokens the text rate of their direction, cached audio the audio input rate. Web
    /// searches have no fallback (the event is flagged unpriced); requests without a fee cost
    /// nothing.
    fn fallback(self) -> Option<TokenClass> {
        match self {
            TokenClass::CacheRead | TokenClass::CacheWrite5m => Some(TokenClass::Input),
            TokenClass::CacheWrite1h => Some(TokenClass::CacheWrite5m),
            TokenClass::Reasoning => Some(TokenClass::Output),
            TokenClass::AudioInput | TokenClass::ImageInput => Some(TokenClass::Input),
            TokenClass::AudioCacheRead => Some(TokenClass::AudioInput),
            TokenClass::AudioOutput | TokenClass::ImageOutput => Some(TokenClass::Output),
            TokenClass::Input | TokenClass::Output | TokenClass::WebSearch | TokenClass::Request => None,
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
            TokenClass::AudioInput => "audio_input",
            TokenClass::AudioCacheRead => "audio_cache_read",
            TokenClass::ImageInput => "image_input",
            TokenClass::AudioOutput => "audio_output",
            TokenClass::ImageOutput => "image_output",
            TokenClass::WebSearch => "web_search",
            TokenClass::Request => "request",
        }
    }

    /// What the class counts, as FOCUS names a unit.
    pub fn unit(self) -> &'static str {
        match self {
            TokenClass::WebSearch => "Searches",
            TokenClass::Request => "Requests",
            _ => "Tokens",
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

/// Token counts of one event (OTel convention: `input` includes cache reads and writes and
/// audio and image input, `output` includes reasoning and audio and image output), and its
/// billed counts that are not tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub input: i64,
    pub cache_read: i64,
    pub cache_write_5m: i64,
    pub cache_write_1h: i64,
    pub output: i64,
    pub reasoning: i64,
    /// Audio input tokens, cached ones included (part of `input`).
    #[serde(default)]
    pub input_audio: i64,
    /// Audio input tokens read from the cache (part of `cache_read` and of `input_audio`).
    #[serde(default)]
    pub cache_read_audio: i64,
    /// Image input tokens (part of `input`).
    #[serde(default)]
    pub input_image: i64,
    /// Audio output tokens (part of `output`).
    #[serde(default)]
    pub output_audio: i64,
    /// Image output tokens (part of `output`).
    #[serde(default)]
    pub output_image: i64,
    /// Web-search (grounding) calls the request made.
    #[serde(default)]
    pub web_search_calls: i64,
}

/// The event API's name of each count of [`Tokens`], in its order.
pub const TOKEN_FIELDS: [&str; 12] = [
    "input_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "input_audio_tokens",
    "cache_read_audio_tokens",
    "input_image_tokens",
    "output_audio_tokens",
    "output_image_tokens",
    "web_search_calls",
];

impl Tokens {
    /// Each count by its event API name ([`TOKEN_FIELDS`]).
    pub fn fields(&self) -> [(&'static str, i64); 12] {
        let v = [
            self.input,
            self.cache_read,
            self.cache_write_5m,
            self.cache_write_1h,
            self.output,
            self.reasoning,
            self.input_audio,
            self.cache_read_audio,
            self.input_image,
            self.output_audio,
            self.output_image,
            self.web_search_calls,
        ];
        std::array::from_fn(|i| (TOKEN_FIELDS[i], v[i]))
    }

    /// The count of an event API name, to set it.
    pub fn field_mut(&mut self, name: &str) -> Option<&mut i64> {
        Some(match name {
            "input_tokens" => &mut self.input,
            "cache_read_tokens" => &mut self.cache_read,
            "cache_write_5m_tokens" => &mut self.cache_write_5m,
            "cache_write_1h_tokens" => &mut self.cache_write_1h,
            "output_tokens" => &mut self.output,
            "reasoning_tokens" => &mut self.reasoning,
            "input_audio_tokens" => &mut self.input_audio,
            "cache_read_audio_tokens" => &mut self.cache_read_audio,
            "input_image_tokens" => &mut self.input_image,
            "output_audio_tokens" => &mut self.output_audio,
            "output_image_tokens" => &mut self.output_image,
            "web_search_calls" => &mut self.web_search_calls,
            _ => return None,
        })
    }

    /// Rejects counts no provider can report; the error names the field.
    pub fn check(&self) -> Result<(), String> {
        for (field, v) in self.fields() {
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
        if self.cache_read_audio > self.cache_read.min(self.input_audio) {
            return Err(format!(
                "cache_read_audio_tokens: {} exceed cache_read_tokens ({}) or input_audio_tokens ({}), which include them",
                self.cache_read_audio, self.cache_read, self.input_audio
            ));
        }
        // every input token in one class: cached, uncached audio, image, the rest text
        let parts =
            cached.saturating_add(self.input_audio - self.cache_read_audio).saturating_add(self.input_image);
        if parts > self.input {
            return Err(format!(
                "input_audio_tokens: cache, audio and image input ({parts}) exceed input_tokens ({}), which include them",
                self.input
            ));
        }
        let out = self.reasoning.saturating_add(self.output_audio).saturating_add(self.output_image);
        if self.reasoning > self.output {
            return Err(format!(
                "reasoning_tokens: {} exceed output_tokens ({}), which include them",
                self.reasoning, self.output
            ));
        }
        if out > self.output {
            return Err(format!(
                "output_audio_tokens: reasoning, audio and image output ({out}) exceed output_tokens ({}), which include them",
                self.output
            ));
        }
        Ok(())
    }

    /// Units billed in `class` (each token in exactly one class; requests are counted by the
    /// event, not here: 0).
    pub fn billable(&self, class: TokenClass) -> i64 {
        let audio_uncached = self.input_audio - self.cache_read_audio;
        match class {
            TokenClass::Input => {
                self.input
                    - self.cache_read
                    - self.cache_write_5m
                    - self.cache_write_1h
                    - audio_uncached
                    - self.input_image
            }
            TokenClass::CacheRead => self.cache_read - self.cache_read_audio,
            TokenClass::CacheWrite5m => self.cache_write_5m,
            TokenClass::CacheWrite1h => self.cache_write_1h,
            TokenClass::Output => self.output - self.reasoning - self.output_audio - self.output_image,
            TokenClass::Reasoning => self.reasoning,
            TokenClass::AudioInput => audio_uncached,
            TokenClass::AudioCacheRead => self.cache_read_audio,
            TokenClass::ImageInput => self.input_image,
            TokenClass::AudioOutput => self.output_audio,
            TokenClass::ImageOutput => self.output_image,
            TokenClass::WebSearch => self.web_search_calls,
            TokenClass::Request => 0,
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
        if let Some(search) = entry.get(SEARCH_CONTEXT) {
            // USD per search by context size; the medium size is the one billed by default
            let per_call = search
                .get("search_context_size_medium")
                .or_else(|| search.as_object().and_then(|o| o.values().next()))
                .ok_or_else(|| format!("{SEARCH_CONTEXT}: expected the price per search by context size"))?;
            let field = TokenClass::WebSearch.litellm_field();
            let rate = match per_call {
                serde_json::Value::Number(n) => rate_from_f64(field, n.as_f64().unwrap_or(f64::NAN))?,
                serde_json::Value::String(s) => rate_from_decimal(field, s)?,
                v => return Err(format!("{SEARCH_CONTEXT}: expected a number or a decimal string, got {v}")),
            };
            rates.insert(field.to_string(), rate);
        }
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

    /// Whether the entry has rates of its own for `tier` (the standard tier always).
    pub fn has_tier(&self, tier: ServiceTier) -> bool {
        match tier.litellm_suffix() {
            None => true,
            Some(t) => self.rates.keys().any(|k| k.ends_with(t)),
        }
    }

    /// The exact cost of `tokens` and `requests` at `tier`, in femto-USD, or the class that
    /// has no rate.
    pub fn cost_femto(&self, tokens: &Tokens, requests: i64, tier: ServiceTier) -> Result<i128, Unpriced> {
        let mut total: i128 = 0;
        for class in TokenClass::ALL {
            let n = if class == TokenClass::Request { requests } else { tokens.billable(class) };
            if n == 0 {
                continue;
            }
            let rate = match self.rate(class, tier, tokens.input) {
                Some((rate, _)) => rate,
                None if class == TokenClass::Request => 0,
                None => return Err(Unpriced::NoRate(class)),
            };
            total += i128::from(n) * i128::from(rate);
        }
        Ok(total)
    }

    /// [`ModelPrice::cost_femto`] rounded half up to the stored nano-dollar, at most
    /// [`super::limits::MAX_EVENT_COST`].
    pub fn cost(&self, tokens: &Tokens, requests: i64, tier: ServiceTier) -> Result<Nanos, Unpriced> {
        let cost = femto_to_nanos(self.cost_femto(tokens, requests, tier)?);
        if cost > super::limits::MAX_EVENT_COST {
            return Err(Unpriced::AboveMaximum(cost));
        }
        Ok(cost)
    }
}

/// genai-prices' price keys (USD per million) and the field each becomes here.
const GENAI_FIELDS: [(&str, &str); 12] = [
    ("input_mtok", "input_cost_per_token"),
    ("output_mtok", "output_cost_per_token"),
    ("cache_read_mtok", "cache_read_input_token_cost"),
    ("cache_write_mtok", "cache_creation_input_token_cost"),
    ("cache_write_5m_mtok", "cache_creation_input_token_cost"),
    ("cache_write_1h_mtok", "cache_creation_input_token_cost_above_1hr"),
    ("output_reasoning_mtok", "output_cost_per_reasoning_token"),
    ("input_audio_mtok", "input_cost_per_audio_token"),
    ("cache_audio_read_mtok", "cache_read_input_audio_token_cost"),
    ("input_image_mtok", "input_cost_per_image_token"),
    ("output_audio_mtok", "output_cost_per_audio_token"),
    ("output_image_mtok", "output_cost_per_image_token"),
];

/// genai-prices' per-thousand counts and the class each prices (femto-USD per one).
const GENAI_COUNTS: [(&str, TokenClass); 2] =
    [("web_searches_kcount", TokenClass::WebSearch), ("requests_kcount", TokenClass::Request)];

impl ModelPrice {
    /// The rates of one genai-prices price set (`{"input_mtok": 3, "output_mtok": {"base":
    /// 15, "tiers": [{"start": 200000, "price": 22.5}]}, "web_searches_kcount": 10, …}`),
    /// exactly: a number is read as the decimal it is written as (to the femto-dollar per
    /// token). A tier starting above N thousand input tokens becomes the `_above_{N}k_tokens`
    /// rate (the whole request at that rate, as the publisher's library bills it). Web searches
    /// and requests are priced per thousand. Answers the keys it does not bill (video,
    /// citation tokens), to be named, never dropped silently. A set with no price at all is a
    /// free model: zero input and output rates.
    pub fn from_genai(
        prices: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(ModelPrice, Vec<String>), String> {
        let mut rates = BTreeMap::new();
        let mut unbilled = vec![];
        let text = |key: &str, v: &serde_json::Value| match v {
            serde_json::Value::Number(n) => Ok(n.to_string()),
            serde_json::Value::String(s) => Ok(s.trim().to_string()),
            v => Err(format!("{key}: expected a number, got {v}")),
        };
        let rate = |key: &str, v: &serde_json::Value| -> Result<i64, String> {
            let t = text(key, v)?;
            // a number the file wrote as a float artefact (`0.18000000000000002`) is the rate
            // to the femto-dollar per token, rounded: the artefact is 1e-23 $/token
            parse_rate_per_million(key, &t).or_else(|e| {
                parse_scaled_rounded(&t, 9)
                    .filter(|r| (0..=super::limits::MAX_RATE_FEMTO).contains(r))
                    .ok_or(e)
            })
        };
        // the generic cache write first, so that a 5-minute one of its own replaces it
        let mut keys: Vec<(&String, &serde_json::Value)> = prices.iter().collect();
        keys.sort_by_key(|(k, _)| k.as_str() != "cache_write_mtok");
        for (key, v) in keys {
            if let Some((_, class)) = GENAI_COUNTS.iter().find(|(k, _)| *k == key.as_str()) {
                // USD per thousand = femto-USD per one × 1e-12: twelve decimals, exact
                let t = text(key, v)?;
                let per_one = parse_scaled(&t, 12)
                    .filter(|r| (0..=super::limits::MAX_RATE_FEMTO).contains(r))
                    .ok_or_else(|| format!("{key}: '{t}' is not an amount of US dollars per thousand"))?;
                rates.insert(class.litellm_field().to_string(), per_one);
                continue;
            }
            let Some((_, field)) = GENAI_FIELDS.iter().find(|(k, _)| *k == key.as_str()) else {
                unbilled.push(key.clone());
                continue;
            };
            match v {
                serde_json::Value::Object(t) => {
                    let base = t.get("base").ok_or_else(|| format!("{key}: a tiered price needs base"))?;
                    rates.insert(field.to_string(), rate(key, base)?);
                    for tier in t.get("tiers").and_then(|v| v.as_array()).into_iter().flatten() {
                        let start = tier.get("start").and_then(|v| v.as_i64()).unwrap_or(-1);
                        if start <= 0 || start % 1000 != 0 {
                            return Err(format!(
                                "{key}: a tier start of {start} tokens is not a whole thousand"
                            ));
                        }
                        let price =
                            tier.get("price").ok_or_else(|| format!("{key}: a tier needs a price"))?;
                        rates.insert(format!("{field}_above_{}k_tokens", start / 1000), rate(key, price)?);
                    }
                }
                v => {
                    rates.insert(field.to_string(), rate(key, v)?);
                }
            }
        }
        if prices.is_empty() {
            rates.insert(TokenClass::Input.litellm_field().to_string(), 0);
            rates.insert(TokenClass::Output.litellm_field().to_string(), 0);
        }
        Ok((ModelPrice { rates }, unbilled))
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

/// LiteLLM's web-search price: USD per search, by search context size.
const SEARCH_CONTEXT: &str = "search_context_cost_per_query";

/// The keys of an entry that are neither rates nor documented metadata.
pub fn unbilled_keys(entry: &serde_json::Map<String, serde_json::Value>) -> Vec<&str> {
    entry
        .keys()
        .map(String::as_str)
        .filter(|k| !is_token_rate_field(k) && !is_non_price_key(k) && *k != SEARCH_CONTEXT)
        .collect()
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
        assert_eq!(gpt_4o().cost(&t, 0, ServiceTier::Standard), Ok(Nanos(7_500_000)));
    }

    #[test]
    fn cached_tokens_are_billed_once_at_the_cache_rate() {
        // 1,000 input of which 600 cache reads: 400 × 2.5e-6 + 600 × 1.25e-6 = 0.001 + 0.00075
        let t = Tokens { input: 1000, cache_read: 600, ..Default::default() };
        assert_eq!(gpt_4o().cost(&t, 0, ServiceTier::Standard), Ok(Nanos(1_750_000)));
    }

    #[test]
    fn tiers_use_their_own_rates() {
        let t = Tokens { input: 1000, cache_read: 600, output: 500, ..Default::default() };
        // batch: 400 × 1.25e-6 + 600 × 1.25e-6 (no batch cache rate: the standard cache rate)
        // + 500 × 5e-6 = 0.0005 + 0.00075 + 0.0025
        assert_eq!(gpt_4o().cost(&t, 0, ServiceTier::Batch), Ok(Nanos(3_750_000)));
        // priority: 400 × 4.25e-6 + 600 × 2.125e-6 + 500 × 1.7e-5 = 0.0017 + 0.001275 + 0.0085
        assert_eq!(gpt_4o().cost(&t, 0, ServiceTier::Priority), Ok(Nanos(11_475_000)));
        // flex is not offered for gpt-4o: standard rates
        assert_eq!(gpt_4o().cost(&t, 0, ServiceTier::Flex), gpt_4o().cost(&t, 0, ServiceTier::Standard));
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
        assert_eq!(p.cost(&at(200_000), 0, ServiceTier::Standard), Ok(Nanos(260_000_000)));
        // 200,001: 200001 × 2.5e-6 + 1000 × 1.5e-5 = 0.5000025 + 0.015
        assert_eq!(p.cost(&at(200_001), 0, ServiceTier::Standard), Ok(Nanos(515_002_500)));
        // batch above 200k: the combined input rate 1.25e-6; output has no combined rate, the
        // batch rate 5e-6 wins over the long-context one: 250.00125 ... = 0.25000125 + 0.005
        assert_eq!(p.cost(&at(200_001), 0, ServiceTier::Batch), Ok(Nanos(255_001_250)));
    }

    #[test]
    fn audio_image_web_search_and_request_fees_each_have_their_rate() {
        // an audio model: text 2.5e-6 / 1e-5, cache read 1.25e-6, audio in 4e-5 (cached 2.5e-6),
        // audio out 8e-5, no image rates; $0.025 a search; $0.005 a request
        let p = price(json!({"input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05,
            "cache_read_input_token_cost": 1.25e-06, "input_cost_per_audio_token": 4e-05,
            "cache_read_input_audio_token_cost": 2.5e-06, "output_cost_per_audio_token": 8e-05,
            "input_cost_per_request": 0.005,
            "search_context_cost_per_query": {"search_context_size_low": 0.02, "search_context_size_medium": 0.025}}));
        let t = Tokens {
            input: 10_000,
            cache_read: 2_000,
            input_audio: 3_000,
            cache_read_audio: 500,
            input_image: 1_000,
            output: 1_000,
            output_audio: 400,
            output_image: 100,
            web_search_calls: 2,
            ..Default::default()
        };
        assert_eq!(t.check(), Ok(()));
        // text in 4,500 × 2.5e-6 = 0.01125; cache 1,500 × 1.25e-6 = 0.001875; audio in 2,500 ×
        // 4e-5 = 0.1; cached audio 500 × 2.5e-6 = 0.00125; image in 1,000 at the text rate =
        // 0.0025; text out 500 × 1e-5 = 0.005; audio out 400 × 8e-5 = 0.032; image out 100 at
        // the text rate = 0.001; 2 searches × 0.025 = 0.05; 3 requests × 0.005 = 0.015
        assert_eq!(p.cost(&t, 3, ServiceTier::Standard), Ok(Nanos(219_875_000)));
        let classes: i64 = TokenClass::ALL.iter().map(|c| t.billable(*c)).sum();
        assert_eq!(classes, 10_000 + 1_000 + 2, "every token in one class, and the searches");
        // a search without a search price is not free: the event stays unpriced
        let no_search = price(json!({"input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05}));
        assert_eq!(
            no_search.cost(&t, 1, ServiceTier::Standard),
            Err(Unpriced::NoRate(TokenClass::WebSearch))
        );
        // no per-request fee: requests cost nothing
        let one = Tokens { input: 1_000, ..Default::default() };
        assert_eq!(no_search.cost(&one, 1_000, ServiceTier::Standard), Ok(Nanos(2_500_000)));
    }

    #[test]
    fn genai_prices_units_become_rates_exactly() {
        // genai-prices' gemini-2.0-flash: 0.1 / 0.4 per M, cached 0.025, audio 0.7, cached audio 0.175
        let (p, unbilled) = ModelPrice::from_genai(
            json!({"input_mtok": 0.1, "cache_read_mtok": 0.025, "output_mtok": 0.4, "input_audio_mtok": 0.7,
                "cache_audio_read_mtok": 0.175, "web_searches_kcount": 35, "requests_kcount": "12",
                "input_video_mtok": 3})
            .as_object()
            .unwrap(),
        )
        .unwrap();
        assert_eq!(unbilled, vec!["input_video_mtok"]);
        assert_eq!(p.rates["web_search_cost_per_call"], 35_000_000_000_000, "$0.035 a search");
        assert_eq!(p.rates["input_cost_per_request"], 12_000_000_000_000, "$0.012 a request");
        let t = Tokens {
            input: 1_000_000,
            cache_read: 300_000,
            input_audio: 400_000,
            cache_read_audio: 100_000,
            ..Default::default()
        };
        // 400k × 0.1 + 200k × 0.025 + 300k × 0.7 + 100k × 0.175 per M = 0.2725 (the
        // genai-prices package says 0.2725 for the same usage), plus one request's $0.012
        assert_eq!(p.cost(&t, 1, ServiceTier::Standard), Ok(Nanos(284_500_000)));
    }

    #[test]
    fn counts_that_do_not_add_up_are_refused_naming_the_field() {
        let t = |f: &dyn Fn(&mut Tokens)| {
            let mut t = Tokens { input: 100, cache_read: 20, output: 50, ..Default::default() };
            f(&mut t);
            t.check().unwrap_err()
        };
        assert!(t(&|t| t.cache_read_audio = 10).starts_with("cache_read_audio_tokens: 10 exceed"));
        assert!(
            t(&|t| t.input_audio = 81).starts_with("input_audio_tokens: cache, audio and image input (101)")
        );
        assert!(t(&|t| {
            t.input_audio = 40;
            t.input_image = 41
        })
        .starts_with("input_audio_tokens:"));
        assert!(t(&|t| t.output_image = 51)
            .starts_with("output_audio_tokens: reasoning, audio and image output (51)"));
        assert!(t(&|t| t.web_search_calls = -1).starts_with("web_search_calls: must not be negative"));
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
            ..Default::default()
        };
        // 3000 × 3e-6 + 4000 × 3e-7 + 2000 × 3.75e-6 + 1000 × 6e-6 + 500 × 1.5e-5 + 300 × 1.5e-5
        // = 0.009 + 0.0012 + 0.0075 + 0.006 + 0.0075 + 0.0045 = 0.0357
        assert_eq!(claude.cost(&t, 0, ServiceTier::Standard), Ok(Nanos(35_700_000)));
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
        assert_eq!(small.cost(&emb(1), 0, ServiceTier::Standard), Ok(Nanos(20)));
        let tiny = price(json!({"input_cost_per_token": 2e-11}));
        assert_eq!(tiny.cost(&emb(24), 0, ServiceTier::Standard), Ok(Nanos(0)));
        assert_eq!(tiny.cost(&emb(25), 0, ServiceTier::Standard), Ok(Nanos(1)));
        assert_eq!(tiny.cost_femto(&emb(1_000_000), 0, ServiceTier::Standard), Ok(20_000_000_000));
    }

    #[test]
    fn a_class_without_any_rate_leaves_the_event_unpriced() {
        let embedding_only = price(json!({"input_cost_per_token": 2e-08}));
        let t = Tokens { input: 10, output: 5, ..Default::default() };
        assert_eq!(
            embedding_only.cost(&t, 0, ServiceTier::Standard),
            Err(Unpriced::NoRate(TokenClass::Output))
        );
        assert_eq!(ModelPrice::default().cost(&Tokens::default(), 0, ServiceTier::Standard), Ok(Nanos(0)));
    }

    #[test]
    fn a_cost_above_the_per_event_maximum_is_not_a_price() {
        // 10¹² output tokens of gpt-4o at $10 per million: $10,000,000
        let t = Tokens { input: 0, output: 1_000_000_000_000, ..Default::default() };
        assert_eq!(
            gpt_4o().cost(&t, 0, ServiceTier::Standard),
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
        assert_eq!(max.cost_femto(&all, 0, ServiceTier::Standard), Ok(2_000_000_000_000_000_000_000_000_000));
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
