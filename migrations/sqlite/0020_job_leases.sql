-- Background jobs with several servers on one database: each loop runs under a lease (one
-- holder at a time, taken over when it expires), and jobs people start from a page keep
-- their progress here, so any server can answer for them. Times are Unix milliseconds.
create table job_leases (
    name text primary key,
    holder text not null,
    expires_at_ms bigint not null
);

create table background_jobs (
    id integer primary key,
    org_id bigint not null references orgs (id),
    kind text not null,
    done bigint not null,
    finished boolean not null,
    failed boolean not null,
    outcome text,
    holder text not null,
    started_at_ms bigint not null,
    updated_at_ms bigint not null
);

-- One record per detected incident even when two detectors run at once: the same scope,
-- grain and start is the same incident (reports by people are not constrained).
delete from anomalies where grain <> 'report' and detected_at is not null and id not in (
    select min(id) from anomalies where grain <> 'report' and detected_at is not null
    group by org_id, scope_dim, scope_value, grain, started_at);
create unique index anomalies_detected_once on anomalies (org_id, scope_dim, scope_value, grain, started_at)
    where grain <> 'report' and detected_at is not null;
