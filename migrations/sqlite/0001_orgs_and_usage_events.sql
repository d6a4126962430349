-- Organisations and the raw, append-only usage events (one row per LLM call or batch).
-- Money is integer nano-USD (1 USD = 1e9). Prompts and payloads are never stored.
create table orgs (
    id integer primary key,
    slug text not null unique,
    name text not null,
    created_at text not null
);

create table usage_events (
    id integer primary key,
    org_id bigint not null references orgs (id),
    event_id text not null,
    occurred_at text not null,
    day text not null,
    provider text not null,
    model text not null,
    team text,
    feature text,
    initiative text,
    customer text,
    environment text,
    input_tokens bigint not null check (input_tokens >= 0),
    output_tokens bigint not null check (output_tokens >= 0),
    request_count bigint not null check (request_count >= 0),
    cost_nanos bigint not null,
    created_at text not null,
    unique (org_id, event_id)
);

create index usage_events_org_day on usage_events (org_id, day);
