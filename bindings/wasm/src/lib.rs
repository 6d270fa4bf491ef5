//! # smartmeter-wasm
//!
//! WebAssembly bindings of `smartmeter-core` for browsers and Node: verify a
//! signed smart-meter reading where it is displayed, without trusting the
//! server that stored it. A thin wrapper: every rule about readings (the wire
//! form, the key policy, the canonical bytes, the signature) is the core's.
//!
//! The JavaScript API (see `docs/wasm.md`):
//!
//! | function | does |
//! |---|---|
//! | `verifyReading(reading, registeredPublicKey?)` | parses the wire form (JSON text or object) and verifies it; returns the decoded fields |
//! | `keyId(publicKey)` | the key id (64 hex digits) of a PEM, base64-DER or DER key |
//! | `canonicalBytes(reading)` | the 82 bytes the signature covers (unverified) |
//! | `decodeCanonical(bytes)` | decodes canonical bytes |
//! | `auditHistory(readings, registeredPublicKey)` | verifies a meter's readings, then audits the history (gaps, duplicates, conflicts, ...) |
//! | `errorCodes()` | every error code of the core |
//! | `errorCatalogue()` | every error code with its family and meaning |
//!
//! Errors are thrown as real JavaScript `Error` objects (`instanceof Error`
//! holds) named `SmartMeterError`, with a `code` property equal to the
//! core's `code()`; the binding adds one code of its own, `invalid_argument`,
//! for a JavaScript value of the wrong type. Integer fields (`u64`) come back
//! as `bigint`; in an input object they are `bigint` or a JavaScript number
//! up to `Number.MAX_SAFE_INTEGER` (larger numbers are rejected with
//! `malformed_json`, since they may already have been rounded).
//!
//! No function panics on any input: a panic in wasm traps and leaves the
//! instance unusable, so every fallible step returns an error instead (the
//! workspace denies `unwrap`, `expect`, `panic` and indexing).
//!
//! With the `sign` feature (test tooling only) the module also exports
//! `generateKey`, `publicKeyOf` and `signReading`; with the `bench` feature
//! (`scripts/bench-wasm.sh` only) `BenchVerifiers`.

use js_sys::{Array, BigInt, JsString, Number, Object, Reflect, Uint8Array};
use smartmeter_core::{
    DecodeError, ERROR_CODES, ErrorCode, KeyError, MAX_JSON_LEN, MAX_KEY_TEXT_LEN,
    MAX_PUBLIC_KEY_DER_LEN, MESSAGE_LEN, Message, PublicKey, Reading, SignedReading, WireError,
};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

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
  /** Signature algorithm id (1: RSASSA-PKCS1-v1_5 with SHA-256). */
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

/** A reading whose signature verified. */
export interface VerifiedReading extends CanonicalMessage {
  /** The public key that verified it: base64 of the SubjectPublicKeyInfo DER. */
  publicKey: string;
}

/** What every function of this module throws: an `Error` with a stable `code`. */
export interface SmartMeterError extends Error {
  name: "SmartMeterError";
  /** One of `errorCodes()`, or `"invalid_argument"` for a value of the wrong type. */
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

/// The code of errors about JavaScript values of the wrong type; not a core code.
const INVALID_ARGUMENT: &str = "invalid_argument";

/// A JavaScript `Error` named `SmartMeterError` with a `code` property.
fn error(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name("SmartMeterError");
    // Defining a property on a fresh, extensible Error cannot fail; if it
    // did, the caller still gets an Error.
    let _ = Reflect::set(&err, &JsValue::from_str("code"), &JsValue::from_str(code));
    err.into()
}

/// Every core error becomes an `Error` with the core's code and message.
fn core_error(e: impl Into<smartmeter_core::Error>) -> JsValue {
    let e = e.into();
    error(e.code(), &e.to_string())
}

fn invalid_argument(message: &str) -> JsValue {
    error(INVALID_ARGUMENT, message)
}

/// Sets a property on a plain object created by this module (cannot fail).
fn set(target: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

fn bigint(value: u64) -> JsValue {
    BigInt::from(value).into()
}

/// The fields of a canonical message as a plain object.
fn message_object(message: &Message) -> Object {
    let out = Object::new();
    set(&out, "algorithm", &JsValue::from(message.algorithm.id()));
    set(
        &out,
        "keyId",
        &JsValue::from_str(&message.key_id.to_string()),
    );
    reading_fields(&out, &message.reading);
    out
}

fn reading_fields(out: &Object, reading: &Reading) {
    set(out, "sequence", &bigint(reading.sequence));
    set(out, "timestampMs", &bigint(reading.timestamp_ms));
    set(out, "whImported", &bigint(reading.wh_imported));
    set(out, "whExported", &bigint(reading.wh_exported));
}

/// The JSON text of a reading given as text or as an object of the wire form.
///
/// An object is serialised faithfully, property by property, and the core
/// then applies all of its rules to the text (unknown, missing or mistyped
/// fields are the core's `malformed_json`). The only rule here is the one
/// JavaScript needs: a `number` that is not a safe integer may already have
/// been rounded, so it is refused rather than passed on.
///
/// Text is copied into wasm memory only up to the core's size limit: a
/// longer reading is refused with the core's `reading_too_large` before it
/// is copied, so no input can exhaust the instance's memory.
fn wire_text(reading: &JsValue) -> Result<String, JsValue> {
    if reading.is_string() {
        return bounded_text(reading, 0);
    }
    if !reading.is_object() || reading.is_function() || Array::is_array(reading) {
        return Err(invalid_argument(
            "a reading is its JSON wire text (a string) or an object of the wire form",
        ));
    }
    let mut out = String::from("{");
    for entry in Object::entries(reading.unchecked_ref::<Object>()).iter() {
        let entry: Array = entry.unchecked_into();
        let (name, value) = (entry.get(0), entry.get(1));
        let name = bounded_text(&name, out.len())?;
        let Some(value) = json_value(&name, &value, out.len())? else {
            continue;
        };
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&json_stringify(&JsValue::from_str(&name), out.len())?);
        out.push(':');
        out.push_str(&value);
    }
    out.push('}');
    Ok(out)
}

/// Copies a JavaScript string into wasm memory when `used` plus its length
/// stays within the core's limit for a signed reading; else the core's
/// `reading_too_large`, without copying. (A JavaScript string's UTF-16
/// length is a lower bound of its UTF-8 length.)
fn bounded_text(value: &JsValue, used: usize) -> Result<String, JsValue> {
    let units = value
        .dyn_ref::<JsString>()
        .map_or(0, |s| usize::try_from(s.length()).unwrap_or(usize::MAX));
    let len = used.saturating_add(units);
    if len > MAX_JSON_LEN {
        return Err(core_error(WireError::TooLarge {
            len,
            max: MAX_JSON_LEN,
        }));
    }
    value
        .as_string()
        .ok_or_else(|| invalid_argument("expected a string"))
}

/// JSON text of one property value; `None` for what `JSON.stringify` omits.
fn json_value(name: &str, value: &JsValue, used: usize) -> Result<Option<String>, JsValue> {
    if value.is_undefined() || value.is_function() || value.is_symbol() {
        return Ok(None);
    }
    if value.is_bigint() {
        return Ok(Some(bigint_text(value)?));
    }
    if let Some(number) = value.as_f64() {
        if !Number::is_safe_integer(value) {
            return Err(error(
                "malformed_json",
                &format!(
                    "malformed json: `{name}` is {number}, not a safe integer; pass integers \
                     above 2^53-1 as bigint, or the reading as JSON text"
                ),
            ));
        }
        // A safe integer is exactly representable as i64.
        #[expect(
            clippy::cast_possible_truncation,
            reason = "a safe integer has at most 53 bits"
        )]
        return Ok(Some((number as i64).to_string()));
    }
    json_stringify(value, used).map(Some)
}

/// `JSON.stringify(value)`, copied into wasm memory within the size limit.
fn json_stringify(value: &JsValue, used: usize) -> Result<String, JsValue> {
    let text = js_sys::JSON::stringify(value).map_err(|_| {
        error(
            "malformed_json",
            "malformed json: a value cannot be serialised",
        )
    })?;
    bounded_text(&text, used)
}

fn bigint_text(value: &JsValue) -> Result<String, JsValue> {
    value
        .unchecked_ref::<BigInt>()
        .to_string(10)
        .ok()
        .and_then(|text| text.as_string())
        .ok_or_else(|| invalid_argument("a bigint cannot be converted to text"))
}

/// Parses a public key: key text in the forms the core accepts
/// (`PublicKey::from_text`: PEM, or base64 of the SubjectPublicKeyInfo DER
/// on one line or wrapped), or the DER bytes. Input longer than the core's
/// limits is refused before it is copied, with the core's own error (a
/// JavaScript string's UTF-16 length is a lower bound of its UTF-8 length).
fn parse_key(value: &JsValue) -> Result<PublicKey, JsValue> {
    if let Some(text) = value.dyn_ref::<JsString>() {
        let len = usize::try_from(text.length()).unwrap_or(usize::MAX);
        if len > MAX_KEY_TEXT_LEN {
            return Err(core_error(KeyError::TextTooLarge {
                len,
                max: MAX_KEY_TEXT_LEN,
            }));
        }
        return PublicKey::from_text(&String::from(text)).map_err(core_error);
    }
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        if usize::try_from(bytes.length()).unwrap_or(usize::MAX) > MAX_PUBLIC_KEY_DER_LEN {
            return Err(core_error(KeyError::Malformed(
                "longer than any accepted public key",
            )));
        }
        return PublicKey::from_der(&bytes.to_vec()).map_err(core_error);
    }
    Err(invalid_argument(
        "a public key is PEM text, base64 of the DER, or a Uint8Array of the DER",
    ))
}

fn parse_reading(reading: &JsValue) -> Result<SignedReading, JsValue> {
    let text = wire_text(reading)?;
    SignedReading::from_json(text.as_bytes()).map_err(core_error)
}

/// Parses a signed reading and verifies its signature.
///
/// `reading` is the JSON wire form: its text (exact for every `u64`) or an
/// object. With `registeredPublicKey` (PEM or base64 DER; the key the
/// verifier trusts for this meter, e.g. from `GET /meters/{key_id}`) the
/// reading must name that key, else `key_mismatch`; without it, the reading
/// is checked against the key it carries, which proves that it is intact but
/// not who made it.
///
/// Returns the verified fields; throws a `SmartMeterError` with the core's
/// code when parsing or verification fails.
#[wasm_bindgen(js_name = verifyReading, unchecked_return_type = "VerifiedReading")]
pub fn verify_reading(
    #[wasm_bindgen(unchecked_param_type = "string | WireReading")] reading: JsValue,
    #[wasm_bindgen(js_name = registeredPublicKey)] registered_public_key: Option<JsString>,
) -> Result<JsValue, JsValue> {
    let signed = parse_reading(&reading)?;
    let key = match registered_public_key {
        Some(key) => parse_key(&key)?,
        None => signed.carried_key().map_err(core_error)?,
    };
    let verified = key.verify(&signed).map_err(core_error)?;
    let out = message_object(&verified.signed().message());
    // The verifying key is the carried one: their key ids are equal.
    set(&out, "publicKey", &JsValue::from_str(&key.to_base64()));
    Ok(out.into())
}

/// The key id of a public key: SHA-256 of its SubjectPublicKeyInfo DER, as
/// 64 lowercase hex digits. Accepts PEM, base64 of the DER, or the DER bytes;
/// applies the core's key policy (2048 to 4096 bits, exponent 65537).
#[wasm_bindgen(js_name = keyId)]
pub fn key_id(
    #[wasm_bindgen(js_name = publicKey, unchecked_param_type = "string | Uint8Array")]
    public_key: JsValue,
) -> Result<String, JsValue> {
    Ok(parse_key(&public_key)?.key_id().to_string())
}

/// The canonical bytes of a reading: exactly what its signature covers
/// (`docs/spec.md`, "Canonical message"). The reading is parsed strictly but
/// not verified.
#[wasm_bindgen(js_name = canonicalBytes)]
pub fn canonical_bytes(
    #[wasm_bindgen(unchecked_param_type = "string | WireReading")] reading: JsValue,
) -> Result<Uint8Array, JsValue> {
    let signed = parse_reading(&reading)?;
    Ok(Uint8Array::from(signed.canonical_bytes().as_slice()))
}

/// Decodes canonical message bytes (82 bytes for format version 1).
#[wasm_bindgen(js_name = decodeCanonical, unchecked_return_type = "CanonicalMessage")]
pub fn decode_canonical(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
) -> Result<JsValue, JsValue> {
    let bytes = bytes
        .dyn_ref::<Uint8Array>()
        .ok_or_else(|| invalid_argument("canonical bytes are a Uint8Array"))?;
    let len = usize::try_from(bytes.length()).unwrap_or(usize::MAX);
    if len > MESSAGE_LEN {
        // Refused before copying; the same error the core gives.
        return Err(core_error(DecodeError::WrongLength {
            expected: MESSAGE_LEN,
            actual: len,
        }));
    }
    let message = Message::from_bytes(&bytes.to_vec()).map_err(core_error)?;
    Ok(message_object(&message).into())
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
pub fn error_catalogue() -> Array {
    ErrorCode::ALL
        .iter()
        .map(|c| {
            let entry = Object::new();
            set(&entry, "code", &JsValue::from_str(c.as_str()));
            set(&entry, "family", &JsValue::from_str(c.family().as_str()));
            set(&entry, "meaning", &JsValue::from_str(c.meaning()));
            JsValue::from(entry)
        })
        .collect()
}

mod audit;
pub use audit::audit_history;

#[cfg(feature = "sign")]
mod sign {
    //! Key generation and signing, for test tooling only (feature `sign`).

    use smartmeter_core::{MeterKey, Reading};
    use wasm_bindgen::prelude::*;

    use super::{Reflect, bigint_text, core_error, invalid_argument};

    fn u64_field(values: &JsValue, name: &str) -> Result<u64, JsValue> {
        let value = Reflect::get(values, &JsValue::from_str(name))
            .map_err(|_| invalid_argument("reading values must be an object"))?;
        let bad = || invalid_argument(&format!("`{name}` must be an integer from 0 to 2^64-1"));
        if value.is_bigint() {
            return bigint_text(&value)?.parse().map_err(|_| bad());
        }
        match value.as_f64() {
            Some(n) if js_sys::Number::is_safe_integer(&value) && n >= 0.0 =>
            {
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "a non-negative safe integer fits in u64"
                )]
                Ok(n as u64)
            }
            _ => Err(bad()),
        }
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
        let reading = Reading {
            sequence: u64_field(&values, "sequence")?,
            timestamp_ms: u64_field(&values, "timestampMs")?,
            wh_imported: u64_field(&values, "whImported")?,
            wh_exported: u64_field(&values, "whExported")?,
        };
        let signed = meter_key(private_key_pem)?
            .sign(reading)
            .map_err(core_error)?;
        Ok(signed.to_json())
    }
}

#[cfg(feature = "sign")]
pub use sign::{generate_key, public_key_of, sign_reading};

#[cfg(feature = "bench")]
mod bench {
    //! The RSA verifiers of the core one by one, for `scripts/bench-wasm.sh`
    //! (feature `bench`): the portable verifier that `verifyReading` uses on
    //! wasm32, and the `rsa` crate's verify that it replaced.

    use smartmeter_core::backend::{pure, rsa_crate};
    use smartmeter_core::{SignedReading, backend};
    use wasm_bindgen::prelude::*;

    use super::{core_error, invalid_argument};

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
}

#[cfg(feature = "bench")]
pub use bench::BenchVerifiers;
