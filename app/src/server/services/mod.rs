//! Use cases: validate input, read or write through `db`, compute with `domain`.
pub mod auth;
pub mod budgets;
pub mod demo;
pub mod ingest;
pub mod initiatives;
pub mod keys;
pub mod kpis;
pub mod ledger;
pub mod overview;
pub mod prices;
pub mod reconcile;
pub mod records;
pub mod settings;
pub mod spend;
pub mod traces;
pub mod users;
pub mod webhooks;
