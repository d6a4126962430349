//! The gateway over HTTP: the real router in front of a local fake OpenAI/Anthropic upstream
//! (`app::server::testing::fake_upstream`), on both databases.
use super::*;
use app::domain::guardrail::parse_rule;
use app::server::db::query::query_as;
use app::server::db::{Actor, OrgId};
use app::server::services::gateway::{save_upstream, UpstreamInput};
use app::server::state::AppState;
use app::server::testing::fake_upstream::{self, Log};
use serde_json::{json, Value};

/// The provider key the upstreams hold: it must reach the upstream and nothing else.
const UPSTREAM_KEY: &str = "sk-upstream-secret-4242";

struct Gw {
    app: axum::Router,
    state: AppState,
    token: String,
    fake: String,
    log: Log,
    org: OrgId,
}

/// A router whose organisation has both upstreams at the fake, a `search` team, a `gateway`
/// key of that team, and the given guardrail rules.
async fn gw_app(db: &Db, rules: &[Value]) -> Gw {
    use app::server::services::keys::{create_key, KeyRequest};
    let org = db.ensure_org("default", "Default").await.unwrap();
    app::server::services::prices::ensure_public_list(db).await.unwrap();
    db.ensure_team(org, "search", "Search").await.unwrap();
    for r in rules {
        db.put_guardrail_rule(org, &parse_rule(r).unwrap(), Utc::now()).await.unwrap();
    }
    let state = startup::state(db, org, startup::Options::for_tests(d(TODAY))).await.unwrap();
    let app = checked(server::build_router_with(state.clone(), server::load::Load::default()));
    let req = KeyRequest {
        name: "gw".into(),
        team: "search".into(),
        scopes: "gateway".into(),
        initiative: None,
        expires_in_days: None,
        actor: Actor::cli(),
    };
    let token = create_key(db, &state.keys, org, req).await.unwrap().token;
    let (fake, log) = fake_upstream::start().await;
    for p in ["openai", "anthropic"] {
        save_upstream(
            db,
            &state.gateway,
            &state.egress,
            org,
            &Actor::cli(),
            UpstreamInput { provider: p, base_url: &format!("{fake}/v1"), key: Some(UPSTREAM_KEY) },
        )
        .await
        .unwrap();
    }
    Gw { app, state, token, fake, log, org }
}

fn openai_req(token: &str, path: &str, body: &Value) -> Request<Body> {
    Request::post(format!("/gateway/openai/v1/{path}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("x-costroom-feature", "faq")
        .header("x-costroom-customer", "acme")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn anthropic_req(token: &str, body: &Value) -> Request<Body> {
    Request::post("/gateway/anthropic/v1/messages")
        .header("x-api-key", token)
        .header("anthropic-version", "2023-06-01")
        .header("content-type", "application/json")
        .header("x-costroom-feature", "summaries")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn raw(app: &axum::Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let res = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    (parts.status, parts.headers, body.collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default())
}

/// What the fake answers when asked directly (no gateway), to compare bytes with.
async fn direct(fake: &str, path: &str, body: &Value, auth: (&str, &str)) -> (u16, Vec<u8>) {
    let res = reqwest::Client::new()
        .post(format!("{fake}/v1/{path}"))
        .header(auth.0, auth.1)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
}

/// The stored gateway events: (event id, status, model, input, cache read, output, cost, feature,
/// customer, team, tags).
type Row =
    (String, String, String, i64, i64, i64, i64, Option<String>, Option<String>, Option<String>, String);

async fn events(g: &Gw) -> Vec<Row> {
    g.state.gateway.idle().await;
    const SQL: &str = "select event_id, status, model, input_tokens, cache_read_tokens, output_tokens, cost_nanos, \
        feature, customer, team, tags from usage_events where org_id = $1 and tags like '%gateway%' order by id";
    query_as(SQL).bind(g.org.0).fetch_all(&g.state.db).await.unwrap()
}

/// (open, settled, released or expired) reservations.
async fn reservation_counts(g: &Gw) -> (usize, usize, usize) {
    let all = g.state.db.reservations(g.org).await.unwrap();
    let n = |s: &str| all.iter().filter(|r| r.1 == s).count();
    (n("open"), n("settled"), all.len() - n("open") - n("settled"))
}

pub(crate) async fn an_openai_call_passes_through_unchanged_and_is_priced_exactly(db: Db) {
    let g = gw_app(&db, &[]).await;
    let body =
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Say hello"}], "max_tokens": 400});
    let (status, headers, bytes) = raw(&g.app, openai_req(&g.token, "chat/completions", &body)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
    let (_, expected) = direct(&g.fake, "chat/completions", &body, ("authorization", "Bearer x")).await;
    assert_eq!(bytes, expected, "the caller receives the upstream's bytes");
    assert_eq!(headers["x-request-id"], "req_fake_123", "the upstream's headers come back");
    assert!(headers.contains_key("x-costroom-reservation-id"));
    let seen = &g.log.all()[0];
    assert_eq!(
        seen.credential.as_deref(),
        Some(&*format!("Bearer {UPSTREAM_KEY}")),
        "the provider key, not the caller's"
    );
    assert!(
        seen.costroom_headers.is_empty(),
        "attribution headers are stripped: {:?}",
        seen.costroom_headers
    );
    assert_eq!(seen.body, body, "the request reaches the upstream unchanged");
    let rows = events(&g).await;
    assert_eq!(rows.len(), 1);
    let (id, st, model, input, cached, output, cost, feature, customer, team, tags) = rows[0].clone();
    assert_eq!((st.as_str(), model.as_str()), ("ok", "gpt-4o-2024-08-06"));
    assert_eq!((input, cached, output), (1_200, 1_024, 300));
    // gpt-4o: $2.50 per million uncached input, $1.25 cached, $10 output:
    // 176 × 2,500 + 1,024 × 1,250 + 300 × 10,000 nanos
    assert_eq!(cost, 440_000 + 1_280_000 + 3_000_000);
    assert_eq!(
        (feature.as_deref(), customer.as_deref(), team.as_deref()),
        (Some("faq"), Some("acme"), Some("search"))
    );
    assert!(tags.contains("via") && tags.contains("gateway"), "{tags}");
    assert_eq!(
        id,
        headers["x-costroom-reservation-id"].to_str().unwrap(),
        "the event settles its reservation"
    );
    assert_eq!(reservation_counts(&g).await, (0, 1, 0));
    let (_, _, _, actual) = g.state.db.reservations(g.org).await.unwrap().remove(0);
    assert_eq!(actual, Some(cost), "settled at the priced usage");
}
on_both!(an_openai_call_passes_through_unchanged_and_is_priced_exactly);

pub(crate) async fn streams_arrive_event_for_event_and_their_usage_is_read(db: Db) {
    let g = gw_app(&db, &[]).await;
    // the caller did not ask for usage: the gateway asks, reads it, and removes that chunk
    let body = json!({"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let (status, headers, bytes) = raw(&g.app, openai_req(&g.token, "chat/completions", &body)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        fake_upstream::openai_chat_events("gpt-4o", false).concat()
    );
    assert_eq!(g.log.all()[0].body["stream_options"]["include_usage"], true, "usage was asked for upstream");
    // a caller that asked for usage gets the usage chunk too
    let mut asked = body.clone();
    asked["stream_options"] = json!({"include_usage": true});
    let (_, _, bytes) = raw(&g.app, openai_req(&g.token, "chat/completions", &asked)).await;
    assert_eq!(String::from_utf8(bytes).unwrap(), fake_upstream::openai_chat_events("gpt-4o", true).concat());
    // Anthropic, authenticated as its SDK does (x-api-key)
    let claude = json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]});
    let (status, _, bytes) = raw(&g.app, anthropic_req(&g.token, &claude)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        fake_upstream::anthropic_events("claude-sonnet-4-5").concat()
    );
    assert_eq!(
        g.log.all()[2].credential.as_deref(),
        Some(UPSTREAM_KEY),
        "Anthropic's header carries the key"
    );
    let rows = events(&g).await;
    assert_eq!(rows.len(), 3);
    for r in &rows[..2] {
        assert_eq!((r.3, r.4, r.5, r.6), (1_200, 1_024, 300, 4_720_000), "{r:?}");
    }
    // claude-sonnet-4-5: $3 per million input, $0.30 cache read, $15 output; Anthropic's 10
    // uncached input tokens plus 1,000 read from the cache are 1,010 input tokens
    let c = &rows[2];
    assert_eq!((c.1.as_str(), c.2.as_str(), c.3, c.4, c.5), ("ok", "claude-sonnet-4-5", 1_010, 1_000, 50));
    assert_eq!(c.6, 10 * 3_000 + 1_000 * 300 + 50 * 15_000);
    assert_eq!(c.7.as_deref(), Some("summaries"));
    assert_eq!(reservation_counts(&g).await, (0, 3, 0));
}
on_both!(streams_arrive_event_for_event_and_their_usage_is_read);

pub(crate) async fn every_usage_shape_is_priced_as_the_price_book_says(db: Db) {
    let g = gw_app(&db, &[]).await;
    let calls = [
        ("responses", json!({"model": "gpt-4o", "input": "hi", "max_output_tokens": 500})),
        ("responses", json!({"model": "gpt-4o", "input": "hi", "stream": true})),
        ("embeddings", json!({"model": "text-embedding-3-small", "input": "hello world"})),
        ("chat/completions", json!({"model": "o3", "messages": [{"role": "user", "content": "think"}]})),
    ];
    for (path, body) in &calls {
        let (status, _, bytes) = raw(&g.app, openai_req(&g.token, path, body)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {}", String::from_utf8_lossy(&bytes));
    }
    let (status, _, _) = raw(
        &g.app,
        anthropic_req(
            &g.token,
            &json!({"model": "claude-haiku-4-5", "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let rows = events(&g).await;
    assert_eq!(rows.len(), 5);
    let book = g.state.prices.book(&db, g.org).await.unwrap();
    for r in &rows {
        let (input, cached, output, _) = fake_upstream::usage_of(&r.2);
        let provider = if r.2.starts_with("claude") { "anthropic" } else { "openai" };
        let tokens = app::domain::pricing::Tokens {
            input: if provider == "anthropic" { input + cached } else { input },
            cache_read: cached,
            output,
            reasoning: fake_upstream::usage_of(&r.2).3,
            ..Default::default()
        };
        let entry = book.find(provider, &r.2, d(TODAY)).unwrap_or_else(|| panic!("{} has a price", r.2));
        let want = entry.price.cost(&tokens, 1, app::domain::pricing::ServiceTier::Standard).unwrap();
        assert_eq!((r.3, r.4, r.5), (tokens.input, cached, output), "{r:?}");
        assert_eq!(r.6, want.0, "{r:?}");
        assert!(r.6 > 0, "{r:?}");
    }
}
on_both!(every_usage_shape_is_priced_as_the_price_book_says);

/// The usage of real reports and spans, answered by the upstream one call at a time: the
/// gateway stores the same token classes the report importer (or the span's attributes) gives
/// and the price book's exact cost of them.
pub(crate) async fn the_shared_usage_reports_and_otel_spans_price_exactly_through_the_gateway(db: Db) {
    use app::domain::pricing::{ServiceTier, Tokens};
    use app::server::formats::provider_reports::{anthropic_messages_usage, openai_completions_usage};
    let g = gw_app(&db, &[]).await;
    let book = g.state.prices.book(&db, g.org).await.unwrap();
    // (provider, request body, the usage the upstream reports, the tokens it must be stored as)
    let mut cases: Vec<(&str, Value, Value, Tokens)> = vec![];
    let report =
        include_str!("../../../app/tests/fixtures/provider-reports/example_usage_report_messages.json");
    for line in anthropic_messages_usage(report).unwrap().lines {
        let t = line.tokens.unwrap();
        let usage = json!({"input_tokens": t.input - t.cache_read - t.cache_write_5m - t.cache_write_1h,
            "cache_read_input_tokens": t.cache_read,
            "cache_creation_input_tokens": t.cache_write_5m + t.cache_write_1h,
            "cache_creation": {"ephemeral_5m_input_tokens": t.cache_write_5m, "ephemeral_1h_input_tokens": t.cache_write_1h},
            "output_tokens": t.output, "server_tool_use": {"web_search_requests": t.web_search_calls}});
        let body = json!({"model": line.model.unwrap(), "max_tokens": 1_000, "messages": [{"role": "user", "content": "hi"}]});
        cases.push(("anthropic", body, usage, t));
    }
    let report =
        include_str!("../../../app/tests/fixtures/provider-reports/example_response_usage_completions.json");
    for line in openai_completions_usage(report).unwrap().lines {
        // a call's own usage has no cache-write, cached-audio or image counts (the report's
        // daily totals do): those classes are left out of the comparison
        let t = Tokens {
            cache_write_5m: 0,
            cache_read_audio: 0,
            input_image: 0,
            output_image: 0,
            ..line.tokens.unwrap()
        };
        let usage = json!({"prompt_tokens": t.input, "completion_tokens": t.output, "total_tokens": t.input + t.output,
            "prompt_tokens_details": {"cached_tokens": t.cache_read, "audio_tokens": t.input_audio},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": t.output_audio}});
        let body = json!({"model": line.model.unwrap_or("gpt-4o".into()), "messages": [{"role": "user", "content": "hi"}]});
        cases.push(("openai", body, usage, t));
    }
    let spans: Vec<Value> =
        serde_json::from_str(include_str!("../fixtures/otel_genai_example_spans.json")).unwrap();
    for a in spans.iter().map(|s| &s["attributes"]).filter(|a| a["gen_ai.usage.input_tokens"].is_i64()) {
        let (input, output) = (
            a["gen_ai.usage.input_tokens"].as_i64().unwrap(),
            a["gen_ai.usage.output_tokens"].as_i64().unwrap(),
        );
        let usage =
            json!({"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output});
        let body =
            json!({"model": a["gen_ai.request.model"], "messages": [{"role": "user", "content": "hi"}]});
        cases.push(("openai", body, usage, Tokens { input, output, ..Default::default() }));
    }
    assert!(cases.len() >= 14, "every usage line and span: {}", cases.len());
    for (provider, body, usage, _) in &cases {
        let mut req = if *provider == "anthropic" {
            anthropic_req(&g.token, body)
        } else {
            openai_req(&g.token, "chat/completions", body)
        };
        req.headers_mut().insert("x-fake-usage", usage.to_string().parse().unwrap());
        let (status, _, bytes) = raw(&g.app, req).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
        let answered: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(&answered["usage"], usage, "the answer is the upstream's");
    }
    const SQL: &str = "select model, input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, \
        output_tokens, input_audio_tokens, output_audio_tokens, web_search_calls, cost_nanos from usage_events \
        where org_id = $1 and tags like '%gateway%' order by id";
    g.state.gateway.idle().await;
    type Stored = (String, i64, i64, i64, i64, i64, i64, i64, i64, Option<i64>);
    let rows: Vec<Stored> = query_as(SQL).bind(g.org.0).fetch_all(&g.state.db).await.unwrap();
    assert_eq!(rows.len(), cases.len());
    for (r, (provider, body, _, t)) in rows.iter().zip(&cases) {
        // stored as the model that answered (the fake adds a date to the model asked for)
        assert!(r.0.starts_with(body["model"].as_str().unwrap()), "{r:?}");
        assert_eq!(
            (r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8),
            (
                t.input,
                t.cache_read,
                t.cache_write_5m,
                t.cache_write_1h,
                t.output,
                t.input_audio,
                t.output_audio,
                t.web_search_calls
            ),
            "{body}"
        );
        let entry = book.find(provider, &r.0, d(TODAY)).unwrap_or_else(|| panic!("{} has a price", r.0));
        let want = entry.price.cost(t, 1, ServiceTier::Standard).unwrap();
        assert_eq!(r.9, Some(want.0), "{body}: {t:?}");
    }
}
on_both!(the_shared_usage_reports_and_otel_spans_price_exactly_through_the_gateway);

pub(crate) async fn upstream_errors_pass_through_and_release_the_hold(db: Db) {
    let g = gw_app(&db, &[]).await;
    for code in [400, 429, 500] {
        let body = json!({"model": format!("fail-{code}"), "messages": [], "max_tokens": 10});
        let (status, _, bytes) = raw(&g.app, openai_req(&g.token, "chat/completions", &body)).await;
        assert_eq!(status.as_u16(), code);
        let (_, expected) = direct(&g.fake, "chat/completions", &body, ("authorization", "Bearer x")).await;
        assert_eq!(bytes, expected, "the provider's error reaches the caller as it was");
        let claude = json!({"model": format!("fail-{code}"), "messages": [], "max_tokens": 10});
        let (status, _, bytes) = raw(&g.app, anthropic_req(&g.token, &claude)).await;
        assert_eq!(status.as_u16(), code);
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["type"], "error");
    }
    let rows = events(&g).await;
    let statuses: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(statuses, ["http_400", "http_400", "http_429", "http_429", "http_500", "http_500"]);
    assert!(rows.iter().all(|r| r.6 == 0), "no usage, no cost");
    // the calls were unpriced models: a rule decides them; with none they pass, and every
    // hold is released, none left open or settled
    let (open, settled, _) = reservation_counts(&g).await;
    assert_eq!((open, settled), (0, 0));
}
on_both!(upstream_errors_pass_through_and_release_the_hold);

pub(crate) async fn a_denied_call_never_reaches_the_upstream(db: Db) {
    let today = Utc::now().date_naive().format("%Y-%m-01").to_string();
    let deny_opus = json!({"name": "no opus for faq", "scope": {"kind": "feature", "value": "faq"},
        "effective_from": today, "limit": {"kind": "models", "allow": false, "models": ["gpt-4o"], "instead": "gpt-4o-mini"}});
    let g = gw_app(&db, &[deny_opus]).await;
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5});
    let (status, _, bytes) = raw(&g.app, openai_req(&g.token, "chat/completions", &body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["error"]["code"], "model_not_allowed", "{v}");
    assert_eq!(v["error"]["type"], "costroom_guardrail");
    assert!(v["error"]["message"].as_str().unwrap().contains("gpt-4o-mini"), "the suggestion is named: {v}");
    assert!(g.log.is_empty(), "the upstream saw nothing");
    // another feature is not covered by the rule
    let mut other = openai_req(&g.token, "chat/completions", &body);
    other.headers_mut().insert("x-costroom-feature", "search".parse().unwrap());
    assert_eq!(raw(&g.app, other).await.0, StatusCode::OK);
    assert_eq!(g.log.len(), 1);
}
on_both!(a_denied_call_never_reaches_the_upstream);

pub(crate) async fn a_clamping_rule_lowers_max_tokens_before_the_upstream(db: Db) {
    let today = Utc::now().date_naive().format("%Y-%m-01").to_string();
    let clamp = json!({"name": "short answers", "scope": {"kind": "team", "value": "search"},
        "effective_from": today, "limit": {"kind": "request", "max_tokens": 100, "clamp": true}});
    let g = gw_app(&db, &[clamp]).await;
    // the field the caller used is the one lowered; the rest of the body is untouched
    let chat = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 9_000,
        "temperature": 0.5});
    let (status, headers, _) = raw(&g.app, openai_req(&g.token, "chat/completions", &chat)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-costroom-max-tokens"], "100");
    assert_eq!(headers["x-costroom-warnings"], "max_tokens_clamped");
    let seen = g.log.all();
    let mut want = chat.clone();
    want["max_completion_tokens"] = json!(100);
    assert_eq!(seen[0].body, want);
    // no max_tokens at all asks for the gateway's default (4,096): that is clamped too
    let bare = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    raw(&g.app, openai_req(&g.token, "chat/completions", &bare)).await;
    assert_eq!(g.log.all()[1].body["max_completion_tokens"], 100);
    let msg = json!({"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]});
    let (status, headers, _) = raw(&g.app, anthropic_req(&g.token, &msg)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("x-costroom-max-tokens").is_none(), "within the clamp: unchanged");
    assert_eq!(g.log.all()[2].body, msg);
    let big = json!({"model": "claude-sonnet-4-5", "max_tokens": 64_000, "messages": [{"role": "user", "content": "hi"}],
        "stream": true});
    let (status, _, _) = raw(&g.app, anthropic_req(&g.token, &big)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(g.log.all()[3].body["max_tokens"], 100);
}
on_both!(a_clamping_rule_lowers_max_tokens_before_the_upstream);

pub(crate) async fn a_cap_denies_in_the_providers_shape_with_its_status(db: Db) {
    let today = Utc::now().date_naive().format("%Y-%m-01").to_string();
    // gpt-4o at 20,000 in and 5,000 out at most is $0.10; a $0.15 cap holds one such call
    let cap = json!({"name": "tiny", "scope": {"kind": "team", "value": "search"}, "effective_from": today,
        "limit": {"kind": "cap", "period": "month", "amount_nanos": 150_000_000}});
    let g = gw_app(&db, &[cap]).await;
    let big = "x".repeat(80_000);
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 5_000, "messages": [{"role": "user", "content": big}]});
    // the first call uses all it held: the cap is as used whether the recorder has settled it
    // yet (spent) or not (held) when the second call is decided
    let mut first = anthropic_req(&g.token, &body);
    let all = json!({"input_tokens": 20_000, "output_tokens": 5_000}).to_string();
    first.headers_mut().insert("x-fake-usage", all.parse().unwrap());
    let (first, _, _) = raw(&g.app, first).await;
    assert_eq!(first, StatusCode::OK);
    let (second, _, bytes) = raw(&g.app, anthropic_req(&g.token, &body)).await;
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(second, StatusCode::PAYMENT_REQUIRED, "{v}");
    assert_eq!((v["type"].as_str(), v["error"]["type"].as_str()), (Some("error"), Some("billing_error")));
    assert_eq!(v["error"]["costroom"]["denied"][0]["code"], "budget_exhausted");
    assert_eq!(g.log.len(), 1, "only the admitted call went upstream");
}
on_both!(a_cap_denies_in_the_providers_shape_with_its_status);

pub(crate) async fn cut_streams_and_callers_who_leave_release_the_hold(db: Db) {
    let g = gw_app(&db, &[]).await;
    // the upstream drops the connection mid-stream: the caller's stream breaks too
    let body = json!({"model": "cut", "stream": true, "messages": [], "max_tokens": 10});
    let res = g.app.clone().oneshot(openai_req(&g.token, "chat/completions", &body)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.into_body().collect().await.is_err(), "a cut stream does not end cleanly");
    // the caller reads one piece and goes away
    let drip = json!({"model": "drip", "stream": true, "messages": [], "max_tokens": 10});
    let res = g.app.clone().oneshot(openai_req(&g.token, "chat/completions", &drip)).await.unwrap();
    let mut body = res.into_body();
    let first = body.frame().await.unwrap().unwrap();
    assert!(first.is_data());
    drop(body);
    // a slow upstream is waited for
    let slow = json!({"model": "slow-300", "messages": [], "max_tokens": 10});
    let t = std::time::Instant::now();
    let (status, _, _) = raw(&g.app, openai_req(&g.token, "chat/completions", &slow)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(t.elapsed() >= std::time::Duration::from_millis(300));
    let rows = events(&g).await;
    let statuses: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(statuses, ["upstream_disconnected", "client_disconnected", "ok"]);
    assert_eq!((rows[0].6, rows[1].6), (0, 0), "no usage was reported");
    let (open, settled, released) = reservation_counts(&g).await;
    assert_eq!((open, settled, released), (0, 1, 2), "the two broken calls released their holds");
}
on_both!(cut_streams_and_callers_who_leave_release_the_hold);

pub(crate) async fn keys_are_checked_and_the_provider_key_stays_secret(db: Db) {
    let g = gw_app(&db, &[]).await;
    let body = json!({"model": "gpt-4o", "messages": [], "max_tokens": 5});
    // a caller without a Costroom key, or with the provider's own key, gets an OpenAI-shaped 401
    let (status, _, bytes) = raw(&g.app, openai_req(UPSTREAM_KEY, "chat/completions", &body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["error"]["code"], "unauthorized");
    // a gateway key reads no spend
    let (status, _) =
        send(&g.app, with_bearer(get("/api/v1/spend?from=2026-11-01&to=2026-11-10"), &g.token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // a revoked key stops the next call
    assert_eq!(raw(&g.app, openai_req(&g.token, "chat/completions", &body)).await.0, StatusCode::OK);
    let prefix = app::domain::api_key::split_token(&g.token).unwrap().0;
    app::server::services::keys::revoke_key(&db, g.org, &Actor::cli(), prefix).await.unwrap();
    assert_eq!(
        raw(&g.app, openai_req(&g.token, "chat/completions", &body)).await.0,
        StatusCode::UNAUTHORIZED
    );
    g.state.gateway.idle().await;
    // the provider key is in no table in clear text
    let dump = dump_text(&db).await;
    assert!(!dump.contains(UPSTREAM_KEY), "the provider key is stored in clear text");
    assert!(dump.contains("…4242"), "its last four characters are kept as a hint");
    let lines = app::server::services::gateway::upstreams(&db, &g.state.gateway, g.org).await.unwrap();
    assert!(lines.iter().all(|l| l.usable && l.key_hint == "…4242"));
    assert!(!format!("{lines:?}").contains(UPSTREAM_KEY));
}
on_both!(keys_are_checked_and_the_provider_key_stays_secret);

fn with_bearer(mut req: Request<Body>, token: &str) -> Request<Body> {
    req.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    req
}

/// Every text column of every table the gateway writes to, concatenated.
async fn dump_text(db: &Db) -> String {
    let mut out = String::new();
    for sql in [
        "select key_sealed || key_hint || base_url from gateway_upstreams",
        "select coalesce(summary, '') || coalesce(before_json, '') || coalesce(after_json, '') from audit_log",
        "select coalesce(tags, '') || status || model from usage_events",
        "select message || rule from guardrail_decisions",
    ] {
        let rows: Vec<(String,)> = query_as(sql).fetch_all(db).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        for (r,) in rows {
            out.push_str(&r);
        }
    }
    out
}

pub(crate) async fn a_thousand_mixed_calls_agree_with_the_upstreams_log(db: Db) {
    let g = gw_app(&db, &[]).await;
    let turns = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..1_000 {
        let (app, token, turns) = (g.app.clone(), g.token.clone(), turns.clone());
        calls.spawn(async move {
            let _turn = turns.acquire().await.unwrap();
            let stream = i % 2 == 0;
            let (req, kind) = match i % 5 {
                0 | 1 => (
                    openai_req(
                        &token,
                        "chat/completions",
                        &json!({"model": "gpt-4o-mini", "stream": stream,
                        "messages": [{"role": "user", "content": format!("call {i}")}], "max_tokens": 50}),
                    ),
                    "ok",
                ),
                2 => (
                    anthropic_req(
                        &token,
                        &json!({"model": "claude-haiku-4-5", "stream": stream, "max_tokens": 64,
                        "messages": [{"role": "user", "content": format!("call {i}")}]}),
                    ),
                    "ok",
                ),
                3 => (
                    openai_req(
                        &token,
                        "chat/completions",
                        &json!({"model": "fail-500", "messages": [], "max_tokens": 5}),
                    ),
                    "http_500",
                ),
                _ => (
                    openai_req(
                        &token,
                        "embeddings",
                        &json!({"model": "text-embedding-3-small", "input": "x"}),
                    ),
                    "ok",
                ),
            };
            let (status, _, _) = raw(&app, req).await;
            (status, kind)
        });
    }
    let answers = calls.join_all().await;
    assert!(
        answers.iter().all(|(s, k)| (*k == "ok") == (*s == StatusCode::OK)),
        "every call answered as its upstream did"
    );
    let rows = events(&g).await;
    let seen = g.log.all();
    assert_eq!(seen.len(), 1_000, "every call reached the upstream once");
    assert_eq!(rows.len(), 1_000, "every call is recorded once");
    let ids: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(ids.len(), 1_000);
    let reservations = g.state.db.reservations(g.org).await.unwrap();
    assert_eq!(reservations.len(), 1_000, "one hold per call");
    assert!(reservations.iter().all(|r| r.1 != "open"), "no hold left open");
    let settled: std::collections::BTreeMap<&str, i64> =
        reservations.iter().filter(|r| r.1 == "settled").map(|r| (r.0.as_str(), r.3.unwrap())).collect();
    assert_eq!(settled.len(), 800, "the 800 calls with usage settled; the 200 errors released");
    for r in &rows {
        match settled.get(r.0.as_str()) {
            Some(actual) => assert_eq!(*actual, r.6, "settled at the event's cost: {r:?}"),
            None => assert_eq!((r.1.as_str(), r.6), ("http_500", 0)),
        }
    }
    let by_path = |p: &str| seen.iter().filter(|s| s.path == p).count();
    assert_eq!(
        (by_path("/v1/chat/completions"), by_path("/v1/messages"), by_path("/v1/embeddings")),
        (600, 200, 200)
    );
    let total: i64 = rows.iter().map(|r| r.6).sum();
    // the harness stores no other spend
    assert_eq!(db.usage_totals(g.org).await.unwrap().1 .0, total, "the ledger holds exactly these calls");
}
on_both!(a_thousand_mixed_calls_agree_with_the_upstreams_log);

pub(crate) async fn a_gateway_only_server_serves_the_gateway_and_nothing_else(db: Db) {
    let g = gw_app(&db, &[]).await;
    let only = server::router::build_gateway_router(g.state.clone());
    let body = json!({"model": "gpt-4o", "messages": [], "max_tokens": 5});
    assert_eq!(raw(&only, openai_req(&g.token, "chat/completions", &body)).await.0, StatusCode::OK);
    assert_eq!(send(&only, get("/healthz")).await.0, StatusCode::OK);
    for path in ["/", "/settings/gateway", "/api/v1/spend"] {
        assert_eq!(send(&only, get(path)).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(events(&g).await.len(), 1);
}
on_both!(a_gateway_only_server_serves_the_gateway_and_nothing_else);
