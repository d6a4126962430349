//! The `costroom` binary as scripts and operators use it: migrate, demo, serve with
//! /healthz, and a graceful stop on SIGTERM.
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_costroom");

fn temp_db(name: &str) -> String {
    let dir = std::env::temp_dir().join("costroom-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("cli-{name}-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    format!("sqlite:{}", path.display())
}

fn costroom(db: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(["--database-url", db, "--log-level", "warn"])
        .args(args)
        .output()
        .expect("run costroom");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn migrate_then_demo_is_idempotent_for_the_same_seed() {
    let db = temp_db("demo");
    let (ok, out, err) = costroom(&db, &["migrate"]);
    assert!(ok, "{err}");
    assert!(out.contains("migrations applied (sqlite)"), "{out}");
    let args = ["demo", "--seed", "5", "--days", "10", "--volume", "0.05", "--end-date", "2026-11-20"];
    let (ok, first, err) = costroom(&db, &args);
    assert!(ok, "{err}");
    let (ok, second, err) = costroom(&db, &args);
    assert!(ok, "{err}");
    let generated = first.split(" events generated").next().unwrap().rsplit(' ').next().unwrap();
    assert!(first.contains(&format!("{generated} events generated, {generated} new")), "{first}");
    assert!(second.contains(&format!("{generated} events generated, 0 new")), "{second}");
    // the totals line is identical: nothing counted twice
    assert_eq!(first.lines().last(), second.lines().last());
}

#[test]
fn rollups_rebuilt_from_raw_events_show_the_same_totals() {
    let db = temp_db("rebuild");
    let args = ["demo", "--seed", "5", "--days", "10", "--volume", "0.05", "--end-date", "2026-11-20"];
    let (ok, seeded, err) = costroom(&db, &args);
    assert!(ok, "{err}");
    let (ok, out, err) = costroom(&db, &["rollups", "rebuild"]);
    assert!(ok, "{err}");
    let generated = seeded.split(" events generated").next().unwrap().rsplit(' ').next().unwrap();
    assert!(out.starts_with(&format!("rebuilt the rollups of {generated} events ($")), "{out}");
    // the demo's totals line reads the rollups: unchanged by the rebuild
    let (ok, again, err) = costroom(&db, &args);
    assert!(ok, "{err}");
    assert_eq!(seeded.lines().last(), again.lines().last());
}

#[test]
fn retention_is_set_shown_and_applied_from_the_command_line() {
    let db = temp_db("retention");
    let args = ["demo", "--seed", "5", "--days", "80", "--volume", "0.02", "--end-date", "2026-11-20"];
    let (ok, _, err) = costroom(&db, &args);
    assert!(ok, "{err}");
    let (ok, _, err) = costroom(&db, &["retention", "set", "six"]);
    assert!(!ok);
    assert!(err.contains("months: 'six'"), "{err}");
    let (ok, _, err) = costroom(&db, &["retention", "set", "0"]);
    assert!(!ok);
    assert!(err.contains("months: 0 is out of range"), "{err}");
    let (ok, out, err) = costroom(&db, &["retention", "set", "1"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "raw events kept: the current month and the 1 before it");
    let (ok, out, _) = costroom(&db, &["retention", "show"]);
    assert!(ok);
    assert!(out.contains("no raw events have been dropped"), "{out}");
    let (ok, out, err) = costroom(&db, &["retention", "apply", "--today", "2026-11-20"]);
    assert!(ok, "{err}");
    let dropped: u64 = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(dropped > 0 && out.contains("raw events start on 2026-10-01"), "{out}");
    let (ok, out, _) = costroom(&db, &["retention", "apply", "--today", "2026-11-20"]);
    assert!(ok);
    assert!(out.starts_with("dropped 0 raw events"), "a second run finds nothing: {out}");
    let (ok, out, _) = costroom(&db, &["retention", "show"]);
    assert!(ok);
    assert!(out.contains("raw events start on 2026-10-01"), "{out}");
}

#[test]
fn bad_flags_are_refused_naming_the_flag() {
    let db = temp_db("flags");
    let (ok, _, err) = costroom(&db, &["demo", "--volume", "0"]);
    assert!(!ok);
    assert!(err.contains("--volume: 0 is outside"), "{err}");
    let (ok, _, err) = costroom(&db, &["demo", "--end-date", "20-11-2026"]);
    assert!(!ok);
    assert!(err.contains("--end-date"), "{err}");
    let (ok, _, err) = costroom("postgres://nobody@127.0.0.1:1/none", &["migrate"]);
    assert!(!ok);
    assert!(err.contains("cannot open database postgres://nobody@127.0.0.1:1/none"), "{err}");
}

#[test]
fn serve_answers_healthz_and_stops_gracefully_on_sigterm() {
    let db = temp_db("serve");
    let (mut child, addr) = serve(&db, "info", Stdio::piped());

    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    use std::io::Write;
    write!(stream, "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(r#""database":"sqlite""#), "{response}");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still running 10 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit:?}");
    let mut logs = String::new();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    assert!(logs.contains("shutdown signal received"), "{logs}");
    assert!(logs.contains("stopped"), "{logs}");
}

#[test]
fn user_add_prints_a_generated_password_once_and_refuses_duplicates() {
    let db = temp_db("users");
    let (ok, out, err) = costroom(&db, &["user", "add", "--email", "Root@Example.com", "--role", "admin"]);
    assert!(ok, "{err}");
    assert!(out.contains("added root@example.com (Root) as admin"), "{out}");
    let password = out.lines().find_map(|l| l.strip_prefix("password: ")).expect("generated password");
    assert_eq!(password.len(), 20);
    assert!(!err.contains(password), "the password is never logged");

    let (ok, _, err) = costroom(&db, &["user", "add", "--email", "root@example.com", "--role", "viewer"]);
    assert!(!ok);
    assert!(err.contains("email: root@example.com is already registered"), "{err}");
    let (ok, _, err) = costroom(&db, &["user", "add", "--email", "x@example.com", "--role", "owner"]);
    assert!(!ok);
    assert!(err.contains("role: 'owner' is not one of"), "{err}");

    let mut child = Command::new(BIN)
        .args(["--database-url", &db, "user", "add", "--email", "fin@example.com", "--role", "finance"])
        .args(["--team", "finance", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"a long enough secret\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("as finance") && !stdout.contains("password:"), "{stdout}");
}

#[test]
fn key_create_prints_the_secret_once_then_list_and_revoke() {
    let db = temp_db("keys");
    let (ok, _, err) = costroom(
        &db,
        &["user", "add", "--email", "eng@example.com", "--role", "engineering", "--team", "search"],
    );
    assert!(ok, "{err}");
    let (ok, out, err) =
        costroom(&db, &["key", "create", "--name", "gateway", "--team", "search", "--scopes", "ingest,read"]);
    assert!(ok, "{err}");
    let token =
        out.lines().find_map(|l| l.strip_prefix("secret (shown once): ")).expect("token printed").to_string();
    assert!(token.starts_with("cr_") && token.len() == 3 + 10 + 1 + 32, "{token}");
    assert!(!err.contains(&token), "never logged");
    let prefix = &token[3..13];
    let (ok, listed, _) = costroom(&db, &["key", "list"]);
    assert!(ok && listed.contains(prefix) && listed.contains("active"), "{listed}");
    assert!(!listed.contains(&token[14..]), "list never shows secrets");
    let (ok, out, err) = costroom(&db, &["key", "revoke", "--prefix", prefix]);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("revoked {prefix}")));
    let (ok, _, err) = costroom(&db, &["key", "revoke", "--prefix", prefix]);
    assert!(!ok && err.contains("--prefix: no active key"), "{err}");
    let (ok, _, err) = costroom(&db, &["key", "create", "--name", "x", "--team", "nope", "--scopes", "read"]);
    assert!(!ok && err.contains("team: no team 'nope'"), "{err}");
    // a team made from the command line, then a key for it
    let (ok, out, err) = costroom(&db, &["team", "add", "--slug", "nope", "--name", "Nope squad"]);
    assert!(ok && out.contains("created team nope"), "{out}{err}");
    let (ok, _, err) = costroom(&db, &["team", "add", "--slug", "nope"]);
    assert!(!ok && err.contains("slug: team 'nope' already exists"), "{err}");
    let (ok, _, err) = costroom(&db, &["team", "add", "--slug", "Not A Slug"]);
    assert!(!ok && err.contains("slug:"), "{err}");
    let (ok, listed, _) = costroom(&db, &["team", "list"]);
    assert!(ok && listed.contains("Nope squad") && listed.contains("search"), "{listed}");
    let (ok, _, err) = costroom(&db, &["key", "create", "--name", "x", "--team", "nope", "--scopes", "read"]);
    assert!(ok, "{err}");
}

#[test]
fn import_events_then_a_price_list_reprices_them() {
    let db = temp_db("import");
    let dir = std::env::temp_dir().join("costroom-tests");
    let events = dir.join(format!("events-{}.ndjson", std::process::id()));
    std::fs::write(
        &events,
        concat!(
            r#"{"event_id":"f-1","timestamp":"2026-11-10T09:00:00Z","provider":"openai","model":"gpt-4o","input_tokens":1000,"output_tokens":500}"#,
            "\n\n",
            r#"{"event_id":"f-2","timestamp":"2026-11-10T09:01:00Z","provider":"acme","model":"house-model","input_tokens":1000000}"#,
            "\n",
            r#"{"event_id":"f-3","timestamp":"yesterday","provider":"acme","model":"house-model"}"#,
            "\n"
        ),
    )
    .unwrap();
    let file = events.to_str().unwrap();
    let (ok, out, err) = costroom(&db, &["import", "events", file]);
    assert!(!ok, "a rejected line fails the command");
    assert!(err.contains("line 4: timestamp: 'yesterday' is not an RFC 3339 time"), "{err}");
    assert!(out.contains("2 accepted, 0 already there, 1 rejected, 1 without a price"), "{out}");
    let (_, out, _) = costroom(&db, &["import", "events", file]);
    assert!(out.contains("0 accepted, 2 already there"), "idempotent: {out}");

    let prices = dir.join(format!("prices-{}.json", std::process::id()));
    std::fs::write(
        &prices,
        r#"{"house-model": {"litellm_provider": "acme", "input_cost_per_token": 1.5e-07}}"#,
    )
    .unwrap();
    let (ok, out, err) =
        costroom(&db, &["prices", "import", prices.to_str().unwrap(), "--effective-from", "2026-11-01"]);
    assert!(ok, "{err}");
    assert!(out.contains("imported 1 prices in force from 2026-11-01"), "{out}");
    // gpt-4o 1000 × 2.5e-6 + 500 × 1e-5 = $0.0075; house-model 1M × 1.5e-7 = $0.15
    assert!(out.contains("re-priced 1 of 2 events: $0.01 → $0.16 (0 still without a price)"), "{out}");
    let (ok, out, err) = costroom(&db, &["prices", "recompute", "--since", "2026-01-01"]);
    assert!(ok, "{err}");
    assert!(out.contains("re-priced 0 of 2 events"), "{out}");
}

#[test]
fn import_focus_reports_totals_and_replaces_on_reimport() {
    let db = temp_db("focus");
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/fixtures/focus/commitment_discount_flexibility/zero_percent_utilization_without_commitment_discount_flexibility.csv");
    let (ok, out, err) = costroom(&db, &["import", "focus", file]);
    assert!(ok, "{err}");
    // the scenario: $1.50 unused commitment + $2.00 on demand
    assert!(out.contains("imported (1 billing periods; 0 earlier lines replaced), 0 rejected; billed $3.50, effective $3.50"), "{out}");
    let (ok, out, _) = costroom(&db, &["import", "focus", file]);
    assert!(ok && out.contains("earlier lines replaced), 0 rejected; billed $3.50"), "{out}");
    assert!(!out.contains("0 earlier lines replaced"), "the second import replaces the first: {out}");
}

#[test]
fn provider_reports_and_records_import_then_export_focus_round_trips() {
    let db = temp_db("records");
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/fixtures/provider-reports/");
    let (ok, out, err) = costroom(
        &db,
        &["import", "provider-report", "anthropic-costs", &format!("{fixtures}example_cost_report.json")],
    );
    assert!(ok, "{err}");
    assert!(out.contains("1 lines (1 stored), cost $1.24") && out.contains("more pages follow"), "{out}");
    let (ok, _, err) = costroom(&db, &["import", "provider-report", "azure-costs", "x.json"]);
    assert!(!ok && err.contains("kind: 'azure-costs' is not one of"), "{err}");

    let csv = std::env::temp_dir().join(format!("costroom-cli-runs-{}.csv", std::process::id()));
    std::fs::write(
        &csv,
        "run_id,model,started_at,ended_at,cost_usd\nr1,m,2026-11-02T00:00:00Z,2026-11-02T12:00:00Z,100.25\n\
         r2,m,2026-11-02T00:00:00Z,2026-11-01T12:00:00Z,1\n",
    )
    .unwrap();
    let (ok, out, err) = costroom(&db, &["import", "records", "training-runs", csv.to_str().unwrap()]);
    assert!(!ok, "one bad record is an error exit");
    assert!(err.contains("line 3, ended_at: is before started_at"), "{err}");
    assert!(out.contains("1 recorded, 1 rejected, cost $100.25"), "{out}");

    let (ok, out, err) = costroom(&db, &["export", "focus", "--from", "2026-11-01", "--to", "2026-11-30"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("BillingAccountId,"));
    assert!(lines[1].contains(",100.25,100.25,") && lines[1].ends_with(",training"), "{}", lines[1]);
}

/// Starts `costroom serve` on `db` on a free port; returns the child and its address.
fn serve(db: &str, log_level: &str, stderr: Stdio) -> (std::process::Child, String) {
    serve_with(db, log_level, stderr, &[])
}

/// [`serve`] with environment variables (e.g. `COSTROOM_JOB_SPEEDUP`).
fn serve_with(
    db: &str,
    log_level: &str,
    stderr: Stdio,
    env: &[(&str, &str)],
) -> (std::process::Child, String) {
    let mut child = Command::new(BIN)
        .args(["--database-url", db, "--log-level", log_level, "serve", "--addr", "127.0.0.1:0"])
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start costroom serve");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("http://") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "server exited before printing its address");
    }
    let addr = line.split("http://").nth(1).and_then(|s| s.split('/').next()).unwrap().trim().to_string();
    (child, addr)
}

/// GETs `path` with a bearer token and answers the response body.
fn get_with_key(addr: &str, token: &str, path: &str) -> String {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}

/// POSTs one event to `/api/v1/events` and answers the response body.
fn post_event(addr: &str, token: &str, body: &str) -> String {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

#[test]
fn a_price_imported_beside_a_running_server_prices_its_very_next_batch() {
    let db = temp_db("live-price");
    let (ok, _, err) =
        costroom(&db, &["user", "add", "--email", "e@example.com", "--role", "engineering", "--team", "ml"]);
    assert!(ok, "{err}");
    let (ok, out, err) =
        costroom(&db, &["key", "create", "--name", "gw", "--team", "ml", "--scopes", "ingest"]);
    assert!(ok, "{err}");
    let token = out.lines().find_map(|l| l.strip_prefix("secret (shown once): ")).unwrap().to_string();
    let (mut server, addr) = serve(&db, "warn", Stdio::null());
    let event = |id: &str| {
        format!(
            r#"[{{"event_id":"{id}","timestamp":"2026-11-10T09:00:00Z","provider":"acme","model":"house-model","input_tokens":1000000}}]"#
        )
    };
    // the server prices this batch with its book, which has no house-model yet
    let first = post_event(&addr, &token, &event("l-1"));
    assert!(first.contains(r#""unpriced":1"#), "{first}");

    let prices = std::env::temp_dir().join(format!("costroom-tests/live-prices-{}.json", std::process::id()));
    std::fs::write(
        &prices,
        r#"{"house-model": {"litellm_provider": "acme", "input_cost_per_token": 1.5e-07}}"#,
    )
    .unwrap();
    let (ok, out, err) =
        costroom(&db, &["prices", "import", prices.to_str().unwrap(), "--effective-from", "2026-11-01"]);
    assert!(ok, "{err}");
    assert!(out.contains("re-priced 1 of 1 events: $0.00 → $0.15"), "{out}");

    // the very next batch, at once: priced with the imported price (1M × 1.5e-7 = $0.15)
    let second = post_event(&addr, &token, &event("l-2"));
    assert!(second.contains(r#""accepted":1"#) && second.contains(r#""unpriced":0"#), "{second}");
    let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    let _ = server.wait();
    let (ok, out, err) = costroom(&db, &["prices", "recompute", "--since", "2026-01-01"]);
    assert!(ok, "{err}");
    assert!(out.contains("re-priced 0 of 2 events"), "both already exact: {out}");
    assert!(out.contains("$0.30 → $0.30"), "{out}");
}

#[test]
fn a_price_list_dry_run_shows_the_changes_and_stores_nothing() {
    let db = temp_db("dry-run");
    let dir = std::env::temp_dir().join("costroom-tests");
    let prices = dir.join(format!("dry-prices-{}.json", std::process::id()));
    // gpt-4o at the public list's input rate but a negotiated output rate, written as strings
    std::fs::write(
        &prices,
        r#"{"_comment": "Q4 contract",
            "gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": "0.0000025",
                       "output_cost_per_token": "0.000008", "output_cost_per_image": 0.04},
            "house-model": {"litellm_provider": "acme", "input_cost_per_token": "1.5e-7"}}"#,
    )
    .unwrap();
    let file = prices.to_str().unwrap();
    let (ok, out, err) =
        costroom(&db, &["prices", "import", file, "--effective-from", "2026-11-01", "--dry-run"]);
    assert!(ok, "{err}");
    assert!(out.contains("dry run, nothing stored: 1 new, 1 changed, 0 unchanged from 2026-11-01"), "{out}");
    assert!(out.contains("new      house-model"), "{out}");
    assert!(out.contains("changed  gpt-4o  output_cost_per_token: 0.00001 → 0.000008"), "{out}");
    assert!(out.contains("not billed: output_cost_per_image (gpt-4o)"), "{out}");
    // nothing was stored: the same dry run says the same
    let (_, again, _) =
        costroom(&db, &["prices", "import", file, "--effective-from", "2026-11-01", "--dry-run"]);
    assert!(again.contains("1 new, 1 changed"), "{again}");
    let (ok, out, err) = costroom(&db, &["prices", "import", file, "--effective-from", "2026-11-01"]);
    assert!(ok, "{err}");
    assert!(out.contains("imported 2 prices in force from 2026-11-01"), "{out}");
    let (_, after, _) =
        costroom(&db, &["prices", "import", file, "--effective-from", "2026-11-01", "--dry-run"]);
    assert!(after.contains("0 new, 0 changed, 2 unchanged"), "{after}");
}

#[test]
fn a_newer_public_list_prices_the_next_batch_and_the_stored_unpriced_calls() {
    let db = temp_db("update-list");
    let (ok, _, err) =
        costroom(&db, &["user", "add", "--email", "u@example.com", "--role", "engineering", "--team", "ml"]);
    assert!(ok, "{err}");
    let secret = |scopes: &str| {
        let (ok, out, err) =
            costroom(&db, &["key", "create", "--name", scopes, "--team", "ml", "--scopes", scopes]);
        assert!(ok, "{err}");
        out.lines().find_map(|l| l.strip_prefix("secret (shown once): ")).unwrap().to_string()
    };
    let (ingest, read) = (secret("ingest"), secret("read"));
    // the prices job every 50 ms instead of every 15 s
    let (mut server, addr) = serve_with(&db, "warn", Stdio::null(), &[("COSTROOM_JOB_SPEEDUP", "300")]);
    let event = |id: &str| {
        format!(
            r#"[{{"event_id":"{id}","timestamp":"2026-11-10T09:00:00Z","provider":"acme-cloud","model":"acme-large-2026-10-01","input_tokens":1000000}}]"#
        )
    };
    let first = post_event(&addr, &ingest, &event("u-1"));
    assert!(first.contains(r#""unpriced":1"#), "{first}");

    // a newer genai-prices data.json that knows the model, loaded beside the running server
    let list = std::env::temp_dir().join(format!("costroom-tests/genai-update-{}.json", std::process::id()));
    std::fs::write(
        &list,
        r#"[{"id": "acme-cloud", "provider_match": {"starts_with": "acme"}, "models": [
            {"id": "acme-large", "match": {"starts_with": "acme-large"}, "prices": {"input_mtok": 2, "output_mtok": 6}},
            {"id": "acme-live", "match": {"equals": "acme-live"},
             "prices": [{"prices": {"input_mtok": 1}}, {"constraint": {"start_time": "00:00:00Z", "end_time": "06:00:00Z"}, "prices": {"input_mtok": 0.5}}]}]}]"#,
    )
    .unwrap();
    let file = list.to_str().unwrap();
    let (ok, out, err) = costroom(&db, &["prices", "update", file, "--from", "2026-11-01", "--dry-run"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("dry run, nothing stored (genai-prices): 2 new, 0 changed from 2026-11-01, 0 unchanged"),
        "{out}"
    );
    assert!(out.contains("new      genai-prices/acme-cloud/acme-large"), "{out}");
    assert!(out.contains("ignored  acme-cloud/acme-live: a price for part of the day"), "{out}");
    let (ok, out, err) = costroom(&db, &["prices", "update", file, "--from", "2026-11-01"]);
    assert!(ok, "{err}");
    assert!(out.contains("public list updated (genai-prices): 2 new"), "{out}");

    // the very next batch is priced (1M × $2/M), and the stored call without any command
    let second = post_event(&addr, &ingest, &event("u-2"));
    assert!(second.contains(r#""unpriced":0"#), "{second}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = get_with_key(&addr, &read, "/api/v1/spend?group=model&from=2026-11-01&to=2026-11-30");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v["total"]["cost_nanos"] == 4_000_000_000i64 {
            break;
        }
        assert!(Instant::now() < deadline, "the stored call was not priced: {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // the same file again changes nothing
    let (_, again, _) = costroom(&db, &["prices", "update", file, "--from", "2026-11-01", "--dry-run"]);
    assert!(again.contains("0 new, 0 changed from 2026-11-01, 2 unchanged"), "{again}");
    let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    let _ = server.wait();
}
