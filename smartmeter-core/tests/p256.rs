//! Algorithm 2, ECDSA P-256 with SHA-256, through the public API: keys of
//! both kinds side by side, the signature rules in the order of
//! `docs/spec.md` section 9, and the key policy of section 6.4.2 on keys
//! built here byte by byte. The vectors (`tests/vectors.rs`) and OpenSSL
//! (`tests/openssl.rs`) check the same rules on independent inputs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use smartmeter_core::{
    Algorithm, KeySpec, MeterKey, P256_SPKI_PREFIX, PublicKey, Reading, SignedReading, VerifyError,
    ecdsa,
};

fn seeded(label: &str) -> chacha20::ChaCha20Rng {
    use chacha20::rand_core::SeedableRng as _;
    let mut seed = [0u8; 32];
    for (i, b) in label.bytes().enumerate() {
        seed[i % 32] ^= b;
    }
    chacha20::ChaCha20Rng::from_seed(seed)
}

fn p256_key(label: &str) -> MeterKey {
    MeterKey::generate_spec_with_rng(&mut seeded(label), KeySpec::P256).unwrap()
}

const READING: Reading = Reading {
    sequence: 3,
    timestamp_ms: 1_764_000_000_000,
    wh_imported: 1_200,
    wh_exported: 30,
};

/// `signed` with another signature.
fn resigned(signed: &SignedReading, signature: Vec<u8>) -> SignedReading {
    SignedReading::from_parts(
        signed.algorithm(),
        signed.carried_key().unwrap(),
        *signed.reading(),
        signature,
    )
}

fn code(key: &PublicKey, signed: &SignedReading) -> Option<&'static str> {
    key.verify(signed).err().map(|e| e.code())
}

#[test]
fn a_p256_key_signs_deterministically_with_low_s_and_verifies() {
    let key = p256_key("a");
    let public = key.public_key();
    assert_eq!(public.spec(), KeySpec::P256);
    assert_eq!(public.algorithm(), Algorithm::EcdsaP256Sha256);
    assert_eq!(public.bits(), 256);
    assert_eq!(public.signature_len(), 64);
    assert_eq!(public.to_der().len(), 91);
    assert_eq!(public.to_der()[..26], P256_SPKI_PREFIX);

    let signed = key.sign(READING).unwrap();
    assert_eq!(signed.algorithm(), Algorithm::EcdsaP256Sha256);
    assert_eq!(signed.canonical_bytes()[17], 2, "algorithm byte");
    assert_eq!(signed.signature().len(), 64);
    assert!(ecdsa::is_low_s(signed.signature()));
    assert_eq!(key.sign(READING).unwrap(), signed, "RFC 6979");
    let verified = public.verify(&signed).unwrap();
    assert_eq!(verified.algorithm(), Algorithm::EcdsaP256Sha256);

    // Through the wire form and back.
    let json = signed.to_json();
    assert!(
        json.starts_with("{\"version\":1,\"algorithm\":2,"),
        "{json}"
    );
    let parsed = SignedReading::from_json(json.as_bytes()).unwrap();
    assert_eq!(parsed, signed);
    assert_eq!(parsed.carried_key().unwrap(), *public);
    public.verify(&parsed).unwrap();
}

#[test]
fn low_s_normalisation_is_exercised_and_high_s_is_refused() {
    // Over enough readings, RFC 6979 gives a high s about half the time;
    // the signer normalised every one of them.
    let key = p256_key("b");
    let public = key.public_key();
    let mut high_twins = 0;
    for sequence in 0..32 {
        let signed = key
            .sign(Reading {
                sequence,
                ..READING
            })
            .unwrap();
        let low: [u8; 64] = signed.signature().try_into().unwrap();
        assert!(ecdsa::is_low_s(&low));
        let high = ecdsa::negate_s(&low);
        high_twins += usize::from(!ecdsa::is_low_s(&high));
        // The twin is mathematically valid: every backend accepts it ...
        let message = signed.canonical_bytes();
        assert!(
            smartmeter_core::backend::p256_verifier(public)
                .unwrap()
                .verify(&message, &high)
        );
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        assert!(
            smartmeter_core::backend::ring_p256_verifier(public)
                .unwrap()
                .verify(&message, &high)
        );
        // ... and the verifier refuses it with its own code.
        assert_eq!(
            public.verify(&resigned(&signed, high.to_vec())),
            Err(VerifyError::HighS)
        );
    }
    assert_eq!(high_twins, 32, "every low s has a high twin");
}

#[test]
fn the_signature_rules_in_their_order() {
    let key = p256_key("c");
    let public = key.public_key();
    let signed = key.sign(READING).unwrap();
    let raw: [u8; 64] = signed.signature().try_into().unwrap();
    let with = |r: &[u8; 32], s: &[u8; 32]| [&r[..], &s[..]].concat();
    let (r, s): ([u8; 32], [u8; 32]) =
        (raw[..32].try_into().unwrap(), raw[32..].try_into().unwrap());
    let zero = [0u8; 32];
    let mut n_plus_s = ecdsa::ORDER;
    n_plus_s[31] = n_plus_s[31].wrapping_add(1); // n + 1 (no carry: n ends in 0x51)
    for (what, signature, expected) in [
        ("DER", ecdsa::der_from_raw(&raw), "der_signature"),
        (
            "DER of the high twin",
            ecdsa::der_from_raw(&ecdsa::negate_s(&raw)),
            "der_signature",
        ),
        ("63 bytes", raw[..63].to_vec(), "invalid_signature"),
        ("65 bytes", [&raw[..], &[0]].concat(), "invalid_signature"),
        ("empty", vec![], "invalid_signature"),
        ("r = 0", with(&zero, &s), "invalid_signature"),
        ("s = 0", with(&r, &zero), "invalid_signature"),
        ("r = n", with(&ecdsa::ORDER, &s), "invalid_signature"),
        ("s = n", with(&r, &ecdsa::ORDER), "invalid_signature"),
        ("r = n + 1", with(&n_plus_s, &s), "invalid_signature"),
        ("s = n + 1", with(&r, &n_plus_s), "invalid_signature"),
        ("r and s all ones", vec![0xff; 64], "invalid_signature"),
        ("high s", ecdsa::negate_s(&raw).to_vec(), "high_s"),
        (
            "s = (n-1)/2 + 1",
            with(&r, &{
                let mut h = ecdsa::HALF_ORDER;
                h[31] += 1;
                h
            }),
            "high_s",
        ),
        (
            "s = (n-1)/2",
            with(&r, &ecdsa::HALF_ORDER),
            "invalid_signature",
        ),
        (
            "r flipped",
            {
                let mut b = raw;
                b[0] ^= 1;
                b.to_vec()
            },
            "invalid_signature",
        ),
        (
            "s flipped",
            {
                let mut b = raw;
                b[63] ^= 1;
                b.to_vec()
            },
            "invalid_signature",
        ),
        ("r = s", with(&s, &s), "invalid_signature"),
    ] {
        assert_eq!(
            code(public, &resigned(&signed, signature)),
            Some(expected),
            "{what}"
        );
    }
}

#[test]
fn the_algorithm_must_be_the_keys() {
    let p256 = p256_key("d");
    let rsa = MeterKey::generate_with_rng(&mut seeded("rsa"), 2048).unwrap();
    for (key, wrong) in [
        (&p256, Algorithm::RsaPkcs1v15Sha256),
        (&rsa, Algorithm::EcdsaP256Sha256),
    ] {
        let signed = key.sign(READING).unwrap();
        // The same key and signature under the other algorithm id (a
        // different canonical message, but the id is checked first).
        let relabelled = SignedReading::from_parts(
            wrong,
            key.public_key().clone(),
            READING,
            signed.signature().to_vec(),
        );
        let err = key.public_key().verify(&relabelled).unwrap_err();
        assert_eq!(err.code(), "algorithm_mismatch");
        assert_eq!(
            err,
            VerifyError::AlgorithmMismatch {
                reading: wrong.id(),
                key: key.public_key().algorithm().id()
            }
        );
        // Against the other kind of key, the key id decides first.
        let other = if key.public_key().spec() == KeySpec::P256 {
            &rsa
        } else {
            &p256
        };
        assert_eq!(code(other.public_key(), &signed), Some("key_mismatch"));
    }
}

#[test]
fn private_keys_round_trip_through_pkcs8() {
    let key = p256_key("e");
    let pem = key.to_pkcs8_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let again = MeterKey::from_pkcs8_pem(&pem).unwrap();
    assert_eq!(again.key_id(), key.key_id());
    assert_eq!(again.sign(READING).unwrap(), key.sign(READING).unwrap());
    let der = key.to_pkcs8_der().unwrap();
    // version 0, id-ecPublicKey with prime256v1, ECPrivateKey with the
    // public key: 138 bytes, as OpenSSL writes it.
    assert_eq!(der.len(), 138);
    assert_eq!(
        MeterKey::from_pkcs8_der(&der).unwrap().key_id(),
        key.key_id()
    );
    assert!(format!("{key:?}").contains("P256"));
    assert!(!format!("{key:?}").contains(&pem[30..60]));
}

/// A hand-made SubjectPublicKeyInfo: `algorithm` is the DER of the
/// AlgorithmIdentifier's content, `point` the BIT STRING's content after
/// the unused-bits byte.
fn spki(algorithm: &[u8], point: &[u8]) -> Vec<u8> {
    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if body.len() < 0x80 {
            out.push(body.len() as u8);
        } else {
            out.extend([0x81, body.len() as u8]);
        }
        out.extend_from_slice(body);
        out
    }
    let bits = tlv(3, &[&[0u8][..], point].concat());
    tlv(0x30, &[tlv(0x30, algorithm), bits].concat())
}

const EC_OID: [u8; 9] = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const P256_OID: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384_OID: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const K256_OID: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];

#[test]
fn the_p256_key_policy_in_its_order() {
    let key = p256_key("f");
    let der = key.public_key().to_der();
    let point: [u8; 65] = der[26..].try_into().unwrap();
    let named = |oid: &[u8]| [&EC_OID[..], oid].concat();
    assert_eq!(
        spki(&named(&P256_OID), &point),
        der,
        "the hand-made form is the canonical one"
    );

    let mut compressed = vec![2 + (point[64] & 1)];
    compressed.extend_from_slice(&point[1..33]);
    let mut off_curve = point;
    off_curve[64] ^= 1;
    let mut x_is_p = [0xffu8; 65];
    x_is_p[0] = 4;
    // p = 2^256 - 2^224 + 2^192 + 2^96 - 1
    x_is_p[1..33].copy_from_slice(&[
        0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ]);
    let explicit = [&EC_OID[..], &[0x30, 0x03, 0x02, 0x01, 0x01]].concat();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "P-384 OID",
            spki(&named(&P384_OID), &point),
            "unsupported_curve",
        ),
        (
            "secp256k1 OID",
            spki(&named(&K256_OID), &point),
            "unsupported_curve",
        ),
        (
            "explicit parameters",
            spki(&explicit, &point),
            "unsupported_curve",
        ),
        (
            "implicit parameters",
            spki(&[&EC_OID[..], &[5, 0]].concat(), &point),
            "unsupported_curve",
        ),
        ("no parameters", spki(&EC_OID, &point), "malformed_key"),
        (
            "P-384 OID and compressed",
            spki(&named(&P384_OID), &compressed),
            "unsupported_curve",
        ),
        (
            "compressed",
            spki(&named(&P256_OID), &compressed),
            "compressed_point",
        ),
        ("infinity", spki(&named(&P256_OID), &[0]), "malformed_key"),
        (
            "hybrid form",
            spki(&named(&P256_OID), &[&[6u8][..], &point[1..]].concat()),
            "malformed_key",
        ),
        (
            "64 bytes",
            spki(&named(&P256_OID), &point[1..]),
            "malformed_key",
        ),
        (
            "off the curve",
            spki(&named(&P256_OID), &off_curve),
            "malformed_key",
        ),
        ("x = p", spki(&named(&P256_OID), &x_is_p), "malformed_key"),
        ("trailing byte", [der, &[0]].concat(), "malformed_key"),
        ("truncated", der[..90].to_vec(), "malformed_key"),
        (
            "Ed25519",
            spki(&[6, 3, 0x2b, 0x65, 0x70], &[0; 32]),
            "unsupported_key_type",
        ),
    ];
    for (what, input, expected) in cases {
        assert_eq!(
            PublicKey::from_der(&input).err().map(|e| e.code()),
            Some(expected),
            "{what}"
        );
    }
    // Every mutation of the point's bytes is refused or is another valid key.
    for byte in 27..91 {
        let mut mutated = der.to_vec();
        mutated[byte] ^= 0x10;
        if let Ok(other) = PublicKey::from_der(&mutated) {
            assert_ne!(other.key_id(), key.key_id());
        }
    }
}
