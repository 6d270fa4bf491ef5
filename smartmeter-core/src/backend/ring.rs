//! The native backend (x86_64, aarch64): ring verifies and signs.
//!
//! ring's RSA is assembly-accelerated and constant time; it verifies at
//! about OpenSSL's speed and signs several times faster than the `rsa`
//! crate, with blinding. It is fed only keys that the core's key policy
//! accepted: ring checks the modulus length rounded up to whole bytes, so
//! the policy's count of at least 2048 *significant* bits stays ours.

use std::sync::Arc;

use ring::rand::SystemRandom;
use ring::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents,
};

use crate::keys::PUBLIC_EXPONENT;

/// A public key as ring takes it: the modulus and the exponent, big-endian.
#[derive(Clone, Debug)]
pub struct VerifyingKey {
    modulus: Box<[u8]>,
}

impl VerifyingKey {
    /// Keeps a modulus given as big-endian bytes without leading zeros;
    /// the exponent is 65537 (the key policy admits no other).
    pub fn new(modulus: &[u8]) -> Self {
        Self {
            modulus: modulus.into(),
        }
    }

    /// Whether `signature` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature
    /// of `message` under this key. ring checks that the signature is
    /// exactly `k` bytes, that `s < n`, and compares the whole encoded
    /// message.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let exponent = PUBLIC_EXPONENT.to_be_bytes();
        let e = exponent
            .iter()
            .position(|&b| b != 0)
            .and_then(|start| exponent.get(start..))
            .unwrap_or(&exponent);
        RsaPublicKeyComponents {
            n: &*self.modulus,
            e,
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
        .is_ok()
    }
}

/// A private key as ring signs with it. Shared between clones of a
/// `MeterKey`: ring's key pair is immutable.
#[derive(Clone)]
pub struct SigningKey(Arc<RsaKeyPair>);

impl SigningKey {
    /// Prepares an unencrypted PKCS#8 RSA private key. `None` when ring
    /// refuses it: ring takes only two-prime keys of 2048 to 4096 bits whose
    /// primes are each half the modulus length (every key the `rsa` crate or
    /// OpenSSL generates in that range); the caller then signs with the
    /// `rsa` crate, which gives the same bytes.
    pub fn from_pkcs8(der: &[u8]) -> Option<Self> {
        RsaKeyPair::from_pkcs8(der)
            .ok()
            .map(|key| Self(Arc::new(key)))
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`, blinded with the
    /// operating system's RNG. Deterministic: blinding does not change the
    /// result. `None` if the RNG fails.
    pub fn sign(&self, message: &[u8]) -> Option<Vec<u8>> {
        let mut signature = vec![0; self.0.public().modulus_len()];
        self.0
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .ok()?;
        Some(signature)
    }
}
