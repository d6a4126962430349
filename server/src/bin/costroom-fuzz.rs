//! `costroom-fuzz [minutes] [target…]`: mutation fuzzing of every parser that reads what
//! outsiders send — ingest JSON/NDJSON, OTLP JSON and protobuf, FOCUS CSV, the provider
//! usage/cost reports, the LiteLLM price file and the money parser. No parser may panic on
//! any input; a panic is a bug (a 500, or a crashed import).
//!
//! Seeds are the real files in `../shared/data` and the test fixtures, plus generated ingest
//! and protobuf bodies; each round applies 1–8 random mutations (bit flips, interesting numbers
//! and characters, deletions, duplications, splices between seeds, truncation) and runs the
//! target's whole path (parse, then turn into events or rows, then the bounds check). There is
//! no coverage guidance (cargo-fuzz needs a nightly compiler, which this project does not
//! require), so it runs many rounds instead: minutes, not seconds.
//!
//! A panicking input is written to `target/fuzz-crashes/` and the run exits non-zero. Run with
//! `make fuzz` (10 minutes by default).
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use app::domain::otlp::{self, AttributeMapping};
use app::domain::Nanos;

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
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: &[&str] = &[
    "0",
    "-1",
    "-0",
    "1e308",
    "-1e308",
    "1e-308",
    "NaN",
    "Infinity",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "18446744073709551615",
    "99999999999999999999999999999",
    "0.0000000000000000001",
    "1,5",
    "1,500",
    "1.2.3",
    "1e",
    "e5",
    "\"\"",
    "null",
    "true",
    "[]",
    "{}",
    "[[[[[[[[[[",
    "}}}}",
    "\\u0000",
    "\\ud800",
    "\u{0}",
    "\u{7f}",
    "\u{2028}",
    "é",
    "\u{FEFF}",
    "\r\n",
    "\n",
    ",",
    "\"",
    ":",
    "\t",
    "2099-12-31T23:59:59Z",
    "1999-12-31T23:59:59Z",
    "+275760-09-13T00:00:00Z",
    "2026-02-30",
    "24:00:00",
];

fn mutate(rng: &mut Rng, input: &[u8], seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(b.len() + 1);
        match rng.below(8) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
            2 => {
                let word = INTERESTING[rng.below(INTERESTING.len())].as_bytes();
                b.splice(at..at, word.iter().copied());
            }
            3 if !b.is_empty() => {
                // replace a number-looking run with an interesting value
                let end = (at + 1 + rng.below(24)).min(b.len());
                let word = INTERESTING[rng.below(INTERESTING.len())].as_bytes();
                b.splice(at.min(end)..end, word.iter().copied());
            }
            4 => {
                let end = (at + rng.below(64)).min(b.len());
                b.drain(at..end);
            }
            5 if !b.is_empty() => {
                let from = rng.below(b.len());
                let end = (from + 1 + rng.below(256)).min(b.len());
                let chunk = b[from..end].to_vec();
                for _ in 0..1 + rng.below(4) {
                    b.splice(at..at, chunk.iter().copied());
                }
            }
            6 => {
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() {
                    let from = rng.below(other.len());
                    let end = (from + 1 + rng.below(512)).min(other.len());
                    b.splice(at..at, other[from..end].iter().copied());
                }
            }
            _ => b.truncate(at),
        }
        // stay small enough for many rounds a second
        b.truncate(1 << 20);
    }
    b
}

type Run = fn(&[u8]);

fn ingest_json(b: &[u8]) {
    if let Ok(items) = app::domain::ingest::parse_body(b) {
        for (i, v) in items.iter().enumerate() {
            if let Ok(e) = app::domain::ingest::parse_item(i, v) {
                let _ = app::domain::ingest::check(i, &e);
                let _ = app::domain::ingest::to_item(&e);
            }
        }
    }
}

fn otlp_json(b: &[u8]) {
    if let Ok(spans) = otlp::parse_json(b) {
        let _ = otlp::spans_to_events(&spans, &AttributeMapping::default());
    }
}

fn otlp_protobuf(b: &[u8]) {
    if let Ok(spans) = app::server::formats::otlp::spans_from_protobuf(b) {
        let _ = otlp::spans_to_events(&spans, &AttributeMapping::default());
    }
}

fn focus_csv(b: &[u8]) {
    let _ = app::server::formats::focus::read(b, drop);
}

fn provider_reports(b: &[u8]) {
    use app::server::formats::provider_reports as p;
    let text = String::from_utf8_lossy(b);
    for parse in
        [p::openai_costs, p::openai_completions_usage, p::anthropic_costs, p::anthropic_messages_usage]
    {
        if let Ok(report) = parse(&text) {
            let _ = p::check_lines(&report);
        }
    }
}

fn price_file(b: &[u8]) {
    let _ = app::server::services::prices::parse_litellm_map(&String::from_utf8_lossy(b));
}

fn money(b: &[u8]) {
    let text = String::from_utf8_lossy(b);
    for line in text.lines().take(64) {
        let _ = Nanos::parse_usd(line);
        let _ = app::server::formats::focus::parse_amount(line);
        let _ = app::server::formats::focus::parse_time(line);
    }
}

fn files(paths: &[&str], ext: &[&str]) -> Vec<Vec<u8>> {
    let mut out = vec![];
    let mut stack: Vec<std::path::PathBuf> = paths.iter().map(|p| Path::new(p).to_path_buf()).collect();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            if let Ok(rd) = std::fs::read_dir(&p) {
                stack.extend(rd.flatten().map(|e| e.path()));
            }
        } else if ext.iter().any(|x| p.extension().is_some_and(|e| e == *x)) {
            if let Ok(mut b) = std::fs::read(&p) {
                b.truncate(256 * 1024);
                out.push(b);
            }
        }
    }
    out
}

fn generated_ingest() -> Vec<Vec<u8>> {
    let end = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).expect("date");
    let events = app::server::formats::demo::generate(&app::server::formats::demo::DemoConfig {
        seed: 3,
        end,
        days: 2,
        volume: 0.05,
    });
    let items: Vec<_> = events.iter().take(20).map(app::domain::ingest::to_item).collect();
    let ndjson: String = items.iter().map(|v| v.to_string() + "\n").collect();
    vec![serde_json::to_vec(&items).expect("json"), ndjson.into_bytes()]
}

fn generated_protobuf() -> Vec<Vec<u8>> {
    use app::server::formats::otlp::proto::{self, any_value::Value};
    use prost::Message;
    let kv = |k: &str, v: Value| proto::KeyValue {
        key: k.into(),
        value: Some(proto::AnyValue { value: Some(v) }),
    };
    let spans = (0..5u8)
        .map(|i| proto::Span {
            trace_id: vec![i + 1; 16],
            span_id: vec![i + 1; 8],
            parent_span_id: if i > 0 { vec![1; 8] } else { vec![] },
            name: "chat gpt-4o".into(),
            start_time_unix_nano: 1_790_000_000_000_000_000,
            end_time_unix_nano: 1_790_000_000_800_000_000,
            attributes: vec![
                kv("gen_ai.operation.name", Value::StringValue("chat".into())),
                kv("gen_ai.provider.name", Value::StringValue("openai".into())),
                kv("gen_ai.request.model", Value::StringValue("gpt-4o".into())),
                kv("gen_ai.usage.input_tokens", Value::IntValue(1200)),
                kv("gen_ai.usage.output_tokens", Value::IntValue(300)),
                kv("gen_ai.usage.cost", Value::DoubleValue(0.0123)),
                kv("costroom.team", Value::StringValue("search".into())),
            ],
            status: None,
        })
        .collect();
    let req = proto::ExportTraceServiceRequest {
        resource_spans: vec![proto::ResourceSpans {
            resource: Some(proto::Resource {
                attributes: vec![kv("service.name", Value::StringValue("bot".into()))],
            }),
            scope_spans: vec![proto::ScopeSpans { spans }],
        }],
    };
    vec![req.encode_to_vec()]
}

struct Target {
    name: &'static str,
    run: Run,
    seeds: Vec<Vec<u8>>,
    rounds: u64,
}

fn targets() -> Vec<Target> {
    let data = "../shared/data";
    let t = |name, run, mut seeds: Vec<Vec<u8>>| {
        if seeds.is_empty() {
            seeds.push(b"{}".to_vec());
        }
        Target { name, run, seeds, rounds: 0 }
    };
    let otel_json = files(&[&format!("{data}/otel-genai"), "server/tests/fixtures"], &["json"]);
    vec![
        t("ingest-json", ingest_json as Run, generated_ingest()),
        t("otlp-json", otlp_json, otel_json),
        t("otlp-protobuf", otlp_protobuf, generated_protobuf()),
        t("focus-csv", focus_csv, files(&[&format!("{data}/focus"), "app/tests/fixtures/focus"], &["csv"])),
        t(
            "provider-reports",
            provider_reports,
            files(
                &[&format!("{data}/provider-usage-apis"), "app/tests/fixtures/provider-reports"],
                &["json"],
            ),
        ),
        t("price-file", price_file, files(&["app/src/server/data"], &["json"])),
        t(
            "money",
            money,
            vec![b"12.345678901\n1,500\n-0.5\n1e3\n2026-11-20T10:00:00Z\n0.000000001".to_vec()],
        ),
    ]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let minutes: f64 = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(10.0);
    let only: Vec<&str> = args.iter().skip(2).map(String::as_str).collect();
    let mut targets: Vec<Target> =
        targets().into_iter().filter(|t| only.is_empty() || only.contains(&t.name)).collect();
    assert!(!targets.is_empty(), "no such target: {only:?}");
    let seed: u64 =
        std::env::var("COSTROOM_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    println!(
        "costroom-fuzz: {minutes} min over {} target(s), seed {seed} (COSTROOM_FUZZ_SEED repeats a run)",
        targets.len()
    );
    for t in &targets {
        println!("  {}: {} seed input(s)", t.name, t.seeds.len());
    }
    // a panic is recorded, not printed in full for every round
    let last_panic = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    {
        let last_panic = last_panic.clone();
        std::panic::set_hook(Box::new(move |info| {
            *last_panic.lock().unwrap_or_else(|e| e.into_inner()) = info.to_string();
        }));
    }
    let mut rng = Rng(seed);
    let started = Instant::now();
    let budget = Duration::from_secs_f64(minutes * 60.0);
    let mut crashes = 0;
    let crash_dir = Path::new("target/fuzz-crashes");
    while started.elapsed() < budget {
        for t in targets.iter_mut() {
            for _ in 0..50 {
                let base = &t.seeds[rng.below(t.seeds.len())];
                let input = mutate(&mut rng, base, &t.seeds);
                let run = t.run;
                t.rounds += 1;
                if catch_unwind(AssertUnwindSafe(|| run(&input))).is_err() {
                    crashes += 1;
                    std::fs::create_dir_all(crash_dir).ok();
                    let path = crash_dir.join(format!("{}-{}.bin", t.name, t.rounds));
                    std::fs::write(&path, &input).ok();
                    let msg = last_panic.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    println!("PANIC in {}: {msg}\n  input saved to {}", t.name, path.display());
                }
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    for t in &targets {
        println!("  {}: {} rounds ({:.0}/s)", t.name, t.rounds, t.rounds as f64 / secs);
    }
    println!("costroom-fuzz: {:.1} min, {crashes} panic(s)", secs / 60.0);
    if crashes > 0 {
        std::process::exit(1);
    }
}
