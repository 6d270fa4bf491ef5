//! The core's signature arithmetic one piece at a time, for
//! `scripts/bench-wasm.sh` (feature `bench`): the RSA verifiers (the
//! portable verifier that the core uses on wasm32, and the `rsa` crate's
//! verify that it replaced), and P-256 verification and signing as the core
//! does them on wasm32. Signing is here, not in the package: the package is
//! verify-only, and this feature is never built into it.

use smartmeter_core::backend::{pure, rsa_crate};
use smartmeter_core::{MeterKey, SignedReading, backend};
use wasm_bindgen::prelude::*;

use crate::js::{core_error, invalid_argument};

/// One signed reading with both verifiers prepared for its carried key.
#[wasm_bindgen(js_name = BenchVerifiers)]
pub struct BenchVerifiers {
    message: Vec<u8>,
    signature: Vec<u8>,
    pure: pure::VerifyingKey,
    rsa_crate: rsa_crate::VerifyingKey,
}

#[wasm_bindgen(js_class = BenchVerifiers)]
impl BenchVerifiers {
    /// Prepares both verifiers for the key a wire-form reading carries.
    #[wasm_bindgen(constructor)]
    pub fn new(json: &str) -> Result<BenchVerifiers, JsValue> {
        let signed = SignedReading::from_json(json.as_bytes()).map_err(core_error)?;
        let key = signed.carried_key().map_err(core_error)?;
        let unprepared = || invalid_argument("the backends cannot take this key");
        Ok(Self {
            message: signed.canonical_bytes().to_vec(),
            signature: signed.signature().to_vec(),
            pure: backend::pure_verifier(&key).ok_or_else(unprepared)?,
            rsa_crate: backend::rsa_crate_verifier(&key).ok_or_else(unprepared)?,
        })
    }

    /// Verifies `times` times with the portable verifier; true if every
    /// verification succeeded.
    pub fn pure(&self, times: u32) -> bool {
        (0..times).all(|_| self.pure.verify(&self.message, &self.signature))
    }

    /// Verifies `times` times with the `rsa` crate; true if every
    /// verification succeeded.
    #[wasm_bindgen(js_name = rsaCrate)]
    pub fn rsa_crate(&self, times: u32) -> bool {
        (0..times).all(|_| self.rsa_crate.verify(&self.message, &self.signature))
    }
}

/// One signed P-256 reading with the `p256` crate's verifier prepared for
/// its carried key, and the meter's private key for signing it again.
#[wasm_bindgen(js_name = BenchP256)]
pub struct BenchP256 {
    signed: SignedReading,
    message: Vec<u8>,
    verifier: backend::p256::VerifyingKey,
    key: MeterKey,
}

#[wasm_bindgen(js_class = BenchP256)]
impl BenchP256 {
    /// Prepares a wire-form P-256 reading and the PKCS#8 PEM private key
    /// that signed it.
    #[wasm_bindgen(constructor)]
    pub fn new(
        json: &str,
        #[wasm_bindgen(js_name = privateKeyPem)] private_key_pem: &str,
    ) -> Result<BenchP256, JsValue> {
        let signed = SignedReading::from_json(json.as_bytes()).map_err(core_error)?;
        let carried = signed.carried_key().map_err(core_error)?;
        let key = MeterKey::from_pkcs8_pem(private_key_pem).map_err(core_error)?;
        if key.key_id() != carried.key_id() {
            return Err(invalid_argument(
                "the private key did not sign this reading",
            ));
        }
        let verifier =
            backend::p256_verifier(&carried).ok_or_else(|| invalid_argument("not a P-256 key"))?;
        Ok(Self {
            message: signed.canonical_bytes().to_vec(),
            signed,
            verifier,
            key,
        })
    }

    /// Verifies the signature `times` times (the ECDSA check alone, as
    /// `openssl speed` times it); true if every verification succeeded.
    pub fn verify(&self, times: u32) -> bool {
        (0..times).all(|_| self.verifier.verify(&self.message, self.signed.signature()))
    }

    /// Signs the reading `times` times with the core's signer (canonical
    /// bytes, RFC 6979 nonce, ECDSA, low S); true if every signature equals
    /// the original, as determinism requires.
    pub fn sign(&self, times: u32) -> bool {
        (0..times).all(|_| {
            self.key
                .sign(*self.signed.reading())
                .is_ok_and(|again| again.signature() == self.signed.signature())
        })
    }
}
