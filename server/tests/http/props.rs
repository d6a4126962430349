//! Property test of every ingest door (JSON array, NDJSON, OTLP/JSON, OTLP/protobuf): random
//! batches whose fields take extreme values — 0, the maximum, one above it, negative, i64::MAX,
//! overlong and control-character text, impossible dates, malformed money — must each be
//! accepted exactly when every field is within its documented bound, refused naming a field
//! otherwise, never answered 5xx; and the stored rows, the organisation's lifetime totals and
//! the rollup-backed read API must all equal the sum of the accepted items, to the nano-dollar
//! and the token.
//!
//! Deterministic: seeds are fixed (set `COSTROOM_PROP_SEED` to try another); a failure prints
//! the seed and the item.
use app::domain::limits::{MAX_EVENT_COST, MAX_REQUESTS, MAX_TEXT_LEN, MAX_TOKENS};
use app::on_both;
use app::server::db::Db;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};

use super::{ingest_app, read_key, send};

/// splitmix64: a tiny deterministic generator (no crate needed for test inputs).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }
}

/// A count: its value in the body and, when within bounds, the number stored.
#[derive(Clone, Debug)]
struct Count(Value, Option<i64>);

fn count(rng: &mut Rng, max: i64) -> Count {
    let small = (rng.next() % 1_000_000) as i64;
    rng.pick(&[
        Count(json!(0), Some(0)),
        Count(json!(1), Some(1)),
        Count(json!(small), Some(small)),
        Count(json!(max), Some(max)),
        Count(json!(max + 1), None),
        Count(json!(-1), None),
        Count(json!(i64::MAX), None),
        Count(json!(u64::MAX), None),
        Count(json!(small), Some(small)),
    ])
}

#[derive(Clone, Debug)]
struct Money(&'static str, Option<i64>);

const MONEY: [Money; 10] = [
    Money("0", Some(0)),
    Money("0.000000001", Some(1)),
    Money("12.345678901", Some(12_345_678_901)),
    // machine formats take plain decimals only: a grouping comma could be a European decimal
    Money("1,500", None),
    Money("1000000", Some(MAX_EVENT_COST.0)),
    Money("1000000.000000001", None),
    Money("-0.01", None),
    Money("1,5", None),
    Money("12 USD", None),
    Money("9223372036.854775807", None),
];

#[derive(Clone, Debug)]
struct Text(String, bool);

fn text(rng: &mut Rng) -> Text {
    let n = 1 + rng.below(5);
    rng.pick(&[
        Text("search".into(), true),
        Text("équipe-ß".into(), true),
        Text("x".repeat(MAX_TEXT_LEN), true),
        Text("é".repeat(MAX_TEXT_LEN / 2), true),
        Text("x".repeat(MAX_TEXT_LEN + 1), false),
        Text("y".repeat(1 << 16), false),
        Text(format!("bad{}\u{1}", "z".repeat(n)), false),
        Text("line\nbreak".into(), false),
        Text(format!("team-{n}"), true),
    ])
}

/// Seconds since the epoch, or a refusal; within the window the read API is asked about.
#[derive(Clone, Debug)]
struct When(i64, bool);

const WINDOW_FROM: i64 = 1_790_812_800; // 2026-10-01T00:00:00Z
const WINDOW_TO: i64 = 1_794_355_199; // 2026-11-10T23:59:59Z

fn when(rng: &mut Rng) -> When {
    let inside = WINDOW_FROM + (rng.next() % (WINDOW_TO - WINDOW_FROM) as u64) as i64;
    rng.pick(&[
        When(WINDOW_FROM, true),
        When(WINDOW_TO, true),
        When(inside, true),
        When(inside, true),
        When(946_684_799, false),   // 1999-12-31T23:59:59Z
        When(4_102_444_800, false), // 2100-01-01
        When(1, false),
    ])
}

#[derive(Clone, Debug)]
struct Item {
    id: String,
    at: When,
    input: Count,
    cache_read: Count,
    output: Count,
    requests: Count,
    cost: Money,
    team: Text,
    feature: Text,
}

impl Item {
    fn random(rng: &mut Rng, id: String) -> Item {
        // most fields valid most of the time, so that accepted items are common too
        let mut item = Item {
            id,
            at: When(WINDOW_FROM + 3600, true),
            input: Count(json!(1000), Some(1000)),
            cache_read: Count(json!(0), Some(0)),
            output: Count(json!(10), Some(10)),
            requests: Count(json!(1), Some(1)),
            cost: Money("0.5", Some(500_000_000)),
            team: Text("search".into(), true),
            feature: Text("chat".into(), true),
        };
        for _ in 0..1 + rng.below(3) {
            match rng.below(8) {
                0 => item.at = when(rng),
                1 => item.input = count(rng, MAX_TOKENS),
                2 => item.cache_read = count(rng, MAX_TOKENS),
                3 => item.output = count(rng, MAX_TOKENS),
                4 => item.requests = count(rng, MAX_REQUESTS),
                5 => item.cost = rng.pick(&MONEY),
                6 => item.team = text(rng),
                _ => item.feature = text(rng),
            }
        }
        item
    }

    /// Whether every field is within bounds (the oracle, written from the documented limits).
    fn valid(&self, door: Door) -> bool {
        // OTLP carries no request count: that field does not exist on that door
        let requests = matches!(door, Door::OtlpJson | Door::OtlpProtobuf) || self.requests.1.is_some();
        let counts = [&self.input, &self.cache_read, &self.output];
        requests
            && counts.iter().all(|c| c.1.is_some())
            && self.cache_read.1 <= self.input.1
            && self.at.1
            && self.cost.1.is_some()
            && self.team.1
            && self.feature.1
    }

    fn timestamp(&self) -> String {
        chrono::DateTime::from_timestamp(self.at.0, 0).expect("time").to_rfc3339()
    }

    fn json(&self) -> Value {
        json!({
            "event_id": self.id, "timestamp": self.timestamp(), "provider": "anthropic",
            "model": "claude-haiku-4-5", "input_tokens": self.input.0, "cache_read_tokens": self.cache_read.0,
            "output_tokens": self.output.0, "request_count": self.requests.0, "cost_usd": self.cost.0,
            "team": self.team.0, "feature": self.feature.0,
        })
    }

    /// As an OTLP span: OTLP has no request count (a span with tokens is one request).
    fn span(&self, i: usize) -> Value {
        let int = |k: &str, v: &Value| match v.as_i64() {
            Some(n) => json!({"key": k, "value": {"intValue": n.to_string()}}),
            // beyond i64: sent as text, which must be refused as a count all the same
            None => json!({"key": k, "value": {"stringValue": v.to_string()}}),
        };
        let s = |k: &str, v: &str| json!({"key": k, "value": {"stringValue": v}});
        let end = (self.at.0 as u128 * 1_000_000_000).to_string();
        json!({
            "traceId": format!("{:032x}", 0xC0FFEE_u128 << 64 | self.id.len() as u128),
            "spanId": format!("{:016x}", span_number(&self.id, i)),
            "name": "chat claude-haiku-4-5", "kind": 3,
            "startTimeUnixNano": end, "endTimeUnixNano": end,
            "attributes": [
                s("gen_ai.operation.name", "chat"), s("gen_ai.provider.name", "anthropic"),
                s("gen_ai.request.model", "claude-haiku-4-5"),
                int("gen_ai.usage.input_tokens", &self.input.0),
                int("gen_ai.usage.cache_read.input_tokens", &self.cache_read.0),
                int("gen_ai.usage.output_tokens", &self.output.0),
                s("gen_ai.usage.cost", self.cost.0), s("costroom.team", &self.team.0),
                s("costroom.feature", &self.feature.0),
            ],
        })
    }
}

fn span_number(id: &str, i: usize) -> u64 {
    id.bytes().fold(i as u64 + 1, |h, b| h.wrapping_mul(1_099_511_628_211).wrapping_add(b as u64)) | 1
}

/// Stored figures: (events, cost, input, cache_read, output, requests).
type Sums = (i64, i128, i128, i128, i128, i128);

async fn stored(db: &Db, org: app::server::db::OrgId) -> Sums {
    let rows = db.usage_events(org).await.expect("rows");
    let mut s: Sums = (rows.len() as i64, 0, 0, 0, 0, 0);
    for r in rows {
        s.1 += r.cost_nanos as i128;
        s.2 += r.input_tokens as i128;
        s.3 += r.cache_read_tokens as i128;
        s.4 += r.output_tokens as i128;
        s.5 += r.request_count as i128;
    }
    s
}

#[derive(Clone, Copy, Debug)]
enum Door {
    Json,
    Ndjson,
    OtlpJson,
    OtlpProtobuf,
}

async fn post(app: &axum::Router, token: &str, door: Door, items: &[Item]) -> (StatusCode, Value, Vec<u8>) {
    let (path, content_type, body) = match door {
        Door::Json => (
            "/api/v1/events",
            "application/json",
            serde_json::to_vec(&items.iter().map(Item::json).collect::<Vec<_>>()).expect("json"),
        ),
        Door::Ndjson => (
            "/api/v1/events",
            "application/x-ndjson",
            items.iter().map(|i| i.json().to_string() + "\n").collect::<String>().into_bytes(),
        ),
        Door::OtlpJson | Door::OtlpProtobuf => {
            let spans: Vec<Value> = items.iter().enumerate().map(|(i, it)| it.span(i)).collect();
            let body = json!({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": &spans}]}]});
            match door {
                Door::OtlpJson => {
                    ("/v1/traces", "application/json", serde_json::to_vec(&body).expect("json"))
                }
                _ => ("/v1/traces", "application/x-protobuf", to_protobuf(&spans)),
            }
        }
    };
    let req = Request::post(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", content_type)
        .body(Body::from(body))
        .expect("request");
    use http_body_util::BodyExt;
    let res = tower::ServiceExt::oneshot(app.clone(), req).await.expect("answer");
    let status = res.status();
    let raw = res.into_body().collect().await.expect("body").to_bytes().to_vec();
    (status, serde_json::from_slice(&raw).unwrap_or(Value::Null), raw)
}

async fn random_batches_are_accepted_exactly_when_within_bounds(db: Db) {
    let (app, token, _) = ingest_app(&db).await;
    let org = db.ensure_org("default", "Default").await.expect("org");
    let seed: u64 =
        std::env::var("COSTROOM_PROP_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5EED_2026);
    let mut rng = Rng(seed);
    let before = stored(&db, org).await;
    let mut expect = before;
    let lifetime_before = db.lifetime_totals(org).await.expect("totals");
    let key = read_key(&db, "read").await;
    let window_before = window_total(&app, &key).await;
    let mut refused_seen = 0;
    for round in 0..48 {
        let door = [Door::Json, Door::Ndjson, Door::OtlpJson, Door::OtlpProtobuf][round % 4];
        let n = 1 + rng.below(25);
        let items: Vec<Item> = (0..n).map(|i| Item::random(&mut rng, format!("p{round}-{i}"))).collect();
        let (status, answer, raw) = post(&app, &token, door, &items).await;
        let ctx = || format!("seed {seed}, round {round}, {door:?}: {status} {answer}");
        assert!(status == StatusCode::OK || status == StatusCode::UNPROCESSABLE_ENTITY, "{}", ctx());
        let refused: Vec<usize> = match door {
            Door::Json | Door::Ndjson => {
                let errors = answer["errors"].as_array().cloned().unwrap_or_default();
                for e in &errors {
                    let field = e["field"].as_str().unwrap_or("");
                    assert!(
                        !field.is_empty() && field != "item",
                        "an error names its field: {e} ({})",
                        ctx()
                    );
                }
                errors.iter().map(|e| e["index"].as_u64().expect("index") as usize).collect()
            }
            Door::OtlpJson | Door::OtlpProtobuf => {
                // OTLP's answer counts the refused spans and names each ("span i: field: reason")
                let (count, message) = match door {
                    Door::OtlpJson => (
                        answer["partialSuccess"]["rejectedSpans"].as_i64().unwrap_or(0),
                        answer["partialSuccess"]["errorMessage"].as_str().unwrap_or("").to_string(),
                    ),
                    _ => {
                        use prost::Message;
                        let p =
                            app::server::formats::otlp::proto::ExportTraceServiceResponse::decode(&raw[..])
                                .unwrap_or_else(|e| panic!("protobuf answer: {e} ({})", ctx()))
                                .partial_success
                                .unwrap_or_default();
                        (p.rejected_spans, p.error_message)
                    }
                };
                let named: Vec<usize> = message
                    .split("; ")
                    .filter_map(|m| m.strip_prefix("span ")?.split(':').next()?.parse().ok())
                    .collect();
                assert_eq!(named.len() as i64, count, "every refused span is named: {message} ({})", ctx());
                for m in message.split("; ").filter(|m| !m.is_empty()) {
                    let field = m.split(": ").nth(1).unwrap_or("");
                    assert!(!field.is_empty(), "an error names its field: {m} ({})", ctx());
                }
                named
            }
        };
        for (i, item) in items.iter().enumerate() {
            let is_refused = refused.contains(&i);
            assert_eq!(
                is_refused,
                !item.valid(door),
                "item {i} {}: {item:?} ({})",
                if item.valid(door) { "within bounds was refused" } else { "out of bounds was accepted" },
                ctx()
            );
            if is_refused {
                refused_seen += 1;
                continue;
            }
            let requests = match door {
                Door::Json | Door::Ndjson => item.requests.1.expect("valid"),
                // a span is one request when it carries tokens
                _ => i64::from(
                    item.input.1 != Some(0) || item.output.1 != Some(0) || item.cache_read.1 != Some(0),
                ),
            };
            expect.0 += 1;
            expect.1 += item.cost.1.expect("valid") as i128;
            expect.2 += item.input.1.expect("valid") as i128;
            expect.3 += item.cache_read.1.expect("valid") as i128;
            expect.4 += item.output.1.expect("valid") as i128;
            expect.5 += requests as i128;
        }
        assert_eq!(stored(&db, org).await, expect, "stored rows = the accepted items ({})", ctx());
    }
    assert!(
        refused_seen > 50 && expect.0 - before.0 > 50,
        "both outcomes were exercised: {refused_seen} refused"
    );
    // the organisation's lifetime totals (the overflow guard) moved by exactly the accepted sums
    let lifetime = db.lifetime_totals(org).await.expect("totals");
    let moved = |now: i64, was: i64| i128::from(now) - i128::from(was);
    assert_eq!(moved(lifetime.0, lifetime_before.0), expect.1 - before.1, "lifetime cost");
    assert_eq!(
        moved(lifetime.1, lifetime_before.1),
        (expect.2 - before.2) + (expect.4 - before.4),
        "lifetime tokens"
    );
    assert_eq!(moved(lifetime.2, lifetime_before.2), expect.5 - before.5, "lifetime requests");
    // and the rollups behind the read API agree to the nano-dollar
    let after = window_total(&app, &key).await;
    assert_eq!(after.0 - window_before.0, expect.1 - before.1, "read API cost over the window");
    assert_eq!(after.1 - window_before.1, expect.5 - before.5, "read API requests over the window");
}
on_both!(random_batches_are_accepted_exactly_when_within_bounds);

/// Cost (nanos) and requests over the window, as the read API answers them.
async fn window_total(app: &axum::Router, key: &str) -> (i128, i128) {
    let req = Request::get("/api/v1/spend?group=team&from=2026-10-01&to=2026-11-10&gran=month")
        .header("authorization", key)
        .body(Body::empty())
        .expect("request");
    let (status, body) = send(app, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    let num = |v: &Value| v.as_i64().map(i128::from).or_else(|| v.as_str()?.parse().ok()).expect("number");
    (num(&v["total"]["cost_nanos"]), num(&v["total"]["requests"]))
}

/// The same spans as OTLP protobuf.
fn to_protobuf(spans: &[Value]) -> Vec<u8> {
    use app::server::formats::otlp::proto::{self, any_value};
    use prost::Message;
    let hex = |s: &str| {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
    };
    let spans = spans
        .iter()
        .map(|s| proto::Span {
            trace_id: hex(s["traceId"].as_str().expect("trace")),
            span_id: hex(s["spanId"].as_str().expect("span")),
            parent_span_id: vec![],
            name: s["name"].as_str().unwrap_or("").into(),
            start_time_unix_nano: s["startTimeUnixNano"].as_str().expect("start").parse().expect("u64"),
            end_time_unix_nano: s["endTimeUnixNano"].as_str().expect("end").parse().expect("u64"),
            attributes: s["attributes"]
                .as_array()
                .expect("attributes")
                .iter()
                .map(|kv| {
                    let v = &kv["value"];
                    let value = match v.get("intValue") {
                        Some(i) => any_value::Value::IntValue(i.as_str().expect("int").parse().expect("i64")),
                        None => {
                            any_value::Value::StringValue(v["stringValue"].as_str().expect("text").into())
                        }
                    };
                    proto::KeyValue {
                        key: kv["key"].as_str().expect("key").into(),
                        value: Some(proto::AnyValue { value: Some(value) }),
                    }
                })
                .collect(),
            status: None,
        })
        .collect();
    let request = proto::ExportTraceServiceRequest {
        resource_spans: vec![proto::ResourceSpans {
            resource: Some(proto::Resource { attributes: vec![] }),
            scope_spans: vec![proto::ScopeSpans { spans }],
        }],
    };
    request.encode_to_vec()
}
