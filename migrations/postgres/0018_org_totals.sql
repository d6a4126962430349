-- Each organisation's lifetime totals, the guard that keeps every sum inside a 64-bit integer
-- (domain::limits): token events' cost, tokens (input + output) and requests, and the absolute
-- amount of every ledger line. Writes raise them in their own transaction and are refused
-- when one would pass the maximum.
create table org_totals (
    org_id bigint primary key,
    event_cost_nanos bigint not null,
    tokens bigint not null,
    requests bigint not null,
    ledger_abs_nanos bigint not null,
    -- outcome values (value + baseline) people recorded, summed in the portfolio's ROI
    outcome_value_nanos bigint not null default 0
);

-- A line's weight in the guard: its largest amount, whatever its sign.
alter table ledger_lines add column abs_nanos bigint not null default 0;
update ledger_lines set abs_nanos = greatest(abs(billed_nanos), abs(effective_nanos),
    abs(coalesce(list_nanos, 0)), abs(coalesce(contracted_nanos, 0)));

insert into org_totals (org_id, event_cost_nanos, tokens, requests, ledger_abs_nanos, outcome_value_nanos)
select o.id,
    coalesce((select cast(sum(cost_nanos) as bigint) from usage_rollups r
        where r.org_id = o.id and r.grain = 'day' and r.dim = 'total' and r.source = 'tokens'), 0),
    coalesce((select cast(sum(input_tokens) + sum(output_tokens) as bigint) from usage_rollups r
        where r.org_id = o.id and r.grain = 'day' and r.dim = 'total' and r.source = 'tokens'), 0),
    coalesce((select cast(sum(requests) as bigint) from usage_rollups r
        where r.org_id = o.id and r.grain = 'day' and r.dim = 'total' and r.source = 'tokens'), 0),
    coalesce((select cast(sum(abs_nanos) as bigint) from ledger_lines l where l.org_id = o.id), 0),
    coalesce((select cast(sum(value_nanos + coalesce(baseline_nanos, 0)) as bigint) from outcomes x where x.org_id = o.id), 0)
from orgs o;
