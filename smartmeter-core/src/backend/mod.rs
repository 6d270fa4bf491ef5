//! The RSA arithmetic behind [`PublicKey::verify`] and [`MeterKey::sign`],
//! and which implementation runs on which target.
//!
//! | target | verify | sign |
//! |---|---|---|
//! | x86_64, aarch64 | [`ring`](self::ring) | `ring` (constant time, blinded); the `rsa` crate for a key ring refuses |
//! | every other target (wasm32) | [`pure`] | the `rsa` crate ([`rsa_crate`]) |
//!
//! The choice is made by `cfg(target_arch)` at compile time; there is no
//! runtime switch. All backends give the same answer on every input (the
//! `differential` fuzz target and the unit tests hold them to it), and the
//! same signature bytes: RSASSA-PKCS1-v1_5 is deterministic.
//!
//! Every backend sees only keys that passed the key policy of
//! `docs/spec.md` section 6.2 (`crate::keys`): odd moduli of 2048 to 4096
//! significant bits with exponent 65537. None parses keys or applies
//! policy itself.
//!
//! This module is public but hidden from the documentation so that the
//! fuzz target, the benchmarks and the tests can run every backend on a
//! native build; it is not part of the API and has no stability promise.

pub mod pure;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub mod ring;
pub mod rsa_crate;

use crate::keys::{MeterKey, PublicKey};

/// The verifier of this target.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(crate) use self::pure::VerifyingKey as TargetVerifyingKey;
/// The verifier of this target.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) use self::ring::VerifyingKey as TargetVerifyingKey;

/// Prepares the target's verifier for a modulus the key policy accepted
/// (big-endian, no leading zeros, odd). `None` only for an even or zero
/// modulus, which the policy has already refused.
pub(crate) fn target_verifying_key(modulus: &[u8]) -> Option<TargetVerifyingKey> {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        Some(self::ring::VerifyingKey::new(modulus))
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        self::pure::VerifyingKey::new(modulus)
    }
}

/// The signer of this target for one private key.
#[derive(Clone)]
pub(crate) struct Signer {
    /// ring's prepared key, when ring accepts the key.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    ring: Option<self::ring::SigningKey>,
}

impl Signer {
    /// Prepares signing for a key given as PKCS#8 DER.
    #[cfg_attr(
        not(any(target_arch = "x86_64", target_arch = "aarch64")),
        expect(unused_variables, reason = "only ring needs the PKCS#8 form")
    )]
    pub(crate) fn new(pkcs8: &[u8]) -> Self {
        Self {
            #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
            ring: self::ring::SigningKey::from_pkcs8(pkcs8),
        }
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 of `message`; `None` when the
    /// private-key operation fails.
    pub(crate) fn sign(&self, key: &rsa::PrivateKey, message: &[u8]) -> Option<Vec<u8>> {
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        if let Some(ring) = &self.ring {
            return ring.sign(message);
        }
        rsa_crate::sign(key, message)
    }

    /// Whether ring signs for this key (differential tests).
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    pub(crate) const fn ring(&self) -> Option<&self::ring::SigningKey> {
        self.ring.as_ref()
    }
}

/// The portable verifier for `key`, whatever the target.
pub fn pure_verifier(key: &PublicKey) -> Option<pure::VerifyingKey> {
    pure::VerifyingKey::new(&key.modulus().ok()?)
}

/// ring's verifier for `key`.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub fn ring_verifier(key: &PublicKey) -> Option<self::ring::VerifyingKey> {
    Some(self::ring::VerifyingKey::new(&key.modulus().ok()?))
}

/// The `rsa` crate's verifier for `key`.
pub fn rsa_crate_verifier(key: &PublicKey) -> Option<rsa_crate::VerifyingKey> {
    rsa_crate::VerifyingKey::from_der(key.to_der())
}

/// The modulus of `key`, big-endian without leading zeros.
pub fn modulus(key: &PublicKey) -> Option<Vec<u8>> {
    key.modulus().ok()
}

/// Signs `message` with the `rsa` crate, whatever the target uses.
pub fn sign_with_rsa_crate(key: &MeterKey, message: &[u8]) -> Option<Vec<u8>> {
    rsa_crate::sign(key.rsa(), message)
}

/// Signs `message` with ring; `None` when ring refuses the key.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub fn sign_with_ring(key: &MeterKey, message: &[u8]) -> Option<Vec<u8>> {
    key.signer().ring()?.sign(message)
}
