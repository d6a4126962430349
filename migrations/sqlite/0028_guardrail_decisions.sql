-- The guardrails' decision log: one row for each rule that denied a call or warned on it
-- (shadow rules, soft caps), written when the call is decided. Calls no rule objected to
-- are not logged here (their reservations are the record). call_id groups the rows of one
-- call; at_ms is Unix milliseconds.
create table guardrail_decisions (
    id integer primary key,
    org_id bigint not null references orgs(id),
    call_id text not null,
    at_ms bigint not null,
    decision text not null check (decision in ('allow', 'deny')),
    rule_id bigint not null,
    rule text not null,
    code text not null,
    enforced boolean not null,
    message text not null,
    api_key text not null default '',
    team text not null default '',
    feature text not null default '',
    provider text not null,
    model text not null,
    worst_case_nanos bigint
);
create index guardrail_decisions_at on guardrail_decisions (org_id, at_ms);
create index guardrail_decisions_rule on guardrail_decisions (rule_id, at_ms);

-- Guardrail denials and warnings are in the bell too (an item is one rule's hits of one UTC
-- day, named by its first log row): the read marks accept the kind.
create table alert_reads_new (
    user_id bigint not null references users (id) on delete cascade,
    kind text not null check (kind in ('budget', 'anomaly', 'review', 'guardrail')),
    item_id bigint not null,
    read_at_ms bigint not null,
    primary key (user_id, kind, item_id)
);
insert into alert_reads_new select user_id, kind, item_id, read_at_ms from alert_reads;
drop table alert_reads;
alter table alert_reads_new rename to alert_reads;
