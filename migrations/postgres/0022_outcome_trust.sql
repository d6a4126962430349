-- Outcome trust: an outcome worth more than the organisation's evidence share of its
-- initiative's value must carry evidence and is counted apart ("pending") until finance
-- verifies it, so one unchecked entry cannot move an initiative's ROI or clear a zombie flag.
alter table outcomes add column pending boolean not null default false;
alter table outcomes add column verified_by text;
