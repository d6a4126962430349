-- What was forecast for each budget's period, as of each day: kept once per budget, period
-- and day (the unique key) and never overwritten, so a past prediction stays what it was.
create table forecast_snapshots (
    id bigint generated always as identity primary key,
    org_id bigint not null references orgs (id),
    budget_id bigint not null references budgets (id) on delete cascade,
    period_start date not null,
    as_of date not null,
    actual_nanos bigint not null,
    projected_nanos bigint not null,
    low_nanos bigint not null,
    high_nanos bigint not null,
    method text not null,
    reconstructed boolean not null,
    created_at timestamptz not null,
    unique (budget_id, period_start, as_of)
);
