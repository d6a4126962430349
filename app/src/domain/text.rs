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

/// One CSV line (RFC 4180, ending in CRLF). Cells that a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@`, tab, CR at the start) get a leading `'` (OWASP's CSV-injection advice),
/// because exports are opened in Excel by people who did not write the data. Plain numbers
/// (`-12.5`) are left alone: they are data, not formulas.
pub fn csv_row(cells: &[&str]) -> String {
    let mut line = cells
        .iter()
        .map(|c| {
            let formula = c.starts_with(['=', '+', '-', '@', '\t', '\r']) && c.parse::<f64>().is_err();
            let c = if formula { format!("'{c}") } else { c.to_string() };
            if c.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(
            super::csv_row(&["a", "b,c", "say \"hi\"", "=SUM(A1)", "line\nbreak", "-12.5"]),
            "a,\"b,c\",\"say \"\"hi\"\"\",'=SUM(A1),\"line\nbreak\",-12.5\r\n"
        );
    }

    #[test]
    fn encodes_what_would_break_a_query() {
        assert_eq!(super::encode_query_value("/?a=1&b=2 ü"), "/%3Fa%3D1%26b%3D2%20%C3%BC");
        assert_eq!(super::encode_query_value("/spend"), "/spend");
    }
}

/// Edit distance (insertions, deletions, substitutions) between two short strings, by chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb { prev } else { 1 + prev.min(cur).min(row[j]) };
            prev = cur;
        }
    }
    row[b.len()]
}

/// The known value a typo most likely meant: the nearest within two edits (case-insensitive),
/// or one that differs only in case.
pub fn closest<'a>(typed: &str, known: &'a [String]) -> Option<&'a str> {
    let t = typed.to_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&t, &k.to_lowercase()), k))
        .filter(|(d, _)| *d <= 2)
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)))
        .map(|(_, k)| k.as_str())
}

#[cfg(test)]
mod closest_tests {
    use super::*;

    #[test]
    fn a_typo_finds_the_value_it_meant() {
        assert_eq!(edit_distance("suport", "support"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        let known = vec!["search".to_string(), "support".to_string(), "platform".to_string()];
        assert_eq!(closest("suport", &known), Some("support"));
        assert_eq!(closest("SEARCH", &known), Some("search"));
        assert_eq!(closest("billing", &known), None);
    }
}
