//! Where a spend figure links to: the explorer for a query, the detail page for a value. One
//! module, so the explorer and the detail pages link to each other without importing each
//! other.
use crate::domain::explore::{Dim, SpendQuery, SCOPE_DIMS};
use crate::domain::text::encode_query_value;

/// The explorer URL of a query.
pub fn spend_href(q: &SpendQuery) -> String {
    format!("/spend?{}", q.to_query_string())
}

/// The detail page of a value, when its dimension has one.
pub fn scope_href(dim: &Dim, value: &str) -> Option<String> {
    SCOPE_DIMS.contains(dim).then(|| format!("/spend/{}/{}", dim.key(), encode_query_value(value)))
}
