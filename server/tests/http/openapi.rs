//! Every machine-API answer the HTTP tests provoke is checked against `public/openapi.json`:
//! the test routers carry [`conform`] as a layer, so a field renamed in code, a status the
//! document does not list, or an error body of another shape fails the test that caused it.
//! The validator reads the part of JSON Schema the document uses (`$ref`, `type` with
//! `"null"`, `properties`, `required`, `additionalProperties`, `items`, `enum`, `minimum`,
//! `maximum`, `maxLength`); any other keyword fails loudly rather than being skipped.
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Method, Request};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt;
use serde_json::Value;

fn doc() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        serde_json::from_str(include_str!("../../../public/openapi.json")).expect("valid JSON")
    })
}

/// The documented operation for a request, if its path is in the document (a `{name}`
/// segment of a documented path matches any one segment).
fn operation(method: &Method, path: &str) -> Option<&'static Value> {
    let same = |template: &str| {
        let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
        t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()))
    };
    let (_, ops) = doc()["paths"].as_object()?.iter().find(|(template, _)| same(template))?;
    let op = &ops[method.as_str().to_ascii_lowercase()];
    op.is_object().then_some(op)
}

/// Axum middleware for test routers: passes the answer through after checking it.
pub(crate) async fn conform(req: Request<Body>, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let res = next.run(req).await;
    let Some(op) = operation(&method, &path) else { return res };
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    let status = parts.status.as_u16().to_string();
    let at = format!("{method} {path} answered {status}");
    let documented = &op["responses"][&status];
    assert!(documented.is_object(), "{at}, a status public/openapi.json does not list");
    let content_type = parts.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    if let Some(schema) = documented["content"]["application/json"]["schema"].as_object() {
        if content_type.starts_with("application/json") {
            let v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{at}: not JSON: {e}"));
            if let Err(e) = validate(&Value::Object(schema.clone()), &v, "$") {
                panic!("{at}, which does not match public/openapi.json: {e}\nbody: {v}");
            }
            if let Some(said) = v.get("status").and_then(Value::as_u64) {
                assert_eq!(said.to_string(), status, "{at}: the body's status differs from the answer's");
            }
        } else if !documented["content"][content_type.split(';').next().unwrap_or("")].is_object() {
            panic!("{at} with content-type '{content_type}', documented as JSON");
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn resolve(schema: &Value) -> &Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name =
                r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unsupported $ref {r}"));
            let found = &doc()["components"]["schemas"][name];
            assert!(found.is_object(), "$ref {r} names no schema");
            found
        }
        None => schema,
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        other => panic!("unsupported type {other}"),
    }
}

const KNOWN: &[&str] = &[
    "$ref",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "minimum",
    "maximum",
    "maxLength",
    "maxProperties",
    "description",
    "format",
    "oneOf",
];

/// `Ok` when `v` is valid; else where (a JSON path) and why not.
pub(crate) fn validate(schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(schema);
    let obj = schema.as_object().ok_or_else(|| format!("{at}: the schema is not an object"))?;
    if let Some(options) = schema["oneOf"].as_array() {
        let fits = options.iter().filter(|o| validate(o, v, at).is_ok()).count();
        return if fits == 1 {
            Ok(())
        } else {
            Err(format!("{at}: {v} fits {fits} of the oneOf schemas, not one"))
        };
    }
    if let Some(k) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        panic!("{at}: the validator does not read the keyword '{k}'; teach it before using it");
    }
    match &schema["type"] {
        Value::String(t) if !type_matches(t, v) => return Err(format!("{at}: {v} is not of type {t}")),
        Value::Array(ts) if !ts.iter().any(|t| type_matches(t.as_str().unwrap_or(""), v)) => {
            return Err(format!("{at}: {v} is none of the types {ts:?}"));
        }
        _ => {}
    }
    if let Some(options) = schema["enum"].as_array() {
        if !options.contains(v) {
            return Err(format!("{at}: {v} is not one of {options:?}"));
        }
    }
    if let (Some(n), Some(min)) = (v.as_f64(), schema["minimum"].as_f64()) {
        if n < min {
            return Err(format!("{at}: {n} is below the minimum {min}"));
        }
    }
    if let (Some(n), Some(max)) = (v.as_f64(), schema["maximum"].as_f64()) {
        if n > max {
            return Err(format!("{at}: {n} is above the maximum {max}"));
        }
    }
    if let (Some(s), Some(max)) = (v.as_str(), schema["maxLength"].as_u64()) {
        if s.chars().count() as u64 > max {
            return Err(format!("{at}: longer than {max} characters"));
        }
    }
    if let Some(fields) = v.as_object() {
        let props = schema["properties"].as_object();
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap_or("");
            if !fields.contains_key(name) {
                return Err(format!("{at}: the required field '{name}' is missing"));
            }
        }
        for (name, value) in fields {
            let here = format!("{at}.{name}");
            match (props.and_then(|p| p.get(name)), &schema["additionalProperties"]) {
                (Some(s), _) => validate(s, value, &here)?,
                (None, Value::Bool(false)) => {
                    return Err(format!("{here}: a field the schema does not list"))
                }
                (None, extra @ Value::Object(_)) => validate(extra, value, &here)?,
                (None, _) => {}
            }
        }
    }
    if let (Some(items), Some(schema)) = (v.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            validate(schema, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

#[test]
fn the_validator_refuses_what_the_schema_does_not_allow() {
    let schema = serde_json::json!({"$ref": "#/components/schemas/Error"});
    let ok = serde_json::json!({"status": 422, "code": "invalid", "error": "amount: not a number", "field": "amount"});
    assert_eq!(validate(&schema, &ok, "$"), Ok(()));
    let renamed = serde_json::json!({"status": 422, "code": "invalid", "message": "x"});
    assert_eq!(validate(&schema, &renamed, "$").unwrap_err(), "$: the required field 'error' is missing");
    let extra = serde_json::json!({"status": 422, "code": "invalid", "error": "x", "hint": "y"});
    assert_eq!(validate(&schema, &extra, "$").unwrap_err(), "$.hint: a field the schema does not list");
    let bad_code = serde_json::json!({"status": 422, "code": "nope", "error": "x"});
    assert!(validate(&schema, &bad_code, "$").unwrap_err().starts_with("$.code: \"nope\" is not one of"));
    let wrong_type = serde_json::json!({"status": "422", "code": "invalid", "error": "x"});
    assert_eq!(validate(&schema, &wrong_type, "$").unwrap_err(), "$.status: \"422\" is not of type integer");
    let spend = serde_json::json!({"$ref": "#/components/schemas/SpendRow"});
    let row = serde_json::json!({"group": "a", "share_pct": "100.0", "cost_nanos": 1, "cost": "0.00"});
    assert!(validate(&spend, &row, "$").unwrap_err().contains("required field 'cost_usd'"));
}

#[test]
fn every_machine_route_under_api_is_documented() {
    for (method, path, _) in server::router::machine_routes() {
        if path.starts_with("/api/") || path.starts_with("/v1/") {
            assert!(
                operation(&method, path).is_some(),
                "{method} {path} is missing from public/openapi.json"
            );
        }
    }
}
