-- API keys for machines. Only a keyed BLAKE2b hash of the secret is stored; the prefix is
-- public and used for lookup. installation_secrets holds the random hashing key, made on
-- first use.
create table installation_secrets (
    name text primary key,
    value text not null
);

create table api_keys (
    id bigint generated always as identity primary key,
    org_id bigint not null references orgs (id),
    name text not null,
    prefix text not null unique,
    secret_hash text not null,
    scopes text not null,
    team_id bigint not null references teams (id),
    initiative text,
    created_by bigint references users (id),
    created_at timestamptz not null,
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz
);
