-- Entries of a price list that matches model names by rule (genai-prices' per-provider
-- `match` clauses: equals, starts_with, contains, regex, or, and) carry that rule as JSON,
-- with the provider's own rule, its fallback providers and the entry's place in the list.
-- NULL for keyed entries (LiteLLM's map, an organisation's own prices): they price their key.
alter table price_entries add column match_rule text;
