//! The `ffi` module (feature `ffi`, always on in these tests through the
//! crate's dev-dependency on itself): the serde path gives the codes of the
//! JSON path, and the two-halves verifier gives the verdicts and audit of
//! `PublicKey::verify` and `audit`, whoever does the signature arithmetic.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::Value;
use smartmeter_core::ffi::batch::EntryStatus;
use smartmeter_core::ffi::{self, FfiError, Outcome, ReadingsVerifier, Verdict, input, webcrypto};
use smartmeter_core::{
    Algorithm, MAX_JSON_LEN, MeterKey, PublicKey, Reading, SignedReading, audit,
};

fn cases(name: &str) -> Vec<Value> {
    let path = format!("{}/../docs/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["cases"].as_array().unwrap().clone()
}

fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {v}"))
}

fn code<T>(r: &Result<T, FfiError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code.as_str(),
    }
}

/// The outcome of the one-by-one path: parse, then verify.
fn one_by_one(json: &str, key: &PublicKey) -> &'static str {
    match SignedReading::from_json(json.as_bytes()) {
        Err(e) => e.code(),
        Ok(signed) => match key.verify(&signed) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        },
    }
}

/// Whether a JSON object's text names a member twice (a map keeps one).
fn has_repeated_member(text: &str) -> bool {
    struct Members(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Members {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Members;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<M: serde::de::MapAccess<'de>>(
                    self,
                    mut m: M,
                ) -> Result<Members, M::Error> {
                    let mut names = Vec::new();
                    while let Some((k, _)) = m.next_entry::<String, serde::de::IgnoredAny>()? {
                        names.push(k);
                    }
                    Ok(Members(names))
                }
            }
            d.deserialize_map(V)
        }
    }
    let mut names = serde_json::from_str::<Members>(text).unwrap().0;
    let all = names.len();
    names.sort();
    names.dedup();
    names.len() != all
}

#[test]
fn objects_give_the_codes_of_text() {
    let mut compared = 0;
    let mut not_objects = Vec::new();
    let all: Vec<Value> = cases("invalid.json")
        .into_iter()
        .filter(|c| c["kind"] == "json")
        .chain(cases("valid.json"))
        .collect();
    for c in &all {
        let text = c
            .get("input")
            .or(c.get("json"))
            .and_then(Value::as_str)
            .unwrap();
        let from_text = input::reading_from_text(text);
        // A JSON object as a binding holds it: a map of members.
        match serde_json::from_str::<Value>(text) {
            Ok(value)
                if value.is_object()
                    && !has_repeated_member(text)
                    && text.len() <= MAX_JSON_LEN =>
            {
                let members: usize = value
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
                    .sum();
                let from_value = input::check_object_members(members, None)
                    .and_then(|()| input::reading_from_value(&value));
                assert_eq!(code(&from_value), code(&from_text), "{}", s(c, "name"));
                compared += 1;
            }
            _ => not_objects.push(s(c, "name").to_owned()),
        }
    }
    // What a map of members cannot express: a member twice, text after the
    // object, text that is not JSON; and the length limit of the text (an
    // object has none: `check_object_members` bounds its strings instead).
    assert_eq!(
        not_objects,
        [
            "json-duplicate-field",
            "json-trailing-data",
            "json-not-json",
            "json-too-large"
        ],
        "every other case was compared"
    );
    assert_eq!(compared + not_objects.len(), all.len());
}

#[test]
fn the_bounds_before_copying_are_the_parsers_bounds() {
    assert_eq!(code(&input::check_reading_text_len(MAX_JSON_LEN)), "ok");
    assert_eq!(
        code(&input::check_reading_text_len(MAX_JSON_LEN + 1)),
        code(&input::reading_from_text(&" ".repeat(MAX_JSON_LEN + 1)))
    );
    assert_eq!(
        code(&input::check_object_members(MAX_JSON_LEN + 1, None)),
        "reading_too_large"
    );
    let structured = input::check_object_members(10, Some("signature"));
    assert_eq!(code(&structured), "malformed_json");
    assert!(structured.unwrap_err().message.contains("`signature`"));
    assert_eq!(code(&input::check_key_text_len(8192)), "ok");
    assert_eq!(
        code(&input::check_key_text_len(8193)),
        code(&input::key_from_text(&"A".repeat(8193)))
    );
    assert_eq!(
        code(&input::check_key_der_len(1025)),
        code(&input::key_from_der(&[0; 1025]))
    );
    assert_eq!(
        code(&input::check_message_len(83)),
        code(&input::message_from_bytes(&[0; 83]))
    );
    assert_eq!(code(&input::check_message_len(82)), "ok");
}

#[test]
fn key_text_is_pem_or_base64_of_the_der() {
    for c in cases("valid.json") {
        let pem = input::key_from_text(s(&c, "public_key_pem")).unwrap();
        let b64 = input::key_from_text(s(&c, "public_key_der_base64")).unwrap();
        assert_eq!(pem.key_id().to_string(), s(&c, "key_id"));
        assert_eq!(pem, b64);
    }
    assert_eq!(
        code(&input::key_from_text("not a key")),
        "malformed_key_text"
    );
}

#[test]
fn errors_serialise_with_their_code_and_index() {
    let e = input::reading_from_text("{}").unwrap_err().at(3);
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["code"], "malformed_json");
    assert_eq!(json["index"], 3);
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .starts_with("malformed json")
    );
    assert_eq!(e.to_string(), format!("reading 3: {}", e.message));
}

#[test]
fn integrity_is_not_verification() {
    let [a, .., b] = &cases("valid.json")[..] else {
        panic!()
    };
    let reading = input::reading_from_text(s(a, "json")).unwrap();
    let checked = ffi::check_integrity(&reading).unwrap();
    assert!(!checked.authenticated);
    assert_eq!(checked.carried_public_key, s(a, "public_key_der_base64"));
    let other = input::key_from_text(s(b, "public_key_pem")).unwrap();
    assert_eq!(code(&ffi::verify_reading(&reading, &other)), "key_mismatch");
    let json = serde_json::to_value(&checked).unwrap();
    assert_eq!(json["authenticated"], false);
    assert_eq!(
        json["whImported"].to_string(),
        s(&a["reading"], "wh_imported")
    );
}

/// Verdicts as WebCrypto would give them, computed with the core.
fn platform_verdicts(verifier: &ReadingsVerifier, prepared: &ffi::Prepared) -> Vec<Verdict> {
    let key = verifier.key();
    (0..prepared.checks())
        .map(|i| {
            let message = prepared.message(i).unwrap();
            let signature = prepared.signature(i).unwrap();
            let decoded = smartmeter_core::Message::from_bytes(message).unwrap();
            let signed = SignedReading::from_parts(
                prepared.algorithm(i).unwrap(),
                key.clone(),
                decoded.reading,
                signature.to_vec(),
            );
            if key.verify(&signed).is_ok() {
                Verdict::Valid
            } else {
                Verdict::Invalid
            }
        })
        .collect()
}

/// Every json vector with its registered key, through both halves, with
/// platform verdicts and without: the same statuses and codes as one by one.
#[test]
fn both_paths_agree_with_verify_on_every_vector() {
    let mut by_key: Vec<(String, Vec<String>)> = Vec::new();
    let valid = cases("valid.json");
    for c in &valid {
        by_key.push((
            s(c, "public_key_pem").to_owned(),
            vec![s(c, "json").to_owned()],
        ));
    }
    for c in cases("invalid.json").iter().filter(|c| c["kind"] == "json") {
        by_key.push((
            s(c, "registered_public_key_pem").to_owned(),
            vec![s(c, "input").to_owned()],
        ));
    }
    for (pem, readings) in by_key {
        let key = PublicKey::from_pem(&pem).unwrap();
        let expected: Vec<&str> = readings.iter().map(|r| one_by_one(r, &key)).collect();
        let mut outcomes: Vec<Outcome> = Vec::new();
        for platform in [true, false] {
            let mut verifier = ReadingsVerifier::new(key.clone());
            let prepared = verifier.prepare(readings.iter().map(|r| input::reading_from_text(r)));
            let verdicts = if platform {
                platform_verdicts(&verifier, &prepared)
            } else {
                Vec::new()
            };
            let outcome = verifier.conclude(prepared, &verdicts);
            if platform {
                assert_eq!(outcome.checked_here, 0);
            } else {
                assert_eq!(outcome.checked_here, outcome.checks);
            }
            let got: Vec<&str> = (0..readings.len())
                .map(|i| {
                    outcome
                        .failures
                        .iter()
                        .find(|f| f.input == i)
                        .map_or("ok", |f| f.error.code.as_str())
                })
                .collect();
            assert_eq!(got, expected, "{readings:?}");
            outcomes.push(outcome);
        }
        let [a, b] = &mut outcomes[..] else { panic!() };
        b.checked_here = a.checked_here;
        assert_eq!(a, b);
    }
}

/// A meter's readings, signed with the key of a vector case.
struct Meter {
    key: MeterKey,
}

impl Meter {
    fn new() -> Self {
        let c = &cases("valid.json")[0];
        Self {
            key: MeterKey::from_pkcs8_pem(s(c, "private_key_pem")).unwrap(),
        }
    }

    fn json(&self, sequence: u64, wh_imported: u64) -> String {
        let reading = Reading {
            sequence,
            timestamp_ms: 1_764_000_000_000 + sequence * 5_000,
            wh_imported,
            wh_exported: sequence,
        };
        self.key.sign(reading).unwrap().to_json()
    }
}

fn verify_all(verifier: &mut ReadingsVerifier, readings: &[String]) -> Outcome {
    let prepared = verifier.prepare(readings.iter().map(|r| input::reading_from_text(r)));
    let verdicts = platform_verdicts(verifier, &prepared);
    verifier.conclude(prepared, &verdicts)
}

#[test]
fn a_reading_fetched_again_is_a_repeat_and_another_one_a_conflict() {
    let meter = Meter::new();
    let mut verifier = ReadingsVerifier::new(meter.key.public_key().clone());
    let day: Vec<String> = (1..=5).map(|n| meter.json(n, 100 * n)).collect();
    let first = verify_all(&mut verifier, &day);
    assert_eq!(
        (first.verified, first.repeats, first.first_entry),
        (5, 0, 0)
    );
    assert_eq!(first.entries, [0, 1, 2, 3, 4]);
    assert_eq!(first.status, [0; 5]);
    assert_eq!(first.sequence, [1, 2, 3, 4, 5]);

    // Fetched again, with reading 3 replaced by another one the key signed
    // (values between its neighbours'), and reading 4 tampered with.
    let mut again = day.clone();
    again[2] = meter.json(3, 250);
    again[3] = day[3].replace("\"wh_imported\":400", "\"wh_imported\":401");
    let second = verify_all(&mut verifier, &again);
    assert_eq!(second.repeats, 3);
    assert_eq!(second.first_entry, 5);
    assert_eq!(second.entries, [0, 1, 5, 6, 4]);
    assert_eq!(
        second.status,
        [EntryStatus::Verified.id(), EntryStatus::Failed.id()]
    );
    assert_eq!(second.wh_imported, [250, 401]);
    assert_eq!(second.failures.len(), 1);
    assert_eq!((second.failures[0].entry, second.failures[0].input), (6, 3));
    assert_eq!(second.failures[0].error.code.as_str(), "invalid_signature");

    let report = verifier.audit();
    assert_eq!(
        report.readings, 6,
        "five distinct verified readings and the conflicting one"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["findings"],
        serde_json::json!([{"code": "conflict", "sequence": 3, "index": 5, "first": 2}])
    );
    assert_eq!(verifier.entries(), 7);
    assert_eq!(verifier.count(EntryStatus::Verified), 6);
    assert_eq!(verifier.count(EntryStatus::Failed), 1);
}

#[test]
fn the_audit_names_entries_and_matches_the_core_audit() {
    let meter = Meter::new();
    // A gap (4, 5 missing), a failed reading in between, a decrease.
    let readings: Vec<String> = vec![
        meter.json(1, 100),
        "{}".to_owned(),
        meter.json(2, 200),
        meter.json(3, 150),
        meter.json(6, 600),
    ];
    let mut verifier = ReadingsVerifier::new(meter.key.public_key().clone());
    let outcome = verify_all(&mut verifier, &readings);
    assert_eq!(outcome.status, [0, 2, 0, 0, 0]);
    assert_eq!(outcome.failures[0].status, EntryStatus::Unparsed);
    let report = serde_json::to_value(verifier.audit()).unwrap();

    let verified: Vec<_> = [0, 2, 3, 4]
        .iter()
        .map(|&i| {
            meter
                .key
                .public_key()
                .verify(&SignedReading::from_json(readings[i].as_bytes()).unwrap())
                .unwrap()
        })
        .collect();
    let core = serde_json::to_value(audit(&verified).unwrap()).unwrap();
    assert_eq!(report["readings"], core["readings"]);
    assert_eq!(report["keyId"], core["key_id"]);
    // The core names positions in its own list; the verifier names entries.
    let entry_of = [0, 2, 3, 4];
    let findings = core["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2);
    for (mine, theirs) in report["findings"].as_array().unwrap().iter().zip(findings) {
        assert_eq!(mine["code"], theirs["code"]);
        for (camel, snake) in [
            ("index", "index"),
            ("previous", "previous"),
            ("next", "next"),
        ] {
            if let Some(i) = theirs[snake].as_u64() {
                assert_eq!(mine[camel], entry_of[i as usize], "{mine} {theirs}");
            }
        }
    }
}

#[test]
fn the_verdict_decides_and_is_recorded() {
    let meter = Meter::new();
    let readings = [meter.json(1, 1), meter.json(2, 2)];
    let mut verifier = ReadingsVerifier::new(meter.key.public_key().clone());
    let prepared = verifier.prepare(readings.iter().map(|r| input::reading_from_text(r)));
    assert_eq!(prepared.checks(), 2);
    assert_eq!(prepared.messages().len(), 2 * smartmeter_core::MESSAGE_LEN);
    assert_eq!(prepared.signatures().len(), 2 * 256);
    assert_eq!(prepared.signature_range(1), Some(256..512));
    assert_eq!(prepared.message_range(2), None);
    assert_eq!(prepared.algorithm(0), Some(Algorithm::RsaPkcs1v15Sha256));
    assert_eq!(verifier.count(EntryStatus::Pending), 2);
    // A platform that says "invalid" is believed: it did the arithmetic.
    let outcome = verifier.conclude(prepared, &[Verdict::Invalid]);
    assert_eq!(
        outcome.status,
        [1, 0],
        "the second had no verdict: checked here"
    );
    assert_eq!(outcome.checked_here, 1);
    assert_eq!(verifier.count(EntryStatus::Pending), 0);
}

#[test]
fn the_export_is_the_signed_wire_form_of_every_verified_entry() {
    let meter = Meter::new();
    let readings = vec![
        meter.json(1, 1),
        meter
            .json(2, 2)
            .replace("\"wh_exported\":2", "\"wh_exported\":3"),
        meter.json(3, 3),
    ];
    let mut verifier = ReadingsVerifier::new(meter.key.public_key().clone());
    verify_all(&mut verifier, &readings);
    let export: Vec<Value> = serde_json::from_str(&verifier.export_json(0..3)).unwrap();
    let expected: Vec<Value> = [&readings[0], &readings[2]]
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect();
    assert_eq!(export, expected);
    assert_eq!(verifier.export_json(1..2), "[]");
    assert_eq!(verifier.export_json(2..100).len(), readings[2].len() + 2);
}

#[test]
fn webcrypto_terms_of_p256() {
    let ecdsa = webcrypto::for_algorithm(Algorithm::EcdsaP256Sha256).unwrap();
    assert_eq!(
        serde_json::to_value(ecdsa).unwrap(),
        serde_json::json!({"import": {"name": "ECDSA", "namedCurve": "P-256"}, "verify": {"name": "ECDSA", "hash": "SHA-256"}})
    );
    let p256 = cases("valid.json")
        .into_iter()
        .find(|c| c["algorithm"] == 2)
        .unwrap();
    let key = input::key_from_text(s(&p256, "public_key_pem")).unwrap();
    assert_eq!(webcrypto::for_key(&key), Some(ecdsa));
}

#[test]
fn webcrypto_terms_of_rsa() {
    let rsa = webcrypto::for_algorithm(Algorithm::RsaPkcs1v15Sha256).unwrap();
    assert_eq!(
        serde_json::to_value(rsa).unwrap(),
        serde_json::json!({"import": {"name": "RSASSA-PKCS1-v1_5", "hash": "SHA-256"}, "verify": {"name": "RSASSA-PKCS1-v1_5"}})
    );
}

#[test]
fn audit_history_names_the_failing_reading() {
    let meter = Meter::new();
    let key = meter.key.public_key().clone();
    let good = [meter.json(1, 1), meter.json(3, 3)];
    let report =
        ffi::audit_history(good.iter().map(|r| input::reading_from_text(r)), &key).unwrap();
    assert_eq!(
        serde_json::to_value(&report).unwrap()["findings"][0]["code"],
        "gap"
    );
    let bad = [meter.json(1, 1), meter.json(2, 2).replace(":2,", ":20,")];
    let err =
        ffi::audit_history(bad.iter().map(|r| input::reading_from_text(r)), &key).unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.index),
        ("invalid_signature", Some(1))
    );
    let catalogue = ffi::catalogue();
    assert_eq!(catalogue.len(), smartmeter_core::ERROR_CODES.len());
}

#[test]
fn outcomes_of_consecutive_parts_append_to_the_outcome_of_the_whole() {
    let meter = Meter::new();
    let readings: Vec<String> = (1..=6)
        .map(|n| {
            if n == 4 {
                "[]".to_owned()
            } else {
                meter.json(n, n)
            }
        })
        .chain([meter.json(2, 2)])
        .collect();
    let mut whole = ReadingsVerifier::new(meter.key.public_key().clone());
    let all = verify_all(&mut whole, &readings);
    let mut parts = ReadingsVerifier::new(meter.key.public_key().clone());
    let mut combined = verify_all(&mut parts, &readings[..3]);
    combined.append(verify_all(&mut parts, &readings[3..]), 3);
    assert_eq!(combined, all);
    assert_eq!(all.repeats, 1);
    assert_eq!(all.failures[0].input, 3);
    assert_eq!(
        input::not_a_reading("a number").code.as_str(),
        "malformed_json"
    );
}
