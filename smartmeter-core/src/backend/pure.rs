//! The portable verifier: RSASSA-PKCS1-v1_5 with SHA-256 for e = 65537, in
//! pure Rust on `crypto-bigint`. It is the verifier of every target without
//! ring (wasm32 first) and, on native targets, the independent reference the
//! differential tests and the fuzz target hold ring to.
//!
//! It is variable time on purpose. Verification handles public data only
//! (the key, the signature, the message), so there is no secret whose timing
//! could leak; a constant-time exponentiation (what the `rsa` crate does)
//! pays for a sliding window over a secret-sized exponent that e = 65537 does
//! not need. Here s^65537 mod n is 16 squarings and 1 multiplication in
//! Montgomery form, plus one multiplication to enter it; the last
//! multiplication takes the plain `s` and so leaves Montgomery form for free.
//!
//! The checks follow RFC 8017 section 8.2.2 and `docs/spec.md` section 9:
//! the signature is exactly `k` bytes, `s < n`, and the recovered encoded
//! message equals the EMSA-PKCS1-v1_5 encoding of SHA-256 of the message,
//! compared in full, byte for byte (no parsing of padding or DigestInfo).

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, MontyForm, MontyMultiplier, Odd};
use sha2::{Digest, Sha256};

/// DER of the `DigestInfo` prefix for SHA-256 (RFC 8017 section 9.2, note 1):
/// the hash follows it.
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// A public key prepared for the portable verifier: the Montgomery
/// parameters of the modulus, computed once per key.
#[derive(Clone, Debug)]
pub struct VerifyingKey {
    params: BoxedMontyParams,
    /// `k`: the modulus length in bytes, the length of every signature.
    len: usize,
}

impl VerifyingKey {
    /// Prepares a modulus given as big-endian bytes without leading zeros,
    /// with the exponent 65537 implied. `None` for an even or zero modulus
    /// (Montgomery arithmetic needs an odd one; the key policy refuses even
    /// moduli before any backend sees them).
    pub fn new(modulus: &[u8]) -> Option<Self> {
        let bits = u32::try_from(modulus.len().checked_mul(8)?).ok()?;
        let n = BoxedUint::from_be_slice(modulus, bits).ok()?;
        let n = Odd::new(n).into_option()?;
        Some(Self {
            params: BoxedMontyParams::new_vartime(n),
            len: modulus.len(),
        })
    }

    /// Whether `signature` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature
    /// of `message` under this key.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        // RFC 8017 8.2.2 step 1: exactly k bytes.
        if signature.len() != self.len {
            return false;
        }
        let precision = self.params.bits_precision();
        let Ok(s) = BoxedUint::from_be_slice(signature, precision) else {
            return false;
        };
        // Step 2.b (RSAVP1 step 1): the representative must be below n.
        if s.cmp_vartime(self.params.modulus().as_ref()).is_ge() {
            return false;
        }
        let m = self.pow_65537(s);
        // I2OSP to k bytes: m < n < 256^k, so the bytes above k are zero.
        let bytes = m.to_be_bytes();
        let Some(em) = bytes.get(bytes.len().saturating_sub(self.len)..) else {
            return false;
        };
        em == encoded_message(message, self.len).as_slice()
    }

    /// s^65537 mod n, for s < n: 16 squarings and 2 multiplications.
    fn pow_65537(&self, s: BoxedUint) -> BoxedUint {
        // x = s·R mod n: s in Montgomery form (one multiplication by R² mod n).
        let mut x = BoxedMontyForm::new(s.clone(), &self.params);
        let mut multiplier = <BoxedMontyForm as MontyForm>::Multiplier::from(&self.params);
        // x = s^(2^16)·R mod n.
        for _ in 0..16 {
            multiplier.square_assign(&mut x);
        }
        // A Montgomery multiplication by the plain s divides by R once:
        // s^(2^16)·R · s · R⁻¹ = s^65537, out of Montgomery form.
        let plain = BoxedMontyForm::from_montgomery(s, &self.params);
        multiplier.mul_assign(&mut x, &plain);
        x.as_montgomery().clone()
    }
}

/// EMSA-PKCS1-v1_5 encoding with SHA-256 (RFC 8017 section 9.2) of
/// `message` to `len` bytes: `00 01 FF..FF 00 DigestInfo hash`.
///
/// `len` is at least 256 here (2048-bit keys and up), far above the
/// 11 + 51 bytes the encoding needs; a shorter `len` gives a block that
/// matches no recovered message of that length, never a panic.
pub fn encoded_message(message: &[u8], len: usize) -> Vec<u8> {
    let hash = Sha256::digest(message);
    let padding = len.saturating_sub(3 + SHA256_DIGEST_INFO.len() + hash.len());
    let mut em = Vec::with_capacity(len);
    em.extend_from_slice(&[0x00, 0x01]);
    em.resize(2 + padding, 0xff);
    em.push(0x00);
    em.extend_from_slice(&SHA256_DIGEST_INFO);
    em.extend_from_slice(&hash);
    em
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn encoded_message_has_the_rfc_8017_layout() {
        let em = encoded_message(b"abc", 256);
        assert_eq!(em.len(), 256);
        assert_eq!(em[..2], [0x00, 0x01]);
        assert!(em[2..256 - 52].iter().all(|&b| b == 0xff));
        assert_eq!(em[256 - 52], 0x00);
        assert_eq!(em[256 - 51..256 - 32], SHA256_DIGEST_INFO);
        assert_eq!(em[256 - 32..], Sha256::digest(b"abc")[..]);
    }

    #[test]
    fn even_and_zero_moduli_are_refused() {
        assert!(VerifyingKey::new(&[0x80, 0, 0, 2]).is_none());
        assert!(VerifyingKey::new(&[]).is_none());
        assert!(VerifyingKey::new(&[0x80, 0, 0, 3]).is_some());
    }

    #[test]
    fn exponentiation_matches_a_small_worked_example() {
        // n = 3233 = 61 · 53; 65^65537 mod 3233 computed independently by
        // square-and-multiply: 65^(2^16) · 65 mod 3233.
        let key = VerifyingKey::new(&3233u16.to_be_bytes()).unwrap();
        let s =
            BoxedUint::from_be_slice(&65u16.to_be_bytes(), key.params.bits_precision()).unwrap();
        let mut expected: u64 = 65;
        for _ in 0..16 {
            expected = expected * expected % 3233;
        }
        expected = expected * 65 % 3233;
        let got = key.pow_65537(s).to_be_bytes();
        let got = got.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        assert_eq!(got, expected);
    }
}
