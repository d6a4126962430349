//! The machine APIs: events, OTLP spans, ledger records, FOCUS download.
use super::*;

/// A router over `db` with the public price list, and an `ingest`-scoped key for team
/// `search` and initiative `smart-search`, plus a `read`-only key.
pub(crate) async fn ingest_app(db: &Db) -> (axum::Router, String, String) {
    use app::server::services::keys::{create_key, KeyRequest};
    let app = app_with(db, false).await;
    app::server::services::prices::ensure_public_list(db).await.unwrap();
    let org = db.ensure_org("default", "Default").await.unwrap();
    db.ensure_team(org, "search", "Search").await.unwrap();
    let hasher = KeyHasher::load(db).await.unwrap();
    let req = KeyRequest {
        name: "gateway".into(),
        team: "search".into(),
        scopes: "ingest".into(),
        initiative: Some("smart-search".into()),
        expires_in_days: None,
        actor: app::server::db::Actor::cli(),
    };
    let ingest = create_key(db, &hasher, org, req.clone()).await.unwrap().token;
    let read = create_key(db, &hasher, org, KeyRequest { scopes: "read".into(), ..req }).await.unwrap().token;
    (app, ingest, read)
}

pub(crate) async fn post_events(
    app: &axum::Router,
    token: &str,
    body: Vec<u8>,
    gzip: bool,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::post("/api/v1/events").header("authorization", format!("Bearer {token}"));
    if gzip {
        req = req.header("content-encoding", "gzip");
    }
    let (status, text) = send(app, req.body(Body::from(body)).unwrap()).await;
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

pub(crate) async fn ingest_counts_good_bad_and_duplicate_items_and_a_resend_changes_nothing(db: Db) {
    use serde_json::json;
    let (app, token, _) = ingest_app(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let before = db.usage_totals(org).await.unwrap();
    let batch = json!([
        {"event_id": "i-1", "timestamp": "2026-11-20T10:00:00Z", "provider": "openai", "model": "gpt-4o",
         "input_tokens": 1000, "cache_read_tokens": 600, "output_tokens": 500, "feature": "answers"},
        {"event_id": "i-2", "timestamp": "20 Nov 2026", "provider": "openai", "model": "gpt-4o"},
        {"event_id": "i-1", "timestamp": "2026-11-20T10:00:00Z", "provider": "openai", "model": "gpt-4o",
         "input_tokens": 1000, "cache_read_tokens": 600, "output_tokens": 500, "feature": "answers"},
        {"event_id": "i-3", "timestamp": "2026-11-20T11:00:00Z", "provider": "acme", "model": "our-finetune",
         "input_tokens": 10, "cost_usd": "0.5", "team": "risk"},
        {"event_id": "i-4", "timestamp": "2026-11-20T12:00:00Z", "provider": "acme", "model": "our-finetune",
         "input_tokens": 10},
        {"event_id": "i-5", "timestamp": "2026-11-20T12:00:00Z", "provider": "openai", "model": "gpt-4o",
         "prompt": "never stored"}
    ]);
    let body = serde_json::to_vec(&batch).unwrap();
    let (status, report) = post_events(&app, &token, body.clone(), false).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (&report["accepted"], &report["duplicates"], &report["rejected"], &report["unpriced"]),
        (&json!(3), &json!(1), &json!(2), &json!(1)),
        "{report}"
    );
    assert_eq!(report["errors"][0]["index"], 1);
    assert_eq!(report["errors"][0]["field"], "timestamp");
    assert_eq!(report["errors"][1]["index"], 5);
    assert_eq!(report["errors"][1]["field"], "prompt");

    // gpt-4o: 400 × 2.5e-6 + 600 × 1.25e-6 + 500 × 1e-5 = $0.00675; the provider's $0.50
    let rows = db.usage_events(org).await.unwrap();
    let row = |id: &str| rows.iter().find(|r| r.event_id == id).unwrap().clone();
    let i1 = row("i-1");
    assert_eq!((i1.cost_nanos, i1.cost_source.as_str()), (6_750_000, "computed"));
    assert_eq!(
        (i1.team.as_deref(), i1.initiative.as_deref()),
        (Some("search"), Some("smart-search")),
        "from the key"
    );
    assert_eq!(i1.api_key.as_deref(), Some(&token[3..13]));
    let i3 = row("i-3");
    assert_eq!(
        (i3.cost_nanos, i3.cost_source.as_str(), i3.team.as_deref()),
        (500_000_000, "provider", Some("risk"))
    );
    assert_eq!((row("i-4").cost_nanos, row("i-4").cost_source.as_str()), (0, "unpriced"));
    let after = db.usage_totals(org).await.unwrap();
    assert_eq!((after.0 - before.0, after.1 .0 - before.1 .0), (3, 506_750_000));

    // the same batch again changes nothing
    let (status, report) = post_events(&app, &token, body, false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((&report["accepted"], &report["duplicates"]), (&json!(0), &json!(4)));
    assert_eq!(db.usage_totals(org).await.unwrap(), after);
    let day = app::domain::DateRange { from: d("2026-11-20"), to: d("2026-11-20") };
    let from_rollups = db.cost_between(org, day, None).await.unwrap();

    // NDJSON, gzip-compressed, with blank lines
    let ndjson = b"{\"event_id\":\"n-1\",\"timestamp\":\"2026-11-20T13:00:00Z\",\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"input_tokens\":1000000}\n\n{\"event_id\":\"n-2\",\"timestamp\":\"2026-11-20T13:00:01Z\",\"provider\":\"openai\",\"model\":\"gpt-4o-mini\",\"output_tokens\":1000000}\n";
    let (status, report) = post_events(&app, &token, gzip(ndjson), true).await;
    assert_eq!((status, &report["accepted"]), (StatusCode::OK, &json!(2)), "{report}");
    // gpt-4o-mini: 1M input × 1.5e-7 = $0.15; 1M output × 6e-7 = $0.60
    assert_eq!(db.cost_between(org, day, None).await.unwrap(), Nanos(from_rollups.0 + 750_000_000));
}
on_both!(ingest_counts_good_bad_and_duplicate_items_and_a_resend_changes_nothing);

pub(crate) async fn ingest_refuses_bad_bodies_naming_the_position_or_the_limit(db: Db) {
    let (app, token, read_only) = ingest_app(&db).await;
    let (status, body) =
        post_events(&app, &token, b"[\n {\"event_id\": \"x\",\n  \"model\" \"gpt-4o\"}\n]".to_vec(), false)
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().starts_with("malformed JSON at line 3, column 11"), "{body}");
    let many = format!("[{}]", vec!["{}"; 10_001].join(","));
    let (status, body) = post_events(&app, &token, many.into_bytes(), false).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"], "batch: more than 10000 items; split the batch");
    // a small gzip body that inflates past 16 MiB
    let bomb = gzip(&vec![b' '; 17 * 1024 * 1024]);
    assert!(bomb.len() < 100_000);
    let (status, body) = post_events(&app, &token, bomb, true).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body["error"].as_str().unwrap().contains("16777216 bytes"), "{body}");
    let (status, body) = post_events(&app, &token, b"[{\"event_id\": 1}]".to_vec(), false).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "every item refused: {body}");
    let (status, _) = post_events(&app, &read_only, b"[]".to_vec(), false).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a read key cannot ingest");
    let (status, _) = post_events(&app, "cr_nope", b"[]".to_vec(), false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
on_both!(ingest_refuses_bad_bodies_naming_the_position_or_the_limit);

/// The "Tool calls (functions)" example of the OpenTelemetry GenAI conventions (content
/// capturing disabled): chat (47 in / 17 out), execute_tool get_weather, chat (97 / 52).
pub(crate) fn otel_tool_call_example() -> Vec<serde_json::Map<String, serde_json::Value>> {
    let all: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../fixtures/otel_genai_example_spans.json")).unwrap();
    all.into_iter()
        .filter(|s| {
            s["section"] == "Tool calls (functions)"
                && s["subsection"].as_str().unwrap().contains("capturing is disabled")
        })
        .map(|s| s["attributes"].as_object().unwrap().clone())
        .collect()
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

pub(crate) async fn otlp_json_and_protobuf_spans_become_events_with_the_examples_token_counts(db: Db) {
    use app::server::formats::otlp::proto;
    use prost::Message;
    use serde_json::{json, Value};
    let (app, token, _) = ingest_app(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let spans = otel_tool_call_example();
    assert_eq!(spans.len(), 3);
    let start: u64 = 1_763_632_800_000_000_000; // 2025-11-20T10:00:00Z
    let otlp_attr = |k: &str, v: &Value| match v {
        Value::Number(n) if n.is_i64() => json!({"key": k, "value": {"intValue": n.to_string()}}),
        Value::Number(n) => json!({"key": k, "value": {"doubleValue": n.as_f64()}}),
        Value::String(s) => json!({"key": k, "value": {"stringValue": s}}),
        other => json!({"key": k, "value": {"stringValue": other.to_string()}}),
    };
    let json_spans: Vec<Value> = spans
        .iter()
        .enumerate()
        .map(|(i, a)| {
            json!({"traceId": TRACE, "spanId": format!("00f067aa0ba902b{i}"), "parentSpanId": "00f067aa0ba90200",
                "name": a["Span name"], "startTimeUnixNano": (start + i as u64 * 1_000_000_000).to_string(),
                "endTimeUnixNano": (start + i as u64 * 1_000_000_000 + 800_000_000).to_string(), "kind": 3,
                "attributes": a.iter().filter(|(k, _)| k.starts_with("gen_ai.")).map(|(k, v)| otlp_attr(k, v)).collect::<Vec<_>>()})
        })
        .collect();
    let root = json!({"traceId": TRACE, "spanId": "00f067aa0ba90200", "name": "invoke_agent weather",
        "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 3_000_000_000).to_string()});
    let all_spans: Vec<Value> = [root].into_iter().chain(json_spans).collect();
    let body = json!({"resourceSpans": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "weather-bot"}},
            {"key": "deployment.environment.name", "value": {"stringValue": "prod"}}]},
        "scopeSpans": [{"scope": {"name": "openai-instrumentation"}, "spans": all_spans}]}]});
    let req = Request::post("/v1/traces")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    let (status, text) = send(&app, req).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "{}"), "full success");
    let rows = db.usage_events(org).await.unwrap();
    let otel: Vec<_> = rows.iter().filter(|r| r.event_id.starts_with("otel:")).collect();
    let tokens: Vec<(i64, i64)> = otel.iter().map(|r| (r.input_tokens, r.output_tokens)).collect();
    assert_eq!(tokens, vec![(47, 17), (0, 0), (97, 52)], "exactly the example's counts");
    assert_eq!(otel[0].model, "gpt-4-0613");
    assert_eq!(
        (otel[0].feature.as_deref(), otel[0].environment.as_deref()),
        (Some("weather-bot"), Some("prod"))
    );
    assert_eq!(otel[0].team.as_deref(), Some("search"), "from the key");
    // gpt-4-0613 per LiteLLM: 3e-5 in, 6e-5 out → 47 × 3e-5 + 17 × 6e-5 = $0.00243
    assert_eq!((otel[0].cost_nanos, otel[0].cost_source.as_str()), (2_430_000, "computed"));

    // the same spans as protobuf (gzip, as collectors send them): duplicates, nothing new
    let to_kv = |k: &str, v: &Value| proto::KeyValue {
        key: k.to_string(),
        value: Some(proto::AnyValue {
            value: Some(match v {
                Value::Number(n) => match n.as_i64() {
                    Some(i) => proto::any_value::Value::IntValue(i),
                    None => proto::any_value::Value::DoubleValue(n.as_f64().unwrap()),
                },
                other => proto::any_value::Value::StringValue(other.as_str().unwrap_or_default().to_string()),
            }),
        }),
    };
    let unhex = |s: &str| {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<u8>>()
    };
    let pb_spans: Vec<proto::Span> = spans
        .iter()
        .enumerate()
        .map(|(i, a)| proto::Span {
            trace_id: unhex(TRACE),
            span_id: unhex(&format!("00f067aa0ba902b{i}")),
            parent_span_id: unhex("00f067aa0ba90200"),
            name: a["Span name"].as_str().unwrap().to_string(),
            start_time_unix_nano: start + i as u64 * 1_000_000_000,
            end_time_unix_nano: start + i as u64 * 1_000_000_000 + 800_000_000,
            attributes: a
                .iter()
                .filter(|(k, _)| k.starts_with("gen_ai."))
                .map(|(k, v)| to_kv(k, v))
                .collect(),
            status: None,
        })
        .collect();
    let mut extra = pb_spans[0].clone();
    extra.span_id = unhex("00f067aa0ba902c0");
    extra.attributes.push(to_kv("gen_ai.usage.cache_read.input_tokens", &json!(500)));
    let request = proto::ExportTraceServiceRequest {
        resource_spans: vec![proto::ResourceSpans {
            resource: Some(proto::Resource {
                attributes: vec![to_kv("service.name", &json!("weather-bot"))],
            }),
            scope_spans: vec![proto::ScopeSpans { spans: pb_spans.into_iter().chain([extra]).collect() }],
        }],
    };
    let req = Request::post("/v1/traces")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(Body::from(gzip(&request.encode_to_vec())))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/x-protobuf");
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let answer = proto::ExportTraceServiceResponse::decode(bytes).unwrap();
    let partial = answer.partial_success.expect("one span refused");
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("cache_read_tokens"), "{}", partial.error_message);
    let again =
        db.usage_events(org).await.unwrap().into_iter().filter(|r| r.event_id.starts_with("otel:")).count();
    assert_eq!(again, 3, "the protobuf copies of the same spans were duplicates");
}
on_both!(otlp_json_and_protobuf_spans_become_events_with_the_examples_token_counts);

#[test]
pub(crate) fn the_openapi_document_lists_exactly_the_fields_ingest_reads() {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../../../public/openapi.json")).expect("valid JSON");
    let props = doc["components"]["schemas"]["UsageEvent"]["properties"].as_object().expect("properties");
    let mut documented: Vec<&str> = props.keys().map(String::as_str).collect();
    let mut read: Vec<&str> = app::domain::ingest::FIELDS.to_vec();
    documented.sort();
    read.sort();
    assert_eq!(documented, read);
    for path in ["/api/v1/events", "/v1/traces", "/api/v1/key"] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    // the documented maxima are the ones enforced
    use app::domain::limits;
    for class in app::domain::pricing::TOKEN_FIELDS {
        assert_eq!(props[class]["maximum"], app::domain::event_bounds::count_max(class), "{class}");
    }
    assert_eq!(props["request_count"]["maximum"], limits::MAX_REQUESTS);
    assert_eq!(props["latency_ms"]["maximum"], limits::MAX_LATENCY_MS);
    assert_eq!(props["event_id"]["maxLength"], limits::MAX_ID_LEN);
    assert_eq!(props["feature"]["maxLength"], limits::MAX_TEXT_LEN);
    assert_eq!(props["tags"]["maxProperties"], limits::MAX_TAGS);
}

pub(crate) async fn an_organisations_attribute_mapping_attributes_otlp_spans(db: Db) {
    use app::domain::otlp::AttributeMapping;
    use app::server::db::Actor;
    use app::server::services::settings::{attribute_mapping, set_attribute_mapping};
    let (app, token, _) = ingest_app(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    assert_eq!(attribute_mapping(&db, org).await.unwrap(), AttributeMapping::default());
    let mapping = AttributeMapping::parse("app.team", "app.feature", "", "tenant.id", "env").unwrap();
    set_attribute_mapping(&db, org, &Actor::cli(), mapping.clone()).await.unwrap();
    assert_eq!(attribute_mapping(&db, org).await.unwrap(), mapping);
    let body = serde_json::json!({"resourceSpans": [{"resource": {"attributes": [
            {"key": "env", "value": {"stringValue": "staging"}}]},
        "scopeSpans": [{"spans": [{"traceId": TRACE, "spanId": "0000000000000abc", "name": "chat gpt-4o",
            "endTimeUnixNano": "1763632800000000000", "attributes": [
            {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "10"}},
            {"key": "app.team", "value": {"stringValue": "risk"}},
            {"key": "app.feature", "value": {"stringValue": "fraud-review"}},
            {"key": "tenant.id", "value": {"stringValue": "globex"}}]}]}]}]});
    let req = Request::post("/v1/traces")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    let (status, _) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK);
    let rows = db.usage_events(org).await.unwrap();
    let e = rows.iter().find(|r| r.event_id.ends_with(":0000000000000abc")).unwrap();
    assert_eq!(
        (e.team.as_deref(), e.feature.as_deref(), e.customer.as_deref(), e.environment.as_deref()),
        (Some("risk"), Some("fraud-review"), Some("globex"), Some("staging"))
    );
    let trail = db.list_audit(org, &Default::default(), 5).await.unwrap();
    assert_eq!(trail[0].action, "setting.otel_mapping");
    assert!(trail[0].changes.iter().any(|c| c.field == "team" && c.after.as_deref() == Some("app.team")));
}
on_both!(an_organisations_attribute_mapping_attributes_otlp_spans);

pub(crate) async fn post_records(
    app: &axum::Router,
    path: &str,
    token: &str,
    csv: bool,
    body: &str,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::post(path).header("authorization", format!("Bearer {token}"));
    if csv {
        req = req.header("content-type", "text/csv; charset=utf-8");
    }
    let (status, text) = send(app, req.body(Body::from(body.to_string())).unwrap()).await;
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

pub(crate) async fn ledger_records_api_takes_csv_and_json_and_names_bad_fields(db: Db) {
    use app::domain::ledger::SpendSource;
    use app::domain::DateRange;
    let (app, token, read) = ingest_app(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let csv = "day,cluster,gpu_type,team,allocated_gpu_hours,used_gpu_hours,cost_usd\n\
        2026-11-02,train-east,H100,research,192,153.6,478.08\n\
        2026-11-02,train-east,H100,risk,8,,ten\n";
    let (status, report) = post_records(&app, "/api/v1/ledger/gpu-usage", &token, true, csv).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((report["accepted"].as_u64(), report["rejected"].as_u64()), (Some(1), Some(1)));
    assert_eq!(report["errors"][0]["at"], 3);
    assert_eq!(report["errors"][0]["field"], "cost_usd");
    let run = r#"{"run_id": "ft-1", "model": "m", "started_at": "2026-11-02T00:00:00Z",
        "ended_at": "2026-11-02T12:00:00Z", "cost_usd": 1200.5, "metric_name": "accuracy", "metric_score": 0.9}"#;
    let (status, report) = post_records(&app, "/api/v1/ledger/training-runs", &token, false, run).await;
    assert_eq!((status, report["accepted"].as_u64()), (StatusCode::OK, Some(1)), "{report}");
    let bad = r#"[{"provider": "azure", "model": "gpt-4o", "units": 0, "term_start": "2026-11-01",
        "term_end": "2026-11-30", "price_usd": "100"}]"#;
    let (status, report) = post_records(&app, "/api/v1/ledger/commitments", &token, false, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    assert_eq!(
        (report["errors"][0]["at"].as_u64(), report["errors"][0]["field"].as_str()),
        (Some(1), Some("units"))
    );
    let (status, report) = post_records(&app, "/api/v1/ledger/commitments", &token, false, "{oops").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{report}");
    // a read-only key writes nothing
    let (status, _) = post_records(&app, "/api/v1/ledger/gpu-usage", &read, true, csv).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let day = DateRange { from: "2026-11-02".parse().unwrap(), to: "2026-11-02".parse().unwrap() };
    assert_eq!(db.cost_between(org, day, Some(SpendSource::Gpu)).await.unwrap(), Nanos(478_080_000_000));
    assert_eq!(
        db.cost_between(org, day, Some(SpendSource::Training)).await.unwrap(),
        Nanos(1_200_500_000_000)
    );
    assert_eq!(db.cost_between(org, day, None).await.unwrap(), Nanos(1_678_580_000_000));
}
on_both!(ledger_records_api_takes_csv_and_json_and_names_bad_fields);

pub(crate) async fn anyone_signed_in_downloads_the_ledger_as_focus(db: Db) {
    use app::domain::DateRange;
    use app::server::formats::focus::export::{export, Selection};
    let app = app_with_events(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let viewer = sign_in(&app, VIEWER, PASSWORD, None).await.expect("viewer signs in");
    let (status, _) = send(&app, get("/ledger/focus.csv?from=2026-11-01&to=2026-11-30")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) =
        send(&app, with_cookie(get("/ledger/focus.csv?from=2026-11-01&to=2026-11-30"), &viewer)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.starts_with("BillingAccountId,BillingAccountName,BillingCurrency,"),
        "{}",
        &body[..200.min(body.len())]
    );
    let mut direct = String::new();
    let range = DateRange { from: "2026-11-01".parse().unwrap(), to: "2026-11-30".parse().unwrap() };
    export(&db, org, "Default", Selection { range, source: None }, &mut direct).await.unwrap();
    assert_eq!(body, direct, "the download is the export, byte for byte");
    assert!(body.lines().count() > 1, "the demo events are in it");
    let (status, body) = send(&app, with_cookie(get("/ledger/focus.csv?source=cloud"), &viewer)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("source: 'cloud'"), "{body}");
}
on_both!(anyone_signed_in_downloads_the_ledger_as_focus);

/// One call with audio tokens and one with web searches, each sent as a JSON event and as an
/// OTLP span (`costroom.usage.*` attributes): both paths store the same cost, to the nano.
pub(crate) async fn audio_and_web_search_calls_cost_the_same_by_json_and_by_otlp(db: Db) {
    use serde_json::json;
    let (app, token, _) = ingest_app(&db).await;
    let org = db.ensure_org("default", "Default").await.unwrap();
    let calls = [
        // gemini-2.0-flash: 400k text × $0.1/M + 200k cached × $0.025/M + 300k audio × $0.7/M +
        // 100k cached audio × $0.175/M + 10k out × $0.4/M = $0.2765
        (
            "audio",
            "gcp.gemini",
            "gemini-2.0-flash",
            json!({"input_tokens": 1_000_000, "cache_read_tokens": 300_000,
            "input_audio_tokens": 400_000, "cache_read_audio_tokens": 100_000, "output_tokens": 10_000}),
            276_500_000,
        ),
        // claude-sonnet-4-5: 10k × $3/M + 1k × $15/M + 3 searches × $10/1000 = $0.075
        (
            "search",
            "anthropic",
            "claude-sonnet-4-5",
            json!({"input_tokens": 10_000, "output_tokens": 1_000,
            "web_search_calls": 3}),
            75_000_000,
        ),
    ];
    let mut spans = vec![];
    let mut events = vec![];
    for (i, (id, provider, model, counts, _)) in calls.iter().enumerate() {
        let mut e = json!({"event_id": format!("json-{id}"), "timestamp": "2026-11-09T12:00:00Z",
            "provider": provider, "model": model});
        let mut attrs = vec![
            json!({"key": "gen_ai.provider.name", "value": {"stringValue": provider}}),
            json!({"key": "gen_ai.request.model", "value": {"stringValue": model}}),
        ];
        for (k, v) in counts.as_object().unwrap() {
            e[k] = v.clone();
            let key = match k.as_str() {
                "input_tokens" => "gen_ai.usage.input_tokens".to_string(),
                "cache_read_tokens" => "gen_ai.usage.cache_read.input_tokens".to_string(),
                "output_tokens" => "gen_ai.usage.output_tokens".to_string(),
                other => format!("costroom.usage.{other}"),
            };
            attrs.push(json!({"key": key, "value": {"intValue": v.to_string()}}));
        }
        events.push(e);
        let end: u64 = 1_794_225_600_000_000_000; // 2026-11-09T12:00:00Z
        spans.push(
            json!({"traceId": "5b8efff798038103d269b633813fc60c", "spanId": format!("eee19b7ec3c1b17{i}"),
            "name": format!("chat {model}"), "startTimeUnixNano": (end - 1_000_000_000).to_string(),
            "endTimeUnixNano": end.to_string(), "kind": 3, "attributes": attrs}),
        );
    }
    let (status, answer) = post_events(&app, &token, serde_json::to_vec(&events).unwrap(), false).await;
    assert_eq!(
        (status, answer["accepted"].as_i64(), answer["unpriced"].as_i64()),
        (StatusCode::OK, Some(2), Some(0)),
        "{answer}"
    );
    let body = json!({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]});
    let req = Request::post("/v1/traces")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    let (status, text) = send(&app, req).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "{}"));
    let rows = db.usage_events(org).await.unwrap();
    for (i, (id, _, _, _, cost)) in calls.iter().enumerate() {
        let by_json = rows.iter().find(|r| r.event_id == format!("json-{id}")).expect("json event");
        let by_otlp =
            rows.iter().find(|r| r.event_id.ends_with(&format!("eee19b7ec3c1b17{i}"))).expect("span event");
        assert_eq!((by_json.cost_nanos, by_json.cost_source.as_str()), (*cost, "computed"), "{id} by JSON");
        assert_eq!((by_otlp.cost_nanos, by_otlp.cost_source.as_str()), (*cost, "computed"), "{id} by OTLP");
    }
}
on_both!(audio_and_web_search_calls_cost_the_same_by_json_and_by_otlp);

/// After retention dropped the raw events before a boundary, what needs them says so instead
/// of answering with part of the data: an event from before it is refused by item and field,
/// an hourly combined view or a FOCUS export starting before it is a 422 naming `from`; views
/// from the rollups still count the dropped events to the nano.
pub(crate) async fn after_retention_what_needs_dropped_raw_events_is_refused_by_field(db: Db) {
    use serde_json::json;
    let (app, token, read) = ingest_app(&db).await;
    let read = format!("Bearer {read}");
    let org = db.ensure_org("default", "Default").await.unwrap();
    let viewer = sign_in(&app, VIEWER, PASSWORD, None).await.expect("viewer signs in");
    let purged = db.purge_raw_events(org, d("2026-11-01"), 1_000, u64::MAX).await.unwrap();
    assert_eq!(purged.deleted, 1, "event a of 2026-10-03");

    let batch = json!([
        {"event_id": "r-old", "timestamp": "2026-10-31T23:59:59Z", "provider": "openai", "model": "gpt-4o",
         "input_tokens": 10},
        {"event_id": "r-new", "timestamp": "2026-11-01T00:00:00Z", "provider": "openai", "model": "gpt-4o",
         "input_tokens": 10}
    ]);
    let (status, report) = post_events(&app, &token, serde_json::to_vec(&batch).unwrap(), false).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((&report["accepted"], &report["rejected"]), (&json!(1), &json!(1)), "{report}");
    assert_eq!(report["errors"][0]["index"], 0);
    assert_eq!(report["errors"][0]["field"], "timestamp");
    let reason = report["errors"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("2026-10-31") && reason.contains("2026-11-01"), "{reason}");
    let new_cost =
        db.usage_events(org).await.unwrap().iter().find(|r| r.event_id == "r-new").unwrap().cost_nanos;

    // the daily view over both months still holds the dropped event
    let (status, body) = send(
        &app,
        super::pages::get_with_key("/api/v1/spend?group=team&from=2026-10-01&to=2026-11-30", &read),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["answered_from"], "rollups");
    let all = 1_500_000_000 + 2_000_000_001 + 10_123_456_789 + 1 + new_cost;
    assert_eq!(v["total"]["cost_nanos"], all, "{body}");

    let hourly = "/api/v1/spend?group=model&team=support&environment=prod&gran=hour&to=2026-11-10&from=";
    let (status, body) = send(&app, super::pages::get_with_key(&format!("{hourly}2026-10-31"), &read)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("from:") && body.contains("kept from 2026-11-01"), "{body}");
    let (status, body) = send(&app, super::pages::get_with_key(&format!("{hourly}2026-11-01"), &read)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((&v["answered_from"], &v["total"]["cost_nanos"]), (&json!("raw"), &json!(12_123_456_791i64)));

    let focus =
        |from: &str| with_cookie(get(&format!("/ledger/focus.csv?from={from}&to=2026-11-30")), &viewer);
    let (status, body) = send(&app, focus("2026-10-01")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("from:") && body.contains("FOCUS export"), "{body}");
    let (status, body) = send(&app, focus("2026-11-01")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("2026-11-07"), "the kept days are exported");
}
on_both!(after_retention_what_needs_dropped_raw_events_is_refused_by_field);
