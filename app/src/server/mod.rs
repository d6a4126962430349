//! Server-only code (`ssr`): state, services (use cases) and database access.
pub mod auth;
pub mod db;
pub mod demo;
pub mod exports;
pub mod focus;
pub mod focus_export;
pub mod focus_model;
pub mod ingest_api;
pub mod otlp_api;
pub mod password;
pub mod provider_reports;
pub mod records_api;
pub mod services;
pub mod spend_api;
pub mod state;
pub mod testing;
pub mod uploads;
