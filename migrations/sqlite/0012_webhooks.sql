-- Webhooks and their delivery log. A delivery is kept once per webhook and event key (the
-- unique key), so raising the same event again never sends it twice; times are Unix
-- milliseconds so the worker's "due" comparison is the same integer test on both backends.
create table webhooks (
    id integer primary key,
    org_id bigint not null references orgs (id),
    name text not null,
    url text not null,
    format text not null check (format in ('slack', 'json')),
    enabled boolean not null,
    created_at_ms bigint not null
);

create table webhook_deliveries (
    id integer primary key,
    org_id bigint not null references orgs (id),
    webhook_id bigint not null references webhooks (id) on delete cascade,
    event_key text not null,
    notice text not null,
    status text not null check (status in ('pending', 'delivered', 'failed')),
    attempts bigint not null default 0,
    next_attempt_at_ms bigint,
    last_attempt_at_ms bigint,
    last_status bigint,
    last_error text,
    delivered_at_ms bigint,
    created_at_ms bigint not null,
    unique (webhook_id, event_key)
);
create index webhook_deliveries_due on webhook_deliveries (status, next_attempt_at_ms);
create index webhook_deliveries_org on webhook_deliveries (org_id, created_at_ms);
