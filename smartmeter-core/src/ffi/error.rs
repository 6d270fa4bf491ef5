//! [`FfiError`]: every error of the core as a binding shows it.

use serde::Serialize;

use crate::error::{DecodeError, Error, ErrorCode, KeyError, SignError, VerifyError, WireError};
use crate::{AuditError, KeyIdParseError, PolicyError};

/// An error as a binding shows it: the catalogue code, the core's message,
/// and, for an error about one of several readings, its index.
///
/// Serialised as `{"code": "...", "message": "...", "index": n}` (`index`
/// only when there is one). The WebAssembly crate throws it as a
/// JavaScript `Error` with these properties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FfiError {
    /// The catalogue code.
    pub code: ErrorCode,
    /// The core's message, for people.
    pub message: String,
    /// Which reading of a list the error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
}

impl FfiError {
    /// The same error, about the reading at `index` of a list.
    #[must_use]
    pub fn at(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }
}

impl core::fmt::Display for FfiError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.index {
            Some(index) => write!(f, "reading {index}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for FfiError {}

impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        Self {
            code: e.error_code(),
            message: e.to_string(),
            index: None,
        }
    }
}

/// One `From` per area error, through [`Error`] (a blanket impl over
/// `Into<Error>` would overlap with `From<FfiError> for FfiError`).
macro_rules! from_area_errors {
    ($($area:ty),+) => {
        $(impl From<$area> for FfiError {
            fn from(e: $area) -> Self {
                Error::from(e).into()
            }
        })+
    };
}

from_area_errors!(
    DecodeError,
    KeyError,
    WireError,
    VerifyError,
    SignError,
    KeyIdParseError,
    PolicyError,
    AuditError
);
