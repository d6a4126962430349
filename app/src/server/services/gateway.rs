//! The gateway: an OpenAI- and Anthropic-compatible pass-through. A call arrives with a
//! Costroom key of scope `gateway`; the guardrails engine authorizes it (holding the worst
//! case); it goes to the organisation's upstream for the provider with the provider key,
//! which is stored sealed; the answer comes back unchanged (streams event by event, never
//! buffered whole); then the usage the provider reported is priced, stored as an event with
//! the caller's attribution, and the reservation settled. An upstream error or a caller that
//! leaves releases the hold; the call is recorded with its status either way.
//!
//! Prompts and completions pass through memory only: nothing of a body is stored or logged.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};

use crate::domain::api_key::Scope;
use crate::domain::gateway::{
    ask_for_stream_usage, clamp_max_tokens, read_ask, read_attribution, read_response, Api, Ask, Attribution,
    Pass, Provider, SseSplitter, StreamUsage, UpstreamView, Usage, HEADER_PREFIX,
};
use crate::domain::guardrail::Call;
use crate::domain::pricing::ServiceTier;
use crate::domain::usage::CostSource;
use crate::domain::{Nanos, UsageEvent};
use crate::error::{internal, AppError};
use crate::server::auth::password::random_secret;
use crate::server::auth::sealer::Sealer;
use crate::server::db::gateway::{NewUpstream, UpstreamRow};
use crate::server::db::{Actor, ApiKeyRow, Db, NewAudit, OrgId};
use crate::server::services::guardrails::{authorize, Decision, Guard};
use crate::server::services::keys::KeyHasher;
use crate::server::services::prices::PriceCache;
use crate::server::services::webhooks::Egress;

/// How long a gateway call's reservation is held if the server never settles it (a crash):
/// long enough for a long stream; the call settles at its end otherwise.
pub const RESERVATION_TTL_SECS: i64 = 900;

/// The longest wait for an upstream's next bytes (a reasoning model can think for minutes
/// before the first token).
const READ_TIMEOUT: Duration = Duration::from_secs(600);

/// The HTTP client to the upstreams, the server's key for the sealed provider keys, and the
/// calls still being recorded.
#[derive(Clone)]
pub struct Gateway {
    client: reqwest::Client,
    sealer: Option<Sealer>,
    pending: Arc<Pending>,
    recorder: Arc<OnceLock<mpsc::Sender<Record>>>,
}

/// A finished call on its way to the database.
struct Record {
    org: OrgId,
    event: UsageEvent,
    /// The hold to release (the call reported no usage).
    release: Option<String>,
    _pending: PendingGuard,
}

/// Calls recorded in one write at most.
const RECORD_BATCH: usize = 512;

#[derive(Default)]
struct Pending {
    n: AtomicUsize,
    idle: Notify,
}

impl Gateway {
    pub fn new(egress: &Egress, sealer: Option<Sealer>) -> Result<Gateway, AppError> {
        let client = reqwest::Client::builder()
            .dns_resolver(egress.resolver())
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(READ_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(90))
            // a redirect could carry the provider key somewhere the admin did not configure
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(internal)?;
        Ok(Gateway { client, sealer, pending: Default::default(), recorder: Default::default() })
    }

    pub fn sealer(&self) -> Option<&Sealer> {
        self.sealer.as_ref()
    }

    /// Waits until every call answered so far is recorded (tests, shutdown).
    pub async fn idle(&self) {
        loop {
            let notified = self.pending.idle.notified();
            if self.pending.n.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// The recorder's queue, its task started on first use (on the caller's runtime).
    fn recorder(&self, db: &Db, prices: &PriceCache) -> mpsc::Sender<Record> {
        self.recorder
            .get_or_init(|| {
                let (tx, rx) = mpsc::channel(4 * RECORD_BATCH);
                tokio::spawn(run_recorder(db.clone(), prices.clone(), rx));
                tx
            })
            .clone()
    }

    fn start(&self) -> PendingGuard {
        self.pending.n.fetch_add(1, Ordering::SeqCst);
        PendingGuard(self.pending.clone())
    }
}

/// Counts a call being recorded until dropped.
struct PendingGuard(Arc<Pending>);

impl Drop for PendingGuard {
    fn drop(&mut self) {
        if self.0.n.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

fn context(org: OrgId, provider: &str) -> String {
    format!("upstream:{}:{provider}", org.0)
}

// ------------------------------------------------------------------ upstreams

pub async fn upstreams(db: &Db, gw: &Gateway, org: OrgId) -> Result<Vec<UpstreamView>, AppError> {
    Ok(db
        .upstreams(org)
        .await?
        .into_iter()
        .map(|u| UpstreamView {
            usable: gw
                .sealer
                .as_ref()
                .is_some_and(|s| s.open(&u.key_sealed, &context(org, &u.provider)).is_ok()),
            provider: u.provider,
            base_url: u.base_url,
            key_hint: u.key_hint,
            updated_by: u.updated_by,
            updated_at: u.updated_at,
        })
        .collect())
}

/// Checks a base URL: http(s), a host, no credentials, query or fragment; trailing `/` dropped.
pub fn check_base_url(url: &str) -> Result<String, AppError> {
    let url = url.trim().trim_end_matches('/');
    let bad = |why: &str| AppError::Invalid(format!("base_url: {why} (e.g. https://api.openai.com/v1)"));
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("must start with https:// or http://"))?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    if host.contains('@')
        || url.contains(['?', '#'])
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad("may not hold credentials, a query, a fragment or spaces"));
    }
    if url.len() > 500 {
        return Err(bad("at most 500 characters"));
    }
    Ok(url.to_string())
}

/// An upstream as typed: `key` is `None` to keep the stored one.
pub struct UpstreamInput<'a> {
    pub provider: &'a str,
    pub base_url: &'a str,
    pub key: Option<&'a str>,
}

// The key must never reach a log line.
impl std::fmt::Debug for UpstreamInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamInput")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("key", &self.key.map(|_| "<redacted>"))
            .finish()
    }
}

/// Creates or changes the organisation's upstream for a provider. The key is sealed before
/// it is stored and never logged or returned.
#[tracing::instrument(skip(db, gw, egress), err(Debug, level = "info"))]
pub async fn save_upstream(
    db: &Db,
    gw: &Gateway,
    egress: &Egress,
    org: OrgId,
    actor: &Actor,
    input: UpstreamInput<'_>,
) -> Result<UpstreamView, AppError> {
    let UpstreamInput { provider, base_url, key } = input;
    let p = Provider::parse(provider).ok_or_else(|| {
        AppError::Invalid(format!("provider: '{provider}' is not one of openai, anthropic"))
    })?;
    let base_url =
        if base_url.trim().is_empty() { p.default_base_url().to_string() } else { check_base_url(base_url)? };
    egress.check(&base_url).await.map_err(|e| match e {
        AppError::Invalid(m) => AppError::Invalid(m.replacen("url:", "base_url:", 1)),
        other => other,
    })?;
    let key = key.map(str::trim).filter(|k| !k.is_empty());
    if let Some(k) = key {
        if k.len() > 1_000 || !k.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AppError::invalid("api_key: at most 1,000 visible characters, no spaces"));
        }
    }
    let sealed = match key {
        Some(k) => {
            let sealer = gw.sealer.as_ref().ok_or_else(|| {
                AppError::invalid(
                    "api_key: this server has no secret key to encrypt provider keys with; start it with \
                    COSTROOM_SECRET_KEY_FILE (make one with `costroom secret generate`)",
                )
            })?;
            let hint: String = k.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
            Some((sealer.seal(k, &context(org, p.as_str())), format!("…{hint}")))
        }
        None => None,
    };
    let audit = NewAudit {
        actor: actor.clone(),
        action: "gateway.upstream.save",
        entity: "gateway_upstream",
        entity_id: p.as_str().to_string(),
        summary: format!(
            "{} upstream {base_url}{}",
            p.as_str(),
            sealed.as_ref().map(|(_, h)| format!(", key {h}")).unwrap_or_default()
        ),
        before: None,
        after: Some(json!({"provider": p.as_str(), "base_url": base_url, "key_changed": sealed.is_some()})),
    };
    let saved = db
        .save_upstream(
            org,
            NewUpstream {
                provider: p.as_str(),
                base_url: &base_url,
                key: sealed.as_ref().map(|(s, h)| (s.as_str(), h.as_str())),
            },
            actor.user.map(|u| u.0),
            &audit,
        )
        .await?;
    if !saved {
        return Err(AppError::invalid("api_key: required for a new upstream"));
    }
    upstreams(db, gw, org)
        .await?
        .into_iter()
        .find(|u| u.provider == p.as_str())
        .ok_or_else(|| internal("saved upstream not found"))
}

pub async fn delete_upstream(db: &Db, org: OrgId, actor: &Actor, provider: &str) -> Result<(), AppError> {
    let audit = NewAudit {
        actor: actor.clone(),
        action: "gateway.upstream.delete",
        entity: "gateway_upstream",
        entity_id: provider.to_string(),
        summary: format!("{provider} upstream removed"),
        before: None,
        after: None,
    };
    if !db.delete_upstream(org, provider, &audit).await? {
        return Err(AppError::NotFound(format!("upstream {provider}")));
    }
    Ok(())
}

/// What key rotation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotated {
    pub resealed: usize,
    pub current: usize,
    /// Sealed under a key this server does not have: left as they are, named in the log.
    pub unreadable: usize,
}

/// Seals every stored provider key under the current key (after a change of secret key,
/// with the old one still in `COSTROOM_PREVIOUS_SECRET_KEYS`).
pub async fn rotate(db: &Db, sealer: &Sealer) -> Result<Rotated, AppError> {
    let mut out = Rotated::default();
    for u in db.all_upstreams().await? {
        if sealer.is_current(&u.key_sealed) {
            out.current += 1;
            continue;
        }
        let ctx = context(OrgId(u.org_id), &u.provider);
        match sealer.open(&u.key_sealed, &ctx) {
            Ok(k) => {
                if db.reseal_upstream(u.id, &u.key_sealed, &sealer.seal(&k, &ctx)).await? {
                    out.resealed += 1;
                }
            }
            Err(e) => {
                tracing::warn!(org = u.org_id, provider = %u.provider, reason = %e, "upstream key not resealed");
                out.unreadable += 1;
            }
        }
    }
    Ok(out)
}

// ------------------------------------------------------------------ calls

/// Request headers never forwarded: hop-by-hop, those the client's own connection set, the
/// caller's Costroom credentials and cookies, and compression (usage must be readable).
const DROP_REQUEST: [&str; 14] = [
    "host",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",
    "accept-encoding",
    "authorization",
    "x-api-key",
];

/// Response headers not passed back: hop-by-hop, and the length (the body is re-framed).
const DROP_RESPONSE: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

/// An error in the provider's own shape, so its SDKs raise their usual exceptions.
pub fn provider_error(
    p: Provider,
    status: StatusCode,
    code: &str,
    message: &str,
    extra: Option<Value>,
) -> Response {
    let body = match p {
        Provider::OpenAi => {
            let kind = match status.as_u16() {
                402 | 403 if code != "forbidden" && code != "unauthorized" => "costroom_guardrail",
                429 => "rate_limit_exceeded",
                500..=599 => "server_error",
                _ => "invalid_request_error",
            };
            let mut e = json!({"message": message, "type": kind, "param": null, "code": code});
            if let Some(x) = extra {
                e["costroom"] = x;
            }
            json!({ "error": e })
        }
        Provider::Anthropic => {
            let kind = match status.as_u16() {
                400 | 422 => "invalid_request_error",
                401 => "authentication_error",
                402 => "billing_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                503 | 529 => "overloaded_error",
                _ => "api_error",
            };
            let mut e = json!({"type": kind, "message": message});
            if let Some(x) = extra {
                e["costroom"] = x;
            }
            json!({"type": "error", "error": e})
        }
    };
    (status, axum::Json(body)).into_response()
}

fn app_error(p: Provider, e: &AppError) -> Response {
    let status = match e {
        // a body the gateway cannot read is the caller's mistake, as the provider would say
        AppError::Invalid(_) => StatusCode::BAD_REQUEST,
        _ => e.status(),
    };
    let message = match e {
        AppError::Unauthorized => {
            "invalid Costroom API key (a key with scope gateway, sent as the SDK's API key)".into()
        }
        AppError::Forbidden => "this Costroom key does not have scope gateway".into(),
        other => other.to_string(),
    };
    let mut res = provider_error(p, status, e.code(), &message, None);
    if matches!(e, AppError::Busy) {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    res
}

/// What a gateway call uses of the server's state.
#[derive(Clone, Copy)]
pub struct Deps<'a> {
    pub db: &'a Db,
    pub prices: &'a PriceCache,
    pub guard: &'a Guard,
    pub keys: &'a KeyHasher,
    pub gateway: &'a Gateway,
}

/// The caller's Costroom key: OpenAI's SDKs send it as `Authorization: Bearer`, Anthropic's
/// as `x-api-key`.
async fn caller(st: Deps<'_>, headers: &HeaderMap) -> Result<ApiKeyRow, AppError> {
    let bearer;
    let auth = match headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(a) => Some(a),
        None => match headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
            Some(k) => {
                bearer = format!("Bearer {}", k.trim());
                Some(bearer.as_str())
            }
            None => None,
        },
    };
    crate::server::services::keys::authenticate(st.db, st.keys, auth, Some(Scope::Gateway), Utc::now()).await
}

/// What is recorded when the call ends.
struct Ctx {
    recorder: mpsc::Sender<Record>,
    key: ApiKeyRow,
    provider: Provider,
    api: Api,
    model: String,
    who: Attribution,
    reservation: Option<String>,
    /// This call's step in its trace (when the caller names a trace), returned to the caller
    /// in `x-costroom-span-id` so its next call can name it as parent.
    span_id: Option<String>,
    started: DateTime<Utc>,
    t0: Instant,
    _pending: PendingGuard,
}

/// A call through the gateway: `path` is what follows `/gateway/<provider>/v1/`.
pub async fn forward(
    st: Deps<'_>,
    provider: Provider,
    method: Method,
    path: &str,
    query: Option<&str>,
    headers: HeaderMap,
    body: Vec<u8>,
) -> Response {
    match forward_inner(st, provider, method, path, query, headers, body).await {
        Ok(r) => r,
        Err(e) => app_error(provider, &e),
    }
}

/// The upstream failed before answering whole: the call is recorded with `code` as its status
/// (releasing its hold) and the caller gets a 502 in the provider's shape.
async fn upstream_failed(ctx: Ctx, e: &reqwest::Error, code: &str, message: &str) -> Response {
    let provider = ctx.provider;
    tracing::warn!(provider = provider.as_str(), error = %redact(e), code, "gateway: upstream failed");
    finish(ctx, code.into(), Usage::default()).await;
    provider_error(provider, StatusCode::BAD_GATEWAY, code, message, None)
}

async fn forward_inner(
    st: Deps<'_>,
    provider: Provider,
    method: Method,
    path: &str,
    query: Option<&str>,
    headers: HeaderMap,
    body: Vec<u8>,
) -> Result<Response, AppError> {
    let started = Utc::now();
    let t0 = Instant::now();
    let key = caller(st, &headers).await?;
    let org = OrgId(key.org_id);
    let who = read_attribution(headers.iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))))
        .map_err(AppError::Invalid)?;
    let row = st.db.upstream(org, provider.as_str()).await?.ok_or_else(|| {
        AppError::Denied(format!(
            "no {} upstream is set up in Costroom; an admin adds one under Settings → Gateway",
            provider.as_str()
        ))
    })?;
    let provider_key = open_key(st.gateway, org, &row)?;
    let api = Api::of(provider, path);
    // a JSON body naming a model is a call that can spend: it is authorized first
    let mut json: Option<Value> = (method == Method::POST && !body.is_empty())
        .then(|| serde_json::from_slice(&body).ok())
        .flatten()
        .filter(|v: &Value| v.get("model").is_some() || api != Api::Other);
    let ask = match &json {
        Some(v) => Some(read_ask(provider, api, v).map_err(AppError::Invalid)?),
        None if api != Api::Other && method == Method::POST => {
            return Err(AppError::invalid("body: expected a JSON object with a model"))
        }
        None => None,
    };
    let mut decision: Option<Decision> = None;
    if let Some(ask) = &ask {
        let call = call_of(provider, ask, &who);
        let d = authorize(st.db, st.prices, st.guard, &key, call, RESERVATION_TTL_SECS, started).await?;
        if d.decision != "allow" {
            return Ok(denied(provider, &d));
        }
        decision = Some(d);
    }
    // the body changes only where Costroom must: a clamped max_tokens, and the usage chunk of
    // an OpenAI chat stream asked for when the caller did not
    let mut drop_usage_chunk = false;
    let mut rewrite = false;
    if let (Some(v), Some(ask)) = (&mut json, &ask) {
        if let Some(to) = decision.as_ref().and_then(|d| d.max_tokens) {
            clamp_max_tokens(provider, api, v, to);
            rewrite = true;
        }
        if provider == Provider::OpenAi && api == Api::ChatCompletions && ask.stream {
            drop_usage_chunk = ask_for_stream_usage(v);
            rewrite |= drop_usage_chunk;
        }
    }
    let body = match (&json, rewrite) {
        (Some(v), true) => serde_json::to_vec(v).map_err(internal)?,
        _ => body,
    };
    let reservation = decision.as_ref().and_then(|d| d.reservation_id.clone());
    let span_id = who.trace_id.as_ref().map(|_| random_secret(16));
    let ctx = Ctx {
        recorder: st.gateway.recorder(st.db, st.prices),
        key,
        provider,
        api,
        model: ask.as_ref().map(|a| a.model.clone()).unwrap_or_default(),
        who,
        reservation,
        span_id: span_id.clone(),
        started,
        t0,
        _pending: st.gateway.start(),
    };
    let url = match query {
        Some(q) => format!("{}/{}?{q}", row.base_url, path.trim_start_matches('/')),
        None => format!("{}/{}", row.base_url, path.trim_start_matches('/')),
    };
    let mut out = st.gateway.client.request(method, &url).body(body);
    for (name, value) in headers.iter() {
        let n = name.as_str();
        if !DROP_REQUEST.contains(&n) && !n.starts_with(HEADER_PREFIX) && n != "cookie" {
            out = out.header(name, value);
        }
    }
    out = match provider {
        Provider::OpenAi => out.bearer_auth(&provider_key),
        Provider::Anthropic => out.header("x-api-key", &provider_key),
    };
    let upstream = match out.send().await {
        Ok(r) => r,
        Err(e) => {
            let message = format!("Costroom could not reach the {} upstream", provider.as_str());
            return Ok(upstream_failed(ctx, &e, "upstream_unreachable", &message).await);
        }
    };
    let status = upstream.status();
    let mut res_headers = HeaderMap::new();
    for (name, value) in upstream.headers() {
        if !DROP_RESPONSE.contains(&name.as_str()) {
            res_headers.append(name.clone(), value.clone());
        }
    }
    if let Some(d) = &decision {
        add_decision_headers(&mut res_headers, d);
    }
    if let Some(span) = span_id.as_deref().and_then(|s| HeaderValue::from_str(s).ok()) {
        res_headers.insert(HeaderName::from_static("x-costroom-span-id"), span);
    }
    let is_stream = upstream
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.trim_start().starts_with("text/event-stream"));
    let status = StatusCode::from_u16(status.as_u16()).map_err(internal)?;
    if is_stream {
        let body = stream_through(ctx, upstream, status, drop_usage_chunk);
        let mut res = Response::new(body);
        *res.status_mut() = status;
        *res.headers_mut() = res_headers;
        return Ok(res);
    }
    let bytes = match upstream.bytes().await {
        Ok(b) => b,
        Err(e) => {
            let message = "the upstream's answer was cut short";
            return Ok(upstream_failed(ctx, &e, "upstream_disconnected", message).await);
        }
    };
    let usage =
        serde_json::from_slice::<Value>(&bytes).map(|v| read_response(provider, api, &v)).unwrap_or_default();
    let label = status_label(status);
    tokio::spawn(finish(ctx, label, usage));
    let mut res = Response::new(Body::from(bytes));
    *res.status_mut() = status;
    *res.headers_mut() = res_headers;
    Ok(res)
}

fn open_key(gw: &Gateway, org: OrgId, row: &UpstreamRow) -> Result<String, AppError> {
    let sealer = gw.sealer.as_ref().ok_or_else(|| {
        AppError::Denied("this Costroom server has no secret key to open provider keys with".into())
    })?;
    sealer.open(&row.key_sealed, &context(org, &row.provider)).map_err(|e| {
        tracing::error!(org = org.0, provider = %row.provider, reason = %e, "gateway: upstream key does not open");
        AppError::Denied(format!("the {} upstream's key cannot be opened by this server ({e})", row.provider))
    })
}

/// A reqwest error without its URL (which may hold an internal address).
fn redact(e: &reqwest::Error) -> String {
    let mut s = match e.url() {
        Some(u) => e.to_string().replace(u.as_str(), "<upstream>"),
        None => e.to_string(),
    };
    let mut source = std::error::Error::source(e);
    while let Some(c) = source {
        s.push_str(": ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    s
}

fn status_label(status: StatusCode) -> String {
    if status.is_success() {
        "ok".into()
    } else {
        format!("http_{}", status.as_u16())
    }
}

fn call_of(provider: Provider, ask: &Ask, who: &Attribution) -> Call {
    Call {
        team: None,
        feature: who.feature.clone(),
        initiative: None,
        customer: who.customer.clone(),
        environment: who.environment.clone(),
        api_key: None,
        trace_id: who.trace_id.clone(),
        depth: who.depth,
        retry: who.retry,
        provider: provider.as_str().into(),
        model: ask.model.clone(),
        input_tokens: ask.input_estimate,
        // embeddings produce nothing, but a rule on max_tokens reads at least 1
        max_tokens: ask.max_tokens.max(1),
        worst_case: None,
    }
}

fn denied(p: Provider, d: &Decision) -> Response {
    let status = StatusCode::from_u16(d.status()).unwrap_or(StatusCode::FORBIDDEN);
    let message = d.denied.iter().map(|x| x.message.as_str()).collect::<Vec<_>>().join("; ");
    let code = d.denied.first().map(|x| x.code.as_str()).unwrap_or("denied");
    let extra = json!({"denied": d.denied, "failure_mode": d.failure_mode});
    let mut res = provider_error(p, status, code, &format!("Costroom guardrails: {message}"), Some(extra));
    if let Some(secs) = d.retry_after_secs.filter(|_| matches!(d.status(), 429 | 503)) {
        res.headers_mut().insert(header::RETRY_AFTER, secs.into());
    }
    add_decision_headers(res.headers_mut(), d);
    res
}

fn add_decision_headers(h: &mut HeaderMap, d: &Decision) {
    if let Some(id) = d.reservation_id.as_deref().and_then(|id| HeaderValue::from_str(id).ok()) {
        h.insert(HeaderName::from_static("x-costroom-reservation-id"), id);
    }
    if let Some(n) = d.max_tokens {
        h.insert(HeaderName::from_static("x-costroom-max-tokens"), HeaderValue::from(n));
    }
    let mut codes: Vec<&str> = d.warnings.iter().map(|w| w.code.as_str()).collect();
    codes.dedup();
    if let Ok(v) = HeaderValue::from_str(&codes.join(",")) {
        if !codes.is_empty() {
            h.insert(HeaderName::from_static("x-costroom-warnings"), v);
        }
    }
}

/// Forwards a server-sent event stream event by event as it arrives, reading usage on the
/// way. A pump task owns the upstream: when the caller goes away it stops reading (closing
/// the upstream connection) and records the call as `client_disconnected`.
fn stream_through(
    ctx: Ctx,
    mut upstream: reqwest::Response,
    status: StatusCode,
    drop_usage_chunk: bool,
) -> Body {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        let mut split = SseSplitter::default();
        let mut reader = StreamUsage::new(ctx.provider, ctx.api);
        let label = loop {
            let chunk = tokio::select! {
                c = upstream.chunk() => c,
                _ = tx.closed() => break "client_disconnected".to_string(),
            };
            match chunk {
                Ok(Some(chunk)) => {
                    let mut out = Vec::with_capacity(chunk.len());
                    for event in split.push(&chunk) {
                        if reader.read(&event, drop_usage_chunk) == Pass::Forward {
                            out.extend_from_slice(&event);
                        }
                    }
                    if !out.is_empty() && tx.send(Ok(Bytes::from(out))).await.is_err() {
                        break "client_disconnected".into();
                    }
                }
                Ok(None) => {
                    let rest = split.rest();
                    if !rest.is_empty() {
                        reader.read(&rest, false);
                        let _ = tx.send(Ok(Bytes::from(rest))).await;
                    }
                    break status_label(status);
                }
                Err(e) => {
                    tracing::warn!(provider = ctx.provider.as_str(), error = %redact(&e), "gateway: stream cut short");
                    // the caller sees the stream break, not a clean end
                    let _ = tx.send(Err(std::io::Error::other("upstream stream ended early"))).await;
                    break "upstream_disconnected".into();
                }
            }
        };
        drop(upstream);
        finish(ctx, label, reader.usage().clone()).await;
    });
    Body::from_stream(futures_util::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|c| (c, rx)) },
    ))
}

/// Records the call and closes its reservation: settled at the priced usage when the
/// provider reported usage, released when it did not (an error before any work, a stream
/// cut before its usage). The recorder writes the calls that end together in one go.
async fn finish(ctx: Ctx, status: String, usage: Usage) {
    if ctx.model.is_empty() && usage.model.is_none() {
        return;
    }
    let release = match (&ctx.reservation, usage.tokens.is_some()) {
        (Some(id), false) => Some(id.clone()),
        _ => None,
    };
    let mut tags = ctx.who.tags.clone();
    tags.retain(|(k, _)| k != "via");
    tags.push(("via".into(), "gateway".into()));
    tags.sort();
    let model = usage.model.clone().unwrap_or_else(|| ctx.model.clone());
    let mut event = UsageEvent {
        event_id: ctx.reservation.clone().unwrap_or_else(|| format!("gw_{}", random_secret(24))),
        occurred_at: ctx.started,
        provider: ctx.provider.as_str().into(),
        requested_model: Some(ctx.model.clone()).filter(|m| !m.is_empty() && *m != model),
        model,
        operation: ctx.api.operation().into(),
        tokens: usage.tokens.unwrap_or_default(),
        request_count: 1,
        service_tier: usage
            .service_tier
            .as_deref()
            .and_then(|t| ServiceTier::parse("service_tier", t).ok())
            .unwrap_or_default(),
        latency_ms: Some(ctx.t0.elapsed().as_millis().min(i64::MAX as u128) as i64),
        status,
        team: None,
        feature: ctx.who.feature.clone(),
        initiative: None,
        customer: ctx.who.customer.clone(),
        environment: ctx.who.environment.clone(),
        api_key: None,
        tags,
        trace_id: ctx.who.trace_id.clone(),
        span_id: ctx.span_id.clone(),
        parent_span_id: ctx.who.parent_span_id.clone(),
        depth: Some(ctx.who.depth),
        retry: Some(ctx.who.retry),
        tool_name: None,
        reservation_id: if release.is_some() { None } else { ctx.reservation.clone() },
        cost: Nanos::ZERO,
        cost_source: CostSource::Unpriced,
        price_entry_id: None,
    };
    super::ingest::attribute(&mut event, &ctx.key);
    let record = Record { org: OrgId(ctx.key.org_id), event, release, _pending: ctx._pending };
    if ctx.recorder.send(record).await.is_err() {
        tracing::error!("gateway: the recorder has stopped; call not recorded");
    }
}

/// Writes finished calls as they come, those that arrive together in one batch per
/// organisation: holds released in one transaction, events priced and stored (settling their
/// reservations) in another. A busy database is waited out; a call is never stored twice
/// (events are idempotent by id).
async fn run_recorder(db: Db, prices: PriceCache, mut rx: mpsc::Receiver<Record>) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while rx.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        let mut orgs: Vec<OrgId> = batch.iter().map(|r| r.org).collect();
        orgs.sort_by_key(|o| o.0);
        orgs.dedup();
        for org in orgs {
            let mine = || batch.iter().filter(|r| r.org == org);
            let released: Vec<(OrgId, String)> =
                mine().filter_map(|r| r.release.clone().map(|id| (org, id))).collect();
            let events: Vec<(usize, UsageEvent)> = mine().map(|r| r.event.clone()).enumerate().collect();
            for attempt in 1..=5 {
                let done = async {
                    db.release_reservations(&released, Utc::now()).await?;
                    super::ingest::store(&db, &prices, org, None, events.clone(), vec![]).await
                }
                .await;
                match done {
                    Ok(r) if r.rejected == 0 => break,
                    Ok(r) => {
                        tracing::error!(errors = ?r.errors, "gateway: calls not recorded");
                        break;
                    }
                    Err(e @ AppError::Busy) if attempt < 5 => {
                        tracing::warn!(error = %e, attempt, "gateway: recording waits for the database");
                        tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                    }
                    Err(e) => {
                        tracing::error!(error = ?e, calls = events.len(), "gateway: calls not recorded");
                        break;
                    }
                }
            }
        }
        // the calls' pending marks go with them
        batch.clear();
    }
}
