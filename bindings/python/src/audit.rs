//! `smartmeter.audit`: the core's auditor over a list of verified readings,
//! and its typed report (`AuditReport` and one class per finding kind).
//!
//! Only conversion lives here: the findings, their order and the JSON form
//! are the core's (`smartmeter_core::audit`, docs/spec.md section 3.4).

use std::convert::Infallible;

use pyo3::exceptions::{PyNotImplementedError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::{PyBytes, PyString, PyTuple};
use smartmeter_core as sm;
use smartmeter_core::audit::{Finding, FindingCode};
use smartmeter_core::policy::Register;

use crate::errors::Error;
use crate::pickling::{Reduce, constructor};
use crate::readings::PyVerifiedReading;

/// A value as Python's `repr` writes it.
trait PyRepr {
    fn py_repr(&self) -> String;
}

/// Numbers are written as `Display` writes them.
macro_rules! py_repr_as_display {
    ($($ty:ty),+) => {$(
        impl PyRepr for $ty {
            fn py_repr(&self) -> String {
                self.to_string()
            }
        }
    )+};
}
py_repr_as_display!(u64, usize);

impl PyRepr for &str {
    fn py_repr(&self) -> String {
        format!("'{self}'")
    }
}

impl<T: PyRepr> PyRepr for Option<T> {
    fn py_repr(&self) -> String {
        self.as_ref()
            .map_or_else(|| "None".to_string(), PyRepr::py_repr)
    }
}

/// A register as a finding names it: by its field name, `"wh_imported"` or
/// `"wh_exported"`, in Python.
#[derive(Clone, Copy)]
pub(crate) struct RegisterName(Register);

impl From<Register> for RegisterName {
    fn from(register: Register) -> Self {
        Self(register)
    }
}

impl From<RegisterName> for Register {
    fn from(RegisterName(register): RegisterName) -> Self {
        register
    }
}

impl<'py> IntoPyObject<'py> for RegisterName {
    type Target = PyString;
    type Output = Bound<'py, PyString>;
    type Error = Infallible;

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        Ok(PyString::new(py, self.0.as_str()))
    }
}

impl FromPyObject<'_, '_> for RegisterName {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        let name = obj.extract::<PyBackedStr>()?;
        Register::ALL
            .into_iter()
            .find(|r| r.as_str() == &*name)
            .map(Self)
            .ok_or_else(|| PyValueError::new_err(format!("{:?} is not a register", &*name)))
    }
}

impl PyRepr for RegisterName {
    fn py_repr(&self) -> String {
        self.0.as_str().py_repr()
    }
}

/// Declares one frozen Python class per finding kind: a `code` getter, one
/// getter per field of the core's struct (each field's Python type converts
/// from and into the core's), `__eq__`, `__repr__`, and pickling through
/// `_from_parts` (crate::pickling).
macro_rules! finding_class {
    (
        $(#[doc = $doc:literal])*
        $class:ident($($core:ident)::+) as $name:literal, $code:expr, {
            $( $(#[doc = $fdoc:literal])* $field:ident: $ty:ty ),+ $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[pyclass(frozen, eq, module = "smartmeter", name = $name)]
        #[derive(PartialEq)]
        pub(crate) struct $class($($core)::+);

        #[pymethods]
        impl $class {
            /// The finding code (docs/spec.md, section 3.4).
            #[getter]
            fn code(&self) -> &'static str {
                $code.as_str()
            }

            $(
                $(#[doc = $fdoc])*
                #[getter]
                fn $field(&self) -> $ty {
                    self.0.$field.into()
                }
            )+

            /// Rebuilds a finding from its fields, in declaration order: what
            /// a pickle calls.
            #[staticmethod]
            fn _from_parts($($field: $ty),+) -> Self {
                Self($($core)::+ { $($field: $field.into()),+ })
            }

            fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Reduce<'py, ($($ty,)+)>> {
                Ok((constructor::<Self>(py, "_from_parts")?, ($(self.$field(),)+)))
            }

            fn __repr__(&self) -> String {
                let fields: Vec<String> =
                    vec![$(format!("{}={}", stringify!($field), self.$field().py_repr())),+];
                format!("{}({})", $name, fields.join(", "))
            }
        }
    };
}

// The declarations below are alike in shape on purpose: each mirrors one
// struct of the core's audit module, field by field, with its own docs.

finding_class! {
    /// Sequence numbers `first_missing..=last_missing` are missing between
    /// the readings at indices `previous` and `next` (code `gap`).
    PyGap(sm::audit::Gap) as "GapFinding", FindingCode::Gap, {
        /// The lowest missing sequence number.
        first_missing: u64,
        /// The highest missing sequence number.
        last_missing: u64,
        /// How many sequence numbers are missing.
        missing: u64,
        /// Index of the reading just below the gap.
        previous: usize,
        /// Index of the reading just above the gap.
        next: usize,
    }
}

finding_class! {
    /// The reading at `index` repeats the one at `original`: same sequence
    /// number, timestamp and registers (code `duplicate`).
    PyDuplicate(sm::audit::Duplicate) as "DuplicateFinding", FindingCode::Duplicate, {
        /// The sequence number of both.
        sequence: u64,
        /// Index of the repeat.
        index: usize,
        /// Index of the earliest reading with the same values.
        original: usize,
    }
}

finding_class! {
    /// The reading at `index` has the sequence number of the one at `first`
    /// with other values: the meter's key signed twice (code `conflict`).
    PyConflict(sm::audit::Conflict) as "ConflictFinding", FindingCode::Conflict, {
        /// The sequence number both carry.
        sequence: u64,
        /// Index of the conflicting reading.
        index: usize,
        /// Index of the first reading with this sequence number.
        first: usize,
    }
}

finding_class! {
    /// The reading at `index` is timestamped before the reading at
    /// `previous`, which has the next lower sequence number (code
    /// `timestamp_backwards`).
    PyTimestampBackwards(sm::audit::TimestampBackwards) as "TimestampBackwardsFinding",
    FindingCode::TimestampBackwards, {
        /// The sequence number of the reading at `index`.
        sequence: u64,
        /// Index of the reading whose timestamp is too early.
        index: usize,
        /// Index of the reading with the next lower sequence number.
        previous: usize,
    }
}

finding_class! {
    /// A register of the reading at `index` is lower than in the reading at
    /// `previous`, which has the next lower sequence number (code
    /// `register_decreased`).
    PyRegisterDecrease(sm::audit::RegisterDecrease) as "RegisterDecreasedFinding",
    FindingCode::RegisterDecreased, {
        /// Which register: `"wh_imported"` or `"wh_exported"`.
        register: RegisterName,
        /// The sequence number of the reading at `index`.
        sequence: u64,
        /// Index of the reading whose register is lower.
        index: usize,
        /// Index of the reading with the next lower sequence number.
        previous: usize,
    }
}

finding_class! {
    /// The reading at `index` arrived after the reading at `after`, which has
    /// a higher sequence number (code `late`).
    PyLate(sm::audit::Late) as "LateFinding", FindingCode::Late, {
        /// The sequence number of the late reading.
        sequence: u64,
        /// Index of the late reading.
        index: usize,
        /// Index of the first reading with the highest sequence number that arrived before it.
        after: usize,
    }
}

/// The finding classes by the core's variants: [`finding_object`] makes
/// the object of a finding, [`FindingValue`] reads one back.
macro_rules! finding_kinds {
    ($($variant:ident => $class:ident),+ $(,)?) => {
        /// One finding as an instance of its class.
        fn finding_object<'py>(py: Python<'py>, finding: &Finding) -> PyResult<Bound<'py, PyAny>> {
            match *finding {
                $(Finding::$variant(f) => Ok(Bound::new(py, $class(f))?.into_any()),)+
                // The core's enum is non-exhaustive; a kind added there
                // without a class here is a build of mismatched versions,
                // reported as such.
                ref other => Err(PyNotImplementedError::new_err(format!(
                    "finding `{}` has no Python class in this version",
                    other.code()
                ))),
            }
        }

        /// A finding object given back to `AuditReport._from_parts`.
        struct FindingValue(Finding);

        impl FromPyObject<'_, '_> for FindingValue {
            type Error = PyErr;

            fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
                $(
                    if let Ok(f) = obj.cast::<$class>() {
                        return Ok(Self(Finding::$variant(f.get().0)));
                    }
                )+
                Err(PyTypeError::new_err(format!(
                    "expected a finding, not {}",
                    obj.get_type().name()?
                )))
            }
        }
    };
}

finding_kinds! {
    Gap => PyGap,
    Duplicate => PyDuplicate,
    Conflict => PyConflict,
    TimestampBackwards => PyTimestampBackwards,
    RegisterDecreased => PyRegisterDecrease,
    Late => PyLate,
}

/// The arguments of `AuditReport._from_parts`: the key id's bytes, the
/// number of readings, the lowest and highest sequence numbers, the findings.
type ReportParts<'py> = (
    Option<Bound<'py, PyBytes>>,
    usize,
    Option<u64>,
    Option<u64>,
    Bound<'py, PyTuple>,
);

/// What `audit` found in a list of readings of one meter
/// (docs/spec.md, section 3.4).
///
/// `findings` lists every irregularity, each an instance of one of the
/// finding classes, in the report's one order; `to_json()` is the report's
/// JSON form, member for member the one in docs/vectors/policy.json.
#[pyclass(frozen, eq, module = "smartmeter", name = "AuditReport")]
#[derive(PartialEq)]
pub(crate) struct PyAuditReport(sm::AuditReport);

#[pymethods]
impl PyAuditReport {
    /// The key id of the readings (64 lowercase hex digits); None for an empty list.
    #[getter]
    fn key_id(&self) -> Option<String> {
        self.0.key_id.map(|id| id.to_string())
    }

    /// How many readings the list holds, repeats included.
    #[getter]
    fn readings(&self) -> usize {
        self.0.readings
    }

    /// The lowest sequence number present; None for an empty list.
    #[getter]
    fn lowest_sequence(&self) -> Option<u64> {
        self.0.lowest_sequence
    }

    /// The highest sequence number present; None for an empty list.
    #[getter]
    fn highest_sequence(&self) -> Option<u64> {
        self.0.highest_sequence
    }

    /// Every irregularity, in the report's order (by code, then sequence number).
    #[getter]
    fn findings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let objects = self
            .0
            .findings
            .iter()
            .map(|f| finding_object(py, f))
            .collect::<PyResult<Vec<_>>>()?;
        PyTuple::new(py, objects)
    }

    /// The report as compact JSON (docs/spec.md, section 3.4).
    fn to_json(&self) -> String {
        self.0.to_json()
    }

    /// Rebuilds a report from its parts (the key id as its 32 bytes): what a
    /// pickle calls.
    #[staticmethod]
    fn _from_parts(
        key_id: Option<PyBackedBytes>,
        readings: usize,
        lowest_sequence: Option<u64>,
        highest_sequence: Option<u64>,
        findings: Vec<FindingValue>,
    ) -> PyResult<Self> {
        let key_id = key_id
            .map(|bytes| {
                <[u8; 32]>::try_from(&*bytes)
                    .map(sm::KeyId::from_bytes)
                    .map_err(|_| PyValueError::new_err("a key id is 32 bytes"))
            })
            .transpose()?;
        Ok(Self(sm::AuditReport {
            key_id,
            readings,
            lowest_sequence,
            highest_sequence,
            findings: findings.into_iter().map(|f| f.0).collect(),
        }))
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Reduce<'py, ReportParts<'py>>> {
        let key_id = self.0.key_id.map(|id| PyBytes::new(py, id.as_bytes()));
        let parts = (
            key_id,
            self.0.readings,
            self.0.lowest_sequence,
            self.0.highest_sequence,
            self.findings(py)?,
        );
        Ok((constructor::<Self>(py, "_from_parts")?, parts))
    }

    fn __repr__(&self) -> String {
        let key_id = self.0.key_id.map(|id| id.to_string());
        format!(
            "AuditReport(key_id={}, readings={}, lowest_sequence={}, highest_sequence={}, findings={})",
            key_id.as_deref().py_repr(),
            self.0.readings,
            self.0.lowest_sequence.py_repr(),
            self.0.highest_sequence.py_repr(),
            self.0.findings.len()
        )
    }
}

/// Audits verified readings of one meter, given in any order (normally the
/// order they arrived in), and returns the report: gaps, duplicates,
/// conflicts, timestamps running backwards, registers decreasing and late
/// arrivals, each naming readings by their index in the list.
///
/// Raises AuditError (code `mixed_meters`) when the readings were signed
/// with more than one key, TypeError when an item is not a VerifiedReading.
/// Releases the GIL while auditing.
#[pyfunction]
pub(crate) fn audit(
    py: Python<'_>,
    readings: Vec<Bound<'_, PyVerifiedReading>>,
) -> Result<PyAuditReport, Error> {
    let readings: Vec<sm::VerifiedReading> = readings.iter().map(|r| r.get().0.clone()).collect();
    let report = py.detach(|| sm::audit(&readings))?;
    Ok(PyAuditReport(report))
}

/// Adds the auditor's function and classes to the extension module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(audit, m)?)?;
    m.add_class::<PyAuditReport>()?;
    m.add_class::<PyGap>()?;
    m.add_class::<PyDuplicate>()?;
    m.add_class::<PyConflict>()?;
    m.add_class::<PyTimestampBackwards>()?;
    m.add_class::<PyRegisterDecrease>()?;
    m.add_class::<PyLate>()?;
    let codes: Vec<&str> = FindingCode::ALL.iter().map(|c| c.as_str()).collect();
    m.add("FINDING_CODES", PyTuple::new(py, codes)?)?;
    Ok(())
}
