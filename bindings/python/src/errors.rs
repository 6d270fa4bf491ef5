//! Errors: the core's errors on their way to Python, one exception class
//! per error family, and the error catalogue as module constants.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use smartmeter_core as sm;

create_exception!(
    smartmeter,
    SmartMeterError,
    PyValueError,
    "Base class of every error of this library; `.code` is the stable error code (docs/spec.md, section Errors)."
);
create_exception!(
    smartmeter,
    MalformedReading,
    SmartMeterError,
    "A signed reading (JSON) or canonical message (bytes) is malformed: its shape, length, base64, version or algorithm."
);
create_exception!(
    smartmeter,
    InvalidKey,
    SmartMeterError,
    "A key is malformed or outside the key policy (RSA of 2048 to 4096 bits with exponent 65537, or P-256), or could not be generated."
);
create_exception!(
    smartmeter,
    VerificationError,
    SmartMeterError,
    "A signed reading failed verification: base class of InvalidSignature and KeyMismatch."
);
create_exception!(
    smartmeter,
    InvalidSignature,
    VerificationError,
    "The signature is not accepted: it does not verify (`invalid_signature`), is a P-256 signature with a high S (`high_s`) or in DER form (`der_signature`), or the reading's algorithm is not its key's (`algorithm_mismatch`)."
);
create_exception!(
    smartmeter,
    KeyMismatch,
    VerificationError,
    "The reading was signed for another key than the one it was verified with (code `key_mismatch`)."
);
create_exception!(
    smartmeter,
    SigningError,
    SmartMeterError,
    "The private-key operation failed (code `signing_failed`)."
);
create_exception!(
    smartmeter,
    AuditError,
    SmartMeterError,
    "The readings given to `audit` are not one meter's (code `mixed_meters`)."
);

/// An error of the core on its way to Python.
///
/// Every fallible method returns it; its one conversion into [`PyErr`]
/// chooses the exception class by the core's error family and sets `.code`
/// to the core's [`code`](sm::Error::code).
pub(crate) struct Error(sm::Error);

/// `From` for each error family of the core; they all funnel into
/// [`sm::Error`], which knows the code.
macro_rules! from_core {
    ($($family:ty),*) => {$(
        impl From<$family> for Error {
            fn from(e: $family) -> Self {
                Self(e.into())
            }
        }
    )*};
}
from_core!(
    sm::DecodeError,
    sm::KeyError,
    sm::WireError,
    sm::VerifyError,
    sm::SignError,
    sm::AuditError
);

impl From<Error> for PyErr {
    fn from(Error(e): Error) -> Self {
        use sm::VerifyError;
        let message = e.to_string();
        let err = match &e {
            sm::Error::Decode(_) => MalformedReading::new_err(message),
            sm::Error::Key(_) | sm::Error::Verify(VerifyError::Key(_)) => {
                InvalidKey::new_err(message)
            }
            sm::Error::Wire(_) => MalformedReading::new_err(message),
            sm::Error::Verify(VerifyError::KeyMismatch { .. }) => KeyMismatch::new_err(message),
            sm::Error::Verify(_) => InvalidSignature::new_err(message),
            sm::Error::Sign(_) => SigningError::new_err(message),
            sm::Error::Audit(_) => AuditError::new_err(message),
            // The core's enums are non-exhaustive: a family added later still
            // arrives as a SmartMeterError with its code.
            _ => SmartMeterError::new_err(message),
        };
        Python::attach(
            |py| match err.value(py).setattr(intern!(py, "code"), e.code()) {
                Ok(()) => err,
                Err(setattr_failed) => setattr_failed,
            },
        )
    }
}

/// Adds the exception classes and the error catalogue to the extension module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ERROR_CODES", PyTuple::new(py, sm::ERROR_CODES)?)?;
    let catalogue = sm::ErrorCode::ALL
        .iter()
        .map(|c| PyTuple::new(py, [c.as_str(), c.family().as_str(), c.meaning()]))
        .collect::<PyResult<Vec<_>>>()?;
    m.add("ERROR_CATALOGUE", PyTuple::new(py, catalogue)?)?;
    m.add("SmartMeterError", py.get_type::<SmartMeterError>())?;
    m.add("MalformedReading", py.get_type::<MalformedReading>())?;
    m.add("InvalidKey", py.get_type::<InvalidKey>())?;
    m.add("VerificationError", py.get_type::<VerificationError>())?;
    m.add("InvalidSignature", py.get_type::<InvalidSignature>())?;
    m.add("KeyMismatch", py.get_type::<KeyMismatch>())?;
    m.add("SigningError", py.get_type::<SigningError>())?;
    m.add("AuditError", py.get_type::<AuditError>())?;
    Ok(())
}
