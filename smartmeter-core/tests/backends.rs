//! Every RSA backend against the others, on native targets where all of
//! them build: ring (what `PublicKey::verify` and `MeterKey::sign` use
//! here), the portable pure-Rust verifier (what wasm32 uses) and the `rsa`
//! crate. The `differential` fuzz target does the same on random inputs.

#![cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::Value;
use smartmeter_core::{MeterKey, PublicKey, backend};

fn valid_cases() -> Vec<Value> {
    let path = format!("{}/../docs/vectors/valid.json", env!("CARGO_MANIFEST_DIR"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["cases"].as_array().unwrap().clone()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// The three verdicts on one input; they must agree.
fn verdicts(key: &PublicKey, message: &[u8], signature: &[u8]) -> [bool; 3] {
    [
        backend::ring_verifier(key)
            .unwrap()
            .verify(message, signature),
        backend::pure_verifier(key)
            .unwrap()
            .verify(message, signature),
        backend::rsa_crate_verifier(key)
            .unwrap()
            .verify(message, signature),
    ]
}

fn assert_all(key: &PublicKey, message: &[u8], signature: &[u8], expected: bool, what: &str) {
    assert_eq!(
        verdicts(key, message, signature),
        [expected; 3],
        "{what} (ring, pure, rsa crate)"
    );
}

/// `n + delta` for a big-endian `n`.
fn add_small(n: &[u8], delta: i16) -> Vec<u8> {
    let mut out = n.to_vec();
    let mut carry = i32::from(delta);
    for byte in out.iter_mut().rev() {
        let sum = i32::from(*byte) + carry;
        *byte = sum.rem_euclid(256) as u8;
        carry = sum.div_euclid(256);
    }
    out
}

#[test]
fn every_backend_signs_the_vectors_byte_for_byte() {
    let mut refused_by_ring = Vec::new();
    for case in valid_cases() {
        let name = case["name"].as_str().unwrap();
        let key = MeterKey::from_pkcs8_pem(case["private_key_pem"].as_str().unwrap()).unwrap();
        let message = unhex(case["canonical_hex"].as_str().unwrap());
        let expected = unhex(case["signature_hex"].as_str().unwrap());
        assert_eq!(
            backend::sign_with_rsa_crate(&key, &message).unwrap(),
            expected,
            "{name}: rsa crate"
        );
        match backend::sign_with_ring(&key, &message) {
            Some(signature) => assert_eq!(signature, expected, "{name}: ring"),
            None => refused_by_ring.push(name.to_string()),
        }
    }
    // ring takes two-prime keys whose primes are each half the modulus
    // long; the 2049-bit vector key is not one, and is signed by the rsa
    // crate instead (the valid vectors test checks MeterKey::sign on it).
    assert_eq!(refused_by_ring, ["rsa2049"]);
}

#[test]
fn every_backend_gives_the_same_verdict_on_valid_and_mutated_signatures() {
    for case in valid_cases() {
        let name = case["name"].as_str().unwrap();
        let key = PublicKey::from_pem(case["public_key_pem"].as_str().unwrap()).unwrap();
        let message = unhex(case["canonical_hex"].as_str().unwrap());
        let signature = unhex(case["signature_hex"].as_str().unwrap());
        let k = key.signature_len();
        assert_eq!(signature.len(), k, "{name}");
        assert_all(&key, &message, &signature, true, name);

        // Every bit of the signature, and a few bits of the message.
        for bit in (0..k * 8).step_by(7) {
            let mut flipped = signature.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert_all(
                &key,
                &message,
                &flipped,
                false,
                &format!("{name}: bit {bit}"),
            );
        }
        for bit in [0, 1, 17 * 8, 81 * 8 + 7] {
            let mut other = message.clone();
            other[bit / 8] ^= 1 << (bit % 8);
            assert_all(
                &key,
                &other,
                &signature,
                false,
                &format!("{name}: message bit {bit}"),
            );
        }

        // Representatives at and around the modulus, and wrong lengths.
        let n = backend::modulus(&key).unwrap();
        let padded = |v: &[u8]| [vec![0; k - v.len()], v.to_vec()].concat();
        let one = padded(&[1]);
        let cases: [(&str, Vec<u8>); 10] = [
            ("s = 0", vec![0; k]),
            ("s = 1", one.clone()),
            ("s = n - 1", padded(&add_small(&n, -1))),
            ("s = n", padded(&n)),
            ("s = n + 1", padded(&add_small(&n, 1))),
            ("s = 2^8k - 1", vec![0xff; k]),
            ("k - 1 bytes", signature[1..].to_vec()),
            ("k + 1 bytes, leading zero", [&[0][..], &signature].concat()),
            (
                "k + 1 bytes, trailing zero",
                [&signature[..], &[0]].concat(),
            ),
            ("empty", Vec::new()),
        ];
        for (what, candidate) in cases {
            assert_all(
                &key,
                &message,
                &candidate,
                false,
                &format!("{name}: {what}"),
            );
        }
    }
}

/// A modulus divisible by 3 is accepted by the key policy; every backend
/// then simply rejects signatures, and none fails in another way.
#[test]
fn a_modulus_divisible_by_3_is_accepted_and_verifies_nothing() {
    let path = format!(
        "{}/../docs/vectors/invalid.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let case = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "json-public-key-modulus-divisible-by-3")
        .unwrap();
    let key = PublicKey::from_pem(case["registered_public_key_pem"].as_str().unwrap()).unwrap();
    let n = backend::modulus(&key).unwrap();
    assert_eq!(n.iter().fold(0u32, |r, &b| (r * 256 + u32::from(b)) % 3), 0);
    assert_eq!(n.last().unwrap() & 1, 1);
    let k = key.signature_len();
    for signature in [vec![0; k], vec![0x5a; k], add_small(&n, -1)] {
        assert_all(&key, b"any message", &signature, false, "divisible by 3");
    }
}
