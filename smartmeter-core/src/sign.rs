//! Signing a reading with a meter's private key.
//!
//! Signing belongs in a meter's secure hardware; this implementation serves
//! simulators, test benches and vendor tooling. RSA keys sign natively with
//! ring (constant time, blinded), elsewhere with the `rsa` crate (see
//! `docs/security.md` on the Marvin advisory); P-256 keys sign with the
//! `p256` crate everywhere (RFC 6979, low S; see `crate::backend`).

use crate::encoding::{Message, Reading};
use crate::error::SignError;
use crate::keys::MeterKey;
use crate::wire::SignedReading;

impl MeterKey {
    /// Signs a reading with the key's algorithm over the canonical message
    /// bytes: RSASSA-PKCS1-v1_5 with SHA-256 for an RSA key
    /// (`docs/spec.md` section 6.1), ECDSA P-256 with SHA-256 for a P-256
    /// key, as 64 bytes of r || s with low S (section 6.4).
    ///
    /// The signature is deterministic: the same key and reading always give
    /// the same bytes, whichever backend computes them. RSA: on x86_64 and
    /// aarch64 ring signs, blinded with the operating system's RNG; on other
    /// targets the `rsa` crate does, blinded when the `keygen` feature
    /// provides an RNG. Blinding does not change the result. P-256: the
    /// `p256` crate signs on every target with the RFC 6979 nonce, then
    /// normalises s to the low half.
    ///
    /// ```
    /// # #[cfg(feature = "keygen")] {
    /// use smartmeter_core::{MeterKey, Reading};
    ///
    /// let reading = Reading { sequence: 7, timestamp_ms: 1_764_000_000_000, wh_imported: 10, wh_exported: 2 };
    /// let key = MeterKey::generate(2048)?;
    /// let signed = key.sign(reading)?;
    /// assert_eq!(signed.signature().len(), 256);
    /// assert_eq!(signed, key.sign(reading)?, "PKCS#1 v1.5 signatures are deterministic");
    ///
    /// let key = MeterKey::generate_p256()?;
    /// let signed = key.sign(reading)?;
    /// assert_eq!(signed.signature().len(), 64);
    /// assert!(smartmeter_core::ecdsa::is_low_s(signed.signature()));
    /// assert_eq!(signed, key.sign(reading)?, "RFC 6979 makes ECDSA deterministic");
    /// # }
    /// # Ok::<(), smartmeter_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`SignError::Failed`] when the private-key operation fails (an RNG
    /// failure during RSA blinding; not expected for a key this type
    /// accepted).
    pub fn sign(&self, reading: Reading) -> Result<SignedReading, SignError> {
        let algorithm = self.public_key().algorithm();
        let message = Message {
            algorithm,
            key_id: self.key_id(),
            reading,
        };
        let signature = self
            .sign_bytes(&message.to_bytes())
            .ok_or(SignError::Failed)?;
        Ok(SignedReading::from_parts(
            algorithm,
            self.public_key().clone(),
            reading,
            signature,
        ))
    }
}
