-- The ledger: spend that does not arrive as token events (FOCUS billing exports first).
-- An import replaces, per billing account and billing period, the lines an earlier import
-- brought for the same account and period: re-importing a file, or an export that overlaps an
-- earlier one, never counts twice. Money is integer nano-units of the billing currency.
create table ledger_imports (
    id integer primary key,
    org_id bigint not null references orgs (id),
    source text not null,
    file_name text not null,
    rows_imported bigint not null,
    rows_replaced bigint not null,
    billed_nanos bigint not null,
    effective_nanos bigint not null,
    created_at text not null,
    created_by bigint references users (id)
);

create table ledger_lines (
    id integer primary key,
    org_id bigint not null references orgs (id),
    import_id bigint not null references ledger_imports (id),
    source text not null,
    line bigint not null,
    billing_account text not null,
    billing_period_start text not null,
    billing_period_end text,
    charge_period_start text not null,
    charge_period_end text not null,
    day text not null,
    charge_category text not null,
    billed_nanos bigint not null,
    effective_nanos bigint not null,
    list_nanos bigint,
    contracted_nanos bigint,
    charge_class text,
    charge_description text,
    charge_frequency text,
    currency text,
    provider text,
    publisher text,
    service_name text,
    service_category text,
    service_subcategory text,
    region_id text,
    resource_id text,
    resource_name text,
    sku_id text,
    sku_price_id text,
    pricing_category text,
    consumed_quantity text,
    consumed_unit text,
    pricing_quantity text,
    pricing_unit text,
    commitment_discount_id text,
    commitment_discount_category text,
    commitment_discount_status text,
    commitment_discount_type text,
    commitment_discount_quantity text,
    commitment_discount_unit text,
    team text,
    initiative text,
    feature text,
    customer text,
    environment text,
    tags text not null
);
create index ledger_lines_period on ledger_lines (org_id, source, billing_account, billing_period_start);
create index ledger_lines_day on ledger_lines (org_id, day);
