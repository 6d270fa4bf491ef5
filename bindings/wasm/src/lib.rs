//! # smartmeter-wasm
//!
//! WebAssembly bindings of `smartmeter-core` for browsers and Node: verify
//! signed smart-meter readings where they are displayed, without trusting
//! the server that stored them. The crate only declares bindings:
//! everything it does with readings, keys, numbers and limits is
//! `smartmeter_core::ffi`'s, and the glue JavaScript needs (measuring a value
//! before it is copied, `Error` objects with a `code`, the WebCrypto calls)
//! is in [`js`] and [`webcrypto`].
//!
//! The JavaScript API (see `docs/wasm.md`):
//!
//! | function | does |
//! |---|---|
//! | `verifyReading(reading, registeredPublicKey)` | parses the wire form (JSON text or object) and verifies it against the meter's registered key |
//! | `verifyReadings(readings, registeredPublicKey, options?)` | the same for many readings at once, the signatures checked by WebCrypto where it exists; resolves to the results and the audit |
//! | `new ReadingsVerifier(registeredPublicKey, options?)` | the same, list after list (pages of a range), then `audit()` and `exportJson()` |
//! | `checkIntegrity(reading)` | checks a reading against the key it *carries*: intact, but **not authenticated** |
//! | `keyId(publicKey)` | the key id (64 hex digits) of a PEM, base64-DER or DER key |
//! | `canonicalBytes(reading)` | the 82 bytes the signature covers (unverified) |
//! | `decodeCanonical(bytes)` | decodes canonical bytes |
//! | `auditHistory(readings, registeredPublicKey)` | verifies a meter's readings, then audits the history |
//! | `errorCodes()`, `errorCatalogue()` | the core's error catalogue |
//!
//! Errors are thrown (or promises rejected) as real JavaScript `Error`
//! objects named `SmartMeterError` with a `code` property: the core's code,
//! or `invalid_argument` for an argument of the wrong JavaScript type (a key
//! that is a number, readings that are not an array). Integer fields (`u64`)
//! come back as `bigint`.
//!
//! No function panics on any input: a panic in wasm traps and leaves the
//! instance unusable, so every fallible step returns an error instead (the
//! workspace denies `unwrap`, `expect`, `panic` and indexing).
//!
//! With the `sign` feature (test tooling only) the module also exports
//! `generateKey`, `publicKeyOf` and `signReading`; with the `bench` feature
//! (`scripts/bench-wasm.sh` only) `BenchVerifiers` and `BenchP256`.

mod audit;
mod batch;
#[cfg(feature = "bench")]
mod bench;
mod js;
#[cfg(feature = "sign")]
mod sign;
mod webcrypto;

use js_sys::{Array, Uint8Array};
use smartmeter_core::ERROR_CODES;
use smartmeter_core::ffi::{self, output::MessageOut};
use wasm_bindgen::prelude::*;

pub use audit::audit_history;
pub use batch::{ReadingsVerifier, verify_readings};
#[cfg(feature = "bench")]
pub use bench::{BenchP256, BenchVerifiers};
#[cfg(feature = "sign")]
pub use sign::{generate_key, public_key_of, sign_reading};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/**
 * The JSON wire form of a signed reading as an object (docs/spec.md).
 * Integers are `bigint`, or `number` up to `Number.MAX_SAFE_INTEGER`.
 */
export interface WireReading {
  version: number | bigint;
  algorithm: number | bigint;
  /** Base64 of the SubjectPublicKeyInfo DER. */
  public_key: string;
  sequence: number | bigint;
  timestamp_ms: number | bigint;
  wh_imported: number | bigint;
  wh_exported: number | bigint;
  /** Base64 of the signature. */
  signature: string;
}

/** The measured values and the key of a canonical message. */
export interface CanonicalMessage {
  /** Signature algorithm id (1: RSASSA-PKCS1-v1_5 with SHA-256; 2: ECDSA P-256 with SHA-256). */
  algorithm: number;
  /** Key id: SHA-256 of the key's SubjectPublicKeyInfo DER, 64 lowercase hex digits. */
  keyId: string;
  sequence: bigint;
  /** Milliseconds since the Unix epoch (UTC). */
  timestampMs: bigint;
  /** Cumulative energy imported from the grid, Wh. */
  whImported: bigint;
  /** Cumulative energy exported to the grid, Wh. */
  whExported: bigint;
}

/** A reading whose signature verified against the meter's registered key. */
export interface VerifiedReading extends CanonicalMessage {
  /** The registered key that verified it: base64 of the SubjectPublicKeyInfo DER. */
  publicKey: string;
}

/**
 * A reading consistent with the key it carries. This authenticates nothing:
 * anyone can make a key pair and a reading that passes.
 */
export interface IntegrityReport extends CanonicalMessage {
  /** The carried key the signature matches: base64 of its DER. */
  carriedPublicKey: string;
  /** Always false: only verification against a registered key authenticates. */
  authenticated: false;
}

/** What every function of this module throws: an `Error` with a stable `code`. */
export interface SmartMeterError extends Error {
  name: "SmartMeterError";
  /** One of `errorCodes()`, or `"invalid_argument"` for an argument of the wrong type. */
  code: string;
  /** `auditHistory` only: the index of the reading that failed to parse or verify. */
  index?: number;
}

/** One entry of the core's error catalogue (docs/spec.md, section 11). */
export interface ErrorCatalogueEntry {
  code: string;
  /** The area: "decode", "key", "keygen", "wire", "key_id", "verify", "sign", "policy", "audit". */
  family: string;
  meaning: string;
}

/** The values a meter signs (for `signReading`, feature `sign`). */
export interface ReadingValues {
  sequence: number | bigint;
  timestampMs: number | bigint;
  whImported: number | bigint;
  whExported: number | bigint;
}
"#;

/// Parses a signed reading and verifies it against the meter's registered
/// key.
///
/// `reading` is the JSON wire form: its text (exact for every `u64`) or an
/// object. `registeredPublicKey` (PEM, base64 of the DER, or the DER bytes)
/// is the key the verifier trusts for this meter, e.g. from `GET
/// /meters/{key_id}`; the reading must name it, else `key_mismatch`.
///
/// Returns the verified fields; throws a `SmartMeterError` with the core's
/// code when parsing or verification fails.
#[wasm_bindgen(js_name = verifyReading, unchecked_return_type = "VerifiedReading")]
pub fn verify_reading(
    #[wasm_bindgen(unchecked_param_type = "string | WireReading")] reading: JsValue,
    #[wasm_bindgen(
        js_name = registeredPublicKey,
        unchecked_param_type = "string | Uint8Array"
    )]
    registered_public_key: JsValue,
) -> Result<JsValue, JsValue> {
    let key = js::registered_key(&registered_public_key)?;
    let signed = js::reading(&reading).map_err(js::core_error)?;
    js::to_js(&ffi::verify_reading(&signed, &key).map_err(js::core_error)?)
}

/// Checks a reading against the public key it carries, not against a
/// registered key.
///
/// **This authenticates nothing.** It shows that the reading is intact and
/// self-consistent, but anyone can make a key pair and a reading that
/// passes; what makes a reading a meter's is that it verifies under the key
/// registered for that meter (`verifyReading`). Useful to tell a damaged
/// reading from one of an unknown meter.
#[wasm_bindgen(js_name = checkIntegrity, unchecked_return_type = "IntegrityReport")]
pub fn check_integrity(
    #[wasm_bindgen(unchecked_param_type = "string | WireReading")] reading: JsValue,
) -> Result<JsValue, JsValue> {
    let signed = js::reading(&reading).map_err(js::core_error)?;
    js::to_js(&ffi::check_integrity(&signed).map_err(js::core_error)?)
}

/// The key id of a public key: SHA-256 of its SubjectPublicKeyInfo DER, as
/// 64 lowercase hex digits. Accepts PEM, base64 of the DER, or the DER bytes;
/// applies the core's key policy (2048 to 4096 bits, exponent 65537).
#[wasm_bindgen(js_name = keyId)]
pub fn key_id(
    #[wasm_bindgen(js_name = publicKey, unchecked_param_type = "string | Uint8Array")]
    public_key: JsValue,
) -> Result<String, JsValue> {
    Ok(js::key(&public_key)?.key_id().to_string())
}

/// The canonical bytes of a reading: exactly what its signature covers
/// (`docs/spec.md`, "Canonical message"). The reading is parsed strictly but
/// not verified.
#[wasm_bindgen(js_name = canonicalBytes)]
pub fn canonical_bytes(
    #[wasm_bindgen(unchecked_param_type = "string | WireReading")] reading: JsValue,
) -> Result<Uint8Array, JsValue> {
    let signed = js::reading(&reading).map_err(js::core_error)?;
    Ok(Uint8Array::from(signed.canonical_bytes().as_slice()))
}

/// Decodes canonical message bytes (82 bytes for format version 1).
#[wasm_bindgen(js_name = decodeCanonical, unchecked_return_type = "CanonicalMessage")]
pub fn decode_canonical(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
) -> Result<JsValue, JsValue> {
    let bytes = js::message_bytes(&bytes)?;
    let message = ffi::input::message_from_bytes(&bytes).map_err(js::core_error)?;
    js::to_js(&MessageOut::from(&message))
}

/// Every error code the core can produce (the `code` of a thrown error is
/// one of these, or `invalid_argument`).
#[wasm_bindgen(js_name = errorCodes, unchecked_return_type = "string[]")]
pub fn error_codes() -> Array {
    ERROR_CODES.iter().map(|c| JsValue::from_str(c)).collect()
}

/// The core's error catalogue: every code with its family and one-line
/// meaning, in the order of `errorCodes()` and of `docs/spec.md` section 11.
#[wasm_bindgen(js_name = errorCatalogue, unchecked_return_type = "ErrorCatalogueEntry[]")]
pub fn error_catalogue() -> Result<JsValue, JsValue> {
    js::to_js(&ffi::catalogue())
}
