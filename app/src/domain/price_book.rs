//! The price book: dated price entries per model, global (seeded from LiteLLM's map) or an
//! organisation's own (imported or overridden), and the rule that picks one for an event.
use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::pricing::{ModelPrice, ServiceTier};

/// Where an entry came from.
pub const SOURCE_LITELLM: &str = "litellm-1.110.2";
pub const SOURCE_GENAI: &str = "genai-prices-0.2.5";

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
    /// For an entry of a list that matches names by rule (genai-prices): the rule, as the
    /// JSON of [`ListRule`]. `None`: the entry prices the names of its key.
    #[serde(default)]
    pub rule: Option<String>,
}

/// All entries, indexed by model key.
#[derive(Debug, Clone, Default)]
pub struct PriceBook {
    by_model: HashMap<String, Vec<PriceEntry>>,
    /// [`key_name`] → the keys filed under it, the plainest first (fewest path segments).
    by_name: HashMap<String, Vec<String>>,
    /// The rule-matching list's providers, in list order.
    rule_providers: Vec<RuleProvider>,
}

/// One table of provider names: the OpenTelemetry `gen_ai.provider.name` values, the names
/// SDKs and gateways send, and the price list's own provider names and variants, each to the
/// provider family the book files prices under (LiteLLM's names). An unknown name stands for
/// itself, lower-cased.
pub fn provider_family(name: &str) -> String {
    let n = name.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    let family = match n.as_str() {
        "openai" | "text_completion_openai" | "openai_responses" => "openai",
        "anthropic" | "claude" => "anthropic",
        "azure.ai.openai" | "azure" | "azure_openai" | "azure_text" | "azureopenai" => "azure",
        "azure.ai.inference" | "azure_ai" | "azure_ai_foundry" | "azureai" => "azure_ai",
        "gcp.gemini" | "gemini" | "google" | "google_genai" | "google_ai_studio" | "googleai"
        | "google.genai" => "gemini",
        "gcp.vertex_ai" | "gcp.gen_ai" | "vertex_ai" | "vertex" | "vertexai" | "google_vertex"
        | "google_vertex_ai" => "vertex_ai",
        "aws.bedrock" | "bedrock" | "aws_bedrock" | "amazon_bedrock" | "bedrock_runtime"
        | "bedrock_converse" | "bedrock_mantle" | "aws" => "bedrock",
        "mistral_ai" | "mistral" | "mistralai" | "codestral" | "text_completion_codestral" => "mistral",
        "x_ai" | "xai" | "x.ai" | "grok" => "xai",
        "cohere" | "cohere_chat" => "cohere",
        "ibm.watsonx.ai" | "watsonx" | "ibm_watsonx" => "watsonx",
        "together_ai" | "together" | "togetherai" | "together.ai" => "together_ai",
        "fireworks_ai" | "fireworks" | "fireworksai" | "fireworks_ai_embedding_models" => "fireworks_ai",
        "zai" | "z.ai" | "z_ai" | "zhipu" | "zhipuai" | "bigmodel" => "zai",
        "ovhcloud" | "ovh" | "ovhcloud_ai_endpoints" => "ovhcloud",
        "huggingface" | "hugging_face" | "hf" | "hf_inference" => "huggingface",
        "moonshot" | "moonshotai" | "moonshot_ai" | "kimi" => "moonshot",
        "dashscope" | "alibaba" | "qwen" | "alibaba_cloud" => "dashscope",
        other if other.starts_with("vertex_ai_") => "vertex_ai",
        other => return other.to_string(),
    };
    family.to_string()
}

/// The families that make a model (first party), for a call whose own provider has no price
/// for it: Claude from Anthropic, GPT and the o-series from OpenAI, Gemini from Google's
/// Gemini API and then Vertex, and so on. Open-weight models hosted by many have no maker
/// price here: one host's price is not another's.
fn makers(name: &str) -> &'static [&'static str] {
    let starts = |ps: &[&str]| ps.iter().any(|p| name.starts_with(p));
    if starts(&["claude"]) {
        &["anthropic"]
    } else if starts(&["gpt-oss"]) {
        &[]
    } else if starts(&[
        "gpt-",
        "o1",
        "o3",
        "o4",
        "chatgpt",
        "text-embedding-",
        "davinci",
        "babbage",
        "codex-",
    ]) {
        &["openai"]
    } else if starts(&["gemini", "gemma", "text-embedding-00", "textembedding-gecko"]) {
        &["gemini", "vertex_ai"]
    } else if starts(&[
        "mistral",
        "codestral",
        "ministral",
        "magistral",
        "pixtral",
        "devstral",
        "voxtral",
        "open-m",
    ]) {
        &["mistral"]
    } else if starts(&["deepseek"]) {
        &["deepseek"]
    } else if starts(&["grok"]) {
        &["xai"]
    } else if starts(&["command", "embed-english", "embed-multilingual"]) {
        &["cohere"]
    } else if starts(&["sonar"]) {
        &["perplexity"]
    } else if starts(&["kimi", "moonshot"]) {
        &["moonshot"]
    } else if starts(&["glm"]) {
        &["zai"]
    } else {
        &[]
    }
}

/// Bedrock's cross-region inference prefixes (`us.anthropic.…`): a regional endpoint may cost
/// more than the global one, so the prefixed id is tried first and the bare one after.
const BEDROCK_REGIONS: [&str; 9] = ["us-gov.", "us.", "eu.", "apac.", "au.", "jp.", "ca.", "global.", "sa."];

/// Bedrock's model vendors (`anthropic.claude-…-v1:0`): without them, and without the
/// version suffix, the name is the maker's own id.
const BEDROCK_VENDORS: [&str; 13] = [
    "anthropic.",
    "meta.",
    "mistral.",
    "amazon.",
    "cohere.",
    "ai21.",
    "openai.",
    "deepseek.",
    "qwen.",
    "writer.",
    "google.",
    "moonshot.",
    "minimax.",
];

/// The names a model is looked up under, most specific first: the id itself (lower case,
/// without a resource path: Vertex `projects/…/publishers/google/models/gemini-2.0-flash-001`,
/// Gemini `models/…`, Bedrock ARNs `arn:aws:bedrock:…:inference-profile/us.anthropic.…`, router
/// prefixes `openai/gpt-4o`), then without a Bedrock region, without the Bedrock vendor and
/// version, Vertex `@` dates as dashes, and without a date suffix (a dated snapshot is priced
/// like its family when the list has only the family).
pub fn model_forms(model: &str) -> Vec<String> {
    let lower = model.trim().to_lowercase();
    let mut name = lower.rsplit('/').next().unwrap_or("").to_string();
    let mut out: Vec<String> = vec![];
    let push = |s: &str, out: &mut Vec<String>| {
        if !s.is_empty() && !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    };
    push(&name, &mut out);
    if let Some(rest) = BEDROCK_REGIONS.iter().find_map(|r| name.strip_prefix(r)) {
        name = rest.to_string();
        push(&name, &mut out);
    }
    if let Some(rest) = BEDROCK_VENDORS.iter().find_map(|v| name.strip_prefix(v)) {
        // `-v1:0`, `-v2:0`, `-1:0`, `:0`: the Bedrock version of the vendor's model
        let rest = match rest.rsplit_once(':') {
            Some((head, tail)) if tail.bytes().all(|b| b.is_ascii_digit()) => head
                .rsplit_once('-')
                .filter(|(_, v)| {
                    let v = v.strip_prefix('v').unwrap_or(v);
                    !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())
                })
                .map_or(head, |(h, _)| h),
            _ => rest,
        };
        name = rest.to_string();
        push(&name, &mut out);
    }
    if name.contains('@') {
        name = name.replace('@', "-");
        push(&name, &mut out);
    }
    if let Some(family) = strip_date_suffix(&name) {
        push(family, &mut out);
    }
    out
}

/// The name an entry's key is filed under: its last path segment, lower case
/// (`vertex_ai/meta/llama-4-scout-…` → `llama-4-scout-…`).
fn key_name(key: &str) -> String {
    key.rsplit('/').next().unwrap_or(key).to_lowercase()
}

/// A name rule of a list that matches names rather than listing them (genai-prices' `match`
/// and `provider_match`): `equals`, `starts_with`, `ends_with`, `contains` (case-insensitive),
/// `regex` (searched in the lower-case name, as the publisher's library does), `or`, `and`.
#[derive(Debug, Clone)]
pub enum NameRule {
    Equals(String),
    StartsWith(String),
    EndsWith(String),
    Contains(String),
    Regex(regex::Regex),
    Or(Vec<NameRule>),
    And(Vec<NameRule>),
}

impl NameRule {
    /// Reads a rule; the error names the part that is not one.
    pub fn parse(v: &serde_json::Value) -> Result<NameRule, String> {
        let obj = v
            .as_object()
            .filter(|o| o.len() == 1)
            .ok_or_else(|| format!("a rule must be one clause, got {v}"))?;
        let (k, v) = obj.iter().next().expect("one clause");
        let text =
            || v.as_str().map(str::to_lowercase).ok_or_else(|| format!("{k}: expected a string, got {v}"));
        let list = || -> Result<Vec<NameRule>, String> {
            v.as_array().ok_or_else(|| format!("{k}: expected a list"))?.iter().map(NameRule::parse).collect()
        };
        Ok(match k.as_str() {
            "equals" => NameRule::Equals(text()?),
            "starts_with" => NameRule::StartsWith(text()?),
            "ends_with" => NameRule::EndsWith(text()?),
            "contains" => NameRule::Contains(text()?),
            "regex" => {
                let r = v.as_str().ok_or_else(|| format!("regex: expected a string, got {v}"))?;
                NameRule::Regex(regex::Regex::new(r).map_err(|e| format!("regex '{r}': {e}"))?)
            }
            "or" => NameRule::Or(list()?),
            "and" => NameRule::And(list()?),
            other => {
                return Err(format!(
                    "'{other}' is not a rule (equals, starts_with, ends_with, contains, regex, or, and)"
                ))
            }
        })
    }

    /// Whether the rule matches `name`, which the caller has lower-cased.
    pub fn is_match(&self, name: &str) -> bool {
        match self {
            NameRule::Equals(s) => name == s,
            NameRule::StartsWith(s) => name.starts_with(s.as_str()),
            NameRule::EndsWith(s) => name.ends_with(s.as_str()),
            NameRule::Contains(s) => name.contains(s.as_str()),
            NameRule::Regex(r) => r.is_match(name),
            NameRule::Or(rules) => rules.iter().any(|r| r.is_match(name)),
            NameRule::And(rules) => rules.iter().all(|r| r.is_match(name)),
        }
    }
}

/// How an entry of a rule-matching list finds its calls, stored with the entry: its place in
/// the list (the first matching model of a provider wins, as in the publisher's library), its
/// provider's id, the provider's own name rule, the providers whose models it falls back to
/// (Azure → OpenAI, Anthropic), and the model's name rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListRule {
    pub order: u32,
    pub provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_match: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback: Vec<String>,
    #[serde(rename = "match")]
    pub model_match: serde_json::Value,
}

/// A provider of a rule-matching list, with its models' rules in list order.
#[derive(Debug, Clone)]
struct RuleProvider {
    id: String,
    family: String,
    provider_match: Option<NameRule>,
    fallback: Vec<String>,
    /// (model rule, the entries' key)
    models: Vec<(NameRule, String)>,
}

/// `gpt-5.2-20251211` → `gpt-5.2-2025-12-11`: routers send compact dates that rule lists
/// write with dashes (the publisher's library retries the same way).
fn dashed_date(name: &str) -> Option<String> {
    let b = name.as_bytes();
    if b.len() > 9 && b[b.len() - 9] == b'-' && b[b.len() - 8..].iter().all(u8::is_ascii_digit) {
        let d = &name[name.len() - 8..];
        let (y, m, day) = (&d[..4], &d[4..6], &d[6..]);
        NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, day.parse().ok()?)?;
        return Some(format!("{}-{y}-{m}-{day}", &name[..name.len() - 9]));
    }
    None
}

/// Which rule chose an entry for a call, most to least trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rule {
    /// The organisation's own price for the name.
    Own,
    /// The call's own provider's entry (including a regional variant the model id names).
    Provider,
    /// The model maker's own price, when the call's provider has none.
    Maker,
    /// The list's unprefixed entry of that name (LiteLLM's default for it).
    ListDefault,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Own => "own",
            Rule::Provider => "provider",
            Rule::Maker => "maker",
            Rule::ListDefault => "list default",
        }
    }
}

/// The entry a call is priced from, how it was chosen, and the name that matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found<'a> {
    pub entry: &'a PriceEntry,
    pub rule: Rule,
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
        let mut by_name: HashMap<String, Vec<String>> = HashMap::new();
        for (key, v) in by_model.iter_mut() {
            v.sort_by_key(|e| (e.own, e.effective_from, e.id));
            by_name.entry(key_name(key)).or_default().push(key.clone());
        }
        for keys in by_name.values_mut() {
            keys.sort_by(|a, b| {
                (a.matches('/').count(), a.len(), a).cmp(&(b.matches('/').count(), b.len(), b))
            });
        }
        let rule_providers = Self::rule_providers(&by_model);
        PriceBook { by_model, by_name, rule_providers }
    }

    /// The rule-matching entries grouped by provider, in list order. A rule that does not
    /// parse is left out (it was checked when the list was loaded).
    fn rule_providers(by_model: &HashMap<String, Vec<PriceEntry>>) -> Vec<RuleProvider> {
        let mut rules: Vec<(ListRule, String)> = by_model
            .iter()
            .filter_map(|(key, v)| {
                let text = v.iter().rev().find_map(|e| e.rule.as_deref())?;
                Some((serde_json::from_str::<ListRule>(text).ok()?, key.clone()))
            })
            .collect();
        rules.sort_by(|a, b| (a.0.order, &a.1).cmp(&(b.0.order, &b.1)));
        let mut out: Vec<RuleProvider> = vec![];
        for (rule, key) in rules {
            let Ok(model_rule) = NameRule::parse(&rule.model_match) else { continue };
            if out.last().is_none_or(|p| p.id != rule.provider) {
                out.push(RuleProvider {
                    family: provider_family(&rule.provider),
                    provider_match: rule.provider_match.as_ref().and_then(|m| NameRule::parse(m).ok()),
                    fallback: rule.fallback.clone(),
                    id: rule.provider.clone(),
                    models: vec![],
                });
            }
            out.last_mut().expect("pushed").models.push((model_rule, key));
        }
        out
    }

    /// The rule list's provider for a call's provider name: the one of that id or family,
    /// else the first whose own rule matches the name (or its family).
    fn rule_provider(&self, provider: &str, family: &str) -> Option<&RuleProvider> {
        let raw = provider.trim().to_lowercase();
        self.rule_providers.iter().find(|p| p.id == raw || p.family == family).or_else(|| {
            self.rule_providers
                .iter()
                .find(|p| p.provider_match.as_ref().is_some_and(|m| m.is_match(&raw) || m.is_match(family)))
        })
    }

    /// The first model of the rule provider (then of its fallback providers) whose rule
    /// matches one of `names`, tried in order; its entry in force on `day`.
    fn by_rule(
        &self,
        p: &RuleProvider,
        names: &[String],
        day: NaiveDate,
        fallback: bool,
    ) -> Option<&PriceEntry> {
        for n in names {
            if let Some((_, key)) = p.models.iter().find(|(rule, _)| rule.is_match(n)) {
                return self.entry(key, day);
            }
        }
        if fallback {
            for id in &p.fallback {
                if let Some(f) = self.rule_providers.iter().find(|q| &q.id == id) {
                    if let Some(e) = self.by_rule(f, names, day, false) {
                        return Some(e);
                    }
                }
            }
        }
        None
    }

    pub fn len(&self) -> usize {
        self.by_model.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_model.is_empty()
    }

    /// The entry of exactly this key in force on `day` (the organisation's own first).
    pub fn entry(&self, key: &str, day: NaiveDate) -> Option<&PriceEntry> {
        let entries = self.by_model.get(key)?;
        let in_force = |own: bool| entries.iter().rev().find(|e| e.own == own && e.effective_from <= day);
        in_force(true).or_else(|| in_force(false))
    }

    /// The entry in force on `day` for a standard-tier call of `model` through `provider`; see
    /// [`Self::explain`].
    pub fn find(&self, provider: &str, model: &str, day: NaiveDate) -> Option<&PriceEntry> {
        self.explain(provider, model, ServiceTier::Standard, day).map(|f| f.entry)
    }

    /// The entry in force on `day` for a call of `model` through `provider` at `tier`, and why.
    /// Each step tries the most specific form of the name first ([`model_forms`]):
    /// 0. the organisation's own entry for the name ([`Rule::Own`]; one without a provider
    ///    serves every provider);
    /// 1. the provider's own price ([`Rule::Provider`]): for a batch, flex or priority call an
    ///    entry with that tier's rates; then the rule list's (genai-prices: per-provider rates
    ///    with long-context tiers, and the aliases and dated names its rules match); then the
    ///    keyed list's entry of that provider, the plainest key first (`azure/gpt-4o` before
    ///    `azure/eu/gpt-4o`);
    /// 2. the same for the model's maker ([`Rule::Maker`]): Claude through a gateway is priced
    ///    as Anthropic's;
    /// 3. the keyed list's unprefixed entry of the name ([`Rule::ListDefault`]).
    ///
    /// No entry: the call is unpriced (flagged, and priced when a price arrives).
    pub fn explain(
        &self,
        provider: &str,
        model: &str,
        tier: ServiceTier,
        day: NaiveDate,
    ) -> Option<Found<'_>> {
        let family = provider_family(provider);
        let forms = model_forms(model);
        let mut names: Vec<String> = vec![];
        for n in std::iter::once(model.trim().to_lowercase()).chain(forms.iter().cloned()) {
            for m in [dashed_date(&n), Some(n)].into_iter().rev().flatten() {
                if !m.is_empty() && !names.contains(&m) {
                    names.push(m);
                }
            }
        }
        let keyed = |form: &str, family: &str, own: bool, tiered: bool| -> Option<&PriceEntry> {
            self.by_name.get(form)?.iter().find_map(|key| {
                self.by_model[key].iter().rev().find(|e| {
                    e.own == own
                        && e.rule.is_none()
                        && e.effective_from <= day
                        && (provider_family(&e.provider) == family || (own && e.provider.trim().is_empty()))
                        && (!tiered || e.price.has_tier(tier))
                })
            })
        };
        let priced_by = |name: &str, family: &str| -> Option<&PriceEntry> {
            if tier != ServiceTier::Standard {
                if let Some(e) = forms.iter().find_map(|f| keyed(f, family, false, true)) {
                    return Some(e);
                }
            }
            if let Some(e) = self.rule_provider(name, family).and_then(|p| self.by_rule(p, &names, day, true))
            {
                return Some(e);
            }
            forms.iter().find_map(|f| keyed(f, family, false, false))
        };
        let found = |entry, rule| Some(Found { entry, rule });
        if let Some(e) = forms.iter().find_map(|f| keyed(f, &family, true, false)) {
            return found(e, Rule::Own);
        }
        if let Some(e) = priced_by(provider, &family) {
            return found(e, Rule::Provider);
        }
        for maker in forms.last().map(|f| makers(f)).unwrap_or(&[]) {
            if *maker != family {
                if let Some(e) = priced_by(maker, maker) {
                    return found(e, Rule::Maker);
                }
            }
        }
        forms.iter().find_map(|f| self.entry(f, day)).and_then(|e| found(e, Rule::ListDefault))
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
            rule: None,
        }
    }

    fn listed(id: i64, key: &str, provider: &str) -> PriceEntry {
        PriceEntry { provider: provider.into(), ..entry(id, key, "1970-01-01", false) }
    }

    #[test]
    fn model_forms_reduce_paths_arns_regions_and_dates() {
        assert_eq!(
            model_forms("projects/p1/locations/us-central1/publishers/google/models/gemini-2.0-flash-001"),
            vec!["gemini-2.0-flash-001"]
        );
        assert_eq!(
            model_forms("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            vec![
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "anthropic.claude-sonnet-4-5-20250929-v1:0",
                "claude-sonnet-4-5-20250929",
                "claude-sonnet-4-5"
            ]
        );
        assert_eq!(model_forms("openai.gpt-oss-120b-1:0"), vec!["openai.gpt-oss-120b-1:0", "gpt-oss-120b"]);
        assert_eq!(
            model_forms("claude-3-5-sonnet-v2@20241022"),
            vec!["claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet-v2-20241022", "claude-3-5-sonnet-v2"]
        );
        assert_eq!(model_forms(" GPT-4o-2024-08-06 "), vec!["gpt-4o-2024-08-06", "gpt-4o"]);
        assert_eq!(model_forms("openai/gpt-4o"), vec!["gpt-4o"]);
        assert_eq!(model_forms("models/gemini-2.5-pro"), vec!["gemini-2.5-pro"]);
        assert_eq!(model_forms("o1"), vec!["o1"]);
        assert!(model_forms("  ").is_empty());
    }

    #[test]
    fn provider_names_from_otel_sdks_and_the_list_meet_in_one_family() {
        for (names, family) in [
            (&["gcp.gemini", "Google", "google_genai", "gemini"][..], "gemini"),
            (&["gcp.vertex_ai", "vertex_ai-anthropic_models", "vertex", "gcp.gen_ai"][..], "vertex_ai"),
            (&["aws.bedrock", "bedrock_converse", "Amazon-Bedrock"][..], "bedrock"),
            (&["azure.ai.openai", "azure_text", "azure"][..], "azure"),
            (&["mistral_ai", "mistralai", "codestral"][..], "mistral"),
            (&["together", "togetherai", "together_ai"][..], "together_ai"),
            (&["fireworks", "fireworks_ai"][..], "fireworks_ai"),
            (&["x_ai", "xai"][..], "xai"),
            (&["z.ai", "zai", "zhipuai"][..], "zai"),
            (&["cerebras"][..], "cerebras"),
            (&["ovhcloud", "ovh"][..], "ovhcloud"),
        ] {
            for n in names {
                assert_eq!(provider_family(n), family, "{n}");
            }
        }
    }

    #[test]
    fn the_providers_own_entry_wins_then_the_maker_then_the_list_default() {
        let book = PriceBook::new(vec![
            listed(1, "gpt-4o", "openai"),
            listed(2, "azure/gpt-4o", "azure"),
            listed(3, "azure/eu/gpt-4o", "azure"),
            listed(4, "gemini-2.5-pro", "vertex_ai-language-models"),
            listed(5, "gemini/gemini-2.5-pro", "gemini"),
            listed(6, "claude-sonnet-4-5", "anthropic"),
            listed(7, "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "bedrock_converse"),
            listed(8, "anthropic.claude-sonnet-4-5-20250929-v1:0", "bedrock_converse"),
            listed(9, "cerebras/gpt-oss-120b", "cerebras"),
            listed(10, "groq/gpt-oss-120b", "groq"),
        ]);
        let day = d("2026-11-01");
        let at =
            |p: &str, m: &str| book.explain(p, m, ServiceTier::Standard, day).map(|f| (f.entry.id, f.rule));
        assert_eq!(at("azure.ai.openai", "gpt-4o"), Some((2, Rule::Provider)), "the plain azure key, not eu");
        assert_eq!(at("openai", "gpt-4o-2024-08-06"), Some((1, Rule::Provider)));
        assert_eq!(at("gcp.vertex_ai", "gemini-2.5-pro"), Some((4, Rule::Provider)));
        assert_eq!(at("gcp.gemini", "models/gemini-2.5-pro"), Some((5, Rule::Provider)));
        assert_eq!(
            at("aws.bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            Some((7, Rule::Provider))
        );
        assert_eq!(at("aws.bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0"), Some((8, Rule::Provider)));
        assert_eq!(
            at("aws.bedrock", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            Some((8, Rule::Provider))
        );
        assert_eq!(at("anthropic", "claude-sonnet-4-5-20250929"), Some((6, Rule::Provider)));
        assert_eq!(at("openrouter", "anthropic/claude-sonnet-4-5"), Some((6, Rule::Maker)));
        assert_eq!(at("cerebras", "gpt-oss-120b"), Some((9, Rule::Provider)));
        assert_eq!(at("groq", "openai/gpt-oss-120b"), Some((10, Rule::Provider)));
        assert_eq!(at("together_ai", "gpt-oss-120b"), None, "another host's price is not this host's");
        assert_eq!(at("some-gateway", "gpt-4o"), Some((1, Rule::Maker)));
        assert_eq!(at("some-gateway", "gpt-9"), None);
    }

    #[test]
    fn an_own_price_without_a_provider_serves_every_provider() {
        let own = PriceEntry { provider: String::new(), ..entry(20, "my-model", "2026-01-01", true) };
        let book = PriceBook::new(vec![own, listed(21, "azure/gpt-4o", "azure")]);
        let day = d("2026-11-01");
        let own = book.explain("anything", "my-model", ServiceTier::Standard, day);
        assert_eq!(own.map(|f| (f.entry.id, f.rule)), Some((20, Rule::Own)));
        assert_eq!(book.find("openai", "gpt-4o", day), None, "azure's price is not openai's");
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
