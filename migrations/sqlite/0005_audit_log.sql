-- Every change people and scripts make (who, when, what, before -> after). Rows are only ever
-- inserted. before/after are JSON objects of the changed record's fields (never secrets).
-- The actor's e-mail is copied, so the trail still reads right after a person is renamed.
create table audit_log (
    id integer primary key,
    org_id bigint not null references orgs (id),
    at text not null,
    actor_user_id bigint references users (id),
    actor text not null,
    action text not null,
    entity text not null,
    entity_id text not null,
    summary text not null,
    before_json text,
    after_json text
);
create index audit_log_org_at on audit_log (org_id, at);

-- Changing a password voids the person's other sessions: sessions that started before this
-- instant (Unix seconds) are refused.
alter table users add column sessions_valid_after bigint not null default 0;
