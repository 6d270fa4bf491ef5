//! Every verifier of an algorithm gives the same verdict on every input, and
//! `PublicKey::verify` agrees with them.
//!
//! - RSA (algorithm 1): ring (what `PublicKey::verify` uses on x86_64 and
//!   aarch64), the portable pure-Rust verifier (what wasm32 uses) and the
//!   `rsa` crate.
//! - P-256 (algorithm 2): ring and the `p256` crate (what wasm32 uses). Both
//!   are plain ECDSA and accept a high S; `PublicKey::verify` accepts exactly
//!   what they accept with a low S in the 64-byte form, and reports a high S
//!   as `high_s` and DER as `der_signature`.
//!
//! Keys: every key of `docs/vectors/valid.json` (RSA of 2048, 3072, 4096
//! and 2049 bits; P-256) with its valid signature, and the accepted RSA key
//! whose modulus is divisible by 3 from `invalid.json`. Input: byte 0 picks
//! the key, byte 1 the mutation, the rest is the mutation's material.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use smartmeter_core::backend::{self, p256, pure, ring, rsa_crate};
use smartmeter_core::{Message, PublicKey, SignedReading, VerifyError, ecdsa};

/// The verifiers of one key.
enum Verifiers {
    Rsa {
        modulus: Vec<u8>,
        ring: ring::VerifyingKey,
        pure: pure::VerifyingKey,
        rsa_crate: rsa_crate::VerifyingKey,
    },
    P256 {
        ring: ring::EcdsaVerifyingKey,
        p256: p256::VerifyingKey,
    },
}

impl Verifiers {
    fn of(key: &PublicKey) -> Self {
        match backend::p256_point(key) {
            Some(_) => Self::P256 {
                ring: backend::ring_p256_verifier(key).expect("ring"),
                p256: backend::p256_verifier(key).expect("p256"),
            },
            None => Self::Rsa {
                modulus: backend::modulus(key).expect("modulus"),
                ring: backend::ring_verifier(key).expect("ring"),
                pure: backend::pure_verifier(key).expect("pure"),
                rsa_crate: backend::rsa_crate_verifier(key).expect("rsa crate"),
            },
        }
    }

    /// Every verifier's verdict; they must all be equal.
    fn verdicts(&self, message: &[u8], signature: &[u8]) -> Vec<bool> {
        match self {
            Self::Rsa {
                ring,
                pure,
                rsa_crate,
                ..
            } => vec![
                ring.verify(message, signature),
                pure.verify(message, signature),
                rsa_crate.verify(message, signature),
            ],
            Self::P256 { ring, p256 } => vec![
                ring.verify(message, signature),
                p256.verify(message, signature),
            ],
        }
    }
}

struct Case {
    key: PublicKey,
    verifiers: Verifiers,
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
        verifiers: Verifiers::of(&key),
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

/// The mutations both algorithms share: byte 1 of the input modulo 14.
/// Returns the message, the signature and the expected verdict (`None`
/// when it cannot be known without verifying).
fn mutate(c: &Case, kind: u8, material: &[u8]) -> (Vec<u8>, Vec<u8>, Option<bool>) {
    let k = c.key.signature_len();
    let small = material
        .iter()
        .take(2)
        .fold(0i32, |acc, &b| acc << 8 | i32::from(b));
    let mut message = c.message.clone();
    let mut signature = c.signature.clone();
    let mut expected = Some(c.valid);
    // The value the out-of-range mutations start from: the RSA modulus, or
    // P-256's group order as r and as s.
    let bound = match &c.verifiers {
        Verifiers::Rsa { modulus, .. } => to_len(modulus, k),
        Verifiers::P256 { .. } => [ecdsa::ORDER, ecdsa::ORDER].concat(),
    };
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
            expected = (material == c.message.as_slice())
                .then_some(c.valid)
                .or(Some(false));
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
            // RSA: s = 0. P-256: r = 0 or s = 0, by the parity of `small`.
            match &c.verifiers {
                Verifiers::Rsa { .. } => signature = vec![0; k],
                Verifiers::P256 { .. } => {
                    let half = if small % 2 == 0 { 0..32 } else { 32..64 };
                    signature[half].fill(0);
                }
            }
            expected = Some(false);
        }
        7 => {
            // RSA: n - 1 - x. P-256: the signature's twin (r, n - s), valid
            // exactly when the original is (and high when it was low).
            match &c.verifiers {
                Verifiers::Rsa { .. } => {
                    signature = add_small(&bound, -1 - small);
                    expected = None;
                }
                Verifiers::P256 { .. } => {
                    let raw: [u8; 64] = signature.as_slice().try_into().expect("64 bytes");
                    signature = ecdsa::negate_s(&raw).to_vec();
                }
            }
        }
        8 => {
            // n + x (RSA), or r and s at n + x (P-256, both >= n).
            signature = add_small(&bound, small);
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
        _ => match &c.verifiers {
            Verifiers::Rsa { .. } => {
                signature = to_len(&small.to_be_bytes(), k);
                expected = Some(false);
            }
            Verifiers::P256 { .. } => {
                // The DER form OpenSSL would write: never 64 bytes long.
                let raw: [u8; 64] = signature.as_slice().try_into().expect("64 bytes");
                signature = ecdsa::der_from_raw(&raw);
                expected = Some(false);
            }
        },
    }
    (message, signature, expected)
}

fuzz_target!(|data: &[u8]| {
    let [pick, kind, material @ ..] = data else {
        return;
    };
    let c = &CASES[usize::from(*pick) % CASES.len()];
    let (message, signature, expected) = mutate(c, *kind, material);

    let verdicts = c.verifiers.verdicts(&message, &signature);
    assert!(
        verdicts.iter().all(|&v| v == verdicts[0]),
        "backends disagree: {verdicts:?}"
    );
    if let Some(expected) = expected {
        assert_eq!(verdicts[0], expected);
    }
    // The whole verification path of the target agrees, when the message is
    // the canonical message of a reading signed under this key.
    let Ok(decoded) = Message::from_bytes(&message) else {
        return;
    };
    if decoded.key_id != c.key.key_id() || decoded.algorithm != c.key.algorithm() {
        return;
    }
    let signed = SignedReading::from_parts(
        decoded.algorithm,
        c.key.clone(),
        decoded.reading,
        signature.clone(),
    );
    let result = c.key.verify(&signed);
    match &c.verifiers {
        Verifiers::Rsa { .. } => assert_eq!(result.is_ok(), verdicts[0]),
        Verifiers::P256 { .. } => {
            // The core accepts what ECDSA accepts in the one form it allows;
            // a valid signature refused only for its form has its own code.
            let form = ecdsa::check_signature(&signature);
            assert_eq!(result.is_ok(), verdicts[0] && form.is_ok());
            match (&form, &result) {
                (Err(VerifyError::HighS), Err(e)) => assert_eq!(e, &VerifyError::HighS),
                (Err(VerifyError::DerSignature), Err(e)) => {
                    assert_eq!(e, &VerifyError::DerSignature)
                }
                _ => {}
            }
            if verdicts[0] && signature.len() == 64 {
                // Exactly one of a valid signature and its twin is accepted.
                let raw: [u8; 64] = signature.as_slice().try_into().expect("64 bytes");
                let twin = SignedReading::from_parts(
                    decoded.algorithm,
                    c.key.clone(),
                    decoded.reading,
                    ecdsa::negate_s(&raw).to_vec(),
                );
                assert_ne!(result.is_ok(), c.key.verify(&twin).is_ok());
            }
        }
    }
});
