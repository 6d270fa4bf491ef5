//! Key generation and signing, for test tooling only (feature `sign`).

use serde::Deserialize;
use smartmeter_core::{MeterKey, Reading};
use wasm_bindgen::prelude::*;

use crate::js::{core_error, invalid_argument};

/// The values a meter signs, as `signReading` takes them: integers as
/// `bigint`, or `number` up to `Number.MAX_SAFE_INTEGER` (serde-wasm-bindgen
/// refuses any other number).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReadingValues {
    sequence: u64,
    timestamp_ms: u64,
    wh_imported: u64,
    wh_exported: u64,
}

fn meter_key(private_key_pem: &str) -> Result<MeterKey, JsValue> {
    MeterKey::from_pkcs8_pem(private_key_pem).map_err(core_error)
}

/// Generates a meter key (2048 to 4096 bits) with `crypto.getRandomValues`;
/// returns it as PKCS#8 PEM. Test tooling only.
#[wasm_bindgen(js_name = generateKey)]
pub fn generate_key(bits: usize) -> Result<String, JsValue> {
    let key = MeterKey::generate(bits).map_err(core_error)?;
    Ok(key.to_pkcs8_pem().map_err(core_error)?.to_string())
}

/// The public key (base64 of the SubjectPublicKeyInfo DER) of a PKCS#8 PEM private key.
#[wasm_bindgen(js_name = publicKeyOf)]
pub fn public_key_of(
    #[wasm_bindgen(js_name = privateKeyPem)] private_key_pem: &str,
) -> Result<String, JsValue> {
    Ok(meter_key(private_key_pem)?.public_key().to_base64())
}

/// Signs reading values with a PKCS#8 PEM private key; returns the JSON
/// wire text. Test tooling only: real meters sign in secure hardware.
#[wasm_bindgen(js_name = signReading)]
pub fn sign_reading(
    #[wasm_bindgen(js_name = privateKeyPem)] private_key_pem: &str,
    #[wasm_bindgen(unchecked_param_type = "ReadingValues")] values: JsValue,
) -> Result<String, JsValue> {
    let values: ReadingValues = serde_wasm_bindgen::from_value(values)
        .map_err(|e| invalid_argument(&format!("reading values: {e}")))?;
    let reading = Reading {
        sequence: values.sequence,
        timestamp_ms: values.timestamp_ms,
        wh_imported: values.wh_imported,
        wh_exported: values.wh_exported,
    };
    let signed = meter_key(private_key_pem)?
        .sign(reading)
        .map_err(core_error)?;
    Ok(signed.to_json())
}
