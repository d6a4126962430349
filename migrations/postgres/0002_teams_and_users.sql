-- People and teams. Passwords are argon2id PHC strings; never the password itself.
create table teams (
    id bigint generated always as identity primary key,
    org_id bigint not null references orgs (id),
    slug text not null,
    name text not null,
    created_at timestamptz not null,
    unique (org_id, slug)
);

create table users (
    id bigint generated always as identity primary key,
    org_id bigint not null references orgs (id),
    email text not null unique,
    name text not null,
    role text not null check (role in ('admin', 'finance', 'engineering', 'product', 'viewer')),
    password_hash text not null,
    disabled boolean not null default false,
    created_at timestamptz not null
);

create table team_members (
    team_id bigint not null references teams (id),
    user_id bigint not null references users (id),
    primary key (team_id, user_id)
);
