-- All AI spend in one set of rollups: token events and the ledger (billing imports, GPU usage,
-- training runs, commitments) each add their own rows, told apart by `source`, so every view
-- can show the total or filter by source.
alter table usage_rollups add column source text not null default 'tokens'
    check (source in ('tokens', 'invoice', 'gpu', 'training', 'commitment'));
alter table usage_rollups drop constraint usage_rollups_pkey;
alter table usage_rollups add primary key (org_id, grain, dim, bucket, value, source);

-- Ledger lines carry the spend source they feed, the day bucket their rollups use, the model
-- (training runs, commitments), the record they were derived from (GPU usage, training runs,
-- commitments are kept in their own tables and projected here), and whether they count in
-- spend: invoice lines of services the organisation meters by token events are kept for
-- reconciliation but would count the same spend twice.
alter table ledger_lines add column spend_source text not null default 'invoice';
alter table ledger_lines add column bucket bigint not null default 0;
alter table ledger_lines add column model text;
alter table ledger_lines add column ref_id bigint;
alter table ledger_lines add column counted boolean not null default true;
update ledger_lines set bucket = cast(extract(epoch from day) as bigint);
create index ledger_lines_bucket on ledger_lines (org_id, bucket);
create index ledger_lines_ref on ledger_lines (org_id, source, ref_id);

-- Existing invoice lines get their rollups.
insert into usage_rollups (org_id, grain, dim, bucket, value, source, cost_nanos, input_tokens,
    cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens,
    requests, events, unpriced_events)
  select org_id, 'day', d.dim, bucket,
    case d.dim when 'total' then '' when 'team' then coalesce(team, '') when 'initiative' then coalesce(initiative, '')
      when 'feature' then coalesce(feature, '') when 'customer' then coalesce(customer, '')
      when 'environment' then coalesce(environment, '') when 'model' then coalesce(model, '')
      when 'provider' then coalesce(provider, '') else '' end as v,
    spend_source, sum(effective_nanos), 0, 0, 0, 0, 0, 0, 0, count(*), 0
  from ledger_lines cross join (select 'total' as dim union all select 'team' union all select 'initiative'
    union all select 'feature' union all select 'customer' union all select 'environment' union all select 'model'
    union all select 'provider' union all select 'api_key') d
  where counted group by org_id, d.dim, bucket, v, spend_source;

-- GPU usage per day and cluster / pool / GPU type / attribution: allocated and used hours in
-- milli-hours, cost from the import or from the rate table.
create table gpu_usage (
    id bigint generated always as identity primary key,
    org_id bigint not null references orgs (id),
    day date not null,
    cluster text not null,
    pool text not null default '',
    gpu_type text not null,
    team text not null default '',
    initiative text not null default '',
    allocated_mhours bigint not null check (allocated_mhours >= 0),
    used_mhours bigint not null check (used_mhours >= 0),
    cost_nanos bigint,
    updated_at timestamptz not null,
    unique (org_id, day, cluster, pool, gpu_type, team, initiative)
);

-- Hourly rate per GPU type, from a date on (the newest in force applies).
create table gpu_rates (
    org_id bigint not null references orgs (id),
    gpu_type text not null,
    effective_from date not null,
    nanos_per_hour bigint not null check (nanos_per_hour >= 0),
    updated_at timestamptz not null,
    primary key (org_id, gpu_type, effective_from)
);

create table training_runs (
    id bigint generated always as identity primary key,
    org_id bigint not null references orgs (id),
    run_id text not null,
    initiative text,
    team text,
    model text not null,
    started_at timestamptz not null,
    ended_at timestamptz not null,
    gpu_type text,
    gpu_hours_milli bigint,
    cost_nanos bigint not null,
    cost_basis text not null check (cost_basis in ('given', 'gpu_rate')),
    metric_name text,
    metric_score double precision,
    higher_is_better boolean not null default true,
    updated_at timestamptz not null,
    unique (org_id, run_id)
);

-- Provisioned-throughput purchases (Azure PTU, Bedrock Provisioned Throughput, reserved
-- capacity): the price is spread over the term, one ledger line per day.
create table commitments (
    id bigint generated always as identity primary key,
    org_id bigint not null references orgs (id),
    provider text not null,
    model text not null,
    deployment text not null default '',
    units bigint not null check (units > 0),
    tokens_per_minute bigint,
    term_start date not null,
    term_end date not null,
    price_nanos bigint not null check (price_nanos >= 0),
    team text,
    initiative text,
    note text,
    updated_at timestamptz not null
);

-- Provider usage and cost reports (OpenAI organisation API, Anthropic admin API), per day,
-- model and kind; used to reconcile what Costroom computed from events with what the provider
-- bills. Re-importing replaces the same (provider, day, model, kind, description) row.
create table provider_report_lines (
    org_id bigint not null references orgs (id),
    provider text not null,
    day date not null,
    model text not null default '',
    kind text not null check (kind in ('cost', 'usage')),
    description text not null default '',
    cost_nanos bigint not null default 0,
    input_tokens bigint not null default 0,
    cache_read_tokens bigint not null default 0,
    output_tokens bigint not null default 0,
    requests bigint not null default 0,
    imported_at timestamptz not null,
    primary key (org_id, provider, day, model, kind, description)
);
