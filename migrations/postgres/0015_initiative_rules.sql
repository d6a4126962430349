-- Attribution rules beyond features: untagged spend of some API keys or tag values counts
-- for an initiative. JSON arrays like `features` (["key-1"], [["project","search"]]).
alter table initiatives add column api_keys text not null default '[]';
alter table initiatives add column tags text not null default '[]';
