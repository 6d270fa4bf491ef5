//! Errors: the core's errors on their way to Python, and the error
//! catalogue as module constants.
//!
//! The exception classes are Python classes, in
//! `python/smartmeter/_errors.py`: a `ValueError` per error family, made as
//! `cls(message, code)`, with read-only `code` and `family`. They are not
//! `#[pyclass(extends = PyValueError)]` because the wheel is abi3 for CPython
//! 3.9 and later, and pyo3 can extend a built-in exception only from the 3.12
//! stable ABI on. This module holds the one conversion into them.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyModule, PyTuple};
use smartmeter_core as sm;
use smartmeter_core::{ErrorCode, Family};

/// An error of the core on its way to Python.
///
/// Every fallible method returns it; its one conversion into [`PyErr`]
/// raises the exception class of the core's error code with that code.
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

/// The name of the exception class (in `smartmeter._errors`) for an error
/// code: one class per family of the core's catalogue, and within the
/// verification family `KeyMismatch` apart from the refused signatures, as
/// pyca/cryptography raises one `InvalidSignature` for any refused signature.
fn class_name(code: ErrorCode) -> &'static str {
    match code.family() {
        Family::Decode | Family::Wire => "MalformedReading",
        Family::Key | Family::Keygen => "InvalidKey",
        Family::Verify if code == ErrorCode::KeyMismatch => "KeyMismatch",
        Family::Verify => "InvalidSignature",
        Family::Sign => "SigningError",
        Family::Audit => "AuditError",
        // Families whose codes the binding never raises (key id text and
        // the history policy), and any the core adds later (the enum is
        // non-exhaustive): the base class, still with its code.
        _ => "SmartMeterError",
    }
}

/// The module that defines the exception classes, imported once.
fn errors_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    MODULE
        .get_or_try_init(py, || Ok(py.import("smartmeter._errors")?.unbind()))
        .map(|m| m.bind(py))
}

impl From<Error> for PyErr {
    fn from(Error(e): Error) -> Self {
        let code = e.error_code();
        Python::attach(|py| {
            let raised = errors_module(py)
                .and_then(|m| m.getattr(class_name(code)))
                .and_then(|class| class.call1((e.to_string(), code.as_str())));
            // An exception that cannot be made (a broken installation
            // without smartmeter/_errors.py) is reported as what went wrong.
            match raised {
                Ok(exception) => PyErr::from_value(exception),
                Err(failed) => failed,
            }
        })
    }
}

/// Adds the error catalogue to the extension module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ERROR_CODES", PyTuple::new(py, sm::ERROR_CODES)?)?;
    let catalogue = sm::ErrorCode::ALL
        .iter()
        .map(|c| PyTuple::new(py, [c.as_str(), c.family().as_str(), c.meaning()]))
        .collect::<PyResult<Vec<_>>>()?;
    m.add("ERROR_CATALOGUE", PyTuple::new(py, catalogue)?)?;
    Ok(())
}
