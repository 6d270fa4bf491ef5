//! Keys: a meter's public key (`PublicKey`) and private key (`MeterKey`).

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use smartmeter_core as sm;

use crate::errors::Error;
use crate::pickling::{Reduce, constructor};
use crate::readings::{PySignedReading, PyVerifiedReading};
use crate::text::Text;

/// A class that holds a public key: `PublicKey`, and `MeterKey` for the
/// public half of its key pair.
trait HoldsPublicKey {
    fn public(&self) -> &sm::PublicKey;
}

/// `#[pymethods]` for a [`HoldsPublicKey`] class: the methods given, and the
/// getters that name the key. pyo3 takes one `#[pymethods]` block per class,
/// so the shared getters are added to the block.
macro_rules! pymethods_with_public_key {
    (impl $class:ident { $($methods:tt)* }) => {
        #[pymethods]
        impl $class {
            $($methods)*

            /// The key id: SHA-256 of the public key's DER, as 64 lowercase
            /// hex digits.
            #[getter]
            fn key_id(&self) -> String {
                self.public().key_id().to_string()
            }

            /// The algorithm id this key signs with: 1 (RSA) or 2 (P-256).
            #[getter]
            fn algorithm(&self) -> u8 {
                self.public().algorithm().id()
            }

            /// The kind of key: `"rsa2048"`, `"rsa3072"`, ... or `"p256"`.
            #[getter]
            fn spec(&self) -> String {
                self.public().spec().to_string()
            }
        }
    };
}

/// A meter's public key, checked against the key policy: RSA (2048 to 4096
/// bits, exponent 65537; algorithm 1) or P-256 (named curve, uncompressed
/// point; algorithm 2), in canonical DER.
///
/// Construct one with `PublicKey.from_text` (any key text OpenSSL or pyca
/// writes), `from_pem`, `from_der` or `from_base64`, or get it from
/// `MeterKey.public_key()`. Equal keys compare equal and hash alike.
#[pyclass(frozen, eq, module = "smartmeter", name = "PublicKey")]
#[derive(PartialEq)]
pub(crate) struct PyPublicKey(pub(crate) sm::PublicKey);

impl HoldsPublicKey for PyPublicKey {
    fn public(&self) -> &sm::PublicKey {
        &self.0
    }
}

pymethods_with_public_key! {
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

        /// The key size in bits: the RSA modulus length, or 256 for P-256.
        #[getter]
        fn bits(&self) -> usize {
            self.0.bits()
        }

        /// Length in bytes of every signature made with this key (256 for
        /// RSA-2048, 64 for P-256).
        #[getter]
        fn signature_len(&self) -> usize {
            self.0.signature_len()
        }

        /// Verifies a signed reading against this key and returns the verified
        /// reading.
        ///
        /// Raises InvalidKey when the reading names another key and carries a key
        /// outside the key policy (that check comes first, docs/spec.md section
        /// 9), KeyMismatch when it names another key, InvalidSignature when the
        /// signature is not accepted (`invalid_signature`, and for P-256
        /// `high_s` or `der_signature`; `algorithm_mismatch` when the reading's
        /// algorithm is not the key's). Releases the GIL while verifying.
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

        /// Pickles as `PublicKey.from_der(self.to_der())`: unpickling applies
        /// the key policy again.
        fn __reduce__<'py>(
            &self,
            py: Python<'py>,
        ) -> PyResult<Reduce<'py, (Bound<'py, PyBytes>,)>> {
            Ok((constructor::<Self>(py, "from_der")?, (self.to_der(py),)))
        }

        fn __repr__(&self) -> String {
            format!(
                "PublicKey(key_id='{}', spec='{}', bits={})",
                self.0.key_id(),
                self.0.spec(),
                self.0.bits()
            )
        }
    }
}

/// A meter's private key, RSA or P-256: signs readings.
///
/// In production this key lives in the meter's secure hardware; this class
/// serves provisioning lines, test benches and vendor tooling. Its repr never
/// shows private material, and it does not pickle: the key leaves it only
/// through `to_pem()` or `to_der()`.
#[pyclass(frozen, module = "smartmeter", name = "MeterKey")]
struct PyMeterKey(sm::MeterKey);

impl HoldsPublicKey for PyMeterKey {
    fn public(&self) -> &sm::PublicKey {
        self.0.public_key()
    }
}

pymethods_with_public_key! {
    impl PyMeterKey {
        /// Generates a new key with the operating system's RNG.
        ///
        /// `generate()` and `generate(bits)` make an RSA key (2048 bits by
        /// default); `generate(algorithm="p256")` a P-256 key. `algorithm` is
        /// `"rsa"` (the size from `bits`), `"p256"`, or a key spec with its size
        /// such as `"rsa3072"`; `bits` goes with `"rsa"` only (TypeError
        /// otherwise).
        ///
        /// Raises InvalidKey for an RSA size outside 2048..=4096 bits (code
        /// `unsupported_key_size`), an unknown algorithm (`unsupported_key_spec`),
        /// or when generation fails. Releases the GIL.
        #[staticmethod]
        #[pyo3(signature = (bits = None, *, algorithm = "rsa"))]
        fn generate(py: Python<'_>, bits: Option<usize>, algorithm: &str) -> PyResult<Self> {
            let spec = match (algorithm, bits) {
                ("rsa", bits) => sm::KeySpec::Rsa(bits.unwrap_or(sm::KeySpec::RSA2048.bits())),
                (name, None) => name.parse().map_err(Error::from)?,
                (name, Some(_)) => {
                    return Err(PyTypeError::new_err(format!(
                        "bits goes with algorithm=\"rsa\" only, not with algorithm={name:?}"
                    )));
                }
            };
            Ok(Self(
                py.detach(|| sm::MeterKey::generate_spec(spec))
                    .map_err(Error::from)?,
            ))
        }

        // from_pem and from_der have the shape of PublicKey's on purpose:
        // each wraps its own core parser (PKCS#8 here, SubjectPublicKeyInfo
        // there), named where a reader looks for it.

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

        /// Signs a reading over the canonical message with the key's algorithm:
        /// RSASSA-PKCS1-v1_5 with SHA-256 (RSA), or ECDSA P-256 with SHA-256 as
        /// 64 bytes of r and s with low S (P-256). Deterministic (P-256 with
        /// RFC 6979 nonces): the same key and values give the same bytes.
        ///
        /// Every value is an integer from 0 to 2**64-1 (else OverflowError).
        /// Raises SigningError if the private-key operation fails. Releases the
        /// GIL.
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

        /// Refused with TypeError: a private key leaves a MeterKey only
        /// explicitly, through `to_pem()` or `to_der()`, never as a side
        /// effect of pickling an object that holds one (a cache, a task
        /// queue, a multiprocessing argument).
        fn __reduce__(&self) -> PyResult<()> {
            Err(PyTypeError::new_err(
                "cannot pickle a MeterKey: a private key leaves it only explicitly; \
                 pickle key.to_pem() and load it with MeterKey.from_pem()",
            ))
        }

        /// The key itself: a MeterKey is immutable, so a copy is the same key.
        fn __copy__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
            slf
        }

        /// The key itself: a MeterKey is immutable, so a copy is the same key.
        #[pyo3(signature = (_memo, /))]
        fn __deepcopy__<'py>(slf: Bound<'py, Self>, _memo: &Bound<'py, PyAny>) -> Bound<'py, Self> {
            slf
        }

        fn __repr__(&self) -> String {
            format!(
                "MeterKey(key_id='{}', spec='{}')",
                self.0.key_id(),
                self.0.public_key().spec()
            )
        }
    }
}

/// Adds the key classes and the key policy's limits to the extension module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MIN_KEY_BITS", sm::MIN_KEY_BITS)?;
    m.add("MAX_KEY_BITS", sm::MAX_KEY_BITS)?;
    m.add_class::<PyMeterKey>()?;
    m.add_class::<PyPublicKey>()?;
    Ok(())
}
