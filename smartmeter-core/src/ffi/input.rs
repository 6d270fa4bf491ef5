//! Readings and keys from foreign values, and the bounds a binding checks
//! before it copies a foreign value into its own memory.
//!
//! A binding measures what it is about to copy (a JavaScript string's
//! length in UTF-16 code units, which is a lower bound of its UTF-8
//! length) and asks the `check_*` functions here first, so that an
//! oversized argument is refused with the core's own error before any
//! memory is spent on it.

use serde::Deserializer;
use serde::de::Deserialize as _;

use super::FfiError;
use crate::error::{DecodeError, KeyError, WireError};
use crate::keys::MAX_KEY_TEXT_LEN;
use crate::{
    MAX_JSON_LEN, MAX_PUBLIC_KEY_DER_LEN, MESSAGE_LEN, Message, PublicKey, SignedReading,
    WireReading,
};

/// Parses the JSON text of a signed reading ([`SignedReading::from_json`]).
///
/// # Errors
/// The [`WireError`] of [`SignedReading::from_json`].
pub fn reading_from_text(text: &str) -> Result<SignedReading, FfiError> {
    Ok(SignedReading::from_json(text.as_bytes())?)
}

/// Reads the wire form from any serde deserializer (for example a
/// JavaScript object through serde-wasm-bindgen) as a [`WireReading`], then
/// applies [`SignedReading::try_from`]: the rules and codes of
/// [`SignedReading::from_json`] after its JSON parse.
///
/// What the deserializer refuses (a missing, unknown or repeated member, a
/// value of the wrong type, an integer outside `u64`, and with
/// serde-wasm-bindgen a JavaScript number that is not a safe integer and may
/// therefore already be rounded) is `malformed_json`, as for JSON text.
///
/// # Errors
/// `malformed_json` for what the deserializer refuses, else the
/// [`WireError`] of [`SignedReading::try_from`].
pub fn reading_from_value<'de, D: Deserializer<'de>>(value: D) -> Result<SignedReading, FfiError> {
    let wire = WireReading::deserialize(value).map_err(|e| WireError::Json(e.to_string()))?;
    Ok(SignedReading::try_from(wire)?)
}

/// Before copying a reading's text of at least `len` bytes: refuses what is
/// longer than any signed reading (`reading_too_large`, as
/// [`SignedReading::from_json`] would).
///
/// # Errors
/// `reading_too_large` when `len` exceeds [`MAX_JSON_LEN`].
pub fn check_reading_text_len(len: usize) -> Result<(), FfiError> {
    if len > MAX_JSON_LEN {
        return Err(WireError::TooLarge {
            len,
            max: MAX_JSON_LEN,
        }
        .into());
    }
    Ok(())
}

/// Before copying the members of an object that stands for a reading:
/// `text_len` is the length of all member names and string values together
/// (at least their bytes), and `structured` names the first member whose
/// value is neither a string nor a number (an object, an array, ...).
///
/// Such an object cannot be a valid reading: its JSON text would be longer
/// than [`MAX_JSON_LEN`], or a member would have the wrong type. It is
/// refused before anything is copied, since describing a structured value
/// in an error can cost as much as the value itself.
///
/// # Errors
/// `reading_too_large` or `malformed_json`.
pub fn check_object_members(text_len: usize, structured: Option<&str>) -> Result<(), FfiError> {
    check_reading_text_len(text_len)?;
    match structured {
        Some(member) => Err(WireError::Json(format!(
            "member `{member}` is neither a string nor an integer"
        ))
        .into()),
        None => Ok(()),
    }
}

/// The error for a foreign value that is neither a reading's text nor a map
/// of its members (`what`: "a number", "an array", ...): as for JSON text of
/// the wrong shape, `malformed_json`.
pub fn not_a_reading(what: &str) -> FfiError {
    WireError::Json(format!(
        "a signed reading is its JSON text or an object of the wire form, not {what}"
    ))
    .into()
}

/// Parses a public key given as text, in the forms [`PublicKey::from_text`]
/// accepts: PEM, or canonical padded base64 of the SubjectPublicKeyInfo DER
/// (as the read API's `public_key` members carry it).
///
/// # Errors
/// The [`KeyError`] of [`PublicKey::from_text`], as an [`FfiError`].
pub fn key_from_text(text: &str) -> Result<PublicKey, FfiError> {
    Ok(PublicKey::from_text(text)?)
}

/// Before copying key text of at least `len` bytes: refuses what is longer
/// than any key text the core reads.
///
/// # Errors
/// `key_text_too_large`, as [`key_from_text`] would.
pub fn check_key_text_len(len: usize) -> Result<(), FfiError> {
    if len > MAX_KEY_TEXT_LEN {
        return Err(KeyError::TextTooLarge {
            len,
            max: MAX_KEY_TEXT_LEN,
        }
        .into());
    }
    Ok(())
}

/// Parses a public key from its SubjectPublicKeyInfo DER
/// ([`PublicKey::from_der`]).
///
/// # Errors
/// The [`KeyError`] of the parse.
pub fn key_from_der(der: &[u8]) -> Result<PublicKey, FfiError> {
    Ok(PublicKey::from_der(der)?)
}

/// Before copying DER of `len` bytes: refuses what is longer than any
/// accepted key.
///
/// # Errors
/// `malformed_key`, as [`key_from_der`] would.
pub fn check_key_der_len(len: usize) -> Result<(), FfiError> {
    if len > MAX_PUBLIC_KEY_DER_LEN {
        return Err(KeyError::Malformed("longer than any accepted public key").into());
    }
    Ok(())
}

/// Decodes canonical message bytes ([`Message::from_bytes`]).
///
/// # Errors
/// The [`DecodeError`] of the decode.
pub fn message_from_bytes(bytes: &[u8]) -> Result<Message, FfiError> {
    Ok(Message::from_bytes(bytes)?)
}

/// Before copying `len` bytes meant as a canonical message: refuses what is
/// longer than one.
///
/// # Errors
/// `wrong_length`, as [`message_from_bytes`] would.
pub fn check_message_len(len: usize) -> Result<(), FfiError> {
    if len > MESSAGE_LEN {
        return Err(DecodeError::WrongLength {
            expected: MESSAGE_LEN,
            actual: len,
        }
        .into());
    }
    Ok(())
}
