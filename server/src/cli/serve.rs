//! `costroom serve`: the state built by `startup`, every background job (`services::jobs`),
//! the router, and a graceful shutdown.
use std::net::SocketAddr;

use anyhow::Context;
use app::server::services;
use app::server::startup;
use app::server::state::Clock;
use leptos::prelude::LeptosOptions;

use super::{open, ServeArgs};

pub(super) async fn serve(url: &str, args: ServeArgs) -> anyhow::Result<()> {
    let (db, org) = open(url).await?;
    let mut leptos_options: LeptosOptions =
        leptos::config::get_configuration(None).context("leptos configuration")?.leptos_options;
    // Fixed names: the build step writes /pkg/costroom.{js,wasm,css} whatever the environment.
    leptos_options.output_name = "costroom".into();
    leptos_options.site_pkg_dir = "pkg".into();
    leptos_options.site_root = args.site_root.clone().into();
    leptos_options.site_addr = args.addr;
    let hashed = crate::assets::use_hashed_names(&mut leptos_options);
    if !hashed && !std::path::Path::new(&args.site_root).join("pkg").join("costroom.wasm").exists() {
        tracing::warn!(site_root = %args.site_root, "no pkg/costroom.wasm under the site root: pages will not hydrate (run `make build`)");
    }
    let webhook_allow = app::domain::egress::AllowList::parse(&args.webhook_allow)
        .map_err(|e| anyhow::anyhow!("--webhook-allow: {e}"))?;
    let opts = startup::Options {
        leptos_options,
        clock: args.today.map(Clock::Fixed).unwrap_or(Clock::System),
        cookie_secure: args.cookie_secure.resolve(args.addr),
        webhook_allow,
        authorize_timeout: std::time::Duration::from_millis(args.authorize_timeout_ms),
        sealer: app::server::auth::sealer::Sealer::from_env().map_err(|e| anyhow::anyhow!(e))?,
    };
    let state = startup::state(&db, org, opts).await?;
    let sender = services::webhooks::Sender::standard(args.public_url.clone(), state.egress.clone())?;
    services::jobs::spawn_all(services::jobs::Context {
        db: db.clone(),
        org,
        clock: state.clock,
        sender,
        timing: services::jobs::Timing::from_env(),
        holder: services::jobs::holder_id(),
    });
    db.spawn_checkpointer(std::time::Duration::from_millis(250));
    if db.count_users().await? == 0 {
        println!("No one can sign in yet: add an admin with `costroom user add --email … --role admin` (or run `costroom demo`).");
    }
    let gateway = state.gateway.clone();
    let router = if args.gateway_only {
        crate::router::build_gateway_router(state)
    } else {
        crate::build_router_with(state, crate::load::Load::from_env().map_err(anyhow::Error::msg)?)
    };
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, backend = db.backend(), "listening");
    println!("Costroom is running at http://{local}/ (database: {})", db.backend());
    // Nagle's algorithm would hold a stream's first event until the client acknowledges the
    // headers (a delayed ACK: 40 ms on Linux); measured as +46 ms to a gateway stream's first
    // byte before this
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set on a connection");
        }
    });
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server error")?;
    // calls answered just before the stop are still being recorded and settled
    if tokio::time::timeout(std::time::Duration::from_secs(10), gateway.idle()).await.is_err() {
        tracing::warn!("stopped before every gateway call was recorded; their reservations expire");
    }
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM; in-flight requests then finish before exit.
pub(super) async fn shutdown_signal() {
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
