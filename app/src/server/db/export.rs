//! Reads for the FOCUS export, one day at a time.
use chrono::{DateTime, NaiveDate, Utc};

use super::query::query_as;
use super::{Db, OrgId};
use crate::domain::ledger::SpendSource;
use crate::domain::pricing::Tokens;
use crate::domain::Nanos;
use crate::server::formats::focus::export::TokenGroup;
use crate::server::formats::focus::{ChargeCategory, FocusRow};

#[derive(sqlx::FromRow)]
struct GroupRow {
    provider: String,
    model: String,
    service_tier: String,
    price_entry_id: Option<i64>,
    team: String,
    initiative: String,
    feature: String,
    customer: String,
    environment: String,
    input: i64,
    cache_read: i64,
    cache_write_5m: i64,
    cache_write_1h: i64,
    output: i64,
    reasoning: i64,
    input_audio: i64,
    cache_read_audio: i64,
    input_image: i64,
    output_audio: i64,
    output_image: i64,
    web_search_calls: i64,
    requests: i64,
    cost: i64,
}

#[derive(sqlx::FromRow)]
struct LedgerRow {
    spend_source: String,
    billing_account: String,
    billing_period_start: DateTime<Utc>,
    billing_period_end: Option<DateTime<Utc>>,
    charge_period_start: DateTime<Utc>,
    charge_period_end: DateTime<Utc>,
    charge_category: String,
    billed_nanos: i64,
    effective_nanos: i64,
    list_nanos: Option<i64>,
    contracted_nanos: Option<i64>,
    charge_class: Option<String>,
    charge_description: Option<String>,
    charge_frequency: Option<String>,
    currency: Option<String>,
    provider: Option<String>,
    publisher: Option<String>,
    service_name: Option<String>,
    service_category: Option<String>,
    service_subcategory: Option<String>,
    region_id: Option<String>,
    resource_id: Option<String>,
    resource_name: Option<String>,
    sku_id: Option<String>,
    sku_price_id: Option<String>,
    pricing_category: Option<String>,
    consumed_quantity: Option<String>,
    consumed_unit: Option<String>,
    pricing_quantity: Option<String>,
    pricing_unit: Option<String>,
    tags: String,
}

impl Db {
    /// Token events of one day, grouped for the export.
    pub async fn token_groups(&self, org: OrgId, day: NaiveDate) -> sqlx::Result<Vec<TokenGroup>> {
        // cast: PostgreSQL's sum(bigint) is numeric
        const SQL: &str = "select provider, model, service_tier, price_entry_id, coalesce(team, '') as team, \
            coalesce(initiative, '') as initiative, coalesce(feature, '') as feature, \
            coalesce(customer, '') as customer, coalesce(environment, '') as environment, \
            cast(sum(input_tokens) as bigint) as input, cast(sum(cache_read_tokens) as bigint) as cache_read, \
            cast(sum(cache_write_5m_tokens) as bigint) as cache_write_5m, \
            cast(sum(cache_write_1h_tokens) as bigint) as cache_write_1h, \
            cast(sum(output_tokens) as bigint) as output, cast(sum(reasoning_tokens) as bigint) as reasoning, \
            cast(sum(input_audio_tokens) as bigint) as input_audio, \
            cast(sum(cache_read_audio_tokens) as bigint) as cache_read_audio, \
            cast(sum(input_image_tokens) as bigint) as input_image, \
            cast(sum(output_audio_tokens) as bigint) as output_audio, \
            cast(sum(output_image_tokens) as bigint) as output_image, \
            cast(sum(web_search_calls) as bigint) as web_search_calls, \
            cast(sum(request_count) as bigint) as requests, cast(sum(cost_nanos) as bigint) as cost \
            from usage_events where org_id = $1 and day = $2 \
            group by provider, model, service_tier, price_entry_id, team, initiative, feature, customer, environment \
            order by provider, model, service_tier, price_entry_id, 5, 6, 7, 8, 9";
        let rows: Vec<GroupRow> = query_as(SQL).bind(org.0).bind(day).fetch_all(self).await?;
        Ok(rows
            .into_iter()
            .map(|g| TokenGroup {
                day,
                provider: g.provider,
                model: g.model,
                service_tier: g.service_tier,
                price_entry_id: g.price_entry_id,
                attribution: [
                    ("team", g.team),
                    ("initiative", g.initiative),
                    ("feature", g.feature),
                    ("customer", g.customer),
                    ("environment", g.environment),
                ],
                tokens: Tokens {
                    input: g.input,
                    cache_read: g.cache_read,
                    cache_write_5m: g.cache_write_5m,
                    cache_write_1h: g.cache_write_1h,
                    output: g.output,
                    reasoning: g.reasoning,
                    input_audio: g.input_audio,
                    cache_read_audio: g.cache_read_audio,
                    input_image: g.input_image,
                    output_audio: g.output_audio,
                    output_image: g.output_image,
                    web_search_calls: g.web_search_calls,
                },
                requests: g.requests,
                cost: Nanos(g.cost),
            })
            .collect())
    }

    /// The counted ledger lines of one day (all sources but tokens, or one), in line order.
    pub async fn ledger_rows(
        &self,
        org: OrgId,
        day: NaiveDate,
        source: Option<SpendSource>,
    ) -> sqlx::Result<Vec<(SpendSource, FocusRow)>> {
        const SQL: &str = "select spend_source, billing_account, billing_period_start, billing_period_end, \
            charge_period_start, charge_period_end, charge_category, billed_nanos, effective_nanos, list_nanos, \
            contracted_nanos, charge_class, charge_description, charge_frequency, currency, provider, publisher, \
            service_name, service_category, service_subcategory, region_id, resource_id, resource_name, sku_id, \
            sku_price_id, pricing_category, consumed_quantity, consumed_unit, pricing_quantity, pricing_unit, tags \
            from ledger_lines where org_id = $1 and bucket = $2 and counted and ($3 is null or spend_source = $3) \
            order by id";
        let bucket = day.and_time(Default::default()).and_utc().timestamp();
        let rows: Vec<LedgerRow> = query_as(SQL)
            .bind(org.0)
            .bind(bucket)
            .bind(source.map(SpendSource::as_str))
            .fetch_all(self)
            .await?;
        Ok(rows
            .into_iter()
            .enumerate()
            .map(|(n, r)| {
                let category = match r.charge_category.as_str() {
                    "Purchase" => ChargeCategory::Purchase,
                    "Tax" => ChargeCategory::Tax,
                    "Credit" => ChargeCategory::Credit,
                    "Adjustment" => ChargeCategory::Adjustment,
                    _ => ChargeCategory::Usage,
                };
                let mut f = FocusRow::new(
                    n as u64 + 1,
                    category,
                    r.charge_period_start,
                    r.charge_period_end,
                    Nanos(r.billed_nanos),
                );
                f.effective_cost = Nanos(r.effective_nanos);
                f.list_cost = r.list_nanos.map(Nanos);
                f.contracted_cost = r.contracted_nanos.map(Nanos);
                f.billing_account_id = Some(r.billing_account);
                f.billing_period_start = Some(r.billing_period_start);
                f.billing_period_end = r.billing_period_end;
                f.charge_class = r.charge_class;
                f.charge_description = r.charge_description;
                f.charge_frequency = r.charge_frequency;
                f.billing_currency = r.currency.or(Some("USD".into()));
                f.provider = r.provider;
                f.publisher = r.publisher;
                f.service_name = r.service_name;
                f.service_category = r.service_category;
                f.service_subcategory = r.service_subcategory;
                f.region_id = r.region_id;
                f.resource_id = r.resource_id;
                f.resource_name = r.resource_name;
                f.sku_id = r.sku_id;
                f.sku_price_id = r.sku_price_id;
                f.pricing_category = r.pricing_category;
                f.consumed_quantity = r.consumed_quantity;
                f.consumed_unit = r.consumed_unit;
                f.pricing_quantity = r.pricing_quantity;
                f.pricing_unit = r.pricing_unit;
                let tags: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&r.tags).unwrap_or_default();
                f.tags = tags
                    .into_iter()
                    .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                    .collect();
                f.tags.sort();
                (SpendSource::parse(&r.spend_source).unwrap_or(SpendSource::Invoice), f)
            })
            .collect())
    }
}
