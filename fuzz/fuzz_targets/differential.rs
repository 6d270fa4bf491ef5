//! Every RSA verifier gives the same verdict on every input: ring (what
//! `PublicKey::verify` uses on x86_64 and aarch64), the portable pure-Rust
//! verifier (what wasm32 uses) and the `rsa` crate; and `PublicKey::verify`
//! agrees with them.
//!
//! Keys: every key of `docs/vectors/valid.json` (2048, 3072, 4096 and 2049
//! bits) with its valid signature, and the accepted key whose modulus is
//! divisible by 3 from `invalid.json`. Input: byte 0 picks the key, byte 1
//! the mutation, the rest is the mutation's material.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use smartmeter_core::backend::{self, pure, ring, rsa_crate};
use smartmeter_core::{Algorithm, Message, PublicKey, SignedReading};

struct Case {
    key: PublicKey,
    modulus: Vec<u8>,
    ring: ring::VerifyingKey,
    pure: pure::VerifyingKey,
    rsa_crate: rsa_crate::VerifyingKey,
    message: Vec<u8>,
    signature: Vec<u8>,
    /// Whether `signature` is valid for `message` under `key`.
    valid: bool,
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn case(key: PublicKey, message: Vec<u8>, signature: Vec<u8>, valid: bool) -> Case {
    Case {
        modulus: backend::modulus(&key).expect("modulus"),
        ring: backend::ring_verifier(&key).expect("ring"),
        pure: backend::pure_verifier(&key).expect("pure"),
        rsa_crate: backend::rsa_crate_verifier(&key).expect("rsa crate"),
        key,
        message,
        signature,
        valid,
    }
}

static CASES: LazyLock<Vec<Case>> = LazyLock::new(|| {
    let load = |text: &str| -> Vec<Value> {
        let doc: Value = serde_json::from_str(text).expect("vector file");
        doc["cases"].as_array().expect("cases").clone()
    };
    let mut cases = Vec::new();
    for c in load(include_str!("../../docs/vectors/valid.json")) {
        let key = PublicKey::from_pem(c["public_key_pem"].as_str().expect("pem")).expect("key");
        let message = unhex(c["canonical_hex"].as_str().expect("hex"));
        let signature = unhex(c["signature_hex"].as_str().expect("hex"));
        cases.push(case(key, message, signature, true));
    }
    let divisible_by_3 = load(include_str!("../../docs/vectors/invalid.json"))
        .into_iter()
        .find(|c| c["name"] == "json-public-key-modulus-divisible-by-3")
        .expect("the divisible-by-3 vector");
    let key = PublicKey::from_pem(
        divisible_by_3["registered_public_key_pem"]
            .as_str()
            .expect("pem"),
    )
    .expect("a modulus divisible by 3 is accepted");
    let (message, signature) = (cases[0].message.clone(), cases[0].signature.clone());
    cases.push(case(key, message, signature, false));
    cases
});

/// `n + delta` for a big-endian `n`, keeping its length (wrapping).
fn add_small(n: &[u8], delta: i32) -> Vec<u8> {
    let mut out = n.to_vec();
    let mut carry = delta;
    for byte in out.iter_mut().rev() {
        let sum = i32::from(*byte) + carry;
        *byte = sum.rem_euclid(256) as u8;
        carry = sum.div_euclid(256);
    }
    out
}

/// `bytes` left-padded with zeros (or cut from the left) to `len` bytes.
fn to_len(bytes: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0; len.saturating_sub(bytes.len())];
    out.extend_from_slice(&bytes[bytes.len().saturating_sub(len)..]);
    out
}

fuzz_target!(|data: &[u8]| {
    let [pick, kind, material @ ..] = data else {
        return;
    };
    let c = &CASES[usize::from(*pick) % CASES.len()];
    let k = c.key.signature_len();
    let small = material
        .iter()
        .take(2)
        .fold(0i32, |acc, &b| acc << 8 | i32::from(b));
    let mut message = c.message.clone();
    let mut signature = c.signature.clone();
    let mut expected = Some(c.valid);
    match kind % 14 {
        0 => {}
        1 => {
            let bit = small as usize % (k * 8);
            signature[bit / 8] ^= 1 << (bit % 8);
            expected = Some(false);
        }
        2 => {
            let bit = small as usize % (message.len() * 8);
            message[bit / 8] ^= 1 << (bit % 8);
            expected = Some(false);
        }
        3 => {
            expected = (material == c.message.as_slice()).then_some(c.valid).or(Some(false));
            message = material.to_vec();
        }
        4 => {
            signature = material.to_vec();
            expected = None;
        }
        5 => {
            signature = to_len(material, k);
            expected = None;
        }
        6 => {
            signature = vec![0; k];
            expected = Some(false);
        }
        7 => {
            signature = add_small(&to_len(&c.modulus, k), -1 - small);
            expected = None;
        }
        8 => {
            signature = add_small(&to_len(&c.modulus, k), small);
            expected = None;
        }
        9 => {
            signature = vec![0xff; k];
            expected = Some(false);
        }
        10 => {
            for (byte, mask) in signature.iter_mut().zip(material.iter().cycle()) {
                *byte ^= mask;
            }
            expected = material.iter().all(|&b| b == 0).then_some(c.valid);
        }
        11 => {
            signature.truncate(k.saturating_sub(1 + small as usize % 8));
            expected = Some(false);
        }
        12 => {
            if small % 2 == 0 {
                signature.insert(0, 0);
            } else {
                signature.extend_from_slice(material);
                signature.push(0);
            }
            expected = Some(false);
        }
        _ => {
            signature = to_len(&small.to_be_bytes(), k);
            expected = Some(false);
        }
    }

    let verdicts = [
        c.ring.verify(&message, &signature),
        c.pure.verify(&message, &signature),
        c.rsa_crate.verify(&message, &signature),
    ];
    assert!(
        verdicts.iter().all(|&v| v == verdicts[0]),
        "backends disagree (ring, pure, rsa crate): {verdicts:?}"
    );
    if let Some(expected) = expected {
        assert_eq!(verdicts[0], expected);
    }
    // The whole verification path of the target agrees, when the message is
    // the canonical message of a reading signed under this key.
    if let Ok(decoded) = Message::from_bytes(&message) {
        if decoded.key_id == c.key.key_id() {
            let signed = SignedReading::from_parts(
                Algorithm::RsaPkcs1v15Sha256,
                c.key.clone(),
                decoded.reading,
                signature,
            );
            assert_eq!(c.key.verify(&signed).is_ok(), verdicts[0]);
        }
    }
});
