//! The tables of `docs/spec.md` that restate a declaration of this crate are
//! checked against it row by row, so that the document cannot drift from the
//! code: the error catalogue (section 11) and the order of the history rules
//! (section 3.3).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use smartmeter_core::{ERROR_CODES, ErrorCode, Family};

fn spec() -> String {
    let path = format!("{}/../docs/spec.md", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The text of the section that starts with `heading` (a whole line), up
/// to the next heading of the same or a higher level.
fn section<'a>(doc: &'a str, heading: &str) -> &'a str {
    let level = heading.chars().take_while(|&c| c == '#').count();
    let start = doc
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("docs/spec.md has no heading `{heading}`"))
        + 1;
    let body = &doc[start + heading.len()..];
    let end = body
        .match_indices("\n#")
        .find(|(i, _)| {
            let hashes = body[i + 1..].chars().take_while(|&c| c == '#').count();
            hashes <= level && body[i + 1 + hashes..].starts_with(' ')
        })
        .map_or(body.len(), |(i, _)| i);
    &body[..end]
}

/// The rows of the table whose header row is exactly `header`, as cells.
fn table(text: &str, header: &str) -> Vec<Vec<String>> {
    let mut lines = text.lines().skip_while(|l| l.trim() != header);
    assert!(
        lines.next().is_some(),
        "no table with header `{header}` in:\n{text}"
    );
    let separator = lines.next().unwrap_or_default();
    assert!(
        separator.starts_with("|---"),
        "`{header}`: no separator row"
    );
    lines
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// `` `x` `` to `x`.
fn unquote(cell: &str) -> &str {
    cell.strip_prefix('`')
        .and_then(|c| c.strip_suffix('`'))
        .unwrap_or_else(|| panic!("`{cell}` is not one code in backticks"))
}

#[test]
fn section_11_lists_the_catalogue_in_order() {
    let doc = spec();
    let rows = table(
        section(&doc, "## 11. Errors"),
        "| code | family | meaning | produced by |",
    );
    let documented: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (unquote(&r[0]), unquote(&r[1]), r[2].as_str()))
        .collect();
    let catalogue: Vec<(&str, &str, &str)> = ErrorCode::ALL
        .iter()
        .map(|c| (c.as_str(), c.family().as_str(), c.meaning()))
        .collect();
    assert_eq!(documented, catalogue);
    assert_eq!(
        documented.iter().map(|r| r.0).collect::<Vec<_>>(),
        ERROR_CODES
    );
    for row in &rows {
        assert!(!row[3].is_empty(), "{}: says what produces it", row[0]);
    }
}

#[test]
fn the_spec_no_longer_says_malformed_key_id_is_outside_the_catalogue() {
    let doc = spec();
    assert!(!doc.contains("not listed in `ERROR_CODES`"));
    assert_eq!(
        "malformed_key_id"
            .parse::<ErrorCode>()
            .map(ErrorCode::family),
        Ok(Family::KeyId)
    );
}

#[test]
fn section_3_3_states_the_rules_in_the_catalogue_order() {
    let doc = spec();
    let rows = table(
        section(&doc, "### 3.3 History rules"),
        "| rule | condition | outcome |",
    );
    let documented: Vec<&str> = rows.iter().map(|r| unquote(&r[2])).collect();
    let policy: Vec<&str> = ErrorCode::ALL
        .iter()
        .filter(|c| c.family() == Family::Policy)
        .map(|c| c.as_str())
        .collect();
    assert_eq!(documented, policy);
    assert_eq!(
        documented,
        [
            "stale_sequence",
            "timestamp_in_future",
            "timestamp_backwards",
            "register_decreased"
        ],
        "the one order of the rules (issue 9); the server and docs/api.md use it too"
    );
    let numbers: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(numbers, ["1", "2", "3", "4"]);
}
