-- Every billed unit of a call, beside the text token classes: audio and image tokens (parts
-- of input_tokens and output_tokens, as the OpenTelemetry counts include them; cached audio
-- is part of both cache_read_tokens and input_audio_tokens) and web-search calls, each priced
-- at its own rate (see domain/pricing.rs). Existing events had none: 0.
alter table usage_events add column input_audio_tokens bigint not null default 0 check (input_audio_tokens >= 0);
alter table usage_events add column cache_read_audio_tokens bigint not null default 0 check (cache_read_audio_tokens >= 0);
alter table usage_events add column input_image_tokens bigint not null default 0 check (input_image_tokens >= 0);
alter table usage_events add column output_audio_tokens bigint not null default 0 check (output_audio_tokens >= 0);
alter table usage_events add column output_image_tokens bigint not null default 0 check (output_image_tokens >= 0);
alter table usage_events add column web_search_calls bigint not null default 0 check (web_search_calls >= 0);
