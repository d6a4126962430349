-- Rate limits as token buckets kept in the database (one row per rule and unit, changed under
-- the rule's row lock), so several servers share one bucket: a rule's rate is the
-- organisation's rate, not a rate per server. milli: milli-tokens in the bucket at at_ms
-- (Unix milliseconds).
create table guardrail_buckets (
    rule_id bigint not null references guardrail_rules(id) on delete cascade,
    unit text not null check (unit in ('requests', 'tokens')),
    milli bigint not null,
    at_ms bigint not null,
    primary key (rule_id, unit)
);

-- One agent run's money and calls under an agent rule (a run is a trace id): every child
-- call of the run holds its worst case here too, so parallel children share the run budget.
create table guardrail_runs (
    rule_id bigint not null references guardrail_rules(id) on delete cascade,
    trace_id text not null,
    spent_nanos bigint not null default 0 check (spent_nanos >= 0),
    reserved_nanos bigint not null default 0 check (reserved_nanos >= 0),
    calls bigint not null default 0,
    primary key (rule_id, trace_id)
);

-- The runs a reservation holds money in (JSON array of rule ids; its trace id beside).
alter table guardrail_reservations add column trace_id text;
alter table guardrail_reservations add column run_rules text not null default '[]';
