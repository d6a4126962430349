//! Building the server's state, once, the same way for `costroom serve`, every CLI command and
//! the tests: open the database (migrations applied), the default organisation, the price
//! list, the API-key secret, and the [`AppState`] pages and handlers share.
use leptos::prelude::LeptosOptions;

use super::db::{redact_url, Db, OrgId};
use super::services;
use super::state::{AppState, Clock};
use crate::domain::egress::AllowList;
use crate::error::AppError;

/// Until accounts hold several organisations, everything lives in this one.
pub const DEFAULT_ORG_SLUG: &str = "default";
pub const DEFAULT_ORG_NAME: &str = "Default organisation";

/// Why the server could not start, naming what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("{what}: {source}")]
    Step { what: &'static str, source: AppError },
}

fn step<E: Into<AppError>>(what: &'static str) -> impl FnOnce(E) -> StartupError {
    move |source| StartupError::Step { what, source: source.into() }
}

/// Opens the database the URL names (applying pending migrations) and its default
/// organisation.
pub async fn open(url: &str) -> Result<(Db, OrgId), StartupError> {
    tracing::info!(database = %redact_url(url), "opening database");
    let db = Db::connect(url).await.map_err(|source| StartupError::Open { url: redact_url(url), source })?;
    let org = db
        .ensure_org(DEFAULT_ORG_SLUG, DEFAULT_ORG_NAME)
        .await
        .map_err(step("cannot create organisation"))?;
    Ok((db, org))
}

/// What differs between a real server and a test router.
pub struct Options {
    pub leptos_options: LeptosOptions,
    pub clock: Clock,
    /// Whether the session cookie carries `Secure`.
    pub cookie_secure: bool,
    /// Where webhooks may point.
    pub webhook_allow: AllowList,
    /// How long the authorize API waits for the database before the rules' failure modes
    /// answer.
    pub authorize_timeout: std::time::Duration,
    /// The server's secret key for provider keys (`COSTROOM_SECRET_KEY[_FILE]`); without
    /// one, gateway upstreams cannot be stored or used.
    pub sealer: Option<super::auth::sealer::Sealer>,
}

impl Options {
    /// A router for tests: fixed day, no static site, plain-HTTP cookies, webhooks to loopback.
    pub fn for_tests(today: chrono::NaiveDate) -> Options {
        Options {
            leptos_options: LeptosOptions::builder()
                .output_name("costroom")
                .site_root("/nonexistent")
                .build(),
            clock: Clock::Fixed(today),
            cookie_secure: false,
            webhook_allow: AllowList::parse("127.0.0.1").expect("loopback allow-list"),
            // tests race a thousand calls through a debug build's single SQLite writer: only
            // the failure-mode test wants an impatient guard, and sets one
            authorize_timeout: std::time::Duration::from_secs(30),
            sealer: Some(super::auth::sealer::Sealer::new(&"7e".repeat(32), &[]).expect("a valid test key")),
        }
    }
}

/// The shared state over an open database: loads (or creates) the installation's API-key
/// secret and makes sure the public price list is stored.
pub async fn state(db: &Db, org: OrgId, opts: Options) -> Result<AppState, StartupError> {
    let keys = services::keys::KeyHasher::load(db).await.map_err(step("API-key secret"))?;
    services::prices::ensure_public_list(db).await.map_err(step("public price list"))?;
    let egress = services::webhooks::Egress::new(opts.webhook_allow);
    let gateway = services::gateway::Gateway::new(&egress, opts.sealer).map_err(step("gateway client"))?;
    Ok(AppState {
        leptos_options: opts.leptos_options,
        db: db.clone(),
        org,
        clock: opts.clock,
        cookie_secure: opts.cookie_secure,
        keys,
        prices: Default::default(),
        jobs: Default::default(),
        egress,
        guard: services::guardrails::Guard::with_timeout(opts.authorize_timeout),
        gateway,
    })
}
