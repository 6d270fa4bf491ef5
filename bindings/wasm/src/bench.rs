//! The RSA verifiers of the core one by one, for `scripts/bench-wasm.sh`
//! (feature `bench`): the portable verifier that the core uses on wasm32,
//! and the `rsa` crate's verify that it replaced.

use smartmeter_core::backend::{pure, rsa_crate};
use smartmeter_core::{SignedReading, backend};
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
