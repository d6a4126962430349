-- The gateway's upstreams: per organisation and provider, where calls go and the provider
-- key they carry. The key is stored sealed (XChaCha20-Poly1305 under the server's secret
-- key, which is never in the database); key_hint is its last four characters, to tell keys
-- apart on the page.
create table gateway_upstreams (
    id bigint generated always as identity primary key,
    org_id bigint not null references orgs (id),
    provider text not null,
    base_url text not null,
    key_sealed text not null,
    key_hint text not null,
    updated_by bigint references users (id),
    updated_at timestamptz not null,
    unique (org_id, provider)
);
