-- Budgets and the alerts they raise. An alert is kept once per budget, period, kind and
-- threshold (the unique key), so re-evaluating never repeats one.
create table budgets (
    id bigint generated always as identity primary key,
    org_id bigint not null references orgs (id),
    name text not null,
    scope_dim text,
    scope_value text,
    period text not null check (period in ('month', 'quarter', 'year')),
    fiscal_start_month bigint not null default 1,
    recurring boolean not null,
    start_day date not null,
    amount_nanos bigint not null check (amount_nanos > 0),
    thresholds text not null,
    owner text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create table budget_alerts (
    id bigint generated always as identity primary key,
    org_id bigint not null references orgs (id),
    budget_id bigint not null references budgets (id) on delete cascade,
    period_start date not null,
    kind text not null check (kind in ('threshold', 'projected')),
    threshold bigint not null,
    message text not null,
    actual_nanos bigint not null,
    projected_nanos bigint not null,
    amount_nanos bigint not null,
    created_at timestamptz not null,
    read_at timestamptz,
    unique (budget_id, period_start, kind, threshold)
);
create index budget_alerts_org on budget_alerts (org_id, created_at);
