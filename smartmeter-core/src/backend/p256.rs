//! The RustCrypto `p256` crate as a backend for algorithm 2: it signs on
//! every target, and verifies where ring does not build (wasm32).
//!
//! Signing is deterministic (RFC 6979, HMAC-SHA-256 nonces), then
//! normalised to low S, so the same key and message always give the same 64
//! bytes and the vectors are byte-exact. ring's ECDSA signing draws a
//! random nonce, which would make every signature differ; that is why ring
//! only verifies (`docs/security.md`).
//!
//! Verification is plain ECDSA: like ring, it accepts a high S. The core's
//! rule that S be low ([`crate::ecdsa::check_signature`]) is applied before
//! any backend runs.

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey as P256SigningKey, VerifyingKey as P256VerifyingKey};

use crate::ecdsa::{SIGNATURE_LEN, normalize_s};

/// A P-256 public key prepared for verification.
#[derive(Clone, Debug)]
pub struct VerifyingKey(P256VerifyingKey);

impl VerifyingKey {
    /// Prepares an uncompressed SEC 1 point (65 bytes, `0x04 || x || y`).
    /// `None` when the point is not on the curve (or is not such a point).
    pub fn new(point: &[u8; 65]) -> Option<Self> {
        P256VerifyingKey::from_sec1_bytes(point).ok().map(Self)
    }

    /// Whether `signature` (64 bytes, r || s) is a valid ECDSA P-256
    /// SHA-256 signature of `message` under this key. `r` and `s` must lie
    /// in `1..n`; a high S is accepted (the core refuses it earlier).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        Signature::from_slice(signature)
            .is_ok_and(|signature| self.0.verify(message, &signature).is_ok())
    }
}

/// A P-256 private key as this backend signs with it.
#[derive(Clone)]
pub(crate) struct SigningKey(P256SigningKey);

impl SigningKey {
    /// Wraps a private key.
    pub(crate) const fn new(key: P256SigningKey) -> Self {
        Self(key)
    }

    /// The private key.
    pub(crate) const fn key(&self) -> &P256SigningKey {
        &self.0
    }

    /// ECDSA P-256 with SHA-256 over `message`, with the RFC 6979 nonce,
    /// as r || s with low S. `None` if signing fails (it retries internally
    /// for the negligible chance of r or s being zero, so not expected).
    pub(crate) fn sign(&self, message: &[u8]) -> Option<[u8; SIGNATURE_LEN]> {
        Some(normalize_s(&self.sign_unnormalised(message)?))
    }

    /// The RFC 6979 signature as the `p256` crate computes it, s as it
    /// comes (high about half the time).
    pub(crate) fn sign_unnormalised(&self, message: &[u8]) -> Option<[u8; SIGNATURE_LEN]> {
        let signature: Signature = self.0.try_sign(message).ok()?;
        Some(signature.to_bytes().into())
    }
}
