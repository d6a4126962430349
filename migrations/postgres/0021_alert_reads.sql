-- Alerts are read per person: one person's "mark all read" used to clear everyone's bell.
-- `kind` names the table the alert lives in (budget_alerts, anomalies, reviews). The
-- organisation-wide read marks kept so far become every current member's own.
create table alert_reads (
    user_id bigint not null references users (id) on delete cascade,
    kind text not null check (kind in ('budget', 'anomaly', 'review')),
    item_id bigint not null,
    read_at_ms bigint not null,
    primary key (user_id, kind, item_id)
);

insert into alert_reads (user_id, kind, item_id, read_at_ms)
    select u.id, 'budget', a.id, 0 from budget_alerts a join users u on u.org_id = a.org_id
    where a.read_at is not null;
insert into alert_reads (user_id, kind, item_id, read_at_ms)
    select u.id, 'anomaly', a.id, a.read_at * 1000 from anomalies a join users u on u.org_id = a.org_id
    where a.read_at is not null;
insert into alert_reads (user_id, kind, item_id, read_at_ms)
    select u.id, 'review', r.id, r.read_at * 1000 from reviews r join users u on u.org_id = r.org_id
    where r.read_at is not null;
