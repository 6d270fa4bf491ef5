//! What bindings need beyond the typed API, so that they only declare
//! bindings (feature `ffi`): the cedar way, where the core has an `ffi`
//! module that takes serde input and gives serde output, and the
//! WebAssembly crate re-exports it.
//!
//! - [`input`]: readings from JSON text or from any serde deserializer (a
//!   JavaScript object through serde-wasm-bindgen), public keys from text
//!   or DER, and the bounds a binding checks *before* it copies a foreign
//!   value into its own memory;
//! - [`output`]: the results as plain serde structs with camelCase members
//!   (`u64` stays `u64`; bindings choose how to show it, e.g. as `bigint`);
//! - [`batch`]: [`ReadingsVerifier`], verification of many readings in two
//!   halves around the signature arithmetic, so that a binding can hand that
//!   one step to a platform verifier (WebCrypto), with [`webcrypto`]
//!   describing the algorithms in WebCrypto's terms;
//! - [`FfiError`]: every error with its catalogue code and message.
//!
//! Every rule stays where it is; this module only composes the typed API
//! ([`SignedReading`], [`PublicKey`],
//! [`audit()`](crate::audit())) into calls that suit a foreign caller.
//!
//! ```
//! use smartmeter_core::ffi;
//!
//! # let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/vectors/valid.json")).unwrap()).unwrap();
//! # let case = &doc["cases"][0];
//! # let (wire, registered_key) = (case["json"].as_str().unwrap(), case["public_key_pem"].as_str().unwrap());
//! let key = ffi::input::key_from_text(registered_key)?;
//! let reading = ffi::input::reading_from_text(wire)?;
//! let verified = ffi::verify_reading(&reading, &key)?;
//! assert_eq!(verified.message.sequence, 1);
//! let json = serde_json::to_string(&verified).unwrap();
//! assert!(json.contains("\"timestampMs\":1764000000000"));
//! # Ok::<(), ffi::FfiError>(())
//! ```

pub mod batch;
mod error;
pub mod input;
pub mod output;
pub mod webcrypto;

pub use batch::{Outcome, Prepared, ReadingsVerifier, Verdict};
pub use error::FfiError;

use crate::audit::audit_readings;
use crate::{ErrorCode, PublicKey, SignedReading};
use output::{AuditReportOut, CatalogueEntry, IntegrityOut, VerifiedOut};

/// Verifies a reading against the meter's registered key
/// ([`PublicKey::verify`]).
///
/// # Errors
/// The [`VerifyError`](crate::VerifyError) as an [`FfiError`].
pub fn verify_reading(reading: &SignedReading, key: &PublicKey) -> Result<VerifiedOut, FfiError> {
    let verified = key.verify(reading)?;
    Ok(VerifiedOut::new(verified.signed(), key))
}

/// Checks a reading against the key it carries. This proves that the
/// reading is intact and self-consistent, **not who made it**: anyone can
/// make a key pair and a reading that passes. Verification against the
/// meter's registered key ([`verify_reading`]) is what authenticates.
///
/// # Errors
/// The [`VerifyError`](crate::VerifyError) as an [`FfiError`].
pub fn check_integrity(reading: &SignedReading) -> Result<IntegrityOut, FfiError> {
    let carried = reading.carried_key()?;
    let checked = carried.verify(reading)?;
    Ok(IntegrityOut::new(checked.signed(), &carried))
}

/// Verifies every reading of a list against the meter's registered key and
/// audits the history (`docs/spec.md` section 3.4); findings name readings
/// by their index in `readings`.
///
/// # Errors
/// The first reading that did not parse (an `Err` in `readings`) or does
/// not verify, with its `index`.
pub fn audit_history(
    readings: impl IntoIterator<Item = Result<SignedReading, FfiError>>,
    key: &PublicKey,
) -> Result<AuditReportOut, FfiError> {
    let mut values = Vec::new();
    for (index, reading) in readings.into_iter().enumerate() {
        let verified = reading
            .and_then(|r| key.verify(&r).map_err(FfiError::from))
            .map_err(|e| e.at(index))?;
        values.push(*verified.reading());
    }
    let mut report = audit_readings(&values);
    if !values.is_empty() {
        report.key_id = Some(key.key_id());
    }
    Ok(AuditReportOut::new(&report, |i| i))
}

/// The error catalogue: every code with its family and meaning, in the
/// order of `docs/spec.md` section 11.
pub fn catalogue() -> Vec<CatalogueEntry> {
    ErrorCode::ALL
        .iter()
        .map(|c| CatalogueEntry::new(*c))
        .collect()
}
