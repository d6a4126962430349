//! A local stand-in for the OpenAI and Anthropic APIs, for the gateway's tests, its benchmark
//! and the end-to-end test with the official SDKs. It answers in the providers' shapes
//! (bodies and server-sent events), keeps its own log of every request it received (path,
//! credentials, attribution headers seen, body), and behaves by the requested model:
//!
//! - `fail-400`, `fail-429`, `fail-500`: that error, in the provider's error shape;
//! - `slow-<ms>`: answers after that many milliseconds;
//! - `cut`: a stream that breaks after its first events (the connection drops);
//! - `drip`: a stream of 50 events 20 ms apart (for a caller that leaves early);
//! - anything else: a normal answer whose usage is [`usage_of`] the model.
//!
//! A request header `x-fake-usage: <JSON object>` makes a non-streamed answer report exactly
//! that `usage` (to replay the usage shapes of real reports and spans).
//!
//! Streams are sent in deliberately odd chunks (events split mid-line) so the gateway's
//! event splitter is exercised as by real networks.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

/// One request as the fake upstream received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    /// `Authorization` (OpenAI) or `x-api-key` (Anthropic) as received.
    pub credential: Option<String>,
    /// Names of `x-costroom-*` headers that reached the upstream (should be none).
    pub costroom_headers: Vec<String>,
    pub body: Value,
}

#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    pub fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The usage a normal answer reports for `model`: input, cached input, output, reasoning
/// (OpenAI) — fixed per model so tests can price them by hand.
pub fn usage_of(model: &str) -> (i64, i64, i64, i64) {
    match model {
        m if m.starts_with("gpt-4o-mini") => (500, 0, 40, 0),
        m if m.starts_with("gpt-4o") => (1_200, 1_024, 300, 0),
        m if m.starts_with("o3") || m.starts_with("gpt-5") => (2_000, 0, 1_500, 1_000),
        m if m.starts_with("text-embedding") => (8, 0, 0, 0),
        m if m.starts_with("claude") => (10, 1_000, 50, 0),
        _ => (100, 0, 10, 0),
    }
}

/// Serves the fake on `127.0.0.1:<any port>`; returns its base address
/// (`http://127.0.0.1:port`) and log. The server runs until the runtime ends.
pub async fn start() -> (String, Log) {
    let log = Log::default();
    let app = Router::new()
        .route("/v1/chat/completions", post(openai))
        .route("/v1/responses", post(openai))
        .route("/v1/embeddings", post(openai))
        .route("/v1/messages", post(anthropic))
        .route("/v1/models", get(models))
        .route("/v1/{*rest}", post(other))
        .with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a local port");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), log)
}

fn remember(log: &Log, path: &str, headers: &HeaderMap, body: &Bytes) -> Value {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let credential = headers
        .get("authorization")
        .or_else(|| headers.get("x-api-key"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let costroom_headers =
        headers.keys().map(|k| k.as_str().to_string()).filter(|k| k.starts_with("x-costroom-")).collect();
    log.0.lock().unwrap_or_else(|e| e.into_inner()).push(Seen {
        path: path.into(),
        credential,
        costroom_headers,
        body: body.clone(),
    });
    body
}

/// The pause between a stream's pieces: `drip` is slow; a `cut` comes after the first events
/// have left (headers and all), as a dropped connection mid-answer does.
fn gap_of(model: &str) -> Duration {
    match model {
        "drip" => Duration::from_millis(20),
        "cut" => Duration::from_millis(10),
        _ => Duration::ZERO,
    }
}

async fn behave(model: &str) -> Option<u16> {
    if let Some(ms) = model.strip_prefix("slow-").and_then(|m| m.parse::<u64>().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    model.strip_prefix("fail-").and_then(|c| c.parse().ok())
}

/// The answer's `usage` replaced by the `x-fake-usage` header's, when the request has one.
fn usage_from(headers: &HeaderMap, mut v: Value) -> Value {
    let asked = headers.get("x-fake-usage").and_then(|h| serde_json::from_slice::<Value>(h.as_bytes()).ok());
    if let (Some(u), Some(obj)) = (asked, v.as_object_mut()) {
        obj.insert("usage".into(), u);
    }
    v
}

fn json_answer(status: u16, v: Value) -> Response {
    let mut r = (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), v.to_string()).into_response();
    r.headers_mut().insert("content-type", "application/json".parse().expect("a header"));
    r.headers_mut().insert("x-request-id", "req_fake_123".parse().expect("a header"));
    r
}

/// Events sent in odd chunks: each event split after its 7th byte, the pieces sent
/// separately.
fn sse(events: Vec<String>, cut_after: Option<usize>, gap: Duration) -> Response {
    let stream = async_stream(events, cut_after, gap);
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut().insert("content-type", "text/event-stream; charset=utf-8".parse().expect("a header"));
    r.headers_mut().insert("x-request-id", "req_fake_stream".parse().expect("a header"));
    r
}

fn async_stream(
    events: Vec<String>,
    cut_after: Option<usize>,
    gap: Duration,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    let mut pieces: Vec<Result<Bytes, std::io::Error>> = vec![];
    for (i, e) in events.into_iter().enumerate() {
        if cut_after == Some(i) {
            pieces.push(Err(std::io::Error::other("the fake upstream drops the connection")));
            break;
        }
        let b = e.into_bytes();
        let at = b.len().min(7);
        pieces.push(Ok(Bytes::copy_from_slice(&b[..at])));
        pieces.push(Ok(Bytes::copy_from_slice(&b[at..])));
    }
    futures_util::stream::unfold((pieces.into_iter(), true), move |(mut it, first)| async move {
        let next = it.next()?;
        if !first && !gap.is_zero() {
            tokio::time::sleep(gap / 2).await;
        }
        Some((next, (it, false)))
    })
}

/// The bytes a normal OpenAI chat stream for `model` sends (with the usage chunk when
/// asked), so tests can compare what the caller received.
pub fn openai_chat_events(model: &str, with_usage: bool) -> Vec<String> {
    let (input, cached, output, reasoning) = usage_of(model);
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_764_000_000,
                "model": format!("{model}-2024-08-06"), "choices": [{"index": 0, "delta": delta,
                "finish_reason": finish}], "usage": null})
        )
    };
    let mut out = vec![
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        chunk(json!({"content": "Hello"}), Value::Null),
        chunk(json!({"content": " there"}), Value::Null),
        chunk(json!({}), json!("stop")),
    ];
    if with_usage {
        out.push(format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_764_000_000,
                "model": format!("{model}-2024-08-06"), "choices": [], "usage": {"prompt_tokens": input,
                "completion_tokens": output, "total_tokens": input + output,
                "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0}}})
        ));
    }
    out.push("data: [DONE]\n\n".into());
    out
}

fn openai_error(status: u16) -> Value {
    let (kind, code) = match status {
        429 => ("requests", "rate_limit_exceeded"),
        400 => ("invalid_request_error", "invalid_value"),
        _ => ("server_error", "server_error"),
    };
    json!({"error": {"message": format!("fake upstream error {status}"), "type": kind, "param": null, "code": code}})
}

async fn openai(State(log): State<Log>, uri: axum::http::Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_string();
    let req = remember(&log, &path, &headers, &body);
    let model = req["model"].as_str().unwrap_or("").to_string();
    if let Some(status) = behave(&model).await {
        return json_answer(status, openai_error(status));
    }
    let (input, cached, output, reasoning) = usage_of(&model);
    let stream = req["stream"].as_bool().unwrap_or(false);
    let with_usage = req["stream_options"]["include_usage"].as_bool().unwrap_or(false);
    let gap = gap_of(&model);
    match path.as_str() {
        "/v1/chat/completions" if stream => {
            let mut events = openai_chat_events(&model, with_usage);
            if model == "drip" {
                let one = events[1].clone();
                events.splice(1..2, std::iter::repeat_n(one, 50));
            }
            sse(events, (model == "cut").then_some(2), gap)
        }
        "/v1/chat/completions" => json_answer(
            200,
            usage_from(
                &headers,
                json!({"id": "chatcmpl-fake", "object": "chat.completion", "created": 1_764_000_000,
                "model": format!("{model}-2024-08-06"), "choices": [{"index": 0, "message": {"role": "assistant",
                "content": "Hello there"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": input,
                "completion_tokens": output, "total_tokens": input + output,
                "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0}},
                "service_tier": "default", "system_fingerprint": "fp_fake"}),
            ),
        ),
        "/v1/responses" => {
            let response = json!({"id": "resp_fake", "object": "response", "created_at": 1_764_000_000,
                "status": "completed", "model": format!("{model}-2025-08-07"),
                "output": [{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": "Hello there", "annotations": []}]}],
                "usage": {"input_tokens": input, "input_tokens_details": {"cached_tokens": cached},
                    "output_tokens": output, "output_tokens_details": {"reasoning_tokens": reasoning},
                    "total_tokens": input + output}});
            if stream {
                let mut created = response.clone();
                created["status"] = "in_progress".into();
                created["usage"] = Value::Null;
                created["output"] = json!([]);
                let ev = |kind: &str, data: Value| format!("event: {kind}\ndata: {data}\n\n");
                sse(
                    vec![
                        ev(
                            "response.created",
                            json!({"type": "response.created", "sequence_number": 0, "response": created}),
                        ),
                        ev(
                            "response.output_text.delta",
                            json!({"type": "response.output_text.delta", "sequence_number": 1,
                            "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Hello there"}),
                        ),
                        ev(
                            "response.completed",
                            json!({"type": "response.completed", "sequence_number": 2, "response": response}),
                        ),
                    ],
                    (model == "cut").then_some(2),
                    gap,
                )
            } else {
                json_answer(200, usage_from(&headers, response))
            }
        }
        _ => json_answer(
            200,
            usage_from(
                &headers,
                json!({"object": "list", "data": [{"object": "embedding", "index": 0,
                "embedding": [0.1, -0.2]}], "model": model, "usage": {"prompt_tokens": input, "total_tokens": input}}),
            ),
        ),
    }
}

/// The bytes a normal Anthropic message stream for `model` sends.
pub fn anthropic_events(model: &str) -> Vec<String> {
    let (input, cached, output, _) = usage_of(model);
    let ev = |kind: &str, data: Value| format!("event: {kind}\ndata: {data}\n\n");
    vec![
        ev(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_fake", "type": "message",
            "role": "assistant", "model": model, "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": input, "cache_creation_input_tokens": 0, "cache_read_input_tokens": cached,
            "output_tokens": 1}}}),
        ),
        ev(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ),
        ev("ping", json!({"type": "ping"})),
        ev(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": "Hello there"}}),
        ),
        ev("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        ev(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn",
            "stop_sequence": null}, "usage": {"output_tokens": output}}),
        ),
        ev("message_stop", json!({"type": "message_stop"})),
    ]
}

async fn anthropic(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> Response {
    let req = remember(&log, "/v1/messages", &headers, &body);
    let model = req["model"].as_str().unwrap_or("").to_string();
    if let Some(status) = behave(&model).await {
        let kind = match status {
            429 => "rate_limit_error",
            400 => "invalid_request_error",
            _ => "api_error",
        };
        return json_answer(
            status,
            json!({"type": "error", "error": {"type": kind, "message": format!("fake upstream error {status}")}}),
        );
    }
    let (input, cached, output, _) = usage_of(&model);
    if req["stream"].as_bool().unwrap_or(false) {
        let gap = gap_of(&model);
        let mut events = anthropic_events(&model);
        if model == "drip" {
            let one = events[3].clone();
            events.splice(3..4, std::iter::repeat_n(one, 50));
        }
        return sse(events, (model == "cut").then_some(3), gap);
    }
    json_answer(
        200,
        usage_from(
            &headers,
            json!({"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": "Hello there"}], "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": input, "cache_creation_input_tokens": 0, "cache_read_input_tokens": cached,
            "output_tokens": output}}),
        ),
    )
}

async fn models(State(log): State<Log>, headers: HeaderMap) -> Response {
    remember(&log, "/v1/models", &headers, &Bytes::new());
    json_answer(
        200,
        json!({"object": "list", "data": [{"id": "gpt-4o", "object": "model", "owned_by": "openai"}]}),
    )
}

async fn other(
    State(log): State<Log>,
    Path(rest): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    remember(&log, &format!("/v1/{rest}"), &headers, &body);
    json_answer(200, json!({"ok": true}))
}
