//! Command line: `costroom serve | migrate | demo`. Every option also reads an environment
//! variable, so deployments configure by environment and scripts by flags. One error type
//! (`anyhow`, with context naming the flag, file or step) for every command.
mod admin;
mod demo;
mod files;
mod policy;
mod serve;

use std::net::SocketAddr;

use app::domain::Role;
use app::server::db::{Db, OrgId};
use app::server::startup;
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

pub use app::server::startup::DEFAULT_ORG_SLUG;

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
    /// Manage teams (a key belongs to one).
    #[command(subcommand)]
    Team(TeamCommand),
    /// Manage API keys for machines.
    #[command(subcommand)]
    Key(KeyCommand),
    /// The price book: import an organisation's price list, re-price history.
    #[command(subcommand)]
    Prices(PricesCommand),
    /// The gateway's upstreams: where calls go, with the provider key (stored encrypted).
    #[command(subcommand)]
    Upstream(UpstreamCommand),
    /// The server's secret key, which encrypts provider keys at rest.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Guardrails as code: export, check, apply and replay a policy file (TOML).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Load data from files.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Take data out.
    #[command(subcommand)]
    Export(ExportCommand),
    /// The pre-aggregated sums every page reads.
    #[command(subcommand)]
    Rollups(RollupsCommand),
    /// How long raw usage events are kept beside the rollups (their totals stay exact).
    #[command(subcommand)]
    Retention(RetentionCommand),
}

#[derive(Subcommand)]
pub enum RetentionCommand {
    /// Print the setting and the first day whose raw events are kept.
    Show,
    /// Keep raw events of the current month and the N months before it (1 to 1200), or `off`
    /// (the default: forever). Nothing is deleted until the server's evaluate job or `apply`.
    Set {
        /// A number of months, or `off`.
        months: String,
    },
    /// Drop the raw events before the boundary now, every one of them.
    Apply {
        /// The day the boundary is counted from; today (UTC) by default.
        #[arg(long, env = "COSTROOM_TODAY")]
        today: Option<NaiveDate>,
    },
}

#[derive(Subcommand)]
pub enum RollupsCommand {
    /// Recompute the token rollups, cubes and trace rollups from the raw events, in one
    /// transaction (pages keep showing the old sums until it commits). The sums are kept
    /// exact at every write: this is for events restored or edited outside Costroom.
    Rebuild,
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Print the organisation's guardrail rules as a policy file.
    Export,
    /// Check a policy file: every mistake with its line and field; nothing is applied.
    Check { file: std::path::PathBuf },
    /// Apply a policy file: prints the changes, then replaces the rules in one transaction
    /// (rules keep their caps' money by name; audited).
    Apply {
        file: std::path::PathBuf,
        /// Print the changes and store nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// What the file's rules would have done to the stored calls of the last days: per rule,
    /// calls and spend denied or warned on, by team and feature.
    Replay {
        file: std::path::PathBuf,
        /// How far back: `30d` (1 to 366 days).
        #[arg(long, default_value = "30d")]
        since: String,
        /// The last day replayed; today (UTC) by default.
        #[arg(long, env = "COSTROOM_TODAY")]
        to: Option<NaiveDate>,
    },
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
        /// Show what would change (new models, changed rates, keys not billed) and store nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Load a newer copy of a public price list for every organisation (an offline installation):
    /// genai-prices' data.json or LiteLLM's model_prices_and_context_window.json. Models new to
    /// the list are priced from the start; changed prices apply from --from (default today), the
    /// days before keep the price they were billed at. Events without a price are priced by the
    /// server's prices job.
    Update {
        file: std::path::PathBuf,
        /// First day (UTC) a changed price applies to.
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Show what would change and store nothing.
        #[arg(long)]
        dry_run: bool,
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
pub enum TeamCommand {
    /// Create a team (audited as done by the command line).
    Add {
        /// Lowercase letters, digits and dashes, e.g. `search`.
        #[arg(long)]
        slug: String,
        /// Shown on the pages; the slug when left out.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List teams with their members.
    List,
}

#[derive(Subcommand)]
pub enum UpstreamCommand {
    /// Create or change the organisation's upstream for a provider. The key is read from a
    /// file or standard input (never a flag: flags land in shell history and `ps`).
    Set {
        /// openai or anthropic
        #[arg(long)]
        provider: String,
        /// The provider API's base URL; the provider's public API when omitted.
        #[arg(long, default_value = "")]
        base_url: String,
        /// A file holding the provider key; `-` reads standard input. Omit to keep the stored key.
        #[arg(long)]
        key_file: Option<std::path::PathBuf>,
    },
    /// List upstreams (the key's last four characters, never the key).
    List,
    /// Remove a provider's upstream: gateway calls to it are refused until one is set again.
    Remove {
        #[arg(long)]
        provider: String,
    },
}

#[derive(Subcommand)]
pub enum SecretCommand {
    /// Print a new random secret key (64 hex characters) for COSTROOM_SECRET_KEY_FILE.
    Generate,
    /// Re-encrypt every stored provider key under the current secret key (run with the new key
    /// in COSTROOM_SECRET_KEY[_FILE] and the old one in COSTROOM_PREVIOUS_SECRET_KEYS).
    Rotate,
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
    /// Comma-separated: ingest, authorize, read, outcomes, gateway (outcomes needs --initiative).
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
    /// Milliseconds `POST /api/v1/authorize` waits for the database before each applicable
    /// rule's failure mode answers (`fail_closed` denies with 503, `fail_open` allows).
    #[arg(long, env = "COSTROOM_AUTHORIZE_TIMEOUT_MS", default_value_t = app::server::services::guardrails::DB_TIMEOUT.as_millis() as u64, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub authorize_timeout_ms: u64,
    /// Serve only the gateway (`/gateway/…`) and `/healthz`: no pages, no other API.
    #[arg(long, env = "COSTROOM_GATEWAY_ONLY")]
    pub gateway_only: bool,
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

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Migrate => {
            let (db, _) = open(&cli.database_url).await?;
            tracing::info!(backend = db.backend(), "migrations applied");
            println!("migrations applied ({})", db.backend());
            Ok(())
        }
        Command::Demo(args) => demo::demo(&cli.database_url, args).await,
        Command::Serve(args) => serve::serve(&cli.database_url, args).await,
        Command::Rollups(RollupsCommand::Rebuild) => {
            let (db, org) = open(&cli.database_url).await?;
            let started = std::time::Instant::now();
            db.rebuild_event_rollups(org).await?;
            let (events, cost) = db.usage_totals(org).await?;
            println!(
                "rebuilt the rollups of {events} events ({}) in {:.1}s",
                cost.usd(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Retention(cmd) => retention(&cli.database_url, cmd).await,
        Command::User(UserCommand::Add(args)) => admin::user_add(&cli.database_url, args).await,
        Command::Team(cmd) => admin::team(&cli.database_url, cmd).await,
        Command::Key(cmd) => admin::key(&cli.database_url, cmd).await,
        Command::Upstream(cmd) => admin::upstream(&cli.database_url, cmd).await,
        Command::Secret(SecretCommand::Generate) => {
            println!("{}", app::server::auth::sealer::Sealer::generate());
            Ok(())
        }
        Command::Secret(SecretCommand::Rotate) => admin::rotate_secret(&cli.database_url).await,
        Command::Prices(cmd) => admin::prices(&cli.database_url, cmd).await,
        Command::Policy(cmd) => policy::policy(&cli.database_url, cmd).await,
        Command::Import(ImportCommand::Events { file }) => {
            files::import_events(&cli.database_url, &file).await
        }
        Command::Import(ImportCommand::Focus { file, all_or_nothing }) => {
            files::import_focus(&cli.database_url, &file, all_or_nothing).await
        }
        Command::Import(ImportCommand::ProviderReport { kind, file }) => {
            files::import_provider_report(&cli.database_url, &kind, &file).await
        }
        Command::Import(ImportCommand::Records { kind, file }) => {
            files::import_records(&cli.database_url, &kind, &file).await
        }
        Command::Export(ExportCommand::Focus { from, to, source }) => {
            files::export_focus(&cli.database_url, &from, &to, source.as_deref()).await
        }
    }
}

/// The database (migrated) and its default organisation: the same start as the server's.
pub(crate) async fn open(url: &str) -> anyhow::Result<(Db, OrgId)> {
    Ok(startup::open(url).await?)
}

async fn retention(url: &str, cmd: RetentionCommand) -> anyhow::Result<()> {
    use app::server::services::retention;
    let (db, org) = open(url).await?;
    let describe = |r: Option<app::domain::retention::Retention>| match r {
        Some(r) => format!("the current month and the {} before it", r.months),
        None => "forever (retention off)".to_string(),
    };
    match cmd {
        RetentionCommand::Show => {
            let r = retention::setting(&db, org).await?;
            let kept = db.raw_events_kept_from(org).await?;
            println!("raw events kept: {}", describe(r));
            match kept {
                Some(d) => println!("raw events start on {d}; earlier days are in the rollups only"),
                None => println!("no raw events have been dropped"),
            }
        }
        RetentionCommand::Set { months } => {
            let months = match months.trim() {
                "off" => None,
                m => Some(m.parse::<i64>().map_err(|_| {
                    anyhow::anyhow!("months: '{m}' is not a whole number of months or `off`")
                })?),
            };
            let r = retention::set(&db, org, &app::server::db::Actor::cli(), months).await?;
            println!("raw events kept: {}", describe(r));
        }
        RetentionCommand::Apply { today } => {
            let today = today.unwrap_or_else(|| chrono::Utc::now().date_naive());
            match retention::apply(&db, org, today, u64::MAX).await? {
                Some(p) => println!("dropped {} raw events; raw events start on {}", p.deleted, p.kept_from),
                None => println!("retention is off: nothing dropped"),
            }
        }
    }
    db.close().await;
    Ok(())
}
