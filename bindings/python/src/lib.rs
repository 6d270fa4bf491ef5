//! # smartmeter-python
//!
//! The `smartmeter` wheel: Python bindings of `smartmeter-core` for meter
//! vendors (firmware tooling, provisioning lines, gateways).
//!
//! A thin wrapper. Every rule about readings, keys and signatures is the
//! core's; this crate only converts arguments and results, releases the GIL
//! around the RSA operations and turns the core's errors into Python
//! exceptions (one conversion, [`Error`] into [`PyErr`]). The package
//! `smartmeter` (`python/smartmeter/__init__.py`) re-exports what this
//! extension module `smartmeter._smartmeter` defines; `_smartmeter.pyi` holds
//! the type stubs. Tests run from Python against the installed wheel
//! (`bindings/python/tests/`, `scripts/test-python.sh`).
//!
//! The workspace lints apply unchanged: `unsafe_code` stays forbidden (the
//! unsafe code that pyo3's macros generate is theirs, not this crate's, and
//! needs no allowance), and the no-panic lints hold here as in the core, so
//! neither has a panicking path that could reach Python as a `BaseException`
//! (the tests also feed mutated inputs to every parser).

use std::borrow::Cow;

use pyo3::create_exception;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::{PyBytes, PyTuple};
use smartmeter_core as sm;

mod audit;

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
    "A key is malformed or outside the key policy (RSA, 2048 to 4096 bits, exponent 65537), or could not be generated."
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
    "The signature does not match the reading and the key (code `invalid_signature`)."
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

/// Text given as `str` or as `bytes` (PEM, base64, JSON).
enum Text {
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
    fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Str(s) => s.as_bytes(),
            Self::Bytes(b) => b,
        }
    }

    /// The text as `str`; bytes that are not UTF-8 are passed on with
    /// replacement characters, which the core's parsers then reject.
    fn as_str(&self) -> Cow<'_, str> {
        match self {
            Self::Str(s) => Cow::Borrowed(s),
            Self::Bytes(b) => String::from_utf8_lossy(b),
        }
    }
}

/// A meter's RSA public key, checked against the key policy (RSA, 2048 to
/// 4096 bits, exponent 65537, canonical DER).
///
/// Construct one with `PublicKey.from_text` (any key text OpenSSL or pyca
/// writes), `from_pem`, `from_der` or `from_base64`, or get it from
/// `MeterKey.public_key()`. Equal keys compare equal and hash alike.
#[pyclass(frozen, eq, module = "smartmeter", name = "PublicKey")]
#[derive(PartialEq)]
struct PyPublicKey(sm::PublicKey);

#[pymethods]
impl PyPublicKey {
    /// Parses key text as OpenSSL and pyca/cryptography write it: a
    /// `-----BEGIN PUBLIC KEY-----` PEM document, or base64 of the DER on one
    /// line or wrapped at 64 columns; LF or CRLF line endings, the last one
    /// optional; at most 8192 bytes.
    ///
    /// Raises InvalidKey (`malformed_key_text`, `key_text_too_large`, or a
    /// key policy code).
    #[staticmethod]
    fn from_text(data: Text) -> Result<Self, Error> {
        Ok(Self(sm::PublicKey::from_text(&data.as_str())?))
    }

    /// Parses a `-----BEGIN PUBLIC KEY-----` PEM document (SubjectPublicKeyInfo),
    /// in the PEM form `from_text` accepts.
    ///
    /// Raises InvalidKey.
    #[staticmethod]
    fn from_pem(data: Text) -> Result<Self, Error> {
        Ok(Self(sm::PublicKey::from_pem(&data.as_str())?))
    }

    /// Parses a SubjectPublicKeyInfo in DER.
    ///
    /// Raises InvalidKey.
    #[staticmethod]
    fn from_der(data: &[u8]) -> Result<Self, Error> {
        Ok(Self(sm::PublicKey::from_der(data)?))
    }

    /// Parses standard padded base64 of the SubjectPublicKeyInfo DER (the
    /// form of the `public_key` field of a signed reading).
    ///
    /// Raises InvalidKey.
    #[staticmethod]
    fn from_base64(data: Text) -> Result<Self, Error> {
        Ok(Self(sm::PublicKey::from_base64(&data.as_str())?))
    }

    /// The key as a `PUBLIC KEY` PEM document with `\n` line endings.
    fn to_pem(&self) -> String {
        self.0.to_pem()
    }

    /// The SubjectPublicKeyInfo DER, exactly the bytes the key id hashes.
    fn to_der<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.0.to_der())
    }

    /// The DER in standard padded base64, as carried in JSON.
    fn to_base64(&self) -> String {
        self.0.to_base64()
    }

    /// The key id: SHA-256 of the DER, as 64 lowercase hex digits.
    #[getter]
    fn key_id(&self) -> String {
        self.0.key_id().to_string()
    }

    /// The modulus length in bits.
    #[getter]
    fn bits(&self) -> usize {
        self.0.bits()
    }

    /// Verifies a signed reading against this key and returns the verified
    /// reading.
    ///
    /// Raises InvalidKey when the reading names another key and carries a key
    /// outside the key policy (that check comes first, docs/spec.md section
    /// 9), KeyMismatch when it names another key, InvalidSignature when the
    /// signature does not verify. Releases the GIL while verifying.
    fn verify(
        &self,
        py: Python<'_>,
        signed: &Bound<'_, PySignedReading>,
    ) -> Result<PyVerifiedReading, Error> {
        let signed = &signed.get().0;
        let verified = py.detach(|| self.0.verify(signed))?;
        Ok(PyVerifiedReading(verified))
    }

    fn __hash__(&self) -> u64 {
        // The key id is a SHA-256 digest: any 8 of its bytes hash well.
        let [a, b, c, d, e, f, g, h, ..] = *self.0.key_id().as_bytes();
        u64::from_le_bytes([a, b, c, d, e, f, g, h])
    }

    fn __repr__(&self) -> String {
        format!(
            "PublicKey(key_id='{}', bits={})",
            self.0.key_id(),
            self.0.bits()
        )
    }
}

/// A meter's RSA private key: signs readings.
///
/// In production this key lives in the meter's secure hardware; this class
/// serves provisioning lines, test benches and vendor tooling. Its repr never
/// shows private material.
#[pyclass(frozen, module = "smartmeter", name = "MeterKey")]
struct PyMeterKey(sm::MeterKey);

#[pymethods]
impl PyMeterKey {
    /// Generates a new key with the operating system's RNG.
    ///
    /// Raises InvalidKey for a size outside 2048..=4096 bits (code
    /// `unsupported_key_size`) or when generation fails. Releases the GIL.
    #[staticmethod]
    #[pyo3(signature = (bits = 2048))]
    fn generate(py: Python<'_>, bits: usize) -> Result<Self, Error> {
        Ok(Self(py.detach(|| sm::MeterKey::generate(bits))?))
    }

    /// Parses an unencrypted PKCS#8 `-----BEGIN PRIVATE KEY-----` PEM document.
    ///
    /// Raises InvalidKey.
    #[staticmethod]
    fn from_pem(data: Text) -> Result<Self, Error> {
        Ok(Self(sm::MeterKey::from_pkcs8_pem(&data.as_str())?))
    }

    /// Parses an unencrypted PKCS#8 PrivateKeyInfo in DER.
    ///
    /// Raises InvalidKey.
    #[staticmethod]
    fn from_der(data: &[u8]) -> Result<Self, Error> {
        Ok(Self(sm::MeterKey::from_pkcs8_der(data)?))
    }

    /// The key as an unencrypted PKCS#8 PEM document. Store it like a secret.
    fn to_pem(&self) -> Result<String, Error> {
        Ok(self.0.to_pkcs8_pem()?.to_string())
    }

    /// The key as unencrypted PKCS#8 DER. Store it like a secret.
    fn to_der<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyBytes>, Error> {
        Ok(PyBytes::new(py, &self.0.to_pkcs8_der()?))
    }

    /// The matching public key, the one to register for this meter.
    fn public_key(&self) -> PyPublicKey {
        PyPublicKey(self.0.public_key().clone())
    }

    /// The id of the matching public key (64 lowercase hex digits).
    #[getter]
    fn key_id(&self) -> String {
        self.0.key_id().to_string()
    }

    /// Signs a reading (RSASSA-PKCS1-v1_5, SHA-256, over the canonical
    /// message). Deterministic: the same key and values give the same bytes.
    ///
    /// Every value is an integer from 0 to 2**64-1 (else OverflowError).
    /// Raises SigningError if the RSA operation fails. Releases the GIL.
    #[pyo3(signature = (*, sequence, timestamp_ms, wh_imported, wh_exported))]
    fn sign(
        &self,
        py: Python<'_>,
        sequence: u64,
        timestamp_ms: u64,
        wh_imported: u64,
        wh_exported: u64,
    ) -> Result<PySignedReading, Error> {
        let reading = sm::Reading {
            sequence,
            timestamp_ms,
            wh_imported,
            wh_exported,
        };
        Ok(PySignedReading(py.detach(|| self.0.sign(reading))?))
    }

    fn __repr__(&self) -> String {
        format!("MeterKey(key_id='{}')", self.0.key_id())
    }
}

/// A reading with its signature and public key, not yet verified.
///
/// Parse one with `SignedReading.from_json`, or get one from
/// `MeterKey.sign`. Having one says nothing about who made it: only
/// `PublicKey.verify`, with the key registered for the meter, does.
#[pyclass(frozen, eq, module = "smartmeter", name = "SignedReading")]
#[derive(PartialEq)]
struct PySignedReading(sm::SignedReading);

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

    /// The signature algorithm id (1: RSASSA-PKCS1-v1_5 with SHA-256).
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
pub(crate) struct PyVerifiedReading(sm::VerifiedReading);

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

/// Signed smart-meter readings: the extension module behind `smartmeter`.
#[pymodule]
fn _smartmeter(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ERROR_CODES", PyTuple::new(py, sm::ERROR_CODES)?)?;
    let catalogue = sm::ErrorCode::ALL
        .iter()
        .map(|c| PyTuple::new(py, [c.as_str(), c.family().as_str(), c.meaning()]))
        .collect::<PyResult<Vec<_>>>()?;
    m.add("ERROR_CATALOGUE", PyTuple::new(py, catalogue)?)?;
    m.add("MESSAGE_LEN", sm::MESSAGE_LEN)?;
    m.add("MIN_KEY_BITS", sm::MIN_KEY_BITS)?;
    m.add("MAX_KEY_BITS", sm::MAX_KEY_BITS)?;
    m.add("MAX_JSON_LEN", sm::MAX_JSON_LEN)?;
    m.add_class::<PyMeterKey>()?;
    m.add_class::<PyPublicKey>()?;
    m.add_class::<PySignedReading>()?;
    m.add_class::<PyVerifiedReading>()?;
    m.add_class::<PyMessage>()?;
    m.add("SmartMeterError", py.get_type::<SmartMeterError>())?;
    m.add("MalformedReading", py.get_type::<MalformedReading>())?;
    m.add("InvalidKey", py.get_type::<InvalidKey>())?;
    m.add("VerificationError", py.get_type::<VerificationError>())?;
    m.add("InvalidSignature", py.get_type::<InvalidSignature>())?;
    m.add("KeyMismatch", py.get_type::<KeyMismatch>())?;
    m.add("SigningError", py.get_type::<SigningError>())?;
    m.add("AuditError", py.get_type::<AuditError>())?;
    audit::register(m)?;
    Ok(())
}
