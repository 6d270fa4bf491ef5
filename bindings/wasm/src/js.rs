//! Glue between JavaScript values and `smartmeter_core::ffi`: measuring a
//! value before it is copied into wasm memory, choosing the text or the
//! serde path for a reading, and turning core errors into JavaScript
//! `Error`s. No rule about readings or keys lives here.

use js_sys::{Array, JsString, Object, Reflect, Uint8Array};
use serde::Serialize;
use serde::de::value::MapDeserializer;
use smartmeter_core::ffi::{FfiError, input};
use smartmeter_core::{PublicKey, SignedReading};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// The code of errors about JavaScript values of the wrong type (a number
/// where a key is expected); the only code that is not the core's.
pub(crate) const INVALID_ARGUMENT: &str = "invalid_argument";

/// A JavaScript `Error` named `SmartMeterError` with a `code` property.
pub(crate) fn error(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name("SmartMeterError");
    // Defining a property on a fresh, extensible Error cannot fail; if it
    // did, the caller still gets an Error.
    let _ = Reflect::set(&err, &"code".into(), &JsValue::from_str(code));
    err.into()
}

/// A core error as a JavaScript `Error`, with `index` when it has one.
pub(crate) fn core_error(e: impl Into<FfiError>) -> JsValue {
    let e = e.into();
    let err = error(e.code.as_str(), &e.to_string());
    if let Some(index) = e.index {
        let _ = Reflect::set(&err, &"index".into(), &JsValue::from_f64(index as f64));
    }
    err
}

pub(crate) fn invalid_argument(message: &str) -> JsValue {
    error(INVALID_ARGUMENT, message)
}

/// A core result as JavaScript values: `u64` as `bigint`, `None` as
/// `null`, maps (from `#[serde(flatten)]`) as plain objects.
pub(crate) fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    let serializer = serde_wasm_bindgen::Serializer::new()
        .serialize_large_number_types_as_bigints(true)
        .serialize_missing_as_null(true)
        .serialize_maps_as_objects(true);
    // Fails only for an index above 2^32 - 1, which no JavaScript array has:
    // a plain Error then, since it would be a bug here, not a bad argument.
    value
        .serialize(&serializer)
        .map_err(|e| js_sys::Error::new(&format!("cannot convert a result: {e}")).into())
}

/// A JavaScript string's length in UTF-16 code units: a lower bound of
/// its length in UTF-8 bytes, so a bound checked on it is sound.
fn units(text: &JsString) -> usize {
    // u32 widens losslessly to usize on wasm32 and every 64-bit target.
    text.length() as usize
}

fn byte_len(bytes: &Uint8Array) -> usize {
    bytes.length() as usize
}

/// A reading from JavaScript: its JSON text, or an object of the wire form
/// (integers as `bigint`, or `number` up to `Number.MAX_SAFE_INTEGER`). The
/// text, or the object's strings, are measured before they are copied.
pub(crate) fn reading(value: &JsValue) -> Result<SignedReading, FfiError> {
    if let Some(text) = value.dyn_ref::<JsString>() {
        input::check_reading_text_len(units(text))?;
        return input::reading_from_text(&String::from(text));
    }
    let what = if value.is_null() {
        "null"
    } else if value.is_undefined() {
        "undefined"
    } else if Array::is_array(value) {
        "an array"
    } else if value.is_object() {
        return reading_from_object(value.unchecked_ref());
    } else if value.is_bigint() || value.as_f64().is_some() {
        "a number"
    } else {
        "this value"
    };
    Err(input::not_a_reading(what))
}

/// A reading from an object: its own enumerable members (as
/// `JSON.stringify` sees them) are measured first, then handed to the core's
/// deserialiser one by one, so that every member, unknown ones included,
/// reaches the core's rules. One `Object.entries` serves both.
fn reading_from_object(object: &Object) -> Result<SignedReading, FfiError> {
    let entries = Object::entries(object);
    let mut text_len = 0usize;
    let mut structured: Option<JsString> = None;
    for entry in entries.iter() {
        let pair: Array = entry.unchecked_into();
        let (name, value) = (pair.get(0), pair.get(1));
        if let Some(name) = name.dyn_ref::<JsString>() {
            text_len = text_len.saturating_add(units(name));
        }
        if let Some(text) = value.dyn_ref::<JsString>() {
            text_len = text_len.saturating_add(units(text));
        } else if !(value.as_f64().is_some()
            || value.is_bigint()
            || value.as_bool().is_some()
            || value.is_null()
            || value.is_undefined())
            && structured.is_none()
        {
            structured = name.dyn_into::<JsString>().ok();
        }
    }
    // The size first: only then is a member's name small enough to copy.
    input::check_reading_text_len(text_len)?;
    let name = structured.map(String::from);
    input::check_object_members(text_len, name.as_deref())?;
    let members = entries.iter().map(|entry| {
        let pair: Array = entry.unchecked_into();
        (
            serde_wasm_bindgen::Deserializer::from(pair.get(0)),
            serde_wasm_bindgen::Deserializer::from(pair.get(1)),
        )
    });
    input::reading_from_value(MapDeserializer::<_, serde_wasm_bindgen::Error>::new(
        members,
    ))
}

/// A public key from JavaScript: key text (PEM, or base64 of the DER) or
/// the DER bytes, measured before it is copied.
pub(crate) fn key(value: &JsValue) -> Result<PublicKey, JsValue> {
    if let Some(text) = value.dyn_ref::<JsString>() {
        input::check_key_text_len(units(text)).map_err(core_error)?;
        return input::key_from_text(&String::from(text)).map_err(core_error);
    }
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        input::check_key_der_len(byte_len(bytes)).map_err(core_error)?;
        return input::key_from_der(&bytes.to_vec()).map_err(core_error);
    }
    Err(invalid_argument(
        "a public key is PEM text, base64 of the DER, or a Uint8Array of the DER",
    ))
}

/// The registered key argument of a verification: required.
pub(crate) fn registered_key(value: &JsValue) -> Result<PublicKey, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Err(invalid_argument(
            "verification needs the meter's registered public key (for example the `public_key` \
             of GET /meters/{key_id}); checkIntegrity(reading) checks a reading against the key it \
             carries, which authenticates nothing",
        ));
    }
    key(value)
}

/// Canonical message bytes from JavaScript, measured before they are copied.
pub(crate) fn message_bytes(value: &JsValue) -> Result<Vec<u8>, JsValue> {
    let bytes = value
        .dyn_ref::<Uint8Array>()
        .ok_or_else(|| invalid_argument("canonical bytes are a Uint8Array"))?;
    input::check_message_len(byte_len(bytes)).map_err(core_error)?;
    Ok(bytes.to_vec())
}

/// The elements of an array argument.
pub(crate) fn array(value: &JsValue, what: &str) -> Result<Array, JsValue> {
    if !Array::is_array(value) {
        return Err(invalid_argument(&format!("{what} are an array")));
    }
    Ok(value.clone().unchecked_into())
}
