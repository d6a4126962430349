-- A counter per organisation, raised in the transaction of every change to its guardrail rules
-- (by this server, another one on the same database, or the CLI), so that the authorize lane
-- re-reads and re-parses the rules only when they changed instead of once per batch.
create table guardrail_rule_versions (
    org_id bigint primary key,
    version bigint not null
);
insert into guardrail_rule_versions (org_id, version) select distinct org_id, 1 from guardrail_rules;
