-- Cost anomalies, detected on hourly and daily spend series or reported by a person, and
-- the steps of their lifecycle. Times are unix seconds (UTC): a detected anomaly's start is
-- the start of its first bucket out of band, its detection time when the detector first
-- flagged it, so time to detect is one subtraction on either backend.
create table anomalies (
    id bigint generated always as identity primary key,
    org_id bigint not null references orgs (id),
    scope_dim text not null,
    scope_value text not null,
    grain text not null check (grain in ('hour', 'day', 'report')),
    started_at bigint not null,
    ended_at bigint not null,
    detected_at bigint,
    expected_nanos bigint not null,
    actual_nanos bigint not null,
    excess_nanos bigint not null,
    severity text not null check (severity in ('low', 'medium', 'high', 'critical')),
    contributors text not null,
    also_in text not null,
    status text not null check (status in ('open', 'acknowledged', 'resolved', 'false_positive')),
    assignee text not null,
    reported_by text,
    note text not null,
    -- set when it was announced (in-app and webhooks): at most once per anomaly
    alerted boolean not null,
    read_at bigint,
    updated_at bigint not null
);
create index anomalies_org_start on anomalies (org_id, started_at);

create table anomaly_events (
    id bigint generated always as identity primary key,
    org_id bigint not null references orgs (id),
    anomaly_id bigint not null references anomalies (id) on delete cascade,
    at bigint not null,
    actor text not null,
    action text not null,
    note text not null
);
create index anomaly_events_anomaly on anomaly_events (anomaly_id, at);
