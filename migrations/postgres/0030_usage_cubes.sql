-- Daily sums of token events per whole attribution tuple, kept in the same transaction as
-- the events (like usage_rollups), so that a view combining dimensions (team=search by model,
-- a team's page broken down by feature) reads a few thousand summed rows instead of the raw
-- events. Two widths: usage_cube leaves out customer and API key, whose values can run to
-- thousands and would multiply the rows every other view reads; usage_cube_wide keeps them
-- and answers the views that touch them. Missing values are stored as ''. bucket: Unix
-- seconds (UTC) of the day's start. Billing lines (invoices, GPU, commitments) are not here:
-- views read their own table, which has a few lines per day.

create table usage_cube (
    org_id bigint not null,
    bucket bigint not null,
    team text not null,
    initiative text not null,
    feature text not null,
    environment text not null,
    model text not null,
    provider text not null,
    service_tier text not null,
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
    primary key (org_id, bucket, team, initiative, feature, environment, model, provider, service_tier)
);
insert into usage_cube select org_id, cast(floor(extract(epoch from occurred_at)) as bigint) / 86400 * 86400, coalesce(team, ''), coalesce(initiative, ''), coalesce(feature, ''), coalesce(environment, ''), model, provider, service_tier, sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), sum(case when cost_source = 'unpriced' then 1 else 0 end) from usage_events group by 1, 2, 3, 4, 5, 6, 7, 8, 9;

create table usage_cube_wide (
    org_id bigint not null,
    bucket bigint not null,
    team text not null,
    initiative text not null,
    feature text not null,
    environment text not null,
    model text not null,
    provider text not null,
    service_tier text not null,
    customer text not null,
    api_key text not null,
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
    primary key (org_id, bucket, team, initiative, feature, environment, model, provider, service_tier, customer, api_key)
);
insert into usage_cube_wide select org_id, cast(floor(extract(epoch from occurred_at)) as bigint) / 86400 * 86400, coalesce(team, ''), coalesce(initiative, ''), coalesce(feature, ''), coalesce(environment, ''), model, provider, service_tier, coalesce(customer, ''), coalesce(api_key, ''), sum(cost_nanos), sum(input_tokens), sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens), sum(output_tokens), sum(reasoning_tokens), sum(request_count), count(*), sum(case when cost_source = 'unpriced' then 1 else 0 end) from usage_events group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11;
