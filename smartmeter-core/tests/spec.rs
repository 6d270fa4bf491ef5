//! The tables of `docs/spec.md` that restate a declaration of this crate are
//! checked against it row by row, so that the document cannot drift from the
//! code: the error catalogue (section 11), the order of the history rules
//! (section 3.3) and the audit report's members and finding codes (section 3.4).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use smartmeter_core::audit::{
    Conflict, Duplicate, Finding, FindingCode, Gap, Late, RegisterDecrease, TimestampBackwards,
};
use smartmeter_core::policy::Register;
use smartmeter_core::{AuditReport, ERROR_CODES, ErrorCode, Family};

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

/// One finding of each kind, in `FindingCode::ALL` order.
fn one_of_each() -> Vec<Finding> {
    vec![
        Finding::Gap(Gap {
            first_missing: 2,
            last_missing: 3,
            missing: 2,
            previous: 0,
            next: 1,
        }),
        Finding::Duplicate(Duplicate {
            sequence: 1,
            index: 2,
            original: 0,
        }),
        Finding::Conflict(Conflict {
            sequence: 1,
            index: 2,
            first: 0,
        }),
        Finding::TimestampBackwards(TimestampBackwards {
            sequence: 4,
            index: 1,
            previous: 0,
        }),
        Finding::RegisterDecreased(RegisterDecrease {
            register: Register::WhImported,
            sequence: 4,
            index: 1,
            previous: 0,
        }),
        Finding::Late(Late {
            sequence: 1,
            index: 2,
            after: 1,
        }),
    ]
}

/// The member names of a serialised object (sorted: serde_json's map).
fn members(value: &serde_json::Value) -> Vec<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn section_3_4_lists_the_finding_codes_and_their_members() {
    let doc = spec();
    let text = section(&doc, "### 3.4 Audit report");
    let codes = table(text, "| code | meaning |");
    let documented: Vec<(&str, &str)> = codes
        .iter()
        .map(|r| (unquote(&r[0]), r[1].as_str()))
        .collect();
    let declared: Vec<(&str, &str)> = FindingCode::ALL
        .iter()
        .map(|c| (c.as_str(), c.meaning()))
        .collect();
    assert_eq!(documented, declared);

    let member_rows = table(text, "| code | members |");
    let findings = one_of_each();
    assert_eq!(member_rows.len(), findings.len());
    for (row, finding) in member_rows.iter().zip(&findings) {
        assert_eq!(unquote(&row[0]), finding.code().as_str());
        let json = serde_json::to_value(finding).unwrap();
        assert_eq!(json["code"], finding.code().as_str());
        for member in members(&json).iter().filter(|m| *m != "code") {
            assert!(
                row[1].contains(&format!("`{member}`")),
                "section 3.4 does not name `{member}` of `{}`",
                row[0]
            );
        }
        // And names nothing the code does not produce (register values aside).
        let named: Vec<&str> = row[1]
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|n| !n.starts_with('"'))
            .collect();
        for name in named {
            assert!(
                json.get(name).is_some(),
                "section 3.4 names `{name}` for `{}`, which has no such member",
                row[0]
            );
        }
    }
}

#[test]
fn section_3_4_lists_the_report_members() {
    let doc = spec();
    let rows = table(
        section(&doc, "### 3.4 Audit report"),
        "| member | JSON type | content |",
    );
    let documented: Vec<&str> = rows.iter().map(|r| unquote(&r[0])).collect();
    let report = AuditReport {
        key_id: None,
        readings: 0,
        lowest_sequence: None,
        highest_sequence: None,
        findings: one_of_each(),
    };
    let text = report.to_json();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut sorted = documented.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, members(&json));
    // In the documented order in the JSON text too.
    let positions: Vec<usize> = documented
        .iter()
        .map(|m| text.find(&format!("\"{m}\":")).unwrap())
        .collect();
    assert!(positions.is_sorted(), "{text}");
}
