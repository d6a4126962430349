//! Server-only code (`ssr`). Rooms, from the outside in:
//! - `http`: axum handlers of the machine APIs and file endpoints, and the one error response;
//! - `auth`: sessions, the role guards every server function calls, password hashing;
//! - `services`: use cases, and `services::jobs`, the one owner of every background loop;
//! - `db`: database access for both backends, with a transaction type;
//! - `formats`: parsers and writers of outside file formats (FOCUS, provider reports, OTLP
//!   protobuf, the demo generator), knowing nothing of HTTP;
//! - `state` and `startup`: the shared state, built once for `serve`, the CLI and tests.
pub mod auth;
pub mod clock;
pub mod db;
pub mod formats;
pub mod http;
pub mod services;
pub mod startup;
pub mod state;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
