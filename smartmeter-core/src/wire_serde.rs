//! `Deserialize` for [`SignedReading`], so that a signed reading can be a
//! field of a larger serde document (the reference server's answers, read
//! by clients), with the rules of [`SignedReading::from_json`].
//!
//! The members are read with the same shape as `from_json` reads them, and
//! then the same checks apply (version, algorithm, canonical base64: spec
//! section 9, steps 2 to 8). A failure is the deserializer's error, whose
//! message is the [`WireError`]'s; a caller that needs the typed error and
//! its code parses the reading alone with `from_json`.
//!
//! Step 1, the size limit, is about a document: the whole document is the
//! caller's to bound (as any HTTP client bounds a body). What this impl
//! bounds is the reading itself: its compact wire form may not exceed
//! [`MAX_JSON_LEN`], so that whitespace is all a reading inside a larger
//! document can add.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::error::WireError;
use crate::wire::{MAX_JSON_LEN, SignedReading, WireReading};

/// Reads the wire form, strictly, as [`SignedReading::from_json`] does.
///
/// ```
/// use smartmeter_core::SignedReading;
///
/// # let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/vectors/valid.json")).unwrap()).unwrap();
/// # let wire = doc["cases"][0]["json"].as_str().unwrap();
/// #[derive(serde::Deserialize)]
/// struct Stored {
///     signed: SignedReading,
///     received_at: String,
/// }
///
/// let text = format!(r#"{{"signed":{wire},"received_at":"2026-11-25T12:00:00Z"}}"#);
/// let stored: Stored = serde_json::from_str(&text)?;
/// assert_eq!(stored.signed, SignedReading::from_json(wire.as_bytes())?);
///
/// // The same rules as from_json: no unknown member, canonical base64...
/// let unknown = wire.replacen('{', r#"{"extra":1,"#, 1);
/// assert!(serde_json::from_str::<SignedReading>(&unknown).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<'de> Deserialize<'de> for SignedReading {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireReading::deserialize(deserializer)?;
        let signed = Self::try_from(wire).map_err(D::Error::custom)?;
        let len = signed.to_json().len();
        if len > MAX_JSON_LEN {
            return Err(D::Error::custom(WireError::TooLarge {
                len,
                max: MAX_JSON_LEN,
            }));
        }
        Ok(signed)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn cases(file: &str) -> Vec<Value> {
        let path = format!("{}/../docs/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        doc["cases"].as_array().unwrap().clone()
    }

    #[test]
    fn every_valid_vector_reads_as_from_json_reads_it() {
        let valid = cases("valid.json");
        assert!(!valid.is_empty());
        for case in valid {
            let json = case["json"].as_str().unwrap();
            let read: SignedReading = serde_json::from_str(json).unwrap();
            assert_eq!(read, SignedReading::from_json(json.as_bytes()).unwrap());
            // Owned strings (no borrowing from the input) work too.
            let value: Value = serde_json::from_str(json).unwrap();
            assert_eq!(
                serde_json::from_value::<SignedReading>(value).unwrap(),
                read
            );
        }
    }

    /// Every invalid wire document that `from_json` refuses is refused here
    /// with the same message; one that it accepts (its code comes later, at
    /// verification) is read equal. The one exception is the case padded
    /// with whitespace beyond the document limit, which is the caller's.
    #[test]
    fn invalid_wire_vectors_agree_with_from_json() {
        let mut refused = 0;
        for case in cases("invalid.json") {
            if case["kind"] != "json" || case["name"] == "json-too-large" {
                continue;
            }
            let input = case["input"].as_str().unwrap();
            let read = serde_json::from_str::<SignedReading>(input);
            match SignedReading::from_json(input.as_bytes()) {
                Ok(parsed) => assert_eq!(read.unwrap(), parsed, "{}", case["name"]),
                Err(e) => {
                    let message = read.unwrap_err().to_string();
                    if !matches!(e, WireError::Json(_)) {
                        assert!(message.starts_with(&e.to_string()), "{message} / {e}");
                    }
                    refused += 1;
                }
            }
        }
        assert!(refused >= 10, "only {refused} refused cases");
    }

    #[test]
    fn a_reading_longer_than_the_limit_is_refused_whitespace_is_not_counted() {
        let case = &cases("valid.json")[0];
        let json = case["json"].as_str().unwrap();
        let padded = json.replacen(':', &format!(":{}", " ".repeat(MAX_JSON_LEN)), 1);
        assert!(serde_json::from_str::<SignedReading>(&padded).is_ok());

        let mut wire: Value = serde_json::from_str(json).unwrap();
        let long = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            vec![0u8; MAX_JSON_LEN],
        );
        wire["signature"] = Value::from(long);
        let err = serde_json::from_value::<SignedReading>(wire).unwrap_err();
        assert!(err.to_string().contains("the limit is 4096"), "{err}");
    }
}
