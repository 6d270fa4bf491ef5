//! The error catalogue: every error code of the core, declared once.
//!
//! One `catalogue!` invocation lists each code with its identifier, its code
//! string, its [`Family`] and a one-line meaning. Everything else is derived
//! from it: [`ErrorCode`] with its lookups, [`ErrorCode::ALL`], and
//! [`ERROR_CODES`]. The area error enums (`DecodeError`, `KeyError`, ...)
//! map each variant to an [`ErrorCode`] in their `error_code()`, the only
//! mapping from variant to code; their `code()` is that code's string.
//!
//! `docs/spec.md`, section 11, shows the same table; a test of this crate
//! checks it row by row (code, family, meaning, in this order), so the two
//! cannot drift. To add a code: add a line here, map the variant to it, add
//! the row to the spec. Codes are never renamed or reused.

use core::fmt;
use core::str::FromStr;

/// The area an error code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Family {
    /// Decoding the canonical bytes of a reading (spec section 5.2).
    Decode,
    /// Parsing a public key and applying the key policy (spec section 6.2).
    Key,
    /// Generating a key (tooling; spec section 6.2).
    Keygen,
    /// Parsing the JSON wire form (spec section 9, steps 1 to 7).
    Wire,
    /// Parsing the text form of a key id (spec section 4).
    KeyId,
    /// Verifying a signature (spec section 9, steps 12 to 14).
    Verify,
    /// Producing a signature.
    Sign,
    /// The verifier's history rules for the next reading of a meter (spec section 3.3).
    Policy,
    /// Auditing a list of readings (spec section 3.4).
    Audit,
}

impl Family {
    /// Every family, in catalogue order.
    pub const ALL: &'static [Self] = &[
        Self::Decode,
        Self::Key,
        Self::Keygen,
        Self::Wire,
        Self::KeyId,
        Self::Verify,
        Self::Sign,
        Self::Policy,
        Self::Audit,
    ];

    /// The family's name as the spec and the bindings write it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Decode => "decode",
            Self::Key => "key",
            Self::Keygen => "keygen",
            Self::Wire => "wire",
            Self::KeyId => "key_id",
            Self::Verify => "verify",
            Self::Sign => "sign",
            Self::Policy => "policy",
            Self::Audit => "audit",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Declares the catalogue: one line per code, everything else generated.
macro_rules! catalogue {
    ($($variant:ident = $code:literal, $family:ident, $meaning:literal;)+) => {
        /// A stable, machine-readable error code of the core.
        ///
        /// The reference server sends [`as_str`](Self::as_str) in its JSON
        /// errors and the bindings expose it as `.code`. A code is never
        /// renamed, and a retired code is never reused for another meaning.
        ///
        /// ```
        /// use smartmeter_core::{ErrorCode, Family};
        ///
        /// let code: ErrorCode = "stale_sequence".parse()?;
        /// assert_eq!(code, ErrorCode::StaleSequence);
        /// assert_eq!(code.family(), Family::Policy);
        /// assert_eq!(code.to_string(), "stale_sequence");
        /// # Ok::<(), smartmeter_core::UnknownErrorCode>(())
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $(
                #[doc = concat!("`", $code, "`: ", $meaning)]
                $variant,
            )+
        }

        impl ErrorCode {
            /// Every code, in catalogue order (the order of the spec's table).
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The code string, e.g. `"invalid_signature"`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }

            /// The area the code belongs to.
            pub const fn family(self) -> Family {
                match self {
                    $(Self::$variant => Family::$family,)+
                }
            }

            /// What the code means, in one line (the spec's table says the same).
            pub const fn meaning(self) -> &'static str {
                match self {
                    $(Self::$variant => $meaning,)+
                }
            }
        }

        /// Every error code of the core, as strings, in catalogue order:
        /// [`ErrorCode::ALL`] through [`ErrorCode::as_str`].
        pub const ERROR_CODES: &[&str] = &[$($code),+];
    };
}

catalogue! {
    WrongLength = "wrong_length", Decode,
        "Canonical message is not exactly 82 bytes.";
    UnknownTag = "unknown_tag", Decode,
        "Canonical message does not start with `SMARTMETERS:READ`.";
    UnsupportedVersion = "unsupported_version", Decode,
        "Format version is not 1.";
    UnsupportedAlgorithm = "unsupported_algorithm", Decode,
        "Algorithm id is not 1.";
    MalformedKey = "malformed_key", Key,
        "The key's DER is not the canonical DER of an RSA public key, is longer than 1024 bytes, or its modulus is even.";
    UnsupportedKeyType = "unsupported_key_type", Key,
        "Key is not an `rsaEncryption` key.";
    KeyTooSmall = "key_too_small", Key,
        "Modulus shorter than 2048 bits.";
    KeyTooLarge = "key_too_large", Key,
        "Modulus longer than 4096 bits.";
    UnsupportedExponent = "unsupported_exponent", Key,
        "Public exponent is not 65537.";
    KeyTextTooLarge = "key_text_too_large", Key,
        "Key text is longer than 8192 bytes.";
    MalformedKeyText = "malformed_key_text", Key,
        "Key text is not one of the accepted forms (PEM `PUBLIC KEY` or canonical base64 of the DER, in the layouts OpenSSL writes).";
    UnsupportedKeySize = "unsupported_key_size", Keygen,
        "A key of a size outside 2048..=4096 bits was requested.";
    KeyGenerationFailed = "key_generation_failed", Keygen,
        "The random number generator or the prime search failed.";
    ReadingTooLarge = "reading_too_large", Wire,
        "Wire document longer than 4096 bytes.";
    MalformedJson = "malformed_json", Wire,
        "Not JSON, or a member is missing, unknown, duplicated, of the wrong type or out of range, or data follows the object.";
    MalformedBase64 = "malformed_base64", Wire,
        "`public_key` or `signature` is not canonical padded standard base64.";
    MalformedKeyId = "malformed_key_id", KeyId,
        "Text given as a key id is not 64 hexadecimal digits.";
    KeyMismatch = "key_mismatch", Verify,
        "The reading names a different key than the one it is verified with.";
    InvalidSignature = "invalid_signature", Verify,
        "The signature has the wrong length or does not verify.";
    SigningFailed = "signing_failed", Sign,
        "The private-key operation failed (for example, the RNG used for blinding).";
    StaleSequence = "stale_sequence", Policy,
        "The sequence number is already taken by a different reading, or is below the last accepted one and fills no recorded gap.";
    TimestampInFuture = "timestamp_in_future", Policy,
        "The timestamp is further ahead of the verifier's clock than the allowed skew.";
    TimestampBackwards = "timestamp_backwards", Policy,
        "The timestamp is earlier than that of the reading before it, or (for a late reading) later than that of the reading after it.";
    RegisterDecreased = "register_decreased", Policy,
        "A register is lower than in the reading before it, or (for a late reading) higher than in the reading after it.";
    MixedMeters = "mixed_meters", Audit,
        "The readings given to one audit were signed with more than one key.";
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that is not one of the catalogue's code strings.
///
/// Not an error about a reading or a key, so it has no code of its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an error code of this library")]
pub struct UnknownErrorCode;

impl FromStr for ErrorCode {
    type Err = UnknownErrorCode;

    /// Looks a code up by its string (exact, case-sensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|code| code.as_str() == s)
            .ok_or(UnknownErrorCode)
    }
}

/// Serialises as the code string, as the server's JSON errors carry it.
impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_declared_once_and_round_trips() {
        assert_eq!(ERROR_CODES.len(), ErrorCode::ALL.len());
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(ERROR_CODES.get(i), Some(&code.as_str()));
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(*code));
            assert_eq!(code.to_string(), code.as_str());
            assert!(!code.meaning().is_empty());
            let same: Vec<_> = ERROR_CODES
                .iter()
                .filter(|c| **c == code.as_str())
                .collect();
            assert_eq!(same.len(), 1, "{code} is declared more than once");
        }
        assert_eq!("Stale_sequence".parse::<ErrorCode>(), Err(UnknownErrorCode));
        assert_eq!("".parse::<ErrorCode>(), Err(UnknownErrorCode));
    }

    #[test]
    fn codes_are_lowercase_snake_case_and_meanings_one_line() {
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(
                s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{s}"
            );
            assert!(!s.starts_with('_') && !s.ends_with('_'), "{s}");
            assert!(!code.meaning().contains('\n'), "{s}");
            assert!(code.meaning().ends_with('.'), "{s}");
        }
    }

    #[test]
    fn every_family_has_a_code_and_codes_are_grouped_by_family() {
        for family in Family::ALL {
            assert!(
                ErrorCode::ALL.iter().any(|c| c.family() == *family),
                "{family} has no code"
            );
        }
        // The catalogue lists each family's codes together, in Family::ALL order.
        let order: Vec<Family> = ErrorCode::ALL.iter().map(|c| c.family()).collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
    }

    #[test]
    fn serialises_as_the_code_string() {
        assert_eq!(
            serde_json::to_string(&ErrorCode::MixedMeters)
                .ok()
                .as_deref(),
            Some("\"mixed_meters\"")
        );
    }
}
