#!/usr/bin/env python3
"""Derives Costroom's seed price list from LiteLLM's price map (MIT, BerriAI/litellm).

Keeps, for every chat/completion/embedding/responses model, only its provider, mode and the
price fields Costroom prices with (token classes with audio and image tokens, tiers,
long-context variants, the per-request fee, and the per-search price by context size).
Usage: derive_litellm.py model_prices_and_context_window.json > litellm_prices.json
"""
import json
import re
import sys

FIELD = re.compile(
    r"^(input_cost_per_token|output_cost_per_token|cache_read_input_token_cost|"
    r"cache_creation_input_token_cost|output_cost_per_reasoning_token|input_cost_per_audio_token|"
    r"cache_read_input_audio_token_cost|input_cost_per_image_token|output_cost_per_audio_token|"
    r"output_cost_per_image_token|input_cost_per_request)(_above_1hr)?"
    r"(_above_\d+k_tokens)?(_batches|_flex|_priority)?$"
)
# USD per web search, by search context size (an object)
SEARCH = "search_context_cost_per_query"

src = json.load(open(sys.argv[1]))
out = {}
for key, entry in sorted(src.items()):
    if key == "sample_spec" or entry.get("mode") not in ("chat", "completion", "embedding", "responses"):
        continue
    rates = {f: v for f, v in entry.items() if FIELD.match(f) and isinstance(v, (int, float))}
    if rates and isinstance(entry.get(SEARCH), dict):
        rates[SEARCH] = entry[SEARCH]
    if rates:
        out[key] = {"litellm_provider": entry.get("litellm_provider", ""), "mode": entry["mode"], **rates}
print("{")
print(",\n".join(f"{json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in out.items()))
print("}")
