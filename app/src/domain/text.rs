//! Small text helpers shared by server and browser.

/// Percent-encodes a query-string value (RFC 3986 unreserved characters and `/` stay as they
/// are, so that paths remain readable in `?next=/…`).
pub fn encode_query_value(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_what_would_break_a_query() {
        assert_eq!(super::encode_query_value("/?a=1&b=2 ü"), "/%3Fa%3D1%26b%3D2%20%C3%BC");
        assert_eq!(super::encode_query_value("/spend"), "/spend");
    }
}
