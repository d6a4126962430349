-- Cost reviews: schedules, one review per schedule and meeting day (frozen figures once
-- closed), the decisions and action items recorded in the meeting; and the maturity
-- checklist's items ticked by hand and its daily score.
create table review_schedules (
    id integer primary key,
    org_id bigint not null references orgs (id),
    team text,
    cadence text not null check (cadence in ('weekly', 'monthly')),
    day bigint not null,
    created_by text not null,
    created_at bigint not null
);

create table reviews (
    id integer primary key,
    org_id bigint not null references orgs (id),
    schedule_id bigint not null references review_schedules (id) on delete cascade,
    title text not null,
    meeting_day text not null,
    period_from text not null,
    period_to text not null,
    -- the figures as they were when it was closed (JSON); null while open
    frozen text,
    closed_at bigint,
    closed_by text,
    created_at bigint not null,
    read_at bigint,
    unique (schedule_id, meeting_day)
);

create table review_decisions (
    id integer primary key,
    org_id bigint not null references orgs (id),
    review_id bigint not null references reviews (id) on delete cascade,
    text text not null,
    decided_by text not null,
    at bigint not null
);

create table action_items (
    id integer primary key,
    org_id bigint not null references orgs (id),
    review_id bigint not null references reviews (id) on delete cascade,
    title text not null,
    owner text not null,
    due text,
    done boolean not null,
    created_by text not null,
    updated_at bigint not null
);

create table maturity_manual (
    org_id bigint not null references orgs (id),
    item text not null,
    done boolean not null,
    owner text not null,
    evidence text not null,
    done_on text,
    updated_by text not null,
    updated_at bigint not null,
    primary key (org_id, item)
);

create table maturity_scores (
    org_id bigint not null references orgs (id),
    day text not null,
    stage bigint,
    met bigint not null,
    total bigint not null,
    primary key (org_id, day)
);
