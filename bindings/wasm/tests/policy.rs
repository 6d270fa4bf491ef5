//! `auditHistory` over `docs/vectors/policy.json`, in a real JavaScript
//! engine (Node, and headless Chromium with `WASM_BINDGEN_USE_BROWSER=1`):
//! every case's series, verified with its registered key and audited, gives
//! the expected report member for member, with `bigint` where the value is a
//! `u64` (exact up to 2^64-1) and `number` where it is an index.

#![cfg(target_arch = "wasm32")]
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests fail by panicking"
)]

use js_sys::{Array, BigInt, Reflect};
use serde_json::Value;
use smartmeter_wasm::{audit_history, error_catalogue, error_codes};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

const POLICY: &str = include_str!("../../../docs/vectors/policy.json");
const VALID: &str = include_str!("../../../docs/vectors/valid.json");
const SPEC: &str = include_str!("../../../docs/spec.md");

fn cases(doc: &str) -> Vec<Value> {
    let doc: Value = serde_json::from_str(doc).expect("vector file is JSON");
    doc.get("cases")
        .and_then(Value::as_array)
        .cloned()
        .expect("vector file has cases")
}

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("field {field} is a string in {v}"))
}

fn get(object: &JsValue, field: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(field)).expect("property")
}

/// `first_missing` to `firstMissing`.
fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The members that are `u64` in the core, hence `bigint` in JavaScript
/// (the declarations in src/audit.rs say the same).
const BIGINT_MEMBERS: [&str; 6] = [
    "sequence",
    "firstMissing",
    "lastMissing",
    "missing",
    "lowestSequence",
    "highestSequence",
];

/// Asserts that a JavaScript value is what the report's JSON form says.
fn assert_member(actual: &JsValue, name: &str, expected: &Value, context: &str) {
    match expected {
        Value::Null => assert!(actual.is_null(), "{context}: {name} is null"),
        Value::String(s) => assert_eq!(
            actual.as_string().as_deref(),
            Some(s.as_str()),
            "{context}: {name}"
        ),
        Value::Number(n) if BIGINT_MEMBERS.contains(&name) => {
            assert!(actual.is_bigint(), "{context}: {name} is a bigint");
            let want = BigInt::new(&JsValue::from_str(&n.to_string())).expect("decimal");
            assert_eq!(actual, &JsValue::from(want), "{context}: {name}");
        }
        Value::Number(n) => {
            let want = n.as_u64().expect("an index") as f64;
            assert_eq!(actual.as_f64(), Some(want), "{context}: {name} is a number");
        }
        other => panic!("{context}: unexpected member {name}: {other}"),
    }
}

/// Asserts that a report object equals the JSON report, member for member.
fn assert_report(actual: &JsValue, expected: &Value, context: &str) {
    let members = expected.as_object().expect("report object");
    let keys = js_sys::Object::keys(actual.unchecked_ref::<js_sys::Object>());
    assert_eq!(keys.length() as usize, members.len(), "{context}: members");
    for (name, want) in members {
        let js = camel(name);
        let value = get(actual, &js);
        if name == "findings" {
            let findings: Array = value.dyn_into().expect("findings is an array");
            let wanted = want.as_array().expect("findings");
            assert_eq!(
                findings.length() as usize,
                wanted.len(),
                "{context}: findings"
            );
            for (i, (finding, want)) in findings.iter().zip(wanted).enumerate() {
                let fields = want.as_object().expect("finding object");
                let keys = js_sys::Object::keys(finding.unchecked_ref::<js_sys::Object>());
                assert_eq!(
                    keys.length() as usize,
                    fields.len(),
                    "{context}: finding {i}"
                );
                for (field, w) in fields {
                    let c = camel(field);
                    assert_member(
                        &get(&finding, &c),
                        &c,
                        w,
                        &format!("{context}: finding {i}"),
                    );
                }
            }
        } else {
            assert_member(&value, &js, want, context);
        }
    }
}

fn series(case: &Value) -> Array {
    case.get("steps")
        .and_then(Value::as_array)
        .expect("steps")
        .iter()
        .map(|s| JsValue::from_str(text(s, "json")))
        .collect()
}

#[wasm_bindgen_test]
fn every_policy_series_audits_to_its_expected_report() {
    let all = cases(POLICY);
    assert!(all.len() >= 15);
    for case in all {
        let name = text(&case, "name");
        let key = JsValue::from_str(text(&case, "public_key_pem"));
        let report =
            audit_history(series(&case).into(), key).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_report(&report, case.get("expected_report").expect("report"), name);
    }
}

fn assert_thrown(thrown: &JsValue, code: &str, index: Option<f64>) {
    assert!(thrown.is_instance_of::<js_sys::Error>(), "{thrown:?}");
    assert_eq!(get(thrown, "code").as_string().as_deref(), Some(code));
    assert_eq!(
        get(thrown, "name").as_string().as_deref(),
        Some("SmartMeterError")
    );
    assert_eq!(get(thrown, "index").as_f64(), index);
    if let Some(i) = index {
        let message = get(thrown, "message").as_string().unwrap_or_default();
        assert!(message.starts_with(&format!("reading {i}: ")), "{message}");
    }
}

#[wasm_bindgen_test]
fn a_reading_that_does_not_verify_names_its_index() {
    let policy = cases(POLICY);
    let case = policy.first().expect("a case");
    let key = JsValue::from_str(text(case, "public_key_pem"));
    let valid = cases(VALID);
    let other = valid.first().expect("a valid vector");

    // Another meter's reading in the middle: key_mismatch at index 1.
    let readings = series(case);
    readings.splice(1, 0, &JsValue::from_str(text(other, "json")));
    let thrown = audit_history(readings.into(), key.clone()).expect_err("another meter");
    assert_thrown(&thrown, "key_mismatch", Some(1.0));

    // A tampered reading: invalid_signature at its index.
    let readings = series(case);
    let tampered = readings.get(2).as_string().expect("text").replacen(
        "\"wh_imported\":",
        "\"wh_imported\":1",
        1,
    );
    readings.set(2, JsValue::from_str(&tampered));
    let thrown = audit_history(readings.into(), key.clone()).expect_err("tampered");
    assert_thrown(&thrown, "invalid_signature", Some(2.0));

    // Not JSON at all: the parse code at its index.
    let readings = series(case);
    readings.set(0, JsValue::from_str("not json"));
    let thrown = audit_history(readings.into(), key.clone()).expect_err("not json");
    assert_thrown(&thrown, "malformed_json", Some(0.0));

    // Not an array, or a bad key: no index.
    let thrown = audit_history(JsValue::from_str("[]"), key).expect_err("not an array");
    assert_thrown(&thrown, "invalid_argument", None);
    let thrown =
        audit_history(series(case).into(), JsValue::from_str("AAAA")).expect_err("bad key");
    assert_thrown(&thrown, "malformed_key", None);
}

#[wasm_bindgen_test]
fn an_empty_history_has_an_empty_report() {
    let case = cases(POLICY).into_iter().next().expect("a case");
    let report = audit_history(
        Array::new().into(),
        JsValue::from_str(text(&case, "public_key_pem")),
    )
    .expect("empty");
    let expected = serde_json::json!({
        "key_id": null, "readings": 0, "lowest_sequence": null,
        "highest_sequence": null, "findings": []
    });
    assert_report(&report, &expected, "empty");
}

/// The rows of the first table with header `header` after the heading line
/// `heading` of docs/spec.md; a cell that is one `code` loses its backticks.
fn spec_table(heading: &str, header: &str) -> Vec<Vec<String>> {
    let after = SPEC
        .split_once(&format!("\n{heading}\n"))
        .map(|(_, rest)| rest)
        .expect("heading");
    after
        .lines()
        .skip_while(|l| *l != header)
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split(" | ")
                .map(|c| {
                    let c = c.trim();
                    match c.strip_prefix('`').and_then(|c| c.strip_suffix('`')) {
                        Some(code) if !code.contains('`') => code.to_string(),
                        _ => c.to_string(),
                    }
                })
                .collect()
        })
        .collect()
}

#[wasm_bindgen_test]
fn the_error_catalogue_is_the_one_of_the_spec() {
    let rows = spec_table("## 11. Errors", "| code | family | meaning | produced by |");
    let catalogue: Vec<Vec<String>> = error_catalogue()
        .iter()
        .map(|e| {
            ["code", "family", "meaning"]
                .iter()
                .map(|f| get(&e, f).as_string().expect("string"))
                .collect()
        })
        .collect();
    let documented: Vec<Vec<String>> = rows.iter().map(|r| r[..3].to_vec()).collect();
    assert_eq!(catalogue, documented);
    let codes: Vec<String> = error_codes().iter().filter_map(|c| c.as_string()).collect();
    let documented_codes: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(codes, documented_codes);
}
