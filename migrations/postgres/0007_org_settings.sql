-- Per-organisation settings, one JSON value per key (e.g. otel_attribute_mapping). Changes are
-- audited like every other change.
create table org_settings (
    org_id bigint not null references orgs (id),
    key text not null,
    value text not null,
    updated_at timestamptz not null,
    primary key (org_id, key)
);
