//! # smartmeter-python
//!
//! The `smartmeter` wheel: Python bindings of `smartmeter-core` for meter
//! vendors (firmware tooling, provisioning lines, gateways).
//!
//! A thin wrapper. Every rule about readings, keys and signatures is the
//! core's; this crate only converts arguments and results, releases the GIL
//! around the signature operations and turns the core's errors into Python
//! exceptions (one conversion, `errors::Error` into [`PyErr`]). The package
//! `smartmeter` (`python/smartmeter/__init__.py`) re-exports what this
//! extension module `smartmeter._smartmeter` defines; `_smartmeter.pyi` holds
//! the type stubs. Tests run from Python against the installed wheel
//! (`bindings/python/tests/`, `scripts/test-python.sh`).
//!
//! One module per area, each adding its classes and constants to the
//! extension module in its `register`: `errors`, `keys`, `readings`,
//! `audit`; `text` reads the `str`-or-`bytes` arguments they share, and
//! `pickling` holds what their `__reduce__` methods share.
//!
//! The workspace lints apply unchanged: `unsafe_code` stays forbidden (the
//! unsafe code that pyo3's macros generate is theirs, not this crate's, and
//! needs no allowance), and the no-panic lints hold here as in the core, so
//! neither has a panicking path that could reach Python as a `BaseException`
//! (the tests also feed mutated inputs to every parser).

use pyo3::prelude::*;

mod audit;
mod errors;
mod keys;
mod pickling;
mod readings;
mod text;

/// Signed smart-meter readings: the extension module behind `smartmeter`.
#[pymodule]
fn _smartmeter(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    keys::register(m)?;
    readings::register(m)?;
    audit::register(m)?;
    Ok(())
}
