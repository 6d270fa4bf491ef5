//! Text arguments: PEM, base64 and JSON arrive as `str` or as `bytes`.

use std::borrow::Cow;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};

/// Text given as `str` or as `bytes` (PEM, base64, JSON).
pub(crate) enum Text {
    Str(PyBackedStr),
    Bytes(PyBackedBytes),
}

impl FromPyObject<'_, '_> for Text {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        if let Ok(s) = obj.extract::<PyBackedStr>() {
            return Ok(Self::Str(s));
        }
        match obj.extract::<PyBackedBytes>() {
            Ok(b) => Ok(Self::Bytes(b)),
            Err(_) => Err(PyTypeError::new_err(format!(
                "expected str or bytes, not {}",
                obj.get_type().name()?
            ))),
        }
    }
}

impl Text {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Str(s) => s.as_bytes(),
            Self::Bytes(b) => b,
        }
    }

    /// The text as `str`; bytes that are not UTF-8 are passed on with
    /// replacement characters, which the core's parsers then reject.
    pub(crate) fn as_str(&self) -> Cow<'_, str> {
        match self {
            Self::Str(s) => Cow::Borrowed(s),
            Self::Bytes(b) => String::from_utf8_lossy(b),
        }
    }
}
