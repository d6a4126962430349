-- Guardrails: rules checked before a call (POST /api/v1/authorize), and the money held
-- against spend caps. `spec` is the rule as JSON (domain/guardrail.rs): scope, mode, failure
-- mode, unpriced policy, effective date and limit.
create table guardrail_rules (
    id bigint generated always as identity primary key,
    org_id bigint not null references orgs(id),
    name text not null,
    spec text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    unique (org_id, name)
);

-- A cap's money per UTC day: spent (settled) and reserved (held by open reservations). A
-- cap's window is the sum of its days, so day, week, month and rolling windows read the same
-- rows. A reservation changes these rows in the transaction that checks the cap, under the
-- cap rule's row lock (PostgreSQL) or the file's write lock (SQLite).
create table guardrail_days (
    rule_id bigint not null references guardrail_rules(id) on delete cascade,
    day date not null,
    spent_nanos bigint not null default 0 check (spent_nanos >= 0),
    reserved_nanos bigint not null default 0 check (reserved_nanos >= 0),
    primary key (rule_id, day)
);

-- The worst-case cost held for one authorized call until it is settled with the exact cost
-- or expires. `rules` lists the caps it holds money against (JSON array of rule ids);
-- provider and model price a settlement given as usage.
create table guardrail_reservations (
    id text primary key,
    org_id bigint not null references orgs(id),
    provider text not null,
    model text not null,
    day date not null,
    amount_nanos bigint not null check (amount_nanos >= 0),
    rules text not null,
    status text not null check (status in ('open', 'settled', 'expired')),
    actual_nanos bigint,
    created_at timestamptz not null,
    expires_at timestamptz not null,
    closed_at timestamptz
);
create index guardrail_reservations_open on guardrail_reservations (status, expires_at);
