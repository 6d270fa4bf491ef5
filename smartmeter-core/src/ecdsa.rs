//! The signature encoding of algorithm 2, ECDSA with P-256 and SHA-256
//! (`docs/spec.md` section 6.4): exactly 64 bytes of r || s, each a
//! big-endian integer left-padded to 32 bytes, with `1 <= r < n` and
//! `1 <= s <= (n-1)/2` (low S).
//!
//! [`check_signature`] is that rule, applied by [`PublicKey::verify`]
//! before any curve arithmetic; every backend sees only signatures that
//! pass it. The conversions to and from DER serve tooling and interop
//! tests: OpenSSL and pyca/cryptography sign in DER, WebCrypto and secure
//! elements in r || s.
//!
//! ```
//! use smartmeter_core::ecdsa;
//!
//! // A signature as OpenSSL writes it ...
//! let mut raw = [0u8; 64];
//! raw[31] = 7; // r = 7
//! raw[63] = 9; // s = 9
//! let der = ecdsa::der_from_raw(&raw);
//! assert_eq!(der, [0x30, 6, 2, 1, 7, 2, 1, 9]);
//! assert_eq!(ecdsa::raw_from_der(&der), Some(raw));
//! // ... is refused with its own code; the r || s form passes the format checks.
//! assert_eq!(ecdsa::check_signature(&der).unwrap_err().code(), "der_signature");
//! assert_eq!(ecdsa::check_signature(&raw), Ok(()));
//! // Its high-S twin (r, n - s) is refused too.
//! let high = ecdsa::negate_s(&raw);
//! assert_eq!(ecdsa::check_signature(&high).unwrap_err().code(), "high_s");
//! assert_eq!(ecdsa::negate_s(&high), raw);
//! ```
//!
//! [`PublicKey::verify`]: crate::PublicKey::verify

use crate::error::VerifyError;

/// Length in bytes of every algorithm 2 signature: r and s, 32 bytes each.
pub const SIGNATURE_LEN: usize = 64;

/// The order n of the P-256 base point, big-endian.
pub const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// (n-1)/2, the largest low s, big-endian. A signature with a greater s is
/// high (`docs/spec.md` section 6.4.3).
pub const HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
];

/// Checks the encoding rules of an algorithm 2 signature, in the order of
/// `docs/spec.md` section 9, step 14: the length (a DER signature
/// gets its own code), r and s in range, then low S. It does no curve
/// arithmetic: whether the signature verifies is the backend's question.
///
/// # Errors
/// [`VerifyError::DerSignature`] for a DER `ECDSA-Sig-Value` (which is never
/// 64 bytes long for this check to apply), [`VerifyError::InvalidSignature`]
/// for any other length or for r or s equal to 0 or at least n, and
/// [`VerifyError::HighS`] for s above (n-1)/2.
pub fn check_signature(signature: &[u8]) -> Result<(), VerifyError> {
    let Some((r, s)) = split(signature) else {
        return Err(if is_der(signature) {
            VerifyError::DerSignature
        } else {
            VerifyError::InvalidSignature
        });
    };
    // Big-endian arrays of equal length compare as the integers they hold.
    let in_range = |v: &[u8; 32]| *v != [0; 32] && *v < ORDER;
    if !in_range(r) || !in_range(s) {
        return Err(VerifyError::InvalidSignature);
    }
    if *s > HALF_ORDER {
        return Err(VerifyError::HighS);
    }
    Ok(())
}

/// r and s of a 64-byte signature; `None` for any other length.
fn split(signature: &[u8]) -> Option<(&[u8; 32], &[u8; 32])> {
    let both: &[u8; SIGNATURE_LEN] = signature.try_into().ok()?;
    let (r, s) = both.split_first_chunk::<32>()?;
    Some((r, s.try_into().ok()?))
}

/// Whether `bytes` has the shape of a DER `ECDSA-Sig-Value`: a SEQUENCE of
/// two INTEGERs with short-form lengths and nothing after it. Lenient about
/// what is inside the integers: this only names the mistake.
fn is_der(bytes: &[u8]) -> bool {
    let [0x30, len, body @ ..] = bytes else {
        return false;
    };
    if usize::from(*len) != body.len() || *len >= 0x80 {
        return false;
    }
    let Some((_, rest)) = integer(body) else {
        return false;
    };
    matches!(integer(rest), Some((_, [])))
}

/// Splits one short-form INTEGER off the front: its content and the rest.
fn integer(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let [0x02, len, rest @ ..] = bytes else {
        return None;
    };
    let len = usize::from(*len);
    if len == 0 || len >= 0x80 || len > rest.len() {
        return None;
    }
    Some(rest.split_at(len))
}

/// The DER `ECDSA-Sig-Value` (RFC 3279 section 2.2.3) of a 64-byte r || s
/// signature, as OpenSSL and pyca/cryptography take it: each integer in its
/// minimal encoding (no superfluous leading zero, a zero byte before a high
/// bit).
pub fn der_from_raw(raw: &[u8; SIGNATURE_LEN]) -> Vec<u8> {
    let mut body = Vec::with_capacity(70);
    for half in raw.chunks_exact(32) {
        let mut content: Vec<u8> = half.iter().copied().skip_while(|&b| b == 0).collect();
        if content.first().is_none_or(|&top| top & 0x80 != 0) {
            // Zero is one zero byte; a high bit needs a zero byte before it
            // to stay non-negative.
            content.insert(0, 0);
        }
        body.push(0x02);
        // INVARIANT: content is at most 33 bytes, a short-form length.
        body.push(content.len() as u8);
        body.extend_from_slice(&content);
    }
    // INVARIANT: two INTEGERs of at most 35 bytes each, a short-form length.
    let mut der = vec![0x30, body.len() as u8];
    der.extend_from_slice(&body);
    der
}

/// The 64-byte r || s form of a DER `ECDSA-Sig-Value` (as `openssl dgst
/// -sign` and pyca/cryptography write it). `None` when the input is not
/// exactly one such SEQUENCE with minimal non-negative INTEGERs of at most
/// 32 significant bytes. S is left as it is: normalise it with
/// [`normalize_s`].
pub fn raw_from_der(der: &[u8]) -> Option<[u8; SIGNATURE_LEN]> {
    if !is_der(der) {
        return None;
    }
    let (r, rest) = integer(der.get(2..)?)?;
    let (s, _) = integer(rest)?;
    let mut raw = [0u8; SIGNATURE_LEN];
    let (r_out, s_out) = raw.split_at_mut(32);
    for (value, out) in [(r, r_out), (s, s_out)] {
        // Minimal and non-negative: no leading zero unless a high bit follows.
        let digits = match value {
            [0, next, ..] if next & 0x80 != 0 => value.get(1..)?,
            [0, _, ..] => return None,
            [top, ..] if top & 0x80 != 0 => return None,
            _ => value,
        };
        out.get_mut(32usize.checked_sub(digits.len())?..)?
            .copy_from_slice(digits);
    }
    Some(raw)
}

/// The other signature of the same reading, (r, n - s): valid whenever the
/// original is, and high exactly when the original is low. This is what an
/// attacker can make of any stored signature; verifiers refuse the high one
/// with `high_s`. Used by signers to normalise ([`normalize_s`]) and by the
/// test tooling to build the attack.
///
/// An s of 0 or at least n has no such twin and is returned unchanged.
pub fn negate_s(raw: &[u8; SIGNATURE_LEN]) -> [u8; SIGNATURE_LEN] {
    let mut out = *raw;
    let Some((_, s)) = split(raw) else {
        return out;
    };
    if *s == [0; 32] || *s >= ORDER {
        return out;
    }
    let mut borrow = 0u16;
    for ((digit, &n), &s) in out
        .iter_mut()
        .skip(32)
        .rev()
        .zip(ORDER.iter().rev())
        .zip(s.iter().rev())
    {
        let diff = u16::from(n) + 0x100 - u16::from(s) - borrow;
        *digit = (diff & 0xff) as u8;
        borrow = u16::from(diff < 0x100);
    }
    out
}

/// `raw` with its s made low: unchanged when s is already at most
/// (n-1)/2, else (r, n - s). Signers apply it after ECDSA signing
/// (`docs/spec.md` section 6.4.3).
pub fn normalize_s(raw: &[u8; SIGNATURE_LEN]) -> [u8; SIGNATURE_LEN] {
    match split(raw) {
        Some((_, s)) if *s > HALF_ORDER => negate_s(raw),
        _ => *raw,
    }
}

/// Whether `signature` is 64 bytes with s at most (n-1)/2.
pub fn is_low_s(signature: &[u8]) -> bool {
    split(signature).is_some_and(|(_, s)| *s <= HALF_ORDER)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn raw(r: &[u8], s: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[32 - r.len()..32].copy_from_slice(r);
        out[64 - s.len()..].copy_from_slice(s);
        out
    }

    /// `v + delta` for a 32-byte big-endian `v`.
    fn add(v: &[u8; 32], delta: i32) -> [u8; 32] {
        let mut out = *v;
        let mut carry = delta;
        for byte in out.iter_mut().rev() {
            let sum = i32::from(*byte) + carry;
            *byte = sum.rem_euclid(256) as u8;
            carry = sum.div_euclid(256);
        }
        out
    }

    #[test]
    fn half_order_is_n_minus_1_over_2() {
        // 2 * HALF_ORDER + 1 = ORDER.
        let mut doubled = [0u8; 32];
        let mut carry = 1u16;
        for (out, &h) in doubled.iter_mut().zip(HALF_ORDER.iter()).rev() {
            let v = u16::from(h) * 2 + carry;
            *out = (v & 0xff) as u8;
            carry = v >> 8;
        }
        assert_eq!(carry, 0);
        assert_eq!(doubled, ORDER);
    }

    #[test]
    fn the_format_rules_in_their_order() {
        let code = |sig: &[u8]| check_signature(sig).err().map(|e| e.code());
        let one = [1u8];
        assert_eq!(code(&raw(&one, &one)), None);
        assert_eq!(code(&raw(&one, &HALF_ORDER)), None);
        assert_eq!(code(&raw(&one, &add(&HALF_ORDER, 1))), Some("high_s"));
        assert_eq!(code(&raw(&one, &add(&ORDER, -1))), Some("high_s"));
        assert_eq!(code(&raw(&[], &one)), Some("invalid_signature"), "r = 0");
        assert_eq!(code(&raw(&one, &[])), Some("invalid_signature"), "s = 0");
        assert_eq!(code(&raw(&ORDER, &one)), Some("invalid_signature"), "r = n");
        assert_eq!(code(&raw(&one, &ORDER)), Some("invalid_signature"), "s = n");
        assert_eq!(
            code(&raw(&[0xff; 32], &[0xff; 32])),
            Some("invalid_signature")
        );
        assert_eq!(
            code(&add(&ORDER, -1)),
            Some("invalid_signature"),
            "32 bytes"
        );
        assert_eq!(code(&[]), Some("invalid_signature"));
        assert_eq!(code(&[0; 65]), Some("invalid_signature"));
        let der = der_from_raw(&raw(&[0x80; 32], &[0x01; 32]));
        assert_eq!(der.len(), 2 + 35 + 34);
        assert_eq!(code(&der), Some("der_signature"));
        assert_eq!(code(&der[..der.len() - 1]), Some("invalid_signature"));
        assert_eq!(code(&[0x30, 0]), Some("invalid_signature"));
    }

    #[test]
    fn der_round_trips_and_is_minimal() {
        for (r, s) in [
            (vec![1u8], vec![1u8]),
            (vec![0x7f; 32], vec![0x80; 32]),
            (ORDER.to_vec(), HALF_ORDER.to_vec()),
            (vec![0, 0, 0x80], vec![0x00, 0x01]),
        ] {
            let value = raw(&r, &s);
            let der = der_from_raw(&value);
            assert_eq!(raw_from_der(&der), Some(value), "{der:02x?}");
            assert!(der.len() <= 72);
        }
        // Non-minimal, negative, too long, trailing data, wrong tags.
        assert_eq!(raw_from_der(&[0x30, 7, 2, 2, 0, 1, 2, 1, 1]), None);
        assert_eq!(raw_from_der(&[0x30, 6, 2, 1, 0x80, 2, 1, 1]), None);
        let mut long = vec![0x30, 38, 2, 33, 1];
        long.extend([0; 32]);
        long.extend([2, 1, 1]);
        assert_eq!(raw_from_der(&long), None);
        assert_eq!(raw_from_der(&[0x30, 6, 2, 1, 1, 2, 1, 1, 0]), None);
        assert_eq!(raw_from_der(&[0x31, 6, 2, 1, 1, 2, 1, 1]), None);
    }

    #[test]
    fn negating_s_twice_is_the_identity_and_flips_high_and_low() {
        for s in [
            vec![1u8],
            HALF_ORDER.to_vec(),
            add(&ORDER, -1).to_vec(),
            vec![0x42; 20],
        ] {
            let value = raw(&[9], &s);
            let twin = negate_s(&value);
            assert_eq!(twin[..32], value[..32], "r is kept");
            assert_ne!(is_low_s(&twin), is_low_s(&value));
            assert_eq!(negate_s(&twin), value);
            assert!(is_low_s(&normalize_s(&value)));
            assert!(is_low_s(&normalize_s(&twin)));
        }
        // n - 1 and 1 are twins.
        assert_eq!(negate_s(&raw(&[9], &[1])), raw(&[9], &add(&ORDER, -1)));
        // No twin for s = 0 or s >= n.
        for s in [vec![], ORDER.to_vec(), vec![0xff; 32]] {
            assert_eq!(negate_s(&raw(&[9], &s)), raw(&[9], &s));
        }
    }
}
