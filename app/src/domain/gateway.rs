//! The gateway's reading of provider traffic, without I/O: what a request asks for (model,
//! `max_tokens`, streaming, an estimate of its input tokens), the usage a response reports
//! (OpenAI chat completions, responses and embeddings; Anthropic messages; whole bodies and
//! server-sent event streams), and the attribution headers a caller adds.
//!
//! Token counts follow [`Tokens`]' convention: `input` includes cache reads and writes and
//! audio input, `output` includes reasoning and audio output. OpenAI reports it that way;
//! Anthropic reports `input_tokens` without the cache, so its cache counts are added.
use serde_json::Value;

use super::pricing::Tokens;

/// An upstream as pages show it: never the key, only its last characters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UpstreamView {
    pub provider: String,
    pub base_url: String,
    pub key_hint: String,
    /// False when the server's secret key cannot open the stored key (rotated away, or no
    /// secret key set): calls to this provider are refused until it is set again.
    pub usable: bool,
    pub updated_by: Option<String>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A provider the gateway speaks for, by its path (`/gateway/openai/…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    OpenAi,
    Anthropic,
}

impl Provider {
    pub const ALL: [Provider; 2] = [Provider::OpenAi, Provider::Anthropic];

    /// The name in the price book and in events.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
        }
    }

    pub fn parse(s: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == s.trim().to_ascii_lowercase())
    }

    /// Where the provider's public API lives (the default upstream).
    pub fn default_base_url(self) -> &'static str {
        match self {
            Provider::OpenAi => "https://api.openai.com/v1",
            Provider::Anthropic => "https://api.anthropic.com/v1",
        }
    }
}

/// The API a path calls, which says where its model, size and usage are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    ChatCompletions,
    Responses,
    Embeddings,
    Messages,
    /// Any other path: passed through, priced only when its usage is recognised.
    Other,
}

impl Api {
    /// The API of `path` (after `/v1/`) for `provider`.
    pub fn of(provider: Provider, path: &str) -> Api {
        let path = path.trim_matches('/');
        match (provider, path) {
            (Provider::OpenAi, "chat/completions") => Api::ChatCompletions,
            (Provider::OpenAi, "responses") => Api::Responses,
            (Provider::OpenAi, "embeddings") => Api::Embeddings,
            (Provider::Anthropic, "messages") => Api::Messages,
            _ => Api::Other,
        }
    }

    /// The event's `operation` (OTel GenAI's operation names).
    pub fn operation(self) -> &'static str {
        match self {
            Api::ChatCompletions | Api::Messages | Api::Responses => "chat",
            Api::Embeddings => "embeddings",
            Api::Other => "other",
        }
    }
}

/// `max_tokens` assumed for the worst case when a request states none (OpenAI makes it
/// optional): the reservation holds this many output tokens until the call settles at what
/// it really used.
pub const DEFAULT_MAX_TOKENS: i64 = 4_096;

/// Input tokens counted for each image or file sent inline (base64), whose text length says
/// nothing of its tokens: about what a 1024×1024 image costs on both providers.
pub const INLINE_MEDIA_TOKENS: i64 = 1_600;

/// What the gateway reads from a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    pub model: String,
    /// As stated, or [`DEFAULT_MAX_TOKENS`] (0 for embeddings, which produce no tokens).
    pub max_tokens: i64,
    /// Whether `max_tokens` was stated by the caller.
    pub max_tokens_stated: bool,
    pub stream: bool,
    /// For an OpenAI chat stream: whether the caller asked for the usage chunk itself. When it
    /// did not, the gateway asks for it and removes that chunk from what the caller receives.
    pub caller_wants_usage: bool,
    /// About four characters per token over the text the model reads, plus
    /// [`INLINE_MEDIA_TOKENS`] per inline image or file: an estimate for the reservation;
    /// the call settles at the provider's count.
    pub input_estimate: i64,
}

/// Reads a request body: the field that is wrong is named. `Other` APIs need only a model
/// when one is there (they are priced from their usage, if any).
pub fn read_ask(provider: Provider, api: Api, body: &Value) -> Result<Ask, String> {
    let obj = body.as_object().ok_or("body: expected a JSON object")?;
    let model = match obj.get("model") {
        Some(Value::String(m)) if !m.trim().is_empty() => m.trim().to_string(),
        Some(Value::String(_)) | None | Some(Value::Null) => return Err("model: required".into()),
        Some(other) => return Err(format!("model: expected a string, got {other}")),
    };
    // a body naming two limits is held at the larger: the upstream may honour either
    let mut max_tokens: Option<i64> = None;
    for f in size_fields(provider, api) {
        match obj.get(*f) {
            None | Some(Value::Null) => {}
            Some(v) => {
                let n =
                    v.as_i64().filter(|n| (1..=super::limits::MAX_TOKENS).contains(n)).ok_or_else(|| {
                        format!("{f}: a whole number from 1 to {} (got {v})", super::limits::MAX_TOKENS)
                    })?;
                max_tokens = Some(max_tokens.map_or(n, |m| m.max(n)));
            }
        }
    }
    let stream = match obj.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(format!("stream: expected true or false, got {other}")),
    };
    let caller_wants_usage = obj
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let read: &[&str] = match api {
        Api::ChatCompletions => &["messages", "tools", "functions", "prediction"],
        Api::Responses => &["input", "instructions", "tools"],
        Api::Embeddings => &["input"],
        Api::Messages => &["system", "messages", "tools"],
        Api::Other => &["messages", "input", "prompt", "system", "instructions", "tools"],
    };
    let mut est = Estimate::default();
    for f in read {
        if let Some(v) = obj.get(*f) {
            est.walk(v, f);
        }
    }
    let input_estimate = est.tokens().min(super::limits::MAX_TOKENS);
    Ok(Ask {
        model,
        max_tokens: match api {
            Api::Embeddings => 0,
            _ => max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        },
        max_tokens_stated: max_tokens.is_some(),
        stream,
        caller_wants_usage,
        input_estimate,
    })
}

/// The body fields that limit a call's output, the API's own first (none for embeddings).
fn size_fields(provider: Provider, api: Api) -> &'static [&'static str] {
    match (provider, api) {
        (_, Api::Embeddings) => &[],
        (Provider::OpenAi, Api::Responses) => &["max_output_tokens"],
        (Provider::OpenAi, _) => &["max_completion_tokens", "max_tokens"],
        (Provider::Anthropic, _) => &["max_tokens"],
    }
}

/// Sets every output limit the request states to `to` (a rule that clamps instead of
/// denying). A known API's request that states none gets its own field; an unknown API's body
/// is not given a field it may not accept.
pub fn clamp_max_tokens(provider: Provider, api: Api, body: &mut Value, to: i64) {
    let Some(obj) = body.as_object_mut() else { return };
    let fields = size_fields(provider, api);
    let mut stated = false;
    for f in fields {
        if let Some(v) = obj.get_mut(*f).filter(|v| !v.is_null()) {
            *v = to.into();
            stated = true;
        }
    }
    if let (false, Some(own), false) = (stated, fields.first(), api == Api::Other) {
        obj.insert(own.to_string(), to.into());
    }
}

/// Asks an OpenAI chat stream to end with a usage chunk (`stream_options.include_usage`).
/// True when the body was changed (the caller had not asked), so that chunk is the
/// gateway's to remove.
pub fn ask_for_stream_usage(body: &mut Value) -> bool {
    let Some(obj) = body.as_object_mut() else { return false };
    let opts = obj.entry("stream_options").or_insert_with(|| Value::Object(Default::default()));
    if !opts.is_object() {
        *opts = Value::Object(Default::default());
    }
    let opts = opts.as_object_mut().expect("an object");
    if opts.get("include_usage").and_then(Value::as_bool) == Some(true) {
        return false;
    }
    opts.insert("include_usage".into(), true.into());
    true
}

#[derive(Default)]
struct Estimate {
    chars: i64,
    media: i64,
    parts: i64,
}

impl Estimate {
    fn walk(&mut self, v: &Value, key: &str) {
        match v {
            Value::String(s) if s.starts_with("data:") || key == "data" || key == "file_data" => {
                self.media += 1
            }
            Value::String(s) => self.chars += s.chars().count() as i64,
            Value::Array(a) => {
                self.parts += a.len() as i64;
                a.iter().for_each(|x| self.walk(x, key));
            }
            Value::Object(o) => o.iter().for_each(|(k, x)| self.walk(x, k)),
            Value::Number(_) | Value::Bool(_) | Value::Null => {}
        }
    }

    /// Four characters a token, rounded up, plus a few tokens of framing per message or part.
    fn tokens(&self) -> i64 {
        (self.chars + 3) / 4 + 4 * self.parts + INLINE_MEDIA_TOKENS * self.media
    }
}

/// What a response says of its call: the model that answered and its usage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub model: Option<String>,
    /// `None`: the response reported no usage.
    pub tokens: Option<Tokens>,
    /// Anthropic's and OpenAI's `service_tier` in the response, when it is not the default.
    pub service_tier: Option<String>,
}

fn n(v: &Value, path: &[&str]) -> i64 {
    let mut at = v;
    for p in path {
        match at.get(p) {
            Some(x) => at = x,
            None => return 0,
        }
    }
    at.as_i64().filter(|n| *n >= 0).unwrap_or(0)
}

/// OpenAI's `usage` object (chat completions, responses or embeddings) → tokens.
pub fn openai_tokens(u: &Value) -> Tokens {
    // chat completions and embeddings say prompt/completion; responses say input/output
    let chat = u.get("prompt_tokens").is_some();
    let (input, output, in_details, out_details) = if chat {
        ("prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details")
    } else {
        ("input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")
    };
    Tokens {
        input: n(u, &[input]),
        cache_read: n(u, &[in_details, "cached_tokens"]),
        input_audio: n(u, &[in_details, "audio_tokens"]),
        input_image: n(u, &[in_details, "image_tokens"]),
        output: n(u, &[output]),
        reasoning: n(u, &[out_details, "reasoning_tokens"]),
        output_audio: n(u, &[out_details, "audio_tokens"]),
        output_image: n(u, &[out_details, "image_tokens"]),
        ..Tokens::default()
    }
}

/// Anthropic's `usage` object → tokens. `input_tokens` excludes the cache, so reads and writes
/// are added to `input`; writes split by lifetime when `cache_creation` says, else 5 minutes
/// (Anthropic's default).
pub fn anthropic_tokens(u: &Value) -> Tokens {
    let read = n(u, &["cache_read_input_tokens"]);
    let written = n(u, &["cache_creation_input_tokens"]);
    let (w5, w1h) = match u.get("cache_creation") {
        Some(c) if c.is_object() => {
            let h1 = n(c, &["ephemeral_1h_input_tokens"]);
            let m5 = n(c, &["ephemeral_5m_input_tokens"]);
            // a breakdown that does not add up: the remainder at the default lifetime
            (m5 + (written - m5 - h1).max(0), h1)
        }
        _ => (written, 0),
    };
    Tokens {
        input: n(u, &["input_tokens"]) + read + w5 + w1h,
        cache_read: read,
        cache_write_5m: w5,
        cache_write_1h: w1h,
        output: n(u, &["output_tokens"]),
        web_search_calls: n(u, &["server_tool_use", "web_search_requests"]),
        ..Tokens::default()
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn tier(v: &Value) -> Option<String> {
    text(v, "service_tier").filter(|t| t != "default" && t != "standard" && t != "auto")
}

/// Usage from a whole (not streamed) JSON response.
pub fn read_response(provider: Provider, api: Api, body: &Value) -> Usage {
    let Some(u) = body.get("usage").filter(|u| u.is_object()) else {
        return Usage { model: text(body, "model"), tokens: None, service_tier: tier(body) };
    };
    let mut tokens = match provider {
        Provider::OpenAi => openai_tokens(u),
        Provider::Anthropic => anthropic_tokens(u),
    };
    if api == Api::Responses {
        tokens.web_search_calls = web_searches(body);
    }
    Usage { model: text(body, "model"), tokens: Some(tokens), service_tier: tier(body).or_else(|| tier(u)) }
}

/// The Responses API's web-search calls: output items of type `web_search_call`.
fn web_searches(response: &Value) -> i64 {
    response
        .get("output")
        .and_then(Value::as_array)
        .map(|o| {
            o.iter().filter(|i| i.get("type").and_then(Value::as_str) == Some("web_search_call")).count()
        })
        .unwrap_or(0) as i64
}

/// Splits a server-sent event stream into events as bytes arrive in chunks of any size. An
/// event ends at a blank line (`\n\n`, `\r\n\r\n` or `\r\r`); its bytes are returned
/// unchanged, terminator included, so forwarding them keeps the stream byte for byte.
#[derive(Debug, Default)]
pub struct SseSplitter {
    buf: Vec<u8>,
    /// Where the search for the next terminator resumes.
    scanned: usize,
}

impl SseSplitter {
    /// Adds a chunk; returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Vec<u8>> {
        self.buf.extend_from_slice(chunk);
        let mut out = vec![];
        let mut start = 0;
        let mut i = self.scanned.max(start);
        while i < self.buf.len() {
            let end = match &self.buf[i..] {
                [b'\r', b'\n', b'\r', b'\n', ..] => Some(i + 4),
                [b'\n', b'\n', ..] | [b'\r', b'\r', ..] => Some(i + 2),
                // a terminator that may continue in the next chunk
                [b'\r'] | [b'\r', b'\n'] | [b'\r', b'\n', b'\r'] | [b'\n'] => break,
                _ => None,
            };
            match end {
                Some(e) => {
                    out.push(self.buf[start..e].to_vec());
                    start = e;
                    i = e;
                }
                None => i += 1,
            }
        }
        self.buf.drain(..start);
        self.scanned = i - start;
        out
    }

    /// What is left when the stream ends (an event without its blank line).
    pub fn rest(&mut self) -> Vec<u8> {
        self.scanned = 0;
        std::mem::take(&mut self.buf)
    }
}

/// The `data:` lines of one event, joined with newlines (the SSE rule), or `None` when it
/// has none.
pub fn event_data(event: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(event);
    let mut data: Option<String> = None;
    for line in text.split(['\n', '\r']) {
        let Some(rest) = line.strip_prefix("data:") else { continue };
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        match &mut data {
            Some(d) => {
                d.push('\n');
                d.push_str(rest);
            }
            None => data = Some(rest.to_string()),
        }
    }
    data
}

/// Reads usage from a stream's events as they pass.
#[derive(Debug, Clone)]
pub struct StreamUsage {
    provider: Provider,
    api: Api,
    usage: Usage,
    /// Anthropic: the usage of `message_start`, updated by each `message_delta`.
    anthropic: Option<Value>,
}

/// What to do with one event of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    Forward,
    /// The usage chunk the gateway asked for on the caller's behalf: not forwarded.
    Drop,
}

impl StreamUsage {
    pub fn new(provider: Provider, api: Api) -> StreamUsage {
        StreamUsage { provider, api, usage: Usage::default(), anthropic: None }
    }

    /// Reads one event (its bytes, as [`SseSplitter`] gives them). `drop_usage_chunk`: the
    /// gateway added `include_usage`, so the chunk carrying only usage is the gateway's.
    pub fn read(&mut self, event: &[u8], drop_usage_chunk: bool) -> Pass {
        let Some(data) = event_data(event) else { return Pass::Forward };
        let Ok(v) = serde_json::from_str::<Value>(&data) else { return Pass::Forward };
        match (self.provider, self.api) {
            (Provider::OpenAi, Api::Responses) => {
                // response.completed (or .incomplete / .failed) carries the whole response
                if let Some(r) = v.get("response").filter(|r| r.get("usage").is_some_and(|u| u.is_object())) {
                    self.usage = read_response(self.provider, self.api, r);
                } else if let Some(r) = v.get("response") {
                    self.usage.model = self.usage.model.take().or_else(|| text(r, "model"));
                }
                Pass::Forward
            }
            (Provider::OpenAi, _) => {
                if self.usage.model.is_none() {
                    self.usage.model = text(&v, "model");
                }
                if let Some(t) = tier(&v) {
                    self.usage.service_tier = Some(t);
                }
                match v.get("usage").filter(|u| u.is_object()) {
                    Some(u) => {
                        self.usage.tokens = Some(openai_tokens(u));
                        let only_usage =
                            v.get("choices").and_then(Value::as_array).is_some_and(|c| c.is_empty());
                        if drop_usage_chunk && only_usage {
                            Pass::Drop
                        } else {
                            Pass::Forward
                        }
                    }
                    None => Pass::Forward,
                }
            }
            (Provider::Anthropic, _) => {
                match v.get("type").and_then(Value::as_str) {
                    Some("message_start") => {
                        let m = v.get("message").cloned().unwrap_or(Value::Null);
                        self.usage.model = text(&m, "model");
                        self.anthropic = m.get("usage").cloned().filter(Value::is_object);
                    }
                    Some("message_delta") => {
                        // counts in a delta are cumulative: they replace those of the start
                        if let Some(Value::Object(d)) = v.get("usage") {
                            let base =
                                self.anthropic.get_or_insert_with(|| Value::Object(Default::default()));
                            if let Some(b) = base.as_object_mut() {
                                for (k, x) in d {
                                    if !x.is_null() {
                                        b.insert(k.clone(), x.clone());
                                    }
                                }
                            }
                        }
                    }
                    _ => {}
                }
                if let Some(u) = &self.anthropic {
                    self.usage.tokens = Some(anthropic_tokens(u));
                    if let Some(t) = tier(u) {
                        self.usage.service_tier = Some(t);
                    }
                }
                Pass::Forward
            }
        }
    }

    pub fn usage(&self) -> &Usage {
        &self.usage
    }
}

/// Attribution a caller adds in `x-costroom-*` headers (stripped before forwarding).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribution {
    pub feature: Option<String>,
    pub customer: Option<String>,
    pub environment: Option<String>,
    pub trace_id: Option<String>,
    pub parent_span_id: Option<String>,
    pub depth: i64,
    pub retry: i64,
    pub tags: Vec<(String, String)>,
}

/// The headers the gateway reads and never forwards.
pub const HEADER_PREFIX: &str = "x-costroom-";

/// Reads the `x-costroom-*` headers (name, value); an unknown one or a bad value is named.
pub fn read_attribution<'a>(
    headers: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<Attribution, String> {
    use super::limits::{MAX_DEPTH, MAX_RETRY, MAX_TEXT_LEN};
    let mut a = Attribution::default();
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        let Some(field) = name.strip_prefix(HEADER_PREFIX) else { continue };
        let value = value.trim();
        if value.len() > MAX_TEXT_LEN {
            return Err(format!("{name}: at most {MAX_TEXT_LEN} bytes"));
        }
        let text = || Some(value.to_string()).filter(|v| !v.is_empty());
        let count = |max: i64| {
            value
                .parse::<i64>()
                .ok()
                .filter(|n| (0..=max).contains(n))
                .ok_or_else(|| format!("{name}: a whole number from 0 to {max} (got '{value}')"))
        };
        match field {
            "feature" => a.feature = text(),
            "customer" => a.customer = text(),
            "environment" => a.environment = text(),
            "trace-id" => a.trace_id = text(),
            "parent-span-id" => a.parent_span_id = text(),
            "depth" => a.depth = count(MAX_DEPTH)?,
            "retry" => a.retry = count(MAX_RETRY)?,
            "tags" => {
                for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let (k, v) = pair
                        .split_once('=')
                        .map(|(k, v)| (k.trim(), v.trim()))
                        .filter(|(k, _)| !k.is_empty())
                        .ok_or_else(|| {
                            format!("{name}: '{pair}' is not key=value (e.g. tier=free,region=eu)")
                        })?;
                    a.tags.push((k.to_string(), v.to_string()));
                }
                a.tags.sort();
                a.tags.dedup_by(|x, y| x.0 == y.0);
                if a.tags.len() > super::limits::MAX_TAGS {
                    return Err(format!("{name}: at most {} tags", super::limits::MAX_TAGS));
                }
            }
            _ => {
                return Err(format!(
                "{name}: unknown header (known: feature, customer, environment, trace-id, parent-span-id, \
                    depth, retry, tags)"
            ))
            }
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_chat_request_states_its_model_size_and_stream() {
        let body = json!({"model": "gpt-4o", "max_completion_tokens": 300, "stream": true,
            "messages": [{"role": "user", "content": "abcdefgh"}]});
        let a = read_ask(Provider::OpenAi, Api::ChatCompletions, &body).unwrap();
        assert_eq!(a.model, "gpt-4o");
        assert_eq!(a.max_tokens, 300);
        assert!(a.max_tokens_stated && a.stream && !a.caller_wants_usage);
        // "user" + "abcdefgh" = 12 characters → 3 tokens, plus 4 for the one message
        assert_eq!(a.input_estimate, 3 + 4);
        let none =
            read_ask(Provider::OpenAi, Api::ChatCompletions, &json!({"model": "m", "messages": []})).unwrap();
        assert_eq!((none.max_tokens, none.max_tokens_stated), (DEFAULT_MAX_TOKENS, false));
        let emb = read_ask(Provider::OpenAi, Api::Embeddings, &json!({"model": "e", "input": "x"})).unwrap();
        assert_eq!(emb.max_tokens, 0);
    }

    #[test]
    fn a_bad_request_names_its_field() {
        let ask = |b: Value| read_ask(Provider::Anthropic, Api::Messages, &b).unwrap_err();
        assert_eq!(ask(json!({"max_tokens": 5})), "model: required");
        assert!(ask(json!({"model": 3})).starts_with("model: expected a string"));
        assert!(ask(json!({"model": "c", "max_tokens": -1})).starts_with("max_tokens: a whole number"));
        assert!(ask(json!({"model": "c", "max_tokens": 1e12})).starts_with("max_tokens:"));
        assert!(ask(json!({"model": "c", "stream": "yes"})).starts_with("stream:"));
        assert_eq!(
            read_ask(Provider::OpenAi, Api::Other, &json!([1])).unwrap_err(),
            "body: expected a JSON object"
        );
    }

    #[test]
    fn inline_images_count_as_media_not_as_their_base64_text() {
        let big = "A".repeat(400_000);
        let body = json!({"model": "claude", "max_tokens": 10, "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": big}},
            {"type": "text", "text": "what is this"}]}]});
        let a = read_ask(Provider::Anthropic, Api::Messages, &body).unwrap();
        assert!(a.input_estimate < 2_000, "{}", a.input_estimate);
        assert!(a.input_estimate >= INLINE_MEDIA_TOKENS);
    }

    #[test]
    fn usage_is_asked_for_once_and_clamping_sets_the_field_in_use() {
        let mut b = json!({"model": "m", "stream": true});
        assert!(ask_for_stream_usage(&mut b));
        assert_eq!(b["stream_options"]["include_usage"], true);
        assert!(!ask_for_stream_usage(&mut b), "already asked: the caller's own chunk");
        let mut c = json!({"model": "m", "max_tokens": 9000});
        clamp_max_tokens(Provider::OpenAi, Api::ChatCompletions, &mut c, 100);
        assert_eq!(c, json!({"model": "m", "max_tokens": 100}));
        let mut d = json!({"model": "m"});
        clamp_max_tokens(Provider::OpenAi, Api::ChatCompletions, &mut d, 100);
        assert_eq!(d["max_completion_tokens"], 100);
        // both limits stated: held at the larger, and both lowered (either could be honoured)
        let mut both =
            json!({"model": "m", "messages": [], "max_completion_tokens": 10, "max_tokens": 90_000});
        assert_eq!(read_ask(Provider::OpenAi, Api::ChatCompletions, &both).unwrap().max_tokens, 90_000);
        clamp_max_tokens(Provider::OpenAi, Api::ChatCompletions, &mut both, 100);
        assert_eq!((&both["max_completion_tokens"], &both["max_tokens"]), (&json!(100), &json!(100)));
        let mut other = json!({"model": "m", "prompt": "x"});
        clamp_max_tokens(Provider::OpenAi, Api::Other, &mut other, 100);
        assert_eq!(other, json!({"model": "m", "prompt": "x"}), "an unknown API gets no new field");
        let mut emb = json!({"model": "e", "input": "x"});
        clamp_max_tokens(Provider::OpenAi, Api::Embeddings, &mut emb, 100);
        assert_eq!(emb, json!({"model": "e", "input": "x"}));
    }

    #[test]
    fn openai_usage_shapes_map_to_token_classes() {
        let chat = json!({"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
            "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 7},
            "completion_tokens_details": {"reasoning_tokens": 200, "audio_tokens": 5}});
        let t = openai_tokens(&chat);
        assert_eq!(
            (t.input, t.cache_read, t.input_audio, t.output, t.reasoning, t.output_audio),
            (1200, 1024, 7, 300, 200, 5)
        );
        let responses = json!({"input_tokens": 36, "input_tokens_details": {"cached_tokens": 4},
            "output_tokens": 87, "output_tokens_details": {"reasoning_tokens": 64}, "total_tokens": 123});
        let t = openai_tokens(&responses);
        assert_eq!((t.input, t.cache_read, t.output, t.reasoning), (36, 4, 87, 64));
        let emb = openai_tokens(&json!({"prompt_tokens": 8, "total_tokens": 8}));
        assert_eq!((emb.input, emb.output), (8, 0));
    }

    #[test]
    fn anthropic_usage_adds_the_cache_to_input_and_splits_writes_by_lifetime() {
        let u = json!({"input_tokens": 10, "output_tokens": 50, "cache_read_input_tokens": 1000,
            "cache_creation_input_tokens": 300,
            "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
            "server_tool_use": {"web_search_requests": 2}});
        let t = anthropic_tokens(&u);
        assert_eq!((t.input, t.cache_read, t.cache_write_5m, t.cache_write_1h), (1310, 1000, 100, 200));
        assert_eq!((t.output, t.web_search_calls), (50, 2));
        let old = anthropic_tokens(
            &json!({"input_tokens": 1, "output_tokens": 2, "cache_creation_input_tokens": 30}),
        );
        assert_eq!((old.input, old.cache_write_5m, old.cache_write_1h), (31, 30, 0));
    }

    #[test]
    fn the_splitter_finds_events_across_any_chunking() {
        let stream = b"data: {\"a\":1}\n\nevent: x\r\ndata: 2\r\n\r\ndata: [DONE]\n\n".to_vec();
        for size in 1..stream.len() {
            let mut s = SseSplitter::default();
            let mut events = vec![];
            for chunk in stream.chunks(size) {
                events.extend(s.push(chunk));
            }
            assert!(s.rest().is_empty(), "chunk size {size}");
            assert_eq!(events.len(), 3, "chunk size {size}");
            assert_eq!(events.concat(), stream, "byte for byte at chunk size {size}");
        }
        assert_eq!(event_data(b"event: x\r\ndata: 2\r\n\r\n").as_deref(), Some("2"));
        assert_eq!(event_data(b"data:a\ndata: b\n\n").as_deref(), Some("a\nb"));
        assert_eq!(event_data(b": comment\n\n"), None);
    }

    #[test]
    fn an_openai_stream_yields_its_usage_and_drops_only_the_chunk_asked_for() {
        let mut s = StreamUsage::new(Provider::OpenAi, Api::ChatCompletions);
        let first =
            br#"data: {"model":"gpt-4o-2024-08-06","choices":[{"delta":{"content":"hi"}}],"usage":null}

"#;
        assert_eq!(s.read(first, true), Pass::Forward);
        let last = br#"data: {"model":"gpt-4o-2024-08-06","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2}}

"#;
        assert_eq!(s.read(last, true), Pass::Drop);
        assert_eq!(s.read(last, false), Pass::Forward);
        assert_eq!(s.read(b"data: [DONE]\n\n", true), Pass::Forward);
        let u = s.usage();
        assert_eq!(u.model.as_deref(), Some("gpt-4o-2024-08-06"));
        assert_eq!(u.tokens.map(|t| (t.input, t.output)), Some((9, 2)));
    }

    #[test]
    fn an_anthropic_stream_takes_the_last_cumulative_counts() {
        let mut s = StreamUsage::new(Provider::Anthropic, Api::Messages);
        s.read(b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":25,\"output_tokens\":1,\"cache_read_input_tokens\":100}}}\n\n", false);
        s.read(b"event: ping\ndata: {\"type\":\"ping\"}\n\n", false);
        s.read(
            b"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\n\n",
            false,
        );
        s.read(
            b"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":40}}\n\n",
            false,
        );
        let t = s.usage().tokens.unwrap();
        assert_eq!((t.input, t.cache_read, t.output), (125, 100, 40));
        assert_eq!(s.usage().model.as_deref(), Some("claude-sonnet-4-5"));
    }

    #[test]
    fn a_responses_stream_reads_the_completed_response() {
        let mut s = StreamUsage::new(Provider::OpenAi, Api::Responses);
        s.read(b"event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"model\":\"gpt-5\",\"usage\":null}}\n\n", false);
        assert_eq!(s.usage().tokens, None);
        s.read(b"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"model\":\"gpt-5\",\"output\":[{\"type\":\"web_search_call\"},{\"type\":\"message\"}],\"usage\":{\"input_tokens\":5,\"output_tokens\":7}}}\n\n", false);
        let t = s.usage().tokens.unwrap();
        assert_eq!((t.input, t.output, t.web_search_calls), (5, 7, 1));
    }

    #[test]
    fn attribution_headers_are_read_and_mistakes_named() {
        let h = [
            ("X-Costroom-Feature", "faq"),
            ("x-costroom-retry", "2"),
            ("x-costroom-tags", "tier=free, region=eu"),
            ("authorization", "Bearer x"),
        ];
        let a = read_attribution(h.into_iter()).unwrap();
        assert_eq!(a.feature.as_deref(), Some("faq"));
        assert_eq!(a.retry, 2);
        assert_eq!(a.tags, vec![("region".into(), "eu".into()), ("tier".into(), "free".into())]);
        assert!(read_attribution([("x-costroom-retry", "-1")].into_iter())
            .unwrap_err()
            .starts_with("x-costroom-retry:"));
        assert!(read_attribution([("x-costroom-team", "a")].into_iter())
            .unwrap_err()
            .contains("unknown header"));
        assert!(read_attribution([("x-costroom-tags", "novalue")].into_iter())
            .unwrap_err()
            .contains("key=value"));
    }
}
