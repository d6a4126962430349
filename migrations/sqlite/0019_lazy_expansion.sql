-- Training runs and commitments are expanded into their daily ledger lines lazily: a request
-- stores the record and writes at most a bounded number of lines; the ledger job writes the
-- rest in small transactions. pending_from: the index of the next daily line to write (null
-- when all are written); pending_import: the import the lines belong to.
alter table training_runs add column pending_from bigint;
alter table training_runs add column pending_import bigint;
alter table commitments add column pending_from bigint;
alter table commitments add column pending_import bigint;
