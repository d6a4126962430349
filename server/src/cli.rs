//! Command line: `costroom serve | migrate | demo`. Every option also reads an environment
//! variable, so deployments configure by environment and scripts by flags.
use std::net::SocketAddr;
use std::time::Instant;

use app::domain::Role;
use app::error::AppError;
use app::server::db::{redact_url, Actor, Db, OrgId};
use app::server::demo::DemoConfig;
use app::server::password::random_secret;
use app::server::services;
use app::server::services::keys::{KeyHasher, KeyRequest};
use app::server::services::users::AddUser;
use app::server::state::{AppState, Clock};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use leptos::prelude::LeptosOptions;

/// The organisation every page shows until accounts exist.
pub const DEFAULT_ORG_SLUG: &str = "default";
const DEFAULT_ORG_NAME: &str = "Default organisation";

#[derive(Parser)]
#[command(name = "costroom", version, about = "Costroom: FinOps for AI, self-hosted")]
pub struct Cli {
    /// SQLite file or URL (sqlite:path) by default; postgres://user@host/db for PostgreSQL.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite:costroom.db", global = true)]
    pub database_url: String,
    /// Log filter, RUST_LOG syntax (e.g. info, costroom=debug,sqlx=warn).
    #[arg(long, env = "COSTROOM_LOG", default_value = "info,sqlx=warn", global = true)]
    pub log_level: String,
    #[command(subcommand)]
    pub command: Command,
}

// No Debug derive: the database URL may hold a password.

#[derive(Subcommand)]
pub enum Command {
    /// Run the web server (migrates first).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Seed the deterministic demo organisation (idempotent for the same seed).
    Demo(DemoArgs),
    /// Manage people (for provisioning scripts).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API keys for machines.
    #[command(subcommand)]
    Key(KeyCommand),
    /// The price book: import an organisation's price list, re-price history.
    #[command(subcommand)]
    Prices(PricesCommand),
    /// Load data from files.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Take data out.
    #[command(subcommand)]
    Export(ExportCommand),
}

#[derive(Subcommand)]
pub enum PricesCommand {
    /// Import a price list in LiteLLM's JSON format (USD per token) as the organisation's own
    /// prices, in force from a date, and re-price the events since.
    Import {
        file: std::path::PathBuf,
        /// First day (UTC) the prices apply to.
        #[arg(long)]
        effective_from: NaiveDate,
    },
    /// Re-price every event since a day with the current price book (rollups follow).
    Recompute {
        #[arg(long)]
        since: NaiveDate,
    },
}

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Usage events in the ingest format: NDJSON (one event per line) or a JSON array.
    /// Idempotent on event_id; bad lines are reported and skipped.
    Events { file: std::path::PathBuf },
    /// A FOCUS billing export (CSV, FOCUS 1.0-1.2) into the ledger. Replaces, per billing
    /// account and billing period, what earlier imports brought: re-importing never double
    /// counts. Bad rows are reported with line and column and skipped.
    Focus {
        file: std::path::PathBuf,
        /// Import nothing if any row is bad.
        #[arg(long)]
        all_or_nothing: bool,
    },
    /// One page of a provider report (JSON as the API returned it), for reconciliation:
    /// KIND is openai-costs, openai-usage, anthropic-costs or anthropic-usage. Re-importing
    /// replaces the same days and lines.
    ProviderReport { kind: String, file: std::path::PathBuf },
    /// GPU usage, training runs or commitments (KIND gpu-usage, training-runs, commitments)
    /// from CSV with a header row; bad records are reported with line and field and skipped.
    Records { kind: String, file: std::path::PathBuf },
}

#[derive(Subcommand)]
pub enum ExportCommand {
    /// The ledger of a date range as FOCUS 1.2 CSV on standard output.
    Focus {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// Only one source: tokens, invoice, gpu, training or commitment.
        #[arg(long)]
        source: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create a key; the secret is printed once and only its hash is stored.
    Create(KeyCreateArgs),
    /// List keys (prefixes, never secrets).
    List,
    /// Revoke a key by its prefix (the 10 characters after `cr_`).
    Revoke {
        #[arg(long)]
        prefix: String,
    },
}

#[derive(Args)]
pub struct KeyCreateArgs {
    #[arg(long)]
    pub name: String,
    /// Team slug the key's usage is attributed to (must exist).
    #[arg(long)]
    pub team: String,
    /// Comma-separated: ingest, authorize, read, outcomes (outcomes needs --initiative).
    #[arg(long)]
    pub scopes: String,
    #[arg(long)]
    pub initiative: Option<String>,
    #[arg(long)]
    pub expires_in_days: Option<u32>,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a person. Without --password-stdin a random password is generated and printed once.
    Add(UserAddArgs),
}

#[derive(Args)]
pub struct UserAddArgs {
    #[arg(long)]
    pub email: String,
    /// Display name; the part of the e-mail before @ by default.
    #[arg(long)]
    pub name: Option<String>,
    /// admin, finance, engineering, product or viewer.
    #[arg(long)]
    pub role: Role,
    /// Team slug; the team is created if it does not exist.
    #[arg(long)]
    pub team: Option<String>,
    /// Read the password from the first line of standard input (keeps it out of `ps` and
    /// shell history).
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "COSTROOM_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Directory holding the built site (pkg/, vendor/, favicon.ico).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
    /// Pin "today" (YYYY-MM-DD) for reproducible demos and tests; the UTC date otherwise.
    #[arg(long, env = "COSTROOM_TODAY")]
    pub today: Option<NaiveDate>,
    /// `Secure` on the session cookie: auto = on unless listening on a loopback address
    /// (set `always` behind a TLS-terminating proxy on localhost).
    #[arg(long, env = "COSTROOM_COOKIE_SECURE", default_value = "auto")]
    pub cookie_secure: CookieSecure,
    /// The address people open Costroom at (`https://costroom.example.com`), so links in
    /// webhook messages lead back to the page that explains them.
    #[arg(long, env = "COSTROOM_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Internal webhook receivers to allow, comma-separated: addresses, networks
    /// (`10.1.0.0/16`) or host names. Loopback, private, link-local and metadata addresses are
    /// refused otherwise.
    #[arg(long, env = "COSTROOM_WEBHOOK_ALLOW", default_value = "")]
    pub webhook_allow: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CookieSecure {
    Auto,
    Always,
    Never,
}

impl CookieSecure {
    pub fn resolve(self, addr: SocketAddr) -> bool {
        match self {
            CookieSecure::Always => true,
            CookieSecure::Never => false,
            CookieSecure::Auto => !addr.ip().is_loopback(),
        }
    }
}

#[derive(Args)]
pub struct DemoArgs {
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Days of history.
    #[arg(long, default_value_t = 120)]
    pub days: u32,
    /// Request volume multiplier (1.0 ≈ 1,200 requests on the first weekday, growing 2.5×).
    #[arg(long, default_value_t = 1.0)]
    pub volume: f64,
    /// Last day of usage; today (UTC) by default.
    #[arg(long, env = "COSTROOM_TODAY")]
    pub end_date: Option<NaiveDate>,
    /// Delete the organisation's usage first.
    #[arg(long)]
    pub reset: bool,
}

pub async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Migrate => {
            let db = connect(&cli.database_url).await?;
            tracing::info!(backend = db.backend(), "migrations applied");
            println!("migrations applied ({})", db.backend());
            Ok(())
        }
        Command::Demo(args) => demo(&cli.database_url, args).await,
        Command::Serve(args) => serve(&cli.database_url, args).await,
        Command::User(UserCommand::Add(args)) => user_add(&cli.database_url, args).await,
        Command::Key(cmd) => key(&cli.database_url, cmd).await,
        Command::Prices(cmd) => prices(&cli.database_url, cmd).await,
        Command::Import(ImportCommand::Events { file }) => import_events(&cli.database_url, &file).await,
        Command::Import(ImportCommand::Focus { file, all_or_nothing }) => {
            import_focus(&cli.database_url, &file, all_or_nothing).await
        }
        Command::Import(ImportCommand::ProviderReport { kind, file }) => {
            import_provider_report(&cli.database_url, &kind, &file).await
        }
        Command::Import(ImportCommand::Records { kind, file }) => {
            import_records(&cli.database_url, &kind, &file).await
        }
        Command::Export(ExportCommand::Focus { from, to, source }) => {
            export_focus(&cli.database_url, &from, &to, source.as_deref()).await
        }
    }
}

async fn connect(url: &str) -> Result<Db, String> {
    tracing::info!(database = %redact_url(url), "opening database");
    Db::connect(url).await.map_err(|e| format!("cannot open database {}: {e}", redact_url(url)))
}

async fn default_org(db: &Db) -> Result<OrgId, String> {
    db.ensure_org(DEFAULT_ORG_SLUG, DEFAULT_ORG_NAME)
        .await
        .map_err(|e| format!("cannot create organisation: {e}"))
}

async fn demo(url: &str, args: DemoArgs) -> Result<(), String> {
    if !(args.volume > 0.0 && args.volume <= 50.0) {
        return Err(format!("--volume: {} is outside 0 < volume ≤ 50", args.volume));
    }
    if args.days == 0 || args.days > 3 * 366 {
        return Err(format!("--days: {} is outside 1..=1098", args.days));
    }
    let db = connect(url).await?;
    let org = default_org(&db).await?;
    let end = args.end_date.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let cfg = DemoConfig { seed: args.seed, end, days: args.days, volume: args.volume };
    let t = Instant::now();
    let r = services::demo::seed(&db, org, cfg, args.reset).await.map_err(|e| format!("demo: {e}"))?;
    println!(
        "demo: seed {} · {} days ending {end} · {} events generated, {} new{} · {:.1}s",
        args.seed,
        args.days,
        r.generated,
        r.inserted,
        if args.reset { format!(", {} removed first", r.removed) } else { String::new() },
        t.elapsed().as_secs_f64()
    );
    println!("demo: organisation now holds {} events, {} in total", r.total_events, r.total_cost.usd());
    let budgets =
        services::demo::seed_budgets(&db, org, end).await.map_err(|e| format!("demo budgets: {e}"))?;
    if budgets > 0 {
        println!("demo: {budgets} monthly budgets added (see /budgets)");
    }
    let first_day = end - chrono::Duration::days(args.days as i64 - 1);
    let initiatives = services::demo::seed_initiatives(&db, org, first_day, end, args.volume)
        .await
        .map_err(|e| format!("demo initiatives: {e}"))?;
    if initiatives > 0 {
        println!("demo: {initiatives} initiatives with their outcomes added (see /initiatives)");
    }
    // the detector replayed over the demo's last weeks, as if it had run all along
    let now = app::domain::explore::day_seconds(end) + 86_399;
    let found = services::anomalies::run(&db, org, now, now - 21 * 86_400, true)
        .await
        .map_err(|e| format!("demo anomalies: {e}"))?;
    if found.new > 0 {
        println!("demo: {} anomalies detected in the last 21 days (see /anomalies)", found.new);
    }
    // a weekly organisation review on Mondays; its latest one is ready for the meeting
    if db.schedules(org).await.map_err(|e| e.to_string())?.is_empty() {
        db.insert_schedule(org, None, app::domain::review::Cadence::Weekly(1), "demo")
            .await
            .map_err(|e| format!("demo reviews: {e}"))?;
        services::reviews::ensure_due(&db, org, end).await.map_err(|e| format!("demo reviews: {e}"))?;
        println!("demo: weekly cost reviews on Mondays (see /reviews)");
    }
    let sign_ins =
        services::auth::ensure_demo_users(&db, org).await.map_err(|e| format!("demo users: {e}"))?;
    println!("demo sign-ins (demo data only; these passwords are public):");
    for (email, role, password) in sign_ins {
        println!("  {role:<12} {email:<36} {password}");
    }
    db.close().await;
    Ok(())
}

async fn user_add(url: &str, args: UserAddArgs) -> Result<(), String> {
    let (password, generated) = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| format!("--password-stdin: {e}"))?;
        (line.trim_end_matches(['\r', '\n']).to_string(), false)
    } else {
        (random_secret(20), true)
    };
    let name = args.name.unwrap_or_else(|| args.email.split('@').next().unwrap_or_default().to_string());
    let db = connect(url).await?;
    let org = default_org(&db).await?;
    let input =
        AddUser { email: args.email, name, role: args.role, password: password.clone(), team: args.team };
    let user = services::users::add_user(&db, org, &Actor::cli(), input).await.map_err(|e| e.to_string())?;
    println!("added {} ({}) as {}", user.email, user.name, user.role);
    if generated {
        // shown once; only the argon2id hash is stored
        println!("password: {password}");
    }
    db.close().await;
    Ok(())
}

async fn key(url: &str, cmd: KeyCommand) -> Result<(), String> {
    let db = connect(url).await?;
    let org = default_org(&db).await?;
    match cmd {
        KeyCommand::Create(a) => {
            let hasher = KeyHasher::load(&db).await.map_err(|e| e.to_string())?;
            let req = KeyRequest {
                name: a.name,
                team: a.team,
                scopes: a.scopes,
                initiative: a.initiative,
                expires_in_days: a.expires_in_days,
                actor: Actor::cli(),
            };
            let created =
                services::keys::create_key(&db, &hasher, org, req).await.map_err(|e| e.to_string())?;
            let k = &created.key;
            println!(
                "created key '{}' (prefix {}) for team {} with scopes {}",
                k.name, k.prefix, k.team, k.scopes
            );
            // the only time the secret exists outside the caller: not logged, not stored
            println!("secret (shown once): {}", created.token);
        }
        KeyCommand::List => {
            for k in db.list_api_keys(org).await.map_err(|e| e.to_string())? {
                let state = if k.revoked_at.is_some() { "revoked" } else { "active" };
                println!("{}  {:<24} team {:<12} {:<24} {state}", k.prefix, k.name, k.team, k.scopes);
            }
        }
        KeyCommand::Revoke { prefix } => {
            let key =
                services::keys::revoke_key(&db, org, &Actor::cli(), &prefix).await.map_err(|e| match e {
                    AppError::NotFound(_) | AppError::Invalid(_) => {
                        format!("--prefix: no active key with prefix '{}'", prefix.trim())
                    }
                    other => other.to_string(),
                })?;
            println!("revoked {} ({})", key.prefix, key.name);
        }
    }
    db.close().await;
    Ok(())
}

async fn serve(url: &str, args: ServeArgs) -> Result<(), String> {
    let db = connect(url).await?;
    let org = default_org(&db).await?;
    let mut leptos_options: LeptosOptions = leptos::config::get_configuration(None)
        .map_err(|e| format!("leptos configuration: {e}"))?
        .leptos_options;
    // Fixed names: the build step writes /pkg/costroom.{js,wasm,css} whatever the environment.
    leptos_options.output_name = "costroom".into();
    leptos_options.site_pkg_dir = "pkg".into();
    leptos_options.site_root = args.site_root.clone().into();
    leptos_options.site_addr = args.addr;
    if !std::path::Path::new(&args.site_root).join("pkg").join("costroom.wasm").exists() {
        tracing::warn!(site_root = %args.site_root, "no pkg/costroom.wasm under the site root: pages will not hydrate (run `make build`)");
    }
    let clock = args.today.map(Clock::Fixed).unwrap_or(Clock::System);
    let cookie_secure = args.cookie_secure.resolve(args.addr);
    let egress = services::webhooks::Egress::new(
        app::domain::egress::AllowList::parse(&args.webhook_allow)
            .map_err(|e| format!("--webhook-allow: {e}"))?,
    );
    let sender = services::webhooks::Sender::standard(args.public_url.clone(), egress.clone())
        .map_err(|e| e.to_string())?;
    services::jobs::spawn_all(services::jobs::Context {
        db: db.clone(),
        org,
        clock,
        sender,
        timing: services::jobs::Timing::from_env(),
        holder: services::jobs::holder_id(),
    });
    if db.count_users().await.map_err(|e| e.to_string())? == 0 {
        println!("No one can sign in yet: add an admin with `costroom user add --email … --role admin` (or run `costroom demo`).");
    }
    let keys = KeyHasher::load(&db).await.map_err(|e| format!("API-key secret: {e}"))?;
    services::prices::ensure_public_list(&db).await.map_err(|e| e.to_string())?;
    let state = AppState {
        leptos_options,
        db: db.clone(),
        org,
        clock,
        cookie_secure,
        keys,
        prices: Default::default(),
        jobs: Default::default(),
        egress,
    };
    let router = crate::build_router_with(state, crate::load::Load::from_env()?);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(address = %local, backend = db.backend(), "listening");
    println!("Costroom is running at http://{local}/ (database: {})", db.backend());
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM; in-flight requests then finish before exit.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

async fn prices(url: &str, cmd: PricesCommand) -> Result<(), String> {
    use services::prices::{ensure_public_list, import_price_list, recompute, PriceCache};
    let db = connect(url).await?;
    let org = default_org(&db).await?;
    ensure_public_list(&db).await.map_err(|e| e.to_string())?;
    let cache = PriceCache::default();
    let t = Instant::now();
    let report = match cmd {
        PricesCommand::Import { file, effective_from } => {
            let json = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let (n, report) = import_price_list(&db, &cache, org, &Actor::cli(), &json, effective_from)
                .await
                .map_err(|e| format!("{}: {e}", file.display()))?;
            println!("imported {n} prices in force from {effective_from}");
            report
        }
        PricesCommand::Recompute { since } => {
            let book = cache.book(&db, org).await.map_err(|e| e.to_string())?;
            recompute(&db, org, &Actor::cli(), since, &book, |done| eprint!("\rre-pricing: {done} events"))
                .await
                .map_err(|e| e.to_string())?
        }
    };
    eprintln!();
    println!(
        "re-priced {} of {} events: {} → {} ({} still without a price) · {:.1}s",
        report.changed,
        report.examined,
        report.before.usd(),
        report.after.usd(),
        report.unpriced,
        t.elapsed().as_secs_f64()
    );
    db.close().await;
    Ok(())
}

/// Lines per batch of `import events` (one transaction each).
const IMPORT_BATCH: usize = 5_000;

async fn import_events(url: &str, file: &std::path::Path) -> Result<(), String> {
    use app::domain::ingest::{parse_body, parse_item};
    use services::prices::{ensure_public_list, PriceCache};
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let db = connect(url).await?;
    let org = default_org(&db).await?;
    ensure_public_list(&db).await.map_err(|e| e.to_string())?;
    let book = PriceCache::default().book(&db, org).await.map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&bytes);
    // (line number, item): NDJSON is read line by line so that errors name the line
    let items: Vec<(usize, serde_json::Value)> = if text.trim_start().starts_with('[') {
        let all = parse_body(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
        all.into_iter().enumerate().map(|(i, v)| (i + 1, v)).collect()
    } else {
        let mut out = vec![];
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v = serde_json::from_str(line)
                .map_err(|e| format!("{}: line {}, column {}: {e}", file.display(), n + 1, e.column()))?;
            out.push((n + 1, v));
        }
        out
    };
    let unit = if text.trim_start().starts_with('[') { "item" } else { "line" };
    let (mut accepted, mut duplicates, mut rejected, mut unpriced) = (0, 0, 0, 0);
    let t = Instant::now();
    for chunk in items.chunks(IMPORT_BATCH) {
        let mut events = vec![];
        let mut errors = vec![];
        for (line, item) in chunk {
            match parse_item(*line, item) {
                Ok(e) => events.push((*line, e)),
                Err(e) => errors.push(e),
            }
        }
        let r = services::ingest::store(&db, &book, org, None, events, errors)
            .await
            .map_err(|e| e.to_string())?;
        for e in &r.errors {
            eprintln!("\r{}: {unit} {}: {}: {}", file.display(), e.index, e.field, e.reason);
        }
        accepted += r.accepted;
        duplicates += r.duplicates;
        rejected += r.rejected;
        unpriced += r.unpriced;
        let done = accepted + duplicates + rejected;
        eprint!(
            "\rimporting: {done}/{} ({:.0}%)",
            items.len(),
            done as f64 * 100.0 / items.len().max(1) as f64
        );
    }
    eprintln!();
    println!(
        "{}: {accepted} accepted, {duplicates} already there, {rejected} rejected, {unpriced} without a price · {:.1}s",
        file.display(),
        t.elapsed().as_secs_f64()
    );
    db.close().await;
    if rejected > 0 {
        return Err(format!("{rejected} {unit}s rejected (see above)"));
    }
    Ok(())
}

async fn import_focus(url: &str, file: &std::path::Path, all_or_nothing: bool) -> Result<(), String> {
    use services::ledger::{import_focus, ImportMode};
    let db = connect(url).await?;
    let org = default_org(&db).await?;
    let mode = if all_or_nothing { ImportMode::AllOrNothing } else { ImportMode::ValidRows };
    let t = Instant::now();
    let rules = services::settings::ledger_rules(&db, org).await.map_err(|e| e.to_string())?;
    let r = import_focus(&db, org, &Actor::cli(), file, mode, &rules, |_| ())
        .await
        .map_err(|e| format!("{}: {e}", file.display()))?;
    for e in &r.errors {
        eprintln!("{}: {e}", file.display());
    }
    if r.bad_rows > r.errors.len() as u64 {
        eprintln!("{}: … and {} more bad rows", file.display(), r.bad_rows - r.errors.len() as u64);
    }
    println!(
        "{}: {} rows read, {} imported ({} billing periods; {} earlier lines replaced), {} rejected; \
         billed {}, effective {} · {:.1}s",
        file.display(),
        r.rows,
        r.imported,
        r.periods,
        r.replaced,
        r.bad_rows,
        r.billed.usd(),
        r.effective.usd(),
        t.elapsed().as_secs_f64()
    );
    db.close().await;
    match (r.bad_rows, all_or_nothing) {
        (0, _) => Ok(()),
        (n, true) => Err(format!("{n} bad rows: nothing imported (--all-or-nothing)")),
        (n, false) => Err(format!("{n} bad rows skipped (see above)")),
    }
}

async fn import_provider_report(url: &str, kind: &str, file: &std::path::Path) -> Result<(), String> {
    use services::reconcile::{import_report, ReportKind};
    let kind = ReportKind::parse(kind).map_err(|e| e.to_string())?;
    let body = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let db = connect(url).await?;
    let org = default_org(&db).await?;
    let r = import_report(&db, org, &Actor::cli(), kind, &body)
        .await
        .map_err(|e| format!("{}: {e}", file.display()))?;
    println!(
        "{}: {} lines ({} stored), cost {}, {} tokens{}",
        file.display(),
        r.lines,
        r.rows,
        r.cost.usd(),
        r.tokens,
        r.next_page.map(|p| format!("; more pages follow (next_page {p})")).unwrap_or_default()
    );
    db.close().await;
    Ok(())
}

async fn import_records(url: &str, kind: &str, file: &std::path::Path) -> Result<(), String> {
    use services::records::{parse_records, record, RecordKind};
    let kind = match kind {
        "gpu-usage" => RecordKind::GpuUsage,
        "training-runs" => RecordKind::TrainingRuns,
        "commitments" => RecordKind::Commitments,
        other => return Err(format!("kind: '{other}' is not gpu-usage, training-runs or commitments")),
    };
    let body = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let rows = parse_records(&body, true).map_err(|e| format!("{}: {e}", file.display()))?;
    let db = connect(url).await?;
    let org = default_org(&db).await?;
    let name = file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let r = record(&db, org, &Actor::cli(), kind, &name, &rows).await.map_err(|e| e.to_string())?;
    for e in &r.errors {
        eprintln!("{}: line {}, {}: {}", file.display(), e.at, e.field, e.reason);
    }
    println!("{}: {} recorded, {} rejected, cost {}", file.display(), r.accepted, r.rejected, r.cost.usd());
    db.close().await;
    if r.rejected > 0 {
        return Err(format!("{} bad records skipped (see above)", r.rejected));
    }
    Ok(())
}

async fn export_focus(url: &str, from: &str, to: &str, source: Option<&str>) -> Result<(), String> {
    use app::domain::ledger::SpendSource;
    use app::domain::DateRange;
    use app::server::focus_export::{export, ChunkSink, Selection};
    use std::io::Write;
    struct Stdout(std::io::Stdout);
    impl ChunkSink for Stdout {
        async fn put(&mut self, chunk: String) -> bool {
            self.0.lock().write_all(chunk.as_bytes()).is_ok()
        }
    }
    let db = connect(url).await?;
    let org = default_org(&db).await?;
    let range =
        DateRange::parse(Some(from), Some(to), chrono::Utc::now().date_naive()).map_err(|e| e.to_string())?;
    let source = source.map(SpendSource::parse).transpose()?;
    let name = db.org_name(org).await.map_err(|e| e.to_string())?;
    export(&db, org, &name, Selection { range, source }, &mut Stdout(std::io::stdout()))
        .await
        .map_err(|e| e.to_string())?;
    db.close().await;
    Ok(())
}
