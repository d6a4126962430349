//! One file per route.
pub mod account;
pub mod alerts;
pub mod anomalies;
pub mod budgets;
pub mod guardrails;
pub mod initiatives;
pub mod kpis;
pub mod ledger;
pub mod links;
pub mod not_found;
pub mod overview;
pub mod reviews;
pub mod scope;
pub mod settings;
pub mod setup;
pub mod sign_in;
pub mod spend;
pub mod traces;

pub use account::AccountPage;
pub use alerts::AlertsPage;
pub use anomalies::{AnomaliesListPage, AnomalyPage};
pub use budgets::{BudgetPage, BudgetsListPage, ForecastAccuracyPage};
pub use guardrails::GuardrailsPage;
pub use initiatives::{InitiativePage, InitiativesListPage};
pub use kpis::{CoveragePage, KpisPage};
pub use ledger::LedgerPage;
pub use not_found::NotFoundPage;
pub use overview::OverviewPage;
pub use reviews::{MaturityChecklistPage, ReviewDetailPage, ReviewsListPage};
pub use scope::ScopePage;
pub use settings::{
    ApiKeysPage, AuditLogPage, BillingImportsPage, GatewayPage, PeoplePage, PriceBookPage, SettingsPage,
    TeamsPage, WebhooksPage,
};
pub use setup::SetupPage;
pub use sign_in::SignInPage;
pub use spend::SpendPage;
pub use traces::{TracePage, TracesListPage};
