//! Verification: the only way to turn a [`SignedReading`] into a
//! [`VerifiedReading`].
//!
//! Verification uses public data only (the reading, the signature, the public
//! key), reads no clock and needs no RNG.

use crate::encoding::{Algorithm, Reading};
use crate::error::VerifyError;
use crate::keys::{KeyId, PublicKey};
use crate::wire::SignedReading;

/// A reading whose signature was checked against a public key.
///
/// Only [`PublicKey::verify`] constructs one, so a function that takes a
/// `VerifiedReading` cannot be handed an unchecked reading. Whether that key
/// belongs to a registered meter, and whether the reading is fresh, are the
/// caller's policy (the reference server checks both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReading {
    signed: SignedReading,
}

impl VerifiedReading {
    /// The measured values.
    pub const fn reading(&self) -> &Reading {
        self.signed.reading()
    }

    /// The id of the key that signed the reading.
    pub const fn key_id(&self) -> KeyId {
        self.signed.key_id()
    }

    /// The signature algorithm.
    pub const fn algorithm(&self) -> Algorithm {
        self.signed.algorithm()
    }

    /// The signed reading that was verified, with its signature, for storage
    /// or forwarding so that others can verify it again.
    pub const fn signed(&self) -> &SignedReading {
        &self.signed
    }

    /// Gives the signed reading back.
    pub fn into_signed(self) -> SignedReading {
        self.signed
    }
}

impl PublicKey {
    /// Verifies a signed reading against this key.
    ///
    /// The reading must name this key (its key id is part of the signed
    /// bytes) and carry a valid RSASSA-PKCS1-v1_5 SHA-256 signature over its
    /// canonical message. The checks are steps 9 and 12 to 14 of
    /// `docs/spec.md` section 9, in that order:
    ///
    /// - when the reading's key id is this key's, the carried key *is* this
    ///   key (the id is SHA-256 of the DER) and is not parsed again;
    /// - otherwise the carried key is parsed first, so that a carried key
    ///   outside the key policy reports its own code, and then the reading
    ///   fails with `key_mismatch`.
    ///
    /// ```
    /// use smartmeter_core::{PublicKey, SignedReading};
    ///
    /// // A vector from docs/vectors/valid.json.
    /// # let json = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/vectors/valid.json")).unwrap();
    /// # let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    /// # let case = &doc["cases"][0];
    /// # let wire = case["json"].as_str().unwrap();
    /// # let registered_key = case["public_key_pem"].as_str().unwrap();
    /// let registered = PublicKey::from_pem(registered_key)?;
    /// let received = SignedReading::from_json(wire.as_bytes())?;
    /// let verified = registered.verify(&received)?;
    /// assert_eq!(verified.key_id(), registered.key_id());
    /// # Ok::<(), smartmeter_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`VerifyError::Key`] when the reading names another key and the key
    /// it carries is outside the key policy; [`VerifyError::KeyMismatch`]
    /// when it names another key; [`VerifyError::InvalidSignature`] when the
    /// signature does not match.
    pub fn verify(&self, signed: &SignedReading) -> Result<VerifiedReading, VerifyError> {
        if signed.key_id() != self.key_id() {
            // Step 9 before step 12: the carried key's own policy error wins.
            signed.carried_key()?;
            return Err(VerifyError::KeyMismatch {
                reading: signed.key_id().to_string(),
                expected: self.key_id().to_string(),
            });
        }
        match signed.algorithm() {
            Algorithm::RsaPkcs1v15Sha256 => {
                // Step 13: a signature is exactly as long as the modulus
                // (RFC 8017 8.2.2 step 1). Every backend checks it too.
                if signed.signature().len() != self.signature_len() {
                    return Err(VerifyError::InvalidSignature);
                }
                // Step 14.
                if !self.verifies(&signed.canonical_bytes(), signed.signature()) {
                    return Err(VerifyError::InvalidSignature);
                }
            }
        }
        Ok(VerifiedReading {
            signed: signed.clone(),
        })
    }
}
