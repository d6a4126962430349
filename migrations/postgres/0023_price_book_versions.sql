-- The price book's version per organisation. Every change to its price entries bumps it in the
-- same transaction, so every server -- and a CLI beside them -- sees a change before it prices
-- its next batch (one primary-key read per batch instead of a minute-long cache). An ingest
-- batch re-reads it inside its own write transaction and prices again when it moved.
-- swept_version: the version up to which stored unpriced events were re-priced (a job).
create table price_book_versions (
    org_id bigint primary key references orgs(id),
    version bigint not null default 0,
    swept_version bigint not null default 0
);
insert into price_book_versions (org_id, version, swept_version) select id, 0, 0 from orgs;
