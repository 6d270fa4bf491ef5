//! Checks every shared vector in `docs/vectors/` against this crate.
//!
//! The Python and WASM bindings run the same cases from the same files.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::Value;
use smartmeter_core::{
    ERROR_CODES, ErrorCode, Family, Message, MeterKey, PublicKey, Reading, SignedReading,
};

fn load(name: &str) -> Vec<Value> {
    let path = format!("{}/../docs/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["cases"].as_array().unwrap().clone()
}

fn str_field<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no string field {key}", case["name"]))
}

fn u64_field(reading: &Value, key: &str) -> u64 {
    str_field(reading, key).parse().unwrap()
}

#[test]
fn valid_vectors_verify_and_reproduce_byte_for_byte() {
    let cases = load("valid.json");
    assert!(cases.len() >= 5);
    for case in &cases {
        let name = str_field(case, "name");
        let key = MeterKey::from_pkcs8_pem(str_field(case, "private_key_pem")).unwrap();
        let public = PublicKey::from_pem(str_field(case, "public_key_pem")).unwrap();
        assert_eq!(key.public_key(), &public, "{name}");
        assert_eq!(
            PublicKey::from_base64(str_field(case, "public_key_der_base64")).unwrap(),
            public,
            "{name}"
        );
        assert_eq!(
            public.key_id().to_string(),
            str_field(case, "key_id"),
            "{name}"
        );
        assert_eq!(
            public.bits() as u64,
            case["key_bits"].as_u64().unwrap(),
            "{name}"
        );

        let r = &case["reading"];
        let reading = Reading {
            sequence: u64_field(r, "sequence"),
            timestamp_ms: u64_field(r, "timestamp_ms"),
            wh_imported: u64_field(r, "wh_imported"),
            wh_exported: u64_field(r, "wh_exported"),
        };
        let signed = key.sign(reading).unwrap();
        assert_eq!(
            hex::encode(signed.canonical_bytes()),
            str_field(case, "canonical_hex"),
            "{name}"
        );
        assert_eq!(
            hex::encode(signed.signature()),
            str_field(case, "signature_hex"),
            "{name}"
        );
        assert_eq!(signed.to_json(), str_field(case, "json"), "{name}");

        let parsed = SignedReading::from_json(str_field(case, "json").as_bytes()).unwrap();
        assert_eq!(parsed, signed, "{name}");
        let verified = public.verify(&parsed).unwrap();
        assert_eq!(verified.reading(), &reading, "{name}");
        assert_eq!(verified.key_id(), public.key_id(), "{name}");

        let bytes = hex::decode(str_field(case, "canonical_hex")).unwrap();
        let message = Message::from_bytes(&bytes).unwrap();
        assert_eq!(message.reading, reading, "{name}");
        assert_eq!(message.to_bytes().as_slice(), bytes.as_slice(), "{name}");
    }
}

/// Runs one invalid case through the entry point its kind names and returns the error code.
fn error_code(case: &Value) -> Option<&'static str> {
    let input = str_field(case, "input");
    match str_field(case, "kind") {
        "canonical" => Message::from_bytes(&hex::decode(input).unwrap())
            .err()
            .map(|e| e.code()),
        "public_key" => PublicKey::from_base64(input).err().map(|e| e.code()),
        "json" => {
            let registered =
                PublicKey::from_pem(str_field(case, "registered_public_key_pem")).unwrap();
            match SignedReading::from_json(input.as_bytes()) {
                Err(e) => Some(e.code()),
                Ok(signed) => registered.verify(&signed).err().map(|e| e.code()),
            }
        }
        other => panic!("unknown kind {other}"),
    }
}

#[test]
fn invalid_vectors_fail_with_their_code() {
    let cases = load("invalid.json");
    assert!(cases.len() >= 30);
    for case in &cases {
        let expected = str_field(case, "expected_error");
        assert!(
            ERROR_CODES.contains(&expected),
            "{expected} is not a documented code"
        );
        assert_eq!(error_code(case), Some(expected), "{}", case["name"]);
    }
}

#[test]
fn every_kind_of_invalid_input_is_covered() {
    // Every code of the families that an input to the parsers and the
    // verifier can produce, from the catalogue: none may lack a vector.
    // (Key generation, signing, key-id text, the history rules and the
    // audit have their own tests and policy.json.)
    // Key text has its own file (key_text.json); the other inputs are in invalid.json.
    let cases: Vec<Value> = [load("invalid.json"), load("key_text.json")].concat();
    let input_families = [Family::Decode, Family::Key, Family::Wire, Family::Verify];
    let codes: Vec<ErrorCode> = ErrorCode::ALL
        .iter()
        .copied()
        .filter(|c| input_families.contains(&c.family()))
        .collect();
    assert!(codes.len() >= 14, "{codes:?}");
    for code in codes {
        assert!(
            cases.iter().any(|c| c["expected_error"] == code.as_str()),
            "no invalid vector expects {code}"
        );
    }
}

#[test]
fn key_text_vectors_are_accepted_or_refused_with_their_code() {
    let cases = load("key_text.json");
    assert!(cases.len() >= 20);
    let (mut accepted, mut refused) = (0, 0);
    for case in &cases {
        let name = str_field(case, "name");
        let result = PublicKey::from_text(str_field(case, "input"));
        match case["expected_error"].as_str() {
            None => {
                let key = result.unwrap_or_else(|e| panic!("{name}: refused with {e}"));
                assert_eq!(
                    key.key_id().to_string(),
                    str_field(case, "key_id"),
                    "{name}"
                );
                accepted += 1;
            }
            Some(expected) => {
                assert!(ERROR_CODES.contains(&expected), "{name}: {expected}");
                assert_eq!(result.err().map(|e| e.code()), Some(expected), "{name}");
                refused += 1;
            }
        }
    }
    assert!(
        accepted >= 8 && refused >= 15,
        "{accepted} accepted, {refused} refused"
    );
    for code in ["malformed_key_text", "key_text_too_large"] {
        assert!(
            cases.iter().any(|c| c["expected_error"] == code),
            "no key text vector expects {code}"
        );
    }
}

/// `from_pem` is the PEM half of `from_text`: same verdict on PEM input,
/// and `malformed_key_text` for anything else.
#[test]
fn from_pem_agrees_with_from_text_on_pem_and_refuses_the_rest() {
    for case in &load("key_text.json") {
        let input = str_field(case, "input");
        let pem = PublicKey::from_pem(input).map_err(|e| e.code());
        if input.starts_with("-----") {
            assert_eq!(
                pem,
                PublicKey::from_text(input).map_err(|e| e.code()),
                "{}",
                case["name"]
            );
        } else if input.len() <= smartmeter_core::MAX_KEY_TEXT_LEN {
            assert_eq!(pem.err(), Some("malformed_key_text"), "{}", case["name"]);
        }
    }
}
