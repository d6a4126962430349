//! FOCUS 1.2 export of the ledger: every counted ledger line (billing imports, GPU usage,
//! training runs, commitments) and the token events, priced by the price book, as Usage rows
//! of service category "AI and Machine Learning", subcategory "Generative AI", one SKU per
//! model and token class, attribution in Tags.
//!
//! Token events are grouped per day, provider, model, price version, tier and attribution; a
//! group's stored cost is split over its token classes in proportion to each class's cost at
//! the group's rates, exactly (the parts add up to the stored cost to the nano-dollar), so the
//! export re-imported gives the ledger's totals to the integer unit.
use std::collections::HashMap;

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};

use crate::domain::ledger::{split_exact, SpendSource};
use crate::domain::pricing::{ModelPrice, ServiceTier, TokenClass, Tokens};
use crate::domain::text::csv_row;
use crate::domain::{DateRange, Nanos};
use crate::server::db::{Db, OrgId};
use crate::server::formats::focus::{ChargeCategory, FocusRow};

/// The columns written, in order. `x_CostroomSource` is a custom column (FOCUS reserves the
/// `x_` prefix for them).
pub const COLUMNS: [&str; 33] = [
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "ConsumedQuantity",
    "ConsumedUnit",
    "PricingQuantity",
    "PricingUnit",
    "PricingCategory",
    "ProviderName",
    "PublisherName",
    "InvoiceIssuerName",
    "ServiceName",
    "ServiceCategory",
    "ServiceSubcategory",
    "RegionId",
    "ResourceId",
    "ResourceName",
    "SkuId",
    "SkuPriceId",
    "Tags",
    "x_CostroomSource",
];

/// `2026-11-03T00:00:00Z`, the FOCUS date-time format.
fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Nano-dollars as an exact decimal (`12.5`, `-2.25`, `0.000000001`).
pub fn decimal(n: Nanos) -> String {
    let sign = if n.0 < 0 { "-" } else { "" };
    let abs = n.0.unsigned_abs();
    let frac = format!("{:09}", abs % 1_000_000_000);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{sign}{}", abs / 1_000_000_000)
    } else {
        format!("{sign}{}.{frac}", abs / 1_000_000_000)
    }
}

fn month_start(d: NaiveDate) -> DateTime<Utc> {
    d.with_day(1).expect("day 1").and_time(Default::default()).and_utc()
}

fn next_month(d: NaiveDate) -> DateTime<Utc> {
    let first = d.with_day(1).expect("day 1");
    first.checked_add_months(chrono::Months::new(1)).expect("in range").and_time(Default::default()).and_utc()
}

/// One CSV line of the export.
pub fn line(r: &FocusRow, source: SpendSource, account_name: &str) -> String {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let day = r.charge_period_start.date_naive();
    let billing_start = r.billing_period_start.unwrap_or_else(|| month_start(day));
    let billing_end = r.billing_period_end.unwrap_or_else(|| next_month(billing_start.date_naive()));
    let frequency = r.charge_frequency.clone().unwrap_or_else(|| {
        match r.charge_category {
            ChargeCategory::Usage => "Usage-Based",
            ChargeCategory::Purchase => "One-Time",
            _ => "One-Time",
        }
        .to_string()
    });
    let tags = if r.tags.is_empty() {
        String::new()
    } else {
        serde_json::Value::Object(
            r.tags.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect(),
        )
        .to_string()
    };
    let usage = r.charge_category == ChargeCategory::Usage;
    // FOCUS requires these on Usage and Purchase rows (not corrections); Costroom's own rows
    // set them, imported lines may lack them
    let priced = matches!(r.charge_category, ChargeCategory::Usage | ChargeCategory::Purchase)
        && r.charge_class.as_deref() != Some("Correction");
    let pricing_category = r.pricing_category.clone().or_else(|| priced.then(|| "Standard".to_string()));
    let (pricing_quantity, pricing_unit) = match (&r.pricing_quantity, &r.pricing_unit) {
        (Some(q), u) => (Some(q.clone()), u.clone()),
        (None, _) if priced => (Some("1".to_string()), Some("Units".to_string())),
        (None, u) => (None, u.clone()),
    };
    let sku = r
        .sku_id
        .clone()
        .or_else(|| priced.then(|| r.service_name.clone().unwrap_or_else(|| "unspecified".into())));
    let sku_price = r.sku_price_id.clone().or_else(|| sku.clone().filter(|_| priced));
    let provider = r.provider.clone().or_else(|| r.publisher.clone()).unwrap_or_else(|| "Unspecified".into());
    let category = r.service_category.clone().unwrap_or_else(|| "Other".into());
    let subcategory = r.service_subcategory.clone().unwrap_or_else(|| format!("Other ({category})"));
    let cells: Vec<String> = vec![
        o(&r.billing_account_id),
        account_name.to_string(),
        o(&r.billing_currency).to_uppercase(),
        time(billing_start),
        time(billing_end),
        r.charge_category.as_str().to_string(),
        o(&r.charge_class),
        o(&r.charge_description),
        frequency,
        time(r.charge_period_start),
        time(r.charge_period_end),
        decimal(r.billed_cost),
        decimal(r.effective_cost),
        decimal(r.list_cost.unwrap_or(r.billed_cost)),
        decimal(r.contracted_cost.unwrap_or(r.billed_cost)),
        if usage { o(&r.consumed_quantity) } else { String::new() },
        if usage { o(&r.consumed_unit) } else { String::new() },
        o(&pricing_quantity),
        o(&pricing_unit),
        o(&pricing_category),
        provider.clone(),
        r.publisher.clone().unwrap_or_else(|| provider.clone()),
        provider,
        o(&r.service_name),
        category,
        subcategory,
        o(&r.region_id),
        o(&r.resource_id),
        o(&r.resource_name),
        o(&sku),
        o(&sku_price),
        tags,
        source.as_str().to_string(),
    ];
    let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
    csv_row(&refs)
}

/// Token events of one group (see the module note).
#[derive(Debug, Clone)]
pub struct TokenGroup {
    pub day: NaiveDate,
    pub provider: String,
    pub model: String,
    pub service_tier: String,
    pub price_entry_id: Option<i64>,
    pub attribution: [(&'static str, String); 5],
    pub tokens: Tokens,
    pub requests: i64,
    pub cost: Nanos,
}

/// The group's rows: one per token class with tokens (or one row for the whole group when
/// it has no rates to weigh classes by: unpriced, or priced by the provider's stated cost
/// under a model the book does not know).
pub fn token_rows(g: &TokenGroup, price: Option<&ModelPrice>) -> Vec<FocusRow> {
    let tier = ServiceTier::parse("service_tier", &g.service_tier).unwrap_or(ServiceTier::Standard);
    // requests are a billed class only where the entry has a per-request fee
    let count = |c: TokenClass| match c {
        TokenClass::Request if price.and_then(|p| p.rate(c, tier, 0)).is_some() => g.requests,
        c => g.tokens.billable(c),
    };
    let classes: Vec<(TokenClass, i64)> =
        TokenClass::ALL.into_iter().map(|c| (c, count(c))).filter(|(_, n)| *n > 0).collect();
    let weights: Vec<i64> = classes
        .iter()
        .map(|(c, n)| {
            let rate = price.and_then(|p| p.rate(*c, tier, 0)).map_or(0, |r| r.0);
            // femto-USD; saturating keeps absurd inputs from overflowing the weight
            (i128::from(*n) * i128::from(rate) / 1_000).min(i128::from(i64::MAX)) as i64
        })
        .collect();
    let start = g.day.and_time(Default::default()).and_utc();
    let end = g.day.checked_add_days(Days::new(1)).expect("in range").and_time(Default::default()).and_utc();
    let base = |cost: Nanos| {
        let mut r = FocusRow::new(0, ChargeCategory::Usage, start, end, cost);
        r.billing_account_id = Some("costroom-tokens".into());
        r.provider = Some(g.provider.clone());
        r.service_name = Some(format!("{} API", g.provider));
        r.service_category = Some("AI and Machine Learning".into());
        r.service_subcategory = Some("Generative AI".into());
        r.resource_name = Some(g.model.clone());
        r.sku_price_id = g.price_entry_id.map(|id| id.to_string());
        r.tags = g
            .attribution
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        r.tags.sort();
        r
    };
    if classes.is_empty() || weights.iter().all(|w| *w == 0) {
        let mut r = base(g.cost);
        r.sku_id = Some(format!("{}/requests", g.model));
        r.charge_description = Some(format!("{} requests to {}", g.requests, g.model));
        r.consumed_quantity = Some(g.requests.to_string());
        r.consumed_unit = Some("Requests".into());
        r.pricing_quantity = Some(g.requests.to_string());
        r.pricing_unit = Some("Requests".into());
        return vec![r];
    }
    let parts = split_exact(g.cost, &weights);
    classes
        .iter()
        .zip(parts)
        .map(|((class, n), part)| {
            let mut r = base(part);
            r.sku_id = Some(format!("{}/{}", g.model, class.as_str()));
            let unit = class.unit();
            r.charge_description =
                Some(format!("{} {} {} of {}", n, class.as_str(), unit.to_lowercase(), g.model));
            r.consumed_quantity = Some(n.to_string());
            r.consumed_unit = Some(unit.into());
            r.pricing_quantity = Some(n.to_string());
            r.pricing_unit = Some(unit.into());
            r
        })
        .collect()
}

/// What to export.
#[derive(Debug, Clone, Copy)]
pub struct Selection {
    pub range: DateRange,
    pub source: Option<SpendSource>,
}

/// Where export chunks go: a download's body channel, or a string (tests, the CLI).
pub trait ChunkSink: Send {
    /// False when the receiver is gone (the download was cancelled): the export stops.
    fn put(&mut self, chunk: String) -> impl std::future::Future<Output = bool> + Send;
}

impl ChunkSink for String {
    async fn put(&mut self, chunk: String) -> bool {
        self.push_str(&chunk);
        true
    }
}

impl ChunkSink for tokio::sync::mpsc::Sender<Result<String, std::io::Error>> {
    async fn put(&mut self, chunk: String) -> bool {
        self.send(Ok(chunk)).await.is_ok()
    }
}

/// Writes the export day by day (memory stays flat however long the range), handing each
/// chunk of CSV text to `out`.
pub async fn export(
    db: &Db,
    org: OrgId,
    account_name: &str,
    sel: Selection,
    out: &mut impl ChunkSink,
) -> Result<(), sqlx::Error> {
    if sel.source.is_none_or(|s| s == SpendSource::Tokens) {
        // the token rows are grouped from the raw events, down to the price entry
        db.require_raw_from(org, sel.range.from, "the FOCUS export of token spend", "from").await?;
    }
    let prices: HashMap<i64, ModelPrice> =
        db.price_entries(org).await?.into_iter().map(|e| (e.id, e.price)).collect();
    if !out.put(csv_row(&COLUMNS)).await {
        return Ok(());
    }
    for day in sel.range.iter_days() {
        let mut chunk = String::new();
        if sel.source.is_none_or(|s| s == SpendSource::Tokens) {
            for g in db.token_groups(org, day).await? {
                for r in token_rows(&g, g.price_entry_id.and_then(|id| prices.get(&id))) {
                    chunk.push_str(&line(&r, SpendSource::Tokens, account_name));
                }
            }
        }
        if sel.source != Some(SpendSource::Tokens) {
            for (source, r) in db.ledger_rows(org, day, sel.source).await? {
                chunk.push_str(&line(&r, source, account_name));
            }
        }
        if !chunk.is_empty() && !out.put(chunk).await {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal(Nanos(12_500_000_000)), "12.5");
        assert_eq!(decimal(Nanos(-2_250_000_000)), "-2.25");
        assert_eq!(decimal(Nanos(1)), "0.000000001");
        assert_eq!(decimal(Nanos(0)), "0");
        assert_eq!(decimal(Nanos(-1)), "-0.000000001");
    }

    #[test]
    fn a_groups_cost_splits_over_its_classes_exactly() {
        let mut price = ModelPrice::default();
        price.rates.insert("input_cost_per_token".into(), 2_500_000_000); // $2.50 / 1M
        price.rates.insert("cache_read_input_token_cost".into(), 1_250_000_000);
        price.rates.insert("output_cost_per_token".into(), 10_000_000_000);
        let g = TokenGroup {
            day: NaiveDate::from_ymd_opt(2026, 11, 3).unwrap(),
            provider: "openai".into(),
            model: "gpt-4o".into(),
            service_tier: "standard".into(),
            price_entry_id: Some(7),
            attribution: [
                ("team", "search".into()),
                ("initiative", String::new()),
                ("feature", "answers".into()),
                ("customer", String::new()),
                ("environment", String::new()),
            ],
            tokens: Tokens { input: 1_600, cache_read: 600, output: 500, ..Default::default() },
            requests: 3,
            // 1000 × 2.5e-6 + 600 × 1.25e-6 + 500 × 1e-5 = 0.00825, plus a nano of rounding
            cost: Nanos(8_250_001),
        };
        let rows = token_rows(&g, Some(&price));
        let skus: Vec<_> = rows.iter().map(|r| (r.sku_id.clone().unwrap(), r.billed_cost)).collect();
        assert_eq!(
            skus,
            vec![
                ("gpt-4o/input".to_string(), Nanos(2_500_000)),
                ("gpt-4o/cache_read".to_string(), Nanos(750_000)),
                ("gpt-4o/output".to_string(), Nanos(5_000_001)),
            ]
        );
        assert_eq!(
            rows[0].tags,
            vec![("feature".into(), "answers".into()), ("team".into(), "search".into())]
        );
        // no rates: one row for the group, its whole cost
        let rows = token_rows(&g, None);
        assert_eq!((rows.len(), rows[0].billed_cost), (1, Nanos(8_250_001)));
        let text = line(&rows[0], SpendSource::Tokens, "Acme");
        assert!(
            text.starts_with("costroom-tokens,Acme,USD,2026-11-01T00:00:00Z,2026-12-01T00:00:00Z,Usage,"),
            "{text}"
        );
    }
}
