//! People's identifiers and secrets, parsed at the edge with errors that name the field.
use serde::{Deserialize, Serialize};

/// A lower-cased, trimmed e-mail address: the sign-in name, unique across the installation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email, String> {
        let s = raw.trim().to_lowercase();
        let valid = s.len() <= 254
            && !s.chars().any(char::is_whitespace)
            && s.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && !domain.is_empty() && !domain.contains('@') && !domain.starts_with('.')
            });
        if valid {
            Ok(Email(s))
        } else {
            Err(format!("email: '{}' is not an e-mail address", raw.trim()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Passwords: at least 12 characters (no composition rules, per NIST SP 800-63B), at most
/// 256 so that hashing cost stays bounded.
pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 256;

pub fn check_password(field: &str, pw: &str) -> Result<(), String> {
    let n = pw.chars().count();
    if n < MIN_PASSWORD_CHARS {
        Err(format!("{field}: at least {MIN_PASSWORD_CHARS} characters are needed (got {n})"))
    } else if n > MAX_PASSWORD_CHARS {
        Err(format!("{field}: at most {MAX_PASSWORD_CHARS} characters are allowed"))
    } else {
        Ok(())
    }
}

/// A display name: trimmed, 1 to 100 characters.
pub fn check_name(field: &str, name: &str) -> Result<String, String> {
    let n = name.trim();
    match n.chars().count() {
        0 => Err(format!("{field}: must not be empty")),
        1..=100 => Ok(n.to_string()),
        _ => Err(format!("{field}: at most 100 characters are allowed")),
    }
}

/// A URL-safe identifier (team slugs): lower-case letters, digits and dashes.
pub fn check_slug(field: &str, slug: &str) -> Result<String, String> {
    let s = slug.trim().to_lowercase();
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-');
    if ok {
        Ok(s)
    } else {
        Err(format!("{field}: '{}' must be lower-case letters, digits and dashes (1-64)", slug.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_validated() {
        assert_eq!(Email::parse("  Ana.Lopez@Example.COM ").unwrap().as_str(), "ana.lopez@example.com");
        for bad in ["", "ana", "@example.com", "ana@", "a b@example.com", "ana@@example.com", "ana@.com"] {
            let e = Email::parse(bad).unwrap_err();
            assert!(e.starts_with("email: "), "{bad}: {e}");
        }
    }

    #[test]
    fn password_length_rules() {
        assert!(check_password("password", "correct horse").is_ok());
        assert_eq!(
            check_password("password", "short").unwrap_err(),
            "password: at least 12 characters are needed (got 5)"
        );
        // characters, not bytes: 12 multi-byte characters pass
        assert!(check_password("password", "ééééééééééé€").is_ok());
        assert!(check_password("password", &"x".repeat(257)).is_err());
    }

    #[test]
    fn names_and_slugs() {
        assert_eq!(check_name("name", "  Ana  ").unwrap(), "Ana");
        assert!(check_name("name", "   ").is_err());
        assert_eq!(check_slug("team", " Support ").unwrap(), "support");
        assert_eq!(check_slug("team", "ml-platform-2").unwrap(), "ml-platform-2");
        assert!(check_slug("team", "ml platform").is_err());
        assert!(check_slug("team", "-x").is_err());
    }
}
