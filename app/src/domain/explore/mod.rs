//! The spend explorer: a query (group by, filters, range, granularity, metric, sort) that
//! round-trips through a URL query string, and the view built from summed rows. The page, its
//! CSV export and the read API (`GET /api/v1/spend`) all go through [`SpendQuery`] and
//! [`SpendView`], so they show the same numbers.
use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

use super::ledger::SpendSource;
use super::money::share_pct;
use super::rollup::Sums;
use super::text::{csv_row, encode_query_value};
use super::{DateRange, Nanos};
use crate::error::AppError;

mod dimension;
mod query;
mod view;
pub use dimension::*;
pub use query::*;
pub use view::*;

/// How a missing attribute (no team, no tag value, …) is named in tables and filters.
pub const NOT_SET: &str = "(not set)";
/// Hourly buckets are offered for short ranges only: 14 days are 336 bars already.
pub const MAX_HOURLY_DAYS: i64 = 14;
/// Series drawn in the chart; the rest are summed into "Other" (the table lists every group).
pub const CHART_SERIES: usize = 8;

#[cfg(test)]
mod tests;
