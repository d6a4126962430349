-- Initiatives (AI projects), the outcomes product owners record for them, and zombie flags
-- with the decisions taken on them. An initiative's spend is found by its key (the
-- initiative attribute of events and imports) and, for untagged spend, its features.
create table initiatives (
    id integer primary key,
    org_id bigint not null references orgs (id),
    key text not null,
    name text not null,
    description text not null,
    owner text not null,
    team text,
    status text not null check (status in ('exploring', 'building', 'live', 'paused', 'retired')),
    kickoff text,
    go_live text,
    value_metric text not null,
    value_unit text not null,
    value_per_unit_nanos bigint,
    features text not null,
    created_at text not null,
    updated_at text not null,
    unique (org_id, key)
);

create table outcomes (
    id integer primary key,
    org_id bigint not null references orgs (id),
    initiative_id bigint not null references initiatives (id) on delete cascade,
    day text not null,
    period_end text,
    metric text not null,
    quantity_milli bigint not null check (quantity_milli >= 0),
    value_nanos bigint not null check (value_nanos >= 0),
    baseline_nanos bigint,
    note text not null,
    evidence text not null,
    -- the sender's own id for the outcome (API and CSV imports): a resend is recognised and
    -- skipped, never counted twice
    external_id text,
    recorded_by text not null,
    recorded_at text not null
);
create index outcomes_initiative on outcomes (initiative_id, day);
create unique index outcomes_external on outcomes (initiative_id, external_id);

-- One open flag per initiative and rule at a time (cleared_on is null while it trips).
create table zombie_flags (
    id integer primary key,
    org_id bigint not null references orgs (id),
    initiative_id bigint not null references initiatives (id) on delete cascade,
    rule text not null,
    reason text not null,
    at_stake_nanos bigint not null,
    raised_on text not null,
    cleared_on text
);
create unique index zombie_flags_open on zombie_flags (initiative_id, rule) where cleared_on is null;

create table zombie_decisions (
    id integer primary key,
    org_id bigint not null references orgs (id),
    flag_id bigint not null references zombie_flags (id) on delete cascade,
    decision text not null check (decision in ('keep', 'fix', 'retire')),
    owner text not null,
    note text not null,
    fix_by text,
    decided_by text not null,
    decided_on text not null,
    decided_at text not null
);
