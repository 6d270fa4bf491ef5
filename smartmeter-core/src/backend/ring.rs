//! The native backend (x86_64, aarch64): ring verifies and signs RSA, and
//! verifies ECDSA P-256.
//!
//! ring's RSA is assembly-accelerated and constant time; it verifies at
//! about OpenSSL's speed and signs several times faster than the `rsa`
//! crate, with blinding. It is fed only keys that the core's key policy
//! accepted: ring checks the modulus length rounded up to whole bytes, so
//! the policy's count of at least 2048 *significant* bits stays ours.
//!
//! ring's P-256 (`ECDSA_P256_SHA256_FIXED`, the 64-byte r || s form) is
//! assembly too. It does not sign readings: its ECDSA signing draws a
//! random nonce, and the specification's vectors are byte-exact, so P-256
//! signing is the `p256` crate's RFC 6979 (`super::p256`).

use std::sync::Arc;

use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair,
    RsaPublicKeyComponents, UnparsedPublicKey,
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

/// A P-256 public key as ring takes it: the uncompressed point.
#[derive(Clone, Debug)]
pub struct EcdsaVerifyingKey {
    point: [u8; 65],
}

impl EcdsaVerifyingKey {
    /// Keeps an uncompressed SEC 1 point (`0x04 || x || y`) that the key
    /// policy accepted (on the curve). ring parses and checks it again on
    /// every verification; its API offers no prepared form.
    pub const fn new(point: &[u8; 65]) -> Self {
        Self { point: *point }
    }

    /// Whether `signature` (64 bytes, r || s) is a valid ECDSA P-256
    /// SHA-256 signature of `message` under this key. ring requires
    /// `1 <= r, s < n` and accepts a high S (the core refuses it earlier).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.point)
            .verify(message, signature)
            .is_ok()
    }
}
