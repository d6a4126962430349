//! Parsers and writers of outside formats. They know nothing of HTTP or of the database: a
//! handler or a CLI command reads bytes, a format turns them into domain values (or back).
pub mod demo;
pub mod focus;
pub mod otlp;
pub mod provider_reports;
