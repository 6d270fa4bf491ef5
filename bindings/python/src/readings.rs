//! Readings: the measured values (`Reading`), a signed reading
//! (`SignedReading`), a verified one (`VerifiedReading`), and the canonical
//! message a signature covers (`Message`).
//!
//! The last three each hold a reading with its algorithm and key id, as the
//! core's `Message` does. Their shared getters (`reading`, the reading's four
//! values, `algorithm`, `key_id`) and their `__repr__` are written once, in
//! the macros below, over the [`HoldsReading`] and [`HoldsMessage`] traits.

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use smartmeter_core as sm;

use crate::errors::Error;
use crate::keys::PyPublicKey;
use crate::pickling::{Reduce, constructor};
use crate::text::Text;

/// A class that holds a reading: its four values, for the getters of
/// `pymethods_with_reading!`.
trait HoldsReading {
    fn values(&self) -> sm::Reading;
}

/// A class that holds a reading with its algorithm and signing key id: what
/// the core's [`sm::Message`] holds, for the getters of
/// `pymethods_with_message!`.
trait HoldsMessage {
    fn message(&self) -> sm::Message;
}

impl<T: HoldsMessage> HoldsReading for T {
    fn values(&self) -> sm::Reading {
        self.message().reading
    }
}

/// `#[pymethods]` for a [`HoldsReading`] class: the methods given, and a
/// getter for each of the reading's four values.
///
/// pyo3 takes one `#[pymethods]` block per class, so the shared getters are
/// added to the block rather than written in a second one.
macro_rules! pymethods_with_reading {
    (impl $class:ident { $($methods:tt)* }) => {
        pymethods_with_reading! {
            @getters impl $class { $($methods)* }
            /// Per-meter counter, one higher for every reading the meter produces.
            sequence,
            /// When the reading was taken, in milliseconds since the Unix epoch (UTC).
            timestamp_ms,
            /// Cumulative energy imported from the grid, in Wh.
            wh_imported,
            /// Cumulative energy exported to the grid, in Wh.
            wh_exported,
        }
    };
    (
        @getters impl $class:ident { $($methods:tt)* }
        $($(#[doc = $doc:literal])* $field:ident,)+
    ) => {
        #[pymethods]
        impl $class {
            $($methods)*

            $(
                $(#[doc = $doc])*
                #[getter]
                fn $field(&self) -> u64 {
                    self.values().$field
                }
            )+
        }
    };
}

/// `#[pymethods]` for a [`HoldsMessage`] class: the methods given, the
/// getters of `pymethods_with_reading!`, `reading`, `algorithm`, `key_id`,
/// and a `__repr__` that names them all.
macro_rules! pymethods_with_message {
    (impl $class:ident { $($methods:tt)* }) => {
        pymethods_with_reading! {
            impl $class {
                $($methods)*

                /// The measured values, as a `Reading`.
                #[getter]
                fn reading(&self) -> PyReading {
                    PyReading(self.values())
                }

                /// The signature algorithm id (1: RSASSA-PKCS1-v1_5 with
                /// SHA-256; 2: ECDSA P-256 with SHA-256).
                #[getter]
                fn algorithm(&self) -> u8 {
                    self.message().algorithm.id()
                }

                /// The id of the key that signed the reading, as the reading
                /// names it (64 lowercase hex digits).
                #[getter]
                fn key_id(&self) -> String {
                    self.message().key_id.to_string()
                }

                fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
                    let message = slf.get().message();
                    Ok(format!(
                        "{}(algorithm={}, key_id='{}', {})",
                        slf.get_type().name()?,
                        message.algorithm.id(),
                        message.key_id,
                        fields(&message.reading)
                    ))
                }
            }
        }
    };
}

/// The reading's values as the keyword arguments of `Reading(...)`.
fn fields(r: &sm::Reading) -> String {
    format!(
        "sequence={}, timestamp_ms={}, wh_imported={}, wh_exported={}",
        r.sequence, r.timestamp_ms, r.wh_imported, r.wh_exported
    )
}

/// What a meter measured at one instant: the sequence number, the time and
/// the two energy registers.
///
/// `SignedReading`, `VerifiedReading` and `Message` give theirs as
/// `.reading`. Only a `VerifiedReading`'s values are known to come from the
/// key that signed them. Equal readings compare equal and hash alike.
#[pyclass(frozen, eq, hash, module = "smartmeter", name = "Reading")]
#[derive(PartialEq, Hash)]
pub(crate) struct PyReading(sm::Reading);

impl HoldsReading for PyReading {
    fn values(&self) -> sm::Reading {
        self.0
    }
}

pymethods_with_reading! {
    impl PyReading {
        /// The four values of a reading; every one is an integer from 0 to
        /// 2**64-1 (else OverflowError).
        #[new]
        fn new(sequence: u64, timestamp_ms: u64, wh_imported: u64, wh_exported: u64) -> Self {
            Self(sm::Reading {
                sequence,
                timestamp_ms,
                wh_imported,
                wh_exported,
            })
        }

        fn __repr__(&self) -> String {
            format!("Reading({})", fields(&self.0))
        }

        /// Pickles as `Reading(sequence, timestamp_ms, wh_imported, wh_exported)`.
        fn __reduce__<'py>(slf: &Bound<'py, Self>) -> Reduce<'py, (u64, u64, u64, u64)> {
            let r = slf.get().0;
            let values = (r.sequence, r.timestamp_ms, r.wh_imported, r.wh_exported);
            (slf.get_type().into_any(), values)
        }
    }
}

/// A reading with its signature and public key, not yet verified.
///
/// Parse one with `SignedReading.from_json`, or get one from
/// `MeterKey.sign`. Having one says nothing about who made it: only
/// `PublicKey.verify`, with the key registered for the meter, does. Its
/// values are unverified.
#[pyclass(frozen, eq, module = "smartmeter", name = "SignedReading")]
#[derive(PartialEq)]
pub(crate) struct PySignedReading(pub(crate) sm::SignedReading);

impl HoldsMessage for PySignedReading {
    fn message(&self) -> sm::Message {
        self.0.message()
    }
}

pymethods_with_message! {
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

        /// The public key the reading carries, parsed with the key policy;
        /// whether it belongs to a registered meter is for the verifier to
        /// decide.
        ///
        /// Raises InvalidKey when the carried key is outside the key policy.
        #[getter]
        fn public_key(&self) -> Result<PyPublicKey, Error> {
            Ok(PyPublicKey(self.0.carried_key()?))
        }

        /// The signature bytes.
        #[getter]
        fn signature<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
            PyBytes::new(py, self.0.signature())
        }

        /// Pickles as `SignedReading.from_json(self.to_json())`.
        fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Reduce<'py, (String,)>> {
            Ok((constructor::<Self>(py, "from_json")?, (self.0.to_json(),)))
        }
    }
}

/// A reading whose signature was checked against a public key.
///
/// Only `PublicKey.verify` returns one. Whether that key belongs to a
/// registered meter, and whether the reading is fresh, is the caller's policy.
#[pyclass(frozen, eq, module = "smartmeter", name = "VerifiedReading")]
#[derive(PartialEq)]
pub(crate) struct PyVerifiedReading(pub(crate) sm::VerifiedReading);

impl HoldsMessage for PyVerifiedReading {
    fn message(&self) -> sm::Message {
        self.0.signed().message()
    }
}

pymethods_with_message! {
    impl PyVerifiedReading {
        /// The signed reading that was verified, to store or forward so that
        /// others can verify it again.
        #[getter]
        fn signed(&self) -> PySignedReading {
            PySignedReading(self.0.signed().clone())
        }

        /// Pickles as `PublicKey.verify(key, signed)`, so that unpickling
        /// verifies the signature again: no pickle makes a reading verified
        /// that does not verify. The key is the one it was verified with:
        /// the key the reading carries, whose SHA-256 is the key id that
        /// verification matched.
        fn __reduce__<'py>(
            &self,
            py: Python<'py>,
        ) -> PyResult<Reduce<'py, (PyPublicKey, PySignedReading)>> {
            let signed = self.0.signed();
            let key = PyPublicKey(signed.carried_key().map_err(Error::from)?);
            let args = (key, PySignedReading(signed.clone()));
            Ok((constructor::<PyPublicKey>(py, "verify")?, args))
        }
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

impl HoldsMessage for PyMessage {
    fn message(&self) -> sm::Message {
        self.0
    }
}

pymethods_with_message! {
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

        /// Pickles as `Message.from_bytes(self.to_bytes())`.
        fn __reduce__<'py>(
            &self,
            py: Python<'py>,
        ) -> PyResult<Reduce<'py, (Bound<'py, PyBytes>,)>> {
            Ok((constructor::<Self>(py, "from_bytes")?, (self.to_bytes(py),)))
        }
    }
}

/// Adds the reading classes and their size limits to the extension module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MESSAGE_LEN", sm::MESSAGE_LEN)?;
    m.add("MAX_JSON_LEN", sm::MAX_JSON_LEN)?;
    m.add_class::<PyReading>()?;
    m.add_class::<PySignedReading>()?;
    m.add_class::<PyVerifiedReading>()?;
    m.add_class::<PyMessage>()?;
    Ok(())
}
