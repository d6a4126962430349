//! Server functions only, one file per resource. Bodies stay thin: authorize, delegate to a
//! service, return a DTO.
pub mod alerts;
pub mod anomalies;
pub mod auth;
pub mod budgets;
pub mod gateway;
pub mod guardrails;
pub mod initiatives;
pub mod kpis;
pub mod ledger;
pub mod overview;
pub mod prices;
pub mod reviews;
pub mod settings;
pub mod spend;
pub mod traces;
pub mod webhooks;

pub use alerts::{get_inbox, mark_alerts_read, GetInbox, MarkAlertsRead};
pub use auth::{setup_needed, whoami, Me, SetupNeeded, Whoami};
pub use budgets::{
    create_budget, delete_budget, forecast_accuracy, get_budget, list_budgets, update_budget, BudgetsPage,
    CreateBudget, DeleteBudget, ForecastAccuracy, GetBudget, ListBudgets, UpdateBudget,
};
pub use kpis::{get_coverage, get_kpis, GetCoverage, GetKpis, KpisPage};
pub use ledger::{
    add_commitment, add_training_run, get_ledger, get_ledger_rules, import_status, list_ledger_imports,
    set_gpu_rate, set_ledger_rules, AddCommitment, AddTrainingRun, GetLedger, ImportInfo, ImportStatus,
    LedgerView, ListLedgerImports, SetGpuRate, SetLedgerRules,
};
pub use overview::{get_overview, GetOverview};
pub use prices::{
    list_prices, recompute_status, set_model_price, start_recompute, JobView, ListPrices, PriceRow,
    PricesPage, RecomputeStatus, SetModelPrice, StartRecompute, UnpricedModel,
};
pub use settings::{
    add_person, change_password, change_role, create_api_key, create_team, get_attribute_mapping,
    list_api_keys, list_audit, list_people, list_teams, revoke_api_key, set_attribute_mapping, set_disabled,
    set_team_member, AddPerson, AuditPage, ChangePassword, ChangeRole, CreateApiKey, CreateTeam,
    GetAttributeMapping, KeyInfo, ListApiKeys, ListAudit, ListPeople, ListTeams, NewKey, Person,
    RevokeApiKey, SetAttributeMapping, SetDisabled, SetTeamMember, TeamInfo,
};
pub use spend::{get_scope, get_spend, GetScope, GetSpend, SpendPage};
pub use traces::{
    get_trace, list_traces, set_trace_limits, GetTrace, ListTraces, SetTraceLimits, TraceView, TracesPage,
};
