//! The shared vectors (`docs/vectors/`) through the JavaScript API, in a real
//! JavaScript engine: `cargo test -p smartmeter-wasm --target
//! wasm32-unknown-unknown` runs them on Node, and with
//! `WASM_BINDGEN_USE_BROWSER=1` in headless Chromium.
//!
//! The tests call the exported functions with `JsValue`s, exactly as
//! JavaScript does, and check what JavaScript sees: `bigint` fields, and
//! thrown values that are real `Error`s with the core's `code`.

#![cfg(target_arch = "wasm32")]
#![allow(
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    reason = "tests fail by panicking"
)]

use js_sys::{BigInt, JsString, Reflect, Uint8Array};
use serde_json::Value;
use smartmeter_wasm::{canonical_bytes, decode_canonical, error_codes, key_id, verify_reading};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

const VALID: &str = include_str!("../../../docs/vectors/valid.json");
const INVALID: &str = include_str!("../../../docs/vectors/invalid.json");
const KEY_TEXT: &str = include_str!("../../../docs/vectors/key_text.json");

fn cases(doc: &str) -> Vec<Value> {
    let doc: Value = serde_json::from_str(doc).expect("vector file is JSON");
    doc.get("cases")
        .and_then(Value::as_array)
        .cloned()
        .expect("vector file has cases")
}

fn text<'a>(case: &'a Value, field: &str) -> &'a str {
    case.get(field)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("case field {field} is a string"))
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| {
            let pair = text.get(i..i + 2).expect("even number of hex digits");
            u8::from_str_radix(pair, 16).expect("hex digits")
        })
        .collect()
}

fn get(object: &JsValue, field: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(field)).expect("property")
}

fn big(decimal: &str) -> JsValue {
    BigInt::new(&JsValue::from_str(decimal))
        .expect("decimal text")
        .into()
}

/// The thrown value is a real `Error` whose `code` is `expected`.
fn assert_error(thrown: &JsValue, expected: &str, case: &str) {
    assert!(
        thrown.is_instance_of::<js_sys::Error>(),
        "{case}: thrown value is not an Error: {thrown:?}"
    );
    assert_eq!(
        get(thrown, "code").as_string().as_deref(),
        Some(expected),
        "{case}"
    );
    assert_eq!(
        get(thrown, "name").as_string().as_deref(),
        Some("SmartMeterError"),
        "{case}"
    );
    let message = get(thrown, "message").as_string().unwrap_or_default();
    assert!(!message.is_empty(), "{case}: an error has a message");
}

fn assert_fields(verified: &JsValue, case: &Value) {
    let name = text(case, "name");
    let reading = case.get("reading").expect("reading");
    for (js, vector) in [
        ("sequence", "sequence"),
        ("timestampMs", "timestamp_ms"),
        ("whImported", "wh_imported"),
        ("whExported", "wh_exported"),
    ] {
        let value = get(verified, js);
        assert!(value.is_bigint(), "{name}: {js} is a bigint");
        assert_eq!(value, big(text(reading, vector)), "{name}: {js}");
    }
    assert_eq!(
        get(verified, "keyId").as_string().as_deref(),
        Some(text(case, "key_id")),
        "{name}"
    );
    assert_eq!(get(verified, "algorithm").as_f64(), Some(1.0), "{name}");
    assert_eq!(
        get(verified, "publicKey").as_string().as_deref(),
        Some(text(case, "public_key_der_base64")),
        "{name}"
    );
}

#[wasm_bindgen_test]
fn valid_vectors_verify_from_text_with_and_without_the_registered_key() {
    for case in cases(VALID) {
        let name = text(&case, "name");
        let wire = JsValue::from_str(text(&case, "json"));
        let carried = verify_reading(wire.clone(), None)
            .unwrap_or_else(|e| panic!("{name}: carried key: {e:?}"));
        assert_fields(&carried, &case);
        for registered in [
            text(&case, "public_key_pem"),
            text(&case, "public_key_der_base64"),
        ] {
            let verified = verify_reading(wire.clone(), Some(JsString::from(registered)))
                .unwrap_or_else(|e| panic!("{name}: registered key: {e:?}"));
            assert_fields(&verified, &case);
        }
    }
}

#[wasm_bindgen_test]
fn valid_vectors_verify_from_objects_with_bigints() {
    for case in cases(VALID) {
        let name = text(&case, "name");
        let object = js_sys::JSON::parse(text(&case, "json")).expect("wire JSON parses");
        let reading = case.get("reading").expect("reading");
        for field in ["sequence", "timestamp_ms", "wh_imported", "wh_exported"] {
            Reflect::set(
                &object,
                &JsValue::from_str(field),
                &big(text(reading, field)),
            )
            .expect("set");
        }
        let verified = verify_reading(object, Some(JsString::from(text(&case, "public_key_pem"))))
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_fields(&verified, &case);
    }
}

#[wasm_bindgen_test]
fn objects_with_numbers_verify_when_safe_and_are_rejected_when_not() {
    for case in cases(VALID) {
        let name = text(&case, "name");
        // JSON.parse turns every integer into a number, rounding above 2^53-1.
        let object = js_sys::JSON::parse(text(&case, "json")).expect("wire JSON parses");
        let reading = case.get("reading").expect("reading");
        let all_safe = ["sequence", "timestamp_ms", "wh_imported", "wh_exported"]
            .iter()
            .all(|f| text(reading, f).parse::<u64>().is_ok_and(|v| v < 1 << 53));
        match verify_reading(object, None) {
            Ok(verified) => {
                assert!(all_safe, "{name}: accepted a rounded number");
                assert_fields(&verified, &case);
            }
            Err(thrown) => {
                assert!(!all_safe, "{name}: rejected safe numbers: {thrown:?}");
                assert_error(&thrown, "malformed_json", name);
            }
        }
    }
}

#[wasm_bindgen_test]
fn key_ids_and_canonical_bytes_of_valid_vectors() {
    for case in cases(VALID) {
        let name = text(&case, "name");
        let expected = Some(text(&case, "key_id").to_owned());
        let der = Uint8Array::from(base64_der(text(&case, "public_key_der_base64")).as_slice());
        for key in [
            JsValue::from_str(text(&case, "public_key_pem")),
            JsValue::from_str(text(&case, "public_key_der_base64")),
            der.into(),
        ] {
            assert_eq!(key_id(key).ok(), expected, "{name}");
        }
        let bytes = canonical_bytes(JsValue::from_str(text(&case, "json")))
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(bytes.to_vec(), hex(text(&case, "canonical_hex")), "{name}");
        let decoded = decode_canonical(bytes.into()).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(get(&decoded, "keyId").as_string(), expected, "{name}");
        assert_eq!(
            get(&decoded, "whImported"),
            big(text(case.get("reading").expect("reading"), "wh_imported")),
            "{name}"
        );
    }
}

/// Standard padded base64, decoded by the JavaScript engine itself.
fn base64_der(text: &str) -> Vec<u8> {
    let global = js_sys::global();
    let atob: js_sys::Function = get(&global, "atob").dyn_into().expect("atob exists");
    let binary = atob
        .call1(&JsValue::NULL, &JsValue::from_str(text))
        .expect("base64")
        .as_string()
        .expect("string");
    binary
        .chars()
        .map(|c| u8::try_from(u32::from(c)).expect("byte"))
        .collect()
}

#[wasm_bindgen_test]
fn invalid_vectors_throw_errors_with_the_core_code() {
    let codes: Vec<String> = error_codes().iter().filter_map(|c| c.as_string()).collect();
    let all = cases(INVALID);
    assert!(all.len() >= 30, "the invalid vectors are all here");
    for case in all {
        let name = text(&case, "name");
        let expected = text(&case, "expected_error");
        assert!(
            codes.iter().any(|c| c == expected),
            "{name}: {expected} is listed"
        );
        let input = text(&case, "input");
        let thrown = match text(&case, "kind") {
            "canonical" => decode_canonical(Uint8Array::from(hex(input).as_slice()).into()).err(),
            "public_key" => key_id(JsValue::from_str(input)).err(),
            "json" => verify_reading(
                JsValue::from_str(input),
                Some(JsString::from(text(&case, "registered_public_key_pem"))),
            )
            .err(),
            other => panic!("{name}: unknown kind {other}"),
        };
        let thrown = thrown.unwrap_or_else(|| panic!("{name}: accepted"));
        assert_error(&thrown, expected, name);
    }
}

#[wasm_bindgen_test]
fn key_text_vectors_are_accepted_or_refused_with_the_core_code() {
    let all = cases(KEY_TEXT);
    assert!(all.len() >= 20, "the key text vectors are all here");
    for case in all {
        let name = text(&case, "name");
        let result = key_id(JsValue::from_str(text(&case, "input")));
        match case.get("expected_error").and_then(Value::as_str) {
            None => assert_eq!(
                result.ok().as_deref(),
                Some(text(&case, "key_id")),
                "{name}"
            ),
            Some(expected) => {
                let thrown = result.err().unwrap_or_else(|| panic!("{name}: accepted"));
                assert_error(&thrown, expected, name);
            }
        }
    }
}

#[wasm_bindgen_test]
fn wrong_registered_key_is_key_mismatch() {
    let valid = cases(VALID);
    let (first, second) = (valid.first().expect("case"), valid.get(3).expect("case"));
    assert_ne!(text(first, "key_id"), text(second, "key_id"));
    let thrown = verify_reading(
        JsValue::from_str(text(first, "json")),
        Some(JsString::from(text(second, "public_key_pem"))),
    )
    .expect_err("another meter's key");
    assert_error(&thrown, "key_mismatch", "key mismatch");
    let thrown = verify_reading(
        JsValue::from_str(text(first, "json")),
        Some(JsString::from("AAAA")),
    )
    .expect_err("a bad registered key");
    assert_error(&thrown, "malformed_key", "bad registered key");
}

#[wasm_bindgen_test]
fn values_of_the_wrong_type_are_invalid_argument() {
    for value in [
        JsValue::from_f64(1.0),
        JsValue::NULL,
        JsValue::UNDEFINED,
        js_sys::Array::new().into(),
    ] {
        let thrown = verify_reading(value.clone(), None).expect_err("not a reading");
        assert_error(&thrown, "invalid_argument", "verifyReading");
        let thrown = canonical_bytes(value.clone()).expect_err("not a reading");
        assert_error(&thrown, "invalid_argument", "canonicalBytes");
        let thrown = key_id(value).expect_err("not a key");
        assert_error(&thrown, "invalid_argument", "keyId");
    }
}

#[wasm_bindgen_test]
fn oversized_inputs_are_refused_with_the_core_codes() {
    let huge = "x".repeat(1 << 20);
    let thrown = verify_reading(JsValue::from_str(&huge), None).expect_err("1 MiB of text");
    assert_error(&thrown, "reading_too_large", "huge text");
    let object = js_sys::Object::new();
    Reflect::set(
        &object,
        &JsValue::from_str("signature"),
        &JsValue::from_str(&huge),
    )
    .expect("set");
    let thrown = verify_reading(object.into(), None).expect_err("1 MiB in an object");
    assert_error(&thrown, "reading_too_large", "huge field");
    let thrown = key_id(JsValue::from_str(&huge)).expect_err("1 MiB key");
    assert_error(&thrown, "key_text_too_large", "huge key text");
    let thrown = key_id(Uint8Array::new_with_length(1 << 20).into()).expect_err("1 MiB DER");
    assert_error(&thrown, "malformed_key", "huge key bytes");
    let thrown = decode_canonical(Uint8Array::new_with_length(1 << 20).into()).expect_err("1 MiB");
    assert_error(&thrown, "wrong_length", "huge canonical bytes");
    let thrown = decode_canonical(JsValue::from_str("bytes")).expect_err("not bytes");
    assert_error(
        &thrown,
        "invalid_argument",
        "canonical bytes of the wrong type",
    );
}

#[cfg(feature = "sign")]
#[wasm_bindgen_test]
fn signing_reproduces_the_valid_vectors() {
    use smartmeter_wasm::{public_key_of, sign_reading};
    for case in cases(VALID) {
        let name = text(&case, "name");
        let reading = case.get("reading").expect("reading");
        let values = js_sys::Object::new();
        for (js, vector) in [
            ("sequence", "sequence"),
            ("timestampMs", "timestamp_ms"),
            ("whImported", "wh_imported"),
            ("whExported", "wh_exported"),
        ] {
            Reflect::set(&values, &JsValue::from_str(js), &big(text(reading, vector)))
                .expect("set");
        }
        let private = text(&case, "private_key_pem");
        assert_eq!(
            public_key_of(private).ok().as_deref(),
            Some(text(&case, "public_key_der_base64")),
            "{name}"
        );
        let json = sign_reading(private, values.into()).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(
            json,
            text(&case, "json"),
            "{name}: signing is deterministic"
        );
    }
}
