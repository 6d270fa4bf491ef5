//! Typed errors, one small enum per area.
//!
//! Every variant has a stable, machine-readable [`code`](Error::code). The
//! reference server sends these codes in its JSON errors and the Python and
//! WASM bindings expose them as `.code`, so they are part of the public
//! contract: a code is never renamed or reused for another meaning.
//!
//! The codes themselves are declared once, in the [`catalogue`]; each area
//! enum's `error_code()` is the one mapping from its variants to them.

mod catalogue;

pub use catalogue::{ERROR_CODES, ErrorCode, Family, UnknownErrorCode};
use thiserror::Error;

use crate::audit::AuditError;
use crate::keys::KeyIdParseError;
use crate::policy::PolicyError;

/// Decoding the canonical bytes of a reading failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input is not exactly one canonical message long.
    #[error("canonical reading must be {expected} bytes, got {actual}")]
    WrongLength {
        /// The only accepted length.
        expected: usize,
        /// The length that was given.
        actual: usize,
    },
    /// The domain-separation tag is not `SMARTMETERS:READ`.
    #[error("domain-separation tag does not match: not a smartmeter reading")]
    UnknownTag,
    /// The format version is not one this library implements.
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u64),
    /// The algorithm id is not one this library implements.
    #[error("unsupported signature algorithm {0}")]
    UnsupportedAlgorithm(u64),
}

impl DecodeError {
    /// The catalogue entry of this error.
    pub const fn error_code(&self) -> ErrorCode {
        match self {
            Self::WrongLength { .. } => ErrorCode::WrongLength,
            Self::UnknownTag => ErrorCode::UnknownTag,
            Self::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            Self::UnsupportedAlgorithm(_) => ErrorCode::UnsupportedAlgorithm,
        }
    }

    /// The stable machine-readable code of this error.
    pub const fn code(&self) -> &'static str {
        self.error_code().as_str()
    }
}

/// A key could not be parsed, or is outside what the specification accepts.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The bytes or text are not a well-formed key in a supported format.
    #[error("malformed key: {0}")]
    Malformed(&'static str),
    /// The key is well formed but not an RSA (`rsaEncryption`) key.
    #[error("unsupported key type: only rsaEncryption keys are accepted")]
    UnsupportedType,
    /// The modulus is shorter than the minimum.
    #[error("rsa key of {bits} bits is too small: at least {min} bits are required")]
    TooSmall {
        /// The modulus length of the rejected key.
        bits: usize,
        /// The minimum accepted modulus length.
        min: usize,
    },
    /// The modulus is longer than the maximum.
    #[error("rsa key of {bits} bits is too large: at most {max} bits are accepted")]
    TooLarge {
        /// The modulus length of the rejected key.
        bits: usize,
        /// The maximum accepted modulus length.
        max: usize,
    },
    /// The public exponent is not 65537.
    #[error("unsupported rsa public exponent: only 65537 is accepted")]
    UnsupportedExponent,
    /// The requested size for a new key is outside the accepted range.
    #[error("cannot generate a {bits}-bit key: sizes from {min} to {max} bits are accepted")]
    UnsupportedSize {
        /// The requested modulus length.
        bits: usize,
        /// The minimum accepted modulus length.
        min: usize,
        /// The maximum accepted modulus length.
        max: usize,
    },
    /// The RNG or the prime search failed while generating a key.
    #[error("key generation failed")]
    Generation,
    /// Key text is longer than any accepted key's text; refused unread.
    #[error("key text of {len} bytes is too long: at most {max} bytes are accepted")]
    TextTooLarge {
        /// Length of the rejected text, in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Key text is neither a `PUBLIC KEY` PEM document nor canonical base64
    /// of the DER, in the layout that OpenSSL writes (spec section 7.1).
    #[error("malformed key text: {0}")]
    MalformedText(&'static str),
}

impl KeyError {
    /// The catalogue entry of this error.
    pub const fn error_code(&self) -> ErrorCode {
        match self {
            Self::Malformed(_) => ErrorCode::MalformedKey,
            Self::UnsupportedType => ErrorCode::UnsupportedKeyType,
            Self::TooSmall { .. } => ErrorCode::KeyTooSmall,
            Self::TooLarge { .. } => ErrorCode::KeyTooLarge,
            Self::UnsupportedExponent => ErrorCode::UnsupportedExponent,
            Self::UnsupportedSize { .. } => ErrorCode::UnsupportedKeySize,
            Self::Generation => ErrorCode::KeyGenerationFailed,
            Self::TextTooLarge { .. } => ErrorCode::KeyTextTooLarge,
            Self::MalformedText(_) => ErrorCode::MalformedKeyText,
        }
    }

    /// The stable machine-readable code of this error.
    pub const fn code(&self) -> &'static str {
        self.error_code().as_str()
    }
}

/// The JSON wire form of a signed reading could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WireError {
    /// The document is longer than any valid signed reading.
    #[error("signed reading is {len} bytes long, the limit is {max}")]
    TooLarge {
        /// Length of the rejected document.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not JSON, or a field is missing, unknown, duplicated or of the wrong type or range.
    #[error("malformed json: {0}")]
    Json(String),
    /// A base64 field is not canonical padded standard base64.
    #[error("field `{0}` is not canonical base64 (RFC 4648 section 4, with padding)")]
    Base64(&'static str),
    /// The version or algorithm field names something unsupported.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl WireError {
    /// The catalogue entry of this error.
    pub const fn error_code(&self) -> ErrorCode {
        match self {
            Self::TooLarge { .. } => ErrorCode::ReadingTooLarge,
            Self::Json(_) => ErrorCode::MalformedJson,
            Self::Base64(_) => ErrorCode::MalformedBase64,
            Self::Decode(e) => e.error_code(),
        }
    }

    /// The stable machine-readable code of this error.
    pub const fn code(&self) -> &'static str {
        self.error_code().as_str()
    }
}

/// A signed reading failed verification.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The reading names a different key than the one it was checked against.
    #[error("the reading was signed for key {reading}, not for key {expected}")]
    KeyMismatch {
        /// Key id (hex) carried by the reading.
        reading: String,
        /// Key id (hex) of the key it was verified with.
        expected: String,
    },
    /// The signature does not match the reading and the key.
    #[error("signature does not verify")]
    InvalidSignature,
    /// The reading names another key than the verifier's, and the key it
    /// carries is outside the key policy: spec section 9 checks the carried
    /// key (step 9) before the key ids (step 12).
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl VerifyError {
    /// The catalogue entry of this error.
    pub const fn error_code(&self) -> ErrorCode {
        match self {
            Self::KeyMismatch { .. } => ErrorCode::KeyMismatch,
            Self::InvalidSignature => ErrorCode::InvalidSignature,
            Self::Key(e) => e.error_code(),
        }
    }

    /// The stable machine-readable code of this error.
    pub const fn code(&self) -> &'static str {
        self.error_code().as_str()
    }
}

/// Producing a signature failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SignError {
    /// The RSA private-key operation failed (for example, the RNG used for blinding failed).
    #[error("signing failed")]
    Failed,
}

impl SignError {
    /// The catalogue entry of this error.
    pub const fn error_code(&self) -> ErrorCode {
        match self {
            Self::Failed => ErrorCode::SigningFailed,
        }
    }

    /// The stable machine-readable code of this error.
    pub const fn code(&self) -> &'static str {
        self.error_code().as_str()
    }
}

/// Any error of this crate, for callers that handle all areas alike.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// See [`DecodeError`].
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// See [`KeyError`].
    #[error(transparent)]
    Key(#[from] KeyError),
    /// See [`WireError`].
    #[error(transparent)]
    Wire(#[from] WireError),
    /// See [`VerifyError`].
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// See [`SignError`].
    #[error(transparent)]
    Sign(#[from] SignError),
    /// See [`KeyIdParseError`].
    #[error(transparent)]
    KeyId(#[from] KeyIdParseError),
    /// See [`PolicyError`].
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// See [`AuditError`].
    #[error(transparent)]
    Audit(#[from] AuditError),
}

impl Error {
    /// The catalogue entry of the underlying error.
    pub const fn error_code(&self) -> ErrorCode {
        match self {
            Self::Decode(e) => e.error_code(),
            Self::Key(e) => e.error_code(),
            Self::Wire(e) => e.error_code(),
            Self::Verify(e) => e.error_code(),
            Self::Sign(e) => e.error_code(),
            Self::KeyId(e) => e.error_code(),
            Self::Policy(e) => e.error_code(),
            Self::Audit(e) => e.error_code(),
        }
    }

    /// The stable machine-readable code of the underlying error.
    pub const fn code(&self) -> &'static str {
        self.error_code().as_str()
    }
}
