//! Readings: signed (`SignedReading`), verified (`VerifiedReading`), and
//! the canonical message a signature covers (`Message`).

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use smartmeter_core as sm;

use crate::errors::Error;
use crate::keys::PyPublicKey;
use crate::text::Text;

/// A reading with its signature and public key, not yet verified.
///
/// Parse one with `SignedReading.from_json`, or get one from
/// `MeterKey.sign`. Having one says nothing about who made it: only
/// `PublicKey.verify`, with the key registered for the meter, does.
#[pyclass(frozen, eq, module = "smartmeter", name = "SignedReading")]
#[derive(PartialEq)]
pub(crate) struct PySignedReading(pub(crate) sm::SignedReading);

#[pymethods]
impl PySignedReading {
    /// Parses the JSON wire form (`str` or UTF-8 `bytes`), strictly. The
    /// carried public key is kept as bytes; `public_key` and `verify` parse
    /// it when they need it.
    ///
    /// Raises MalformedReading (shape, size, base64, version, algorithm).
    #[staticmethod]
    fn from_json(data: Text) -> Result<Self, Error> {
        Ok(Self(sm::SignedReading::from_json(data.as_bytes())?))
    }

    /// The JSON wire form: compact, fields in specification order.
    fn to_json(&self) -> String {
        self.0.to_json()
    }

    /// The canonical message bytes (82): what the signature covers.
    fn canonical_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.canonical_bytes())
    }

    /// Per-meter counter (unverified).
    #[getter]
    fn sequence(&self) -> u64 {
        self.0.reading().sequence
    }

    /// Milliseconds since the Unix epoch, UTC (unverified).
    #[getter]
    fn timestamp_ms(&self) -> u64 {
        self.0.reading().timestamp_ms
    }

    /// Cumulative energy imported from the grid, in Wh (unverified).
    #[getter]
    fn wh_imported(&self) -> u64 {
        self.0.reading().wh_imported
    }

    /// Cumulative energy exported to the grid, in Wh (unverified).
    #[getter]
    fn wh_exported(&self) -> u64 {
        self.0.reading().wh_exported
    }

    /// The signature algorithm id (1: RSASSA-PKCS1-v1_5 with SHA-256; 2:
    /// ECDSA P-256 with SHA-256).
    #[getter]
    fn algorithm(&self) -> u8 {
        self.0.algorithm().id()
    }

    /// The public key the reading carries, parsed with the key policy;
    /// whether it belongs to a registered meter is for the verifier to
    /// decide.
    ///
    /// Raises InvalidKey when the carried key is outside the key policy.
    #[getter]
    fn public_key(&self) -> Result<PyPublicKey, Error> {
        Ok(PyPublicKey(self.0.carried_key()?))
    }

    /// The id of the carried public key (64 lowercase hex digits).
    #[getter]
    fn key_id(&self) -> String {
        self.0.key_id().to_string()
    }

    /// The signature bytes.
    #[getter]
    fn signature<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.0.signature())
    }

    fn __repr__(&self) -> String {
        let r = self.0.reading();
        format!(
            "SignedReading(key_id='{}', sequence={}, timestamp_ms={}, wh_imported={}, wh_exported={})",
            self.0.key_id(),
            r.sequence,
            r.timestamp_ms,
            r.wh_imported,
            r.wh_exported
        )
    }
}

/// A reading whose signature was checked against a public key.
///
/// Only `PublicKey.verify` returns one. Whether that key belongs to a
/// registered meter, and whether the reading is fresh, is the caller's policy.
#[pyclass(frozen, eq, module = "smartmeter", name = "VerifiedReading")]
#[derive(PartialEq)]
pub(crate) struct PyVerifiedReading(pub(crate) sm::VerifiedReading);

#[pymethods]
impl PyVerifiedReading {
    /// Per-meter counter.
    #[getter]
    fn sequence(&self) -> u64 {
        self.0.reading().sequence
    }

    /// Milliseconds since the Unix epoch, UTC.
    #[getter]
    fn timestamp_ms(&self) -> u64 {
        self.0.reading().timestamp_ms
    }

    /// Cumulative energy imported from the grid, in Wh.
    #[getter]
    fn wh_imported(&self) -> u64 {
        self.0.reading().wh_imported
    }

    /// Cumulative energy exported to the grid, in Wh.
    #[getter]
    fn wh_exported(&self) -> u64 {
        self.0.reading().wh_exported
    }

    /// The signature algorithm id.
    #[getter]
    fn algorithm(&self) -> u8 {
        self.0.algorithm().id()
    }

    /// The id of the key that signed the reading (64 lowercase hex digits).
    #[getter]
    fn key_id(&self) -> String {
        self.0.key_id().to_string()
    }

    /// The signed reading that was verified, to store or forward so that
    /// others can verify it again.
    #[getter]
    fn signed(&self) -> PySignedReading {
        PySignedReading(self.0.signed().clone())
    }

    fn __repr__(&self) -> String {
        let r = self.0.reading();
        format!(
            "VerifiedReading(key_id='{}', sequence={}, timestamp_ms={}, wh_imported={}, wh_exported={})",
            self.0.key_id(),
            r.sequence,
            r.timestamp_ms,
            r.wh_imported,
            r.wh_exported
        )
    }
}

/// A decoded canonical message: the 82 bytes a signature covers
/// (docs/spec.md, section "The canonical message").
///
/// For tooling that inspects or checks signed bytes; signing and verifying
/// build it themselves.
#[pyclass(frozen, eq, module = "smartmeter", name = "Message")]
#[derive(PartialEq)]
struct PyMessage(sm::Message);

#[pymethods]
impl PyMessage {
    /// Decodes canonical bytes; the input must be exactly one message.
    ///
    /// Raises MalformedReading (codes `wrong_length`, `unknown_tag`,
    /// `unsupported_version`, `unsupported_algorithm`).
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> Result<Self, Error> {
        Ok(Self(sm::Message::from_bytes(data)?))
    }

    /// The canonical bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.to_bytes())
    }

    /// The signature algorithm id.
    #[getter]
    fn algorithm(&self) -> u8 {
        self.0.algorithm.id()
    }

    /// The id of the signing key (64 lowercase hex digits).
    #[getter]
    fn key_id(&self) -> String {
        self.0.key_id.to_string()
    }

    /// Per-meter counter.
    #[getter]
    fn sequence(&self) -> u64 {
        self.0.reading.sequence
    }

    /// Milliseconds since the Unix epoch, UTC.
    #[getter]
    fn timestamp_ms(&self) -> u64 {
        self.0.reading.timestamp_ms
    }

    /// Cumulative energy imported from the grid, in Wh.
    #[getter]
    fn wh_imported(&self) -> u64 {
        self.0.reading.wh_imported
    }

    /// Cumulative energy exported to the grid, in Wh.
    #[getter]
    fn wh_exported(&self) -> u64 {
        self.0.reading.wh_exported
    }

    fn __repr__(&self) -> String {
        let r = &self.0.reading;
        format!(
            "Message(algorithm={}, key_id='{}', sequence={}, timestamp_ms={}, wh_imported={}, wh_exported={})",
            self.0.algorithm.id(),
            self.0.key_id,
            r.sequence,
            r.timestamp_ms,
            r.wh_imported,
            r.wh_exported
        )
    }
}

/// Adds the reading classes and their size limits to the extension module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MESSAGE_LEN", sm::MESSAGE_LEN)?;
    m.add("MAX_JSON_LEN", sm::MAX_JSON_LEN)?;
    m.add_class::<PySignedReading>()?;
    m.add_class::<PyVerifiedReading>()?;
    m.add_class::<PyMessage>()?;
    Ok(())
}
