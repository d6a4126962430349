//! The price book page: browse and search prices and their history, the models without a
//! price, an organisation's own price (engineering, admins), and re-pricing history.
use chrono::NaiveDate;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One price-book entry as people read it: USD per million tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceRow {
    pub model: String,
    pub provider: String,
    pub effective_from: NaiveDate,
    /// The organisation's own price (not the public list).
    pub own: bool,
    pub source: String,
    pub input: Option<String>,
    pub output: Option<String>,
    pub cache_read: Option<String>,
    pub cache_write: Option<String>,
    /// Tier, long-context and other variants this entry also prices.
    pub variants: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnpricedModel {
    pub model: String,
    pub provider: String,
    pub events: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

/// Which entry priced a provider's calls of a model (the last 30 days), and by which rule of
/// the lookup: so a person can see that Vertex calls take Vertex's price, not another's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedBy {
    pub provider: String,
    /// The model as the calls named it.
    pub model: String,
    /// The price-book key of the entry that priced them, and its provider.
    pub entry: String,
    pub entry_provider: String,
    pub source: String,
    /// `provider`, `maker`, `list default` (see the lookup), or `earlier` when today's lookup
    /// would pick another entry (the calls keep the price of their day).
    pub rule: String,
    pub events: i64,
}

/// Rows of [`PricedBy`] shown.
pub const PRICED_BY_ROWS: i64 = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricesPage {
    /// Matches of the search (the newest entry per model), at most [`PRICE_ROWS`].
    pub rows: Vec<PriceRow>,
    pub matches: usize,
    /// Every entry of the model asked for, newest first.
    pub history: Vec<PriceRow>,
    pub unpriced: Vec<UnpricedModel>,
    pub priced_by: Vec<PricedBy>,
}

pub const PRICE_ROWS: usize = 100;

pub use crate::domain::job::JobView;

#[cfg(feature = "ssr")]
fn row(e: &crate::domain::price_book::PriceEntry) -> PriceRow {
    use crate::domain::pricing::TokenClass;
    let per_m = |class: TokenClass| {
        e.price.rates.get(class.litellm_field()).map(|femto| {
            // femto-USD per token × 1e6 tokens = USD per million × 1e15
            crate::server::services::prices::femto_usd(femto.saturating_mul(1_000_000))
        })
    };
    let main = [TokenClass::Input, TokenClass::Output, TokenClass::CacheRead, TokenClass::CacheWrite5m];
    let shown = main.iter().filter(|c| e.price.rates.contains_key(c.litellm_field())).count();
    PriceRow {
        model: e.model.clone(),
        provider: e.provider.clone(),
        effective_from: e.effective_from,
        own: e.own,
        source: e.source.clone(),
        input: per_m(TokenClass::Input),
        output: per_m(TokenClass::Output),
        cache_read: per_m(TokenClass::CacheRead),
        cache_write: per_m(TokenClass::CacheWrite5m),
        variants: e.price.rates.len() - shown,
    }
}

#[server(endpoint = "list_prices")]
pub async fn list_prices(q: Option<String>, model: Option<String>) -> Result<PricesPage, AppError> {
    use crate::server::{auth, state};
    state::with_status(auth::require_user().await)?;
    let st = state::app_state()?;
    let mut entries = st.db.price_entries(st.org).await?;
    // newest first within a model; the organisation's own entries before the public list's
    entries.sort_by(|a, b| {
        (a.model.as_str(), std::cmp::Reverse((a.effective_from, a.own)))
            .cmp(&(b.model.as_str(), std::cmp::Reverse((b.effective_from, b.own))))
    });
    let q = q.map(|q| q.trim().to_lowercase()).filter(|q| !q.is_empty());
    let mut rows = vec![];
    let mut last: Option<&str> = None;
    for e in &entries {
        if last == Some(e.model.as_str()) {
            continue;
        }
        last = Some(e.model.as_str());
        let hit = q
            .as_deref()
            .is_none_or(|q| e.model.to_lowercase().contains(q) || e.provider.to_lowercase().contains(q));
        if hit {
            rows.push(row(e));
        }
    }
    let matches = rows.len();
    // own prices first, then by name
    rows.sort_by(|a, b| b.own.cmp(&a.own).then(a.model.cmp(&b.model)));
    rows.truncate(PRICE_ROWS);
    let history = match model.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => entries.iter().filter(|e| e.model == m).map(row).collect(),
        None => vec![],
    };
    let unpriced = st
        .db
        .unpriced_models(st.org)
        .await?
        .into_iter()
        .map(|(model, provider, events, input_tokens, output_tokens)| UnpricedModel {
            model,
            provider,
            events,
            input_tokens,
            output_tokens,
        })
        .collect();
    let since = (st.clock.today() - chrono::Days::new(30)).and_time(chrono::NaiveTime::MIN).and_utc();
    let book = st.prices.book(&st.db, st.org).await?;
    let by_id: std::collections::HashMap<i64, &crate::domain::price_book::PriceEntry> =
        entries.iter().map(|e| (e.id, e)).collect();
    let priced_by = st
        .db
        .priced_by(st.org, since, PRICED_BY_ROWS)
        .await?
        .into_iter()
        .filter_map(|(provider, model, id, events)| {
            let e = by_id.get(&id)?;
            let now = book.explain(
                &provider,
                &model,
                crate::domain::pricing::ServiceTier::Standard,
                st.clock.today(),
            );
            let rule = match now {
                Some(f) if f.entry.model == e.model => f.rule.as_str(),
                _ => "earlier",
            };
            Some(PricedBy {
                provider,
                model,
                entry: e.model.clone(),
                entry_provider: e.provider.clone(),
                source: if e.own { format!("own ({})", e.source) } else { e.source.clone() },
                rule: rule.to_string(),
                events,
            })
        })
        .collect();
    Ok(PricesPage { rows, matches, history, unpriced, priced_by })
}

/// A model's price as typed on the Price book page, in USD per million tokens (what price
/// pages list); empty optional rates are left out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelPriceInput {
    pub model: String,
    pub provider: String,
    pub effective_from: String,
    pub input_per_m: String,
    pub output_per_m: String,
    pub cache_read_per_m: Option<String>,
    pub cache_write_per_m: Option<String>,
}

/// The organisation's own price for a model from a date, then a re-price of the events since.
#[server(endpoint = "set_model_price")]
pub async fn set_model_price(#[server(flatten)] input: ModelPriceInput) -> Result<String, AppError> {
    use crate::domain::pricing::{parse_rate_per_million, ModelPrice, TokenClass};
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let me = state::with_status(auth::require_right(Right::ManageEngineering).await)?;
    let st = state::app_state()?;
    let ModelPriceInput {
        model,
        provider,
        effective_from,
        input_per_m,
        output_per_m,
        cache_read_per_m,
        cache_write_per_m,
    } = input;
    let run = async {
        let from = crate::domain::period::required_day("effective_from", &effective_from)?;
        let mut price = ModelPrice::default();
        for (field, class, value) in [
            ("input_per_m", TokenClass::Input, Some(input_per_m)),
            ("output_per_m", TokenClass::Output, Some(output_per_m)),
            ("cache_read_per_m", TokenClass::CacheRead, cache_read_per_m),
            ("cache_write_per_m", TokenClass::CacheWrite5m, cache_write_per_m),
        ] {
            let Some(v) = value.filter(|v| !v.trim().is_empty()) else { continue };
            let femto = parse_rate_per_million(field, &v).map_err(AppError::Invalid)?;
            price.rates.insert(class.litellm_field().to_string(), femto);
        }
        let actor = Actor::person(me.id, &me.email);
        let change = services::prices::PriceChange { model, provider, effective_from: from, price };
        let r = services::prices::set_price(&st.db, &st.prices, st.org, &actor, change).await?;
        Ok(format!(
            "Saved. Re-priced {} of {} events since {from}: {} → {}.",
            r.changed,
            r.examined,
            r.before.usd(),
            r.after.usd()
        ))
    };
    state::with_status(run.await)
}

/// Starts re-pricing every event since `since` in the background; answers the job's id.
#[server(endpoint = "start_recompute")]
pub async fn start_recompute(since: String) -> Result<u64, AppError> {
    use crate::domain::Right;
    use crate::server::db::Actor;
    use crate::server::{auth, services, state};
    let me = state::with_status(auth::require_right(Right::ManageEngineering).await)?;
    let st = state::app_state()?;
    let since = state::with_status(crate::domain::period::required_day("since", &since))?;
    let id = state::with_status(st.jobs.start(&st.db, st.org, "recompute").await)?;
    let actor = Actor::person(me.id, &me.email);
    tokio::spawn(async move {
        let run = async {
            let book = st.prices.book(&st.db, st.org).await?;
            services::prices::recompute(&st.db, st.org, &actor, since, &book, |done| {
                st.jobs.progress(&st.db, id, done)
            })
            .await
        };
        let outcome = run.await.map(|r| {
            format!(
                "Re-priced {} of {} events since {since}: {} → {}; {} without a price.",
                r.changed,
                r.examined,
                r.before.usd(),
                r.after.usd(),
                r.unpriced
            )
        });
        st.jobs.finish(&st.db, id, outcome.map_err(|e| e.to_string())).await;
    });
    Ok(id)
}

#[server(endpoint = "recompute_status")]
pub async fn recompute_status(job: u64) -> Result<JobView, AppError> {
    use crate::domain::Right;
    use crate::server::{auth, state};
    state::with_status(auth::require_right(Right::ManageEngineering).await)?;
    let st = state::app_state()?;
    state::with_status(
        st.jobs
            .get(&st.db, job, st.org)
            .await
            .and_then(|j| j.ok_or_else(|| AppError::NotFound(format!("job {job}")))),
    )
}
