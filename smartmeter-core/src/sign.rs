//! Signing a reading with a meter's private key.
//!
//! Signing belongs in a meter's secure hardware; this implementation serves
//! simulators, test benches and vendor tooling. Natively it signs with ring
//! (constant time, blinded); elsewhere with the `rsa` crate (see
//! `docs/security.md` on the Marvin advisory, and `crate::backend`).

use crate::encoding::{Algorithm, Message, Reading};
use crate::error::SignError;
use crate::keys::MeterKey;
use crate::wire::SignedReading;

impl MeterKey {
    /// Signs a reading: RSASSA-PKCS1-v1_5 with SHA-256 over the canonical
    /// message bytes (`docs/spec.md`, section "Signature").
    ///
    /// The signature is deterministic: the same key and reading always give
    /// the same bytes, whichever backend computes them. On x86_64 and
    /// aarch64 ring signs, blinded with the operating system's RNG; on other
    /// targets the `rsa` crate does, blinded when the `keygen` feature
    /// provides an RNG. Blinding does not change the result.
    ///
    /// ```
    /// # #[cfg(feature = "keygen")] {
    /// use smartmeter_core::{MeterKey, Reading};
    ///
    /// let key = MeterKey::generate(2048)?;
    /// let reading = Reading { sequence: 7, timestamp_ms: 1_764_000_000_000, wh_imported: 10, wh_exported: 2 };
    /// let signed = key.sign(reading)?;
    /// assert_eq!(signed.signature().len(), 256);
    /// assert_eq!(signed, key.sign(reading)?, "PKCS#1 v1.5 signatures are deterministic");
    /// # }
    /// # Ok::<(), smartmeter_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`SignError::Failed`] when the RSA operation fails (an RNG failure
    /// during blinding; not expected for a key this type accepted).
    pub fn sign(&self, reading: Reading) -> Result<SignedReading, SignError> {
        let algorithm = Algorithm::RsaPkcs1v15Sha256;
        let message = Message {
            algorithm,
            key_id: self.key_id(),
            reading,
        };
        let signature = self
            .signer()
            .sign(self.rsa(), &message.to_bytes())
            .ok_or(SignError::Failed)?;
        Ok(SignedReading::from_parts(
            algorithm,
            self.public_key().clone(),
            reading,
            signature,
        ))
    }
}
