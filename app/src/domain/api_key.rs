//! API keys for machines: `cr_<prefix>_<secret>`. The prefix is public (lookup, display); the
//! secret is shown once and only a keyed hash of it is stored.
use serde::{Deserialize, Serialize};
use std::fmt;

pub const PREFIX_LEN: usize = 10;
pub const SECRET_LEN: usize = 32;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    /// Send usage events and spans.
    Ingest,
    /// Ask before a call (guardrails).
    Authorize,
    /// Read figures.
    Read,
    /// Record outcomes (business value) for the one initiative the key is bound to. Never
    /// implied by `ingest`: value drives ROI, so it is granted explicitly, by someone who may
    /// manage that initiative.
    Outcomes,
    /// Send model calls through the gateway (priced, attributed and governed there). Reads
    /// nothing: a gateway key in an application cannot read spend.
    Gateway,
}

impl Scope {
    pub const ALL: [Scope; 5] =
        [Scope::Ingest, Scope::Authorize, Scope::Read, Scope::Outcomes, Scope::Gateway];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Authorize => "authorize",
            Scope::Read => "read",
            Scope::Outcomes => "outcomes",
            Scope::Gateway => "gateway",
        }
    }

    /// `ingest,read` → sorted, de-duplicated scopes; the error names the field and the value.
    pub fn parse_list(field: &str, s: &str) -> Result<Vec<Scope>, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let scope =
                Scope::ALL.into_iter().find(|sc| sc.as_str() == part.to_ascii_lowercase()).ok_or_else(
                    || format!("{field}: '{part}' is not one of ingest, authorize, read, outcomes, gateway"),
                )?;
            out.push(scope);
        }
        out.sort();
        out.dedup();
        if out.is_empty() {
            return Err(format!(
                "{field}: at least one of ingest, authorize, read, outcomes, gateway is needed"
            ));
        }
        Ok(out)
    }

    pub fn join(scopes: &[Scope]) -> String {
        scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The full token as given to the machine once.
pub fn format_token(prefix: &str, secret: &str) -> String {
    format!("cr_{prefix}_{secret}")
}

/// Splits a presented token into (prefix, secret) when it has the right shape.
pub fn split_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix("cr_")?;
    let (prefix, secret) = rest.split_once('_')?;
    let ok = prefix.len() == PREFIX_LEN
        && secret.len() == SECRET_LEN
        && prefix.chars().chain(secret.chars()).all(|c| c.is_ascii_alphanumeric());
    ok.then_some((prefix, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_lists_parse_sorted_and_named() {
        assert_eq!(Scope::parse_list("scopes", "read, ingest,read"), Ok(vec![Scope::Ingest, Scope::Read]));
        assert_eq!(
            Scope::parse_list("scopes", "ingest,admin"),
            Err("scopes: 'admin' is not one of ingest, authorize, read, outcomes, gateway".into())
        );
        assert!(Scope::parse_list("scopes", " , ").unwrap_err().contains("at least one"));
        assert_eq!(Scope::join(&[Scope::Ingest, Scope::Authorize]), "ingest,authorize");
    }

    #[test]
    fn tokens_round_trip_and_odd_shapes_are_rejected() {
        let t = format_token("abcdefghij", "0123456789abcdefghijABCDEFGHIJxy");
        assert_eq!(split_token(&t), Some(("abcdefghij", "0123456789abcdefghijABCDEFGHIJxy")));
        assert_eq!(split_token("cr_short_0123456789abcdefghijABCDEFGHIJxy"), None);
        assert_eq!(split_token("xx_abcdefghij_0123456789abcdefghijABCDEFGHIJxy"), None);
        assert_eq!(split_token("cr_abcdefghij_0123456789abcdefghijABCDEFGHIJx!"), None);
        assert_eq!(split_token(""), None);
    }
}
