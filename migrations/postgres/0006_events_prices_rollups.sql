-- The full usage-event model (token classes, tier, agent context, cost source and price
-- version), the price book, and the rollups every dashboard reads.
-- Token counts follow OpenTelemetry: input_tokens include cache reads and writes,
-- output_tokens include reasoning tokens.

alter table usage_events add column requested_model text;
alter table usage_events add column operation text not null default 'chat';
alter table usage_events add column cache_read_tokens bigint not null default 0 check (cache_read_tokens >= 0);
alter table usage_events add column cache_write_5m_tokens bigint not null default 0 check (cache_write_5m_tokens >= 0);
alter table usage_events add column cache_write_1h_tokens bigint not null default 0 check (cache_write_1h_tokens >= 0);
alter table usage_events add column reasoning_tokens bigint not null default 0 check (reasoning_tokens >= 0);
alter table usage_events add column service_tier text not null default 'standard';
alter table usage_events add column latency_ms bigint;
alter table usage_events add column status text not null default 'ok';
alter table usage_events add column api_key text;
alter table usage_events add column tags text not null default '{}';
alter table usage_events add column trace_id text;
alter table usage_events add column span_id text;
alter table usage_events add column parent_span_id text;
alter table usage_events add column depth bigint;
alter table usage_events add column retry bigint;
alter table usage_events add column tool_name text;
alter table usage_events add column cost_source text not null default 'computed';
alter table usage_events add column price_entry_id bigint;

-- One version of one model's prices. org_id 0 is the public list (LiteLLM's map) shared by
-- every organisation; an organisation's own entries (imports, overrides) win while in force.
-- rates: JSON object, LiteLLM field name -> integer femto-USD (1e-15) per token.
create table price_entries (
    id bigint generated always as identity primary key,
    org_id bigint not null default 0,
    model text not null,
    provider text not null,
    effective_from date not null,
    rates text not null,
    source text not null,
    created_at timestamptz not null,
    created_by bigint,
    unique (org_id, model, effective_from)
);

-- Hourly and daily sums per attribution key ('total' has the value ''), kept in the same
-- transaction as the events they sum. bucket: Unix seconds (UTC) of the bucket's start.
create table usage_rollups (
    org_id bigint not null,
    grain text not null check (grain in ('hour', 'day')),
    dim text not null,
    bucket bigint not null,
    value text not null,
    cost_nanos bigint not null,
    input_tokens bigint not null,
    cache_read_tokens bigint not null,
    cache_write_5m_tokens bigint not null,
    cache_write_1h_tokens bigint not null,
    output_tokens bigint not null,
    reasoning_tokens bigint not null,
    requests bigint not null,
    events bigint not null,
    unpriced_events bigint not null,
    primary key (org_id, grain, dim, bucket, value)
);

-- Existing events get their rollups.
insert into usage_rollups select org_id, 'hour', 'total', cast(floor(extract(epoch from occurred_at)) as bigint) / 3600 * 3600 as b, '' as v, sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), sum(case when cost_source = 'unpriced' then 1 else 0 end) from usage_events group by org_id, b, v;
insert into usage_rollups select org_id, 'hour', 'team', cast(floor(extract(epoch from occurred_at)) as bigint) / 3600 * 3600 as b, coalesce(team, '') as v, sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), sum(case when cost_source = 'unpriced' then 1 else 0 end) from usage_events group by org_id, b, v;
insert into usage_rollups select org_id, 'hour', 'initiative', cast(floor(extract(epoch from occurred_at)) as bigint) / 3600 * 3600 as b, coalesce(initiative, '') as v, sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), sum(case when cost_source = 'unpriced' then 1 else 0 end) from usage_events group by org_id, b, v;
insert into usage_rollups select org_id, 'hour', 'feature', cast(floor(extract(epoch from occurred_at)) as bigint) / 3600 * 3600 as b, coalesce(feature, '') as v, sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), sum(case when cost_source = 'unpriced' then 1 else 0 end) from usage_events group by org_id, b, v;
insert into usage_rollups select org_id, 'hour', 'customer', cast(floor(extract(epoch from occurred_at)) as bigint) / 3600 * 3600 as b, coalesce(customer, '') as v, sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), sum(case when cost_source = 'unpriced' then 1 else 0 end) from usage_events group by org_id, b, v;
insert into usage_rollups select org_id, 'hour', 'environment', cast(floor(extract(epoch from occurred_at)) as bigint) / 3600 * 3600 as b, coalesce(environment, '') as v, sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), sum(case when cost_source = 'unpriced' then 1 else 0 end) from usage_events group by org_id, b, v;
insert into usage_rollups select org_id, 'hour', 'model', cast(floor(extract(epoch from occurred_at)) as bigint) / 3600 * 3600 as b, coalesce(model, '') as v, sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), sum(case when cost_source = 'unpriced' then 1 else 0 end) from usage_events group by org_id, b, v;
insert into usage_rollups select org_id, 'hour', 'provider', cast(floor(extract(epoch from occurred_at)) as bigint) / 3600 * 3600 as b, coalesce(provider, '') as v, sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), sum(case when cost_source = 'unpriced' then 1 else 0 end) from usage_events group by org_id, b, v;
insert into usage_rollups select org_id, 'hour', 'api_key', cast(floor(extract(epoch from occurred_at)) as bigint) / 3600 * 3600 as b, coalesce(api_key, '') as v, sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), sum(case when cost_source = 'unpriced' then 1 else 0 end) from usage_events group by org_id, b, v;
insert into usage_rollups select org_id, 'day', 'total', cast(floor(extract(epoch from occurred_at)) as bigint) / 86400 * 86400 as b, '' as v, sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), sum(case when cost_source = 'unpriced' then 1 else 0 end) from usage_events group by org_id, b, v;
insert into usage_rollups select org_id, 'day', 'team', cast(floor(extract(epoch from occurred_at)) as bigint) / 86400 * 86400 as b, coalesce(team, '') as v, sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), sum(case when cost_source = 'unpriced' then 1 else 0 end) from usage_events group by org_id, b, v;
insert into usage_rollups select org_id, 'day', 'initiative', cast(floor(extract(epoch from occurred_at)) as bigint) / 86400 * 86400 as b, coalesce(initiative, '') as v, sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), sum(case when cost_source = 'unpriced' then 1 else 0 end) from usage_events group by org_id, b, v;
insert into usage_rollups select org_id, 'day', 'feature', cast(floor(extract(epoch from occurred_at)) as bigint) / 86400 * 86400 as b, coalesce(feature, '') as v, sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), sum(case when cost_source = 'unpriced' then 1 else 0 end) from usage_events group by org_id, b, v;
insert into usage_rollups select org_id, 'day', 'customer', cast(floor(extract(epoch from occurred_at)) as bigint) / 86400 * 86400 as b, coalesce(customer, '') as v, sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), sum(case when cost_source = 'unpriced' then 1 else 0 end) from usage_events group by org_id, b, v;
insert into usage_rollups select org_id, 'day', 'environment', cast(floor(extract(epoch from occurred_at)) as bigint) / 86400 * 86400 as b, coalesce(environment, '') as v, sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), sum(case when cost_source = 'unpriced' then 1 else 0 end) from usage_events group by org_id, b, v;
insert into usage_rollups select org_id, 'day', 'model', cast(floor(extract(epoch from occurred_at)) as bigint) / 86400 * 86400 as b, coalesce(model, '') as v, sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), sum(case when cost_source = 'unpriced' then 1 else 0 end) from usage_events group by org_id, b, v;
insert into usage_rollups select org_id, 'day', 'provider', cast(floor(extract(epoch from occurred_at)) as bigint) / 86400 * 86400 as b, coalesce(provider, '') as v, sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), sum(case when cost_source = 'unpriced' then 1 else 0 end) from usage_events group by org_id, b, v;
insert into usage_rollups select org_id, 'day', 'api_key', cast(floor(extract(epoch from occurred_at)) as bigint) / 86400 * 86400 as b, coalesce(api_key, '') as v, sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), sum(case when cost_source = 'unpriced' then 1 else 0 end) from usage_events group by org_id, b, v;

-- The unpriced-models list reads only flagged events.
create index usage_events_unpriced on usage_events (org_id, model) where cost_source = 'unpriced';
