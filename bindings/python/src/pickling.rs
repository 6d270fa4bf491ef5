//! Pickling: every class that pickles does so as a call of a constructor
//! (its `__reduce__`), so that unpickling runs the checks that building the
//! object runs, and no pickle can make an object those checks refuse.
//!
//! - `Reading` as `Reading(...)`; `SignedReading` as
//!   `SignedReading.from_json(...)`; `Message` as `Message.from_bytes(...)`;
//!   `PublicKey` as `PublicKey.from_der(...)`.
//! - `VerifiedReading` as `PublicKey.verify(key, signed)`: unpickling
//!   verifies the signature again, so a pickle cannot make a reading
//!   "verified" that does not verify.
//! - `AuditReport` and the finding classes, which only `audit` makes, as
//!   their private `_from_parts`: they are summaries, not evidence.
//! - `MeterKey` refuses: a private key leaves it only through `to_pem()` or
//!   `to_der()`, explicitly (docs/python.md, section Pickling).

use pyo3::PyTypeInfo;
use pyo3::prelude::*;

/// What `__reduce__` returns: the callable a pickle calls, and its arguments.
pub(crate) type Reduce<'py, A> = (Bound<'py, PyAny>, A);

/// The constructor `T.name` (a static method, or `PublicKey.verify`), for
/// [`Reduce`]: pickle stores it as `getattr(T, name)`.
pub(crate) fn constructor<'py, T: PyTypeInfo>(
    py: Python<'py>,
    name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    py.get_type::<T>().getattr(name)
}
