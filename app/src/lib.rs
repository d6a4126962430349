//! Costroom's shared crate: pages, components and server functions (compiled for the server
//! with `ssr` and for the browser with `hydrate`), pure domain code, and, behind `ssr`, the
//! server-only services and database access.
#![recursion_limit = "256"]

pub mod api;
pub mod charts;
pub mod components;
pub mod domain;
pub mod error;
pub mod pages;
pub mod routes;
#[cfg(feature = "ssr")]
pub mod server;

pub use routes::{shell, App};
