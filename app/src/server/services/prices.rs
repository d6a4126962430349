//! The price book: seeding from LiteLLM's map, imports in the same format, and pricing events.
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::NaiveDate;

use crate::domain::price_book::{PriceBook, SOURCE_LITELLM};
use crate::domain::pricing::{ModelPrice, Unpriced};
use crate::domain::usage::CostSource;
use crate::domain::Nanos;
use crate::domain::UsageEvent;
use crate::error::AppError;
use crate::server::db::{Actor, Db, NewAudit, NewPriceEntry, OrgId, PUBLIC_LIST};

/// The public list shipped with Costroom: derived from LiteLLM's price map 1.110.2 (MIT,
/// BerriAI/litellm; see `LICENSE.litellm.txt` and `derive_litellm.py` beside it).
const LITELLM_PRICES: &str = include_str!("../data/litellm_prices.json");

/// A price map entry: (key, LiteLLM provider, prices).
pub type MapEntry = (String, String, ModelPrice);

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

/// Loads the shipped public list into an empty price book (a no-op once it is there).
/// Its entries are in force from 1970-01-01: the list has no dates of its own.
pub async fn ensure_public_list(db: &Db) -> Result<usize, AppError> {
    if db.count_price_entries(PUBLIC_LIST).await? > 0 {
        return Ok(0);
    }
    let entries = parse_litellm_map(LITELLM_PRICES).map_err(crate::error::internal)?;
    let since = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    let rows: Vec<NewPriceEntry<'_>> = entries
        .iter()
        .map(|(model, provider, price)| NewPriceEntry { model, provider, effective_from: since, price })
        .collect();
    db.upsert_price_entries(PUBLIC_LIST, &rows, SOURCE_LITELLM, None, None).await?;
    Ok(rows.len())
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
                        .entry((e.provider.as_str(), e.model.as_str(), e.day()))
                        .or_insert_with(|| book.find(&e.provider, &e.model, e.day()))
                })?
            })
            .collect()
    };
    for (i, (e, entry)) in events.iter_mut().zip(entries).enumerate() {
        if e.cost_source == CostSource::Provider {
            continue;
        }
        match entry.map(|en| (en.id, en.price.cost(&e.tokens, e.service_tier))) {
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
    let row = NewPriceEntry { model, provider: provider.trim(), effective_from, price: &price };
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
    for (model, provider, price) in &list.entries {
        let Some(now) = book.find(provider, model, effective_from) else {
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
        .map(|(model, provider, price)| NewPriceEntry { model, provider, effective_from, price })
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
        assert_eq!(gemini.cost(&t, ServiceTier::Standard), Ok(Nanos(640_000_000)));
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
