//! The key policy of algorithm 2, P-256 keys (`docs/spec.md` section 6.4.2,
//! checks 3 to 6), and P-256 private keys in PKCS#8.
//!
//! An accepted key has exactly one DER: the 91-byte SubjectPublicKeyInfo
//! of `id-ecPublicKey` with the named curve `prime256v1` and the
//! uncompressed point. Its first 26 bytes never change, so the fast path
//! compares them and checks the point; every other input takes the slow
//! path, which only decides which error to report.

use p256::ecdsa::SigningKey;
use rsa::pkcs8::der::asn1::AnyRef;
use rsa::pkcs8::der::{Tag, Tagged};
use rsa::pkcs8::{ObjectIdentifier, PrivateKeyInfoRef, SubjectPublicKeyInfoRef};

use crate::backend::{self, TargetEcdsaVerifyingKey};
use crate::error::KeyError;

/// `id-ecPublicKey`, 1.2.840.10045.2.1 (RFC 5480).
pub(super) const EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// `prime256v1` (`secp256r1`, NIST P-256), 1.2.840.10045.3.1.7 (RFC 5480).
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// Curves that keys are commonly made on, to name them in the error.
const OTHER_CURVES: [(ObjectIdentifier, &str); 3] = [
    (
        ObjectIdentifier::new_unwrap("1.3.132.0.34"),
        "the key is on secp384r1 (P-384)",
    ),
    (
        ObjectIdentifier::new_unwrap("1.3.132.0.35"),
        "the key is on secp521r1 (P-521)",
    ),
    (
        ObjectIdentifier::new_unwrap("1.3.132.0.10"),
        "the key is on secp256k1",
    ),
];

/// The first 26 bytes of every accepted P-256 SubjectPublicKeyInfo:
/// `SEQUENCE (89) { SEQUENCE (19) { OID id-ecPublicKey, OID prime256v1 },
/// BIT STRING (66, no unused bits) }`. The 65 bytes of the uncompressed
/// point follow.
pub const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Length of the one accepted P-256 SubjectPublicKeyInfo DER.
pub const P256_SPKI_LEN: usize = P256_SPKI_PREFIX.len() + 65;

/// A P-256 public key that passed the policy, prepared for verification.
#[derive(Clone)]
pub(super) struct P256Key {
    pub(super) verifier: TargetEcdsaVerifyingKey,
}

/// The uncompressed point of `der` when `der` has the canonical layout
/// (the fixed prefix, then `0x04` and 64 bytes); `None` otherwise.
pub(super) fn canonical_point(der: &[u8]) -> Option<&[u8; 65]> {
    let (prefix, point) = der.split_first_chunk::<26>()?;
    let point: &[u8; 65] = point.try_into().ok()?;
    (*prefix == P256_SPKI_PREFIX && point.first() == Some(&0x04)).then_some(point)
}

/// Check 6 of spec section 6.4.2 on a canonical key's point: it lies on
/// the curve (x and y below p, y^2 = x^3 - 3x + b).
pub(super) fn key(point: &[u8; 65]) -> Result<P256Key, KeyError> {
    let checked = backend::p256::VerifyingKey::new(point)
        .ok_or(KeyError::Malformed("the point is not on the curve P-256"))?;
    Ok(P256Key {
        verifier: backend::target_ecdsa_verifying_key(checked, point),
    })
}

/// The error for an `id-ecPublicKey` SubjectPublicKeyInfo that is not the
/// canonical form (checks 3 to 5 of spec section 6.4.2, in order): the
/// curve, the point's form, then canonical DER.
pub(super) fn refusal(spki: &SubjectPublicKeyInfoRef<'_>) -> KeyError {
    if let Err(e) = check_curve(spki.algorithm.parameters) {
        return e;
    }
    let Some(point) = spki.subject_public_key.as_bytes() else {
        return KeyError::Malformed("public key bit string has unused bits");
    };
    match point {
        [0x02 | 0x03, rest @ ..] if rest.len() == 32 => KeyError::CompressedPoint,
        [0x00] => KeyError::Malformed("the point at infinity is not a public key"),
        [0x04, rest @ ..] if rest.len() == 64 => KeyError::Malformed("not in canonical DER form"),
        _ => KeyError::Malformed("not an uncompressed P-256 point (65 bytes starting with 0x04)"),
    }
}

/// Check 3 of spec section 6.4.2: the parameters name the curve
/// `prime256v1`.
fn check_curve(parameters: Option<AnyRef<'_>>) -> Result<(), KeyError> {
    let Some(parameters) = parameters else {
        return Err(KeyError::Malformed(
            "id-ecPublicKey without its curve parameters (RFC 5480 requires them)",
        ));
    };
    match parameters.tag() {
        Tag::ObjectIdentifier => {
            let curve: ObjectIdentifier = parameters
                .decode_as()
                .map_err(|_| KeyError::Malformed("the curve is not a valid object identifier"))?;
            if curve == PRIME256V1 {
                return Ok(());
            }
            let named = OTHER_CURVES
                .iter()
                .find(|(oid, _)| *oid == curve)
                .map_or("the key is on another named curve", |(_, name)| *name);
            Err(KeyError::UnsupportedCurve(named))
        }
        Tag::Sequence => Err(KeyError::UnsupportedCurve(
            "the key gives explicit curve parameters instead of naming the curve",
        )),
        Tag::Null => Err(KeyError::UnsupportedCurve(
            "the key has implicit curve parameters (NULL) instead of naming the curve",
        )),
        _ => Err(KeyError::Malformed(
            "the curve parameters are neither a named curve nor explicit parameters",
        )),
    }
}

/// A PKCS#8 `PrivateKeyInfo` of algorithm `id-ecPublicKey` as a P-256
/// signing key: the curve must be named `prime256v1`; the `ECPrivateKey`
/// inside may carry the public key (OpenSSL and pyca/cryptography write
/// it), which must then match the private key.
pub(super) fn signing_key(info: PrivateKeyInfoRef<'_>) -> Result<SigningKey, KeyError> {
    check_curve(info.algorithm.parameters)?;
    let secret = p256::SecretKey::try_from(info)
        .map_err(|_| KeyError::Malformed("not a valid P-256 ECPrivateKey"))?;
    Ok(SigningKey::from(secret))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_the_der_of_the_fixed_part() {
        use rsa::pkcs8::der::Encode as _;
        use rsa::pkcs8::der::asn1::BitStringRef;
        use rsa::pkcs8::spki::AlgorithmIdentifierRef;
        let point = [0x04; 65];
        let der = SubjectPublicKeyInfoRef {
            algorithm: AlgorithmIdentifierRef {
                oid: EC_PUBLIC_KEY,
                parameters: Some(AnyRef::from(&PRIME256V1)),
            },
            subject_public_key: BitStringRef::from_bytes(&point).unwrap(),
        }
        .to_der()
        .unwrap();
        assert_eq!(der.len(), P256_SPKI_LEN);
        assert_eq!(der.get(..26), Some(&P256_SPKI_PREFIX[..]));
        assert_eq!(canonical_point(&der), Some(&point));
    }
}
