-- Failed sign-ins per key ('account:<email>' or 'client:<address>'), for throttling. Times are
-- Unix seconds. Rows are removed on a successful sign-in or overwritten when stale.
create table sign_in_failures (
    key text primary key,
    failures bigint not null,
    last_failure_at bigint not null,
    locked_until bigint not null
);
