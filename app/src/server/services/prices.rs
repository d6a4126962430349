//! The price book: seeding from LiteLLM's map, imports in the same format, and pricing events.
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::NaiveDate;

use crate::domain::price_book::{PriceBook, SOURCE_GENAI, SOURCE_LITELLM};
use crate::domain::pricing::{ModelPrice, Unpriced};
use crate::domain::usage::CostSource;
use crate::domain::Nanos;
use crate::domain::UsageEvent;
use crate::error::AppError;
use crate::server::db::{Actor, Db, NewAudit, NewPriceEntry, OrgId, PUBLIC_LIST};

/// The public list shipped with Costroom: derived from LiteLLM's price map 1.110.2 (MIT,
/// BerriAI/litellm; see `LICENSE.litellm.txt` and `derive_litellm.py` beside it).
const LITELLM_PRICES: &str = include_str!("../data/litellm_prices.json");

/// The second public list: pydantic's genai-prices data (MIT, pydantic/genai-prices, the
/// `data.json` of the 0.2.5 package; see `../shared/data/SOURCES.md`). Shipped as published, so
/// `costroom prices update` can load a newer copy of the same file.
const GENAI_PRICES: &str = include_str!("../data/genai_prices.json");

/// A price map entry: (key, LiteLLM provider, prices).
pub type MapEntry = (String, String, ModelPrice);

/// An entry of a rule-matching list: its key (`genai-prices/{provider}/{model}`), provider id,
/// first day in force, prices and [`crate::domain::price_book::ListRule`] as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleEntry {
    pub key: String,
    pub provider: String,
    pub effective_from: NaiveDate,
    pub price: ModelPrice,
    pub rule: String,
}

/// A genai-prices file read: its entries, and what it prices that the book does not bill
/// (price key → the models that carry it), and prices it cannot apply (named with why).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleList {
    pub entries: Vec<RuleEntry>,
    pub unbilled: std::collections::BTreeMap<String, Vec<String>>,
    pub ignored: Vec<String>,
}

/// Reads genai-prices' `data.json` (a list of providers, each with its models' name rules and
/// prices). Dated prices become entries in force from their start date; a price for some
/// hours of the day (off-peak) cannot be an entry of a day and is named in `ignored`, the
/// model's base price applying all day. Errors name the provider, model and field.
pub fn parse_genai_list(json: &str) -> Result<RuleList, String> {
    use crate::domain::price_book::{ListRule, NameRule};
    let providers: Vec<serde_json::Value> =
        serde_json::from_str(json).map_err(|e| format!("line {}, column {}: {e}", e.line(), e.column()))?;
    let since = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    let mut out = RuleList::default();
    let mut order = 0u32;
    for p in &providers {
        let id = p.get("id").and_then(|v| v.as_str()).ok_or("a provider without an id")?;
        let provider_match = p.get("provider_match").filter(|v| !v.is_null()).cloned();
        if let Some(m) = &provider_match {
            NameRule::parse(m).map_err(|e| format!("{id}: provider_match: {e}"))?;
        }
        let fallback: Vec<String> = p
            .get("fallback_model_providers")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        for m in p.get("models").and_then(|v| v.as_array()).ok_or_else(|| format!("{id}: no models"))? {
            let model =
                m.get("id").and_then(|v| v.as_str()).ok_or_else(|| format!("{id}: a model without an id"))?;
            let at = format!("{id}/{model}");
            let rule_json = m.get("match").ok_or_else(|| format!("{at}: no match rule"))?;
            NameRule::parse(rule_json).map_err(|e| format!("{at}: match: {e}"))?;
            order += 1;
            let rule = ListRule {
                order,
                provider: id.to_string(),
                provider_match: provider_match.clone(),
                fallback: fallback.clone(),
                model_match: rule_json.clone(),
            };
            let rule = serde_json::to_string(&rule).expect("a rule serialises");
            let sets: Vec<(Option<&serde_json::Value>, &serde_json::Value)> = match m.get("prices") {
                Some(serde_json::Value::Array(list)) => list
                    .iter()
                    .map(|c| (c.get("constraint"), c.get("prices").unwrap_or(&serde_json::Value::Null)))
                    .collect(),
                Some(v) => vec![(None, v)],
                None => return Err(format!("{at}: no prices")),
            };
            for (constraint, prices) in sets {
                let from = match constraint.filter(|c| !c.is_null()) {
                    None => since,
                    Some(c) => match c.get("start_date").and_then(|v| v.as_str()) {
                        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
                            .map_err(|_| format!("{at}: start_date: '{d}' is not a date"))?,
                        None => {
                            out.ignored
                                .push(format!("{at}: a price for part of the day ({c}) is not applied"));
                            continue;
                        }
                    },
                };
                let prices = prices.as_object().ok_or_else(|| format!("{at}: prices: expected an object"))?;
                let (price, unbilled) = ModelPrice::from_genai(prices).map_err(|e| format!("{at}: {e}"))?;
                for k in unbilled {
                    let models = out.unbilled.entry(k).or_default();
                    if models.last() != Some(&at) {
                        models.push(at.clone());
                    }
                }
                out.entries.push(RuleEntry {
                    key: format!("genai-prices/{at}"),
                    provider: id.to_string(),
                    effective_from: from,
                    price,
                    rule: rule.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// Reads a price map in LiteLLM's format (`{ "model": { "input_cost_per_token": …, … } }`).
/// Entries without any token price (image, audio, rerank models) are skipped; a malformed
/// one is an error naming the model and the field.
pub fn parse_litellm_map(json: &str) -> Result<Vec<MapEntry>, String> {
    parse_litellm_list(json).map(|l| l.entries)
}

/// A price list read from a file: its token-priced entries, and each key the book does not
/// bill with the models that carry it (named to the person importing, never dropped silently).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceList {
    pub entries: Vec<MapEntry>,
    pub unbilled: std::collections::BTreeMap<String, Vec<String>>,
}

/// [`parse_litellm_map`] with the keys it did not use.
pub fn parse_litellm_list(json: &str) -> Result<PriceList, String> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(json).map_err(|e| format!("line {}, column {}: {e}", e.line(), e.column()))?;
    let mut out = PriceList::default();
    for (model, entry) in &map {
        if model == "sample_spec" || model.starts_with('_') {
            // LiteLLM's documentation entry, and top-level comments ("_comment": "…")
            continue;
        }
        let Some(obj) = entry.as_object() else {
            return Err(format!("{model}: expected an object"));
        };
        let price = ModelPrice::from_litellm(obj).map_err(|e| format!("{model}: {e}"))?;
        for key in crate::domain::pricing::unbilled_keys(obj) {
            out.unbilled.entry(key.to_string()).or_default().push(model.clone());
        }
        if price.rates.is_empty() {
            continue;
        }
        let provider = obj.get("litellm_provider").and_then(|v| v.as_str()).unwrap_or("").to_string();
        out.entries.push((model.clone(), provider, price));
    }
    Ok(out)
}

/// Where the two public lists price the same provider's model differently: the rule list's
/// model, the keyed list's entry, the token class (at the standard tier; `… >200k` for a
/// 250k-token prompt), and both rates in USD per million.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    pub model: String,
    pub litellm_key: String,
    pub class: String,
    pub litellm: String,
    pub genai: String,
    /// (keyed − rule) / rule, in percent to one decimal; `None` when the rule list's rate is 0.
    pub diff_pct: Option<String>,
}

/// A public LiteLLM map entry as the book holds it (in force from the start: the map has no
/// dates), under `id`.
fn litellm_entry(id: i64, (model, provider, price): MapEntry) -> crate::domain::price_book::PriceEntry {
    crate::domain::price_book::PriceEntry {
        id,
        model,
        provider,
        effective_from: NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date"),
        own: false,
        source: SOURCE_LITELLM.into(),
        price,
        rule: None,
    }
}

/// Every rate where the lists disagree by more than 1 %: each model of the rule list (its
/// price in force today) against the keyed list's entry the lookup would take for the same
/// provider and model name. Precedence ([`PriceBook::explain`]): the rule list wins, except
/// for batch, flex and priority calls, which it has no rates for.
pub fn disagreements(genai: &RuleList, litellm: &[MapEntry], today: NaiveDate) -> Vec<Disagreement> {
    use crate::domain::price_book::Rule;
    use crate::domain::pricing::{ServiceTier, TokenClass};
    let keyed =
        PriceBook::new(litellm.iter().enumerate().map(|(i, e)| litellm_entry(i as i64, e.clone())).collect());
    let mut latest: std::collections::BTreeMap<&str, &RuleEntry> = Default::default();
    for e in genai.entries.iter().filter(|e| e.effective_from <= today) {
        latest.insert(&e.key, e);
    }
    let per_m = |femto: i64| femto_usd(femto.saturating_mul(1_000_000));
    let mut out = vec![];
    for (key, e) in latest {
        let Some((_, model)) = key.strip_prefix("genai-prices/").and_then(|k| k.split_once('/')) else {
            continue;
        };
        let Some(found) = keyed.explain(&e.provider, model, ServiceTier::Standard, today) else { continue };
        if found.rule != Rule::Provider {
            continue;
        }
        for (class, input_total, label) in [
            (TokenClass::Input, 0, "input"),
            (TokenClass::Output, 0, "output"),
            (TokenClass::CacheRead, 0, "cache read"),
            (TokenClass::CacheWrite5m, 0, "cache write 5m"),
            (TokenClass::CacheWrite1h, 0, "cache write 1h"),
            (TokenClass::Input, 250_000, "input >200k"),
            (TokenClass::Output, 250_000, "output >200k"),
        ] {
            let (Some((g, _)), Some((l, _))) = (
                e.price.rate(class, ServiceTier::Standard, input_total),
                found.entry.price.rate(class, ServiceTier::Standard, input_total),
            ) else {
                continue;
            };
            let differs =
                if g == 0 { l != 0 } else { (i128::from(l) - i128::from(g)).abs() * 100 > i128::from(g) };
            if differs {
                out.push(Disagreement {
                    model: key.trim_start_matches("genai-prices/").to_string(),
                    litellm_key: found.entry.model.clone(),
                    class: label.to_string(),
                    litellm: per_m(l),
                    genai: per_m(g),
                    diff_pct: (g != 0).then(|| {
                        let tenths = (i128::from(l) - i128::from(g)) * 1000 / i128::from(g);
                        format!("{:+}.{}", tenths / 10, (tenths % 10).abs())
                    }),
                });
            }
        }
    }
    out
}

/// [`disagreements`] as the Markdown report kept in the repository.
pub fn disagreement_report(found: &[Disagreement], compared_on: NaiveDate) -> String {
    let mut out = format!(
        "# Where the two public price lists disagree (> 1 %)\n\n\
        Generated by `cargo test -p app --lib --features ssr disagreement` with `COSTROOM_WRITE_REPORTS=1`;\n\
        the test fails when this file is out of date. Lists: {SOURCE_GENAI} (pydantic/genai-prices, MIT) and\n\
        {SOURCE_LITELLM} (BerriAI/litellm, MIT), prices in force on {compared_on}, USD per million tokens, standard tier.\n\n\
        **Precedence:** for a call, the provider's genai-prices entry wins over LiteLLM's (it carries long-context\n\
        tiers, regional Bedrock prices and the aliases of dated names); LiteLLM's wins for batch, flex and priority\n\
        calls, which genai-prices has no rates for. An organisation's own price wins over both.\n\n\
        {} disagreements.\n\n\
        | genai-prices model | LiteLLM key | class | LiteLLM | genai-prices | LiteLLM vs genai-prices |\n\
        |---|---|---|---:|---:|---:|\n",
        found.len()
    );
    for d in found {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            d.model,
            d.litellm_key,
            d.class,
            d.litellm,
            d.genai,
            d.diff_pct.as_deref().map(|p| format!("{p} %")).unwrap_or_else(|| "free in genai-prices".into())
        ));
    }
    out
}

/// Loads each shipped public list the book does not hold yet (a no-op once both are there):
/// LiteLLM's map, in force from 1970-01-01 (it has no dates of its own), and genai-prices'
/// rules with their dated prices. Answers the entries added.
pub async fn ensure_public_list(db: &Db) -> Result<usize, AppError> {
    let mut added = 0;
    if db.count_price_entries_from(PUBLIC_LIST, "litellm-").await? == 0 {
        let entries = parse_litellm_map(LITELLM_PRICES).map_err(crate::error::internal)?;
        let since = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
        let rows: Vec<NewPriceEntry<'_>> = entries
            .iter()
            .map(|(model, provider, price)| NewPriceEntry {
                model,
                provider,
                effective_from: since,
                price,
                rule: None,
            })
            .collect();
        db.upsert_price_entries(PUBLIC_LIST, &rows, SOURCE_LITELLM, None, None).await?;
        added += rows.len();
    }
    if db.count_price_entries_from(PUBLIC_LIST, "genai-prices-").await? == 0 {
        let list = parse_genai_list(GENAI_PRICES).map_err(crate::error::internal)?;
        let rows: Vec<NewPriceEntry<'_>> = list.entries.iter().map(RuleEntry::row).collect();
        db.upsert_price_entries(PUBLIC_LIST, &rows, SOURCE_GENAI, None, None).await?;
        added += rows.len();
    }
    Ok(added)
}

impl RuleEntry {
    fn row(&self) -> NewPriceEntry<'_> {
        NewPriceEntry {
            model: &self.key,
            provider: &self.provider,
            effective_from: self.effective_from,
            price: &self.price,
            rule: Some(&self.rule),
        }
    }
}

/// Prices events that carry no provider-reported cost from the book; an event whose model
/// has no price stays `Unpriced` (cost 0, flagged). Provider-reported costs are kept: they
/// win over the list. Answers the positions of events whose tokens would cost more than one
/// event may (left `Unpriced` here: ingest refuses them, a re-price leaves them flagged).
pub fn price_events(book: &PriceBook, events: &mut [UsageEvent]) -> Vec<(usize, Nanos)> {
    let mut above = vec![];
    // A batch holds few distinct models and days; look each up once (a lookup tries several
    // alias keys, which is the costly part of pricing on the ingest path).
    let entries: Vec<Option<&crate::domain::price_book::PriceEntry>> = {
        let mut memo = HashMap::new();
        events
            .iter()
            .map(|e| {
                (e.cost_source != CostSource::Provider).then(|| {
                    *memo
                        .entry((e.provider.as_str(), e.model.as_str(), e.service_tier, e.day()))
                        .or_insert_with(|| {
                            book.explain(&e.provider, &e.model, e.service_tier, e.day()).map(|f| f.entry)
                        })
                })?
            })
            .collect()
    };
    for (i, (e, entry)) in events.iter_mut().zip(entries).enumerate() {
        if e.cost_source == CostSource::Provider {
            continue;
        }
        match entry.map(|en| (en.id, en.price.cost(&e.tokens, e.request_count, e.service_tier))) {
            Some((id, Ok(cost))) => {
                e.cost = cost;
                e.cost_source = CostSource::Computed;
                e.price_entry_id = Some(id);
            }
            other => {
                if let Some((_, Err(Unpriced::AboveMaximum(cost)))) = other {
                    above.push((i, cost));
                }
                e.cost = crate::domain::Nanos::ZERO;
                e.cost_source = CostSource::Unpriced;
                e.price_entry_id = None;
            }
        }
    }
    above
}

/// What a re-price did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecomputeReport {
    /// Events priced by the book (provider-reported costs are never touched).
    pub examined: u64,
    pub changed: u64,
    /// Their total before and after.
    pub before: Nanos,
    pub after: Nanos,
    /// Events still without a price.
    pub unpriced: u64,
}

/// Events per transaction of a re-price.
const RECOMPUTE_PAGE: i64 = 5_000;

/// Re-prices every book-priced event from `since` (UTC day) with the current price book:
/// each page of events and its rollup corrections in one transaction, `progress(done)` after
/// each page, and one audit record at the end. Idempotent: a second run changes nothing.
pub async fn recompute(
    db: &Db,
    org: OrgId,
    actor: &Actor,
    since: NaiveDate,
    book: &PriceBook,
    progress: impl Fn(u64),
) -> Result<RecomputeReport, AppError> {
    let from = since.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let report = reprice(db, org, book, from, false, progress).await?;
    let what = format!("re-priced {} of {} events since {since}", report.changed, report.examined);
    let entry = reprice_audit(actor.clone(), "price.recompute", format!("since {since}"), what, &report);
    db.record_audit(org, &entry).await?;
    Ok(report)
}

/// The audit record of a re-price: what it did, and the total before and after.
fn reprice_audit(
    actor: Actor,
    action: &'static str,
    entity_id: String,
    what: String,
    report: &RecomputeReport,
) -> NewAudit {
    NewAudit {
        actor,
        action,
        entity: "price",
        entity_id,
        summary: format!("{what}: {} → {}", report.before.usd(), report.after.usd()),
        before: Some(serde_json::json!({ "total_usd": report.before.usd() })),
        after: Some(
            serde_json::json!({ "total_usd": report.after.usd(), "unpriced_events": report.unpriced }),
        ),
    }
}

/// Once the price book moved past the last sweep (a price stored by a page, the CLI or
/// another server), prices the stored unpriced events of any date that the book now covers,
/// moving the rollups by the exact difference. Audited when it changed anything. `None` when
/// there was nothing new to sweep.
pub async fn sweep_unpriced(db: &Db, org: OrgId) -> Result<Option<RecomputeReport>, AppError> {
    let (version, swept) = db.price_book_sweep(org).await?;
    if version == swept {
        return Ok(None);
    }
    // read after the version: at least as new as it
    let book = PriceBook::new(db.price_entries(org).await?);
    let report = reprice(db, org, &book, chrono::DateTime::UNIX_EPOCH, true, |_| ()).await?;
    if report.changed > 0 {
        let what = format!(
            "priced {} of {} unpriced events with the new price book",
            report.changed, report.examined
        );
        let actor = Actor { user: None, label: "price book".into() };
        let entry =
            reprice_audit(actor, "price.reprice_unpriced", format!("version {version}"), what, &report);
        db.record_audit(org, &entry).await?;
    }
    db.mark_price_book_swept(org, version).await?;
    Ok(Some(report))
}

/// Prices again, page by page, the events from `from` (only the unpriced ones with
/// `only_unpriced`) and stores what changed.
async fn reprice(
    db: &Db,
    org: OrgId,
    book: &PriceBook,
    from: chrono::DateTime<chrono::Utc>,
    only_unpriced: bool,
    progress: impl Fn(u64),
) -> Result<RecomputeReport, AppError> {
    let mut report = RecomputeReport::default();
    let mut after_id = 0;
    loop {
        let page = db.events_for_repricing(org, from, after_id, RECOMPUTE_PAGE, only_unpriced).await?;
        let Some((last, _)) = page.last() else { break };
        after_id = *last;
        let mut repriced: Vec<UsageEvent> = page.iter().map(|(_, e)| e.clone()).collect();
        price_events(book, &mut repriced);
        let mut changes = vec![];
        for ((id, old), new) in page.into_iter().zip(repriced) {
            report.examined += 1;
            report.before += old.cost;
            report.after += new.cost;
            report.unpriced += u64::from(new.cost_source == CostSource::Unpriced);
            if (old.cost, old.cost_source, old.price_entry_id)
                != (new.cost, new.cost_source, new.price_entry_id)
            {
                changes.push((id, old, new));
            }
        }
        if !changes.is_empty() {
            report.changed += db.apply_repricing(org, &changes).await?;
        }
        progress(report.examined);
    }
    Ok(report)
}

/// One model's price from a day: what `set_price` stores.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceChange {
    pub model: String,
    pub provider: String,
    pub effective_from: NaiveDate,
    pub price: ModelPrice,
}

/// The organisation's own price for `model` from `effective_from` (a negotiated rate, a
/// model the public list lacks), then a re-price of everything since. Rates are USD per token
/// in LiteLLM's field names.
pub async fn set_price(
    db: &Db,
    cache: &PriceCache,
    org: OrgId,
    actor: &Actor,
    change: PriceChange,
) -> Result<RecomputeReport, AppError> {
    let PriceChange { model, provider, effective_from, price } = change;
    let provider = provider.as_str();
    let model = model.trim();
    if model.is_empty() || model.len() > 200 {
        return Err(AppError::invalid("model: 1 to 200 characters"));
    }
    if price.rates.is_empty() {
        return Err(AppError::invalid("input_cost_per_token: at least one rate is needed"));
    }
    let before = db.price_entries(org).await?;
    let in_force = PriceBook::new(before).find(provider, model, effective_from).map(|e| rates_usd(&e.price));
    let entry = NewAudit {
        actor: actor.clone(),
        action: "price.set",
        entity: "price",
        entity_id: model.to_string(),
        summary: format!("price of {model} from {effective_from}"),
        before: in_force,
        after: Some(rates_usd(&price)),
    };
    let row = NewPriceEntry { model, provider: provider.trim(), effective_from, price: &price, rule: None };
    db.upsert_price_entries(org.0, &[row], "override", actor.user, Some(&entry)).await?;
    cache.invalidate(org);
    let book = cache.book(db, org).await?;
    super::jobs::signal::wake(super::jobs::signal::Job::Prices);
    recompute(db, org, actor, effective_from, &book, |_| ()).await
}

/// What importing a price list would change, without changing anything (`--dry-run`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PricePreview {
    /// Models the book does not price on `effective_from` yet.
    pub new: Vec<String>,
    /// Models priced differently now, with each rate that differs.
    pub changed: Vec<(String, Vec<RateChange>)>,
    /// Models whose imported rates equal those in force.
    pub unchanged: usize,
    /// See [`PriceList::unbilled`].
    pub unbilled: std::collections::BTreeMap<String, Vec<String>>,
}

/// (field, rate in force or "—", imported rate or "—"), rates as USD per token.
pub type RateChange = (String, String, String);

/// Compares a price list with the prices in force on `effective_from`, rate by rate.
pub async fn preview_price_list(
    db: &Db,
    org: OrgId,
    json: &str,
    effective_from: NaiveDate,
) -> Result<PricePreview, AppError> {
    let list = parse_litellm_list(json).map_err(AppError::Invalid)?;
    let book = PriceBook::new(db.price_entries(org).await?);
    let mut out = PricePreview { unbilled: list.unbilled, ..Default::default() };
    // a list entry replaces the entry of its own key: compare with exactly that one
    for (model, _provider, price) in &list.entries {
        let Some(now) = book.entry(model, effective_from) else {
            out.new.push(model.clone());
            continue;
        };
        let fields: std::collections::BTreeSet<&String> =
            now.price.rates.keys().chain(price.rates.keys()).collect();
        let diff: Vec<RateChange> = fields
            .into_iter()
            .filter(|f| now.price.rates.get(*f) != price.rates.get(*f))
            .map(|f| {
                let show = |r: Option<&i64>| r.map(|r| femto_usd(*r)).unwrap_or_else(|| "—".into());
                (f.clone(), show(now.price.rates.get(f)), show(price.rates.get(f)))
            })
            .collect();
        if diff.is_empty() {
            out.unchanged += 1;
        } else {
            out.changed.push((model.clone(), diff));
        }
    }
    Ok(out)
}

/// An organisation's price list in LiteLLM's format, in force from `effective_from`, then a
/// re-price of everything since.
pub async fn import_price_list(
    db: &Db,
    cache: &PriceCache,
    org: OrgId,
    actor: &Actor,
    json: &str,
    effective_from: NaiveDate,
) -> Result<(usize, RecomputeReport), AppError> {
    let entries = parse_litellm_map(json).map_err(AppError::Invalid)?;
    if entries.is_empty() {
        return Err(AppError::invalid("file: no model with a per-token price"));
    }
    let rows: Vec<NewPriceEntry<'_>> = entries
        .iter()
        .map(|(model, provider, price)| NewPriceEntry { model, provider, effective_from, price, rule: None })
        .collect();
    let entry = NewAudit {
        actor: actor.clone(),
        action: "price.import",
        entity: "price",
        entity_id: format!("{} models", rows.len()),
        summary: format!("imported {} prices in force from {effective_from}", rows.len()),
        before: None,
        after: Some(serde_json::json!({ "models": entries.iter().map(|e| e.0.clone()).collect::<Vec<_>>() })),
    };
    db.upsert_price_entries(org.0, &rows, "import", actor.user, Some(&entry)).await?;
    cache.invalidate(org);
    let book = cache.book(db, org).await?;
    super::jobs::signal::wake(super::jobs::signal::Job::Prices);
    Ok((rows.len(), recompute(db, org, actor, effective_from, &book, |_| ()).await?))
}

/// What loading a newer public list did (or, dry, would do).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListUpdate {
    /// `genai-prices` or `litellm`, as the file's shape says.
    pub format: &'static str,
    /// Keys the public list did not have: in force from their own first day (from the start
    /// for an undated list), so stored unpriced events of any day get their price.
    pub new: Vec<String>,
    /// Keys whose prices (or name rule) changed: the new version is in force from `from`, the
    /// days before keep the price they were billed at.
    pub changed: Vec<String>,
    pub unchanged: usize,
    pub unbilled: std::collections::BTreeMap<String, Vec<String>>,
    pub ignored: Vec<String>,
}

/// The rows a public list file would add: (key, provider, first day, prices, rule).
type ListRow = (String, String, NaiveDate, ModelPrice, Option<String>);

/// Loads a newer copy of a shipped public list into the public price book: genai-prices'
/// `data.json` (a JSON list) or LiteLLM's map (a JSON object), for an installation without
/// internet. New keys apply from their own first day, changed ones from `from`; every
/// organisation's book moves to a new version (so every server prices its next batch with it)
/// and the prices job then prices stored unpriced events. With `dry_run` nothing is stored.
pub async fn update_public_list(
    db: &Db,
    cache: &PriceCache,
    org: OrgId,
    actor: &Actor,
    json: &str,
    from: NaiveDate,
    dry_run: bool,
) -> Result<ListUpdate, AppError> {
    let is_list = json.trim_start().starts_with('[');
    let mut out =
        ListUpdate { format: if is_list { "genai-prices" } else { "litellm" }, ..Default::default() };
    let since = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    let rows: Vec<ListRow> = if is_list {
        let list = parse_genai_list(json).map_err(AppError::Invalid)?;
        out.unbilled = list.unbilled;
        out.ignored = list.ignored;
        list.entries
            .into_iter()
            .map(|e| (e.key, e.provider, e.effective_from, e.price, Some(e.rule)))
            .collect()
    } else {
        let list = parse_litellm_list(json).map_err(AppError::Invalid)?;
        out.unbilled = list.unbilled;
        list.entries.into_iter().map(|(k, p, price)| (k, p, since, price, None)).collect()
    };
    if rows.is_empty() {
        return Err(AppError::invalid("file: no model with a per-token price"));
    }
    let public: Vec<_> = db.price_entries(org).await?.into_iter().filter(|e| !e.own).collect();
    let known = PriceBook::new(public);
    let mut by_key: Vec<(String, Vec<ListRow>)> = vec![];
    for row in rows {
        match by_key.last_mut() {
            Some((k, versions)) if *k == row.0 => versions.push(row),
            _ => by_key.push((row.0.clone(), vec![row])),
        }
    }
    let mut store: Vec<ListRow> = vec![];
    for (key, versions) in by_key {
        if known.entry(&key, NaiveDate::MAX).is_none() {
            out.new.push(key);
            store.extend(versions);
            continue;
        }
        let same = |v: &ListRow, day| known.entry(&v.0, day).is_some_and(|e| e.price == v.3 && e.rule == v.4);
        let mut changed = false;
        if let Some(now) = versions.iter().rev().find(|v| v.2 <= from) {
            if !same(now, from) {
                changed = true;
                store.push((now.0.clone(), now.1.clone(), from, now.3.clone(), now.4.clone()));
            }
        }
        for later in versions.iter().filter(|v| v.2 > from) {
            if !same(later, later.2) {
                changed = true;
                store.push(later.clone());
            }
        }
        if changed {
            out.changed.push(key);
        } else {
            out.unchanged += 1;
        }
    }
    if dry_run || store.is_empty() {
        return Ok(out);
    }
    let source = format!("{}-file-{from}", out.format);
    let new_rows: Vec<NewPriceEntry<'_>> = store
        .iter()
        .map(|(model, provider, effective_from, price, rule)| NewPriceEntry {
            model,
            provider,
            effective_from: *effective_from,
            price,
            rule: rule.as_deref(),
        })
        .collect();
    db.upsert_price_entries(PUBLIC_LIST, &new_rows, &source, None, None).await?;
    let entry = NewAudit {
        actor: actor.clone(),
        action: "price.update_public",
        entity: "price",
        entity_id: source.clone(),
        summary: format!(
            "public {} list: {} new, {} changed from {from}, {} unchanged",
            out.format,
            out.new.len(),
            out.changed.len(),
            out.unchanged
        ),
        before: None,
        after: Some(serde_json::json!({ "new": out.new, "changed": out.changed })),
    };
    db.record_audit(org, &entry).await?;
    cache.invalidate(org);
    super::jobs::signal::wake(super::jobs::signal::Job::Prices);
    Ok(out)
}

/// Rates as USD per token (what people read and type), for the audit trail.
fn rates_usd(p: &ModelPrice) -> serde_json::Value {
    serde_json::Value::Object(
        p.rates.iter().map(|(k, femto)| (k.clone(), serde_json::Value::String(femto_usd(*femto)))).collect(),
    )
}

/// Femto-USD as a plain decimal (`2500000000` → `0.0000025`).
pub fn femto_usd(femto: i64) -> String {
    let s = format!("{:016}", femto.unsigned_abs());
    let (int, frac) = s.split_at(s.len() - 15);
    let frac = frac.trim_end_matches('0');
    let sign = if femto < 0 { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{}", int.trim_start_matches('0').max("0"))
    } else {
        format!("{sign}{}.{frac}", int.trim_start_matches('0').max("0"))
    }
}

/// Each organisation's price book, kept in memory while its version in the database (one
/// primary-key read per batch) stays the same, so that ingest does not read 3,700 entries per
/// batch yet sees a change made anywhere -- a page, the CLI, another server -- at once.
#[derive(Clone, Default)]
pub struct PriceCache {
    books: Arc<RwLock<HashMap<OrgId, Versioned>>>,
}

/// A book and the version it was loaded at.
type Versioned = (i64, Arc<PriceBook>);

impl PriceCache {
    /// The book in force now and its version. The entries are read after the version, so a
    /// change landing in between gives a book newer than its version, never older: a batch
    /// priced with it fails the version check at insert and is priced again.
    pub async fn current(&self, db: &Db, org: OrgId) -> Result<(i64, Arc<PriceBook>), AppError> {
        let version = db.price_book_version(org).await?;
        if let Some((v, book)) = self.books.read().expect("not poisoned").get(&org) {
            if *v == version {
                return Ok((version, book.clone()));
            }
        }
        let book = Arc::new(PriceBook::new(db.price_entries(org).await?));
        self.books.write().expect("not poisoned").insert(org, (version, book.clone()));
        Ok((version, book))
    }

    pub async fn book(&self, db: &Db, org: OrgId) -> Result<Arc<PriceBook>, AppError> {
        Ok(self.current(db, org).await?.1)
    }

    /// Forget the cached book (after a price change).
    pub fn invalidate(&self, org: OrgId) {
        self.books.write().expect("not poisoned").remove(&org);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pricing::{ServiceTier, Tokens};
    use crate::domain::Nanos;

    #[test]
    fn the_shipped_list_holds_litellm_prices_exactly() {
        let entries = parse_litellm_map(LITELLM_PRICES).unwrap();
        assert_eq!(entries.len(), 3_698);
        let find = |k: &str| {
            entries.iter().find(|(m, _, _)| m == k).map(|(_, p, price)| (p.clone(), price.clone())).unwrap()
        };
        let (provider, gpt4o) = find("gpt-4o");
        assert_eq!(provider, "openai");
        assert_eq!(gpt4o.rates["input_cost_per_token"], 2_500_000_000);
        assert_eq!(gpt4o.rates["output_cost_per_token"], 10_000_000_000);
        assert_eq!(gpt4o.rates["cache_read_input_token_cost"], 1_250_000_000);
        assert_eq!(find("gpt-4o-mini").1.rates["cache_read_input_token_cost"], 75_000_000);
        assert_eq!(find("text-embedding-3-small").1.rates["input_cost_per_token"], 20_000_000);
        let (_, sonnet) = find("anthropic.claude-3-5-sonnet-20241022-v2:0");
        assert_eq!(sonnet.rates["cache_creation_input_token_cost"], 3_750_000_000);
        let (_, gemini) = find("gemini/gemini-2.5-pro");
        let t = Tokens { input: 250_000, output: 1_000, ..Default::default() };
        // above 200k: 250000 × 2.5e-6 + 1000 × 1.5e-5 = 0.625 + 0.015
        assert_eq!(gemini.cost(&t, 0, ServiceTier::Standard), Ok(Nanos(640_000_000)));
    }

    /// Both shipped lists as the book holds them.
    fn shipped_book() -> PriceBook {
        use crate::domain::price_book::{PriceEntry, SOURCE_GENAI};
        let mut id = 0;
        let mut next = || {
            id += 1;
            id
        };
        let mut entries: Vec<PriceEntry> = parse_genai_list(GENAI_PRICES)
            .unwrap()
            .entries
            .into_iter()
            .map(|e| PriceEntry {
                id: next(),
                model: e.key,
                provider: e.provider,
                effective_from: e.effective_from,
                own: false,
                source: SOURCE_GENAI.into(),
                price: e.price,
                rule: Some(e.rule),
            })
            .collect();
        entries
            .extend(parse_litellm_map(LITELLM_PRICES).unwrap().into_iter().map(|e| litellm_entry(next(), e)));
        PriceBook::new(entries)
    }

    #[test]
    fn the_second_list_prices_calls_the_first_missed_and_long_prompts_at_their_rate() {
        use crate::domain::price_book::Rule;
        let book = shipped_book();
        let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let cost = |provider: &str, model: &str, tokens: Tokens, tier: ServiceTier| {
            let f = book
                .explain(provider, model, tier, day)
                .unwrap_or_else(|| panic!("{provider} {model} unpriced"));
            (f.entry.model.clone(), f.rule, f.entry.price.cost(&tokens, 0, tier).unwrap())
        };
        let t = |input, output| Tokens { input, output, ..Default::default() };
        // Sonnet 4.5 direct, 250k prompt: 250,000 × $6/M + 1,000 × $22.5/M = $1.5225
        assert_eq!(
            cost("anthropic", "claude-sonnet-4-5-20250929", t(250_000, 1_000), ServiceTier::Standard),
            ("genai-prices/anthropic/claude-sonnet-4-5".into(), Rule::Provider, Nanos(1_522_500_000))
        );
        // the same at 150k: the base rates, 150,000 × $3/M + 1,000 × $15/M = $0.465
        assert_eq!(
            cost("anthropic", "claude-sonnet-4-5", t(150_000, 1_000), ServiceTier::Standard).2,
            Nanos(465_000_000)
        );
        // absent from LiteLLM's map under this name
        assert_eq!(
            cost("anthropic", "claude-sonnet-4-20250514", t(1_000_000, 0), ServiceTier::Standard),
            ("genai-prices/anthropic/claude-sonnet-4-0".into(), Rule::Provider, Nanos(3_000_000_000))
        );
        // Bedrock: a regional endpoint costs 10 % more than the global one
        let us = cost(
            "aws.bedrock",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            t(1_000, 1_000),
            ServiceTier::Standard,
        );
        assert_eq!(us.2, Nanos(19_800_000), "1,000 × $3.3/M + 1,000 × $16.5/M");
        let arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0";
        assert_eq!(cost("aws.bedrock", arn, t(1_000, 1_000), ServiceTier::Standard).2, Nanos(18_000_000));
        // Gemini API provider name; a Vertex resource path
        assert_eq!(
            cost("gcp.gemini", "gemini-2.0-flash", t(1_000_000, 1_000_000), ServiceTier::Standard),
            ("genai-prices/google/gemini-2.0-flash".into(), Rule::Provider, Nanos(500_000_000))
        );
        let path = "projects/p1/locations/us-central1/publishers/google/models/gemini-2.0-flash-001";
        assert_eq!(cost("gcp.vertex_ai", path, t(1_000_000, 0), ServiceTier::Standard).2, Nanos(100_000_000));
        // router providers the first list did not map
        assert_eq!(
            cost("cerebras", "gpt-oss-120b", t(1_000_000, 1_000_000), ServiceTier::Standard).2,
            Nanos(1_100_000_000)
        );
        let scout = cost(
            "together",
            "meta-llama/Llama-4-Scout-17B-16E-Instruct",
            t(1_000_000, 1_000_000),
            ServiceTier::Standard,
        );
        assert_eq!(scout.2, Nanos(770_000_000), "$0.18 + $0.59");
        assert_eq!(cost("zai", "glm-5.2", t(1_000_000, 0), ServiceTier::Standard).2, Nanos(1_400_000_000));
        // Azure OpenAI falls back to OpenAI's models
        assert_eq!(
            cost("azure.ai.openai", "gpt-4o-2024-08-06", t(1_000_000, 0), ServiceTier::Standard).2,
            Nanos(2_500_000_000)
        );
        // a batch call keeps the batch rate the keyed list has (the rule list has no tiers)
        assert_eq!(
            cost("openai", "gpt-4o", t(1_000_000, 0), ServiceTier::Batch),
            ("gpt-4o".into(), Rule::Provider, Nanos(1_250_000_000))
        );
        // a compact date, as routers send it
        assert_eq!(
            cost("openai", "gpt-5-20250807", t(1_000_000, 0), ServiceTier::Standard).2,
            Nanos(1_250_000_000)
        );
    }

    #[test]
    fn the_second_list_names_what_it_cannot_bill_yet() {
        let list = parse_genai_list(GENAI_PRICES).unwrap();
        assert!(list.entries.len() > 1_400, "{}", list.entries.len());
        // audio, web searches and request fees are billed; cached image and video tokens not yet
        assert!(
            !list.unbilled.contains_key("web_searches_kcount")
                && !list.unbilled.contains_key("input_audio_mtok")
        );
        let named: Vec<&str> = list.unbilled.keys().map(String::as_str).collect();
        assert!(named.contains(&"cache_image_read_mtok") && named.contains(&"input_video_mtok"), "{named:?}");
        assert!(
            list.ignored.iter().any(|i| i.starts_with("deepseek/deepseek-chat: a price for part of the day")),
            "{:?}",
            list.ignored
        );
        // dated prices become entries from their day
        let o3: Vec<_> = list.entries.iter().filter(|e| e.key == "genai-prices/openai/o3").collect();
        assert_eq!(o3.len(), 2);
        assert_eq!(o3[1].effective_from, NaiveDate::from_ymd_opt(2025, 6, 10).unwrap());
        assert_eq!(
            parse_genai_list(r#"[{"id": "p", "models": [{"id": "m", "match": {"sounds_like": "m"}, "prices": {}}]}]"#)
                .unwrap_err(),
            "p/m: match: 'sounds_like' is not a rule (equals, starts_with, ends_with, contains, regex, or, and)"
        );
        assert_eq!(
            parse_genai_list(r#"[{"id": "p", "models": [{"id": "m", "match": {"equals": "m"}, "prices": {"input_mtok": "x"}}]}]"#)
                .unwrap_err(),
            "p/m: input_mtok: 'x' is not an amount of US dollars per million tokens (digits and one point, at most 9 decimals)"
        );
    }

    #[test]
    fn every_disagreement_above_one_percent_between_the_lists_is_in_the_report() {
        let on = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let genai = parse_genai_list(GENAI_PRICES).unwrap();
        let found = disagreements(&genai, &parse_litellm_map(LITELLM_PRICES).unwrap(), on);
        // a known one: LiteLLM's direct Sonnet 4.5 has no long-context rate
        assert!(
            found.iter().any(|d| d.model == "anthropic/claude-sonnet-4-5" && d.class == "input >200k"),
            "{found:?}"
        );
        let report = disagreement_report(&found, on);
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/server/data/price_disagreements.md");
        if std::env::var_os("COSTROOM_WRITE_REPORTS").is_some() {
            std::fs::write(path, &report).unwrap();
        }
        let kept = std::fs::read_to_string(path).unwrap_or_default();
        assert!(kept == report, "{path} is out of date: run this test with COSTROOM_WRITE_REPORTS=1");
    }

    /// The reconciliation corpus (`tests/fixtures/reconciliation`, 1,097 calls over 18
    /// providers, costs by the genai-prices package): each call through the ingest parser and
    /// the ingest pricing, against the oracle's cost to the nano. The report lists every call
    /// not priced or not exact, with why.
    #[test]
    fn the_shipped_book_reconciles_with_an_independent_publishers_library() {
        use chrono::Timelike;
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reconciliation");
        let corpus = std::fs::read_to_string(format!("{dir}/corpus.jsonl")).unwrap();
        let rows: Vec<serde_json::Value> = corpus.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let mut events: Vec<UsageEvent> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut item = r.clone();
                let obj = item.as_object_mut().unwrap();
                obj.insert("event_id".into(), r["id"].clone());
                obj.remove("id");
                obj.remove("oracle");
                obj.remove("expected_nanos");
                crate::domain::ingest::parse_item(i, &item).unwrap()
            })
            .collect();
        let book = shipped_book();
        let unbilled = parse_genai_list(GENAI_PRICES).unwrap().unbilled;
        price_events(&book, &mut events);
        let (mut unpriced, mut differ) = (vec![], vec![]);
        for (r, e) in rows.iter().zip(&events) {
            let expected = r["expected_nanos"].as_i64().expect("the oracle priced every call");
            let oracle = r["oracle"]["matched"].as_str().unwrap_or("");
            let line = |why: &str| {
                format!(
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    r["id"].as_str().unwrap(),
                    e.provider,
                    e.model,
                    Nanos(expected).usd(),
                    if e.cost_source == CostSource::Unpriced { "unpriced".into() } else { e.cost.usd() },
                    oracle,
                    why
                )
            };
            if e.cost_source == CostSource::Unpriced {
                unpriced.push(line("no entry found"));
            } else if e.cost.0 != expected {
                let f = book.explain(&e.provider, &e.model, e.service_tier, e.day()).unwrap();
                let why = if e.service_tier != ServiceTier::Standard {
                    format!(
                        "{} tier: the oracle has no tier rates; billed at {}'s",
                        e.service_tier.as_str(),
                        f.entry.model
                    )
                } else if e.provider == "deepseek"
                    && (30..990).contains(&(e.occurred_at.hour() * 60 + e.occurred_at.minute()))
                {
                    "off-peak hours: the oracle's price for part of the day is not applied".into()
                } else {
                    let model = f.entry.model.trim_start_matches("genai-prices/").to_string();
                    let fees: Vec<&str> = unbilled
                        .iter()
                        .filter(|(_, models)| models.contains(&model))
                        .map(|(k, _)| k.as_str())
                        .collect();
                    format!(
                        "priced from {} ({}); not billed: {}",
                        f.entry.model,
                        f.rule.as_str(),
                        fees.join(", ")
                    )
                };
                differ.push(line(&why));
            }
        }
        let n = rows.len();
        let exact = n - unpriced.len() - differ.len();
        let pct = |k: usize| format!("{}.{}", k * 100 / n, (k * 1000 / n) % 10);
        let mut report = format!(
            "# Price reconciliation: the shipped price book against genai-prices 0.2.5\n\n\
            Generated by `cargo test -p app --lib --features ssr reconciles` with `COSTROOM_WRITE_REPORTS=1`\n\
            from `corpus.jsonl` (made by `make_corpus.py`); the test fails when this file is out of date.\n\n\
            - calls: {n}, providers: {}\n- priced: {} ({} %)\n- exact to the nano: {exact} ({} %)\n\n\
            | call | provider | model | oracle | Costroom | oracle's entry | why |\n|---|---|---|---:|---:|---|---|\n",
            rows.iter().map(|r| r["oracle"]["provider_id"].as_str().unwrap()).collect::<std::collections::BTreeSet<_>>().len(),
            n - unpriced.len(),
            pct(n - unpriced.len()),
            pct(exact),
        );
        for l in unpriced.iter().chain(&differ) {
            report.push_str(l);
            report.push('\n');
        }
        let path = format!("{dir}/report.md");
        if std::env::var_os("COSTROOM_WRITE_REPORTS").is_some() {
            std::fs::write(&path, &report).unwrap();
        }
        assert!(n >= 1_000);
        assert!((n - unpriced.len()) * 100 >= n * 99, "priced below 99 %:\n{report}");
        assert!(exact * 100 >= n * 97, "exact below 97 %:\n{report}");
        let kept = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(kept == report, "{path} is out of date: run this test with COSTROOM_WRITE_REPORTS=1");
    }

    #[test]
    fn femto_rates_read_as_plain_decimals() {
        assert_eq!(femto_usd(2_500_000_000), "0.0000025");
        assert_eq!(femto_usd(1), "0.000000000000001");
        assert_eq!(femto_usd(3_000_000_000_000_000), "3");
        assert_eq!(femto_usd(0), "0");
    }

    #[test]
    fn malformed_maps_name_the_model_and_field() {
        assert_eq!(
            parse_litellm_map(r#"{"m": {"input_cost_per_token": "x"}}"#).unwrap_err(),
            "m: input_cost_per_token: 'x' is not a decimal number of US dollars per token with at most 15 decimals"
        );
        assert_eq!(
            parse_litellm_map(r#"{"m": {"input_cost_per_token": true}}"#).unwrap_err(),
            "m: input_cost_per_token: expected a number or a decimal string, got true"
        );
        assert!(parse_litellm_map("{").unwrap_err().starts_with("line 1, column 1"));
        let skipped = parse_litellm_map(r#"{"dall-e": {"output_cost_per_image": 0.04}}"#).unwrap();
        assert!(skipped.is_empty(), "no token prices: not a token-priced model");
    }

    #[test]
    fn rates_as_decimal_strings_are_exact_and_other_keys_are_named_or_documented() {
        let list = parse_litellm_list(
            r#"{
                "_comment": "our negotiated rates, 2026",
                "house": {"litellm_provider": "acme", "mode": "chat", "comment": "Q4 contract",
                          "supports_vision": true, "max_input_tokens": 200000,
                          "input_cost_per_token": "0.000000123456789",
                          "output_cost_per_token": "1.5e-6", "cache_read_input_token_cost": 3e-08,
                          "input_cost_per_tokn": "0.000001", "output_cost_per_image": 0.04},
                "dall-e": {"output_cost_per_image": 0.04}
            }"#,
        )
        .unwrap();
        assert_eq!(list.entries.len(), 1);
        let (model, provider, price) = &list.entries[0];
        assert_eq!((model.as_str(), provider.as_str()), ("house", "acme"));
        // 15 decimals of a dollar: exactly 123,456,789 femto-dollars (as a float it would be
        // read through its shortest text; as a string it is what it says)
        assert_eq!(price.rates["input_cost_per_token"], 123_456_789);
        assert_eq!(price.rates["output_cost_per_token"], 1_500_000_000);
        assert_eq!(price.rates["cache_read_input_token_cost"], 30_000_000);
        let names: Vec<(&str, Vec<&str>)> =
            list.unbilled.iter().map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect())).collect();
        assert_eq!(
            names,
            vec![("input_cost_per_tokn", vec!["house"]), ("output_cost_per_image", vec!["dall-e", "house"])]
        );
    }

    #[test]
    fn a_decimal_string_is_never_rounded() {
        use crate::domain::pricing::rate_from_decimal;
        assert_eq!(rate_from_decimal("r", "0.0000025"), Ok(2_500_000_000));
        assert_eq!(rate_from_decimal("r", " 2.5e-6 "), Ok(2_500_000_000));
        assert_eq!(rate_from_decimal("r", "0.000000000000001"), Ok(1));
        assert_eq!(rate_from_decimal("r", "1"), Ok(1_000_000_000_000_000));
        assert!(rate_from_decimal("r", "0.0000000000000015").unwrap_err().contains("at most 15 decimals"));
        assert!(rate_from_decimal("r", "-0.000001").unwrap_err().contains("negative"));
        assert!(rate_from_decimal("r", "1.000000000000001").unwrap_err().contains("above the maximum"));
        assert!(rate_from_decimal("r", "$0.01").is_err());
    }
}
