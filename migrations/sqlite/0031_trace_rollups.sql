-- Per trace (and per attribution value of its steps) the sums its list rows show, kept in
-- the ingest and re-price transactions, so that the costliest traces of a page come from index
-- walks (one per day) instead of a GROUP BY over every traced event. dim '' sums the whole trace; a
-- row of dim 'team' sums only the steps of that team. A trace belongs to the day its first
-- step (of that row) happened on: first_day, Unix seconds of the UTC day.
create table trace_rollups (
    org_id bigint not null,
    trace_id text not null,
    dim text not null,
    value text not null,
    first_day bigint not null,
    first_at text not null,
    last_at text not null,
    steps bigint not null,
    depth bigint not null,
    retries bigint not null,
    tool_calls bigint not null,
    cost_nanos bigint not null,
    tokens bigint not null,
    team text,
    feature text,
    primary key (org_id, trace_id, dim, value)
);
-- keyed by day first: ingest adds to recent days, so its index writes stay on a few pages
create index trace_rollups_costliest on trace_rollups (org_id, dim, value, first_day, cost_nanos);
insert into trace_rollups select org_id, trace_id, '', '', cast(strftime('%s', min(occurred_at)) as bigint) / 86400 * 86400, min(occurred_at), max(occurred_at), count(*), max(coalesce(depth, 0)), sum(case when coalesce(retry, 0) > 0 then 1 else 0 end), sum(case when tool_name is not null or operation = 'execute_tool' then 1 else 0 end), sum(cost_nanos), sum(input_tokens + output_tokens), min(team), min(feature) from usage_events where trace_id is not null group by org_id, trace_id;
insert into trace_rollups select org_id, trace_id, 'team', coalesce(team, ''), cast(strftime('%s', min(occurred_at)) as bigint) / 86400 * 86400, min(occurred_at), max(occurred_at), count(*), max(coalesce(depth, 0)), sum(case when coalesce(retry, 0) > 0 then 1 else 0 end), sum(case when tool_name is not null or operation = 'execute_tool' then 1 else 0 end), sum(cost_nanos), sum(input_tokens + output_tokens), min(team), min(feature) from usage_events where trace_id is not null group by org_id, trace_id, coalesce(team, '');
insert into trace_rollups select org_id, trace_id, 'feature', coalesce(feature, ''), cast(strftime('%s', min(occurred_at)) as bigint) / 86400 * 86400, min(occurred_at), max(occurred_at), count(*), max(coalesce(depth, 0)), sum(case when coalesce(retry, 0) > 0 then 1 else 0 end), sum(case when tool_name is not null or operation = 'execute_tool' then 1 else 0 end), sum(cost_nanos), sum(input_tokens + output_tokens), min(team), min(feature) from usage_events where trace_id is not null group by org_id, trace_id, coalesce(feature, '');
insert into trace_rollups select org_id, trace_id, 'initiative', coalesce(initiative, ''), cast(strftime('%s', min(occurred_at)) as bigint) / 86400 * 86400, min(occurred_at), max(occurred_at), count(*), max(coalesce(depth, 0)), sum(case when coalesce(retry, 0) > 0 then 1 else 0 end), sum(case when tool_name is not null or operation = 'execute_tool' then 1 else 0 end), sum(cost_nanos), sum(input_tokens + output_tokens), min(team), min(feature) from usage_events where trace_id is not null group by org_id, trace_id, coalesce(initiative, '');
insert into trace_rollups select org_id, trace_id, 'customer', coalesce(customer, ''), cast(strftime('%s', min(occurred_at)) as bigint) / 86400 * 86400, min(occurred_at), max(occurred_at), count(*), max(coalesce(depth, 0)), sum(case when coalesce(retry, 0) > 0 then 1 else 0 end), sum(case when tool_name is not null or operation = 'execute_tool' then 1 else 0 end), sum(cost_nanos), sum(input_tokens + output_tokens), min(team), min(feature) from usage_events where trace_id is not null group by org_id, trace_id, coalesce(customer, '');
insert into trace_rollups select org_id, trace_id, 'model', model, cast(strftime('%s', min(occurred_at)) as bigint) / 86400 * 86400, min(occurred_at), max(occurred_at), count(*), max(coalesce(depth, 0)), sum(case when coalesce(retry, 0) > 0 then 1 else 0 end), sum(case when tool_name is not null or operation = 'execute_tool' then 1 else 0 end), sum(cost_nanos), sum(input_tokens + output_tokens), min(team), min(feature) from usage_events where trace_id is not null group by org_id, trace_id, model;
