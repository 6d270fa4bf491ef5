//! The key policy of algorithm 1, RSA keys (`docs/spec.md` section 6.2,
//! checks 3 to 7; checks 1 and 2 are shared with algorithm 2 and live in
//! the parent module).

use rsa::pkcs1::RsaPublicKeyRef;
use rsa::pkcs8::SubjectPublicKeyInfoRef;
use rsa::pkcs8::der::asn1::{AnyRef, BitStringRef, UintRef};
use rsa::pkcs8::der::{Decode, Encode};
use rsa::pkcs8::spki::AlgorithmIdentifierRef;

use super::{MAX_KEY_BITS, MIN_KEY_BITS, PUBLIC_EXPONENT};
use crate::backend::{self, TargetVerifyingKey};
use crate::error::KeyError;

/// An RSA public key that passed the policy, prepared for verification.
#[derive(Clone)]
pub(super) struct RsaKey {
    /// Significant bits of the modulus.
    pub(super) bits: usize,
    pub(super) verifier: TargetVerifyingKey,
}

/// Checks 3 to 7 of spec section 6.2 on an SPKI whose algorithm is
/// `rsaEncryption` (checks 1 and 2 passed).
pub(super) fn key(der: &[u8], spki: &SubjectPublicKeyInfoRef<'_>) -> Result<RsaKey, KeyError> {
    // Check 3: the one canonical SubjectPublicKeyInfo of an RSA key.
    let (modulus, exponent) = components_of(der, spki)?;
    // Checks 4 to 6: size and exponent.
    check_policy(modulus, exponent)?;
    // Check 7, "otherwise a valid RSA public key": the modulus is odd.
    // A product of two odd primes is odd; nothing more about its factors
    // can be told from n alone, so nothing more is checked.
    if modulus.last().is_none_or(|low| low & 1 == 0) {
        return Err(KeyError::Malformed(EVEN_MODULUS));
    }
    let verifier =
        backend::target_verifying_key(modulus).ok_or(KeyError::Malformed(EVEN_MODULUS))?;
    Ok(RsaKey {
        bits: big_endian_bits(modulus),
        verifier,
    })
}

/// Why an even modulus is refused (spec section 6.2, check 7).
const EVEN_MODULUS: &str = "the modulus is even, so it is not an RSA modulus";

/// Modulus and exponent (big-endian, no leading zeros) of a key that
/// passed the policy, whose DER is `der`.
pub(super) fn components(der: &[u8]) -> Result<(&[u8], &[u8]), KeyError> {
    let spki = SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|_| KeyError::Malformed("not a SubjectPublicKeyInfo in DER"))?;
    components_of(der, &spki)
}

/// Check 3 of spec section 6.2: `der`, parsed as `spki`, is the canonical
/// SubjectPublicKeyInfo of an RSA public key. Returns its modulus and
/// exponent, big-endian without leading zeros.
fn components_of<'a>(
    der: &[u8],
    spki: &SubjectPublicKeyInfoRef<'a>,
) -> Result<(&'a [u8], &'a [u8]), KeyError> {
    let key_bytes = spki
        .subject_public_key
        .as_bytes()
        .ok_or(KeyError::Malformed("public key bit string has unused bits"))?;
    let rsa_key = RsaPublicKeyRef::from_der(key_bytes)
        .map_err(|_| KeyError::Malformed("not an RSAPublicKey structure"))?;
    let modulus = rsa_key.modulus.as_bytes();
    let exponent = rsa_key.public_exponent.as_bytes();
    // The der crate already refuses non-minimal lengths and integers;
    // re-encoding also pins what DER leaves open (the NULL parameters), so
    // that one key has exactly one DER and one key id.
    if canonical_spki(modulus, exponent).as_deref() != Some(der) {
        return Err(KeyError::Malformed("not in canonical DER form"));
    }
    Ok((modulus, exponent))
}

/// The canonical SubjectPublicKeyInfo DER of an RSA key (spec section 4).
fn canonical_spki(modulus: &[u8], exponent: &[u8]) -> Option<Vec<u8>> {
    let rsa_key = RsaPublicKeyRef {
        modulus: UintRef::new(modulus).ok()?,
        public_exponent: UintRef::new(exponent).ok()?,
    }
    .to_der()
    .ok()?;
    SubjectPublicKeyInfoRef {
        algorithm: AlgorithmIdentifierRef {
            oid: rsa::pkcs1::ALGORITHM_OID,
            parameters: Some(AnyRef::NULL),
        },
        subject_public_key: BitStringRef::from_bytes(&rsa_key).ok()?,
    }
    .to_der()
    .ok()
}

/// Checks 4 to 6 of spec section 6.2 on big-endian modulus and exponent bytes.
fn check_policy(modulus: &[u8], exponent: &[u8]) -> Result<(), KeyError> {
    let bits = big_endian_bits(modulus);
    if bits < MIN_KEY_BITS {
        return Err(KeyError::TooSmall {
            bits,
            min: MIN_KEY_BITS,
        });
    }
    if bits > MAX_KEY_BITS {
        return Err(KeyError::TooLarge {
            bits,
            max: MAX_KEY_BITS,
        });
    }
    if trim_zeros(exponent) != trim_zeros(&PUBLIC_EXPONENT.to_be_bytes()) {
        return Err(KeyError::UnsupportedExponent);
    }
    Ok(())
}

/// Drops leading zero bytes, the way DER stores unsigned integers.
fn trim_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// Number of significant bits of a big-endian unsigned integer.
fn big_endian_bits(bytes: &[u8]) -> usize {
    let trimmed = trim_zeros(bytes);
    match trimmed.first() {
        Some(first) => (trimmed.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_length_of_big_endian_integers() {
        assert_eq!(big_endian_bits(&[]), 0);
        assert_eq!(big_endian_bits(&[0, 0]), 0);
        assert_eq!(big_endian_bits(&[1]), 1);
        assert_eq!(big_endian_bits(&[0, 0x80, 0]), 16);
        assert_eq!(big_endian_bits(&[0x01, 0, 1]), 17);
    }

    #[test]
    fn policy_exponent_must_be_65537() {
        let modulus = [0xffu8; 256];
        assert_eq!(check_policy(&modulus, &[1, 0, 1]), Ok(()));
        assert_eq!(
            check_policy(&modulus, &[3]),
            Err(KeyError::UnsupportedExponent)
        );
        assert_eq!(
            check_policy(&modulus, &[0, 1, 0, 1]),
            Ok(()),
            "leading zeros are insignificant"
        );
    }
}
