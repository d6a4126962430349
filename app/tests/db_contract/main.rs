//! Database contract: every `Db` function behaves the same on SQLite and PostgreSQL. Each
//! behaviour is one async fn taking a fresh `Db`; `on_both!` runs it once per backend.
#![cfg(feature = "ssr")]

use app::domain::initiative::{DecisionInput, InitiativeInput, OutcomeInput};
use app::domain::ledger::SpendSource;
use app::domain::{DateRange, Nanos, UsageEvent};
use app::on_both;
use app::server::db::{Db, UsageEventRow};
use app::server::formats::demo::{generate, DemoConfig};
use app::server::services;
use app::server::testing::TestDb;
use chrono::{NaiveDate, TimeZone, Utc};

pub(crate) fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub(crate) fn event(id: &str, at: &str, model: &str, cost: i64) -> UsageEvent {
    UsageEvent {
        event_id: id.to_string(),
        occurred_at: Utc
            .from_utc_datetime(&chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S").unwrap()),
        provider: "openai".into(),
        model: model.into(),
        team: Some("search".into()),
        feature: None,
        initiative: None,
        customer: Some("acme".into()),
        environment: Some("prod".into()),
        tokens: app::domain::pricing::Tokens { input: 1_000, output: 200, ..Default::default() },
        request_count: 1,
        cost: Nanos(cost),
        ..Default::default()
    }
}

mod budgets;
mod events;
mod guardrails;
mod initiatives;
mod people;
mod pricing;
mod retention;
mod reviews;
mod spend;
mod tx;
