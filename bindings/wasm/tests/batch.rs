//! Parity of the two signature checkers of `verifyReadings` and
//! `ReadingsVerifier`, in a real JavaScript engine (`cargo test -p
//! smartmeter-wasm --target wasm32-unknown-unknown` runs them on Node, and
//! with `WASM_BINDGEN_USE_BROWSER=1` in headless Chromium): WebCrypto and the
//! core's own verifier give the same verdict and code for every vector, for
//! signatures mutated to the edges of RSA (s = 0, n - 1, n, all ones, bit
//! flips), and the same audit for every policy series. Both give the code
//! that `verifyReading`, the one-by-one path, gives.

#![cfg(target_arch = "wasm32")]
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests fail by panicking"
)]

use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use serde_json::Value;
use smartmeter_wasm::{ReadingsVerifier, audit_history, verify_reading, verify_readings};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

const VALID: &str = include_str!("../../../docs/vectors/valid.json");
const INVALID: &str = include_str!("../../../docs/vectors/invalid.json");
const POLICY: &str = include_str!("../../../docs/vectors/policy.json");

const BACKENDS: [&str; 2] = ["webcrypto", "pure"];

fn cases(doc: &str) -> Vec<Value> {
    let doc: Value = serde_json::from_str(doc).expect("vector file is JSON");
    doc["cases"].as_array().cloned().expect("cases")
}

fn text<'a>(case: &'a Value, field: &str) -> &'a str {
    case[field]
        .as_str()
        .unwrap_or_else(|| panic!("case field {field} is a string"))
}

fn get(object: &JsValue, field: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(field)).expect("property")
}

fn number(object: &JsValue, field: &str) -> f64 {
    get(object, field)
        .as_f64()
        .unwrap_or_else(|| panic!("{field} is a number"))
}

fn options(backend: &str) -> JsValue {
    let o = Object::new();
    Reflect::set(&o, &"backend".into(), &backend.into()).expect("set");
    o.into()
}

fn strings(items: &[String]) -> Array {
    items.iter().map(|s| JsValue::from_str(s)).collect()
}

/// `JSON.stringify` with bigints as `"<digits>n"`: for comparing results.
fn json(value: &JsValue) -> String {
    let f = Function::new_with_args(
        "v",
        "return JSON.stringify(v, (k, x) => typeof x === 'bigint' ? x.toString() + 'n' : \
         (x instanceof Uint8Array || x instanceof Uint32Array || x instanceof BigUint64Array) ? Array.from(x, String) : x)",
    );
    f.call1(&JsValue::NULL, value)
        .expect("stringify")
        .as_string()
        .expect("string")
}

async fn verify_all(readings: &Array, key: &str, backend: &str) -> Result<JsValue, JsValue> {
    JsFuture::from(verify_readings(
        readings.into(),
        JsValue::from_str(key),
        Some(options(backend)),
    ))
    .await
}

/// The code `verifyReading` gives, or "ok".
fn one_by_one(reading: &JsValue, key: &str) -> String {
    match verify_reading(reading.clone(), JsValue::from_str(key)) {
        Ok(_) => "ok".to_owned(),
        Err(e) => get(&e, "code").as_string().expect("code"),
    }
}

/// Per input, "ok" or the failure's code, from an outcome.
fn codes(outcome: &JsValue, inputs: u32) -> Vec<String> {
    let failures: Array = get(outcome, "failures").dyn_into().expect("an array");
    let repeats = number(outcome, "repeats");
    assert_eq!(repeats, 0.0, "no input repeats another here");
    (0..inputs)
        .map(|i| {
            failures
                .iter()
                .find(|f| get(f, "input").as_f64() == Some(f64::from(i)))
                .map_or_else(
                    || "ok".to_owned(),
                    |f| get(&get(&f, "error"), "code").as_string().expect("code"),
                )
        })
        .collect()
}

/// Checks that an outcome says which checker did the arithmetic.
fn assert_checker(outcome: &JsValue, backend: &str, context: &str) {
    assert_eq!(
        get(outcome, "backend").as_string().as_deref(),
        Some(backend),
        "{context}"
    );
    let (checks, here) = (number(outcome, "checks"), number(outcome, "checkedHere"));
    match backend {
        "webcrypto" => assert_eq!(here, 0.0, "{context}: WebCrypto checked every signature"),
        _ => assert_eq!(here, checks, "{context}: the core checked every signature"),
    }
}

/// Every list of readings a vector file gives with its registered key, as
/// (context, registered key PEM, readings).
fn vector_lists() -> Vec<(String, String, Vec<JsValue>)> {
    let mut lists = Vec::new();
    for c in cases(VALID) {
        let name = text(&c, "name");
        let object = js_sys::JSON::parse(text(&c, "json")).expect("parses");
        // Exact integers as bigints (JSON.parse rounds above 2^53 - 1).
        for f in ["sequence", "timestamp_ms", "wh_imported", "wh_exported"] {
            let v =
                js_sys::BigInt::new(&JsValue::from_str(text(&c["reading"], f))).expect("bigint");
            Reflect::set(&object, &JsValue::from_str(f), &v).expect("set");
        }
        let key = text(&c, "public_key_pem").to_owned();
        lists.push((
            format!("{name} (text)"),
            key.clone(),
            vec![JsValue::from_str(text(&c, "json"))],
        ));
        lists.push((format!("{name} (object)"), key, vec![object]));
    }
    for c in cases(INVALID).iter().filter(|c| c["kind"] == "json") {
        lists.push((
            text(c, "name").to_owned(),
            text(c, "registered_public_key_pem").to_owned(),
            vec![JsValue::from_str(text(c, "input"))],
        ));
    }
    lists
}

#[wasm_bindgen_test]
async fn every_json_vector_gets_the_same_verdict_and_code_from_both_checkers() {
    let lists = vector_lists();
    assert!(lists.len() >= 30);
    for (context, key, readings) in lists {
        let inputs: Array = readings.iter().collect();
        let expected: Vec<String> = readings.iter().map(|r| one_by_one(r, &key)).collect();
        let mut results = Vec::new();
        for backend in BACKENDS {
            let outcome = verify_all(&inputs, &key, backend)
                .await
                .unwrap_or_else(|e| panic!("{context}: {backend}: {e:?}"));
            assert_eq!(
                codes(&outcome, inputs.length()),
                expected,
                "{context}: {backend}"
            );
            assert_checker(&outcome, backend, &context);
            // Everything but the name of the checker is the same.
            Reflect::delete_property(outcome.unchecked_ref::<Object>(), &"backend".into())
                .expect("delete");
            Reflect::delete_property(outcome.unchecked_ref::<Object>(), &"checkedHere".into())
                .expect("delete");
            results.push(json(&outcome));
        }
        assert_eq!(results[0], results[1], "{context}");
    }
}

#[wasm_bindgen_test]
async fn a_registered_key_outside_the_policy_is_refused_by_both() {
    for c in cases(INVALID).iter().filter(|c| c["kind"] == "public_key") {
        for backend in BACKENDS {
            let thrown = verify_all(&Array::new(), text(c, "input"), backend)
                .await
                .expect_err("a bad registered key");
            assert!(thrown.is_instance_of::<js_sys::Error>());
            assert_eq!(
                get(&thrown, "code").as_string().as_deref(),
                Some(text(c, "expected_error")),
                "{}: {backend}",
                text(c, "name")
            );
        }
    }
}

/// Big-endian bytes of the RSA modulus inside a SubjectPublicKeyInfo DER:
/// the INTEGER of `k + 1` bytes with a leading zero, or of `k` bytes when
/// its top bit is clear (a 2049-bit modulus, for one).
fn modulus(der: &[u8], k: usize) -> Vec<u8> {
    for len in [k + 1, k] {
        let marker = [0x02, 0x82, (len >> 8) as u8, len as u8];
        if let Some(at) = der.windows(marker.len()).position(|w| w == marker) {
            let start = at + marker.len() + len - k;
            return der[start..start + k].to_vec();
        }
    }
    panic!("no modulus INTEGER of {k} bytes");
}

fn atob(text: &str) -> Vec<u8> {
    let atob: Function = get(&js_sys::global(), "atob").dyn_into().expect("atob");
    let binary = atob
        .call1(&JsValue::NULL, &text.into())
        .expect("base64")
        .as_string()
        .expect("string");
    binary
        .chars()
        .map(|c| u8::try_from(u32::from(c)).expect("byte"))
        .collect()
}

fn btoa(bytes: &[u8]) -> String {
    let btoa: Function = get(&js_sys::global(), "btoa").dyn_into().expect("btoa");
    let binary: String = bytes.iter().map(|b| char::from(*b)).collect();
    btoa.call1(&JsValue::NULL, &binary.into())
        .expect("base64")
        .as_string()
        .expect("string")
}

/// Signatures at the edges of RSA: both checkers refuse each, with
/// `invalid_signature`, and accept the untouched one.
#[wasm_bindgen_test]
async fn both_checkers_refuse_signatures_at_the_edges_of_rsa() {
    // P-256's edges (r or s zero or n, high S, DER, lengths) are vectors of
    // invalid.json, which the test above runs through both checkers.
    for c in cases(VALID).into_iter().filter(|c| c["algorithm"] == 1) {
        let name = text(&c, "name");
        let wire: Value = serde_json::from_str(text(&c, "json")).expect("json");
        let signature = atob(text(&wire, "signature"));
        let k = signature.len();
        let n = modulus(&atob(text(&wire, "public_key")), k);
        let mut n_minus_1 = n.clone();
        if let Some(last) = n_minus_1.last_mut() {
            *last = last.wrapping_sub(1); // n is odd: no borrow
        }
        let mut mutated: Vec<(String, Vec<u8>)> = vec![
            ("s = 0".into(), vec![0; k]),
            ("s = 1".into(), [vec![0; k - 1], vec![1]].concat()),
            ("s = n - 1".into(), n_minus_1),
            ("s = n".into(), n.clone()),
            ("s = 2^(8k) - 1".into(), vec![0xff; k]),
        ];
        for bit in [0, 7, 8 * k / 2, 8 * k - 1] {
            let mut flipped = signature.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            mutated.push((format!("bit {bit} flipped"), flipped));
        }
        let readings: Vec<String> = std::iter::once(text(&c, "json").to_owned())
            .chain(mutated.iter().map(|(_, sig)| {
                let mut w = wire.clone();
                w["signature"] = Value::String(btoa(sig));
                serde_json::to_string(&w).expect("json")
            }))
            .collect();
        let inputs = strings(&readings);
        let key = text(&c, "public_key_pem");
        for backend in BACKENDS {
            let outcome = verify_all(&inputs, key, backend).await.expect("verified");
            let mut expected = vec!["invalid_signature".to_owned(); readings.len()];
            expected[0] = "ok".to_owned();
            assert_eq!(
                codes(&outcome, inputs.length()),
                expected,
                "{name}: {backend}: {mutated:?}"
            );
            assert_checker(&outcome, backend, name);
        }
    }
}

/// A policy series: its readings, and the same list without byte-identical
/// repeats (a verifier holds a set).
fn series(case: &Value) -> (Vec<String>, Vec<String>) {
    let all: Vec<String> = case["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| text(s, "json").to_owned())
        .collect();
    let mut distinct: Vec<String> = Vec::new();
    for r in &all {
        if !distinct.contains(r) {
            distinct.push(r.clone());
        }
    }
    (all, distinct)
}

#[wasm_bindgen_test]
async fn every_policy_series_audits_alike_with_both_checkers() {
    for c in cases(POLICY) {
        let name = text(&c, "name");
        let key = text(&c, "public_key_pem");
        let (all, distinct) = series(&c);
        // The audit of a set of readings is the audit of the list without
        // its byte-identical repeats, with entries for indices.
        let expected = audit_history(strings(&distinct).into(), JsValue::from_str(key))
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        for backend in BACKENDS {
            let outcome = verify_all(&strings(&all), key, backend)
                .await
                .expect("verified");
            assert_eq!(
                number(&outcome, "repeats") as usize,
                all.len() - distinct.len(),
                "{name}"
            );
            assert_eq!(
                json(&get(&outcome, "audit")),
                json(&expected),
                "{name}: {backend}"
            );
        }
        if distinct.len() == all.len() {
            // Without repeats, entries are the input indices: the report of
            // docs/vectors/policy.json itself.
            let report = get(
                &verify_all(&strings(&all), key, "webcrypto")
                    .await
                    .expect("ok"),
                "audit",
            );
            let findings: Array = get(&report, "findings").dyn_into().expect("array");
            let wanted = c["expected_report"]["findings"]
                .as_array()
                .expect("findings");
            assert_eq!(findings.length() as usize, wanted.len(), "{name}");
            for (f, w) in findings.iter().zip(wanted) {
                assert_eq!(
                    get(&f, "code").as_string().as_deref(),
                    w["code"].as_str(),
                    "{name}"
                );
            }
        }
    }
}

/// Pages verified one after another, without waiting, get their entries in
/// call order, and a page fetched again only repeats.
#[wasm_bindgen_test]
async fn pages_in_flight_keep_call_order_and_a_reload_repeats() {
    let c = cases(POLICY)
        .into_iter()
        .find(|c| text(c, "name") == "gateway-burst-reversed")
        .expect("case");
    let key = text(&c, "public_key_pem");
    let (all, _) = series(&c);
    for backend in BACKENDS {
        let verifier = ReadingsVerifier::new(JsValue::from_str(key), Some(options(backend)))
            .expect("verifier");
        let (first, second) = all.split_at(20);
        let a = verifier.verify(strings(first).into());
        let b = verifier.verify(strings(second).into());
        let b = JsFuture::from(b).await.expect("second page");
        let a = JsFuture::from(a).await.expect("first page");
        assert_eq!(number(&a, "firstEntry"), 0.0);
        assert_eq!(number(&b, "firstEntry"), 20.0);
        assert_eq!(
            number(&a, "verified") + number(&b, "verified"),
            all.len() as f64
        );
        let again = JsFuture::from(verifier.verify(strings(&all).into()))
            .await
            .expect("reload");
        assert_eq!(number(&again, "repeats") as usize, all.len(), "{backend}");
        assert_eq!(number(&again, "verified"), 0.0);
        let entries: Vec<u32> = Uint8Array::new(
            &get(&again, "entries")
                .dyn_into::<js_sys::Uint32Array>()
                .expect("u32")
                .buffer(),
        )
        .to_vec()
        .chunks(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
        assert_eq!(entries, (0..all.len() as u32).collect::<Vec<_>>());
        assert_eq!(verifier.entries().expect("entries") as usize, all.len());
        let export: Vec<Value> =
            serde_json::from_str(&verifier.export_json(None, None).expect("export")).expect("json");
        let sent: Vec<Value> = all
            .iter()
            .map(|r| serde_json::from_str(r).expect("json"))
            .collect();
        assert_eq!(
            export, sent,
            "the export is what was verified, in entry order"
        );
        let counts = verifier.counts().expect("counts");
        assert_eq!(number(&counts, "verified") as usize, all.len());
        assert_eq!(number(&counts, "pending"), 0.0);
    }
}

/// Where `crypto.subtle` is absent (a page served over plain http from
/// another host), "auto" uses the core's verifier and "webcrypto" is
/// refused.
#[wasm_bindgen_test]
async fn without_crypto_subtle_auto_falls_back_to_the_core() {
    let c = &cases(VALID)[0];
    let key = JsValue::from_str(text(c, "public_key_pem"));
    let global: Object = js_sys::global().unchecked_into();
    let saved = Object::get_own_property_descriptor(&global, &"crypto".into());
    let hidden = Object::new();
    Reflect::set(&hidden, &"value".into(), &JsValue::UNDEFINED).expect("set");
    Reflect::set(&hidden, &"configurable".into(), &JsValue::TRUE).expect("set");
    Object::define_property(&global, &"crypto".into(), &hidden);
    let auto = ReadingsVerifier::new(key.clone(), None);
    let strict = ReadingsVerifier::new(key.clone(), Some(options("webcrypto")));
    // Restore at once, before anything can fail.
    if saved.is_undefined() {
        Reflect::delete_property(&global, &"crypto".into()).expect("delete");
    } else {
        Object::define_property(&global, &"crypto".into(), &saved.unchecked_into());
    }
    assert!(
        get(&js_sys::global(), "crypto").is_object(),
        "crypto is back"
    );
    let auto = auto.expect("auto works without WebCrypto");
    assert_eq!(auto.backend(), "pure");
    let outcome = JsFuture::from(auto.verify(strings(&[text(c, "json").to_owned()]).into()))
        .await
        .expect("verified");
    assert_checker(&outcome, "pure", "auto without crypto.subtle");
    assert_eq!(number(&outcome, "verified"), 1.0);
    let Err(thrown) = strict else {
        panic!("backend webcrypto without crypto.subtle must be refused");
    };
    assert_eq!(
        get(&thrown, "code").as_string().as_deref(),
        Some("invalid_argument")
    );
    // With crypto.subtle, "auto" is WebCrypto.
    let auto = ReadingsVerifier::new(key, None).expect("auto");
    assert_eq!(auto.backend(), "webcrypto");
}

#[wasm_bindgen_test]
async fn arguments_of_the_wrong_type_reject() {
    let c = &cases(VALID)[0];
    let key = text(c, "public_key_pem");
    let thrown = JsFuture::from(verify_readings("[]".into(), key.into(), None))
        .await
        .expect_err("readings are not an array");
    assert_eq!(
        get(&thrown, "code").as_string().as_deref(),
        Some("invalid_argument")
    );
    let thrown = JsFuture::from(verify_readings(
        Array::new().into(),
        JsValue::UNDEFINED,
        None,
    ))
    .await
    .expect_err("no registered key");
    assert_eq!(
        get(&thrown, "code").as_string().as_deref(),
        Some("invalid_argument")
    );
    let thrown = JsFuture::from(verify_readings(
        Array::new().into(),
        key.into(),
        Some(options("fast")),
    ))
    .await
    .expect_err("no such backend");
    assert_eq!(
        get(&thrown, "code").as_string().as_deref(),
        Some("invalid_argument")
    );
    // Elements of the wrong type are readings that fail, not a failed call.
    let inputs: Array = [
        JsValue::from_f64(1.0),
        JsValue::NULL,
        Array::new().into(),
        text(c, "json").into(),
    ]
    .iter()
    .collect();
    let outcome = verify_all(&inputs, key, "webcrypto")
        .await
        .expect("verified");
    assert_eq!(
        codes(&outcome, 4),
        ["malformed_json", "malformed_json", "malformed_json", "ok"]
    );
    let empty = verify_all(&Array::new(), key, "webcrypto")
        .await
        .expect("empty");
    assert_eq!(number(&empty, "checks"), 0.0);
    assert_eq!(get(&get(&empty, "audit"), "keyId"), JsValue::NULL);
}
