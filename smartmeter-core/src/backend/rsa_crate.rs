//! The `rsa` crate as a backend: signing on targets without ring (and for
//! the rare key ring refuses), and the verifier the core used before the
//! fast backends, kept as a third, independent opinion for the differential
//! fuzz target and as the baseline of the benchmarks.
//!
//! Its private-key operation is not constant time (RUSTSEC-2023-0071, see
//! `docs/security.md`); its public-key operation is constant time, which
//! verification does not need and pays for.

use rsa::pkcs8::DecodePublicKey;
use sha2::Sha256;

/// A public key as the `rsa` crate verifies with it.
#[derive(Clone, Debug)]
pub struct VerifyingKey(rsa::PublicKey);

impl VerifyingKey {
    /// Parses a SubjectPublicKeyInfo that the key policy accepted. `None`
    /// if the `rsa` crate refuses it.
    pub fn from_der(der: &[u8]) -> Option<Self> {
        rsa::PublicKey::from_public_key_der(der).ok().map(Self)
    }

    /// Whether `signature` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature
    /// of `message` under this key.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.0.pkcs1v15_verify::<Sha256>(message, signature).is_ok()
    }
}

/// RSASSA-PKCS1-v1_5 with SHA-256 over `message` with the `rsa` crate
/// (blinded when the `keygen` feature provides an RNG). `None` when the
/// private-key operation fails.
pub fn sign(key: &rsa::PrivateKey, message: &[u8]) -> Option<Vec<u8>> {
    key.pkcs1v15_sign::<Sha256>(message).ok()
}
