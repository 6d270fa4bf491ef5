//! The invalid cases of algorithm 2, ECDSA P-256 (`docs/spec.md` section
//! 6.4): signatures outside the format rules, keys outside the key policy,
//! and a P-256 reading labelled with algorithm 1.
//!
//! Keys on other curves are those curves' base points (a key whose private
//! key is 1): real points of those curves, written as OpenSSL writes any
//! key of them. The explicit parameters are P-256's own, byte for byte as
//! `openssl ecparam -name prime256v1 -param_enc explicit -outform DER`
//! writes them, so that case differs from an accepted key only in naming
//! the curve explicitly.

use serde_json::Value;
use smartmeter_core::{P256_SPKI_PREFIX, ecdsa};

use super::{Keys, Result, T0, b64, case, edit, json_case, reading, sign, tlv};

/// DER of the OID `id-ecPublicKey`, 1.2.840.10045.2.1.
const EC_PUBLIC_KEY: [u8; 9] = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// DER of the OID `prime256v1`, 1.2.840.10045.3.1.7.
const PRIME256V1: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER of the OID `secp384r1` (P-384), 1.3.132.0.34.
const SECP384R1: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// DER of the OID `secp256k1`, 1.3.132.0.10.
const SECP256K1: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];

/// The base point of P-384, uncompressed (SEC 2, section 3.2.1).
const P384_G: &str = "04aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab73617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f";
/// The base point of secp256k1, uncompressed (SEC 2, section 2.4.1).
const SECP256K1_G: &str = "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8";
/// P-256's domain parameters as an explicit `ECParameters` (RFC 3279
/// section 2.3.5): version 1, the prime field p, a, b and the seed, the
/// base point, the order n and the cofactor 1.
const P256_EXPLICIT: &str = "3081f7020101302c06072a8648ce3d0101022100ffffffff00000001000000000000000000000000ffffffffffffffffffffffff305b0420ffffffff00000001000000000000000000000000fffffffffffffffffffffffc04205ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b031500c49d360886e704936a6678e1139d26b7819f7e900441046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5022100ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551020101";
/// The prime p of P-256's field, big-endian.
const P256_P: &str = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";

fn unhex(text: &str) -> Result<Vec<u8>> {
    hex::decode(text).map_err(|e| e.to_string())
}

/// An `id-ecPublicKey` SubjectPublicKeyInfo with the given parameters (the
/// DER of the element after the OID, if any) and point.
fn ec_spki(parameters: Option<&[u8]>, point: &[u8]) -> Vec<u8> {
    let mut algorithm = EC_PUBLIC_KEY.to_vec();
    if let Some(parameters) = parameters {
        algorithm.extend_from_slice(parameters);
    }
    let bits = tlv(3, &[&[0u8][..], point].concat());
    tlv(0x30, &[tlv(0x30, &algorithm), bits].concat())
}

/// Key `p256_a` with its point compressed.
pub(crate) fn compressed_spki(keys: &Keys) -> Result<Vec<u8>> {
    let der = keys.p256_a.public_key().to_der();
    let point = der
        .strip_prefix(&P256_SPKI_PREFIX[..])
        .ok_or("the P-256 key has another prefix")?;
    let (x, y) = point
        .get(1..)
        .ok_or("empty point")?
        .split_at_checked(32)
        .ok_or("short point")?;
    let parity = y.last().ok_or("empty y")? & 1;
    Ok(ec_spki(Some(&PRIME256V1), &[&[2 + parity][..], x].concat()))
}

pub(crate) fn invalid_cases(keys: &Keys) -> Result<Vec<Value>> {
    let key = keys.p256_a.public_key();
    let other = keys.p256_b.public_key();
    let der = key.to_der();
    let point = der
        .strip_prefix(&P256_SPKI_PREFIX[..])
        .ok_or("the P-256 key has another prefix")?;
    if ec_spki(Some(&PRIME256V1), point) != der {
        return Err("the hand-built P-256 SPKI differs from the core's".into());
    }
    let (_, y) = point
        .get(1..)
        .ok_or("empty point")?
        .split_at_checked(32)
        .ok_or("short point")?;
    let compressed_key = compressed_spki(keys)?;
    let compressed = compressed_key.get(26..).ok_or("short SPKI")?.to_vec();
    let mut off_curve = point.to_vec();
    if let Some(last) = off_curve.last_mut() {
        *last ^= 1;
    }
    let x_is_p = [&[4u8][..], &unhex(P256_P)?, y].concat();

    let signed = sign(&keys.p256_a, reading(1, T0, 1200, 30))?;
    let good = signed.to_json();
    let raw: [u8; 64] = signed
        .signature()
        .try_into()
        .map_err(|_| "a P-256 signature is 64 bytes")?;
    if !ecdsa::is_low_s(&raw) {
        return Err("the signer did not normalise s".into());
    }
    let sig_b64 = b64(&raw);
    let with_sig = |s: &[u8]| edit(&good, &sig_b64, &b64(s));
    let with_key = |spki: &[u8]| edit(&good, &key.to_base64(), &b64(spki));
    let (r, s) = raw.split_at(32);
    let zero = [0u8; 32];
    let high = ecdsa::negate_s(&raw);
    let mut flipped = raw;
    if let Some(last) = flipped.last_mut() {
        *last ^= 1;
    }
    let p384 = ec_spki(Some(&SECP384R1), &unhex(P384_G)?);
    let k256 = ec_spki(Some(&SECP256K1), &unhex(SECP256K1_G)?);

    let public_key = |name: &str, description: &str, spki: &[u8], expected: &str| {
        case(name, description, "public_key", b64(spki), expected)
    };
    Ok(vec![
        json_case(
            "json-p256-high-s",
            "p256-basic re-sent with the other signature of the same reading, (r, n - s): \
             mathematically valid, but s is high. Refused, so that a reading has exactly one \
             valid signature (section 6.4.3): the high-S re-send of a stored reading.",
            with_sig(&high)?,
            key,
            "high_s",
        ),
        json_case(
            "json-p256-der-signature",
            "p256-basic's signature in DER (ECDSA-Sig-Value), as `openssl dgst -sign` writes \
             it: only the 64 bytes of r and s are accepted.",
            with_sig(&ecdsa::der_from_raw(&raw))?,
            key,
            "der_signature",
        ),
        json_case(
            "json-p256-der-signature-high-s",
            "The high-S twin in DER: the form is checked before s.",
            with_sig(&ecdsa::der_from_raw(&high))?,
            key,
            "der_signature",
        ),
        json_case(
            "json-p256-r-zero",
            "p256-basic's signature with r = 0.",
            with_sig(&[&zero[..], s].concat())?,
            key,
            "invalid_signature",
        ),
        json_case(
            "json-p256-s-zero",
            "p256-basic's signature with s = 0.",
            with_sig(&[r, &zero[..]].concat())?,
            key,
            "invalid_signature",
        ),
        json_case(
            "json-p256-r-equals-n",
            "p256-basic's signature with r = n, the group order: r must be below n.",
            with_sig(&[&ecdsa::ORDER[..], s].concat())?,
            key,
            "invalid_signature",
        ),
        json_case(
            "json-p256-s-equals-n",
            "p256-basic's signature with s = n: out of range, which is checked before high S.",
            with_sig(&[r, &ecdsa::ORDER[..]].concat())?,
            key,
            "invalid_signature",
        ),
        json_case(
            "json-p256-s-all-ones",
            "p256-basic's signature with s = 2^256 - 1, above n.",
            with_sig(&[r, &[0xff; 32][..]].concat())?,
            key,
            "invalid_signature",
        ),
        json_case(
            "json-p256-signature-63-bytes",
            "p256-basic's signature without its last byte.",
            with_sig(raw.get(..63).unwrap_or_default())?,
            key,
            "invalid_signature",
        ),
        json_case(
            "json-p256-signature-65-bytes",
            "p256-basic's signature with a zero byte in front.",
            with_sig(&[&[0u8][..], &raw].concat())?,
            key,
            "invalid_signature",
        ),
        json_case(
            "json-p256-signature-bit-flip",
            "The last bit of p256-basic's signature flipped.",
            with_sig(&flipped)?,
            key,
            "invalid_signature",
        ),
        json_case(
            "json-p256-tampered-wh-imported",
            "wh_imported of p256-basic raised by 1 after signing.",
            edit(&good, "\"wh_imported\":1200", "\"wh_imported\":1201")?,
            key,
            "invalid_signature",
        ),
        json_case(
            "json-p256-key-algorithm-1",
            "p256-basic labelled algorithm 1 (RSASSA-PKCS1-v1_5): a P-256 key signs with \
             algorithm 2 only (section 9 step 13).",
            edit(&good, "\"algorithm\":2", "\"algorithm\":1")?,
            key,
            "algorithm_mismatch",
        ),
        json_case(
            "json-p256-wrong-registered-key",
            "p256-basic, checked against another P-256 meter's registered key.",
            good.clone(),
            other,
            "key_mismatch",
        ),
        json_case(
            "json-p256-public-key-p384",
            "The reading carries a P-384 key: the carried key's own error (section 9 step 9) \
             comes before key_mismatch.",
            with_key(&p384)?,
            key,
            "unsupported_curve",
        ),
        json_case(
            "json-p256-public-key-compressed",
            "The reading carries p256-basic's key with its point compressed: the same key, \
             but not its one canonical form, which would give it a second key id.",
            with_key(&ec_spki(Some(&PRIME256V1), &compressed))?,
            key,
            "compressed_point",
        ),
        public_key(
            "key-p384",
            "A P-384 key (the curve's base point, named secp384r1): another curve.",
            &p384,
            "unsupported_curve",
        ),
        public_key(
            "key-secp256k1",
            "A secp256k1 key (the curve's base point): another 256-bit curve, with a 65-byte \
             point like P-256's.",
            &k256,
            "unsupported_curve",
        ),
        public_key(
            "key-p256-explicit-parameters",
            "p256-basic's key with P-256's domain parameters written out (as `openssl ecparam \
             -param_enc explicit` writes them) instead of the named curve prime256v1.",
            &ec_spki(Some(&unhex(P256_EXPLICIT)?), point),
            "unsupported_curve",
        ),
        public_key(
            "key-p256-implicit-parameters",
            "p256-basic's key with NULL (implicitCurve) instead of the named curve.",
            &ec_spki(Some(&[5, 0]), point),
            "unsupported_curve",
        ),
        public_key(
            "key-p256-parameters-absent",
            "p256-basic's key with no curve parameters at all (RFC 5480 requires them).",
            &ec_spki(None, point),
            "malformed_key",
        ),
        public_key(
            "key-p256-compressed",
            "p256-basic's key with its point compressed (33 bytes, 0x02 or 0x03 then x).",
            &ec_spki(Some(&PRIME256V1), &compressed),
            "compressed_point",
        ),
        public_key(
            "key-p256-p384-compressed",
            "A compressed point under the P-384 name: the curve is checked before the point.",
            &ec_spki(Some(&SECP384R1), &compressed),
            "unsupported_curve",
        ),
        public_key(
            "key-p256-not-on-curve",
            "p256-basic's key with the last bit of y flipped: the point is not on the curve.",
            &ec_spki(Some(&PRIME256V1), &off_curve),
            "malformed_key",
        ),
        public_key(
            "key-p256-x-equals-p",
            "A point whose x is the field prime p: coordinates must be below p.",
            &ec_spki(Some(&PRIME256V1), &x_is_p),
            "malformed_key",
        ),
        public_key(
            "key-p256-infinity",
            "The point at infinity (the single byte 0x00) under the named curve.",
            &ec_spki(Some(&PRIME256V1), &[0]),
            "malformed_key",
        ),
    ])
}
