-- Agent traces are read by trace id (the trace page) and listed per day range; only events
-- that belong to a trace are indexed.
create index usage_events_trace on usage_events (org_id, trace_id) where trace_id is not null;
