//! The price book: dated price entries per model, global (seeded from LiteLLM's map) or an
//! organisation's own (imported or overridden), and the rule that picks one for an event.
use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::pricing::ModelPrice;

/// Where an entry came from.
pub const SOURCE_LITELLM: &str = "litellm-1.110.2";

/// One version of one model's prices, in force from `effective_from` until a later entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceEntry {
    pub id: i64,
    /// The price-map key (`gpt-4o`, `gemini/gemini-2.5-pro`, `anthropic.claude-…-v1:0`).
    pub model: String,
    /// LiteLLM's provider name for the key (`openai`, `gemini`, `bedrock`, …).
    pub provider: String,
    pub effective_from: NaiveDate,
    /// The organisation's own price (negotiated, custom) rather than the public list.
    pub own: bool,
    pub source: String,
    pub price: ModelPrice,
}

/// All entries, indexed by model key.
#[derive(Debug, Clone, Default)]
pub struct PriceBook {
    by_model: HashMap<String, Vec<PriceEntry>>,
}

/// The key prefix LiteLLM uses for an OpenTelemetry provider name (`gen_ai.provider.name`
/// well-known values), tried before the bare model name.
fn litellm_prefix(provider: &str) -> Option<&'static str> {
    Some(match provider {
        "azure.ai.openai" | "azure" | "azure_openai" => "azure/",
        "azure.ai.inference" | "azure_ai" => "azure_ai/",
        "gcp.gemini" | "gemini" => "gemini/",
        "gcp.vertex_ai" | "vertex_ai" | "gcp.gen_ai" => "vertex_ai/",
        "aws.bedrock" | "bedrock" => "bedrock/",
        "mistral_ai" | "mistral" => "mistral/",
        "groq" => "groq/",
        "deepseek" => "deepseek/",
        "x_ai" | "xai" => "xai/",
        "perplexity" => "perplexity/",
        "cohere" => "cohere/",
        "openrouter" => "openrouter/",
        _ => return None,
    })
}

/// `claude-3-5-sonnet-20241022` → `claude-3-5-sonnet`, `gpt-4o-2024-08-06` → `gpt-4o`: a
/// dated snapshot is priced like its family when the map lists only the family.
pub fn strip_date_suffix(model: &str) -> Option<&str> {
    let b = model.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if b.len() > 11 && b[b.len() - 11] == b'-' {
        let d = &b[b.len() - 10..];
        if digits(&d[..4]) && d[4] == b'-' && digits(&d[5..7]) && d[7] == b'-' && digits(&d[8..]) {
            return Some(&model[..model.len() - 11]);
        }
    }
    if b.len() > 9 && b[b.len() - 9] == b'-' && digits(&b[b.len() - 8..]) {
        return Some(&model[..model.len() - 9]);
    }
    None
}

impl PriceBook {
    pub fn new(entries: Vec<PriceEntry>) -> PriceBook {
        let mut by_model: HashMap<String, Vec<PriceEntry>> = HashMap::new();
        for e in entries {
            by_model.entry(e.model.clone()).or_default().push(e);
        }
        for v in by_model.values_mut() {
            v.sort_by_key(|e| (e.own, e.effective_from, e.id));
        }
        PriceBook { by_model }
    }

    pub fn len(&self) -> usize {
        self.by_model.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_model.is_empty()
    }

    /// The map keys tried for an event's provider and model, most specific first.
    pub fn candidates(provider: &str, model: &str) -> Vec<String> {
        let model = model.trim();
        let mut out = vec![];
        let prefix = litellm_prefix(provider.trim());
        for m in [Some(model), strip_date_suffix(model)].into_iter().flatten() {
            if let Some(p) = prefix {
                out.push(format!("{p}{m}"));
            }
            out.push(m.to_string());
        }
        out.dedup();
        out
    }

    /// The entry in force on `day` for the event's provider and model: the organisation's own
    /// entry if one is in force, else the public one; the latest `effective_from` ≤ `day`.
    pub fn find(&self, provider: &str, model: &str, day: NaiveDate) -> Option<&PriceEntry> {
        Self::candidates(provider, model).iter().find_map(|key| {
            let entries = self.by_model.get(key)?;
            let in_force = |own: bool| entries.iter().rev().find(|e| e.own == own && e.effective_from <= day);
            in_force(true).or_else(|| in_force(false))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn entry(id: i64, model: &str, from: &str, own: bool) -> PriceEntry {
        PriceEntry {
            id,
            model: model.into(),
            provider: "openai".into(),
            effective_from: d(from),
            own,
            source: "test".into(),
            price: ModelPrice::default(),
        }
    }

    #[test]
    fn candidates_try_the_provider_prefix_then_the_family_of_a_dated_name() {
        assert_eq!(
            PriceBook::candidates("gcp.gemini", "gemini-2.5-pro"),
            vec!["gemini/gemini-2.5-pro", "gemini-2.5-pro"]
        );
        assert_eq!(PriceBook::candidates("openai", "gpt-4o-2024-08-06"), vec!["gpt-4o-2024-08-06", "gpt-4o"]);
        assert_eq!(
            PriceBook::candidates("anthropic", "claude-3-5-sonnet-20241022"),
            vec!["claude-3-5-sonnet-20241022", "claude-3-5-sonnet"]
        );
        assert_eq!(PriceBook::candidates("openai", "o1"), vec!["o1"]);
    }

    #[test]
    fn the_version_in_force_on_the_day_wins_and_own_prices_beat_the_list() {
        let book = PriceBook::new(vec![
            entry(1, "gpt-4o", "1970-01-01", false),
            entry(2, "gpt-4o", "2026-06-01", false),
            entry(3, "gpt-4o", "2026-09-01", true),
        ]);
        let at = |day| book.find("openai", "gpt-4o-2024-08-06", d(day)).map(|e| e.id);
        assert_eq!(at("2026-05-31"), Some(1));
        assert_eq!(at("2026-06-01"), Some(2));
        assert_eq!(at("2026-08-31"), Some(2));
        assert_eq!(at("2026-09-01"), Some(3), "the negotiated price from its start");
        assert_eq!(book.find("openai", "gpt-9", d("2026-09-01")), None);
        assert_eq!(book.len(), 3);
    }
}
