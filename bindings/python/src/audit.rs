//! `smartmeter.audit`: the core's auditor over a list of verified readings,
//! and its typed report (`AuditReport` and one class per finding kind).
//!
//! Only conversion lives here: the findings, their order and the JSON form
//! are the core's (`smartmeter_core::audit`, docs/spec.md section 3.4).

use pyo3::exceptions::PyNotImplementedError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use smartmeter_core as sm;
use smartmeter_core::audit::{Finding, FindingCode};

use crate::{Error, PyVerifiedReading};

/// A value as Python's `repr` writes it.
trait PyRepr {
    fn py_repr(&self) -> String;
}

impl PyRepr for u64 {
    fn py_repr(&self) -> String {
        self.to_string()
    }
}

impl PyRepr for usize {
    fn py_repr(&self) -> String {
        self.to_string()
    }
}

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

/// Declares one frozen Python class per finding kind: a `code` getter, one
/// getter per field of the core's struct, `__eq__` and `__repr__`.
macro_rules! finding_class {
    (
        $(#[doc = $doc:literal])*
        $class:ident($core:ty) as $name:literal, $code:expr, |$f:ident| {
            $( $(#[doc = $fdoc:literal])* $field:ident: $ty:ty = $value:expr ),+ $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[pyclass(frozen, eq, module = "smartmeter", name = $name)]
        #[derive(PartialEq)]
        pub(crate) struct $class($core);

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
                    let $f = &self.0;
                    $value
                }
            )+

            fn __repr__(&self) -> String {
                let fields: Vec<String> =
                    vec![$(format!("{}={}", stringify!($field), self.$field().py_repr())),+];
                format!("{}({})", $name, fields.join(", "))
            }
        }
    };
}

finding_class! {
    /// Sequence numbers `first_missing..=last_missing` are missing between
    /// the readings at indices `previous` and `next` (code `gap`).
    PyGap(sm::audit::Gap) as "GapFinding", FindingCode::Gap, |f| {
        /// The lowest missing sequence number.
        first_missing: u64 = f.first_missing,
        /// The highest missing sequence number.
        last_missing: u64 = f.last_missing,
        /// How many sequence numbers are missing.
        missing: u64 = f.missing,
        /// Index of the reading just below the gap.
        previous: usize = f.previous,
        /// Index of the reading just above the gap.
        next: usize = f.next,
    }
}

finding_class! {
    /// The reading at `index` repeats the one at `original`: same sequence
    /// number, timestamp and registers (code `duplicate`).
    PyDuplicate(sm::audit::Duplicate) as "DuplicateFinding", FindingCode::Duplicate, |f| {
        /// The sequence number of both.
        sequence: u64 = f.sequence,
        /// Index of the repeat.
        index: usize = f.index,
        /// Index of the earliest reading with the same values.
        original: usize = f.original,
    }
}

finding_class! {
    /// The reading at `index` has the sequence number of the one at `first`
    /// with other values: the meter's key signed twice (code `conflict`).
    PyConflict(sm::audit::Conflict) as "ConflictFinding", FindingCode::Conflict, |f| {
        /// The sequence number both carry.
        sequence: u64 = f.sequence,
        /// Index of the conflicting reading.
        index: usize = f.index,
        /// Index of the first reading with this sequence number.
        first: usize = f.first,
    }
}

finding_class! {
    /// The reading at `index` is timestamped before the reading at
    /// `previous`, which has the next lower sequence number (code
    /// `timestamp_backwards`).
    PyTimestampBackwards(sm::audit::TimestampBackwards) as "TimestampBackwardsFinding",
    FindingCode::TimestampBackwards, |f| {
        /// The sequence number of the reading at `index`.
        sequence: u64 = f.sequence,
        /// Index of the reading whose timestamp is too early.
        index: usize = f.index,
        /// Index of the reading with the next lower sequence number.
        previous: usize = f.previous,
    }
}

finding_class! {
    /// A register of the reading at `index` is lower than in the reading at
    /// `previous`, which has the next lower sequence number (code
    /// `register_decreased`).
    PyRegisterDecrease(sm::audit::RegisterDecrease) as "RegisterDecreasedFinding",
    FindingCode::RegisterDecreased, |f| {
        /// Which register: `"wh_imported"` or `"wh_exported"`.
        register: &'static str = f.register.as_str(),
        /// The sequence number of the reading at `index`.
        sequence: u64 = f.sequence,
        /// Index of the reading whose register is lower.
        index: usize = f.index,
        /// Index of the reading with the next lower sequence number.
        previous: usize = f.previous,
    }
}

finding_class! {
    /// The reading at `index` arrived after the reading at `after`, which has
    /// a higher sequence number (code `late`).
    PyLate(sm::audit::Late) as "LateFinding", FindingCode::Late, |f| {
        /// The sequence number of the late reading.
        sequence: u64 = f.sequence,
        /// Index of the late reading.
        index: usize = f.index,
        /// Index of the first reading with the highest sequence number that arrived before it.
        after: usize = f.after,
    }
}

/// One finding as an instance of its class.
fn finding_object<'py>(py: Python<'py>, finding: &Finding) -> PyResult<Bound<'py, PyAny>> {
    Ok(match *finding {
        Finding::Gap(f) => Bound::new(py, PyGap(f))?.into_any(),
        Finding::Duplicate(f) => Bound::new(py, PyDuplicate(f))?.into_any(),
        Finding::Conflict(f) => Bound::new(py, PyConflict(f))?.into_any(),
        Finding::TimestampBackwards(f) => Bound::new(py, PyTimestampBackwards(f))?.into_any(),
        Finding::RegisterDecreased(f) => Bound::new(py, PyRegisterDecrease(f))?.into_any(),
        Finding::Late(f) => Bound::new(py, PyLate(f))?.into_any(),
        // The core's enum is non-exhaustive; a kind added there without a
        // class here is a build of mismatched versions, reported as such.
        ref other => {
            return Err(PyNotImplementedError::new_err(format!(
                "finding `{}` has no Python class in this version",
                other.code()
            )));
        }
    })
}

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
