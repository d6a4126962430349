//! Logging: `tracing` to stderr, filter from `--log-level` / `COSTROOM_LOG` (RUST_LOG syntax).
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|e| {
        eprintln!("invalid log filter '{filter}' ({e}); using 'info'");
        EnvFilter::new("info")
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_writer(std::io::stderr))
        .try_init();
}
